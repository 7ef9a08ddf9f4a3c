/* Docker container config → OCI runtime spec (config.json). Internal to src/daemon.
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
};

struct spec_ctx {
        const char *id;          /* container id (64 hex) */
        const char *rootfs;      /* mounted overlay, absolute */
        const char *hostname;    /* default: first 12 chars of id */
        const char *hosts_path;  /* files bound at /etc/hosts, /etc/resolv.conf, /etc/hostname */
        const char *resolv_path; /*   (NULL: not bound) */
        const char *hostname_path;
        const char *init_path; /* static init binary bound at /sbin/docker-init for Init=true */
        const char *seccomp_default_path; /* data/seccomp/default.json (docker semantics) */
        const char *cgroup_parent;        /* default "berth" → linux.cgroupsPath "berth/<id>" */
        /* namespaces to join for NetworkMode/PidMode/IpcMode/UTSMode "container:<x>": the other
         * container's init pid (0 = not joined); "host" modes leave the namespace out */
        pid_t net_container_pid, pid_container_pid, ipc_container_pid, uts_container_pid;
        const struct spec_mount *mounts; /* resolved Binds + Mounts (bind, volume) */
        size_t n_mounts;
};

/* Build config.json from a Docker ContainerCreate body (Config fields at the top level plus
 * "HostConfig") and the image config's "config" object (Env, Cmd, Entrypoint, WorkingDir, User,
 * ExposedPorts, Volumes, StopSignal; may be NULL). Docker's semantics: image Env overridden by
 * the container's, Entrypoint+Cmd rules, default capability set, masked/readonly paths, default
 * seccomp profile unless unconfined/privileged, resources (Memory, MemoryReservation, MemorySwap,
 * NanoCpus, CpuShares, CpuQuota/Period, CpusetCpus, PidsLimit, BlkioWeight), Devices, CapAdd/
 * CapDrop, Privileged, ReadonlyRootfs, SecurityOpt, Ulimits, Tmpfs and Mounts type tmpfs,
 * namespace modes. Invalid input → EINVAL with a message naming the field (docker's 400). */
int daemon_spec_build(const json_t *create, const json_t *image_config,
                      const struct spec_ctx *ctx, json_t **ret_spec, struct berth_error **err);

/* The process to run for an exec: docker's ExecConfig (Cmd, Env, WorkingDir, User, Tty,
 * Privileged) over the container's spec → an OCI process object (for `berth-shim exec`). */
int daemon_spec_exec_process(const json_t *exec_config, const json_t *container_spec,
                             const char *rootfs, json_t **ret_process, struct berth_error **err);

#endif
