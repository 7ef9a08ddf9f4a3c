/* The last steps in the container before exec: rlimits, identity, capabilities, cwd, and the
 * lookup of the program to run.
 */
#include "runtime/internal.h"

#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const char *rlimit_name(int r)
{
        static const char *const n[] = {
            "CPU",     "FSIZE", "DATA",  "STACK",      "CORE",     "RSS",  "NPROC",  "NOFILE",
            "MEMLOCK", "AS",    "LOCKS", "SIGPENDING", "MSGQUEUE", "NICE", "RTPRIO", "RTTIME"};
        return r >= 0 && (size_t)r < ARRAY_SIZE(n) ? n[r] : "?";
}

static int set_rlimits(const struct spec_process *p, struct berth_error **err)
{
        for (size_t i = 0; i < p->n_rlimits; i++) {
                const struct spec_rlimit *rl = &p->rlimits[i];
                struct rlimit want = {.rlim_cur = rl->soft, .rlim_max = rl->hard};
                if (setrlimit(rl->resource, &want) == 0)
                        continue;
                if (errno != EPERM)
                        return berth_error_set(err, errno, "setrlimit RLIMIT_%s",
                                               rlimit_name(rl->resource));
                /* Raising a hard limit needs CAP_SYS_RESOURCE in the initial user namespace,
                 * which the runtime may lack: clamp to what we have and say so.
                 */
                struct rlimit cur;
                if (getrlimit(rl->resource, &cur) < 0)
                        return berth_error_set(err, errno, "getrlimit RLIMIT_%s",
                                               rlimit_name(rl->resource));
                struct rlimit clamped = {
                    .rlim_max = want.rlim_max > cur.rlim_max ? cur.rlim_max : want.rlim_max,
                };
                clamped.rlim_cur =
                    want.rlim_cur > clamped.rlim_max ? clamped.rlim_max : want.rlim_cur;
                if (setrlimit(rl->resource, &clamped) < 0)
                        return berth_error_set(err, errno, "setrlimit RLIMIT_%s",
                                               rlimit_name(rl->resource));
                berth_warn("RLIMIT_%s: hard limit %llu is above the runtime's own (%llu): clamped",
                           rlimit_name(rl->resource), (unsigned long long)want.rlim_max,
                           (unsigned long long)cur.rlim_max);
        }
        return 0;
}

static int capset_raw(uint64_t eff, uint64_t perm, uint64_t inh)
{
        struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct d[2] = {
            {(uint32_t)eff, (uint32_t)perm, (uint32_t)inh},
            {(uint32_t)(eff >> 32), (uint32_t)(perm >> 32), (uint32_t)(inh >> 32)},
        };
        return (int)syscall(SYS_capset, &h, d);
}

static int last_cap(void)
{
        static int last = -1;
        if (last >= 0)
                return last;
        /* probe the kernel: PR_CAPBSET_READ fails with EINVAL beyond the last capability */
        last = spec_cap_last();
        while (prctl(PR_CAPBSET_READ, last + 1, 0, 0, 0) >= 0)
                last++;
        while (last > 0 && prctl(PR_CAPBSET_READ, last, 0, 0, 0) < 0)
                last--;
        return last;
}

static int set_identity(const struct spec *s, struct berth_error **err)
{
        const struct spec_process *p = &s->process;
        uint64_t *caps = (uint64_t *)p->caps;
        if (p->has_caps) {
                int last = last_cap();
                for (int c = 0; c <= last; c++)
                        if (!(caps[CAPSET_BOUNDING] & (UINT64_C(1) << c)) &&
                            prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
                                return berth_error_set(err, errno,
                                                       "drop capability %d from bounding set", c);
                if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                        return berth_error_set(err, errno, "prctl PR_SET_KEEPCAPS");
        }
        bool userns = spec_namespace(s, CLONE_NEWUSER) != NULL;
        /* crun's annotation: the caller's groups stay (e.g. podman's --group-add keep-groups) */
        const char *keep =
            json_string_value(json_object_get(s->annotations, "run.oci.keep_original_groups"));
        bool keep_groups = keep && !strcmp(keep, "1");
        /* setgroups is refused in a user namespace where it is denied; only call it when needed */
        if (!keep_groups && (p->n_additional_gids || !userns)) {
                if (setgroups(p->n_additional_gids, p->additional_gids) < 0)
                        return berth_error_set(err, errno, "setgroups");
        }
        if (setresgid(p->gid, p->gid, p->gid) < 0)
                return berth_error_set(err, errno, "setgid %u", p->gid);
        if (setresuid(p->uid, p->uid, p->uid) < 0)
                return berth_error_set(err, errno, "setuid %u", p->uid);
        if (!p->has_caps)
                return 0;
        if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
                return berth_error_set(err, errno, "prctl PR_SET_KEEPCAPS");
        if (capset_raw(caps[CAPSET_EFFECTIVE], caps[CAPSET_PERMITTED], caps[CAPSET_INHERITABLE]) <
            0)
                return berth_error_set(err, errno, "capset");
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return berth_error_set(err, errno, "clear ambient capabilities");
        for (int c = 0; c <= spec_cap_last(); c++) {
                if (!(caps[CAPSET_AMBIENT] & (UINT64_C(1) << c)))
                        continue;
                /* the kernel only raises an ambient cap that is permitted and inheritable */
                if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
                        berth_debug("ambient capability %s not raised: %s", spec_cap_name(c),
                                    strerror(errno));
        }
        return 0;
}

/* HOME as runc and crun set it unless the env has a non-empty one: the home of the first entry
 * for the process's uid in the container's /etc/passwd, "/" without one. Read in the container
 * (after its mounts, before the identity switch) below its root with RESOLVE_IN_ROOT by berth's
 * own parser, never NSS (CVE-2019-14271); an unreadable file counts as missing, as in runc. */
static void set_home(struct spec_process *p)
{
        const char *cur = NULL;
        for (size_t i = 0; p->env && p->env[i]; i++)
                if (!strncmp(p->env[i], "HOME=", 5))
                        cur = p->env[i] + 5;
        if (cur && *cur)
                return;
        _cleanup_free_ char *text = NULL, *home = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        size_t len = 0;
        _cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root < 0 || berth_passwd_read_at(root, "/etc/passwd", &text, &len, &e) < 0)
                berth_debug("HOME: /etc/passwd: %s", e ? e->msg : strerror(errno));
        struct berth_passwd_ent *pw = NULL;
        size_t n = 0;
        berth_passwd_parse(text ? text : "", len, &pw, &n);
        for (size_t i = 0; i < n && !home; i++)
                if (pw[i].uid == p->uid)
                        home = xasprintf("HOME=%s", *pw[i].home ? pw[i].home : "/");
        berth_passwd_free(pw, n);
        char **env = NULL;
        for (size_t i = 0; p->env && p->env[i]; i++)
                if (strncmp(p->env[i], "HOME=", 5))
                        strv_push(&env, p->env[i]);
        strv_push(&env, home ? home : "HOME=/");
        strv_free(p->env);
        p->env = env;
}

/* runc's fixStdioPermissions: stdio made outside the container (the pty slave, the shim's or
 * the caller's pipes and files) is handed to the process's uid, so a non-root process can use
 * its terminal (reopen /dev/tty, chmod it) as with runc. /dev/null and what the uid owns already
 * stay; an owner not mapped here (EINVAL, EPERM) or a read-only /dev (EROFS) is left alone. */
static int chown_stdio(uid_t uid, struct berth_error **err)
{
        struct stat null;
        if (stat("/dev/null", &null) < 0)
                memset(&null, 0, sizeof(null));
        for (int fd = 0; fd < 3; fd++) {
                struct stat st;
                if (fstat(fd, &st) < 0) {
                        if (errno == EBADF)
                                continue;
                        return berth_error_set(err, errno, "stat fd %d", fd);
                }
                if (st.st_uid == uid || (S_ISCHR(st.st_mode) && st.st_rdev == null.st_rdev))
                        continue;
                if (fchown(fd, uid, (gid_t)-1) < 0 && errno != EINVAL && errno != EPERM &&
                    errno != EROFS)
                        return berth_error_set(err, errno, "chown fd %d to uid %u", fd, uid);
        }
        return 0;
}

int process_setup(struct spec *s, const struct secfilter *sec, struct berth_error **err)
{
        struct spec_process *p = &s->process;
        set_home(p);
        if (set_rlimits(p, err) < 0)
                return -EIO;
        if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return berth_error_set(err, errno, "prctl PR_SET_NO_NEW_PRIVS");
        if (!p->no_new_privileges && secfilter_load(sec, err) < 0)
                return -EPERM;
        /* as runc: the cwd is entered before the identity switch (a directory only root may
         * enter still works) and again after it if that failed */
        bool in_cwd = chdir(p->cwd) == 0;
        if (chown_stdio(p->uid, err) < 0 || set_identity(s, err) < 0)
                return -EIO;
        if (!in_cwd && chdir(p->cwd) < 0)
                return berth_error_set(err, errno,
                                       "chdir to cwd (\"%s\") set in config.json failed", p->cwd);
        /* A cwd reached through a leaked host fd would sit outside the root (CVE-2024-21626):
         * the kernel then reports it as unreachable.
         */
        char buf[PATH_MAX];
        if (!getcwd(buf, sizeof(buf)) || buf[0] != '/')
                return berth_error_setx(err, EPERM, "cwd `%s` is outside the container", p->cwd);
        umask(p->umask == SPEC_UNSET ? 022 : (mode_t)p->umask);
        return 0;
}

void process_warn_ambient(const struct spec_process *p)
{
        if (!p->has_caps)
                return;
        uint64_t lost =
            p->caps[CAPSET_AMBIENT] & ~(p->caps[CAPSET_INHERITABLE] & p->caps[CAPSET_PERMITTED]);
        for (int c = 0; c < 64; c++)
                if (lost & (UINT64_C(1) << c))
                        berth_warn("ambient capability %s is not both inheritable and permitted: "
                                   "the kernel will not raise it",
                                   spec_cap_name(c));
}

void process_reset_signals(void)
{
        /* execve resets handled signals but keeps ignored ones: what berthd, a shim or the
         * shell that started the runtime ignores (SIGPIPE, `trap '' INT`) would reach the
         * container, where a shell cannot even trap it. The raw syscall, because glibc's
         * sigaction refuses its internal signals 32 and 33, which its posix_spawn leaves
         * ignored in the child (berthd spawns the shim so). An all-zero kernel sigaction is
         * SIG_DFL, no flags, an empty mask on every architecture. */
        static const unsigned long dfl[8];
        for (int sig = 1; sig < _NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        syscall(SYS_rt_sigaction, sig, dfl, NULL, (size_t)(_NSIG / 8));
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
}

int process_seccomp_last(const struct spec *s, const struct secfilter *sec,
                         struct berth_error **err)
{
        return s->process.no_new_privileges ? secfilter_load(sec, err) : 0;
}

/* Can path be executed? On failure *ret_stat tells whether it was stat() that failed (runc
 * names the stat in its message); a directory or a file without x is EACCES, as runc says. */
static bool is_executable(const char *path, int *ret_errno, bool *ret_stat)
{
        struct stat st;
        *ret_stat = false;
        if (stat(path, &st) < 0) {
                *ret_errno = errno;
                *ret_stat = true;
                return false;
        }
        if (S_ISDIR(st.st_mode) || access(path, X_OK) < 0) {
                *ret_errno = S_ISDIR(st.st_mode) ? EACCES : errno;
                return false;
        }
        return true;
}

int process_find_exec(const struct spec_process *p, char **ret_path, struct berth_error **err)
{
        const char *prog = p->args[0];
        int e = 0;
        bool at_stat = false;
        if (strchr(prog, '/')) {
                if (!is_executable(prog, &e, &at_stat))
                        return at_stat
                                   ? berth_error_set(err, e, "exec: \"%s\": stat %s", prog, prog)
                                   : berth_error_set(err, e, "exec: \"%s\"", prog);
                *ret_path = xstrdup(prog);
                return 0;
        }
        const char *path = DEFAULT_PATH;
        for (size_t i = 0; p->env && p->env[i]; i++)
                if (!strncmp(p->env[i], "PATH=", 5))
                        path = p->env[i] + 5;
        _cleanup_free_ char *copy = xstrdup(path);
        char *save = NULL;
        for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
                _cleanup_free_ char *cand = xasprintf("%s/%s", *dir ? dir : ".", prog);
                if (is_executable(cand, &e, &at_stat)) {
                        *ret_path = TAKE_PTR(cand);
                        return 0;
                }
        }
        return berth_error_setx(err, ENOENT, "exec: \"%s\": executable file not found in $PATH",
                                prog);
}

int process_cloexec_from(unsigned first, struct berth_error **err)
{
        if (syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
                return 0;
        if (errno != ENOSYS && errno != EPERM)
                return berth_error_set(err, errno, "close_range");
        int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return berth_error_set(err, errno,
                                       "close_range is denied and `/proc/self/fd` "
                                       "cannot be read");
        _cleanup_dir_ DIR *d = fdopendir(dfd);
        if (!d) {
                int r = berth_error_set(err, errno, "read `/proc/self/fd`");
                close(dfd);
                return r;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                uint64_t fd;
                if (berth_parse_u64(de->d_name, &fd) < 0 || fd < first || (int)fd == dirfd(d))
                        continue;
                int fl = fcntl((int)fd, F_GETFD);
                if (fl >= 0 && !(fl & FD_CLOEXEC) && fcntl((int)fd, F_SETFD, fl | FD_CLOEXEC) < 0)
                        return berth_error_set(err, errno, "mark fd %d close-on-exec", (int)fd);
        }
        return 0;
}
