/* docker's Go types as the docker CLI (v28, API 1.50 types) has them: a field's kind decides
 * what a null or absent value prints, a struct's field list which names a template may use. The
 * field lists were checked against `docker inspect -f` (a name docker knows prints its zero
 * value even when berthd's JSON lacks it; an unknown one is an error). */
#include "cli/cli.h"
#include "cli/template-types.h"

#define GO_FIELDS(name, complete, printable, ...)                                                  \
        static const struct go_field name##_fields[] = {__VA_ARGS__, {NULL, 0, NULL, NULL}};       \
        static const struct go_type name = {name##_fields, complete, printable}

/* the structs that embed one of theirs refer to themselves */
static const struct go_type go_host_config, go_network_settings, go_container;

GO_FIELDS(go_health, true, true, {"Status", GO_STRING, NULL}, {"FailingStreak", GO_INT, NULL},
          {"Log", GO_SLICE, NULL});
GO_FIELDS(go_state, true, true, {"Status", GO_STRING, NULL}, {"Running", GO_BOOL, NULL},
          {"Paused", GO_BOOL, NULL}, {"Restarting", GO_BOOL, NULL}, {"OOMKilled", GO_BOOL, NULL},
          {"Dead", GO_BOOL, NULL}, {"Pid", GO_INT, NULL}, {"ExitCode", GO_INT, NULL},
          {"Error", GO_STRING, NULL}, {"StartedAt", GO_STRING, NULL},
          {"FinishedAt", GO_STRING, NULL}, {"Health", GO_PTR, &go_health});
GO_FIELDS(go_healthcheck, true, true, {"Test", GO_SLICE, NULL}, {"Interval", GO_DURATION, NULL},
          {"Timeout", GO_DURATION, NULL}, {"StartPeriod", GO_DURATION, NULL},
          {"StartInterval", GO_DURATION, NULL}, {"Retries", GO_INT, NULL});
GO_FIELDS(go_config, true, false, {"Hostname", GO_STRING, NULL}, {"Domainname", GO_STRING, NULL},
          {"User", GO_STRING, NULL}, {"AttachStdin", GO_BOOL, NULL},
          {"AttachStdout", GO_BOOL, NULL}, {"AttachStderr", GO_BOOL, NULL},
          {"ExposedPorts", GO_MAP, NULL}, {"Tty", GO_BOOL, NULL}, {"OpenStdin", GO_BOOL, NULL},
          {"StdinOnce", GO_BOOL, NULL}, {"Env", GO_SLICE, NULL}, {"Cmd", GO_SLICE, NULL},
          {"Healthcheck", GO_PTR, &go_healthcheck}, {"ArgsEscaped", GO_BOOL, NULL},
          {"Image", GO_STRING, NULL}, {"Volumes", GO_MAP, NULL}, {"WorkingDir", GO_STRING, NULL},
          {"Entrypoint", GO_SLICE, NULL}, {"NetworkDisabled", GO_BOOL, NULL},
          {"MacAddress", GO_STRING, NULL}, {"OnBuild", GO_SLICE, NULL}, {"Labels", GO_STRMAP, NULL},
          {"StopSignal", GO_STRING, NULL}, {"StopTimeout", GO_PTR, NULL},
          {"Shell", GO_SLICE, NULL});
GO_FIELDS(go_log_config, true, true, {"Type", GO_STRING, NULL}, {"Config", GO_STRMAP, NULL});
GO_FIELDS(go_restart_policy, true, true, {"Name", GO_STRING, NULL},
          {"MaximumRetryCount", GO_INT, NULL});
GO_FIELDS(go_graph_driver, true, true, {"Data", GO_STRMAP, NULL}, {"Name", GO_STRING, NULL});
/* with the fields of its embedded Resources */
GO_FIELDS(go_host_config, true, false, {"Binds", GO_SLICE, NULL},
          {"ContainerIDFile", GO_STRING, NULL}, {"LogConfig", GO_STRUCT, &go_log_config},
          {"NetworkMode", GO_STRING, NULL}, {"PortBindings", GO_MAP, NULL},
          {"RestartPolicy", GO_STRUCT, &go_restart_policy}, {"AutoRemove", GO_BOOL, NULL},
          {"VolumeDriver", GO_STRING, NULL}, {"VolumesFrom", GO_SLICE, NULL},
          {"Annotations", GO_STRMAP, NULL}, {"CapAdd", GO_SLICE, NULL}, {"CapDrop", GO_SLICE, NULL},
          {"CgroupnsMode", GO_STRING, NULL}, {"DNS", GO_SLICE, NULL, "Dns"},
          {"DNSOptions", GO_SLICE, NULL, "DnsOptions"}, {"DNSSearch", GO_SLICE, NULL, "DnsSearch"},
          {"ExtraHosts", GO_SLICE, NULL}, {"GroupAdd", GO_SLICE, NULL},
          {"IpcMode", GO_STRING, NULL}, {"Cgroup", GO_STRING, NULL}, {"Links", GO_SLICE, NULL},
          {"OomScoreAdj", GO_INT, NULL}, {"PidMode", GO_STRING, NULL},
          {"Privileged", GO_BOOL, NULL}, {"PublishAllPorts", GO_BOOL, NULL},
          {"ReadonlyRootfs", GO_BOOL, NULL}, {"SecurityOpt", GO_SLICE, NULL},
          {"StorageOpt", GO_STRMAP, NULL}, {"Tmpfs", GO_STRMAP, NULL}, {"UTSMode", GO_STRING, NULL},
          {"UsernsMode", GO_STRING, NULL}, {"ShmSize", GO_INT, NULL}, {"Sysctls", GO_STRMAP, NULL},
          {"Runtime", GO_STRING, NULL}, {"Isolation", GO_STRING, NULL},
          {"CPUShares", GO_INT, NULL, "CpuShares"}, {"Memory", GO_INT, NULL},
          {"NanoCPUs", GO_INT, NULL, "NanoCpus"}, {"CgroupParent", GO_STRING, NULL},
          {"BlkioWeight", GO_INT, NULL}, {"BlkioWeightDevice", GO_SLICE, NULL},
          {"BlkioDeviceReadBps", GO_SLICE, NULL}, {"BlkioDeviceWriteBps", GO_SLICE, NULL},
          {"BlkioDeviceReadIOps", GO_SLICE, NULL}, {"BlkioDeviceWriteIOps", GO_SLICE, NULL},
          {"CPUPeriod", GO_INT, NULL, "CpuPeriod"}, {"CPUQuota", GO_INT, NULL, "CpuQuota"},
          {"CPURealtimePeriod", GO_INT, NULL, "CpuRealtimePeriod"},
          {"CPURealtimeRuntime", GO_INT, NULL, "CpuRealtimeRuntime"},
          {"CpusetCpus", GO_STRING, NULL}, {"CpusetMems", GO_STRING, NULL},
          {"Devices", GO_SLICE, NULL}, {"DeviceCgroupRules", GO_SLICE, NULL},
          {"DeviceRequests", GO_SLICE, NULL}, {"MemoryReservation", GO_INT, NULL},
          {"MemorySwap", GO_INT, NULL}, {"MemorySwappiness", GO_PTR, NULL},
          {"OomKillDisable", GO_PTR, NULL}, {"PidsLimit", GO_PTR, NULL},
          {"Ulimits", GO_SLICE, NULL}, {"CPUCount", GO_INT, NULL, "CpuCount"},
          {"CPUPercent", GO_INT, NULL, "CpuPercent"}, {"IOMaximumIOps", GO_INT, NULL},
          {"IOMaximumBandwidth", GO_INT, NULL}, {"MaskedPaths", GO_SLICE, NULL},
          {"ReadonlyPaths", GO_SLICE, NULL}, {"Mounts", GO_SLICE, NULL},
          {"ConsoleSize", GO_SLICE, NULL}, {"Init", GO_PTR, NULL}, {"KernelMemory", GO_INT, NULL},
          {"KernelMemoryTCP", GO_INT, NULL}, {"Resources", GO_STRUCT, &go_host_config, ""});
GO_FIELDS(go_network_settings, true, false, {"Bridge", GO_STRING, NULL},
          {"SandboxID", GO_STRING, NULL}, {"SandboxKey", GO_STRING, NULL}, {"Ports", GO_MAP, NULL},
          {"HairpinMode", GO_BOOL, NULL}, {"LinkLocalIPv6Address", GO_STRING, NULL},
          {"LinkLocalIPv6PrefixLen", GO_INT, NULL}, {"SecondaryIPAddresses", GO_SLICE, NULL},
          {"SecondaryIPv6Addresses", GO_SLICE, NULL}, {"EndpointID", GO_STRING, NULL},
          {"Gateway", GO_STRING, NULL}, {"GlobalIPv6Address", GO_STRING, NULL},
          {"GlobalIPv6PrefixLen", GO_INT, NULL}, {"IPAddress", GO_STRING, NULL},
          {"IPPrefixLen", GO_INT, NULL}, {"IPv6Gateway", GO_STRING, NULL},
          {"MacAddress", GO_STRING, NULL}, {"Networks", GO_MAP, NULL},
          {"NetworkSettingsBase", GO_STRUCT, &go_network_settings, ""},
          {"DefaultNetworkSettings", GO_STRUCT, &go_network_settings, ""});
GO_FIELDS(go_container, true, false, {"ID", GO_STRING, NULL, "Id"}, {"Created", GO_STRING, NULL},
          {"Path", GO_STRING, NULL}, {"Args", GO_SLICE, NULL}, {"State", GO_PTR, &go_state},
          {"Image", GO_STRING, NULL}, {"ResolvConfPath", GO_STRING, NULL},
          {"HostnamePath", GO_STRING, NULL}, {"HostsPath", GO_STRING, NULL},
          {"LogPath", GO_STRING, NULL}, {"Name", GO_STRING, NULL}, {"RestartCount", GO_INT, NULL},
          {"Driver", GO_STRING, NULL}, {"Platform", GO_STRING, NULL},
          {"MountLabel", GO_STRING, NULL}, {"ProcessLabel", GO_STRING, NULL},
          {"AppArmorProfile", GO_STRING, NULL}, {"ExecIDs", GO_SLICE, NULL},
          {"HostConfig", GO_PTR, &go_host_config}, {"GraphDriver", GO_STRUCT, &go_graph_driver},
          {"SizeRw", GO_PTR, NULL}, {"SizeRootFs", GO_PTR, NULL}, {"Mounts", GO_SLICE, NULL},
          {"Config", GO_PTR, &go_config}, {"NetworkSettings", GO_PTR, &go_network_settings},
          {"ImageManifestDescriptor", GO_PTR, NULL},
          {"ContainerJSONBase", GO_PTR, &go_container, ""});

const struct go_type go_container_type = {go_container_fields, true, false};

char *go_duration_string(int64_t ns)
{
        static const struct {
                long long unit;
                const char *name;
        } small[] = {{1000000LL, "ms"}, {1000LL, "µs"}, {1LL, "ns"}};
        unsigned long long u = ns < 0 ? (unsigned long long)-(ns + 1) + 1 : (unsigned long long)ns;
        const char *sign = ns < 0 ? "-" : "";
        char frac[16] = "";

        if (u == 0)
                return xstrdup("0s");
        if (u < 1000000000ULL) {
                for (size_t i = 0; i < ARRAY_SIZE(small); i++) {
                        unsigned long long unit = (unsigned long long)small[i].unit;
                        if (u < unit)
                                continue;
                        if (u % unit) {
                                int w = i == 0 ? 6 : i == 1 ? 3 : 0;
                                snprintf(frac, sizeof(frac), ".%0*llu", w, u % unit);
                                for (size_t l = strlen(frac); l > 1 && frac[l - 1] == '0'; l--)
                                        frac[l - 1] = '\0';
                        }
                        return xasprintf("%s%llu%s%s", sign, u / unit, frac, small[i].name);
                }
        }
        unsigned long long h = u / 3600000000000ULL, m = u / 60000000000ULL % 60;
        unsigned long long s = u % 60000000000ULL;
        if (s % 1000000000ULL) {
                snprintf(frac, sizeof(frac), ".%09llu", s % 1000000000ULL);
                for (size_t l = strlen(frac); l > 1 && frac[l - 1] == '0'; l--)
                        frac[l - 1] = '\0';
        }
        if (h)
                return xasprintf("%s%lluh%llum%llu%ss", sign, h, m, s / 1000000000ULL, frac);
        if (m)
                return xasprintf("%s%llum%llu%ss", sign, m, s / 1000000000ULL, frac);
        return xasprintf("%s%llu%ss", sign, s / 1000000000ULL, frac);
}

const struct go_field *go_field_of(const struct go_type *t, const char *name)
{
        for (const struct go_field *f = t ? t->fields : NULL; f && f->name; f++)
                if (strcmp(f->name, name) == 0)
                        return f;
        return NULL;
}
