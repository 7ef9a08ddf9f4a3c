/* The HTTP layer of berthd (api.h): libmicrohttpd, one thread per connection, on a unix socket
 * bound here. Requests are framed strictly (no Content-Length together with chunked: the request
 * smuggling behind CVE-2024-41110), header and body sizes are bounded, the `/v1.NN` prefix is
 * stripped and routes are matched from the module tables. */
#include "daemon/http/api.h"
#include "daemon/daemon.h"
#include "daemon/http/server.h"

#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>

/* Route tables of the other modules (api.h). Strong references: a weak one does not pull the
 * module's object out of the static library, and its routes would silently be missing. */

#define API_VERSION       "1.43"
#define API_MIN_VERSION   "1.24"
#define API_VERSION_NUM   1.43
#define API_MIN_NUM       1.24
#define BODY_MAX          (8u * 1024 * 1024)
#define HEADER_MEMORY_MAX (256u * 1024)
#define PARAMS_MAX        4
#define HIJACK_RELAY_BUF  (64u * 1024)

struct server {
        struct daemon *d;
        struct MHD_Daemon *mhd;
        int listen_fd;
        /* the socket file we bound: server_stop removes only that one, never a socket another
         * daemon bound at the same path since */
        dev_t sock_dev;
        ino_t sock_ino;
        /* requests begun plus requests completed so far, and the count at the previous idle
         * tick and at the last trim (server_idle) */
        atomic_uint activity;
        unsigned seen, trimmed;
        /* open connections plus stream/hijack threads not yet done (server_busy) */
        atomic_int busy;
};

struct api_req {
        struct server *srv;
        struct MHD_Connection *con;
        char *method;
        char *url;
        const char *path; /* into url, after the version prefix */
        double version;
        bool http11; /* MHD upgrades HTTP/1.1 connections only */
        const struct api_route *route;
        char *params[PARAMS_MAX];
        /* buffered body */
        char *body;
        size_t body_len;
        bool body_too_big;
        /* streamed body (route->stream_body): the handler runs on its own thread */
        int body_wfd, body_rfd;
        pthread_t handler_thread;
        bool handler_running;
        /* the reply */
        json_t *headers; /* api_set_header: {name: value} */
        struct MHD_Response *response;
        unsigned status;
        bool replied;
        bool dispatched;
};

/* ---------------------------------------------------------------- request accessors */

struct daemon *api_daemon(struct api_req *r)
{
        return r->srv->d;
}

const char *api_method(struct api_req *r)
{
        return r->method;
}

const char *api_path(struct api_req *r)
{
        return r->path;
}

double api_version(struct api_req *r)
{
        return r->version;
}

const char *api_param(struct api_req *r, unsigned i)
{
        return i < PARAMS_MAX ? r->params[i] : NULL;
}

const char *api_query(struct api_req *r, const char *key)
{
        return MHD_lookup_connection_value(r->con, MHD_GET_ARGUMENT_KIND, key);
}

struct query_all {
        const char *key;
        char **values;
};

static enum MHD_Result query_all_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
        struct query_all *q = cls;
        if (key && !strcmp(key, q->key))
                strv_push(&q->values, value ? value : "");
        return MHD_YES;
}

char **api_query_all(struct api_req *r, const char *key)
{
        struct query_all q = {.key = key};
        MHD_get_connection_values(r->con, MHD_GET_ARGUMENT_KIND, query_all_cb, &q);
        return q.values;
}

bool api_query_bool(struct api_req *r, const char *key, bool dflt)
{
        const char *v = api_query(r, key);

        if (!v)
                return dflt;
        /* docker's httputils.BoolValue */
        return !(*v == '\0' || strcmp(v, "0") == 0 || strcasecmp(v, "no") == 0 ||
                 strcasecmp(v, "false") == 0 || strcasecmp(v, "none") == 0);
}

int api_query_int(struct api_req *r, const char *key, long long dflt, long long *ret,
                  struct berth_error **err)
{
        const char *v = api_query(r, key);
        char *end;
        long long n;

        if (!v || !*v) {
                *ret = dflt;
                return 0;
        }
        errno = 0;
        n = strtoll(v, &end, 10);
        if (errno || *end)
                return berth_error_setx(err, EINVAL, "invalid value for `%s`: `%s`", key, v);
        *ret = n;
        return 0;
}

int api_query_filters(struct api_req *r, json_t **ret, struct berth_error **err)
{
        const char *v = api_query(r, "filters");
        _cleanup_json_ json_t *in = NULL, *out = json_object();
        json_error_t jerr;
        const char *key;
        json_t *val;

        if (!v || !*v) {
                *ret = TAKE_PTR(out);
                return 0;
        }
        in = json_loads(v, JSON_REJECT_DUPLICATES, &jerr);
        if (!in || !json_is_object(in))
                return berth_error_setx(err, EINVAL, "invalid filter: %s",
                                        in ? "not a JSON object" : jerr.text);
        json_object_foreach(in, key, val)
        {
                json_t *arr = json_array();
                json_object_set_new(out, key, arr);
                if (json_is_array(val)) {
                        size_t i;
                        json_t *e;
                        json_array_foreach(val, i, e)
                        {
                                if (!json_is_string(e))
                                        return berth_error_setx(err, EINVAL, "invalid filter `%s`",
                                                                key);
                                json_array_append(arr, e);
                        }
                } else if (json_is_object(val)) {
                        const char *k2;
                        json_t *b;
                        json_object_foreach(val, k2, b)
                        {
                                if (json_is_true(b))
                                        json_array_append_new(arr, json_string(k2));
                        }
                } else if (json_is_string(val)) {
                        json_array_append(arr, val);
                } else {
                        return berth_error_setx(err, EINVAL, "invalid filter `%s`", key);
                }
        }
        *ret = TAKE_PTR(out);
        return 0;
}

const char *api_header(struct api_req *r, const char *name)
{
        return MHD_lookup_connection_value(r->con, MHD_HEADER_KIND, name);
}

const char *api_body(struct api_req *r, size_t *ret_len)
{
        if (ret_len)
                *ret_len = r->body_len;
        return r->body ? r->body : "";
}

int api_body_json(struct api_req *r, json_t **ret, struct berth_error **err)
{
        json_error_t jerr;
        json_t *j;
        size_t i;

        for (i = 0; i < r->body_len && strchr(" \t\r\n", r->body[i]); i++)
                ;
        if (i == r->body_len) {
                *ret = json_object();
                return 0;
        }
        j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
        if (!j)
                return berth_error_setx(err, EINVAL, "invalid JSON: %s (line %d, column %d)",
                                        jerr.text, jerr.line, jerr.column);
        if (!json_is_object(j)) {
                json_decref(j);
                return berth_error_setx(err, EINVAL, "invalid JSON: expected an object");
        }
        *ret = j;
        return 0;
}

int api_body_fd(struct api_req *r)
{
        return r->body_rfd;
}

/* ---------------------------------------------------------------- replies */

static void add_common_headers(struct MHD_Response *resp)
{
        MHD_add_response_header(resp, "Api-Version", API_VERSION);
        MHD_add_response_header(resp, "Docker-Experimental", "false");
        MHD_add_response_header(resp, "Ostype", "linux");
        MHD_add_response_header(resp, "Server", "berth/" BERTH_VERSION " (linux)");
}

static void set_reply(struct api_req *r, unsigned status, struct MHD_Response *resp)
{
        if (r->replied) {
                berth_warn("handler for `%s %s` replied twice", r->method, r->path);
                MHD_destroy_response(resp);
                return;
        }
        add_common_headers(resp);
        if (r->headers) {
                const char *k;
                json_t *v;
                json_object_foreach(r->headers, k, v)
                    MHD_add_response_header(resp, k, json_string_value(v));
        }
        r->response = resp;
        r->status = status;
        r->replied = true;
}

static void reply_buffer(struct api_req *r, unsigned status, const char *ctype, char *data,
                         size_t len)
{
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);

        if (ctype)
                MHD_add_response_header(resp, "Content-Type", ctype);
        set_reply(r, status, resp);
}

void api_set_header(struct api_req *r, const char *name, const char *value)
{
        if (!r->headers)
                r->headers = json_object();
        json_object_set_new(r->headers, name, json_string(value));
}

void api_reply_json(struct api_req *r, unsigned status, json_t *body)
{
        char *s;

        if (!body) {
                api_reply_empty(r, status);
                return;
        }
        s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref(body);
        if (!s)
                abort();
        /* docker ends JSON replies with a newline */
        s = xrealloc(s, strlen(s) + 2);
        strcat(s, "\n");
        reply_buffer(r, status, "application/json", s, strlen(s));
}

void api_reply_empty(struct api_req *r, unsigned status)
{
        set_reply(r, status, MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT));
}

void api_reply_text(struct api_req *r, unsigned status, const char *content_type, const char *text)
{
        reply_buffer(r, status, content_type, xstrdup(text), strlen(text));
}

struct chunked_body {
        char *data;
        size_t len;
};

static ssize_t chunked_read(void *cls, uint64_t pos, char *buf, size_t max)
{
        struct chunked_body *b = cls;

        if (pos >= b->len)
                return MHD_CONTENT_READER_END_OF_STREAM;
        if (max > b->len - pos)
                max = b->len - pos;
        memcpy(buf, b->data + pos, max);
        return (ssize_t)max;
}

static void chunked_free(void *cls)
{
        struct chunked_body *b = cls;

        free(b->data);
        free(b);
}

void api_reply_chunked(struct api_req *r, unsigned status, const char *content_type,
                       const char *text)
{
        struct chunked_body *b = xmalloc(sizeof(*b));
        struct MHD_Response *resp;

        *b = (struct chunked_body){xstrdup(text), strlen(text)};
        /* an unknown size: libmicrohttpd frames the body in chunks (HTTP/1.1) */
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, chunked_read, b,
                                                 chunked_free);
        if (content_type)
                MHD_add_response_header(resp, "Content-Type", content_type);
        set_reply(r, status, resp);
}

static unsigned status_of_errno(int code)
{
        switch (code) {
        case ENOENT:
        case ESRCH:
                return 404;
        case EEXIST:
        case EBUSY:
                return 409;
        case EINVAL:
        case E2BIG:
        case ERANGE:
                return 400;
        case EPERM:
        case EACCES:
                return 403;
        case ENOTSUP:
                return 501;
        case ENOTCONN:
        case EALREADY:
                return 304;
        default:
                return 500;
        }
}

void api_reply_error(struct api_req *r, struct berth_error *e)
{
        unsigned status = status_of_errno(e ? e->code : EIO);

        if (status == 304) {
                api_reply_empty(r, 304);
        } else {
                json_t *j = json_pack("{s:s}", "message", e && e->msg ? e->msg : "unknown error");
                api_reply_json(r, status, j);
        }
        berth_error_free(e);
}

void api_reply_errorf(struct api_req *r, unsigned status, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                abort();
        va_end(ap);
        api_reply_json(r, status, json_pack("{s:s}", "message", msg));
}

int api_client_fd(struct api_req *r)
{
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(r->con, MHD_CONNECTION_INFO_CONNECTION_FD);

        return ci ? ci->connect_fd : -1;
}

struct stream_job {
        struct server *srv;
        api_producer_fn producer;
        void *userdata;
        void (*free_userdata)(void *);
        int fd;
};

static void *stream_thread(void *p)
{
        struct stream_job *job = p;

        struct server *srv = job->srv;

        job->producer(job->fd, job->userdata);
        close(job->fd);
        if (job->free_userdata)
                job->free_userdata(job->userdata);
        free(job);
        atomic_fetch_sub(&srv->busy, 1);
        return NULL;
}

void api_reply_stream(struct api_req *r, unsigned status, const char *content_type,
                      api_producer_fn producer, void *userdata, void (*free_userdata)(void *))
{
        struct stream_job *job;
        struct MHD_Response *resp;
        int p[2];

        int rc;

        if (pipe2(p, O_CLOEXEC) < 0) {
                if (free_userdata)
                        free_userdata(userdata);
                api_reply_errorf(r, 500, "pipe: %s", strerror(errno));
                return;
        }
        job = xmalloc(sizeof(*job));
        *job = (struct stream_job){r->srv, producer, userdata, free_userdata, p[1]};
        atomic_fetch_add(&r->srv->busy, 1);
        rc = berth_thread_spawn_detached(stream_thread, job);
        if (rc < 0) {
                /* out of threads (pids.max, RLIMIT_NPROC): this request fails, not berthd */
                atomic_fetch_sub(&r->srv->busy, 1);
                close(p[0]);
                close(p[1]);
                if (free_userdata)
                        free_userdata(userdata);
                free(job);
                api_reply_errorf(r, 500, "cannot start a thread for the reply: %s", strerror(-rc));
                return;
        }
        resp = MHD_create_response_from_pipe(p[0]);
        if (content_type)
                MHD_add_response_header(resp, "Content-Type", content_type);
        set_reply(r, status, resp);
}

struct hijack_job {
        struct server *srv;
        api_hijack_fn fn;
        void *userdata;
        void (*free_userdata)(void *);
        int fd;
};

static void hijack_job_free(struct hijack_job *job)
{
        struct server *srv = job->srv;

        if (job->free_userdata)
                job->free_userdata(job->userdata);
        free(job);
        atomic_fetch_sub(&srv->busy, 1);
}

/* One direction of a hijack relay: what was read from `from` and is not yet written to `to`. */
struct relay_dir {
        int from, to;
        char *buf;
        size_t off, len;
        bool eof, done;
};

/* Read what `from` has (when the buffer is empty) and write what the buffer holds; when `from`
 * has ended and all is written, half-close `to`. false when `to` is gone. */
static bool relay_step(struct relay_dir *r, short revents_from)
{
        if (r->done)
                return true;
        if (r->off == r->len && !r->eof && (revents_from & (POLLIN | POLLHUP | POLLERR))) {
                ssize_t n = recv(r->from, r->buf, HIJACK_RELAY_BUF, MSG_DONTWAIT);
                if (n > 0) {
                        r->off = 0;
                        r->len = (size_t)n;
                } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                        r->eof = true;
                }
        }
        if (r->off < r->len) {
                ssize_t n =
                    send(r->to, r->buf + r->off, r->len - r->off, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n > 0)
                        r->off += (size_t)n;
                else if (n < 0 && errno != EAGAIN && errno != EINTR)
                        return false;
        }
        if (r->eof && r->off == r->len) {
                shutdown(r->to, SHUT_WR);
                r->done = true;
        }
        return true;
}

/* The client sent bytes right behind its request (stdin, before reading our 101): MHD has read
 * them already, so whoever gets the socket next would never see them. A socketpair stands in
 * for the client then: `inner` (the hijacker's end) gets those bytes first, and a thread of its
 * own copies both ways until the hijacker's side is done (its output ended) or the client is
 * gone — not the connection's thread, which MHD joins when the daemon stops. */
struct relay_job {
        struct server *srv;
        int client, inner;
        char *buf; /* the early bytes, then the client-to-hijacker buffer */
        size_t len;
};

static void *hijack_relay(void *arg)
{
        struct relay_job *job = arg;
        int client = job->client, inner = job->inner;
        _cleanup_free_ char *in_buf = job->buf;
        _cleanup_free_ char *out_buf = xmalloc(HIJACK_RELAY_BUF);
        struct relay_dir up = {client, inner, in_buf, 0, job->len, false, false};
        struct relay_dir down = {inner, client, out_buf, 0, 0, false, false};

        while (!down.done) {
                struct pollfd p[2] = {{.fd = client}, {.fd = inner}};
                if (!up.done) {
                        if (up.off == up.len && !up.eof)
                                p[0].events |= POLLIN;
                        if (up.off < up.len)
                                p[1].events |= POLLOUT;
                }
                if (down.off == down.len && !down.eof)
                        p[1].events |= POLLIN;
                if (down.off < down.len)
                        p[0].events |= POLLOUT;
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                /* a hijacker that stopped reading stdin only ends that direction */
                if (!relay_step(&up, p[0].revents))
                        up.done = true;
                if (!relay_step(&down, p[1].revents))
                        break; /* the client is gone */
                /* closed for good (poll reports it unasked: do not spin on it) */
                if (up.done && (p[0].revents & (POLLHUP | POLLERR)))
                        break;
        }
        close(inner);
        close(client);
        atomic_fetch_sub(&job->srv->busy, 1);
        free(job);
        return NULL;
}

static void upgrade_handler(void *cls, struct MHD_Connection *con, void *req_cls,
                            const char *extra_in, size_t extra_in_size, MHD_socket sock,
                            struct MHD_UpgradeResponseHandle *urh)
{
        struct hijack_job *job = cls;
        int fd, flags, pair[2];

        /* the daemon runs with MHD_USE_TURBO so closing our copy does not shutdown() the
         * socket a shim may hold by now */
        fd = fcntl(sock, F_DUPFD_CLOEXEC, 3);
        if (fd >= 0) {
                /* MHD keeps its descriptor of the connection until its thread cleans up, which
                 * can be long after we are done: swap a dead socket in under that number, so the
                 * copy handed on (a shim's) is the only one and its close ends the stream */
                int dummy[2];
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, dummy) == 0) {
                        dup3(dummy[0], sock, O_CLOEXEC);
                        close(dummy[0]);
                        close(dummy[1]);
                }
                flags = fcntl(fd, F_GETFL);
                if (flags >= 0)
                        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
                if (extra_in_size > 0 &&
                    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0) {
                        struct relay_job *relay = xmalloc(sizeof(*relay));
                        *relay = (struct relay_job){job->srv, fd, pair[1],
                                                    xmalloc(extra_in_size > HIJACK_RELAY_BUF
                                                                ? extra_in_size
                                                                : HIJACK_RELAY_BUF),
                                                    extra_in_size};
                        memcpy(relay->buf, extra_in, extra_in_size);
                        atomic_fetch_add(&job->srv->busy, 1);
                        if (berth_thread_spawn_detached(hijack_relay, relay) < 0) {
                                /* out of threads: the client sees its connection closed */
                                berth_warn("hijack: cannot start a relay thread");
                                atomic_fetch_sub(&job->srv->busy, 1);
                                close(pair[0]);
                                close(pair[1]);
                                close(fd);
                                free(relay->buf);
                                free(relay);
                        } else {
                                job->fn(pair[0], job->userdata);
                        }
                } else {
                        job->fn(fd, job->userdata);
                }
        }
        hijack_job_free(job);
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
}

static void *hijack_thread(void *p)
{
        struct hijack_job *job = p;

        job->fn(job->fd, job->userdata);
        hijack_job_free(job);
        return NULL;
}

void api_reply_hijack(struct api_req *r, const char *content_type, api_hijack_fn fn, void *userdata,
                      void (*free_userdata)(void *))
{
        struct hijack_job *job = xmalloc(sizeof(*job));
        const char *upgrade = api_header(r, "Upgrade");
        struct MHD_Response *resp;
        int sp[2], rc;

        *job = (struct hijack_job){r->srv, fn, userdata, free_userdata, -1};
        atomic_fetch_add(&r->srv->busy, 1);
        /* an upgrade of an HTTP/1.0 request never happens (MHD drops the response, and the
         * job with it unfreed): such a client gets the streamed 200 below */
        if (upgrade && strcasecmp(upgrade, "tcp") == 0 && r->http11) {
                resp = MHD_create_response_for_upgrade(upgrade_handler, job);
                MHD_add_response_header(resp, "Connection", "Upgrade");
                MHD_add_response_header(resp, "Upgrade", "tcp");
                if (content_type)
                        MHD_add_response_header(resp, "Content-Type", content_type);
                set_reply(r, 101, resp);
                return;
        }
        /* no upgrade asked: the output streams as the body of a 200 (no stdin then) */
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
                hijack_job_free(job);
                api_reply_errorf(r, 500, "socketpair: %s", strerror(errno));
                return;
        }
        shutdown(sp[0], SHUT_WR);
        job->fd = sp[1];
        rc = berth_thread_spawn_detached(hijack_thread, job);
        if (rc < 0) {
                close(sp[0]);
                close(sp[1]);
                hijack_job_free(job);
                api_reply_errorf(r, 500, "cannot start a thread for the reply: %s", strerror(-rc));
                return;
        }
        resp = MHD_create_response_from_pipe(sp[0]);
        MHD_add_response_header(resp, "Content-Type",
                                content_type ? content_type : "application/vnd.docker.raw-stream");
        set_reply(r, 200, resp);
}

/* ---------------------------------------------------------------- routing */

static const char *strip_version(const char *url, double *ret_version, bool *ret_bad)
{
        const char *p = url;
        char *end;
        double v;

        *ret_version = API_VERSION_NUM;
        *ret_bad = false;
        if (strncmp(p, "/v", 2) != 0 || p[2] < '0' || p[2] > '9')
                return url;
        errno = 0;
        v = strtod(p + 2, &end);
        if (errno || (*end != '/' && *end != '\0'))
                return url;
        *ret_version = v;
        if (v + 1e-9 < API_MIN_NUM)
                *ret_bad = true;
        return *end ? end : "/";
}

/* Does path match pattern? On success params[idx…] get the placeholders (malloc'd). */
static bool match_segments(const char *pat, const char *path, char **params, unsigned idx)
{
        for (;;) {
                if (*pat == '\0')
                        return *path == '\0';
                if (strncmp(pat, "{*}", 3) == 0) {
                        size_t plen = strlen(path);
                        /* greedy like docker's `{name:.*}`: the longest name that leaves a
                         * matching suffix */
                        for (size_t take = plen; take > 0; take--) {
                                if (take < plen && path[take] != '/')
                                        continue;
                                if (!match_segments(pat + 3, path + take, params, idx + 1))
                                        continue;
                                if (idx < PARAMS_MAX)
                                        params[idx] = xstrndup(path, take);
                                return true;
                        }
                        return false;
                }
                if (strncmp(pat, "{}", 2) == 0) {
                        size_t seg = strcspn(path, "/");
                        if (seg == 0 || !match_segments(pat + 2, path + seg, params, idx + 1))
                                return false;
                        if (idx < PARAMS_MAX)
                                params[idx] = xstrndup(path, seg);
                        return true;
                }
                if (*pat != *path)
                        return false;
                pat++;
                path++;
        }
}

static const struct api_route builtin_routes[];

/* Match method and path over every table; HEAD falls back to GET routes. */
static const struct api_route *route_find(const char *method, const char *path, char **params,
                                          bool *ret_path_known)
{
        const struct api_route *tables[] = {
            api_routes_system,   api_routes_containers, api_routes_images, api_routes_volumes,
            api_routes_networks, api_routes_build,      builtin_routes};
        const char *methods[] = {method, strcmp(method, "HEAD") == 0 ? "GET" : NULL};

        *ret_path_known = false;
        for (size_t m = 0; m < ARRAY_SIZE(methods) && methods[m]; m++) {
                for (size_t t = 0; t < ARRAY_SIZE(tables); t++) {
                        if (!tables[t])
                                continue;
                        for (const struct api_route *rt = tables[t]; rt->pattern; rt++) {
                                char *tmp[PARAMS_MAX] = {0};
                                if (!match_segments(rt->pattern, path, tmp, 0))
                                        continue;
                                if (strcmp(rt->method, methods[m]) != 0) {
                                        *ret_path_known = true;
                                        for (unsigned k = 0; k < PARAMS_MAX; k++)
                                                free(tmp[k]);
                                        continue;
                                }
                                memcpy(params, tmp, sizeof(tmp));
                                return rt;
                        }
                }
        }
        return NULL;
}

int api_route_match(const char *method, const char *url, char **ret_params,
                    const struct api_route **ret_route)
{
        char *params[PARAMS_MAX] = {0};
        const struct api_route *rt;
        double v;
        bool bad, known;
        const char *path = strip_version(url, &v, &bad);

        if (bad)
                return -EINVAL;
        rt = route_find(method, path, params, &known);
        if (!rt)
                return known ? -EBADRQC : -ENOENT;
        for (unsigned k = 0; k < PARAMS_MAX; k++) {
                if (ret_params)
                        ret_params[k] = params[k];
                else
                        free(params[k]);
        }
        *ret_route = rt;
        return 0;
}

/* ---------------------------------------------------------------- built-in routes */

static void handle_ping(struct api_req *r)
{
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(2, (void *)"OK", MHD_RESPMEM_PERSISTENT);

        MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
        MHD_add_response_header(resp, "Cache-Control", "no-cache, no-store, must-revalidate");
        MHD_add_response_header(resp, "Pragma", "no-cache");
        set_reply(r, 200, resp);
}

void api_handle_version(struct api_req *r)
{
        struct utsname u;
        const char *arch;

        uname(&u);
        arch = strcmp(u.machine, "x86_64") == 0    ? "amd64"
               : strcmp(u.machine, "aarch64") == 0 ? "arm64"
                                                   : u.machine;
        json_t *details =
            json_pack("{s:s,s:s,s:s,s:s,s:s}", "ApiVersion", API_VERSION, "MinAPIVersion",
                      API_MIN_VERSION, "Os", "linux", "Arch", arch, "KernelVersion", u.release);
        json_t *j = json_pack("{s:[{s:s,s:s,s:o}],s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "Components",
                              "Name", "Engine", "Version", BERTH_VERSION, "Details", details,
                              "Version", BERTH_VERSION, "ApiVersion", API_VERSION, "MinAPIVersion",
                              API_MIN_VERSION, "GitCommit", "berth", "GoVersion", "none", "Os",
                              "linux", "Arch", arch, "KernelVersion", u.release);

        api_reply_json(r, 200, j);
}

static const struct api_route builtin_routes[] = {
    {"GET", "/_ping", handle_ping, false},
    {"HEAD", "/_ping", handle_ping, false},
    {"GET", "/version", api_handle_version, false},
    {NULL, NULL, NULL, false},
};

/* ---------------------------------------------------------------- MHD glue */

static void req_free(struct api_req *r)
{
        if (!r)
                return;
        if (r->body_wfd >= 0)
                close(r->body_wfd);
        if (r->handler_running)
                pthread_join(r->handler_thread, NULL);
        if (r->body_rfd >= 0)
                close(r->body_rfd);
        if (r->response)
                MHD_destroy_response(r->response);
        for (unsigned k = 0; k < PARAMS_MAX; k++)
                free(r->params[k]);
        json_decref(r->headers);
        free(r->body);
        free(r->method);
        free(r->url);
        free(r);
}

static void *stream_body_thread(void *p)
{
        struct api_req *r = p;

        r->route->handler(r);
        /* a handler that stopped reading early: further body bytes get EPIPE and are dropped */
        close(TAKE_FD(r->body_rfd));
        return NULL;
}

static enum MHD_Result queue_reply(struct api_req *r)
{
        enum MHD_Result ret;

        if (!r->replied)
                api_reply_errorf(r, 500, "handler for `%s %s` did not reply", r->method, r->path);
        ret = MHD_queue_response(r->con, r->status, r->response);
        MHD_destroy_response(r->response);
        r->response = NULL;
        return ret;
}

static bool ambiguous_framing(struct MHD_Connection *con)
{
        const char *te = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Transfer-Encoding");
        const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Length");

        if (te && strcasecmp(te, "chunked") != 0)
                return true;
        return te && cl;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *con, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
        struct server *srv = cls;
        struct api_req *r = *con_cls;

        if (!r) {
                bool bad, known;
                atomic_fetch_add_explicit(&srv->activity, 1, memory_order_relaxed);
                r = xcalloc(1, sizeof(*r));
                r->srv = srv;
                r->con = con;
                r->http11 = version && !strcmp(version, MHD_HTTP_VERSION_1_1);
                r->body_wfd = r->body_rfd = -1;
                r->method = xstrdup(method);
                r->url = xstrdup(url);
                *con_cls = r;
                r->path = strip_version(r->url, &r->version, &bad);
                if (ambiguous_framing(con)) {
                        r->path = r->url;
                        api_reply_errorf(r, 400,
                                         "bad request: both Content-Length and Transfer-Encoding "
                                         "(or an unknown Transfer-Encoding)");
                        return MHD_YES;
                }
                if (bad) {
                        api_reply_errorf(r, 400,
                                         "client version %.2f is too old. Minimum supported API "
                                         "version is " API_MIN_VERSION
                                         ", please upgrade your client to a newer version",
                                         r->version);
                        return MHD_YES;
                }
                r->route = route_find(method, r->path, r->params, &known);
                if (!r->route) {
                        if (known)
                                api_reply_errorf(r, 405, "method `%s` not allowed for `%s`", method,
                                                 r->path);
                        else
                                api_reply_errorf(r, 404, "page not found");
                        return MHD_YES;
                }
                berth_debug("%s %s", method, url);
                if (r->route->stream_body) {
                        int p[2];
                        if (pipe2(p, O_CLOEXEC) < 0) {
                                api_reply_errorf(r, 500, "pipe: %s", strerror(errno));
                                return MHD_YES;
                        }
                        int rc;
                        r->body_rfd = p[0];
                        r->body_wfd = p[1];
                        rc = pthread_create(&r->handler_thread, NULL, stream_body_thread, r);
                        if (rc != 0) {
                                /* out of threads: the body is dropped, the request fails */
                                close(TAKE_FD(r->body_rfd));
                                close(TAKE_FD(r->body_wfd));
                                api_reply_errorf(r, 500, "cannot start a thread for `%s %s`: %s",
                                                 method, r->path, strerror(rc));
                                return MHD_YES;
                        }
                        r->handler_running = true;
                }
                return MHD_YES;
        }

        if (*upload_data_size > 0) {
                size_t n = *upload_data_size;
                *upload_data_size = 0;
                if (r->replied && !r->handler_running)
                        return MHD_YES; /* an error is queued at the end; the body is dropped */
                if (r->body_wfd >= 0) {
                        const char *p = upload_data;
                        while (n > 0) {
                                ssize_t w = write(r->body_wfd, p, n);
                                if (w < 0 && errno == EINTR)
                                        continue;
                                if (w < 0) {
                                        close(TAKE_FD(r->body_wfd));
                                        break;
                                }
                                p += w;
                                n -= (size_t)w;
                        }
                        return MHD_YES;
                }
                if (r->body_too_big || r->body_len + n > BODY_MAX) {
                        r->body_too_big = true;
                        return MHD_YES;
                }
                r->body = xrealloc(r->body, r->body_len + n + 1);
                memcpy(r->body + r->body_len, upload_data, n);
                r->body_len += n;
                r->body[r->body_len] = '\0';
                return MHD_YES;
        }

        /* the whole request is in */
        if (r->dispatched)
                return MHD_YES;
        r->dispatched = true;
        if (r->handler_running) {
                if (r->body_wfd >= 0)
                        close(TAKE_FD(r->body_wfd));
                pthread_join(r->handler_thread, NULL);
                r->handler_running = false;
        } else if (!r->replied) {
                if (r->body_too_big)
                        api_reply_errorf(r, 413, "request body larger than %u bytes", BODY_MAX);
                else
                        r->route->handler(r);
        }
        return queue_reply(r);
}

static void completed(void *cls, struct MHD_Connection *con, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
        struct server *srv = cls;

        req_free(*con_cls);
        *con_cls = NULL;
        atomic_fetch_add_explicit(&srv->activity, 1, memory_order_relaxed);
}

static void connection_notify(void *cls, struct MHD_Connection *con, void **socket_context,
                              enum MHD_ConnectionNotificationCode code)
{
        struct server *srv = cls;

        atomic_fetch_add(&srv->busy, code == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1);
}

bool server_busy(struct server *srv)
{
        return atomic_load(&srv->busy) > 0;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) _printf_(2, 0);

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
        _cleanup_free_ char *msg = NULL;

        if (vasprintf(&msg, fmt, ap) >= 0) {
                msg[strcspn(msg, "\n")] = '\0';
                berth_debug("http: %s", msg);
        }
}

/* Is a daemon serving the socket at path? Its pid then (from the listener's credentials), else
 * 0: a socket nobody listens on is a stale one, left by a daemon that was killed. */
static pid_t socket_holder(const struct sockaddr_un *sa)
{
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct ucred cred = {0};
        socklen_t len = sizeof(cred);

        if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
                return 0;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.pid <= 0)
                return -1;
        return cred.pid;
}

int server_socket_check(const char *path, struct berth_error **err)
{
        struct sockaddr_un sa;
        pid_t holder;

        if (berth_sockaddr_un(&sa, "%s", path) < 0)
                return berth_error_setx(err, ENAMETOOLONG, "socket path `%s` is too long", path);
        holder = socket_holder(&sa);
        if (holder > 0)
                return berth_error_setx(err, EADDRINUSE,
                                        "socket `%s` is in use by another daemon (pid %d)", path,
                                        (int)holder);
        if (holder < 0)
                return berth_error_setx(err, EADDRINUSE, "socket `%s` is in use by another daemon",
                                        path);
        return 0;
}

static int listen_unix(const char *path, struct stat *ret_st, struct berth_error **err)
{
        struct sockaddr_un sa;
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *dir = NULL;
        int r;

        if (berth_sockaddr_un(&sa, "%s", path) < 0)
                return berth_error_setx(err, ENAMETOOLONG, "socket path `%s` is too long", path);
        dir = xstrdup(path);
        if (strrchr(dir, '/') && strrchr(dir, '/') != dir) {
                *strrchr(dir, '/') = '\0';
                r = berth_mkdir_p(dir, 0755, err);
                if (r < 0)
                        return r;
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return berth_error_set(err, errno, "socket");
        r = server_socket_check(path, err);
        if (r < 0)
                return r;
        if (unlink(path) < 0 && errno != ENOENT)
                return berth_error_set(err, errno, "remove stale socket `%s`", path);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return berth_error_set(err, errno, "bind `%s`", path);
        if (lstat(path, ret_st) < 0)
                return berth_error_set(err, errno, "stat `%s`", path);
        if (chmod(path, 0660) < 0)
                return berth_error_set(err, errno, "chmod `%s`", path);
        if (listen(fd, 128) < 0)
                return berth_error_set(err, errno, "listen `%s`", path);
        return TAKE_FD(fd);
}

int server_start(struct daemon *d, struct server **ret, struct berth_error **err)
{
        struct server *srv;
        struct stat st;
        int fd;

        signal(SIGPIPE, SIG_IGN);
        fd = listen_unix(d->socket_path, &st, err);
        if (fd < 0)
                return fd;
        srv = xcalloc(1, sizeof(*srv));
        srv->d = d;
        srv->listen_fd = fd;
        srv->sock_dev = st.st_dev;
        srv->sock_ino = st.st_ino;
        srv->trimmed = UINT_MAX; /* the first quiet tick trims what start-up left */
        srv->mhd = MHD_start_daemon(
            MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_UPGRADE |
                MHD_USE_TURBO | MHD_USE_ITC | MHD_USE_ERROR_LOG,
            0, NULL, NULL, access_handler, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, srv,
            MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED, completed, srv,
            MHD_OPTION_NOTIFY_CONNECTION, connection_notify, srv,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HEADER_MEMORY_MAX,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)0, MHD_OPTION_END);
        if (!srv->mhd) {
                close(fd);
                unlink(d->socket_path);
                free(srv);
                return berth_error_setx(err, EIO, "cannot start the http server on `%s`",
                                        d->socket_path);
        }
        *ret = srv;
        return 0;
}

int server_add_connection(struct server *srv, int fd, const struct sockaddr *addr,
                          socklen_t addrlen)
{
        return MHD_add_connection(srv->mhd, fd, addr, addrlen) == MHD_YES ? 0 : -EIO;
}

/* Unmap the clean pages of read-only file mappings (the text and read-only data of berthd and its
 * shared libraries: start-up code, relocation tables, libcurl's and libarchive's dependencies
 * touched once by their constructors). This is what reclaim does under memory pressure; the pages
 * stay in the page cache and fault back in (minor faults) when code runs again. A mapping holding
 * any anonymous page (a copy-on-write page: relocated data) is left alone, so nothing written is
 * ever dropped; writable mappings are never touched. */
static void drop_clean_file_pages(void)
{
        struct range {
                uintptr_t start, end;
        };
        _cleanup_fclose_ FILE *f = fopen("/proc/self/smaps", "re");
        _cleanup_free_ char *line = NULL;
        _cleanup_free_ struct range *ranges = NULL;
        size_t len = 0, n = 0, cap = 0;
        uintptr_t start = 0, end = 0;
        bool candidate = false;

        if (!f)
                return;
        while (getline(&line, &len, f) > 0) {
                char perms[8], path[16];
                uintptr_t s, e;
                unsigned long anon;
                int fields;

                path[0] = '\0';
                fields = sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s %*s %*s %*s %15s", &s, &e,
                                perms, path);
                if (fields >= 3) {
                        start = s;
                        end = e;
                        /* a mapping's header line: private, not writable, of a file */
                        candidate =
                            fields == 4 && path[0] == '/' && perms[1] != 'w' && perms[3] == 'p';
                        continue;
                }
                if (!candidate || sscanf(line, "Anonymous: %lu kB", &anon) != 1)
                        continue;
                candidate = false;
                if (anon != 0)
                        continue;
                if (n == cap) {
                        cap = cap ? 2 * cap : 128;
                        ranges = xrealloc(ranges, cap * sizeof(*ranges));
                }
                ranges[n++] = (struct range){start, end};
        }
        /* after reading: madvise does not change the mappings, but the file is read while they
         * are listed */
        for (size_t i = 0; i < n; i++)
                (void)madvise((void *)ranges[i].start, ranges[i].end - ranges[i].start,
                              MADV_DONTNEED);
}

void server_idle(struct server *srv)
{
        unsigned activity = atomic_load_explicit(&srv->activity, memory_order_relaxed);

        if (activity != srv->seen) {
                srv->seen = activity; /* requests since the last tick: wait for a quiet one */
                return;
        }
        if (activity == srv->trimmed)
                return;
        srv->trimmed = activity;
        /* the heap's free pages (each connection's thread allocates and frees its request, a
         * pull or a load many megabytes) go back to the kernel */
        malloc_trim(0);
        drop_clean_file_pages();
}

void server_stop(struct server *srv)
{
        struct stat st;

        if (!srv)
                return;
        MHD_quiesce_daemon(srv->mhd);
        close(srv->listen_fd);
        if (lstat(srv->d->socket_path, &st) == 0 && st.st_dev == srv->sock_dev &&
            st.st_ino == srv->sock_ino)
                unlink(srv->d->socket_path);
        /* connections may be blocked in long requests (wait, attach, events): MHD_stop_daemon
         * would wait for them; the process exits instead */
}

bool server_free(struct server *srv, long timeout_ms)
{
        if (!srv)
                return true;
        for (long waited = 0; server_busy(srv); waited += 10) {
                if (waited >= timeout_ms)
                        return false;
                usleep(10 * 1000);
        }
        MHD_stop_daemon(srv->mhd);
        free(srv);
        return true;
}
