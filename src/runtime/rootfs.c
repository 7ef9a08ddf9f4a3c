/* The container's filesystem view, built inside its new mount namespace: rootfs bind, mounts[],
 * /dev, pivot_root, masked and read-only paths.
 *
 * Every target below the rootfs is resolved once with openat2(RESOLVE_IN_ROOT) into an O_PATH fd
 * and mounted through /proc/self/fd/N, so a symlink swapped in by the container image (or by
 * another container sharing a volume) cannot redirect a mount to the host (CVE-2021-30465).
 */
#include "runtime/internal.h"

#include <linux/magic.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

/* "/proc/self/fd/N" for mount(2) to follow to the very inode we resolved. */
struct fdpath {
        char p[32];
};

static struct fdpath fdpath(int fd)
{
        struct fdpath f;
        snprintf(f.p, sizeof(f.p), "/proc/self/fd/%d", fd);
        return f;
}

/* Open (creating when missing) a mount target: a directory, or an empty file when file=true. */
static int open_target(int rootfd, const char *path, bool file, struct berth_error **err)
{
        int fd = berth_open_in_root(rootfd, path, O_PATH);
        if (fd >= 0)
                return fd;
        if (errno != ENOENT)
                return berth_error_set(err, errno, "open mount target `%s` in rootfs", path);
        if (!file)
                return berth_mkdir_in_root(rootfd, path, 0755, err);
        _cleanup_free_ char *dir = xstrdup(path);
        char *slash = strrchr(dir, '/');
        const char *base = slash ? slash + 1 : dir;
        if (slash)
                *slash = '\0';
        _cleanup_close_ int dfd = berth_mkdir_in_root(rootfd, slash && *dir ? dir : "/", 0755, err);
        if (dfd < 0)
                return dfd;
        _cleanup_close_ int wfd = -1;
        {
                /* the parent fd is O_PATH: reopen it as a real directory to create in it */
                struct fdpath dp = fdpath(dfd);
                _cleanup_close_ int real = open(dp.p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (real < 0)
                        return berth_error_set(err, errno, "open `%s` in rootfs", dir);
                wfd =
                    openat(real, base, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
                if (wfd < 0 && errno != EEXIST)
                        return berth_error_set(err, errno, "create mount target `%s`", path);
        }
        fd = berth_open_in_root(rootfd, path, O_PATH);
        if (fd < 0)
                return berth_error_set(err, errno, "open mount target `%s` in rootfs", path);
        return fd;
}

static unsigned long statfs_mount_flags(int fd)
{
        struct statvfs sv;
        if (fstatvfs(fd, &sv) < 0)
                return 0;
        unsigned long f = 0;
        if (sv.f_flag & ST_NOSUID)
                f |= MS_NOSUID;
        if (sv.f_flag & ST_NODEV)
                f |= MS_NODEV;
        if (sv.f_flag & ST_NOEXEC)
                f |= MS_NOEXEC;
        if (sv.f_flag & ST_NOATIME)
                f |= MS_NOATIME;
        if (sv.f_flag & ST_NODIRATIME)
                f |= MS_NODIRATIME;
        if (sv.f_flag & ST_RELATIME)
                f |= MS_RELATIME;
        if (sv.f_flag & ST_RDONLY)
                f |= MS_RDONLY;
        return f;
}

/* Remount a bind mount with flags; in a user namespace the kernel refuses to drop locked flags
 * (nosuid, nodev, noexec, atime) inherited from the source, so retry keeping them.
 */
static int remount_bind(const char *target, int fd, unsigned long flags, struct berth_error **err)
{
        unsigned long base = MS_BIND | MS_REMOUNT;
        if (mount(NULL, target, NULL, base | flags, NULL) == 0)
                return 0;
        if (errno == EPERM) {
                unsigned long keep = statfs_mount_flags(fd) & ~MS_RDONLY;
                if (mount(NULL, target, NULL, base | flags | keep, NULL) == 0)
                        return 0;
        }
        return -errno;
}

static const char *mount_type(const struct spec_mount *m)
{
        return m->type ? m->type : "bind";
}

/* The sub-path of the cgroup the runtime itself is in for a v1 hierarchy (from
 * /proc/self/cgroup lines "N:<controllers>:/path"); "" when unknown.
 */
static char *own_cgroup(const char *self, const char *name)
{
        _cleanup_free_ char *copy = xstrdup(self);
        char *save = NULL;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *c1 = strchr(line, ':');
                char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2)
                        continue;
                *c2 = '\0';
                /* the hierarchy's dir is named after all its controllers: "cpu,cpuacct" */
                if (!strcmp(c1 + 1, name))
                        return xstrdup(c2 + 1);
                char *s2 = NULL;
                for (char *t = strtok_r(c1 + 1, ",", &s2); t; t = strtok_r(NULL, ",", &s2))
                        if (!strcmp(t, name) || (!strncmp(t, "name=", 5) && !strcmp(t + 5, name)))
                                return xstrdup(c2 + 1);
        }
        return xstrdup("");
}

/* Is name one of the hierarchies the container has its own dir in? A co-mounted hierarchy
 * ("cpu,cpuacct") is when one of its controllers is. */
static bool own_hierarchy(const struct cgroup *cg, const char *name)
{
        if (!cg)
                return false;
        if (!strcmp(name, "unified"))
                return cg->unified_fd >= 0;
        _cleanup_free_ char *copy = xstrdup(name);
        char *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
                for (int k = 0; k < CG1_COUNT; k++)
                        if ((cg->v1_mask & (1u << k)) && !strcmp(cgroup_v1_name(k), t))
                                return true;
        return false;
}

/* /sys/fs/cgroup for cgroup v1 or hybrid hosts: a tmpfs holding a bind of the container's
 * directory in each hierarchy. On pure v1 the container has a dir in every hierarchy (named
 * ones like name=systemd show the runtime's own cgroup). On hybrid hosts it shows the
 * hierarchies the container has a cgroup in: the cgroup2 one and every v1 controller; named
 * hierarchies would only show the runtime's own cgroups and are left out.
 */
static int mount_cgroup_v1(const struct rootfs_ctx *c, const struct spec_mount *m, int rootfd,
                           int tfd, enum cgroup_mode mode, struct berth_error **err)
{
        struct fdpath tp = fdpath(tfd);
        unsigned long common = m->flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME);
        if (mount("tmpfs", tp.p, "tmpfs", common, "mode=755") < 0)
                return berth_error_set(err, errno, "mount tmpfs on `%s`", m->destination);
        /* tfd names the covered directory: resolve the path again to reach the new tmpfs */
        _cleanup_close_ int cgdir =
            berth_open_in_root(rootfd, m->destination, O_RDONLY | O_DIRECTORY);
        if (cgdir < 0)
                return berth_error_set(err, errno, "open `%s`", m->destination);
        _cleanup_free_ char *self = NULL;
        _cleanup_dir_ DIR *d = opendir("/sys/fs/cgroup");
        if (!d)
                return berth_error_set(err, errno, "open `/sys/fs/cgroup`");
        struct dirent *de;
        while ((de = readdir(d))) {
                const char *name = de->d_name;
                if (name[0] == '.')
                        continue;
                if (de->d_type == DT_LNK) {
                        /* co-mounted controllers: "cpu -> cpu,cpuacct" */
                        char link[256];
                        ssize_t n = readlinkat(dirfd(d), name, link, sizeof(link) - 1);
                        if (n <= 0)
                                continue;
                        link[n] = '\0';
                        if (mode == CGROUP_MODE_HYBRID && !own_hierarchy(c->cgroup, name))
                                continue;
                        if (symlinkat(link, cgdir, name) < 0 && errno != EEXIST)
                                return berth_error_set(err, errno, "symlink cgroup `%s`", name);
                        continue;
                }
                if (de->d_type != DT_DIR)
                        continue;
                _cleanup_free_ char *other = NULL;
                const char *sub;
                if (own_hierarchy(c->cgroup, name)) {
                        sub = c->cgroup->path;
                } else if (mode == CGROUP_MODE_HYBRID) {
                        continue;
                } else {
                        if (!self && berth_read_file_at(AT_FDCWD, "/proc/self/cgroup", 1 << 16,
                                                        &self, NULL, err) < 0)
                                return -EIO;
                        sub = other = own_cgroup(self, name);
                }
                while (*sub == '/')
                        sub++;
                _cleanup_free_ char *src = xasprintf("/sys/fs/cgroup/%s/%s", name, sub);
                if (mkdirat(cgdir, name, 0755) < 0 && errno != EEXIST)
                        return berth_error_set(err, errno, "mkdir cgroup `%s`", name);
                /* cgdir is our fresh tmpfs: a plain name below it cannot be a planted symlink */
                _cleanup_free_ char *dst = xasprintf("%s/%s", fdpath(cgdir).p, name);
                if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
                        return berth_error_set(err, errno, "bind cgroup `%s`", src);
        }
        /* one call makes the tmpfs and every hierarchy below it read-only */
        struct mount_attr attr = {.attr_set =
                                      MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC};
        if (m->flags & MS_RDONLY)
                attr.attr_set |= MOUNT_ATTR_RDONLY;
        if (syscall(SYS_mount_setattr, cgdir, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
                    sizeof(attr)) < 0)
                return berth_error_set(err, errno, "make `%s` read-only", m->destination);
        return 0;
}

static int mount_cgroup(const struct rootfs_ctx *c, const struct spec_mount *m, int rootfd, int tfd,
                        struct berth_error **err)
{
        enum cgroup_mode mode;
        if (cgroup_detect_mode(&mode, err) < 0)
                return -EIO;
        if (mode != CGROUP_MODE_V2)
                return mount_cgroup_v1(c, m, rootfd, tfd, mode, err);
        struct fdpath tp = fdpath(tfd);
        unsigned long flags = m->flags & ~MS_REMOUNT;
        if (c->new_cgroupns || !c->cgroup) {
                if (mount("cgroup2", tp.p, "cgroup2", flags, NULL) < 0)
                        return berth_error_set(err, errno, "mount cgroup2 on `%s`", m->destination);
                return 0;
        }
        _cleanup_free_ char *src = xasprintf("/sys/fs/cgroup/%s", c->cgroup->path);
        if (mount(src, tp.p, NULL, MS_BIND | MS_REC, NULL) < 0)
                return berth_error_set(err, errno, "bind `%s`", src);
        _cleanup_close_ int nfd = berth_open_in_root(rootfd, m->destination, O_PATH);
        if (nfd < 0)
                return berth_error_set(err, errno, "reopen `%s`", m->destination);
        int r = remount_bind(fdpath(nfd).p, nfd, flags & ~MS_BIND, err);
        if (r < 0)
                return berth_error_set(err, -r, "remount `%s`", m->destination);
        return 0;
}

static bool is_dev_ro(const struct spec_mount *m)
{
        return !m->bind && !strcmp(m->destination, "/dev") && (m->flags & MS_RDONLY);
}

static int do_mount(const struct rootfs_ctx *c, int rootfd, const struct spec_mount *m,
                    int given_srcfd, struct berth_error **err)
{
        const char *type = mount_type(m);
        bool is_file = false;
        _cleanup_close_ int srcfd = -1;
        if (m->bind) {
                /* the source as this process sees it now, with the container's earlier mounts
                 * (a source may be one of them); the runtime's clone only where the user
                 * namespace may not reach it */
                srcfd = open(m->source, O_PATH | O_CLOEXEC);
                if (srcfd >= 0 || (errno != EACCES && errno != EPERM) || given_srcfd < 0)
                        given_srcfd = -1;
                else
                        srcfd = fcntl(given_srcfd, F_DUPFD_CLOEXEC, 3);
                if (srcfd < 0)
                        return berth_error_set(err, errno, "bind mount source `%s`", m->source);
                struct stat st;
                if (fstat(srcfd, &st) < 0)
                        return berth_error_set(err, errno, "stat `%s`", m->source);
                is_file = !S_ISDIR(st.st_mode);
        }
        /* Refuse to put anything but procfs at or under /proc: a volume or a bound file there
         * could redirect the runtime's later procfs writes (sysctl, masks) to another file
         * (CVE-2019-16884, CVE-2023-27561, CVE-2025-52881). A bind is allowed only when its
         * source really is on procfs. */
        const char *d = m->destination;
        bool under_proc = !strncmp(d, "/proc", 5) && (d[5] == '/' || !d[5]);
        if (under_proc && strcmp(type, "proc")) {
                struct statfs sfs;
                if (!m->bind || fstatfs(srcfd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)
                        return berth_error_setx(
                            err, EPERM, "mount `%s`: only procfs may be mounted at or under /proc",
                            d);
        }
        _cleanup_close_ int tfd = -1;
        if (!m->bind && (!strcmp(type, "proc") || !strcmp(type, "sysfs"))) {
                /* a symlinked /proc or /sys in the image could aim procfs writes elsewhere */
                tfd = berth_openat2(rootfd, d + 1, O_PATH, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
                if (tfd < 0 && errno == ELOOP)
                        return berth_error_setx(err, ELOOP,
                                                "mount %s on `%s`: the rootfs has a "
                                                "symlink there",
                                                type, d);
        }
        if (tfd < 0)
                tfd = open_target(rootfd, d, is_file, err);
        if (tfd < 0)
                return tfd;
        if (!m->bind && !strcmp(type, "proc")) {
                struct stat st;
                if (fstat(tfd, &st) < 0 || !S_ISDIR(st.st_mode))
                        return berth_error_setx(err, ENOTDIR, "mount proc on `%s`: not a directory",
                                                d);
        }
        struct fdpath tp = fdpath(tfd);
        if (!strcmp(type, "cgroup") || !strcmp(type, "cgroup2")) {
                if (mount_cgroup(c, m, rootfd, tfd, err) < 0)
                        return berth_error_wrap(err, "mount `%s`", d);
                return 0;
        }
        if (m->bind) {
                struct fdpath sp = fdpath(srcfd);
                int mr = given_srcfd >= 0
                             ? (int)syscall(SYS_move_mount, srcfd, "", tfd, "",
                                            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)
                             : mount(sp.p, tp.p, NULL, MS_BIND | (m->recursive ? MS_REC : 0), NULL);
                if (mr < 0)
                        return berth_error_set(err, errno, "bind mount `%s` on `%s`", m->source, d);
                /* the target fd still names the covered inode: reopen the new mount, through
                 * the image's symlink when the destination was one (the mount sits where it
                 * points, inside the root) */
                _cleanup_close_ int nfd = berth_open_in_root(rootfd, d, O_PATH);
                if (nfd < 0)
                        return berth_error_set(err, errno, "reopen `%s`", d);
                struct fdpath np = fdpath(nfd);
                unsigned long want = m->flags & ~(MS_REMOUNT | MS_BIND | MS_REC);
                if (want) {
                        int r = remount_bind(np.p, nfd, want, err);
                        if (r < 0)
                                return berth_error_set(err, -r, "remount `%s`", d);
                }
                if (m->rro && syscall(SYS_mount_setattr, nfd, "", AT_EMPTY_PATH | AT_RECURSIVE,
                                      &(struct mount_attr){.attr_set = MOUNT_ATTR_RDONLY},
                                      sizeof(struct mount_attr)) < 0)
                        return berth_error_set(err, errno, "make `%s` recursively read-only", d);
                if (m->propagation && mount(NULL, np.p, NULL, m->propagation, NULL) < 0)
                        return berth_error_set(err, errno, "set propagation of `%s`", d);
                return 0;
        }
        if (!strcmp(type, "sysfs") && c->userns && !c->new_netns) {
                /* a user namespace may only mount sysfs for a network namespace it owns */
                if (mount("/sys", tp.p, NULL, MS_BIND | MS_REC, NULL) < 0)
                        return berth_error_set(err, errno, "bind `/sys` on `%s`", d);
                return 0;
        }
        const char *src = m->source ? m->source : type;
        unsigned long flags = m->flags & ~MS_REMOUNT;
        /* a read-only /dev still gets its nodes and mount points: rootfs_finalize makes it
         * read-only afterwards (runc) */
        if (is_dev_ro(m))
                flags &= ~MS_RDONLY;
        if (mount(src, tp.p, type, flags, m->data) < 0)
                return berth_error_set(err, errno, "mount %s on `%s`", type, d);
        if (m->propagation) {
                _cleanup_close_ int nfd = berth_open_in_root(rootfd, d, O_PATH);
                struct fdpath np = fdpath(nfd);
                if (nfd < 0 || mount(NULL, np.p, NULL, m->propagation, NULL) < 0)
                        return berth_error_set(err, errno, "set propagation of `%s`", d);
        }
        return 0;
}

static const struct {
        const char *name;
        unsigned maj, min;
} default_devices[] = {
    {"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
    {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

/* Create a device node in dirfd; in a user namespace mknod is refused, so bind the host's node
 * instead. */
static int make_device(const struct rootfs_ctx *c, int dirfd, const char *name, const char *host,
                       char type, unsigned maj, unsigned min, mode_t perm, uid_t uid, gid_t gid,
                       struct berth_error **err)
{
        mode_t kind = type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;
        if (!c->userns) {
                int r = mknodat(dirfd, name, kind | perm, makedev(maj, min));
                if (r < 0 && errno == EEXIST && unlinkat(dirfd, name, 0) == 0)
                        r = mknodat(dirfd, name, kind | perm, makedev(maj, min));
                if (r < 0)
                        return berth_error_set(err, errno, "mknod `%s`", host);
                if ((uid || gid) && fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                        return berth_error_set(err, errno, "chown `%s`", host);
                return 0;
        }
        _cleanup_close_ int f = openat(dirfd, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0);
        if (f < 0)
                return berth_error_set(err, errno, "create `%s`", host);
        struct fdpath tp = fdpath(f);
        if (mount(host, tp.p, NULL, MS_BIND, NULL) < 0)
                return berth_error_set(err, errno, "bind device `%s`", host);
        return 0;
}

/* A writable fd of the directory holding path inside the root (created when missing). */
static int open_parent_dir(int rootfd, const char *path, const char **ret_base,
                           struct berth_error **err)
{
        _cleanup_free_ char *dir = xstrdup(path);
        char *slash = strrchr(dir, '/');
        *ret_base = strrchr(path, '/') + 1;
        slash[slash == dir ? 1 : 0] = '\0';
        _cleanup_close_ int dpath = berth_mkdir_in_root(rootfd, dir, 0755, err);
        if (dpath < 0)
                return dpath;
        int dfd = open(fdpath(dpath).p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return berth_error_set(err, errno, "open `%s` in rootfs", dir);
        return dfd;
}

static int setup_dev(const struct rootfs_ctx *c, int rootfd, bool devpts, struct berth_error **err)
{
        const struct spec *s = c->spec;
        bool dev_is_tmpfs = false;
        for (size_t i = 0; i < s->n_mounts; i++)
                if (!strcmp(s->mounts[i].destination, "/dev") && !s->mounts[i].bind)
                        dev_is_tmpfs = true;
        if (dev_is_tmpfs) {
                const char *base;
                _cleanup_close_ int dfd = open_parent_dir(rootfd, "/dev/null", &base, err);
                if (dfd < 0)
                        return dfd;
                for (size_t i = 0; i < ARRAY_SIZE(default_devices); i++) {
                        char host[32];
                        snprintf(host, sizeof(host), "/dev/%s", default_devices[i].name);
                        if (make_device(c, dfd, default_devices[i].name, host, 'c',
                                        default_devices[i].maj, default_devices[i].min, 0666, 0, 0,
                                        err) < 0)
                                return -EIO;
                }
                static const char *const links[][2] = {
                    {"/proc/self/fd", "fd"},
                    {"/proc/self/fd/0", "stdin"},
                    {"/proc/self/fd/1", "stdout"},
                    {"/proc/self/fd/2", "stderr"},
                };
                for (size_t i = 0; i < ARRAY_SIZE(links); i++)
                        if (symlinkat(links[i][0], dfd, links[i][1]) < 0 && errno != EEXIST)
                                return berth_error_set(err, errno, "symlink `/dev/%s`",
                                                       links[i][1]);
                if (devpts && symlinkat("pts/ptmx", dfd, "ptmx") < 0 && errno != EEXIST)
                        return berth_error_set(err, errno, "symlink `/dev/ptmx`");
        }
        for (size_t i = 0; i < s->n_devices; i++) {
                const struct spec_device *d = &s->devices[i];
                const char *base;
                _cleanup_close_ int dfd = open_parent_dir(rootfd, d->path, &base, err);
                if (dfd < 0 || make_device(c, dfd, base, d->path, d->type == 'u' ? 'c' : d->type,
                                           (unsigned)(d->major < 0 ? 0 : d->major),
                                           (unsigned)(d->minor < 0 ? 0 : d->minor), d->mode & 07777,
                                           d->uid, d->gid, err) < 0)
                        return berth_error_wrap(err, "linux.devices `%s`", d->path);
        }
        return 0;
}

int rootfs_setup(const struct rootfs_ctx *c, int *ret_rootfd, struct berth_error **err)
{
        const struct spec *s = c->spec;
        /* the copy of the host's mounts becomes a slave first, whatever the spec asks: nothing
         * mounted in here may propagate back, and pivot_root refuses a shared parent.
         * rootfsPropagation is applied to the container's / after pivot_root. */
        if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
                return berth_error_set(err, errno, "set propagation of `/`");
        if (mount(s->root_path, s->root_path, NULL, MS_BIND | MS_REC, NULL) < 0)
                return berth_error_set(err, errno, "bind rootfs `%s`", s->root_path);
        _cleanup_close_ int rootfd = open(s->root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return berth_error_set(err, errno, "open rootfs `%s`", s->root_path);
        bool devpts = false;
        for (size_t i = 0; i < s->n_mounts; i++) {
                if (do_mount(c, rootfd, &s->mounts[i], c->bind_fds ? c->bind_fds[i] : -1, err) < 0)
                        return -EIO;
                if (s->mounts[i].type && !strcmp(s->mounts[i].type, "devpts") &&
                    !strcmp(s->mounts[i].destination, "/dev/pts"))
                        devpts = true;
        }
        if (setup_dev(c, rootfd, devpts, err) < 0)
                return -EIO;
        /* a missing cwd is created now, as root and before the rootfs may turn read-only */
        int cwd = berth_mkdir_in_root(rootfd, s->process.cwd, 0755, err);
        if (cwd < 0)
                return berth_error_wrap(err, "create cwd");
        close(cwd);
        *ret_rootfd = TAKE_FD(rootfd);
        return 0;
}

/* A mountinfo field with its octal escapes (\040 for a space, ...) undone, in place. */
static void mountinfo_unescape(char *s)
{
        char *w = s;
        for (char *r = s; *r; r++) {
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
                    r[3] >= '0' && r[3] <= '7') {
                        *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
                        r += 3;
                } else {
                        *w++ = *r;
                }
        }
        *w = '\0';
}

/* --no-pivot (runc's msMoveRoot): after the move and chroot the host's procfs and sysfs mounts
 * stay in this mount namespace, out of reach but "fully visible" to the kernel, which then lets a
 * user namespace made inside the container mount a fresh, unmasked procfs or sysfs. Unmount each
 * one outside the rootfs (those a user namespace locked cannot go: see below). */
static int hide_host_proc_sys(int rootfd, struct berth_error **err)
{
        char root[PATH_MAX];
        ssize_t n = readlink(fdpath(rootfd).p, root, sizeof(root) - 1);
        if (n < 0)
                return berth_error_set(err, errno, "read the rootfs path");
        root[n] = '\0';
        size_t rl = strlen(root);
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return berth_error_set(err, errno, "open `/proc/self/mountinfo`");
        _cleanup_strv_ char **targets = NULL;
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, f) > 0) {
                /* id parent major:minor root mountpoint options [optional...] - fstype ... */
                char *save = NULL, *mp = NULL, *fstype = NULL, *sep = strstr(line, " - ");
                if (!sep)
                        continue;
                strtok_r(line, " ", &save);
                for (int i = 0; i < 3; i++)
                        strtok_r(NULL, " ", &save);
                mp = strtok_r(NULL, " ", &save);
                fstype = strtok_r(sep + 3, " ", &save);
                if (!mp || !fstype || (strcmp(fstype, "proc") != 0 && strcmp(fstype, "sysfs") != 0))
                        continue;
                mountinfo_unescape(mp);
                if (strncmp(mp, root, rl) == 0 && (mp[rl] == '\0' || mp[rl] == '/' || rl == 1))
                        continue;
                strv_push(&targets, mp);
        }
        /* the deepest first */
        for (size_t i = strv_length(targets); i-- > 0;) {
                const char *p = targets[i];
                if (mount(NULL, p, NULL, MS_SLAVE | MS_REC, NULL) < 0) {
                        if (errno == ENOENT)
                                continue;
                        return berth_error_set(err, errno, "make `%s` slave", p);
                }
                /* a mount locked by a user namespace stays: the kernel counts only locked
                 * mounts above it, so no cover made here would hide it (runc covers it anyway) */
                if (umount2(p, MNT_DETACH) < 0 && errno != EINVAL && errno != EPERM)
                        return berth_error_set(err, errno, "unmount the host's `%s`", p);
        }
        return 0;
}

int rootfs_pivot(const struct rootfs_ctx *c, int rootfd, struct berth_error **err)
{
        if (fchdir(rootfd) < 0)
                return berth_error_set(err, errno, "chdir rootfs");
        /* pivot_root refuses a root that lives on the initramfs (EINVAL): that is the one place
         * where moving the rootfs over / and chroot is the only way */
        bool pivot = !c->no_pivot;
        if (pivot && syscall(SYS_pivot_root, ".", ".") < 0) {
                if (errno != EINVAL)
                        return berth_error_set(err, errno, "pivot_root");
                berth_debug("pivot_root: invalid argument; falling back to MS_MOVE and chroot");
                pivot = false;
        }
        if (!pivot) {
                int r = hide_host_proc_sys(rootfd, err);
                if (r < 0)
                        return r;
                if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
                        return berth_error_set(err, errno, "move rootfs to `/`");
                if (chroot(".") < 0)
                        return berth_error_set(err, errno, "chroot");
                if (chdir("/") < 0)
                        return berth_error_set(err, errno, "chdir `/`");
                return 0;
        }
        /* pivot_root(".", ".") stacked the old root on top of the new one; detaching it needs
         * no directory inside the container for it.
         */
        if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
                return berth_error_set(err, errno, "make old root slave");
        if (umount2(".", MNT_DETACH) < 0)
                return berth_error_set(err, errno, "detach old root");
        if (chdir("/") < 0)
                return berth_error_set(err, errno, "chdir `/`");
        if (c->spec->rootfs_propagation &&
            mount(NULL, "/", NULL, c->spec->rootfs_propagation, NULL) < 0)
                return berth_error_set(err, errno, "set rootfs propagation");
        return 0;
}

static int check_procfs(int fd, const char *what, struct berth_error **err)
{
        struct statfs sfs;
        if (fstatfs(fd, &sfs) < 0)
                return berth_error_set(err, errno, "statfs `%s`", what);
        if (sfs.f_type != PROC_SUPER_MAGIC)
                return berth_error_setx(err, EPERM, "`%s` is not on procfs", what);
        return 0;
}

int rootfs_sysctl(const struct spec *s, struct berth_error **err)
{
        if (!s->n_sysctl)
                return 0;
        _cleanup_close_ int sysfd =
            berth_openat2(AT_FDCWD, "/proc/sys", O_PATH | O_DIRECTORY, RESOLVE_NO_SYMLINKS);
        if (sysfd < 0)
                return berth_error_set(err, errno, "open `/proc/sys`");
        if (check_procfs(sysfd, "/proc/sys", err) < 0)
                return -EPERM;
        for (size_t i = 0; i < s->n_sysctl; i++) {
                _cleanup_free_ char *rel = xstrdup(s->sysctl[i].key);
                for (char *p = rel; *p; p++)
                        if (*p == '.')
                                *p = '/';
                _cleanup_close_ int fd =
                    berth_openat2(sysfd, rel, O_WRONLY | O_TRUNC,
                                  RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV);
                if (fd < 0)
                        return berth_error_set(err, errno, "sysctl `%s`", s->sysctl[i].key);
                const char *v = s->sysctl[i].value;
                if (check_procfs(fd, s->sysctl[i].key, err) < 0)
                        return -EPERM;
                if (write(fd, v, strlen(v)) != (ssize_t)strlen(v))
                        return berth_error_set(err, errno, "sysctl `%s` = `%s`", s->sysctl[i].key,
                                               v);
        }
        return 0;
}

/* Open /dev/null as the source of masks and make sure it is the real 1:3 node, not a symlink or
 * a file planted by the image (CVE-2025-31133).
 */
static int open_dev_null(struct berth_error **err)
{
        int fd = berth_openat2(AT_FDCWD, "/dev/null", O_PATH, RESOLVE_NO_SYMLINKS);
        if (fd < 0)
                return berth_error_set(err, errno, "open `/dev/null`");
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
                close(fd);
                return berth_error_setx(err, EPERM, "`/dev/null` is not the null device");
        }
        return fd;
}

static int mask_path(const char *path, int *nullfd, struct berth_error **err)
{
        _cleanup_close_ int fd = berth_openat2(AT_FDCWD, path, O_PATH | O_NOFOLLOW,
                                               RESOLVE_NO_MAGICLINKS | RESOLVE_IN_ROOT);
        if (fd < 0) {
                if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
                        return 0;
                return berth_error_set(err, errno, "masked path `%s`", path);
        }
        struct stat st;
        if (fstat(fd, &st) < 0)
                return berth_error_set(err, errno, "stat `%s`", path);
        struct fdpath tp = fdpath(fd);
        if (S_ISDIR(st.st_mode)) {
                if (mount("tmpfs", tp.p, "tmpfs", MS_RDONLY, "size=0,nr_inodes=1") < 0)
                        return berth_error_set(err, errno, "mask `%s`", path);
                return 0;
        }
        if (*nullfd < 0) {
                *nullfd = open_dev_null(err);
                if (*nullfd < 0)
                        return *nullfd;
        }
        struct fdpath np = fdpath(*nullfd);
        if (mount(np.p, tp.p, NULL, MS_BIND, NULL) < 0)
                return berth_error_set(err, errno, "mask `%s`", path);
        return 0;
}

static int readonly_path(const char *path, struct berth_error **err)
{
        _cleanup_close_ int fd = berth_openat2(AT_FDCWD, path, O_PATH | O_NOFOLLOW,
                                               RESOLVE_NO_MAGICLINKS | RESOLVE_IN_ROOT);
        if (fd < 0) {
                if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
                        return 0;
                return berth_error_set(err, errno, "readonly path `%s`", path);
        }
        struct fdpath tp = fdpath(fd);
        if (mount(tp.p, tp.p, NULL, MS_BIND | MS_REC, NULL) < 0)
                return berth_error_set(err, errno, "bind `%s`", path);
        _cleanup_close_ int nfd = berth_openat2(AT_FDCWD, path, O_PATH | O_NOFOLLOW,
                                                RESOLVE_NO_MAGICLINKS | RESOLVE_IN_ROOT);
        if (nfd < 0)
                return berth_error_set(err, errno, "reopen `%s`", path);
        struct fdpath np = fdpath(nfd);
        int r = remount_bind(np.p, nfd, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, err);
        if (r < 0)
                return berth_error_set(err, -r, "make `%s` read-only", path);
        return 0;
}

int rootfs_finalize(const struct rootfs_ctx *c, struct berth_error **err)
{
        const struct spec *s = c->spec;
        _cleanup_close_ int nullfd = -1;
        for (size_t i = 0; s->masked_paths && s->masked_paths[i]; i++)
                if (mask_path(s->masked_paths[i], &nullfd, err) < 0)
                        return -EIO;
        for (size_t i = 0; s->readonly_paths && s->readonly_paths[i]; i++)
                if (readonly_path(s->readonly_paths[i], err) < 0)
                        return -EIO;
        for (size_t i = 0; i < s->n_mounts; i++) {
                if (!is_dev_ro(&s->mounts[i]))
                        continue;
                _cleanup_close_ int dfd =
                    open("/dev", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                int r =
                    dfd < 0
                        ? -errno
                        : remount_bind("/dev", dfd,
                                       s->mounts[i].flags & ~(MS_REMOUNT | MS_BIND | MS_REC), err);
                if (r < 0)
                        return berth_error_set(err, -r, "make `/dev` read-only");
        }
        if (s->root_readonly) {
                _cleanup_close_ int rfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
                int r = remount_bind("/", rfd, MS_RDONLY, err);
                if (r < 0)
                        return berth_error_set(err, -r, "make rootfs read-only");
        }
        return 0;
}
