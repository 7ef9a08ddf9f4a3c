/* cli/args.c: docker's flag syntax, sizes and durations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cli/cli.h"

static const struct cli_flag flags[] = {
    {"detach", 'd', CLI_BOOL},   {"interactive", 'i', CLI_BOOL},
    {"tty", 't', CLI_BOOL},      {"env", 'e', CLI_LIST},
    {"name", 0, CLI_STRING},     {"network|net", 0, CLI_STRING},
    {"memory", 'm', CLI_STRING}, {"rm", 0, CLI_BOOL},
};

static int parse(struct cli_args *a, bool inter, struct berth_error **err, ...)
{
        char *argv[32];
        int argc = 0;
        va_list ap;
        va_start(ap, err);
        argv[argc++] = "run";
        for (char *s; (s = va_arg(ap, char *));)
                argv[argc++] = s;
        va_end(ap);
        argv[argc] = NULL;
        return cli_args_parse(a, flags, ARRAY_SIZE(flags), argc, argv, inter, err);
}

static void test_combined_shorts(void **state)
{
        struct cli_args a;
        struct berth_error *e = NULL;
        assert_int_equal(parse(&a, false, &e, "-dit", "-eA=1", "-e", "B=2", "--name=x", "--net",
                               "none", "-m512m", "busybox", "sh", "-c", "--rm", NULL),
                         0);
        assert_true(cli_arg_bool(&a, "detach"));
        assert_true(cli_arg_bool(&a, "interactive"));
        assert_true(cli_arg_bool(&a, "tty"));
        assert_false(cli_arg_bool(&a, "rm")); /* after the image: the command's own argument */
        char **env = cli_arg_list(&a, "env");
        assert_int_equal(strv_length(env), 2);
        assert_string_equal(env[0], "A=1");
        assert_string_equal(env[1], "B=2");
        assert_string_equal(cli_arg_str(&a, "name"), "x");
        assert_string_equal(cli_arg_str(&a, "network"), "none");
        assert_string_equal(cli_arg_str(&a, "memory"), "512m");
        assert_int_equal(strv_length(a.pos), 4);
        assert_string_equal(a.pos[0], "busybox");
        assert_string_equal(a.pos[3], "--rm");
        cli_args_release(&a);
}

static void test_interspersed_and_bools(void **state)
{
        struct cli_args a;
        struct berth_error *e = NULL;
        assert_int_equal(parse(&a, true, &e, "c1", "--rm=false", "c2", "-d", "--", "-x", NULL), 0);
        assert_true(cli_arg_set(&a, "rm"));
        assert_false(cli_arg_bool(&a, "rm"));
        assert_true(cli_arg_bool(&a, "detach"));
        assert_int_equal(strv_length(a.pos), 3);
        assert_string_equal(a.pos[2], "-x");
        cli_args_release(&a);
}

static void test_errors(void **state)
{
        struct cli_args a;
        struct berth_error *e = NULL;
        assert_int_equal(parse(&a, false, &e, "--nope", "busybox", NULL), -EINVAL);
        assert_string_equal(e->msg, "unknown flag: --nope");
        berth_error_free(e);
        e = NULL;
        assert_int_equal(parse(&a, false, &e, "-dz", NULL), -EINVAL);
        assert_string_equal(e->msg, "unknown shorthand flag: 'z' in -dz");
        berth_error_free(e);
        e = NULL;
        assert_int_equal(parse(&a, false, &e, "--name", NULL), -EINVAL);
        assert_string_equal(e->msg, "flag needs an argument: --name");
        berth_error_free(e);
        e = NULL;
        assert_int_equal(parse(&a, false, &e, "--rm=maybe", NULL), -EINVAL);
        assert_non_null(strstr(e->msg, "invalid argument \"maybe\""));
        berth_error_free(e);
}

static void test_bytes(void **state)
{
        int64_t v;
        assert_int_equal(cli_parse_bytes("512m", &v), 0);
        assert_int_equal(v, 512LL << 20);
        assert_int_equal(cli_parse_bytes("1g", &v), 0);
        assert_int_equal(v, 1LL << 30);
        assert_int_equal(cli_parse_bytes("2GB", &v), 0);
        assert_int_equal(v, 2LL << 30);
        assert_int_equal(cli_parse_bytes("1.5k", &v), 0);
        assert_int_equal(v, 1536);
        assert_int_equal(cli_parse_bytes("4096", &v), 0);
        assert_int_equal(v, 4096);
        assert_int_equal(cli_parse_bytes("10x", &v), -EINVAL);
        assert_int_equal(cli_parse_bytes("", &v), -EINVAL);
        assert_int_equal(cli_parse_bytes("-1", &v), -EINVAL);
}

static void test_duration(void **state)
{
        int64_t v;
        assert_int_equal(cli_parse_duration("30s", &v), 0);
        assert_int_equal(v, 30000000000LL);
        assert_int_equal(cli_parse_duration("1m30s", &v), 0);
        assert_int_equal(v, 90000000000LL);
        assert_int_equal(cli_parse_duration("1h", &v), 0);
        assert_int_equal(v, 3600000000000LL);
        assert_int_equal(cli_parse_duration("500ms", &v), 0);
        assert_int_equal(v, 500000000LL);
        assert_int_equal(cli_parse_duration("1.5s", &v), 0);
        assert_int_equal(v, 1500000000LL);
        assert_int_equal(cli_parse_duration("0", &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(cli_parse_duration("10", &v), -EINVAL);
        assert_int_equal(cli_parse_duration("5d", &v), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_combined_shorts), cmocka_unit_test(test_interspersed_and_bools),
            cmocka_unit_test(test_errors),          cmocka_unit_test(test_bytes),
            cmocka_unit_test(test_duration),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
