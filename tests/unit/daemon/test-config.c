/* Unit tests for berthd's configuration file (src/daemon/config.c): dockerd's daemon.json keys
 * berthd takes, runtimes and their paths, and the keys it refuses by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "daemon/daemon.h"

static char dir[64];

static int setup(void **state)
{
        strcpy(dir, "/tmp/berth-test-config-XXXXXX");
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
        _cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

/* Load text as a daemon.json; on failure *ret_msg is the error (new). */
static int load(const char *text, struct daemon_config *cfg, char **ret_msg)
{
        _cleanup_free_ char *path = xasprintf("%s/daemon.json", dir);
        struct berth_error *err = NULL;
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        int r = daemon_config_load(path, true, cfg, &err);
        if (r < 0) {
                assert_non_null(err);
                *ret_msg = xstrdup(err->msg);
                berth_error_free(err);
        }
        return r;
}

static void refused(const char *text, const char *words)
{
        struct daemon_config cfg;
        char *msg = NULL;
        assert_true(load(text, &cfg, &msg) < 0);
        if (!strstr(msg, words))
                fail_msg("`%s`: expected `%s` in `%s`", text, words, msg);
        assert_non_null(strstr(msg, "daemon.json"));
        free(msg);
}

static void test_keys(void **state)
{
        struct daemon_config cfg;
        char *msg = NULL;
        assert_int_equal(load("{\"data-root\": \"/d\", \"hosts\": [\"unix:///s.sock\"], "
                              "\"bridge\": \"none\", \"bip\": \"10.1.0.1/24\", \"ipv6\": true, "
                              "\"fixed-cidr-v6\": \"fd00::/64\", \"log-level\": \"warn\", "
                              "\"debug\": false, \"seccomp-profile\": \"/p.json\"}",
                              &cfg, &msg),
                         0);
        assert_string_equal(cfg.data_root, "/d");
        assert_string_equal(cfg.host, "unix:///s.sock");
        assert_string_equal(cfg.bridge, "none");
        assert_string_equal(cfg.bip, "10.1.0.1/24");
        assert_int_equal(cfg.ipv6, 1);
        assert_string_equal(cfg.fixed_cidr_v6, "fd00::/64");
        assert_string_equal(cfg.log_level, "warn");
        assert_int_equal(cfg.debug, 0);
        assert_string_equal(cfg.seccomp_profile, "/p.json");
        assert_null(cfg.default_runtime);
        assert_int_equal(cfg.n_runtimes, 0);
        daemon_config_release(&cfg);
        /* absent keys stay unset */
        assert_int_equal(load("{}", &cfg, &msg), 0);
        assert_int_equal(cfg.ipv6, -1);
        assert_int_equal(cfg.debug, -1);
        assert_null(cfg.data_root);
        daemon_config_release(&cfg);
}

static void test_runtimes(void **state)
{
        struct daemon_config cfg;
        char *msg = NULL;
        assert_int_equal(load("{\"runtimes\": {\"a\": {\"path\": \"/bin/true\"}, \"b\": "
                              "{\"path\": \"sh\", \"runtimeArgs\": [\"--x\", \"y\"]}}, "
                              "\"default-runtime\": \"a\"}",
                              &cfg, &msg),
                         0);
        assert_int_equal(cfg.n_runtimes, 2);
        assert_string_equal(cfg.runtimes[0].name, "a");
        assert_string_equal(cfg.runtimes[0].path, "/bin/true");
        assert_null(cfg.runtimes[0].args);
        assert_string_equal(cfg.runtimes[1].name, "b");
        assert_true(cfg.runtimes[1].path[0] == '/'); /* found in PATH */
        assert_string_equal(cfg.runtimes[1].args[0], "--x");
        assert_string_equal(cfg.runtimes[1].args[1], "y");
        assert_null(cfg.runtimes[1].args[2]);
        assert_string_equal(cfg.default_runtime, "a");

        struct berth_error *err = NULL;
        assert_int_equal(daemon_config_add_runtime(&cfg, "a", "/bin/true", NULL, &err), -EEXIST);
        berth_error_free(TAKE_PTR(err));
        assert_true(daemon_config_add_runtime(&cfg, "berth", "/bin/true", NULL, &err) < 0);
        berth_error_free(TAKE_PTR(err));
        assert_int_equal(daemon_config_add_runtime(&cfg, "c", "/bin/true", NULL, &err), 0);
        assert_int_equal(cfg.n_runtimes, 3);

        struct daemon_runtimes *rts = daemon_runtimes_new(&cfg, cfg.default_runtime, &err);
        assert_non_null(rts);
        assert_int_equal(cfg.n_runtimes, 0); /* taken */
        assert_string_equal(rts->default_runtime, "a");
        const struct daemon_runtime *rt = (void *)1;
        assert_int_equal(daemon_runtime_lookup(rts, "berth", &rt, &err), 0);
        assert_null(rt);
        assert_int_equal(daemon_runtime_lookup(rts, NULL, &rt, &err), 0);
        assert_null(rt);
        assert_int_equal(daemon_runtime_lookup(rts, "c", &rt, &err), 0);
        assert_string_equal(rt->name, "c");
        assert_int_equal(daemon_runtime_lookup(rts, "nosuch", &rt, &err), -EINVAL);
        assert_string_equal(err->msg, "Unknown runtime specified nosuch");
        berth_error_free(TAKE_PTR(err));

        /* a reload swaps the set: a holder of the old one keeps it until it puts it */
        struct daemon d = {0};
        pthread_mutex_init(&d.runtimes_lock, NULL);
        daemon_runtimes_set(&d, rts);
        struct daemon_runtimes *held = daemon_runtimes_get(&d);
        struct daemon_config empty = {0};
        struct daemon_runtimes *next = daemon_runtimes_new(&empty, NULL, &err);
        assert_non_null(next);
        assert_string_equal(next->default_runtime, "berth");
        daemon_runtimes_set(&d, next);
        assert_int_equal(daemon_runtime_lookup(held, "c", &rt, &err), 0);
        assert_string_equal(rt->path, "/bin/true");
        daemon_runtimes_put(held);
        assert_true(daemon_runtimes_get(&d) == next);
        daemon_runtimes_put(next);
        daemon_runtimes_set(&d, NULL);

        /* the default must be one of them */
        struct daemon_config none = {0};
        assert_null(daemon_runtimes_new(&none, "runc", &err));
        assert_string_equal(err->msg, "default runtime `runc` is not configured");
        berth_error_free(err);
        daemon_config_release(&cfg);
}

static void test_refused(void **state)
{
        refused("{\"log-driver\": \"syslog\"}", "option `log-driver` is not supported");
        refused("[1]", "not a JSON object");
        refused("{\"a\": 1, \"a\": 2}", "duplicate");
        refused("{\"bip\": 1}", "`bip` must be a string");
        refused("{\"ipv6\": \"yes\"}", "`ipv6` must be true or false");
        refused("{\"hosts\": [\"unix:///a\", \"unix:///b\"]}", "`hosts` must be an array of one");
        refused("{\"runtimes\": []}", "`runtimes` must be an object");
        refused("{\"runtimes\": {\"x\": {}}}", "runtime `x`: `path` (a string) is required");
        refused("{\"runtimes\": {\"x\": {\"path\": \"rel/runc\"}}}", "must be absolute");
        refused("{\"runtimes\": {\"x\": {\"path\": \"/nonexistent\"}}}", "not an executable");
        refused("{\"runtimes\": {\"x\": {\"path\": \"no-such-runtime-binary\"}}}",
                "not found in PATH");
        refused("{\"runtimes\": {\"x\": {\"path\": \"/bin/true\", \"runtimeArgs\": [1]}}}",
                "runtimeArgs must be an array of strings");
        refused("{\"runtimes\": {\"x\": {\"path\": \"/bin/true\", \"options\": {}}}}",
                "`options` is not supported");
        refused("{\"runtimes\": {\"berth\": {\"path\": \"/bin/true\"}}}", "reserved");
        refused("{", "line 1");
}

static void test_missing_file(void **state)
{
        struct daemon_config cfg;
        struct berth_error *err = NULL;
        _cleanup_free_ char *path = xasprintf("%s/none.json", dir);
        /* the default file may be absent; a file named on the command line may not */
        assert_int_equal(daemon_config_load(path, false, &cfg, &err), 0);
        assert_null(err);
        assert_int_equal(cfg.n_runtimes, 0);
        daemon_config_release(&cfg);
        assert_true(daemon_config_load(path, true, &cfg, &err) < 0);
        assert_non_null(strstr(err->msg, "none.json"));
        berth_error_free(err);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_keys),
            cmocka_unit_test(test_runtimes),
            cmocka_unit_test(test_refused),
            cmocka_unit_test(test_missing_file),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
