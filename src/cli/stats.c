/* stats (docker's CPU/memory/IO arithmetic over the stats JSON) and cp (tar through
 * /containers/{id}/archive, packed and unpacked by the system's tar). */
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "cli/internal.h"

#define HELP                                                                                       \
        {                                                                                          \
                "help", 0, CLI_BOOL                                                                \
        }

static double num(json_t *o, const char *k)
{
        return json_number_value(json_object_get(o, k));
}

/* One row of the stats table from a stats JSON document. prev (may be NULL) holds the previous
 * sample of this container in a live view; otherwise precpu_stats is used. */
json_t *stats_row(json_t *s, const char *arg, struct stats_prev *prev)
{
        json_t *cpu = json_object_get(s, "cpu_stats"), *pre = json_object_get(s, "precpu_stats");
        double total = num(json_object_get(cpu, "cpu_usage"), "total_usage");
        double sys = num(cpu, "system_cpu_usage");
        double ptotal = num(json_object_get(pre, "cpu_usage"), "total_usage");
        double psys = num(pre, "system_cpu_usage");
        if (prev && prev->sys > 0) {
                ptotal = prev->cpu;
                psys = prev->sys;
        }
        if (prev) {
                prev->cpu = total;
                prev->sys = sys;
        }
        double online = num(cpu, "online_cpus");
        if (online == 0)
                online = (double)json_array_size(
                    json_object_get(json_object_get(cpu, "cpu_usage"), "percpu_usage"));
        double cpu_pct = 0;
        if (sys - psys > 0 && total - ptotal > 0)
                cpu_pct = (total - ptotal) / (sys - psys) * online * 100.0;
        json_t *mem = json_object_get(s, "memory_stats");
        json_t *ms = json_object_get(mem, "stats");
        double usage = num(mem, "usage"), limit = num(mem, "limit");
        json_t *v1 = json_object_get(ms, "total_inactive_file");
        json_t *v2 = json_object_get(ms, "inactive_file");
        if (v1 && json_number_value(v1) < usage)
                usage -= json_number_value(v1);
        else if (v2 && json_number_value(v2) < usage)
                usage -= json_number_value(v2);
        double mem_pct = limit > 0 ? usage / limit * 100.0 : 0;
        double rx = 0, tx = 0;
        const char *k;
        json_t *n;
        json_object_foreach(json_object_get(s, "networks"), k, n)
        {
                rx += num(n, "rx_bytes");
                tx += num(n, "tx_bytes");
        }
        double rd = 0, wr = 0;
        size_t i;
        json_t *b;
        json_array_foreach(
            json_object_get(json_object_get(s, "blkio_stats"), "io_service_bytes_recursive"), i, b)
        {
                const char *op = json_string_value(json_object_get(b, "op"));
                if (op && strcasecmp(op, "read") == 0)
                        rd += num(b, "value");
                else if (op && strcasecmp(op, "write") == 0)
                        wr += num(b, "value");
        }
        const char *id = json_string_value(json_object_get(s, "id"));
        const char *name = json_string_value(json_object_get(s, "name"));
        if (name && *name == '/')
                name++;
        _cleanup_free_ char *mu = fmt_bytes_size(usage), *ml = fmt_bytes_size(limit);
        _cleanup_free_ char *nr = fmt_human_size3(rx), *nt = fmt_human_size3(tx);
        _cleanup_free_ char *br = fmt_human_size3(rd), *bw = fmt_human_size3(wr);
        _cleanup_free_ char *cp = xasprintf("%.2f%%", cpu_pct), *mp = xasprintf("%.2f%%", mem_pct);
        _cleanup_free_ char *memusage = xasprintf("%s / %s", mu, ml);
        _cleanup_free_ char *netio = xasprintf("%s / %s", nr, nt);
        _cleanup_free_ char *blkio = xasprintf("%s / %s", br, bw);
        _cleanup_free_ char *pids =
            xasprintf("%.0f", num(json_object_get(s, "pids_stats"), "current"));
        _cleanup_free_ char *sid = xstrndup(id ? id : "", 12);
        return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "ID", sid, "Name",
                         name ? name : "", "Container", arg ? arg : sid, "CPUPerc", cp, "MemUsage",
                         memusage, "MemPerc", mp, "NetIO", netio, "BlockIO", blkio, "PIDs", pids);
}

static json_t *stats_headers(void)
{
        return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "ID", "CONTAINER ID", "Name",
                         "NAME", "Container", "CONTAINER", "CPUPerc", "CPU %", "MemUsage",
                         "MEM USAGE / LIMIT", "MemPerc", "MEM %", "NetIO", "NET I/O", "BlockIO",
                         "BLOCK I/O", "PIDs", "PIDS");
}

int cmd_stats(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP,
                                                {"all", 'a', CLI_BOOL},
                                                {"no-stream", 0, CLI_BOOL},
                                                {"no-trunc", 0, CLI_BOOL},
                                                {"format", 0, CLI_STRING}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "stats", "[OPTIONS] [CONTAINER...]", flags, ARRAY_SIZE(flags), argc,
                       argv, true, 0, -1, &code) < 0)
                return code;
        _cleanup_error_ struct berth_error *e = NULL;
        bool no_stream = cli_arg_bool(&a, "no-stream"), explicit = a.pos && a.pos[0];
        _cleanup_strv_ char **names = NULL;
        for (char **p = a.pos; p && *p; p++)
                strv_push(&names, *p);
        const char *format = cli_arg_str(&a, "format");
        _cleanup_free_ char *fmt =
            xstrdup(format && strcmp(format, "table") != 0
                        ? format
                        : "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t"
                          "{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}");
        bool all = cli_arg_bool(&a, "all");
        cli_args_release(&a);
        _cleanup_json_ json_t *h = stats_headers();
        struct stats_prev *prevs = NULL;
        size_t n_prev = 0;
        code = 0;
        for (;;) {
                _cleanup_strv_ char **targets = NULL;
                if (explicit) {
                        for (char **p = names; *p; p++)
                                strv_push(&targets, *p);
                } else {
                        _cleanup_json_ json_t *list = NULL;
                        if (cli_call("GET", all ? "/containers/json?all=1" : "/containers/json",
                                     NULL, NULL, &list, &e) < 0) {
                                code = cli_fail(e, 1);
                                break;
                        }
                        size_t i;
                        json_t *c;
                        json_array_foreach(list, i, c)
                            strv_push(&targets, json_string_value(json_object_get(c, "Id")));
                }
                _cleanup_json_ json_t *rows = json_array();
                for (char **p = targets; p && *p; p++) {
                        _cleanup_free_ char *path =
                            name_path("/containers/", *p,
                                      no_stream ? "/stats?stream=0" : "/stats?stream=0&one-shot=1");
                        _cleanup_json_ json_t *s = NULL;
                        if (cli_call("GET", path, NULL, NULL, &s, &e) < 0) {
                                if (explicit) {
                                        code = cli_fail(e, 1);
                                        break;
                                }
                                berth_error_free(TAKE_PTR(e));
                                continue;
                        }
                        struct stats_prev *pv = NULL;
                        if (!no_stream) {
                                const char *id = json_string_value(json_object_get(s, "id"));
                                for (size_t k = 0; k < n_prev && id; k++)
                                        if (strcmp(prevs[k].id, id) == 0)
                                                pv = &prevs[k];
                                if (!pv && id) {
                                        prevs = xrealloc(prevs, (n_prev + 1) * sizeof(*prevs));
                                        prevs[n_prev] = (struct stats_prev){xstrdup(id), 0, 0};
                                        pv = &prevs[n_prev++];
                                }
                        }
                        json_array_append_new(rows, stats_row(s, explicit ? *p : NULL, pv));
                }
                if (code)
                        break;
                if (!no_stream)
                        fputs("\033[2J\033[H", stdout);
                if (print_table(rows, fmt, h, &e) < 0) {
                        code = cli_fail(e, 1);
                        break;
                }
                fflush(stdout);
                if (no_stream)
                        break;
                struct timespec ts = {1, 0};
                nanosleep(&ts, NULL);
        }
        for (size_t k = 0; k < n_prev; k++)
                free(prevs[k].id);
        free(prevs);
        return code;
}

/* ---------------------------------------------------------------- cp */

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
