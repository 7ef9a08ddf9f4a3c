/* Port reservation for published ports: a socket bound to host_ip:host_port and held open for as
 * long as the mapping lives. The traffic itself is DNAT'd by the `ip berth` table (rules.c), so
 * unlike docker's userland proxy nothing listens: a TCP socket stays bound but not listening,
 * which still makes every later bind() of that address and port fail (ours never sets
 * SO_REUSEADDR, and Linux only lets two sockets share a port when both do). */
#include "net/net.h"

#include <arpa/inet.h>
#include <sys/socket.h>

int berth_net_port_reserve(int proto, const struct berth_cidr *host_ip, uint16_t host_port,
                           uint16_t *ret_port, int *ret_fd, struct berth_error **err)
{
        int type;
        if (proto == IPPROTO_TCP)
                type = SOCK_STREAM;
        else if (proto == IPPROTO_UDP)
                type = SOCK_DGRAM;
        else
                return berth_error_setx(err, EPROTONOSUPPORT,
                                        "port %u: protocol %d is not tcp or udp", host_port, proto);

        int family = host_ip && host_ip->family != 0 ? host_ip->family : AF_INET;
        if (family != AF_INET && family != AF_INET6)
                return berth_error_setx(err, EAFNOSUPPORT, "port %u: bad address family",
                                        host_port);
        struct sockaddr_storage ss = {0};
        socklen_t sl;
        char text[INET6_ADDRSTRLEN] = "0.0.0.0";
        if (family == AF_INET) {
                struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
                sin->sin_family = AF_INET;
                sin->sin_port = htons(host_port);
                if (host_ip && host_ip->family == AF_INET)
                        sin->sin_addr = host_ip->addr.v4;
                sl = sizeof(*sin);
        } else {
                struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
                sin6->sin6_family = AF_INET6;
                sin6->sin6_port = htons(host_port);
                sin6->sin6_addr = host_ip->addr.v6;
                sl = sizeof(*sin6);
        }
        if (host_ip && host_ip->family != 0)
                berth_cidr_format(host_ip, false, text, sizeof(text));

        _cleanup_close_ int fd = socket(family, type | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return berth_error_set(err, errno, "port %u: socket", host_port);
        if (family == AF_INET6) {
                /* [::]:port reserves the v6 side only; the v4 side is its own mapping */
                int one = 1;
                if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
                        return berth_error_set(err, errno, "port %u: IPV6_V6ONLY", host_port);
        }
        if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
                if (errno == EADDRINUSE)
                        return berth_error_setx(
                            err, EADDRINUSE,
                            family == AF_INET6
                                ? "Bind for [%s]:%u failed: port is already allocated"
                                : "Bind for %s:%u failed: port is already allocated",
                            text, host_port);
                return berth_error_set(err, errno,
                                       family == AF_INET6 ? "Bind for [%s]:%u failed"
                                                          : "Bind for %s:%u failed",
                                       text, host_port);
        }
        uint16_t port = host_port;
        if (port == 0) {
                struct sockaddr_storage got = {0};
                socklen_t gl = sizeof(got);
                if (getsockname(fd, (struct sockaddr *)&got, &gl) < 0)
                        return berth_error_set(err, errno, "port 0: getsockname");
                port = family == AF_INET ? ntohs(((struct sockaddr_in *)&got)->sin_port)
                                         : ntohs(((struct sockaddr_in6 *)&got)->sin6_port);
        }
        if (ret_port)
                *ret_port = port;
        if (ret_fd)
                *ret_fd = TAKE_FD(fd);
        return 0;
}
