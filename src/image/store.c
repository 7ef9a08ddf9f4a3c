/* Content-addressed blobs: root/blobs/sha256/<hex>, written to root/tmp while they stream and
 * renamed into place only once their sha256 matches, so a killed writer leaves nothing visible. */
#include "image/image.h"

#include <openssl/evp.h>
#include <sys/stat.h>

struct berth_store {
        int rootfd;
        int blobsfd; /* blobs/sha256 */
        int tmpfd;
};

struct berth_blob_writer {
        struct berth_store *st;
        EVP_MD_CTX *md;
        int fd;
        char tmpname[64];
};

int berth_digest_parse(const char *digest, char ret_hex[65], struct berth_error **err)
{
        if (!digest || strncmp(digest, "sha256:", 7) || strlen(digest) != 7 + 64)
                return berth_error_setx(err, EINVAL,
                                        "invalid digest `%s`: expected sha256:<64 hex>",
                                        digest ? digest : "");
        for (int i = 0; i < 64; i++) {
                char c = digest[7 + i];
                if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
                        return berth_error_setx(err, EINVAL, "invalid digest `%s`", digest);
        }
        memcpy(ret_hex, digest + 7, 65);
        return 0;
}

static int open_dir(int at, const char *name, struct berth_error **err)
{
        if (mkdirat(at, name, 0700) < 0 && errno != EEXIST)
                return berth_error_set(err, errno, "mkdir `%s`", name);
        int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return berth_error_set(err, errno, "open `%s`", name);
        return fd;
}

int berth_store_open(const char *root, struct berth_store **ret, struct berth_error **err)
{
        if (berth_mkdir_p(root, 0700, err) < 0)
                return berth_error_wrap(err, "store");
        struct berth_store *st = xcalloc(1, sizeof(*st));
        st->rootfd = st->blobsfd = st->tmpfd = -1;
        st->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int blobs = -1;
        if (st->rootfd < 0) {
                berth_error_set(err, errno, "open store `%s`", root);
                goto fail;
        }
        if ((blobs = open_dir(st->rootfd, "blobs", err)) < 0 ||
            (st->blobsfd = open_dir(blobs, "sha256", err)) < 0)
                goto fail;
        /* what a killed writer left in tmp was never visible: drop it */
        if (berth_rm_rf_at(st->rootfd, "tmp", err) < 0 ||
            (st->tmpfd = open_dir(st->rootfd, "tmp", err)) < 0)
                goto fail;
        *ret = st;
        return 0;
fail:
        berth_store_close(st);
        return -EIO;
}

void berth_store_close(struct berth_store *st)
{
        if (!st)
                return;
        if (st->rootfd >= 0)
                close(st->rootfd);
        if (st->blobsfd >= 0)
                close(st->blobsfd);
        if (st->tmpfd >= 0)
                close(st->tmpfd);
        free(st);
}

int berth_blob_begin(struct berth_store *st, struct berth_blob_writer **ret,
                     struct berth_error **err)
{
        static unsigned counter;
        struct berth_blob_writer *w = xcalloc(1, sizeof(*w));
        w->st = st;
        snprintf(w->tmpname, sizeof(w->tmpname), "blob-%d-%u", (int)getpid(),
                 __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
        w->fd = openat(st->tmpfd, w->tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        w->md = EVP_MD_CTX_new();
        if (w->fd < 0 || !w->md || !EVP_DigestInit_ex(w->md, EVP_sha256(), NULL)) {
                int r = berth_error_set(err, errno ? errno : EIO, "store: new blob");
                berth_blob_abort(w);
                return r;
        }
        *ret = w;
        return 0;
}

int berth_blob_write(struct berth_blob_writer *w, const void *data, size_t len,
                     struct berth_error **err)
{
        if (!EVP_DigestUpdate(w->md, data, len))
                return berth_error_setx(err, EIO, "store: sha256 update");
        const char *p = data;
        while (len > 0) {
                ssize_t n = write(w->fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return berth_error_set(err, n < 0 ? errno : EIO, "store: write blob");
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

void berth_blob_abort(struct berth_blob_writer *w)
{
        if (!w)
                return;
        if (w->fd >= 0) {
                close(w->fd);
                unlinkat(w->st->tmpfd, w->tmpname, 0);
        }
        EVP_MD_CTX_free(w->md);
        free(w);
}

int berth_blob_commit(struct berth_blob_writer *w, const char *expected, char **ret_digest,
                      struct berth_error **err)
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned mdlen = 0;
        char hex[65];
        int r = 0;
        if (!EVP_DigestFinal_ex(w->md, md, &mdlen) || mdlen != 32) {
                r = berth_error_setx(err, EIO, "store: sha256 final");
                goto out;
        }
        for (int i = 0; i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", md[i]);
        char want[65];
        if (expected && (r = berth_digest_parse(expected, want, err)) < 0)
                goto out;
        if (expected && strcmp(want, hex)) {
                r = berth_error_setx(err, EBADMSG, "digest mismatch: expected %s, got sha256:%s",
                                     expected, hex);
                goto out;
        }
        /* no fsync: like the unpacked layers, a blob is safe against a killed writer (it
         * appears by rename only once verified); a power loss may drop recent blobs, which the
         * image store then finds missing. fsync here cost ~40 ms per big layer of a pull. */
        if (renameat(w->st->tmpfd, w->tmpname, w->st->blobsfd, hex) < 0) {
                r = berth_error_set(err, errno, "store: commit blob sha256:%s", hex);
                goto out;
        }
        close(w->fd);
        w->fd = -1;
        if (ret_digest)
                *ret_digest = xasprintf("sha256:%s", hex);
out:
        berth_blob_abort(w);
        return r;
}

int berth_store_put(struct berth_store *st, const void *data, size_t len, const char *expected,
                    char **ret_digest, struct berth_error **err)
{
        struct berth_blob_writer *w = NULL;
        if (berth_blob_begin(st, &w, err) < 0)
                return -EIO;
        if (berth_blob_write(w, data, len, err) < 0) {
                berth_blob_abort(w);
                return -EIO;
        }
        return berth_blob_commit(w, expected, ret_digest, err);
}

bool berth_store_has(struct berth_store *st, const char *digest)
{
        char hex[65];
        return berth_digest_parse(digest, hex, NULL) == 0 &&
               faccessat(st->blobsfd, hex, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int berth_store_open_blob(struct berth_store *st, const char *digest, int *ret_fd,
                          struct berth_error **err)
{
        char hex[65];
        if (berth_digest_parse(digest, hex, err) < 0)
                return -EINVAL;
        int fd = openat(st->blobsfd, hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return berth_error_set(err, errno, "blob %s", digest);
        *ret_fd = fd;
        return 0;
}

int berth_store_remove(struct berth_store *st, const char *digest, uint64_t *reclaimed)
{
        char hex[65];
        struct stat stt;
        if (berth_digest_parse(digest, hex, NULL) < 0)
                return -EINVAL;
        if (fstatat(st->blobsfd, hex, &stt, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (unlinkat(st->blobsfd, hex, 0) < 0)
                return -errno;
        if (reclaimed)
                *reclaimed += (uint64_t)stt.st_size;
        return 0;
}

int berth_store_adopt(struct berth_store *st, int dirfd, const char *name, const char *expected,
                      char **ret_digest, struct berth_error **err)
{
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return berth_error_set(err, errno, "store: open `%s`", name);
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
                EVP_MD_CTX_free(md);
                return berth_error_setx(err, EIO, "store: sha256 init");
        }
        _cleanup_free_ char *buf = xmalloc(1u << 20);
        ssize_t n;
        while ((n = read(fd, buf, 1u << 20)) > 0)
                EVP_DigestUpdate(md, buf, (size_t)n);
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned dlen = 0;
        EVP_DigestFinal_ex(md, d, &dlen);
        EVP_MD_CTX_free(md);
        if (n < 0)
                return berth_error_set(err, errno, "store: read `%s`", name);
        char hex[65];
        for (int i = 0; i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", d[i]);
        char want[65];
        if (expected && berth_digest_parse(expected, want, err) < 0)
                return -EINVAL;
        if (expected && strcmp(want, hex))
                return berth_error_setx(err, EBADMSG, "digest mismatch: expected %s, got sha256:%s",
                                        expected, hex);
        if (linkat(dirfd, name, st->blobsfd, hex, 0) < 0 && errno != EEXIST)
                return berth_error_set(err, errno, "store: link sha256:%s", hex);
        if (ret_digest)
                *ret_digest = xasprintf("sha256:%s", hex);
        return 0;
}
