/* API helpers over the HTTP client: connecting (and starting berthd when its default socket is
 * absent), JSON calls, docker's error texts. */
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "cli/cli.h"

struct cli cli;

static int ping(const char *path)
{
        _cleanup_conn_ struct http_conn *c = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        if (http_connect(path, &c, &e) < 0)
                return -1;
        struct http_resp r = {0};
        if (http_send(c, "GET", "/_ping", NULL, NULL, 0, NULL, &e) < 0 ||
            http_read_head(c, &r, &e) < 0)
                return -1;
        http_resp_release(&r);
        return r.status == 200 ? 0 : -1;
}

static char *find_berthd(void)
{
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
                self[n] = '\0';
                char *slash = strrchr(self, '/');
                if (slash) {
                        *slash = '\0';
                        char *p = xasprintf("%s/berthd", self);
                        if (access(p, X_OK) == 0)
                                return p;
                        free(p);
                }
        }
        const char *path = getenv("PATH");
        if (!path)
                path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        _cleanup_free_ char *copy = xstrdup(path);
        char *save = NULL;
        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                char *p = xasprintf("%s/berthd", d);
                if (access(p, X_OK) == 0)
                        return p;
                free(p);
        }
        return NULL;
}

/* The last non-empty line of the file at path (at most its last 4 KiB), or NULL. */
static char *last_line_of(const char *path)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        char buf[4097];
        off_t end;
        ssize_t n;

        if (fd < 0 || (end = lseek(fd, 0, SEEK_END)) < 0)
                return NULL;
        n = pread(fd, buf, sizeof(buf) - 1, end > 4096 ? end - 4096 : 0);
        if (n <= 0)
                return NULL;
        buf[n] = 0;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                buf[--n] = 0;
        char *nl = strrchr(buf, '\n');
        return n > 0 ? xstrdup(nl ? nl + 1 : buf) : NULL;
}

/* The socket is absent: start berthd in the background (its own session, its stderr appended
 * to berthd.log beside the socket) and wait for /_ping; if it exits first, its last words are
 * the error. */
static int start_daemon(struct berth_error **err)
{
        _cleanup_free_ char *bin = find_berthd();
        if (!bin)
                return berth_error_setx(err, ENOENT,
                                        "Cannot connect to the berth daemon at unix://%s and no "
                                        "`berthd` was found to start",
                                        cli.sock_path);
        _cleanup_free_ char *dir = xstrdup(cli.sock_path);
        char *slash = strrchr(dir, '/');
        if (slash)
                *slash = 0;
        _cleanup_free_ char *log = xasprintf("%s/berthd.log", slash && *dir ? dir : ".");
        berth_mkdir_p(slash && *dir ? dir : ".", 0755, NULL);
        fprintf(stderr, "berth: starting %s (no daemon at unix://%s; its log: %s)\n", bin,
                cli.sock_path, log);
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t at;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        posix_spawnattr_init(&at);
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID);
        _cleanup_free_ char *host = xasprintf("unix://%s", cli.sock_path);
        char *argv[] = {bin, "-H", host, NULL};
        pid_t pid;
        extern char **environ;
        int r = posix_spawn(&pid, bin, &fa, &at, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&at);
        if (r != 0)
                return berth_error_set(err, r, "start `%s`", bin);
        for (int i = 0; i < 200; i++) {
                if (ping(cli.sock_path) == 0)
                        return 0;
                int status;
                if (waitpid(pid, &status, WNOHANG) == pid) {
                        _cleanup_free_ char *last = last_line_of(log);
                        return berth_error_setx(err, EIO, "`%s` exited before answering: %s", bin,
                                                last ? last : "(nothing in its log)");
                }
                struct timespec ts = {0, 25 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
        return berth_error_setx(err, ETIMEDOUT, "`%s` did not answer /_ping in 5 s", bin);
}

int cli_connect(struct http_conn **ret, struct berth_error **err)
{
        _cleanup_error_ struct berth_error *e = NULL;
        int r = http_connect(cli.sock_path, ret, &e);
        if (r == 0)
                return 0;
        if (r == -EACCES || r == -EPERM) {
                struct stat st;
                bool seen = stat(cli.sock_path, &st) == 0;
                struct group *g = seen && st.st_gid != 0 ? getgrgid(st.st_gid) : NULL;
                if (g)
                        return berth_error_setx(err, -r,
                                                "permission denied on %s; berthd runs as root — "
                                                "use sudo or join the socket's group (`%s`)",
                                                cli.sock_path, g->gr_name);
                return berth_error_setx(
                    err, -r, "permission denied on %s; berthd runs as root — use sudo%s",
                    cli.sock_path, seen ? " (the socket has no group to join)" : "");
        }
        if (cli.default_host && (r == -ENOENT || r == -ECONNREFUSED) && geteuid() != 0)
                return berth_error_setx(err, -r,
                                        "Cannot connect to the berth daemon at unix://%s: it is "
                                        "not running, and berthd runs as root — start it with "
                                        "`sudo berthd` (or run this command with sudo)",
                                        cli.sock_path);
        if (cli.default_host && (r == -ENOENT || r == -ECONNREFUSED)) {
                cli.default_host = false; /* once per process */
                r = start_daemon(err);
                if (r < 0)
                        return r;
                return cli_connect(ret, err);
        }
        return berth_error_setx(err, -r,
                                "Cannot connect to the berth daemon at unix://%s. Is the berth "
                                "daemon running?",
                                cli.sock_path);
}

char *cli_error_message(const char *body, size_t len)
{
        json_t *j = json_loadb(body, len, 0, NULL);
        const char *m = json_string_value(json_object_get(j, "message"));
        char *out;
        if (m) {
                out = xstrdup(m);
        } else {
                out = xstrndup(body, len);
                size_t l = strlen(out);
                while (l > 0 && (out[l - 1] == '\n' || out[l - 1] == '\r'))
                        out[--l] = '\0';
        }
        json_decref(j);
        return out;
}

static int status_errno(unsigned status)
{
        switch (status) {
        case 404:
                return ENOENT;
        case 409:
                return EEXIST;
        case 400:
                return EINVAL;
        case 304:
                return EALREADY;
        default:
                return EIO;
        }
}

int cli_request(const char *method, const char *path, const char *ctype, const void *body,
                size_t len, int body_fd, const char *extra_headers, struct http_conn **ret_conn,
                struct http_resp *ret_resp, struct berth_error **err)
{
        _cleanup_conn_ struct http_conn *c = NULL;
        int r = cli_connect(&c, err);
        if (r < 0)
                return r;
        if (body_fd >= 0)
                r = http_send_fd(c, method, path, ctype, body_fd, err);
        else
                r = http_send(c, method, path, ctype, body, len, extra_headers, err);
        if (r < 0)
                return r;
        r = http_read_head(c, ret_resp, err);
        if (r < 0)
                return r;
        *ret_conn = TAKE_PTR(c);
        return 0;
}

int cli_call(const char *method, const char *path, json_t *body, unsigned *ret_status,
             json_t **ret_json, struct berth_error **err)
{
        _cleanup_conn_ struct http_conn *c = NULL;
        _cleanup_free_ char *data = body ? json_dumps(body, JSON_COMPACT) : NULL;
        struct http_resp resp = {0};
        int r = cli_request(method, path, NULL, data, data ? strlen(data) : 0, -1, NULL, &c, &resp,
                            err);
        if (r < 0)
                return r;
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        r = http_read_body_all(c, &resp, 256 << 20, &text, &len, err);
        http_resp_release(&resp);
        if (r < 0)
                return r;
        if (ret_status)
                *ret_status = resp.status;
        if (resp.status >= 400) {
                _cleanup_free_ char *m = cli_error_message(text, len);
                return berth_error_setx(err, status_errno(resp.status),
                                        "Error response from daemon: %s", m);
        }
        if (ret_json)
                *ret_json = len ? json_loadb(text, len, JSON_DECODE_ANY, NULL) : NULL;
        return 0;
}

int cli_response_error(struct http_conn *c, struct http_resp *resp, struct berth_error **err)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        http_read_body_all(c, resp, 1 << 20, &text, &len, NULL);
        http_resp_release(resp);
        _cleanup_free_ char *m = cli_error_message(text ? text : "", len);
        return berth_error_setx(err, resp->status == 404 ? ENOENT : EIO,
                                "Error response from daemon: %s", m);
}

void cli_print_error(const struct berth_error *e)
{
        fprintf(stderr, "%s\n", e && e->msg ? e->msg : "unknown error");
}

int cli_fail(const struct berth_error *e, int code)
{
        cli_print_error(e);
        return code;
}

int cli_usage_error(const char *verb, const struct berth_error *e)
{
        fprintf(stderr, "%s\nSee 'berth %s --help'.\n", e->msg, verb);
        return 125;
}

char *cli_urlencode(const char *s)
{
        static const char hex[] = "0123456789ABCDEF";
        char *out = xmalloc(strlen(s) * 3 + 1), *o = out;
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || strchr("-_.~", *p)) {
                        *o++ = (char)*p;
                } else {
                        *o++ = '%';
                        *o++ = hex[*p >> 4];
                        *o++ = hex[*p & 15];
                }
        }
        *o = '\0';
        return out;
}

int cli_stream_json(struct http_conn *c, struct http_resp *r,
                    int (*fn)(json_t *msg, void *userdata), void *userdata,
                    struct berth_error **err)
{
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        for (;;) {
                ssize_t n = http_read_line(c, r, &line, &cap, err);
                if (n < 0)
                        return (int)n;
                if (n == 0)
                        return 0;
                json_error_t je;
                _cleanup_json_ json_t *msg = json_loadb(line, (size_t)n, 0, &je);
                if (!msg)
                        return berth_error_setx(err, EPROTO, "bad JSON message from the daemon: %s",
                                                je.text);
                int k = fn(msg, userdata);
                if (k < 0)
                        return k;
        }
}
