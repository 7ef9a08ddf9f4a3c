/* The last steps in the container before exec: rlimits, identity, capabilities, cwd, and the
 * lookup of the program to run.
 */
#include "runtime/internal.h"

#include <grp.h>
#include <sched.h>
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
        /* setgroups is refused in a user namespace where it is denied; only call it when needed */
        if (p->n_additional_gids || !userns) {
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

int process_setup(const struct spec *s, const struct secfilter *sec, struct berth_error **err)
{
        const struct spec_process *p = &s->process;
        if (set_rlimits(p, err) < 0)
                return -EIO;
        if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return berth_error_set(err, errno, "prctl PR_SET_NO_NEW_PRIVS");
        if (!p->no_new_privileges && secfilter_load(sec, err) < 0)
                return -EPERM;
        if (set_identity(s, err) < 0)
                return -EIO;
        if (chdir(p->cwd) < 0)
                return berth_error_set(err, errno, "chdir to cwd `%s`", p->cwd);
        /* A cwd reached through a leaked host fd would sit outside the root (CVE-2024-21626):
         * the kernel then reports it as unreachable.
         */
        char buf[PATH_MAX];
        if (!getcwd(buf, sizeof(buf)) || buf[0] != '/')
                return berth_error_setx(err, EPERM, "cwd `%s` is outside the container", p->cwd);
        umask(p->umask == SPEC_UNSET ? 022 : (mode_t)p->umask);
        return 0;
}

int process_seccomp_last(const struct spec *s, const struct secfilter *sec,
                         struct berth_error **err)
{
        return s->process.no_new_privileges ? secfilter_load(sec, err) : 0;
}

static bool is_executable(const char *path, int *ret_errno)
{
        struct stat st;
        if (stat(path, &st) < 0) {
                *ret_errno = errno;
                return false;
        }
        if (S_ISDIR(st.st_mode)) {
                *ret_errno = EISDIR;
                return false;
        }
        if (access(path, X_OK) < 0) {
                *ret_errno = errno;
                return false;
        }
        return true;
}

int process_find_exec(const struct spec_process *p, char **ret_path, struct berth_error **err)
{
        const char *prog = p->args[0];
        int e = 0;
        if (strchr(prog, '/')) {
                if (!is_executable(prog, &e))
                        return berth_error_set(err, e, "exec: \"%s\"", prog);
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
                if (is_executable(cand, &e)) {
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
