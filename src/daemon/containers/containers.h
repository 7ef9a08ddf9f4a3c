/* containers/: the container table and everything done to a container. Internal to src/daemon.
 *
 * lifecycle.c (the table, persistence, start), lifecycle-stop.c (exits, restart policies,
 * stop/kill/pause, remove, rename, the exit watcher), create.c, restore.c (live-restore),
 * attach.c (shim requests, detach events, waits), exec.c, health.c, update.c, top.c, archive.c
 * (cp, export, diff), logs.c (a container's logs and stats over state/) and etc-files.c. The
 * routes in http/ call these functions; locking (cs->lock for state, c->op for start/stop/
 * remove) and runtime calls stay here. */
#ifndef BERTH_DAEMON_CONTAINERS_H
#define BERTH_DAEMON_CONTAINERS_H

#include "common/common.h"

#include <pthread.h>
#include <time.h>

struct daemon;
struct containers;
struct daemon_runtimes;

enum container_status {
        CONTAINER_CREATED,
        CONTAINER_RUNNING,
        CONTAINER_PAUSED,
        CONTAINER_RESTARTING,
        CONTAINER_REMOVING,
        CONTAINER_EXITED,
        CONTAINER_DEAD,
};

/* An attach request queued until the container starts (the shim gets it before "start"). */
struct pending_attach {
        struct pending_attach *next;
        json_t *msg; /* {"attach": {...}} */
        int fd;
        int notify_fd; /* the shim's end of the detach watch (container_watch_detach), or -1 */
};

struct container {
        int refs; /* under the table lock */
        char *id;
        char *name; /* without the leading '/' */
        char *dir;  /* data_root/containers/<id> */
        char *rootfs, *state_dir, *log_path;
        /* {"create": docker's body, "image": as given, "image_id", "created", "image_config":
         * the image's config.config, "mounts": docker's Mounts array (resolved sources),
         * "populate" (during create only): [{"Name", "Destination"}] volumes to fill from the
         * image (docker's CopyData)} */
        json_t *config;
        /* state (under the table lock), persisted as JSON in the db */
        enum container_status status;
        pid_t pid, shim_pid;
        uint64_t shim_start; /* field 22 of /proc/<shim>/stat: tells a reused pid apart */
        int pidfd;           /* of the shim, watched by the exit thread; -1 when none */
        int exit_code;
        bool oom_killed;
        char *started_at, *finished_at, *error;
        int restart_count;
        bool stopped_by_user; /* stop/kill by request: no restart (unless-stopped, always) */
        bool has_been_started;
        bool mounted;
        bool removed;
        int io_holds;                /* archive/export users of a rootfs mounted while stopped */
        uint64_t exit_gen;           /* bumped on every exit (wait next-exit) */
        struct timespec exited_mono; /* CLOCK_MONOTONIC of the last exit */
        struct pending_attach *pending;
        /* healthcheck (under the table lock): State.Health {Status, FailingStreak, Log}, NULL
         * without a healthcheck; the start it belongs to; CLOCK_MONOTONIC of the next probe and of
         * the start */
        json_t *health;
        char *health_started_at;
        struct timespec health_next, health_since;
        bool health_busy;
        pthread_mutex_t op; /* serialises start/stop/remove/restart of this container */
};

struct containers {
        struct daemon *d;
        pthread_mutex_t lock;
        pthread_cond_t cond; /* broadcast on every state change (wait) */
        struct container **v;
        size_t n;
        int epfd; /* pidfds of the shims */
        /* the detach watches on epfd (attach.c; under lock): reachable until they end */
        struct detach_watch *detach_watches;
        pthread_t watcher;
        /* recently removed containers for wait condition=removed that arrives late */
        struct tombstone {
                char id[65];
                int exit_code;
                struct timespec when;
        } tomb[64];
        size_t tomb_next;
};

/* Load the table from the db, re-adopt running containers whose shim is alive, record the exit
 * of the others, apply restart policies, and start the exit watcher. */
int containers_open(struct daemon *d, struct containers **ret, struct berth_error **err);

/* Look a container up by full id, unique id prefix, or name (with or without '/'): a
 * reference the caller drops with container_unref. ENOENT "No such container: x". */
int container_get(struct containers *cs, const char *ref, struct container **ret,
                  struct berth_error **err);
void container_ref(struct containers *cs, struct container *c);
void container_unref(struct containers *cs, struct container *c);
/* Every container (referenced), in creation order; free with containers_list_free. */
struct container **containers_snapshot(struct containers *cs, size_t *ret_n);
void containers_snapshot_free(struct containers *cs, struct container **v, size_t n);

/* A HostConfig.RestartPolicy (borrowed, may be NULL) as dockerd's ValidateRestartPolicy takes it,
 * in its words: EINVAL for an unknown name, a maximum retry count with a policy other than
 * on-failure, a negative one. An empty name is no policy. */
int container_restart_policy_validate(json_t *rp, struct berth_error **err);
/* POST /containers/create: body is docker's create body (borrowed). Warnings appended to
 * *warnings. */
int container_create(struct containers *cs, const char *name, json_t *body, char **ret_id,
                     json_t *warnings, struct berth_error **err);
/* Start (mount, spec, shim). EALREADY when it already runs (docker's 304). */
int container_start(struct containers *cs, struct container *c, struct berth_error **err);
/* Stop: signal (NULL: StopSignal or SIGTERM), wait timeout seconds (< 0: StopTimeout or 10),
 * then SIGKILL. EALREADY when not running. */
int container_stop(struct containers *cs, struct container *c, const char *signal, int timeout,
                   struct berth_error **err);
int container_restart(struct containers *cs, struct container *c, const char *signal, int timeout,
                      struct berth_error **err);
int container_kill(struct containers *cs, struct container *c, const char *signal,
                   struct berth_error **err);
int container_pause(struct containers *cs, struct container *c, bool pause,
                    struct berth_error **err);
/* force: kill a running one; volumes: remove its anonymous volumes. */
int container_remove(struct containers *cs, struct container *c, bool force, bool volumes,
                     struct berth_error **err);
int container_rename(struct containers *cs, struct container *c, const char *name,
                     struct berth_error **err);
/* Docker's detach keys (berth_detach_keys_parse; NULL or "" is ctrl-p,ctrl-q) → a new JSON
 * array of the key bytes for the shim's attach request; NULL when a key is unknown. */
json_t *container_detach_keys_parse(const char *keys);

/* Queue (before start) or send (running) an attach request with its socket (taken). */
int container_attach(struct containers *cs, struct container *c, json_t *msg, int fd,
                     struct berth_error **err);
/* Ask c's shim to resize its tty to h rows, w columns and log docker's `resize` event (height,
 * width). EBUSY (409, docker's message) when c does not run; errors reaching the shim. */
int container_resize(struct containers *cs, struct container *c, long long h, long long w,
                     struct berth_error **err);
/* Send a request to the shim's attach socket (resize, close_stdin). */
int container_shim_request(struct container *c, json_t *msg, struct berth_error **err);
/* The same with an fd passed along (SCM_RIGHTS; not taken). */
int container_shim_request_fd(struct container *c, json_t *msg, int fd, struct berth_error **err);
/* The same with nfds fds passed along (not taken). */
int container_shim_request_fds(struct container *c, json_t *msg, const int *fds, size_t nfds,
                               struct berth_error **err);

/* A socket for the shim to say that an attach client of c (exec_id NULL) or of its exec
 * exec_id left by its detach keys: sent with the attach request as its second fd (src/shim/
 * shim.h), the returned end (the caller's to pass and close). The daemon's end is watched by the
 * exit watcher's epoll: {"detached": true} on it publishes docker's `detach` (or `exec_detach`
 * with its execID) event; its end (the client gone) releases it. -1 (no event then, the attach
 * works the same) when no socket can be made. */
int container_watch_detach(struct containers *cs, struct container *c, const char *exec_id);
/* The exit watcher's part for a detach watch (the epoll entry's tagged pointer). */
void container_detach_watch_ready(struct containers *cs, uint64_t tagged);
/* The low bit of an epoll entry's data.u64 on cs->epfd: a detach watch, not a shim's pidfd. */
#define CONTAINER_WATCH_DETACH_TAG 1u

/* The exit code of a container removed in the last 30 s whose id starts with ref, or -1: a
 * `run --rm` client's wait(removed) may come in after a fast container is gone. */
int container_removed_exit_code(struct containers *cs, const char *ref);
/* The exit generation a wait on condition starts from; *ret_done with *ret_code when a
 * next-exit wait arrives just after the exit it waits for (start won the race). */
uint64_t container_wait_begin(struct containers *cs, struct container *c, const char *condition,
                              bool *ret_done, int *ret_code);
/* Wait for condition ("not-running", "next-exit", "removed"); the exit code. gen: c->exit_gen
 * read when the request came in (next-exit; not-running also ends at the next exit of a
 * container a restart policy restarts, as docker's). */
int container_wait(struct containers *cs, struct container *c, const char *condition, uint64_t gen,
                   int *ret_code);

/* docker's inspect object and /containers/json entry (under the table lock inside). */
json_t *container_inspect(struct containers *cs, struct container *c, bool size);
json_t *container_summary(struct containers *cs, struct container *c, bool size);
/* docker's Config of inspect: the create body over the image's config; new. */
json_t *container_config_merged(struct container *c);
/* The container's creation time in seconds since the epoch; 0 when unknown. */
time_t container_created_unix(struct container *c);
/* docker's /containers/json (list.c): filters the parsed `filters` query (EINVAL for an unknown
 * key, ENOENT for a before/since container that does not exist); all: stopped ones too; limit
 * (> 0) the newest that many. *ret a new array of container_summary entries. */
int container_list(struct containers *cs, json_t *filters, bool all, long long limit, bool size,
                   json_t **ret, struct berth_error **err);
/* docker's /containers/prune (list.c): remove the stopped containers whose labels match the
 * `label` filter; {"ContainersDeleted": [...], "SpaceReclaimed": n}, new. */
json_t *container_prune(struct containers *cs, json_t *filters);
const char *container_status_name(enum container_status s);
bool container_is_running(struct containers *cs, struct container *c);
/* c's status, read under the table lock. */
enum container_status container_status_of(struct containers *cs, struct container *c);
/* Has c run and exited (not merely created)? */
bool container_exited_after_start(struct containers *cs, struct container *c);

/* The create body's field (Config level: "Tty", "Env", …) or HostConfig's ("HostConfig",
 * "AutoRemove"); borrowed, may be NULL. */
json_t *container_cfg(struct container *c, const char *key);
json_t *container_host_cfg(struct container *c, const char *key);

/* Is image id used by a container? (berth_image_in_use_fn; userdata = struct daemon *) */
bool containers_image_in_use(const char *image_id, void *userdata, char **ret_container);
/* Counts for /info. */
void containers_count(struct containers *cs, int *ret_running, int *ret_paused, int *ret_stopped);

/* docker update (update.c): body is docker's update body (borrowed; RestartPolicy already
 * validated). Applied to the running container's cgroup, then kept in its HostConfig. EBUSY
 * (docker's 409) for a memory above the stored swap, EINVAL for a swap below the memory. */
int container_update(struct containers *cs, struct container *c, json_t *body,
                     struct berth_error **err);
/* Rewrite c's db row (config changed: update). */
int container_config_save(struct containers *cs, struct container *c, struct berth_error **err);

/* exec.c: exec instances. Errors carry docker's messages: EINVAL for a bad ExecConfig, ENOENT
 * for an unknown container or exec, EBUSY (docker's 409) for a container not running or paused
 * or an exec already started. */
struct exec;
/* Record the ExecConfig body (referenced) for the running container ref; *ret_id is new. */
int container_exec_create(struct containers *cs, const char *ref, json_t *body, char **ret_id,
                          struct berth_error **err);
/* The exec instance id, referenced (release with container_exec_unref). */
int container_exec_get(struct containers *cs, const char *id, struct exec **ret,
                       struct berth_error **err);
void container_exec_unref(struct exec *e);
/* Check that e may start now and publish its exec_start event. */
int container_exec_start_prepare(struct exec *e, struct berth_error **err);
/* The Tty of e's ExecConfig. */
bool container_exec_tty(struct exec *e);
/* Run e under its own shim: attach_fd (borrowed) is the client's stream handed to the shim, -1
 * for a detached exec. On failure e is done with exit code 126. */
int container_exec_start(struct exec *e, bool tty, int attach_fd, json_t *console_size,
                         struct berth_error **err);
/* Resize the exec's tty. */
int container_exec_resize(struct exec *e, long long h, long long w, struct berth_error **err);
/* docker's /exec/{id}/json object of e (its exit collected first when it is done); new. */
json_t *container_exec_inspect(struct exec *e);

/* Keep c's rootfs mounted for file access (mounting it when the container is stopped):
 * *ret_temp tells the caller to call container_rootfs_release when done. */
int container_rootfs_hold(struct containers *cs, struct container *c, bool *ret_temp,
                          struct berth_error **err);
void container_rootfs_release(struct containers *cs, struct container *c);

/* Where stats read c (runtime.c): NULL for the built-in runtime (its state), else the
 * linux.cgroupsPath of c's config.json ("" for the default) of the external runtime's cgroup;
 * new. */
char *container_stats_cgroup(struct containers *cs, struct container *c);

/* Could the daemon's runtimes become next (a reload)? EBUSY naming a running (or paused,
 * restarting) container whose runtime next lacks: it could no longer be stopped. */
int containers_runtimes_check(struct containers *cs, const struct daemon_runtimes *next,
                              struct berth_error **err);

/* top.c: docker's top, the host's ps with ps_args (NULL or "": -ef) cut to c's processes:
 * {"Titles": [...], "Processes": [[...], ...]}. EBUSY when c is not running, EINVAL for
 * ps_args docker refuses, EIO with ps's message when ps fails. */
int container_top(struct containers *cs, struct container *c, const char *ps_args, json_t **ret,
                  struct berth_error **err);

/* archive.c: files in and out of a container (docker cp, export, diff). */
struct container_tar;
/* docker cp out of container ref: *ret_stat the X-Docker-Container-Path-Stat value of path
 * (base64 JSON, new) and, unless ret_tar is NULL, a tar of it to write with container_tar_write.
 * ENOENT for a container or path that does not exist. */
int container_archive_get(struct containers *cs, const char *ref, const char *path, char **ret_stat,
                          struct container_tar **ret_tar, struct berth_error **err);
/* docker export of container ref: a tar of its whole rootfs. */
int container_export(struct containers *cs, const char *ref, struct container_tar **ret_tar,
                     struct berth_error **err);
/* Write the tar to fd (an api_reply_stream producer); container_tar_free releases it. */
void container_tar_write(int fd, void *tar);
void container_tar_free(void *tar);
/* docker cp into container ref: the tar read from in (not read to its end on error) is extracted
 * in the directory path. EINVAL for a read-only volume or a bad tar, EACCES for a read-only
 * rootfs, ENOENT for a missing directory, EAGAIN for a limit of the daemon's. */
int container_archive_put(struct containers *cs, const char *ref, const char *path, int in,
                          struct berth_error **err);
/* docker diff of container ref: *ret its changes ([{"Path", "Kind"}], null when none). */
int container_changes(struct containers *cs, const char *ref, json_t **ret,
                      struct berth_error **err);

/* The shim control protocol (src/shim/shim.h): one JSON message per datagram, maybe with an fd;
 * recv waits up to timeout_ms (-1: forever). spawn starts `berth-shim argv…` with ctl_child as its
 * control fd and waits for its first process (the shim daemonizes). */
int container_shim_send(int fd, json_t *msg, int pass_fd, struct berth_error **err);
/* The same with nfds fds passed along (not taken). */
int container_shim_send_fds(int fd, json_t *msg, const int *fds, size_t nfds,
                            struct berth_error **err);
int container_shim_recv(int fd, int timeout_ms, json_t **ret, struct berth_error **err);
/* Write the process.json of cfg (an ExecConfig: Cmd, Tty, User, Env...) in dir and spawn a
 * `berth-shim exec` for it in c (exec.c; want_stdin: the attached stream carries stdin);
 * *ret_ctl its control socket once it answered "created" (within timeout_ms), *ret_shim_pid
 * from that answer. The caller attaches and sends "start". */
int container_exec_shim_create(struct containers *cs, struct container *c, json_t *cfg,
                               const char *dir, bool want_stdin, bool tty, int timeout_ms,
                               int *ret_ctl, pid_t *ret_shim_pid, struct berth_error **err);
int container_shim_spawn(struct containers *cs, char **argv, int ctl_child,
                         struct berth_error **err);

/* Removed containers' directories (trash.c): container_trash_open makes
 * data_root/containers-removed and starts the thread that deletes what is moved there (first
 * what a crash left); container_trash moves a directory there at once, or deletes it in place
 * when that is not possible. Never fails. */
int container_trash_open(struct daemon *d, struct berth_error **err);
void container_trash(const char *dir);

/* Publish a container event (action, extra attributes taken, may be NULL). */
void container_publish(struct containers *cs, struct container *c, const char *action,
                       json_t *extra);

/* Healthchecks (health.c): one scheduler thread for all running containers with a
 * Config.Healthcheck (or the image's); probes run `berth-shim exec`. */
int health_start_scheduler(struct containers *cs, struct berth_error **err);
/* A (re)start of c: State.Health starts over as "starting"; caller holds the table lock. */
void health_reset_locked(struct container *c);
/* "healthy", "unhealthy", "starting" or NULL (no healthcheck); caller holds the table lock. */
const char *health_status_locked(struct container *c);
/* docker's health filter: is c's health status want ("starting", "healthy", "unhealthy", or
 * "none": no healthcheck)? */
bool container_health_is(struct containers *cs, struct container *c, const char *want);
/* Live-restore of State.Health: health_save_locked adds c's health (and the start it belongs
 * to) to st, its persisted state; health_load takes them back from such a state (the container's
 * config already set), so a re-adopted container keeps its status, streak and log, and its next
 * probe is one interval after the load. Absent or malformed: no health, the scheduler starts
 * over as after a start. */
void health_save_locked(struct container *c, json_t *st);
void health_load(struct container *c, json_t *st);

/* ---------------------------------------------------------------- logs.c: logs and stats */

struct logs_opts;    /* state/logs.h */
struct stats_sample; /* state/stats.h */

/* Does c's log driver keep a log berth can read (json-file, local)? ENOTSUP (501, docker's
 * message) for none. */
int container_logs_readable(struct container *c, struct berth_error **err);

/* Write c's log to out_fd as o asks (state/logs.c's logs_stream): with o->follow, until c stops
 * and its log is drained, o->until_ns passes or the client goes away (client_fd: the
 * connection, -1 if unknown). A missing log is an empty one; errors only for unreadable files. */
int container_logs(struct containers *cs, struct container *c, const struct logs_opts *o,
                   int out_fd, int client_fd, struct berth_error **err);

/* One frame of c's stats in docker's JSON (state/stats.c's stats_frame: a fresh sample into
 * *ret_cur paired with *prev, or with the kept one or c's start when prev is empty);
 * *ret_running false once c stopped. The caller releases *prev and *ret_cur. */
json_t *container_stats_frame(struct containers *cs, struct container *c, struct stats_sample *prev,
                              struct stats_sample *ret_cur, bool *ret_running);

#endif
