/* Resource usage of a container's cgroup in the shape of runc's `events --stats` data, from
 * cgroup v1, v2 or hybrid hierarchies. */
#include "runtime/internal.h"

#define CGROUP_ROOT "/sys/fs/cgroup"

/* Open the dir of a v1 controller (or -1 when the container has none there). */
static int v1_open(const struct cgroup *cg, enum cgroup_v1_controller c)
{
        /* a controller co-mounted with another (cpuacct in systemd's "cpu,cpuacct") has no bit
         * of its own in the mask, but the container's dir is there under its name too */
        if (!(cg->v1_mask & (1u << c)) && !(c == CG1_CPUACCT && (cg->v1_mask & (1u << CG1_CPU))))
                return -1;
        _cleanup_free_ char *dir = xasprintf(CGROUP_ROOT "/%s/%s", cgroup_v1_name(c), cg->path);
        return open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

static bool read_u64(int dirfd, const char *file, uint64_t *ret)
{
        _cleanup_free_ char *v = NULL;
        if (dirfd < 0 || berth_read_file_at(dirfd, file, 4096, &v, NULL, NULL) < 0)
                return false;
        if (!strncmp(v, "max", 3)) {
                *ret = UINT64_MAX;
                return true;
        }
        return berth_parse_u64(strtok(v, " \n"), ret) == 0;
}

/* "key value" lines into a JSON object of integers; returns NULL when the file is missing. */
static json_t *read_kv(int dirfd, const char *file)
{
        _cleanup_free_ char *v = NULL;
        if (dirfd < 0 || berth_read_file_at(dirfd, file, 1 << 16, &v, NULL, NULL) < 0)
                return NULL;
        json_t *o = json_object();
        char *save = NULL;
        for (char *line = strtok_r(v, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *sp = strchr(line, ' ');
                uint64_t n;
                if (!sp)
                        continue;
                *sp = '\0';
                if (berth_parse_u64(sp + 1, &n) == 0)
                        json_object_set_new(o, line, json_integer((json_int_t)n));
        }
        return o;
}

static json_int_t jget(json_t *o, const char *k)
{
        return json_integer_value(json_object_get(o, k));
}

static void set_u64(json_t *o, const char *k, uint64_t v)
{
        json_object_set_new(o, k, json_integer(v == UINT64_MAX ? -1 : (json_int_t)v));
}

static json_t *stats_v2(const struct cgroup *cg)
{
        int d = cg->unified_fd;
        json_t *data = json_object();
        uint64_t v;
        _cleanup_json_ json_t *cpu = read_kv(d, "cpu.stat");
        if (cpu) {
                json_t *usage = json_pack(
                    "{s:I, s:I, s:I}", "total", jget(cpu, "usage_usec") * 1000, "kernel",
                    jget(cpu, "system_usec") * 1000, "user", jget(cpu, "user_usec") * 1000);
                json_t *thr = json_pack("{s:I, s:I, s:I}", "periods", jget(cpu, "nr_periods"),
                                        "throttledPeriods", jget(cpu, "nr_throttled"),
                                        "throttledTime", jget(cpu, "throttled_usec") * 1000);
                json_object_set_new(data, "cpu",
                                    json_pack("{s:o, s:o}", "usage", usage, "throttling", thr));
        }
        json_t *mu = json_object();
        if (read_u64(d, "memory.current", &v))
                set_u64(mu, "usage", v);
        if (read_u64(d, "memory.max", &v))
                set_u64(mu, "limit", v);
        if (read_u64(d, "memory.peak", &v))
                set_u64(mu, "max", v);
        if (json_object_size(mu)) {
                json_t *mem = json_pack("{s:o}", "usage", mu);
                json_t *raw = read_kv(d, "memory.stat");
                if (raw)
                        json_object_set_new(mem, "raw", raw);
                json_t *sw = json_object();
                if (read_u64(d, "memory.swap.current", &v))
                        set_u64(sw, "usage", v);
                if (read_u64(d, "memory.swap.max", &v))
                        set_u64(sw, "limit", v);
                json_object_set_new(mem, "swap", sw);
                _cleanup_json_ json_t *ev = read_kv(d, "memory.events");
                if (ev)
                        json_object_set_new(mem, "oomKill", json_integer(jget(ev, "oom_kill")));
                json_object_set_new(data, "memory", mem);
        } else {
                json_decref(mu);
        }
        json_t *pids = json_object();
        if (read_u64(d, "pids.current", &v))
                set_u64(pids, "current", v);
        if (read_u64(d, "pids.max", &v))
                set_u64(pids, "limit", v == UINT64_MAX ? 0 : v);
        json_object_set_new(data, "pids", pids);
        return data;
}

/* Hybrid and v1: each controller from its own hierarchy (where the container has a dir). */
static json_t *stats_v1(const struct cgroup *cg)
{
        json_t *data = json_object();
        uint64_t v;
        _cleanup_close_ int acct = v1_open(cg, CG1_CPUACCT);
        if (acct >= 0 && read_u64(acct, "cpuacct.usage", &v)) {
                json_t *usage = json_pack("{s:I}", "total", (json_int_t)v);
                _cleanup_json_ json_t *st = read_kv(acct, "cpuacct.stat");
                long hz = sysconf(_SC_CLK_TCK);
                if (st && hz > 0) {
                        json_object_set_new(usage, "user",
                                            json_integer(jget(st, "user") * 1000000000 / hz));
                        json_object_set_new(usage, "kernel",
                                            json_integer(jget(st, "system") * 1000000000 / hz));
                }
                json_object_set_new(data, "cpu", json_pack("{s:o}", "usage", usage));
        } else if (cg->unified_fd >= 0) {
                /* hybrid: cgroup2 keeps basic cpu accounting without any controller */
                _cleanup_json_ json_t *cpu = read_kv(cg->unified_fd, "cpu.stat");
                if (cpu)
                        json_object_set_new(data, "cpu",
                                            json_pack("{s:{s:I, s:I, s:I}}", "usage", "total",
                                                      jget(cpu, "usage_usec") * 1000, "kernel",
                                                      jget(cpu, "system_usec") * 1000, "user",
                                                      jget(cpu, "user_usec") * 1000));
        }
        _cleanup_close_ int mem = v1_open(cg, CG1_MEMORY);
        if (mem >= 0) {
                json_t *mu = json_object();
                if (read_u64(mem, "memory.usage_in_bytes", &v))
                        set_u64(mu, "usage", v);
                if (read_u64(mem, "memory.limit_in_bytes", &v))
                        set_u64(mu, "limit", v);
                if (read_u64(mem, "memory.max_usage_in_bytes", &v))
                        set_u64(mu, "max", v);
                if (read_u64(mem, "memory.failcnt", &v))
                        set_u64(mu, "failcnt", v);
                json_t *m = json_pack("{s:o}", "usage", mu);
                json_t *raw = read_kv(mem, "memory.stat");
                if (raw)
                        json_object_set_new(m, "raw", raw);
                _cleanup_json_ json_t *oom = read_kv(mem, "memory.oom_control");
                if (oom)
                        json_object_set_new(m, "oomKill", json_integer(jget(oom, "oom_kill")));
                json_object_set_new(data, "memory", m);
        }
        _cleanup_close_ int pd = v1_open(cg, CG1_PIDS);
        json_t *pids = json_object();
        if (pd >= 0) {
                if (read_u64(pd, "pids.current", &v))
                        set_u64(pids, "current", v);
                if (read_u64(pd, "pids.max", &v))
                        set_u64(pids, "limit", v == UINT64_MAX ? 0 : v);
        } else {
                /* no pids controller: count the tracked processes */
                _cleanup_free_ pid_t *list = NULL;
                size_t n = 0;
                if (cgroup_pids((struct cgroup *)cg, &list, &n, NULL) == 0)
                        set_u64(pids, "current", n);
        }
        json_object_set_new(data, "pids", pids);
        return data;
}

json_t *cgroup_stats(const struct cgroup *cg)
{
        return cg->mode == CGROUP_MODE_V2 ? stats_v2(cg) : stats_v1(cg);
}
