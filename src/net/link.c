/* Links through rtnetlink (libmnl): bridges, veth endpoints, host routes, the link list.
 *
 * A NETLINK_ROUTE socket stays bound to the network namespace it was created in, so work inside
 * a container's namespace is done by a short-lived thread that setns()'d into it and opened its
 * own socket there; the daemon's threads never switch. Errors carry the kernel's extended ack
 * message (NETLINK_EXT_ACK) when it gives one.
 */
#include "net/net.h"
#include "net/nl.h"

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/openat2.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>

/* ---------------------------------------------------------------- the socket */

#define NL_REQUEST_SIZE 4096
/* a dump answer is cut in datagrams of up to a page or 32 KiB: never truncated with this */
#define NL_RECV_SIZE 65536

struct nl {
        struct mnl_socket *sock;
        unsigned portid;
        unsigned seq;
};

/* Drop an error that turned out to be fine (err may be NULL). */
static void err_clear(struct berth_error **err)
{
        if (err && *err) {
                berth_error_free(*err);
                *err = NULL;
        }
}

/* Hand a local error to the caller's err (freed when err is NULL). */
static void err_move(struct berth_error **err, struct berth_error **local)
{
        if (err && !*err)
                *err = TAKE_PTR(*local);
        berth_error_free(*local);
        *local = NULL;
}

static void nl_close(struct nl *nl)
{
        if (nl->sock)
                mnl_socket_close(nl->sock);
        nl->sock = NULL;
}

/* Open a NETLINK_ROUTE socket in the calling thread's network namespace. */
static int nl_open(struct nl *nl, struct berth_error **err)
{
        nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
        if (!nl->sock)
                return berth_error_set(err, errno, "open a rtnetlink socket");
        if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
                int e = errno;
                nl_close(nl);
                return berth_error_set(err, e, "bind a rtnetlink socket");
        }
        int one = 1;
        /* best effort: kernels without them just give bare errnos */
        mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
        mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
        nl->portid = mnl_socket_get_portid(nl->sock);
        nl->seq = (unsigned)time(NULL);
        return 0;
}

static struct nlmsghdr *nl_msg(struct nl *nl, void *buf, uint16_t type, uint16_t flags)
{
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = type;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        nlh->nlmsg_seq = ++nl->seq;
        return nlh;
}

static int ext_ack_attr(const struct nlattr *attr, void *data)
{
        const char **msg = data;
        if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
            mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
                *msg = mnl_attr_get_str(attr);
        return MNL_CB_OK;
}

typedef int (*nl_cb)(const struct nlmsghdr *nlh, void *data);

/* Send nlh and read the answers until the ack (or NLMSG_DONE of a dump), handing every other
 * message to cb. A kernel error becomes a negative errno with what (and the extended ack text). */
static int nl_talk(struct nl *nl, struct nlmsghdr *nlh, nl_cb cb, void *data, const char *what,
                   struct berth_error **err)
{
        if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
                return berth_error_set(err, errno, "%s: netlink send", what);
        unsigned seq = nlh->nlmsg_seq;
        _cleanup_free_ char *buf = xmalloc(NL_RECV_SIZE);
        for (;;) {
                ssize_t len = mnl_socket_recvfrom(nl->sock, buf, NL_RECV_SIZE);
                if (len < 0) {
                        if (errno == EINTR)
                                continue;
                        return berth_error_set(err, errno, "%s: netlink receive", what);
                }
                int left = (int)len;
                for (const struct nlmsghdr *m = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(m, left);
                     m = mnl_nlmsg_next(m, &left)) {
                        if (m->nlmsg_seq != seq || m->nlmsg_pid != nl->portid)
                                continue;
                        if (m->nlmsg_type == NLMSG_DONE)
                                return 0;
                        if (m->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = mnl_nlmsg_get_payload(m);
                                if (m->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
                                        return berth_error_setx(
                                            err, EBADMSG, "%s: truncated netlink error", what);
                                if (e->error == 0)
                                        return 0;
                                const char *msg = NULL;
                                if (m->nlmsg_flags & NLM_F_ACK_TLVS) {
                                        size_t off = sizeof(*e);
                                        if (!(m->nlmsg_flags & NLM_F_CAPPED))
                                                off += e->msg.nlmsg_len - sizeof(e->msg);
                                        mnl_attr_parse(m, (unsigned)off, ext_ack_attr, &msg);
                                }
                                if (msg && *msg)
                                        return berth_error_set(err, -e->error, "%s (%s)", what,
                                                               msg);
                                return berth_error_set(err, -e->error, "%s", what);
                        }
                        if (cb) {
                                int r = cb(m, data);
                                if (r < 0)
                                        return berth_error_set(err, -r, "%s", what);
                        }
                }
        }
}

/* Send the k requests laid out one after another in buf (len bytes, sequence numbers first_seq
 * .. first_seq + k - 1, each asking for an ack) in one datagram and read every ack: one round trip
 * for k steps (the kernel runs them in order). The first failure is returned (with what and the
 * extended ack text); the steps after it still ran. */
static int nl_talk_batch(struct nl *nl, const void *buf, size_t len, unsigned first_seq, unsigned k,
                         const char *what, struct berth_error **err)
{
        if (mnl_socket_sendto(nl->sock, buf, len) < 0)
                return berth_error_set(err, errno, "%s: netlink send", what);
        _cleanup_free_ char *rbuf = xmalloc(NL_RECV_SIZE);
        unsigned acked = 0;
        int first = 0;
        while (acked < k) {
                ssize_t n = mnl_socket_recvfrom(nl->sock, rbuf, NL_RECV_SIZE);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return berth_error_set(err, errno, "%s: netlink receive", what);
                }
                int left = (int)n;
                for (const struct nlmsghdr *m = (const struct nlmsghdr *)rbuf;
                     mnl_nlmsg_ok(m, left); m = mnl_nlmsg_next(m, &left)) {
                        if (m->nlmsg_type != NLMSG_ERROR || m->nlmsg_pid != nl->portid ||
                            m->nlmsg_seq - first_seq >= k)
                                continue;
                        const struct nlmsgerr *e = mnl_nlmsg_get_payload(m);
                        acked++;
                        if (m->nlmsg_len < mnl_nlmsg_size(sizeof(*e)) || e->error == 0 || first < 0)
                                continue;
                        const char *msg = NULL;
                        if (m->nlmsg_flags & NLM_F_ACK_TLVS) {
                                size_t off = sizeof(*e);
                                if (!(m->nlmsg_flags & NLM_F_CAPPED))
                                        off += e->msg.nlmsg_len - sizeof(e->msg);
                                mnl_attr_parse(m, (unsigned)off, ext_ack_attr, &msg);
                        }
                        first = msg && *msg ? berth_error_set(err, -e->error, "%s (%s)", what, msg)
                                            : berth_error_set(err, -e->error, "%s", what);
                }
        }
        return first;
}

/* ---------------------------------------------------------------- link queries */

struct link_info {
        int index;
        unsigned mtu;
        int master; /* 0: none */
        char kind[32];
        char name[IFNAMSIZ];
        char alias[256];
};

static int link_info_cb(const struct nlmsghdr *nlh, void *data)
{
        struct link_info *li = data;
        if (nlh->nlmsg_type != RTM_NEWLINK)
                return 0;
        const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
        li->index = ifi->ifi_index;
        const struct nlattr *a;
        mnl_attr_for_each(a, nlh, sizeof(*ifi))
        {
                switch (mnl_attr_get_type(a)) {
                case IFLA_MTU:
                        if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
                                li->mtu = mnl_attr_get_u32(a);
                        break;
                case IFLA_IFNAME:
                        if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
                                snprintf(li->name, sizeof(li->name), "%s", mnl_attr_get_str(a));
                        break;
                case IFLA_IFALIAS:
                        snprintf(li->alias, sizeof(li->alias), "%.*s",
                                 (int)strnlen(mnl_attr_get_payload(a), mnl_attr_get_payload_len(a)),
                                 (const char *)mnl_attr_get_payload(a));
                        break;
                case IFLA_MASTER:
                        if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
                                li->master = (int)mnl_attr_get_u32(a);
                        break;
                case IFLA_LINKINFO: {
                        const struct nlattr *b;
                        mnl_attr_for_each_nested(b, a)
                        {
                                if (mnl_attr_get_type(b) == IFLA_INFO_KIND &&
                                    mnl_attr_validate(b, MNL_TYPE_STRING) >= 0)
                                        snprintf(li->kind, sizeof(li->kind), "%.*s",
                                                 (int)mnl_attr_get_payload_len(b),
                                                 (const char *)mnl_attr_get_payload(b));
                        }
                        break;
                }
                default:
                        break;
                }
        }
        return 0;
}

/* Look a link up by name: 0 and *ret filled, -ENODEV (without an error set) when missing. */
static int link_get(struct nl *nl, const char *name, struct link_info *ret,
                    struct berth_error **err)
{
        char buf[NL_REQUEST_SIZE];
        struct nlmsghdr *nlh = nl_msg(nl, buf, RTM_GETLINK, 0);
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
        struct link_info li = {0};
        _cleanup_error_ struct berth_error *e = NULL;
        int r = nl_talk(nl, nlh, link_info_cb, &li, "get link", &e);
        if (r == -ENODEV)
                return -ENODEV;
        if (r < 0) {
                berth_error_wrap(&e, "link `%s`", name);
                err_move(err, &e);
                return r;
        }
        if (li.index <= 0)
                return -ENODEV;
        *ret = li;
        return 0;
}

/* Set IFF_UP on a link (idempotent). */
static int link_set_up(struct nl *nl, int index, struct berth_error **err)
{
        char buf[NL_REQUEST_SIZE];
        struct nlmsghdr *nlh = nl_msg(nl, buf, RTM_NEWLINK, 0);
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = index;
        ifi->ifi_flags = IFF_UP;
        ifi->ifi_change = IFF_UP;
        return nl_talk(nl, nlh, NULL, NULL, "set link up", err);
}

/* Delete a link by name; a missing one is fine. kind (when given) must match. */
static int link_delete(struct nl *nl, const char *name, const char *kind, struct berth_error **err)
{
        struct link_info li;
        int r = link_get(nl, name, &li, err);
        if (r == -ENODEV)
                return 0;
        if (r < 0)
                return r;
        if (kind && strcmp(li.kind, kind) != 0)
                return berth_error_setx(err, EINVAL, "link `%s` is not a %s (it is `%s`)", name,
                                        kind, li.kind[0] ? li.kind : "device");
        char buf[NL_REQUEST_SIZE];
        struct nlmsghdr *nlh = nl_msg(nl, buf, RTM_DELLINK, 0);
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = li.index;
        r = nl_talk(nl, nlh, NULL, NULL, "delete link", err);
        if (r == -ENODEV) {
                err_clear(err);
                return 0;
        }
        if (r < 0)
                return NET_WRAP(r, err, "link `%s`", name);
        return 0;
}

/* Add address (with its prefix) to a link; replaces an identical one (idempotent). */
static int addr_add(struct nl *nl, int index, const struct berth_cidr *a, struct berth_error **err)
{
        char buf[NL_REQUEST_SIZE];
        struct nlmsghdr *nlh = nl_msg(nl, buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
        struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
        ifa->ifa_family = (uint8_t)a->family;
        ifa->ifa_prefixlen = (uint8_t)a->prefix;
        ifa->ifa_scope = RT_SCOPE_UNIVERSE;
        ifa->ifa_index = (unsigned)index;
        size_t alen = a->family == AF_INET ? 4 : 16;
        mnl_attr_put(nlh, IFA_LOCAL, alen, &a->addr);
        mnl_attr_put(nlh, IFA_ADDRESS, alen, &a->addr);
        if (a->family == AF_INET && a->prefix < 31) {
                uint32_t host = a->prefix == 0 ? 0xffffffffu : (0xffffffffu >> a->prefix);
                struct in_addr brd = {.s_addr = a->addr.v4.s_addr | htonl(host)};
                mnl_attr_put(nlh, IFA_BROADCAST, 4, &brd);
        }
        if (a->family == AF_INET6) {
                /* usable at once: no duplicate address detection delay for a fresh link */
                mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
        }
        char text[INET6_ADDRSTRLEN + 8];
        int r = nl_talk(nl, nlh, NULL, NULL, "add address", err);
        if (r < 0)
                return NET_WRAP(r, err, "`%s`", berth_cidr_format(a, true, text, sizeof(text)));
        return 0;
}

/* The default route of the namespace via gw through link index (replaced when present). */
static int route_default(struct nl *nl, int index, const struct berth_cidr *gw,
                         struct berth_error **err)
{
        char buf[NL_REQUEST_SIZE];
        struct nlmsghdr *nlh = nl_msg(nl, buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
        struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
        rtm->rtm_family = (uint8_t)gw->family;
        rtm->rtm_dst_len = 0;
        rtm->rtm_table = RT_TABLE_MAIN;
        rtm->rtm_protocol = RTPROT_BOOT;
        rtm->rtm_scope = RT_SCOPE_UNIVERSE;
        rtm->rtm_type = RTN_UNICAST;
        mnl_attr_put(nlh, RTA_GATEWAY, gw->family == AF_INET ? 4 : 16, &gw->addr);
        mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)index);
        char text[INET6_ADDRSTRLEN + 8];
        int r = nl_talk(nl, nlh, NULL, NULL, "add the default route", err);
        if (r < 0)
                return NET_WRAP(r, err, "via `%s`",
                                berth_cidr_format(gw, false, text, sizeof(text)));
        return 0;
}

int net_link_up(const char *name, struct berth_error **err)
{
        struct nl nl = {0};
        int r = nl_open(&nl, err);
        if (r < 0)
                return r;
        struct link_info li;
        r = link_get(&nl, name, &li, err);
        if (r == -ENODEV)
                r = berth_error_setx(err, ENODEV, "link `%s` not found", name);
        if (r >= 0)
                r = link_set_up(&nl, li.index, err);
        nl_close(&nl);
        return r;
}

int net_lo_up_keep(int *ret_fd, struct berth_error **err)
{
        struct nl nl = {0};
        int r = nl_open(&nl, err);
        if (r < 0)
                return r;
        /* loopback is the first link of every namespace */
        r = link_set_up(&nl, 1, err);
        if (r >= 0 && ret_fd) {
                int fd = fcntl(mnl_socket_get_fd(nl.sock), F_DUPFD_CLOEXEC, 3);
                if (fd < 0)
                        r = berth_error_set(err, errno, "dup the netlink socket");
                else
                        *ret_fd = fd;
        }
        nl_close(&nl);
        return r;
}

/* ---------------------------------------------------------------- routes */

struct routes_acc {
        int family;
        struct berth_cidr *v;
        size_t n;
};

static int routes_cb(const struct nlmsghdr *nlh, void *data)
{
        struct routes_acc *acc = data;
        if (nlh->nlmsg_type != RTM_NEWROUTE)
                return 0;
        const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
        if (rtm->rtm_family != acc->family || rtm->rtm_dst_len == 0)
                return 0;
        uint32_t table = rtm->rtm_table;
        const struct nlattr *a, *dst = NULL;
        mnl_attr_for_each(a, nlh, sizeof(*rtm))
        {
                if (mnl_attr_get_type(a) == RTA_TABLE && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
                        table = mnl_attr_get_u32(a);
                if (mnl_attr_get_type(a) == RTA_DST &&
                    mnl_attr_get_payload_len(a) == (acc->family == AF_INET ? 4 : 16))
                        dst = a;
        }
        /* docker checks the main table only (the local table holds every host address) */
        if (table != RT_TABLE_MAIN || !dst)
                return 0;
        acc->v = xrealloc(acc->v, (acc->n + 1) * sizeof(*acc->v));
        struct berth_cidr *c = &acc->v[acc->n++];
        memset(c, 0, sizeof(*c));
        c->family = acc->family;
        c->prefix = rtm->rtm_dst_len;
        memcpy(&c->addr, mnl_attr_get_payload(dst), acc->family == AF_INET ? 4 : 16);
        return 0;
}

int net_routes(int family, struct berth_cidr **ret, size_t *ret_n, struct berth_error **err)
{
        struct nl nl = {0};
        int r = nl_open(&nl, err);
        if (r < 0)
                return r;
        char buf[NL_REQUEST_SIZE];
        struct nlmsghdr *nlh = nl_msg(&nl, buf, RTM_GETROUTE, NLM_F_DUMP);
        struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
        rtm->rtm_family = (unsigned char)family;
        struct routes_acc acc = {.family = family};
        r = nl_talk(&nl, nlh, routes_cb, &acc, "dump routes", err);
        nl_close(&nl);
        if (r < 0) {
                free(acc.v);
                return r;
        }
        *ret = acc.v;
        *ret_n = acc.n;
        return 0;
}

/* ---------------------------------------------------------------- sysctls */

/* Write value to /proc/sys/<key> (key relative, e.g. "net/ipv4/ip_forward") unless it already
 * holds it. Opened beneath a /proc/sys fd without symlinks or mount crossings. */
static int sysctl_ensure(const char *key, const char *value, struct berth_error **err)
{
        _cleanup_close_ int dfd = open("/proc/sys", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return berth_error_set(err, errno, "open `/proc/sys`");
        const uint64_t how = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV;
        _cleanup_close_ int fd = berth_openat2(dfd, key, O_RDWR, how);
        if (fd < 0)
                return berth_error_set(err, errno, "open `/proc/sys/%s`", key);
        char cur[64];
        ssize_t n = pread(fd, cur, sizeof(cur) - 1, 0);
        if (n < 0)
                return berth_error_set(err, errno, "read `/proc/sys/%s`", key);
        cur[n] = '\0';
        cur[strcspn(cur, "\n")] = '\0';
        if (strcmp(cur, value) == 0)
                return 0;
        size_t len = strlen(value);
        if (pwrite(fd, value, len, 0) != (ssize_t)len)
                return berth_error_set(err, errno, "write `%s` to `/proc/sys/%s`", value, key);
        return 0;
}

/* ---------------------------------------------------------------- bridges */

static int ifname_check(const char *what, const char *name, struct berth_error **err)
{
        size_t len = name ? strlen(name) : 0;
        if (len == 0 || len >= IFNAMSIZ || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
            strpbrk(name, "/: \t\n\r") != NULL)
                return berth_error_setx(err, EINVAL, "invalid %s name `%s`", what,
                                        name ? name : "");
        return 0;
}

int berth_bridge_ensure(const char *name, const struct berth_cidr *gateway, unsigned mtu,
                        struct berth_error **err)
{
        int r = ifname_check("bridge", name, err);
        if (r < 0)
                return r;
        if (gateway->family != AF_INET && gateway->family != AF_INET6)
                return berth_error_setx(err, EINVAL, "bridge `%s`: invalid gateway", name);
        if (mtu == 0)
                mtu = 1500;
        if (mtu < 68 || mtu > 65535)
                return berth_error_setx(err, EINVAL, "bridge `%s`: invalid mtu %u", name, mtu);

        struct nl nl = {0};
        r = nl_open(&nl, err);
        if (r < 0)
                return NET_WRAP(r, err, "bridge `%s`", name);
        bool created = false;
        struct link_info li;
        r = link_get(&nl, name, &li, err);
        if (r == -ENODEV) {
                char buf[NL_REQUEST_SIZE];
                struct nlmsghdr *nlh = nl_msg(&nl, buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
                struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
                ifi->ifi_family = AF_UNSPEC;
                mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
                mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
                struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
                mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
                mnl_attr_nest_end(nlh, info);
                r = nl_talk(&nl, nlh, NULL, NULL, "create", err);
                if (r == -EEXIST) /* created by someone else meanwhile: checked below */
                        err_clear(err);
                else if (r < 0)
                        goto fail;
                else
                        created = true;
                r = link_get(&nl, name, &li, err);
                if (r == -ENODEV)
                        r = berth_error_setx(err, ENODEV, "vanished after creation");
        }
        if (r < 0)
                goto fail;
        if (strcmp(li.kind, "bridge") != 0) {
                r = berth_error_setx(err, EEXIST, "a link of kind `%s` has this name",
                                     li.kind[0] ? li.kind : "device");
                goto fail;
        }
        r = addr_add(&nl, li.index, gateway, err);
        if (r < 0)
                goto fail_delete;
        if (gateway->family == AF_INET) {
                _cleanup_free_ char *key = xasprintf("net/ipv4/conf/%s/route_localnet", name);
                r = sysctl_ensure(key, "1", err);
                if (r >= 0)
                        r = sysctl_ensure("net/ipv4/ip_forward", "1", err);
        } else {
                r = sysctl_ensure("net/ipv6/conf/all/forwarding", "1", err);
        }
        if (r < 0)
                goto fail_delete;
        r = link_set_up(&nl, li.index, err);
        if (r < 0)
                goto fail_delete;
        nl_close(&nl);
        return 0;

fail_delete:
        if (created)
                link_delete(&nl, name, "bridge", NULL);
fail:
        nl_close(&nl);
        return NET_WRAP(r, err, "bridge `%s`", name);
}

int berth_bridge_remove(const char *name, struct berth_error **err)
{
        int r = ifname_check("bridge", name, err);
        if (r < 0)
                return r;
        struct nl nl = {0};
        r = nl_open(&nl, err);
        if (r >= 0)
                r = link_delete(&nl, name, "bridge", err);
        nl_close(&nl);
        if (r < 0)
                return NET_WRAP(r, err, "remove bridge `%s`", name);
        return 0;
}

/* ---------------------------------------------------------------- endpoints */

/* What the thread inside the container's namespace does: address, up, loopback, route. */
struct ns_job {
        int netns_fd;
        const struct berth_endpoint *ep;
        int ret;
        struct berth_error *err;
};

static void *ns_job_run(void *arg)
{
        struct ns_job *job = arg;
        const struct berth_endpoint *ep = job->ep;
        struct berth_error **err = &job->err;
        /* only this thread switches: it exits right after, the daemon's threads never move */
        if (setns(job->netns_fd, CLONE_NEWNET) < 0) {
                job->ret = berth_error_set(err, errno, "enter the network namespace");
                return NULL;
        }
        struct nl nl = {0};
        int r = nl_open(&nl, err);
        if (r < 0)
                goto out;
        struct link_info li, lo;
        r = link_get(&nl, ep->ifname, &li, err);
        if (r == -ENODEV)
                r = berth_error_setx(err, ENODEV, "`%s` did not arrive in the namespace",
                                     ep->ifname);
        if (r < 0)
                goto out;
        r = addr_add(&nl, li.index, &ep->address, err);
        if (r >= 0 && ep->address6.family != 0)
                r = addr_add(&nl, li.index, &ep->address6, err);
        if (r < 0)
                goto out;
        r = link_set_up(&nl, li.index, err);
        if (r < 0)
                goto out;
        r = link_get(&nl, "lo", &lo, err);
        if (r >= 0)
                r = link_set_up(&nl, lo.index, err);
        if (r < 0)
                goto out;
        if (ep->gateway.family != 0)
                r = route_default(&nl, li.index, &ep->gateway, err);
        if (r >= 0 && ep->gateway6.family != 0)
                r = route_default(&nl, li.index, &ep->gateway6, err);
out:
        nl_close(&nl);
        job->ret = r;
        return NULL;
}

static char *host_ifname_random(void)
{
        uint8_t b[4];
        berth_random_bytes(b, sizeof(b));
        return xasprintf("bv%02x%02x%02x%01x", b[0], b[1], b[2], b[3] & 0xf);
}

/* The veth pair: host end enslaved to the bridge, the peer created directly inside the
 * namespace under its final name (so it never collides with a host link called eth0). */
static int endpoint_create_pair(struct nl *nl, int netns_fd, const struct berth_endpoint *ep,
                                const char *host, const struct link_info *br,
                                struct berth_error **err)
{
        static const uint8_t zero_mac[6];
        unsigned mtu = ep->mtu ? ep->mtu : br->mtu;
        char buf[NL_REQUEST_SIZE];
        struct nlmsghdr *nlh = nl_msg(nl, buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, host);
        if (mtu)
                mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
        mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)br->index);
        struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
        mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
        struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
        struct nlattr *peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
        struct ifinfomsg *pifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*pifi));
        pifi->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, ep->ifname);
        mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)netns_fd);
        if (mtu)
                mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
        if (memcmp(ep->mac, zero_mac, 6) != 0)
                mnl_attr_put(nlh, IFLA_ADDRESS, 6, ep->mac);
        mnl_attr_nest_end(nlh, peer);
        mnl_attr_nest_end(nlh, data);
        mnl_attr_nest_end(nlh, info);
        return nl_talk(nl, nlh, NULL, NULL, "create the veth pair", err);
}

/* Hairpin mode on a bridge port: with br_netfilter loaded, a container reaching its own
 * published port through the host is DNAT'd back out of the port it came in on, which a bridge
 * only does in hairpin mode (docker sets it on every endpoint). The kernel reads IFLA_PROTINFO
 * as bridge port attributes only when it carries NLA_F_NESTED. */
static int link_set_hairpin(struct nl *nl, int index, struct berth_error **err)
{
        char buf[NL_REQUEST_SIZE];
        struct nlmsghdr *nlh = nl_msg(nl, buf, RTM_SETLINK, 0);
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_BRIDGE;
        ifi->ifi_index = index;
        struct nlattr *prot = mnl_attr_nest_start(nlh, IFLA_PROTINFO);
        prot->nla_type |= NLA_F_NESTED;
        mnl_attr_put_u8(nlh, IFLA_BRPORT_MODE, 1);
        mnl_attr_nest_end(nlh, prot);
        return nl_talk(nl, nlh, NULL, NULL, "set hairpin mode", err);
}

/* Hairpin mode on, then bring the host end up. */
static int endpoint_host_up(struct nl *nl, const char *host, struct berth_error **err)
{
        struct link_info hl;
        int r = link_get(nl, host, &hl, err);
        if (r == -ENODEV)
                return berth_error_setx(err, ENODEV, "vanished after creation");
        if (r < 0)
                return r;
        r = link_set_hairpin(nl, hl.index, err);
        if (r < 0)
                return r;
        return link_set_up(nl, hl.index, err);
}

/* Address, link up, loopback up and default route inside the namespace, from a thread. */
static int endpoint_plumb(int netns_fd, const struct berth_endpoint *ep, struct berth_error **err)
{
        struct ns_job job = {.netns_fd = netns_fd, .ep = ep};
        pthread_t t;
        int e = pthread_create(&t, NULL, ns_job_run, &job);
        if (e != 0)
                return berth_error_set(err, e, "start a thread");
        pthread_join(t, NULL);
        if (job.ret < 0) {
                berth_error_wrap(&job.err, "inside the namespace");
                err_move(err, &job.err);
                return job.ret;
        }
        berth_error_free(job.err);
        return 0;
}

int berth_endpoint_add(int netns_fd, const struct berth_endpoint *ep, char **ret_host_ifname,
                       struct berth_error **err)
{
        _cleanup_free_ char *host =
            ep->host_ifname ? xstrdup(ep->host_ifname) : host_ifname_random();
        struct nl nl = {0};
        struct link_info br;
        int r = ifname_check("interface", host, err);
        if (r < 0)
                return r;
        r = ifname_check("interface", ep->ifname, err);
        if (r >= 0)
                r = ifname_check("bridge", ep->bridge, err);
        if (r < 0)
                return NET_WRAP(r, err, "endpoint `%s`", host);
        if (ep->address.family != AF_INET && ep->address.family != AF_INET6)
                return berth_error_setx(err, EINVAL, "endpoint `%s`: no address", host);
        if (ep->gateway.family != 0 && ep->gateway.family != ep->address.family)
                return berth_error_setx(err, EINVAL,
                                        "endpoint `%s`: gateway and address families differ", host);
        if ((ep->address6.family != 0 && ep->address6.family != AF_INET6) ||
            (ep->gateway6.family != 0 && ep->gateway6.family != AF_INET6) ||
            (ep->gateway6.family != 0 && ep->address6.family == 0))
                return berth_error_setx(err, EINVAL, "endpoint `%s`: invalid IPv6 address", host);

        r = nl_open(&nl, err);
        if (r < 0)
                return NET_WRAP(r, err, "endpoint `%s`", host);
        r = link_get(&nl, ep->bridge, &br, err);
        if (r == -ENODEV)
                r = berth_error_setx(err, ENODEV, "bridge `%s` not found", ep->bridge);
        if (r >= 0 && strcmp(br.kind, "bridge") != 0)
                r = berth_error_setx(err, EINVAL, "`%s` is not a bridge", ep->bridge);
        if (r < 0)
                goto fail;
        r = endpoint_create_pair(&nl, netns_fd, ep, host, &br, err);
        if (r < 0)
                goto fail;
        r = endpoint_host_up(&nl, host, err);
        if (r < 0)
                goto fail_delete;
        r = endpoint_plumb(netns_fd, ep, err);
        if (r < 0)
                goto fail_delete;
        nl_close(&nl);
        if (ret_host_ifname)
                *ret_host_ifname = TAKE_PTR(host);
        return 0;

fail_delete:
        link_delete(&nl, host, "veth", NULL);
fail:
        nl_close(&nl);
        return NET_WRAP(r, err, "endpoint `%s`", host);
}

/* The next request of a batch, at *off in buf (its header filled as nl_msg does); batch_end
 * moves *off past it once its attributes are in. */
static struct nlmsghdr *batch_msg(struct nl *nl, char *buf, size_t *off, uint16_t type,
                                  uint16_t flags)
{
        return nl_msg(nl, buf + *off, type, flags);
}

static void batch_end(size_t *off, const struct nlmsghdr *nlh)
{
        *off += NLMSG_ALIGN(nlh->nlmsg_len);
}

/* The peer inside the namespace: the first link after loopback, so its index is known before it
 * exists (a new namespace numbers its links from 1, loopback's) */
#define FIRST_IFINDEX 2

int berth_endpoint_add_first(int nl_fd, const struct berth_endpoint *ep, char **ret_host_ifname,
                             struct berth_error **err)
{
        static const uint8_t zero_mac[6];
        _cleanup_free_ char *host =
            ep->host_ifname ? xstrdup(ep->host_ifname) : host_ifname_random();
        _cleanup_close_ int hostns = -1;
        struct nl in = {0}, nl = {0};
        struct link_info br;
        int r = ifname_check("interface", host, err);
        if (r >= 0)
                r = ifname_check("interface", ep->ifname, err);
        if (r >= 0)
                r = ifname_check("bridge", ep->bridge, err);
        if (r < 0)
                return NET_WRAP(r, err, "endpoint `%s`", host);
        if (ep->address.family != AF_INET ||
            (ep->gateway.family != 0 && ep->gateway.family != AF_INET))
                return berth_error_setx(err, EINVAL, "endpoint `%s`: no IPv4 address", host);

        hostns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (hostns < 0)
                return berth_error_set(err, errno, "endpoint `%s`: open the network namespace",
                                       host);
        int fd = fcntl(nl_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return berth_error_set(err, errno, "endpoint `%s`: dup the netlink socket", host);
        in.sock = mnl_socket_fdopen(fd);
        if (!in.sock) {
                close(fd);
                return berth_error_set(err, errno, "endpoint `%s`: netlink socket", host);
        }
        in.portid = mnl_socket_get_portid(in.sock);
        in.seq = (unsigned)time(NULL);
        r = nl_open(&nl, err);
        if (r < 0)
                goto fail;
        r = link_get(&nl, ep->bridge, &br, err);
        if (r == -ENODEV)
                r = berth_error_setx(err, ENODEV, "bridge `%s` not found", ep->bridge);
        if (r >= 0 && strcmp(br.kind, "bridge") != 0)
                r = berth_error_setx(err, EINVAL, "`%s` is not a bridge", ep->bridge);
        if (r < 0)
                goto fail;

        {
                /* inside, in one round trip: the pair (the host end sent out to the daemon's
                 * namespace), the peer up, its address, the default route */
                char buf[4 * NL_REQUEST_SIZE];
                size_t off = 0;
                unsigned mtu = ep->mtu ? ep->mtu : br.mtu, seq0 = in.seq + 1, k = 0;
                struct nlmsghdr *nlh =
                    batch_msg(&in, buf, &off, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
                struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
                ifi->ifi_family = AF_UNSPEC;
                ifi->ifi_index = FIRST_IFINDEX;
                mnl_attr_put_strz(nlh, IFLA_IFNAME, ep->ifname);
                if (mtu)
                        mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
                if (memcmp(ep->mac, zero_mac, 6) != 0)
                        mnl_attr_put(nlh, IFLA_ADDRESS, 6, ep->mac);
                struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
                mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
                struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
                struct nlattr *peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
                struct ifinfomsg *pifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*pifi));
                pifi->ifi_family = AF_UNSPEC;
                mnl_attr_put_strz(nlh, IFLA_IFNAME, host);
                mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)hostns);
                if (mtu)
                        mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
                mnl_attr_nest_end(nlh, peer);
                mnl_attr_nest_end(nlh, data);
                mnl_attr_nest_end(nlh, info);
                batch_end(&off, nlh);
                k++;

                nlh = batch_msg(&in, buf, &off, RTM_NEWLINK, 0);
                ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
                ifi->ifi_family = AF_UNSPEC;
                ifi->ifi_index = FIRST_IFINDEX;
                ifi->ifi_flags = IFF_UP;
                ifi->ifi_change = IFF_UP;
                batch_end(&off, nlh);
                k++;

                const struct berth_cidr *a = &ep->address;
                nlh = batch_msg(&in, buf, &off, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
                struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
                ifa->ifa_family = AF_INET;
                ifa->ifa_prefixlen = (uint8_t)a->prefix;
                ifa->ifa_scope = RT_SCOPE_UNIVERSE;
                ifa->ifa_index = FIRST_IFINDEX;
                mnl_attr_put(nlh, IFA_LOCAL, 4, &a->addr);
                mnl_attr_put(nlh, IFA_ADDRESS, 4, &a->addr);
                if (a->prefix < 31) {
                        uint32_t hostbits =
                            a->prefix == 0 ? 0xffffffffu : (0xffffffffu >> a->prefix);
                        struct in_addr brd = {.s_addr = a->addr.v4.s_addr | htonl(hostbits)};
                        mnl_attr_put(nlh, IFA_BROADCAST, 4, &brd);
                }
                batch_end(&off, nlh);
                k++;

                if (ep->gateway.family != 0) {
                        nlh = batch_msg(&in, buf, &off, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
                        struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
                        rtm->rtm_family = AF_INET;
                        rtm->rtm_table = RT_TABLE_MAIN;
                        rtm->rtm_protocol = RTPROT_BOOT;
                        rtm->rtm_scope = RT_SCOPE_UNIVERSE;
                        rtm->rtm_type = RTN_UNICAST;
                        mnl_attr_put(nlh, RTA_GATEWAY, 4, &ep->gateway.addr);
                        mnl_attr_put_u32(nlh, RTA_OIF, FIRST_IFINDEX);
                        batch_end(&off, nlh);
                        k++;
                }
                r = nl_talk_batch(&in, buf, off, seq0, k, "create and plumb the veth pair", err);
                if (r < 0)
                        goto fail_delete;
        }
        {
                /* outside, in one more: the host end on the bridge and up, then hairpin mode
                 * (a bridge port attribute: only once it is a port) */
                char buf[2 * NL_REQUEST_SIZE];
                size_t off = 0;
                unsigned seq0 = nl.seq + 1;
                struct nlmsghdr *nlh = batch_msg(&nl, buf, &off, RTM_NEWLINK, 0);
                struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
                ifi->ifi_family = AF_UNSPEC;
                ifi->ifi_flags = IFF_UP;
                ifi->ifi_change = IFF_UP;
                mnl_attr_put_strz(nlh, IFLA_IFNAME, host);
                mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)br.index);
                batch_end(&off, nlh);

                nlh = batch_msg(&nl, buf, &off, RTM_NEWLINK, 0);
                ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
                ifi->ifi_family = AF_UNSPEC;
                mnl_attr_put_strz(nlh, IFLA_IFNAME, host);
                struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
                mnl_attr_put_strz(nlh, IFLA_INFO_SLAVE_KIND, "bridge");
                struct nlattr *sd = mnl_attr_nest_start(nlh, IFLA_INFO_SLAVE_DATA);
                mnl_attr_put_u8(nlh, IFLA_BRPORT_MODE, 1);
                mnl_attr_nest_end(nlh, sd);
                mnl_attr_nest_end(nlh, info);
                batch_end(&off, nlh);
                r = nl_talk_batch(&nl, buf, off, seq0, 2, "bridge port", err);
                if (r < 0)
                        goto fail_delete;
        }
        nl_close(&in);
        nl_close(&nl);
        if (ret_host_ifname)
                *ret_host_ifname = TAKE_PTR(host);
        return 0;

fail_delete:
        if (nl.sock)
                link_delete(&nl, host, "veth", NULL);
fail:
        nl_close(&in);
        nl_close(&nl);
        return NET_WRAP(r, err, "endpoint `%s`", host);
}

int berth_endpoint_remove(const char *host_ifname, struct berth_error **err)
{
        int r = ifname_check("interface", host_ifname, err);
        if (r < 0)
                return r;
        struct nl nl = {0};
        r = nl_open(&nl, err);
        if (r >= 0)
                r = link_delete(&nl, host_ifname, "veth", err);
        nl_close(&nl);
        if (r < 0)
                return NET_WRAP(r, err, "remove endpoint `%s`", host_ifname);
        return 0;
}

/* ---------------------------------------------------------------- listing */

struct list_acc {
        const char *prefix, *kind, *alias;
        int master; /* -1: any */
        char **names;
};

static int list_cb(const struct nlmsghdr *nlh, void *data)
{
        struct list_acc *acc = data;
        struct link_info li = {0};
        link_info_cb(nlh, &li);
        if (li.name[0] && strncmp(li.name, acc->prefix, strlen(acc->prefix)) == 0 &&
            (!acc->kind || strcmp(li.kind, acc->kind) == 0) &&
            (!acc->alias || strcmp(li.alias, acc->alias) == 0) &&
            (acc->master < 0 || li.master == acc->master))
                strv_push(&acc->names, li.name);
        return 0;
}

static int links_find(struct list_acc *acc, const char *master, char ***ret_names,
                      struct berth_error **err);

int berth_links_list(const char *prefix, char ***ret_names, struct berth_error **err)
{
        struct list_acc acc = {.prefix = prefix ? prefix : "", .master = -1};
        return links_find(&acc, NULL, ret_names, err);
}

int berth_links_find(const char *prefix, const char *kind, const char *alias, const char *master,
                     char ***ret_names, struct berth_error **err)
{
        struct list_acc acc = {
            .prefix = prefix ? prefix : "", .kind = kind, .alias = alias, .master = -1};
        return links_find(&acc, master, ret_names, err);
}

int berth_link_set_alias(const char *name, const char *alias, struct berth_error **err)
{
        int r = ifname_check("interface", name, err);
        if (r < 0)
                return r;
        struct nl nl = {0};
        r = nl_open(&nl, err);
        if (r < 0)
                return r;
        char buf[NL_REQUEST_SIZE];
        struct nlmsghdr *nlh = nl_msg(&nl, buf, RTM_NEWLINK, 0);
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
        mnl_attr_put(nlh, IFLA_IFALIAS, strnlen(alias, 255), alias);
        r = nl_talk(&nl, nlh, NULL, NULL, "set alias", err);
        nl_close(&nl);
        if (r < 0)
                return NET_WRAP(r, err, "link `%s`", name);
        return 0;
}

static int links_find(struct list_acc *acc, const char *master, char ***ret_names,
                      struct berth_error **err)
{
        struct nl nl = {0};
        int r = nl_open(&nl, err);
        if (r < 0)
                return r;
        if (master) {
                struct link_info m;
                r = link_get(&nl, master, &m, err);
                if (r == -ENODEV) {
                        nl_close(&nl);
                        *ret_names = xcalloc(1, sizeof(char *));
                        return 0;
                }
                if (r < 0) {
                        nl_close(&nl);
                        return r;
                }
                acc->master = m.index;
        }
        char buf[NL_REQUEST_SIZE];
        struct nlmsghdr *nlh = nl_msg(&nl, buf, RTM_GETLINK, NLM_F_DUMP);
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
        ifi->ifi_family = AF_UNSPEC;
        mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
        r = nl_talk(&nl, nlh, list_cb, acc, "list links", err);
        nl_close(&nl);
        if (r < 0) {
                strv_free(acc->names);
                return r;
        }
        if (!acc->names)
                acc->names = xcalloc(1, sizeof(char *));
        *ret_names = acc->names;
        return 0;
}
