/* Unit tests for src/common/path.c: the one lexical path cleaner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "common/common.h"

static void test_clean_abs(void **state)
{
        static const char *const cases[][2] = {
            {"", "/"},
            {"/", "/"},
            {"//", "/"},
            {".", "/"},
            {"..", "/"},
            {"/..", "/"},
            {"/../..", "/"},
            {"a", "/a"},
            {"/a/", "/a"},
            {"/a//b/", "/a/b"},
            {"/a/./b", "/a/b"},
            {"/a/../c", "/c"},
            {"/a/b/../../c", "/c"},
            {"/a/b/../..", "/"},
            {"/../a/..b/.c", "/a/..b/.c"},
            {"a/b/...", "/a/b/..."},
            {"/a/b/c/../../d/./e/", "/a/d/e"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                _cleanup_free_ char *out = berth_path_clean_abs(cases[i][0]);
                assert_string_equal(out, cases[i][1]);
        }
}

static void test_clean_rel(void **state)
{
        static const char *const ok[][2] = {
            {"", ""},
            {"./", ""},
            {"/", ""},
            {"a", "a"},
            {"./a//b/", "a/b"},
            {"/x", "x"},
            {"a/./b/.", "a/b"},
            {"a/b/../c", "a/c"},
            {"a/..", ""},
            {"a/b/../../c", "c"},
            {"..a/b..", "..a/b.."},
        };
        for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
                _cleanup_free_ char *out = NULL;
                assert_int_equal(berth_path_clean_rel(ok[i][0], 0, &out), 0);
                assert_string_equal(out, ok[i][1]);
        }
        /* climbing above the start is refused, however it is spelled */
        static const char *const bad[] = {"..", "../a", "/..", "a/../..", "a/../../b", "./../x"};
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                char *out = (char *)"untouched";
                assert_int_equal(berth_path_clean_rel(bad[i], 0, &out), -EINVAL);
                assert_string_equal(out, "untouched");
        }
}

static void test_clean_rel_no_dotdot(void **state)
{
        _cleanup_free_ char *out = NULL;
        char *none = NULL;
        assert_int_equal(berth_path_clean_rel("./a//b/", BERTH_PATH_NO_DOTDOT, &out), 0);
        assert_string_equal(out, "a/b");
        /* even a ".." that stays inside is refused */
        assert_int_equal(berth_path_clean_rel("a/../b", BERTH_PATH_NO_DOTDOT, &none), -EINVAL);
        assert_null(none);
        assert_int_equal(berth_path_clean_rel("a/b/..", BERTH_PATH_NO_DOTDOT, &none), -EINVAL);
        assert_null(none);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_clean_abs),
            cmocka_unit_test(test_clean_rel),
            cmocka_unit_test(test_clean_rel_no_dotdot),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
