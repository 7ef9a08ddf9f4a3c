/* A removed container's directory leaves its path at once (one rename into
 * data_root/containers-removed) and is deleted by a thread of its own: the deletion of the tree
 * (its upper layer, init layer, logs) costs one unlink per entry and the inode evictions behind
 * them, tens of ms on a busy disk, which `run --rm` waited for (its wait condition is "removed").
 * What a crash leaves in the directory is deleted at the next start. */
#include "daemon/containers/containers.h"
#include "daemon/daemon.h"

#include <dirent.h>
#include <sys/stat.h>

static struct {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool started, pending;
        int dfd; /* data_root/containers-removed, -1 when unusable: deleted in place */
        char *path;
} T = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false, -1, NULL};

/* Delete every entry of the trash directory (what is there now). */
static void trash_empty(void)
{
        _cleanup_close_ int fd = openat(T.dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *de;

        if (!dir)
                return;
        TAKE_FD(fd);
        while ((de = readdir(dir))) {
                _cleanup_error_ struct berth_error *e = NULL;
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if (berth_rm_rf_at(T.dfd, de->d_name, &e) < 0)
                        berth_warn("removed container directory `%s/%s`: %s", T.path, de->d_name,
                                   e->msg);
        }
        closedir(dir);
}

static void *trash_main(void *arg)
{
        (void)arg;
        pthread_mutex_lock(&T.lock);
        for (;;) {
                T.pending = false;
                pthread_mutex_unlock(&T.lock);
                trash_empty();
                pthread_mutex_lock(&T.lock);
                while (!T.pending)
                        pthread_cond_wait(&T.cond, &T.lock);
        }
        return NULL;
}

int container_trash_open(struct daemon *d, struct berth_error **err)
{
        pthread_t t;
        int r;

        T.path = xasprintf("%s/containers-removed", d->data_root);
        if (mkdir(T.path, 0700) < 0 && errno != EEXIST)
                return berth_error_set(err, errno, "create `%s`", T.path);
        T.dfd = open(T.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (T.dfd < 0)
                return berth_error_set(err, errno, "open `%s`", T.path);
        r = pthread_create(&t, NULL, trash_main, NULL);
        if (r != 0) {
                /* removals delete in place */
                close(T.dfd);
                T.dfd = -1;
                return berth_error_setx(err, r, "cannot start the removal thread: %s", strerror(r));
        }
        pthread_detach(t);
        T.started = true;
        return 0;
}

void container_trash(const char *dir)
{
        const char *base = strrchr(dir, '/');
        _cleanup_error_ struct berth_error *e = NULL;

        if (T.started && base) {
                if (renameat(AT_FDCWD, dir, T.dfd, base + 1) == 0) {
                        pthread_mutex_lock(&T.lock);
                        T.pending = true;
                        pthread_cond_signal(&T.cond);
                        pthread_mutex_unlock(&T.lock);
                        return;
                }
                if (errno == ENOENT)
                        return;
        }
        /* no thread, or the rename failed (another file system): deleted in place */
        if (berth_rm_rf_at(AT_FDCWD, dir, &e) < 0)
                berth_warn("`%s`: %s", dir, e->msg);
}
