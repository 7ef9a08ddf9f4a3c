/* HostConfig resources, Ulimits and Sysctls → linux.resources, process.rlimits, linux.sysctl,
 * with moby's validation rules and messages (daemon/daemon_unix.go). */
#include "daemon/spec/spec-internal.h"

#include <sched.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#define MIN_MEMORY (6 * 1024 * 1024)

static int cpuset_valid(const char *s)
{
        /* "0-3,5,7-8": docker's parsers.ParseUintList */
        if (!*s)
                return 0;
        const char *p = s;
        for (;;) {
                char *end;
                errno = 0;
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                unsigned long a = strtoul(p, &end, 10);
                if (errno || a > 8192)
                        return -EINVAL;
                p = end;
                if (*p == '-') {
                        p++;
                        if (*p < '0' || *p > '9')
                                return -EINVAL;
                        unsigned long b = strtoul(p, &end, 10);
                        if (errno || b > 8192 || b < a)
                                return -EINVAL;
                        p = end;
                }
                if (!*p)
                        return 0;
                if (*p != ',')
                        return -EINVAL;
                p++;
        }
}

static int ncpus(void)
{
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof(set), &set) == 0)
                return CPU_COUNT(&set);
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        return n > 0 ? (int)n : 1;
}

/* BlkioWeightDevice [{Path, Weight}] and BlkioDevice{Read,Write}{Bps,IOps} [{Path, Rate}] →
 * linux.resources.blockIO entries keyed by the block device's major:minor, like moby. */
static int blkio_devices(const json_t *hc, const char *key, const char *val_key,
                         const char *oci_key, json_t *blkio, struct berth_error **err)
{
        json_t *list = json_object_get(hc, key);
        if (!list || json_is_null(list) || (json_is_array(list) && !json_array_size(list)))
                return 0;
        if (!json_is_array(list))
                return berth_error_setx(
                    err, EINVAL, "invalid value for `%s`: expected an array of objects", key);
        json_t *out = json_array();
        json_object_set_new(blkio, oci_key, out);
        bool weight = !strcmp(val_key, "Weight");
        size_t i;
        json_t *e;
        json_array_foreach(list, i, e)
        {
                const char *path;
                int64_t v;
                if (!json_is_object(e))
                        return berth_error_setx(err, EINVAL,
                                                "invalid value for `%s`: expected an array of "
                                                "objects",
                                                key);
                if (sj_str(e, "Path", &path, err) < 0 || sj_i64(e, val_key, &v, err) < 0)
                        return -EINVAL;
                if (!path || !*path)
                        return berth_error_setx(err, EINVAL, "%s: a device path is required", key);
                struct stat st;
                if (stat(path, &st) < 0)
                        return berth_error_setx(err, EINVAL, "%s: `%s`: %s", key, path,
                                                strerror(errno));
                if (!S_ISBLK(st.st_mode))
                        return berth_error_setx(err, EINVAL, "%s: `%s` is not a block device", key,
                                                path);
                if (weight && (v < 10 || v > 1000))
                        return berth_error_setx(err, EINVAL,
                                                "Range of blkio weight is from 10 to 1000");
                if (v < 0)
                        return berth_error_setx(err, EINVAL, "%s: invalid rate %lld", key,
                                                (long long)v);
                json_array_append_new(out, json_pack("{s:I, s:I, s:I}", "major",
                                                     (json_int_t)major(st.st_rdev), "minor",
                                                     (json_int_t)minor(st.st_rdev),
                                                     weight ? "weight" : "rate", (json_int_t)v));
        }
        return 0;
}

int spec_resources_apply(const json_t *hc, json_t *res, struct berth_error **err)
{
        int64_t memory, reservation, swap, nano, shares, quota, period, pids, blkio,
            swappiness = -1;
        bool oom_kill_disable;
        const char *cpus, *mems;
        if (sj_i64(hc, "Memory", &memory, err) < 0 ||
            sj_i64(hc, "MemoryReservation", &reservation, err) < 0 ||
            sj_i64(hc, "MemorySwap", &swap, err) < 0 || sj_i64(hc, "NanoCpus", &nano, err) < 0 ||
            sj_i64(hc, "CpuShares", &shares, err) < 0 || sj_i64(hc, "CpuQuota", &quota, err) < 0 ||
            sj_i64(hc, "CpuPeriod", &period, err) < 0 || sj_i64(hc, "PidsLimit", &pids, err) < 0 ||
            sj_i64(hc, "BlkioWeight", &blkio, err) < 0 ||
            sj_bool(hc, "OomKillDisable", &oom_kill_disable, err) < 0 ||
            sj_str(hc, "CpusetCpus", &cpus, err) < 0 || sj_str(hc, "CpusetMems", &mems, err) < 0)
                return -EINVAL;
        json_t *sw = json_object_get(hc, "MemorySwappiness");
        if (sw && !json_is_null(sw) && sj_i64(hc, "MemorySwappiness", &swappiness, err) < 0)
                return -EINVAL;

        if (memory < 0)
                return berth_error_setx(err, EINVAL, "invalid memory limit %lld",
                                        (long long)memory);
        if (memory > 0 && memory < MIN_MEMORY)
                return berth_error_setx(err, EINVAL, "Minimum memory limit allowed is 6MB");
        if (memory > 0 && swap > 0 && swap < memory)
                return berth_error_setx(err, EINVAL,
                                        "Minimum memoryswap limit should be larger than memory "
                                        "limit, see usage");
        if (memory == 0 && swap > 0)
                return berth_error_setx(err, EINVAL,
                                        "You should always set the Memory limit when using "
                                        "Memoryswap limit, see usage");
        if (swap < -1)
                return berth_error_setx(err, EINVAL, "invalid memory swap limit %lld",
                                        (long long)swap);
        if (reservation < 0)
                return berth_error_setx(err, EINVAL, "invalid memory reservation %lld",
                                        (long long)reservation);
        if (reservation > 0 && reservation < MIN_MEMORY)
                return berth_error_setx(err, EINVAL, "Minimum memory reservation allowed is 6MB");
        if (memory > 0 && reservation > 0 && memory < reservation)
                return berth_error_setx(err, EINVAL,
                                        "Minimum memory limit can not be less than memory "
                                        "reservation limit, see usage");
        if (swappiness != -1 && (swappiness < 0 || swappiness > 100))
                return berth_error_setx(err, EINVAL,
                                        "Invalid value: %lld, valid memory swappiness range is "
                                        "0-100",
                                        (long long)swappiness);
        if (nano > 0 && period > 0)
                return berth_error_setx(err, EINVAL,
                                        "Conflicting options: Nano CPUs and CPU Period cannot both "
                                        "be set");
        if (nano > 0 && quota > 0)
                return berth_error_setx(err, EINVAL,
                                        "Conflicting options: Nano CPUs and CPU Quota cannot both "
                                        "be set");
        int n = ncpus();
        if (nano < 0 || nano > (int64_t)n * 1000000000)
                return berth_error_setx(err, EINVAL,
                                        "Range of CPUs is from 0.01 to %d.00, as there are only %d "
                                        "CPUs available",
                                        n, n);
        if (period != 0 && (period < 1000 || period > 1000000))
                return berth_error_setx(err, EINVAL,
                                        "CPU cfs period can not be less than 1ms (i.e. 1000) or "
                                        "larger than 1s (i.e. 1000000)");
        if (quota > 0 && quota < 1000)
                return berth_error_setx(err, EINVAL,
                                        "CPU cfs quota can not be less than 1ms (i.e. 1000)");
        if (shares < 0)
                return berth_error_setx(err, EINVAL, "invalid CPU shares %lld", (long long)shares);
        if (blkio > 0 && (blkio < 10 || blkio > 1000))
                return berth_error_setx(err, EINVAL, "Range of blkio weight is from 10 to 1000");
        if (blkio < 0)
                return berth_error_setx(err, EINVAL, "Range of blkio weight is from 10 to 1000");
        if (cpus && cpuset_valid(cpus) < 0)
                return berth_error_setx(err, EINVAL, "Invalid value %s for cpuset cpus", cpus);
        if (mems && cpuset_valid(mems) < 0)
                return berth_error_setx(err, EINVAL, "Invalid value %s for cpuset mems", mems);

        json_t *mem = json_object();
        if (memory > 0) {
                json_object_set_new(mem, "limit", json_integer(memory));
                /* docker: MemorySwap 0 with a memory limit means swap as large as the memory */
                int64_t total = swap == 0 ? 2 * memory : swap;
                json_object_set_new(mem, "swap", json_integer(total));
        } else if (swap == -1) {
                json_object_set_new(mem, "swap", json_integer(-1));
        }
        if (reservation > 0)
                json_object_set_new(mem, "reservation", json_integer(reservation));
        if (swappiness >= 0)
                json_object_set_new(mem, "swappiness", json_integer(swappiness));
        if (oom_kill_disable)
                json_object_set_new(mem, "disableOOMKiller", json_true());
        if (json_object_size(mem))
                json_object_set_new(res, "memory", mem);
        else
                json_decref(mem);

        json_t *cpu = json_object();
        if (nano > 0) {
                json_object_set_new(cpu, "period", json_integer(100000));
                json_object_set_new(cpu, "quota", json_integer(nano * 100000 / 1000000000));
        }
        if (quota)
                json_object_set_new(cpu, "quota", json_integer(quota));
        if (period)
                json_object_set_new(cpu, "period", json_integer(period));
        if (shares)
                json_object_set_new(cpu, "shares", json_integer(shares));
        if (cpus && *cpus)
                json_object_set_new(cpu, "cpus", json_string(cpus));
        if (mems && *mems)
                json_object_set_new(cpu, "mems", json_string(mems));
        if (json_object_size(cpu))
                json_object_set_new(res, "cpu", cpu);
        else
                json_decref(cpu);

        /* 0 and negative mean unlimited: nothing to write at create */
        if (pids > 0)
                json_object_set_new(res, "pids", json_pack("{s:I}", "limit", (json_int_t)pids));
        json_t *bio = json_object();
        if (blkio > 0)
                json_object_set_new(bio, "weight", json_integer(blkio));
        static const char *const dev_keys[][3] = {
            {"BlkioWeightDevice", "Weight", "weightDevice"},
            {"BlkioDeviceReadBps", "Rate", "throttleReadBpsDevice"},
            {"BlkioDeviceWriteBps", "Rate", "throttleWriteBpsDevice"},
            {"BlkioDeviceReadIOps", "Rate", "throttleReadIOPSDevice"},
            {"BlkioDeviceWriteIOps", "Rate", "throttleWriteIOPSDevice"},
        };
        for (size_t k = 0; k < ARRAY_SIZE(dev_keys); k++) {
                if (blkio_devices(hc, dev_keys[k][0], dev_keys[k][1], dev_keys[k][2], bio, err) <
                    0) {
                        json_decref(bio);
                        return -EINVAL;
                }
        }
        if (json_object_size(bio))
                json_object_set_new(res, "blockIO", bio);
        else
                json_decref(bio);
        return 0;
}

int spec_rlimits(const json_t *hc, json_t **ret, struct berth_error **err)
{
        static const char *const names[] = {
            "core",   "cpu",   "data", "fsize",  "locks",  "memlock",    "msgqueue", "nice",
            "nofile", "nproc", "rss",  "rtprio", "rttime", "sigpending", "stack",    NULL};
        *ret = NULL;
        json_t *list = json_object_get(hc, "Ulimits");
        if (!list || json_is_null(list))
                return 0;
        if (!json_is_array(list))
                return berth_error_setx(err, EINVAL,
                                        "invalid value for `Ulimits`: expected an array of "
                                        "objects");
        _cleanup_json_ json_t *out = json_array();
        _cleanup_json_ json_t *seen = json_object();
        size_t i;
        json_t *u;
        json_array_foreach(list, i, u)
        {
                const char *name;
                int64_t soft, hard;
                if (!json_is_object(u))
                        return berth_error_setx(err, EINVAL,
                                                "invalid value for `Ulimits`: expected an array "
                                                "of objects");
                if (sj_str(u, "Name", &name, err) < 0 || sj_i64(u, "Soft", &soft, err) < 0 ||
                    sj_i64(u, "Hard", &hard, err) < 0)
                        return -EINVAL;
                bool ok = false;
                for (size_t k = 0; name && names[k] && !ok; k++)
                        ok = !strcmp(name, names[k]);
                if (!ok)
                        return berth_error_setx(err, EINVAL, "invalid ulimit type: %s",
                                                name ? name : "");
                /* -1 is "unlimited" (RLIM_INFINITY) for both, like go-units */
                uint64_t s = soft < 0 ? UINT64_MAX : (uint64_t)soft;
                uint64_t h = hard < 0 ? UINT64_MAX : (uint64_t)hard;
                if ((soft < -1) || (hard < -1))
                        return berth_error_setx(err, EINVAL, "invalid ulimit value for %s", name);
                if (s > h)
                        return berth_error_setx(err, EINVAL,
                                                "ulimit soft limit must be less than or equal to "
                                                "hard limit: %lld > %lld",
                                                (long long)soft, (long long)hard);
                if (json_object_get(seen, name))
                        return berth_error_setx(err, EINVAL, "duplicate ulimit: %s", name);
                json_object_set_new(seen, name, json_true());
                _cleanup_free_ char *type = xasprintf("RLIMIT_%s", name);
                for (char *p = type; *p; p++)
                        if (*p >= 'a' && *p <= 'z')
                                *p = (char)(*p - 'a' + 'A');
                json_t *r = json_pack("{s:s}", "type", type);
                /* unlimited is 2^64-1, beyond jansson's integers: a real the runtime reads as
                 * RLIM_INFINITY */
                json_object_set_new(
                    r, "hard", hard < 0 ? json_real(18446744073709551615.0) : json_integer(hard));
                json_object_set_new(
                    r, "soft", soft < 0 ? json_real(18446744073709551615.0) : json_integer(soft));
                json_array_append_new(out, r);
        }
        *ret = TAKE_PTR(out);
        return 0;
}

int spec_sysctls(const json_t *hc, bool host_net, bool host_ipc, bool host_uts, json_t *lx,
                 struct berth_error **err)
{
        static const char *const ipc_keys[] = {
            "kernel.msgmax", "kernel.msgmnb",          "kernel.msgmni",
            "kernel.sem",    "kernel.shmall",          "kernel.shmmax",
            "kernel.shmmni", "kernel.shm_rmid_forced", NULL};
        const json_t *sys = NULL;
        if (sj_obj(hc, "Sysctls", &sys, err) < 0)
                return -EINVAL;
        if (!sys || json_object_size(sys) == 0)
                return 0;
        json_t *out = json_object();
        json_object_set_new(lx, "sysctl", out);
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)sys, k, v)
        {
                if (!json_is_string(v))
                        return berth_error_setx(err, EINVAL,
                                                "invalid value for `Sysctls`: expected a map of "
                                                "strings");
                bool ipc = false;
                for (size_t i = 0; ipc_keys[i]; i++)
                        ipc = ipc || !strcmp(k, ipc_keys[i]);
                ipc = ipc || !strncmp(k, "fs.mqueue.", 10);
                bool net = !strncmp(k, "net.", 4);
                bool uts = !strcmp(k, "kernel.domainname") || !strcmp(k, "kernel.hostname");
                if (strchr(k, '/') || strstr(k, ".."))
                        return berth_error_setx(err, EINVAL, "sysctl %s is not allowed", k);
                if (!ipc && !net && !uts)
                        return berth_error_setx(
                            err, EINVAL, "sysctl %s is not allowed: it is not namespaced", k);
                if (net && host_net)
                        return berth_error_setx(err, EINVAL,
                                                "sysctl %s is not allowed in the host network "
                                                "namespace",
                                                k);
                if (ipc && host_ipc)
                        return berth_error_setx(err, EINVAL,
                                                "sysctl %s is not allowed in the host IPC "
                                                "namespace",
                                                k);
                if (uts && host_uts)
                        return berth_error_setx(err, EINVAL,
                                                "sysctl %s is not allowed in the host UTS "
                                                "namespace",
                                                k);
                json_object_set(out, k, v);
        }
        return 0;
}
