/* The embedded DNS server of user networks: one thread polling a UDP and a TCP socket on
 * listen_addr:53 and a pipe that stops it. Names in the record table are answered here
 * (A/AAAA, PTR of their addresses; TTL 600 like docker); everything else is forwarded unchanged
 * to the upstream resolvers (id kept, answer relayed byte for byte) from a short-lived thread, so
 * a slow upstream never stalls local answers. A forwarded name is never answered NXDOMAIN by us:
 * when every upstream fails the client gets SERVFAIL.
 *
 * Every read of a packet is bounds-checked; the parser is fuzzed (fuzz/net-dns.c). */
#include "net/net.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>

#define DNS_PORT        53
#define DNS_HDR         12
#define DNS_MAX_UDP     512
#define DNS_MAX_MSG     65535
#define DNS_TTL         600
#define DNS_TIMEOUT_MS  2000
#define DNS_MAX_NAME    255
#define DNS_MAX_THREADS 64

#define T_A    1
#define T_PTR  12
#define T_AAAA 28
#define C_IN   1

#define RC_OK       0
#define RC_FORMERR  1
#define RC_SERVFAIL 2
#define RC_NOTIMP   4

struct dns_rec {
        char *name; /* lowercased, no trailing dot */
        struct berth_cidr addr;
};

/* Where forwarded queries go: up to 8 resolvers. */
struct upstreams {
        struct sockaddr_storage addr[8];
        socklen_t len[8];
        size_t n;
};

/* One client's own resolvers (a container's --dns) */
struct dns_fwd {
        struct berth_cidr client;
        struct upstreams up;
};

struct berth_dns {
        pthread_t thread;
        int stop_pipe[2];
        int udp_fd, tcp_fd;
        struct upstreams upstream;

        pthread_mutex_t lock; /* recs, n_recs, fwds, n_fwds, workers */
        pthread_cond_t idle;
        struct dns_rec *recs;
        size_t n_recs;
        struct dns_fwd *fwds;
        size_t n_fwds;
        unsigned workers;
        bool stopping;
};

/* ---------------------------------------------------------------- wire format */

static uint16_t rd16(const uint8_t *p)
{
        return (uint16_t)((p[0] << 8) | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t)(v >> 8);
        p[1] = (uint8_t)v;
}

/* Read the name at *off into out (dotted, lowercased). A compression pointer must point
 * strictly before the start of the labels it was reached from, so the targets strictly decrease
 * and no loop is possible (a pointer back to the label just before it would otherwise repeat
 * forever); the jump count is bounded as well. *off is left after the name as it appears at its
 * position. */
static int read_name(const uint8_t *pkt, size_t len, size_t *off, char *out, size_t out_size)
{
        size_t pos = *off, seg = *off, end = 0, olen = 0, wire = 0;
        bool jumped = false;
        unsigned jumps = 0;
        if (out_size == 0)
                return -EBADMSG;
        for (;;) {
                if (pos >= len)
                        return -EBADMSG;
                uint8_t l = pkt[pos];
                if ((l & 0xc0) == 0xc0) {
                        if (pos + 1 >= len)
                                return -EBADMSG;
                        size_t target = ((size_t)(l & 0x3f) << 8) | pkt[pos + 1];
                        if (target >= seg || ++jumps > 64)
                                return -EBADMSG;
                        seg = target;
                        if (!jumped)
                                end = pos + 2;
                        jumped = true;
                        pos = target;
                        continue;
                }
                if (l & 0xc0) /* 0x40, 0x80: extended/obsolete label types */
                        return -EBADMSG;
                if (l == 0) {
                        if (!jumped)
                                end = pos + 1;
                        break;
                }
                if (pos + 1 + l > len)
                        return -EBADMSG;
                wire += (size_t)l + 1;
                if (wire + 1 > DNS_MAX_NAME)
                        return -EBADMSG;
                if (olen + (olen ? 1 : 0) + l + 1 > out_size)
                        return -EBADMSG;
                if (olen)
                        out[olen++] = '.';
                for (size_t i = 0; i < l; i++) {
                        uint8_t c = pkt[pos + 1 + i];
                        /* a dot inside a label would change the name once dotted */
                        if (c <= 0x20 || c >= 0x7f || c == '.')
                                return -EBADMSG;
                        out[olen++] = (char)tolower(c);
                }
                pos += 1 + (size_t)l;
        }
        out[olen] = '\0';
        *off = end;
        return 0;
}

/* The question of a query: name, type, and the offset where the question section ends. */
static int parse_question(const uint8_t *pkt, size_t len, char *name, size_t name_size,
                          uint16_t *ret_type, size_t *ret_qend)
{
        if (len < DNS_HDR)
                return -EBADMSG;
        if (pkt[2] & 0x80) /* QR: a response, not a query */
                return -EBADMSG;
        uint16_t qd = rd16(pkt + 4), an = rd16(pkt + 6), ns = rd16(pkt + 8), ar = rd16(pkt + 10);
        if (qd != 1)
                return -EBADMSG;
        /* every record needs at least 11 bytes (root name, type, class, ttl, rdlength): counts
         * that cannot fit are lies */
        size_t rest = len - DNS_HDR;
        if (rest < 5 || ((size_t)an + ns + ar) * 11 > rest - 5)
                return -EBADMSG;
        size_t off = DNS_HDR;
        int r = read_name(pkt, len, &off, name, name_size);
        if (r < 0)
                return r;
        if (off + 4 > len)
                return -EBADMSG;
        if (rd16(pkt + off + 2) != C_IN && rd16(pkt + off + 2) != 255)
                return -EBADMSG;
        *ret_type = rd16(pkt + off);
        *ret_qend = off + 4;
        return 0;
}

int berth_dns_parse_query(const uint8_t *pkt, size_t len, char *ret_name, size_t name_size,
                          uint16_t *ret_type, struct berth_error **err)
{
        char name[DNS_MAX_NAME + 1];
        uint16_t type;
        size_t qend;
        if (!pkt || parse_question(pkt, len, name, sizeof(name), &type, &qend) < 0)
                return berth_error_setx(err, EBADMSG, "malformed dns query");
        if (strlen(name) + 1 > name_size)
                return berth_error_setx(err, ENAMETOOLONG, "dns name longer than %zu bytes",
                                        name_size);
        memcpy(ret_name, name, strlen(name) + 1);
        *ret_type = type;
        return 0;
}

/* ---------------------------------------------------------------- answers */

struct answer {
        uint8_t buf[DNS_MAX_MSG];
        size_t len, max;
        uint16_t count;
        bool truncated;
};

/* Start a reply from the query's header and question; rcode and flags set, counts zero. */
static void answer_init(struct answer *a, const uint8_t *q, size_t qend, unsigned rcode, bool aa,
                        size_t max)
{
        memcpy(a->buf, q, qend);
        a->len = qend;
        a->max = max;
        a->count = 0;
        a->truncated = false;
        a->buf[2] = (uint8_t)(0x80 | (q[2] & 0x79) | (aa ? 0x04 : 0)); /* QR, opcode, AA, RD */
        a->buf[3] = (uint8_t)(0x80 | (rcode & 0x0f));                  /* RA, rcode */
        wr16(a->buf + 4, qend > DNS_HDR ? 1 : 0);
        wr16(a->buf + 6, 0);
        wr16(a->buf + 8, 0);
        wr16(a->buf + 10, 0);
}

/* Append one answer named by a pointer to the question's name (offset 12). */
static void answer_add(struct answer *a, uint16_t type, const void *rdata, size_t rdlen)
{
        if (a->truncated || a->len + 12 + rdlen > a->max) {
                a->truncated = true;
                a->buf[2] |= 0x02; /* TC */
                return;
        }
        uint8_t *p = a->buf + a->len;
        wr16(p, 0xc000 | DNS_HDR);
        wr16(p + 2, type);
        wr16(p + 4, C_IN);
        p[6] = 0;
        p[7] = 0;
        wr16(p + 8, DNS_TTL);
        wr16(p + 10, (uint16_t)rdlen);
        memcpy(p + 12, rdata, rdlen);
        a->len += 12 + rdlen;
        wr16(a->buf + 6, ++a->count);
}

/* A dotted name in wire form; false when it does not fit DNS's limits. */
static bool encode_name(const char *name, uint8_t *out, size_t *ret_len)
{
        size_t o = 0;
        const char *p = name;
        while (*p) {
                const char *dot = strchr(p, '.');
                size_t l = dot ? (size_t)(dot - p) : strlen(p);
                if (l == 0 || l > 63 || o + l + 2 > DNS_MAX_NAME)
                        return false;
                out[o++] = (uint8_t)l;
                memcpy(out + o, p, l);
                o += l;
                p += l;
                if (*p == '.')
                        p++;
        }
        out[o++] = 0;
        *ret_len = o;
        return true;
}

/* The reverse name of an address: "4.3.2.1.in-addr.arpa" or the ip6.arpa nibbles. */
static void reverse_name(const struct berth_cidr *c, char *buf, size_t size)
{
        if (c->family == AF_INET) {
                const uint8_t *b = (const uint8_t *)&c->addr.v4.s_addr;
                snprintf(buf, size, "%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1], b[0]);
                return;
        }
        size_t o = 0;
        for (int i = 15; i >= 0; i--) {
                uint8_t v = c->addr.v6.s6_addr[i];
                o += (size_t)snprintf(buf + o, size - o, "%x.%x.", v & 0xf, v >> 4);
        }
        snprintf(buf + o, size - o, "ip6.arpa");
}

/* Answer from the table when the name is ours: true with the reply built. */
static bool answer_local(struct berth_dns *d, const char *name, uint16_t type, const uint8_t *q,
                         size_t qend, size_t max, struct answer *a)
{
        bool found = false;
        pthread_mutex_lock(&d->lock);
        for (size_t i = 0; i < d->n_recs; i++) {
                const struct dns_rec *r = &d->recs[i];
                if (strcmp(r->name, name) == 0) {
                        if (!found)
                                answer_init(a, q, qend, RC_OK, true, max);
                        found = true;
                        if (type == T_A && r->addr.family == AF_INET)
                                answer_add(a, T_A, &r->addr.addr.v4, 4);
                        else if (type == T_AAAA && r->addr.family == AF_INET6)
                                answer_add(a, T_AAAA, &r->addr.addr.v6, 16);
                        continue;
                }
                if (type != T_PTR)
                        continue;
                char rev[80];
                reverse_name(&r->addr, rev, sizeof(rev));
                if (strcmp(rev, name) != 0)
                        continue;
                uint8_t wire[DNS_MAX_NAME + 1];
                size_t wl;
                if (!encode_name(r->name, wire, &wl))
                        continue;
                if (!found)
                        answer_init(a, q, qend, RC_OK, true, max);
                found = true;
                answer_add(a, T_PTR, wire, wl);
        }
        pthread_mutex_unlock(&d->lock);
        return found;
}

/* ---------------------------------------------------------------- forwarding */

static ssize_t read_full(int fd, uint8_t *buf, size_t n)
{
        size_t got = 0;
        while (got < n) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int r = poll(&p, 1, DNS_TIMEOUT_MS);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return -1;
                ssize_t k = recv(fd, buf + got, n - got, 0);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return -1;
                got += (size_t)k;
        }
        return (ssize_t)got;
}

static bool write_full(int fd, const uint8_t *buf, size_t n)
{
        size_t done = 0;
        while (done < n) {
                ssize_t k = send(fd, buf + done, n - done, MSG_NOSIGNAL);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return false;
                done += (size_t)k;
        }
        return true;
}

/* Ask one upstream over UDP: the reply must come from it and carry the query's id. */
static ssize_t forward_udp(const struct sockaddr *up, socklen_t up_len, const uint8_t *q,
                           size_t qlen, uint8_t *resp, size_t resp_size)
{
        _cleanup_close_ int fd = socket(up->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        /* connect(): the kernel drops datagrams from any other source */
        if (connect(fd, up, up_len) < 0 || send(fd, q, qlen, 0) != (ssize_t)qlen)
                return -1;
        for (;;) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int r = poll(&p, 1, DNS_TIMEOUT_MS);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return -1;
                ssize_t k = recv(fd, resp, resp_size, 0);
                if (k < 0)
                        return -1;
                if (k >= DNS_HDR && resp[0] == q[0] && resp[1] == q[1] && (resp[2] & 0x80))
                        return k;
        }
}

static ssize_t forward_tcp(const struct sockaddr *up, socklen_t up_len, const uint8_t *q,
                           size_t qlen, uint8_t *resp, size_t resp_size)
{
        _cleanup_close_ int fd =
            socket(up->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -1;
        if (connect(fd, up, up_len) < 0) {
                if (errno != EINPROGRESS)
                        return -1;
                struct pollfd p = {.fd = fd, .events = POLLOUT};
                int soerr = 0;
                socklen_t sl = sizeof(soerr);
                if (poll(&p, 1, DNS_TIMEOUT_MS) <= 0 ||
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0)
                        return -1;
        }
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
                return -1;
        uint8_t pfx[2];
        wr16(pfx, (uint16_t)qlen);
        if (!write_full(fd, pfx, 2) || !write_full(fd, q, qlen))
                return -1;
        if (read_full(fd, pfx, 2) != 2)
                return -1;
        size_t n = rd16(pfx);
        if (n < DNS_HDR || n > resp_size || read_full(fd, resp, n) != (ssize_t)n)
                return -1;
        if (resp[0] != q[0] || resp[1] != q[1])
                return -1;
        return (ssize_t)n;
}

/* ---------------------------------------------------------------- requests */

/* Build the reply to one query into out when it needs no upstream (returns its length; 0 = no
 * reply); *ret_forward is set when it must be forwarded instead. */
static size_t reply_here(struct berth_dns *d, const uint8_t *q, size_t qlen, bool tcp, uint8_t *out,
                         bool *ret_forward)
{
        char name[DNS_MAX_NAME + 1];
        uint16_t type;
        size_t qend;
        size_t max = tcp ? DNS_MAX_MSG : DNS_MAX_UDP;
        *ret_forward = false;
        if (qlen < DNS_HDR || (q[2] & 0x80))
                return 0; /* nothing to answer, or a response: never reflect */
        _cleanup_free_ struct answer *a = xmalloc(sizeof(*a));
        if (parse_question(q, qlen, name, sizeof(name), &type, &qend) < 0)
                answer_init(a, q, DNS_HDR, RC_FORMERR, false, max);
        else if (((q[2] >> 3) & 0x0f) != 0) /* opcode other than QUERY */
                answer_init(a, q, qend, RC_NOTIMP, false, max);
        else if (!answer_local(d, name, type, q, qend, max, a)) {
                *ret_forward = true;
                return 0;
        }
        memcpy(out, a->buf, a->len);
        return a->len;
}

/* Build the reply to one query into out (returns its length, 0 = no reply): local, or the
 * first upstream's answer relayed unchanged, or SERVFAIL. */
static bool same_addr(const struct sockaddr_storage *peer, const struct berth_cidr *c)
{
        if (peer->ss_family == AF_INET && c->family == AF_INET)
                return ((const struct sockaddr_in *)peer)->sin_addr.s_addr == c->addr.v4.s_addr;
        if (peer->ss_family == AF_INET6 && c->family == AF_INET6)
                return memcmp(&((const struct sockaddr_in6 *)peer)->sin6_addr, &c->addr.v6, 16) ==
                       0;
        return false;
}

/* The resolvers for a query from peer: the client's own when it has some, else the server's. */
static void upstreams_for(struct berth_dns *d, const struct sockaddr_storage *peer,
                          struct upstreams *ret)
{
        *ret = d->upstream;
        pthread_mutex_lock(&d->lock);
        for (size_t i = 0; i < d->n_fwds; i++) {
                if (same_addr(peer, &d->fwds[i].client)) {
                        *ret = d->fwds[i].up;
                        break;
                }
        }
        pthread_mutex_unlock(&d->lock);
}

static size_t handle_query(struct berth_dns *d, const struct sockaddr_storage *peer,
                           const uint8_t *q, size_t qlen, bool tcp, uint8_t *out, size_t out_size)
{
        bool forward;
        size_t n = reply_here(d, q, qlen, tcp, out, &forward);
        if (!forward)
                return n;
        struct upstreams ups;
        upstreams_for(d, peer, &ups);
        for (size_t i = 0; i < ups.n; i++) {
                const struct sockaddr *up = (const struct sockaddr *)&ups.addr[i];
                ssize_t k = tcp ? forward_tcp(up, ups.len[i], q, qlen, out, out_size)
                                : forward_udp(up, ups.len[i], q, qlen, out, out_size);
                if (k > 0)
                        return (size_t)k;
        }
        char name[DNS_MAX_NAME + 1];
        uint16_t type;
        size_t qend;
        if (parse_question(q, qlen, name, sizeof(name), &type, &qend) < 0)
                return 0; /* cannot happen: reply_here parsed it */
        _cleanup_free_ struct answer *a = xmalloc(sizeof(*a));
        answer_init(a, q, qend, RC_SERVFAIL, false, tcp ? DNS_MAX_MSG : DNS_MAX_UDP);
        memcpy(out, a->buf, a->len);
        return a->len;
}

struct job {
        struct berth_dns *d;
        bool tcp;
        int fd; /* tcp: the connection (owned) */
        struct sockaddr_storage peer;
        socklen_t peer_len;
        size_t len;
        uint8_t q[];
};

static void worker_done(struct berth_dns *d)
{
        pthread_mutex_lock(&d->lock);
        d->workers--;
        pthread_cond_broadcast(&d->idle);
        pthread_mutex_unlock(&d->lock);
}

static void *worker(void *arg)
{
        struct job *j = arg;
        _cleanup_free_ uint8_t *out = xmalloc(DNS_MAX_MSG);
        if (!j->tcp) {
                size_t n = handle_query(j->d, &j->peer, j->q, j->len, false, out, DNS_MAX_MSG);
                if (n > 0)
                        (void)sendto(j->d->udp_fd, out, n, MSG_NOSIGNAL,
                                     (struct sockaddr *)&j->peer, j->peer_len);
        } else {
                /* several queries may come on one connection; each is length-prefixed */
                _cleanup_free_ uint8_t *q = xmalloc(DNS_MAX_MSG);
                for (;;) {
                        uint8_t pfx[2];
                        if (read_full(j->fd, pfx, 2) != 2)
                                break;
                        size_t ql = rd16(pfx);
                        if (ql == 0 || read_full(j->fd, q, ql) != (ssize_t)ql)
                                break;
                        size_t n = handle_query(j->d, &j->peer, q, ql, true, out, DNS_MAX_MSG);
                        if (n == 0)
                                break;
                        wr16(pfx, (uint16_t)n);
                        if (!write_full(j->fd, pfx, 2) || !write_full(j->fd, out, n))
                                break;
                }
                close(j->fd);
        }
        struct berth_dns *d = j->d;
        free(j);
        worker_done(d);
        return NULL;
}

/* Hand a request to a detached worker; dropped when too many are running (a client retries). */
static void spawn(struct berth_dns *d, struct job *j)
{
        pthread_mutex_lock(&d->lock);
        bool ok = d->workers < DNS_MAX_THREADS && !d->stopping;
        if (ok)
                d->workers++;
        pthread_mutex_unlock(&d->lock);
        pthread_attr_t attr;
        pthread_t t;
        if (ok) {
                pthread_attr_init(&attr);
                pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
                ok = pthread_create(&t, &attr, worker, j) == 0;
                pthread_attr_destroy(&attr);
                if (ok)
                        return;
                worker_done(d);
        }
        if (j->tcp)
                close(j->fd);
        free(j);
}

static void *server(void *arg)
{
        struct berth_dns *d = arg;
        _cleanup_free_ uint8_t *buf = xmalloc(DNS_MAX_MSG);
        _cleanup_free_ uint8_t *out = xmalloc(DNS_MAX_MSG);
        for (;;) {
                struct pollfd p[3] = {
                    {.fd = d->stop_pipe[0], .events = POLLIN},
                    {.fd = d->udp_fd, .events = POLLIN},
                    {.fd = d->tcp_fd, .events = POLLIN},
                };
                if (poll(p, 3, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[0].revents)
                        break;
                if (p[1].revents & POLLIN) {
                        struct sockaddr_storage peer;
                        socklen_t pl = sizeof(peer);
                        ssize_t k = recvfrom(d->udp_fd, buf, DNS_MAX_MSG, MSG_DONTWAIT,
                                             (struct sockaddr *)&peer, &pl);
                        bool forward = false;
                        size_t n = 0;
                        /* local answers inline: a slow upstream never delays them */
                        if (k >= DNS_HDR)
                                n = reply_here(d, buf, (size_t)k, false, out, &forward);
                        if (n > 0)
                                (void)sendto(d->udp_fd, out, n, MSG_NOSIGNAL,
                                             (struct sockaddr *)&peer, pl);
                        if (forward) {
                                struct job *j = xmalloc(sizeof(*j) + (size_t)k);
                                *j = (struct job){.d = d,
                                                  .fd = -1,
                                                  .peer = peer,
                                                  .peer_len = pl,
                                                  .len = (size_t)k};
                                memcpy(j->q, buf, (size_t)k);
                                spawn(d, j);
                        }
                }
                if (p[2].revents & POLLIN) {
                        struct sockaddr_storage peer = {0};
                        socklen_t pl = sizeof(peer);
                        int c = accept4(d->tcp_fd, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
                        if (c >= 0) {
                                struct job *j = xmalloc(sizeof(*j));
                                *j = (struct job){
                                    .d = d, .tcp = true, .fd = c, .peer = peer, .peer_len = pl};
                                spawn(d, j);
                        }
                }
        }
        return NULL;
}

/* ---------------------------------------------------------------- lifecycle */

static int add_upstream(struct upstreams *u, const char *s, struct berth_error **err)
{
        struct berth_cidr c;
        _cleanup_free_ char *text = xstrdup(s);
        char *pct = strchr(text, '%'); /* fe80::1%eth0: the zone is not ours to use */
        if (pct)
                *pct = '\0';
        if (berth_cidr_parse(text, &c, err) < 0)
                return berth_error_wrap(err, "dns upstream");
        if (u->n >= ARRAY_SIZE(u->addr))
                return 0; /* resolv.conf's own limit is 3 */
        struct sockaddr_storage *ss = &u->addr[u->n];
        memset(ss, 0, sizeof(*ss));
        if (c.family == AF_INET) {
                struct sockaddr_in *sin = (struct sockaddr_in *)ss;
                sin->sin_family = AF_INET;
                sin->sin_port = htons(DNS_PORT);
                sin->sin_addr = c.addr.v4;
                u->len[u->n] = sizeof(*sin);
        } else {
                struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
                sin6->sin6_family = AF_INET6;
                sin6->sin6_port = htons(DNS_PORT);
                sin6->sin6_addr = c.addr.v6;
                u->len[u->n] = sizeof(*sin6);
        }
        u->n++;
        return 0;
}

static int read_resolv_conf(struct berth_dns *d, struct berth_error **err)
{
        _cleanup_fclose_ FILE *f = fopen("/etc/resolv.conf", "re");
        if (!f) {
                if (errno == ENOENT)
                        return 0;
                return berth_error_set(err, errno, "open `/etc/resolv.conf`");
        }
        char line[512];
        while (fgets(line, sizeof(line), f)) {
                char *save = NULL;
                char *key = strtok_r(line, " \t\r\n", &save);
                char *val = key ? strtok_r(NULL, " \t\r\n", &save) : NULL;
                if (!key || !val || strcmp(key, "nameserver") != 0)
                        continue;
                struct berth_error *e = NULL;
                if (add_upstream(&d->upstream, val, &e) < 0)
                        berth_error_free(e); /* an unusable line is skipped, like glibc */
        }
        return 0;
}

static int listen_socket(const struct berth_cidr *addr, int type, int *ret_fd,
                         struct berth_error **err)
{
        struct sockaddr_storage ss = {0};
        socklen_t sl;
        if (addr->family == AF_INET) {
                struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
                sin->sin_family = AF_INET;
                sin->sin_port = htons(DNS_PORT);
                sin->sin_addr = addr->addr.v4;
                sl = sizeof(*sin);
        } else if (addr->family == AF_INET6) {
                struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
                sin6->sin6_family = AF_INET6;
                sin6->sin6_port = htons(DNS_PORT);
                sin6->sin6_addr = addr->addr.v6;
                sl = sizeof(*sin6);
        } else {
                return berth_error_setx(err, EAFNOSUPPORT, "dns listen address: bad family");
        }
        char text[INET6_ADDRSTRLEN];
        berth_cidr_format(addr, false, text, sizeof(text));
        _cleanup_close_ int fd = socket(addr->family, type | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return berth_error_set(err, errno, "dns socket");
        int one = 1;
        /* a restarted daemon must rebind at once over TIME_WAIT connections */
        if (type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
                return berth_error_set(err, errno, "dns SO_REUSEADDR");
        if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
                return berth_error_set(err, errno, "bind dns %s `%s:53`",
                                       type == SOCK_STREAM ? "tcp" : "udp", text);
        if (type == SOCK_STREAM && listen(fd, 64) < 0)
                return berth_error_set(err, errno, "listen dns tcp `%s:53`", text);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static void dns_free(struct berth_dns *d)
{
        for (size_t i = 0; i < d->n_recs; i++)
                free(d->recs[i].name);
        free(d->recs);
        free(d->fwds);
        if (d->udp_fd >= 0)
                close(d->udp_fd);
        if (d->tcp_fd >= 0)
                close(d->tcp_fd);
        if (d->stop_pipe[0] >= 0)
                close(d->stop_pipe[0]);
        if (d->stop_pipe[1] >= 0)
                close(d->stop_pipe[1]);
        pthread_mutex_destroy(&d->lock);
        pthread_cond_destroy(&d->idle);
        free(d);
}

int berth_dns_start(const struct berth_cidr *listen_addr, char *const *upstream,
                    struct berth_dns **ret, struct berth_error **err)
{
        struct berth_dns *d = xcalloc(1, sizeof(*d));
        d->udp_fd = d->tcp_fd = d->stop_pipe[0] = d->stop_pipe[1] = -1;
        pthread_mutex_init(&d->lock, NULL);
        pthread_cond_init(&d->idle, NULL);
        int r = 0;
        if (upstream) {
                for (size_t i = 0; upstream[i] && r >= 0; i++)
                        r = add_upstream(&d->upstream, upstream[i], err);
        } else {
                r = read_resolv_conf(d, err);
        }
        if (r >= 0)
                r = listen_socket(listen_addr, SOCK_DGRAM, &d->udp_fd, err);
        if (r >= 0)
                r = listen_socket(listen_addr, SOCK_STREAM, &d->tcp_fd, err);
        if (r >= 0 && pipe2(d->stop_pipe, O_CLOEXEC) < 0)
                r = berth_error_set(err, errno, "dns stop pipe");
        if (r >= 0) {
                int e = pthread_create(&d->thread, NULL, server, d);
                if (e != 0)
                        r = berth_error_set(err, e, "dns server thread");
        }
        if (r < 0) {
                dns_free(d);
                return berth_error_wrap(err, "start dns server");
        }
        *ret = d;
        return 0;
}

void berth_dns_set_records(struct berth_dns *d, const struct berth_dns_record *recs, size_t n)
{
        struct dns_rec *nr = n ? xcalloc(n, sizeof(*nr)) : NULL;
        for (size_t i = 0; i < n; i++) {
                char *name = xstrdup(recs[i].name ? recs[i].name : "");
                size_t l = strlen(name);
                while (l > 0 && name[l - 1] == '.')
                        name[--l] = '\0';
                for (size_t k = 0; k < l; k++)
                        name[k] = (char)tolower((unsigned char)name[k]);
                nr[i].name = name;
                nr[i].addr = recs[i].address;
        }
        pthread_mutex_lock(&d->lock);
        struct dns_rec *old = d->recs;
        size_t old_n = d->n_recs;
        d->recs = nr;
        d->n_recs = n;
        pthread_mutex_unlock(&d->lock);
        for (size_t i = 0; i < old_n; i++)
                free(old[i].name);
        free(old);
}

void berth_dns_set_forwarders(struct berth_dns *d, const struct berth_dns_forwarders *f, size_t n)
{
        struct dns_fwd *nf = xcalloc(n + 1, sizeof(*nf));
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                nf[k].client = f[i].client;
                for (size_t j = 0; f[i].servers && f[i].servers[j]; j++) {
                        struct berth_error *e = NULL;
                        if (add_upstream(&nf[k].up, f[i].servers[j], &e) < 0)
                                berth_error_free(e); /* skipped, as a bad resolv.conf line */
                }
                if (nf[k].up.n)
                        k++;
        }
        pthread_mutex_lock(&d->lock);
        struct dns_fwd *old = d->fwds;
        d->fwds = nf;
        d->n_fwds = k;
        pthread_mutex_unlock(&d->lock);
        free(old);
}

void berth_dns_stop(struct berth_dns *d)
{
        if (!d)
                return;
        pthread_mutex_lock(&d->lock);
        d->stopping = true;
        pthread_mutex_unlock(&d->lock);
        (void)!write(d->stop_pipe[1], "x", 1);
        pthread_join(d->thread, NULL);
        /* workers use the udp socket and the table: wait for them (each ends within its
         * upstream timeouts) */
        pthread_mutex_lock(&d->lock);
        while (d->workers > 0)
                pthread_cond_wait(&d->idle, &d->lock);
        pthread_mutex_unlock(&d->lock);
        dns_free(d);
}
