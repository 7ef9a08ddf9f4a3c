/* berth CLI: docker's verbs over the Docker Engine API on a unix socket.
 *
 * The one header of src/cli. The CLI never touches images or containers itself: every verb is
 * one or more API calls through the small HTTP/1.1 client below (no libcurl: it cannot hijack a
 * connection for attach/exec and costs many shared libraries at start). Library parts (http,
 * args, template, format, progress) never print; the verb files (run.c, container.c, image.c,
 * system.c) print, since they are the command line.
 */
#ifndef BERTH_CLI_H
#define BERTH_CLI_H

#include "common/common.h"

#define CLI_API_VERSION  "1.43"
#define CLI_DEFAULT_HOST "unix:///run/berth/berth.sock"

/* ---------------------------------------------------------------- HTTP client (http.c) */

struct http_conn;

/* The API version in request paths ("/v1.43/…"); DOCKER_API_VERSION overrides it. */
extern const char *http_api_version;
/* Called with each request line before it is sent (-D/--debug), NULL by default. */
extern void (*http_trace)(const char *method, const char *path);

struct http_resp {
        unsigned status;
        bool chunked;
        bool has_length;
        uint64_t length;    /* Content-Length when has_length */
        uint64_t remaining; /* body bytes (or bytes of the current chunk) left to read */
        bool done;          /* the whole body has been read */
        char *content_type; /* malloc'd, NULL when absent */
        char *headers;      /* every header line as "name: value\n" (malloc'd) */
};

/* Connect to the unix socket path; ENOENT/ECONNREFUSED when nobody listens. */
int http_connect(const char *path, struct http_conn **ret, struct berth_error **err);
/* Wrap a connected stream socket (takes fd); for tests and fuzzing. */
struct http_conn *http_conn_from_fd(int fd);
void http_conn_free(struct http_conn *c);
void http_conn_freep(struct http_conn **c);
#define _cleanup_conn_ _cleanup_(http_conn_freep)
void http_resp_release(struct http_resp *r);
/* The value of header name (case-insensitive) of an answer, malloc'd; NULL when absent. */
char *http_resp_header(const struct http_resp *r, const char *name);
/* The socket of a connection (for poll and shutdown after a hijack). */
int http_conn_fd(struct http_conn *c);

/* Send one request. path is the API path without the version prefix ("/containers/json?all=1").
 * body may be NULL; ctype defaults to application/json when a body is given. extra_headers is
 * NULL or "Name: value\r\n…". Does not read the answer. */
int http_send(struct http_conn *c, const char *method, const char *path, const char *ctype,
              const void *body, size_t len, const char *extra_headers, struct berth_error **err);
/* Send a request whose body is copied from fd until EOF (chunked transfer encoding). */
int http_send_fd(struct http_conn *c, const char *method, const char *path, const char *ctype,
                 int fd, struct berth_error **err);
/* Read the status line and headers of the answer to the last request. */
int http_read_head(struct http_conn *c, struct http_resp *ret, struct berth_error **err);
/* Read up to n bytes of body (chunked or sized decoded); 0 at the end of the body. */
ssize_t http_read_body(struct http_conn *c, struct http_resp *r, void *buf, size_t n,
                       struct berth_error **err);
/* Read the whole rest of the body (bounded to max bytes: EFBIG); NUL-terminated. */
int http_read_body_all(struct http_conn *c, struct http_resp *r, size_t max, char **ret,
                       size_t *ret_len, struct berth_error **err);
/* Read one line (up to '\n', which is stripped) of a streamed body into *line (realloc'd);
 * returns its length, or 0 at the end of the body. Empty lines are skipped. */
ssize_t http_read_line(struct http_conn *c, struct http_resp *r, char **line, size_t *cap,
                       struct berth_error **err);
/* After a hijack (101 or 200 with a raw stream): read raw bytes, buffered ones first; 0 on EOF. */
ssize_t http_raw_read(struct http_conn *c, void *buf, size_t n);
/* Only the bytes already buffered (0 when none): drain before polling the socket. */
ssize_t http_raw_read_buffered(struct http_conn *c, void *buf, size_t n);

/* ---------------------------------------------------------------- API helpers (client.c) */

struct cli {
        char *sock_path;   /* unix socket of the daemon */
        bool default_host; /* no -H/BERTH_HOST/DOCKER_HOST: berthd may be started */
        bool debug;
        bool stdout_tty;
        bool stderr_tty;
};

extern struct cli cli;

/* Connect to cli.sock_path; the error says docker's "Cannot connect to the Docker daemon". */
int cli_connect(struct http_conn **ret, struct berth_error **err);
/* One request/answer with a JSON (or no) body. On an HTTP status >= 400 the error carries the
 * daemon's message and code -(EIO) except 404 → ENOENT, 409 → EEXIST; ret_status gets the status.
 * ret_json (may be NULL) gets the parsed answer (NULL for an empty or non-JSON body). */
int cli_call(const char *method, const char *path, json_t *body, unsigned *ret_status,
             json_t **ret_json, struct berth_error **err);
/* Connect, send a request (its body read from body_fd until EOF when body_fd >= 0, else the len
 * bytes of body, which may be NULL) and read the answer's head into *ret_resp (to release); the
 * connection in *ret_conn, for the caller to read the body. Any status is a success here. */
int cli_request(const char *method, const char *path, const char *ctype, const void *body,
                size_t len, int body_fd, const char *extra_headers, struct http_conn **ret_conn,
                struct http_resp *ret_resp, struct berth_error **err);
/* The `message` of an error answer body, or the body itself. malloc'd. */
char *cli_error_message(const char *body, size_t len);
/* The error of an answer whose head (resp) is read: its body (up to 1 MiB) is read and resp
 * released; -(ENOENT) for a 404, else -(EIO), with "Error response from daemon: " and the
 * daemon's message. */
int cli_response_error(struct http_conn *c, struct http_resp *resp, struct berth_error **err);
/* Print "Error response from daemon: …" (or the error itself for local errors) to stderr. */
void cli_print_error(const struct berth_error *e);
/* URL-encode s for a query string (malloc'd). */
char *cli_urlencode(const char *s);
/* Stream a JSON-lines answer (pull/push/load progress, events) to fn; stops when fn < 0. */
int cli_stream_json(struct http_conn *c, struct http_resp *r,
                    int (*fn)(json_t *msg, void *userdata), void *userdata,
                    struct berth_error **err);

/* ---------------------------------------------------------------- arguments (args.c) */

enum cli_flag_type {
        CLI_BOOL,   /* --x, --x=false */
        CLI_STRING, /* --x v, --x=v, -xv; the last one wins */
        CLI_LIST,   /* repeatable, every value kept */
};

struct cli_flag {
        const char *name; /* long name without dashes; aliases separated by '|' ("net|network") */
        char short_name;  /* 0 when none */
        enum cli_flag_type type;
};

struct cli_args {
        const struct cli_flag *flags;
        size_t n_flags;
        char ***values; /* per flag: NULL or a strv of its values (bools: "true"/"false") */
        char **pos;     /* positional arguments */
};

/* Parse argv (argv[0] is the verb) against flags. interspersed: flags may follow positionals
 * (docker's rm, ps…); otherwise the first positional ends the flags (run, exec: the command's own
 * flags follow). "--" ends flags. Unknown flag → EINVAL with docker's "unknown flag: --x" /
 * "unknown shorthand flag: 'x' in -x"; a missing value → "flag needs an argument: --x". */
int cli_args_parse(struct cli_args *a, const struct cli_flag *flags, size_t n_flags, int argc,
                   char **argv, bool interspersed, struct berth_error **err);
void cli_args_release(struct cli_args *a);
/* The last value of a flag (by its first name), NULL when not given. */
const char *cli_arg_str(const struct cli_args *a, const char *name);
bool cli_arg_bool(const struct cli_args *a, const char *name);
/* Whether the flag was given at all. */
bool cli_arg_set(const struct cli_args *a, const char *name);
/* All values of a list flag (NULL-terminated, may be NULL). */
char **cli_arg_list(const struct cli_args *a, const char *name);

/* docker's units.RAMInBytes: "512m", "1g", "1024", "2gb" (binary units). */
int cli_parse_bytes(const char *s, int64_t *ret);
/* Go's time.ParseDuration subset: "1h2m3.5s", "300ms", "10us", "5ns" → nanoseconds. */
int cli_parse_duration(const char *s, int64_t *ret);

/* ---------------------------------------------------------------- Go templates (template.c) */

struct tmpl;

/* Parse a Go text/template subset: text, {{.A.B}}, {{.}}, {{$}}, {{json .X}}, {{index .X 0}},
 * {{index .Labels "k"}}, {{len .X}}, {{join .X ","}}, {{upper}}/{{lower}}/{{title}}, {{println}},
 * {{printf "%s" .X}}, pipelines ({{.X | json}}), {{range .X}}…{{else}}…{{end}} (with . the
 * element), {{if .X}}…{{else if .Y}}…{{else}}…{{end}}, {{with .X}}…{{end}}, {{eq a b}}/{{ne}}/
 * {{not}}/{{and}}/{{or}}, variables ({{range $k, $v := .M}}, {{$x := .A}}, {{$x = .B}},
 * {{$x.Field}}) scoped like Go's, {{.Label "k"}} on maps, "{{-"/"-}}" trimming. */
int tmpl_parse(const char *text, struct tmpl **ret, struct berth_error **err);
void tmpl_free(struct tmpl *t);
/* Execute t on data; the output is appended to *out (a malloc'd string, may start NULL). */
int tmpl_exec(const struct tmpl *t, json_t *data, char **out, struct berth_error **err);
/* Compact JSON of v the way Go's json.Marshal writes it: <, > and & escaped as \u003c, \u003e,
 * \u0026 (sort_keys for Go maps). malloc'd. */
char *tmpl_json_marshal(const json_t *v, bool sort_keys);
/* Format v like Go's fmt.Print of the value docker would hold (strings raw, numbers without
 * exponent when integral, map[k:v], [a b]); malloc'd. */
char *tmpl_value_string(json_t *v);

/* ---------------------------------------------------------------- output (format.c) */

/* docker's tabwriter (minwidth 10, tabwidth 1, padding 3, ' '): feed lines whose cells are
 * separated by '\t'; flush prints the aligned table. */
struct tabw;
struct tabw *tabw_new(void);
void tabw_line(struct tabw *t, const char *line);
/* The aligned text (malloc'd); the writer is freed. */
char *tabw_finish(struct tabw *t);
/* tabw_finish, the table written to out. */
void tabw_print(struct tabw *t, FILE *out);

/* docker's units.HumanSize (decimal, 3 significant digits: "1.23MB", "4.1kB", "0B"). */
char *fmt_human_size(double bytes);
/* docker's units.BytesSize (binary: "1.5MiB", "7.6GiB"). */
char *fmt_bytes_size(double bytes);
/* docker's units.HumanDuration: "Less than a second", "5 seconds", "About a minute", … */
char *fmt_human_duration(int64_t seconds);
/* Parse an RFC 3339 timestamp (with fractional seconds) into seconds since the epoch. */
int fmt_parse_time(const char *s, int64_t *ret);
/* Shorten a "sha256:…" id to 12 hex characters (the prefix removed); malloc'd. */
char *fmt_short_id(const char *id);

/* ---------------------------------------------------------------- progress (progress.c) */

/* Renders docker's JSON message stream (pull, push, load): on a terminal one line per layer id,
 * redrawn in place with ANSI cursor moves; otherwise plain lines, each status printed once. */
struct progress;
struct progress *progress_new(FILE *out, bool tty);
/* Handle one message; error messages (errorDetail/error) are returned as EIO with the text. */
int progress_msg(struct progress *p, json_t *msg, struct berth_error **err);
void progress_free(struct progress *p);
/* The bar docker draws: "[=====>      ]  1.2MB/4.5MB" for current/total (width 50). */
char *progress_bar(int64_t current, int64_t total);

/* ---------------------------------------------------------------- verbs */

/* Each returns the process exit code; they print their own output and errors. */
int cli_main(int argc, char **argv);
int cmd_run(int argc, char **argv);
/* `berth build` (build.c) */
int cmd_build(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_start(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_restart(int argc, char **argv);
int cmd_kill(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_container_inspect(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_unpause(int argc, char **argv);
int cmd_update(int argc, char **argv);
int cmd_rename(int argc, char **argv);
int cmd_wait(int argc, char **argv);
int cmd_cp(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_stats(int argc, char **argv);
/* ports.c */
int cmd_port(int argc, char **argv);
int cmd_container_prune(int argc, char **argv);
int cmd_images(int argc, char **argv);
int cmd_image_inspect(int argc, char **argv);
int cmd_rmi(int argc, char **argv);
int cmd_image_prune(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_tag(int argc, char **argv);
int cmd_save(int argc, char **argv);
int cmd_load(int argc, char **argv);
/* import.c */
int cmd_import(int argc, char **argv);
int cmd_commit(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_volume(int argc, char **argv);
/* network.c */
int cmd_network(int argc, char **argv);
int cmd_system(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_events(int argc, char **argv);

/* Pull ref (docker's progress output on stdout, or quiet); used by pull and run/create. */
int cli_pull_image(const char *ref, bool quiet, FILE *out, struct berth_error **err);
/* The same for one platform ("linux/arm64", the daemon's pull `platform` query; NULL: the
 * daemon's own). */
int cli_pull_image_platform(const char *ref, const char *platform, bool quiet, FILE *out,
                            struct berth_error **err);
/* Print a usage error like docker ("<msg>\nSee 'berth <verb> --help'.") and return 125. */
int cli_usage_error(const char *verb, const struct berth_error *e);
/* Print the error (docker's style, already in its message) to stderr and return code. */
int cli_fail(const struct berth_error *e, int code);

#endif
