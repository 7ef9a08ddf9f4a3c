/* Internal to the containers module (lifecycle.c, lifecycle-stop.c, create.c, attach.c,
 * restore.c, top.c, update.c, exec.c, runtime.c): shared helpers of the container table. Everything
 * "_locked" runs under cs->lock. */
#ifndef BERTH_DAEMON_LIFECYCLE_H
#define BERTH_DAEMON_LIFECYCLE_H

#include "daemon/containers/containers.h"

#include <spawn.h>

/* posix_spawn attributes for the daemon's children (shims, ps): no signal blocked, SIGPIPE back
 * to its default. Destroy with posix_spawnattr_destroy. */
void container_spawnattr_init(posix_spawnattr_t *attr);
/* RFC 3339 UTC time with nanoseconds, allocated. */
char *container_now_rfc3339(void);
/* Field 22 of /proc/<pid>/stat (tells a reused pid apart), 0 when unknown. */
uint64_t container_proc_start_time(pid_t pid);

/* A table entry with one reference (the table's); config borrowed. container_free releases what
 * it owns (no reference counting). */
struct container *container_new(struct containers *cs, const char *id, const char *name,
                                json_t *config);
void container_free(struct container *c);
/* docker's name rule [a-zA-Z0-9][a-zA-Z0-9_.-]*; the container named so (borrowed) or NULL. */
bool container_name_valid(const char *name);
struct container *container_by_name_locked(struct containers *cs, const char *name);

/* State persisted as JSON in the db: to JSON, from JSON, written (errors logged). */
json_t *container_state_json_locked(struct container *c);
void container_state_load(struct container *c, json_t *st);
void container_persist_locked(struct containers *cs, struct container *c);

/* The exit watcher (one epoll thread over the shims' pidfds): watch_shim takes pidfd and adds
 * a reference on c, dropped by container_exited once the exit is recorded. */
void *container_watcher_main(void *p);
void container_watch_shim(struct containers *cs, struct container *c, int pidfd);
void container_exited(struct containers *cs, struct container *c);
void container_unmount_rootfs(struct containers *cs, struct container *c);
/* IpcMode's /dev/shm (create.c), moby's setupIPCDirs: shareable mounts the container's own tmpfs
 * (ShmSize, 64 MiB by default) at <dir>/mounts/shm, container:<x> takes the donor's, which must
 * run and be shareable (docker's messages: 409 not running, 400 non-shareable); *ret_shm_path is
 * the host dir to bind at /dev/shm, NULL when the spec makes its own (private, host, none).
 * container_ipc_release unmounts the container's own tmpfs (exit, remove; idempotent). */
int container_ipc_prepare(struct containers *cs, struct container *c, char **ret_shm_path,
                          struct berth_error **err);
void container_ipc_release(struct container *c);
/* docker's CopyData at create: the volumes of c's config "populate" list get the image's content
 * (volumes_populate) from c's rootfs, mounted for the copy; the list is left to the caller. c
 * need not be in the table yet. */
int container_populate_volumes(struct containers *cs, struct container *c,
                               struct berth_error **err);
/* The runtime driver (runtime.c): the one place that tells the built-in runtime (the library,
 * in the shim and here) from an OCI runtime binary of daemon.json (c's HostConfig.Runtime, run
 * with runc's command line: `kill`, `pause`/`resume`, `update --resources -`, `delete --force`)
 * and runs berthd's verbs on c through the right one. An unknown runtime name (the daemon
 * restarted without it in its configuration) is docker's EINVAL "Unknown runtime specified". */
/* Push the shim's runtime options for c: --runtime-root, and --runtime-path/--runtime-arg for an
 * external runtime. */
int container_rt_shim_args(struct containers *cs, struct container *c, char ***argv,
                           struct berth_error **err);
/* Is c's runtime configured? Checked before a stop or a forced remove, which wait for an exit
 * only the runtime can bring. */
int container_rt_check(struct containers *cs, struct container *c, struct berth_error **err);
/* Fit the config.json written for c to its runtime: an external one gets ociVersion
 * "1.0.2-dev", the version containerd writes for dockerd (crun 1.8 refuses any other than 1.0;
 * the fields a docker create body makes are 1.0's). */
int container_rt_spec_adjust(struct containers *cs, struct container *c, json_t *spec,
                             struct berth_error **err);
/* Signal c's init. */
int container_rt_kill(struct containers *cs, struct container *c, int sig,
                      struct berth_error **err);
int container_rt_pause(struct containers *cs, struct container *c, bool pause,
                       struct berth_error **err);
/* Delete c's runtime state, killing what is left (errors are only logged). */
void container_rt_delete(struct containers *cs, struct container *c);
/* Apply a linux.resources object to running c. */
int container_rt_update(struct containers *cs, struct container *c, json_t *resources,
                        struct berth_error **err);
/* The host pids of c's processes (its cgroup). */
int container_rt_pids(struct containers *cs, struct container *c, pid_t **ret_pids, size_t *ret_n,
                      struct berth_error **err);

/* Start under c->op (container_start takes it); c out of the name/id table (cs->lock held). */
int container_start_locked(struct containers *cs, struct container *c, struct berth_error **err);
void container_table_drop_locked(struct containers *cs, struct container *c);
/* Restart policies: whether c restarts after its exit (or at daemon start), and the delayed
 * restart of c (docker's back-off). */
bool container_restart_wanted(struct containers *cs, struct container *c, bool daemon_start);
void container_schedule_restart(struct containers *cs, struct container *c);

#endif
