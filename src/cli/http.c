/* A small HTTP/1.1 client over AF_UNIX: keep-alive, Content-Length and chunked answers, chunked
 * request bodies from an fd, and raw access to the connection after a hijack (attach, exec). */
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "cli/cli.h"

#define HTTP_BUF      65536
#define HTTP_HEAD_MAX (256 * 1024)

struct http_conn {
        int fd;
        size_t start, end; /* unread bytes are buf[start, end) */
        char buf[HTTP_BUF];
};

/* berth_send_all (MSG_NOSIGNAL: a daemon gone is an error, not SIGPIPE) with the message the CLI
 * reports */
static int send_to_daemon(int fd, const void *data, size_t len, struct berth_error **err)
{
        int r = berth_send_all(fd, data, len);
        return r < 0 ? berth_error_set(err, -r, "write to the daemon") : 0;
}

int http_connect(const char *path, struct http_conn **ret, struct berth_error **err)
{
        struct sockaddr_un sa;
        if (berth_sockaddr_un(&sa, "%s", path) < 0)
                return berth_error_setx(err, ENAMETOOLONG, "socket path `%s` is too long", path);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return berth_error_set(err, errno, "socket");
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return berth_error_set(err, errno, "connect to `%s`", path);
        *ret = http_conn_from_fd(TAKE_FD(fd));
        return 0;
}

struct http_conn *http_conn_from_fd(int fd)
{
        struct http_conn *c = xmalloc(sizeof(*c));
        c->fd = fd;
        c->start = c->end = 0;
        return c;
}

void http_conn_free(struct http_conn *c)
{
        if (!c)
                return;
        if (c->fd >= 0)
                close(c->fd);
        free(c);
}

void http_conn_freep(struct http_conn **c)
{
        http_conn_free(*c);
}

void http_resp_release(struct http_resp *r)
{
        free(r->content_type);
        r->content_type = NULL;
        free(r->headers);
        r->headers = NULL;
}

char *http_resp_header(const struct http_resp *r, const char *name)
{
        size_t n = strlen(name);
        for (const char *p = r->headers; p && *p;) {
                const char *nl = strchr(p, '\n');
                if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
                        const char *v = p + n + 1;
                        while (*v == ' ')
                                v++;
                        return xstrndup(v, (size_t)((nl ? nl : v + strlen(v)) - v));
                }
                if (!nl)
                        break;
                p = nl + 1;
        }
        return NULL;
}

int http_conn_fd(struct http_conn *c)
{
        return c->fd;
}

const char *http_api_version = CLI_API_VERSION;
void (*http_trace)(const char *method, const char *path);

static char *request_head(const char *method, const char *path, const char *ctype,
                          const char *length_or_chunked, const char *extra)
{
        if (http_trace)
                http_trace(method, path);
        return xasprintf("%s /v%s%s HTTP/1.1\r\nHost: api.moby.localhost\r\n"
                         "User-Agent: berth/" BERTH_VERSION "\r\n%s%s%s%s%s\r\n",
                         method, http_api_version, path, ctype ? "Content-Type: " : "",
                         ctype ? ctype : "", ctype ? "\r\n" : "", length_or_chunked,
                         extra ? extra : "");
}

int http_send(struct http_conn *c, const char *method, const char *path, const char *ctype,
              const void *body, size_t len, const char *extra_headers, struct berth_error **err)
{
        _cleanup_free_ char *clen = NULL;
        if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)
                clen = xasprintf("Content-Length: %zu\r\n", body ? len : 0);
        if (body && !ctype)
                ctype = "application/json";
        _cleanup_free_ char *head =
            request_head(method, path, ctype, clen ? clen : "", extra_headers);
        size_t hlen = strlen(head);
        if (body && len > 0 && len < 16384) {
                /* one write: the daemon sees the whole request in one segment */
                _cleanup_free_ char *all = xmalloc(hlen + len);
                memcpy(all, head, hlen);
                memcpy(all + hlen, body, len);
                return send_to_daemon(c->fd, all, hlen + len, err);
        }
        int r = send_to_daemon(c->fd, head, hlen, err);
        if (r < 0)
                return r;
        if (body && len > 0)
                return send_to_daemon(c->fd, body, len, err);
        return 0;
}

int http_send_fd(struct http_conn *c, const char *method, const char *path, const char *ctype,
                 int fd, struct berth_error **err)
{
        _cleanup_free_ char *head =
            request_head(method, path, ctype, "Transfer-Encoding: chunked\r\n", NULL);
        int r = send_to_daemon(c->fd, head, strlen(head), err);
        if (r < 0)
                return r;
        _cleanup_free_ char *buf = xmalloc(HTTP_BUF + 32);
        for (;;) {
                ssize_t n = read(fd, buf + 16, HTTP_BUF);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return berth_error_set(err, errno, "read the request body");
                }
                if (n == 0)
                        break;
                char hdr[17];
                int hl = snprintf(hdr, sizeof(hdr), "%zx\r\n", (size_t)n);
                memcpy(buf + 16 - hl, hdr, (size_t)hl);
                memcpy(buf + 16 + n, "\r\n", 2);
                r = send_to_daemon(c->fd, buf + 16 - hl, (size_t)(hl + n + 2), err);
                if (r < 0)
                        return r;
        }
        return send_to_daemon(c->fd, "0\r\n\r\n", 5, err);
}

/* Make at least one more byte available in the buffer; 0 on EOF. */
static ssize_t fill(struct http_conn *c, struct berth_error **err)
{
        if (c->start == c->end)
                c->start = c->end = 0;
        if (c->end == sizeof(c->buf)) {
                memmove(c->buf, c->buf + c->start, c->end - c->start);
                c->end -= c->start;
                c->start = 0;
        }
        if (c->end == sizeof(c->buf))
                return berth_error_setx(err, EPROTO, "answer line too long");
        for (;;) {
                ssize_t n = read(c->fd, c->buf + c->end, sizeof(c->buf) - c->end);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return berth_error_set(err, errno, "read from the daemon");
                c->end += (size_t)n;
                return n;
        }
}

/* Read one CRLF (or LF) terminated line into a malloc'd string without the terminator. */
static int read_crlf_line(struct http_conn *c, char **ret, struct berth_error **err)
{
        size_t scanned = 0;
        for (;;) {
                char *nl = memchr(c->buf + c->start + scanned, '\n', c->end - c->start - scanned);
                if (nl) {
                        size_t len = (size_t)(nl - (c->buf + c->start));
                        size_t keep = len;
                        if (keep > 0 && c->buf[c->start + keep - 1] == '\r')
                                keep--;
                        *ret = xstrndup(c->buf + c->start, keep);
                        c->start += len + 1;
                        return 0;
                }
                scanned = c->end - c->start;
                if (scanned > HTTP_HEAD_MAX)
                        return berth_error_setx(err, EPROTO, "answer header too long");
                ssize_t n = fill(c, err);
                if (n < 0)
                        return (int)n;
                if (n == 0)
                        return berth_error_setx(err, ECONNRESET,
                                                "the daemon closed the connection");
        }
}

int http_read_head(struct http_conn *c, struct http_resp *ret, struct berth_error **err)
{
        struct http_resp r = {0};
        _cleanup_free_ char *status = NULL;
        int k = read_crlf_line(c, &status, err);
        if (k < 0)
                return k;
        unsigned code = 0;
        if (sscanf(status, "HTTP/1.%*d %u", &code) != 1 || code < 100 || code > 999)
                return berth_error_setx(err, EPROTO, "bad answer status line `%.60s`", status);
        r.status = code;
        for (;;) {
                _cleanup_free_ char *line = NULL;
                k = read_crlf_line(c, &line, err);
                if (k < 0) {
                        http_resp_release(&r);
                        return k;
                }
                if (line[0] == '\0')
                        break;
                char *colon = strchr(line, ':');
                if (!colon)
                        continue;
                *colon = '\0';
                char *v = colon + 1;
                while (*v == ' ' || *v == '\t')
                        v++;
                char *h = xasprintf("%s%s: %s\n", r.headers ? r.headers : "", line, v);
                free(r.headers);
                r.headers = h;
                if (strcasecmp(line, "Content-Length") == 0) {
                        if (berth_parse_u64(v, &r.length) < 0) {
                                http_resp_release(&r);
                                return berth_error_setx(err, EPROTO, "bad Content-Length");
                        }
                        r.has_length = true;
                } else if (strcasecmp(line, "Transfer-Encoding") == 0) {
                        r.chunked = strcasestr(v, "chunked") != NULL;
                } else if (strcasecmp(line, "Content-Type") == 0) {
                        free(r.content_type);
                        r.content_type = xstrdup(v);
                }
        }
        if (r.chunked) {
                r.remaining = 0;
        } else if (r.has_length) {
                r.remaining = r.length;
                r.done = r.length == 0;
        } else if (code == 204 || code == 304 || code == 101) {
                r.done = code != 101;
        } else {
                r.remaining = UINT64_MAX; /* until the connection closes */
        }
        *ret = r;
        return 0;
}

static ssize_t take(struct http_conn *c, void *buf, size_t n)
{
        size_t have = c->end - c->start;
        if (have > n)
                have = n;
        memcpy(buf, c->buf + c->start, have);
        c->start += have;
        return (ssize_t)have;
}

ssize_t http_read_body(struct http_conn *c, struct http_resp *r, void *buf, size_t n,
                       struct berth_error **err)
{
        if (r->done || n == 0)
                return 0;
        if (r->chunked && r->remaining == 0) {
                _cleanup_free_ char *line = NULL;
                int k = read_crlf_line(c, &line, err);
                if (k < 0)
                        return k;
                char *end = NULL;
                unsigned long long sz = strtoull(line, &end, 16);
                if (end == line)
                        return berth_error_setx(err, EPROTO, "bad chunk size `%.20s`", line);
                if (sz == 0) {
                        /* trailers until the empty line */
                        for (;;) {
                                _cleanup_free_ char *t = NULL;
                                k = read_crlf_line(c, &t, err);
                                if (k < 0)
                                        return k;
                                if (t[0] == '\0')
                                        break;
                        }
                        r->done = true;
                        return 0;
                }
                r->remaining = sz;
        }
        if (c->start == c->end) {
                ssize_t k = fill(c, err);
                if (k < 0)
                        return k;
                if (k == 0) {
                        if (!r->chunked && !r->has_length) {
                                r->done = true;
                                return 0;
                        }
                        return berth_error_setx(err, ECONNRESET,
                                                "the daemon closed the connection mid-answer");
                }
        }
        if (n > r->remaining)
                n = (size_t)r->remaining;
        ssize_t got = take(c, buf, n);
        if (r->remaining != UINT64_MAX)
                r->remaining -= (uint64_t)got;
        if (r->remaining == 0) {
                if (r->chunked) {
                        _cleanup_free_ char *crlf = NULL;
                        int k = read_crlf_line(c, &crlf, err);
                        if (k < 0)
                                return k;
                } else {
                        r->done = true;
                }
        }
        return got;
}

int http_read_body_all(struct http_conn *c, struct http_resp *r, size_t max, char **ret,
                       size_t *ret_len, struct berth_error **err)
{
        size_t cap = 4096, len = 0;
        _cleanup_free_ char *data = xmalloc(cap);
        for (;;) {
                if (cap - len < 4096) {
                        cap *= 2;
                        data = xrealloc(data, cap);
                }
                ssize_t n = http_read_body(c, r, data + len, cap - len - 1, err);
                if (n < 0)
                        return (int)n;
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len > max)
                        return berth_error_setx(err, EFBIG, "answer bigger than %zu bytes", max);
        }
        data[len] = '\0';
        if (ret_len)
                *ret_len = len;
        *ret = TAKE_PTR(data);
        return 0;
}

ssize_t http_read_line(struct http_conn *c, struct http_resp *r, char **line, size_t *cap,
                       struct berth_error **err)
{
        size_t len = 0;
        for (;;) {
                char ch;
                /* byte at a time from the buffer is cheap: the buffer is refilled in bulk */
                ssize_t n = http_read_body(c, r, &ch, 1, err);
                if (n < 0)
                        return n;
                if (n == 0 || ch == '\n') {
                        if (n == 0 || len > 0) {
                                if (*cap < len + 1) {
                                        *cap = len + 1;
                                        *line = xrealloc(*line, *cap);
                                }
                                (*line)[len] = '\0';
                                return (ssize_t)len;
                        }
                        continue;
                }
                if (len + 2 > *cap) {
                        *cap = *cap ? *cap * 2 : 256;
                        *line = xrealloc(*line, *cap);
                }
                (*line)[len++] = ch;
        }
}

ssize_t http_raw_read(struct http_conn *c, void *buf, size_t n)
{
        if (c->start < c->end)
                return take(c, buf, n);
        for (;;) {
                ssize_t k = read(c->fd, buf, n);
                if (k < 0 && errno == EINTR)
                        continue;
                return k;
        }
}

ssize_t http_raw_read_buffered(struct http_conn *c, void *buf, size_t n)
{
        if (c->start < c->end)
                return take(c, buf, n);
        return 0;
}
