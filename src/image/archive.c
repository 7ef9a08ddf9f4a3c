/* docker save / docker load: docker-archive tars (manifest.json + repositories, with an OCI
 * index.json / oci-layout / blobs beside them like docker 25+ writes) and OCI image layouts
 * (skopeo oci-archive:, umoci). The archive is read once into a scratch dir under overlay/tmp
 * (its entries may come in any order), then imported image by image; nothing becomes visible
 * before berth_image_commit. */
#include "image/internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#define MAX_ENTRIES 100000
#define MAX_JSON    (32u << 20)

static void archive_rfreep(struct archive **a)
{
        if (*a)
                archive_read_free(*a);
}

static void archive_wfreep(struct archive **a)
{
        if (*a)
                archive_write_free(*a);
}

/* ---------------------------------------------------------------- reading an archive */

struct member {
        char *path;
        char *file; /* scratch file name, NULL for links */
        char *link; /* in-archive path a symlink/hardlink points to */
};

struct scratch {
        struct berth_images *imgs;
        char name[96];
        int dirfd;
        struct member *m;
        size_t n;
};

static void scratch_release(struct scratch *s)
{
        for (size_t i = 0; i < s->n; i++) {
                free(s->m[i].path);
                free(s->m[i].file);
                free(s->m[i].link);
        }
        free(s->m);
        if (s->dirfd >= 0) {
                close(s->dirfd);
                berth_rm_rf_at(s->imgs->otmpfd, s->name, NULL);
        }
}

/* "./a//b/" → "a/b"; NULL for anything with ".." */
static char *clean(const char *base_dir, const char *in)
{
        _cleanup_free_ char *joined =
            base_dir && in[0] != '/' ? xasprintf("%s/%s", base_dir, in) : xstrdup(in);
        char *out = NULL;
        if (berth_path_clean_rel(joined, 0, &out) < 0)
                return NULL;
        return out;
}

static int read_members(struct scratch *s, int in_fd, struct berth_error **err)
{
        _cleanup_(archive_rfreep) struct archive *a = archive_read_new();
        archive_read_support_filter_all(a);
        archive_read_support_format_tar(a);
        if (archive_read_open_fd(a, in_fd, 1 << 20) != ARCHIVE_OK)
                return berth_error_setx(err, EINVAL, "%s", archive_error_string(a));
        struct archive_entry *e;
        int r;
        _cleanup_free_ char *buf = xmalloc(1 << 20);
        while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
                if (s->n >= MAX_ENTRIES)
                        return berth_error_setx(err, EFBIG, "more than %d entries", MAX_ENTRIES);
                _cleanup_free_ char *path = clean(NULL, archive_entry_pathname(e));
                if (!path)
                        return berth_error_setx(err, EINVAL, "entry `%s`: `..` is not allowed",
                                                archive_entry_pathname(e));
                const char *hard = archive_entry_hardlink(e);
                mode_t type = archive_entry_filetype(e);
                struct member mb = {0};
                if (hard) {
                        mb.link = clean(NULL, hard);
                } else if (type == AE_IFLNK) {
                        _cleanup_free_ char *dir = xstrdup(path);
                        char *slash = strrchr(dir, '/');
                        if (slash)
                                *slash = 0;
                        else
                                *dir = 0;
                        mb.link = clean(*dir ? dir : NULL, archive_entry_symlink(e));
                } else if (type == AE_IFREG) {
                        mb.file = xasprintf("f%zu", s->n);
                        _cleanup_close_ int fd = openat(
                            s->dirfd, mb.file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                        if (fd < 0) {
                                free(mb.file);
                                return berth_error_set(err, errno, "scratch file");
                        }
                        la_ssize_t n;
                        while ((n = archive_read_data(a, buf, 1 << 20)) > 0)
                                if (write(fd, buf, (size_t)n) != n) {
                                        free(mb.file);
                                        return berth_error_set(err, errno, "scratch write");
                                }
                        if (n < 0) {
                                free(mb.file);
                                return berth_error_setx(err, EINVAL, "entry `%s`: %s", path,
                                                        archive_error_string(a));
                        }
                } else {
                        continue;
                }
                if (!mb.file && !mb.link)
                        continue;
                mb.path = TAKE_PTR(path);
                s->m = xrealloc(s->m, (s->n + 1) * sizeof(*s->m));
                s->m[s->n++] = mb;
        }
        if (r != ARCHIVE_EOF)
                return berth_error_setx(err, EINVAL, "%s", archive_error_string(a));
        return 0;
}

/* The scratch file of an in-archive path, following links (a few hops) */
static const char *member_file(struct scratch *s, const char *path)
{
        _cleanup_free_ char *p = clean(NULL, path);
        for (int hop = 0; p && hop < 8; hop++) {
                struct member *found = NULL;
                for (size_t i = 0; i < s->n; i++)
                        if (!strcmp(s->m[i].path, p))
                                found = &s->m[i];
                if (!found)
                        return NULL;
                if (found->file)
                        return found->file;
                free(p);
                p = found->link ? xstrdup(found->link) : NULL;
        }
        return NULL;
}

static int member_open(struct scratch *s, const char *path, int *ret_fd, struct berth_error **err)
{
        const char *f = member_file(s, path);
        if (!f)
                return berth_error_setx(err, ENOENT, "`%s` is not in the archive", path);
        int fd = openat(s->dirfd, f, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return berth_error_set(err, errno, "open `%s`", path);
        *ret_fd = fd;
        return 0;
}

static json_t *member_json(struct scratch *s, const char *path, struct berth_error **err)
{
        _cleanup_close_ int fd = -1;
        if (member_open(s, path, &fd, err) < 0)
                return NULL;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        if (images_read_fd(fd, MAX_JSON, &buf, &len, err) < 0)
                return NULL;
        json_error_t jerr;
        json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!j)
                berth_error_setx(err, EINVAL, "`%s`: invalid JSON: %s", path, jerr.text);
        return j;
}

/* ---------------------------------------------------------------- load */

static void progress(berth_progress_fn fn, void *ud, const char *id, const char *status,
                     uint64_t cur, uint64_t total)
{
        if (!fn)
                return;
        struct berth_progress p = {.id = id, .status = status, .current = cur, .total = total};
        fn(&p, ud);
}

static const char *media_of_file(int fd)
{
        unsigned char m[4] = {0};
        ssize_t n = pread(fd, m, 4, 0);
        if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b)
                return MEDIA_OCI_LAYER_GZIP;
        if (n == 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
                return MEDIA_OCI_LAYER_ZSTD;
        return MEDIA_OCI_LAYER;
}

/* Unpack (when missing) and store layer i of an image from an archive member. */
static int load_layer(struct scratch *s, const char *path, const char *diff_id,
                      const char *chain_id, const char *expected_blob, const char *media_type,
                      berth_progress_fn fn, void *ud, struct berth_error **err)
{
        const char *f = member_file(s, path);
        if (!f)
                return berth_error_setx(err, ENOENT, "layer `%s` is not in the archive", path);
        char shortid[13];
        snprintf(shortid, sizeof(shortid), "%.12s", diff_id + 7);
        _cleanup_close_ int fd = openat(s->dirfd, f, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return berth_error_set(err, errno, "open `%s`", path);
        const char *mt = media_type ? media_type : media_of_file(fd);
        _cleanup_free_ char *blob = NULL;
        if (berth_store_adopt(berth_images_blobs(s->imgs), s->dirfd, f, expected_blob, &blob, err) <
            0)
                return berth_error_wrap(err, "layer `%s`", path);
        if (!berth_layer_exists(s->imgs, chain_id)) {
                progress(fn, ud, shortid, "Loading layer", 0, (uint64_t)st.st_size);
                if (berth_layer_import(s->imgs, chain_id, diff_id, fd, NULL, err) < 0)
                        return berth_error_wrap(err, "layer `%s`", path);
        }
        progress(fn, ud, shortid, "Loading layer", (uint64_t)st.st_size, (uint64_t)st.st_size);
        return image_layer_blob_record(s->imgs, diff_id, blob, mt, (int64_t)st.st_size, err);
}

static void loaded_push(char ***out, const char *id, char **tags)
{
        if (!tags || !tags[0]) {
                _cleanup_free_ char *l = xasprintf("Loaded image ID: %s", id);
                strv_push(out, l);
                return;
        }
        for (size_t i = 0; tags[i]; i++) {
                _cleanup_free_ char *l = xasprintf("Loaded image: %s", tags[i]);
                strv_push(out, l);
        }
}

/* familiar "name:tag" of a reference string, NULL when it is not one */
static char *familiar_tag(const char *s)
{
        struct berth_ref r = {0};
        if (!s || berth_ref_parse(s, &r, NULL) < 0)
                return NULL;
        if (r.digest) {
                berth_ref_release(&r);
                return NULL;
        }
        if (!r.tag)
                r.tag = xstrdup("latest");
        char *f = berth_ref_familiar(&r);
        berth_ref_release(&r);
        return f;
}

static int commit_named(struct berth_images *imgs, const char *config, const char *manifest,
                        char **tags, char ***out, struct berth_error **err)
{
        _cleanup_free_ char *id = NULL;
        if (berth_image_commit(imgs, config, manifest, NULL, tags && tags[0] ? tags[0] : NULL, &id,
                               err) < 0)
                return -EIO;
        for (size_t i = 1; tags && tags[i]; i++)
                if (berth_image_tag(imgs, id, tags[i], err) < 0)
                        return -EIO;
        loaded_push(out, id, tags);
        return 0;
}

static int load_docker(struct scratch *s, json_t *manifest, berth_progress_fn fn, void *ud,
                       char ***out, struct berth_error **err)
{
        if (!json_is_array(manifest))
                return berth_error_setx(err, EINVAL, "manifest.json: not an array");
        size_t i;
        json_t *item;
        json_array_foreach(manifest, i, item)
        {
                const char *cfgpath = json_string_value(json_object_get(item, "Config"));
                json_t *layers = json_object_get(item, "Layers");
                if (!cfgpath || !json_is_array(layers))
                        return berth_error_setx(err, EINVAL,
                                                "manifest.json entry %zu: no Config or Layers", i);
                const char *cf = member_file(s, cfgpath);
                if (!cf)
                        return berth_error_setx(err, ENOENT, "config `%s` is not in the archive",
                                                cfgpath);
                _cleanup_free_ char *cfg_digest = NULL;
                if (berth_store_adopt(berth_images_blobs(s->imgs), s->dirfd, cf, NULL, &cfg_digest,
                                      err) < 0)
                        return -EIO;
                _cleanup_json_ json_t *config = NULL;
                _cleanup_strv_ char **diff = NULL, **chain = NULL;
                if (images_load_config(s->imgs, cfg_digest, &config, err) < 0 ||
                    image_config_diff_ids(config, &diff, &chain, err) < 0)
                        return berth_error_wrap(err, "config `%s`", cfgpath);
                if (json_array_size(layers) != strv_length(diff))
                        return berth_error_setx(err, EINVAL,
                                                "manifest.json entry %zu: %zu layers but the "
                                                "config has %zu diff ids",
                                                i, json_array_size(layers), strv_length(diff));
                for (size_t k = 0; diff[k]; k++) {
                        const char *lp = json_string_value(json_array_get(layers, k));
                        if (!lp)
                                return berth_error_setx(
                                    err, EINVAL, "manifest.json entry %zu: bad layer %zu", i, k);
                        if (load_layer(s, lp, diff[k], chain[k], NULL, NULL, fn, ud, err) < 0)
                                return -EIO;
                }
                _cleanup_strv_ char **tags = NULL;
                json_t *rt = json_object_get(item, "RepoTags");
                size_t t;
                json_t *tv;
                json_array_foreach(rt, t, tv)
                {
                        _cleanup_free_ char *f = familiar_tag(json_string_value(tv));
                        if (!f)
                                return berth_error_setx(err, EINVAL,
                                                        "manifest.json: bad RepoTag `%s`",
                                                        json_string_value(tv) ?: "");
                        strv_push(&tags, f);
                }
                if (commit_named(s->imgs, cfg_digest, NULL, tags, out, err) < 0)
                        return -EIO;
        }
        return 0;
}

static char *blob_path(const char *digest)
{
        return xasprintf("blobs/%.*s/%s", (int)(strchr(digest, ':') - digest), digest,
                         strchr(digest, ':') + 1);
}

static int load_oci_manifest(struct scratch *s, const struct image_descriptor *d, char **tags,
                             berth_progress_fn fn, void *ud, char ***out, struct berth_error **err)
{
        _cleanup_free_ char *mpath = blob_path(d->digest);
        const char *mf = member_file(s, mpath);
        if (!mf)
                return berth_error_setx(err, ENOENT, "manifest %s is not in the archive",
                                        d->digest);
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        _cleanup_close_ int mfd = openat(s->dirfd, mf, O_RDONLY | O_CLOEXEC);
        if (mfd < 0)
                return berth_error_set(err, errno, "open manifest %s", d->digest);
        if (images_read_fd(mfd, MAX_JSON, &buf, &len, err) < 0)
                return -EIO;
        struct image_manifest *m = NULL;
        if (image_manifest_parse(buf, len, d->media_type, &m, err) < 0)
                return berth_error_wrap(err, "manifest %s", d->digest);
        int r = 0;
        if (image_manifest_is_index(m)) {
                const struct image_descriptor *sel = NULL;
                r = image_index_select(m, NULL, &sel, err);
                if (r == 0)
                        r = load_oci_manifest(s, sel, tags, fn, ud, out, err);
                image_manifest_free(m);
                return r;
        }
        _cleanup_free_ char *mdigest = NULL;
        _cleanup_free_ char *cpath = blob_path(m->config.digest);
        const char *cf = member_file(s, cpath);
        _cleanup_json_ json_t *config = NULL;
        _cleanup_strv_ char **diff = NULL, **chain = NULL;
        if (!cf) {
                r = berth_error_setx(err, ENOENT, "config %s is not in the archive",
                                     m->config.digest);
                goto out;
        }
        if ((r = berth_store_adopt(berth_images_blobs(s->imgs), s->dirfd, mf, d->digest, &mdigest,
                                   err)) < 0 ||
            (r = berth_store_adopt(berth_images_blobs(s->imgs), s->dirfd, cf, m->config.digest,
                                   NULL, err)) < 0 ||
            (r = images_load_config(s->imgs, m->config.digest, &config, err)) < 0 ||
            (r = image_config_diff_ids(config, &diff, &chain, err)) < 0)
                goto out;
        if (m->n_layers != strv_length(diff)) {
                r = berth_error_setx(err, EINVAL,
                                     "manifest %s: %zu layers but the config has %zu diff ids",
                                     d->digest, m->n_layers, strv_length(diff));
                goto out;
        }
        for (size_t k = 0; k < m->n_layers; k++) {
                _cleanup_free_ char *lp = blob_path(m->layers[k].digest);
                if ((r = load_layer(s, lp, diff[k], chain[k], m->layers[k].digest,
                                    m->layers[k].media_type, fn, ud, err)) < 0)
                        goto out;
        }
        r = commit_named(s->imgs, m->config.digest, mdigest, tags, out, err);
out:
        image_manifest_free(m);
        return r;
}

static int load_oci(struct scratch *s, json_t *index, berth_progress_fn fn, void *ud, char ***out,
                    struct berth_error **err)
{
        _cleanup_free_ char *text = json_dumps(index, JSON_COMPACT);
        struct image_manifest *idx = NULL;
        if (image_manifest_parse(text, strlen(text), MEDIA_OCI_INDEX, &idx, err) < 0)
                return berth_error_wrap(err, "index.json");
        json_t *list = json_object_get(index, "manifests");
        int r = 0;
        for (size_t i = 0; r == 0 && i < idx->n_manifests; i++) {
                json_t *ann = json_object_get(json_array_get(list, i), "annotations");
                const char *name =
                    json_string_value(json_object_get(ann, "io.containerd.image.name"));
                const char *refname =
                    json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name"));
                /* an index of several platforms loads the host's only, like docker */
                const struct image_descriptor *d = &idx->manifests[i];
                if (d->architecture && d->os &&
                    (strcmp(d->os, "linux") || strcmp(d->architecture, image_host_arch())))
                        continue;
                _cleanup_strv_ char **tags = NULL;
                _cleanup_free_ char *f = familiar_tag(name);
                /* a bare tag ("latest") names no repository: such images load without one */
                if (!f && refname && strpbrk(refname, "/:"))
                        f = familiar_tag(refname);
                if (f)
                        strv_push(&tags, f);
                r = load_oci_manifest(s, &idx->manifests[i], tags, fn, ud, out, err);
        }
        image_manifest_free(idx);
        if (r == 0 && !*out)
                return berth_error_setx(err, ENOENT, "index.json: no image for linux/%s",
                                        image_host_arch());
        return r;
}

int berth_image_load(struct berth_images *imgs, int in_fd, berth_progress_fn fn, void *userdata,
                     char ***ret_loaded, struct berth_error **err)
{
        static unsigned counter;
        _cleanup_(scratch_release) struct scratch s = {.imgs = imgs, .dirfd = -1};
        snprintf(s.name, sizeof(s.name), "load-%d-%u", (int)getpid(),
                 __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
        if (mkdirat(imgs->otmpfd, s.name, 0700) < 0 ||
            (s.dirfd = openat(imgs->otmpfd, s.name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                return berth_error_set(err, errno, "load: scratch dir");
        if (read_members(&s, in_fd, err) < 0)
                return berth_error_wrap(err, "load");
        _cleanup_strv_ char **out = NULL;
        int r;
        if (member_file(&s, "manifest.json")) {
                _cleanup_json_ json_t *m = member_json(&s, "manifest.json", err);
                r = m ? load_docker(&s, m, fn, userdata, &out, err) : -EINVAL;
        } else if (member_file(&s, "index.json")) {
                _cleanup_json_ json_t *idx = member_json(&s, "index.json", err);
                r = idx ? load_oci(&s, idx, fn, userdata, &out, err) : -EINVAL;
        } else {
                r = berth_error_setx(err, EINVAL,
                                     "neither manifest.json nor index.json: not an image archive");
        }
        if (r < 0)
                return berth_error_wrap(err, "load");
        if (!out)
                return berth_error_setx(err, EINVAL, "load: the archive holds no image");
        if (ret_loaded)
                *ret_loaded = TAKE_PTR(out);
        return 0;
}

#ifndef BERTH_DEFAULT_IMAGE_BUILD
#define BERTH_DEFAULT_IMAGE_BUILD ""
#endif
#ifndef BERTH_DEFAULT_IMAGE_INSTALL
#define BERTH_DEFAULT_IMAGE_INSTALL "/usr/local/share/berth/default-image.tar"
#endif

const char *berth_default_image_path(void)
{
        const char *env = getenv("BERTH_DEFAULT_IMAGE");
        if (env && *env)
                return env;
        if (*BERTH_DEFAULT_IMAGE_BUILD && access(BERTH_DEFAULT_IMAGE_BUILD, R_OK) == 0)
                return BERTH_DEFAULT_IMAGE_BUILD;
        return BERTH_DEFAULT_IMAGE_INSTALL;
}

int berth_image_load_default(struct berth_images *imgs, char ***ret_loaded,
                             struct berth_error **err)
{
        static const char marker[] = "default-image-loaded";
        if (faccessat(imgs->rootfd, marker, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
                if (ret_loaded)
                        *ret_loaded = NULL;
                return 0;
        }
        const char *path = berth_default_image_path();
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return berth_error_set(err, errno, "default image `%s`", path);
        _cleanup_strv_ char **loaded = NULL;
        if (berth_image_load(imgs, fd, NULL, NULL, &loaded, err) < 0)
                return berth_error_wrap(err, "default image `%s`", path);
        if (berth_write_atomic_at(imgs->rootfd, marker, path, strlen(path), err) < 0)
                return -EIO;
        if (ret_loaded)
                *ret_loaded = TAKE_PTR(loaded);
        return 0;
}

/* ---------------------------------------------------------------- save */

static int write_entry(struct archive *a, const char *path, mode_t type, int64_t size,
                       struct berth_error **err)
{
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, path);
        archive_entry_set_filetype(e, type);
        archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
        archive_entry_set_size(e, type == AE_IFDIR ? 0 : size);
        archive_entry_set_mtime(e, 0, 0);
        int r = archive_write_header(a, e);
        archive_entry_free(e);
        if (r != ARCHIVE_OK)
                return berth_error_setx(err, EIO, "save: `%s`: %s", path, archive_error_string(a));
        return 0;
}

static int write_data(struct archive *a, const char *path, const void *data, size_t len,
                      struct berth_error **err)
{
        if (write_entry(a, path, AE_IFREG, (int64_t)len, err) < 0)
                return -EIO;
        if (len && archive_write_data(a, data, len) != (la_ssize_t)len)
                return berth_error_setx(err, EIO, "save: `%s`: %s", path, archive_error_string(a));
        return 0;
}

static int write_fd(struct archive *a, const char *path, int fd, struct berth_error **err)
{
        struct stat st;
        if (fstat(fd, &st) < 0 || lseek(fd, 0, SEEK_SET) < 0)
                return berth_error_set(err, errno, "save: `%s`", path);
        if (write_entry(a, path, AE_IFREG, st.st_size, err) < 0)
                return -EIO;
        _cleanup_free_ char *buf = xmalloc(1 << 20);
        ssize_t n;
        while ((n = read(fd, buf, 1 << 20)) > 0)
                if (archive_write_data(a, buf, (size_t)n) != n)
                        return berth_error_setx(err, EIO, "save: `%s`: %s", path,
                                                archive_error_string(a));
        if (n < 0)
                return berth_error_set(err, errno, "save: read `%s`", path);
        return 0;
}

/* The uncompressed layer tar of diff_id as an fd (the stored blob, decompressed when needed). */
static int layer_tar(struct berth_images *imgs, const char *diff_id, int *ret_fd,
                     struct berth_error **err)
{
        _cleanup_free_ char *blob = NULL, *mt = NULL;
        if (image_layer_blob_lookup(imgs, diff_id, &blob, &mt, NULL, err) < 0)
                return -ENOENT;
        _cleanup_close_ int fd = -1;
        if (berth_store_open_blob(berth_images_blobs(imgs), blob, &fd, err) < 0)
                return -EIO;
        if (!strcmp(blob, diff_id)) {
                *ret_fd = TAKE_FD(fd);
                return 0;
        }
        _cleanup_close_ int tmp = openat(imgs->otmpfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (tmp < 0)
                return berth_error_set(err, errno, "save: scratch file");
        _cleanup_free_ char *got = NULL;
        if (image_decompress(fd, tmp, &got, err) < 0)
                return berth_error_wrap(err, "save: layer %s", diff_id);
        if (strcmp(got, diff_id))
                return berth_error_setx(err, EBADMSG,
                                        "save: layer blob %s decompresses to %s, not %s", blob, got,
                                        diff_id);
        *ret_fd = TAKE_FD(tmp);
        return 0;
}

static char *sha256_digest(const void *data, size_t len)
{
        unsigned char md[32];
        unsigned mdlen = 32;
        EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
        char hex[65];
        for (int i = 0; i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", md[i]);
        return xasprintf("sha256:%s", hex);
}

struct saved {
        char *id;
        char **tags; /* familiar */
};

int berth_image_save(struct berth_images *imgs, char *const *names, int out_fd,
                     struct berth_error **err)
{
        struct saved *sv = NULL;
        size_t nsv = 0;
        int r = 0;
        for (size_t i = 0; names && names[i]; i++) {
                _cleanup_free_ char *id = NULL;
                if ((r = berth_image_resolve(imgs, names[i], &id, err)) < 0)
                        goto out;
                size_t k;
                for (k = 0; k < nsv && strcmp(sv[k].id, id); k++)
                        ;
                if (k == nsv) {
                        sv = xrealloc(sv, (nsv + 1) * sizeof(*sv));
                        sv[nsv++] = (struct saved){.id = TAKE_PTR(id)};
                }
                /* a name (not an id) is saved as its tag */
                _cleanup_free_ char *tag = familiar_tag(names[i]);
                bool is_id = !strncmp(names[i], "sha256:", 7) ||
                             strspn(names[i], "0123456789abcdef") == strlen(names[i]);
                if (tag && !is_id)
                        strv_push(&sv[k].tags, tag);
        }
        if (nsv == 0) {
                r = berth_error_setx(err, EINVAL, "save: no image named");
                goto out;
        }
        {
                _cleanup_(archive_wfreep) struct archive *a = archive_write_new();
                archive_write_set_format_pax_restricted(a);
                if (archive_write_open_fd(a, out_fd) != ARCHIVE_OK) {
                        r = berth_error_setx(err, EIO, "save: %s", archive_error_string(a));
                        goto out;
                }
                _cleanup_strv_ char **written = NULL;
                _cleanup_json_ json_t *manifest = json_array();
                _cleanup_json_ json_t *index = json_array();
                _cleanup_json_ json_t *repos = json_object();
                if ((r = write_entry(a, "blobs", AE_IFDIR, 0, err)) < 0 ||
                    (r = write_entry(a, "blobs/sha256", AE_IFDIR, 0, err)) < 0)
                        goto out;
                for (size_t i = 0; i < nsv; i++) {
                        _cleanup_json_ json_t *cfg = NULL;
                        _cleanup_strv_ char **diff = NULL;
                        if ((r = images_load_config(imgs, sv[i].id, &cfg, err)) < 0 ||
                            (r = image_config_diff_ids(cfg, &diff, NULL, err)) < 0)
                                goto out;
                        _cleanup_free_ char *cpath = blob_path(sv[i].id);
                        _cleanup_close_ int cfd = -1;
                        if ((r = berth_store_open_blob(berth_images_blobs(imgs), sv[i].id, &cfd,
                                                       err)) < 0 ||
                            (r = write_fd(a, cpath, cfd, err)) < 0)
                                goto out;
                        json_t *layer_paths = json_array();
                        json_t *oci_layers = json_array();
                        for (size_t k = 0; diff[k]; k++) {
                                _cleanup_free_ char *lpath = blob_path(diff[k]);
                                json_array_append_new(layer_paths, json_string(lpath));
                                _cleanup_close_ int lfd = -1;
                                if ((r = layer_tar(imgs, diff[k], &lfd, err)) < 0) {
                                        json_decref(layer_paths);
                                        json_decref(oci_layers);
                                        goto out;
                                }
                                struct stat st;
                                fstat(lfd, &st);
                                json_array_append_new(oci_layers,
                                                      json_pack("{s:s, s:s, s:I}", "mediaType",
                                                                MEDIA_OCI_LAYER, "digest", diff[k],
                                                                "size", (json_int_t)st.st_size));
                                bool dup = false;
                                for (size_t w = 0; written && written[w]; w++)
                                        dup |= !strcmp(written[w], diff[k]);
                                if (dup)
                                        continue;
                                if ((r = write_fd(a, lpath, lfd, err)) < 0) {
                                        json_decref(layer_paths);
                                        json_decref(oci_layers);
                                        goto out;
                                }
                                strv_push(&written, diff[k]);
                        }
                        struct stat cst;
                        fstat(cfd, &cst);
                        json_t *om = json_pack(
                            "{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType",
                            MEDIA_OCI_MANIFEST, "config", "mediaType", MEDIA_OCI_CONFIG, "digest",
                            sv[i].id, "size", (json_int_t)cst.st_size, "layers", oci_layers);
                        _cleanup_free_ char *omtext = json_dumps(om, JSON_COMPACT);
                        json_decref(om);
                        _cleanup_free_ char *omdigest = sha256_digest(omtext, strlen(omtext));
                        _cleanup_free_ char *ompath = blob_path(omdigest);
                        if ((r = write_data(a, ompath, omtext, strlen(omtext), err)) < 0) {
                                json_decref(layer_paths);
                                goto out;
                        }
                        json_t *tags = json_array();
                        for (size_t t = 0; sv[i].tags && sv[i].tags[t]; t++) {
                                json_array_append_new(tags, json_string(sv[i].tags[t]));
                                struct berth_ref ref = {0};
                                if (berth_ref_parse(sv[i].tags[t], &ref, NULL) < 0)
                                        continue;
                                _cleanup_free_ char *full = berth_ref_full(&ref);
                                _cleanup_free_ char *repo = berth_ref_repo(&ref);
                                json_array_append_new(
                                    index, json_pack("{s:s, s:s, s:I, s:{s:s, s:s}}", "mediaType",
                                                     MEDIA_OCI_MANIFEST, "digest", omdigest, "size",
                                                     (json_int_t)strlen(omtext), "annotations",
                                                     "io.containerd.image.name", full,
                                                     "org.opencontainers.image.ref.name", ref.tag));
                                if (diff[0]) {
                                        json_t *rp = json_object_get(repos, repo);
                                        if (!rp)
                                                json_object_set_new(repos, repo,
                                                                    rp = json_object());
                                        json_object_set_new(
                                            rp, ref.tag,
                                            json_string(diff[strv_length(diff) - 1] + 7));
                                }
                                berth_ref_release(&ref);
                        }
                        if (!sv[i].tags)
                                json_array_append_new(
                                    index, json_pack("{s:s, s:s, s:I}", "mediaType",
                                                     MEDIA_OCI_MANIFEST, "digest", omdigest, "size",
                                                     (json_int_t)strlen(omtext)));
                        if (json_array_size(tags) == 0) {
                                json_decref(tags);
                                tags = json_null();
                        }
                        json_array_append_new(manifest,
                                              json_pack("{s:s, s:o, s:o}", "Config", cpath,
                                                        "RepoTags", tags, "Layers", layer_paths));
                }
                json_t *idx = json_pack("{s:i, s:s, s:O}", "schemaVersion", 2, "mediaType",
                                        MEDIA_OCI_INDEX, "manifests", index);
                _cleanup_free_ char *idxtext = json_dumps(idx, JSON_COMPACT);
                json_decref(idx);
                _cleanup_free_ char *mtext = json_dumps(manifest, JSON_COMPACT);
                _cleanup_free_ char *rtext = json_dumps(repos, JSON_COMPACT);
                static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
                if ((r = write_data(a, "index.json", idxtext, strlen(idxtext), err)) < 0 ||
                    (r = write_data(a, "manifest.json", mtext, strlen(mtext), err)) < 0 ||
                    (r = write_data(a, "oci-layout", layout, strlen(layout), err)) < 0 ||
                    (json_object_size(repos) &&
                     (r = write_data(a, "repositories", rtext, strlen(rtext), err)) < 0))
                        goto out;
                if (archive_write_close(a) != ARCHIVE_OK) {
                        r = berth_error_setx(err, EIO, "save: %s", archive_error_string(a));
                        goto out;
                }
        }
out:
        for (size_t i = 0; i < nsv; i++) {
                free(sv[i].id);
                strv_free(sv[i].tags);
        }
        free(sv);
        return r;
}
