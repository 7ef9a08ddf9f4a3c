/* spec/: docker container config → OCI runtime spec (config.json). Internal to src/daemon; a
 * library of its own (spec_dep), linked alone by its unit test and fuzz targets.
 *
 * Pure: reads only what ctx names (the rootfs' /etc/passwd and /etc/group for User, parsed by
 * berth's own parser — never NSS, CVE-2019-14271), writes nothing. */
#ifndef BERTH_DAEMON_SPEC_H
#define BERTH_DAEMON_SPEC_H

#include "common/common.h"

struct spec_mount {
        const char *source; /* host path (volumes already resolved to their _data dir) */
        const char *target;
        bool readonly;
        const char *propagation; /* NULL, "rprivate", "rshared", … */
        bool non_recursive;      /* BindOptions.NonRecursive: "bind" instead of "rbind" */
};

struct spec_ctx {
        const char *id;          /* container id (64 hex) */
        const char *rootfs;      /* mounted overlay, absolute */
        const char *hostname;    /* Config.Hostname wins; NULL: first 12 chars of id */
        const char *hosts_path;  /* files bound at /etc/hosts, /etc/resolv.conf, /etc/hostname */
        const char *resolv_path; /*   (NULL: not bound) */
        const char *hostname_path;
        const char *init_path; /* static init binary bound at /sbin/docker-init for Init=true */
        const char *seccomp_default_path; /* data/seccomp/default.json (docker semantics);
                                           * parsed once, reloaded when the file changes */
        const char *cgroup_parent;        /* default "berth" → linux.cgroupsPath "/berth/<id>" */
        /* namespaces to join for NetworkMode/PidMode/IpcMode/UTSMode "container:<x>": the other
         * container's init pid (0 = not joined); "host" modes leave the namespace out */
        pid_t net_container_pid, pid_container_pid, ipc_container_pid, uts_container_pid;
        /* the pinned network namespace the daemon prepared (bridge and user networks); NULL: a
         * new one with loopback only */
        const char *netns_path;
        /* host directory bound at /dev/shm (IpcMode shareable: the container's own tmpfs the
         * daemon mounted; container:<x>: the donor's; host: /dev/shm); NULL: a tmpfs of the
         * spec (private), nothing for IpcMode none */
        const char *shm_path;
        const struct spec_mount *mounts; /* resolved Binds + Mounts (bind, volume) */
        size_t n_mounts;
        /* daemon_spec_validate's create-time check: what the host or the rootfs holds (User,
         * device nodes) is looked up at start, like docker */
        bool validate_only;
};

/* Build config.json from a Docker ContainerCreate body (Config fields at the top level plus
 * "HostConfig") and the image config's "config" object (Env, Cmd, Entrypoint, WorkingDir, User,
 * ExposedPorts, Volumes, StopSignal; may be NULL). Docker's semantics: image Env overridden by
 * the container's, Entrypoint+Cmd rules, default capability set, masked/readonly paths, default
 * seccomp profile unless unconfined/privileged, resources (Memory, MemoryReservation, MemorySwap,
 * NanoCpus, CpuShares, CpuQuota/Period, CpusetCpus, PidsLimit, BlkioWeight), Devices, CapAdd/
 * CapDrop, Privileged, ReadonlyRootfs, SecurityOpt, Ulimits, Tmpfs and Mounts type tmpfs,
 * namespace modes. Invalid input → EINVAL with a message naming the field (docker's 400);
 * NetworkMode names are the daemon's network module's to check. The
 * spec may share its linux.seccomp object with later specs (a cache): treat it as read-only. */
int daemon_spec_build(const json_t *create, const json_t *image_config, const struct spec_ctx *ctx,
                      json_t **ret_spec, struct berth_error **err);

/* docker's default MaskedPaths (with the host's per-CPU thermal_throttle directories) and
 * ReadonlyPaths, which a container gets unless HostConfig names its own; new arrays. */
json_t *daemon_spec_default_masked_paths(void);
json_t *daemon_spec_default_readonly_paths(void);
/* docker's default CgroupnsMode: "private" on a cgroup v2 host, "host" on v1 or hybrid. */
const char *daemon_spec_default_cgroupns_mode(void);

/* Check a ContainerCreate body at create time the way docker does (400 for bad resources,
 * capabilities, security options, namespace modes, Binds/Mounts/Tmpfs syntax, ulimits, sysctls,
 * devices, no command): everything daemon_spec_build() checks except what needs the container's
 * rootfs (User, looked up at start like docker) or running containers (`container:<x>`
 * modes). EINVAL with docker's message. */
int daemon_spec_validate(const json_t *create, const json_t *image_config,
                         struct berth_error **err);

/* The process to run for an exec: docker's ExecConfig (Cmd, Env, WorkingDir, User, Tty,
 * Privileged) over the container's spec → an OCI process object (for `berth-shim exec`).
 * group_add is the container's HostConfig.GroupAdd (may be NULL): an exec User gets those
 * groups too, as with dockerd. */
int daemon_spec_exec_process(const json_t *exec_config, const json_t *container_spec,
                             const json_t *group_add, const char *rootfs, json_t **ret_process,
                             struct berth_error **err);

/* One entry of HostConfig.Binds or HostConfig.Mounts (types bind and volume) for the daemon to
 * resolve into a struct spec_mount (tmpfs mounts are handled by daemon_spec_build itself). */
enum spec_mount_kind { SPEC_MOUNT_BIND, SPEC_MOUNT_VOLUME };

struct spec_mount_req {
        enum spec_mount_kind kind;
        char *source; /* bind: absolute host path (cleaned); volume: NULL */
        char *volume; /* volume: its name, NULL for an anonymous volume; bind: NULL */
        char *target; /* absolute path in the container (cleaned) */
        bool readonly;
        char *propagation;  /* NULL (default rprivate) or "rprivate", "rshared", "rslave", … */
        bool create_source; /* Binds (docker's -v) and Mounts with BindOptions.CreateMountpoint:
                             * a missing host directory is created */
        bool nocopy;        /* volume: do not copy the image's content into a new volume */
        bool non_recursive; /* Mounts bind: BindOptions.NonRecursive (submounts not bound) */
        char *mode;         /* Binds: the options field as given ("ro,rslave"), else NULL */
};

/* Parse and validate HostConfig.Binds ("src:dst[:opts]") and HostConfig.Mounts (bind, volume,
 * tmpfs) of a ContainerCreate body with docker's rules and messages ("invalid volume
 * specification: 'x'", "invalid mount config for type \"bind\": …", "Duplicate mount point: …");
 * a Mounts bind source must exist. Returns the bind and volume entries (Binds first) in
 * *ret (free with daemon_spec_mount_reqs_free); EINVAL on bad input. */
int daemon_spec_parse_mounts(const json_t *create, struct spec_mount_req **ret, size_t *ret_n,
                             struct berth_error **err);

void daemon_spec_mount_reqs_free(struct spec_mount_req *m, size_t n);

#endif
