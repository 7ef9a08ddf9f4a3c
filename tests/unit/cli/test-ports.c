/* cli/ports.c: docker's PORTS column (formatter.DisplayablePorts), -p/--expose parsing
 * (nat.ParsePortSpec) and the natural sort of `port` lines. Expected strings are what docker's
 * CLI 28 prints for the same input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cli/cli.h"
#include "cli/internal.h"

static void display_is(const char *ports_json, const char *want)
{
        json_error_t je;
        json_t *ports = json_loads(ports_json, 0, &je);
        assert_non_null(ports);
        char *got = cli_ports_display(ports);
        if (strcmp(got, want) != 0)
                fail_msg("got `%s`, want `%s`", got, want);
        free(got);
        json_decref(ports);
}

#define P(ip, pub, priv, type)                                                                     \
        "{\"IP\":\"" ip "\",\"PublicPort\":" #pub ",\"PrivatePort\":" #priv ",\"Type\":\"" type    \
        "\"}"
#define X(priv, type) "{\"PrivatePort\":" #priv ",\"Type\":\"" type "\"}"

static void test_display(void **state)
{
        (void)state;
        display_is("[]", "");
        display_is("[" X(80, "tcp") "]", "80/tcp");
        /* what dockerd 20.10 answered for -p 8080:80 -p 9000-9002:9000-9002/udp, in its order */
        display_is("[" P("0.0.0.0", 9001, 9001, "udp") "," P("::", 9001, 9001, "udp") "," P(
                       "0.0.0.0", 9002, 9002,
                       "udp") "," P("::", 9002, 9002,
                                    "udp") "," P("0.0.0.0", 8080, 80,
                                                 "tcp") "," P("::", 8080, 80,
                                                              "tcp") "," P("0.0.0.0", 9000, 9000,
                                                                           "udp") "," P("::", 9000,
                                                                                        9000,
                                                                                        "udp") "]",
                   "0.0.0.0:9000-9002->9000-9002/udp, [::]:9000-9002->9000-9002/udp, "
                   "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp");
        /* exposed only, a gap splits a range, tcp and udp apart */
        display_is("[" X(82, "tcp") "," X(80, "tcp") "," X(81, "tcp") "," X(84, "tcp") "," X(
                       80, "udp") "]",
                   "80-82/tcp, 84/tcp, 80/udp");
        /* a host port different from the container port is listed last, in sort order */
        display_is("[" P("127.0.0.1", 9090, 90, "tcp") "," X(443, "tcp") "," P("0.0.0.0", 8080, 80,
                                                                               "tcp") "]",
                   "443/tcp, 0.0.0.0:8080->80/tcp, 127.0.0.1:9090->90/tcp");
}

static json_t *publish(const char *spec, char **ret_msg)
{
        json_t *exposed = json_object(), *bindings = json_object();
        struct berth_error *e = NULL;
        *ret_msg = NULL;
        if (cli_parse_publish(spec, exposed, bindings, &e) < 0) {
                *ret_msg = xstrdup(e->msg);
                berth_error_free(e);
                json_decref(exposed);
                json_decref(bindings);
                return NULL;
        }
        json_t *out = json_pack("{s:o,s:o}", "exposed", exposed, "bindings", bindings);
        return out;
}

static void publish_is(const char *spec, const char *want_bindings)
{
        char *msg;
        json_t *got = publish(spec, &msg);
        if (!got)
                fail_msg("%s: %s", spec, msg);
        char *s = json_dumps(json_object_get(got, "bindings"), JSON_COMPACT | JSON_SORT_KEYS);
        if (strcmp(s, want_bindings) != 0)
                fail_msg("%s: got %s, want %s", spec, s, want_bindings);
        /* every bound port is exposed */
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(got, "bindings"), k, v)
            assert_non_null(json_object_get(json_object_get(got, "exposed"), k));
        free(s);
        json_decref(got);
}

static void publish_fails(const char *spec, const char *want)
{
        char *msg;
        json_t *got = publish(spec, &msg);
        assert_null(got);
        if (strcmp(msg, want) != 0)
                fail_msg("%s: got `%s`, want `%s`", spec, msg, want);
        free(msg);
}

static void test_publish(void **state)
{
        (void)state;
        publish_is("80", "{\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"\"}]}");
        publish_is("8080:80", "{\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"8080\"}]}");
        publish_is("127.0.0.1:9000-9001:90-91/udp",
                   "{\"90/udp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"9000\"}],"
                   "\"91/udp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"9001\"}]}");
        publish_is("7000-7005:70", "{\"70/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"7000-7005\"}]}");
        publish_is("[::1]:81:81", "{\"81/tcp\":[{\"HostIp\":\"::1\",\"HostPort\":\"81\"}]}");
        publish_is("::1:81:81", "{\"81/tcp\":[{\"HostIp\":\"::1\",\"HostPort\":\"81\"}]}");
        publish_is(":80", "{\"80/tcp\":[{\"HostIp\":\"\",\"HostPort\":\"\"}]}");
        publish_is("published=8080,target=80,protocol=udp",
                   "{\"80/udp\":[{\"HostIp\":\"\",\"HostPort\":\"8080\"}]}");
        publish_is("53/UDP", "{\"53/udp\":[{\"HostIp\":\"\",\"HostPort\":\"\"}]}");

        publish_fails("abc", "invalid containerPort: abc");
        publish_fails("80:abc", "invalid containerPort: abc");
        publish_fails("abc:80", "invalid hostPort: abc");
        publish_fails("1.2.3:80:80", "invalid IP address: 1.2.3");
        publish_fails("80/xyz", "invalid proto: xyz");
        publish_fails("80-82:90-91",
                      "invalid ranges specified for container and host Ports: 90-91 and 80-82");
        publish_fails("70000", "invalid containerPort: 70000");
        publish_fails("81-80", "invalid containerPort: 81-80");
        publish_fails("8080:", "no port specified: 8080:<empty>");
        publish_fails("published=8080,target",
                      "invalid publish opts format (should be name=value but got 'target')");
        publish_fails("[::1:80:80",
                      "invalid IP address [::1: address [::1:: missing ']' in address");
}

static void test_expose(void **state)
{
        (void)state;
        json_t *exposed = json_object();
        struct berth_error *e = NULL;
        assert_int_equal(cli_parse_expose("100-102", exposed, &e), 0);
        assert_int_equal(cli_parse_expose("53/udp", exposed, &e), 0);
        char *s = json_dumps(exposed, JSON_COMPACT | JSON_SORT_KEYS);
        assert_string_equal(s, "{\"100/tcp\":{},\"101/tcp\":{},\"102/tcp\":{},\"53/udp\":{}}");
        free(s);
        assert_int_equal(cli_parse_expose("80:90", exposed, &e), -EINVAL);
        assert_string_equal(e->msg, "invalid port format for --expose: 80:90");
        berth_error_free(e);
        e = NULL;
        assert_int_equal(cli_parse_expose("abc", exposed, &e), -EINVAL);
        assert_string_equal(e->msg, "invalid range format for --expose: abc, error: "
                                    "strconv.ParseUint: parsing \"abc\": invalid syntax");
        berth_error_free(e);
        json_decref(exposed);
}

static void test_natural_sort(void **state)
{
        (void)state;
        assert_true(cli_natural_less("80/tcp -> 0.0.0.0:8080", "443/tcp -> 0.0.0.0:443"));
        assert_false(cli_natural_less("443/tcp", "80/tcp"));
        assert_true(cli_natural_less("9/tcp", "10/tcp"));
        assert_true(cli_natural_less("a1", "a01"));
        assert_true(cli_natural_less("1x", "x"));
        assert_true(cli_natural_less("net2", "net10"));
        assert_false(cli_natural_less("same", "same"));
        assert_true(cli_natural_less("ab", "abc"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_display),
            cmocka_unit_test(test_publish),
            cmocka_unit_test(test_expose),
            cmocka_unit_test(test_natural_sort),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
