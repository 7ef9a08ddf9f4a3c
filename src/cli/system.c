/* System and volume verbs: version, info, system df/prune/info/events, events, volume …. */
#include <inttypes.h>
#include <sys/utsname.h>
#include <time.h>

#include "cli/internal.h"

#define HELP                                                                                       \
        {                                                                                          \
                "help", 0, CLI_BOOL                                                                \
        }

static const char *str(json_t *o, const char *k)
{
        const char *s = json_string_value(json_object_get(o, k));
        return s ? s : "";
}

static int run_template(json_t *data, const char *format)
{
        _cleanup_json_ json_t *arr = json_pack("[O]", data);
        _cleanup_error_ struct berth_error *e = NULL;
        if (print_formatted(arr, format, &e) < 0)
                return cli_fail(e, 1);
        return 0;
}

int cmd_version(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP, {"format", 'f', CLI_STRING}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "version", "[OPTIONS]", flags, ARRAY_SIZE(flags), argc, argv, true, 0, 0,
                       &code) < 0)
                return code;
        struct utsname u;
        uname(&u);
        const char *arch = strcmp(u.machine, "x86_64") == 0    ? "amd64"
                           : strcmp(u.machine, "aarch64") == 0 ? "arm64"
                                                               : u.machine;
        _cleanup_json_ json_t *client =
            json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "Platform", "berth", "Version", BERTH_VERSION,
                      "ApiVersion", CLI_API_VERSION, "Os", "linux", "Arch", arch, "GitCommit", "");
        _cleanup_json_ json_t *server = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        int r = cli_call("GET", "/version", NULL, NULL, &server, &e);
        _cleanup_json_ json_t *all =
            json_pack("{s:O,s:O}", "Client", client, "Server", server ? server : json_null());
        const char *format = cli_arg_str(&a, "format");
        if (format) {
                code = run_template(all, format);
                cli_args_release(&a);
                return r < 0 ? cli_fail(e, 1) : code;
        }
        cli_args_release(&a);
        printf("Client:\n Version:           %s\n API version:       %s\n OS/Arch:           "
               "linux/%s\n",
               BERTH_VERSION, CLI_API_VERSION, arch);
        if (r < 0) {
                printf("\n");
                return cli_fail(e, 1);
        }
        const char *pname = str(json_object_get(server, "Platform"), "Name");
        printf("\nServer:%s%s\n Engine:\n  Version:          %s\n  API version:      %s (minimum "
               "version %s)\n  OS/Arch:          %s/%s\n  Kernel version:   %s\n",
               *pname ? " " : "", pname, str(server, "Version"), str(server, "ApiVersion"),
               str(server, "MinAPIVersion"), str(server, "Os"), str(server, "Arch"),
               str(server, "KernelVersion"));
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(server, "Components"), i, c)
        {
                if (strcmp(str(c, "Name"), "Engine") == 0)
                        continue;
                printf(" %s:\n  Version:          %s\n", str(c, "Name"), str(c, "Version"));
        }
        return 0;
}

static void info_line(const char *key, json_t *info, const char *field)
{
        json_t *v = json_object_get(info, field);
        if (!v)
                return;
        _cleanup_free_ char *s = tmpl_value_string(v);
        printf(" %s: %s\n", key, s);
}

int cmd_info(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP, {"format", 'f', CLI_STRING}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "info", "[OPTIONS]", flags, ARRAY_SIZE(flags), argc, argv, true, 0, 0,
                       &code) < 0)
                return code;
        _cleanup_json_ json_t *info = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        if (cli_call("GET", "/info", NULL, NULL, &info, &e) < 0) {
                cli_args_release(&a);
                return cli_fail(e, 1);
        }
        const char *format = cli_arg_str(&a, "format");
        if (format) {
                code = run_template(info, format);
                cli_args_release(&a);
                return code;
        }
        cli_args_release(&a);
        printf("Client:\n Version:    %s\n Context:    default\n Debug Mode: %s\n\nServer:\n",
               BERTH_VERSION, cli.debug ? "true" : "false");
        info_line("Containers", info, "Containers");
        info_line(" Running", info, "ContainersRunning");
        info_line(" Paused", info, "ContainersPaused");
        info_line(" Stopped", info, "ContainersStopped");
        info_line("Images", info, "Images");
        info_line("Server Version", info, "ServerVersion");
        info_line("Storage Driver", info, "Driver");
        info_line("Logging Driver", info, "LoggingDriver");
        info_line("Cgroup Driver", info, "CgroupDriver");
        info_line("Cgroup Version", info, "CgroupVersion");
        info_line("Kernel Version", info, "KernelVersion");
        info_line("Operating System", info, "OperatingSystem");
        info_line("OSType", info, "OSType");
        info_line("Architecture", info, "Architecture");
        info_line("CPUs", info, "NCPU");
        json_t *mem = json_object_get(info, "MemTotal");
        if (mem) {
                _cleanup_free_ char *m = fmt_bytes_size((double)json_integer_value(mem));
                printf(" Total Memory: %s\n", m);
        }
        info_line("Name", info, "Name");
        info_line("ID", info, "ID");
        info_line("Docker Root Dir", info, "DockerRootDir");
        info_line("Debug Mode", info, "Debug");
        info_line("Live Restore Enabled", info, "LiveRestoreEnabled");
        size_t i;
        json_t *w;
        json_array_foreach(json_object_get(info, "Warnings"), i, w)
            fprintf(stderr, "%s\n", json_string_value(w));
        return 0;
}

/* ---------------------------------------------------------------- system df */

static char *pct_string(int64_t part, int64_t total)
{
        _cleanup_free_ char *s = fmt_human_size((double)part);
        if (total <= 0)
                return xstrdup(s);
        return xasprintf("%s (%" PRId64 "%%)", s, part * 100 / total);
}

static int system_df(int argc, char **argv)
{
        static const struct cli_flag flags[] = {
            HELP, {"verbose", 'v', CLI_BOOL}, {"format", 0, CLI_STRING}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "system df", "[OPTIONS]", flags, ARRAY_SIZE(flags), argc, argv, true, 0,
                       0, &code) < 0)
                return code;
        _cleanup_json_ json_t *df = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        if (cli_call("GET", "/system/df", NULL, NULL, &df, &e) < 0) {
                cli_args_release(&a);
                return cli_fail(e, 1);
        }
        bool verbose = cli_arg_bool(&a, "verbose");
        _cleanup_free_ char *format =
            cli_arg_str(&a, "format") ? xstrdup(cli_arg_str(&a, "format")) : NULL;
        cli_args_release(&a);
        size_t i;
        json_t *v;
        /* docker's arithmetic (cli/command/formatter/disk_usage.go) */
        int64_t itotal = 0, iactive = 0, iused = 0;
        int64_t isize = json_integer_value(json_object_get(df, "LayersSize"));
        json_array_foreach(json_object_get(df, "Images"), i, v)
        {
                itotal++;
                int64_t nc = json_integer_value(json_object_get(v, "Containers"));
                if (nc > 0)
                        iactive++;
                if (nc == 0)
                        continue;
                json_t *vs = json_object_get(v, "VirtualSize");
                int64_t sz = json_integer_value(vs ? vs : json_object_get(v, "Size"));
                int64_t sh = json_integer_value(json_object_get(v, "SharedSize"));
                if (sz == -1 || sh == -1)
                        continue;
                iused += sz - sh;
        }
        int64_t ireclaim = isize - iused;
        int64_t ctotal = 0, cactive = 0, csize = 0, creclaim = 0;
        json_array_foreach(json_object_get(df, "Containers"), i, v)
        {
                ctotal++;
                int64_t sz = json_integer_value(json_object_get(v, "SizeRw"));
                const char *st = str(v, "State");
                csize += sz;
                if (strstr(st, "running") || strstr(st, "paused") || strstr(st, "restarting"))
                        cactive++;
                else
                        creclaim += sz;
        }
        int64_t vtotal = 0, vactive = 0, vsize = 0, vreclaim = 0;
        json_array_foreach(json_object_get(df, "Volumes"), i, v)
        {
                vtotal++;
                json_t *ud = json_object_get(v, "UsageData");
                int64_t sz = json_integer_value(json_object_get(ud, "Size"));
                int64_t rc = json_integer_value(json_object_get(ud, "RefCount"));
                if (rc > 0)
                        vactive++;
                if (sz != -1) {
                        vsize += sz;
                        if (rc == 0)
                                vreclaim += sz;
                }
        }
        int64_t btotal = 0, bactive = 0, bsize = 0, breclaim = 0;
        json_array_foreach(json_object_get(df, "BuildCache"), i, v)
        {
                btotal++;
                int64_t sz = json_integer_value(json_object_get(v, "Size"));
                bool in_use = json_is_true(json_object_get(v, "InUse"));
                bool shared = json_is_true(json_object_get(v, "Shared"));
                if (in_use)
                        bactive++;
                if (!shared)
                        bsize += sz;
                if (!in_use && !shared)
                        breclaim += sz;
        }
        _cleanup_json_ json_t *rows = json_array();
        struct {
                const char *type;
                int64_t total, active, size, reclaim;
                bool pct;
        } r[] = {{"Images", itotal, iactive, isize, ireclaim, true},
                 {"Containers", ctotal, cactive, csize, creclaim, true},
                 {"Local Volumes", vtotal, vactive, vsize, vreclaim, true},
                 {"Build Cache", btotal, bactive, bsize, breclaim, false}};
        for (i = 0; i < ARRAY_SIZE(r); i++) {
                _cleanup_free_ char *sz = fmt_human_size((double)r[i].size);
                _cleanup_free_ char *rc = r[i].pct ? pct_string(r[i].reclaim, r[i].size)
                                                   : fmt_human_size((double)r[i].reclaim);
                json_array_append_new(rows, json_pack("{s:s,s:I,s:I,s:s,s:s}", "Type", r[i].type,
                                                      "TotalCount", (json_int_t)r[i].total,
                                                      "Active", (json_int_t)r[i].active, "Size", sz,
                                                      "Reclaimable", rc));
        }
        _cleanup_json_ json_t *h =
            json_pack("{s:s,s:s,s:s,s:s,s:s}", "Type", "TYPE", "TotalCount", "TOTAL", "Active",
                      "ACTIVE", "Size", "SIZE", "Reclaimable", "RECLAIMABLE");
        if (!verbose || format) {
                if (print_table(rows,
                                format ? format
                                       : "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t"
                                         "{{.Size}}\t{{.Reclaimable}}",
                                h, &e) < 0)
                        return cli_fail(e, 1);
                return 0;
        }
        struct tabw *tw = tabw_new();
        printf("Images space usage:\n\n");
        tabw_line(tw, "REPOSITORY\tTAG\tIMAGE ID\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS");
        json_array_foreach(json_object_get(df, "Images"), i, v)
        {
                _cleanup_free_ char *id = fmt_short_id(str(v, "Id"));
                int64_t sz = json_integer_value(json_object_get(v, "Size"));
                int64_t sh = json_integer_value(json_object_get(v, "SharedSize"));
                _cleanup_free_ char *a1 = fmt_human_size((double)sz);
                _cleanup_free_ char *a2 = fmt_human_size((double)(sh > 0 ? sh : 0));
                _cleanup_free_ char *a3 = fmt_human_size((double)(sz - (sh > 0 ? sh : 0)));
                const char *tag =
                    json_string_value(json_array_get(json_object_get(v, "RepoTags"), 0));
                _cleanup_free_ char *repo = xstrdup(tag ? tag : "<none>:<none>");
                char *colon = strrchr(repo, ':');
                if (colon && !strchr(colon, '/'))
                        *colon = '\0';
                _cleanup_free_ char *line =
                    xasprintf("%s\t%s\t%s\t%s\t%s\t%s\t%" JSON_INTEGER_FORMAT, repo,
                              colon ? colon + 1 : "<none>", id, a1, a2, a3,
                              json_integer_value(json_object_get(v, "Containers")));
                tabw_line(tw, line);
        }
        tabw_print(tw, stdout);
        printf("\nContainers space usage:\n\n");
        tw = tabw_new();
        tabw_line(tw, "CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES");
        json_array_foreach(json_object_get(df, "Containers"), i, v)
        {
                _cleanup_free_ char *id = fmt_short_id(str(v, "Id"));
                _cleanup_free_ char *sz =
                    fmt_human_size((double)json_integer_value(json_object_get(v, "SizeRw")));
                _cleanup_free_ char *cs = fmt_human_duration(
                    (int64_t)time(NULL) - json_integer_value(json_object_get(v, "Created")));
                const char *name =
                    json_string_value(json_array_get(json_object_get(v, "Names"), 0));
                _cleanup_free_ char *line =
                    xasprintf("%s\t%s\t\"%.19s\"\t%zu\t%s\t%s ago\t%s\t%s", id, str(v, "Image"),
                              str(v, "Command"), json_array_size(json_object_get(v, "Mounts")), sz,
                              cs, str(v, "Status"), name ? (name[0] == '/' ? name + 1 : name) : "");
                tabw_line(tw, line);
        }
        tabw_print(tw, stdout);
        printf("\nLocal Volumes space usage:\n\n");
        tw = tabw_new();
        tabw_line(tw, "VOLUME NAME\tLINKS\tSIZE");
        json_array_foreach(json_object_get(df, "Volumes"), i, v)
        {
                json_t *ud = json_object_get(v, "UsageData");
                _cleanup_free_ char *sz =
                    fmt_human_size((double)json_integer_value(json_object_get(ud, "Size")));
                _cleanup_free_ char *line =
                    xasprintf("%s\t%" JSON_INTEGER_FORMAT "\t%s", str(v, "Name"),
                              json_integer_value(json_object_get(ud, "RefCount")), sz);
                tabw_line(tw, line);
        }
        tabw_print(tw, stdout);
        _cleanup_free_ char *bs = fmt_human_size((double)bsize);
        printf("\nBuild cache usage: %s\n", bs);
        return 0;
}

/* ---------------------------------------------------------------- prune */

static int system_prune(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP,
                                                {"all", 'a', CLI_BOOL},
                                                {"force", 'f', CLI_BOOL},
                                                {"volumes", 0, CLI_BOOL},
                                                {"filter", 0, CLI_LIST}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "system prune", "[OPTIONS]", flags, ARRAY_SIZE(flags), argc, argv, true,
                       0, 0, &code) < 0)
                return code;
        bool all = cli_arg_bool(&a, "all"), vols = cli_arg_bool(&a, "volumes");
        bool force = cli_arg_bool(&a, "force");
        cli_args_release(&a);
        if (!force) {
                _cleanup_free_ char *what = xasprintf(
                    "  - all stopped containers\n%s%s  - %s\n  - unused build cache\n",
                    vols ? "  - all anonymous volumes not used by at least one container\n" : "",
                    "",
                    all ? "all images without at least one container associated to them"
                        : "all dangling images");
                if (!cli_confirm(":\n%s", what))
                        return 0;
        }
        int64_t total = 0;
        code = 0;
        if (cli_prune("/containers/prune", "ContainersDeleted", "Deleted Containers", false,
                      &total) < 0)
                code = 1;
        if (vols &&
            cli_prune("/volumes/prune", "VolumesDeleted", "Deleted Volumes", false, &total) < 0)
                code = 1;
        _cleanup_free_ char *q = NULL;
        query_add(&q, "filters", all ? "{\"dangling\":[\"false\"]}" : "{\"dangling\":[\"true\"]}");
        _cleanup_free_ char *ip = xasprintf("/images/prune%s", q);
        if (cli_prune(ip, "ImagesDeleted", "Deleted Images", true, &total) < 0)
                code = 1;
        cli_print_reclaimed(total);
        return code;
}

/* ---------------------------------------------------------------- events */

struct ev_ctx {
        struct tmpl *t;
        bool json;
};

static int on_event(json_t *msg, void *userdata)
{
        struct ev_ctx *c = userdata;
        if (c->json) {
                _cleanup_free_ char *s = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER);
                printf("%s\n", s);
        } else if (c->t) {
                _cleanup_free_ char *out = NULL;
                _cleanup_error_ struct berth_error *e = NULL;
                if (tmpl_exec(c->t, msg, &out, &e) < 0) {
                        cli_print_error(e);
                        return -EINVAL;
                }
                printf("%s\n", out);
        } else {
                int64_t ns = json_integer_value(json_object_get(msg, "timeNano"));
                if (ns == 0)
                        ns = json_integer_value(json_object_get(msg, "time")) * 1000000000LL;
                struct timespec ts = {ns / 1000000000LL, ns % 1000000000LL};
                struct tm tm;
                localtime_r(&ts.tv_sec, &tm);
                char buf[64], tz[8];
                strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
                strftime(tz, sizeof(tz), "%z", &tm);
                json_t *actor = json_object_get(msg, "Actor");
                /* Go's Z07:00: "Z" for UTC, else ±hh:mm */
                char off[8] = "Z";
                if (strcmp(tz, "+0000") != 0)
                        snprintf(off, sizeof(off), "%.3s:%.2s", tz, tz + 3);
                printf("%s.%09ld%s %s %s %s", buf, ts.tv_nsec, off, str(msg, "Type"),
                       str(msg, "Action"), str(actor, "ID"));
                json_t *attrs = json_object_get(actor, "Attributes");
                if (json_object_size(attrs)) {
                        /* docker: " (k=v, k2=v2)" with the keys sorted */
                        printf(" (");
                        bool first = true;
                        const char *keys[256];
                        size_t n = 0;
                        const char *k;
                        json_t *v;
                        json_object_foreach(attrs, k, v) if (n < 256) keys[n++] = k;
                        for (size_t i = 1; i < n; i++)
                                for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
                                        const char *t = keys[j];
                                        keys[j] = keys[j - 1];
                                        keys[j - 1] = t;
                                }
                        for (size_t i = 0; i < n; i++) {
                                printf("%s%s=%s", first ? "" : ", ", keys[i], str(attrs, keys[i]));
                                first = false;
                        }
                        printf(")");
                }
                printf("\n");
        }
        fflush(stdout);
        return 0;
}

int cmd_events(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP,
                                                {"since", 0, CLI_STRING},
                                                {"until", 0, CLI_STRING},
                                                {"filter", 'f', CLI_LIST},
                                                {"format", 0, CLI_STRING}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "events", "[OPTIONS]", flags, ARRAY_SIZE(flags), argc, argv, true, 0, 0,
                       &code) < 0)
                return code;
        _cleanup_free_ char *q = NULL;
        const char *s;
        if ((s = cli_arg_str(&a, "since")))
                query_add(&q, "since", s);
        if ((s = cli_arg_str(&a, "until")))
                query_add(&q, "until", s);
        query_add_filters(&q, cli_arg_list(&a, "filter"));
        struct ev_ctx ctx = {0};
        _cleanup_error_ struct berth_error *e = NULL;
        const char *format = cli_arg_str(&a, "format");
        if (format && strcmp(format, "json") == 0)
                ctx.json = true;
        else if (format && tmpl_parse(format, &ctx.t, &e) < 0) {
                cli_args_release(&a);
                return cli_fail(e, 1);
        }
        cli_args_release(&a);
        _cleanup_free_ char *path = xasprintf("/events%s", q ? q : "");
        _cleanup_conn_ struct http_conn *c = NULL;
        struct http_resp resp = {0};
        int r = cli_request("GET", path, NULL, NULL, 0, -1, NULL, &c, &resp, &e);
        if (r == 0 && resp.status >= 400)
                r = cli_response_error(c, &resp, &e);
        http_resp_release(&resp);
        if (r == 0)
                r = cli_stream_json(c, &resp, on_event, &ctx, &e);
        tmpl_free(ctx.t);
        if (r < 0 && e)
                return cli_fail(e, 1);
        return r < 0 ? 1 : 0;
}

int cmd_system(int argc, char **argv)
{
        if (argc < 2 || strcmp(argv[1], "--help") == 0) {
                printf("\nUsage:  berth system COMMAND\n\nCommands:\n  df          Show disk "
                       "usage\n  events      Get real time events from the server\n  info       "
                       " Display system-wide information\n  prune       Remove unused data\n");
                return argc < 2 ? 1 : 0;
        }
        if (strcmp(argv[1], "df") == 0)
                return system_df(argc - 1, argv + 1);
        if (strcmp(argv[1], "prune") == 0)
                return system_prune(argc - 1, argv + 1);
        if (strcmp(argv[1], "info") == 0)
                return cmd_info(argc - 1, argv + 1);
        if (strcmp(argv[1], "events") == 0)
                return cmd_events(argc - 1, argv + 1);
        fprintf(stderr, "berth: 'system %s' is not a berth command.\nSee 'berth --help'\n",
                argv[1]);
        return 1;
}

/* ---------------------------------------------------------------- volume */

static int volume_create(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP,
                                                {"driver", 'd', CLI_STRING},
                                                {"opt", 'o', CLI_LIST},
                                                {"label", 0, CLI_LIST},
                                                {"name", 0, CLI_STRING}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "volume create", "[OPTIONS] [VOLUME]", flags, ARRAY_SIZE(flags), argc,
                       argv, true, 0, 1, &code) < 0)
                return code;
        _cleanup_json_ json_t *body = json_object();
        const char *name = a.pos && a.pos[0] ? a.pos[0] : cli_arg_str(&a, "name");
        if (name)
                json_object_set_new(body, "Name", json_string(name));
        const char *drv = cli_arg_str(&a, "driver");
        json_object_set_new(body, "Driver", json_string(drv ? drv : "local"));
        static const char *const lists[][2] = {{"opt", "DriverOpts"}, {"label", "Labels"}};
        for (size_t i = 0; i < ARRAY_SIZE(lists); i++) {
                json_t *o = json_object();
                for (char **p = cli_arg_list(&a, lists[i][0]); p && *p; p++) {
                        const char *eq = strchr(*p, '=');
                        _cleanup_free_ char *k = eq ? xstrndup(*p, (size_t)(eq - *p)) : xstrdup(*p);
                        json_object_set_new(o, k, json_string(eq ? eq + 1 : ""));
                }
                json_object_set_new(body, lists[i][1], o);
        }
        cli_args_release(&a);
        _cleanup_json_ json_t *resp = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        if (cli_call("POST", "/volumes/create", body, NULL, &resp, &e) < 0)
                return cli_fail(e, 1);
        printf("%s\n", str(resp, "Name"));
        return 0;
}

static int volume_ls(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP,
                                                {"quiet", 'q', CLI_BOOL},
                                                {"filter", 'f', CLI_LIST},
                                                {"format", 0, CLI_STRING},
                                                {"cluster", 0, CLI_BOOL}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "volume ls", "[OPTIONS]", flags, ARRAY_SIZE(flags), argc, argv, true, 0,
                       0, &code) < 0)
                return code;
        if (cli_refuse_flag(&a, "cluster", "berth has no swarm cluster volumes")) {
                cli_args_release(&a);
                return 125;
        }
        _cleanup_free_ char *q = NULL;
        query_add_filters(&q, cli_arg_list(&a, "filter"));
        _cleanup_free_ char *path = xasprintf("/volumes%s", q ? q : "");
        _cleanup_json_ json_t *resp = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        if (cli_call("GET", path, NULL, NULL, &resp, &e) < 0) {
                cli_args_release(&a);
                return cli_fail(e, 1);
        }
        _cleanup_json_ json_t *rows = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(resp, "Volumes"), i, v)
        {
                json_t *x = json_deep_copy(v);
                _cleanup_free_ char *labels = fmt_labels(json_object_get(v, "Labels"));
                json_object_set_new(x, "Labels", json_string(labels));
                json_t *lm = json_object_get(v, "Labels");
                json_object_set_new(x, "Label",
                                    json_is_object(lm) ? json_deep_copy(lm) : json_object());
                json_array_append_new(rows, x);
        }
        const char *format = cli_arg_str(&a, "format");
        if (cli_arg_bool(&a, "quiet") && !format)
                format = "{{.Name}}";
        if (!format || strcmp(format, "table") == 0)
                format = "table {{.Driver}}\t{{.Name}}";
        _cleanup_json_ json_t *h =
            json_pack("{s:s,s:s,s:s,s:s,s:s}", "Driver", "DRIVER", "Name", "VOLUME NAME",
                      "Mountpoint", "MOUNTPOINT", "Labels", "LABELS", "Scope", "SCOPE");
        _cleanup_free_ char *fmt = xstrdup(format);
        cli_args_release(&a);
        if (print_table(rows, fmt, h, &e) < 0)
                return cli_fail(e, 1);
        return 0;
}

static int volume_rm(int argc, char **argv)
{
        static const struct cli_flag flags[] = {HELP, {"force", 'f', CLI_BOOL}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "volume rm", "[OPTIONS] VOLUME [VOLUME...]", flags, ARRAY_SIZE(flags),
                       argc, argv, true, 1, -1, &code) < 0)
                return code;
        code = for_each_name(a.pos, "DELETE", "/volumes/",
                             cli_arg_bool(&a, "force") ? "?force=1" : NULL);
        cli_args_release(&a);
        return code;
}

static int volume_prune(int argc, char **argv)
{
        static const struct cli_flag flags[] = {
            HELP, {"all", 'a', CLI_BOOL}, {"force", 'f', CLI_BOOL}, {"filter", 0, CLI_LIST}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "volume prune", "[OPTIONS]", flags, ARRAY_SIZE(flags), argc, argv, true,
                       0, 0, &code) < 0)
                return code;
        bool all = cli_arg_bool(&a, "all"), force = cli_arg_bool(&a, "force");
        cli_args_release(&a);
        if (!force && !cli_confirm(":\n%s", all ? "  - all volumes not used by at least one "
                                                  "container\n"
                                                : "  - all anonymous volumes not used by at "
                                                  "least one container\n"))
                return 0;
        _cleanup_free_ char *q = NULL;
        if (all)
                query_add(&q, "filters", "{\"all\":[\"true\"]}");
        _cleanup_free_ char *path = xasprintf("/volumes/prune%s", q ? q : "");
        int64_t total = 0;
        if (cli_prune(path, "VolumesDeleted", "Deleted Volumes", false, &total) < 0)
                return 1;
        cli_print_reclaimed(total);
        return 0;
}

int cmd_volume(int argc, char **argv)
{
        if (argc < 2 || strcmp(argv[1], "--help") == 0) {
                printf("\nUsage:  berth volume COMMAND\n\nCommands:\n  create      Create a "
                       "volume\n  inspect     Display detailed information on one or more "
                       "volumes\n  ls          List volumes\n  prune       Remove unused local "
                       "volumes\n  rm          Remove one or more volumes\n");
                return argc < 2 ? 1 : 0;
        }
        const char *v = argv[1];
        if (strcmp(v, "create") == 0)
                return volume_create(argc - 1, argv + 1);
        if (strcmp(v, "ls") == 0 || strcmp(v, "list") == 0)
                return volume_ls(argc - 1, argv + 1);
        if (strcmp(v, "inspect") == 0)
                return cli_volume_inspect(argc - 1, argv + 1);
        if (strcmp(v, "rm") == 0 || strcmp(v, "remove") == 0)
                return volume_rm(argc - 1, argv + 1);
        if (strcmp(v, "prune") == 0)
                return volume_prune(argc - 1, argv + 1);
        fprintf(stderr, "berth: 'volume %s' is not a berth command.\nSee 'berth --help'\n", v);
        return 1;
}
