/* Layers into the store: a compressed (gzip, zstd or none) layer stream decompressed, its
 * diff id verified while it is unpacked under overlay/tmp, then renamed into place and
 * recorded; and the record of which compressed blobs a diff id came from (for push and save). */
#include "image/internal.h"

#include <archive.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>

#define IO_BUF (1u << 20)

static ssize_t fd_read(void *userdata, void *buf, size_t len, struct berth_error **err);

/* ---------------------------------------------------------------- layer import */

bool berth_layer_exists(struct berth_images *imgs, const char *chain_id)
{
        LOCK(imgs);
        return images_query_exists(imgs, "SELECT 1 FROM layers WHERE chain_id = ?", chain_id);
}

/* The compressed stream → decompressed bytes, hashed as they pass to the tar reader. */
struct stream {
        image_read_fn read;
        void *userdata;
        int compression; /* 0 none, 1 gzip, 2 zstd */
        z_stream z;
        bool z_init, z_end;
        ZSTD_DStream *zs;
        size_t zs_last;
        unsigned char *in;
        size_t in_len, in_pos;
        bool in_eof;
        unsigned char *out;
        EVP_MD_CTX *md;
        uint64_t in_total, out_total;
        const struct berth_layer_limits *lim;
        struct berth_error *err;
};

static int stream_fill(struct stream *s)
{
        if (s->in_pos < s->in_len || s->in_eof)
                return 0;
        ssize_t n = s->read(s->userdata, s->in, IO_BUF, &s->err);
        if (n < 0) {
                if (!s->err)
                        berth_error_set(&s->err, (int)-n, "layer stream: read");
                return -EIO;
        }
        s->in_pos = 0;
        s->in_len = (size_t)n;
        s->in_total += (uint64_t)n;
        if (n == 0)
                s->in_eof = true;
        return 0;
}

/* Next decompressed chunk: its length, 0 at the end, -1 on error (s->err). */
static ssize_t stream_next(struct stream *s, const void **ret)
{
        for (;;) {
                if (s->err || stream_fill(s) < 0)
                        return -1;
                size_t produced = 0;
                const void *data = s->out;
                if (s->compression == 0) {
                        if (s->in_pos == s->in_len)
                                return 0; /* stream_fill left nothing: the end */
                        data = s->in + s->in_pos;
                        produced = s->in_len - s->in_pos;
                        s->in_pos = s->in_len;
                } else if (s->compression == 1) {
                        bool at_end = s->in_eof && s->in_pos == s->in_len;
                        if (at_end && s->z_end)
                                return 0;
                        if (s->z_end) {
                                /* another gzip member follows (or trailing zero padding) */
                                if (s->in[s->in_pos] == 0) {
                                        s->in_pos = s->in_len;
                                        continue;
                                }
                                inflateReset(&s->z);
                                inflateValidate(&s->z, 0);
                                s->z_end = false;
                        }
                        s->z.next_in = s->in + s->in_pos;
                        s->z.avail_in = (uInt)(s->in_len - s->in_pos);
                        s->z.next_out = s->out;
                        s->z.avail_out = IO_BUF;
                        int zr = inflate(&s->z, Z_NO_FLUSH);
                        s->in_pos = s->in_len - s->z.avail_in;
                        if (zr == Z_STREAM_END)
                                s->z_end = true;
                        else if (zr != Z_OK && zr != Z_BUF_ERROR) {
                                berth_error_setx(&s->err, EINVAL, "layer stream: gzip: %s",
                                                 s->z.msg ? s->z.msg : "corrupt data");
                                return -1;
                        }
                        produced = IO_BUF - s->z.avail_out;
                        if (produced == 0 && at_end && !s->z_end) {
                                berth_error_setx(&s->err, EINVAL,
                                                 "layer stream: truncated gzip data");
                                return -1;
                        }
                } else {
                        bool at_end = s->in_eof && s->in_pos == s->in_len;
                        /* 0 from the last call: a frame ended there */
                        if (at_end && s->zs_last == 0)
                                return 0;
                        ZSTD_inBuffer ib = {s->in, s->in_len, s->in_pos};
                        ZSTD_outBuffer ob = {s->out, IO_BUF, 0};
                        size_t zr = ZSTD_decompressStream(s->zs, &ob, &ib);
                        if (ZSTD_isError(zr)) {
                                berth_error_setx(&s->err, EINVAL, "layer stream: zstd: %s",
                                                 ZSTD_getErrorName(zr));
                                return -1;
                        }
                        s->zs_last = zr;
                        s->in_pos = ib.pos;
                        produced = ob.pos;
                        if (produced == 0 && at_end && zr != 0) {
                                berth_error_setx(&s->err, EINVAL,
                                                 "layer stream: truncated zstd data");
                                return -1;
                        }
                }
                if (produced == 0)
                        continue;
                s->out_total += produced;
                if (s->out_total > (UINT64_C(64) << 20) && s->in_total > 0 &&
                    s->out_total / s->in_total > s->lim->max_ratio) {
                        berth_error_setx(&s->err, EFBIG,
                                         "layer decompresses more than %llu:1 (a decompression "
                                         "bomb)",
                                         (unsigned long long)s->lim->max_ratio);
                        return -1;
                }
                EVP_DigestUpdate(s->md, data, produced);
                *ret = data;
                return (ssize_t)produced;
        }
}

static la_ssize_t archive_read_cb(struct archive *a, void *userdata, const void **buf)
{
        struct stream *s = userdata;
        ssize_t n = stream_next(s, buf);
        if (n < 0) {
                archive_set_error(a, EIO, "%s", s->err ? s->err->msg : "read error");
                return -1;
        }
        return n;
}

static int stream_init(struct stream *s, image_read_fn read, void *userdata,
                       struct berth_error **err)
{
        s->read = read;
        s->userdata = userdata;
        s->lim = &berth_layer_default_limits;
        s->in = xmalloc(IO_BUF);
        s->out = xmalloc(IO_BUF);
        s->md = EVP_MD_CTX_new();
        if (!s->md || !EVP_DigestInit_ex(s->md, EVP_sha256(), NULL))
                return berth_error_setx(err, EIO, "sha256 init");
        /* the first bytes say what it is */
        while (s->in_len < 4 && !s->in_eof) {
                ssize_t n = read(userdata, s->in + s->in_len, IO_BUF - s->in_len, &s->err);
                if (n < 0) {
                        if (!s->err)
                                berth_error_set(&s->err, (int)-n, "layer stream: read");
                        *err = TAKE_PTR(s->err);
                        return -EIO;
                }
                if (n == 0)
                        s->in_eof = true;
                s->in_len += (size_t)n;
                s->in_total += (uint64_t)n;
        }
        const unsigned char *m = s->in;
        if (s->in_len >= 2 && m[0] == 0x1f && m[1] == 0x8b) {
                s->compression = 1;
                if (inflateInit2(&s->z, 15 + 16) != Z_OK)
                        return berth_error_setx(err, EIO, "zlib init");
                s->z_init = true;
                /* the sha256 of the output (the diff id) is checked anyway: no crc32 too */
                inflateValidate(&s->z, 0);
        } else if (s->in_len >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) {
                s->compression = 2;
                s->zs = ZSTD_createDStream();
                s->zs_last = 1;
                if (!s->zs)
                        return berth_error_setx(err, EIO, "zstd init");
                ZSTD_DCtx_setParameter(s->zs, ZSTD_d_windowLogMax, 31);
        } else if (s->in_len >= 6 && !memcmp(m,
                                             "\xfd"
                                             "7zXZ",
                                             5)) {
                return berth_error_setx(err, ENOTSUP, "layer stream: xz layers are not supported");
        }
        return 0;
}

static void stream_release(struct stream *s)
{
        if (s->z_init)
                inflateEnd(&s->z);
        ZSTD_freeDStream(s->zs);
        EVP_MD_CTX_free(s->md);
        free(s->in);
        free(s->out);
        berth_error_free(s->err);
}

static void archive_freep(struct archive **a)
{
        if (*a)
                archive_read_free(*a);
}

static ssize_t drain(struct stream *s)
{
        const void *buf;
        ssize_t n;
        while ((n = stream_next(s, &buf)) > 0)
                ;
        return n;
}

/* Unpack the stream into overlay/tmp/<tmp>/diff, check the diff id, rename into place. */
static int unpack_verified(struct berth_images *imgs, struct stream *s, const char *tmp,
                           const char *chex, const char *dhex, struct berth_layer_stats *st,
                           struct berth_error **err)
{
        if (mkdirat(imgs->otmpfd, tmp, 0700) < 0)
                return berth_error_set(err, errno, "mkdir");
        _cleanup_close_ int tmpfd =
            openat(imgs->otmpfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_close_ int difffd = -1;
        if (tmpfd >= 0 && mkdirat(tmpfd, "diff", 0755) == 0)
                difffd = openat(tmpfd, "diff", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (difffd < 0)
                return berth_error_set(err, errno, "mkdir");
        _cleanup_(archive_freep) struct archive *a = archive_read_new();
        archive_read_support_format_tar(a);
        archive_read_support_filter_none(a);
        if (archive_read_open2(a, s, NULL, archive_read_cb, NULL, NULL) != ARCHIVE_OK) {
                if (s->err) {
                        *err = TAKE_PTR(s->err);
                        return -EIO;
                }
                return berth_error_setx(err, EINVAL, "%s", archive_error_string(a));
        }
        struct berth_error *aerr = NULL;
        int r = layer_apply_archive(difffd, a, NULL, st, &aerr);
        if (r < 0) {
                /* a stream error (gzip, read) says more than libarchive's echo of it */
                if (s->err) {
                        berth_error_free(aerr);
                        *err = TAKE_PTR(s->err);
                } else {
                        *err = aerr;
                }
                return r;
        }
        /* the tar end is not the stream end: padding counts for the diff id too */
        if (drain(s) < 0) {
                *err = TAKE_PTR(s->err);
                return -EIO;
        }
        unsigned char md[32];
        unsigned mdlen = 32;
        EVP_DigestFinal_ex(s->md, md, &mdlen);
        _cleanup_free_ char *got = images_sha256_hex(md);
        if (strcmp(got, dhex))
                return berth_error_setx(
                    err, EBADMSG, "diff id mismatch: expected sha256:%s, got sha256:%s", dhex, got);
        if (renameat(imgs->otmpfd, tmp, imgs->overlayfd, chex) < 0) {
                if (errno != EEXIST && errno != ENOTEMPTY)
                        return berth_error_set(err, errno, "rename");
                /* another import of the same layer won */
                berth_rm_rf_at(imgs->otmpfd, tmp, NULL);
        }
        return 0;
}

int image_layer_import_cb(struct berth_images *imgs, const char *chain_id, const char *diff_id,
                          image_read_fn read, void *userdata, struct berth_layer_stats *ret_stats,
                          struct berth_error **err)
{
        char chex[65], dhex[65];
        if (berth_digest_parse(chain_id, chex, err) < 0 ||
            berth_digest_parse(diff_id, dhex, err) < 0)
                return berth_error_wrap(err, "layer import");
        bool present = berth_layer_exists(imgs, chain_id);
        _cleanup_(stream_release) struct stream s = {0};
        if (stream_init(&s, read, userdata, err) < 0)
                return berth_error_wrap(err, "layer %.19s", diff_id);
        if (present) {
                s.compression = 0;
                if (drain(&s) < 0) {
                        *err = TAKE_PTR(s.err);
                        return berth_error_wrap(err, "layer %.19s", diff_id);
                }
                if (ret_stats) {
                        LOCK(imgs);
                        _cleanup_stmt_ sqlite3_stmt *q =
                            images_query(imgs, NULL, "SELECT size FROM layers WHERE chain_id = ?",
                                         "s", chain_id);
                        *ret_stats = (struct berth_layer_stats){0};
                        if (q && sqlite3_step(q) == SQLITE_ROW)
                                ret_stats->bytes = (uint64_t)sqlite3_column_int64(q, 0);
                }
                return 0;
        }
        static unsigned counter;
        char tmp[96];
        snprintf(tmp, sizeof(tmp), "layer-%d-%u-%.12s", (int)getpid(),
                 __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED), chex);
        struct berth_layer_stats st = {0};
        if (unpack_verified(imgs, &s, tmp, chex, dhex, &st, err) < 0) {
                berth_rm_rf_at(imgs->otmpfd, tmp, NULL);
                return berth_error_wrap(err, "layer %.19s", diff_id);
        }
        {
                LOCK(imgs);
                if (images_exec(imgs, err,
                                "INSERT OR IGNORE INTO layers (chain_id, diff_id, size, created) "
                                "VALUES (?, ?, ?, ?)",
                                "ssii", chain_id, diff_id, (int64_t)st.bytes,
                                (int64_t)time(NULL)) < 0)
                        return berth_error_wrap(err, "layer %.19s", diff_id);
        }
        if (ret_stats)
                *ret_stats = st;
        return 0;
}

static ssize_t fd_read(void *userdata, void *buf, size_t len, struct berth_error **err)
{
        int fd = *(int *)userdata;
        for (;;) {
                ssize_t n = read(fd, buf, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return berth_error_set(err, errno, "read layer");
                return n;
        }
}

int berth_layer_import(struct berth_images *imgs, const char *chain_id, const char *diff_id, int fd,
                       struct berth_layer_stats *ret_stats, struct berth_error **err)
{
        return image_layer_import_cb(imgs, chain_id, diff_id, fd_read, &fd, ret_stats, err);
}

int image_decompress(int in_fd, int out_fd, char **ret_digest, struct berth_error **err)
{
        _cleanup_(stream_release) struct stream s = {0};
        if (stream_init(&s, fd_read, &in_fd, err) < 0)
                return -EIO;
        const void *buf;
        ssize_t n;
        while ((n = stream_next(&s, &buf)) > 0) {
                const char *p = buf;
                while (n > 0) {
                        ssize_t w = write(out_fd, p, (size_t)n);
                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w <= 0)
                                return berth_error_set(err, w < 0 ? errno : EIO, "write");
                        p += w;
                        n -= w;
                }
        }
        if (n < 0) {
                *err = TAKE_PTR(s.err);
                return -EIO;
        }
        unsigned char md[32];
        unsigned mdlen = 32;
        EVP_DigestFinal_ex(s.md, md, &mdlen);
        if (ret_digest) {
                _cleanup_free_ char *hex = images_sha256_hex(md);
                *ret_digest = xasprintf("sha256:%s", hex);
        }
        return 0;
}

/* ---------------------------------------------------------------- layer blobs */

int image_layer_blob_record(struct berth_images *imgs, const char *diff_id, const char *blob_digest,
                            const char *media_type, int64_t size, struct berth_error **err)
{
        char hex[65];
        if (berth_digest_parse(diff_id, hex, err) < 0 ||
            berth_digest_parse(blob_digest, hex, err) < 0)
                return -EINVAL;
        if (!berth_store_has(imgs->blobs, blob_digest))
                return berth_error_setx(err, ENOENT, "layer blob %s is not stored", blob_digest);
        LOCK(imgs);
        return images_exec(imgs, err,
                           "INSERT OR REPLACE INTO layer_blobs (diff_id, blob, media_type, size) "
                           "VALUES (?, ?, ?, ?)",
                           "sssi", diff_id, blob_digest, media_type ? media_type : MEDIA_OCI_LAYER,
                           size);
}

int image_layer_blob_lookup(struct berth_images *imgs, const char *diff_id, char **ret_digest,
                            char **ret_media_type, int64_t *ret_size, struct berth_error **err)
{
        LOCK(imgs);
        _cleanup_stmt_ sqlite3_stmt *s =
            images_query(imgs, err,
                         "SELECT blob, media_type, size FROM layer_blobs WHERE diff_id = ? "
                         "ORDER BY media_type DESC",
                         "s", diff_id);
        if (!s)
                return -EIO;
        while (sqlite3_step(s) == SQLITE_ROW) {
                const char *blob = (const char *)sqlite3_column_text(s, 0);
                if (!berth_store_has(imgs->blobs, blob))
                        continue;
                *ret_digest = xstrdup(blob);
                if (ret_media_type)
                        *ret_media_type = xstrdup((const char *)sqlite3_column_text(s, 1));
                if (ret_size)
                        *ret_size = sqlite3_column_int64(s, 2);
                return 0;
        }
        return berth_error_setx(err, ENOENT, "no stored blob for layer %s", diff_id);
}
