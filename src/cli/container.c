/* Container verbs other than run/create/start/attach/exec: ps, stop, kill, rm, logs, inspect,
 * top, pause, update, rename, wait, cp, export, diff, stats, port, prune. */
#include <inttypes.h>
#include <math.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "cli/internal.h"

#define HELP                                                                                       \
        {                                                                                          \
                "help", 0, CLI_BOOL                                                                \
        }

static char *ellipsis(const char *s, size_t max)
{
        size_t runes = 0;
        const char *p = s;
        for (; *p; p++) {
                if (((unsigned char)*p & 0xc0) != 0x80) {
                        if (runes == max - 1) {
                                /* is there more than one rune left? */
                                size_t rest = 0;
                                for (const char *q = p; *q; q++)
                                        if (((unsigned char)*q & 0xc0) != 0x80)
                                                rest++;
                                if (rest <= 1)
                                        return xstrdup(s);
                                return xasprintf("%.*s…", (int)(p - s), s);
                        }
                        runes++;
                }
        }
        return xstrdup(s);
}

static char *names_string(json_t *names)
{
        char *out = xstrdup("");
        size_t i;
        json_t *n;
        json_array_foreach(names, i, n)
        {
                const char *s = json_string_value(n);
                if (!s)
                        continue;
                if (*s == '/')
                        s++;
                /* docker hides link names (with a second slash) */
                if (strchr(s, '/'))
                        continue;
                char *x = xasprintf("%s%s%s", out, *out ? "," : "", s);
                free(out);
                out = x;
        }
        return out;
}

static char *ago(int64_t t)
{
        int64_t now = (int64_t)time(NULL);
        _cleanup_free_ char *d = fmt_human_duration(now - t);
        return xasprintf("%s ago", d);
}

/* docker's container formatting context (formatter.ContainerContext) as a JSON object */
static json_t *ps_context(json_t *c, bool trunc)
{
        json_t *x = json_object();
        const char *id = json_string_value(json_object_get(c, "Id"));
        id = id ? id : "";
        json_object_set_new(
            x, "ID", trunc ? json_stringn(id, strlen(id) < 12 ? strlen(id) : 12) : json_string(id));
        const char *img = json_string_value(json_object_get(c, "Image"));
        img = img ? img : "";
        if (trunc && strncmp(img, "sha256:", 7) == 0) {
                _cleanup_free_ char *s = fmt_short_id(img);
                json_object_set_new(x, "Image", json_string(s));
        } else {
                json_object_set_new(x, "Image", json_string(img));
        }
        const char *cmd = json_string_value(json_object_get(c, "Command"));
        _cleanup_free_ char *cs = trunc ? ellipsis(cmd ? cmd : "", 20) : xstrdup(cmd ? cmd : "");
        _cleanup_free_ char *quoted = xasprintf("\"%s\"", cs);
        json_object_set_new(x, "Command", json_string(quoted));
        int64_t created = json_integer_value(json_object_get(c, "Created"));
        struct tm tm;
        time_t ct = (time_t)created;
        char buf[64];
        localtime_r(&ct, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %z %Z", &tm);
        json_object_set_new(x, "CreatedAt", json_string(buf));
        _cleanup_free_ char *rf = ago(created);
        json_object_set_new(x, "RunningFor", json_string(rf));
        _cleanup_free_ char *ports = cli_ports_display(json_object_get(c, "Ports"));
        json_object_set_new(x, "Ports", json_string(ports));
        const char *state = json_string_value(json_object_get(c, "State"));
        json_object_set_new(x, "State", json_string(state ? state : ""));
        const char *status = json_string_value(json_object_get(c, "Status"));
        json_object_set_new(x, "Status", json_string(status ? status : ""));
        /* docker: "<rw>" or "<rw> (virtual <rootfs>)" when the rootfs size is known */
        json_int_t srw = json_integer_value(json_object_get(c, "SizeRw"));
        json_int_t sroot = json_integer_value(json_object_get(c, "SizeRootFs"));
        _cleanup_free_ char *a = fmt_human_size3((double)srw);
        _cleanup_free_ char *b = fmt_human_size3((double)sroot);
        _cleanup_free_ char *sz = sroot > 0 ? xasprintf("%s (virtual %s)", a, b) : xstrdup(a);
        json_object_set_new(x, "Size", json_string(sz));
        _cleanup_free_ char *names = names_string(json_object_get(c, "Names"));
        json_object_set_new(x, "Names", json_string(names));
        _cleanup_free_ char *labels = fmt_labels(json_object_get(c, "Labels"));
        json_object_set_new(x, "Labels", json_string(labels));
        /* {{.Label "key"}} (dropped from --format json, where docker has no such field) */
        json_t *lm = json_object_get(c, "Labels");
        json_object_set_new(x, "Label", json_is_object(lm) ? json_deep_copy(lm) : json_object());
        json_t *mounts = json_object_get(c, "Mounts");
        char *ms = xstrdup("");
        size_t i, nvol = 0;
        json_t *m;
        json_array_foreach(mounts, i, m)
        {
                const char *n = json_string_value(json_object_get(m, "Name"));
                const char *src = json_string_value(json_object_get(m, "Source"));
                const char *t = json_string_value(json_object_get(m, "Type"));
                if (t && strcmp(t, "volume") == 0)
                        nvol++;
                _cleanup_free_ char *one = trunc ? ellipsis(n     ? n
                                                            : src ? src
                                                                  : "",
                                                            15)
                                                 : xstrdup(n     ? n
                                                           : src ? src
                                                                 : "");
                char *y = xasprintf("%s%s%s", ms, *ms ? "," : "", one);
                free(ms);
                ms = y;
        }
        json_object_set_new(x, "Mounts", json_string(ms));
        free(ms);
        {
                _cleanup_free_ char *nv = xasprintf("%zu", nvol);
                json_object_set_new(x, "LocalVolumes", json_string(nv));
        }
        char *nets = xstrdup("");
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(json_object_get(c, "NetworkSettings"), "Networks"), k,
                            v)
        {
                char *y = xasprintf("%s%s%s", nets, *nets ? "," : "", k);
                free(nets);
                nets = y;
        }
        json_object_set_new(x, "Networks", json_string(nets));
        json_object_set_new(x, "Platform", json_null());
        free(nets);
        return x;
}

static json_t *ps_headers(void)
{
        return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "ID",
                         "CONTAINER ID", "Image", "IMAGE", "Command", "COMMAND", "CreatedAt",
                         "CREATED AT", "RunningFor", "CREATED", "Ports", "PORTS", "State", "STATE",
                         "Status", "STATUS", "Size", "SIZE", "Names", "NAMES", "Labels", "LABELS",
                         "Mounts", "MOUNTS", "Networks", "NETWORKS", "LocalVolumes",
                         "LOCAL VOLUMES");
}

int cmd_ps(int argc, char **argv)
{
        static const struct cli_flag flags[] = {
            HELP,
            {"all", 'a', CLI_BOOL},
            {"quiet", 'q', CLI_BOOL},
            {"last", 'n', CLI_STRING},
            {"latest", 'l', CLI_BOOL},
            {"size", 's', CLI_BOOL},
            {"no-trunc", 0, CLI_BOOL},
            {"filter", 'f', CLI_LIST},
            {"format", 0, CLI_STRING},
        };
        struct cli_args a;
        int code;
        if (verb_parse(&a, "ps", "[OPTIONS]", flags, ARRAY_SIZE(flags), argc, argv, true, 0, 0,
                       &code) < 0)
                return code;
        _cleanup_free_ char *q = NULL;
        const char *last = cli_arg_str(&a, "last");
        bool all = cli_arg_bool(&a, "all") || (last && strcmp(last, "-1") != 0) ||
                   cli_arg_bool(&a, "latest");
        if (all)
                query_add(&q, "all", "1");
        if (last && strcmp(last, "-1") != 0)
                query_add(&q, "limit", last);
        if (cli_arg_bool(&a, "latest"))
                query_add(&q, "limit", "1");
        const char *format = cli_arg_str(&a, "format");
        bool size = cli_arg_bool(&a, "size") || (format && strstr(format, ".Size"));
        if (size)
                query_add(&q, "size", "1");
        query_add_filters(&q, cli_arg_list(&a, "filter"));
        _cleanup_free_ char *path = xasprintf("/containers/json%s", q ? q : "");
        _cleanup_json_ json_t *list = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        if (cli_call("GET", path, NULL, NULL, &list, &e) < 0) {
                cli_args_release(&a);
                return cli_fail(e, 1);
        }
        bool trunc = !cli_arg_bool(&a, "no-trunc");
        _cleanup_json_ json_t *items = json_array();
        size_t i;
        json_t *c;
        json_array_foreach(list, i, c) json_array_append_new(items, ps_context(c, trunc));
        if (cli_arg_bool(&a, "quiet") && !format)
                format = "{{.ID}}";
        _cleanup_free_ char *dflt = xasprintf(
            "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}"
            "\t{{.Names}}%s",
            cli_arg_bool(&a, "size") ? "\t{{.Size}}" : "");
        if (!format || strcmp(format, "table") == 0)
                format = dflt;
        _cleanup_json_ json_t *h = ps_headers();
        _cleanup_free_ char *fmt = xstrdup(format);
        cli_args_release(&a);
        if (print_table(items, fmt, h, &e) < 0)
                return cli_fail(e, 1);
        return 0;
}

/* Run one request per positional argument, printing the argument on success (docker's stop, kill,
 * rm, pause…): exit 1 when any failed. */
static int stop_like(int argc, char **argv, const char *verb, const char *action)
{
        static const struct cli_flag flags[] = {
            HELP, {"time", 't', CLI_STRING}, {"signal", 's', CLI_STRING}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, verb, "[OPTIONS] CONTAINER [CONTAINER...]", flags, ARRAY_SIZE(flags),
                       argc, argv, true, 1, -1, &code) < 0)
                return code;
        _cleanup_free_ char *q = NULL;
        const char *t = cli_arg_str(&a, "time"), *s = cli_arg_str(&a, "signal");
        if (t) {
                char *end = NULL;
                strtol(t, &end, 10);
                if (end == t || *end) {
                        fprintf(
                            stderr,
                            "invalid argument \"%s\" for \"-t, --time\" flag: strconv.ParseInt: "
                            "parsing \"%s\": invalid syntax\nSee 'berth %s --help'.\n",
                            t, t, verb);
                        cli_args_release(&a);
                        return 125;
                }
                query_add(&q, "t", t);
        }
        if (s)
                query_add(&q, "signal", s);
        _cleanup_free_ char *suffix = xasprintf("/%s%s", action, q ? q : "");
        code = for_each_name(a.pos, "POST", "/containers/", suffix);
        cli_args_release(&a);
        return code;
}

int cmd_stop(int argc, char **argv)
{
        return stop_like(argc, argv, "stop", "stop");
}

int cmd_restart(int argc, char **argv)
{
        return stop_like(argc, argv, "restart", "restart");
}

int cmd_kill(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP, {"signal", 's', CLI_STRING}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "kill", "[OPTIONS] CONTAINER [CONTAINER...]", flags, ARRAY_SIZE(flags),
                       argc, argv, true, 1, -1, &code) < 0)
                return code;
        _cleanup_free_ char *q = NULL;
        const char *s = cli_arg_str(&a, "signal");
        if (s)
                query_add(&q, "signal", s);
        _cleanup_free_ char *suffix = xasprintf("/kill%s", q ? q : "");
        code = for_each_name(a.pos, "POST", "/containers/", suffix);
        cli_args_release(&a);
        return code;
}

int cmd_rm(int argc, char **argv)
{
        static const struct cli_flag flags[] = {
            HELP, {"force", 'f', CLI_BOOL}, {"volumes", 'v', CLI_BOOL}, {"link", 'l', CLI_BOOL}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "rm", "[OPTIONS] CONTAINER [CONTAINER...]", flags, ARRAY_SIZE(flags),
                       argc, argv, true, 1, -1, &code) < 0)
                return code;
        /* docker's --link removes a legacy link, not the container: never fall through to a
         * removal */
        if (cli_refuse_flag(&a, "link", "berth has no container links")) {
                cli_args_release(&a);
                return 125;
        }
        _cleanup_free_ char *q = NULL;
        if (cli_arg_bool(&a, "force"))
                query_add(&q, "force", "1");
        if (cli_arg_bool(&a, "volumes"))
                query_add(&q, "v", "1");
        code = for_each_name(a.pos, "DELETE", "/containers/", q);
        cli_args_release(&a);
        return code;
}

int cmd_pause(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "pause", "CONTAINER [CONTAINER...]", flags, ARRAY_SIZE(flags), argc,
                       argv, true, 1, -1, &code) < 0)
                return code;
        code = for_each_name(a.pos, "POST", "/containers/", "/pause");
        cli_args_release(&a);
        return code;
}

int cmd_unpause(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "unpause", "CONTAINER [CONTAINER...]", flags, ARRAY_SIZE(flags), argc,
                       argv, true, 1, -1, &code) < 0)
                return code;
        code = for_each_name(a.pos, "POST", "/containers/", "/unpause");
        cli_args_release(&a);
        return code;
}

int cmd_wait(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "wait", "CONTAINER [CONTAINER...]", flags, ARRAY_SIZE(flags), argc, argv,
                       true, 1, -1, &code) < 0)
                return code;
        code = 0;
        for (char **p = a.pos; *p; p++) {
                _cleanup_free_ char *path = name_path("/containers/", *p, "/wait");
                _cleanup_json_ json_t *j = NULL;
                _cleanup_error_ struct berth_error *e = NULL;
                if (cli_call("POST", path, NULL, NULL, &j, &e) < 0) {
                        cli_print_error(e);
                        code = 1;
                        continue;
                }
                printf("%" JSON_INTEGER_FORMAT "\n",
                       json_integer_value(json_object_get(j, "StatusCode")));
        }
        cli_args_release(&a);
        return code;
}

int cmd_rename(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "rename", "CONTAINER NEW_NAME", flags, ARRAY_SIZE(flags), argc, argv,
                       true, 2, 2, &code) < 0)
                return code;
        _cleanup_free_ char *q = NULL;
        query_add(&q, "name", a.pos[1]);
        _cleanup_free_ char *base = name_path("/containers/", a.pos[0], "/rename");
        _cleanup_free_ char *path = xasprintf("%s%s", base, q);
        cli_args_release(&a);
        _cleanup_error_ struct berth_error *e = NULL;
        if (cli_call("POST", path, NULL, NULL, NULL, &e) < 0)
                return cli_fail(e, 1);
        return 0;
}

int cmd_update(int argc, char **argv)
{
        static const struct cli_flag flags[] = {
            HELP,
            {"memory", 'm', CLI_STRING},
            {"memory-reservation", 0, CLI_STRING},
            {"memory-swap", 0, CLI_STRING},
            {"cpus", 0, CLI_STRING},
            {"cpu-shares", 'c', CLI_STRING},
            {"cpu-quota", 0, CLI_STRING},
            {"cpu-period", 0, CLI_STRING},
            {"cpuset-cpus", 0, CLI_STRING},
            {"cpuset-mems", 0, CLI_STRING},
            {"pids-limit", 0, CLI_STRING},
            {"blkio-weight", 0, CLI_STRING},
            {"restart", 0, CLI_STRING},
        };
        struct cli_args a;
        int code;
        if (verb_parse(&a, "update", "[OPTIONS] CONTAINER [CONTAINER...]", flags, ARRAY_SIZE(flags),
                       argc, argv, true, 1, -1, &code) < 0)
                return code;
        _cleanup_json_ json_t *body = json_object();
        static const struct {
                const char *flag, *key;
                int kind; /* 0 bytes, 1 int, 2 string */
        } map[] = {{"memory", "Memory", 0},          {"memory-reservation", "MemoryReservation", 0},
                   {"memory-swap", "MemorySwap", 0}, {"cpu-shares", "CpuShares", 1},
                   {"cpu-quota", "CpuQuota", 1},     {"cpu-period", "CpuPeriod", 1},
                   {"pids-limit", "PidsLimit", 1},   {"blkio-weight", "BlkioWeight", 1},
                   {"cpuset-cpus", "CpusetCpus", 2}, {"cpuset-mems", "CpusetMems", 2}};
        for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
                const char *v = cli_arg_str(&a, map[i].flag);
                if (!v)
                        continue;
                int64_t n = 0;
                char *end = NULL;
                if (map[i].kind == 2) {
                        json_object_set_new(body, map[i].key, json_string(v));
                        continue;
                }
                if (map[i].kind == 0 && strcmp(v, "-1") != 0 && cli_parse_bytes(v, &n) < 0) {
                        fprintf(stderr, "invalid size: '%s'\n", v);
                        cli_args_release(&a);
                        return 125;
                }
                if (map[i].kind == 0 && strcmp(v, "-1") == 0)
                        n = -1;
                if (map[i].kind == 1) {
                        n = strtoll(v, &end, 10);
                        if (end == v || *end) {
                                fprintf(stderr, "invalid argument \"%s\" for \"--%s\" flag\n", v,
                                        map[i].flag);
                                cli_args_release(&a);
                                return 125;
                        }
                }
                json_object_set_new(body, map[i].key, json_integer(n));
        }
        const char *cpus = cli_arg_str(&a, "cpus");
        if (cpus) {
                char *end = NULL;
                double c = strtod(cpus, &end);
                if (end == cpus || *end || !(c >= 0 && c <= 1e6)) {
                        fprintf(stderr, "invalid argument \"%s\" for \"--cpus\" flag\n", cpus);
                        cli_args_release(&a);
                        return 125;
                }
                json_object_set_new(body, "NanoCpus", json_integer((json_int_t)(c * 1e9 + 0.5)));
        }
        const char *restart = cli_arg_str(&a, "restart");
        if (restart) {
                const char *colon = strchr(restart, ':');
                _cleanup_free_ char *name =
                    colon ? xstrndup(restart, (size_t)(colon - restart)) : xstrdup(restart);
                json_object_set_new(body, "RestartPolicy",
                                    json_pack("{s:s,s:I}", "Name", name, "MaximumRetryCount",
                                              colon ? strtoll(colon + 1, NULL, 10) : 0));
        }
        code = 0;
        for (char **p = a.pos; *p; p++) {
                _cleanup_free_ char *path = name_path("/containers/", *p, "/update");
                _cleanup_error_ struct berth_error *e = NULL;
                _cleanup_json_ json_t *resp = NULL;
                if (cli_call("POST", path, body, NULL, &resp, &e) < 0) {
                        cli_print_error(e);
                        code = 1;
                        continue;
                }
                size_t i;
                json_t *w;
                json_array_foreach(json_object_get(resp, "Warnings"), i, w)
                    fprintf(stderr, "WARNING: %s\n", json_string_value(w));
                printf("%s\n", *p);
        }
        cli_args_release(&a);
        return code;
}

/* ---------------------------------------------------------------- logs */

static int copy_body(struct http_conn *c, struct http_resp *r, bool mux, int out_fd,
                     struct berth_error **err)
{
        struct demux d;
        demux_init(&d);
        char buf[32768];
        for (;;) {
                ssize_t n = http_read_body(c, r, buf, sizeof(buf), err);
                if (n < 0)
                        return (int)n;
                if (n == 0)
                        return 0;
                if (mux) {
                        int k = demux_feed(&d, buf, (size_t)n, out_fd, STDERR_FILENO);
                        if (k < 0)
                                return berth_error_set(err, -k, "log stream");
                        continue;
                }
                const char *p = buf;
                while (n > 0) {
                        ssize_t w = write(out_fd, p, (size_t)n);
                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w < 0)
                                return berth_error_set(err, errno, "write");
                        p += w;
                        n -= w;
                }
        }
}

/* GET path and copy its body to out_fd (demultiplexed when mux); docker's errors on >= 400. */
int stream_get(const char *path, bool mux, int out_fd, struct berth_error **err)
{
        _cleanup_conn_ struct http_conn *c = NULL;
        struct http_resp resp = {0};
        int r = cli_request("GET", path, NULL, NULL, 0, -1, NULL, &c, &resp, err);
        if (r < 0)
                return r;
        if (resp.status >= 400)
                return cli_response_error(c, &resp, err);
        /* the content type says whether the stream is multiplexed */
        if (resp.content_type && strstr(resp.content_type, "multiplexed"))
                mux = true;
        else if (resp.content_type && strstr(resp.content_type, "raw-stream"))
                mux = false;
        http_resp_release(&resp);
        return copy_body(c, &resp, mux, out_fd, err);
}

static int time_param(const char *v, char **ret)
{
        int64_t t;
        if (fmt_parse_time(v, &t) == 0) {
                *ret = xasprintf("%" PRId64, t);
                return 0;
        }
        int64_t ns;
        if (cli_parse_duration(v, &ns) == 0) {
                *ret = xasprintf("%" PRId64, (int64_t)time(NULL) - ns / 1000000000);
                return 0;
        }
        char *end = NULL;
        strtod(v, &end);
        if (end != v && *end == '\0') {
                *ret = xstrdup(v);
                return 0;
        }
        return -EINVAL;
}

int cmd_logs(int argc, char **argv)
{
        static const struct cli_flag flags[] = {
            HELP,
            {"follow", 'f', CLI_BOOL},
            {"since", 0, CLI_STRING},
            {"until", 0, CLI_STRING},
            {"tail|lines", 'n', CLI_STRING},
            {"timestamps", 't', CLI_BOOL},
            {"details", 0, CLI_BOOL},
        };
        struct cli_args a;
        int code;
        if (verb_parse(&a, "logs", "[OPTIONS] CONTAINER", flags, ARRAY_SIZE(flags), argc, argv,
                       true, 1, 1, &code) < 0)
                return code;
        _cleanup_error_ struct berth_error *e = NULL;
        _cleanup_free_ char *ip = name_path("/containers/", a.pos[0], "/json");
        _cleanup_json_ json_t *info = NULL;
        if (cli_call("GET", ip, NULL, NULL, &info, &e) < 0) {
                cli_args_release(&a);
                return cli_fail(e, 1);
        }
        bool tty = json_is_true(json_object_get(json_object_get(info, "Config"), "Tty"));
        _cleanup_free_ char *q = xstrdup("?stdout=1&stderr=1");
        if (cli_arg_bool(&a, "follow"))
                query_add(&q, "follow", "1");
        if (cli_arg_bool(&a, "timestamps"))
                query_add(&q, "timestamps", "1");
        if (cli_arg_bool(&a, "details"))
                query_add(&q, "details", "1");
        const char *tail = cli_arg_str(&a, "tail");
        query_add(&q, "tail", tail ? tail : "all");
        static const char *const tflags[] = {"since", "until"};
        for (size_t i = 0; i < ARRAY_SIZE(tflags); i++) {
                const char *v = cli_arg_str(&a, tflags[i]);
                if (!v)
                        continue;
                _cleanup_free_ char *t = NULL;
                if (time_param(v, &t) < 0) {
                        fprintf(stderr, "invalid value for \"%s\": %s\n", tflags[i], v);
                        cli_args_release(&a);
                        return 125;
                }
                query_add(&q, tflags[i], t);
        }
        const char *id = json_string_value(json_object_get(info, "Id"));
        _cleanup_free_ char *base = name_path("/containers/", id ? id : a.pos[0], "/logs");
        _cleanup_free_ char *path = xasprintf("%s%s", base, q);
        cli_args_release(&a);
        if (stream_get(path, !tty, STDOUT_FILENO, &e) < 0)
                return cli_fail(e, 1);
        return 0;
}

/* ---------------------------------------------------------------- inspect */

static int inspect_objects(char **names, const char *type, const char *format, bool size)
{
        static const struct {
                const char *type, *path, *what;
        } kinds[] = {{"container", "/containers/%s/json", "container"},
                     {"image", "/images/%s/json", "image"},
                     {"network", "/networks/%s", "network"},
                     {"volume", "/volumes/%s", "volume"}};
        _cleanup_json_ json_t *all = json_array();
        int code = 0;
        for (char **p = names; *p; p++) {
                _cleanup_free_ char *enc = cli_urlencode(*p);
                json_t *found = NULL;
                _cleanup_error_ struct berth_error *last = NULL;
                for (size_t i = 0; i < ARRAY_SIZE(kinds) && !found; i++) {
                        if (type && strcmp(type, kinds[i].type) != 0)
                                continue;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
                        _cleanup_free_ char *path = xasprintf(kinds[i].path, enc);
#pragma GCC diagnostic pop
                        if (size && i == 0) {
                                char *x = xasprintf("%s?size=1", path);
                                free(path);
                                path = x;
                        }
                        berth_error_free(TAKE_PTR(last));
                        int r = cli_call("GET", path, NULL, NULL, &found, &last);
                        if (r < 0 && last->code != ENOENT)
                                break;
                        if (r == 0 && !json_is_object(found)) {
                                json_decref(TAKE_PTR(found));
                                berth_error_setx(&last, EPROTO,
                                                 "Error: the daemon's answer for %s `%s` is not "
                                                 "a JSON object",
                                                 kinds[i].what, *p);
                                break;
                        }
                }
                if (found) {
                        json_array_append_new(all, found);
                        continue;
                }
                code = 1;
                if (last && last->code != ENOENT)
                        cli_print_error(last);
                else if (type && strcmp(type, "container") == 0)
                        fprintf(stderr, "Error: No such container: %s\n", *p);
                else if (type && strcmp(type, "image") == 0)
                        fprintf(stderr, "Error: No such image: %s\n", *p);
                else if (type && strcmp(type, "volume") == 0)
                        fprintf(stderr, "Error: No such volume: %s\n", *p);
                else if (type && strcmp(type, "network") == 0 && last)
                        cli_print_error(last); /* docker shows the daemon's "network x not found" */
                else
                        fprintf(stderr, "Error: No such object: %s\n", *p);
        }
        _cleanup_error_ struct berth_error *e = NULL;
        if (format && *format) {
                if (print_formatted(all, format, &e) < 0)
                        return cli_fail(e, 1);
        } else if (type && strcmp(type, "volume") == 0) {
                /* docker re-marshals its Volume struct, whose fields are in name order */
                char *out = json_dumps(all, JSON_INDENT(4) | JSON_SORT_KEYS);
                printf("%s\n", out ? out : "[]");
                free(out);
        } else if (json_array_size(all) > 0 || code == 0) {
                print_formatted(all, NULL, &e);
        } else {
                printf("[]\n");
        }
        return code;
}

static int inspect_verb(int argc, char **argv, const char *verb, const char *type)
{
        static const struct cli_flag flags[] = {
            HELP, {"format", 'f', CLI_STRING}, {"type", 0, CLI_STRING}, {"size", 's', CLI_BOOL}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, verb, "[OPTIONS] NAME|ID [NAME|ID...]", flags, ARRAY_SIZE(flags), argc,
                       argv, true, 1, -1, &code) < 0)
                return code;
        const char *t = type ? type : cli_arg_str(&a, "type");
        if (t && strcmp(t, "container") != 0 && strcmp(t, "image") != 0 &&
            strcmp(t, "network") != 0 && strcmp(t, "volume") != 0) {
                fprintf(stderr, "\"%s\" is not a valid value for --type\n", t);
                cli_args_release(&a);
                return 1;
        }
        code = inspect_objects(a.pos, t, cli_arg_str(&a, "format"), cli_arg_bool(&a, "size"));
        cli_args_release(&a);
        return code;
}

int cmd_inspect(int argc, char **argv)
{
        return inspect_verb(argc, argv, "inspect", NULL);
}

int cmd_container_inspect(int argc, char **argv)
{
        return inspect_verb(argc, argv, "container inspect", "container");
}

int cmd_image_inspect(int argc, char **argv)
{
        return inspect_verb(argc, argv, "image inspect", "image");
}

int cli_volume_inspect(int argc, char **argv)
{
        return inspect_verb(argc, argv, "volume inspect", "volume");
}

/* ---------------------------------------------------------------- top, diff, port, export */

int cmd_top(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "top", "CONTAINER [ps OPTIONS]", flags, ARRAY_SIZE(flags), argc, argv,
                       false, 1, -1, &code) < 0)
                return code;
        _cleanup_free_ char *q = NULL;
        if (a.pos[1]) {
                _cleanup_free_ char *args = xstrdup("");
                for (char **p = a.pos + 1; *p; p++) {
                        char *x = xasprintf("%s%s%s", args, *args ? " " : "", *p);
                        free(args);
                        args = x;
                }
                query_add(&q, "ps_args", args);
        }
        _cleanup_free_ char *base = name_path("/containers/", a.pos[0], "/top");
        _cleanup_free_ char *path = xasprintf("%s%s", base, q ? q : "");
        cli_args_release(&a);
        _cleanup_json_ json_t *j = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        if (cli_call("GET", path, NULL, NULL, &j, &e) < 0)
                return cli_fail(e, 1);
        struct tabw *tw = tabw_new();
        _cleanup_free_ char *hdr = xstrdup("");
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(j, "Titles"), i, v)
        {
                char *x = xasprintf("%s%s%s", hdr, i ? "\t" : "", json_string_value(v));
                free(hdr);
                hdr = x;
        }
        tabw_line(tw, hdr);
        json_t *row;
        json_array_foreach(json_object_get(j, "Processes"), i, row)
        {
                _cleanup_free_ char *line = xstrdup("");
                size_t k;
                json_array_foreach(row, k, v)
                {
                        char *x = xasprintf("%s%s%s", line, k ? "\t" : "",
                                            json_string_value(v) ? json_string_value(v) : "");
                        free(line);
                        line = x;
                }
                tabw_line(tw, line);
        }
        tabw_print(tw, stdout);
        return 0;
}

int cmd_diff(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "diff", "CONTAINER", flags, ARRAY_SIZE(flags), argc, argv, true, 1, 1,
                       &code) < 0)
                return code;
        _cleanup_free_ char *path = name_path("/containers/", a.pos[0], "/changes");
        cli_args_release(&a);
        _cleanup_json_ json_t *j = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        if (cli_call("GET", path, NULL, NULL, &j, &e) < 0)
                return cli_fail(e, 1);
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
                json_int_t kind = json_integer_value(json_object_get(v, "Kind"));
                printf("%c %s\n",
                       kind == 1   ? 'A'
                       : kind == 2 ? 'D'
                                   : 'C',
                       json_string_value(json_object_get(v, "Path")));
        }
        return 0;
}

int cmd_export(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP, {"output", 'o', CLI_STRING}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "export", "[OPTIONS] CONTAINER", flags, ARRAY_SIZE(flags), argc, argv,
                       true, 1, 1, &code) < 0)
                return code;
        _cleanup_close_ int fd = -1;
        if (cli_open_output(cli_arg_str(&a, "output"), "export container", &fd) < 0) {
                cli_args_release(&a);
                return 1;
        }
        _cleanup_free_ char *path = name_path("/containers/", a.pos[0], "/export");
        cli_args_release(&a);
        _cleanup_error_ struct berth_error *e = NULL;
        if (stream_get(path, false, fd >= 0 ? fd : STDOUT_FILENO, &e) < 0)
                return cli_fail(e, 1);
        return 0;
}

int cmd_container_prune(int argc, char **argv)
{
        static const struct cli_flag flags[] = {
            HELP, {"force", 'f', CLI_BOOL}, {"filter", 0, CLI_LIST}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "container prune", "[OPTIONS]", flags, ARRAY_SIZE(flags), argc, argv,
                       true, 0, 0, &code) < 0)
                return code;
        if (!cli_arg_bool(&a, "force") && !cli_confirm(" all stopped containers.")) {
                cli_args_release(&a);
                return 0;
        }
        _cleanup_free_ char *q = NULL;
        query_add_filters(&q, cli_arg_list(&a, "filter"));
        cli_args_release(&a);
        _cleanup_free_ char *path = xasprintf("/containers/prune%s", q ? q : "");
        int64_t total = 0;
        if (cli_prune(path, "ContainersDeleted", "Deleted Containers", false, &total) < 0)
                return 1;
        cli_print_reclaimed(total);
        return 0;
}
