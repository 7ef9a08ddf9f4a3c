/* The pure half of stats: parsing cgroup and procfs text and building docker's stats JSON
 * from samples (no file access, no threads: unit-tested and fuzzed on its own). */
#include "daemon/state/stats.h"

#include <time.h>

void stats_sample_release(struct stats_sample *s)
{
        json_decref(s->cg);
        json_decref(s->percpu);
        json_decref(s->blkio);
        json_decref(s->networks);
        memset(s, 0, sizeof(*s));
}

/* ---------------------------------------------------------------- parsing */

uint64_t stats_parse_proc_stat(const char *text)
{
        /* "cpu  user nice system idle iowait irq softirq steal …" in clock ticks; docker sums
         * the first seven */
        const char *p = text;
        while (p && strncmp(p, "cpu ", 4)) {
                p = strchr(p, '\n');
                if (p)
                        p++;
        }
        if (!p)
                return 0;
        p += 4;
        uint64_t ticks = 0;
        for (int i = 0; i < 7; i++) {
                char *end;
                unsigned long long v = strtoull(p, &end, 10);
                if (end == p)
                        break;
                ticks += v;
                p = end;
        }
        long hz = sysconf(_SC_CLK_TCK);
        if (hz <= 0)
                hz = 100;
        return ticks * (1000000000ull / (uint64_t)hz);
}

/* "8:0 Read 4096" lines → [{"major", "minor", "op", "value"}] (the "Total" lines skipped by
 * docker too? no: docker keeps them; so do we) */
static json_t *blkio_v1_list(const char *text)
{
        json_t *out = json_array();
        if (!text)
                return out;
        _cleanup_free_ char *copy = xstrdup(text);
        char *save = NULL;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                unsigned maj, min;
                char op[32];
                unsigned long long v;
                if (sscanf(line, "%u:%u %31s %llu", &maj, &min, op, &v) == 4)
                        json_array_append_new(out,
                                              json_pack("{s:I, s:I, s:s, s:I}", "major",
                                                        (json_int_t)maj, "minor", (json_int_t)min,
                                                        "op", op, "value", (json_int_t)v));
        }
        return out;
}

static json_t *blkio_empty(void)
{
        return json_pack("{s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n}", "io_service_bytes_recursive",
                         "io_serviced_recursive", "io_queue_recursive", "io_service_time_recursive",
                         "io_wait_time_recursive", "io_merged_recursive", "io_time_recursive",
                         "sectors_recursive");
}

json_t *stats_parse_blkio_v1(const char *service_bytes, const char *serviced)
{
        json_t *b = blkio_empty();
        json_object_set_new(b, "io_service_bytes_recursive", blkio_v1_list(service_bytes));
        json_object_set_new(b, "io_serviced_recursive", blkio_v1_list(serviced));
        return b;
}

json_t *stats_parse_io_stat(const char *text)
{
        /* "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0": docker (v2) reports lowercase
         * "read"/"write" entries */
        json_t *bytes = json_array(), *ios = json_array();
        _cleanup_free_ char *copy = xstrdup(text ? text : "");
        char *save = NULL;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                unsigned maj, min;
                int off = 0;
                if (sscanf(line, "%u:%u%n", &maj, &min, &off) != 2)
                        continue;
                char *save2 = NULL;
                for (char *kv = strtok_r(line + off, " ", &save2); kv;
                     kv = strtok_r(NULL, " ", &save2)) {
                        char *eq = strchr(kv, '=');
                        if (!eq)
                                continue;
                        *eq = '\0';
                        unsigned long long v = strtoull(eq + 1, NULL, 10);
                        json_t *list = NULL;
                        const char *op = NULL;
                        if (!strcmp(kv, "rbytes"))
                                list = bytes, op = "read";
                        else if (!strcmp(kv, "wbytes"))
                                list = bytes, op = "write";
                        else if (!strcmp(kv, "rios"))
                                list = ios, op = "read";
                        else if (!strcmp(kv, "wios"))
                                list = ios, op = "write";
                        if (list)
                                json_array_append_new(
                                    list, json_pack("{s:I, s:I, s:s, s:I}", "major",
                                                    (json_int_t)maj, "minor", (json_int_t)min, "op",
                                                    op, "value", (json_int_t)v));
                }
        }
        json_t *b = blkio_empty();
        json_object_set_new(b, "io_service_bytes_recursive", bytes);
        json_object_set_new(b, "io_serviced_recursive", ios);
        return b;
}

json_t *stats_parse_net_dev(const char *text)
{
        /* two header lines, then "  eth0: rx_bytes rx_packets rx_errs rx_drop fifo frame
         * compressed multicast tx_bytes tx_packets tx_errs tx_drop …" */
        json_t *out = json_object();
        _cleanup_free_ char *copy = xstrdup(text ? text : "");
        char *save = NULL;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *colon = strchr(line, ':');
                if (!colon)
                        continue;
                *colon = '\0';
                char *name = line + strspn(line, " ");
                unsigned long long v[16] = {0};
                int n = sscanf(
                    colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
                    &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11]);
                if (n < 12 || !strcmp(name, "lo"))
                        continue;
                json_object_set_new(
                    out, name,
                    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "rx_bytes",
                              (json_int_t)v[0], "rx_packets", (json_int_t)v[1], "rx_errors",
                              (json_int_t)v[2], "rx_dropped", (json_int_t)v[3], "tx_bytes",
                              (json_int_t)v[8], "tx_packets", (json_int_t)v[9], "tx_errors",
                              (json_int_t)v[10], "tx_dropped", (json_int_t)v[11]));
        }
        return out;
}

/* ---------------------------------------------------------------- docker's JSON */

static json_int_t jget(json_t *o, const char *path)
{
        /* "a.b.c" */
        _cleanup_free_ char *copy = xstrdup(path);
        char *save = NULL;
        for (char *k = strtok_r(copy, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
                o = json_object_get(o, k);
        return json_integer_value(o);
}

static json_t *cpu_json(const struct stats_sample *s)
{
        json_t *usage =
            json_pack("{s:I, s:I, s:I}", "total_usage", s ? jget(s->cg, "cpu.usage.total") : 0,
                      "usage_in_kernelmode", s ? jget(s->cg, "cpu.usage.kernel") : 0,
                      "usage_in_usermode", s ? jget(s->cg, "cpu.usage.user") : 0);
        if (s && s->percpu)
                json_object_set(usage, "percpu_usage", s->percpu);
        json_t *cpu =
            json_pack("{s:o, s:{s:I, s:I, s:I}}", "cpu_usage", usage, "throttling_data", "periods",
                      s ? jget(s->cg, "cpu.throttling.periods") : 0, "throttled_periods",
                      s ? jget(s->cg, "cpu.throttling.throttledPeriods") : 0, "throttled_time",
                      s ? jget(s->cg, "cpu.throttling.throttledTime") : 0);
        if (s) {
                json_object_set_new(cpu, "system_cpu_usage",
                                    json_integer((json_int_t)s->system_cpu_ns));
                json_object_set_new(cpu, "online_cpus", json_integer(s->online_cpus));
        }
        return cpu;
}

static char *time_str(int64_t ns)
{
        if (ns <= 0)
                return xstrdup("0001-01-01T00:00:00Z");
        struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
        return berth_time_rfc3339(&ts);
}

json_t *stats_docker_json(const struct stats_sample *cur, const struct stats_sample *prev,
                          const char *id, const char *name)
{
        if (prev && prev->read_ns == 0)
                prev = NULL;
        if (cur && cur->read_ns == 0)
                cur = NULL;
        _cleanup_free_ char *read = time_str(cur ? cur->read_ns : 0);
        _cleanup_free_ char *preread = time_str(prev ? prev->read_ns : 0);
        _cleanup_free_ char *slash_name =
            name ? xasprintf("%s%s", name[0] == '/' ? "" : "/", name) : xstrdup("");
        json_t *o =
            json_pack("{s:s, s:s, s:o, s:o, s:I, s:{}, s:s, s:s}", "read", read, "preread", preread,
                      "cpu_stats", cpu_json(cur), "precpu_stats", cpu_json(prev), "num_procs",
                      (json_int_t)0, "storage_stats", "name", slash_name, "id", id);
        json_t *pids = json_object();
        json_t *mem = json_object();
        if (cur) {
                json_t *p = json_object_get(cur->cg, "pids");
                json_object_set_new(pids, "current", json_integer(jget(p, "current")));
                if (jget(p, "limit") > 0)
                        json_object_set_new(pids, "limit", json_integer(jget(p, "limit")));
                json_t *m = json_object_get(cur->cg, "memory");
                if (m) {
                        json_int_t limit = jget(m, "usage.limit");
                        /* no limit (-1, or v1's page-rounded huge value): the host's memory */
                        if (limit < 0 || (cur->mem_total && (uint64_t)limit > cur->mem_total))
                                limit = (json_int_t)cur->mem_total;
                        json_object_set_new(mem, "usage", json_integer(jget(m, "usage.usage")));
                        if (json_object_get(json_object_get(m, "usage"), "max"))
                                json_object_set_new(mem, "max_usage",
                                                    json_integer(jget(m, "usage.max")));
                        if (json_object_get(json_object_get(m, "usage"), "failcnt"))
                                json_object_set_new(mem, "failcnt",
                                                    json_integer(jget(m, "usage.failcnt")));
                        json_t *raw = json_object_get(m, "raw");
                        json_object_set_new(mem, "stats", raw ? json_incref(raw) : json_object());
                        json_object_set_new(mem, "limit", json_integer(limit));
                }
        }
        json_object_set_new(o, "pids_stats", pids);
        json_object_set_new(o, "memory_stats", mem);
        json_object_set_new(o, "blkio_stats",
                            cur && cur->blkio ? json_incref(cur->blkio) : blkio_empty());
        if (cur && cur->networks)
                json_object_set(o, "networks", cur->networks);
        return o;
}

void stats_start_baseline(const struct stats_sample *cur, struct stats_sample *ret)
{
        memset(ret, 0, sizeof(*ret));
        if (cur->started_ns <= 0 || cur->started_ns >= cur->read_ns)
                return;
        /* the host's cpu time (idle included) grows by online_cpus per second of wall time */
        uint64_t elapsed = (uint64_t)(cur->read_ns - cur->started_ns) * cur->online_cpus;
        if (elapsed >= cur->system_cpu_ns)
                return;
        ret->read_ns = cur->started_ns;
        ret->cg = json_pack("{s:{s:{s:i, s:i, s:i}}}", "cpu", "usage", "total", 0, "kernel", 0,
                            "user", 0);
        ret->system_cpu_ns = cur->system_cpu_ns - elapsed;
        ret->online_cpus = cur->online_cpus;
        ret->mem_total = cur->mem_total;
}
