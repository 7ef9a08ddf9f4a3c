/* Container root filesystems: one overlayfs mount of the image's layer dirs (lowest last in
 * lowerdir order) under a per-container upper/work pair. The layers are never written.
 *
 * Built with the new mount API: each lower dir is its own fsconfig("lowerdir+") call, so the
 * number of layers is not bounded by the one-page limit of mount(2)'s option string. */
#include "image/image.h"

#include <linux/mount.h>
#include <sys/mount.h>
#include <sys/syscall.h>

static int fsconfig_str(int fd, const char *key, const char *value)
{
        return (int)syscall(SYS_fsconfig, fd, FSCONFIG_SET_STRING, key, value, 0);
}

/* A configured, created overlay context: the layers as one "lowerdir+" each, or (joined) as the
 * one colon-separated "lowerdir" string */
static int overlay_create(char *const *lowers, size_t n, const char *upper, const char *work,
                          bool joined, int *ret_fs, struct berth_error **err)
{
        _cleanup_close_ int fs = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
        if (fs < 0)
                return berth_error_set(err, errno, "overlay: fsopen");
        if (joined) {
                _cleanup_free_ char *all = xstrdup(lowers[0]);
                for (size_t k = 1; k < n; k++) {
                        char *next = xasprintf("%s:%s", all, lowers[k]);
                        free(all);
                        all = next;
                }
                if (fsconfig_str(fs, "lowerdir", all) < 0)
                        return berth_error_set(err, errno, "overlay: %zu lower layers", n);
        } else {
                /* lowers[0] is the top-most layer, like overlayfs' lowerdir order */
                for (size_t i = 0; i < n; i++)
                        if (fsconfig_str(fs, "lowerdir+", lowers[i]) < 0)
                                return berth_error_set(err, errno, "overlay: lower layer `%s`",
                                                       lowers[i]);
        }
        if (upper &&
            (fsconfig_str(fs, "upperdir", upper) < 0 || fsconfig_str(fs, "workdir", work) < 0))
                return berth_error_set(err, errno, "overlay: upper `%s`", upper);
        /* the image's files keep their owners; xino/index are not needed for a container root */
        if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return berth_error_set(err, errno, "overlay: create");
        *ret_fs = TAKE_FD(fs);
        return 0;
}

int berth_overlay_mount(char *const *lowers, size_t n, const char *upper, const char *work,
                        const char *target, struct berth_error **err)
{
        if (n == 0)
                return berth_error_setx(err, EINVAL, "overlay: no layers");
        _cleanup_close_ int fs = -1;
        _cleanup_error_ struct berth_error *e = NULL;
        /* kernels before 6.8 know only the one colon-separated string; before 6.5 overlayfs has
         * no fs_context of its own, so the legacy one accepts "lowerdir+" and only the create
         * fails (EINVAL): retry joined in both cases */
        int r = overlay_create(lowers, n, upper, work, false, &fs, &e);
        if (r == -EINVAL)
                r = overlay_create(lowers, n, upper, work, true, &fs, err);
        else if (r < 0)
                return berth_error_setx(err, e->code, "%s", e->msg);
        if (r < 0)
                return r;
        _cleanup_close_ int mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0);
        if (mnt < 0)
                return berth_error_set(err, errno, "overlay: fsmount");
        if (syscall(SYS_move_mount, mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return berth_error_set(err, errno, "overlay: mount on `%s`", target);
        return 0;
}
