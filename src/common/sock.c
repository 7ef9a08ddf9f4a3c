/* Unix sockets: addresses (sockaddr_un) and file descriptors passed with SCM_RIGHTS, the one
 * copy for the runtime's console and sync sockets, the shim's channels and the daemon. */
#include "common/common.h"

#include <sys/socket.h>
#include <sys/un.h>

int berth_sockaddr_un(struct sockaddr_un *ret, const char *fmt, ...)
{
        va_list ap;
        int n;

        memset(ret, 0, sizeof(*ret));
        ret->sun_family = AF_UNIX;
        va_start(ap, fmt);
        n = vsnprintf(ret->sun_path, sizeof(ret->sun_path), fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t)n >= sizeof(ret->sun_path)) {
                ret->sun_path[0] = '\0';
                return -ENAMETOOLONG;
        }
        return 0;
}

ssize_t berth_send_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds)
{
        struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
        union {
                char buf[CMSG_SPACE(BERTH_FDS_MAX * sizeof(int))];
                struct cmsghdr align;
        } u;
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        ssize_t n;

        if (nfds > BERTH_FDS_MAX)
                return -EINVAL;
        if (nfds > 0) {
                struct cmsghdr *cm;
                memset(&u, 0, sizeof(u));
                mh.msg_control = u.buf;
                mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
                cm = CMSG_FIRSTHDR(&mh);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
                memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
        }
        do
                n = sendmsg(sock, &mh, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        return n < 0 ? -errno : n;
}

ssize_t berth_recv_fds(int sock, void *buf, size_t size, int flags, int *fds, size_t max,
                       size_t *ret_nfds)
{
        struct iovec iov = {.iov_base = buf, .iov_len = size};
        union {
                char buf[CMSG_SPACE(BERTH_FDS_MAX * sizeof(int))];
                struct cmsghdr align;
        } u;
        struct msghdr mh = {.msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = u.buf,
                            .msg_controllen = sizeof(u.buf)};
        size_t got = 0;
        ssize_t n;

        if (max > BERTH_FDS_MAX)
                max = BERTH_FDS_MAX;
        do
                n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | flags);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        /* every fd that arrived is either handed out or closed: none leaks into this process */
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
                size_t k;
                if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
                        continue;
                k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < k; i++) {
                        int fd;
                        memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
                        if (got < max)
                                fds[got++] = fd;
                        else
                                close(fd);
                }
        }
        if (ret_nfds)
                *ret_nfds = got;
        else
                for (size_t i = 0; i < got; i++)
                        close(fds[i]);
        return n;
}
