/* Container cgroups on cgroup v1, v2 and hybrid hosts.
 *
 * v2: one dir under /sys/fs/cgroup, entered with clone3(CLONE_INTO_CGROUP).
 * hybrid (v1 controllers + an empty cgroup2 at /sys/fs/cgroup/unified): the unified dir tracks
 * the processes (CLONE_INTO_CGROUP, cgroup.kill, cgroup.freeze work without controllers), and
 * the container joins every mounted v1 hierarchy like runc, so its memory, cpu and pids are
 * accounted (stats, `update` later, devices.list inside) even when no limit was set.
 * v1: a dir in every mounted hierarchy, like runc.
 * berth only ever writes inside dirs it created, plus ancestors' cgroup.subtree_control on v2.
 */
#include "runtime/internal.h"

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#define CGROUP_ROOT "/sys/fs/cgroup"

static const char *const v1_names[CG1_COUNT] = {
    [CG1_CPU] = "cpu",         [CG1_CPUACCT] = "cpuacct",   [CG1_CPUSET] = "cpuset",
    [CG1_MEMORY] = "memory",   [CG1_DEVICES] = "devices",   [CG1_FREEZER] = "freezer",
    [CG1_BLKIO] = "blkio",     [CG1_PIDS] = "pids",         [CG1_HUGETLB] = "hugetlb",
    [CG1_NET_CLS] = "net_cls", [CG1_NET_PRIO] = "net_prio", [CG1_PERF_EVENT] = "perf_event",
    [CG1_RDMA] = "rdma",       [CG1_MISC] = "misc",
};

const char *cgroup_v1_name(enum cgroup_v1_controller c)
{
        return c < CG1_COUNT ? v1_names[c] : NULL;
}

int cgroup_detect_mode(enum cgroup_mode *ret_mode, struct berth_error **err)
{
        static int cached = -1;
        if (cached >= 0) {
                *ret_mode = (enum cgroup_mode)cached;
                return 0;
        }
        struct statfs sfs;
        if (statfs(CGROUP_ROOT, &sfs) < 0)
                return berth_error_set(err, errno, "statfs `" CGROUP_ROOT "`");
        if (sfs.f_type == CGROUP2_SUPER_MAGIC) {
                cached = CGROUP_MODE_V2;
        } else if (sfs.f_type == TMPFS_MAGIC) {
                struct statfs u;
                bool hybrid =
                    statfs(CGROUP_ROOT "/unified", &u) == 0 && u.f_type == CGROUP2_SUPER_MAGIC;
                cached = hybrid ? CGROUP_MODE_HYBRID : CGROUP_MODE_V1;
        } else {
                return berth_error_setx(err, ENOTSUP,
                                        "`" CGROUP_ROOT "` is neither cgroup2 nor a "
                                        "tmpfs of v1 hierarchies");
        }
        *ret_mode = (enum cgroup_mode)cached;
        return 0;
}

static bool path_ok(const char *p)
{
        if (!*p)
                return false;
        for (const char *c = p; *c;) {
                const char *slash = strchr(c, '/');
                size_t n = slash ? (size_t)(slash - c) : strlen(c);
                if ((n == 2 && !strncmp(c, "..", 2)) || (n == 1 && *c == '.'))
                        return false;
                c += n;
                while (*c == '/')
                        c++;
        }
        return true;
}

/* systemd slice "a-b.slice" lives at "a.slice/a-b.slice" */
static char *expand_slice(const char *slice)
{
        if (!strcmp(slice, "-.slice") || !*slice)
                return xstrdup("");
        size_t n = strlen(slice);
        if (n < 6 || strcmp(slice + n - 6, ".slice"))
                return NULL;
        _cleanup_free_ char *out = xstrdup("");
        for (const char *dash = strchr(slice, '-'); dash && dash < slice + n - 6;
             dash = strchr(dash + 1, '-')) {
                char *next = xasprintf("%s%.*s.slice/", out, (int)(dash - slice), slice);
                free(out);
                out = next;
        }
        char *full = xasprintf("%s%s", out, slice);
        return full;
}

char *cgroup_path_for(const char *cgroups_path, const char *id, struct berth_error **err)
{
        if (!cgroups_path || !*cgroups_path)
                return xasprintf("berth/%s", id);
        const char *c1 = strchr(cgroups_path, ':');
        if (c1 && !strchr(cgroups_path, '/')) {
                const char *c2 = strchr(c1 + 1, ':');
                if (!c2 || strchr(c2 + 1, ':')) {
                        berth_error_setx(err, EINVAL,
                                         "linux.cgroupsPath `%s`: expected "
                                         "slice:prefix:name",
                                         cgroups_path);
                        return NULL;
                }
                _cleanup_free_ char *slice_name =
                    xstrndup(cgroups_path, (size_t)(c1 - cgroups_path));
                _cleanup_free_ char *prefix = xstrndup(c1 + 1, (size_t)(c2 - c1 - 1));
                const char *name = c2 + 1;
                _cleanup_free_ char *slice =
                    expand_slice(*slice_name ? slice_name : "system.slice");
                if (!slice || !*name || strchr(prefix, '/') || !path_ok(name)) {
                        berth_error_setx(err, EINVAL,
                                         "linux.cgroupsPath `%s`: invalid systemd path",
                                         cgroups_path);
                        return NULL;
                }
                _cleanup_free_ char *unit =
                    *prefix ? xasprintf("%s-%s.scope", prefix, name) : xasprintf("%s.scope", name);
                return *slice ? xasprintf("%s/%s", slice, unit) : xstrdup(unit);
        }
        bool absolute = cgroups_path[0] == '/';
        const char *p = cgroups_path;
        while (*p == '/')
                p++;
        _cleanup_free_ char *trimmed = xstrdup(p);
        size_t n = strlen(trimmed);
        while (n > 0 && trimmed[n - 1] == '/')
                trimmed[--n] = '\0';
        if (!path_ok(trimmed)) {
                berth_error_setx(err, EINVAL, "linux.cgroupsPath `%s`: invalid path", cgroups_path);
                return NULL;
        }
        return absolute ? TAKE_PTR(trimmed) : xasprintf("berth/%s", trimmed);
}

uint64_t cgroup_shares_to_weight(uint64_t shares)
{
        if (shares == 0)
                return 0;
        if (shares < 2)
                shares = 2;
        if (shares > 262144)
                shares = 262144;
        return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t cgroup_blkio_weight_to_io_weight(uint64_t weight)
{
        if (weight == 0)
                return 0;
        if (weight < 10)
                weight = 10;
        if (weight > 1000)
                weight = 1000;
        return 1 + ((weight - 10) * 9999) / 990;
}

void cgroup_cpu_max(int64_t quota, int64_t period, char *buf, size_t len)
{
        if (period <= 0)
                period = 100000;
        if (quota < 0)
                snprintf(buf, len, "max %lld", (long long)period);
        else
                snprintf(buf, len, "%lld %lld", (long long)quota, (long long)period);
}

/* ---------------------------------------------------------------- writing knobs */

static int knob(int dirfd, const char *file, const char *value, struct berth_error **err)
{
        _cleanup_close_ int fd = openat(dirfd, file, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return berth_error_set(err, errno, "cgroup: open `%s`", file);
        ssize_t n = write(fd, value, strlen(value));
        if (n != (ssize_t)strlen(value))
                return berth_error_set(err, n < 0 ? errno : EIO, "cgroup: write `%s` = `%s`", file,
                                       value);
        return 0;
}

static int knob_i64(int dirfd, const char *file, int64_t v, struct berth_error **err)
{
        char buf[32];
        snprintf(buf, sizeof(buf), "%lld", (long long)v);
        return knob(dirfd, file, buf, err);
}

static int knob_max(int dirfd, const char *file, int64_t v, struct berth_error **err)
{
        if (v < 0)
                return knob(dirfd, file, "max", err);
        return knob_i64(dirfd, file, v, err);
}

static bool set(int64_t v)
{
        return v != SPEC_UNSET;
}

/* pids.max for linux.resources.pids.limit: negative is unlimited; 0 is a limit like any other
 * (runc), and the smallest that lets the init it holds live is 1. */
static int64_t pids_max(int64_t limit)
{
        return limit < 0 ? -1 : limit == 0 ? 1 : limit;
}

static uint32_t needed_v1(const struct spec_resources *r)
{
        uint32_t m = 0;
        if (!r)
                return 0;
        if (set(r->mem_limit) || set(r->mem_reservation) || set(r->mem_swap) ||
            set(r->mem_swappiness) || r->mem_disable_oom_killer)
                m |= 1u << CG1_MEMORY;
        if (set(r->cpu_shares) || set(r->cpu_quota) || set(r->cpu_period) ||
            set(r->cpu_rt_runtime) || set(r->cpu_rt_period) || set(r->cpu_idle))
                m |= 1u << CG1_CPU;
        if (r->cpu_cpus || r->cpu_mems)
                m |= 1u << CG1_CPUSET;
        if (set(r->pids_limit))
                m |= 1u << CG1_PIDS;
        if (set(r->blkio_weight) || set(r->blkio_leaf_weight) || r->n_blkio_weight_devices ||
            r->n_throttle[0] || r->n_throttle[1] || r->n_throttle[2] || r->n_throttle[3])
                m |= 1u << CG1_BLKIO;
        if (r->n_hugepages)
                m |= 1u << CG1_HUGETLB;
        if (r->n_device_rules)
                m |= 1u << CG1_DEVICES;
        return m;
}

/* Device rules as one eBPF program, the spec's rules followed by the defaults every container
 * gets. On hybrid hosts this replaces the v1 devices controller: the kernel runs the program of
 * the task's cgroup2 cgroup whatever controllers that hierarchy has, and it saves an attach to a
 * v1 hierarchy on every start.
 */
static int bpf_devices(int dirfd, const struct spec_resources *r, struct berth_error **err)
{
        size_t n = r->n_device_rules + cgroup_n_default_allow;
        _cleanup_free_ struct spec_device_rule *all = xcalloc(n, sizeof(*all));
        memcpy(all, r->device_rules, r->n_device_rules * sizeof(*all));
        memcpy(all + r->n_device_rules, cgroup_default_allow,
               cgroup_n_default_allow * sizeof(*all));
        return cgroup_bpf_devices(dirfd, all, n, err);
}

const struct spec_device_rule cgroup_default_allow[] = {
    {true, 'c', -1, -1, "m"}, {true, 'b', -1, -1, "m"},    {true, 'c', 1, 3, "rwm"},
    {true, 'c', 1, 5, "rwm"}, {true, 'c', 1, 7, "rwm"},    {true, 'c', 1, 8, "rwm"},
    {true, 'c', 1, 9, "rwm"}, {true, 'c', 5, 0, "rwm"},    {true, 'c', 5, 1, "rwm"},
    {true, 'c', 5, 2, "rwm"}, {true, 'c', 136, -1, "rwm"}, {true, 'c', 10, 200, "rwm"},
};
const size_t cgroup_n_default_allow = ARRAY_SIZE(cgroup_default_allow);

static void devnum(char *buf, size_t len, int64_t v)
{
        if (v < 0)
                snprintf(buf, len, "*");
        else
                snprintf(buf, len, "%lld", (long long)v);
}

static int v1_device_rule(int allowfd, int denyfd, const struct spec_device_rule *d,
                          struct berth_error **err)
{
        char line[64], ma[24], mi[24];
        if (d->type == 'a') {
                snprintf(line, sizeof(line), "a");
        } else {
                devnum(ma, sizeof(ma), d->major);
                devnum(mi, sizeof(mi), d->minor);
                snprintf(line, sizeof(line), "%c %s:%s %s", d->type, ma, mi, d->access);
        }
        int fd = d->allow ? allowfd : denyfd;
        if (write(fd, line, strlen(line)) < 0)
                return berth_error_set(err, errno, "cgroup: write `devices.%s` = `%s`",
                                       d->allow ? "allow" : "deny", line);
        return 0;
}

static int v1_devices(int dirfd, const struct spec_resources *r, struct berth_error **err)
{
        _cleanup_close_ int allowfd = openat(dirfd, "devices.allow", O_WRONLY | O_CLOEXEC);
        _cleanup_close_ int denyfd = openat(dirfd, "devices.deny", O_WRONLY | O_CLOEXEC);
        if (allowfd < 0 || denyfd < 0)
                return berth_error_set(err, errno, "cgroup: open `devices.allow`");
        for (size_t i = 0; i < r->n_device_rules; i++)
                if (v1_device_rule(allowfd, denyfd, &r->device_rules[i], err) < 0)
                        return -EIO;
        for (size_t i = 0; i < cgroup_n_default_allow; i++)
                if (v1_device_rule(allowfd, denyfd, &cgroup_default_allow[i], err) < 0)
                        return -EIO;
        return 0;
}

static int v1_memory(int dirfd, const struct spec_resources *r, struct berth_error **err)
{
        if (set(r->mem_limit) && set(r->mem_swap) && r->mem_swap >= 0) {
                /* memsw must stay >= the limit: order the writes so it always does */
                _cleanup_error_ struct berth_error *e = NULL;
                if (knob_i64(dirfd, "memory.limit_in_bytes", r->mem_limit, &e) < 0) {
                        if (knob_i64(dirfd, "memory.memsw.limit_in_bytes", r->mem_swap, err) < 0 ||
                            knob_i64(dirfd, "memory.limit_in_bytes", r->mem_limit, err) < 0)
                                return -EIO;
                } else if (faccessat(dirfd, "memory.memsw.limit_in_bytes", F_OK, 0) == 0) {
                        if (knob_i64(dirfd, "memory.memsw.limit_in_bytes", r->mem_swap, err) < 0)
                                return -EIO;
                } else {
                        berth_warn("swap accounting is off: memory.swap ignored");
                }
        } else {
                if (set(r->mem_limit) &&
                    knob_i64(dirfd, "memory.limit_in_bytes", r->mem_limit, err) < 0)
                        return -EIO;
                if (set(r->mem_swap) &&
                    faccessat(dirfd, "memory.memsw.limit_in_bytes", F_OK, 0) == 0 &&
                    knob_i64(dirfd, "memory.memsw.limit_in_bytes", r->mem_swap, err) < 0)
                        return -EIO;
        }
        if (set(r->mem_reservation) &&
            knob_i64(dirfd, "memory.soft_limit_in_bytes", r->mem_reservation, err) < 0)
                return -EIO;
        if (set(r->mem_swappiness) &&
            knob_i64(dirfd, "memory.swappiness", r->mem_swappiness, err) < 0)
                return -EIO;
        if (r->mem_disable_oom_killer && knob(dirfd, "memory.oom_control", "1", err) < 0)
                return -EIO;
        return 0;
}

static int write_devices_lines(int dirfd, const char *file, const char *fmt_key,
                               const struct spec_throttle *t, size_t n, struct berth_error **err)
{
        for (size_t i = 0; i < n; i++) {
                char line[96];
                snprintf(line, sizeof(line), "%lld:%lld %s%llu", (long long)t[i].major,
                         (long long)t[i].minor, fmt_key, (unsigned long long)t[i].rate);
                if (knob(dirfd, file, line, err) < 0)
                        return -EIO;
        }
        return 0;
}

static int v1_blkio(int dirfd, const struct spec_resources *r, struct berth_error **err)
{
        /* kernels with only BFQ expose blkio.bfq.weight instead of blkio.weight */
        const char *wfile =
            faccessat(dirfd, "blkio.weight", F_OK, 0) == 0 ? "blkio.weight" : "blkio.bfq.weight";
        if (set(r->blkio_weight) && knob_i64(dirfd, wfile, r->blkio_weight, err) < 0)
                return -EIO;
        if (set(r->blkio_leaf_weight) &&
            knob_i64(dirfd, "blkio.leaf_weight", r->blkio_leaf_weight, err) < 0)
                return -EIO;
        for (size_t i = 0; i < r->n_blkio_weight_devices; i++) {
                const struct spec_weight_device *w = &r->blkio_weight_devices[i];
                char line[96];
                if (set(w->weight)) {
                        snprintf(line, sizeof(line), "%lld:%lld %lld", (long long)w->major,
                                 (long long)w->minor, (long long)w->weight);
                        if (knob(dirfd, "blkio.weight_device", line, err) < 0)
                                return -EIO;
                }
                if (set(w->leaf_weight)) {
                        snprintf(line, sizeof(line), "%lld:%lld %lld", (long long)w->major,
                                 (long long)w->minor, (long long)w->leaf_weight);
                        if (knob(dirfd, "blkio.leaf_weight_device", line, err) < 0)
                                return -EIO;
                }
        }
        static const char *const files[4] = {
            "blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
            "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device"};
        for (int k = 0; k < 4; k++)
                if (write_devices_lines(dirfd, files[k], "", r->throttle[k], r->n_throttle[k],
                                        err) < 0)
                        return -EIO;
        return 0;
}

/* Apply the resources of one v1 controller to its dir. */
static int v1_apply(enum cgroup_v1_controller c, int dirfd, const struct spec_resources *r,
                    struct berth_error **err)
{
        switch (c) {
        case CG1_MEMORY:
                return v1_memory(dirfd, r, err);
        case CG1_CPU:
                if (set(r->cpu_shares) && knob_i64(dirfd, "cpu.shares", r->cpu_shares, err) < 0)
                        return -EIO;
                if (set(r->cpu_period) &&
                    knob_i64(dirfd, "cpu.cfs_period_us", r->cpu_period, err) < 0)
                        return -EIO;
                if (set(r->cpu_quota) && knob_i64(dirfd, "cpu.cfs_quota_us", r->cpu_quota, err) < 0)
                        return -EIO;
                if (set(r->cpu_rt_period) &&
                    knob_i64(dirfd, "cpu.rt_period_us", r->cpu_rt_period, err) < 0)
                        return -EIO;
                if (set(r->cpu_rt_runtime) &&
                    knob_i64(dirfd, "cpu.rt_runtime_us", r->cpu_rt_runtime, err) < 0)
                        return -EIO;
                if (set(r->cpu_idle) && faccessat(dirfd, "cpu.idle", F_OK, 0) == 0 &&
                    knob_i64(dirfd, "cpu.idle", r->cpu_idle, err) < 0)
                        return -EIO;
                return 0;
        case CG1_CPUSET:
                if (r->cpu_cpus && knob(dirfd, "cpuset.cpus", r->cpu_cpus, err) < 0)
                        return -EIO;
                if (r->cpu_mems && knob(dirfd, "cpuset.mems", r->cpu_mems, err) < 0)
                        return -EIO;
                return 0;
        case CG1_PIDS:
                if (set(r->pids_limit))
                        return knob_max(dirfd, "pids.max", pids_max(r->pids_limit), err);
                return 0;
        case CG1_BLKIO:
                return v1_blkio(dirfd, r, err);
        case CG1_HUGETLB:
                for (size_t i = 0; i < r->n_hugepages; i++) {
                        _cleanup_free_ char *f =
                            xasprintf("hugetlb.%s.limit_in_bytes", r->hugepages[i].pagesize);
                        if (knob_i64(dirfd, f, (int64_t)r->hugepages[i].limit, err) < 0)
                                return -EIO;
                }
                return 0;
        case CG1_DEVICES:
                return r->n_device_rules ? v1_devices(dirfd, r, err) : 0;
        default:
                return 0;
        }
}

static int v2_apply(int dirfd, const struct spec_resources *r, struct berth_error **err)
{
        char buf[64];
        if (set(r->mem_limit) && knob_max(dirfd, "memory.max", r->mem_limit, err) < 0)
                return -EIO;
        if (set(r->mem_reservation) && knob_max(dirfd, "memory.low", r->mem_reservation, err) < 0)
                return -EIO;
        if (set(r->mem_swap)) {
                /* v1's swap is memory+swap; v2's memory.swap.max is swap alone */
                int64_t swap = r->mem_swap;
                if (swap >= 0 && set(r->mem_limit) && r->mem_limit >= 0) {
                        if (swap < r->mem_limit)
                                return berth_error_setx(err, EINVAL,
                                                        "cgroup: memory.swap (%lld) is below "
                                                        "memory.limit (%lld)",
                                                        (long long)swap, (long long)r->mem_limit);
                        swap -= r->mem_limit;
                }
                if (faccessat(dirfd, "memory.swap.max", F_OK, 0) == 0) {
                        if (knob_max(dirfd, "memory.swap.max", swap, err) < 0)
                                return -EIO;
                } else if (swap != 0) {
                        berth_warn("swap accounting is off: memory.swap ignored");
                }
        }
        if (r->mem_disable_oom_killer)
                berth_warn("cgroup v2 has no OOM-killer switch: disableOOMKiller ignored");
        if (set(r->cpu_shares)) {
                snprintf(buf, sizeof(buf), "%llu",
                         (unsigned long long)cgroup_shares_to_weight((uint64_t)r->cpu_shares));
                if (knob(dirfd, "cpu.weight", buf, err) < 0)
                        return -EIO;
        }
        if (set(r->cpu_quota) || set(r->cpu_period)) {
                cgroup_cpu_max(set(r->cpu_quota) ? r->cpu_quota : -1,
                               set(r->cpu_period) ? r->cpu_period : 100000, buf, sizeof(buf));
                if (knob(dirfd, "cpu.max", buf, err) < 0)
                        return -EIO;
        }
        if (set(r->cpu_idle) && knob_i64(dirfd, "cpu.idle", r->cpu_idle, err) < 0)
                return -EIO;
        if (r->cpu_cpus && knob(dirfd, "cpuset.cpus", r->cpu_cpus, err) < 0)
                return -EIO;
        if (r->cpu_mems && knob(dirfd, "cpuset.mems", r->cpu_mems, err) < 0)
                return -EIO;
        if (set(r->pids_limit) && knob_max(dirfd, "pids.max", pids_max(r->pids_limit), err) < 0)
                return -EIO;
        if (set(r->blkio_weight)) {
                uint64_t w = cgroup_blkio_weight_to_io_weight((uint64_t)r->blkio_weight);
                if (faccessat(dirfd, "io.weight", F_OK, 0) == 0)
                        snprintf(buf, sizeof(buf), "default %llu", (unsigned long long)w);
                else
                        snprintf(buf, sizeof(buf), "%lld", (long long)r->blkio_weight);
                if (knob(dirfd,
                         faccessat(dirfd, "io.weight", F_OK, 0) == 0 ? "io.weight"
                                                                     : "io.bfq.weight",
                         buf, err) < 0)
                        return -EIO;
        }
        for (size_t i = 0; i < r->n_blkio_weight_devices; i++) {
                const struct spec_weight_device *w = &r->blkio_weight_devices[i];
                if (!set(w->weight))
                        continue;
                snprintf(buf, sizeof(buf), "%lld:%lld %llu", (long long)w->major,
                         (long long)w->minor,
                         (unsigned long long)cgroup_blkio_weight_to_io_weight((uint64_t)w->weight));
                if (knob(dirfd, "io.weight", buf, err) < 0)
                        return -EIO;
        }
        static const char *const keys[4] = {"rbps=", "wbps=", "riops=", "wiops="};
        for (int k = 0; k < 4; k++)
                if (write_devices_lines(dirfd, "io.max", keys[k], r->throttle[k], r->n_throttle[k],
                                        err) < 0)
                        return -EIO;
        for (size_t i = 0; i < r->n_hugepages; i++) {
                _cleanup_free_ char *f = xasprintf("hugetlb.%s.max", r->hugepages[i].pagesize);
                if (knob_i64(dirfd, f, (int64_t)r->hugepages[i].limit, err) < 0)
                        return -EIO;
        }
        if (r->n_device_rules && bpf_devices(dirfd, r, err) < 0)
                return -EIO;
        return 0;
}

static int unified_kv(int dirfd, const struct spec_resources *r, struct berth_error **err)
{
        for (size_t i = 0; i < r->n_unified; i++)
                if (knob(dirfd, r->unified[i].key, r->unified[i].value, err) < 0)
                        return -EIO;
        return 0;
}

/* ---------------------------------------------------------------- dirs */

static char *v1_dir(enum cgroup_v1_controller c, const char *path)
{
        return xasprintf(CGROUP_ROOT "/%s/%s", v1_names[c], path);
}

static char *unified_dir(enum cgroup_mode mode, const char *path)
{
        return mode == CGROUP_MODE_V2 ? xasprintf(CGROUP_ROOT "/%s", path)
                                      : xasprintf(CGROUP_ROOT "/unified/%s", path);
}

/* cpuset dirs start with empty cpus/mems and refuse tasks: copy the parent's values. */
static int cpuset_inherit(const char *dir, struct berth_error **err)
{
        static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
        _cleanup_free_ char *parent = xstrdup(dir);
        *strrchr(parent, '/') = '\0';
        for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
                _cleanup_free_ char *pf = xasprintf("%s/%s", parent, files[i]);
                _cleanup_free_ char *cf = xasprintf("%s/%s", dir, files[i]);
                _cleanup_free_ char *v = NULL;
                if (berth_read_file_at(AT_FDCWD, pf, 4096, &v, NULL, err) < 0)
                        return -EIO;
                _cleanup_free_ char *cur = NULL;
                if (berth_read_file_at(AT_FDCWD, cf, 4096, &cur, NULL, err) < 0)
                        return -EIO;
                if (strcmp(cur, "\n") && *cur)
                        continue;
                if (berth_write_str_at(AT_FDCWD, cf, v, err) < 0)
                        return -EIO;
        }
        return 0;
}

/* A pre-existing cgroup dir may hold the container when it has no process and is not frozen. */
static int existing_usable(const char *dir, struct berth_error **err)
{
        _cleanup_free_ char *procs = NULL, *events = NULL, *state = NULL;
        _cleanup_free_ char *pf = xasprintf("%s/cgroup.procs", dir);
        if (berth_read_file_at(AT_FDCWD, pf, 1 << 20, &procs, NULL, err) < 0)
                return -EIO;
        size_t n = 0;
        for (const char *c = procs; *c; c++)
                n += *c == '\n';
        if (n)
                return berth_error_setx(err, EBUSY,
                                        "cgroup `%s` is not empty: %zu process(es) found", dir, n);
        _cleanup_free_ char *ef = xasprintf("%s/cgroup.events", dir);
        _cleanup_free_ char *ff = xasprintf("%s/freezer.state", dir);
        bool frozen = (berth_read_file_at(AT_FDCWD, ef, 4096, &events, NULL, NULL) == 0 &&
                       strstr(events, "frozen 1")) ||
                      (berth_read_file_at(AT_FDCWD, ff, 64, &state, NULL, NULL) == 0 &&
                       strncmp(state, "THAWED", 6) != 0);
        if (frozen)
                return berth_error_setx(err, EBUSY, "cgroup `%s` is frozen", dir);
        return 0;
}

/* mkdir -p base/path where base exists; the last component must be new (EEXIST otherwise).
 * cpuset=true copies cpus/mems into every dir it creates. enable (v2) is written into the
 * cgroup.subtree_control of every ancestor below base that lacks it.
 */
static int make_dirs(const char *base, const char *path, bool cpuset, const char *enable,
                     struct berth_error **err)
{
        _cleanup_free_ char *full = xasprintf("%s/%s", base, path);
        size_t baselen = strlen(base);
        for (char *p = full + baselen + 1;; p++) {
                bool last = !*p;
                if (*p != '/' && !last)
                        continue;
                *p = '\0';
                bool made = mkdir(full, 0755) == 0;
                if (!made && errno == EEXIST && last) {
                        /* runc's rule: a cgroup made ahead (a pod's, a manager's) is used when
                         * nothing runs in it and it is not frozen */
                        if (existing_usable(full, err) < 0)
                                return -EBUSY;
                } else if (!made && errno != EEXIST) {
                        return berth_error_set(err, errno, "cgroup: mkdir `%s`", full);
                }
                if (made && cpuset && cpuset_inherit(full, err) < 0)
                        return -EIO;
                if (last)
                        break;
                if (enable) {
                        _cleanup_free_ char *sc = xasprintf("%s/cgroup.subtree_control", full);
                        _cleanup_free_ char *cur = NULL;
                        if (berth_read_file_at(AT_FDCWD, sc, 4096, &cur, NULL, err) < 0)
                                return -EIO;
                        /* enable, controller by controller, only what is missing */
                        _cleanup_free_ char *want = xstrdup(enable);
                        char *save = NULL;
                        for (char *c = strtok_r(want, " ", &save); c;
                             c = strtok_r(NULL, " ", &save)) {
                                size_t cl = strlen(c);
                                bool have = false;
                                for (char *h = strstr(cur, c); h; h = strstr(h + 1, c))
                                        if ((h == cur || h[-1] == ' ') &&
                                            (h[cl] == ' ' || h[cl] == '\n' || !h[cl]))
                                                have = true;
                                if (have)
                                        continue;
                                _cleanup_free_ char *plus = xasprintf("+%s", c);
                                if (berth_write_str_at(AT_FDCWD, sc, plus, err) < 0)
                                        return berth_error_wrap(err, "enable controller `%s`", c);
                        }
                }
                *p = '/';
        }
        return 0;
}

/* Remove a cgroup dir and any sub-cgroups the container made inside it. */
static int rmdir_tree(const char *dir, struct berth_error **err)
{
        for (int attempt = 0; attempt < 100; attempt++) {
                if (rmdir(dir) == 0 || errno == ENOENT)
                        return 0;
                if (errno != EBUSY)
                        return berth_error_set(err, errno, "cgroup: rmdir `%s`", dir);
                _cleanup_dir_ DIR *d = opendir(dir);
                struct dirent *de;
                bool children = false;
                while (d && (de = readdir(d))) {
                        if (de->d_type != DT_DIR || de->d_name[0] == '.')
                                continue;
                        children = true;
                        _cleanup_free_ char *sub = xasprintf("%s/%s", dir, de->d_name);
                        if (rmdir_tree(sub, err) < 0)
                                return -EIO;
                }
                if (!children)
                        usleep(10000); /* exiting tasks leave the cgroup asynchronously */
        }
        return berth_error_setx(err, EBUSY, "cgroup: rmdir `%s`: still busy", dir);
}

/* The v2 controllers to enable in ancestors: what the host offers of the useful ones. */
static char *v2_enable_list(struct berth_error **err)
{
        _cleanup_free_ char *avail = NULL;
        if (berth_read_file_at(AT_FDCWD, CGROUP_ROOT "/cgroup.controllers", 4096, &avail, NULL,
                               err) < 0)
                return NULL;
        static const char *const useful[] = {"cpuset", "cpu", "io", "memory", "hugetlb", "pids"};
        _cleanup_free_ char *out = xstrdup("");
        for (size_t i = 0; i < ARRAY_SIZE(useful); i++) {
                char *save = NULL;
                _cleanup_free_ char *copy = xstrdup(avail);
                for (char *t = strtok_r(copy, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
                        if (strcmp(t, useful[i]))
                                continue;
                        char *n = xasprintf("%s%s%s", out, *out ? " " : "", t);
                        free(out);
                        out = n;
                }
        }
        return TAKE_PTR(out);
}

/* Which v1 hierarchies are mounted: a bit per known controller, deduplicating co-mounts. */
static uint32_t v1_mounted(void)
{
        uint32_t m = 0;
        dev_t devs[CG1_COUNT];
        ino_t inos[CG1_COUNT];
        size_t n = 0;
        for (int c = 0; c < CG1_COUNT; c++) {
                _cleanup_free_ char *p = xasprintf(CGROUP_ROOT "/%s", v1_names[c]);
                struct stat st;
                if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode))
                        continue;
                bool dup = false;
                for (size_t i = 0; i < n; i++)
                        dup |= devs[i] == st.st_dev && inos[i] == st.st_ino;
                if (dup)
                        continue;
                devs[n] = st.st_dev;
                inos[n++] = st.st_ino;
                m |= 1u << c;
        }
        return m;
}

int cgroup_create(const char *path, const struct spec_resources *res, struct cgroup **ret,
                  struct berth_error **err)
{
        enum cgroup_mode mode;
        if (cgroup_detect_mode(&mode, err) < 0)
                return -EIO;
        struct cgroup *cg = xcalloc(1, sizeof(*cg));
        cg->mode = mode;
        cg->path = xstrdup(path);
        cg->unified_fd = -1;
        int r = 0;
        bool unified_made = false;
        if (mode != CGROUP_MODE_V1) {
                _cleanup_free_ char *enable = mode == CGROUP_MODE_V2 ? v2_enable_list(err) : NULL;
                if (mode == CGROUP_MODE_V2 && !enable) {
                        r = -EIO;
                        goto fail;
                }
                const char *base = mode == CGROUP_MODE_V2 ? CGROUP_ROOT : CGROUP_ROOT "/unified";
                /* the root's subtree_control is the host's: make_dirs only writes what misses */
                if (mode == CGROUP_MODE_V2 && enable && *enable) {
                        _cleanup_free_ char *rootsc = NULL;
                        if (berth_read_file_at(AT_FDCWD, CGROUP_ROOT "/cgroup.subtree_control",
                                               4096, &rootsc, NULL, err) < 0) {
                                r = -EIO;
                                goto fail;
                        }
                        char *save = NULL;
                        _cleanup_free_ char *want = xstrdup(enable);
                        for (char *c = strtok_r(want, " ", &save); c;
                             c = strtok_r(NULL, " ", &save)) {
                                if (strstr(rootsc, c))
                                        continue;
                                _cleanup_free_ char *plus = xasprintf("+%s", c);
                                if (berth_write_str_at(AT_FDCWD,
                                                       CGROUP_ROOT "/cgroup.subtree_control", plus,
                                                       err) < 0) {
                                        r = berth_error_wrap(err, "enable controller `%s`", c);
                                        goto fail;
                                }
                        }
                }
                if ((r = make_dirs(base, path, false, enable && *enable ? enable : NULL, err)) < 0)
                        goto fail;
                unified_made = true;
                _cleanup_free_ char *dir = unified_dir(mode, path);
                cg->unified_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (cg->unified_fd < 0) {
                        r = berth_error_set(err, errno, "cgroup: open `%s`", dir);
                        goto fail;
                }
        }
        if (mode != CGROUP_MODE_V2) {
                uint32_t mounted = v1_mounted();
                uint32_t need = needed_v1(res);
                /* a hybrid host without a v1 devices hierarchy gets the eBPF filter instead */
                if (mode == CGROUP_MODE_HYBRID && !(mounted & (1u << CG1_DEVICES)))
                        need &= ~(1u << CG1_DEVICES);
                uint32_t want = mounted;
                uint32_t missing = need & ~mounted;
                if (missing) {
                        for (int c = 0; c < CG1_COUNT; c++)
                                if (missing & (1u << c)) {
                                        r = berth_error_setx(err, ENOTSUP,
                                                             "cgroup: the `%s` controller is not "
                                                             "mounted but linux.resources need it",
                                                             v1_names[c]);
                                        goto fail;
                                }
                }
                for (int c = 0; c < CG1_COUNT; c++) {
                        if (!(want & (1u << c)))
                                continue;
                        _cleanup_free_ char *base = xasprintf(CGROUP_ROOT "/%s", v1_names[c]);
                        if ((r = make_dirs(base, path, c == CG1_CPUSET, NULL, err)) < 0)
                                goto fail;
                        cg->v1_mask |= 1u << c;
                }
                /* v1 device rules start with "deny a": written while the init is in the cgroup
                 * (cgroup_apply runs beside its rootfs setup), its mknod of an allowed node could
                 * land between that and the allow lines (EPERM). Nothing is in the dir yet. */
                if ((cg->v1_mask & (1u << CG1_DEVICES)) && res && res->n_device_rules) {
                        _cleanup_free_ char *dir = v1_dir(CG1_DEVICES, path);
                        _cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
                        if (dfd < 0) {
                                r = berth_error_set(err, errno, "cgroup: open `%s`", dir);
                                goto fail;
                        }
                        if ((r = v1_devices(dfd, res, err)) < 0)
                                goto fail;
                        cg->v1_devices_set = true;
                }
        }
        *ret = cg;
        return 0;
fail:
        /* remove only what this call made: an existing dir is someone else's */
        if (!unified_made)
                cg->mode = CGROUP_MODE_V1;
        cgroup_destroy(cg, NULL);
        cgroup_free(cg);
        return r;
}

int cgroup_extend(struct cgroup *cg, const struct spec_resources *res, struct berth_error **err)
{
        if (cg->mode != CGROUP_MODE_HYBRID)
                return 0;
        uint32_t need = needed_v1(res) & ~(1u << CG1_DEVICES) & ~cg->v1_mask;
        if (!need)
                return 0;
        uint32_t mounted = v1_mounted();
        if (need & ~mounted)
                return berth_error_setx(err, ENOTSUP,
                                        "cgroup: a v1 controller these resources "
                                        "need is not mounted");
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        if (cgroup_pids(cg, &pids, &n, err) < 0)
                return -EIO;
        for (int c = 0; c < CG1_COUNT; c++) {
                if (!(need & (1u << c)))
                        continue;
                _cleanup_free_ char *base = xasprintf(CGROUP_ROOT "/%s", v1_names[c]);
                if (make_dirs(base, cg->path, c == CG1_CPUSET, NULL, err) < 0)
                        return -EIO;
                cg->v1_mask |= 1u << c;
                _cleanup_free_ char *procs = xasprintf("%s/%s/cgroup.procs", base, cg->path);
                for (size_t i = 0; i < n; i++) {
                        char buf[16];
                        snprintf(buf, sizeof(buf), "%d", (int)pids[i]);
                        _cleanup_error_ struct berth_error *e = NULL;
                        /* a process may exit meanwhile: that is not an error */
                        if (berth_write_str_at(AT_FDCWD, procs, buf, &e) < 0 && e->code != ESRCH)
                                return berth_error_setx(err, e->code, "%s", e->msg);
                }
        }
        return 0;
}

int cgroup_apply(struct cgroup *cg, const struct spec_resources *res, struct berth_error **err)
{
        if (cg->mode == CGROUP_MODE_V2) {
                if (v2_apply(cg->unified_fd, res, err) < 0 ||
                    unified_kv(cg->unified_fd, res, err) < 0)
                        return -EIO;
                return 0;
        }
        for (int c = 0; c < CG1_COUNT; c++) {
                if (!(cg->v1_mask & (1u << c)) || (c == CG1_DEVICES && cg->v1_devices_set))
                        continue;
                _cleanup_free_ char *dir = v1_dir(c, cg->path);
                _cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (dfd < 0)
                        return berth_error_set(err, errno, "cgroup: open `%s`", dir);
                if (v1_apply(c, dfd, res, err) < 0)
                        return -EIO;
        }
        if (cg->mode == CGROUP_MODE_HYBRID && res->n_device_rules &&
            !(cg->v1_mask & (1u << CG1_DEVICES)) && bpf_devices(cg->unified_fd, res, err) < 0)
                return -EIO;
        if (res->n_unified) {
                if (cg->unified_fd < 0)
                        return berth_error_setx(err, ENOTSUP,
                                                "linux.resources.unified needs "
                                                "cgroup v2");
                if (unified_kv(cg->unified_fd, res, err) < 0)
                        return -EIO;
        }
        return 0;
}

int cgroup_enter(struct cgroup *cg, pid_t pid, bool into_unified, struct berth_error **err)
{
        char buf[16];
        snprintf(buf, sizeof(buf), "%d", (int)pid);
        for (int c = 0; c < CG1_COUNT; c++) {
                if (!(cg->v1_mask & (1u << c)))
                        continue;
                _cleanup_free_ char *f =
                    cg->v1_sub[c]
                        ? xasprintf(CGROUP_ROOT "/%s/%s/%s/cgroup.procs", v1_names[c], cg->path,
                                    cg->v1_sub[c])
                        : xasprintf(CGROUP_ROOT "/%s/%s/cgroup.procs", v1_names[c], cg->path);
                if (berth_write_str_at(AT_FDCWD, f, buf, err) < 0)
                        return -EIO;
        }
        if (into_unified && cg->unified_fd >= 0 &&
            knob(cg->unified_fd, "cgroup.procs", buf, err) < 0)
                return -EIO;
        return 0;
}

int cgroup_load(enum cgroup_mode mode, const char *path, uint32_t v1_mask, struct cgroup **ret,
                struct berth_error **err)
{
        struct cgroup *cg = xcalloc(1, sizeof(*cg));
        cg->mode = mode;
        cg->path = xstrdup(path);
        cg->v1_mask = v1_mask;
        cg->unified_fd = -1;
        if (mode != CGROUP_MODE_V1) {
                _cleanup_free_ char *dir = unified_dir(mode, path);
                cg->unified_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (cg->unified_fd < 0 && errno != ENOENT) {
                        int r = berth_error_set(err, errno, "cgroup: open `%s`", dir);
                        cgroup_free(cg);
                        return r;
                }
        }
        *ret = cg;
        return 0;
}

int cgroup_find(const char *path, struct cgroup **ret, struct berth_error **err)
{
        enum cgroup_mode mode;
        if (cgroup_detect_mode(&mode, err) < 0)
                return -EIO;
        uint32_t mask = 0;
        if (mode != CGROUP_MODE_V2)
                for (int c = 0; c < CG1_COUNT; c++) {
                        _cleanup_free_ char *dir = v1_dir(c, path);
                        struct stat st;
                        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
                                mask |= 1u << c;
                }
        _cleanup_(cgroup_freep) struct cgroup *cg = NULL;
        if (cgroup_load(mode, path, mask, &cg, err) < 0)
                return -EIO;
        if (cg->unified_fd < 0 && mask == 0)
                return berth_error_setx(err, ENOENT, "cgroup `%s` does not exist", path);
        *ret = TAKE_PTR(cg);
        return 0;
}

/* The dir whose cgroup.procs lists the container's processes. */
static int tracking_dir(struct cgroup *cg, struct berth_error **err)
{
        if (cg->unified_fd >= 0)
                return fcntl(cg->unified_fd, F_DUPFD_CLOEXEC, 3);
        static const enum cgroup_v1_controller order[] = {CG1_PIDS,  CG1_FREEZER, CG1_MEMORY,
                                                          CG1_CPU,   CG1_DEVICES, CG1_CPUACCT,
                                                          CG1_BLKIO, CG1_CPUSET};
        for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
                if (!(cg->v1_mask & (1u << order[i])))
                        continue;
                _cleanup_free_ char *dir = v1_dir(order[i], cg->path);
                int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd >= 0 || errno != ENOENT)
                        return fd >= 0 ? fd : berth_error_set(err, errno, "cgroup: open `%s`", dir);
        }
        return berth_error_setx(err, ENOENT, "cgroup `%s` is gone", cg->path);
}

int cgroup_pids(struct cgroup *cg, pid_t **ret_pids, size_t *ret_n, struct berth_error **err)
{
        _cleanup_close_ int dfd = tracking_dir(cg, err);
        if (dfd < 0)
                return dfd;
        _cleanup_free_ char *data = NULL;
        if (berth_read_file_at(dfd, "cgroup.procs", 16 << 20, &data, NULL, err) < 0)
                return -EIO;
        size_t n = 0, cap = 16;
        pid_t *pids = xcalloc(cap, sizeof(pid_t));
        char *save = NULL;
        for (char *t = strtok_r(data, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
                if (n == cap)
                        pids = xrealloc(pids, (cap *= 2) * sizeof(pid_t));
                pids[n++] = (pid_t)atoi(t);
        }
        *ret_pids = pids;
        *ret_n = n;
        return 0;
}

int cgroup_kill_all(struct cgroup *cg, int sig, struct berth_error **err)
{
        if (sig == SIGKILL && cg->unified_fd >= 0 &&
            knob(cg->unified_fd, "cgroup.kill", "1", NULL) == 0)
                return 0;
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        if (cgroup_pids(cg, &pids, &n, err) < 0)
                return -EIO;
        for (size_t i = 0; i < n; i++)
                if (kill(pids[i], sig) < 0 && errno != ESRCH)
                        return berth_error_set(err, errno, "kill %d", (int)pids[i]);
        return 0;
}

bool cgroup_is_frozen(struct cgroup *cg)
{
        _cleanup_free_ char *v = NULL;
        if (cg->unified_fd >= 0) {
                if (berth_read_file_at(cg->unified_fd, "cgroup.freeze", 64, &v, NULL, NULL) < 0)
                        return false;
                return v[0] == '1';
        }
        if (!(cg->v1_mask & (1u << CG1_FREEZER)))
                return false;
        _cleanup_free_ char *f = xasprintf(CGROUP_ROOT "/freezer/%s/freezer.state", cg->path);
        if (berth_read_file_at(AT_FDCWD, f, 64, &v, NULL, NULL) < 0)
                return false;
        return !strncmp(v, "FROZEN", 6) || !strncmp(v, "FREEZING", 8);
}

int cgroup_freeze(struct cgroup *cg, bool frozen, struct berth_error **err)
{
        if (cg->unified_fd >= 0) {
                if (knob(cg->unified_fd, "cgroup.freeze", frozen ? "1" : "0", err) < 0)
                        return -EIO;
                const char *want = frozen ? "frozen 1" : "frozen 0";
                for (int i = 0; i < 200; i++) {
                        _cleanup_free_ char *ev = NULL;
                        if (berth_read_file_at(cg->unified_fd, "cgroup.events", 4096, &ev, NULL,
                                               err) < 0)
                                return -EIO;
                        if (strstr(ev, want))
                                return 0;
                        usleep(10000);
                }
                return berth_error_setx(err, ETIMEDOUT, "cgroup: %s timed out",
                                        frozen ? "freeze" : "thaw");
        }
        if (!(cg->v1_mask & (1u << CG1_FREEZER)))
                return berth_error_setx(err, ENOTSUP, "cgroup: no freezer hierarchy");
        _cleanup_free_ char *dir = v1_dir(CG1_FREEZER, cg->path);
        _cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return berth_error_set(err, errno, "cgroup: open `%s`", dir);
        const char *want = frozen ? "FROZEN" : "THAWED";
        for (int i = 0; i < 200; i++) {
                if (knob(dfd, "freezer.state", want, err) < 0)
                        return -EIO;
                _cleanup_free_ char *v = NULL;
                if (berth_read_file_at(dfd, "freezer.state", 64, &v, NULL, err) < 0)
                        return -EIO;
                if (!strncmp(v, want, strlen(want)))
                        return 0;
                usleep(10000);
        }
        return berth_error_setx(err, ETIMEDOUT, "cgroup: %s timed out", frozen ? "freeze" : "thaw");
}

int cgroup_destroy(struct cgroup *cg, struct berth_error **err)
{
        int r = 0;
        for (int c = 0; c < CG1_COUNT; c++) {
                if (!(cg->v1_mask & (1u << c)))
                        continue;
                _cleanup_free_ char *dir = v1_dir(c, cg->path);
                if (rmdir_tree(dir, r < 0 ? NULL : err) < 0)
                        r = -EBUSY;
        }
        if (cg->mode != CGROUP_MODE_V1) {
                _cleanup_free_ char *dir = unified_dir(cg->mode, cg->path);
                if (rmdir_tree(dir, r < 0 ? NULL : err) < 0)
                        r = -EBUSY;
        }
        return r;
}

void cgroup_free(struct cgroup *cg)
{
        if (!cg)
                return;
        if (cg->unified_fd >= 0)
                close(cg->unified_fd);
        for (int c = 0; c < CG1_COUNT; c++)
                free(cg->v1_sub[c]);
        free(cg->path);
        free(cg);
}

/* a relative path of plain names: no "..", ".", empty or absolute component */
static bool sub_ok(const char *sub)
{
        if (!*sub || *sub == '/')
                return false;
        _cleanup_free_ char *copy = xstrdup(sub);
        char *save = NULL;
        for (char *t = strtok_r(copy, "/", &save); t; t = strtok_r(NULL, "/", &save))
                if (!strcmp(t, "..") || !strcmp(t, "."))
                        return false;
        return sub[strlen(sub) - 1] != '/';
}

int cgroup_descend(struct cgroup *cg, char *const *specs, struct berth_error **err)
{
        const char *all = NULL;
        for (size_t i = 0; specs && specs[i]; i++) {
                const char *colon = strchr(specs[i], ':');
                const char *sub = colon ? colon + 1 : specs[i];
                if (!sub_ok(sub))
                        return berth_error_setx(err, EINVAL,
                                                "--cgroup `%s`: a sub-cgroup is a relative path "
                                                "without `..`",
                                                specs[i]);
                if (!colon) {
                        all = sub;
                        continue;
                }
                if (cg->mode == CGROUP_MODE_V2)
                        return berth_error_setx(err, EINVAL,
                                                "--cgroup `%s`: on cgroup v2 it takes a path "
                                                "only",
                                                specs[i]);
                _cleanup_free_ char *ctrls = xstrndup(specs[i], (size_t)(colon - specs[i]));
                char *save = NULL;
                for (char *t = strtok_r(ctrls, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                        int c = 0;
                        while (c < CG1_COUNT && strcmp(v1_names[c], t))
                                c++;
                        if (c == CG1_COUNT || !(cg->v1_mask & (1u << c)))
                                return berth_error_setx(err, EINVAL,
                                                        "--cgroup `%s`: the container has no "
                                                        "`%s` cgroup",
                                                        specs[i], t);
                        free(cg->v1_sub[c]);
                        cg->v1_sub[c] = xstrdup(sub);
                }
        }
        for (int c = 0; c < CG1_COUNT; c++) {
                if (!(cg->v1_mask & (1u << c)))
                        continue;
                if (!cg->v1_sub[c] && all)
                        cg->v1_sub[c] = xstrdup(all);
                if (!cg->v1_sub[c])
                        continue;
                _cleanup_free_ char *dir =
                    xasprintf(CGROUP_ROOT "/%s/%s/%s", v1_names[c], cg->path, cg->v1_sub[c]);
                struct stat st;
                if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
                        return berth_error_setx(err, ENOENT, "--cgroup: cgroup `%s` does not exist",
                                                dir);
        }
        if (all && cg->unified_fd >= 0) {
                int fd =
                    openat(cg->unified_fd, all, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return berth_error_set(err, errno,
                                               "--cgroup: cgroup `%s` below the "
                                               "container's",
                                               all);
                close(cg->unified_fd);
                cg->unified_fd = fd;
        }
        return 0;
}
