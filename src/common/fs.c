/* File helpers: whole-file reads and writes, atomic replace, mkdir -p, rm -rf. */
#include "common/common.h"

#include <linux/openat2.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

static int write_all(int fd, const void *buf, size_t len, bool sock)
{
        const char *p = buf;

        while (len > 0) {
                ssize_t n = sock ? send(fd, p, len, MSG_NOSIGNAL) : write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0) {
                        errno = EIO;
                        return -EIO;
                }
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int berth_write_all(int fd, const void *buf, size_t len)
{
        return write_all(fd, buf, len, false);
}

int berth_send_all(int fd, const void *buf, size_t len)
{
        return write_all(fd, buf, len, true);
}

bool berth_sock_wait_drained(int fd, int timeout_ms)
{
        for (int waited = 0;; waited++) {
                int queued = 0;
                if (ioctl(fd, SIOCOUTQ, &queued) < 0 || queued <= 0)
                        return true;
                if (waited >= timeout_ms)
                        return false;
                struct timespec ms = {0, 1000000};
                nanosleep(&ms, NULL);
        }
}

int berth_write_file_at(int dirfd, const char *path, const void *data, size_t len, int flags,
                        struct berth_error **err)
{
        _cleanup_close_ int fd = openat(dirfd, path, flags | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0)
                return berth_error_set(err, errno, "open `%s`", path);
        const char *p = data;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return berth_error_set(err, errno, "write `%s`", path);
                }
                if (n == 0)
                        return berth_error_setx(err, EIO, "write `%s`: short write", path);
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

int berth_write_str_at(int dirfd, const char *path, const char *s, struct berth_error **err)
{
        return berth_write_file_at(dirfd, path, s, strlen(s), 0, err);
}

int berth_write_atomic_at(int dirfd, const char *name, const void *data, size_t len,
                          struct berth_error **err)
{
        _cleanup_free_ char *tmp = xasprintf(".%s.tmp%d", name, (int)getpid());
        int r = berth_write_file_at(dirfd, tmp, data, len, O_CREAT | O_TRUNC, err);
        if (r < 0) {
                unlinkat(dirfd, tmp, 0);
                return r;
        }
        if (renameat(dirfd, tmp, dirfd, name) < 0) {
                r = berth_error_set(err, errno, "rename `%s`", name);
                unlinkat(dirfd, tmp, 0);
                return r;
        }
        return 0;
}

int berth_read_file_at(int dirfd, const char *path, size_t max, char **ret_data, size_t *ret_len,
                       struct berth_error **err)
{
        _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return berth_error_set(err, errno, "open `%s`", path);
        /* one byte beyond max tells a file of exactly max bytes from a bigger one */
        size_t cap = max < 4096 ? max + 1 : 4096, len = 0;
        _cleanup_free_ char *buf = xmalloc(cap + 1);
        for (;;) {
                if (len == cap) {
                        if (cap > max)
                                return berth_error_setx(
                                    err, EFBIG, "read `%s`: larger than %zu bytes", path, max);
                        cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
                        buf = xrealloc(buf, cap + 1);
                }
                ssize_t n = read(fd, buf + len, cap - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return berth_error_set(err, errno, "read `%s`", path);
                }
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        if (len > max)
                return berth_error_setx(err, EFBIG, "read `%s`: larger than %zu bytes", path, max);
        buf[len] = '\0';
        if (ret_len)
                *ret_len = len;
        *ret_data = TAKE_PTR(buf);
        return 0;
}

int berth_mkdir_p(const char *path, mode_t mode, struct berth_error **err)
{
        if (mkdir(path, mode) == 0 || errno == EEXIST)
                return 0;
        if (errno != ENOENT)
                return berth_error_set(err, errno, "mkdir `%s`", path);
        _cleanup_free_ char *copy = xstrdup(path);
        for (char *p = copy + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(copy, mode) < 0 && errno != EEXIST)
                        return berth_error_set(err, errno, "mkdir `%s`", copy);
                *p = '/';
        }
        if (mkdir(copy, mode) < 0 && errno != EEXIST)
                return berth_error_set(err, errno, "mkdir `%s`", copy);
        return 0;
}

int berth_rm_rf_at(int parent, const char *name, struct berth_error **err)
{
        if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
                return 0;
        if (errno != EISDIR && errno != EPERM)
                return berth_error_set(err, errno, "unlink `%s`", name);
        int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return berth_error_set(err, errno, "open `%s`", name);
        _cleanup_dir_ DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return berth_error_set(err, errno, "opendir `%s`", name);
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                int r = berth_rm_rf_at(dirfd(d), de->d_name, err);
                if (r < 0)
                        return r;
        }
        if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return berth_error_set(err, errno, "rmdir `%s`", name);
        return 0;
}

int berth_openat2(int dirfd, const char *path, int flags, uint64_t resolve)
{
        struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .resolve = resolve};
        if (flags & O_CREAT)
                how.mode = 0644;
        return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

int berth_open_in_root(int rootfd, const char *path, int flags)
{
        while (*path == '/')
                path++;
        return berth_openat2(rootfd, *path ? path : ".", flags,
                             RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

/* hops: symlinks followed so far (40, the kernel's ELOOP bound) */
static int mkdir_in_root(int rootfd, const char *path, mode_t mode, int hops,
                         struct berth_error **err)
{
        int fd = berth_open_in_root(rootfd, path, O_PATH | O_DIRECTORY);
        if (fd >= 0)
                return fd;
        if (errno != ENOENT)
                return berth_error_set(err, errno, "open `%s` in root", path);
        _cleanup_free_ char *parent = xstrdup(path);
        size_t n = strlen(parent);
        while (n > 0 && parent[n - 1] == '/')
                parent[--n] = '\0';
        char *slash = strrchr(parent, '/');
        _cleanup_free_ char *name = xstrdup(slash ? slash + 1 : parent);
        if (slash)
                slash[slash == parent ? 1 : 0] = '\0';
        else
                strcpy(parent, "/");
        if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
                return berth_error_setx(err, EINVAL, "invalid path `%s` in root", path);
        _cleanup_close_ int pfd = mkdir_in_root(rootfd, parent, mode, hops, err);
        if (pfd < 0)
                return pfd;
        if (mkdirat(pfd, name, mode) < 0 && errno != EEXIST)
                return berth_error_set(err, errno, "mkdir `%s` in root", path);
        fd = openat(pfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0 || errno != ENOTDIR)
                return fd >= 0 ? fd : berth_error_set(err, errno, "open `%s` in root", path);
        /* a dangling symlink in the way: make the directory it names, still inside the root
         * (runc's MkdirAllInRoot); the link itself is never written through */
        char target[PATH_MAX];
        ssize_t tl = readlinkat(pfd, name, target, sizeof(target) - 1);
        if (tl <= 0)
                return berth_error_setx(err, ENOTDIR, "open `%s` in root: not a directory", path);
        if (++hops > 40)
                return berth_error_setx(err, ELOOP, "open `%s` in root: too many symlinks", path);
        target[tl] = '\0';
        _cleanup_free_ char *next =
            target[0] == '/' ? xstrdup(target) : xasprintf("%s/%s", parent, target);
        return mkdir_in_root(rootfd, next, mode, hops, err);
}

int berth_mkdir_in_root(int rootfd, const char *path, mode_t mode, struct berth_error **err)
{
        return mkdir_in_root(rootfd, path, mode, 0, err);
}
