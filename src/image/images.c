/* The image store: SQLite metadata (images.db, WAL) over the blob store and the unpacked layers.
 *
 * Crash safety: a layer is unpacked under overlay/tmp and renamed into overlay/<chain hex> only
 * once its diff id is verified, then recorded; an image becomes visible in one transaction that
 * needs every layer. At open, overlay/tmp is emptied, layer dirs nobody recorded are removed and
 * recorded layers no image uses (a killed pull's) are collected. */
#include "image/internal.h"

#include <archive.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>
#include <zstd.h>

#define IO_BUF (1u << 20)

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS layers (chain_id TEXT PRIMARY KEY, diff_id TEXT NOT NULL,"
    " parent TEXT, size INTEGER NOT NULL, created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS layer_blobs (diff_id TEXT NOT NULL, blob TEXT NOT NULL,"
    " media_type TEXT NOT NULL, size INTEGER NOT NULL, PRIMARY KEY (diff_id, blob));"
    "CREATE TABLE IF NOT EXISTS images (id TEXT PRIMARY KEY, manifest TEXT,"
    " created INTEGER NOT NULL, size INTEGER NOT NULL, added INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS image_layers (image TEXT NOT NULL, idx INTEGER NOT NULL,"
    " chain_id TEXT NOT NULL, PRIMARY KEY (image, idx));"
    "CREATE INDEX IF NOT EXISTS image_layers_chain ON image_layers (chain_id);"
    /* kind 0: tag "domain/path:tag", kind 1: repo digest "domain/path@sha256:…" */
    "CREATE TABLE IF NOT EXISTS names (name TEXT PRIMARY KEY, kind INTEGER NOT NULL,"
    " image TEXT NOT NULL, added INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS names_image ON names (image);";

static ssize_t fd_read(void *userdata, void *buf, size_t len, struct berth_error **err);

/* ---------------------------------------------------------------- sqlite helpers */

static sqlite3_stmt *query_v(struct berth_images *imgs, struct berth_error **err, const char *sql,
                             const char *types, va_list ap)
{
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(imgs->db, sql, -1, &s, NULL) != SQLITE_OK) {
                berth_error_setx(err, EIO, "images.db: %s", sqlite3_errmsg(imgs->db));
                return NULL;
        }
        for (int i = 0; types && types[i]; i++) {
                if (types[i] == 's') {
                        const char *v = va_arg(ap, const char *);
                        if (v)
                                sqlite3_bind_text(s, i + 1, v, -1, SQLITE_TRANSIENT);
                        else
                                sqlite3_bind_null(s, i + 1);
                } else {
                        sqlite3_bind_int64(s, i + 1, va_arg(ap, int64_t));
                }
        }
        return s;
}

sqlite3_stmt *images_query(struct berth_images *imgs, struct berth_error **err, const char *sql,
                           const char *types, ...)
{
        va_list ap;
        va_start(ap, types);
        sqlite3_stmt *s = query_v(imgs, err, sql, types, ap);
        va_end(ap);
        return s;
}

int images_exec(struct berth_images *imgs, struct berth_error **err, const char *sql,
                const char *types, ...)
{
        va_list ap;
        va_start(ap, types);
        sqlite3_stmt *s = query_v(imgs, err, sql, types, ap);
        va_end(ap);
        if (!s)
                return -EIO;
        int r;
        while ((r = sqlite3_step(s)) == SQLITE_ROW)
                ;
        sqlite3_finalize(s);
        if (r != SQLITE_DONE)
                return berth_error_setx(err, EIO, "images.db: %s", sqlite3_errmsg(imgs->db));
        return 0;
}

/* One string column of the first row, or NULL. */
static char *query_str(struct berth_images *imgs, const char *sql, const char *arg)
{
        _cleanup_stmt_ sqlite3_stmt *s = images_query(imgs, NULL, sql, "s", arg);
        if (s && sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
                return xstrdup((const char *)sqlite3_column_text(s, 0));
        return NULL;
}

static bool query_exists(struct berth_images *imgs, const char *sql, const char *arg)
{
        _cleanup_stmt_ sqlite3_stmt *s = images_query(imgs, NULL, sql, "s", arg);
        return s && sqlite3_step(s) == SQLITE_ROW;
}

/* ---------------------------------------------------------------- helpers */

int64_t images_parse_time(const char *s)
{
        struct tm tm = {0};
        if (!s)
                return 0;
        const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!end)
                return 0;
        int64_t t = (int64_t)timegm(&tm);
        if (*end == '.')
                while (*++end >= '0' && *end <= '9')
                        ;
        if ((*end == '+' || *end == '-') && strlen(end) >= 6) {
                int off = atoi(end + 1) * 3600 + atoi(end + 4) * 60;
                t += *end == '+' ? -off : off;
        }
        return t;
}

char *images_layer_dir(struct berth_images *imgs, const char *chain_id)
{
        return xasprintf("%s/overlay/%s/diff", imgs->root, chain_id + strlen("sha256:"));
}

int images_read_blob(struct berth_images *imgs, const char *digest, size_t max, char **ret,
                     size_t *ret_len, struct berth_error **err)
{
        _cleanup_close_ int fd = -1;
        if (berth_store_open_blob(imgs->blobs, digest, &fd, err) < 0)
                return -ENOENT;
        return images_read_fd(fd, max, ret, ret_len, err);
}

int images_read_fd(int fd, size_t max, char **ret, size_t *ret_len, struct berth_error **err)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return berth_error_set(err, errno, "stat");
        if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max)
                return berth_error_setx(err, EFBIG, "larger than %zu bytes", max);
        size_t len = (size_t)st.st_size, got = 0;
        _cleanup_free_ char *buf = xmalloc(len + 1);
        while (got < len) {
                ssize_t n = pread(fd, buf + got, len - got, (off_t)got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return berth_error_set(err, n < 0 ? errno : EIO, "read");
                got += (size_t)n;
        }
        buf[len] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

int images_load_config(struct berth_images *imgs, const char *id, json_t **ret,
                       struct berth_error **err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        if (images_read_blob(imgs, id, 32u << 20, &buf, &len, err) < 0)
                return berth_error_wrap(err, "image config");
        json_error_t jerr;
        json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!j || !json_is_object(j)) {
                json_decref(j);
                return berth_error_setx(err, EINVAL, "image config %s: invalid JSON: %s", id,
                                        jerr.text);
        }
        *ret = j;
        return 0;
}

static char *sha256_hex(const unsigned char md[32])
{
        char *hex = xmalloc(65);
        for (int i = 0; i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", md[i]);
        return hex;
}

char *berth_chain_id(const char *parent_chain_id, const char *diff_id)
{
        if (!parent_chain_id)
                return xstrdup(diff_id);
        _cleanup_free_ char *in = xasprintf("%s %s", parent_chain_id, diff_id);
        unsigned char md[32];
        unsigned mdlen = 32;
        EVP_Digest(in, strlen(in), md, &mdlen, EVP_sha256(), NULL);
        _cleanup_free_ char *hex = sha256_hex(md);
        return xasprintf("sha256:%s", hex);
}

/* ---------------------------------------------------------------- open / close */

static int open_dir(int at, const char *name, mode_t mode, struct berth_error **err)
{
        if (mkdirat(at, name, mode) < 0 && errno != EEXIST)
                return berth_error_set(err, errno, "mkdir `%s`", name);
        int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return berth_error_set(err, errno, "open `%s`", name);
        return fd;
}

struct gc_job {
        struct berth_images *imgs;
        char name[96];
};

static void *gc_thread(void *arg)
{
        struct gc_job *job = arg;
        struct berth_images *imgs = job->imgs;
        berth_rm_rf_at(imgs->otmpfd, job->name, NULL);
        free(job);
        pthread_mutex_lock(&imgs->gc_lock);
        imgs->gc_pending--;
        pthread_cond_broadcast(&imgs->gc_done);
        pthread_mutex_unlock(&imgs->gc_lock);
        return NULL;
}

/* Take a layer dir out of sight first (rename into tmp), then delete it: a crash in between
 * leaves only tmp garbage, which the next open removes. The deletion itself (hundreds of MB)
 * runs in a thread of its own so `rmi` answers at once; berth_images_close waits for it. */
static void remove_layer_dir(struct berth_images *imgs, const char *hex, bool wait)
{
        static unsigned counter;
        struct gc_job *job = xcalloc(1, sizeof(*job));
        job->imgs = imgs;
        snprintf(job->name, sizeof(job->name), "gc-%d-%u-%.12s", (int)getpid(),
                 __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED), hex);
        if (renameat(imgs->overlayfd, hex, imgs->otmpfd, job->name) < 0) {
                free(job);
                return;
        }
        pthread_mutex_lock(&imgs->gc_lock);
        imgs->gc_pending++;
        pthread_mutex_unlock(&imgs->gc_lock);
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (wait || pthread_create(&t, &attr, gc_thread, job) != 0)
                gc_thread(job);
        pthread_attr_destroy(&attr);
}

static int collect_garbage_at_open(struct berth_images *imgs, struct berth_error **err)
{
        /* layers recorded but used by no image: what a killed pull left */
        _cleanup_strv_ char **orphans = NULL;
        {
                _cleanup_stmt_ sqlite3_stmt *s =
                    images_query(imgs, err,
                                 "SELECT chain_id FROM layers WHERE chain_id NOT IN "
                                 "(SELECT chain_id FROM image_layers)",
                                 NULL);
                if (!s)
                        return -EIO;
                while (sqlite3_step(s) == SQLITE_ROW)
                        strv_push(&orphans, (const char *)sqlite3_column_text(s, 0));
        }
        for (size_t i = 0; orphans && orphans[i]; i++)
                if (images_exec(imgs, err, "DELETE FROM layers WHERE chain_id = ?", "s",
                                orphans[i]) < 0)
                        return -EIO;
        if (images_exec(imgs, err,
                        "DELETE FROM layer_blobs WHERE diff_id NOT IN (SELECT diff_id FROM "
                        "layers)",
                        NULL) < 0)
                return -EIO;
        /* dirs under overlay/ that no recorded layer owns */
        /* a fresh open, not a dup(): a dup would share the directory offset with overlayfd and
         * lack O_CLOEXEC */
        int dfd = openat(imgs->overlayfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return berth_error_set(err, errno, "open overlay dir");
        _cleanup_dir_ DIR *d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                return berth_error_set(err, errno, "read overlay dir");
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.' || !strcmp(de->d_name, "tmp"))
                        continue;
                _cleanup_free_ char *chain = xasprintf("sha256:%s", de->d_name);
                if (!query_exists(imgs, "SELECT 1 FROM layers WHERE chain_id = ?", chain))
                        remove_layer_dir(imgs, de->d_name, true);
        }
        /* blobs nothing refers to: what a killed pull or load stored before its commit */
        _cleanup_close_ int bfd =
            openat(imgs->rootfd, "blobs/sha256", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_dir_ DIR *bd = bfd >= 0 ? fdopendir(TAKE_FD(bfd)) : NULL;
        _cleanup_strv_ char **unused = NULL;
        while (bd && (de = readdir(bd))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *digest = xasprintf("sha256:%s", de->d_name);
                if (!query_exists(imgs,
                                  "SELECT 1 WHERE EXISTS (SELECT 1 FROM images WHERE id = ?1 OR "
                                  "manifest = ?1) OR EXISTS (SELECT 1 FROM layer_blobs WHERE "
                                  "blob = ?1)",
                                  digest))
                        strv_push(&unused, digest);
        }
        for (size_t i = 0; unused && unused[i]; i++)
                berth_store_remove(imgs->blobs, unused[i], NULL);
        return 0;
}

static int images_setup(struct berth_images *imgs, const char *root, struct berth_error **err)
{
        _cleanup_free_ char *dbpath = xasprintf("%s/images.db", root);
        if (berth_store_open(root, &imgs->blobs, err) < 0)
                return -EIO;
        imgs->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (imgs->rootfd < 0)
                return berth_error_set(err, errno, "open `%s`", root);
        if ((imgs->overlayfd = open_dir(imgs->rootfd, "overlay", 0700, err)) < 0)
                return -EIO;
        if (sqlite3_open_v2(dbpath, &imgs->db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                            NULL) != SQLITE_OK)
                return berth_error_setx(err, EIO, "open `%s`: %s", dbpath,
                                        imgs->db ? sqlite3_errmsg(imgs->db) : "out of memory");
        sqlite3_busy_timeout(imgs->db, 10000);
        char *msg = NULL;
        if (sqlite3_exec(imgs->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
                int r = berth_error_setx(err, EIO, "`%s`: %s", dbpath, msg ? msg : "schema");
                sqlite3_free(msg);
                return r;
        }
        if (berth_rm_rf_at(imgs->overlayfd, "tmp", err) < 0 ||
            (imgs->otmpfd = open_dir(imgs->overlayfd, "tmp", 0700, err)) < 0 ||
            collect_garbage_at_open(imgs, err) < 0)
                return -EIO;
        return 0;
}

int berth_images_open(const char *root, struct berth_images **ret, struct berth_error **err)
{
        if (berth_mkdir_p(root, 0700, err) < 0)
                return berth_error_wrap(err, "image store");
        struct berth_images *imgs = xcalloc(1, sizeof(*imgs));
        imgs->rootfd = imgs->overlayfd = imgs->otmpfd = -1;
        pthread_mutex_init(&imgs->lock, NULL);
        pthread_mutex_init(&imgs->gc_lock, NULL);
        pthread_cond_init(&imgs->gc_done, NULL);
        imgs->root = xstrdup(root);
        if (images_setup(imgs, root, err) < 0) {
                berth_images_close(imgs);
                return berth_error_wrap(err, "image store `%s`", root);
        }
        *ret = imgs;
        return 0;
}

void berth_images_close(struct berth_images *imgs)
{
        if (!imgs)
                return;
        pthread_mutex_lock(&imgs->gc_lock);
        while (imgs->gc_pending > 0)
                pthread_cond_wait(&imgs->gc_done, &imgs->gc_lock);
        pthread_mutex_unlock(&imgs->gc_lock);
        if (imgs->db)
                sqlite3_close(imgs->db);
        berth_store_close(imgs->blobs);
        if (imgs->rootfd >= 0)
                close(imgs->rootfd);
        if (imgs->overlayfd >= 0)
                close(imgs->overlayfd);
        if (imgs->otmpfd >= 0)
                close(imgs->otmpfd);
        pthread_mutex_destroy(&imgs->lock);
        pthread_mutex_destroy(&imgs->gc_lock);
        pthread_cond_destroy(&imgs->gc_done);
        free(imgs->root);
        free(imgs);
}

struct berth_store *berth_images_blobs(struct berth_images *imgs)
{
        return imgs->blobs;
}

/* ---------------------------------------------------------------- layer import */

bool berth_layer_exists(struct berth_images *imgs, const char *chain_id)
{
        LOCK(imgs);
        return query_exists(imgs, "SELECT 1 FROM layers WHERE chain_id = ?", chain_id);
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
        _cleanup_free_ char *got = sha256_hex(md);
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
                _cleanup_free_ char *hex = sha256_hex(md);
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

/* ---------------------------------------------------------------- commit */

/* "busybox" → "docker.io/library/busybox:latest"; digest refs refused unless want_digest. */
static int normalise_name(const char *s, bool want_digest, char **ret, struct berth_error **err)
{
        _cleanup_(berth_ref_release) struct berth_ref r = {0};
        if (berth_ref_parse(s, &r, err) < 0)
                return -EINVAL;
        if (want_digest) {
                if (!r.digest)
                        return berth_error_setx(err, EINVAL, "`%s` has no digest", s);
                free(r.tag);
                r.tag = NULL;
        } else {
                if (r.digest)
                        return berth_error_setx(err, EINVAL, "`%s`: a tag cannot have a digest", s);
                if (!r.tag)
                        r.tag = xstrdup("latest");
        }
        *ret = berth_ref_full(&r);
        return 0;
}

static int begin(struct berth_images *imgs, struct berth_error **err)
{
        return images_exec(imgs, err, "BEGIN IMMEDIATE", NULL);
}

static void rollback(struct berth_images *imgs)
{
        images_exec(imgs, NULL, "ROLLBACK", NULL);
}

int berth_image_commit(struct berth_images *imgs, const char *config_digest,
                       const char *manifest_digest, const char *repo_digest, const char *tag,
                       char **ret_id, struct berth_error **err)
{
        char hex[65];
        if (berth_digest_parse(config_digest, hex, err) < 0)
                return berth_error_wrap(err, "commit");
        _cleanup_json_ json_t *config = NULL;
        _cleanup_strv_ char **diff = NULL, **chain = NULL;
        if (images_load_config(imgs, config_digest, &config, err) < 0 ||
            image_config_diff_ids(config, &diff, &chain, err) < 0)
                return berth_error_wrap(err, "commit %.19s", config_digest);
        _cleanup_free_ char *tag_name = NULL, *digest_name = NULL;
        if (tag && normalise_name(tag, false, &tag_name, err) < 0)
                return -EINVAL;
        if (repo_digest && normalise_name(repo_digest, true, &digest_name, err) < 0)
                return -EINVAL;
        if (manifest_digest) {
                _cleanup_free_ char *buf = NULL;
                size_t len = 0;
                struct image_manifest *m = NULL;
                if (images_read_blob(imgs, manifest_digest, 8u << 20, &buf, &len, err) < 0 ||
                    image_manifest_parse(buf, len, NULL, &m, err) < 0)
                        return berth_error_wrap(err, "commit: manifest");
                if (!image_manifest_is_index(m) && m->n_layers == strv_length(diff))
                        for (size_t i = 0; i < m->n_layers; i++)
                                if (berth_store_has(imgs->blobs, m->layers[i].digest))
                                        image_layer_blob_record(imgs, diff[i], m->layers[i].digest,
                                                                m->layers[i].media_type,
                                                                m->layers[i].size, NULL);
                image_manifest_free(m);
        }
        const char *created_s = json_string_value(json_object_get(config, "created"));
        int64_t created = images_parse_time(created_s);

        LOCK(imgs);
        int64_t size = 0;
        for (size_t i = 0; chain[i]; i++) {
                _cleanup_stmt_ sqlite3_stmt *s = images_query(
                    imgs, err, "SELECT size FROM layers WHERE chain_id = ?", "s", chain[i]);
                if (!s)
                        return -EIO;
                if (sqlite3_step(s) != SQLITE_ROW)
                        return berth_error_setx(err, ENOENT,
                                                "commit %.19s: layer %zu (%s) is not unpacked",
                                                config_digest, i, diff[i]);
                size += sqlite3_column_int64(s, 0);
        }
        if (begin(imgs, err) < 0)
                return -EIO;
        int64_t now = (int64_t)time(NULL);
        int r = images_exec(imgs, err,
                            "INSERT INTO images (id, manifest, created, size, added) "
                            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                            "manifest = coalesce(excluded.manifest, manifest)",
                            "ssiii", config_digest, manifest_digest, created, size, now);
        if (r == 0)
                r = images_exec(imgs, err, "DELETE FROM image_layers WHERE image = ?", "s",
                                config_digest);
        for (size_t i = 0; r == 0 && chain[i]; i++) {
                r = images_exec(imgs, err,
                                "INSERT INTO image_layers (image, idx, chain_id) VALUES (?, ?, ?)",
                                "sis", config_digest, (int64_t)i, chain[i]);
                if (r == 0)
                        r = images_exec(imgs, err,
                                        "UPDATE layers SET parent = ? WHERE chain_id = ?", "ss",
                                        i ? chain[i - 1] : NULL, chain[i]);
        }
        if (r == 0 && tag_name)
                r = images_exec(imgs, err,
                                "INSERT OR REPLACE INTO names (name, kind, image, added) "
                                "VALUES (?, 0, ?, ?)",
                                "ssi", tag_name, config_digest, now);
        if (r == 0 && digest_name)
                r = images_exec(imgs, err,
                                "INSERT OR REPLACE INTO names (name, kind, image, added) "
                                "VALUES (?, 1, ?, ?)",
                                "ssi", digest_name, config_digest, now);
        if (r == 0)
                r = images_exec(imgs, err, "COMMIT", NULL);
        if (r < 0) {
                rollback(imgs);
                return berth_error_wrap(err, "commit %.19s", config_digest);
        }
        if (ret_id)
                *ret_id = xstrdup(config_digest);
        return 0;
}

int berth_image_manifest(struct berth_images *imgs, const char *id, char **ret_digest,
                         struct berth_error **err)
{
        LOCK(imgs);
        _cleanup_stmt_ sqlite3_stmt *s =
            images_query(imgs, err, "SELECT manifest FROM images WHERE id = ?", "s", id);
        if (!s)
                return -EIO;
        if (sqlite3_step(s) != SQLITE_ROW)
                return berth_error_setx(err, ENOENT, "no such image: %s", id);
        const char *m = (const char *)sqlite3_column_text(s, 0);
        *ret_digest = m && berth_store_has(imgs->blobs, m) ? xstrdup(m) : NULL;
        return 0;
}

/* ---------------------------------------------------------------- tag, remove, prune */

int berth_image_tag(struct berth_images *imgs, const char *id, const char *ref,
                    struct berth_error **err)
{
        _cleanup_free_ char *name = NULL, *real = NULL;
        if (normalise_name(ref, false, &name, err) < 0)
                return -EINVAL;
        if (berth_image_resolve(imgs, id, &real, err) < 0)
                return -ENOENT;
        LOCK(imgs);
        return images_exec(imgs, err,
                           "INSERT OR REPLACE INTO names (name, kind, image, added) "
                           "VALUES (?, 0, ?, ?)",
                           "ssi", name, real, (int64_t)time(NULL));
}

static char *familiar_of(const char *full)
{
        struct berth_ref r = {0};
        if (berth_ref_parse(full, &r, NULL) < 0)
                return xstrdup(full);
        char *f = berth_ref_familiar(&r);
        berth_ref_release(&r);
        return f;
}

static void report_add(json_t *report, const char *key, const char *value)
{
        if (report)
                json_array_append_new(report, json_pack("{s:s}", key, value));
}

/* Delete image id and everything only it needed (lock held, outside a transaction). The
 * metadata goes in one transaction; dirs and blobs after it. */
static int delete_image(struct berth_images *imgs, const char *id, json_t *report,
                        uint64_t *reclaimed, struct berth_error **err)
{
        _cleanup_strv_ char **names = NULL, **chains = NULL, **gone = NULL, **blobs = NULL;
        _cleanup_free_ char *manifest =
            query_str(imgs, "SELECT manifest FROM images WHERE id = ?", id);
        {
                _cleanup_stmt_ sqlite3_stmt *s = images_query(
                    imgs, err, "SELECT name FROM names WHERE image = ? ORDER BY kind, name", "s",
                    id);
                if (!s)
                        return -EIO;
                while (sqlite3_step(s) == SQLITE_ROW)
                        strv_push(&names, (const char *)sqlite3_column_text(s, 0));
        }
        {
                _cleanup_stmt_ sqlite3_stmt *s = images_query(
                    imgs, err,
                    "SELECT chain_id FROM image_layers WHERE image = ? ORDER BY idx DESC", "s", id);
                if (!s)
                        return -EIO;
                while (sqlite3_step(s) == SQLITE_ROW)
                        strv_push(&chains, (const char *)sqlite3_column_text(s, 0));
        }
        if (begin(imgs, err) < 0)
                return -EIO;
        int r = images_exec(imgs, err, "DELETE FROM names WHERE image = ?", "s", id);
        if (r == 0)
                r = images_exec(imgs, err, "DELETE FROM image_layers WHERE image = ?", "s", id);
        if (r == 0)
                r = images_exec(imgs, err, "DELETE FROM images WHERE id = ?", "s", id);
        for (size_t i = 0; r == 0 && chains && chains[i]; i++) {
                if (query_exists(imgs, "SELECT 1 FROM image_layers WHERE chain_id = ?", chains[i]))
                        continue;
                _cleanup_free_ char *diff =
                    query_str(imgs, "SELECT diff_id FROM layers WHERE chain_id = ?", chains[i]);
                _cleanup_stmt_ sqlite3_stmt *s = images_query(
                    imgs, err, "SELECT size FROM layers WHERE chain_id = ?", "s", chains[i]);
                if (s && sqlite3_step(s) == SQLITE_ROW && reclaimed)
                        *reclaimed += (uint64_t)sqlite3_column_int64(s, 0);
                r = images_exec(imgs, err, "DELETE FROM layers WHERE chain_id = ?", "s", chains[i]);
                strv_push(&gone, chains[i]);
                if (r == 0 && diff &&
                    !query_exists(imgs, "SELECT 1 FROM layers WHERE diff_id = ?", diff)) {
                        _cleanup_stmt_ sqlite3_stmt *b = images_query(
                            imgs, err, "SELECT blob FROM layer_blobs WHERE diff_id = ?", "s", diff);
                        while (b && sqlite3_step(b) == SQLITE_ROW)
                                strv_push(&blobs, (const char *)sqlite3_column_text(b, 0));
                        r = images_exec(imgs, err, "DELETE FROM layer_blobs WHERE diff_id = ?", "s",
                                        diff);
                }
        }
        if (r == 0)
                r = images_exec(imgs, err, "COMMIT", NULL);
        if (r < 0) {
                rollback(imgs);
                return berth_error_wrap(err, "delete image %.19s", id);
        }
        for (size_t i = 0; names && names[i]; i++) {
                _cleanup_free_ char *f = familiar_of(names[i]);
                report_add(report, "Untagged", f);
        }
        report_add(report, "Deleted", id);
        for (size_t i = 0; gone && gone[i]; i++) {
                remove_layer_dir(imgs, gone[i] + strlen("sha256:"), false);
                report_add(report, "Deleted", gone[i]);
        }
        /* blobs: the config, the manifest and layer blobs no remaining layer has */
        strv_push(&blobs, id);
        if (manifest)
                strv_push(&blobs, manifest);
        for (size_t i = 0; blobs[i]; i++) {
                if (query_exists(imgs, "SELECT 1 FROM layer_blobs WHERE blob = ?", blobs[i]) ||
                    query_exists(imgs, "SELECT 1 FROM images WHERE manifest = ?", blobs[i]))
                        continue;
                berth_store_remove(imgs->blobs, blobs[i], reclaimed);
        }
        return 0;
}

static int count_tags(struct berth_images *imgs, const char *id, int64_t *ret_tags,
                      int64_t *ret_repos, int64_t *ret_total)
{
        _cleanup_stmt_ sqlite3_stmt *s =
            images_query(imgs, NULL, "SELECT name, kind FROM names WHERE image = ?", "s", id);
        if (!s)
                return -EIO;
        _cleanup_strv_ char **repos = NULL;
        int64_t tags = 0, total = 0;
        while (sqlite3_step(s) == SQLITE_ROW) {
                const char *n = (const char *)sqlite3_column_text(s, 0);
                total++;
                if (sqlite3_column_int(s, 1) != 0)
                        continue;
                tags++;
                struct berth_ref r = {0};
                if (berth_ref_parse(n, &r, NULL) == 0) {
                        char *repo = berth_ref_repo(&r);
                        bool seen = false;
                        for (size_t i = 0; repos && repos[i]; i++)
                                seen |= !strcmp(repos[i], repo);
                        if (!seen)
                                strv_push(&repos, repo);
                        free(repo);
                        berth_ref_release(&r);
                }
        }
        *ret_tags = tags;
        *ret_repos = (int64_t)strv_length(repos);
        *ret_total = total;
        return 0;
}

/* Untag every name of the image (lock held). */
static int untag_all(struct berth_images *imgs, const char *id, json_t *report,
                     struct berth_error **err)
{
        _cleanup_strv_ char **names = NULL;
        {
                _cleanup_stmt_ sqlite3_stmt *s = images_query(
                    imgs, err, "SELECT name FROM names WHERE image = ? ORDER BY kind, name", "s",
                    id);
                if (!s)
                        return -EIO;
                while (sqlite3_step(s) == SQLITE_ROW)
                        strv_push(&names, (const char *)sqlite3_column_text(s, 0));
        }
        if (images_exec(imgs, err, "DELETE FROM names WHERE image = ?", "s", id) < 0)
                return -EIO;
        for (size_t i = 0; names && names[i]; i++) {
                _cleanup_free_ char *f = familiar_of(names[i]);
                report_add(report, "Untagged", f);
        }
        return 0;
}

int berth_image_remove(struct berth_images *imgs, const char *name, bool force, bool noprune,
                       berth_image_in_use_fn in_use, void *userdata, json_t **ret_report,
                       struct berth_error **err)
{
        _cleanup_free_ char *id = NULL;
        if (berth_image_resolve(imgs, name, &id, err) < 0)
                return -ENOENT;
        _cleanup_json_ json_t *report = json_array();
        _cleanup_free_ char *user = NULL;
        bool used = in_use && in_use(id, userdata, &user);
        /* was a name given (not the id)? */
        _cleanup_free_ char *tag_name = NULL, *digest_name = NULL;
        {
                struct berth_ref r = {0};
                if (berth_ref_parse(name, &r, NULL) == 0) {
                        if (r.digest) {
                                free(r.tag);
                                r.tag = NULL;
                                digest_name = berth_ref_full(&r);
                        } else {
                                if (!r.tag)
                                        r.tag = xstrdup("latest");
                                tag_name = berth_ref_full(&r);
                        }
                        berth_ref_release(&r);
                }
        }
        LOCK(imgs);
        const char *by_name = tag_name ? tag_name : digest_name;
        bool named = false;
        if (by_name) {
                _cleanup_stmt_ sqlite3_stmt *s =
                    images_query(imgs, NULL, "SELECT 1 FROM names WHERE name = ? AND image = ?",
                                 "ss", by_name, id);
                named = s && sqlite3_step(s) == SQLITE_ROW;
        }
        int64_t tags = 0, repos = 0, names_total = 0;
        if (count_tags(imgs, id, &tags, &repos, &names_total) < 0)
                return berth_error_setx(err, EIO, "images.db: %s", sqlite3_errmsg(imgs->db));
        if (named) {
                /* untag this name; the image goes only with its last tag */
                bool last = tag_name ? tags <= 1 : tags == 0 && names_total <= 1;
                if (last && used && !force)
                        return berth_error_setx(err, EBUSY,
                                                "conflict: unable to remove repository reference "
                                                "\"%s\" (must force) - container %s is using its "
                                                "referenced image %.12s",
                                                name, user ? user : "", id + 7);
                if (images_exec(imgs, err, "DELETE FROM names WHERE name = ?", "s", by_name) < 0)
                        return -EIO;
                _cleanup_free_ char *f = familiar_of(by_name);
                report_add(report, "Untagged", f);
                if (!last || used) {
                        if (ret_report)
                                *ret_report = TAKE_PTR(report);
                        return 0;
                }
                if (tag_name) {
                        /* the repo digests of that repository go with the last tag */
                        if (untag_all(imgs, id, report, err) < 0)
                                return -EIO;
                }
        } else {
                if (repos > 1 && !force)
                        return berth_error_setx(err, EBUSY,
                                                "conflict: unable to delete %.12s (must be forced) "
                                                "- image is referenced in multiple repositories",
                                                id + 7);
                if (used && !force)
                        return berth_error_setx(err, EBUSY,
                                                "conflict: unable to delete %.12s (must be forced) "
                                                "- image is being used by stopped container %s",
                                                id + 7, user ? user : "");
                if (untag_all(imgs, id, report, err) < 0)
                        return -EIO;
                if (used) {
                        if (ret_report)
                                *ret_report = TAKE_PTR(report);
                        return 0;
                }
        }
        (void)noprune; /* images have no parent chain of their own here */
        uint64_t reclaimed = 0;
        if (delete_image(imgs, id, report, &reclaimed, err) < 0)
                return -EIO;
        if (ret_report)
                *ret_report = TAKE_PTR(report);
        return 0;
}

bool image_filter_labels(json_t *filters, json_t *labels, const char *key)
{
        _cleanup_strv_ char **want = NULL;
        if (!image_filter_values(filters, key, &want))
                return true;
        for (size_t i = 0; want && want[i]; i++) {
                bool neg = !strcmp(key, "label!");
                char *eq = strchr(want[i], '=');
                _cleanup_free_ char *k =
                    eq ? xstrndup(want[i], (size_t)(eq - want[i])) : xstrdup(want[i]);
                json_t *v = json_object_get(labels, k);
                bool match =
                    v && (!eq || (json_is_string(v) && !strcmp(json_string_value(v), eq + 1)));
                if (match == neg)
                        return false;
        }
        return true;
}

int64_t image_filter_until(json_t *filters)
{
        _cleanup_strv_ char **v = NULL;
        if (!image_filter_values(filters, "until", &v) || !v || !v[0])
                return 0;
        uint64_t n;
        if (berth_parse_u64(v[0], &n) == 0)
                return (int64_t)n;
        /* durations like "24h", "10m" */
        char *end = NULL;
        double d = strtod(v[0], &end);
        if (end && end != v[0] && !*end)
                return (int64_t)d; /* "1700000000.5": unix seconds */
        if (end && end != v[0]) {
                double mul = *end == 'h' ? 3600 : *end == 'm' ? 60 : *end == 's' ? 1 : 0;
                if (mul > 0)
                        return (int64_t)time(NULL) - (int64_t)(d * mul);
        }
        return images_parse_time(v[0]);
}

int berth_image_prune(struct berth_images *imgs, bool all, json_t *filters,
                      berth_image_in_use_fn in_use, void *userdata, json_t **ret_report,
                      struct berth_error **err)
{
        _cleanup_strv_ char **dangling_filter = NULL;
        if (image_filter_values(filters, "dangling", &dangling_filter) && dangling_filter &&
            dangling_filter[0])
                all = !strcmp(dangling_filter[0], "false") || !strcmp(dangling_filter[0], "0");
        int64_t until = image_filter_until(filters);
        _cleanup_strv_ char **ids = NULL;
        {
                LOCK(imgs);
                _cleanup_stmt_ sqlite3_stmt *s =
                    images_query(imgs, err,
                                 all ? "SELECT id, created FROM images"
                                     : "SELECT id, created FROM images WHERE id NOT IN "
                                       "(SELECT image FROM names WHERE kind = 0)",
                                 NULL);
                if (!s)
                        return -EIO;
                while (sqlite3_step(s) == SQLITE_ROW) {
                        if (until && sqlite3_column_int64(s, 1) >= until)
                                continue;
                        strv_push(&ids, (const char *)sqlite3_column_text(s, 0));
                }
        }
        _cleanup_json_ json_t *deleted = json_array();
        uint64_t reclaimed = 0;
        for (size_t i = 0; ids && ids[i]; i++) {
                if (in_use && in_use(ids[i], userdata, NULL))
                        continue;
                if (filters &&
                    (json_object_get(filters, "label") || json_object_get(filters, "label!"))) {
                        _cleanup_json_ json_t *cfg = NULL;
                        if (images_load_config(imgs, ids[i], &cfg, NULL) < 0)
                                continue;
                        json_t *labels = json_object_get(json_object_get(cfg, "config"), "Labels");
                        if (!image_filter_labels(filters, labels, "label") ||
                            !image_filter_labels(filters, labels, "label!"))
                                continue;
                }
                LOCK(imgs);
                if (delete_image(imgs, ids[i], deleted, &reclaimed, err) < 0)
                        return -EIO;
        }
        if (ret_report)
                *ret_report =
                    json_pack("{s:o, s:I}", "ImagesDeleted",
                              json_array_size(deleted) ? json_incref(deleted) : json_null(),
                              "SpaceReclaimed", (json_int_t)reclaimed);
        return 0;
}
