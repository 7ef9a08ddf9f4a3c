/* cli/progress.c: docker's pull/push progress display on and off a terminal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cli/cli.h"

static char *render(bool tty, const char *const *msgs, int *ret_err)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        struct progress *p = progress_new(f, tty);
        *ret_err = 0;
        for (; *msgs; msgs++) {
                json_t *m = json_loads(*msgs, 0, NULL);
                assert_non_null(m);
                struct berth_error *e = NULL;
                if (progress_msg(p, m, &e) < 0) {
                        fprintf(f, "ERR<%s>", e->msg);
                        berth_error_free(e);
                        *ret_err = 1;
                }
                json_decref(m);
        }
        progress_free(p);
        fclose(f);
        return buf;
}

static const char *const pull[] = {
    "{\"status\":\"Pulling from library/bb\",\"id\":\"1\"}",
    "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"aaa\"}",
    "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"bbb\"}",
    "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":500,\"total\":1000},"
    "\"id\":\"aaa\"}",
    "{\"status\":\"Pull complete\",\"progressDetail\":{},\"id\":\"aaa\"}",
    "{\"status\":\"Digest: sha256:1\"}",
    NULL};

static void test_plain(void **state)
{
        int err;
        char *out = render(false, pull, &err);
        assert_int_equal(err, 0);
        /* no bars and no cursor moves off a terminal */
        assert_string_equal(out, "1: Pulling from library/bb\n"
                                 "aaa: Pulling fs layer\n"
                                 "bbb: Pulling fs layer\n"
                                 "aaa: Pull complete\n"
                                 "Digest: sha256:1\n");
        free(out);
}

static void test_tty(void **state)
{
        int err;
        char *out = render(true, pull, &err);
        assert_int_equal(err, 0);
        /* a new layer gets a new line; each message redraws its layer's line in place: up N
         * lines, clear, draw, down N (aaa is 2 lines up once bbb exists) */
        assert_non_null(strstr(out, "\n\033[1A\033[2K\raaa: Pulling fs layer \r\033[1B"));
        assert_non_null(strstr(out, "\n\033[1A\033[2K\rbbb: Pulling fs layer \r\033[1B"));
        assert_non_null(strstr(out, "\033[2A\033[2K\raaa: Downloading [=========================>"
                                    "                         ]     500B/1kB\r\033[2B"));
        assert_non_null(strstr(out, "\033[2A\033[2K\raaa: Pull complete \r\033[2B"));
        assert_non_null(strstr(out, "Digest: sha256:1\n"));
        free(out);
}

static void test_error(void **state)
{
        static const char *const msgs[] = {
            "{\"errorDetail\":{\"message\":\"manifest unknown\"},\"error\":\"manifest "
            "unknown\"}",
            NULL};
        int err;
        char *out = render(false, msgs, &err);
        assert_int_equal(err, 1);
        assert_string_equal(out, "ERR<manifest unknown>");
        free(out);
}

static void test_bar(void **state)
{
        char *b = progress_bar(0, 0);
        assert_string_equal(b, "");
        free(b);
        b = progress_bar(2000, 1000);
        assert_non_null(strstr(b, "[==================================================>]"));
        assert_non_null(strstr(b, "2kB"));
        free(b);
        b = progress_bar(1234, 0);
        assert_string_equal(b, " 1.234kB");
        free(b);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_plain),
            cmocka_unit_test(test_tty),
            cmocka_unit_test(test_error),
            cmocka_unit_test(test_bar),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
