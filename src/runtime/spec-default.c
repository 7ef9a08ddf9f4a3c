/* The default config.json (`berth-runtime spec`) and the `features` document. */
#include "runtime/internal.h"

static json_t *strv_json(const char *const *v)
{
        json_t *a = json_array();
        for (size_t i = 0; v[i]; i++)
                json_array_append_new(a, json_string(v[i]));
        return a;
}

static json_t *mount_json(const char *dst, const char *type, const char *src,
                          const char *const *opts)
{
        json_t *m = json_pack("{s:s, s:s, s:s}", "destination", dst, "type", type, "source", src);
        if (opts)
                json_object_set_new(m, "options", strv_json(opts));
        return m;
}

json_t *berth_spec_default(bool rootless)
{
        static const char *const caps[] = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE",
                                           NULL};
        static const char *const env[] = {
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm",
            NULL};
        static const char *const masked[] = {"/proc/acpi",
                                             "/proc/asound",
                                             "/proc/kcore",
                                             "/proc/keys",
                                             "/proc/latency_stats",
                                             "/proc/timer_list",
                                             "/proc/timer_stats",
                                             "/proc/sched_debug",
                                             "/sys/firmware",
                                             "/proc/scsi",
                                             "/sys/devices/virtual/powercap",
                                             NULL};
        static const char *const ro[] = {
            "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL};
        json_t *capsj = json_object();
        json_object_set_new(capsj, "bounding", strv_json(caps));
        json_object_set_new(capsj, "effective", strv_json(caps));
        json_object_set_new(capsj, "permitted", strv_json(caps));
        json_t *process =
            json_pack("{s:b, s:{s:i, s:i}, s:[s], s:o, s:s, s:o, s:[{s:s, s:i, s:i}], s:b}",
                      "terminal", 1, "user", "uid", 0, "gid", 0, "args", "sh", "env",
                      strv_json(env), "cwd", "/", "capabilities", capsj, "rlimits", "type",
                      "RLIMIT_NOFILE", "hard", 1024, "soft", 1024, "noNewPrivileges", 1);

        json_t *mounts = json_array();
        json_array_append_new(mounts, mount_json("/proc", "proc", "proc", NULL));
        json_array_append_new(
            mounts,
            mount_json("/dev", "tmpfs", "tmpfs",
                       (const char *[]){"nosuid", "strictatime", "mode=755", "size=65536k", NULL}));
        const char *devpts[] = {"nosuid",      "noexec",
                                "newinstance", "ptmxmode=0666",
                                "mode=0620",   rootless ? NULL : "gid=5",
                                NULL};
        json_array_append_new(mounts, mount_json("/dev/pts", "devpts", "devpts", devpts));
        json_array_append_new(mounts,
                              mount_json("/dev/shm", "tmpfs", "shm",
                                         (const char *[]){"nosuid", "noexec", "nodev", "mode=1777",
                                                          "size=65536k", NULL}));
        json_array_append_new(mounts,
                              mount_json("/dev/mqueue", "mqueue", "mqueue",
                                         (const char *[]){"nosuid", "noexec", "nodev", NULL}));
        if (rootless)
                json_array_append_new(
                    mounts,
                    mount_json("/sys", "none", "/sys",
                               (const char *[]){"rbind", "nosuid", "noexec", "nodev", "ro", NULL}));
        else
                json_array_append_new(
                    mounts, mount_json("/sys", "sysfs", "sysfs",
                                       (const char *[]){"nosuid", "noexec", "nodev", "ro", NULL}));
        json_array_append_new(mounts, mount_json("/sys/fs/cgroup", "cgroup", "cgroup",
                                                 (const char *[]){"nosuid", "noexec", "nodev",
                                                                  "relatime", "ro", NULL}));

        json_t *ns = json_array();
        const char *nsnames[] = {"pid",    rootless ? NULL : "network", "ipc", "uts", "mount",
                                 "cgroup", rootless ? "user" : NULL};
        for (size_t i = 0; i < ARRAY_SIZE(nsnames); i++)
                if (nsnames[i])
                        json_array_append_new(ns, json_pack("{s:s}", "type", nsnames[i]));
        json_t *lx = json_pack("{s:o, s:o, s:o}", "namespaces", ns, "maskedPaths",
                               strv_json(masked), "readonlyPaths", strv_json(ro));
        if (rootless) {
                json_object_set_new(lx, "uidMappings",
                                    json_pack("[{s:i, s:i, s:i}]", "containerID", 0, "hostID",
                                              (int)geteuid(), "size", 1));
                json_object_set_new(lx, "gidMappings",
                                    json_pack("[{s:i, s:i, s:i}]", "containerID", 0, "hostID",
                                              (int)getegid(), "size", 1));
        } else {
                json_object_set_new(
                    lx, "resources",
                    json_pack("{s:[{s:b, s:s}]}", "devices", "allow", 0, "access", "rwm"));
        }
        return json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o}", "ociVersion", "1.2.0",
                         "process", process, "root", "path", "rootfs", "readonly", 1, "hostname",
                         "berth", "mounts", mounts, "linux", lx);
}

json_t *berth_runtime_features(void)
{
        static const char *const mount_opts[] = {
            "async",       "atime",      "bind",        "dev",        "diratime",      "dirsync",
            "exec",        "lazytime",   "mand",        "noatime",    "nodev",         "nodiratime",
            "noexec",      "nolazytime", "nomand",      "norelatime", "nostrictatime", "nosuid",
            "nosymfollow", "private",    "rbind",       "relatime",   "remount",       "ro",
            "rprivate",    "rro",        "rshared",     "rslave",     "runbindable",   "rw",
            "shared",      "slave",      "strictatime", "suid",       "symfollow",     "sync",
            "tmpcopyup",   "unbindable", NULL};
        static const char *const ns[] = {"cgroup", "ipc",  "mount", "network", "pid",
                                         "time",   "user", "uts",   NULL};
        json_t *caps = json_array();
        for (int c = 0; c <= spec_cap_last(); c++)
                json_array_append_new(caps, json_string(spec_cap_name(c)));
        static const char *const actions[] = {
            "SCMP_ACT_ALLOW",        "SCMP_ACT_ERRNO",       "SCMP_ACT_KILL",
            "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
            "SCMP_ACT_TRACE",        "SCMP_ACT_TRAP",        NULL};
        static const char *const ops[] = {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
                                          "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ",
                                          "SCMP_CMP_NE", NULL};
        static const char *const archs[] = {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64",
                                            "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64",
                                            "SCMP_ARCH_ARM", NULL};
        static const char *const flags[] = {"SECCOMP_FILTER_FLAG_LOG",
                                            "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                            "SECCOMP_FILTER_FLAG_TSYNC", NULL};
        json_t *seccomp =
            json_pack("{s:b, s:o, s:o, s:o, s:o, s:o}", "enabled", 1, "actions", strv_json(actions),
                      "operators", strv_json(ops), "archs", strv_json(archs), "knownFlags",
                      strv_json(flags), "supportedFlags", strv_json(flags));
        json_t *lx =
            json_pack("{s:o, s:o, s:{s:b, s:b, s:b, s:b, s:b}, s:o, s:{s:b}, s:{s:b}, s:{s:b}, "
                      "s:{s:{s:b}}}",
                      "namespaces", strv_json(ns), "capabilities", caps, "cgroup", "v1", 1, "v2", 1,
                      "systemd", 0, "systemdUser", 0, "rdma", 0, "seccomp", seccomp, "apparmor",
                      "enabled", 0, "selinux", "enabled", 0, "intelRdt", "enabled", 0,
                      "mountExtensions", "idmap", "enabled", 0);
        json_object_set_new(lx, "memoryPolicy", process_attrs_memory_policy_features());
        static const char *const hooks[] = {"prestart",
                                            "createRuntime",
                                            "createContainer",
                                            "startContainer",
                                            "poststart",
                                            "poststop",
                                            NULL};
        return json_pack("{s:s, s:s, s:o, s:o, s:o, s:{s:s, s:s}}", "ociVersionMin", "1.0.0",
                         "ociVersionMax", "1.2.0", "hooks", strv_json(hooks), "mountOptions",
                         strv_json(mount_opts), "linux", lx, "annotations",
                         "org.opencontainers.runc.checkpoint.enabled", "false",
                         "run.oci.keep_original_groups", "1");
}
