/* The image store: import (gzip/zstd/plain, diff id checked while streaming), commit, resolve,
 * tag, remove, prune and layer GC, crash leftovers, save/load round trip. Runs as root (layer
 * files keep their owners). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "image/internal.h"
#include "tar-helpers.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>

struct fixture {
        char *dir;
        struct berth_images *imgs;
};

static int setup(void **state)
{
        struct fixture *f = xcalloc(1, sizeof(*f));
        char t[] = "/tmp/berth-images-XXXXXX";
        assert_non_null(mkdtemp(t));
        f->dir = xstrdup(t);
        struct berth_error *err = NULL;
        if (berth_images_open(f->dir, &f->imgs, &err) < 0)
                fail_msg("open: %s", err->msg);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        berth_images_close(f->imgs);
        berth_rm_rf_at(AT_FDCWD, f->dir, NULL);
        free(f->dir);
        free(f);
        return 0;
}

static char *fd_digest(int fd)
{
        unsigned char md[32];
        unsigned n = 32;
        EVP_MD_CTX *c = EVP_MD_CTX_new();
        EVP_DigestInit_ex(c, EVP_sha256(), NULL);
        char buf[65536];
        ssize_t r;
        lseek(fd, 0, SEEK_SET);
        while ((r = read(fd, buf, sizeof(buf))) > 0)
                EVP_DigestUpdate(c, buf, (size_t)r);
        EVP_DigestFinal_ex(c, md, &n);
        EVP_MD_CTX_free(c);
        lseek(fd, 0, SEEK_SET);
        char hex[65];
        for (int i = 0; i < 32; i++)
                snprintf(hex + 2 * i, 3, "%02x", md[i]);
        return xasprintf("sha256:%s", hex);
}

static char *fd_slurp(int fd, size_t *len)
{
        struct stat st;
        fstat(fd, &st);
        char *b = xmalloc((size_t)st.st_size + 1);
        assert_int_equal(pread(fd, b, (size_t)st.st_size, 0), st.st_size);
        *len = (size_t)st.st_size;
        return b;
}

/* compression 1: gzip, 2: zstd */
static int compress_fd(int fd, int compression)
{
        size_t len;
        _cleanup_free_ char *in = fd_slurp(fd, &len);
        int out = memfd_create("c", MFD_CLOEXEC);
        if (compression == 2) {
                size_t cap = ZSTD_compressBound(len);
                _cleanup_free_ char *o = xmalloc(cap);
                size_t n = ZSTD_compress(o, cap, in, len, 3);
                assert_false(ZSTD_isError(n));
                assert_int_equal(write(out, o, n), (ssize_t)n);
        } else {
                z_stream z = {0};
                assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
                size_t cap = deflateBound(&z, len) + 64;
                _cleanup_free_ char *o = xmalloc(cap);
                z.next_in = (unsigned char *)in;
                z.avail_in = (uInt)len;
                z.next_out = (unsigned char *)o;
                z.avail_out = (uInt)cap;
                assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
                assert_int_equal(write(out, o, z.total_out), (ssize_t)z.total_out);
                deflateEnd(&z);
        }
        lseek(out, 0, SEEK_SET);
        return out;
}

/* A one-file layer; *ret_diff gets its diff id. */
static int make_layer(const char *file, const char *content, char **ret_diff)
{
        struct tarw t = tar_begin(false);
        tar_add(&t, "etc", AE_IFDIR, 0755, NULL, NULL, NULL);
        tar_add(&t, file, AE_IFREG, 0644, content, NULL, NULL);
        int fd = tar_end(&t);
        *ret_diff = fd_digest(fd);
        return fd;
}

static void import_ok(struct berth_images *imgs, const char *chain, const char *diff, int fd)
{
        struct berth_error *err = NULL;
        if (berth_layer_import(imgs, chain, diff, fd, NULL, &err) < 0)
                fail_msg("import: %s", err->msg);
}

/* Store a config with these diff ids; returns the image id (config digest). */
static char *put_config(struct berth_images *imgs, char **diffs, size_t n, const char *label)
{
        json_t *ids = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(ids, json_string(diffs[i]));
        json_t *cfg = json_pack("{s:s, s:s, s:s, s:{s:[s], s:{s:s}}, s:{s:s, s:o}, s:[{s:s, s:s}]}",
                                "architecture", "amd64", "os", "linux", "created",
                                "2024-01-02T03:04:05.123456789Z", "config", "Cmd", "sh", "Labels",
                                "l", label, "rootfs", "type", "layers", "diff_ids", ids, "history",
                                "created_by", "test", "created", "2024-01-02T03:04:05Z");
        char *text = json_dumps(cfg, JSON_COMPACT);
        json_decref(cfg);
        char *digest = NULL;
        struct berth_error *err = NULL;
        if (berth_store_put(berth_images_blobs(imgs), text, strlen(text), NULL, &digest, &err) < 0)
                fail_msg("put: %s", err->msg);
        free(text);
        return digest;
}

static void commit_ok(struct berth_images *imgs, const char *cfg, const char *tag)
{
        struct berth_error *err = NULL;
        char *id = NULL;
        if (berth_image_commit(imgs, cfg, NULL, NULL, tag, &id, &err) < 0)
                fail_msg("commit: %s", err->msg);
        assert_string_equal(id, cfg);
        free(id);
}

static bool path_exists(const char *dir, const char *rel)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", dir, rel);
        struct stat st;
        return lstat(p, &st) == 0;
}

static size_t count_entries(const char *path)
{
        DIR *d = opendir(path);
        if (!d)
                return 0;
        size_t n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

static void test_import_commit_resolve(void **state)
{
        struct fixture *f = *state;
        struct berth_error *err = NULL;
        _cleanup_free_ char *d1 = NULL, *d2 = NULL, *d3 = NULL;
        _cleanup_close_ int l1 = make_layer("etc/one", "1", &d1);
        _cleanup_close_ int l2p = make_layer("etc/two", "22", &d2);
        _cleanup_close_ int l3p = make_layer("etc/three", "333", &d3);
        _cleanup_close_ int l2 = compress_fd(l2p, 1);
        _cleanup_close_ int l3 = compress_fd(l3p, 2);
        _cleanup_free_ char *c1 = berth_chain_id(NULL, d1);
        _cleanup_free_ char *c2 = berth_chain_id(c1, d2);
        _cleanup_free_ char *c3 = berth_chain_id(c2, d3);
        import_ok(f->imgs, c1, d1, l1);
        import_ok(f->imgs, c2, d2, l2);
        import_ok(f->imgs, c3, d3, l3);
        assert_true(berth_layer_exists(f->imgs, c3));
        /* importing again drains the stream and is fine */
        lseek(l1, 0, SEEK_SET);
        import_ok(f->imgs, c1, d1, l1);
        char *diffs[] = {d1, d2, d3};
        _cleanup_free_ char *cfg = put_config(f->imgs, diffs, 3, "a");
        commit_ok(f->imgs, cfg, "example.com/app:v1");

        char *id = NULL;
        const char *names[] = {"example.com/app:v1", cfg, cfg + 7, "sha256:", NULL};
        char shortid[20];
        snprintf(shortid, sizeof(shortid), "%.12s", cfg + 7);
        names[3] = shortid;
        for (int i = 0; names[i]; i++) {
                if (berth_image_resolve(f->imgs, names[i], &id, &err) < 0)
                        fail_msg("resolve %s: %s", names[i], err->msg);
                assert_string_equal(id, cfg);
                free(id);
        }
        assert_int_equal(berth_image_resolve(f->imgs, "example.com/app:v2", &id, &err), -ENOENT);
        assert_non_null(strstr(err->msg, "no such image"));
        berth_error_free(err);
        err = NULL;

        char **dirs = NULL;
        assert_int_equal(berth_image_layer_dirs(f->imgs, cfg, &dirs, &err), 0);
        assert_int_equal(strv_length(dirs), 3);
        _cleanup_free_ char *want0 = xasprintf("%s/overlay/%s/diff", f->dir, c3 + 7);
        assert_string_equal(dirs[0], want0);
        _cleanup_free_ char *file3 = xasprintf("%s/etc/three", dirs[0]);
        _cleanup_free_ char *file1 = xasprintf("%s/etc/one", dirs[2]);
        struct stat st;
        assert_int_equal(stat(file3, &st), 0);
        assert_int_equal(st.st_size, 3);
        assert_int_equal(st.st_uid, 1000);
        assert_int_equal(stat(file1, &st), 0);
        strv_free(dirs);

        json_t *o = NULL;
        assert_int_equal(berth_image_inspect(f->imgs, "example.com/app:v1", &o, &err), 0);
        assert_string_equal(json_string_value(json_object_get(o, "Id")), cfg);
        assert_string_equal(json_string_value(json_array_get(json_object_get(o, "RepoTags"), 0)),
                            "example.com/app:v1");
        assert_string_equal(json_string_value(json_object_get(o, "Created")),
                            "2024-01-02T03:04:05.123456789Z");
        assert_int_equal(json_integer_value(json_object_get(o, "Size")), 6);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(o, "GraphDriver"), "Name")),
            "overlay2");
        assert_int_equal(json_array_size(json_object_get(json_object_get(o, "RootFS"), "Layers")),
                         3);
        assert_string_equal(json_string_value(json_object_get(o, "Os")), "linux");
        json_decref(o);

        json_t *list = NULL;
        assert_int_equal(berth_image_list(f->imgs, false, NULL, &list, &err), 0);
        assert_int_equal(json_array_size(list), 1);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "Created")),
                         1704164645);
        json_decref(list);

        /* docker's filters, in both of docker's encodings */
        const char *filters[][2] = {
            {"{\"reference\": [\"example.com/app\"]}", "1"},
            {"{\"reference\": [\"example.com/*:v1\"]}", "1"},
            {"{\"reference\": {\"other*\": true}}", "0"},
            {"{\"label\": [\"l=a\"]}", "1"},
            {"{\"label\": [\"l\"]}", "1"},
            {"{\"label\": [\"l=b\"]}", "0"},
            {"{\"label!\": [\"l=a\"]}", "0"},
            {"{\"dangling\": [\"true\"]}", "0"},
            {"{\"dangling\": {\"false\": true}}", "1"},
            {"{\"until\": [\"1704164646\"]}", "1"},
            {"{\"until\": [\"1704164645.000\"]}", "0"},
            {"{\"since\": [\"example.com/app:v1\"]}", "0"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(filters); i++) {
                json_t *fj = json_loads(filters[i][0], 0, NULL);
                assert_non_null(fj);
                if (berth_image_list(f->imgs, false, fj, &list, &err) < 0)
                        fail_msg("filter %s: %s", filters[i][0], err->msg);
                if (json_array_size(list) != (size_t)atoi(filters[i][1]))
                        fail_msg("filter %s: %zu images", filters[i][0], json_array_size(list));
                json_decref(list);
                json_decref(fj);
        }
        json_t *badf = json_pack("{s:[s]}", "colour", "red");
        assert_int_equal(berth_image_list(f->imgs, false, badf, &list, &err), -EINVAL);
        berth_error_free(err);
        err = NULL;
        json_decref(badf);

        json_t *hist = NULL;
        assert_int_equal(berth_image_history(f->imgs, cfg, &hist, &err), 0);
        assert_int_equal(json_array_size(hist), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(hist, 0), "Id")), cfg);
        json_decref(hist);
}

static void test_wrong_diff_id(void **state)
{
        struct fixture *f = *state;
        struct berth_error *err = NULL;
        _cleanup_free_ char *d1 = NULL, *d2 = NULL;
        _cleanup_close_ int l1p = make_layer("etc/one", "1", &d1);
        close(make_layer("etc/two", "2", &d2)); /* only its diff id is needed */
        _cleanup_close_ int l1 = compress_fd(l1p, 1);
        /* layer 1's bytes announced with layer 2's diff id */
        assert_int_equal(berth_layer_import(f->imgs, d2, d2, l1, NULL, &err), -EBADMSG);
        assert_non_null(strstr(err->msg, "diff id mismatch"));
        berth_error_free(err);
        err = NULL;
        assert_false(berth_layer_exists(f->imgs, d2));
        _cleanup_free_ char *ov = xasprintf("%s/overlay", f->dir);
        _cleanup_free_ char *ovtmp = xasprintf("%s/overlay/tmp", f->dir);
        assert_int_equal(count_entries(ov), 1); /* only tmp */
        assert_int_equal(count_entries(ovtmp), 0);
        /* a truncated gzip stream fails too */
        size_t len;
        _cleanup_free_ char *gz = fd_slurp(l1, &len);
        int half = memfd_create("h", MFD_CLOEXEC);
        assert_int_equal(write(half, gz, len / 2), (ssize_t)(len / 2));
        lseek(half, 0, SEEK_SET);
        assert_true(berth_layer_import(f->imgs, d1, d1, half, NULL, &err) < 0);
        berth_error_free(err);
        err = NULL;
        close(half);
        assert_false(berth_layer_exists(f->imgs, d1));
        /* not a tar at all */
        int junk = memfd_create("j", MFD_CLOEXEC);
        assert_int_equal(write(junk, "hello world, no tar here", 24), 24);
        lseek(junk, 0, SEEK_SET);
        assert_true(berth_layer_import(f->imgs, d1, d1, junk, NULL, &err) < 0);
        berth_error_free(err);
        err = NULL;
        close(junk);
        assert_int_equal(count_entries(ovtmp), 0);
        /* a commit whose layer is missing shows nothing */
        char *diffs[] = {d2};
        _cleanup_free_ char *cfg = put_config(f->imgs, diffs, 1, "x");
        assert_int_equal(berth_image_commit(f->imgs, cfg, NULL, NULL, "x:1", NULL, &err), -ENOENT);
        berth_error_free(err);
        err = NULL;
        char *id = NULL;
        assert_int_equal(berth_image_resolve(f->imgs, "x:1", &id, NULL), -ENOENT);
        /* a config that is not an image config */
        _cleanup_free_ char *bad = NULL;
        assert_int_equal(berth_store_put(berth_images_blobs(f->imgs), "{}", 2, NULL, &bad, NULL),
                         0);
        assert_int_equal(berth_image_commit(f->imgs, bad, NULL, NULL, NULL, NULL, &err), -EINVAL);
        assert_non_null(strstr(err->msg, "rootfs"));
        berth_error_free(err);
}

static bool used_id_is(const char *id, void *userdata, char **ret_container)
{
        bool used = userdata && !strcmp(id, userdata);
        if (used && ret_container)
                *ret_container = xstrdup("c0ffee000000");
        return used;
}

static void test_tag_remove_gc(void **state)
{
        struct fixture *f = *state;
        struct berth_error *err = NULL;
        _cleanup_free_ char *base = NULL, *da = NULL, *db = NULL;
        _cleanup_close_ int lb = make_layer("etc/base", "base", &base);
        _cleanup_close_ int la = make_layer("etc/a", "a", &da);
        _cleanup_close_ int lbb = make_layer("etc/b", "b", &db);
        _cleanup_free_ char *cb = berth_chain_id(NULL, base);
        _cleanup_free_ char *ca = berth_chain_id(cb, da);
        _cleanup_free_ char *cbb = berth_chain_id(cb, db);
        import_ok(f->imgs, cb, base, lb);
        import_ok(f->imgs, ca, da, la);
        import_ok(f->imgs, cbb, db, lbb);
        char *diffs_a[] = {base, da}, *diffs_b[] = {base, db};
        _cleanup_free_ char *ia = put_config(f->imgs, diffs_a, 2, "a");
        _cleanup_free_ char *ib = put_config(f->imgs, diffs_b, 2, "b");
        commit_ok(f->imgs, ia, "a");
        commit_ok(f->imgs, ib, "b:1");
        assert_int_equal(berth_image_tag(f->imgs, "a", "other/a:2", &err), 0);
        assert_int_equal(berth_image_tag(f->imgs, "a", "a@sha256:00", &err), -EINVAL);
        berth_error_free(err);
        err = NULL;

        /* by id with tags in two repositories: must be forced */
        json_t *rep = NULL;
        assert_int_equal(berth_image_remove(f->imgs, ia, false, false, NULL, NULL, &rep, &err),
                         -EBUSY);
        berth_error_free(err);
        err = NULL;
        /* untag one name: the image stays */
        assert_int_equal(
            berth_image_remove(f->imgs, "other/a:2", false, false, NULL, NULL, &rep, &err), 0);
        assert_int_equal(json_array_size(rep), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(rep, 0), "Untagged")),
                            "other/a:2");
        json_decref(rep);
        char *id = NULL;
        assert_int_equal(berth_image_resolve(f->imgs, "a:latest", &id, &err), 0);
        free(id);
        /* in use: EBUSY without force */
        assert_int_equal(berth_image_remove(f->imgs, "a", false, false, used_id_is, ia, &rep, &err),
                         -EBUSY);
        /* docker's wording: the reference and the container using the image */
        assert_non_null(strstr(err->msg, "unable to remove repository reference \"a\" (must "
                                         "force) - container c0ffee000000 is using its referenced "
                                         "image"));
        berth_error_free(err);
        err = NULL;
        /* last tag: the image and its own layer go, the shared base stays */
        _cleanup_free_ char *dir_a = xasprintf("overlay/%s", ca + 7);
        _cleanup_free_ char *dir_base = xasprintf("overlay/%s", cb + 7);
        _cleanup_free_ char *blob_a = xasprintf("blobs/sha256/%s", ia + 7);
        assert_true(path_exists(f->dir, dir_a));
        assert_int_equal(berth_image_remove(f->imgs, "a", false, false, NULL, NULL, &rep, &err), 0);
        assert_int_equal(json_array_size(rep), 3); /* Untagged, Deleted image, Deleted layer */
        json_decref(rep);
        assert_false(path_exists(f->dir, dir_a));
        assert_false(path_exists(f->dir, blob_a));
        assert_true(path_exists(f->dir, dir_base));
        assert_false(berth_layer_exists(f->imgs, ca));
        assert_true(berth_layer_exists(f->imgs, cb));
        char **dirs = NULL;
        assert_int_equal(berth_image_layer_dirs(f->imgs, "b:1", &dirs, &err), 0);
        strv_free(dirs);
        assert_int_equal(berth_image_resolve(f->imgs, ia, &id, &err), -ENOENT);
        berth_error_free(err);
        err = NULL;

        /* retagging b's tag onto a new image leaves b dangling; prune takes it */
        json_t *usage = NULL;
        assert_int_equal(berth_image_disk_usage(f->imgs, &usage, &err), 0);
        assert_true(json_integer_value(json_object_get(usage, "LayersSize")) > 0);
        json_decref(usage);
        _cleanup_free_ char *ic = put_config(f->imgs, diffs_b, 1, "c");
        commit_ok(f->imgs, ic, "b:1");
        json_t *filters = json_pack("{s:[s]}", "dangling", "true");
        json_t *list = NULL;
        assert_int_equal(berth_image_list(f->imgs, false, filters, &list, &err), 0);
        assert_int_equal(json_array_size(list), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "Id")), ib);
        json_decref(list);
        json_decref(filters);
        assert_int_equal(berth_image_prune(f->imgs, false, NULL, NULL, NULL, &rep, &err), 0);
        assert_int_equal(json_array_size(json_object_get(rep, "ImagesDeleted")), 2);
        assert_true(json_integer_value(json_object_get(rep, "SpaceReclaimed")) > 0);
        json_decref(rep);
        assert_true(berth_layer_exists(f->imgs, cb));
        assert_false(berth_layer_exists(f->imgs, cbb));
        /* prune all, except what a container uses */
        assert_int_equal(berth_image_prune(f->imgs, true, NULL, used_id_is, ic, &rep, &err), 0);
        assert_true(json_is_null(json_object_get(rep, "ImagesDeleted")));
        json_decref(rep);
        assert_int_equal(berth_image_prune(f->imgs, true, NULL, NULL, NULL, &rep, &err), 0);
        json_decref(rep);
        assert_false(berth_layer_exists(f->imgs, cb));
        _cleanup_free_ char *ov = xasprintf("%s/overlay", f->dir);
        assert_int_equal(count_entries(ov), 1);
        assert_int_equal(
            berth_image_remove(f->imgs, "nothere", false, false, NULL, NULL, &rep, &err), -ENOENT);
        berth_error_free(err);
}

static void test_crash_leftovers(void **state)
{
        struct fixture *f = *state;
        struct berth_error *err = NULL;
        _cleanup_free_ char *d1 = NULL;
        _cleanup_close_ int l1 = make_layer("etc/one", "1", &d1);
        _cleanup_free_ char *c1 = berth_chain_id(NULL, d1);
        /* an imported layer no image committed (a killed pull) */
        import_ok(f->imgs, c1, d1, l1);
        /* a blob stored by a pull killed before its commit */
        _cleanup_free_ char *orphan = NULL;
        assert_int_equal(
            berth_store_put(berth_images_blobs(f->imgs), "orphan", 6, NULL, &orphan, NULL), 0);
        berth_images_close(f->imgs);
        f->imgs = NULL;
        /* a half-unpacked layer, a renamed but unrecorded one, a half-written blob */
        const char *junk[] = {
            "overlay/tmp/layer-1-2-abc/diff/etc",
            "overlay/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            "/diff",
            NULL};
        for (int i = 0; junk[i]; i++) {
                _cleanup_free_ char *p = xasprintf("%s/%s", f->dir, junk[i]);
                assert_int_equal(berth_mkdir_p(p, 0755, NULL), 0);
        }
        _cleanup_free_ char *blobtmp = xasprintf("%s/tmp/blob-1-1", f->dir);
        assert_int_equal(berth_write_file_at(AT_FDCWD, blobtmp, "x", 1, O_CREAT, NULL), 0);
        if (berth_images_open(f->dir, &f->imgs, &err) < 0)
                fail_msg("reopen: %s", err->msg);
        _cleanup_free_ char *ov = xasprintf("%s/overlay", f->dir);
        _cleanup_free_ char *ovtmp = xasprintf("%s/overlay/tmp", f->dir);
        _cleanup_free_ char *tmp = xasprintf("%s/tmp", f->dir);
        assert_int_equal(count_entries(ov), 1);
        assert_int_equal(count_entries(ovtmp), 0);
        assert_int_equal(count_entries(tmp), 0);
        assert_false(berth_layer_exists(f->imgs, c1));
        assert_false(berth_store_has(berth_images_blobs(f->imgs), orphan));
        /* and the store works afterwards */
        lseek(l1, 0, SEEK_SET);
        import_ok(f->imgs, c1, d1, l1);
        assert_true(berth_layer_exists(f->imgs, c1));
}

static void test_save_load(void **state)
{
        struct fixture *f = *state;
        struct berth_error *err = NULL;
        _cleanup_free_ char *d1 = NULL, *d2 = NULL;
        _cleanup_close_ int l1 = make_layer("etc/one", "1", &d1);
        _cleanup_close_ int l2p = make_layer("etc/two", "two", &d2);
        _cleanup_close_ int l2 = compress_fd(l2p, 1);
        _cleanup_free_ char *c1 = berth_chain_id(NULL, d1);
        _cleanup_free_ char *c2 = berth_chain_id(c1, d2);
        /* the layers as blobs (pull does this): save needs the tar bytes back */
        _cleanup_free_ char *b1 = NULL, *b2 = NULL;
        size_t n1, n2;
        _cleanup_free_ char *t1 = fd_slurp(l1, &n1);
        _cleanup_free_ char *t2 = fd_slurp(l2, &n2);
        assert_int_equal(berth_store_put(berth_images_blobs(f->imgs), t1, n1, d1, &b1, &err), 0);
        assert_int_equal(berth_store_put(berth_images_blobs(f->imgs), t2, n2, NULL, &b2, &err), 0);
        import_ok(f->imgs, c1, d1, l1);
        import_ok(f->imgs, c2, d2, l2);
        assert_int_equal(
            image_layer_blob_record(f->imgs, d1, b1, MEDIA_OCI_LAYER, (int64_t)n1, &err), 0);
        assert_int_equal(
            image_layer_blob_record(f->imgs, d2, b2, MEDIA_OCI_LAYER_GZIP, (int64_t)n2, &err), 0);
        char *diffs[] = {d1, d2};
        _cleanup_free_ char *cfg = put_config(f->imgs, diffs, 2, "s");
        commit_ok(f->imgs, cfg, "saved/img:3");
        int out = memfd_create("save", MFD_CLOEXEC);
        char *names[] = {"saved/img:3", NULL};
        if (berth_image_save(f->imgs, names, out, &err) < 0)
                fail_msg("save: %s", err->msg);
        lseek(out, 0, SEEK_SET);

        /* into a second store */
        char t[] = "/tmp/berth-images-XXXXXX";
        assert_non_null(mkdtemp(t));
        struct berth_images *other = NULL;
        assert_int_equal(berth_images_open(t, &other, &err), 0);
        char **loaded = NULL;
        if (berth_image_load(other, out, NULL, NULL, &loaded, &err) < 0)
                fail_msg("load: %s", err->msg);
        assert_string_equal(loaded[0], "Loaded image: saved/img:3");
        strv_free(loaded);
        char *id = NULL;
        assert_int_equal(berth_image_resolve(other, "saved/img:3", &id, &err), 0);
        assert_string_equal(id, cfg);
        free(id);
        char **dirs = NULL;
        assert_int_equal(berth_image_layer_dirs(other, cfg, &dirs, &err), 0);
        _cleanup_free_ char *two = xasprintf("%s/etc/two", dirs[0]);
        assert_int_equal(access(two, F_OK), 0);
        strv_free(dirs);
        /* and out again: the second save matches the layers */
        int out2 = memfd_create("save2", MFD_CLOEXEC);
        assert_int_equal(berth_image_save(other, names, out2, &err), 0);
        close(out2);
        berth_images_close(other);
        berth_rm_rf_at(AT_FDCWD, t, NULL);

        /* a corrupt archive loads nothing */
        int junk = memfd_create("junk", MFD_CLOEXEC);
        assert_int_equal(write(junk, "not a tar", 9), 9);
        lseek(junk, 0, SEEK_SET);
        assert_true(berth_image_load(f->imgs, junk, NULL, NULL, &loaded, &err) < 0);
        berth_error_free(err);
        close(junk);
        close(out);
}

struct import_arg {
        struct berth_images *imgs;
        const char *chain, *diff;
        int fd;
        int rc;
};

static void *import_thread(void *p)
{
        struct import_arg *a = p;
        struct berth_error *err = NULL;
        a->rc = berth_layer_import(a->imgs, a->chain, a->diff, a->fd, NULL, &err);
        berth_error_free(err);
        return NULL;
}

/* the same layer imported by four threads at once (two pulls sharing a base): all succeed,
 * one dir remains, no temporaries */
static void test_parallel_import(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *d = NULL;
        _cleanup_close_ int l = make_layer("etc/shared", "shared", &d);
        size_t len;
        _cleanup_free_ char *bytes = fd_slurp(l, &len);
        struct import_arg args[4];
        pthread_t t[4];
        for (int i = 0; i < 4; i++) {
                int fd = memfd_create("l", MFD_CLOEXEC);
                assert_int_equal(write(fd, bytes, len), (ssize_t)len);
                lseek(fd, 0, SEEK_SET);
                args[i] = (struct import_arg){f->imgs, d, d, fd, -1};
                assert_int_equal(pthread_create(&t[i], NULL, import_thread, &args[i]), 0);
        }
        for (int i = 0; i < 4; i++) {
                pthread_join(t[i], NULL);
                assert_int_equal(args[i].rc, 0);
                close(args[i].fd);
        }
        assert_true(berth_layer_exists(f->imgs, d));
        _cleanup_free_ char *ov = xasprintf("%s/overlay", f->dir);
        _cleanup_free_ char *ovtmp = xasprintf("%s/overlay/tmp", f->dir);
        assert_int_equal(count_entries(ov), 2);
        assert_int_equal(count_entries(ovtmp), 0);
}

static void test_load_default(void **state)
{
        struct fixture *f = *state;
        struct berth_error *err = NULL;
        char **loaded = NULL;
        setenv("BERTH_DEFAULT_IMAGE", "/nonexistent/default.tar", 1);
        assert_int_equal(berth_image_load_default(f->imgs, &loaded, &err), -ENOENT);
        berth_error_free(err);
        err = NULL;
        unsetenv("BERTH_DEFAULT_IMAGE");
        if (access(berth_default_image_path(), R_OK) < 0)
                skip(); /* built without /bin/busybox */
        if (berth_image_load_default(f->imgs, &loaded, &err) < 0)
                fail_msg("load default: %s", err->msg);
        assert_non_null(loaded);
        assert_string_equal(loaded[0], "Loaded image: busybox:latest");
        strv_free(loaded);
        char **dirs = NULL;
        assert_int_equal(berth_image_layer_dirs(f->imgs, "busybox", &dirs, &err), 0);
        _cleanup_free_ char *sh = xasprintf("%s/bin/sh", dirs[0]);
        struct stat st;
        assert_int_equal(lstat(sh, &st), 0);
        assert_true(S_ISLNK(st.st_mode));
        strv_free(dirs);
        /* once only: a removed default image stays removed */
        json_t *rep = NULL;
        assert_int_equal(
            berth_image_remove(f->imgs, "busybox", false, false, NULL, NULL, &rep, &err), 0);
        json_decref(rep);
        assert_int_equal(berth_image_load_default(f->imgs, &loaded, &err), 0);
        assert_null(loaded);
        char *id = NULL;
        assert_int_equal(berth_image_resolve(f->imgs, "busybox", &id, NULL), -ENOENT);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_import_commit_resolve, setup, teardown),
            cmocka_unit_test_setup_teardown(test_wrong_diff_id, setup, teardown),
            cmocka_unit_test_setup_teardown(test_tag_remove_gc, setup, teardown),
            cmocka_unit_test_setup_teardown(test_crash_leftovers, setup, teardown),
            cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
            cmocka_unit_test_setup_teardown(test_load_default, setup, teardown),
            cmocka_unit_test_setup_teardown(test_parallel_import, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
