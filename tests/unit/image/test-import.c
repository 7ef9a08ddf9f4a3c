/* docker import and commit in the image store: a tar becomes a one-layer image (any
 * compression, changes applied, nothing kept on failure); an overlay upper dir becomes an OCI
 * layer (whiteouts → .wh. files, opaque dirs → .wh..wh..opq, hardlinks kept) that unpacks back
 * into the same overlay form. Runs as root (whiteouts are 0:0 char devices, trusted xattrs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "image/internal.h"
#include "tar-helpers.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

struct fixture {
        char *dir;
        struct berth_images *imgs;
};

static int setup(void **state)
{
        struct fixture *f = xcalloc(1, sizeof(*f));
        char t[] = "/tmp/berth-import-XXXXXX";
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

static size_t count_blobs(struct fixture *f)
{
        _cleanup_free_ char *p = xasprintf("%s/blobs/sha256", f->dir);
        DIR *d = opendir(p);
        size_t n = 0;
        struct dirent *de;
        while (d && (de = readdir(d)))
                n += de->d_name[0] != '.';
        if (d)
                closedir(d);
        return n;
}

static int base_tar(bool gzip)
{
        struct tarw t = tar_begin(gzip);
        tar_add(&t, "etc", AE_IFDIR, 0755, NULL, NULL, NULL);
        tar_add(&t, "etc/hello", AE_IFREG, 0644, "hi\n", NULL, NULL);
        tar_add(&t, "etc/gone", AE_IFREG, 0644, "bye\n", NULL, NULL);
        tar_add(&t, "opq", AE_IFDIR, 0755, NULL, NULL, NULL);
        tar_add(&t, "opq/old", AE_IFREG, 0644, "old\n", NULL, NULL);
        return tar_end(&t);
}

static char *import_base(struct fixture *f, const char *tag)
{
        int fd = base_tar(true);
        char *const changes[] = {"CMD [\"/bin/sh\"]", "ENV A=b", NULL};
        struct berth_import_opts o = {.source = "-", .changes = changes, .tag = tag};
        struct berth_error *err = NULL;
        char *id = NULL;
        if (berth_image_import(f->imgs, fd, &o, &id, &err) < 0)
                fail_msg("import: %s", err->msg);
        close(fd);
        return id;
}

static void test_import(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *id = import_base(f, "imp/base:1");
        struct berth_error *err = NULL;
        _cleanup_free_ char *resolved = NULL;
        assert_int_equal(berth_image_resolve(f->imgs, "imp/base:1", &resolved, &err), 0);
        assert_string_equal(resolved, id);
        _cleanup_json_ json_t *cfg = NULL;
        assert_int_equal(berth_image_config(f->imgs, id, &cfg, &err), 0);
        assert_string_equal(json_string_value(json_object_get(cfg, "os")), "linux");
        json_t *c = json_object_get(cfg, "config");
        assert_string_equal(json_string_value(json_array_get(json_object_get(c, "Cmd"), 0)),
                            "/bin/sh");
        assert_string_equal(json_string_value(json_array_get(json_object_get(c, "Env"), 0)), "A=b");
        json_t *h = json_array_get(json_object_get(cfg, "history"), 0);
        assert_string_equal(json_string_value(json_object_get(h, "comment")), "Imported from -");
        /* the diff id is the sha256 of the uncompressed tar, stored as the layer's blob */
        const char *diff = json_string_value(
            json_array_get(json_object_get(json_object_get(cfg, "rootfs"), "diff_ids"), 0));
        assert_true(berth_store_has(berth_images_blobs(f->imgs), diff));
        _cleanup_strv_ char **dirs = NULL;
        assert_int_equal(berth_image_layer_dirs(f->imgs, id, &dirs, &err), 0);
        _cleanup_free_ char *hello = xasprintf("%s/etc/hello", dirs[0]);
        struct stat st;
        assert_int_equal(stat(hello, &st), 0);
        assert_int_equal(st.st_size, 3);
}

static void test_import_failures_keep_nothing(void **state)
{
        struct fixture *f = *state;
        size_t before = count_blobs(f);
        struct berth_error *err = NULL;
        /* not a tar */
        int fd = memfd_create("x", MFD_CLOEXEC);
        assert_int_equal(write(fd, "not a tar at all, just text\n", 28), 28);
        lseek(fd, 0, SEEK_SET);
        struct berth_import_opts o = {.source = "-", .tag = "imp/bad:1"};
        assert_true(berth_image_import(f->imgs, fd, &o, NULL, &err) < 0);
        berth_error_free(err);
        err = NULL;
        close(fd);
        /* a bad change fails before the tar is read */
        fd = base_tar(false);
        char *const changes[] = {"RUN make", NULL};
        o.changes = changes;
        assert_int_equal(berth_image_import(f->imgs, fd, &o, NULL, &err), -EINVAL);
        assert_non_null(strstr(err->msg, "run is not a valid change command"));
        berth_error_free(err);
        err = NULL;
        close(fd);
        /* an empty input */
        fd = memfd_create("empty", MFD_CLOEXEC);
        o.changes = NULL;
        assert_true(berth_image_import(f->imgs, fd, &o, NULL, &err) < 0);
        berth_error_free(err);
        err = NULL;
        close(fd);
        assert_int_equal(count_blobs(f), before);
        char *id = NULL;
        assert_int_equal(berth_image_resolve(f->imgs, "imp/bad:1", &id, &err), -ENOENT);
        berth_error_free(err);
}

/* The entries of the tar blob digest: "path type [-> link]" lines */
static char *tar_listing(struct fixture *f, const char *digest)
{
        int fd = -1;
        struct berth_error *err = NULL;
        assert_int_equal(berth_store_open_blob(berth_images_blobs(f->imgs), digest, &fd, &err), 0);
        struct archive *a = archive_read_new();
        archive_read_support_format_tar(a);
        assert_int_equal(archive_read_open_fd(a, fd, 65536), ARCHIVE_OK);
        char *out = xstrdup("");
        struct archive_entry *e;
        while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
                const char *hl = archive_entry_hardlink(e);
                char *n = xasprintf("%s%s %o%s%s\n", out, archive_entry_pathname(e),
                                    (unsigned)archive_entry_filetype(e) >> 12, hl ? " => " : "",
                                    hl ? hl : "");
                free(out);
                out = n;
        }
        archive_read_free(a);
        close(fd);
        return out;
}

static void test_commit_upper(void **state)
{
        struct fixture *f = *state;
        _cleanup_free_ char *parent = import_base(f, NULL);
        _cleanup_free_ char *upper = xasprintf("%s/upper", f->dir);
        assert_int_equal(mkdir(upper, 0755), 0);
        int u = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(u >= 0);
        /* new and modified files, a hardlink pair, a deleted lower file (overlay whiteout) and a
         * dir replaced in the container (overlay opaque dir) */
        assert_int_equal(mkdirat(u, "etc", 0755), 0);
        int fd = openat(u, "etc/new", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_int_equal(write(fd, "new\n", 4), 4);
        assert_int_equal(fsetxattr(fd, "user.test", "v", 1, 0) == 0 || errno == ENOTSUP, 1);
        close(fd);
        assert_int_equal(linkat(u, "etc/new", u, "etc/new-link", 0), 0);
        assert_int_equal(mknodat(u, "etc/gone", S_IFCHR | 0, makedev(0, 0)), 0);
        assert_int_equal(symlinkat("/etc/hello", u, "etc/sym"), 0);
        assert_int_equal(mkdirat(u, "opq", 0755), 0);
        assert_int_equal(setxattr(upper, "trusted.test", "x", 1, 0) == 0 || errno == ENOTSUP, 1);
        _cleanup_free_ char *opq = xasprintf("%s/opq", upper);
        assert_int_equal(setxattr(opq, "trusted.overlay.opaque", "y", 1, 0), 0);
        fd = openat(u, "opq/fresh", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        close(fd);
        close(u);

        _cleanup_json_ json_t *conf = json_pack("{s:[s]}", "Cmd", "/bin/true");
        struct berth_commit_opts o = {
            .parent = parent,
            .config = conf,
            .container_id = "c0ffee",
            .comment = "a commit",
            .author = "me",
            .tag = "committed:1",
        };
        struct berth_error *err = NULL;
        _cleanup_free_ char *id = NULL;
        if (berth_image_commit_dir(f->imgs, upper, &o, &id, &err) < 0)
                fail_msg("commit: %s", err->msg);
        _cleanup_json_ json_t *cfg = NULL;
        assert_int_equal(berth_image_config(f->imgs, id, &cfg, &err), 0);
        json_t *diffs = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
        assert_int_equal(json_array_size(diffs), 2);
        assert_string_equal(json_string_value(json_object_get(cfg, "author")), "me");
        assert_string_equal(json_string_value(json_object_get(cfg, "container")), "c0ffee");
        json_t *hist = json_object_get(cfg, "history");
        assert_int_equal(json_array_size(hist), 2);
        json_t *h = json_array_get(hist, 1);
        assert_string_equal(json_string_value(json_object_get(h, "created_by")), "/bin/true");
        assert_string_equal(json_string_value(json_object_get(h, "comment")), "a commit");

        /* the layer tar speaks OCI: whiteout files, the opaque marker, one hardlink */
        _cleanup_free_ char *list = tar_listing(f, json_string_value(json_array_get(diffs, 1)));
        if (!strstr(list, "etc/ 4\n"))
                fail_msg("%s", list);
        assert_non_null(strstr(list, "etc/.wh.gone 10\n"));
        assert_non_null(strstr(list, "etc/new 10\n"));
        assert_non_null(strstr(list, "etc/new-link 0 => etc/new\n"));
        assert_non_null(strstr(list, "etc/sym 12\n"));
        assert_non_null(strstr(list, "opq/.wh..wh..opq 10\n"));
        assert_non_null(strstr(list, "opq/fresh 10\n"));
        assert_non_null(strstr(list, "opq/ 4\n"));

        /* unpacked, it is an overlay lower layer again */
        _cleanup_strv_ char **dirs = NULL;
        assert_int_equal(berth_image_layer_dirs(f->imgs, id, &dirs, &err), 0);
        assert_int_equal(strv_length(dirs), 2);
        _cleanup_free_ char *gone = xasprintf("%s/etc/gone", dirs[0]);
        struct stat st;
        assert_int_equal(lstat(gone, &st), 0);
        assert_true(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
        _cleanup_free_ char *lopq = xasprintf("%s/opq", dirs[0]);
        char v[4] = "";
        assert_int_equal(getxattr(lopq, "trusted.overlay.opaque", v, sizeof(v)), 1);
        assert_int_equal(v[0], 'y');
        _cleanup_free_ char *n1 = xasprintf("%s/etc/new", dirs[0]);
        _cleanup_free_ char *n2 = xasprintf("%s/etc/new-link", dirs[0]);
        struct stat s1, s2;
        assert_int_equal(stat(n1, &s1), 0);
        assert_int_equal(stat(n2, &s2), 0);
        assert_true(s1.st_ino == s2.st_ino);
        assert_int_equal(s1.st_mode & 07777, 0600);
        _cleanup_free_ char *resolved = NULL;
        assert_int_equal(berth_image_resolve(f->imgs, "committed:1", &resolved, &err), 0);
        assert_string_equal(resolved, id);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_import, setup, teardown),
            cmocka_unit_test_setup_teardown(test_import_failures_keep_nothing, setup, teardown),
            cmocka_unit_test_setup_teardown(test_commit_upper, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
