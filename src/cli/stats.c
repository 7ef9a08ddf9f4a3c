/* stats: docker's CPU/memory/IO arithmetic over the stats JSON, one-shot or a live table. */
#include <inttypes.h>
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
        bool no_trunc = cli_arg_bool(&a, "no-trunc");
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
                        json_t *row = stats_row(s, explicit ? *p : NULL, pv);
                        const char *fid = json_string_value(json_object_get(s, "id"));
                        if (no_trunc && fid) {
                                json_object_set_new(row, "ID", json_string(fid));
                                if (!explicit)
                                        json_object_set_new(row, "Container", json_string(fid));
                        }
                        json_array_append_new(rows, row);
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
