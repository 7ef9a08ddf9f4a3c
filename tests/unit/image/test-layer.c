/* Unit tests for layer application (src/image/layer.c): contents, whiteouts, and crafted
 * malicious tars (CVE-2018-15664 family): nothing may appear outside the root. Needs root
 * (ownership, device nodes, trusted.* xattrs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "image/image.h"
#include "tar-helpers.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

static char *newroot(int *ret_fd)
{
        char t[] = "/tmp/berth-layer-XXXXXX";
        assert_non_null(mkdtemp(t));
        _cleanup_free_ char *root = xasprintf("%s/root", t);
        assert_int_equal(mkdir(root, 0755), 0);
        *ret_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(*ret_fd >= 0);
        return xstrdup(t);
}

static int apply(int rootfd, int tarfd, const struct berth_layer_limits *lim, char **ret_msg)
{
        struct berth_error *err = NULL;
        int r = berth_layer_apply(rootfd, tarfd, lim, NULL, &err);
        if (ret_msg)
                *ret_msg = err ? xstrdup(err->msg) : NULL;
        berth_error_free(err);
        close(tarfd);
        return r;
}

static char *slurp(const char *path)
{
        char *data = NULL;
        if (berth_read_file_at(AT_FDCWD, path, 1 << 20, &data, NULL, NULL) < 0)
                return NULL;
        return data;
}

static void test_contents_and_whiteouts(void **state)
{
        if (geteuid())
                skip();
        int rootfd;
        _cleanup_free_ char *base = newroot(&rootfd);
        struct tarw t = tar_begin(true);
        tar_add(&t, "./etc/", AE_IFDIR, 0755, NULL, NULL, NULL);
        tar_add(&t, "./etc/hosts", AE_IFREG, 04755, "127.0.0.1 localhost\n", NULL, NULL);
        tar_add(&t, "./etc/link", AE_IFLNK, 0777, NULL, "hosts", NULL);
        tar_add(&t, "./etc/hard", AE_IFREG, 0644, NULL, NULL, "etc/hosts");
        tar_add(&t, "./run/fifo", AE_IFIFO, 0600, NULL, NULL, NULL);
        tar_add(&t, "./gone/.wh.file", AE_IFREG, 0, NULL, NULL, NULL);
        tar_add(&t, "./opaque/.wh..wh..opq", AE_IFREG, 0, NULL, NULL, NULL);
        assert_int_equal(apply(rootfd, tar_end(&t), NULL, NULL), 0);
        _cleanup_free_ char *hosts = xasprintf("%s/root/etc/hosts", base);
        _cleanup_free_ char *content = slurp(hosts);
        assert_string_equal(content, "127.0.0.1 localhost\n");
        struct stat st;
        assert_int_equal(stat(hosts, &st), 0);
        assert_int_equal(st.st_mode & 07777, 04755); /* setuid kept: set after chown */
        assert_int_equal(st.st_uid, 1000);
        assert_int_equal(st.st_nlink, 2);
        _cleanup_free_ char *link = xasprintf("%s/root/etc/link", base);
        char target[64] = "";
        assert_int_equal(readlink(link, target, sizeof(target)), 5);
        _cleanup_free_ char *fifo = xasprintf("%s/root/run/fifo", base);
        assert_int_equal(lstat(fifo, &st), 0);
        assert_true(S_ISFIFO(st.st_mode));
        _cleanup_free_ char *wh = xasprintf("%s/root/gone/file", base);
        assert_int_equal(lstat(wh, &st), 0);
        assert_true(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
        _cleanup_free_ char *opq = xasprintf("%s/root/opaque", base);
        char v[4] = "";
        assert_int_equal(getxattr(opq, "trusted.overlay.opaque", v, sizeof(v)), 1);
        assert_int_equal(v[0], 'y');
        close(rootfd);
        assert_int_equal(berth_rm_rf_at(AT_FDCWD, base, NULL), 0);
}

/* Each crafted layer either fails or leaves everything inside root/: the sentinel dir beside
 * the root (base/outside) must stay empty and no file may be created at host paths. */
static void test_malicious_layers(void **state)
{
        if (geteuid())
                skip();
        int rootfd;
        _cleanup_free_ char *base = newroot(&rootfd);
        _cleanup_free_ char *outside = xasprintf("%s/outside", base);
        assert_int_equal(mkdir(outside, 0755), 0);

        /* 1. `..` in a name */
        struct tarw t = tar_begin(false);
        tar_add(&t, "../outside/x", AE_IFREG, 0644, "pwned", NULL, NULL);
        char *msg = NULL;
        assert_int_equal(apply(rootfd, tar_end(&t), NULL, &msg), -EINVAL);
        assert_non_null(strstr(msg, "`..`"));
        free(msg);

        /* 2. absolute name: lands inside */
        t = tar_begin(false);
        tar_add(&t, "/etc/berth-abs", AE_IFREG, 0644, "inside", NULL, NULL);
        assert_int_equal(apply(rootfd, tar_end(&t), NULL, NULL), 0);
        assert_int_equal(access("/etc/berth-abs", F_OK), -1);
        _cleanup_free_ char *abs = xasprintf("%s/root/etc/berth-abs", base);
        assert_int_equal(access(abs, F_OK), 0);

        /* 3. a symlink to / (or to the dir beside the root, or climbing), then an entry through
         * it: either refused or created inside the root, never outside */
        const char *targets[] = {"/", outside, "../../../../.."};
        for (size_t i = 0; i < ARRAY_SIZE(targets); i++) {
                t = tar_begin(false);
                char lname[16], fname[64];
                snprintf(lname, sizeof(lname), "l%zu", i);
                snprintf(fname, sizeof(fname), "l%zu/berth-through-%zu", i, i);
                tar_add(&t, lname, AE_IFLNK, 0777, NULL, targets[i], NULL);
                tar_add(&t, fname, AE_IFREG, 0644, "inside", NULL, NULL);
                apply(rootfd, tar_end(&t), NULL, NULL);
                _cleanup_free_ char *host = xasprintf("/berth-through-%zu", i);
                assert_int_equal(access(host, F_OK), -1);
        }
        _cleanup_free_ char *through = xasprintf("%s/root/berth-through-0", base);
        assert_int_equal(access(through, F_OK), 0);

        /* 4. hardlink to ../x and to a host file through a symlink */
        t = tar_begin(false);
        tar_add(&t, "h1", AE_IFREG, 0644, NULL, NULL, "../outside/y");
        msg = NULL;
        assert_int_equal(apply(rootfd, tar_end(&t), NULL, &msg), -EINVAL);
        free(msg);
        t = tar_begin(false);
        tar_add(&t, "p", AE_IFLNK, 0777, NULL, "/etc/passwd", NULL);
        tar_add(&t, "h2", AE_IFREG, 0644, NULL, NULL, "p");
        apply(rootfd, tar_end(&t), NULL, NULL);
        _cleanup_free_ char *h2 = xasprintf("%s/root/h2", base);
        struct stat st, host;
        assert_int_equal(stat("/etc/passwd", &host), 0);
        if (lstat(h2, &st) == 0)
                assert_false(st.st_ino == host.st_ino && st.st_dev == host.st_dev);

        /* 5. device nodes where they are not allowed */
        struct berth_layer_limits nodev = berth_layer_default_limits;
        nodev.allow_devices = false;
        t = tar_begin(false);
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, "dev/sda");
        archive_entry_set_filetype(e, AE_IFBLK);
        archive_entry_set_perm(e, 0600);
        archive_entry_set_rdevmajor(e, 8);
        archive_write_header(t.a, e);
        archive_entry_free(e);
        msg = NULL;
        assert_int_equal(apply(rootfd, tar_end(&t), &nodev, &msg), -EPERM);
        assert_non_null(strstr(msg, "device nodes are not allowed"));
        free(msg);

        /* nothing ever reached the sentinel beside the root */
        _cleanup_dir_ DIR *d = opendir(outside);
        struct dirent *de;
        while ((de = readdir(d)))
                assert_true(de->d_name[0] == '.');
        close(rootfd);
        assert_int_equal(berth_rm_rf_at(AT_FDCWD, base, NULL), 0);
}

static void test_limits(void **state)
{
        if (geteuid())
                skip();
        int rootfd;
        _cleanup_free_ char *base = newroot(&rootfd);
        struct berth_layer_limits lim = berth_layer_default_limits;
        lim.max_entries = 100;
        struct tarw t = tar_begin(false);
        for (int i = 0; i < 101; i++) {
                char name[32];
                snprintf(name, sizeof(name), "f%d", i);
                tar_add(&t, name, AE_IFREG, 0644, "x", NULL, NULL);
        }
        char *msg = NULL;
        assert_int_equal(apply(rootfd, tar_end(&t), &lim, &msg), -EFBIG);
        assert_non_null(strstr(msg, "more than 100 entries"));
        free(msg);

        /* a gzip bomb: 160 MB of zeros in ~160 KB */
        lim = berth_layer_default_limits;
        lim.max_ratio = 100;
        t = tar_begin(true);
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, "zeros");
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, 160 << 20);
        archive_write_header(t.a, e);
        archive_entry_free(e);
        static char zeros[1 << 20];
        for (int i = 0; i < 160; i++)
                archive_write_data(t.a, zeros, sizeof(zeros));
        msg = NULL;
        assert_int_equal(apply(rootfd, tar_end(&t), &lim, &msg), -EFBIG);
        assert_non_null(strstr(msg, "decompression bomb"));
        free(msg);
        close(rootfd);
        assert_int_equal(berth_rm_rf_at(AT_FDCWD, base, NULL), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_contents_and_whiteouts),
            cmocka_unit_test(test_malicious_layers),
            cmocka_unit_test(test_limits),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
