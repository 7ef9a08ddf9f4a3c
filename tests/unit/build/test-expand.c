/* Unit tests for src/build/expand.c: moby's shell lexer cases (envVarTest, wordsTest, kept
 * verbatim beside this file) and the substitution forms docker's newer lexer added. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "build/dockerfile.h"

#include <ctype.h>

struct env {
        char **kv; /* "k=v" */
};

static const char *env_lookup(void *userdata, const char *name)
{
        struct env *e = userdata;
        size_t n = strlen(name);
        for (size_t i = 0; e->kv && e->kv[i]; i++)
                if (!strncmp(e->kv[i], name, n) && e->kv[i][n] == '=')
                        return e->kv[i] + n + 1;
        return NULL;
}

static char *trim(char *s)
{
        while (isspace((unsigned char)*s))
                s++;
        size_t n = strlen(s);
        while (n > 0 && isspace((unsigned char)s[n - 1]))
                s[--n] = '\0';
        return s;
}

static char *read_case_file(const char *name)
{
        _cleanup_free_ char *path = xasprintf("%s/tests/unit/build/%s", SOURCE_ROOT, name);
        char *data = NULL;
        struct berth_error *err = NULL;
        assert_int_equal(berth_read_file_at(AT_FDCWD, path, 1 << 20, &data, NULL, &err), 0);
        return data;
}

static void test_env_var_cases(void **state)
{
        struct env e = {0};
        strv_push(&e.kv, "PWD=/home");
        strv_push(&e.kv, "SHELL=bash");
        strv_push(&e.kv, "KOREAN=한국어");
        _cleanup_free_ char *data = read_case_file("envVarTest");
        size_t cases = 0;
        char *save = NULL;
        for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                line = trim(line);
                if (!*line || *line == '#')
                        continue;
                char *f[3] = {0};
                char *p = line;
                for (int i = 0; i < 3; i++) {
                        f[i] = p;
                        p = strchr(p, '|');
                        if (i < 2) {
                                assert_non_null(p);
                                *p++ = '\0';
                        }
                }
                assert_null(p);
                if (!strcmp(trim(f[0]), "W"))
                        continue;
                const char *src = trim(f[1]), *want = trim(f[2]);
                char *got = NULL;
                struct berth_error *err = NULL;
                int r = bld_expand(src, '\\', env_lookup, &e, &got, &err);
                if (r < 0) {
                        assert_int_equal(r, -EINVAL);
                        assert_non_null(strstr(err->msg, "failed to process"));
                        berth_error_free(err);
                        got = xstrdup("error");
                }
                if (strcmp(got, want))
                        fail_msg("`%s` expanded to `%s`, want `%s`", src, got, want);
                free(got);
                cases++;
        }
        assert_true(cases > 130);
        strv_free(e.kv);
}

static void test_words_cases(void **state)
{
        struct env e = {0};
        _cleanup_free_ char *data = read_case_file("wordsTest");
        size_t cases = 0;
        char *save = NULL;
        for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (*line == '#')
                        continue;
                if (!strncmp(line, "ENV ", 4)) {
                        const char *kv = line + 3;
                        while (*kv == ' ')
                                kv++;
                        strv_push(&e.kv, kv);
                        continue;
                }
                char *bar = strchr(line, '|');
                assert_non_null(bar);
                *bar = '\0';
                const char *src = trim(line);
                char *want = bar + 1;
                while (*want == ' ')
                        want++;
                char **got = NULL;
                struct berth_error *err = NULL;
                if (bld_expand_words(src, '\\', env_lookup, &e, &got, &err) < 0) {
                        berth_error_free(err);
                        got = NULL;
                        strv_push(&got, "error");
                }
                _cleanup_free_ char *joined = xstrdup("");
                for (size_t i = 0; got[i]; i++) {
                        char *j = xasprintf("%s%s%s", joined, i ? "," : "", got[i]);
                        free(joined);
                        joined = j;
                }
                if (strcmp(joined, want))
                        fail_msg("`%s` split into `%s`, want `%s`", src, joined, want);
                strv_free(got);
                cases++;
        }
        assert_true(cases > 20);
        strv_free(e.kv);
}

static void check(const char *word, char escape, struct env *e, const char *want)
{
        char *got = NULL;
        struct berth_error *err = NULL;
        int r = bld_expand(word, escape, env_lookup, e, &got, &err);
        if (!want) {
                if (r == 0)
                        fail_msg("`%s` expanded to `%s`, want an error", word, got);
                assert_int_equal(r, -EINVAL);
                berth_error_free(err);
                return;
        }
        if (r < 0)
                fail_msg("`%s`: %s", word, err->msg);
        if (strcmp(got, want))
                fail_msg("`%s` expanded to `%s`, want `%s`", word, got, want);
        free(got);
}

/* the forms without ':' tell unset from empty; '?' fails on unset (and on empty with ':') */
static void test_unset_vs_empty(void **state)
{
        struct env e = {0};
        strv_push(&e.kv, "EMPTY=");
        strv_push(&e.kv, "SET=v");
        check("${EMPTY-d}", '\\', &e, "");
        check("${EMPTY:-d}", '\\', &e, "d");
        check("${NOPE-d}", '\\', &e, "d");
        check("${SET-d}", '\\', &e, "v");
        check("${EMPTY+a}", '\\', &e, "a");
        check("${EMPTY:+a}", '\\', &e, "");
        check("${NOPE+a}", '\\', &e, "");
        check("${SET+a}", '\\', &e, "a");
        check("${SET:+a}", '\\', &e, "a");
        check("${SET?oops}", '\\', &e, "v");
        check("${EMPTY?oops}", '\\', &e, "");
        check("${EMPTY:?oops}", '\\', &e, NULL);
        check("${NOPE?}", '\\', &e, NULL);
        check("${NOPE", '\\', &e, NULL);
        check("${NOPE:", '\\', &e, NULL);
        check("${NOPE%x}", '\\', &e, NULL);
        /* the message names the text and says what is wrong */
        char *got = NULL;
        struct berth_error *err = NULL;
        assert_int_equal(bld_expand("a${NOPE:?must be set}", '\\', env_lookup, &e, &got, &err),
                         -EINVAL);
        assert_string_equal(err->msg,
                            "failed to process \"a${NOPE:?must be set}\": NOPE: must be set");
        berth_error_free(err);
        err = NULL;
        assert_int_equal(bld_expand("\"abc", '\\', env_lookup, &e, &got, &err), -EINVAL);
        assert_string_equal(err->msg, "failed to process \"\\\"abc\": unexpected end of statement "
                                      "while looking for matching double-quote");
        berth_error_free(err);
        /* without a lookup everything is unset */
        assert_int_equal(bld_expand("x${A:-y}$B", '\\', NULL, NULL, &got, NULL), 0);
        assert_string_equal(got, "xy");
        free(got);
        strv_free(e.kv);
}

/* `# escape=`` makes the backtick the escape character: '\' is then literal */
static void test_backtick_escape(void **state)
{
        struct env e = {0};
        strv_push(&e.kv, "A=x");
        check("c:\\dir\\$A", '`', &e, "c:\\dir\\x");
        check("`$A", '`', &e, "$A");
        check("\"a`\"b\"", '`', &e, "a\"b");
        check("\"a\\\"b\"", '`', &e, NULL);
        strv_free(e.kv);
}

static void test_words_quotes(void **state)
{
        struct env e = {0};
        strv_push(&e.kv, "X=a b");
        char **w = NULL;
        assert_int_equal(bld_expand_words("  $X \"$X\" '' c\\ d  ", '\\', env_lookup, &e, &w, NULL),
                         0);
        assert_int_equal(strv_length(w), 4);
        assert_string_equal(w[0], "a");
        assert_string_equal(w[1], "b");
        assert_string_equal(w[2], "a b");
        assert_string_equal(w[3], "c d");
        strv_free(w);
        assert_int_equal(bld_expand_words("", '\\', env_lookup, &e, &w, NULL), 0);
        assert_non_null(w);
        assert_null(w[0]);
        strv_free(w);
        strv_free(e.kv);
}

/* deep ${…${…}} nesting is refused instead of recursing without bound */
static void test_nesting_limit(void **state)
{
        char *s = xstrdup("");
        for (int i = 0; i < 500; i++) {
                char *n = xasprintf("%s${a:-", s);
                free(s);
                s = n;
        }
        char *got = NULL;
        struct berth_error *err = NULL;
        assert_int_equal(bld_expand(s, '\\', NULL, NULL, &got, &err), -EINVAL);
        berth_error_free(err);
        free(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_env_var_cases),  cmocka_unit_test(test_words_cases),
            cmocka_unit_test(test_unset_vs_empty), cmocka_unit_test(test_backtick_escape),
            cmocka_unit_test(test_words_quotes),   cmocka_unit_test(test_nesting_limit),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
