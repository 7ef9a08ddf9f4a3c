/* docker update: the resources of a created or running container changed. docker's fields are
 * checked against the stored ones (memory and swap go together), turned into the OCI
 * linux.resources the runtime applies to a running container's cgroup, and kept in the
 * container's HostConfig for the next start and for inspect. */
#include "daemon/containers/containers.h"
#include "daemon/containers/lifecycle.h"
#include "runtime/runtime.h"

#include <pthread.h>

/* A field of docker's UpdateConfig.Resources: only these (and RestartPolicy) an update body
 * carries into the HostConfig. Any other key (Runtime, Privileged, Binds…) is no update field:
 * dockerd's decoder drops it, and kept it would change what a running container is (a Runtime
 * rewritten under it would send its next stop to another runtime). */
static bool is_resource_field(const char *k)
{
        static const char *const fields[] = {
            "CpuShares",
            "Memory",
            "NanoCpus",
            "CgroupParent",
            "BlkioWeight",
            "BlkioWeightDevice",
            "BlkioDeviceReadBps",
            "BlkioDeviceWriteBps",
            "BlkioDeviceReadIOps",
            "BlkioDeviceWriteIOps",
            "CpuPeriod",
            "CpuQuota",
            "CpuRealtimePeriod",
            "CpuRealtimeRuntime",
            "CpusetCpus",
            "CpusetMems",
            "Devices",
            "DeviceCgroupRules",
            "DeviceRequests",
            "KernelMemory",
            "KernelMemoryTCP",
            "MemoryReservation",
            "MemorySwap",
            "MemorySwappiness",
            "OomKillDisable",
            "PidsLimit",
            "Ulimits",
            "CpuCount",
            "CpuPercent",
            "IOMaximumIOps",
            "IOMaximumBandwidth",
        };
        for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
                if (!strcmp(k, fields[i]))
                        return true;
        return false;
}

int container_update(struct containers *cs, struct container *c, json_t *body,
                     struct berth_error **err)
{
        _cleanup_json_ json_t *res = json_object();
        json_t *v, *rp;
        json_int_t x;

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
                json_object_foreach(body, k, v) if (is_resource_field(k)) json_object_set(hc, k, v);
                rp = json_object_get(body, "RestartPolicy");
                if (json_is_object(rp) && berth_json_get_str(rp, "Name") &&
                    *berth_json_get_str(rp, "Name"))
                        json_object_set(hc, "RestartPolicy", rp);
        }
        pthread_mutex_unlock(&cs->lock);
        container_config_save(cs, c, NULL);
        return 0;
}
