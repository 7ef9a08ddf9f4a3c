/* Push: every blob of the image the registry lacks (HEAD first; a cross-repo mount when the
 * image came from another repository of the same registry; else an upload, in chunks for big
 * blobs), then the manifest. The stored manifest is sent byte for byte, so a pulled image
 * pushes back under the same digest; an image without one (loaded from a docker-archive) gets
 * a schema2 manifest built here, uncompressed layer blobs gzipped into new blobs first. */
#include "image/registry-internal.h"

#include <inttypes.h>
#include <sys/stat.h>
#include <zlib.h>

#define MAX_MANIFEST (4u << 20)
#define MAX_CONFIG   (16u << 20)
#define CHUNK        (32u << 20)

struct push_blob {
        char *digest;
        char *media_type;
        int64_t size;
        char id[13];
        bool is_config;
};

/* gzip the stored blob `digest` into a new blob; returns its digest and size */
static int gzip_blob(struct berth_store *st, const char *digest, char **ret_digest,
                     int64_t *ret_size, struct berth_error **err)
{
        _cleanup_close_ int fd = -1;
        if (berth_store_open_blob(st, digest, &fd, err) < 0)
                return -EIO;
        struct berth_blob_writer *w = NULL;
        if (berth_blob_begin(st, &w, err) < 0)
                return -EIO;
        z_stream z = {0};
        /* 31: a gzip wrapper */
        if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
                berth_blob_abort(w);
                return berth_error_setx(err, ENOMEM, "gzip: init");
        }
        _cleanup_free_ unsigned char *in = xmalloc(1 << 20);
        _cleanup_free_ unsigned char *out = xmalloc(1 << 20);
        int64_t total = 0;
        int r = 0;
        bool eof = false;
        while (r == 0) {
                if (z.avail_in == 0 && !eof) {
                        ssize_t n = read(fd, in, 1 << 20);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0) {
                                r = berth_error_set(err, errno, "read blob %s", digest);
                                break;
                        }
                        eof = n == 0;
                        z.next_in = in;
                        z.avail_in = (uInt)n;
                }
                z.next_out = out;
                z.avail_out = 1 << 20;
                int zr = deflate(&z, eof ? Z_FINISH : Z_NO_FLUSH);
                if (zr == Z_STREAM_ERROR) {
                        r = berth_error_setx(err, EIO, "gzip: deflate failed");
                        break;
                }
                size_t have = (1u << 20) - z.avail_out;
                if (have > 0 && (r = berth_blob_write(w, out, have, err)) < 0)
                        break;
                total += (int64_t)have;
                if (zr == Z_STREAM_END)
                        break;
        }
        deflateEnd(&z);
        if (r < 0) {
                berth_blob_abort(w);
                return r;
        }
        if (berth_blob_commit(w, NULL, ret_digest, err) < 0)
                return -EIO;
        *ret_size = total;
        return 0;
}

static void blobs_free(struct push_blob *b, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(b[i].digest);
                free(b[i].media_type);
        }
        free(b);
}

/* the blobs of a stored manifest, if every one is present locally */
static int blobs_from_manifest(struct berth_images *imgs, const struct image_manifest *m,
                               struct push_blob **ret, size_t *ret_n)
{
        struct berth_store *st = berth_images_blobs(imgs);
        if (!berth_store_has(st, m->config.digest))
                return -ENOENT;
        for (size_t i = 0; i < m->n_layers; i++)
                if (!(m->layers[i].urls && m->layers[i].urls[0]) &&
                    !berth_store_has(st, m->layers[i].digest))
                        return -ENOENT;
        struct push_blob *b = xcalloc(m->n_layers + 1, sizeof(*b));
        size_t n = 0;
        for (size_t i = 0; i < m->n_layers; i++) {
                /* foreign layers stay where their URLs say (docker does not push them) */
                if (m->layers[i].urls && m->layers[i].urls[0])
                        continue;
                b[n].digest = xstrdup(m->layers[i].digest);
                b[n].media_type = xstrdup(m->layers[i].media_type);
                b[n].size = m->layers[i].size;
                n++;
        }
        b[n].digest = xstrdup(m->config.digest);
        b[n].media_type = xstrdup(m->config.media_type);
        b[n].size = m->config.size;
        b[n].is_config = true;
        *ret = b;
        *ret_n = n + 1;
        return 0;
}

/* build a schema2 manifest for image id from its config and recorded layer blobs */
static int build_manifest(struct berth_images *imgs, const char *id, char **ret_body,
                          size_t *ret_len, char **ret_type, struct push_blob **ret, size_t *ret_n,
                          struct berth_error **err)
{
        struct berth_store *st = berth_images_blobs(imgs);
        _cleanup_free_ char *cfg = NULL;
        size_t cfg_len = 0;
        if (images_read_blob(imgs, id, MAX_CONFIG, &cfg, &cfg_len, err) < 0)
                return berth_error_wrap(err, "config of %s", id);
        _cleanup_json_ json_t *config = json_loadb(cfg, cfg_len, 0, NULL);
        _cleanup_strv_ char **diff_ids = NULL;
        if (image_config_diff_ids(config, &diff_ids, NULL, err) < 0)
                return berth_error_wrap(err, "config of %s", id);
        size_t nl = strv_length(diff_ids);
        struct push_blob *b = xcalloc(nl + 1, sizeof(*b));
        bool oci = false;
        int r = 0;
        for (size_t i = 0; i < nl && r == 0; i++) {
                char *digest = NULL, *type = NULL;
                int64_t size = 0;
                r = image_layer_blob_lookup(imgs, diff_ids[i], &digest, &type, &size, err);
                if (r < 0) {
                        berth_error_wrap(err, "layer %s has no stored blob to push", diff_ids[i]);
                        break;
                }
                int comp = image_layer_compression(type);
                if (comp == 0) {
                        char *gz = NULL;
                        int64_t gz_size = 0;
                        r = gzip_blob(st, digest, &gz, &gz_size, err);
                        if (r == 0)
                                r = image_layer_blob_record(imgs, diff_ids[i], gz,
                                                            MEDIA_DOCKER_LAYER, gz_size, err);
                        free(digest);
                        free(type);
                        digest = gz;
                        type = xstrdup(MEDIA_DOCKER_LAYER);
                        size = gz_size;
                } else if (comp == 2) {
                        oci = true;
                }
                b[i].digest = digest;
                b[i].media_type = type;
                b[i].size = size;
        }
        if (r < 0) {
                blobs_free(b, nl + 1);
                return r;
        }
        b[nl].digest = xstrdup(id);
        b[nl].size = (int64_t)cfg_len;
        b[nl].is_config = true;
        b[nl].media_type = xstrdup(oci ? MEDIA_OCI_CONFIG : MEDIA_DOCKER_CONFIG);
        json_t *layers = json_array();
        for (size_t i = 0; i < nl; i++) {
                const char *mt = b[i].media_type;
                if (oci && !strcmp(mt, MEDIA_DOCKER_LAYER))
                        mt = MEDIA_OCI_LAYER_GZIP;
                else if (!oci && !strcmp(mt, MEDIA_OCI_LAYER_GZIP))
                        mt = MEDIA_DOCKER_LAYER;
                char *copy = xstrdup(mt); /* mt may point into b[i].media_type */
                free(b[i].media_type);
                b[i].media_type = copy;
                json_array_append_new(layers,
                                      json_pack("{s:s, s:I, s:s}", "mediaType", copy, "size",
                                                (json_int_t)b[i].size, "digest", b[i].digest));
        }
        const char *type = oci ? MEDIA_OCI_MANIFEST : MEDIA_DOCKER_MANIFEST;
        _cleanup_json_ json_t *man =
            json_pack("{s:i, s:s, s:{s:s, s:I, s:s}, s:o}", "schemaVersion", 2, "mediaType", type,
                      "config", "mediaType", b[nl].media_type, "size", (json_int_t)cfg_len,
                      "digest", id, "layers", layers);
        char *body = json_dumps(man, JSON_INDENT(3) | JSON_PRESERVE_ORDER);
        *ret_len = strlen(body);
        if (berth_store_put(st, body, *ret_len, NULL, NULL, err) < 0) {
                free(body);
                blobs_free(b, nl + 1);
                return berth_error_wrap(err, "store manifest");
        }
        *ret_body = body;
        *ret_type = xstrdup(type);
        *ret = b;
        *ret_n = nl + 1;
        return 0;
}

static char *url_with_query(const char *location, const char *query)
{
        return xasprintf("%s%c%s", location, strchr(location, '?') ? '&' : '?', query);
}

/* upload one blob (the registry lacks it): POST, PATCH chunks for big blobs, PUT ?digest= */
static int upload_blob(struct reg_client *c, struct berth_images *imgs, const struct push_blob *b,
                       const char *mount_from, bool *ret_mounted, struct berth_error **err)
{
        *ret_mounted = false;
        _cleanup_free_ char *what = xasprintf("blob %s", b->digest);
        _cleanup_free_ char *url = NULL;
        if (mount_from)
                url = xasprintf("/v2/%s/blobs/uploads/?mount=%s&from=%s", c->ref.path, b->digest,
                                mount_from);
        else
                url = xasprintf("/v2/%s/blobs/uploads/", c->ref.path);
        struct reg_response r = {0};
        if (reg_request(c, "POST", url, NULL, NULL, 0, -1, 1 << 16, &r, err) < 0)
                return berth_error_wrap(err, "%s", what);
        if (mount_from && r.status == 201) {
                reg_response_release(&r);
                *ret_mounted = true;
                return 0;
        }
        if (r.status != 202 || !r.location) {
                int e = r.status == 202 ? berth_error_setx(err, EIO, "%s: no upload location", what)
                                        : reg_status_error(err, &r, what);
                reg_response_release(&r);
                return e;
        }
        _cleanup_free_ char *loc = TAKE_PTR(r.location);
        reg_response_release(&r);
        _cleanup_close_ int fd = -1;
        if (berth_store_open_blob(berth_images_blobs(imgs), b->digest, &fd, err) < 0)
                return berth_error_wrap(err, "%s", what);
        struct stat sb;
        if (fstat(fd, &sb) < 0)
                return berth_error_set(err, errno, "%s", what);
        uint64_t size = (uint64_t)sb.st_size;
        const char *octet = "Content-Type: application/octet-stream";
        uint64_t off = 0;
        /* big blobs go in chunks (progress, and no single huge request); small ones in the PUT */
        while (size > CHUNK && off < size) {
                uint64_t n = size - off < CHUNK ? size - off : CHUNK;
                char range[64];
                snprintf(range, sizeof(range), "Content-Range: %" PRIu64 "-%" PRIu64, off,
                         off + n - 1);
                const char *hdrs[] = {octet, range, NULL};
                if (lseek(fd, (off_t)off, SEEK_SET) < 0)
                        return berth_error_set(err, errno, "%s", what);
                if (reg_request(c, "PATCH", loc, hdrs, NULL, n, fd, 1 << 16, &r, err) < 0)
                        return berth_error_wrap(err, "%s", what);
                if (r.status != 202 || !r.location) {
                        int e = reg_status_error(err, &r, what);
                        reg_response_release(&r);
                        return e;
                }
                free(loc);
                loc = TAKE_PTR(r.location);
                reg_response_release(&r);
                off += n;
                if (!b->is_config)
                        reg_progress(c, b->id, "Pushing", off, size);
        }
        _cleanup_free_ char *q = xasprintf("digest=%s", b->digest);
        _cleanup_free_ char *put = url_with_query(loc, q);
        const char *hdrs[] = {octet, NULL};
        uint64_t rest = size - off;
        if (lseek(fd, (off_t)off, SEEK_SET) < 0)
                return berth_error_set(err, errno, "%s", what);
        if (reg_request(c, "PUT", put, hdrs, NULL, rest, fd, 1 << 16, &r, err) < 0)
                return berth_error_wrap(err, "%s", what);
        if (r.status != 201) {
                int e = reg_status_error(err, &r, what);
                reg_response_release(&r);
                return e;
        }
        if (r.docker_digest && strcmp(r.docker_digest, b->digest)) {
                int e = berth_error_setx(err, EBADMSG, "%s: the registry stored %s", what,
                                         r.docker_digest);
                reg_response_release(&r);
                return e;
        }
        reg_response_release(&r);
        return 0;
}

/* repositories of the same registry the image was pulled from: cross-repo mount sources */
static char **mount_sources(struct berth_images *imgs, const char *id, const struct berth_ref *to)
{
        _cleanup_json_ json_t *info = NULL;
        char **out = NULL;
        if (berth_image_inspect(imgs, id, &info, NULL) < 0)
                return NULL;
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(info, "RepoDigests"), i, v)
        {
                struct berth_ref r = {0};
                const char *s = json_string_value(v);
                if (!s || berth_ref_parse(s, &r, NULL) < 0)
                        continue;
                if (!strcmp(r.domain, to->domain) && strcmp(r.path, to->path))
                        strv_push(&out, r.path);
                berth_ref_release(&r);
        }
        return out;
}

int berth_image_push(struct berth_images *imgs, const char *ref,
                     const struct berth_registry_opts *o, char **ret_digest,
                     struct berth_error **err)
{
        _cleanup_(reg_client_release) struct reg_client c = {0};
        if (reg_client_init(&c, ref, "pull,push", o, err) < 0)
                return berth_error_wrap(err, "push `%s`", ref);
        _cleanup_free_ char *named = berth_ref_familiar(&c.ref);
        _cleanup_free_ char *id = NULL;
        if (berth_image_resolve(imgs, named, &id, err) < 0)
                return berth_error_wrap(err, "push `%s`", named);
        _cleanup_free_ char *mdig = NULL;
        if (berth_image_manifest(imgs, id, &mdig, err) < 0)
                return berth_error_wrap(err, "push `%s`", named);
        _cleanup_free_ char *body = NULL, *type = NULL;
        size_t len = 0;
        struct push_blob *blobs = NULL;
        size_t nb = 0;
        if (mdig) {
                struct image_manifest *m = NULL;
                if (images_read_blob(imgs, mdig, MAX_MANIFEST, &body, &len, err) < 0 ||
                    image_manifest_parse(body, len, NULL, &m, err) < 0)
                        return berth_error_wrap(err, "push `%s`: manifest %s", named, mdig);
                if (blobs_from_manifest(imgs, m, &blobs, &nb) == 0)
                        type = xstrdup(m->media_type);
                image_manifest_free(m);
                if (!blobs) {
                        free(body);
                        body = NULL;
                }
        }
        if (!blobs && build_manifest(imgs, id, &body, &len, &type, &blobs, &nb, err) < 0)
                return berth_error_wrap(err, "push `%s`", named);
        _cleanup_strv_ char **from = mount_sources(imgs, id, &c.ref);
        for (size_t i = 0; from && from[i]; i++) {
                _cleanup_free_ char *s = xasprintf("repository:%s:pull", from[i]);
                reg_client_add_scope(&c, s);
        }
        _cleanup_free_ char *head = xasprintf("The push refers to repository [%s]", c.repo);
        reg_progress(&c, NULL, head, 0, 0);
        for (size_t i = 0; i < nb; i++) {
                reg_short_id(blobs[i].digest, blobs[i].id);
                if (!blobs[i].is_config)
                        reg_progress(&c, blobs[i].id, "Preparing", 0, 0);
        }
        int r = 0;
        /* layers bottom-most last, like docker's output; the config after the layers */
        for (size_t k = 0; k < nb && r == 0; k++) {
                struct push_blob *b = &blobs[k];
                _cleanup_free_ char *url = xasprintf("/v2/%s/blobs/%s", c.ref.path, b->digest);
                struct reg_response resp = {0};
                if ((r = reg_request(&c, "HEAD", url, NULL, NULL, 0, -1, 0, &resp, err)) < 0) {
                        berth_error_wrap(err, "push `%s`: blob %s", named, b->digest);
                        break;
                }
                long st = resp.status;
                reg_response_release(&resp);
                if (st == 200) {
                        if (!b->is_config)
                                reg_progress(&c, b->id, "Layer already exists", 0, 0);
                        continue;
                }
                if (st != 404) {
                        resp.status = st;
                        _cleanup_free_ char *what =
                            xasprintf("push `%s`: blob %s", named, b->digest);
                        r = reg_status_error(err, &resp, what);
                        break;
                }
                bool mounted = false;
                for (size_t f = 0; from && from[f] && !mounted && !b->is_config; f++) {
                        struct berth_error *e = NULL;
                        /* a failed mount attempt falls back to an upload */
                        if (upload_blob(&c, imgs, b, from[f], &mounted, &e) == 0 && mounted) {
                                _cleanup_free_ char *msg = xasprintf("Mounted from %s", from[f]);
                                reg_progress(&c, b->id, msg, 0, 0);
                        }
                        berth_error_free(e);
                }
                if (mounted)
                        continue;
                if (!b->is_config)
                        reg_progress(&c, b->id, "Pushing", 0, (uint64_t)b->size);
                if ((r = upload_blob(&c, imgs, b, NULL, &mounted, err)) < 0) {
                        berth_error_wrap(err, "push `%s`", named);
                        break;
                }
                if (!b->is_config)
                        reg_progress(&c, b->id, "Pushed", 0, 0);
        }
        blobs_free(blobs, nb);
        if (r < 0)
                return r;
        const char *tag = c.ref.tag ? c.ref.tag : "latest";
        _cleanup_free_ char *murl = xasprintf("/v2/%s/manifests/%s", c.ref.path, tag);
        _cleanup_free_ char *ctype = xasprintf("Content-Type: %s", type);
        const char *hdrs[] = {ctype, NULL};
        struct reg_response resp = {0};
        if (reg_request(&c, "PUT", murl, hdrs, body, len, -1, 1 << 16, &resp, err) < 0)
                return berth_error_wrap(err, "push `%s`: manifest", named);
        if (resp.status != 201) {
                _cleanup_free_ char *what = xasprintf("push `%s`: manifest", named);
                r = reg_status_error(err, &resp, what);
                reg_response_release(&resp);
                return r;
        }
        _cleanup_free_ char *digest = reg_sha256_digest(body, len);
        if (resp.docker_digest && strcmp(resp.docker_digest, digest)) {
                r = berth_error_setx(err, EBADMSG,
                                     "push `%s`: the registry reports manifest %s, sent %s", named,
                                     resp.docker_digest, digest);
                reg_response_release(&resp);
                return r;
        }
        reg_response_release(&resp);
        _cleanup_free_ char *msg = xasprintf("%s: digest: %s size: %zu", tag, digest, len);
        reg_progress(&c, NULL, msg, 0, 0);
        if (ret_digest)
                *ret_digest = TAKE_PTR(digest);
        return 0;
}
