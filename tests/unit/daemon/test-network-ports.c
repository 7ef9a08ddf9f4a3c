/* The engine's published-port parsing (src/daemon/network/ports.c): docker's PortBindings keys
 * and HostPort ranges, PublishAllPorts over the config's and the image's ExposedPorts, docker's
 * messages for bad input, and the NetworkSettings.Ports / list Ports views of a sandbox. */
#include "daemon/network/network-internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

static json_t *wanted(const char *create, const char *image, int *ret, char **ret_msg)
{
        _cleanup_json_ json_t *c = json_loads(create, 0, NULL);
        _cleanup_json_ json_t *i = image ? json_loads(image, 0, NULL) : NULL;
        struct berth_error *err = NULL;
        json_t *out = NULL;

        assert_non_null(c);
        *ret = net_ports_wanted(c, i, &out, &err);
        *ret_msg = err ? strdup(err->msg) : NULL;
        berth_error_free(err);
        return out;
}

static void assert_want(json_t *w, size_t i, const char *proto, const char *ip, int lo, int hi,
                        int cport)
{
        json_t *e = json_array_get(w, i);
        assert_non_null(e);
        assert_string_equal(json_string_value(json_object_get(e, "Proto")), proto);
        assert_string_equal(json_string_value(json_object_get(e, "HostIp")), ip);
        assert_int_equal(json_integer_value(json_object_get(e, "HostLo")), lo);
        assert_int_equal(json_integer_value(json_object_get(e, "HostHi")), hi);
        assert_int_equal(json_integer_value(json_object_get(e, "ContainerPort")), cport);
}

static void test_bindings(void **state)
{
        (void)state;
        int r;
        char *msg;
        _cleanup_json_ json_t *w =
            wanted("{\"HostConfig\": {\"PortBindings\": {"
                   "\"80/tcp\": [{\"HostIp\": \"\", \"HostPort\": \"8080\"},"
                   "             {\"HostIp\": \"127.0.0.1\", \"HostPort\": \"\"}],"
                   "\"53/udp\": [{\"HostPort\": \"5353\"}],"
                   "\"9000-9002\": [{\"HostPort\": \"19000-19002\"}],"
                   "\"443\": [{\"HostPort\": \"8000-8010\"}]}}}",
                   NULL, &r, &msg);
        assert_int_equal(r, 0);
        assert_null(msg);
        assert_int_equal(json_array_size(w), 7);
        assert_want(w, 0, "tcp", "", 8080, 8080, 80);
        assert_want(w, 1, "tcp", "127.0.0.1", 0, 0, 80);
        assert_want(w, 2, "udp", "", 5353, 5353, 53);
        /* a range on both sides pairs them up; a host range for one port picks one of it */
        assert_want(w, 3, "tcp", "", 19000, 19000, 9000);
        assert_want(w, 5, "tcp", "", 19002, 19002, 9002);
        assert_want(w, 6, "tcp", "", 8000, 8010, 443);
}

static void test_publish_all(void **state)
{
        (void)state;
        int r;
        char *msg;
        _cleanup_json_ json_t *w =
            wanted("{\"ExposedPorts\": {\"7000/tcp\": {}, \"80/tcp\": {}},"
                   " \"HostConfig\": {\"PublishAllPorts\": true,"
                   " \"PortBindings\": {\"80/tcp\": [{\"HostPort\": \"8080\"}]}}}",
                   "{\"ExposedPorts\": {\"53/udp\": {}}}", &r, &msg);
        assert_int_equal(r, 0);
        /* 80 keeps its binding; 7000 and the image's 53/udp go to free ports */
        assert_int_equal(json_array_size(w), 3);
        assert_want(w, 0, "tcp", "", 8080, 8080, 80);
        assert_want(w, 1, "tcp", "", 0, 0, 7000);
        assert_want(w, 2, "udp", "", 0, 0, 53);
        json_decref(TAKE_PTR(w));
        /* without PublishAllPorts, exposing publishes nothing */
        w = wanted("{\"ExposedPorts\": {\"7000/tcp\": {}}}", NULL, &r, &msg);
        assert_int_equal(r, 0);
        assert_int_equal(json_array_size(w), 0);
}

static void test_bad(void **state)
{
        (void)state;
        static const struct {
                const char *create, *want;
        } bad[] = {
            {"{\"HostConfig\": {\"PortBindings\": {\"http/tcp\": []}}}", "invalid containerPort"},
            {"{\"HostConfig\": {\"PortBindings\": {\"80/icmp\": []}}}", "invalid proto: icmp"},
            {"{\"HostConfig\": {\"PortBindings\": {\"80/sctp\": []}}}", "sctp"},
            {"{\"HostConfig\": {\"PortBindings\": {\"70000\": []}}}", "invalid containerPort"},
            {"{\"HostConfig\": {\"PortBindings\": {\"80\": [{\"HostPort\": \"x\"}]}}}",
             "invalid hostPort: x"},
            {"{\"HostConfig\": {\"PortBindings\": {\"80-81\": [{\"HostPort\": \"90-99\"}]}}}",
             "invalid ranges specified"},
            {"{\"HostConfig\": {\"PortBindings\": {\"80\": [{\"HostIp\": \"1.2.3\"}]}}}",
             "invalid IP address"},
            {"{\"HostConfig\": {\"PortBindings\": {\"80\": [{\"HostIp\": \"::1\"}]}}}", "IPv6"},
            {"{\"HostConfig\": {\"PortBindings\": [1]}}", "expected an object"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                int r;
                char *msg = NULL;
                json_t *w = wanted(bad[i].create, NULL, &r, &msg);
                assert_null(w);
                assert_int_equal(r, -EINVAL);
                if (!msg || !strstr(msg, bad[i].want))
                        fail_msg("%s: `%s` lacks `%s`", bad[i].create, msg ? msg : "", bad[i].want);
                free(msg);
        }
}

static void test_views(void **state)
{
        (void)state;
        struct net_port ports[] = {
            {.proto = IPPROTO_TCP, .host_port = 8080, .container_port = 80, .fd = -1},
            {.proto = IPPROTO_UDP, .host_port = 5353, .container_port = 53, .fd = -1},
        };
        struct net_sandbox sb = {.ports = ports, .n_ports = 2};
        _cleanup_json_ json_t *create =
            json_loads("{\"ExposedPorts\": {\"443/tcp\": {}}}", 0, NULL);
        _cleanup_json_ json_t *set = NULL, *sum = NULL, *none = NULL;
        _cleanup_free_ char *s = NULL, *t = NULL;

        berth_cidr_parse("127.0.0.1", &ports[1].host_ip, NULL);
        set = net_ports_settings(&sb, create, NULL);
        s = json_dumps(set, JSON_SORT_KEYS | JSON_COMPACT);
        assert_string_equal(s, "{\"443/tcp\":null,"
                               "\"53/udp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"5353\"}],"
                               "\"80/tcp\":[{\"HostIp\":\"0.0.0.0\",\"HostPort\":\"8080\"}]}");
        sum = net_ports_summary(&sb);
        t = json_dumps(sum, JSON_SORT_KEYS | JSON_COMPACT);
        assert_string_equal(
            t, "[{\"IP\":\"0.0.0.0\",\"PrivatePort\":80,\"PublicPort\":8080,\"Type\":\"tcp\"},"
               "{\"IP\":\"127.0.0.1\",\"PrivatePort\":53,\"PublicPort\":5353,\"Type\":\"udp\"}]");
        /* a container that does not run shows no ports (docker's {}) */
        none = net_ports_settings(NULL, create, NULL);
        assert_int_equal(json_object_size(none), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_bindings),
            cmocka_unit_test(test_publish_all),
            cmocka_unit_test(test_bad),
            cmocka_unit_test(test_views),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
