/* COPY and ADD: sources resolved inside their root (the extracted context or a source image's
 * read-only overlay) with openat2(RESOLVE_IN_ROOT), written into an overlay of the parent image
 * through fds only (nothing is ever created through a symlink of the image), and their content
 * hash for the build cache. */
#include "daemon/build/build.h"
#include "daemon/daemon.h"
#include "image/image.h"

#include <fnmatch.h>
#include <limits.h>
#include <openssl/evp.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------- mounts */

int build_mount_image(struct daemon *d, const char *image_id, bool rw, struct build_mount *ret,
                      struct berth_error **err)
{
        char hex[17];
        _cleanup_strv_ char **lowers = NULL;
        struct build_mount m = {.root = -1};
        int r;

        berth_random_hex(hex, 8);
        m.dir = xasprintf("%s/build/tmp/%s", d->data_root, hex);
        m.merged = xasprintf("%s/merged", m.dir);
        m.upper = xasprintf("%s/upper", m.dir);
        _cleanup_free_ char *work = xasprintf("%s/work", m.dir);
        _cleanup_free_ char *empty = xasprintf("%s/empty", m.dir);
        if ((r = berth_mkdir_p(m.merged, 0700, err)) < 0 ||
            (rw && ((r = berth_mkdir_p(m.upper, 0755, err)) < 0 ||
                    (r = berth_mkdir_p(work, 0700, err)) < 0)))
                goto fail;
        if ((r = berth_image_layer_dirs(d->images, image_id, &lowers, err)) < 0)
                goto fail;
        if (!lowers || !lowers[0]) {
                /* an image without layers (FROM scratch): an empty lower dir */
                if ((r = berth_mkdir_p(empty, 0755, err)) < 0)
                        goto fail;
                strv_free(lowers);
                lowers = NULL;
                strv_push(&lowers, empty);
        }
        if ((r = berth_overlay_mount(lowers, strv_length(lowers), rw ? m.upper : NULL,
                                     rw ? work : NULL, m.merged, err)) < 0)
                goto fail;
        m.mounted = true;
        m.root = open(m.merged, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (m.root < 0) {
                r = berth_error_set(err, errno, "open `%s`", m.merged);
                goto fail;
        }
        *ret = m;
        return 0;
fail:
        build_mount_release(&m);
        return r;
}

void build_mount_release(struct build_mount *m)
{
        _cleanup_error_ struct berth_error *e = NULL;

        if (m->root >= 0)
                close(m->root);
        m->root = -1;
        if (m->mounted && umount2(m->merged, MNT_DETACH) < 0)
                berth_warn("build: unmount `%s`: %m", m->merged);
        m->mounted = false;
        if (m->dir && berth_rm_rf_at(AT_FDCWD, m->dir, &e) < 0)
                berth_warn("build: remove `%s`: %s", m->dir, e->msg);
        free(m->dir);
        free(m->merged);
        free(m->upper);
        m->dir = m->merged = m->upper = NULL;
}

void build_cleanup(struct daemon *d)
{
        _cleanup_free_ char *tmp = xasprintf("%s/build/tmp", d->data_root);
        _cleanup_error_ struct berth_error *e = NULL;
        _cleanup_dir_ DIR *dir = opendir(tmp);
        struct dirent *de;
        if (!dir)
                return;
        while ((de = readdir(dir))) {
                if (de->d_name[0] == '.')
                        continue;
                /* never remove through a mount: an image's layers are below it */
                _cleanup_free_ char *merged = xasprintf("%s/%s/merged", tmp, de->d_name);
                if (umount2(merged, MNT_DETACH) == 0)
                        berth_debug("build: unmounted `%s` left by a killed daemon", merged);
        }
        if (berth_rm_rf_at(AT_FDCWD, tmp, &e) < 0)
                berth_warn("build: remove `%s`: %s", tmp, e->msg);
}

bool build_mount_changed(struct build_mount *m)
{
        _cleanup_dir_ DIR *dir = opendir(m->upper);
        struct dirent *de;

        if (!dir)
                return false;
        while ((de = readdir(dir)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        return true;
        return false;
}

/* ---------------------------------------------------------------- source paths */

/* Go's path.Clean of a source relative to its root, with a leading '/' dropped; NULL when it
 * leaves the root ("../x"). "" for the root itself. */
static char *clean_rel(const char *p)
{
        char *out = NULL;
        if (p[0] == '/') {
                /* above the root stays at the root */
                _cleanup_free_ char *abs = berth_path_clean_abs(p);
                return xstrdup(abs + 1);
        }
        return berth_path_clean_rel(p, 0, &out) < 0 ? NULL : out;
}

static bool has_wildcard(const char *s)
{
        return strpbrk(s, "*?[") != NULL;
}

static bool excluded(const struct build_copy *c, const char *rel)
{
        return c->ig && *rel && bld_ignore_excluded(c->ig, rel);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in a directory, sorted (hashes and copies are then in a stable order). */
static int list_dir(int dirfd, char ***ret, struct berth_error **err)
{
        int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return berth_error_set(err, errno, "open directory");
        _cleanup_dir_ DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return berth_error_set(err, errno, "open directory");
        }
        char **names = NULL;
        struct dirent *de;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        strv_push(&names, de->d_name);
        if (names)
                qsort(names, strv_length(names), sizeof(char *), cmp_str);
        *ret = names;
        return 0;
}

/* Expand one wildcard pattern (Go filepath.Match per component) below root into rel paths. */
static int glob_walk(const struct build_copy *c, int dirfd, const char *prefix, char **comps,
                     char ***out, struct berth_error **err)
{
        if (!comps[0]) {
                strv_push(out, prefix);
                return 0;
        }
        _cleanup_strv_ char **names = NULL;
        if (list_dir(dirfd, &names, err) < 0)
                return -EIO;
        for (size_t i = 0; names && names[i]; i++) {
                if (fnmatch(comps[0], names[i], 0) != 0)
                        continue;
                _cleanup_free_ char *rel =
                    *prefix ? xasprintf("%s/%s", prefix, names[i]) : xstrdup(names[i]);
                if (excluded(c, rel))
                        continue;
                if (!comps[1]) {
                        strv_push(out, rel);
                        continue;
                }
                _cleanup_close_ int sub =
                    openat(dirfd, names[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0)
                        continue;
                if (glob_walk(c, sub, rel, comps + 1, out, err) < 0)
                        return -EIO;
        }
        return 0;
}

/* Every source as rel paths (wildcards expanded). */
static int resolve_sources(const struct build_copy *c, char ***ret, struct berth_error **err)
{
        _cleanup_strv_ char **out = NULL;

        for (size_t i = 0; c->srcs[i]; i++) {
                const char *s = c->srcs[i];
                if (!strncmp(s, "http://", 7) || !strncmp(s, "https://", 8) ||
                    !strncmp(s, "git@", 4))
                        return berth_error_setx(err, ENOTSUP,
                                                "%s from a URL (`%s`) is not supported by berth: "
                                                "download it in a RUN step",
                                                c->add ? "ADD" : "COPY", s);
                _cleanup_free_ char *rel = clean_rel(s);
                if (!rel)
                        return berth_error_setx(
                            err, EINVAL, "forbidden path outside the build context: %s ()", s);
                if (!has_wildcard(rel)) {
                        if (excluded(c, rel))
                                return berth_error_setx(
                                    err, ENOENT,
                                    "file not found in build context or excluded by "
                                    ".dockerignore: stat %s: file does not exist",
                                    rel);
                        strv_push(&out, rel);
                        continue;
                }
                _cleanup_strv_ char **comps = NULL;
                _cleanup_free_ char *copy = xstrdup(rel);
                char *save = NULL;
                for (char *t = strtok_r(copy, "/", &save); t; t = strtok_r(NULL, "/", &save))
                        strv_push(&comps, t);
                size_t before = strv_length(out);
                if (comps && glob_walk(c, c->src_root, "", comps, &out, err) < 0)
                        return -EIO;
                if (strv_length(out) == before)
                        return berth_error_setx(err, ENOENT, "no source files were specified");
        }
        *ret = TAKE_PTR(out);
        return 0;
}

/* ---------------------------------------------------------------- the walk */

struct xfer {
        const struct build_copy *c;
        EVP_MD_CTX *md; /* hashing when set */
        bool copy;      /* writing into the destination */
};

static void hash_str(struct xfer *x, const char *s)
{
        if (x->md)
                EVP_DigestUpdate(x->md, s, strlen(s) + 1);
}

static int set_meta(struct xfer *x, int fd, const char *name, const struct stat *st, bool link,
                    struct berth_error **err)
{
        uid_t uid = x->c->has_chown ? x->c->uid : 0;
        gid_t gid = x->c->has_chown ? x->c->gid : 0;
        int flags = link ? AT_SYMLINK_NOFOLLOW : 0;

        if (fchownat(fd, name, uid, gid, flags | (!*name ? AT_EMPTY_PATH : 0)) < 0)
                return berth_error_set(err, errno, "chown");
        if (!link) {
                mode_t mode = x->c->has_chmod ? x->c->chmod : (st->st_mode & 07777);
                if ((*name ? fchmodat(fd, name, mode, 0) : fchmod(fd, mode)) < 0)
                        return berth_error_set(err, errno, "chmod");
        }
        struct timespec ts[2] = {st->st_atim, st->st_mtim};
        if ((*name ? utimensat(fd, name, ts, link ? AT_SYMLINK_NOFOLLOW : 0) : futimens(fd, ts)) <
            0)
                return berth_error_set(err, errno, "set times");
        return 0;
}

/* Copy in to out (-1: read only), the content hashed into md when set. */
static int copy_data(int in, int out, EVP_MD_CTX *md, struct berth_error **err)
{
        char buf[65536];
        for (;;) {
                ssize_t n = read(in, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return berth_error_set(err, errno, "read");
                if (n == 0)
                        return 0;
                if (md)
                        EVP_DigestUpdate(md, buf, (size_t)n);
                if (out >= 0 && berth_write_all(out, buf, (size_t)n) < 0)
                        return berth_error_set(err, errno, "write");
        }
}

static int xfer_entry(struct xfer *x, int sdir, const char *sname, int ddir, const char *dname,
                      const char *rel, struct berth_error **err);

/* Copy the contents of the directory sfd into ddir (an fd of the destination directory). */
static int xfer_dir_contents(struct xfer *x, int sfd, int ddir, const char *rel,
                             struct berth_error **err)
{
        _cleanup_strv_ char **names = NULL;
        if (list_dir(sfd, &names, err) < 0)
                return -EIO;
        for (size_t i = 0; names && names[i]; i++) {
                _cleanup_free_ char *sub =
                    *rel ? xasprintf("%s/%s", rel, names[i]) : xstrdup(names[i]);
                if (excluded(x->c, sub) && !bld_ignore_may_reinclude(x->c->ig, sub))
                        continue;
                if (xfer_entry(x, sfd, names[i], ddir, names[i], sub, err) < 0)
                        return -EIO;
        }
        return 0;
}

static bool is_archive(int fd)
{
        unsigned char b[512];
        ssize_t n = pread(fd, b, sizeof(b), 0);
        if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
                return true;
        if (n >= 3 && !memcmp(b, "BZh", 3))
                return true;
        if (n >= 6 && !memcmp(b,
                              "\xfd"
                              "7zXZ\0",
                              6))
                return true;
        if (n >= 4 && !memcmp(b, "\x28\xb5\x2f\xfd", 4))
                return true;
        return n >= 262 && !memcmp(b + 257, "ustar", 5);
}

static int xfer_entry(struct xfer *x, int sdir, const char *sname, int ddir, const char *dname,
                      const char *rel, struct berth_error **err)
{
        struct stat st;
        if (fstatat(sdir, sname, &st, AT_SYMLINK_NOFOLLOW | (!*sname ? AT_EMPTY_PATH : 0)) < 0)
                return berth_error_set(err, errno, "stat %s", rel);
        bool skip = excluded(x->c, rel);
        if (x->md && !skip) {
                /* what a client's tar keeps: the type, a file's permissions and size (a
                 * directory's mode depends on whether the tar had an entry for it) */
                char head[96];
                snprintf(head, sizeof(head), "%o %llu",
                         S_ISDIR(st.st_mode)   ? (unsigned)S_IFDIR
                         : S_ISLNK(st.st_mode) ? (unsigned)(S_IFLNK | 0777)
                                               : (unsigned)st.st_mode,
                         S_ISREG(st.st_mode) ? (unsigned long long)st.st_size : 0ULL);
                hash_str(x, rel);
                hash_str(x, head);
        }
        if (S_ISDIR(st.st_mode)) {
                _cleanup_close_ int sfd = openat(sdir, *sname ? sname : ".",
                                                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sfd < 0)
                        return berth_error_set(err, errno, "open %s", rel);
                _cleanup_close_ int dfd = -1;
                if (x->copy) {
                        if (*dname) {
                                if (mkdirat(ddir, dname, 0755) < 0 && errno != EEXIST)
                                        return berth_error_set(err, errno, "mkdir %s", rel);
                                dfd = openat(ddir, dname,
                                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                                if (dfd < 0 && (errno == ENOTDIR || errno == ELOOP)) {
                                        /* a file or symlink in the way is replaced */
                                        if (unlinkat(ddir, dname, 0) < 0 ||
                                            mkdirat(ddir, dname, 0755) < 0)
                                                return berth_error_set(err, errno, "mkdir %s", rel);
                                        dfd =
                                            openat(ddir, dname,
                                                   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                                }
                        } else {
                                dfd = openat(ddir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        }
                        if (dfd < 0)
                                return berth_error_set(err, errno, "open destination of %s", rel);
                }
                if (xfer_dir_contents(x, sfd, x->copy ? dfd : -1, rel, err) < 0)
                        return -EIO;
                if (x->copy && !skip && set_meta(x, dfd, "", &st, false, err) < 0)
                        return berth_error_wrap(err, "%s", rel);
                return 0;
        }
        if (skip)
                return 0;
        if (S_ISLNK(st.st_mode)) {
                char target[PATH_MAX];
                ssize_t n = readlinkat(sdir, sname, target, sizeof(target) - 1);
                if (n < 0)
                        return berth_error_set(err, errno, "readlink %s", rel);
                target[n] = 0;
                hash_str(x, target);
                if (!x->copy)
                        return 0;
                if (unlinkat(ddir, dname, 0) < 0 && errno != ENOENT && errno != EISDIR)
                        return berth_error_set(err, errno, "replace %s", rel);
                if (symlinkat(target, ddir, dname) < 0)
                        return berth_error_set(err, errno, "symlink %s", rel);
                return set_meta(x, ddir, dname, &st, true, err);
        }
        if (!S_ISREG(st.st_mode)) {
                if (!x->copy)
                        return 0;
                if (S_ISFIFO(st.st_mode)) {
                        unlinkat(ddir, dname, 0);
                        if (mkfifoat(ddir, dname, st.st_mode & 07777) < 0)
                                return berth_error_set(err, errno, "mkfifo %s", rel);
                        return set_meta(x, ddir, dname, &st, false, err);
                }
                return berth_error_setx(err, ENOTSUP,
                                        "copy %s: devices and sockets are not "
                                        "copied by berth",
                                        rel);
        }
        _cleanup_close_ int in = -1;
        if (*sname) {
                in = openat(sdir, sname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        } else {
                /* an O_PATH fd of a source resolved inside its root: reopened through our own
                 * fd, never through a path */
                char p[64];
                snprintf(p, sizeof(p), "/proc/self/fd/%d", sdir);
                in = open(p, O_RDONLY | O_CLOEXEC);
        }
        if (in < 0)
                return berth_error_set(err, errno, "open %s", rel);
        if (x->c->add && x->copy && is_archive(in)) {
                /* ADD of a local tar: unpacked into the destination directory by the image
                 * store's extractor (paths stay inside, no device nodes) */
                if (lseek(in, 0, SEEK_SET) < 0)
                        return berth_error_set(err, errno, "%s", rel);
                int r = berth_layer_apply(ddir, in, &berth_layer_default_limits, NULL, err);
                return r < 0 ? berth_error_wrap(err, "ADD %s", rel) : 0;
        }
        _cleanup_close_ int out = -1;
        if (x->copy) {
                out = openat(ddir, dname, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                             0600);
                if (out < 0 && (errno == ELOOP || errno == EISDIR)) {
                        if (unlinkat(ddir, dname, 0) < 0 &&
                            (errno != EISDIR || berth_rm_rf_at(ddir, dname, err) < 0))
                                return berth_error_set(err, errno, "replace %s", rel);
                        out = openat(ddir, dname,
                                     O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
                }
                if (out < 0)
                        return berth_error_set(err, errno, "create %s", rel);
        }
        /* a file counts by its content's sha256, as the context index has it */
        EVP_MD_CTX *fmd = NULL;
        if (x->md) {
                fmd = EVP_MD_CTX_new();
                if (!fmd || !EVP_DigestInit_ex(fmd, EVP_sha256(), NULL)) {
                        EVP_MD_CTX_free(fmd);
                        return berth_error_setx(err, EIO, "sha256");
                }
        }
        int cr = copy_data(in, out, fmd, err);
        if (fmd) {
                unsigned char d[EVP_MAX_MD_SIZE];
                unsigned int dl = 0;
                char hex[65];
                EVP_DigestFinal_ex(fmd, d, &dl);
                EVP_MD_CTX_free(fmd);
                for (unsigned i = 0; i < 32; i++)
                        sprintf(hex + 2 * i, "%02x", d[i]);
                if (cr == 0)
                        hash_str(x, hex);
        }
        if (cr < 0)
                return berth_error_wrap(err, "%s", rel);
        if (x->copy && set_meta(x, out, "", &st, false, err) < 0)
                return berth_error_wrap(err, "%s", rel);
        return 0;
}

/* Open a source (following symlinks inside the root only). */
static int open_source(const struct build_copy *c, const char *rel, struct berth_error **err)
{
        int fd = berth_open_in_root(c->src_root, *rel ? rel : ".", O_PATH);
        if (fd < 0) {
                if (errno == ENOENT)
                        return berth_error_setx(
                            err, ENOENT,
                            "file not found in build context or excluded by .dockerignore: "
                            "stat %s: file does not exist",
                            rel);
                return berth_error_set(err, errno, "open %s", rel);
        }
        return fd;
}

int build_copy_hash(const struct build_copy *c, char **ret, struct berth_error **err)
{
        _cleanup_strv_ char **srcs = NULL;
        if (resolve_sources(c, &srcs, err) < 0)
                return -berth_error_code(*err);
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
                EVP_MD_CTX_free(md);
                return berth_error_setx(err, EIO, "sha256");
        }
        struct xfer x = {.c = c, .md = md};
        const char *kind = "file";
        int r = 0;
        for (size_t i = 0; srcs && srcs[i]; i++) {
                _cleanup_close_ int fd = open_source(c, srcs[i], err);
                if (fd < 0) {
                        r = fd;
                        break;
                }
                struct stat st;
                if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
                        kind = "dir";
                hash_str(&x, "\n--source--\n");
                if ((r = xfer_entry(&x, fd, "", -1, "", srcs[i], err)) < 0)
                        break;
        }
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned int dl = 0;
        EVP_DigestFinal_ex(md, d, &dl);
        EVP_MD_CTX_free(md);
        if (r < 0)
                return r;
        char hex[65];
        for (unsigned i = 0; i < 32; i++)
                sprintf(hex + 2 * i, "%02x", d[i]);
        *ret = xasprintf("%s:%s", strv_length(srcs) > 1 ? "multi" : kind, hex);
        return 0;
}

/* Split an absolute destination into its parent dir and base name. */
static void split_dest(const char *dest, char **ret_dir, char **ret_base)
{
        _cleanup_free_ char *d = xstrdup(dest);
        size_t n = strlen(d);
        while (n > 1 && d[n - 1] == '/')
                d[--n] = 0;
        char *slash = strrchr(d, '/');
        *ret_base = xstrdup(slash ? slash + 1 : d);
        if (slash)
                slash[slash == d ? 1 : 0] = 0;
        *ret_dir = xstrdup(slash ? d : "/");
}

int build_copy_run(const struct build_copy *c, int dst_root, struct berth_error **err)
{
        _cleanup_strv_ char **srcs = NULL;
        if (resolve_sources(c, &srcs, err) < 0)
                return -berth_error_code(*err);
        struct xfer x = {.c = c, .copy = true};
        size_t dlen = strlen(c->dest);
        bool dest_is_dir = strv_length(srcs) > 1 || (dlen && c->dest[dlen - 1] == '/') ||
                           (dlen >= 2 && !strcmp(c->dest + dlen - 2, "/."));
        if (strv_length(srcs) > 1 && !(dlen && c->dest[dlen - 1] == '/'))
                return berth_error_setx(err, EINVAL,
                                        "When using %s with more than one source file, the "
                                        "destination must be a directory and end with a /",
                                        c->add ? "ADD" : "COPY");
        for (size_t i = 0; srcs && srcs[i]; i++) {
                _cleanup_close_ int sfd = open_source(c, srcs[i], err);
                if (sfd < 0)
                        return sfd;
                struct stat st;
                if (fstat(sfd, &st) < 0)
                        return berth_error_set(err, errno, "stat %s", srcs[i]);
                bool archive = false;
                if (c->add && S_ISREG(st.st_mode)) {
                        _cleanup_close_ int rfd =
                            berth_open_in_root(c->src_root, srcs[i], O_RDONLY);
                        archive = rfd >= 0 && is_archive(rfd);
                }
                if (S_ISDIR(st.st_mode) || archive) {
                        _cleanup_close_ int dfd = berth_mkdir_in_root(dst_root, c->dest, 0755, err);
                        if (dfd < 0)
                                return berth_error_wrap(err, "destination `%s`", c->dest);
                        _cleanup_close_ int pdir = -1;
                        _cleanup_free_ char *pd = NULL, *base = NULL;
                        if (archive) {
                                split_dest(srcs[i], &pd, &base);
                                pdir = pd && strcmp(pd, "/")
                                           ? berth_open_in_root(c->src_root, pd, O_PATH)
                                           : berth_open_in_root(c->src_root, ".", O_PATH);
                                if (pdir < 0)
                                        return berth_error_set(err, errno, "open %s", srcs[i]);
                                if (xfer_entry(&x, pdir, base, dfd, base, srcs[i], err) < 0)
                                        return -EIO;
                                continue;
                        }
                        if (xfer_entry(&x, sfd, "", dfd, "", srcs[i], err) < 0)
                                return -EIO;
                        continue;
                }
                /* a file: into the directory dest, or as dest itself */
                _cleanup_free_ char *pdir = NULL, *base = NULL;
                _cleanup_close_ int existing = berth_open_in_root(dst_root, c->dest, O_PATH);
                struct stat dst;
                bool into = dest_is_dir ||
                            (existing >= 0 && fstat(existing, &dst) == 0 && S_ISDIR(dst.st_mode));
                _cleanup_close_ int ddir = -1;
                const char *sbase = strrchr(srcs[i], '/') ? strrchr(srcs[i], '/') + 1 : srcs[i];
                if (into) {
                        ddir = berth_mkdir_in_root(dst_root, c->dest, 0755, err);
                        base = xstrdup(sbase);
                } else {
                        split_dest(c->dest, &pdir, &base);
                        ddir = berth_mkdir_in_root(dst_root, pdir, 0755, err);
                }
                if (ddir < 0)
                        return berth_error_wrap(err, "destination `%s`", c->dest);
                _cleanup_free_ char *sp = NULL, *sb = NULL;
                split_dest(srcs[i], &sp, &sb);
                _cleanup_close_ int sdir = strchr(srcs[i], '/')
                                               ? berth_open_in_root(c->src_root, sp, O_PATH)
                                               : berth_open_in_root(c->src_root, ".", O_PATH);
                if (sdir < 0)
                        return berth_error_set(err, errno, "open %s", srcs[i]);
                /* the file itself may be a symlink inside the root: copy what it names */
                struct stat lst;
                if (fstatat(sdir, sb, &lst, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(lst.st_mode)) {
                        if (xfer_entry(&x, sfd, "", ddir, base, srcs[i], err) < 0)
                                return -EIO;
                } else if (xfer_entry(&x, sdir, sb, ddir, base, srcs[i], err) < 0) {
                        return -EIO;
                }
        }
        return 0;
}

int build_chown_parse(int dst_root, const char *spec, uint32_t *ret_uid, uint32_t *ret_gid,
                      struct berth_error **err)
{
        _cleanup_free_ char *user = xstrdup(spec);
        char *group = strchr(user, ':');
        if (group)
                *group++ = 0;
        uint32_t uid = 0, gid = 0;
        bool have_gid = false;
        if (berth_parse_id(user, strlen(user), &uid) < 0) {
                _cleanup_free_ char *pw = NULL;
                size_t len = 0;
                struct berth_passwd_ent *ents = NULL;
                size_t n = 0;
                if (berth_passwd_read_at(dst_root, "/etc/passwd", &pw, &len, err) < 0)
                        return -EIO;
                berth_passwd_parse(pw, len, &ents, &n);
                bool found = false;
                for (size_t i = 0; i < n && !found; i++)
                        if (!strcmp(ents[i].name, user)) {
                                uid = ents[i].uid;
                                gid = ents[i].gid;
                                have_gid = found = true;
                        }
                berth_passwd_free(ents, n);
                if (!found)
                        return berth_error_setx(err, EINVAL,
                                                "unable to convert uid/gid chown string to host "
                                                "mapping: can't find uid for user %s",
                                                user);
        }
        if (group && *group) {
                if (berth_parse_id(group, strlen(group), &gid) < 0) {
                        _cleanup_free_ char *gr = NULL;
                        size_t len = 0;
                        struct berth_group_ent *ents = NULL;
                        size_t n = 0;
                        if (berth_passwd_read_at(dst_root, "/etc/group", &gr, &len, err) < 0)
                                return -EIO;
                        berth_group_parse(gr, len, &ents, &n);
                        bool found = false;
                        for (size_t i = 0; i < n && !found; i++)
                                if (!strcmp(ents[i].name, group)) {
                                        gid = ents[i].gid;
                                        found = true;
                                }
                        berth_group_free(ents, n);
                        if (!found)
                                return berth_error_setx(err, EINVAL,
                                                        "unable to convert uid/gid chown string "
                                                        "to host mapping: can't find gid for "
                                                        "group %s",
                                                        group);
                }
        } else if (!have_gid) {
                gid = uid;
        }
        *ret_uid = uid;
        *ret_gid = gid;
        return 0;
}
