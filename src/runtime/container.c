/* Creating a container: one clone3() with every new namespace (and CLONE_INTO_CGROUP where a
 * cgroup2 hierarchy exists), the parent writing id maps and v1 cgroup membership while the child
 * builds the rootfs, then exec. Parent and child talk over one SOCK_SEQPACKET pair: the child
 * reports "ready" or an error; a successful exec closes its end (close-on-exec).
 */
#include "runtime/internal.h"

#include <linux/sched.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#define KEYCTL_JOIN_SESSION_KEYRING 1

struct join_ns {
        int type;
        int fd;
};

/* Everything the child needs; it lives in the parent's (copied) memory. */
struct child_ctx {
        struct spec *spec; /* the child's copy: process setup completes its env (HOME) */
        const struct berth_create_opts *opts;
        const struct cgroup *cg;
        int sync_fd;
        int fifo_fd; /* created-state gate; -1 for run */
        struct join_ns joins[8];
        size_t n_joins;
        bool defer_cgroupns; /* unshare the cgroup ns after the v1 cgroups are joined */
        /* Namespaces are joined by path together with a user namespace: they must be joined
         * before the new user namespace exists, so a first process joins and unshares, and
         * forks the container init (CLONE_PARENT: the runtime stays its parent). */
        bool two_stage;
        int unshare_flags;     /* two_stage: the namespaces to create */
        int console_fd;        /* process.terminal: where the pty master goes, else -1 */
        char hook_state[4000]; /* state for in-container hooks, sent with the go */
        const struct secfilter *seccomp;
        int *bind_fds; /* see rootfs_ctx.bind_fds; owned by launch() */
};

static int wait_go(struct child_ctx *c, struct berth_error **err)
{
        struct sync_msg m;
        if (sync_recv(c->sync_fd, &m) != MSG_GO)
                return berth_error_setx(err, EPIPE, "runtime went away during create");
        if (m.text[0])
                memcpy(c->hook_state, m.text, sizeof(c->hook_state));
        return 0;
}

static int set_time_offsets(const struct spec *s, struct berth_error **err)
{
        if (unshare(CLONE_NEWTIME) < 0)
                return berth_error_set(err, errno, "unshare time namespace");
        char buf[256];
        int n = snprintf(buf, sizeof(buf), "monotonic %lld %lld\nboottime %lld %lld\n",
                         (long long)s->time_offsets[0][0], (long long)s->time_offsets[0][1],
                         (long long)s->time_offsets[1][0], (long long)s->time_offsets[1][1]);
        if (s->has_time_offsets &&
            berth_write_file_at(AT_FDCWD, "/proc/self/timens_offsets", buf, (size_t)n, 0, err) < 0)
                return berth_error_wrap(err, "time offsets");
        _cleanup_close_ int fd = open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, CLONE_NEWTIME) < 0)
                return berth_error_set(err, errno, "enter time namespace");
        return 0;
}

/* A new network namespace has only `lo`, and down: bring it up as runc, crun and docker do, so
 * 127.0.0.1 works inside (one ioctl; the namespace's own root may do it). */
static int loopback_up(struct berth_error **err)
{
        _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return berth_error_set(err, errno, "loopback: socket");
        struct ifreq ifr = {.ifr_name = "lo"};
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                return berth_error_set(err, errno, "loopback: get flags of `lo`");
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                return berth_error_set(err, errno, "bring `lo` up");
        return 0;
}

/* Join every namespace given by path: the user namespace first (it decides what the others
 * may do), the mount namespace last (it changes what later paths mean). */
static int join_all(struct child_ctx *c, struct berth_error **err)
{
        for (int pass = 0; pass < 3; pass++)
                for (size_t i = 0; i < c->n_joins; i++) {
                        int t = c->joins[i].type;
                        int want = t == CLONE_NEWUSER ? 0 : t == CLONE_NEWNS ? 2 : 1;
                        if (want != pass)
                                continue;
                        if (setns(c->joins[i].fd, t) < 0)
                                return berth_error_set(err, errno, "join %s namespace",
                                                       spec_namespace_name(t));
                }
        return 0;
}

/* The first process of a two-stage create: join, unshare, get the id maps written, fork the
 * container init into the new pid namespace and report it. Returns only in that init. */
static int stage1(struct child_ctx *c, struct berth_error **err)
{
        if (join_all(c, err) < 0)
                return -EIO;
        int flags = c->unshare_flags & ~CLONE_NEWPID;
        if (flags && unshare(flags) < 0)
                return berth_error_set(err, errno, "unshare namespaces");
        if (flags & CLONE_NEWUSER) {
                sync_send(c->sync_fd, MSG_UNSHARED, 0, NULL);
                if (wait_go(c, err) < 0)
                        return -EPIPE;
        }
        if (spec_namespace(c->spec, CLONE_NEWUSER) &&
            (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
                return berth_error_set(err, errno, "become root in the user namespace");
        if ((c->unshare_flags & CLONE_NEWPID) && unshare(CLONE_NEWPID) < 0)
                return berth_error_set(err, errno, "unshare pid namespace");
        /* CLONE_PARENT takes its exit signal from us, so clone3 wants 0 here */
        struct clone_args ca = {.flags = CLONE_PARENT};
        pid_t pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
        if (pid < 0)
                return berth_error_set(err, errno, "clone container init");
        if (pid == 0)
                return 0;
        sync_send(c->sync_fd, MSG_PID, (int)pid, NULL);
        _exit(0);
}

static _noreturn_ void child_main(struct child_ctx *c)
{
        const struct spec *s = c->spec;
        struct berth_error *err = NULL;
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* die with the runtime while we are still being set up; stay out of reach of the
         * container's /proc until execve (CVE-2019-5736) */
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (process_attrs_initial(&s->process, &err) < 0)
                sync_fail(c->sync_fd, err);

        bool userns = spec_namespace(s, CLONE_NEWUSER) != NULL;
        bool go_early = userns && !c->two_stage;
        if (c->two_stage) {
                if (stage1(c, &err) < 0)
                        sync_fail(c->sync_fd, err);
                prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        } else if (go_early) {
                /* files we create must map to an id inside: wait for the maps */
                if (wait_go(c, &err) < 0)
                        sync_fail(c->sync_fd, err);
                if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
                        berth_error_set(&err, errno, "become root in the user namespace");
                        sync_fail(c->sync_fd, err);
                }
        }
        /* out of reach of the container's /proc until execve (CVE-2019-5736); only now, since
         * an unprivileged parent writes our id maps through /proc/<pid>, which needs us
         * dumpable */
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        if (!c->two_stage && join_all(c, &err) < 0)
                sync_fail(c->sync_fd, err);
        const struct spec_namespace *tns = spec_namespace(s, CLONE_NEWTIME);
        if (tns && !tns->path && set_time_offsets(s, &err) < 0)
                sync_fail(c->sync_fd, err);
        const struct spec_namespace *nns = spec_namespace(s, CLONE_NEWNET);
        if (nns && !nns->path && loopback_up(&err) < 0)
                sync_fail(c->sync_fd, err);
        if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0) {
                berth_error_set(&err, errno, "set hostname `%s`", s->hostname);
                sync_fail(c->sync_fd, err);
        }
        if (s->domainname && setdomainname(s->domainname, strlen(s->domainname)) < 0) {
                berth_error_set(&err, errno, "set domainname `%s`", s->domainname);
                sync_fail(c->sync_fd, err);
        }
        if (!c->opts->no_new_keyring &&
            syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0 && errno != ENOSYS &&
            errno != EPERM && errno != EACCES) {
                berth_error_set(&err, errno, "join a new session keyring");
                sync_fail(c->sync_fd, err);
        }
        umask(0);
        struct rootfs_ctx rc = {
            .spec = s,
            .cgroup = c->cg,
            .userns = userns || spec_namespace(s, CLONE_NEWUSER),
            .new_netns = (spec_clone_flags(s) & CLONE_NEWNET) != 0,
            .new_cgroupns = (spec_clone_flags(s) & CLONE_NEWCGROUP) != 0,
            .no_pivot = c->opts->no_pivot,
            .bind_fds = c->bind_fds,
        };
        _cleanup_close_ int rootfd = -1;
        /* hooks that run before pivot_root need the runtime's go (prestart and createRuntime
         * have run then) and the state it sends with it */
        bool need_hooks = s->n_hooks[HOOK_PRESTART] || s->n_hooks[HOOK_CREATE_RUNTIME] ||
                          s->n_hooks[HOOK_CREATE_CONTAINER] || s->n_hooks[HOOK_START_CONTAINER];
        bool go_before_pivot = !go_early && need_hooks;
        const struct spec_namespace *mntns = spec_namespace(s, CLONE_NEWNS);
        if (mntns && mntns->path) {
                /* a joined mount namespace is another container's, already set up: its root is
                 * ours (setns moved us there); only what is per process remains */
                if ((go_before_pivot && wait_go(c, &err) < 0) ||
                    (need_hooks && hooks_run(s, HOOK_CREATE_CONTAINER, c->hook_state, &err) < 0) ||
                    rootfs_sysctl(s, &err) < 0)
                        sync_fail(c->sync_fd, err);
        } else if (mntns) {
                if (rootfs_setup(&rc, &rootfd, &err) < 0)
                        sync_fail(c->sync_fd, err);
                if ((go_before_pivot && wait_go(c, &err) < 0) ||
                    (need_hooks && hooks_run(s, HOOK_CREATE_CONTAINER, c->hook_state, &err) < 0))
                        sync_fail(c->sync_fd, err);
                if (rootfs_pivot(&rc, rootfd, &err) < 0 || rootfs_sysctl(s, &err) < 0 ||
                    rootfs_finalize(&rc, &err) < 0)
                        sync_fail(c->sync_fd, err);
        } else {
                /* no mount namespace: only chroot, like runc */
                if (chroot(s->root_path) < 0 || chdir("/") < 0) {
                        berth_error_set(&err, errno, "chroot `%s`", s->root_path);
                        sync_fail(c->sync_fd, err);
                }
                if (berth_mkdir_p(s->process.cwd, 0755, &err) < 0)
                        sync_fail(c->sync_fd, err);
                if (rootfs_sysctl(s, &err) < 0)
                        sync_fail(c->sync_fd, err);
        }
        if (c->console_fd >= 0) {
                bool dev_tmpfs = false;
                for (size_t i = 0; i < s->n_mounts; i++)
                        dev_tmpfs |=
                            !strcmp(s->mounts[i].destination, "/dev") && !s->mounts[i].bind;
                if (console_setup(c->console_fd, &s->process, dev_tmpfs, &err) < 0)
                        sync_fail(c->sync_fd, err);
                close(c->console_fd);
        } else if (setsid() < 0) {
                /* a session of its own, like runc's init (console_setup makes one with a tty) */
                berth_error_set(&err, errno, "setsid");
                sync_fail(c->sync_fd, err);
        }
        if (s->personality != SPEC_UNSET && personality((unsigned long)s->personality) < 0) {
                berth_error_set(&err, errno, "personality");
                sync_fail(c->sync_fd, err);
        }
        if (!go_early && !go_before_pivot && wait_go(c, &err) < 0)
                sync_fail(c->sync_fd, err);
        if (!spec_namespace(s, CLONE_NEWNS) && need_hooks &&
            hooks_run(s, HOOK_CREATE_CONTAINER, c->hook_state, &err) < 0)
                sync_fail(c->sync_fd, err);
        if (c->defer_cgroupns && unshare(CLONE_NEWCGROUP) < 0) {
                berth_error_set(&err, errno, "unshare cgroup namespace");
                sync_fail(c->sync_fd, err);
        }
        if (process_attrs_apply(s, &s->process, &err) < 0 ||
            process_setup(c->spec, c->seccomp, &err) < 0)
                sync_fail(c->sync_fd, err);
        _cleanup_free_ char *exe = NULL;
        if (process_find_exec(&s->process, &exe, &err) < 0)
                sync_fail(c->sync_fd, err);
        /* nothing of the runtime's may reach the container (CVE-2024-21626) */
        unsigned first = 3u + (unsigned)(c->opts->preserve_fds > 0 ? c->opts->preserve_fds : 0) +
                         (unsigned)(c->opts->listen_fds > 0 ? c->opts->listen_fds : 0);
        if (process_cloexec_from(first, &err) < 0)
                sync_fail(c->sync_fd, err);
        /* from here on the container must outlive the runtime process */
        prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
        if (c->fifo_fd >= 0) {
                sync_send(c->sync_fd, MSG_READY, 0, NULL);
                char b;
                ssize_t n;
                do
                        n = read(c->fifo_fd, &b, 1);
                while (n < 0 && errno == EINTR);
                if (n != 1)
                        _exit(1);
        }
        if (s->n_hooks[HOOK_START_CONTAINER]) {
                /* startContainer runs in the container, after start, before the program */
                char *p = strstr(c->hook_state, "\"creating\"");
                if (p)
                        memcpy(p, "\"created\" ", 10);
                if (hooks_run(s, HOOK_START_CONTAINER, c->hook_state, &err) < 0) {
                        if (c->fifo_fd >= 0) {
                                dprintf(STDERR_FILENO, "berth-runtime: %s\n", err->msg);
                                _exit(1);
                        }
                        sync_fail(c->sync_fd, err);
                }
        }
        process_reset_signals();
        if (process_attrs_final(&s->process, &err) < 0 ||
            process_seccomp_last(s, c->seccomp, &err) < 0) {
                if (c->fifo_fd >= 0) {
                        dprintf(STDERR_FILENO, "berth-runtime: %s\n", err->msg);
                        _exit(1);
                }
                sync_fail(c->sync_fd, err);
        }
        execve(exe, s->process.args, s->process.env ? s->process.env : (char *[]){NULL});
        berth_error_set(&err, errno, "exec: \"%s\"", s->process.args[0]);
        if (c->fifo_fd >= 0) {
                /* `start` has returned already: the container's stderr is all we have */
                dprintf(STDERR_FILENO, "berth-runtime: %s\n", err->msg);
                _exit(127);
        }
        sync_fail(c->sync_fd, err);
}

static int write_id_map(pid_t pid, const char *file, const struct spec_idmap *m, size_t n,
                        struct berth_error **err);

static _noreturn_ void child_entry(void *arg, int sock)
{
        struct child_ctx *c = arg;
        c->sync_fd = sock;
        child_main(c);
}

/* Parent side of a two-stage create: write the id maps of the first process when it made a
 * user namespace, then learn the pid of the container init it forked, and reap the first. */
static int finish_stage1(struct child_ctx *c, int sock, pid_t *pid, struct berth_error **err)
{
        const struct spec *s = c->spec;
        struct sync_msg m;
        pid_t first = *pid;
        int type = sync_recv(sock, &m);
        if (type == MSG_UNSHARED) {
                if (write_id_map(first, "uid_map", s->uid_mappings, s->n_uid_mappings, err) < 0 ||
                    write_id_map(first, "gid_map", s->gid_mappings, s->n_gid_mappings, err) < 0)
                        return -EIO;
                sync_send(sock, MSG_GO, 0, NULL);
                type = sync_recv(sock, &m);
        }
        if (type == MSG_ERROR)
                return berth_error_setx(err, m.code ? m.code : EIO, "%s", m.text);
        if (type != MSG_PID)
                return berth_error_setx(err, EIO, "container init was not created");
        while (waitpid(first, NULL, 0) < 0 && errno == EINTR)
                ;
        *pid = (pid_t)m.code;
        return 0;
}

static int write_id_map(pid_t pid, const char *file, const struct spec_idmap *m, size_t n,
                        struct berth_error **err)
{
        if (!strcmp(file, "gid_map") && geteuid() != 0) {
                /* an unprivileged parent may map its gid only once setgroups is denied */
                char sg[64];
                snprintf(sg, sizeof(sg), "/proc/%d/setgroups", (int)pid);
                if (berth_write_str_at(AT_FDCWD, sg, "deny", err) < 0)
                        return berth_error_wrap(err, "rootless");
        }
        char buf[4096];
        size_t len = 0;
        for (size_t i = 0; i < n; i++) {
                int w = snprintf(buf + len, sizeof(buf) - len, "%u %u %u\n", m[i].container_id,
                                 m[i].host_id, m[i].size);
                if (w < 0 || (size_t)w >= sizeof(buf) - len)
                        return berth_error_setx(err, E2BIG, "%s: too many mappings", file);
                len += (size_t)w;
        }
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
        if (berth_write_file_at(AT_FDCWD, path, buf, len, 0, err) < 0)
                return berth_error_wrap(err, "write %s", file);
        return 0;
}

static int set_oom_score_adj(pid_t pid, int adj, struct berth_error **err)
{
        char path[64], val[16];
        snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)pid);
        snprintf(val, sizeof(val), "%d", adj);
        _cleanup_error_ struct berth_error *e = NULL;
        if (berth_write_str_at(AT_FDCWD, path, val, &e) == 0)
                return 0;
        if (e->code == EACCES || e->code == EPERM) {
                /* lowering it needs CAP_SYS_RESOURCE, which the runtime may not have */
                berth_warn("oomScoreAdj %d refused (%s): kept the runtime's", adj, e->msg);
                return 0;
        }
        return berth_error_setx(err, e->code, "%s", e->msg);
}

/* Open the namespaces the spec asks to join. The pid namespace is joined by the parent itself
 * (setns on a pid ns only affects children), everything else by the child.
 */
static int open_joins(const struct spec *s, struct child_ctx *c, int *ret_pidns,
                      struct berth_error **err)
{
        *ret_pidns = -1;
        for (size_t i = 0; i < s->n_namespaces; i++) {
                const struct spec_namespace *ns = &s->namespaces[i];
                if (!ns->path)
                        continue;
                int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return berth_error_set(err, errno, "linux.namespaces: %s path `%s`",
                                               spec_namespace_name(ns->type), ns->path);
                if (ns->type == CLONE_NEWPID) {
                        *ret_pidns = fd;
                        continue;
                }
                if (spec_namespace(s, CLONE_NEWUSER))
                        c->two_stage = true;
                c->joins[c->n_joins++] = (struct join_ns){ns->type, fd};
        }
        return 0;
}

static void close_joins(struct child_ctx *c)
{
        for (size_t i = 0; i < c->n_joins; i++)
                close(c->joins[i].fd);
        c->n_joins = 0;
}

enum launch_mode { LAUNCH_CREATE, LAUNCH_RUN, LAUNCH_DETACH };

/* What a launch leaves to its caller. */
struct launched {
        pid_t pid;
        int notify_fd; /* run with NOTIFY_SOCKET: where READY=1 arrives, else -1 */
        int relay_fd;  /* foreground terminal: receives the pty master, else -1 */
        struct cgroup *cg;
        struct spec *spec;
        sigset_t old_mask;
};

int spec_load(const char *bundle_path, struct spec **ret, struct berth_error **err)
{
        char bundle[PATH_MAX];
        if (!realpath(bundle_path ? bundle_path : ".", bundle))
                return berth_error_set(err, errno, "bundle `%s`", bundle_path ? bundle_path : ".");
        _cleanup_close_ int bfd = open(bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (bfd < 0)
                return berth_error_set(err, errno, "bundle `%s`", bundle);
        /* Go writes uint64 limits up to 2^64-1, beyond jansson's integers: decode as reals */
        _cleanup_json_ json_t *doc =
            berth_json_load_at(bfd, "config.json", JSON_DECODE_INT_AS_REAL, err);
        if (!doc)
                return berth_error_wrap(err, "bundle `%s`", bundle);
        if (spec_parse(doc, bundle, ret, err) < 0)
                return -EINVAL;
        struct stat st;
        if (stat((*ret)->root_path, &st) < 0 || !S_ISDIR(st.st_mode)) {
                int e = errno ? errno : ENOTDIR;
                berth_error_set(err, S_ISDIR(st.st_mode) ? e : ENOTDIR, "rootfs `%s`",
                                (*ret)->root_path);
                spec_free(TAKE_PTR(*ret));
                return -e;
        }
        return 0;
}

int berth_spec_check(const char *bundle, struct berth_error **err)
{
        _cleanup_(spec_freep) struct spec *s = NULL;
        return spec_load(bundle, &s, err);
}

/* Clone every bind source as the runtime (host root) before the container's user namespace
 * exists: inside it, a source below a directory only the host's root may enter could not be
 * opened any more (runc does the same). The child gets the fds with its copy of the fd table
 * and attaches the detached trees with move_mount. */
static int open_bind_sources(const struct spec *s, int **ret_fds, struct berth_error **err)
{
        int *fds = xmalloc((s->n_mounts ? s->n_mounts : 1) * sizeof(*fds));
        for (size_t i = 0; i < s->n_mounts; i++) {
                fds[i] = -1;
                if (!s->mounts[i].bind)
                        continue;
                /* a detached copy of the source tree: a plain fd would name a mount of the
                 * host's namespace, which the child cannot bind into its own (EINVAL) */
                fds[i] = open_tree(AT_FDCWD, s->mounts[i].source,
                                   OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
                                       (s->mounts[i].recursive ? AT_RECURSIVE : 0));
                if (fds[i] < 0) {
                        int r = berth_error_set(err, errno, "bind mount source `%s`",
                                                s->mounts[i].source);
                        for (size_t j = 0; j < i; j++)
                                if (fds[j] >= 0)
                                        close(fds[j]);
                        free(fds);
                        return r;
                }
        }
        *ret_fds = fds;
        return 0;
}

static void close_bind_sources(const struct spec *s, int **fds)
{
        if (!*fds)
                return;
        for (size_t i = 0; i < s->n_mounts; i++)
                if ((*fds)[i] >= 0)
                        close((*fds)[i]);
        free(*fds);
        *fds = NULL;
}

static int launch(const struct berth_runtime *rt, const struct berth_create_opts *o,
                  enum launch_mode mode, struct launched *ret, struct berth_error **err)
{
        if (berth_id_validate(o->id, err) < 0)
                return -EINVAL;
        _cleanup_(spec_freep) struct spec *s = NULL;
        if (spec_load(o->bundle, &s, err) < 0)
                return -EINVAL;
        if (o->reexec_argv && spec_grants_ptrace(s) &&
            berth_runtime_reexec_sealed(o->reexec_argv, err) < 0)
                return -EIO;
        process_warn_ambient(&s->process);
        if (s->process.terminal && !o->console_socket && mode != LAUNCH_RUN)
                return berth_error_setx(err, EINVAL,
                                        "process.terminal is true: a --console-socket is required "
                                        "unless the container runs in the foreground");
        if (o->console_socket && !s->process.terminal)
                return berth_error_setx(err, EINVAL,
                                        "--console-socket given but process.terminal is false");
        if (o->notify_socket && o->notify_socket[0] != '/')
                return berth_error_setx(err, EINVAL, "NOTIFY_SOCKET `%s` is not an absolute path",
                                        o->notify_socket);
        if (o->listen_fds > 0) {
                /* socket activation passes through: the fds stay where they are and the
                 * container's init is their listener */
                _cleanup_free_ char *n = xasprintf("LISTEN_FDS=%d", o->listen_fds);
                strv_push(&s->process.env, n);
                strv_push(&s->process.env, "LISTEN_PID=1");
        }
        int clone_flags = spec_clone_flags(s) & ~CLONE_NEWTIME;
        enum cgroup_mode cgmode;
        if (cgroup_detect_mode(&cgmode, err) < 0)
                return -EIO;

        _cleanup_close_ int dirfd = -1;
        if (state_dir_create(rt, o->id, &dirfd, err) < 0)
                return -EEXIST;
        struct child_ctx c = {.spec = s, .opts = o, .sync_fd = -1, .fifo_fd = -1, .console_fd = -1};
        int relay[2] = {-1, -1};
        _cleanup_(cgroup_freep) struct cgroup *cg = NULL;
        _cleanup_close_ int pidns = -1, fifo = -1;
        _cleanup_free_ char *cgpath = NULL;
        _cleanup_free_ char *created = NULL, *hook_state = NULL;
        _cleanup_(secfilter_freep) struct secfilter *sec = NULL;
        int fds[2] = {-1, -1};
        pid_t pid = -1;
        int r, type;
        struct sync_msg m;
        struct timespec now;
        struct state st;
        if ((r = open_joins(s, &c, &pidns, err)) < 0)
                goto fail;
        if (o->notify_socket &&
            ((r = notify_prepare(rt, o->id, s, err)) < 0 ||
             (mode != LAUNCH_CREATE && (r = notify_bind(rt, o->id, &ret->notify_fd, err)) < 0)))
                goto fail;
        if ((r = secfilter_prepare(rt, s->seccomp, &sec, err)) < 0)
                goto fail;
        c.seccomp = sec;
        cgpath = cgroup_path_for(s->cgroups_path, o->id, err);
        if (!cgpath) {
                r = -EINVAL;
                goto fail;
        }
        if ((r = cgroup_create(cgpath, s->has_resources ? &s->resources : NULL, &cg, err)) < 0) {
                /* rootless: without write access to the cgroup tree a container that asks for no
                 * limits runs without a cgroup of its own, like runc's rootless mode */
                bool denied = r == -EACCES || r == -EPERM || r == -EROFS;
                if (!denied || geteuid() == 0 || spec_wants_limits(s))
                        goto fail;
                berth_debug("rootless: no cgroup: %s", (*err)->msg);
                berth_error_free(*err);
                *err = NULL;
                r = 0;
        }
        c.cg = cg;
        if (mode == LAUNCH_CREATE) {
                if (mkfifoat(dirfd, STATE_FIFO, 0600) < 0) {
                        r = berth_error_set(err, errno, "create exec fifo");
                        goto fail;
                }
                /* O_RDWR never blocks on a fifo; the child reads one byte from `start` */
                fifo = openat(dirfd, STATE_FIFO, O_RDWR | O_CLOEXEC);
                if (fifo < 0) {
                        r = berth_error_set(err, errno, "open exec fifo");
                        goto fail;
                }
                c.fifo_fd = fifo;
        }
        if ((r = console_channel(o->console_socket, s->process.terminal, &c.console_fd, &relay[0],
                                 err)) < 0)
                goto fail;
        relay[1] = c.console_fd;
        /* cgroup namespaces take the cgroup at unshare time as their root: on v1 the child is
         * moved into its cgroups only after clone, so it unshares later */
        if ((clone_flags & CLONE_NEWCGROUP) && cgmode != CGROUP_MODE_V2) {
                clone_flags &= ~CLONE_NEWCGROUP;
                c.defer_cgroupns = true;
        }
        if (c.two_stage) {
                c.unshare_flags = clone_flags;
                clone_flags = 0;
        }
        /* rootless runtimes gain nothing (and may not clone mounts): the child opens them */
        if (spec_namespace(s, CLONE_NEWUSER) && geteuid() == 0 &&
            (r = open_bind_sources(s, &c.bind_fds, err)) < 0)
                goto fail;
        if ((r = sync_spawn((uint64_t)clone_flags, cg ? cg->unified_fd : -1, pidns, &ret->old_mask,
                            child_entry, &c, &pid, &fds[0], err)) < 0)
                goto fail;
        close_joins(&c);
        close_bind_sources(s, &c.bind_fds);
        if (c.console_fd >= 0)
                close(c.console_fd);
        c.console_fd = relay[1] = -1;
        if (c.two_stage && (r = finish_stage1(&c, fds[0], &pid, err)) < 0)
                goto fail_child;
        if (clone_flags & CLONE_NEWUSER) {
                /* gid map first is not needed as root; uid then gid like runc */
                if ((r = write_id_map(pid, "uid_map", s->uid_mappings, s->n_uid_mappings, err)) <
                        0 ||
                    (r = write_id_map(pid, "gid_map", s->gid_mappings, s->n_gid_mappings, err)) < 0)
                        goto fail_child;
        }
        if (cg && (r = cgroup_enter(cg, pid, cg->unified_fd < 0, err)) < 0)
                goto fail_child;
        /* limits go in while the child builds its rootfs; it waits for GO before exec */
        if (cg && s->has_resources && (r = cgroup_apply(cg, &s->resources, err)) < 0)
                goto fail_child;
        if (s->process.has_oom_score_adj &&
            (r = set_oom_score_adj(pid, s->process.oom_score_adj, err)) < 0)
                goto fail_child;
        /* state is on disk before the process can exec: whoever sees the container's first
         * output can already `state` or `kill` it */
        clock_gettime(CLOCK_REALTIME, &now);
        created = berth_time_rfc3339(&now);
        st = (struct state){
            .id = (char *)o->id,
            .pid = pid,
            .start_time = proc_start_time(pid),
            .bundle = s->bundle,
            .rootfs = s->root_path,
            .created = created,
            .annotations = s->annotations,
            .has_cgroup = cg != NULL,
            .cg_mode = cg ? cg->mode : CGROUP_MODE_V2,
            .cg_path = cg ? cg->path : NULL,
            .cg_v1_mask = cg ? cg->v1_mask : 0,
        };
        if ((r = state_save(dirfd, &st, err)) < 0)
                goto fail_child;
        if (o->pid_file && (r = sync_write_pid_file(o->pid_file, pid, err)) < 0)
                goto fail_child;
        if (s->n_hooks[HOOK_PRESTART] || s->n_hooks[HOOK_CREATE_RUNTIME] ||
            s->n_hooks[HOOK_CREATE_CONTAINER] || s->n_hooks[HOOK_START_CONTAINER]) {
                hook_state = hooks_state(s, o->id, "creating", pid);
                if ((r = hooks_run(s, HOOK_PRESTART, hook_state, err)) < 0 ||
                    (r = hooks_run(s, HOOK_CREATE_RUNTIME, hook_state, err)) < 0)
                        goto fail_child;
        }
        sync_send(fds[0], MSG_GO, 0, hook_state);
        type = sync_recv(fds[0], &m);
        if (type == MSG_ERROR) {
                r = berth_error_setx(err, m.code ? m.code : EIO, "%s", m.text);
                goto fail_child;
        }
        if (mode == LAUNCH_CREATE && type != MSG_READY) {
                r = berth_error_setx(err, EIO, "container init exited before it was ready");
                goto fail_child;
        }
        close(TAKE_FD(fds[0]));
        if (mode != LAUNCH_RUN)
                sigprocmask(SIG_SETMASK, &ret->old_mask, NULL);
        ret->pid = pid;
        ret->relay_fd = relay[0];
        ret->cg = TAKE_PTR(cg);
        ret->spec = TAKE_PTR(s);
        return 0;

fail_child:
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        sigprocmask(SIG_SETMASK, &ret->old_mask, NULL);
fail:
        if (ret->notify_fd >= 0)
                close(TAKE_FD(ret->notify_fd));
        for (int i = 0; i < 2; i++)
                if (relay[i] >= 0)
                        close(relay[i]);
        if (c.console_fd >= 0 && c.console_fd != relay[1])
                close(c.console_fd);
        if (fds[0] >= 0)
                close(fds[0]);
        if (fds[1] >= 0)
                close(fds[1]);
        close_joins(&c);
        close_bind_sources(s, &c.bind_fds);
        if (cg)
                cgroup_destroy(cg, NULL);
        state_remove(rt, o->id, NULL);
        return r;
}

int berth_container_create(const struct berth_runtime *rt, const struct berth_create_opts *o,
                           struct berth_error **err)
{
        struct launched l = {.relay_fd = -1, .notify_fd = -1};
        int r = launch(rt, o, LAUNCH_CREATE, &l, err);
        if (r < 0)
                return r;
        cgroup_free(l.cg);
        spec_free(l.spec);
        return 0;
}

static int poststart(const struct berth_runtime *rt, const char *id, const struct spec *s,
                     pid_t pid, struct berth_error **err)
{
        _cleanup_free_ char *st = hooks_state(s, id, "running", pid);
        return hooks_run(s, HOOK_POSTSTART, st, err);
}

int berth_container_start(const struct berth_runtime *rt, const char *id, const char *notify_socket,
                          struct berth_error **err)
{
        _cleanup_(state_freep) struct state *st = NULL;
        _cleanup_close_ int dirfd = -1;
        if (state_load(rt, id, &st, &dirfd, err) < 0)
                return -ENOENT;
        const char *status = state_status(st, dirfd);
        if (strcmp(status, "created"))
                return berth_error_setx(err, EINVAL, "cannot start a container that is %s", status);
        _cleanup_close_ int nfd = -1;
        if (notify_socket && faccessat(dirfd, "notify", F_OK, 0) == 0 &&
            notify_bind(rt, id, &nfd, err) < 0)
                return -EIO;
        _cleanup_close_ int fd = openat(dirfd, STATE_FIFO, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return berth_error_set(err, errno, "container `%s`: open exec fifo", id);
        if (write(fd, "0", 1) != 1)
                return berth_error_set(err, errno, "container `%s`: start", id);
        unlinkat(dirfd, STATE_FIFO, 0);
        if (nfd >= 0 && notify_wait_ready(nfd, notify_socket, st->pid, err) < 0)
                return -EIO;
        _cleanup_(spec_freep) struct spec *s = NULL;
        if (spec_load(st->bundle, &s, NULL) == 0 && s->n_hooks[HOOK_POSTSTART] &&
            poststart(rt, id, s, st->pid, err) < 0) {
                kill(st->pid, SIGKILL);
                return -ECANCELED;
        }
        return 0;
}

/* Remove what a container left on the host: remaining processes, cgroups, state; then the
 * poststop hooks. */
static int cleanup(const struct berth_runtime *rt, const char *id, struct cgroup *cg,
                   const struct spec *s, bool own_pidns, struct berth_error **err)
{
        int r = 0;
        if (cg) {
                /* the kernel already killed everything in a pid namespace whose init is gone */
                if (!own_pidns)
                        cgroup_kill_all(cg, SIGKILL, NULL);
                r = cgroup_destroy(cg, err);
        }
        if (s && s->n_hooks[HOOK_POSTSTOP]) {
                /* poststop failures are warnings: the container is gone either way */
                _cleanup_free_ char *st = hooks_state(s, id, "stopped", 0);
                _cleanup_error_ struct berth_error *herr = NULL;
                if (hooks_run(s, HOOK_POSTSTOP, st, &herr) < 0)
                        berth_warn("%s", herr->msg);
        }
        int r2 = state_remove(rt, id, r < 0 ? NULL : err);
        return r < 0 ? r : r2;
}

int berth_container_run(const struct berth_runtime *rt, const struct berth_create_opts *o,
                        bool detach, int *ret_status, struct berth_error **err)
{
        struct launched l = {.relay_fd = -1, .notify_fd = -1};
        int r = launch(rt, o, detach ? LAUNCH_DETACH : LAUNCH_RUN, &l, err);
        if (r < 0)
                return r;
        _cleanup_(cgroup_freep) struct cgroup *cg = l.cg;
        _cleanup_(spec_freep) struct spec *s = l.spec;
        if (s->n_hooks[HOOK_POSTSTART] && (r = poststart(rt, o->id, s, l.pid, err)) < 0) {
                /* like runc: a failed poststart hook takes the container down */
                kill(l.pid, SIGKILL);
                while (waitpid(l.pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                sigprocmask(SIG_SETMASK, &l.old_mask, NULL);
                if (l.relay_fd >= 0)
                        close(l.relay_fd);
                cleanup(rt, o->id, cg, s, false, NULL);
                return r;
        }
        if (l.notify_fd >= 0) {
                /* like runc: return (or go on waiting) once the container said READY=1 */
                r = notify_wait_ready(l.notify_fd, o->notify_socket, l.pid, err);
                close(l.notify_fd);
                if (r < 0) {
                        if (!detach)
                                sigprocmask(SIG_SETMASK, &l.old_mask, NULL);
                        return r;
                }
        }
        if (detach) {
                *ret_status = 0;
                return 0;
        }
        int status = console_wait(l.relay_fd, l.pid, &l.old_mask);
        if (l.relay_fd >= 0)
                close(l.relay_fd);
        *ret_status = status;
        if (o->keep) {
                /* runc --keep: the stopped container stays listed with its cgroup; delete runs
                 * the poststop hooks and removes both. Nothing may outlive its init though. */
                if (cg && !(spec_clone_flags(s) & CLONE_NEWPID))
                        cgroup_kill_all(cg, SIGKILL, NULL);
                return 0;
        }
        return cleanup(rt, o->id, cg, s, (spec_clone_flags(s) & CLONE_NEWPID) != 0, err);
}

int berth_container_state(const struct berth_runtime *rt, const char *id, json_t **ret_state,
                          struct berth_error **err)
{
        _cleanup_(state_freep) struct state *st = NULL;
        _cleanup_close_ int dirfd = -1;
        if (state_load(rt, id, &st, &dirfd, err) < 0)
                return -ENOENT;
        *ret_state = state_to_json(st, state_status(st, dirfd));
        return 0;
}

int berth_container_kill(const struct berth_runtime *rt, const char *id, int sig, bool all,
                         struct berth_error **err)
{
        _cleanup_(state_freep) struct state *st = NULL;
        _cleanup_close_ int dirfd = -1;
        if (state_load(rt, id, &st, &dirfd, err) < 0)
                return -ENOENT;
        const char *status = state_status(st, dirfd);
        if (!strcmp(status, "stopped") && !all)
                return berth_error_setx(err, ESRCH, "container `%s` is not running", id);
        if (all && st->has_cgroup) {
                _cleanup_(cgroup_freep) struct cgroup *cg = NULL;
                if (cgroup_load(st->cg_mode, st->cg_path, st->cg_v1_mask, &cg, err) < 0)
                        return -EIO;
                return cgroup_kill_all(cg, sig, err);
        }
        if (kill(st->pid, sig) < 0)
                return berth_error_set(err, errno, "kill container `%s`", id);
        return 0;
}

/* Wait until a process that is not our child has exited (pidfd polls readable). */
static void wait_gone(pid_t pid, uint64_t start_time)
{
        int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pfd >= 0) {
                if (proc_start_time(pid) == start_time) {
                        struct pollfd p = {.fd = pfd, .events = POLLIN};
                        poll(&p, 1, 10000);
                }
                close(pfd);
                return;
        }
        for (int i = 0; i < 1000 && proc_start_time(pid) == start_time; i++)
                usleep(10000);
}

int berth_container_delete(const struct berth_runtime *rt, const char *id, bool force,
                           struct berth_error **err)
{
        _cleanup_(state_freep) struct state *st = NULL;
        _cleanup_close_ int dirfd = -1;
        if (state_load(rt, id, &st, &dirfd, err) < 0)
                return -ENOENT;
        const char *status = state_status(st, dirfd);
        _cleanup_(cgroup_freep) struct cgroup *cg = NULL;
        if (st->has_cgroup && cgroup_load(st->cg_mode, st->cg_path, st->cg_v1_mask, &cg, err) < 0)
                return -EIO;
        if (strcmp(status, "stopped")) {
                if (!force && strcmp(status, "created"))
                        return berth_error_setx(
                            err, EBUSY, "cannot delete container `%s` that is not stopped: %s", id,
                            status);
                if (cg && !strcmp(status, "paused"))
                        cgroup_freeze(cg, false, NULL);
                if (cg)
                        cgroup_kill_all(cg, SIGKILL, NULL);
                kill(st->pid, SIGKILL);
                wait_gone(st->pid, st->start_time);
        }
        /* poststop hooks come from the bundle's config; a bundle that is gone has none to run */
        _cleanup_(spec_freep) struct spec *s = NULL;
        _cleanup_error_ struct berth_error *serr = NULL;
        if (spec_load(st->bundle, &s, &serr) < 0)
                berth_debug("delete `%s`: no bundle config: %s", id, serr->msg);
        return cleanup(rt, id, cg, s, false, err);
}

int berth_container_list(const struct berth_runtime *rt, json_t **ret_list,
                         struct berth_error **err)
{
        const char *root = rt && rt->root ? rt->root : BERTH_RUNTIME_DEFAULT_ROOT;
        json_t *list = json_array();
        _cleanup_dir_ DIR *d = opendir(root);
        if (!d) {
                if (errno == ENOENT) {
                        *ret_list = list;
                        return 0;
                }
                json_decref(list);
                return berth_error_set(err, errno, "open state root `%s`", root);
        }
        /* runc's owner: the name of the state dir's owner in the host's passwd, else "#uid" */
        struct berth_passwd_ent *pw = NULL;
        size_t npw = 0;
        bool pw_read = false;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.' || berth_id_validate(de->d_name, NULL) < 0)
                        continue;
                _cleanup_(state_freep) struct state *st = NULL;
                _cleanup_close_ int dirfd = -1;
                /* a dir without state.json is a create in progress (or one that crashed) */
                if (state_load(rt, de->d_name, &st, &dirfd, NULL) < 0)
                        continue;
                json_t *j = state_to_json(st, state_status(st, dirfd));
                struct stat sb;
                if (fstat(dirfd, &sb) == 0) {
                        if (!pw_read) {
                                _cleanup_free_ char *text = NULL;
                                size_t len = 0;
                                _cleanup_close_ int hostroot =
                                    open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
                                if (hostroot >= 0 && berth_passwd_read_at(hostroot, "/etc/passwd",
                                                                          &text, &len, NULL) == 0)
                                        berth_passwd_parse(text ? text : "", len, &pw, &npw);
                                pw_read = true;
                        }
                        _cleanup_free_ char *owner = xasprintf("#%u", (unsigned)sb.st_uid);
                        for (size_t i = 0; i < npw; i++)
                                if (pw[i].uid == sb.st_uid) {
                                        free(owner);
                                        owner = xstrdup(pw[i].name);
                                        break;
                                }
                        json_object_set_new(j, "owner", json_string(owner));
                }
                json_array_append_new(list, j);
        }
        berth_passwd_free(pw, npw);
        *ret_list = list;
        return 0;
}
