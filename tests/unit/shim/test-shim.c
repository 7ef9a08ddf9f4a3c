/* Unit tests for src/shim: the command line (shim.c), docker's JSON escaping, timestamps and
 * json-file log with its rotation (log.c), and exit.json. No container is started: the loop and
 * the runtime are covered by tests/integration/shim. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "shim/internal.h"

#include <regex.h>
#include <sys/stat.h>

static char tmpdir[64];

static int setup(void **state)
{
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/berth-shim-unit-XXXXXX");
        if (!mkdtemp(tmpdir))
                return -1;
        /* what the command line names must exist: it is resolved with realpath */
        _cleanup_free_ char *b = xasprintf("%s/b", tmpdir);
        _cleanup_free_ char *p = xasprintf("%s/p.json", tmpdir);
        return mkdir(b, 0700) == 0 && berth_write_file_at(AT_FDCWD, p, "{}", 2, O_CREAT, NULL) == 0
                   ? 0
                   : -1;
}

static int teardown(void **state)
{
        return berth_rm_rf_at(AT_FDCWD, tmpdir, NULL);
}

static int parse(struct shim_opts *o, char **argv, struct berth_error **err)
{
        int argc = 0;
        while (argv[argc])
                argc++;
        return shim_opts_parse(argc, argv, o, err);
}

static void test_opts_create(void **state)
{
        struct shim_opts o;
        struct berth_error *err = NULL;
        char cwd[PATH_MAX];
        assert_non_null(getcwd(cwd, sizeof(cwd)));
        assert_int_equal(chdir(tmpdir), 0);
        char *argv[] = {
            "berth-shim", "create",    "--id",           "c1", "--bundle",        "b",
            "--state",    tmpdir,      "--runtime-root", "rt", "--stdin",         "--tty",
            "--log",      "/x/c1.log", "--log-max-size", "1k", "--log-max-files", "3",
            NULL};
        assert_int_equal(parse(&o, argv, &err), 0);
        assert_int_equal(chdir(cwd), 0);
        assert_int_equal(o.mode, SHIM_CREATE);
        assert_string_equal(o.id, "c1");
        /* relative paths made absolute: the shim leaves its directory once detached */
        assert_true(o.bundle[0] == '/');
        assert_string_equal(o.bundle + strlen(o.bundle) - 2, "/b");
        assert_string_equal(o.state, tmpdir);
        _cleanup_free_ char *rt = xasprintf("%s/rt", tmpdir); /* made when missing */
        assert_string_equal(o.runtime_root, rt);
        assert_int_equal(access(rt, F_OK), 0);
        assert_true(o.open_stdin && o.tty && !o.stdin_once);
        assert_string_equal(o.log_path, "/x/c1.log");
        assert_int_equal(o.log_max_size, 1024);
        assert_int_equal(o.log_max_files, 3);
        shim_opts_release(&o);
}

static void test_opts_exec_and_defaults(void **state)
{
        struct shim_opts o;
        _cleanup_free_ char *p = xasprintf("%s/p.json", tmpdir);
        char *argv[] = {"berth-shim", "exec", "--id",           "e1",   "--process", p,
                        "--state",    tmpdir, "--runtime-root", tmpdir, NULL};
        assert_int_equal(parse(&o, argv, NULL), 0);
        assert_int_equal(o.mode, SHIM_EXEC);
        assert_string_equal(o.process, p);
        assert_true(o.stdin_once); /* docker exec: the client's EOF closes stdin */
        assert_null(o.log_path);
        assert_int_equal(o.log_max_size, BERTH_LOG_DEFAULT_SIZE);
        assert_int_equal(o.log_max_files, BERTH_LOG_DEFAULT_FILES);
        assert_null(o.runtime_path); /* the built-in runtime */
        assert_null(o.runtime_args);
        shim_opts_release(&o);
}

static void test_opts_external_runtime(void **state)
{
        struct shim_opts o;
        _cleanup_free_ char *p = xasprintf("%s/p.json", tmpdir);
        char *argv[] = {"berth-shim",
                        "exec",
                        "--id",
                        "e1",
                        "--process",
                        p,
                        "--state",
                        tmpdir,
                        "--runtime-root",
                        tmpdir,
                        "--runtime-path",
                        "/usr/sbin/runc",
                        "--runtime-arg",
                        "--debug",
                        "--runtime-arg",
                        "--systemd-cgroup",
                        NULL};
        assert_int_equal(parse(&o, argv, NULL), 0);
        assert_string_equal(o.runtime_path, "/usr/sbin/runc");
        assert_string_equal(o.runtime_args[0], "--debug");
        assert_string_equal(o.runtime_args[1], "--systemd-cgroup");
        assert_null(o.runtime_args[2]);
        shim_opts_release(&o);
}

static void test_opts_refused(void **state)
{
        static const struct {
                const char *argv[12];
                const char *msg;
        } cases[] = {
            {{"s", "run", NULL}, "unknown mode `run`"},
            {{"s", "create", "--bundle", "b", "--state", "/s", "--runtime-root", "/r", NULL},
             "--id is required"},
            {{"s", "create", "--id", "../x", "--bundle", "b", "--state", "/s", "--runtime-root",
              "/r", NULL},
             "invalid container id"},
            {{"s", "create", "--id", "c", "--bundle", "b", "--runtime-root", "/r", NULL},
             "--state and --runtime-root are required"},
            {{"s", "create", "--id", "c", "--state", "/s", "--runtime-root", "/r", NULL},
             "create needs --bundle"},
            {{"s", "exec", "--id", "c", "--state", "/s", "--runtime-root", "/r", NULL},
             "exec needs --process"},
            {{"s", "create", "--id", "c", "--log-max-files", "0", NULL}, "--log-max-files `0`"},
            {{"s", "create", "--id", "c", "--log-max-size", "lots", NULL}, "--log-max-size `lots`"},
            {{"s", "create", "--nope", NULL}, "unknown option `--nope`"},
            {{"s", "create", "--id", "c", "extra", NULL}, "unexpected argument `extra`"},
            {{"s", "create", "--id", "c", "--runtime-arg", "x", NULL},
             "--runtime-arg needs --runtime-path"},
            {{"s", "create", "--id", "c", "--runtime-path", "runc", NULL},
             "--runtime-path `runc` must be absolute"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct shim_opts o;
                struct berth_error *err = NULL;
                assert_int_equal(parse(&o, (char **)cases[i].argv, &err), -EINVAL);
                assert_non_null(err);
                if (!strstr(err->msg, cases[i].msg))
                        fail_msg("case %zu: `%s` lacks `%s`", i, err->msg, cases[i].msg);
                berth_error_free(err);
        }
}

static char *escape(const char *s, size_t n, size_t cap, size_t *ret_consumed)
{
        char *out = xcalloc(1, cap + 1);
        size_t len = 0;
        *ret_consumed = shim_json_escape(s, n, out, cap, &len);
        out[len] = '\0';
        return out;
}

static void test_json_escape(void **state)
{
        size_t used;
        static const char in[] = "a<b>&\"\\\n\r\x01 \xe2\x80\xa8 \xff é";
        _cleanup_free_ char *o = escape(in, sizeof(in) - 1, 256, &used);
        assert_int_equal(used, sizeof(in) - 1);
        /* docker's encoder: HTML characters, control characters, U+2028 escaped; invalid UTF-8
         * becomes U+FFFD; valid UTF-8 stays as it is */
        assert_string_equal(o, "a\\u003cb\\u003e\\u0026\\\"\\\\\\n\\r\\u0001 \\u2028 \\ufffd é");
        /* the escaped text is a JSON string with the same content (but the invalid byte) */
        _cleanup_free_ char *doc = xasprintf("\"%s\"", o);
        json_t *j = json_loads(doc, JSON_DECODE_ANY, NULL);
        assert_non_null(j);
        assert_string_equal(json_string_value(j),
                            "a<b>&\"\\\n\r\x01 \xe2\x80\xa8 \xef\xbf\xbd \xc3\xa9");
        json_decref(j);

        /* a full buffer stops before an escape that does not fit, never in the middle of one */
        _cleanup_free_ char *part = escape("ab<cd", 5, 4, &used);
        assert_int_equal(used, 2);
        assert_string_equal(part, "ab");
        /* nor in the middle of a UTF-8 sequence */
        _cleanup_free_ char *u = escape("a\xc3\xa9", 3, 2, &used);
        assert_int_equal(used, 1);
        assert_string_equal(u, "a");
}

static void test_time_now(void **state)
{
        char buf[48];
        regex_t re;
        shim_time_now(buf, sizeof(buf));
        assert_int_equal(regcomp(&re,
                                 "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                                 "(\\.[0-9]*[1-9])?Z$",
                                 REG_EXTENDED | REG_NOSUB),
                         0);
        if (regexec(&re, buf, 0, NULL, 0) != 0)
                fail_msg("not RFC3339Nano: %s", buf);
        regfree(&re);
}

/* The entries of a json-file log as [log, stream] pairs. */
static json_t *read_log(const char *path)
{
        _cleanup_free_ char *data = NULL;
        json_t *out = json_array();
        assert_int_equal(berth_read_file_at(AT_FDCWD, path, 1 << 20, &data, NULL, NULL), 0);
        for (char *line = data, *nl; line && *line; line = nl ? nl + 1 : NULL) {
                nl = strchr(line, '\n');
                assert_non_null(nl); /* every entry ends its line */
                *nl = '\0';
                json_t *e = json_loads(line, 0, NULL);
                assert_non_null(e);
                assert_non_null(berth_json_get_str(e, "time"));
                json_array_append_new(out, json_pack("[s,s]", berth_json_get_str(e, "log"),
                                                     berth_json_get_str(e, "stream")));
                json_decref(e);
        }
        return out;
}

static void test_log_lines(void **state)
{
        _cleanup_free_ char *path = xasprintf("%s/lines.log", tmpdir);
        static struct shim_log l;
        assert_int_equal(shim_log_open(&l, path, 0, 1, NULL), 0);
        shim_log_write(&l, SHIM_STDOUT, "one\ntw", 6);
        shim_log_write(&l, SHIM_STDERR, "err\n", 4);
        shim_log_write(&l, SHIM_STDOUT, "o\nthree", 7);
        shim_log_flush(&l, SHIM_STDOUT); /* EOF: the unfinished line without its newline */
        shim_log_close(&l);
        json_t *got = read_log(path);
        json_t *want = json_pack("[[s,s],[s,s],[s,s],[s,s]]", "one\n", "stdout", "err\n", "stderr",
                                 "two\n", "stdout", "three", "stdout");
        assert_true(json_equal(got, want));
        json_decref(got);
        json_decref(want);
}

static void test_log_long_line_split(void **state)
{
        _cleanup_free_ char *path = xasprintf("%s/long.log", tmpdir);
        static struct shim_log l;
        size_t n = SHIM_LOG_LINE_MAX + 10;
        _cleanup_free_ char *big = xmalloc(n + 1);
        memset(big, 'x', n);
        big[n] = '\n';
        assert_int_equal(shim_log_open(&l, path, 0, 1, NULL), 0);
        shim_log_write(&l, SHIM_STDOUT, big, n + 1);
        shim_log_close(&l);
        json_t *got = read_log(path);
        /* docker's copier: a 16 KiB partial entry, then the rest with the newline */
        assert_int_equal(json_array_size(got), 2);
        assert_int_equal(strlen(json_string_value(json_array_get(json_array_get(got, 0), 0))),
                         SHIM_LOG_LINE_MAX);
        assert_int_equal(strlen(json_string_value(json_array_get(json_array_get(got, 1), 0))), 11);
        json_decref(got);
}

static void test_log_rotation(void **state)
{
        _cleanup_free_ char *path = xasprintf("%s/rot.log", tmpdir);
        _cleanup_free_ char *p1 = xasprintf("%s.1", path), *p2 = xasprintf("%s.2", path);
        static struct shim_log l;
        assert_int_equal(shim_log_open(&l, path, 100, 2, NULL), 0);
        for (int i = 0; i < 10; i++) {
                char line[32];
                int k = snprintf(line, sizeof(line), "line %d\n", i);
                shim_log_write(&l, SHIM_STDOUT, line, (size_t)k);
        }
        shim_log_close(&l);
        struct stat st;
        /* two files at most: PATH and PATH.1; each passes max-size by one entry at most */
        assert_int_equal(stat(p1, &st), 0);
        assert_int_equal(stat(p2, &st), -1);
        json_t *cur = read_log(path), *old = read_log(p1);
        assert_true(json_array_size(cur) >= 1);
        /* the newest entry is last in PATH, the one before it in PATH.1 or PATH */
        json_t *last = json_array_get(cur, json_array_size(cur) - 1);
        assert_string_equal(json_string_value(json_array_get(last, 0)), "line 9\n");
        assert_true(json_array_size(old) >= 1);
        json_decref(cur);
        json_decref(old);
}

static void test_write_exit(void **state)
{
        _cleanup_close_ int dfd = open(tmpdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        assert_int_equal(shim_write_exit(dfd, 137, true, "killed \"hard\"\n"), 0);
        json_t *j = berth_json_load_at(dfd, BERTH_SHIM_EXIT_FILE, 0, NULL);
        assert_non_null(j);
        assert_int_equal(json_integer_value(json_object_get(j, "exit_code")), 137);
        assert_true(json_is_true(json_object_get(j, "oom_killed")));
        assert_string_equal(berth_json_get_str(j, "error"), "killed \"hard\"\n");
        assert_non_null(berth_json_get_str(j, "finished_at"));
        json_decref(j);
        assert_int_equal(shim_write_exit(dfd, 0, false, NULL), 0);
        j = berth_json_load_at(dfd, BERTH_SHIM_EXIT_FILE, 0, NULL);
        assert_non_null(j);
        assert_int_equal(json_integer_value(json_object_get(j, "exit_code")), 0);
        assert_null(json_object_get(j, "error"));
        json_decref(j);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_opts_create),
            cmocka_unit_test(test_opts_exec_and_defaults),
            cmocka_unit_test(test_opts_external_runtime),
            cmocka_unit_test(test_opts_refused),
            cmocka_unit_test(test_json_escape),
            cmocka_unit_test(test_time_now),
            cmocka_unit_test(test_log_lines),
            cmocka_unit_test(test_log_long_line_split),
            cmocka_unit_test(test_log_rotation),
            cmocka_unit_test(test_write_exit),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
