/* cp: tar through /containers/{id}/archive, packed and unpacked by the system's tar (the CLI
 * links no archive library: it stays one small binary that starts in about a millisecond). */
#include <libgen.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cli/internal.h"

#define HELP                                                                                       \
        {                                                                                          \
                "help", 0, CLI_BOOL                                                                \
        }

static char *archive_path(const char *id, const char *q)
{
        _cleanup_free_ char *enc = cli_urlencode(id);
        return xasprintf("/containers/%s/archive%s", enc, q);
}

static int spawn_tar(char **argv, int in_fd, int out_fd, pid_t *ret)
{
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        if (in_fd >= 0)
                posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
        if (out_fd >= 0)
                posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
        extern char **environ;
        int r = posix_spawnp(ret, "tar", &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        return -r;
}

static int wait_tar(pid_t pid)
{
        int st;
        while (waitpid(pid, &st, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

static int cp_from(const char *id, const char *src, const char *dst)
{
        _cleanup_free_ char *q = NULL;
        query_add(&q, "path", src);
        _cleanup_free_ char *path = archive_path(id, q);
        _cleanup_error_ struct berth_error *e = NULL;
        if (strcmp(dst, "-") == 0)
                return stream_get(path, false, STDOUT_FILENO, &e) < 0 ? cli_fail(e, 1) : 0;
        struct stat st;
        bool into = stat(dst, &st) == 0 && S_ISDIR(st.st_mode);
        _cleanup_free_ char *dcopy = xstrdup(dst);
        const char *parent = dirname(dcopy);
        _cleanup_free_ char *tmp = NULL;
        const char *target = dst;
        if (!into) {
                if (stat(parent, &st) < 0 || !S_ISDIR(st.st_mode)) {
                        fprintf(stderr, "destination directory %s does not exist\n", parent);
                        return 1;
                }
                tmp = xasprintf("%s/.berth-cp-XXXXXX", parent);
                if (!mkdtemp(tmp)) {
                        fprintf(stderr, "create a temporary directory in %s: %s\n", parent,
                                strerror(errno));
                        return 1;
                }
                target = tmp;
        }
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return 1;
        char *argv[] = {"tar", "-x", "-p", "-f", "-", "-C", (char *)target, NULL};
        pid_t pid;
        int r = spawn_tar(argv, p[0], -1, &pid);
        close(p[0]);
        if (r < 0) {
                close(p[1]);
                fprintf(stderr, "start tar: %s\n", strerror(-r));
                return 1;
        }
        /* a reader that quits early must not kill us */
        signal(SIGPIPE, SIG_IGN);
        int k = stream_get(path, false, p[1], &e);
        close(p[1]);
        int w = wait_tar(pid);
        if (k < 0 || w < 0) {
                if (tmp) {
                        _cleanup_error_ struct berth_error *e2 = NULL;
                        berth_rm_rf_at(AT_FDCWD, tmp, &e2);
                }
                if (k < 0)
                        return cli_fail(e, 1);
                fprintf(stderr, "tar failed extracting into %s\n", target);
                return 1;
        }
        if (tmp) {
                /* the archive has one top-level entry: the copied file or directory */
                _cleanup_dir_ DIR *d = opendir(tmp);
                struct dirent *de;
                char *entry = NULL;
                while (d && (de = readdir(d)))
                        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                                entry = xasprintf("%s/%s", tmp, de->d_name);
                int rr = entry ? rename(entry, dst) : -1;
                int saved = errno;
                free(entry);
                _cleanup_error_ struct berth_error *e2 = NULL;
                berth_rm_rf_at(AT_FDCWD, tmp, &e2);
                if (rr < 0) {
                        fprintf(stderr, "move the copy to %s: %s\n", dst, strerror(saved));
                        return 1;
                }
        }
        return 0;
}

static size_t b64_decode(const char *in, unsigned char *out)
{
        static const char tbl[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        uint32_t acc = 0;
        int bits = 0;
        size_t n = 0;
        for (; *in && *in != '='; in++) {
                const char *p = strchr(tbl, *in);
                if (!p)
                        continue;
                acc = (acc << 6) | (uint32_t)(p - tbl);
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[n++] = (unsigned char)(acc >> bits);
                }
        }
        return n;
}

/* Whether path is a directory in the container: HEAD archive answers with docker's
 * X-Docker-Container-Path-Stat header (base64 JSON; Go's os.ModeDir is bit 31 of mode). */
static int container_path_is_dir(const char *id, const char *path, bool *ret)
{
        _cleanup_free_ char *q = NULL;
        query_add(&q, "path", path);
        _cleanup_free_ char *p = archive_path(id, q);
        _cleanup_conn_ struct http_conn *c = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        if (cli_connect(&c, &e) < 0 || http_send(c, "HEAD", p, NULL, NULL, 0, NULL, &e) < 0)
                return -EIO;
        struct http_resp r = {0};
        if (http_read_head(c, &r, &e) < 0)
                return -EIO;
        _cleanup_free_ char *h = http_resp_header(&r, "X-Docker-Container-Path-Stat");
        http_resp_release(&r);
        *ret = false;
        if (r.status == 404)
                return -ENOENT;
        if (r.status >= 400)
                return -EIO;
        if (h) {
                _cleanup_free_ unsigned char *raw = xmalloc(strlen(h) + 1);
                size_t n = b64_decode(h, raw);
                _cleanup_json_ json_t *st = json_loadb((const char *)raw, n, 0, NULL);
                json_int_t mode = json_integer_value(json_object_get(st, "mode"));
                *ret = (mode & (1LL << 31)) != 0;
        }
        return 0;
}

static char *sed_escape(const char *s)
{
        char *out = xmalloc(strlen(s) * 2 + 1), *o = out;
        for (; *s; s++) {
                if (strchr(".[]*^$\\|+?(){}", *s))
                        *o++ = '\\';
                *o++ = *s;
        }
        *o = '\0';
        return out;
}

static int cp_to(const char *src, const char *id, const char *dst)
{
        _cleanup_error_ struct berth_error *e = NULL;
        _cleanup_free_ char *q = NULL;
        _cleanup_conn_ struct http_conn *c = NULL;
        if (strcmp(src, "-") == 0) {
                query_add(&q, "path", dst);
                _cleanup_free_ char *path = archive_path(id, q);
                if (cli_connect(&c, &e) < 0 ||
                    http_send_fd(c, "PUT", path, "application/x-tar", STDIN_FILENO, &e) < 0)
                        return cli_fail(e, 1);
        } else {
                struct stat st;
                if (lstat(src, &st) < 0) {
                        fprintf(stderr, "stat %s: %s\n", src, strerror(errno));
                        return 1;
                }
                bool is_dir = false;
                size_t dl = strlen(dst);
                int k = container_path_is_dir(id, dst, &is_dir);
                if (k == 0 && dl > 0 && dst[dl - 1] == '/')
                        is_dir = true;
                if (k < 0 && k != -ENOENT) {
                        fprintf(stderr, "Error response from daemon: cannot stat %s in %s\n", dst,
                                id);
                        return 1;
                }
                _cleanup_free_ char *s1 = xstrdup(src), *s2 = xstrdup(src), *d1 = xstrdup(dst);
                char *sdir = dirname(s1), *sbase = basename(s2);
                _cleanup_free_ char *transform = NULL;
                const char *target = dst;
                if (!is_dir) {
                        if (dl > 0 && dst[dl - 1] == '/') {
                                fprintf(stderr,
                                        "Error response from daemon: destination %s "
                                        "does not exist\n",
                                        dst);
                                return 1;
                        }
                        char *dcopy = xstrdup(dst);
                        _cleanup_free_ char *esc = sed_escape(sbase);
                        transform = xasprintf("--transform=s|^%s|%s|S", esc, basename(d1));
                        target = dirname(dcopy);
                        query_add(&q, "path", target);
                        free(dcopy);
                } else {
                        query_add(&q, "path", target);
                }
                _cleanup_free_ char *path = archive_path(id, q);
                int p[2];
                if (pipe2(p, O_CLOEXEC) < 0)
                        return 1;
                char *argv[] = {"tar", "-c", "-f", "-", "-C", sdir, sbase, transform, NULL};
                pid_t pid;
                int r = spawn_tar(argv, -1, p[1], &pid);
                close(p[1]);
                if (r < 0) {
                        close(p[0]);
                        fprintf(stderr, "start tar: %s\n", strerror(-r));
                        return 1;
                }
                int k2 = cli_connect(&c, &e);
                if (k2 == 0)
                        k2 = http_send_fd(c, "PUT", path, "application/x-tar", p[0], &e);
                close(p[0]);
                int w = wait_tar(pid);
                if (k2 < 0)
                        return cli_fail(e, 1);
                if (w < 0) {
                        fprintf(stderr, "tar failed reading %s\n", src);
                        return 1;
                }
        }
        struct http_resp resp = {0};
        if (http_read_head(c, &resp, &e) < 0)
                return cli_fail(e, 1);
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        http_read_body_all(c, &resp, 1 << 20, &text, &len, NULL);
        http_resp_release(&resp);
        if (resp.status >= 400) {
                _cleanup_free_ char *m = cli_error_message(text ? text : "", len);
                fprintf(stderr, "Error response from daemon: %s\n", m);
                return 1;
        }
        return 0;
}

/* "container:path" → split; a local path has no colon before its first slash */
static bool split_container_path(const char *arg, char **ret_id, const char **ret_path)
{
        const char *colon = strchr(arg, ':');
        const char *slash = strchr(arg, '/');
        if (!colon || (slash && slash < colon) || arg[0] == '.' || colon == arg)
                return false;
        *ret_id = xstrndup(arg, (size_t)(colon - arg));
        *ret_path = colon + 1;
        return true;
}

int cmd_cp(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP,
                                                {"archive", 'a', CLI_BOOL},
                                                {"follow-link", 'L', CLI_BOOL},
                                                {"quiet", 'q', CLI_BOOL}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "cp", "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-", flags,
                       ARRAY_SIZE(flags), argc, argv, true, 2, 2, &code) < 0)
                return code;
        /* -q has nothing to hide: berth prints no progress */
        if (cli_refuse_flag(&a, "archive", "the copy keeps no uid/gid of the archive") ||
            cli_refuse_flag(&a, "follow-link", "symbolic links are copied as links")) {
                cli_args_release(&a);
                return 125;
        }
        _cleanup_free_ char *sid = NULL, *did = NULL;
        const char *spath = NULL, *dpath = NULL;
        bool from = split_container_path(a.pos[0], &sid, &spath);
        bool to = split_container_path(a.pos[1], &did, &dpath);
        if (from == to) {
                fprintf(stderr, from ? "copying between containers is not supported\n"
                                     : "must specify at least one container source\n");
                cli_args_release(&a);
                return 1;
        }
        if (from)
                code = cp_from(sid, spath, a.pos[1]);
        else
                code = cp_to(a.pos[0], did, dpath);
        cli_args_release(&a);
        return code;
}
