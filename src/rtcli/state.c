/* state, list, kill, delete */
#include "rtcli/rtcli.h"

#include <getopt.h>
#include <time.h>

static int print_json(json_t *j)
{
        _cleanup_free_ char *s = berth_json_dump(j, true);
        printf("%s\n", s);
        return 0;
}

int rtcli_state(struct rtcli *cli, int argc, char **argv)
{
        const char *id = rtcli_one_id("state", argc, argv);
        if (!id)
                return 1;
        struct berth_error *err = NULL;
        _cleanup_json_ json_t *st = NULL;
        if (berth_container_state(&cli->rt, id, &st, &err) < 0)
                return rtcli_fail(err);
        return print_json(st);
}

int rtcli_list(struct rtcli *cli, int argc, char **argv)
{
        static const struct option opts[] = {
            {"format", required_argument, NULL, 'f'},
            {"quiet", no_argument, NULL, 'q'},
            {0},
        };
        const char *format = "table";
        bool quiet = false;
        int c;
        opterr = 0;
        while ((c = getopt_long_only(argc, argv, "f:q", opts, NULL)) != -1) {
                if (c == 'f')
                        format = optarg;
                else if (c == 'q')
                        quiet = true;
                else
                        return rtcli_usage("list", "unknown option `%s`", argv[optind - 1]);
        }
        if (strcmp(format, "table") && strcmp(format, "json"))
                return rtcli_usage("list", "--format must be table or json, not `%s`", format);
        struct berth_error *err = NULL;
        _cleanup_json_ json_t *list = NULL;
        if (berth_container_list(&cli->rt, &list, &err) < 0)
                return rtcli_fail(err);
        size_t i;
        json_t *e;
        if (quiet) {
                json_array_foreach(list, i, e)
                    printf("%s\n", json_string_value(json_object_get(e, "id")));
                return 0;
        }
        if (!strcmp(format, "json"))
                return print_json(list);
        /* runc's table: Go's tabwriter with a minimum width of 12 and a padding of 3 */
        static const char *const head[] = {"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"};
        size_t n = json_array_size(list), w[6];
        char *(*cells)[6] = xcalloc(n + 1, sizeof(*cells));
        for (int k = 0; k < 6; k++)
                cells[0][k] = xstrdup(head[k]);
        json_array_foreach(list, i, e)
        {
                cells[i + 1][0] = xstrdup(json_string_value(json_object_get(e, "id")));
                cells[i + 1][1] =
                    xasprintf("%lld", (long long)json_integer_value(json_object_get(e, "pid")));
                cells[i + 1][2] = xstrdup(json_string_value(json_object_get(e, "status")));
                cells[i + 1][3] = xstrdup(json_string_value(json_object_get(e, "bundle")));
                cells[i + 1][4] = xstrdup(json_string_value(json_object_get(e, "created")));
                cells[i + 1][5] = xstrdup(json_string_value(json_object_get(e, "owner")) ?: "");
        }
        for (int k = 0; k < 6; k++) {
                w[k] = 12;
                for (size_t r = 0; r <= n; r++)
                        if (strlen(cells[r][k]) + 3 > w[k])
                                w[k] = strlen(cells[r][k]) + 3;
        }
        for (size_t r = 0; r <= n; r++) {
                for (int k = 0; k < 6; k++) {
                        if (k < 5)
                                printf("%-*s", (int)w[k], cells[r][k]);
                        else
                                printf("%s\n", cells[r][k]);
                        free(cells[r][k]);
                }
        }
        free(cells);
        return 0;
}

int rtcli_kill(struct rtcli *cli, int argc, char **argv)
{
        static const struct option opts[] = {{"all", no_argument, NULL, 'a'}, {0}};
        bool all = false;
        int c;
        opterr = 0;
        while ((c = getopt_long_only(argc, argv, "a", opts, NULL)) != -1) {
                if (c == 'a')
                        all = true;
                else
                        return rtcli_usage("kill", "unknown option `%s`", argv[optind - 1]);
        }
        if (optind >= argc)
                return rtcli_usage("kill", "requires a container id");
        if (argc - optind > 2)
                return rtcli_usage("kill", "takes a container id and an optional signal");
        const char *id = argv[optind];
        int sig = SIGTERM;
        if (argc - optind == 2) {
                sig = berth_signal_parse(argv[optind + 1]);
                if (sig < 0)
                        return rtcli_usage("kill", "unknown signal `%s`", argv[optind + 1]);
        }
        struct berth_error *err = NULL;
        if (berth_container_kill(&cli->rt, id, sig, all, &err) < 0)
                return rtcli_fail(err);
        return 0;
}

int rtcli_delete(struct rtcli *cli, int argc, char **argv)
{
        static const struct option opts[] = {{"force", no_argument, NULL, 'f'}, {0}};
        bool force = false;
        int c;
        opterr = 0;
        while ((c = getopt_long_only(argc, argv, "f", opts, NULL)) != -1) {
                if (c == 'f')
                        force = true;
                else
                        return rtcli_usage("delete", "unknown option `%s`", argv[optind - 1]);
        }
        const char *id = rtcli_one_id("delete", argc, argv);
        if (!id)
                return 1;
        struct berth_error *err = NULL;
        if (berth_container_delete(&cli->rt, id, force, &err) < 0) {
                /* like runc: --force on a container that is already gone is not an error */
                if (force && err && err->code == ENOENT) {
                        berth_error_free(err);
                        return 0;
                }
                return rtcli_fail(err);
        }
        return 0;
}
