/* http/: the daemon's HTTP layer as route handlers see it. Internal to src/daemon. server.c is
 * the server; api-*.c hold the routes of one family each, which parse the request, call one
 * function of containers/, state/ or network/ and write the reply.
 *
 * The server (server.c, libmicrohttpd, one thread per connection) parses the request, strips the
 * `/v1.NN` prefix, matches a route, collects the body (bounded: 413) and calls the handler on the
 * connection's thread, where it may block. A handler answers exactly once with one of the
 * api_reply_* calls and returns. */
#ifndef BERTH_DAEMON_API_H
#define BERTH_DAEMON_API_H

#include "common/common.h"

struct daemon; /* daemon.h: state shared by every handler */
struct api_req;

/* ---------------------------------------------------------------- request */

struct daemon *api_daemon(struct api_req *r);
const char *api_method(struct api_req *r);
const char *api_path(struct api_req *r); /* without the version prefix */
/* API version the client asked for (1.43 when unversioned) */
double api_version(struct api_req *r);
/* The i-th `{param}` of the matched route pattern (e.g. "/containers/{}/json" → 0), decoded. */
const char *api_param(struct api_req *r, unsigned i);
/* Query string values (decoded), NULL when absent. Bools follow docker: "1", "true", "True". */
const char *api_query(struct api_req *r, const char *key);
bool api_query_bool(struct api_req *r, const char *key, bool dflt);
/* Every value of a repeated query key (docker save a b: ?names=a&names=b), in order; a
 * NULL-terminated vector the caller frees with strv_free, NULL when absent. */
char **api_query_all(struct api_req *r, const char *key);
/* An integer query value; EINVAL (400) when present but not an integer. */
int api_query_int(struct api_req *r, const char *key, long long dflt, long long *ret,
                  struct berth_error **err);
/* docker's `filters` query parameter ({"key": ["v", …]} or the legacy {"key": {"v": true}}),
 * normalised to {"key": ["v", …]}; an empty object when absent; EINVAL on bad JSON. */
int api_query_filters(struct api_req *r, json_t **ret, struct berth_error **err);
const char *api_header(struct api_req *r, const char *name);
/* The whole request body (NUL-terminated; len excludes it); "" when none. */
const char *api_body(struct api_req *r, size_t *ret_len);
/* The body parsed as a JSON object; EINVAL (400, docker's message) when malformed. An empty body
 * gives an empty object. */
int api_body_json(struct api_req *r, json_t **ret, struct berth_error **err);

/* ---------------------------------------------------------------- replies */

/* JSON reply; body is stolen (may be NULL for no body). */
void api_reply_json(struct api_req *r, unsigned status, json_t *body);
/* No body (204 No Content, 304, 200 with empty body). */
void api_reply_empty(struct api_req *r, unsigned status);
/* Plain text (e.g. /_ping "OK"). */
void api_reply_text(struct api_req *r, unsigned status, const char *content_type, const char *text);
/* A body known in full, sent with chunked transfer encoding like a stream (dockerd's JSON message
 * streams are chunked: clients such as the python SDK read a body with a Content-Length as one
 * JSON document). text is copied. */
void api_reply_chunked(struct api_req *r, unsigned status, const char *content_type,
                       const char *text);
/* {"message": "..."} with docker's status for e's errno: ENOENT/ESRCH 404, EEXIST/EBUSY 409,
 * EINVAL/E2BIG/ERANGE 400, EPERM/EACCES 403 (only for auth), ENOTSUP 501, else 500. Takes e. */
void api_reply_error(struct api_req *r, struct berth_error *e);
/* Add a header to the reply the handler is about to make (call before api_reply_*). */
void api_set_header(struct api_req *r, const char *name, const char *value);
/* Same with an explicit status and message. */
void api_reply_errorf(struct api_req *r, unsigned status, const char *fmt, ...) _printf_(3, 4);

/* A streamed reply (chunked): producer runs on its own thread with a writable fd; the reply
 * ends when producer returns (the server closes the fd). Used for pull/push/load progress,
 * /events, logs follow, stats stream, /images/get, export, archive GET. */
typedef void (*api_producer_fn)(int out_fd, void *userdata);
void api_reply_stream(struct api_req *r, unsigned status, const char *content_type,
                      api_producer_fn producer, void *userdata, void (*free_userdata)(void *));

/* The connection's socket (borrowed: never read, write or close it). A producer that may stay
 * idle for long (/events, logs follow) keeps a dup (F_DUPFD_CLOEXEC, taken in the handler) and
 * polls it for POLLRDHUP|POLLHUP to notice a client that went away: the server only sees that
 * when it next has something to send. -1 when unknown. */
int api_client_fd(struct api_req *r);

/* Routes whose body is large (/images/load, PUT /containers/{}/archive, /images/create with
 * fromSrc) get it as a stream instead of a buffer: read it from this fd (EOF = end of body). -1
 * for other routes. The handler must read it to the end before replying, or reply with an
 * error. */
int api_body_fd(struct api_req *r);

/* Hijack (attach, exec start): the server answers 101 Switching Protocols ("Upgrade: tcp")
 * — or 200 with Content-Type application/vnd.docker.raw-stream (multiplexed) or
 * application/vnd.docker.multiplexed-stream when the client did not ask for an upgrade — then
 * calls fn with the raw connection socket, which fn owns (close or hand it over, e.g. to a shim
 * with SCM_RIGHTS). fn runs on the connection's thread and may block. */
typedef void (*api_hijack_fn)(int sock, void *userdata);
void api_reply_hijack(struct api_req *r, const char *content_type, api_hijack_fn fn, void *userdata,
                      void (*free_userdata)(void *));

/* ---------------------------------------------------------------- routes */

typedef void (*api_handler_fn)(struct api_req *r);

struct api_route {
        const char *method;  /* "GET", "POST", "PUT", "DELETE", "HEAD" */
        const char *pattern; /* "/containers/{}/json": `{}` matches one path segment; a trailing
                                "{*}" matches the rest (image names with slashes: "/images/{*}/json"
                                is matched by trying the known suffixes) */
        api_handler_fn handler;
        bool stream_body; /* see api_body_fd */
};

/* Route tables of each module, NULL-pattern terminated, registered by server.c. */
extern const struct api_route
    api_routes_system[]; /* /_ping, /version, /info, /events, /system/df */
extern const struct api_route api_routes_containers[]; /* /containers/…, /exec/… */
extern const struct api_route api_routes_images[];     /* /images/… */
extern const struct api_route api_routes_volumes[];    /* /volumes/… */
extern const struct api_route api_routes_networks[];   /* /networks/… (network/) */
extern const struct api_route api_routes_build[];      /* /build, /build/prune (build/) */

/* api-import.c: POST /images/create?fromSrc=… (docker import; called by the /images/create
 * handler, the body is streamed) and POST /commit (routed with the image routes). */
void api_image_import(struct api_req *r);
void api_commit(struct api_req *r);

/* api-exec.c: POST /containers/{}/exec, POST /exec/{}/start, POST /exec/{}/resize, GET
 * /exec/{}/json (routed with the container routes) */
void api_exec_create(struct api_req *r);
void api_exec_start(struct api_req *r);
void api_exec_resize(struct api_req *r);
void api_exec_inspect(struct api_req *r);

/* api-archive.c: docker cp, export and changes (routed with the container routes) */
void api_container_changes(struct api_req *r);
void api_container_export(struct api_req *r);
void api_archive_get(struct api_req *r);
void api_archive_head(struct api_req *r);
void api_archive_put(struct api_req *r);

/* api-logs.c: GET /containers/{}/logs and /stats (routed with the container routes) */
void api_container_logs(struct api_req *r);
void api_container_stats(struct api_req *r);

#endif
