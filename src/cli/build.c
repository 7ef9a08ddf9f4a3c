/* `berth build`: the context directory tarred here with its .dockerignore applied (as the docker
 * CLI does), sent to POST /build, and docker's classic builder output rendered. */
#include <limits.h>
#include <time.h>
#include <sys/stat.h>

#include "build/dockerfile.h"
#include "cli/internal.h"

#define HELP                                                                                       \
        {                                                                                          \
                "help", 0, CLI_BOOL                                                                \
        }

/* ---------------------------------------------------------------- a tar in memory */

struct tarbuf {
        char *data;
        size_t len, cap;
};

static void tb_put(struct tarbuf *t, const void *p, size_t n)
{
        if (t->len + n > t->cap) {
                t->cap = (t->len + n) * 2 + 65536;
                t->data = xrealloc(t->data, t->cap);
        }
        memcpy(t->data + t->len, p, n);
        t->len += n;
}

static void tb_pad(struct tarbuf *t)
{
        static const char zero[512];
        if (t->len % 512)
                tb_put(t, zero, 512 - t->len % 512);
}

static void octal(char *field, size_t size, uint64_t v)
{
        for (size_t i = size - 1; i-- > 0; v >>= 3)
                field[i] = (char)('0' + (v & 7));
        field[size - 1] = 0;
}

/* one header (a GNU long-name entry first when the name does not fit) */
static void tb_header(struct tarbuf *t, const char *name, char type, mode_t mode, uint64_t size,
                      time_t mtime, const char *link)
{
        if (strlen(name) > 100) {
                tb_header(t, "././@LongLink", 'L', 0, strlen(name) + 1, 0, NULL);
                tb_put(t, name, strlen(name) + 1);
                tb_pad(t);
        }
        if (link && strlen(link) > 100) {
                tb_header(t, "././@LongLink", 'K', 0, strlen(link) + 1, 0, NULL);
                tb_put(t, link, strlen(link) + 1);
                tb_pad(t);
        }
        char h[512] = {0};
        memcpy(h, name, strnlen(name, 100));
        octal(h + 100, 8, mode & 07777);
        octal(h + 108, 8, 0);
        octal(h + 116, 8, 0);
        octal(h + 124, 12, size);
        octal(h + 136, 12, (uint64_t)(mtime < 0 ? 0 : mtime));
        memset(h + 148, ' ', 8);
        h[156] = type;
        if (link)
                memcpy(h + 157, link, strnlen(link, 100));
        memcpy(h + 257,
               "ustar\0"
               "00",
               8);
        unsigned sum = 0;
        for (size_t i = 0; i < 512; i++)
                sum += (unsigned char)h[i];
        snprintf(h + 148, 8, "%06o", sum);
        h[155] = ' ';
        tb_put(t, h, 512);
}

struct walk {
        struct tarbuf tb;
        struct bld_ignore *ig;
        const char *keep; /* the Dockerfile's path in the context */
};

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_file(struct walk *w, int dirfd, const char *name, const char *rel,
                    const struct stat *st, struct berth_error **err)
{
        if (S_ISDIR(st->st_mode)) {
                _cleanup_free_ char *n = xasprintf("%s/", rel);
                tb_header(&w->tb, n, '5', st->st_mode, 0, st->st_mtime, NULL);
                return 0;
        }
        if (S_ISLNK(st->st_mode)) {
                char target[PATH_MAX];
                ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
                if (n < 0)
                        return berth_error_set(err, errno, "readlink %s", rel);
                target[n] = 0;
                tb_header(&w->tb, rel, '2', st->st_mode, 0, st->st_mtime, target);
                return 0;
        }
        if (!S_ISREG(st->st_mode))
                return 0; /* sockets, fifos, devices: not part of a build context */
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return berth_error_set(err, errno, "open %s", rel);
        tb_header(&w->tb, rel, '0', st->st_mode, (uint64_t)st->st_size, st->st_mtime, NULL);
        uint64_t left = (uint64_t)st->st_size;
        while (left) {
                if (w->tb.len + 65536 > w->tb.cap) {
                        w->tb.cap = w->tb.cap * 2 + 65536;
                        w->tb.data = xrealloc(w->tb.data, w->tb.cap);
                }
                size_t want = left < 65536 ? (size_t)left : 65536;
                ssize_t n = read(fd, w->tb.data + w->tb.len, want);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return berth_error_set(err, errno, "read %s", rel);
                if (n == 0)
                        return berth_error_setx(err, EIO, "%s changed while it was read", rel);
                w->tb.len += (size_t)n;
                left -= (uint64_t)n;
        }
        tb_pad(&w->tb);
        return 0;
}

static int walk_dir(struct walk *w, int dirfd, const char *prefix, struct berth_error **err)
{
        int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return berth_error_set(err, errno, "open %s", *prefix ? prefix : ".");
        _cleanup_dir_ DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return berth_error_set(err, errno, "open %s", prefix);
        }
        _cleanup_strv_ char **names = NULL;
        struct dirent *de;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        strv_push(&names, de->d_name);
        if (!names)
                return 0;
        qsort(names, strv_length(names), sizeof(char *), cmp_str);
        for (size_t i = 0; names[i]; i++) {
                _cleanup_free_ char *rel =
                    *prefix ? xasprintf("%s/%s", prefix, names[i]) : xstrdup(names[i]);
                struct stat st;
                if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return berth_error_set(err, errno, "stat %s", rel);
                /* the Dockerfile and .dockerignore are always sent (the daemon drops them when
                 * they are excluded) */
                bool always = (!*prefix && !strcmp(names[i], ".dockerignore")) ||
                              (w->keep && !strcmp(rel, w->keep));
                bool ex = !always && w->ig && bld_ignore_excluded(w->ig, rel);
                if (ex && !(S_ISDIR(st.st_mode) && bld_ignore_may_reinclude(w->ig, rel)))
                        continue;
                if (!ex && add_file(w, dirfd, names[i], rel, &st, err) < 0)
                        return -EIO;
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int sub =
                            openat(dirfd, names[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub < 0)
                                return berth_error_set(err, errno, "open %s", rel);
                        if (walk_dir(w, sub, rel, err) < 0)
                                return -EIO;
                }
        }
        return 0;
}

/* ---------------------------------------------------------------- output */

struct out_ctx {
        bool quiet;
        bool live; /* a terminal without --progress=plain: each step's time is shown */
        bool in_step;
        struct timespec t0;
        char *id;
        struct berth_error *err;
        int code;
};

static double since(const struct timespec *t0)
{
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* the time the step that just ended took, dimmed */
static void step_done(struct out_ctx *c)
{
        if (c->live && c->in_step)
                printf("\033[2m ---> step done in %.2fs\033[0m\n", since(&c->t0));
        c->in_step = false;
}

static int on_msg(json_t *msg, void *userdata)
{
        struct out_ctx *c = userdata;
        json_t *detail = json_object_get(msg, "errorDetail");
        const char *m = json_string_value(json_object_get(detail, "message"));
        if (!m)
                m = json_string_value(json_object_get(msg, "error"));
        if (m) {
                json_t *code = json_object_get(detail, "code");
                c->code = json_is_integer(code) ? (int)json_integer_value(code) : 1;
                return berth_error_setx(&c->err, EIO, "%s", m);
        }
        const char *id = json_string_value(json_object_get(json_object_get(msg, "aux"), "ID"));
        if (id) {
                free(c->id);
                c->id = xstrdup(id);
        }
        const char *s = json_string_value(json_object_get(msg, "stream"));
        if (s && c->live && (!strncmp(s, "Step ", 5) || !strncmp(s, "Successfully built", 18))) {
                step_done(c);
                if (!strncmp(s, "Step ", 5)) {
                        clock_gettime(CLOCK_MONOTONIC, &c->t0);
                        c->in_step = true;
                }
        }
        if (s) {
                fputs(s, stdout);
                fflush(stdout);
        }
        const char *st = json_string_value(json_object_get(msg, "status"));
        if (st && !c->quiet) {
                const char *pid = json_string_value(json_object_get(msg, "id"));
                printf("%s%s%s\n", pid ? pid : "", pid ? ": " : "", st);
        }
        return 0;
}

static bool looks_like_archive(const unsigned char *b, size_t n)
{
        return (n >= 2 && b[0] == 0x1f && b[1] == 0x8b) || (n >= 3 && !memcmp(b, "BZh", 3)) ||
               (n >= 6 && !memcmp(b,
                                  "\xfd"
                                  "7zXZ\0",
                                  6)) ||
               (n >= 4 && !memcmp(b, "\x28\xb5\x2f\xfd", 4)) ||
               (n >= 262 && !memcmp(b + 257, "ustar", 5));
}

static int read_all_fd(int fd, char **ret, size_t *ret_len)
{
        size_t len = 0, cap = 65536;
        char *buf = xmalloc(cap);
        for (;;) {
                if (len == cap)
                        buf = xrealloc(buf, cap *= 2);
                ssize_t n = read(fd, buf + len, cap - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        free(buf);
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        *ret = buf;
        *ret_len = len;
        return 0;
}

int cmd_build(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP,
                                                {"tag", 't', CLI_LIST},
                                                {"file", 'f', CLI_STRING},
                                                {"build-arg", 0, CLI_LIST},
                                                {"label", 0, CLI_LIST},
                                                {"target", 0, CLI_STRING},
                                                {"no-cache", 0, CLI_BOOL},
                                                {"pull", 0, CLI_BOOL},
                                                {"quiet", 'q', CLI_BOOL},
                                                {"iidfile", 0, CLI_STRING},
                                                {"progress", 0, CLI_STRING},
                                                {"network", 0, CLI_STRING},
                                                {"rm", 0, CLI_BOOL},
                                                {"force-rm", 0, CLI_BOOL},
                                                {"platform", 0, CLI_STRING},
                                                {"cache-from", 0, CLI_LIST}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "build", "[OPTIONS] PATH | -", flags, ARRAY_SIZE(flags), argc, argv,
                       true, 1, 1, &code) < 0)
                return code;
        _cleanup_error_ struct berth_error *e = NULL;
        const char *ctxarg = a.pos[0];
        const char *file = cli_arg_str(&a, "file");
        const char *progress = cli_arg_str(&a, "progress");
        bool quiet = cli_arg_bool(&a, "quiet");
        int ret = 1;
        struct walk w = {0};
        _cleanup_free_ char *q = NULL, *dfname = NULL, *body = NULL, *iid = NULL;
        size_t blen = 0;
        do {
                if (progress && strcmp(progress, "plain") && strcmp(progress, "auto") &&
                    strcmp(progress, "tty")) {
                        fprintf(stderr, "invalid --progress value `%s`: plain, auto or tty\n",
                                progress);
                        break;
                }
                if (!strcmp(ctxarg, "-")) {
                        /* a tar (maybe compressed) or a lone Dockerfile on stdin */
                        if (read_all_fd(STDIN_FILENO, &body, &blen) < 0) {
                                fprintf(stderr, "read stdin: %s\n", strerror(errno));
                                break;
                        }
                        if (!looks_like_archive((unsigned char *)body, blen)) {
                                tb_header(&w.tb, "Dockerfile", '0', 0644, blen, time(NULL), NULL);
                                tb_put(&w.tb, body, blen);
                                tb_pad(&w.tb);
                                free(body);
                                body = NULL;
                                dfname = xstrdup("Dockerfile");
                        }
                } else {
                        _cleanup_close_ int root = open(ctxarg, O_PATH | O_DIRECTORY | O_CLOEXEC);
                        if (root < 0) {
                                fprintf(stderr,
                                        "unable to prepare context: path \"%s\" not found\n",
                                        ctxarg);
                                break;
                        }
                        _cleanup_free_ char *igtext = NULL;
                        size_t iglen = 0;
                        if (berth_read_file_at(root, ".dockerignore", 1u << 20, &igtext, &iglen,
                                               NULL) == 0 &&
                            bld_ignore_parse(igtext, iglen, &w.ig, &e) < 0) {
                                fprintf(stderr, "error reading .dockerignore: %s\n", e->msg);
                                break;
                        }
                        /* -f inside the context is named by its path there; outside, it is sent in
                         * the tar under a name of its own */
                        char rroot[PATH_MAX], rfile[PATH_MAX];
                        const char *f = file ? file : NULL;
                        _cleanup_free_ char *deflt = xasprintf("%s/Dockerfile", ctxarg);
                        if (!f)
                                f = deflt;
                        if (!realpath(ctxarg, rroot) || !realpath(f, rfile)) {
                                fprintf(stderr,
                                        "unable to prepare context: unable to evaluate symlinks in "
                                        "Dockerfile path: lstat %s: no such file or directory\n",
                                        f);
                                break;
                        }
                        size_t rl = strlen(rroot);
                        bool inside = !strncmp(rfile, rroot, rl) && rfile[rl] == '/';
                        if (inside)
                                dfname = xstrdup(rfile + rl + 1);
                        w.keep = dfname;
                        if (walk_dir(&w, root, "", &e) < 0) {
                                fprintf(stderr, "error preparing the build context: %s\n", e->msg);
                                break;
                        }
                        if (!inside) {
                                _cleanup_free_ char *text = NULL;
                                size_t tl = 0;
                                if (berth_read_file_at(AT_FDCWD, rfile, 16u << 20, &text, &tl, &e) <
                                    0) {
                                        fprintf(stderr, "%s\n", e->msg);
                                        break;
                                }
                                dfname =
                                    xasprintf(".dockerfile.%08lx%04x", (unsigned long)time(NULL),
                                              (unsigned)getpid() & 0xffff);
                                tb_header(&w.tb, dfname, '0', 0644, tl, time(NULL), NULL);
                                tb_put(&w.tb, text, tl);
                                tb_pad(&w.tb);
                        }
                }
                if (!body) {
                        static const char zero[1024];
                        tb_put(&w.tb, zero, sizeof(zero));
                        body = TAKE_PTR(w.tb.data);
                        blen = w.tb.len;
                }
                /* the query */
                char **tags = cli_arg_list(&a, "tag");
                for (size_t i = 0; tags && tags[i]; i++)
                        query_add(&q, "t", tags[i]);
                if (dfname)
                        query_add(&q, "dockerfile", dfname);
                json_t *bargs = json_object(), *labels = json_object();
                char **l = cli_arg_list(&a, "build-arg");
                for (size_t i = 0; l && l[i]; i++) {
                        char *eq = strchr(l[i], '=');
                        if (eq) {
                                _cleanup_free_ char *k = xstrndup(l[i], (size_t)(eq - l[i]));
                                json_object_set_new(bargs, k, json_string(eq + 1));
                        } else {
                                /* `--build-arg NAME` takes NAME from the environment, like docker
                                 */
                                const char *v = getenv(l[i]);
                                json_object_set_new(bargs, l[i], v ? json_string(v) : json_null());
                        }
                }
                l = cli_arg_list(&a, "label");
                for (size_t i = 0; l && l[i]; i++) {
                        char *eq = strchr(l[i], '=');
                        _cleanup_free_ char *k =
                            eq ? xstrndup(l[i], (size_t)(eq - l[i])) : xstrdup(l[i]);
                        json_object_set_new(labels, k, json_string(eq ? eq + 1 : ""));
                }
                _cleanup_free_ char *bj = json_dumps(bargs, JSON_COMPACT | JSON_SORT_KEYS);
                _cleanup_free_ char *lj = json_dumps(labels, JSON_COMPACT | JSON_SORT_KEYS);
                json_decref(bargs);
                json_decref(labels);
                query_add(&q, "buildargs", bj);
                query_add(&q, "labels", lj);
                if (cli_arg_str(&a, "target"))
                        query_add(&q, "target", cli_arg_str(&a, "target"));
                if (cli_arg_bool(&a, "no-cache"))
                        query_add(&q, "nocache", "1");
                if (cli_arg_bool(&a, "pull"))
                        query_add(&q, "pull", "1");
                if (quiet)
                        query_add(&q, "q", "1");
                if (cli_arg_set(&a, "rm"))
                        query_add(&q, "rm", cli_arg_bool(&a, "rm") ? "1" : "0");
                if (cli_arg_bool(&a, "force-rm"))
                        query_add(&q, "forcerm", "1");
                if (cli_arg_str(&a, "network"))
                        query_add(&q, "networkmode", cli_arg_str(&a, "network"));
                l = cli_arg_list(&a, "cache-from");
                if (l) {
                        json_t *cf = json_array();
                        for (size_t i = 0; l[i]; i++)
                                json_array_append_new(cf, json_string(l[i]));
                        char *cj = json_dumps(cf, JSON_COMPACT);
                        query_add(&q, "cachefrom", cj);
                        free(cj);
                        json_decref(cf);
                }
                if (cli_arg_str(&a, "platform"))
                        query_add(&q, "platform", cli_arg_str(&a, "platform"));
                {
                        _cleanup_free_ char *path = xasprintf("/build%s", q ? q : "");
                        _cleanup_conn_ struct http_conn *c = NULL;
                        struct http_resp resp = {0};
                        if (!quiet) {
                                /* the docker CLI's last upload progress line (streamformatter's
                                 * raw format: the size in %8v, "\r", then the reader's end) */
                                _cleanup_free_ char *sz = fmt_human_size((double)blen);
                                printf("Sending build context to Docker daemon %8s\r\r\n", sz);
                                fflush(stdout);
                        }
                        if (cli_request("POST", path, "application/x-tar", body, blen, -1, NULL, &c,
                                        &resp, &e) < 0) {
                                cli_fail(e, 1);
                                break;
                        }
                        if (resp.status >= 400) {
                                cli_response_error(c, &resp, &e);
                                cli_fail(e, 1);
                                break;
                        }
                        http_resp_release(&resp);
                        struct out_ctx oc = {.quiet = quiet,
                                             .live = !quiet && cli.stdout_tty &&
                                                     !(progress && !strcmp(progress, "plain"))};
                        int r = cli_stream_json(c, &resp, on_msg, &oc, &e);
                        iid = oc.id;
                        if (oc.err) {
                                step_done(&oc);
                                fprintf(stderr, "%s\n", oc.err->msg);
                                berth_error_free(oc.err);
                                ret = oc.code ? oc.code : 1;
                                break;
                        }
                        if (r < 0) {
                                cli_fail(e, 1);
                                break;
                        }
                }
                if (cli_arg_str(&a, "iidfile") && iid) {
                        _cleanup_free_ char *line = xstrdup(iid);
                        if (berth_write_file_at(AT_FDCWD, cli_arg_str(&a, "iidfile"), line,
                                                strlen(line), O_CREAT | O_TRUNC, &e) < 0) {
                                fprintf(stderr, "write iidfile: %s\n", e->msg);
                                break;
                        }
                }
                ret = 0;
        } while (0);
        free(w.tb.data);
        bld_ignore_free(w.ig);
        cli_args_release(&a);
        return ret;
}
