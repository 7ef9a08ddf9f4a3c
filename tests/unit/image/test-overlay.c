/* Unit tests for overlay snapshots (src/image/overlay.c): layers applied with berth_layer_apply,
 * mounted as one overlay; whiteouts and opaque dirs hide lower files; hundreds of layers mount.
 * Runs in a private mount namespace so nothing can leak to the host's mount table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "image/image.h"
#include "tar-helpers.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

static char *base;

static int setup(void **state)
{
        if (geteuid())
                return 0;
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
                return -1;
        char t[] = "/tmp/berth-overlay-XXXXXX";
        if (!mkdtemp(t))
                return -1;
        base = xstrdup(t);
        return 0;
}

static int teardown(void **state)
{
        if (base)
                berth_rm_rf_at(AT_FDCWD, base, NULL);
        free(base);
        return 0;
}

static char *layer(const char *name, int tarfd)
{
        char *dir = xasprintf("%s/%s", base, name);
        assert_int_equal(berth_mkdir_p(dir, 0755, NULL), 0);
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        struct berth_error *err = NULL;
        if (berth_layer_apply(fd, tarfd, NULL, NULL, &err) < 0)
                fail_msg("apply %s: %s", name, err->msg);
        close(fd);
        close(tarfd);
        return dir;
}

static char *read_merged(const char *merged, const char *name)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", merged, name);
        char *data = NULL;
        if (berth_read_file_at(AT_FDCWD, p, 4096, &data, NULL, NULL) < 0)
                return NULL;
        return data;
}

static void test_whiteouts_and_opaque(void **state)
{
        if (geteuid())
                skip();
        struct tarw t = tar_begin(true);
        tar_add(&t, "a", AE_IFREG, 0644, "0", NULL, NULL);
        tar_add(&t, "keep", AE_IFREG, 0644, "k", NULL, NULL);
        tar_add(&t, "dir/old", AE_IFREG, 0644, "o", NULL, NULL);
        _cleanup_free_ char *l0 = layer("l0", tar_end(&t));
        t = tar_begin(false);
        tar_add(&t, "a", AE_IFREG, 0644, "1", NULL, NULL);
        tar_add(&t, ".wh.keep", AE_IFREG, 0, NULL, NULL, NULL);
        _cleanup_free_ char *l1 = layer("l1", tar_end(&t));
        t = tar_begin(false);
        tar_add(&t, "dir/.wh..wh..opq", AE_IFREG, 0, NULL, NULL, NULL);
        tar_add(&t, "dir/new", AE_IFREG, 0644, "n", NULL, NULL);
        _cleanup_free_ char *l2 = layer("l2", tar_end(&t));

        _cleanup_free_ char *upper = xasprintf("%s/upper", base);
        _cleanup_free_ char *work = xasprintf("%s/work", base);
        _cleanup_free_ char *merged = xasprintf("%s/merged", base);
        assert_int_equal(berth_mkdir_p(upper, 0755, NULL), 0);
        assert_int_equal(berth_mkdir_p(work, 0755, NULL), 0);
        assert_int_equal(berth_mkdir_p(merged, 0755, NULL), 0);
        char *lowers[] = {l2, l1, l0};
        struct berth_error *err = NULL;
        if (berth_overlay_mount(lowers, 3, upper, work, merged, &err) < 0)
                fail_msg("%s", err->msg);
        _cleanup_free_ char *a = read_merged(merged, "a");
        assert_string_equal(a, "1");
        _cleanup_free_ char *keep = read_merged(merged, "keep");
        assert_null(keep);
        _cleanup_free_ char *old = read_merged(merged, "dir/old");
        assert_null(old);
        _cleanup_free_ char *nw = read_merged(merged, "dir/new");
        assert_string_equal(nw, "n");
        /* writes go to the upper dir; the layers stay as they were */
        _cleanup_free_ char *w = xasprintf("%s/a", merged);
        assert_int_equal(berth_write_str_at(AT_FDCWD, w, "changed", NULL), 0);
        _cleanup_free_ char *l1a = xasprintf("%s/a", l1);
        char *orig = NULL;
        assert_int_equal(berth_read_file_at(AT_FDCWD, l1a, 64, &orig, NULL, NULL), 0);
        assert_string_equal(orig, "1");
        free(orig);
        assert_int_equal(umount2(merged, 0), 0);
}

static void test_many_layers(void **state)
{
        if (geteuid())
                skip();
        enum { N = 200 };
        char *lowers[N];
        for (int i = 0; i < N; i++) {
                struct tarw t = tar_begin(false);
                char name[32], dir[64];
                snprintf(name, sizeof(name), "f%03d", i);
                tar_add(&t, name, AE_IFREG, 0644, "x", NULL, NULL);
                snprintf(dir, sizeof(dir), "many/layer-with-a-long-directory-name-%03d", i);
                lowers[N - 1 - i] = layer(dir, tar_end(&t));
        }
        _cleanup_free_ char *merged = xasprintf("%s/many-merged", base);
        assert_int_equal(berth_mkdir_p(merged, 0755, NULL), 0);
        struct berth_error *err = NULL;
        if (berth_overlay_mount(lowers, N, NULL, NULL, merged, &err) < 0)
                fail_msg("%s", err->msg);
        for (int i = 0; i < N; i += 37) {
                char name[32];
                snprintf(name, sizeof(name), "f%03d", i);
                _cleanup_free_ char *c = read_merged(merged, name);
                assert_string_equal(c, "x");
        }
        assert_int_equal(umount2(merged, 0), 0);
        for (int i = 0; i < N; i++)
                free(lowers[i]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_whiteouts_and_opaque),
            cmocka_unit_test(test_many_layers),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
