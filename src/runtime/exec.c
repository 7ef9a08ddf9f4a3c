/* exec, pause/resume, ps: acting on a running container from outside it.
 *
 * exec joins the init's namespaces (user first, mount last) and its cgroup (CLONE_INTO_CGROUP
 * where a cgroup2 hierarchy exists), and is non-dumpable until execve so the container cannot
 * open the runtime through /proc/<pid>/exe while it is inside (CVE-2019-5736).
 */
#include "runtime/internal.h"

#include <linux/sched.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static const struct {
        const char *name;
        int type;
} exec_ns[] = {
    /* the order they are joined in: user first, mount last */
    {"user", CLONE_NEWUSER}, {"ipc", CLONE_NEWIPC},       {"uts", CLONE_NEWUTS},
    {"net", CLONE_NEWNET},   {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
    {"pid", CLONE_NEWPID},   {"mnt", CLONE_NEWNS},
};

struct exec_ctx {
        struct spec *spec; /* the child's copy: process setup completes its env (HOME) */
        int sync_fd;
        int console_fd; /* --tty: where the pty master goes, else -1 */
        int ns_fds[ARRAY_SIZE(exec_ns)];
        int preserve_fds;
        const struct secfilter *seccomp;
        bool via_userns; /* rootless: join user and pid ns in a first child, then fork */
};

static _noreturn_ void exec_child(struct exec_ctx *c);

static _noreturn_ void exec_entry(void *arg, int sock)
{
        struct exec_ctx *c = arg;
        c->sync_fd = sock;
        exec_child(c);
}

static _noreturn_ void exec_child(struct exec_ctx *c)
{
        struct berth_error *err = NULL;
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        if (process_attrs_initial(&c->spec->process, &err) < 0)
                sync_fail(c->sync_fd, err);
        if (c->via_userns) {
                for (size_t i = 0; i < ARRAY_SIZE(exec_ns); i++) {
                        int t = exec_ns[i].type;
                        if (c->ns_fds[i] < 0 || (t != CLONE_NEWUSER && t != CLONE_NEWPID))
                                continue;
                        if (setns(c->ns_fds[i], t) < 0) {
                                berth_error_set(&err, errno, "join %s namespace", exec_ns[i].name);
                                sync_fail(c->sync_fd, err);
                        }
                        close(c->ns_fds[i]);
                        c->ns_fds[i] = -1;
                }
                /* CLONE_PARENT takes its exit signal from us, so clone3 wants 0 here */
                struct clone_args ca = {.flags = CLONE_PARENT};
                pid_t pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
                if (pid < 0) {
                        berth_error_set(&err, errno, "clone exec process");
                        sync_fail(c->sync_fd, err);
                }
                if (pid > 0) {
                        sync_send(c->sync_fd, MSG_PID, (int)pid, NULL);
                        _exit(0);
                }
                prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        }
        struct sync_msg m;
        if (sync_recv(c->sync_fd, &m) != MSG_GO)
                _exit(1);
        for (size_t i = 0; i < ARRAY_SIZE(exec_ns); i++) {
                if (c->ns_fds[i] < 0 || exec_ns[i].type == CLONE_NEWPID)
                        continue;
                if (setns(c->ns_fds[i], exec_ns[i].type) < 0) {
                        berth_error_set(&err, errno, "join %s namespace", exec_ns[i].name);
                        sync_fail(c->sync_fd, err);
                }
        }
        if (c->console_fd >= 0) {
                if (console_setup(c->console_fd, &c->spec->process, false, &err) < 0)
                        sync_fail(c->sync_fd, err);
                close(c->console_fd);
        } else if (setsid() < 0) {
                berth_error_set(&err, errno, "setsid");
                sync_fail(c->sync_fd, err);
        }
        _cleanup_free_ char *exe = NULL;
        if (process_attrs_apply(NULL, &c->spec->process, &err) < 0 ||
            process_setup(c->spec, c->seccomp, &err) < 0 ||
            process_find_exec(&c->spec->process, &exe, &err) < 0)
                sync_fail(c->sync_fd, err);
        unsigned first = 3u + (unsigned)(c->preserve_fds > 0 ? c->preserve_fds : 0);
        if (process_cloexec_from(first, &err) < 0)
                sync_fail(c->sync_fd, err);
        prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
        process_reset_signals();
        if (process_attrs_final(&c->spec->process, &err) < 0 ||
            process_seccomp_last(c->spec, c->seccomp, &err) < 0)
                sync_fail(c->sync_fd, err);
        const struct spec_process *p = &c->spec->process;
        execve(exe, p->args, p->env ? p->env : (char *[]){NULL});
        berth_error_set(&err, errno, "exec: \"%s\"", p->args[0]);
        sync_fail(c->sync_fd, err);
}

/* env with KEY=VALUE entries of extra replacing those of the same key */
static char **merge_env(char **base, char **extra)
{
        char **out = NULL;
        for (size_t i = 0; base && base[i]; i++) {
                size_t k = strcspn(base[i], "=");
                bool replaced = false;
                for (size_t j = 0; extra && extra[j]; j++)
                        replaced |= !strncmp(base[i], extra[j], k) && extra[j][k] == '=';
                if (!replaced)
                        strv_push(&out, base[i]);
        }
        for (size_t j = 0; extra && extra[j]; j++)
                strv_push(&out, extra[j]);
        return out ? out : xcalloc(1, sizeof(char *));
}

static int build_process(struct spec *s, const struct berth_exec_opts *o, struct berth_error **err)
{
        struct spec_process *p = &s->process;
        if (o->process_path) {
                _cleanup_json_ json_t *j =
                    berth_json_load_at(AT_FDCWD, o->process_path, JSON_DECODE_INT_AS_REAL, err);
                if (!j)
                        return -EINVAL;
                spec_process_release(p);
                return spec_parse_process(j, p, err);
        }
        if (!o->args || !o->args[0])
                return berth_error_setx(err, EINVAL, "exec: no command given");
        strv_free(p->args);
        p->args = NULL;
        for (size_t i = 0; o->args[i]; i++)
                strv_push(&p->args, o->args[i]);
        char **env = merge_env(p->env, o->env);
        strv_free(p->env);
        p->env = env;
        if (o->cwd) {
                if (o->cwd[0] != '/')
                        return berth_error_setx(err, EINVAL, "--cwd must be an absolute path");
                free(p->cwd);
                p->cwd = xstrdup(o->cwd);
        }
        if (o->user) {
                uint64_t uid, gid;
                _cleanup_free_ char *u = xstrdup(o->user);
                char *colon = strchr(u, ':');
                if (colon)
                        *colon = '\0';
                if (berth_parse_u64(u, &uid) < 0 || uid >= UINT32_MAX ||
                    (colon && (berth_parse_u64(colon + 1, &gid) < 0 || gid >= UINT32_MAX)))
                        return berth_error_setx(err, EINVAL, "--user `%s`: expected uid[:gid]",
                                                o->user);
                p->uid = (uid_t)uid;
                p->gid = colon ? (gid_t)gid : 0;
        }
        if (o->n_additional_gids) {
                p->additional_gids =
                    xrealloc(p->additional_gids,
                             (p->n_additional_gids + o->n_additional_gids) * sizeof(gid_t));
                memcpy(p->additional_gids + p->n_additional_gids, o->additional_gids,
                       o->n_additional_gids * sizeof(gid_t));
                p->n_additional_gids += o->n_additional_gids;
        }
        for (size_t i = 0; o->caps && o->caps[i]; i++) {
                int cap = spec_cap_from_name(o->caps[i]);
                if (cap < 0)
                        return berth_error_setx(err, EINVAL, "--cap: unknown capability `%s`",
                                                o->caps[i]);
                /* never inheritable (CVE-2022-29162); ambient, as runc does, only when the spec
                 * has inheritable capabilities already (the kernel raises no ambient cap that is
                 * not inheritable) */
                uint64_t bit = UINT64_C(1) << cap;
                p->caps[CAPSET_BOUNDING] |= bit;
                p->caps[CAPSET_EFFECTIVE] |= bit;
                p->caps[CAPSET_PERMITTED] |= bit;
                if (p->caps[CAPSET_INHERITABLE])
                        p->caps[CAPSET_AMBIENT] |= bit;
                p->has_caps = true;
        }
        if (o->no_new_privs)
                p->no_new_privileges = true;
        p->terminal = o->tty;
        return 0;
}

static const char *const running_states[] = {"running", "created"};

int berth_container_exec(const struct berth_runtime *rt, const char *id,
                         const struct berth_exec_opts *o, bool detach, int *ret_status,
                         struct berth_error **err)
{
        _cleanup_(state_freep) struct state *st = NULL;
        _cleanup_close_ int dirfd = -1;
        if (state_load(rt, id, &st, &dirfd, err) < 0)
                return -ENOENT;
        const char *status = state_status(st, dirfd);
        if (!strcmp(status, "paused") && !o->ignore_paused)
                return berth_error_setx(err, EINVAL,
                                        "cannot exec in a paused container (use --ignore-paused "
                                        "to override)");
        if (strcmp(status, running_states[0]) && strcmp(status, running_states[1]) &&
            strcmp(status, "paused"))
                return berth_error_setx(err, EINVAL, "cannot exec in a %s container", status);
        _cleanup_(spec_freep) struct spec *s = NULL;
        if (spec_load(st->bundle, &s, err) < 0)
                return berth_error_wrap(err, "container `%s`", id);
        if (o->reexec_argv && spec_grants_ptrace(s) &&
            berth_runtime_reexec_sealed(o->reexec_argv, err) < 0)
                return -EIO;
        if (build_process(s, o, err) < 0)
                return -EINVAL;
        /* the container's own capabilities were warned about at create; only what this exec
         * brings (a process.json, --cap) is new */
        if (o->process_path || (o->caps && o->caps[0]))
                process_warn_ambient(&s->process);
        if (s->process.terminal && !o->console_socket && detach)
                return berth_error_setx(err, EINVAL,
                                        "a detached exec with a terminal needs "
                                        "--console-socket");
        if (o->console_socket && !s->process.terminal)
                return berth_error_setx(err, EINVAL, "--console-socket given without --tty");

        struct exec_ctx c = {
            .spec = s, .sync_fd = -1, .console_fd = -1, .preserve_fds = o->preserve_fds};
        int relay[2] = {-1, -1};
        for (size_t i = 0; i < ARRAY_SIZE(exec_ns); i++)
                c.ns_fds[i] = -1;
        int r = 0, fds[2] = {-1, -1}, pidns = -1;
        pid_t pid = -1;
        sigset_t old;
        struct sync_msg m;
        _cleanup_(cgroup_freep) struct cgroup *cg = NULL;
        _cleanup_(secfilter_freep) struct secfilter *sec = NULL;
        for (size_t i = 0; i < ARRAY_SIZE(exec_ns); i++) {
                char path[64], self[64];
                snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)st->pid, exec_ns[i].name);
                snprintf(self, sizeof(self), "/proc/self/ns/%s", exec_ns[i].name);
                struct stat a, b;
                if (stat(path, &a) < 0) {
                        if (errno == ENOENT && exec_ns[i].type == CLONE_NEWTIME)
                                continue;
                        r = berth_error_set(err, errno, "container `%s`: namespace %s", id,
                                            exec_ns[i].name);
                        goto out;
                }
                if (stat(self, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
                        continue;
                c.ns_fds[i] = open(path, O_RDONLY | O_CLOEXEC);
                if (c.ns_fds[i] < 0) {
                        r = berth_error_set(err, errno, "open `%s`", path);
                        goto out;
                }
                if (exec_ns[i].type == CLONE_NEWPID)
                        pidns = c.ns_fds[i];
        }
        /* the namespaces are those of the process state.json names, not of a reused pid */
        if (proc_start_time(st->pid) != st->start_time) {
                r = berth_error_setx(err, ESRCH, "container `%s` is not running", id);
                goto out;
        }
        if ((r = secfilter_prepare(rt, s->seccomp, &sec, err)) < 0)
                goto out;
        c.seccomp = sec;
        if (st->has_cgroup &&
            (r = cgroup_load(st->cg_mode, st->cg_path, st->cg_v1_mask, &cg, err)) < 0)
                goto out;
        if (o->cgroups && o->cgroups[0]) {
                if (!cg) {
                        r = berth_error_setx(err, ENOTSUP, "--cgroup: container `%s` has no cgroup",
                                             id);
                        goto out;
                }
                if ((r = cgroup_descend(cg, o->cgroups, err)) < 0)
                        goto out;
        }
        if ((r = console_channel(o->console_socket, s->process.terminal, &c.console_fd, &relay[0],
                                 err)) < 0)
                goto out;
        relay[1] = c.console_fd;
        /* rootless: only a member of the container's user namespace may enter its pid
         * namespace, and the runtime itself should stay out of both: a first child joins them
         * and forks the process that execs (CLONE_PARENT: still our child) */
        c.via_userns = pidns >= 0 && geteuid() != 0 && c.ns_fds[0] >= 0;
        if (c.via_userns)
                pidns = -1;
        if ((r = sync_spawn(0, cg ? cg->unified_fd : -1, pidns, &old, exec_entry, &c, &pid, &fds[0],
                            err)) < 0)
                goto out;
        if (c.console_fd >= 0)
                close(c.console_fd);
        c.console_fd = relay[1] = -1;
        if (c.via_userns) {
                pid_t first = pid;
                int type = sync_recv(fds[0], &m);
                while (waitpid(first, NULL, 0) < 0 && errno == EINTR)
                        ;
                if (type != MSG_PID) {
                        r = berth_error_setx(err, m.code ? m.code : EIO, "%s",
                                             type == MSG_ERROR ? m.text
                                                               : "exec process not created");
                        sigprocmask(SIG_SETMASK, &old, NULL);
                        goto out;
                }
                pid = (pid_t)m.code;
        }
        if (cg && (r = cgroup_enter(cg, pid, cg->unified_fd < 0, err)) < 0)
                goto fail_child;
        sync_send(fds[0], MSG_GO, 0, NULL);
        if (sync_recv(fds[0], &m) == MSG_ERROR) {
                r = berth_error_setx(err, m.code ? m.code : EIO, "%s", m.text);
                goto fail_child;
        }
        if (o->pid_file && (r = sync_write_pid_file(o->pid_file, pid, err)) < 0)
                goto fail_child;
        if (detach) {
                sigprocmask(SIG_SETMASK, &old, NULL);
                *ret_status = 0;
        } else {
                *ret_status = console_wait(relay[0], pid, &old);
        }
        goto out;
fail_child:
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        sigprocmask(SIG_SETMASK, &old, NULL);
out:
        if (c.console_fd >= 0 && c.console_fd != relay[1])
                close(c.console_fd);
        for (int i = 0; i < 2; i++)
                if (relay[i] >= 0)
                        close(relay[i]);
        for (size_t i = 0; i < ARRAY_SIZE(exec_ns); i++)
                if (c.ns_fds[i] >= 0)
                        close(c.ns_fds[i]);
        if (fds[0] >= 0)
                close(fds[0]);
        if (fds[1] >= 0)
                close(fds[1]);
        return r;
}

static int load_cgroup(const struct berth_runtime *rt, const char *id, struct state **ret_st,
                       const char **ret_status, struct cgroup **ret_cg, struct berth_error **err)
{
        _cleanup_(state_freep) struct state *st = NULL;
        _cleanup_close_ int dirfd = -1;
        if (state_load(rt, id, &st, &dirfd, err) < 0)
                return -ENOENT;
        if (!st->has_cgroup)
                return berth_error_setx(err, ENOTSUP, "container `%s` has no cgroup", id);
        if (cgroup_load(st->cg_mode, st->cg_path, st->cg_v1_mask, ret_cg, err) < 0)
                return -EIO;
        *ret_status = state_status(st, dirfd);
        *ret_st = TAKE_PTR(st);
        return 0;
}

int berth_container_pause(const struct berth_runtime *rt, const char *id, bool pause,
                          struct berth_error **err)
{
        _cleanup_(state_freep) struct state *st = NULL;
        _cleanup_(cgroup_freep) struct cgroup *cg = NULL;
        const char *status;
        if (load_cgroup(rt, id, &st, &status, &cg, err) < 0)
                return -EIO;
        if (strcmp(status, pause ? "running" : "paused"))
                return berth_error_setx(err, EINVAL, "container `%s` is %s, not %s", id, status,
                                        pause ? "running" : "paused");
        return cgroup_freeze(cg, pause, err);
}

int berth_container_pids(const struct berth_runtime *rt, const char *id, pid_t **ret_pids,
                         size_t *ret_n, struct berth_error **err)
{
        _cleanup_(state_freep) struct state *st = NULL;
        _cleanup_(cgroup_freep) struct cgroup *cg = NULL;
        const char *status;
        if (load_cgroup(rt, id, &st, &status, &cg, err) < 0)
                return -EIO;
        if (!strcmp(status, "stopped")) {
                *ret_pids = NULL;
                *ret_n = 0;
                return 0;
        }
        return cgroup_pids(cg, ret_pids, ret_n, err);
}

int berth_container_update(const struct berth_runtime *rt, const char *id, json_t *resources_json,
                           struct berth_error **err)
{
        _cleanup_(state_freep) struct state *st = NULL;
        _cleanup_(cgroup_freep) struct cgroup *cg = NULL;
        const char *status;
        if (load_cgroup(rt, id, &st, &status, &cg, err) < 0)
                return -EIO;
        if (!strcmp(status, "stopped"))
                return berth_error_setx(err, EINVAL, "container `%s` is stopped", id);
        struct spec_resources res;
        spec_resources_init(&res);
        int r = spec_parse_resources(resources_json, &res, err);
        if (r == 0 && (r = cgroup_extend(cg, &res, err)) == 0)
                r = cgroup_apply(cg, &res, err);
        if (r == 0 && cg->v1_mask != st->cg_v1_mask) {
                /* new v1 dirs are recorded so that delete removes them */
                st->cg_v1_mask = cg->v1_mask;
                _cleanup_free_ char *dir =
                    xasprintf("%s/%s", rt && rt->root ? rt->root : BERTH_RUNTIME_DEFAULT_ROOT, id);
                _cleanup_close_ int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
                r = dirfd < 0 ? berth_error_set(err, errno, "open `%s`", dir)
                              : state_save(dirfd, st, err);
        }
        spec_resources_release(&res);
        return r;
}

int berth_container_stats(const struct berth_runtime *rt, const char *id, json_t **ret_event,
                          bool *ret_running, struct berth_error **err)
{
        _cleanup_(state_freep) struct state *st = NULL;
        _cleanup_(cgroup_freep) struct cgroup *cg = NULL;
        const char *status;
        if (load_cgroup(rt, id, &st, &status, &cg, err) < 0)
                return -EIO;
        *ret_running = strcmp(status, "stopped") != 0;
        *ret_event =
            json_pack("{s:s, s:s, s:o}", "type", "stats", "id", id, "data", cgroup_stats(cg));
        return 0;
}

/* The cgroup of a container another runtime made from cgroupsPath. */
static int foreign_cgroup(const char *cgroups_path, const char *id, struct cgroup **ret,
                          struct berth_error **err)
{
        _cleanup_free_ char *path = cgroup_path_for(cgroups_path, id, err);
        if (!path)
                return -EINVAL;
        return cgroup_find(path, ret, err);
}

int berth_cgroup_stats(const char *cgroups_path, const char *id, json_t **ret_data,
                       struct berth_error **err)
{
        _cleanup_(cgroup_freep) struct cgroup *cg = NULL;
        if (foreign_cgroup(cgroups_path, id, &cg, err) < 0)
                return -ENOENT;
        *ret_data = cgroup_stats(cg);
        return 0;
}

int berth_cgroup_pids(const char *cgroups_path, const char *id, pid_t **ret_pids, size_t *ret_n,
                      struct berth_error **err)
{
        _cleanup_(cgroup_freep) struct cgroup *cg = NULL;
        if (foreign_cgroup(cgroups_path, id, &cg, err) < 0)
                return -ENOENT;
        return cgroup_pids(cg, ret_pids, ret_n, err);
}
