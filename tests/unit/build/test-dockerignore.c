/* Unit tests for src/build/dockerignore.c: moby/patternmatcher's TestMatches table (single
 * and multiple patterns), ignorefile.ReadAll's normalisation, and the walker's question. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "build/dockerfile.h"

static struct bld_ignore *ignore_ok(const char *text)
{
        struct bld_ignore *ig = NULL;
        struct berth_error *err = NULL;
        if (bld_ignore_parse(text, strlen(text), &ig, &err) < 0)
                fail_msg("`%s`: %s", text, err->msg);
        assert_non_null(ig);
        return ig;
}

static const struct {
        const char *pattern, *text;
        bool pass;
} matches[] = {
    {"**", "file", true},
    {"**", "file/", true},
    {"**/", "file", true},
    {"**/", "file/", true},
    {"**", "/", true},
    {"**/", "/", true},
    {"**", "dir/file", true},
    {"**/", "dir/file", true},
    {"**", "dir/file/", true},
    {"**/", "dir/file/", true},
    {"**/**", "dir/file", true},
    {"**/**", "dir/file/", true},
    {"dir/**", "dir/file", true},
    {"dir/**", "dir/file/", true},
    {"dir/**", "dir/dir2/file", true},
    {"dir/**", "dir/dir2/file/", true},
    {"**/dir", "dir", true},
    {"**/dir", "dir/file", true},
    {"**/dir2/*", "dir/dir2/file", true},
    {"**/dir2/*", "dir/dir2/file/", true},
    {"**/dir2/**", "dir/dir2/dir3/file", true},
    {"**/dir2/**", "dir/dir2/dir3/file/", true},
    {"**file", "file", true},
    {"**file", "dir/file", true},
    {"**/file", "dir/file", true},
    {"**file", "dir/dir/file", true},
    {"**/file", "dir/dir/file", true},
    {"**/file*", "dir/dir/file", true},
    {"**/file*", "dir/dir/file.txt", true},
    {"**/file*txt", "dir/dir/file.txt", true},
    {"**/file*.txt", "dir/dir/file.txt", true},
    {"**/file*.txt*", "dir/dir/file.txt", true},
    {"**/**/*.txt", "dir/dir/file.txt", true},
    {"**/**/*.txt2", "dir/dir/file.txt", false},
    {"**/*.txt", "file.txt", true},
    {"**/**/*.txt", "file.txt", true},
    {"a**/*.txt", "a/file.txt", true},
    {"a**/*.txt", "a/dir/file.txt", true},
    {"a**/*.txt", "a/dir/dir/file.txt", true},
    {"a/*.txt", "a/dir/file.txt", false},
    {"a/*.txt", "a/file.txt", true},
    {"a/*.txt**", "a/file.txt", true},
    {"a[b-d]e", "ae", false},
    {"a[b-d]e", "ace", true},
    {"a[b-d]e", "aae", false},
    {"a[^b-d]e", "aze", true},
    {".*", ".foo", true},
    {".*", "foo", false},
    {"abc.def", "abcdef", false},
    {"abc.def", "abc.def", true},
    {"abc.def", "abcZdef", false},
    {"abc?def", "abcZdef", true},
    {"abc?def", "abcdef", false},
    {"a\\\\", "a\\", true},
    {"**/foo/bar", "foo/bar", true},
    {"**/foo/bar", "dir/foo/bar", true},
    {"**/foo/bar", "dir/dir2/foo/bar", true},
    {"abc/**", "abc", false},
    {"abc/**", "abc/def", true},
    {"abc/**", "abc/def/ghi", true},
    {"**/.foo", ".foo", true},
    {"**/.foo", "bar.foo", false},
    {"a(b)c/def", "a(b)c/def", true},
    {"a(b)c/def", "a(b)c/xyz", false},
    {"a.|)$(}+{bc", "a.|)$(}+{bc", true},
    {"dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
     "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true},
    {"dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true},
    {"a\\*b", "a*b", true},
    /* beyond moby's table: classes, '?' and '*' never cross '/', parents match */
    {"a\\*b", "axb", false},
    {"*", "fileutils.go", true},
    {"*.go", "fileutils.go", true},
    {"*.go", "dir/fileutils.go", false},
    {"docs", "docs/README.md", true},
    {"docs/", "docs/README.md", true},
    {"docs/*", "docs/sub/README.md", true},
    {"a?c", "a/c", false},
    {"a*c", "a/c", false},
    {"[a-c]x", "bx", true},
    {"[\\]]x", "]x", true},
    {"x[^/]y", "x/y", false},
    {"héé?", "héé€", true},
    {"h[é]", "hé", true},
    {"/abs/path", "abs/path", true},
    {"./a/../b/./c", "b/c", true},
    {"../x", "x", false},
};

static void test_matches_table(void **state)
{
        for (size_t i = 0; i < ARRAY_SIZE(matches); i++) {
                _cleanup_ignore_ struct bld_ignore *ig = ignore_ok(matches[i].pattern);
                if (bld_ignore_excluded(ig, matches[i].text) != matches[i].pass)
                        fail_msg("pattern `%s` on `%s`: want %d", matches[i].pattern,
                                 matches[i].text, matches[i].pass);
        }
}

static const struct {
        const char *patterns, *text;
        bool pass;
} multi[] = {
    {"**\n!util/docker/web", "util/docker/web/foo", false},
    {"**\n!util/docker/web\nutil/docker/web/foo", "util/docker/web/foo", true},
    {"**\n!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
     "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", false},
    {"**\n!dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", false},
    {"!fileutils.go\n*.go", "fileutils.go", true},
    {"docs\n!docs/README.md", "docs/README.md", false},
    {"docs/\n!docs/README.md", "docs/README.md", false},
    {"docs/*\n!docs/README.md", "docs/README.md", false},
    {"*.go\n!fileutils.go", "fileutils.go", false},
    {"*.md\n!README*.md\nREADME-secret.md", "README-secret.md", true},
    {"*.md\n!README*.md\nREADME-secret.md", "README.md", false},
    {"*.md\n!README*.md\nREADME-secret.md", "other.md", true},
};

static void test_multi_patterns(void **state)
{
        for (size_t i = 0; i < ARRAY_SIZE(multi); i++) {
                _cleanup_ignore_ struct bld_ignore *ig = ignore_ok(multi[i].patterns);
                if (bld_ignore_excluded(ig, multi[i].text) != multi[i].pass)
                        fail_msg("patterns `%s` on `%s`: want %d", multi[i].patterns, multi[i].text,
                                 multi[i].pass);
        }
}

/* ignorefile.ReadAll: BOM, '#' only at the start of a line, spaces trimmed, `! x` */
static void test_read_all(void **state)
{
        _cleanup_ignore_ struct bld_ignore *ig = ignore_ok("\xef\xbb\xbf"
                                                           "# comment\n"
                                                           "  node_modules  \r\n"
                                                           "\n"
                                                           "  # not a comment\n"
                                                           "/build/\n"
                                                           "!  build/keep\n"
                                                           "*.log");
        assert_true(bld_ignore_excluded(ig, "node_modules"));
        assert_true(bld_ignore_excluded(ig, "node_modules/x/y"));
        assert_false(bld_ignore_excluded(ig, "comment"));
        assert_false(bld_ignore_excluded(ig, "# comment"));
        assert_true(bld_ignore_excluded(ig, "# not a comment"));
        assert_true(bld_ignore_excluded(ig, "build/x"));
        assert_false(bld_ignore_excluded(ig, "build/keep"));
        assert_true(bld_ignore_excluded(ig, "a.log"));
        assert_false(bld_ignore_excluded(ig, "d/a.log"));
        /* the context root itself is never excluded */
        assert_false(bld_ignore_excluded(ig, "."));
        _cleanup_ignore_ struct bld_ignore *empty = ignore_ok("");
        assert_false(bld_ignore_excluded(empty, "x"));
        assert_false(bld_ignore_may_reinclude(empty, "x"));
}

static void test_bad_patterns(void **state)
{
        const char *bad[] = {"[", "a[", "[]", "[a-]", "a\\", "x\n[z-", "[^]", "!"};
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                struct bld_ignore *ig = NULL;
                struct berth_error *err = NULL;
                if (bld_ignore_parse(bad[i], strlen(bad[i]), &ig, &err) == 0)
                        fail_msg("`%s` parsed", bad[i]);
                assert_null(ig);
                assert_non_null(strstr(err->msg, ".dockerignore:"));
                berth_error_free(err);
        }
        struct bld_ignore *ig = NULL;
        struct berth_error *err = NULL;
        assert_int_equal(bld_ignore_parse("ok\n!\n", 5, &ig, &err), -EINVAL);
        assert_string_equal(err->msg, ".dockerignore:2: illegal exclusion pattern: \"!\"");
        berth_error_free(err);
        err = NULL;
        assert_int_equal(bld_ignore_parse("a\nb[\n", 5, &ig, &err), -EINVAL);
        assert_string_equal(err->msg, ".dockerignore:2: syntax error in pattern `b[`");
        berth_error_free(err);
}

static void test_may_reinclude(void **state)
{
        _cleanup_ignore_ struct bld_ignore *none = ignore_ok("docs\nbuild\n");
        assert_false(bld_ignore_may_reinclude(none, "docs"));
        _cleanup_ignore_ struct bld_ignore *ig = ignore_ok("docs\n!docs/keep/me.md\nsrc\n"
                                                           "!src/*.c\nvendor\n");
        assert_true(bld_ignore_may_reinclude(ig, "docs"));
        assert_true(bld_ignore_may_reinclude(ig, "docs/keep"));
        assert_false(bld_ignore_may_reinclude(ig, "docs/other"));
        assert_true(bld_ignore_may_reinclude(ig, "src"));
        assert_false(bld_ignore_may_reinclude(ig, "vendor"));
        assert_false(bld_ignore_may_reinclude(ig, "doc"));
        assert_true(bld_ignore_may_reinclude(ig, "."));
        /* like docker's walker, a wildcard exception does not keep a directory: dockerd
         * 20.10 + the docker CLI leave vendor/x/v.go out of the context for these patterns */
        _cleanup_ignore_ struct bld_ignore *deep = ignore_ok("vendor\n!vendor/**/*.go\n");
        assert_true(bld_ignore_may_reinclude(deep, "vendor"));
        assert_false(bld_ignore_may_reinclude(deep, "vendor/x"));
        assert_true(bld_ignore_excluded(deep, "vendor/x"));
        assert_false(bld_ignore_excluded(deep, "vendor/x/v.go"));
}

/* a long path against many stars stays linear (no backtracking blow-up) */
static void test_many_stars(void **state)
{
        char pat[200], path[8192];
        for (size_t i = 0; i < sizeof(pat) - 2; i += 2) {
                pat[i] = '*';
                pat[i + 1] = 'a';
        }
        pat[sizeof(pat) - 2] = 'b';
        pat[sizeof(pat) - 1] = '\0';
        memset(path, 'a', sizeof(path) - 1);
        path[sizeof(path) - 1] = '\0';
        _cleanup_ignore_ struct bld_ignore *ig = ignore_ok(pat);
        assert_false(bld_ignore_excluded(ig, path));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_matches_table), cmocka_unit_test(test_multi_patterns),
            cmocka_unit_test(test_read_all),      cmocka_unit_test(test_bad_patterns),
            cmocka_unit_test(test_may_reinclude), cmocka_unit_test(test_many_stars),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
