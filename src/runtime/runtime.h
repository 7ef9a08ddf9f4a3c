/* berth runtime: OCI bundle → running container.
 *
 * The one public header of src/runtime, used by berth-runtime's command line and by the shim.
 * Every call returns 0 or a negative errno and fills *err; nothing here prints or exits.
 */
#ifndef BERTH_RUNTIME_H
#define BERTH_RUNTIME_H

#include "common/common.h"

#include <signal.h>

/* Where container state lives: "<root>/<id>/state.json". */
struct berth_runtime {
        const char *root; /* default "/run/berth-runtime" */
};

#define BERTH_RUNTIME_DEFAULT_ROOT "/run/berth-runtime"

struct berth_create_opts {
        const char *id;
        const char *bundle;         /* directory holding config.json; NULL = cwd */
        const char *pid_file;       /* write the container's pid here (may be NULL) */
        const char *console_socket; /* unix socket receiving the pty master (terminal=true) */
        int preserve_fds;           /* pass this many fds after the listen fds to the process */
        int listen_fds;             /* socket activation: fds 3..3+n-1 passed on with LISTEN_FDS=n
                                     * and LISTEN_PID=1 in the process env (0: none) */
        const char *notify_socket;  /* sd_notify socket of the caller (NOTIFY_SOCKET): relayed
                                     * (runc's semantics) */
        char **reexec_argv;         /* when the container could ptrace the runtime, re-exec this
                                     * command line from a sealed copy first (CVE-2019-5736);
                                     * NULL: never */
        bool no_pivot;              /* use MS_MOVE+chroot instead of pivot_root */
        bool no_new_keyring;        /* keep the session keyring */
        bool keep;                  /* run: leave the stopped container (state, cgroup) for a
                                     * later delete, like runc's --keep */
};

/* Create the container and leave its process waiting before exec of process.args, until
 * berth_container_start(). The caller may exit afterwards; the container process outlives it.
 */
int berth_container_create(const struct berth_runtime *rt, const struct berth_create_opts *o,
                           struct berth_error **err);

/* Let a created container exec its process. */
/* notify_socket (the caller's NOTIFY_SOCKET, may be NULL): when the container was created with
 * one, wait for its READY=1 and pass it on. */
int berth_container_start(const struct berth_runtime *rt, const char *id, const char *notify_socket,
                          struct berth_error **err);

/* Create and start in one go. detach=false: stay its parent, forward signals, wait for it to
 * exit, delete it (unless o->keep: then it stays, stopped, until berth_container_delete), and
 * set *ret_status to its exit code (128+signal when killed). detach=true:
 * return as soon as it runs.
 */
int berth_container_run(const struct berth_runtime *rt, const struct berth_create_opts *o,
                        bool detach, int *ret_status, struct berth_error **err);

/* berth-runtime exec: run another process in a running container. */
struct berth_exec_opts {
        const char *process_path; /* process.json; else args and the container's own defaults */
        char **args;              /* NULL-terminated */
        char **env;               /* extra KEY=VALUE, NULL-terminated (may be NULL) */
        const char *cwd;
        const char *user; /* "uid[:gid]"; the spec's additionalGids stay, as with runc */
        const gid_t *additional_gids; /* appended to the spec's (runc's -g) */
        size_t n_additional_gids;
        char **caps;    /* capabilities added to bounding/effective/permitted */
        char **cgroups; /* runc's --cgroup: "sub" or "ctrl[,ctrl]:sub", a sub-cgroup of the
                         * container's (it must exist) to run the process in; NULL: its own */
        bool tty;
        bool no_new_privs;
        bool ignore_paused; /* exec into a paused container: the process starts when resumed */
        const char *pid_file;
        const char *console_socket;
        int preserve_fds;
        char **reexec_argv; /* as in berth_create_opts */
};

/* Join every namespace and the cgroup of the container's init and exec a process there.
 * detach=false: wait for it and set *ret_status to its exit status (128+signal when killed).
 */
int berth_container_exec(const struct berth_runtime *rt, const char *id,
                         const struct berth_exec_opts *o, bool detach, int *ret_status,
                         struct berth_error **err);

/* Freeze (pause) or thaw (resume) every process of a container. */
int berth_container_pause(const struct berth_runtime *rt, const char *id, bool pause,
                          struct berth_error **err);

/* Change the resources of a running container. resources_json is a linux.resources object
 * (as `update -r` reads it); its fields replace the current ones, others stay. */
int berth_container_update(const struct berth_runtime *rt, const char *id, json_t *resources_json,
                           struct berth_error **err);

/* One stats event like runc's `events --stats`: {"type": "stats", "id", "data": {cpu, memory,
 * pids}}. *ret_running tells whether the container still runs. */
int berth_container_stats(const struct berth_runtime *rt, const char *id, json_t **ret_event,
                          bool *ret_running, struct berth_error **err);

/* The pids (host view) of every process in the container's cgroup. */
int berth_container_pids(const struct berth_runtime *rt, const char *id, pid_t **ret_pids,
                         size_t *ret_n, struct berth_error **err);

/* The same readings for a container another OCI runtime (runc, crun) made, from the
 * linux.cgroupsPath of its config.json (NULL: the default "berth/<id>") and its id: the "data"
 * of a stats event (*ret_data new) and the pids of its cgroup. ENOENT when the cgroup is gone. */
int berth_cgroup_stats(const char *cgroups_path, const char *id, json_t **ret_data,
                       struct berth_error **err);
int berth_cgroup_pids(const char *cgroups_path, const char *id, pid_t **ret_pids, size_t *ret_n,
                      struct berth_error **err);

/* The OCI state of a container as JSON (ociVersion, id, status, pid, bundle, …). */
int berth_container_state(const struct berth_runtime *rt, const char *id, json_t **ret_state,
                          struct berth_error **err);

/* Send sig to the container's init (all=true: to every process in its cgroup). */
int berth_container_kill(const struct berth_runtime *rt, const char *id, int sig, bool all,
                         struct berth_error **err);

/* Delete a stopped or created container (force: kill a running one first): cgroups, state,
 * poststop hooks. Deleting an id that does not exist is ENOENT.
 */
int berth_container_delete(const struct berth_runtime *rt, const char *id, bool force,
                           struct berth_error **err);

/* An array of state objects (plus "created", "owner") for every container under root. */
int berth_container_list(const struct berth_runtime *rt, json_t **ret_list,
                         struct berth_error **err);

/* Re-execute the running binary from a sealed memfd copy with argv (no-op when already done).
 * Returns only on error. */
int berth_runtime_reexec_sealed(char **argv, struct berth_error **err);

/* A default config.json like `runc spec` (rootless: user namespace with the caller's ids). */
json_t *berth_spec_default(bool rootless);

/* The `features` document (OCI runtime features, truthful about this build). */
json_t *berth_runtime_features(void);

/* The kernel's capability names known to this build: "CAP_CHOWN" for 0 …; NULL past
 * berth_capability_last(). */
const char *berth_capability_name(int cap);
int berth_capability_last(void);

/* Parse a signal name or number ("KILL", "SIGKILL", "9"); negative errno when unknown. */
int berth_signal_parse(const char *s);

/* Check a config.json in bundle without running anything (used by tests and `create`). */
int berth_spec_check(const char *bundle, struct berth_error **err);

#endif
