/* The image store: SQLite metadata (images.db, WAL) over the blob store and the unpacked layers;
 * here the database, its helpers, open/close and the garbage collection of layers. Layer
 * unpacking is in unpack.c, the verbs (commit, tag, remove, prune) in verbs.c.
 *
 * Crash safety: a layer is unpacked under overlay/tmp and renamed into overlay/<chain hex> only
 * once its diff id is verified, then recorded; an image becomes visible in one transaction that
 * needs every layer. At open, overlay/tmp is emptied, layer dirs nobody recorded are removed and
 * recorded layers no image uses (a killed pull's) are collected. */
#include "image/internal.h"

#include <openssl/evp.h>
#include <sys/stat.h>
#include <time.h>

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
char *images_query_str(struct berth_images *imgs, const char *sql, const char *arg)
{
        _cleanup_stmt_ sqlite3_stmt *s = images_query(imgs, NULL, sql, "s", arg);
        if (s && sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
                return xstrdup((const char *)sqlite3_column_text(s, 0));
        return NULL;
}

bool images_query_exists(struct berth_images *imgs, const char *sql, const char *arg)
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

char *images_sha256_hex(const unsigned char md[32])
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
        _cleanup_free_ char *hex = images_sha256_hex(md);
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
void images_remove_layer_dir(struct berth_images *imgs, const char *hex, bool wait)
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
                if (!images_query_exists(imgs, "SELECT 1 FROM layers WHERE chain_id = ?", chain))
                        images_remove_layer_dir(imgs, de->d_name, true);
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
                if (!images_query_exists(
                        imgs,
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
