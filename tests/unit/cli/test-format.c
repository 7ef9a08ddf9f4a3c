/* cli/format.c: docker's tabwriter layout, go-units sizes and durations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cli/cli.h"
#include "cli/internal.h"

static void test_tabwriter(void **state)
{
        struct tabw *t = tabw_new();
        tabw_line(t, "CONTAINER ID\tIMAGE\tNAMES");
        tabw_line(t, "0123456789ab\tbusybox:latest\tx");
        tabw_line(t, "short\tb\ty");
        char *out = tabw_finish(t);
        /* width = max(minwidth 10, longest cell + padding 3); the last cell is not padded */
        assert_string_equal(out, "CONTAINER ID   IMAGE            NAMES\n"
                                 "0123456789ab   busybox:latest   x\n"
                                 "short          b                y\n");
        free(out);
        t = tabw_new();
        tabw_line(t, "a\tb");
        tabw_line(t, "only");
        tabw_line(t, "ccc\td");
        out = tabw_finish(t);
        assert_string_equal(out, "a         b\nonly\nccc       d\n");
        free(out);
        t = tabw_new();
        tabw_line(t, "é\tx");
        out = tabw_finish(t);
        assert_string_equal(out, "é         x\n"); /* width counts characters, not bytes */
        free(out);
        /* tabw_print writes what tabw_finish returns */
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        assert_non_null(f);
        t = tabw_new();
        tabw_line(t, "a\tb");
        tabw_line(t, "ccc\td");
        tabw_print(t, f);
        fclose(f);
        assert_string_equal(buf, "a         b\nccc       d\n");
        free(buf);
}

#define check_str(expr, want)                                                                      \
        do {                                                                                       \
                char *s = (expr);                                                                  \
                assert_string_equal(s, want);                                                      \
                free(s);                                                                           \
        } while (0)

static void test_sizes(void **state)
{
        check_str(fmt_human_size(0), "0B");
        check_str(fmt_human_size(999), "999B");
        check_str(fmt_human_size(1000), "1kB");
        check_str(fmt_human_size(1984000), "1.984MB");
        check_str(fmt_human_size3(1984000), "1.98MB");
        check_str(fmt_human_size3(4100), "4.1kB");
        check_str(fmt_bytes_size(880 * 1024), "880KiB");
        check_str(fmt_bytes_size(64 * 1024 * 1024), "64MiB");
        check_str(fmt_bytes_size(1.5 * 1024 * 1024 * 1024), "1.5GiB");
}

static void test_durations(void **state)
{
        check_str(fmt_human_duration(0), "Less than a second");
        check_str(fmt_human_duration(1), "1 second");
        check_str(fmt_human_duration(59), "59 seconds");
        check_str(fmt_human_duration(60), "About a minute");
        check_str(fmt_human_duration(47 * 60), "47 minutes");
        check_str(fmt_human_duration(3600), "About an hour");
        check_str(fmt_human_duration(5 * 3600), "5 hours");
        check_str(fmt_human_duration(3 * 86400), "3 days");
        check_str(fmt_human_duration(20 * 86400), "2 weeks");
        check_str(fmt_human_duration(90 * 86400), "3 months");
        check_str(fmt_human_duration(800 * 86400), "2 years");
}

static void test_time_and_ids(void **state)
{
        int64_t t;
        assert_int_equal(fmt_parse_time("2024-01-02T03:04:05.123456789Z", &t), 0);
        assert_int_equal(t, 1704164645);
        assert_int_equal(fmt_parse_time("2024-01-02T03:04:05+01:00", &t), 0);
        assert_int_equal(t, 1704164645 - 3600);
        assert_int_equal(fmt_parse_time("yesterday", &t), -EINVAL);
        check_str(fmt_short_id("sha256:0123456789abcdef"), "0123456789ab");
        check_str(fmt_short_id("0123456789abcdef"), "0123456789ab");
        check_str(cli_urlencode("a b/c:d?e=f&g"), "a%20b%2Fc%3Ad%3Fe%3Df%26g");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_tabwriter),
            cmocka_unit_test(test_sizes),
            cmocka_unit_test(test_durations),
            cmocka_unit_test(test_time_and_ids),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
