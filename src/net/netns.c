/* Pinned network namespaces: a file with /proc/<tid>/ns/net bind-mounted on it.
 *
 * The namespace is made by a short-lived thread that unshare(CLONE_NEWNET)s itself, so the
 * daemon's own threads stay where they are; the thread pins its namespace, brings loopback up
 * through its own rtnetlink socket and exits.
 */
#include "net/net.h"
#include "net/nl.h"

#include <linux/magic.h>
#include <linux/nsfs.h>
#include <pthread.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

/* Is fd a network namespace (an nsfs inode of type CLONE_NEWNET)? */
static bool fd_is_netns(int fd)
{
        struct statfs sfs;
        if (fstatfs(fd, &sfs) < 0 || sfs.f_type != NSFS_MAGIC)
                return false;
        return ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNET;
}

/* Is path itself a pinned network namespace (and not the plain file under it)? */
static bool path_is_pinned(const char *path)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        return fd >= 0 && fd_is_netns(fd);
}

struct create_job {
        const char *path;
        int *ret_nl_fd; /* keep the socket that brought loopback up */
        int ret;
        struct berth_error *err;
};

static void *create_run(void *arg)
{
        struct create_job *job = arg;
        if (unshare(CLONE_NEWNET) < 0) {
                job->ret = berth_error_set(&job->err, errno, "unshare the network namespace");
                return NULL;
        }
        _cleanup_free_ char *src =
            xasprintf("/proc/self/task/%ld/ns/net", (long)syscall(SYS_gettid));
        if (mount(src, job->path, NULL, MS_BIND, NULL) < 0) {
                job->ret = berth_error_set(&job->err, errno, "bind-mount `%s`", src);
                return NULL;
        }
        job->ret = net_lo_up_keep(job->ret_nl_fd, &job->err);
        if (job->ret < 0)
                berth_error_wrap(&job->err, "bring loopback up");
        return NULL;
}

static int netns_create(const char *path, int *ret_nl_fd, struct berth_error **err)
{
        if (!path || path[0] != '/')
                return berth_error_setx(err, EINVAL, "netns path `%s` must be absolute",
                                        path ? path : "");
        if (path_is_pinned(path))
                return berth_error_setx(err, EEXIST, "netns `%s` already exists", path);
        /* a plain file left by a crash between create and mount is reused */
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0444);
        if (fd < 0)
                return berth_error_set(err, errno, "create netns file `%s`", path);
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return berth_error_setx(err, EEXIST, "netns `%s` exists and is not a file", path);

        struct create_job job = {.path = path, .ret_nl_fd = ret_nl_fd};
        pthread_t t;
        int e = pthread_create(&t, NULL, create_run, &job);
        if (e != 0) {
                unlink(path);
                return berth_error_set(err, e, "netns `%s`: start a thread", path);
        }
        pthread_join(t, NULL);
        if (job.ret < 0) {
                /* the mount (if made) holds the namespace alive: undo it with the file */
                berth_netns_remove(path, NULL);
                int r = job.ret;
                if (err && !*err)
                        *err = TAKE_PTR(job.err);
                berth_error_free(job.err);
                berth_error_wrap(err, "create netns `%s`", path);
                return r;
        }
        return 0;
}

int berth_netns_create(const char *path, struct berth_error **err)
{
        return netns_create(path, NULL, err);
}

int berth_netns_create_nl(const char *path, int *ret_nl_fd, struct berth_error **err)
{
        int fd = -1;
        int r = netns_create(path, &fd, err);
        if (r < 0)
                return r;
        *ret_nl_fd = fd;
        return 0;
}

int berth_netns_bind(const char *from, const char *to, struct berth_error **err)
{
        if (!from || from[0] != '/' || !to || to[0] != '/')
                return berth_error_setx(err, EINVAL, "netns paths must be absolute");
        _cleanup_close_ int src = -1;
        int r = berth_netns_open(from, &src, err);
        if (r < 0)
                return r;
        if (path_is_pinned(to))
                return berth_error_setx(err, EEXIST, "netns `%s` already exists", to);
        _cleanup_close_ int fd = open(to, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0444);
        if (fd < 0)
                return berth_error_set(err, errno, "create netns file `%s`", to);
        _cleanup_free_ char *p = xasprintf("/proc/self/fd/%d", src);
        if (mount(p, to, NULL, MS_BIND, NULL) < 0) {
                int e = errno;
                unlink(to);
                return berth_error_set(err, e, "bind-mount netns `%s` on `%s`", from, to);
        }
        return 0;
}

int berth_netns_move(const char *from, const char *to, struct berth_error **err)
{
        int r = berth_netns_bind(from, to, err);
        if (r < 0)
                return r;
        return berth_netns_remove(from, err);
}

int berth_netns_remove(const char *path, struct berth_error **err)
{
        if (!path || path[0] != '/')
                return berth_error_setx(err, EINVAL, "netns path `%s` must be absolute",
                                        path ? path : "");
        /* a racing create could have stacked two mounts: take them all off */
        for (int i = 0; i < 16 && path_is_pinned(path); i++) {
                if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL &&
                    errno != ENOENT)
                        return berth_error_set(err, errno, "unmount netns `%s`", path);
        }
        if (path_is_pinned(path))
                return berth_error_setx(err, EBUSY, "netns `%s` stays mounted", path);
        if (unlink(path) < 0 && errno != ENOENT)
                return berth_error_set(err, errno, "remove netns file `%s`", path);
        return 0;
}

int berth_netns_open(const char *path, int *ret_fd, struct berth_error **err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return berth_error_set(err, errno, "open netns `%s`", path);
        if (!fd_is_netns(fd))
                return berth_error_setx(err, EINVAL, "`%s` is not a network namespace", path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}
