/* cli/run.c: docker's run/create flags → the body of POST /containers/create. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cli/cli.h"
#include "cli/internal.h"

/* Parse "run ARGS…" and build the body; NULL and the error message in *ret_msg on failure. */
static json_t *body_of(char **ret_msg, ...)
{
        char *argv[64];
        int argc = 0;
        va_list ap;
        va_start(ap, ret_msg);
        argv[argc++] = "run";
        for (char *s; (s = va_arg(ap, char *));)
                argv[argc++] = s;
        va_end(ap);
        argv[argc] = NULL;
        struct cli_args a;
        struct berth_error *e = NULL;
        json_t *body = NULL;
        *ret_msg = NULL;
        if (cli_args_parse(&a, cli_create_flags, cli_create_n_flags, argc, argv, false, &e) < 0 ||
            cli_create_body(&a, &body, &e) < 0) {
                *ret_msg = xstrdup(e->msg);
                berth_error_free(e);
        }
        cli_args_release(&a);
        return body;
}

static const char *s(json_t *o, const char *path)
{
        /* "A.B" → o["A"]["B"] as a string */
        char buf[128];
        snprintf(buf, sizeof(buf), "%s", path);
        char *dot = strchr(buf, '.');
        if (dot) {
                *dot = '\0';
                o = json_object_get(o, buf);
                path = path + (dot - buf) + 1;
        }
        return json_string_value(json_object_get(o, path));
}

static json_int_t n(json_t *o, const char *k1, const char *k2)
{
        return json_integer_value(json_object_get(k2 ? json_object_get(o, k1) : o, k2 ? k2 : k1));
}

static void test_basic_run(void **state)
{
        char *msg;
        json_t *b =
            body_of(&msg, "--rm", "-it", "--name", "x", "busybox", "sh", "-c", "echo", NULL);
        assert_non_null(b);
        assert_string_equal(s(b, "Image"), "busybox");
        json_t *cmd = json_object_get(b, "Cmd");
        assert_int_equal(json_array_size(cmd), 3);
        assert_string_equal(json_string_value(json_array_get(cmd, 2)), "echo");
        assert_true(json_is_true(json_object_get(b, "Tty")));
        assert_true(json_is_true(json_object_get(b, "OpenStdin")));
        assert_true(json_is_true(json_object_get(b, "AttachStdin")));
        assert_true(json_is_true(json_object_get(b, "StdinOnce")));
        assert_true(json_is_true(json_object_get(json_object_get(b, "HostConfig"), "AutoRemove")));
        assert_string_equal(s(b, "HostConfig.NetworkMode"), "default");
        json_decref(b);
        /* -d: nothing attached, no stdin once */
        b = body_of(&msg, "-d", "-i", "busybox", NULL);
        assert_false(json_is_true(json_object_get(b, "AttachStdout")));
        assert_false(json_is_true(json_object_get(b, "AttachStdin")));
        assert_false(json_is_true(json_object_get(b, "StdinOnce")));
        assert_true(json_is_true(json_object_get(b, "OpenStdin")));
        assert_null(json_object_get(b, "Cmd"));
        json_decref(b);
}

static void test_resources(void **state)
{
        char *msg;
        json_t *b = body_of(&msg, "-m", "64m", "--memory-reservation", "32m", "--memory-swap", "-1",
                            "--cpus", "1.5", "-c", "512", "--cpu-quota", "50000", "--cpu-period",
                            "100000", "--cpuset-cpus", "0", "--pids-limit", "10", "--blkio-weight",
                            "300", "busybox", NULL);
        assert_non_null(b);
        json_t *hc = json_object_get(b, "HostConfig");
        assert_int_equal(n(hc, "Memory", NULL), 64 << 20);
        assert_int_equal(n(hc, "MemoryReservation", NULL), 32 << 20);
        assert_int_equal(n(hc, "MemorySwap", NULL), -1);
        assert_int_equal(n(hc, "NanoCpus", NULL), 1500000000);
        assert_int_equal(n(hc, "CpuShares", NULL), 512);
        assert_int_equal(n(hc, "CpuQuota", NULL), 50000);
        assert_int_equal(n(hc, "CpuPeriod", NULL), 100000);
        assert_string_equal(s(hc, "CpusetCpus"), "0");
        assert_int_equal(n(hc, "PidsLimit", NULL), 10);
        assert_int_equal(n(hc, "BlkioWeight", NULL), 300);
        json_decref(b);
}

static void test_security_and_namespaces(void **state)
{
        char *msg;
        json_t *b = body_of(&msg, "--privileged", "--cap-add", "NET_ADMIN", "--cap-drop", "ALL",
                            "--security-opt", "seccomp=unconfined", "--read-only", "--ipc", "host",
                            "--pid", "container:abc", "--uts", "host", "--userns", "host",
                            "--device", "/dev/fuse", "--device", "/dev/null:/dev/n2:r", "--ulimit",
                            "nofile=10:20", "--ulimit", "nproc=5", "--init", "busybox", NULL);
        assert_non_null(b);
        json_t *hc = json_object_get(b, "HostConfig");
        assert_true(json_is_true(json_object_get(hc, "Privileged")));
        assert_true(json_is_true(json_object_get(hc, "ReadonlyRootfs")));
        assert_true(json_is_true(json_object_get(hc, "Init")));
        assert_string_equal(json_string_value(json_array_get(json_object_get(hc, "CapAdd"), 0)),
                            "NET_ADMIN");
        assert_string_equal(json_string_value(json_array_get(json_object_get(hc, "CapDrop"), 0)),
                            "ALL");
        assert_string_equal(
            json_string_value(json_array_get(json_object_get(hc, "SecurityOpt"), 0)),
            "seccomp=unconfined");
        assert_string_equal(s(hc, "IpcMode"), "host");
        assert_string_equal(s(hc, "PidMode"), "container:abc");
        assert_string_equal(s(hc, "UTSMode"), "host");
        assert_string_equal(s(hc, "UsernsMode"), "host");
        json_t *d0 = json_array_get(json_object_get(hc, "Devices"), 0);
        json_t *d1 = json_array_get(json_object_get(hc, "Devices"), 1);
        assert_string_equal(s(d0, "PathInContainer"), "/dev/fuse");
        assert_string_equal(s(d0, "CgroupPermissions"), "rwm");
        assert_string_equal(s(d1, "PathInContainer"), "/dev/n2");
        assert_string_equal(s(d1, "CgroupPermissions"), "r");
        json_t *u0 = json_array_get(json_object_get(hc, "Ulimits"), 0);
        json_t *u1 = json_array_get(json_object_get(hc, "Ulimits"), 1);
        assert_string_equal(s(u0, "Name"), "nofile");
        assert_int_equal(n(u0, "Soft", NULL), 10);
        assert_int_equal(n(u0, "Hard", NULL), 20);
        assert_int_equal(n(u1, "Hard", NULL), 5);
        json_decref(b);
}

static void test_mounts_env_labels(void **state)
{
        char *msg;
        setenv("BERTH_TEST_FROM_ENV", "yes", 1);
        json_t *b =
            body_of(&msg, "-v", "/host:/c:ro", "-v", "named:/data", "-v", "/anon", "--mount",
                    "type=tmpfs,target=/t,tmpfs-size=1m", "--mount",
                    "type=bind,source=/s,target=/d,readonly", "--tmpfs", "/run:size=1m", "-e",
                    "A=1", "-e", "BERTH_TEST_FROM_ENV", "-e", "BERTH_TEST_UNSET_X", "-l", "k=v",
                    "-l", "flag", "-w", "/w", "-u", "1000:1000", "--entrypoint", "/bin/sh",
                    "--stop-signal", "SIGINT", "--stop-timeout", "7", "-h", "hn", "busybox", NULL);
        assert_non_null(b);
        json_t *hc = json_object_get(b, "HostConfig");
        json_t *binds = json_object_get(hc, "Binds");
        assert_int_equal(json_array_size(binds), 2);
        assert_string_equal(json_string_value(json_array_get(binds, 0)), "/host:/c:ro");
        assert_string_equal(json_string_value(json_array_get(binds, 1)), "named:/data");
        assert_non_null(json_object_get(json_object_get(b, "Volumes"), "/anon"));
        json_t *m0 = json_array_get(json_object_get(hc, "Mounts"), 0);
        json_t *m1 = json_array_get(json_object_get(hc, "Mounts"), 1);
        assert_string_equal(s(m0, "Type"), "tmpfs");
        assert_int_equal(n(m0, "TmpfsOptions", "SizeBytes"), 1 << 20);
        assert_string_equal(s(m1, "Source"), "/s");
        assert_true(json_is_true(json_object_get(m1, "ReadOnly")));
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(hc, "Tmpfs"), "/run")), "size=1m");
        json_t *env = json_object_get(b, "Env");
        assert_int_equal(json_array_size(env), 2); /* an unset bare name is dropped */
        assert_string_equal(json_string_value(json_array_get(env, 1)), "BERTH_TEST_FROM_ENV=yes");
        assert_string_equal(s(b, "Labels.k"), "v");
        assert_string_equal(s(b, "Labels.flag"), "");
        assert_string_equal(s(b, "WorkingDir"), "/w");
        assert_string_equal(s(b, "User"), "1000:1000");
        assert_string_equal(json_string_value(json_array_get(json_object_get(b, "Entrypoint"), 0)),
                            "/bin/sh");
        assert_string_equal(s(b, "StopSignal"), "SIGINT");
        assert_int_equal(n(b, "StopTimeout", NULL), 7);
        assert_string_equal(s(b, "Hostname"), "hn");
        json_decref(b);
}

static void test_policies_logs_health(void **state)
{
        char *msg;
        json_t *b = body_of(&msg, "--restart", "on-failure:3", "--log-opt", "max-size=10m",
                            "--log-opt", "max-file=2", "--health-cmd", "true", "--health-interval",
                            "1m30s", "--health-retries", "4", "--net", "none", "-p",
                            "127.0.0.1:8080:80/udp", "busybox", NULL);
        assert_non_null(b);
        json_t *hc = json_object_get(b, "HostConfig");
        assert_string_equal(s(hc, "RestartPolicy.Name"), "on-failure");
        assert_int_equal(n(hc, "RestartPolicy", "MaximumRetryCount"), 3);
        json_t *lc = json_object_get(json_object_get(hc, "LogConfig"), "Config");
        assert_string_equal(s(lc, "max-size"), "10m");
        assert_string_equal(s(lc, "max-file"), "2");
        json_t *h = json_object_get(b, "Healthcheck");
        assert_string_equal(json_string_value(json_array_get(json_object_get(h, "Test"), 0)),
                            "CMD-SHELL");
        assert_int_equal(n(h, "Interval", NULL), 90000000000LL);
        assert_int_equal(n(h, "Retries", NULL), 4);
        assert_string_equal(s(hc, "NetworkMode"), "none");
        json_t *pb = json_object_get(json_object_get(hc, "PortBindings"), "80/udp");
        assert_string_equal(s(json_array_get(pb, 0), "HostIp"), "127.0.0.1");
        assert_string_equal(s(json_array_get(pb, 0), "HostPort"), "8080");
        assert_non_null(json_object_get(json_object_get(b, "ExposedPorts"), "80/udp"));
        json_decref(b);
        b = body_of(&msg, "--restart", "always", "busybox", NULL);
        assert_string_equal(s(json_object_get(b, "HostConfig"), "RestartPolicy.Name"), "always");
        json_decref(b);
}

static void test_bad_values(void **state)
{
        static const char *const bad[][3] = {
            {"--memory", "lots", "invalid size: 'lots'"},
            {"--cpus", "x", "invalid argument \"x\" for \"--cpus\" flag"},
            {"--restart", "sometimes", "invalid restart policy format: sometimes"},
            {"--restart", "always:3", "maximum retry count can only be used with"},
            {"--ulimit", "nofile", "invalid ulimit argument: nofile"},
            {"--pids-limit", "ten", "invalid argument \"ten\" for \"--pids-limit\" flag"},
            {"--mount", "type=bind,source=/x", "target is required"},
            {"--health-interval", "5", "invalid duration: 5"},
            {"-p", "80:abc", "invalid containerPort: abc"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                char *msg;
                json_t *b = body_of(&msg, bad[i][0], bad[i][1], "busybox", NULL);
                assert_null(b);
                assert_non_null(msg);
                if (!strstr(msg, bad[i][2]))
                        fail_msg("%s %s: got `%s`", bad[i][0], bad[i][1], msg);
                free(msg);
        }
        char *msg;
        assert_null(body_of(&msg, "--rm", "--restart", "always", "busybox", NULL));
        assert_non_null(strstr(msg, "Conflicting options: --restart and --rm"));
        free(msg);
        assert_null(body_of(&msg, "-d", "-a", "stdout", "busybox", NULL));
        free(msg);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_basic_run),
            cmocka_unit_test(test_resources),
            cmocka_unit_test(test_security_and_namespaces),
            cmocka_unit_test(test_mounts_env_labels),
            cmocka_unit_test(test_policies_logs_health),
            cmocka_unit_test(test_bad_values),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
