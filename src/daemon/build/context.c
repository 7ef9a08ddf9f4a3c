/* The build context as the client sent it: the tar kept in one file and indexed once (paths,
 * types, modes, sizes, a sha256 per file), so the cache keys of COPY/ADD come from the index
 * without unpacking anything. The tar is unpacked (by the image store's safe extractor) only when
 * a step really copies from it. */
#include "daemon/build/build.h"
#include "image/image.h"

#include <archive.h>
#include <archive_entry.h>
#include <fnmatch.h>
#include <openssl/evp.h>
#include <sys/stat.h>

/* paths ordered as a depth-first walk with sorted names visits them: '/' sorts first */
static int path_cmp(const char *a, const char *b)
{
        for (;; a++, b++) {
                unsigned char ca = (unsigned char)*a, cb = (unsigned char)*b;
                if (ca == '/')
                        ca = 1;
                if (cb == '/')
                        cb = 1;
                if (ca != cb || !ca)
                        return (int)ca - (int)cb;
        }
}

static int entry_cmp(const void *a, const void *b)
{
        return path_cmp(((const struct ctx_entry *)a)->path, ((const struct ctx_entry *)b)->path);
}

/* Go's path.Clean of a tar name without its leading "./" or "/"; NULL when it leaves the root */
static char *clean_name(const char *name)
{
        char *out = NULL;
        return berth_path_clean_rel(name, 0, &out) < 0 ? NULL : out;
}

static struct ctx_entry *find(const struct build_context *cx, const char *path)
{
        struct ctx_entry key = {.path = (char *)path};
        return bsearch(&key, cx->v, cx->n, sizeof(*cx->v), entry_cmp);
}

static void add_entry(struct build_context *cx, struct ctx_entry *e)
{
        e->seq = cx->n;
        if (cx->n == cx->cap) {
                cx->cap = cx->cap ? cx->cap * 2 : 256;
                cx->v = xrealloc(cx->v, cx->cap * sizeof(*cx->v));
        }
        cx->v[cx->n++] = *e;
}

static void sha_hex(EVP_MD_CTX *md, char out[65])
{
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned int dl = 0;
        EVP_DigestFinal_ex(md, d, &dl);
        for (unsigned i = 0; i < 32; i++)
                sprintf(out + 2 * i, "%02x", d[i]);
        out[64] = 0;
}

static int index_entries(struct build_context *cx, struct archive *a, EVP_MD_CTX *md,
                         const char *dfname, struct berth_error **err)
{
        struct archive_entry *ae;
        for (;;) {
                int ar = archive_read_next_header(a, &ae);
                if (ar == ARCHIVE_EOF)
                        break;
                if (ar < ARCHIVE_WARN) {
                        return berth_error_setx(err, EINVAL, "build context: %s",
                                                archive_error_string(a));
                }
                char *path = clean_name(archive_entry_pathname(ae));
                if (!path || !*path) {
                        free(path);
                        continue;
                }
                struct ctx_entry e = {.path = path};
                mode_t ft = archive_entry_filetype(ae);
                e.mode = archive_entry_perm(ae);
                const char *hl = archive_entry_hardlink(ae);
                if (hl) {
                        _cleanup_free_ char *target = clean_name(hl);
                        /* the index is sorted only at the end: look back linearly */
                        struct ctx_entry *t = NULL;
                        for (size_t i = 0; target && i < cx->n; i++)
                                if (!strcmp(cx->v[i].path, target))
                                        t = &cx->v[i];
                        if (!t || t->type != 'f') {
                                free(path);
                                continue;
                        }
                        e.type = 'f';
                        e.size = t->size;
                        memcpy(e.hash, t->hash, sizeof(e.hash));
                        e.mode = t->mode;
                } else if (ft == AE_IFDIR) {
                        e.type = 'd';
                } else if (ft == AE_IFLNK) {
                        e.type = 'l';
                        e.link = xstrdup(archive_entry_symlink(ae) ?: "");
                } else if (ft == AE_IFREG) {
                        e.type = 'f';
                        e.size = (uint64_t)archive_entry_size(ae);
                        bool keep = !strcmp(path, dfname) || !strcmp(path, ".dockerignore");
                        char *data = NULL;
                        size_t len = 0;
                        EVP_DigestInit_ex(md, EVP_sha256(), NULL);
                        const void *buf;
                        size_t n;
                        la_int64_t off;
                        while ((ar = archive_read_data_block(a, &buf, &n, &off)) == ARCHIVE_OK) {
                                EVP_DigestUpdate(md, buf, n);
                                if (keep && len + n <= (16u << 20)) {
                                        data = xrealloc(data, len + n + 1);
                                        memcpy(data + len, buf, n);
                                        len += n;
                                        data[len] = 0;
                                }
                        }
                        if (ar != ARCHIVE_EOF) {
                                free(data);
                                free(path);
                                return berth_error_setx(err, EINVAL, "build context: %s",
                                                        archive_error_string(a));
                        }
                        sha_hex(md, e.hash);
                        if (!data && keep)
                                data = xstrdup("");
                        if (!strcmp(path, dfname)) {
                                free(cx->dockerfile);
                                cx->dockerfile = data;
                                cx->dockerfile_len = len;
                        } else if (keep) {
                                free(cx->ignore);
                                cx->ignore = data;
                                cx->ignore_len = len;
                        }
                } else {
                        free(path);
                        continue; /* fifos, devices: never copied from a context */
                }
                add_entry(cx, &e);
        }
        return 0;
}

/* parents the tar did not list and the root added, sorted in walk order, duplicates dropped */
static int entry_seq_cmp(const void *a, const void *b)
{
        const struct ctx_entry *x = a, *y = b;
        int c = path_cmp(x->path, y->path);
        return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* sorted in walk order; of a name listed twice the last one counts, as when unpacked */
static void sort_dedupe(struct build_context *cx)
{
        qsort(cx->v, cx->n, sizeof(*cx->v), entry_seq_cmp);
        size_t w = 0;
        for (size_t i = 0; i < cx->n; i++) {
                if (w && !strcmp(cx->v[w - 1].path, cx->v[i].path)) {
                        free(cx->v[w - 1].path);
                        free(cx->v[w - 1].link);
                        cx->v[w - 1] = cx->v[i];
                        continue;
                }
                cx->v[w++] = cx->v[i];
        }
        cx->n = w;
}

static void index_finish(struct build_context *cx)
{
        struct ctx_entry root = {.path = xstrdup(""), .type = 'd', .mode = 0755};
        add_entry(cx, &root);
        sort_dedupe(cx);
        /* parents the tar did not list (looked up in the sorted index) */
        _cleanup_strv_ char **missing = NULL;
        for (size_t i = 0; i < cx->n; i++) {
                _cleanup_free_ char *p = xstrdup(cx->v[i].path);
                for (char *sl = strrchr(p, '/'); sl; sl = strrchr(p, '/')) {
                        *sl = 0;
                        if (find(cx, p))
                                break;
                        strv_push(&missing, p);
                }
        }
        for (size_t i = 0; missing && missing[i]; i++) {
                struct ctx_entry d = {.path = xstrdup(missing[i]), .type = 'd', .mode = 0755};
                add_entry(cx, &d);
        }
        if (missing)
                sort_dedupe(cx);
}

int build_context_index(struct build_context *cx, const char *dockerfile, struct berth_error **err)
{
        _cleanup_free_ char *dfname = clean_name(dockerfile);
        struct archive *a = archive_read_new();
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        int r;
        archive_read_support_filter_all(a);
        archive_read_support_format_tar(a);
        if (archive_read_open_filename(a, cx->tar_path, 1 << 16) != ARCHIVE_OK)
                r = berth_error_setx(err, EINVAL, "build context: %s", archive_error_string(a));
        else
                r = index_entries(cx, a, md, dfname ? dfname : "", err);
        if (r == 0)
                index_finish(cx);
        EVP_MD_CTX_free(md);
        archive_read_free(a);
        return r;
}

void build_context_release(struct build_context *cx)
{
        _cleanup_error_ struct berth_error *e = NULL;
        for (size_t i = 0; i < cx->n; i++) {
                free(cx->v[i].path);
                free(cx->v[i].link);
        }
        free(cx->v);
        free(cx->dockerfile);
        free(cx->ignore);
        if (cx->root >= 0)
                close(cx->root);
        pthread_mutex_destroy(&cx->lock);
        if (cx->tar_path)
                unlink(cx->tar_path);
        if (cx->dir && berth_rm_rf_at(AT_FDCWD, cx->dir, &e) < 0)
                berth_warn("build: remove `%s`: %s", cx->dir, e->msg);
        free(cx->tar_path);
        free(cx->dir);
        memset(cx, 0, sizeof(*cx));
        cx->root = -1;
}

static int context_unpack(struct build_context *cx, struct berth_error **err)
{
        if (cx->root >= 0)
                return cx->root;
        if (berth_mkdir_p(cx->dir, 0700, err) < 0)
                return -EIO;
        _cleanup_close_ int dfd = open(cx->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int tfd = open(cx->tar_path, O_RDONLY | O_CLOEXEC);
        if (dfd < 0 || tfd < 0)
                return berth_error_set(err, errno, "open the build context");
        struct berth_layer_limits lim = berth_layer_default_limits;
        lim.allow_devices = false;
        if (berth_layer_apply(dfd, tfd, &lim, NULL, err) < 0)
                return berth_error_wrap(err, "build context");
        cx->root = open(cx->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (cx->root < 0)
                return berth_error_set(err, errno, "open `%s`", cx->dir);
        return cx->root;
}

int build_context_root(struct build_context *cx, struct berth_error **err)
{
        /* stages building at the same time may ask together: unpacked once */
        pthread_mutex_lock(&cx->lock);
        int r = context_unpack(cx, err);
        pthread_mutex_unlock(&cx->lock);
        return r;
}

/* ---------------------------------------------------------------- hashing from the index */

static bool excluded(const struct bld_ignore *ig, const char *rel)
{
        return ig && *rel && bld_ignore_excluded(ig, rel);
}

/* pruned as the disk walk prunes: some level below the source root (itself included) excluded
 * with no exception that could bring anything back */
static bool pruned(const struct bld_ignore *ig, const char *root, const char *path)
{
        if (!ig)
                return false;
        size_t rl = strlen(root);
        _cleanup_free_ char *p = xstrdup(path);
        for (char *s = p + (rl ? rl + 1 : 0);; s++) {
                if (*s == '/' || !*s) {
                        char c = *s;
                        *s = 0;
                        bool cut = excluded(ig, p) && !bld_ignore_may_reinclude(ig, p);
                        *s = c;
                        if (cut)
                                return true;
                        if (!c)
                                return false;
                }
        }
}

static void put(EVP_MD_CTX *md, const char *s)
{
        EVP_DigestUpdate(md, s, strlen(s) + 1);
}

/* The sources' hash as build_copy_hash computes it on the unpacked tree: 1 when the index
 * cannot say (a source through a symlink, a missing one: the caller unpacks and asks the disk,
 * which also gives docker's messages). */
int build_context_hash(const struct build_context *cx, const struct bld_ignore *ig, char **srcs,
                       char **ret, struct berth_error **err)
{
        _cleanup_strv_ char **roots = NULL;
        for (size_t i = 0; srcs && srcs[i]; i++) {
                const char *s = srcs[i];
                if (!strncmp(s, "http://", 7) || !strncmp(s, "https://", 8) ||
                    !strncmp(s, "git@", 4))
                        return 1;
                _cleanup_free_ char *rel = clean_name(s[0] == '/' ? s + 1 : s);
                if (!rel)
                        return 1;
                if (!strpbrk(rel, "*?[")) {
                        struct ctx_entry *e = find(cx, rel);
                        if (!e || e->type == 'l' || excluded(ig, rel))
                                return 1;
                        strv_push(&roots, rel);
                        continue;
                }
                /* a wildcard: entries whose first components match it, in walk order */
                size_t depth = 1;
                for (const char *p = rel; *p; p++)
                        depth += *p == '/';
                _cleanup_strv_ char **pat = NULL;
                _cleanup_free_ char *pc = xstrdup(rel);
                char *save = NULL;
                for (char *t = strtok_r(pc, "/", &save); t; t = strtok_r(NULL, "/", &save))
                        strv_push(&pat, t);
                size_t before = strv_length(roots);
                for (size_t k = 0; k < cx->n; k++) {
                        const char *p = cx->v[k].path;
                        size_t d = *p ? 1 : 0;
                        for (const char *q = p; *q; q++)
                                d += *q == '/';
                        if (d != depth)
                                continue;
                        _cleanup_strv_ char **comps = NULL;
                        _cleanup_free_ char *cc = xstrdup(p);
                        char *sv = NULL;
                        for (char *t = strtok_r(cc, "/", &sv); t; t = strtok_r(NULL, "/", &sv))
                                strv_push(&comps, t);
                        bool ok = true;
                        for (size_t j = 0; ok && j < depth; j++)
                                ok = fnmatch(pat[j], comps[j], 0) == 0;
                        /* every level is a directory walk: excluded levels are not visited */
                        _cleanup_free_ char *pre = NULL;
                        for (size_t j = 0; ok && j < depth; j++) {
                                char *n =
                                    pre ? xasprintf("%s/%s", pre, comps[j]) : xstrdup(comps[j]);
                                free(pre);
                                pre = n;
                                ok = !excluded(ig, pre);
                                if (ok && j + 1 < depth) {
                                        struct ctx_entry *de = find(cx, pre);
                                        ok = de && de->type == 'd';
                                }
                        }
                        if (ok)
                                strv_push(&roots, p);
                }
                if (strv_length(roots) == before)
                        return 1;
        }
        if (!roots)
                return 1;
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
                EVP_MD_CTX_free(md);
                return berth_error_setx(err, EIO, "sha256");
        }
        const char *kind = "file";
        for (size_t i = 0; roots[i]; i++) {
                struct ctx_entry *e = find(cx, roots[i]);
                size_t rl = strlen(roots[i]);
                if (e->type == 'd')
                        kind = "dir";
                put(md, "\n--source--\n");
                for (size_t k = (size_t)(e - cx->v); k < cx->n; k++) {
                        const struct ctx_entry *x = &cx->v[k];
                        if (k != (size_t)(e - cx->v) &&
                            !(rl == 0 || (!strncmp(x->path, roots[i], rl) && x->path[rl] == '/')))
                                break;
                        if (k != (size_t)(e - cx->v) && pruned(ig, roots[i], x->path))
                                continue;
                        if (excluded(ig, x->path))
                                continue;
                        char head[96];
                        unsigned mode = x->type == 'd'   ? (unsigned)S_IFDIR
                                        : x->type == 'l' ? (unsigned)(S_IFLNK | 0777)
                                                         : (unsigned)(S_IFREG | x->mode);
                        snprintf(head, sizeof(head), "%o %llu", mode,
                                 x->type == 'f' ? (unsigned long long)x->size : 0ULL);
                        put(md, x->path);
                        put(md, head);
                        if (x->type == 'f')
                                put(md, x->hash);
                        else if (x->type == 'l')
                                put(md, x->link);
                }
        }
        char hex[65];
        sha_hex(md, hex);
        EVP_MD_CTX_free(md);
        *ret = xasprintf("%s:%s", strv_length(roots) > 1 ? "multi" : kind, hex);
        return 0;
}
