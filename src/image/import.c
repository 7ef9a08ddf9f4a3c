/* docker import (a rootfs tar becomes a one-layer image) and docker commit (a container's
 * overlay upper dir becomes a layer on top of its image's).
 *
 * Both end the way load and pull do: the layer goes through berth_layer_import (the one checked
 * extraction path: RESOLVE_IN_ROOT, no writes through symlinks, entry/size/ratio bounds), the
 * config is stored as a blob and berth_image_commit makes the image visible in one transaction.
 * The layer tar is kept uncompressed as a blob (its digest is its diff id) so save and push
 * find it like a pulled layer's. */
#include "image/internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <ctype.h>
#include <limits.h>
#include <sys/xattr.h>

#define IMPORT_BUF (1u << 20)

static void archive_read_freep(struct archive **a)
{
        if (*a)
                archive_read_free(*a);
}

static void archive_write_freep(struct archive **a)
{
        if (*a)
                archive_write_free(*a);
}

static char *now_rfc3339(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return berth_time_rfc3339(&ts);
}

/* ---------------------------------------------------------------- storing the layer */

/* Decompress (any filter libarchive knows: gzip, zstd, xz, bzip2 or none) the stream on fd into
 * a new blob: its digest is the diff id. Bounded like every layer (size and ratio). */
static int spool_layer(struct berth_images *imgs, int fd, char **ret_diff_id,
                       struct berth_error **err)
{
        const struct berth_layer_limits *lim = &berth_layer_default_limits;
        _cleanup_(archive_read_freep) struct archive *a = archive_read_new();
        archive_read_support_filter_all(a);
        archive_read_support_format_raw(a);
        struct archive_entry *e;
        if (archive_read_open_fd(a, fd, IMPORT_BUF) != ARCHIVE_OK ||
            archive_read_next_header(a, &e) != ARCHIVE_OK)
                return berth_error_setx(err, EINVAL, "import: %s",
                                        archive_error_string(a) ? archive_error_string(a)
                                                                : "empty input");
        struct berth_blob_writer *w = NULL;
        if (berth_blob_begin(berth_images_blobs(imgs), &w, err) < 0)
                return -EIO;
        uint64_t total = 0;
        const void *buf;
        size_t size;
        la_int64_t off;
        int r;
        while ((r = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK) {
                total += size;
                la_int64_t in = archive_filter_bytes(a, -1);
                if (total > lim->max_bytes || (total > (UINT64_C(64) << 20) && in > 0 &&
                                               total / (uint64_t)in > lim->max_ratio)) {
                        berth_blob_abort(w);
                        return berth_error_setx(err, EFBIG,
                                                "import: the tar decompresses beyond the layer "
                                                "limits (a decompression bomb?)");
                }
                if (berth_blob_write(w, buf, size, err) < 0) {
                        berth_blob_abort(w);
                        return -EIO;
                }
        }
        if (r != ARCHIVE_EOF) {
                berth_blob_abort(w);
                return berth_error_setx(err, EINVAL, "import: %s", archive_error_string(a));
        }
        if (total == 0) {
                berth_blob_abort(w);
                return berth_error_setx(err, EINVAL, "import: empty input");
        }
        return berth_blob_commit(w, NULL, ret_diff_id, err);
}

/* The uncompressed tar blob diff_id unpacked as the layer chain_id and recorded as its blob.
 * On failure the blob is removed unless keep_blob (it was there before). */
static int unpack_blob(struct berth_images *imgs, const char *chain_id, const char *diff_id,
                       bool keep_blob, struct berth_error **err)
{
        struct berth_store *st = berth_images_blobs(imgs);
        _cleanup_close_ int fd = -1;
        int r = berth_store_open_blob(st, diff_id, &fd, err);
        if (r == 0)
                r = berth_layer_import(imgs, chain_id, diff_id, fd, NULL, err);
        struct stat s;
        if (r == 0 && fstat(fd, &s) < 0)
                r = berth_error_set(err, errno, "stat layer blob");
        if (r == 0)
                r = image_layer_blob_record(imgs, diff_id, diff_id, MEDIA_OCI_LAYER, s.st_size,
                                            err);
        if (r < 0 && !keep_blob)
                berth_store_remove(st, diff_id, NULL);
        return r;
}

/* Store config and make the image visible under tag. */
static int store_image(struct berth_images *imgs, json_t *config, const char *tag, char **ret_id,
                       struct berth_error **err)
{
        _cleanup_free_ char *doc = json_dumps(config, JSON_COMPACT | JSON_SORT_KEYS);
        _cleanup_free_ char *digest = NULL;
        if (berth_store_put(berth_images_blobs(imgs), doc, strlen(doc), NULL, &digest, err) < 0)
                return -EIO;
        return berth_image_commit(imgs, digest, NULL, NULL, tag && *tag ? tag : NULL, ret_id, err);
}

/* ---------------------------------------------------------------- import */

/* "linux/amd64[/v8]" (NULL: the host's) → os, architecture, variant */
static int parse_platform(const char *platform, char **ret_os, char **ret_arch, char **ret_variant,
                          struct berth_error **err)
{
        if (!platform || !*platform) {
                *ret_os = xstrdup("linux");
                *ret_arch = xstrdup(image_host_arch());
                *ret_variant = image_host_variant() ? xstrdup(image_host_variant()) : NULL;
                return 0;
        }
        _cleanup_free_ char *copy = xstrdup(platform);
        char *save = NULL;
        char *os = strtok_r(copy, "/", &save);
        char *arch = os ? strtok_r(NULL, "/", &save) : NULL;
        char *variant = arch ? strtok_r(NULL, "/", &save) : NULL;
        if (!os || strtok_r(NULL, "/", &save))
                return berth_error_setx(err, EINVAL, "invalid platform `%s`", platform);
        for (char *c = copy; *c; c++)
                *c = (char)tolower((unsigned char)*c);
        if (strcmp(os, "linux"))
                return berth_error_setx(
                    err, EINVAL, "platform `%s`: operating system is not supported", platform);
        *ret_os = xstrdup(os);
        *ret_arch = xstrdup(arch ? arch : image_host_arch());
        *ret_variant = variant ? xstrdup(variant) : NULL;
        return 0;
}

int berth_image_import(struct berth_images *imgs, int fd, const struct berth_import_opts *o,
                       char **ret_id, struct berth_error **err)
{
        _cleanup_free_ char *os = NULL, *arch = NULL, *variant = NULL;
        if (parse_platform(o->platform, &os, &arch, &variant, err) < 0)
                return -EINVAL;
        if (o->tag && *o->tag) {
                struct berth_ref ref = {0};
                if (berth_ref_parse(o->tag, &ref, err) < 0)
                        return berth_error_wrap(err, "invalid reference format");
                bool digest = ref.digest != NULL;
                berth_ref_release(&ref);
                if (digest)
                        return berth_error_setx(err, EINVAL,
                                                "import: `%s`: a tag cannot be a digest", o->tag);
        }
        /* the changes are checked before the (maybe large) tar is read */
        _cleanup_json_ json_t *cfg = json_object();
        if (berth_image_apply_changes(cfg, o->changes, err) < 0)
                return -EINVAL;
        _cleanup_free_ char *diff_id = NULL;
        if (spool_layer(imgs, fd, &diff_id, err) < 0)
                return -EINVAL;
        bool had_layer = berth_layer_exists(imgs, diff_id);
        if (unpack_blob(imgs, diff_id, diff_id, had_layer, err) < 0)
                return berth_error_wrap(err, "import");
        _cleanup_free_ char *created = now_rfc3339();
        _cleanup_free_ char *msg = o->message && *o->message
                                       ? xstrdup(o->message)
                                       : xasprintf("Imported from %s", o->source ? o->source : "-");
        _cleanup_json_ json_t *config = json_pack(
            "{s:s, s:s, s:s, s:s, s:O, s:{s:s, s:[s]}, s:[{s:s, s:s}]}", "architecture", arch, "os",
            os, "created", created, "comment", msg, "config", cfg, "rootfs", "type", "layers",
            "diff_ids", diff_id, "history", "created", created, "comment", msg);
        if (variant)
                json_object_set_new(config, "variant", json_string(variant));
        int r = store_image(imgs, config, o->tag, ret_id, err);
        if (r < 0 && !had_layer)
                berth_store_remove(berth_images_blobs(imgs), diff_id, NULL);
        return r < 0 ? berth_error_wrap(err, "import") : 0;
}

static size_t curl_write(char *p, size_t size, size_t n, void *userdata)
{
        int fd = *(int *)userdata;
        size_t len = size * n, done = 0;
        while (done < len) {
                ssize_t w = write(fd, p + done, len - done);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return 0;
                done += (size_t)w;
        }
        return len;
}

static void curl_freep(CURL **c)
{
        if (*c)
                curl_easy_cleanup(*c);
}

int berth_image_import_url(struct berth_images *imgs, const char *url,
                           const struct berth_import_opts *o, char **ret_id,
                           struct berth_error **err)
{
        if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
                return berth_error_setx(err, EINVAL, "import: `%s` is not an http(s) URL", url);
        /* the changes first: a bad one fails before the download */
        _cleanup_json_ json_t *check = json_object();
        if (berth_image_apply_changes(check, o->changes, err) < 0)
                return -EINVAL;
        _cleanup_close_ int tmp = openat(imgs->otmpfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (tmp < 0)
                return berth_error_set(err, errno, "import: scratch file");
        _cleanup_(curl_freep) CURL *c = curl_easy_init();
        if (!c)
                return berth_error_setx(err, EIO, "import: curl init");
        char errbuf[CURL_ERROR_SIZE] = "";
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &tmp);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
        CURLcode cr = curl_easy_perform(c);
        if (cr != CURLE_OK)
                return berth_error_setx(err, EIO, "import: download `%s`: %s", url,
                                        *errbuf ? errbuf : curl_easy_strerror(cr));
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 400)
                return berth_error_setx(err, EIO, "import: download `%s`: HTTP status %ld", url,
                                        status);
        if (lseek(tmp, 0, SEEK_SET) < 0)
                return berth_error_set(err, errno, "import: scratch file");
        struct berth_import_opts copy = *o;
        if (!copy.source)
                copy.source = url;
        return berth_image_import(imgs, tmp, &copy, ret_id, err);
}

/* ---------------------------------------------------------------- commit: upper dir → tar */

struct tar_out {
        struct archive *a;
        struct berth_blob_writer *w;
        struct berth_error *err;
        /* hardlinks: the first path seen of each (dev, ino) with more than one link */
        struct link {
                dev_t dev;
                ino_t ino;
                char *path;
        } * links;
        size_t n_links;
        uint64_t entries;
};

static la_ssize_t tar_write_cb(struct archive *a, void *userdata, const void *buf, size_t len)
{
        struct tar_out *t = userdata;
        if (berth_blob_write(t->w, buf, len, &t->err) < 0) {
                archive_set_error(a, EIO, "%s", t->err ? t->err->msg : "write");
                return -1;
        }
        return (la_ssize_t)len;
}

static void entry_freep(struct archive_entry **e)
{
        if (*e)
                archive_entry_free(*e);
}

static int header(struct tar_out *t, struct archive_entry *e, const char *path,
                  struct berth_error **err)
{
        if (++t->entries > berth_layer_default_limits.max_entries)
                return berth_error_setx(err, EFBIG, "commit: more than %llu files changed",
                                        (unsigned long long)berth_layer_default_limits.max_entries);
        if (archive_write_header(t->a, e) != ARCHIVE_OK) {
                if (t->err) {
                        *err = TAKE_PTR(t->err);
                        return -EIO;
                }
                return berth_error_setx(err, EIO, "commit: `%s`: %s", path,
                                        archive_error_string(t->a));
        }
        return 0;
}

/* An empty regular file entry (whiteouts) */
static int marker(struct tar_out *t, const char *path, const struct stat *st,
                  struct berth_error **err)
{
        _cleanup_(entry_freep) struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, path);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0);
        archive_entry_set_size(e, 0);
        archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
        return header(t, e, path, err);
}

/* xattrs of an open file, without overlayfs' own (trusted.overlay.*: its bookkeeping) */
static void add_xattrs(struct archive_entry *e, int fd)
{
        char names[65536];
        ssize_t n = flistxattr(fd, names, sizeof(names));
        for (ssize_t i = 0; n > 0 && i < n; i += (ssize_t)strlen(names + i) + 1) {
                const char *name = names + i;
                if (!strncmp(name, "trusted.overlay.", 16))
                        continue;
                char value[65536];
                ssize_t vl = fgetxattr(fd, name, value, sizeof(value));
                if (vl >= 0)
                        archive_entry_xattr_add_entry(e, name, value, (size_t)vl);
        }
}

static int copy_data(struct tar_out *t, int fd, const char *path, struct berth_error **err)
{
        _cleanup_free_ char *buf = xmalloc(IMPORT_BUF);
        ssize_t n;
        while ((n = read(fd, buf, IMPORT_BUF)) > 0)
                if (archive_write_data(t->a, buf, (size_t)n) != n) {
                        if (t->err) {
                                *err = TAKE_PTR(t->err);
                                return -EIO;
                        }
                        return berth_error_setx(err, EIO, "commit: `%s`: %s", path,
                                                archive_error_string(t->a));
                }
        if (n < 0)
                return berth_error_set(err, errno, "commit: read `%s`", path);
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(struct tar_out *t, int dirfd_, const char *rel, struct berth_error **err);

static int one_entry(struct tar_out *t, int dirfd_, const char *name, const char *rel,
                     struct berth_error **err)
{
        struct stat st;
        _cleanup_free_ char *path = *rel ? xasprintf("%s/%s", rel, name) : xstrdup(name);
        if (fstatat(dirfd_, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT)
                        return 0; /* removed while we walk (an unpaused commit) */
                return berth_error_set(err, errno, "commit: `%s`", path);
        }
        if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
                /* an overlay whiteout: the lower file was deleted */
                _cleanup_free_ char *wh =
                    *rel ? xasprintf("%s/.wh.%s", rel, name) : xasprintf(".wh.%s", name);
                return marker(t, wh, &st, err);
        }
        if (S_ISSOCK(st.st_mode))
                return 0; /* docker leaves sockets out too */
        _cleanup_(entry_freep) struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, path);
        archive_entry_copy_stat(e, &st);
        archive_entry_set_mtime(e, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
        /* atime/ctime make every commit differ for nothing */
        archive_entry_unset_atime(e);
        archive_entry_unset_ctime(e);
        archive_entry_unset_birthtime(e);
        archive_entry_set_ino64(e, 0);
        archive_entry_set_dev(e, 0);
        archive_entry_set_nlink(e, 1);
        if (S_ISLNK(st.st_mode)) {
                char target[PATH_MAX + 1];
                ssize_t n = readlinkat(dirfd_, name, target, PATH_MAX);
                if (n < 0)
                        return berth_error_set(err, errno, "commit: readlink `%s`", path);
                target[n] = '\0';
                archive_entry_set_symlink(e, target);
                return header(t, e, path, err);
        }
        if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
                for (size_t i = 0; i < t->n_links; i++)
                        if (t->links[i].dev == st.st_dev && t->links[i].ino == st.st_ino) {
                                archive_entry_set_hardlink(e, t->links[i].path);
                                archive_entry_set_size(e, 0);
                                return header(t, e, path, err);
                        }
                t->links = xrealloc(t->links, (t->n_links + 1) * sizeof(*t->links));
                t->links[t->n_links++] =
                    (struct link){.dev = st.st_dev, .ino = st.st_ino, .path = xstrdup(path)};
        }
        if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
                archive_entry_set_size(e, 0);
                return header(t, e, path, err);
        }
        /* A running container (commit --pause=false) may swap the file for a device node it
         * made (MKNOD is a default capability) between fstatat and open: the daemon must not
         * open, let alone read, a host device. Pin the inode with O_PATH, check it is the one
         * stat saw, then reopen it through /proc/self/fd. */
        _cleanup_close_ int pfd = openat(dirfd_, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat pst;
        if (pfd < 0 && errno == ENOENT)
                return 0;
        if (pfd < 0 || fstat(pfd, &pst) < 0)
                return berth_error_set(err, errno, "commit: open `%s`", path);
        if (pst.st_ino != st.st_ino || pst.st_dev != st.st_dev ||
            (pst.st_mode & S_IFMT) != (st.st_mode & S_IFMT))
                return berth_error_setx(err, EAGAIN, "commit: `%s` changed while it was read",
                                        path);
        char proc[64];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
        _cleanup_close_ int fd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
                                                (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
        if (fd < 0)
                return berth_error_set(err, errno, "commit: open `%s`", path);
        add_xattrs(e, fd);
        if (S_ISDIR(st.st_mode)) {
                archive_entry_set_size(e, 0);
                if (header(t, e, path, err) < 0)
                        return -EIO;
                char v[2];
                ssize_t n = fgetxattr(fd, "trusted.overlay.opaque", v, sizeof(v));
                if (n == 1 && v[0] == 'y') {
                        /* an opaque dir: nothing of the lower layers' dir shows through */
                        _cleanup_free_ char *opq = xasprintf("%s/.wh..wh..opq", path);
                        if (marker(t, opq, &st, err) < 0)
                                return -EIO;
                }
                return walk(t, fd, path, err);
        }
        if (header(t, e, path, err) < 0)
                return -EIO;
        return copy_data(t, fd, path, err);
}

/* Depth first, parents before children, names sorted (the same upper dir, the same tar). */
static int walk(struct tar_out *t, int dirfd_, const char *rel, struct berth_error **err)
{
        int fd = openat(dirfd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return berth_error_set(err, errno, "commit: open `%s`", *rel ? rel : "/");
        _cleanup_dir_ DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return berth_error_set(err, errno, "commit: open `%s`", *rel ? rel : "/");
        }
        _cleanup_strv_ char **names = NULL;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                strv_push(&names, de->d_name);
                n++;
        }
        if (n)
                qsort(names, n, sizeof(char *), cmp_str);
        for (size_t i = 0; i < n; i++)
                if (one_entry(t, dirfd(d), names[i], rel, err) < 0)
                        return -EIO;
        return 0;
}

/* The tar of upper as a new blob: *ret_diff_id gets its digest. */
static int tar_upper(struct berth_images *imgs, const char *upper, char **ret_diff_id,
                     struct berth_error **err)
{
        _cleanup_close_ int ufd = open(upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (ufd < 0)
                return berth_error_set(err, errno, "commit: `%s`", upper);
        struct tar_out t = {0};
        if (berth_blob_begin(berth_images_blobs(imgs), &t.w, err) < 0)
                return -EIO;
        _cleanup_(archive_write_freep) struct archive *a = archive_write_new();
        t.a = a;
        archive_write_set_format_pax_restricted(a);
        archive_write_set_bytes_per_block(a, 10240);
        int r = 0;
        if (archive_write_open2(a, &t, NULL, tar_write_cb, NULL, NULL) != ARCHIVE_OK)
                r = berth_error_setx(err, EIO, "commit: %s", archive_error_string(a));
        if (r == 0)
                r = walk(&t, ufd, "", err);
        if (r == 0 && archive_write_close(a) != ARCHIVE_OK)
                r = berth_error_setx(err, EIO, "commit: %s", archive_error_string(a));
        for (size_t i = 0; i < t.n_links; i++)
                free(t.links[i].path);
        free(t.links);
        berth_error_free(t.err);
        if (r < 0) {
                berth_blob_abort(t.w);
                return r;
        }
        return berth_blob_commit(t.w, NULL, ret_diff_id, err);
}

int berth_image_commit_dir(struct berth_images *imgs, const char *upper,
                           const struct berth_commit_opts *o, char **ret_id,
                           struct berth_error **err)
{
        _cleanup_json_ json_t *parent = NULL;
        _cleanup_strv_ char **diff = NULL, **chain = NULL;
        if (images_load_config(imgs, o->parent, &parent, err) < 0 ||
            image_config_diff_ids(parent, &diff, &chain, err) < 0)
                return berth_error_wrap(err, "commit: image `%s`", o->parent);
        if (o->tag && *o->tag) {
                struct berth_ref ref = {0};
                if (berth_ref_parse(o->tag, &ref, err) < 0)
                        return berth_error_wrap(err, "invalid reference format");
                berth_ref_release(&ref);
        }
        _cleanup_free_ char *diff_id = NULL;
        if (tar_upper(imgs, upper, &diff_id, err) < 0)
                return -EIO;
        size_t n = strv_length(diff);
        _cleanup_free_ char *chain_id = berth_chain_id(n ? chain[n - 1] : NULL, diff_id);
        bool had_layer = berth_layer_exists(imgs, chain_id);
        /* the same tar may already be a layer elsewhere (an empty commit): keep its blob then */
        bool had_blob = had_layer;
        if (unpack_blob(imgs, chain_id, diff_id, had_blob, err) < 0)
                return berth_error_wrap(err, "commit");

        _cleanup_free_ char *created = now_rfc3339();
        json_t *config = parent; /* edited in place: it is ours */
        json_object_set(config, "config", o->config);
        if (o->container_config)
                json_object_set(config, "container_config", o->container_config);
        else
                json_object_del(config, "container_config");
        if (o->container_id)
                json_object_set_new(config, "container", json_string(o->container_id));
        json_object_set_new(config, "created", json_string(created));
        json_object_set_new(config, "parent", json_string(o->parent));
        if (o->author && *o->author)
                json_object_set_new(config, "author", json_string(o->author));
        else
                json_object_del(config, "author");
        if (o->comment && *o->comment)
                json_object_set_new(config, "comment", json_string(o->comment));
        else
                json_object_del(config, "comment");
        json_t *rootfs = json_object_get(config, "rootfs");
        json_array_append_new(json_object_get(rootfs, "diff_ids"), json_string(diff_id));
        json_t *history = json_object_get(config, "history");
        if (!json_is_array(history)) {
                history = json_array();
                json_object_set_new(config, "history", history);
        }
        /* docker: created_by is the container's command line */
        _cleanup_free_ char *created_by = xstrdup("");
        json_t *cmd = json_object_get(o->container_config ? o->container_config : o->config, "Cmd");
        size_t i;
        json_t *v;
        json_array_foreach(cmd, i, v)
        {
                char *next = xasprintf("%s%s%s", created_by, i ? " " : "", json_string_value(v));
                free(created_by);
                created_by = next;
        }
        json_t *h = json_pack("{s:s, s:s}", "created", created, "created_by", created_by);
        if (o->author && *o->author)
                json_object_set_new(h, "author", json_string(o->author));
        if (o->comment && *o->comment)
                json_object_set_new(h, "comment", json_string(o->comment));
        json_array_append_new(history, h);
        if (store_image(imgs, config, o->tag, ret_id, err) < 0)
                return berth_error_wrap(err, "commit");
        return 0;
}
