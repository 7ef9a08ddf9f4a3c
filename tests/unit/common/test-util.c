/* Unit tests for src/common: errors, ids, files, numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "common/common.h"

#include <signal.h>
#include <sys/wait.h>

static void test_error_wrap(void **state)
{
        struct berth_error *err = NULL;
        assert_int_equal(berth_error_set(&err, ENOENT, "open `%s`", "x"), -ENOENT);
        assert_string_equal(err->msg, "open `x`: no such file or directory");
        assert_int_equal(berth_error_wrap(&err, "bundle `%s`", "b"), -ENOENT);
        assert_string_equal(err->msg, "bundle `b`: open `x`: no such file or directory");
        /* a second error keeps the first cause */
        assert_int_equal(berth_error_setx(&err, EINVAL, "other"), -ENOENT);
        assert_int_equal(berth_error_code(err), ENOENT);
        berth_error_free(err);
        assert_int_equal(berth_error_set(NULL, EPERM, "ignored"), -EPERM);
}

static void test_id_validate(void **state)
{
        const char *good[] = {"a", "abc-1_2.3+x", "0123456789abcdef"};
        const char *bad[] = {"", ".", "..", "../x", "a/b", "-a", ".hidden", "a b", "a\n"};
        for (size_t i = 0; i < ARRAY_SIZE(good); i++)
                assert_int_equal(berth_id_validate(good[i], NULL), 0);
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                struct berth_error *err = NULL;
                assert_int_equal(berth_id_validate(bad[i], &err), -EINVAL);
                assert_non_null(strstr(err->msg, "invalid container id"));
                berth_error_free(err);
        }
        char long_id[1100];
        memset(long_id, 'a', sizeof(long_id) - 1);
        long_id[sizeof(long_id) - 1] = '\0';
        assert_int_equal(berth_id_validate(long_id, NULL), -EINVAL);
}

static void test_write_all(void **state)
{
        (void)state;
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        /* more than one pipe buffer can take at once is still written in full by a reader */
        size_t n = 256 * 1024;
        _cleanup_free_ char *big = xmalloc(n);
        memset(big, 'x', n);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(p[0]);
                _exit(berth_write_all(p[1], big, n) == 0 ? 0 : 1);
        }
        close(p[1]);
        size_t got = 0;
        char buf[65536];
        ssize_t k;
        while ((k = read(p[0], buf, sizeof(buf))) > 0)
                got += (size_t)k;
        close(p[0]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_int_equal(got, n);
        /* a closed reader is the write's errno, negative */
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        close(p[0]);
        signal(SIGPIPE, SIG_IGN);
        assert_int_equal(berth_write_all(p[1], "x", 1), -EPIPE);
        assert_int_equal(errno, EPIPE);
        close(p[1]);
        signal(SIGPIPE, SIG_DFL);
}

static void test_random_hex(void **state)
{
        char a[2 * 32 + 1], b[2 * 32 + 1], small[5];

        memset(a, 'X', sizeof(a));
        berth_random_hex(a, 32);
        assert_int_equal(strlen(a), 64);
        assert_int_equal(strspn(a, "0123456789abcdef"), 64);
        berth_random_hex(b, 32);
        assert_string_not_equal(a, b);
        berth_random_hex(small, 2);
        assert_int_equal(strlen(small), 4);
        assert_int_equal(strspn(small, "0123456789abcdef"), 4);
        /* every byte filled: 256 random bytes are not all zero */
        uint8_t r[256] = {0}, zero[256] = {0};
        berth_random_bytes(r, sizeof(r));
        assert_memory_not_equal(r, zero, sizeof(r));
}

static void test_label_match(void **state)
{
        json_t *l = json_pack("{s:s, s:s, s:i}", "app", "web", "empty", "", "n", 1);
        assert_true(berth_label_match(l, "app"));
        assert_true(berth_label_match(l, "app=web"));
        assert_false(berth_label_match(l, "app=we"));
        assert_false(berth_label_match(l, "app=web=x"));
        assert_true(berth_label_match(l, "empty="));
        assert_true(berth_label_match(l, "empty"));
        assert_false(berth_label_match(l, "n"));
        assert_false(berth_label_match(l, "other"));
        assert_false(berth_label_match(l, NULL));
        assert_false(berth_label_match(NULL, "app"));
        json_t *all = json_pack("[s,s]", "app=web", "empty"), *none = json_array();
        json_t *miss = json_pack("[s,s]", "app", "other");
        assert_true(berth_labels_match_all(l, all));
        assert_true(berth_labels_match_all(l, none));
        assert_false(berth_labels_match_all(l, miss));
        json_decref(all);
        json_decref(none);
        json_decref(miss);
        json_decref(l);
}

static void test_json_get_str(void **state)
{
        json_t *o = json_pack("{s:s, s:i, s:n}", "Name", "web", "Count", 3, "Null");
        assert_string_equal(berth_json_get_str(o, "Name"), "web");
        assert_null(berth_json_get_str(o, "Count"));
        assert_null(berth_json_get_str(o, "Null"));
        assert_null(berth_json_get_str(o, "Missing"));
        assert_null(berth_json_get_str(NULL, "Name"));
        json_t *a = json_pack("[s]", "x");
        assert_null(berth_json_get_str(a, "Name"));
        json_decref(a);
        json_decref(o);
}

static void test_time_rfc3339(void **state)
{
        struct timespec ts = {.tv_sec = 1700000000, .tv_nsec = 1234};
        _cleanup_free_ char *s = berth_time_rfc3339(&ts);
        assert_string_equal(s, "2023-11-14T22:13:20.000001234Z");
        ts.tv_sec = 0;
        ts.tv_nsec = 0;
        _cleanup_free_ char *e = berth_time_rfc3339(&ts);
        assert_string_equal(e, "1970-01-01T00:00:00.000000000Z");
}

static void test_parse_u64(void **state)
{
        uint64_t v = 0;
        assert_int_equal(berth_parse_u64("42", &v), 0);
        assert_int_equal(v, 42);
        assert_int_equal(berth_parse_u64("-1", &v), -EINVAL);
        assert_int_equal(berth_parse_u64("4x", &v), -EINVAL);
        assert_int_equal(berth_parse_u64("", &v), -EINVAL);
        assert_int_equal(berth_parse_u64("99999999999999999999999", &v), -ERANGE);
}

static void test_files(void **state)
{
        char dir[] = "/tmp/berth-unit-XXXXXX";
        assert_non_null(mkdtemp(dir));
        _cleanup_free_ char *sub = xasprintf("%s/a/b/c", dir);
        assert_int_equal(berth_mkdir_p(sub, 0755, NULL), 0);
        int dfd = open(sub, O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        assert_int_equal(berth_write_atomic_at(dfd, "f", "hello", 5, NULL), 0);
        char *data = NULL;
        size_t len = 0;
        assert_int_equal(berth_read_file_at(dfd, "f", 1024, &data, &len, NULL), 0);
        assert_int_equal(len, 5);
        assert_string_equal(data, "hello");
        free(data);
        struct berth_error *err = NULL;
        assert_int_equal(berth_read_file_at(dfd, "f", 2, &data, &len, &err), -EFBIG);
        berth_error_free(err);
        err = NULL;
        assert_int_equal(berth_read_file_at(dfd, "missing", 2, &data, &len, &err), -ENOENT);
        assert_non_null(strstr(err->msg, "missing"));
        berth_error_free(err);
        close(dfd);
        assert_int_equal(berth_rm_rf_at(AT_FDCWD, dir, NULL), 0);
        assert_int_equal(access(dir, F_OK), -1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_error_wrap),   cmocka_unit_test(test_id_validate),
            cmocka_unit_test(test_parse_u64),    cmocka_unit_test(test_write_all),
            cmocka_unit_test(test_files),        cmocka_unit_test(test_random_hex),
            cmocka_unit_test(test_json_get_str), cmocka_unit_test(test_label_match),
            cmocka_unit_test(test_time_rfc3339),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
