/* Unit tests for cgroup path and value translation (src/runtime/cgroup.c), plus one real
 * create/enter/freeze/kill/destroy cycle when run as root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "runtime/internal.h"

#include <sys/stat.h>
#include <sys/wait.h>

static void path_is(const char *in, const char *id, const char *want)
{
        struct berth_error *err = NULL;
        _cleanup_free_ char *p = cgroup_path_for(in, id, &err);
        if (!p)
                fail_msg("cgroup_path_for(%s): %s", in ? in : "NULL", err->msg);
        assert_string_equal(p, want);
}

static void path_bad(const char *in)
{
        struct berth_error *err = NULL;
        char *p = cgroup_path_for(in, "x", &err);
        assert_null(p);
        assert_non_null(err);
        assert_non_null(strstr(err->msg, "cgroupsPath"));
        berth_error_free(err);
}

static void test_paths(void **state)
{
        path_is(NULL, "abc", "berth/abc");
        path_is("", "abc", "berth/abc");
        path_is("/a/b", "abc", "a/b");
        path_is("/a/b/", "abc", "a/b");
        path_is("a/b", "abc", "berth/a/b");
        path_is("system.slice:docker:abc", "abc", "system.slice/docker-abc.scope");
        path_is("machine-foo.slice:libpod:c1", "c1",
                "machine.slice/machine-foo.slice/libpod-c1.scope");
        path_is(":crio:c1", "c1", "system.slice/crio-c1.scope");
        path_bad("/a/../../etc");
        path_bad("..");
        path_bad("a/./b");
        path_bad("system.slice:docker");
        path_bad("bad-name:docker:x");
}

static void test_translations(void **state)
{
        assert_int_equal(cgroup_shares_to_weight(0), 0);
        assert_int_equal(cgroup_shares_to_weight(2), 1);
        assert_int_equal(cgroup_shares_to_weight(1024), 39);
        assert_int_equal(cgroup_shares_to_weight(262144), 10000);
        assert_int_equal(cgroup_blkio_weight_to_io_weight(10), 1);
        assert_int_equal(cgroup_blkio_weight_to_io_weight(500), 4950);
        assert_int_equal(cgroup_blkio_weight_to_io_weight(1000), 10000);
        char buf[64];
        cgroup_cpu_max(50000, 100000, buf, sizeof(buf));
        assert_string_equal(buf, "50000 100000");
        cgroup_cpu_max(-1, 100000, buf, sizeof(buf));
        assert_string_equal(buf, "max 100000");
        cgroup_cpu_max(20000, 0, buf, sizeof(buf));
        assert_string_equal(buf, "20000 100000");
        assert_string_equal(cgroup_v1_name(CG1_MEMORY), "memory");
        assert_null(cgroup_v1_name(CG1_COUNT));
}

static bool exists_anywhere(const char *path)
{
        enum cgroup_mode mode;
        assert_int_equal(cgroup_detect_mode(&mode, NULL), 0);
        const char *const where[] = {"", "unified/", "memory/", "pids/", "cpu/", "devices/"};
        for (size_t i = 0; i < ARRAY_SIZE(where); i++) {
                _cleanup_free_ char *p = xasprintf("/sys/fs/cgroup/%s%s", where[i], path);
                struct stat st;
                if (stat(p, &st) == 0)
                        return true;
        }
        return false;
}

static void test_real_cycle(void **state)
{
        if (geteuid() != 0)
                skip();
        _cleanup_free_ char *path = xasprintf("berth-unit/%d", (int)getpid());
        struct spec_resources res;
        spec_resources_init(&res);
        res.mem_limit = 64 << 20;
        res.pids_limit = 10;
        struct cgroup *cg = NULL;
        struct berth_error *err = NULL;
        if (cgroup_create(path, &res, &cg, &err) < 0)
                fail_msg("create: %s", err->msg);
        assert_true(exists_anywhere(path));
        if (cgroup_apply(cg, &res, &err) < 0)
                fail_msg("apply: %s", err->msg);
        pid_t child = fork();
        if (child == 0) {
                pause();
                _exit(0);
        }
        if (cgroup_enter(cg, child, true, &err) < 0)
                fail_msg("enter: %s", err->msg);
        pid_t *pids = NULL;
        size_t n = 0;
        assert_int_equal(cgroup_pids(cg, &pids, &n, NULL), 0);
        assert_int_equal(n, 1);
        assert_int_equal(pids[0], child);
        free(pids);
        /* a second create of the same path while a process runs in it is refused (runc): a
         * pre-existing cgroup is only taken when empty and thawed */
        struct cgroup *cg2 = NULL;
        struct berth_error *err2 = NULL;
        assert_int_equal(cgroup_create(path, &res, &cg2, &err2), -EBUSY);
        assert_non_null(strstr(err2->msg, "not empty"));
        berth_error_free(err2);
        assert_true(exists_anywhere(path));
        if (cg->unified_fd >= 0 || (cg->v1_mask & (1u << CG1_FREEZER))) {
                assert_int_equal(cgroup_freeze(cg, true, NULL), 0);
                assert_true(cgroup_is_frozen(cg));
                assert_int_equal(cgroup_freeze(cg, false, NULL), 0);
                assert_false(cgroup_is_frozen(cg));
        }
        assert_int_equal(cgroup_kill_all(cg, SIGKILL, NULL), 0);
        int status;
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        if (cgroup_destroy(cg, &err) < 0)
                fail_msg("destroy: %s", err->msg);
        cgroup_free(cg);
        assert_false(exists_anywhere(path));
        /* the parent made for the test goes too */
        const char *const where[] = {"", "unified/", "memory/", "pids/"};
        for (size_t i = 0; i < ARRAY_SIZE(where); i++) {
                _cleanup_free_ char *p = xasprintf("/sys/fs/cgroup/%sberth-unit", where[i]);
                rmdir(p);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_paths),
            cmocka_unit_test(test_translations),
            cmocka_unit_test(test_real_cycle),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
