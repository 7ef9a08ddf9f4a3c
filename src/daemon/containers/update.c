/* docker update: the resources of a created or running container changed. docker's fields are
 * checked against the stored ones (memory and swap go together), turned into the OCI
 * linux.resources the runtime applies to a running container's cgroup, and kept in the
 * container's HostConfig for the next start and for inspect. */
#include "daemon/containers/containers.h"
#include "daemon/containers/lifecycle.h"
#include "runtime/runtime.h"

#include <pthread.h>

int container_update(struct containers *cs, struct container *c, json_t *body,
                     struct berth_error **err)
{
        _cleanup_json_ json_t *res = json_object();
        json_t *v, *rp;
        json_int_t x;
        const char *key;

        /* docker's UpdateConfig: the Resources berth changes below and RestartPolicy; any other
         * field with a value is refused, not stored for the next start nor ignored */
        static const char *const updatable[] = {"Memory",    "MemorySwap",  "MemoryReservation",
                                                "NanoCpus",  "CpuShares",   "CpuQuota",
                                                "CpuPeriod", "CpusetCpus",  "CpusetMems",
                                                "PidsLimit", "BlkioWeight", "RestartPolicy"};
        json_object_foreach(body, key, v)
        {
                bool ok = false;
                for (size_t i = 0; i < ARRAY_SIZE(updatable) && !ok; i++)
                        ok = strcmp(key, updatable[i]) == 0;
                if (!ok && berth_json_is_set(v))
                        return berth_error_setx(
                            err, EINVAL, "`%s` cannot be changed by an update in berth", key);
        }

        /* the docker fields → linux.resources. Memory and swap go together (the runtime's
         * memory+swap on v1, memory.swap.max = swap - limit on v2): the stored swap, or docker's
         * default of twice the memory, stays when only the memory changes, and like docker a
         * memory above it is a conflict rather than the kernel's EINVAL on v1 */
        json_int_t mem = 0, swap = 0, old_mem = 0, old_swap = 0;
        if ((v = json_object_get(body, "Memory")))
                mem = json_integer_value(v);
        if ((v = json_object_get(body, "MemorySwap")))
                swap = json_integer_value(v);
        pthread_mutex_lock(&cs->lock);
        {
                json_t *hc = json_object_get(json_object_get(c->config, "create"), "HostConfig");
                old_mem = json_integer_value(json_object_get(hc, "Memory"));
                old_swap = json_integer_value(json_object_get(hc, "MemorySwap"));
        }
        pthread_mutex_unlock(&cs->lock);
        if (old_swap == 0 && old_mem > 0)
                old_swap = 2 * old_mem;
        if (mem > 0 && swap == 0 && old_swap > 0 && mem > old_swap) {
                return berth_error_setx(err, EBUSY,
                                        "Cannot update container %s: Memory limit should be "
                                        "smaller than already set memoryswap limit, update the "
                                        "memoryswap at the same time",
                                        c->id);
        }
        if (swap > 0 && (mem > 0 ? mem : old_mem) > swap) {
                return berth_error_setx(err, EINVAL,
                                        "Minimum memoryswap limit should be larger than memory "
                                        "limit, see usage");
        }
        if (mem > 0 || swap != 0) {
                json_t *m = json_object();
                json_object_set_new(res, "memory", m);
                if (mem > 0 || old_mem > 0)
                        json_object_set_new(m, "limit", json_integer(mem > 0 ? mem : old_mem));
                if (swap != 0 || old_swap != 0)
                        json_object_set_new(m, "swap", json_integer(swap != 0 ? swap : old_swap));
                if (swap == 0 && old_swap != 0)
                        json_object_set_new(body, "MemorySwap", json_integer(old_swap));
        }
        if ((v = json_object_get(body, "MemoryReservation")) && (x = json_integer_value(v)) > 0) {
                json_t *m = json_object_get(res, "memory");
                if (!m)
                        json_object_set_new(res, "memory", m = json_object());
                json_object_set_new(m, "reservation", json_integer(x));
        }
        if ((v = json_object_get(body, "NanoCpus")) && (x = json_integer_value(v)) > 0)
                json_object_set_new(
                    res, "cpu",
                    json_pack("{s:I,s:I}", "quota", x / 10000, "period", (json_int_t)100000));
        if ((v = json_object_get(body, "CpuShares")) && (x = json_integer_value(v)) > 0) {
                json_t *cpu = json_object_get(res, "cpu");
                if (!cpu)
                        json_object_set_new(res, "cpu", cpu = json_object());
                json_object_set_new(cpu, "shares", json_integer(x));
        }
        if ((v = json_object_get(body, "CpuQuota")) && (x = json_integer_value(v)) != 0) {
                json_t *cpu = json_object_get(res, "cpu");
                if (!cpu)
                        json_object_set_new(res, "cpu", cpu = json_object());
                json_object_set_new(cpu, "quota", json_integer(x));
        }
        if ((v = json_object_get(body, "CpuPeriod")) && (x = json_integer_value(v)) > 0) {
                json_t *cpu = json_object_get(res, "cpu");
                if (!cpu)
                        json_object_set_new(res, "cpu", cpu = json_object());
                json_object_set_new(cpu, "period", json_integer(x));
        }
        if ((v = json_object_get(body, "CpusetCpus")) && json_string_value(v) &&
            *json_string_value(v)) {
                json_t *cpu = json_object_get(res, "cpu");
                if (!cpu)
                        json_object_set_new(res, "cpu", cpu = json_object());
                json_object_set(cpu, "cpus", v);
        }
        if ((v = json_object_get(body, "CpusetMems")) && json_string_value(v) &&
            *json_string_value(v)) {
                json_t *cpu = json_object_get(res, "cpu");
                if (!cpu)
                        json_object_set_new(res, "cpu", cpu = json_object());
                json_object_set(cpu, "mems", v);
        }
        if ((v = json_object_get(body, "PidsLimit")) && json_is_integer(v) &&
            (x = json_integer_value(v)) != 0)
                json_object_set_new(res, "pids", json_pack("{s:I}", "limit", x));
        if ((v = json_object_get(body, "BlkioWeight")) && (x = json_integer_value(v)) > 0)
                json_object_set_new(res, "blockIO", json_pack("{s:I}", "weight", x));

        if (json_object_size(res) > 0 && container_is_running(cs, c)) {
                int r = container_rt_update(cs, c, res, err);
                if (r < 0)
                        return r;
        }
        /* remember the new values for the next start and for inspect */
        pthread_mutex_lock(&cs->lock);
        {
                json_t *hc = json_object_get(json_object_get(c->config, "create"), "HostConfig");
                const char *k;
                if (!json_is_object(hc)) {
                        hc = json_object();
                        json_object_set_new(json_object_get(c->config, "create"), "HostConfig", hc);
                }
                /* only the fields checked above (the others are unset) */
                json_object_foreach(body, k, v) if (strcmp(k, "RestartPolicy") != 0 &&
                                                    berth_json_is_set(v)) json_object_set(hc, k, v);
                rp = json_object_get(body, "RestartPolicy");
                if (json_is_object(rp) && berth_json_get_str(rp, "Name") &&
                    *berth_json_get_str(rp, "Name"))
                        json_object_set(hc, "RestartPolicy", rp);
        }
        pthread_mutex_unlock(&cs->lock);
        container_config_save(cs, c, NULL);
        return 0;
}
