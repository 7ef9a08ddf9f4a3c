/* Applying a layer tarball onto a directory, as an overlayfs lower layer.
 *
 * Every name is cleaned and resolved inside the layer root with openat2(RESOLVE_IN_ROOT), each
 * entry is created with *at() calls on its parent's fd and O_NOFOLLOW/O_EXCL, so neither `..`,
 * absolute names, a symlink planted by an earlier entry, nor a hardlink to `../x` can write
 * outside the root (CVE-2018-15664 and the "zip-slip" family). */
#include "image/internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

const struct berth_layer_limits berth_layer_default_limits = {
    .max_entries = 500000,
    .max_bytes = UINT64_C(64) << 30,
    .max_ratio = 1000,
    .allow_devices = true,
};

#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"

static void archive_freep(struct archive **a)
{
        if (*a)
                archive_read_free(*a);
}

/* "./a//b/" → "a/b"; "/x" → "x"; any ".." is refused: a layer has no business there. */
static int clean_path(const char *in, char **ret, struct berth_error **err)
{
        if (berth_path_clean_rel(in, BERTH_PATH_NO_DOTDOT, ret) < 0)
                return berth_error_setx(err, EINVAL, "layer entry `%s`: `..` is not allowed", in);
        return 0;
}

static int copy_xattrs(struct archive_entry *e, int fd, const char *path, struct berth_error **err)
{
        const char *name;
        const void *value;
        size_t size;
        if (archive_entry_xattr_reset(e) == 0)
                return 0;
        while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
                if (fsetxattr(fd, name, value, size, 0) < 0 && errno != ENOTSUP)
                        return berth_error_set(err, errno, "layer entry `%s`: xattr `%s`", path,
                                               name);
        }
        return 0;
}

/* Remove whatever is at parent/name (a file, a link, a whole directory). */
static int remove_at(int parentfd, const char *name, struct berth_error **err)
{
        return berth_rm_rf_at(parentfd, name, err);
}

static int apply_file(struct archive *a, struct archive_entry *e, int parentfd, const char *base,
                      const char *path, const struct berth_layer_limits *lim,
                      struct berth_layer_stats *st, struct berth_error **err)
{
        _cleanup_close_ int fd =
            openat(parentfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return berth_error_set(err, errno, "layer entry `%s`", path);
        const void *buf;
        size_t size;
        la_int64_t off;
        int r;
        while ((r = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK) {
                st->bytes += size;
                if (st->bytes > lim->max_bytes)
                        return berth_error_setx(err, EFBIG, "layer larger than %llu bytes",
                                                (unsigned long long)lim->max_bytes);
                la_int64_t in = archive_filter_bytes(a, -1);
                if (st->bytes > (UINT64_C(64) << 20) && in > 0 &&
                    st->bytes / (uint64_t)in > lim->max_ratio)
                        return berth_error_setx(err, EFBIG,
                                                "layer decompresses more than %llu:1 "
                                                "(a decompression bomb)",
                                                (unsigned long long)lim->max_ratio);
                if (pwrite(fd, buf, size, off) != (ssize_t)size)
                        return berth_error_set(err, errno, "layer entry `%s`: write", path);
        }
        if (r != ARCHIVE_EOF)
                return berth_error_setx(err, EIO, "layer entry `%s`: %s", path,
                                        archive_error_string(a));
        if (ftruncate(fd, archive_entry_size(e)) < 0 ||
            fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0 ||
            /* after chown, which clears setuid bits */
            fchmod(fd, archive_entry_mode(e) & 07777) < 0)
                return berth_error_set(err, errno, "layer entry `%s`: attributes", path);
        if (copy_xattrs(e, fd, path, err) < 0)
                return -EIO;
        struct timespec ts[2] = {{.tv_sec = archive_entry_mtime(e)},
                                 {.tv_sec = archive_entry_mtime(e)}};
        futimens(fd, ts);
        return 0;
}

static int apply_dir(struct archive_entry *e, int parentfd, const char *base, const char *path,
                     struct berth_error **err)
{
        if (mkdirat(parentfd, base, 0755) < 0) {
                struct stat stt;
                if (errno != EEXIST)
                        return berth_error_set(err, errno, "layer entry `%s`", path);
                if (fstatat(parentfd, base, &stt, AT_SYMLINK_NOFOLLOW) == 0 &&
                    !S_ISDIR(stt.st_mode)) {
                        if (remove_at(parentfd, base, err) < 0 || mkdirat(parentfd, base, 0755) < 0)
                                return berth_error_set(err, errno, "layer entry `%s`", path);
                }
        }
        _cleanup_close_ int fd =
            openat(parentfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0 ||
            fchmod(fd, archive_entry_mode(e) & 07777) < 0)
                return berth_error_set(err, errno, "layer entry `%s`: attributes", path);
        return copy_xattrs(e, fd, path, err);
}

static int apply_entry(struct archive *a, struct archive_entry *e, int rootfd,
                       const struct berth_layer_limits *lim, struct berth_layer_stats *st,
                       struct berth_error **err)
{
        _cleanup_free_ char *path = NULL;
        if (clean_path(archive_entry_pathname(e), &path, err) < 0)
                return -EINVAL;
        if (!*path)
                return 0; /* the root itself */
        char *slash = strrchr(path, '/');
        const char *base = slash ? slash + 1 : path;
        _cleanup_free_ char *dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup("/");
        _cleanup_close_ int parentfd = berth_mkdir_in_root(rootfd, dir, 0755, err);
        if (parentfd < 0)
                return berth_error_wrap(err, "layer entry `%s`", path);

        if (!strcmp(base, WHITEOUT_OPAQUE)) {
                /* everything the lower layers have in this dir is hidden */
                _cleanup_close_ int dfd = berth_open_in_root(rootfd, dir, O_RDONLY | O_DIRECTORY);
                if (dfd < 0 || fsetxattr(dfd, "trusted.overlay.opaque", "y", 1, 0) < 0)
                        return berth_error_set(err, errno, "opaque whiteout in `%s`", dir);
                return 0;
        }
        if (!strncmp(base, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX))) {
                const char *name = base + strlen(WHITEOUT_PREFIX);
                if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
                        return berth_error_setx(err, EINVAL, "layer entry `%s`: bad whiteout",
                                                path);
                if (remove_at(parentfd, name, err) < 0 ||
                    mknodat(parentfd, name, S_IFCHR | 0, makedev(0, 0)) < 0)
                        return berth_error_set(err, errno, "whiteout `%s`", path);
                return 0;
        }
        mode_t type = archive_entry_filetype(e);
        const char *hardlink = archive_entry_hardlink(e);
        if (type != AE_IFDIR && remove_at(parentfd, base, err) < 0)
                return -EIO;
        if (hardlink) {
                _cleanup_free_ char *target = NULL;
                if (clean_path(hardlink, &target, err) < 0)
                        return -EINVAL;
                /* the target resolves inside the root, whatever links lie on its way */
                _cleanup_close_ int src = berth_open_in_root(rootfd, target, O_PATH | O_NOFOLLOW);
                struct stat stt;
                if (src < 0 || fstat(src, &stt) < 0)
                        return berth_error_set(err, errno, "layer entry `%s`: hardlink to `%s`",
                                               path, hardlink);
                if (S_ISDIR(stt.st_mode))
                        return berth_error_setx(err, EPERM,
                                                "layer entry `%s`: hardlink to a directory", path);
                if (linkat(src, "", parentfd, base, AT_EMPTY_PATH) < 0)
                        return berth_error_set(err, errno, "layer entry `%s`: hardlink", path);
                return 0;
        }
        switch (type) {
        case AE_IFREG:
                return apply_file(a, e, parentfd, base, path, lim, st, err);
        case AE_IFDIR:
                return apply_dir(e, parentfd, base, path, err);
        case AE_IFLNK:
                /* the target is data: nothing is ever resolved through it while applying */
                if (symlinkat(archive_entry_symlink(e), parentfd, base) < 0 ||
                    fchownat(parentfd, base, (uid_t)archive_entry_uid(e),
                             (gid_t)archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
                        return berth_error_set(err, errno, "layer entry `%s`", path);
                return 0;
        case AE_IFCHR:
        case AE_IFBLK:
                if (!lim->allow_devices)
                        return berth_error_setx(err, EPERM,
                                                "layer entry `%s`: device nodes are not "
                                                "allowed",
                                                path);
                __attribute__((fallthrough));
        case AE_IFIFO:
                if (mknodat(parentfd, base, type | (archive_entry_mode(e) & 07777),
                            makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e))) < 0 ||
                    fchownat(parentfd, base, (uid_t)archive_entry_uid(e),
                             (gid_t)archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
                        return berth_error_set(err, errno, "layer entry `%s`", path);
                return 0;
        default:
                return 0; /* sockets and the like have no place in a layer */
        }
}

int layer_apply_archive(int rootfd, struct archive *a, const struct berth_layer_limits *lim,
                        struct berth_layer_stats *ret_stats, struct berth_error **err)
{
        if (!lim)
                lim = &berth_layer_default_limits;
        struct berth_layer_stats st = {0};
        struct archive_entry *e;
        int r;
        while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
                if (++st.entries > lim->max_entries)
                        return berth_error_setx(err, EFBIG, "layer has more than %llu entries",
                                                (unsigned long long)lim->max_entries);
                int ae = apply_entry(a, e, rootfd, lim, &st, err);
                if (ae < 0)
                        return ae;
        }
        if (r != ARCHIVE_EOF)
                return berth_error_setx(err, EINVAL, "layer: %s", archive_error_string(a));
        if (ret_stats)
                *ret_stats = st;
        return 0;
}

int berth_layer_apply(int rootfd, int archive_fd, const struct berth_layer_limits *lim,
                      struct berth_layer_stats *ret_stats, struct berth_error **err)
{
        _cleanup_(archive_freep) struct archive *a = archive_read_new();
        archive_read_support_filter_all(a);
        archive_read_support_format_tar(a);
        if (archive_read_open_fd(a, archive_fd, 1 << 20) != ARCHIVE_OK)
                return berth_error_setx(err, EINVAL, "layer: %s", archive_error_string(a));
        return layer_apply_archive(rootfd, a, lim, ret_stats, err);
}
