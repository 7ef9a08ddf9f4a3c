/* Private declarations shared by the files of src/runtime. Not installed, not used outside. */
#ifndef BERTH_RUNTIME_INTERNAL_H
#define BERTH_RUNTIME_INTERNAL_H

#include "common/common.h"
#include "runtime/runtime.h"

#include <sys/resource.h>

/* "not set in the spec" for signed integer fields */
#define SPEC_UNSET INT64_MIN

/* ---------------------------------------------------------------- parsed config.json */

struct spec_mount {
        char *destination;
        char *type;                /* may be NULL for bind mounts */
        char *source;              /* may be NULL */
        unsigned long flags;       /* MS_* to set */
        unsigned long propagation; /* MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (|MS_REC) or 0 */
        char *data;                /* filesystem options not understood as flags, comma-joined */
        bool bind;                 /* bind or rbind */
        bool recursive;            /* rbind */
        bool rro;                  /* recursive read-only (rro) */
};

struct spec_namespace {
        int type;   /* CLONE_NEW* */
        char *path; /* join this namespace instead of creating one; NULL = create */
};

struct spec_idmap {
        uint32_t container_id;
        uint32_t host_id;
        uint32_t size;
};

struct spec_rlimit {
        int resource;
        uint64_t soft;
        uint64_t hard;
};

struct spec_device {
        char type; /* 'c', 'b', 'u', 'p' */
        char *path;
        int64_t major;
        int64_t minor;
        uint32_t mode; /* permission bits; 0666 when unset */
        uid_t uid;
        gid_t gid;
};

/* A device cgroup rule; major/minor -1 mean "any". type 'a' means all. */
struct spec_device_rule {
        bool allow;
        char type;
        int64_t major;
        int64_t minor;
        char access[4]; /* subset of "rwm" */
};

struct spec_throttle {
        int64_t major;
        int64_t minor;
        uint64_t rate;
};

struct spec_weight_device {
        int64_t major;
        int64_t minor;
        int64_t weight;      /* SPEC_UNSET if absent */
        int64_t leaf_weight; /* SPEC_UNSET if absent */
};

struct spec_hugepage {
        char *pagesize; /* "2MB", "1GB" */
        uint64_t limit;
};

struct spec_kv {
        char *key;
        char *value;
};

/* linux.resources; every int64 field is SPEC_UNSET when absent. */
struct spec_resources {
        /* memory */
        int64_t mem_limit;
        int64_t mem_reservation;
        int64_t mem_swap;
        int64_t mem_swappiness;
        bool mem_disable_oom_killer;
        /* cpu */
        int64_t cpu_shares;
        int64_t cpu_quota;
        int64_t cpu_period;
        int64_t cpu_rt_runtime;
        int64_t cpu_rt_period;
        int64_t cpu_idle;
        char *cpu_cpus;
        char *cpu_mems;
        /* pids */
        int64_t pids_limit;
        /* blkio */
        int64_t blkio_weight;
        int64_t blkio_leaf_weight;
        struct spec_weight_device *blkio_weight_devices;
        size_t n_blkio_weight_devices;
        struct spec_throttle *throttle[4]; /* read bps, write bps, read iops, write iops */
        size_t n_throttle[4];
        /* hugetlb */
        struct spec_hugepage *hugepages;
        size_t n_hugepages;
        /* devices */
        struct spec_device_rule *device_rules;
        size_t n_device_rules;
        /* cgroup v2 raw files (linux.resources.unified) */
        struct spec_kv *unified;
        size_t n_unified;
};

enum spec_throttle_kind {
        THROTTLE_READ_BPS,
        THROTTLE_WRITE_BPS,
        THROTTLE_READ_IOPS,
        THROTTLE_WRITE_IOPS,
};

struct spec_hook {
        char *path;
        char **args;
        char **env;
        int timeout; /* seconds, 0 = none */
};

enum spec_hook_kind {
        HOOK_PRESTART,
        HOOK_CREATE_RUNTIME,
        HOOK_CREATE_CONTAINER,
        HOOK_START_CONTAINER,
        HOOK_POSTSTART,
        HOOK_POSTSTOP,
        HOOK_KINDS,
};

/* process.scheduler, checked (sched_setattr's units: nanoseconds) */
struct spec_sched {
        bool set;
        int policy;
        int nice;
        int priority;
        uint64_t flags;
        uint64_t runtime, deadline, period;
};

#define SPEC_MAX_NUMA_NODES 1024

struct spec_process {
        bool terminal;
        unsigned console_height;
        unsigned console_width;
        uid_t uid;
        gid_t gid;
        int64_t umask; /* SPEC_UNSET: leave 0022 */
        gid_t *additional_gids;
        size_t n_additional_gids;
        char **args;
        char **env;
        char *cwd;
        bool has_caps;    /* process.capabilities present */
        uint64_t caps[5]; /* bounding, effective, inheritable, permitted, ambient */
        struct spec_rlimit *rlimits;
        size_t n_rlimits;
        bool no_new_privileges;
        bool has_oom_score_adj;
        int oom_score_adj;
        struct spec_sched sched;
        bool ioprio_set;
        int ioprio;                 /* IOPRIO_PRIO_VALUE(class, level) */
        unsigned long *affinity[2]; /* execCPUAffinity initial, final: CPU_SETSIZE bits or NULL */
};

enum { CAPSET_BOUNDING, CAPSET_EFFECTIVE, CAPSET_INHERITABLE, CAPSET_PERMITTED, CAPSET_AMBIENT };

struct spec {
        char *oci_version;
        char *bundle;    /* absolute bundle path */
        char *root_path; /* absolute rootfs path */
        bool root_readonly;
        char *hostname;   /* NULL when absent */
        char *domainname; /* NULL when absent */
        struct spec_process process;
        struct spec_mount *mounts;
        size_t n_mounts;
        struct spec_namespace *namespaces;
        size_t n_namespaces;
        struct spec_idmap *uid_mappings;
        size_t n_uid_mappings;
        struct spec_idmap *gid_mappings;
        size_t n_gid_mappings;
        struct spec_kv *sysctl;
        size_t n_sysctl;
        struct {
                bool set;
                int mode;       /* MPOL_* */
                unsigned flags; /* MPOL_F_* */
                unsigned long nodes[SPEC_MAX_NUMA_NODES / (8 * sizeof(unsigned long))];
        } mempolicy; /* linux.memoryPolicy */
        bool has_resources;
        struct spec_resources resources;
        char *cgroups_path;               /* NULL when absent */
        unsigned long rootfs_propagation; /* 0 = default (MS_PRIVATE|MS_REC after pivot: rslave) */
        char **masked_paths;
        char **readonly_paths;
        struct spec_device *devices;
        size_t n_devices;
        bool has_time_offsets;
        int64_t time_offsets[2][2]; /* [monotonic, boottime][secs, nanosecs] */
        json_t *seccomp;            /* linux.seccomp, kept raw for the seccomp module */
        int64_t personality;        /* SPEC_UNSET or PER_LINUX / PER_LINUX32 */
        struct spec_hook *hooks[HOOK_KINDS];
        size_t n_hooks[HOOK_KINDS];
        json_t *annotations; /* object, never NULL */
};

/* Parse a config.json document. bundle is the absolute bundle directory (relative root.path is
 * resolved against it). Errors name the field: "config.json: process.args: expected array of
 * strings".
 */
int spec_parse(json_t *doc, const char *bundle, struct spec **ret, struct berth_error **err);
void spec_free(struct spec *s);
static inline void spec_freep(struct spec **s)
{
        spec_free(*s);
}
/* Parse a process object (config.json's "process", or exec's process.json) into p, which must
 * be zeroed or released; errors name "process.<field>". */
int spec_parse_process(json_t *proc, struct spec_process *p, struct berth_error **err);
/* Free what p holds and reset it. */
void spec_process_release(struct spec_process *p);
/* linux.resources: defaults (everything unset), parsing (errors name
 * "linux.resources.<field>"), release. */
void spec_resources_init(struct spec_resources *r);
int spec_parse_resources(json_t *res, struct spec_resources *r, struct berth_error **err);
void spec_resources_release(struct spec_resources *r);
/* Load and parse <bundle>/config.json (bundle NULL = cwd) and check the rootfs exists. */
int spec_load(const char *bundle, struct spec **ret, struct berth_error **err);
/* Could the container open the runtime through /proc/<pid>/exe (it holds CAP_SYS_PTRACE outside a
 * user namespace)? Then the runtime re-executes from a sealed copy first (CVE-2019-5736). */
bool spec_grants_ptrace(const struct spec *s);
/* Does linux.resources ask for any limit (beyond device rules)? */
bool spec_wants_limits(const struct spec *s);
/* The CLONE_NEW* flags of namespaces to create (those without a path). */
int spec_clone_flags(const struct spec *s);
/* The namespace entry of the given CLONE_NEW* type, or NULL. */
const struct spec_namespace *spec_namespace(const struct spec *s, int type);
/* Parse "SIGTERM", "TERM", "15" → signal number; -EINVAL when unknown. */
int spec_parse_signal(const char *s);
/* Map a capability name "CAP_SYS_ADMIN" (or "SYS_ADMIN") to its number, -EINVAL when unknown. */
int spec_cap_from_name(const char *name);
/* "CAP_SYS_ADMIN" for a number, NULL when unknown; spec_cap_last() is the highest known. */
const char *spec_cap_name(int cap);
int spec_cap_last(void);
/* "pid", "network", … for a CLONE_NEW* flag. */
const char *spec_namespace_name(int type);

/* ---------------------------------------------------------------- cgroups */

enum cgroup_mode {
        CGROUP_MODE_V1,     /* only v1 hierarchies under /sys/fs/cgroup/<controller> */
        CGROUP_MODE_V2,     /* cgroup2 mounted at /sys/fs/cgroup */
        CGROUP_MODE_HYBRID, /* v1 controllers + a cgroup2 at /sys/fs/cgroup/unified */
};

/* v1 controllers berth knows; a bit each in struct cgroup.v1_mask */
enum cgroup_v1_controller {
        CG1_CPU,
        CG1_CPUACCT,
        CG1_CPUSET,
        CG1_MEMORY,
        CG1_DEVICES,
        CG1_FREEZER,
        CG1_BLKIO,
        CG1_PIDS,
        CG1_HUGETLB,
        CG1_NET_CLS,
        CG1_NET_PRIO,
        CG1_PERF_EVENT,
        CG1_RDMA,
        CG1_MISC,
        CG1_COUNT,
};

/* A container's cgroup. Created by cgroup_create() or reloaded from state by cgroup_load(). */
struct cgroup {
        enum cgroup_mode mode;
        char *path;          /* relative to each hierarchy's root, no leading '/': "berth/<id>" */
        int unified_fd;      /* O_PATH|O_DIRECTORY fd of the cgroup2 dir (v2 or hybrid), else -1 */
        uint32_t v1_mask;    /* v1 controllers in which the cgroup dir exists */
        bool v1_devices_set; /* v1 device rules written at create, before any task entered */
        char *v1_sub[CG1_COUNT]; /* exec --cgroup: a sub-cgroup below path, per v1 hierarchy */
};

/* Detect the host's cgroup layout once (cached). */
int cgroup_detect_mode(enum cgroup_mode *ret_mode, struct berth_error **err);

/* Turn the spec's cgroupsPath (may be NULL) into a relative path: NULL → "berth/<id>",
 * "/a/b" → "a/b", a relative "a/b" → "berth/a/b", systemd "slice:prefix:name" →
 * "slice/prefix-name.scope". Rejects ".." components. Returns malloc'd string or NULL+err.
 */
char *cgroup_path_for(const char *cgroups_path, const char *id, struct berth_error **err);

/* Create the cgroup dirs (parents too). Resources are not written yet (cgroup_apply does that,
 * after clone, while the child builds its rootfs); res (may be NULL) decides which v1 hierarchies
 * get a dir. In v2/hybrid the unified dir is opened into unified_fd so the caller can
 * clone3(CLONE_INTO_CGROUP). On hybrid, v1 dirs are created only in the controllers the
 * resources need (devices are done with eBPF on the unified dir); in pure v1 in every mounted
 * hierarchy, since one of them must track the processes. A dir that already exists is an error
 * (EEXIST) so berth never adopts a cgroup it did not create. On failure every dir made is removed.
 */
int cgroup_create(const char *path, const struct spec_resources *res, struct cgroup **ret,
                  struct berth_error **err);

/* Add pid to the cgroup in every hierarchy where it is not already (v1 dirs; the unified dir too
 * when into_unified is true, i.e. when CLONE_INTO_CGROUP was not used).
 */
int cgroup_enter(struct cgroup *cg, pid_t pid, bool into_unified, struct berth_error **err);
/* exec --cgroup: move cg to the sub-cgroups that specs ("sub" or "ctrl[,ctrl]:sub", as runc)
 * name below it, in each hierarchy they apply to (the unified one takes a plain "sub" only);
 * every one must exist. On success cg's v1 dirs and unified fd are the sub-cgroups'. */
int cgroup_descend(struct cgroup *cg, char *const *specs, struct berth_error **err);

/* For `update`: create the v1 dirs res needs that the cgroup lacks (hybrid hosts make only
 * the needed ones at create) and move every process of the container into them. */
int cgroup_extend(struct cgroup *cg, const struct spec_resources *res, struct berth_error **err);

/* Apply (or re-apply, for `update`) resources to an existing cgroup. */
int cgroup_apply(struct cgroup *cg, const struct spec_resources *res, struct berth_error **err);

/* Rebuild a struct cgroup from a saved mode/path/mask (state.json). */
int cgroup_load(enum cgroup_mode mode, const char *path, uint32_t v1_mask, struct cgroup **ret,
                struct berth_error **err);

/* The cgroup at path as the host has it (another runtime made it): the v1 hierarchies where
 * its dir exists, the unified dir when there is one. ENOENT when it exists nowhere. */
int cgroup_find(const char *path, struct cgroup **ret, struct berth_error **err);

/* Send sig to every process in the cgroup (cgroup.kill for SIGKILL on v2/hybrid). */
int cgroup_kill_all(struct cgroup *cg, int sig, struct berth_error **err);

/* List the pids in the cgroup (tracking hierarchy: unified on v2/hybrid, else pids/freezer/...). */
int cgroup_pids(struct cgroup *cg, pid_t **ret_pids, size_t *ret_n, struct berth_error **err);

/* Freeze (true) or thaw the cgroup; waits until the state is reached. */
int cgroup_freeze(struct cgroup *cg, bool frozen, struct berth_error **err);

/* Is the cgroup frozen now? */
bool cgroup_is_frozen(struct cgroup *cg);

/* Usage and limits, shaped like runc's `events --stats` "data" (cpu, memory, pids). */
json_t *cgroup_stats(const struct cgroup *cg);

/* Remove the cgroup dirs (children first). Processes must be gone; EBUSY is retried briefly. */
int cgroup_destroy(struct cgroup *cg, struct berth_error **err);

void cgroup_free(struct cgroup *cg);
static inline void cgroup_freep(struct cgroup **cg)
{
        cgroup_free(*cg);
}

/* Translations (exposed for unit tests). */
uint64_t cgroup_shares_to_weight(uint64_t shares);
uint64_t cgroup_blkio_weight_to_io_weight(uint64_t weight);
/* cpu.max value for quota/period; writes "max 100000" for quota < 0. buf ≥ 64 bytes. */
void cgroup_cpu_max(int64_t quota, int64_t period, char *buf, size_t len);
/* Name of a v1 controller ("memory"); NULL for out of range. */
const char *cgroup_v1_name(enum cgroup_v1_controller c);

/* v2 device control: build and attach an eBPF BPF_PROG_TYPE_CGROUP_DEVICE program implementing
 * rules (in order, last match wins like the v1 list semantics runc uses) to the cgroup fd
 * (O_DIRECTORY). Replaces a previous berth program on that cgroup.
 */
int cgroup_bpf_devices(int cgroup_fd, const struct spec_device_rule *rules, size_t n,
                       struct berth_error **err);

/* The default rules every container gets after the spec's own (null, zero, full, random, urandom,
 * tty, ptmx, every pts, console), like runc.
 */
extern const struct spec_device_rule cgroup_default_allow[];
extern const size_t cgroup_n_default_allow;

/* ---------------------------------------------------------------- state on disk */

/* <root>/<id>/state.json, plus exec.fifo while the container is created but not started. */
struct state {
        char *id;
        pid_t pid;
        uint64_t start_time; /* field 22 of /proc/<pid>/stat: guards against pid reuse */
        char *bundle;
        char *rootfs;
        char *created; /* RFC 3339 */
        json_t *annotations;
        bool has_cgroup;
        enum cgroup_mode cg_mode;
        char *cg_path;
        uint32_t cg_v1_mask;
};

#define STATE_FIFO "exec.fifo"

/* Create <root>/<id> (mode 0700); an existing one is EEXIST "container `id` already exists". */
int state_dir_create(const struct berth_runtime *rt, const char *id, int *ret_dirfd,
                     struct berth_error **err);
/* Write state.json atomically into the state dir. */
int state_save(int dirfd, const struct state *st, struct berth_error **err);
/* Load <root>/<id>/state.json; ENOENT "container `id` does not exist". */
int state_load(const struct berth_runtime *rt, const char *id, struct state **ret_state,
               int *ret_dirfd, struct berth_error **err);
/* "created", "running", "paused" or "stopped", from the process, the fifo and the cgroup. */
const char *state_status(const struct state *st, int dirfd);
/* Remove <root>/<id> and everything in it. */
int state_remove(const struct berth_runtime *rt, const char *id, struct berth_error **err);
/* The OCI state document for st. */
json_t *state_to_json(const struct state *st, const char *status);
void state_free(struct state *st);
static inline void state_freep(struct state **st)
{
        state_free(*st);
}
/* Start time of pid (clock ticks since boot), 0 when the process does not exist. */
uint64_t proc_start_time(pid_t pid);

/* ---------------------------------------------------------------- parent/child sync */

enum { MSG_GO = 1, MSG_READY, MSG_ERROR, MSG_UNSHARED, MSG_PID };

/* One SOCK_SEQPACKET datagram between the runtime and the process it is setting up. */
struct sync_msg {
        int type;
        int code;
        char text[4000];
};

void sync_send(int fd, int type, int code, const char *text);
/* In the child of a create or exec: report e (NULL: unknown) to the parent as MSG_ERROR in
 * runc's wording, then _exit(1). */
_noreturn_ void sync_fail(int fd, struct berth_error *e);
/* The type of the next message (0 on EOF: the peer exec'd or died); *m filled. */
int sync_recv(int fd, struct sync_msg *m);
/* Send fd over a unix socket (SCM_RIGHTS) with a one-byte payload, as runc's console socket. */
int sync_send_fd(int sock, int fd);
/* Write pid to path atomically. */
int sync_write_pid_file(const char *path, pid_t pid, struct berth_error **err);
/* Runs in the spawned child with its end of the sync socket; never returns. */
typedef _noreturn_ void (*sync_child_fn)(void *arg, int sock);

/* One clone3 with flags (CLONE_INTO_CGROUP when cgroup_fd >= 0, born in pidns when >= 0)
 * running fn in the child. In the parent every signal is blocked from then on (the previous
 * mask in *ret_old_mask, restored on failure) and *ret_sock is its end of a SOCK_SEQPACKET pair
 * with the child. */
int sync_spawn(uint64_t flags, int cgroup_fd, int pidns, sigset_t *ret_old_mask, sync_child_fn fn,
               void *arg, pid_t *ret_pid, int *ret_sock, struct berth_error **err);

/* After setns() into a container's pid namespace for a clone: make our later children (hooks,
 * sanitizer threads) be born in our own pid namespace again. */
void sync_pidns_restore(void);
/* Exit status as a shell shows it: the code, or 128+signal. */
int sync_exit_code(int status);
/* With every signal blocked: forward signals to pid until it exits; restore the mask; return
 * its exit status (sync_exit_code). */
int sync_wait_forwarding(pid_t pid, const sigset_t *restore);

/* Receive one fd sent with sync_send_fd(). */
int sync_recv_fd(int sock, int *ret_fd);

/* ---------------------------------------------------------------- console */

/* Connect to a --console-socket (before clone: the path is on the host). */
int console_connect(const char *path, int *ret_fd, struct berth_error **err);
/* In the container, after pivot_root: make a pty on its devpts, optionally bind the slave on
 * /dev/console, send the master over sock, and make the slave the controlling terminal and
 * stdio of this process (which becomes a session leader). */
int console_setup(int sock, const struct spec_process *p, bool dev_console,
                  struct berth_error **err);
/* The fds a create/exec needs for a terminal: *ret_child_fd where the child sends the pty
 * master (connected --console-socket, or our end of a pair), *ret_relay_fd our end when we relay
 * ourselves (no socket given); both -1 when there is no terminal. */
int console_channel(const char *socket_path, bool terminal, int *ret_child_fd, int *ret_relay_fd,
                    struct berth_error **err);
/* Wait for pid like sync_wait_forwarding(), relaying its pty when relay_fd >= 0. */
int console_wait(int relay_fd, pid_t pid, const sigset_t *restore);
/* Foreground runtime: relay stdio <-> master (raw mode on a tty, window size), forward
 * signals, until pid exits; returns its exit status and restores the signal mask. */
int console_relay(int master, pid_t pid, const sigset_t *restore);

/* ---------------------------------------------------------------- hooks */

/* Run the hooks of kind k in order with state on stdin; the first failure (exit status, signal,
 * timeout) is the error, naming the hook and carrying its output. */
int hooks_run(const struct spec *s, enum spec_hook_kind k, const char *state,
              struct berth_error **err);
/* The state document hooks read: {ociVersion, id, status, pid, bundle, annotations}. */
char *hooks_state(const struct spec *s, const char *id, const char *status, pid_t pid);
/* "prestart", "createRuntime", … */
const char *hooks_name(enum spec_hook_kind k);

/* ---------------------------------------------------------------- sd_notify relay */

/* Bind <state>/<id>/notify at /run/notify in the container and point its NOTIFY_SOCKET there. */
int notify_prepare(const struct berth_runtime *rt, const char *id, struct spec *s,
                   struct berth_error **err);
/* (Re)bind the runtime's end at <state>/<id>/notify/notify.sock. */
int notify_bind(const struct berth_runtime *rt, const char *id, int *ret_fd,
                struct berth_error **err);
/* Forward datagrams to host_path until READY=1 (sent on with MAINPID=pid) or pid exits. */
int notify_wait_ready(int fd, const char *host_path, pid_t pid, struct berth_error **err);

/* ---------------------------------------------------------------- rootfs (container side) */

/* What the rootfs code needs to know beyond the spec. */
struct rootfs_ctx {
        const struct spec *spec;
        const struct cgroup *cgroup; /* may be NULL */
        bool userns;                 /* running in a new user namespace: no mknod */
        bool new_netns;              /* sysfs can be mounted fresh */
        bool new_cgroupns;
        bool no_pivot;
        /* With a user namespace: the bind sources as detached mount trees (open_tree) made by
         * the runtime before the namespace existed (a source only the host's root may reach
         * still mounts, like runc); -1 where a mount is not a bind. NULL: rootfs_setup opens
         * and binds each source itself. */
        const int *bind_fds;
};

/* In the container's new mount namespace, before pivot_root: make the host mounts slave, bind the
 * rootfs, perform mounts[] (targets resolved inside the rootfs with openat2 RESOLVE_IN_ROOT and
 * mounted through their fd), create /dev nodes and links. Returns the rootfs fd in *ret_rootfd.
 */
int rootfs_setup(const struct rootfs_ctx *c, int *ret_rootfd, struct berth_error **err);

/* pivot_root into rootfd (or MS_MOVE + chroot when no_pivot) and detach the old root. */
int rootfs_pivot(const struct rootfs_ctx *c, int rootfd, struct berth_error **err);

/* Write linux.sysctl through the container's procfs (checked to be procfs, no symlinks). */
int rootfs_sysctl(const struct spec *s, struct berth_error **err);

/* After pivot: maskedPaths, readonlyPaths, then root.readonly. */
int rootfs_finalize(const struct rootfs_ctx *c, struct berth_error **err);

/* ---------------------------------------------------------------- seccomp */

struct secfilter;

/* The BPF program for linux.seccomp (NULL: no filter, *ret = NULL), from the cache under the
 * state root or compiled with libseccomp and cached. SCMP_ACT_NOTIFY is ENOTSUP. */
int secfilter_prepare(const struct berth_runtime *rt, json_t *seccomp, struct secfilter **ret,
                      struct berth_error **err);
/* Install prog (NULL: nothing) in the calling process. */
int secfilter_load(const struct secfilter *prog, struct berth_error **err);
void secfilter_free(struct secfilter *prog);
static inline void secfilter_freep(struct secfilter **p)
{
        secfilter_free(*p);
}

/* ---------------------------------------------------------------- process (container side) */

/* Find the executable for args[0] inside the (already pivoted) root, using PATH from env:
 * errors read like runc's: `exec: "/nope": no such file or directory`. */
int process_find_exec(const struct spec_process *p, char **ret_path, struct berth_error **err);

/* HOME in process.env (from the container's /etc/passwd unless set, like runc), rlimits
 * (clamped to the current hard limit with a warning when raising it is refused), umask, cwd
 * (inside the root), groups/gid/uid, capabilities, no_new_privs, and the seccomp filter when
 * no_new_privs is off.
 */
int process_setup(struct spec *s, const struct secfilter *sec, struct berth_error **err);
/* Warn (runtime side, before clone) about ambient capabilities the kernel will refuse to raise
 * because they are not inheritable and permitted; the process starts without them. */
void process_warn_ambient(const struct spec_process *p);
/* Every signal disposition back to SIG_DFL and an empty mask, as runc and crun leave them:
 * called last before the seccomp filter and execve. */
void process_reset_signals(void);
/* The seccomp filter goes in last, right before execve, when no_new_privs is set; without it
 * loading needs CAP_SYS_ADMIN, so process_setup() loads it before dropping capabilities. */
int process_seccomp_last(const struct spec *s, const struct secfilter *sec,
                         struct berth_error **err);
/* process.scheduler, process.ioPriority and process.execCPUAffinity of a process object, and
 * linux.memoryPolicy of the linux object: parsed and checked with runc's rules (clear errors
 * before anything starts). */
int spec_parse_process_attrs(json_t *proc, struct spec_process *p, struct berth_error **err);
int spec_parse_memory_policy(json_t *linux_obj, struct spec *s, struct berth_error **err);
/* In the child: the initial cpu affinity as it starts; memory policy (s may be NULL for exec:
 * the container's init already has it), scheduler and io priority while it still holds its
 * capabilities; the final affinity right before execve. */
int process_attrs_initial(const struct spec_process *p, struct berth_error **err);
int process_attrs_apply(const struct spec *s, const struct spec_process *p,
                        struct berth_error **err);
int process_attrs_final(const struct spec_process *p, struct berth_error **err);
/* features: linux.memoryPolicy {modes, flags} as implemented */
json_t *process_attrs_memory_policy_features(void);

/* Mark every fd from `first` up close-on-exec (CVE-2024-21626: nothing of the runtime's may
 * reach the container). close_range first; when a user's seccomp filter, already loaded,
 * denies it (ENOSYS/EPERM), each open fd is marked through /proc/self/fd instead. */
int process_cloexec_from(unsigned first, struct berth_error **err);

#endif
