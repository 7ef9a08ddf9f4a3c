/* Unit tests for src/net/rules.c and ports.c (root). The process first moves into its own
 * network namespace: the `ip berth` table is per namespace, so the host's rules are never
 * touched. The table is read back through libnftables itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "net/net.h"

#include <arpa/inet.h>
#include <nftables/libnftables.h>
#include <sched.h>
#include <sys/socket.h>

static struct berth_cidr cidr(const char *s)
{
        struct berth_cidr c;
        assert_int_equal(berth_cidr_parse(s, &c, NULL), 0);
        return c;
}

static void ok(int r, struct berth_error *err)
{
        if (r < 0)
                fail_msg("%s", err ? err->msg : "(no message)");
        assert_null(err);
}

/* `nft list table FAMILY berth` through libnftables; NULL when the table does not exist. */
static char *list_table_of(const char *family)
{
        struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
        assert_non_null(ctx);
        nft_ctx_buffer_output(ctx);
        nft_ctx_buffer_error(ctx);
        char *out = NULL;
        _cleanup_free_ char *cmd = xasprintf("list table %s berth", family);
        if (nft_run_cmd_from_buffer(ctx, cmd) == 0)
                out = xstrdup(nft_ctx_get_output_buffer(ctx));
        nft_ctx_free(ctx);
        return out;
}

static char *list_table(void)
{
        return list_table_of("ip");
}

static void must_have(const char *table, const char *rule)
{
        if (!strstr(table, rule))
                fail_msg("rule `%s` not in\n%s", rule, table);
}

static void apply_two(void)
{
        struct berth_net_rules_network nets[] = {
            {.bridge = "br-one", .subnet = cidr("10.77.0.0/24"), .masquerade = true, .icc = true},
            {.bridge = "br-two",
             .subnet = cidr("10.78.0.0/24"),
             .masquerade = false,
             .internal = true,
             .icc = false},
        };
        struct berth_net_rules_port ports[] = {
            {.proto = IPPROTO_TCP,
             .host_port = 8080,
             .container_ip = cidr("10.77.0.2"),
             .container_port = 80,
             .bridge = "br-one"},
            {.proto = IPPROTO_UDP,
             .host_ip = cidr("127.0.0.1"),
             .host_port = 5353,
             .container_ip = cidr("10.77.0.3"),
             .container_port = 53,
             .bridge = "br-one"},
            {.proto = IPPROTO_TCP,
             .host_ip = cidr("192.0.2.1"),
             .host_port = 8443,
             .container_ip = cidr("10.78.0.2"),
             .container_port = 443,
             .bridge = "br-two"},
        };
        struct berth_error *err = NULL;
        ok(berth_net_rules_apply(nets, 2, ports, 3, &err), err);
}

static void test_apply_and_list(void **state)
{
        (void)state;
        apply_two();
        /* again: replacing is idempotent, never duplicated */
        apply_two();
        _cleanup_free_ char *t = list_table();
        assert_non_null(t);
        /* published ports are map elements: one lookup per packet, a fixed number of rules */
        must_have(t, "elements = { 8080 : 10.77.0.2 . 80 }");
        must_have(t, "elements = { 127.0.0.1 . 5353 : 10.77.0.3 . 53 }");
        must_have(t, "elements = { 192.0.2.1 . 8443 : 10.78.0.2 . 443 }");
        must_have(t, "dnat ip to tcp dport map @published_tcp\n");
        must_have(t, "dnat ip to ip daddr . tcp dport map @published_tcp_addr");
        must_have(t, "dnat ip to ip daddr . udp dport map @published_udp_addr");
        assert_null(strstr(t, "@published_udp\n")); /* no udp port on every address */
        must_have(t, "10.77.0.2 . 10.77.0.2 . 80");
        must_have(t, "ip saddr . ip daddr . tcp dport @hairpin_tcp masquerade");
        must_have(t, "type nat hook prerouting priority dstnat; policy accept;");
        must_have(t, "type nat hook output priority -100; policy accept;");
        must_have(t, "fib daddr type local jump published");
        must_have(t, "ip saddr 10.77.0.0/24 oifname != \"br-one\" masquerade");
        must_have(t, "oifname \"br-one\" ip saddr 127.0.0.0/8 masquerade");
        must_have(t, "type filter hook forward priority filter; policy accept;");
        must_have(t, "iifname \"br-one\" oifname \"br-two\" drop");
        must_have(t, "iifname \"br-two\" oifname \"br-one\" drop");
        must_have(t, "ct state established,related accept");
        must_have(t, "\"br-one\" . 10.77.0.2 . 80");
        must_have(t, "oifname . ip daddr . tcp dport @forward_tcp ct status dnat accept");
        must_have(t, "iifname \"br-one\" oifname \"br-one\" accept");
        must_have(t, "iifname \"br-two\" oifname \"br-two\" drop");    /* icc=false */
        must_have(t, "iifname \"br-two\" oifname != \"br-two\" drop"); /* internal */
        must_have(t, "iifname \"br-one\" accept");
        /* no masquerade out of the internal network, no way out at all */
        assert_null(strstr(t, "ip saddr 10.78.0.0/24"));
        assert_null(strstr(t, "iifname \"br-two\" accept"));
        /* one copy of each rule after two applies */
        const char *first = strstr(t, "8080 : 10.77.0.2 . 80");
        assert_null(strstr(first + 1, "8080 : 10.77.0.2 . 80"));
}

/* Two entries with one key (one host port twice, a container port on two host ports): nft
 * refuses duplicate elements, the first entry wins as the first matching rule did. */
static void test_duplicate_keys(void **state)
{
        (void)state;
        struct berth_net_rules_network net = {
            .bridge = "br-one", .subnet = cidr("10.77.0.0/24"), .masquerade = true, .icc = true};
        struct berth_net_rules_port ports[] = {
            {.proto = IPPROTO_TCP,
             .host_port = 8080,
             .container_ip = cidr("10.77.0.2"),
             .container_port = 80,
             .bridge = "br-one"},
            {.proto = IPPROTO_TCP,
             .host_port = 8080,
             .container_ip = cidr("10.77.0.3"),
             .container_port = 80,
             .bridge = "br-one"},
            {.proto = IPPROTO_TCP,
             .host_port = 8081,
             .container_ip = cidr("10.77.0.2"),
             .container_port = 80,
             .bridge = "br-one"},
        };
        struct berth_error *err = NULL;
        ok(berth_net_rules_apply(&net, 1, ports, 3, &err), err);
        _cleanup_free_ char *t = list_table();
        must_have(t, "8080 : 10.77.0.2 . 80");
        must_have(t, "8081 : 10.77.0.2 . 80");
        assert_null(strstr(t, ": 10.77.0.3 . 80"));
}

static void test_bad_input_keeps_table(void **state)
{
        (void)state;
        apply_two();
        _cleanup_free_ char *before = list_table();
        assert_non_null(before);

        const char *bad_names[] = {"br\"; flush ruleset; \"", "", "a-very-long-bridge-name",
                                   "br one"};
        for (size_t i = 0; i < ARRAY_SIZE(bad_names); i++) {
                struct berth_net_rules_network n = {.bridge = bad_names[i],
                                                    .subnet = cidr("10.79.0.0/24"),
                                                    .masquerade = true,
                                                    .icc = true};
                struct berth_error *err = NULL;
                assert_int_equal(berth_net_rules_apply(&n, 1, NULL, 0, &err), -EINVAL);
                assert_non_null(err);
                assert_non_null(strstr(err->msg, "bridge name"));
                berth_error_free(err);
        }
        /* a port on a bridge that is not a network, an ipv6 subnet, protocol 0 */
        struct berth_net_rules_network n = {.bridge = "br-x", .subnet = cidr("10.79.0.0/24")};
        struct berth_net_rules_port p = {.proto = IPPROTO_TCP,
                                         .host_port = 1,
                                         .container_ip = cidr("10.79.0.2"),
                                         .container_port = 1,
                                         .bridge = "br-y"};
        struct berth_error *err = NULL;
        assert_int_equal(berth_net_rules_apply(&n, 1, &p, 1, &err), -EINVAL);
        assert_non_null(strstr(err->msg, "`br-y`"));
        berth_error_free(err);
        err = NULL;
        p.bridge = "br-x";
        p.proto = 0;
        assert_int_equal(berth_net_rules_apply(&n, 1, &p, 1, &err), -EPROTONOSUPPORT);
        berth_error_free(err);
        err = NULL;
        n.subnet = cidr("fd00::/64");
        assert_int_equal(berth_net_rules_apply(&n, 1, NULL, 0, &err), -EAFNOSUPPORT);
        berth_error_free(err);

        _cleanup_free_ char *after = list_table();
        assert_non_null(after);
        assert_string_equal(before, after);
}

static void test_apply_empty_deletes(void **state)
{
        (void)state;
        apply_two();
        struct berth_error *err = NULL;
        ok(berth_net_rules_apply(NULL, 0, NULL, 0, &err), err);
        assert_null(list_table());
        /* and again, with no table there */
        ok(berth_net_rules_apply(NULL, 0, NULL, 0, &err), err);
        assert_null(list_table());
}

/* A network with an IPv6 subnet: masquerade and isolation in `ip6 berth`, which goes away with
 * the last such network (and with everything). */
static void test_ipv6_table(void **state)
{
        (void)state;
        struct berth_net_rules_network nets[] = {
            {.bridge = "br-six",
             .subnet = cidr("10.79.0.0/24"),
             .subnet6 = cidr("fd00:79::5/64"),
             .masquerade = true,
             .icc = true},
            {.bridge = "br-in",
             .subnet = cidr("10.80.0.0/24"),
             .subnet6 = cidr("fd00:80::/64"),
             .internal = true,
             .icc = true},
        };
        /* published on every IPv6 address and on one, to the container's IPv6 address; a v4
         * port beside them stays in `ip berth` */
        struct berth_net_rules_port ports[] = {
            {.proto = IPPROTO_TCP,
             .host_port = 8080,
             .container_ip = cidr("fd00:79::2"),
             .container_port = 80,
             .bridge = "br-six"},
            {.proto = IPPROTO_UDP,
             .host_ip = cidr("fd00:1::1"),
             .host_port = 5353,
             .container_ip = cidr("fd00:79::3"),
             .container_port = 53,
             .bridge = "br-six"},
            {.proto = IPPROTO_TCP,
             .host_port = 8080,
             .container_ip = cidr("10.79.0.2"),
             .container_port = 80,
             .bridge = "br-six"},
        };
        struct berth_error *err = NULL;
        ok(berth_net_rules_apply(nets, 2, ports, 3, &err), err);
        _cleanup_free_ char *t = list_table_of("ip6");
        must_have(t, "elements = { 8080 : fd00:79::2 . 80 }");
        must_have(t, "elements = { fd00:1::1 . 5353 : fd00:79::3 . 53 }");
        must_have(t, "dnat ip6 to tcp dport map @published_tcp\n");
        must_have(t, "dnat ip6 to ip6 daddr . udp dport map @published_udp_addr");
        must_have(t, "ip6 daddr != ::1 fib daddr type local jump published");
        must_have(t, "ip6 saddr . ip6 daddr . tcp dport @hairpin_tcp masquerade");
        must_have(t, "oifname . ip6 daddr . tcp dport @forward_tcp ct status dnat accept");
        must_have(t, "\"br-six\" . fd00:79::2 . 80");
        assert_non_null(t);
        must_have(t, "type nat hook postrouting priority srcnat; policy accept;");
        must_have(t, "ip6 saddr fd00:79::/64 oifname != \"br-six\" masquerade");
        assert_null(strstr(t, "fd00:80::")); /* internal: no way out */
        must_have(t, "iifname \"br-six\" oifname \"br-in\" drop");
        must_have(t, "iifname \"br-in\" oifname != \"br-in\" drop");
        must_have(t, "ct state established,related accept");
        must_have(t, "iifname \"br-six\" accept");
        must_have(t, "oifname \"br-six\" drop");
        _cleanup_free_ char *t4 = list_table();
        must_have(t4, "ip saddr 10.79.0.0/24 oifname != \"br-six\" masquerade");
        must_have(t4, "elements = { 8080 : 10.79.0.2 . 80 }");
        assert_null(strstr(t4, "fd00"));

        nets[0].subnet6.family = 0;
        nets[1].subnet6.family = 0;
        ok(berth_net_rules_apply(nets, 2, NULL, 0, &err), err);
        assert_null(list_table_of("ip6"));
        nets[0].subnet6 = cidr("fd00:79::/64");
        ok(berth_net_rules_apply(nets, 1, NULL, 0, &err), err);
        free(list_table_of("ip6"));
        ok(berth_net_rules_apply(NULL, 0, NULL, 0, &err), err);
        assert_null(list_table_of("ip6"));

        nets[0].subnet6 = cidr("10.0.0.0/8");
        assert_int_equal(berth_net_rules_apply(nets, 1, NULL, 0, &err), -EINVAL);
        berth_error_free(err);
        err = NULL;
        nets[0].subnet6 = cidr("fd00:79::/64");
        ports[0].host_ip = cidr("192.0.2.1"); /* a v4 host address to a v6 container address */
        assert_int_equal(berth_net_rules_apply(nets, 1, ports, 1, &err), -EINVAL);
        berth_error_free(err);
}

/* An IPv4-only ruleset never touches `ip6 berth` (a kernel without nf_tables' ip6 family runs
 * it): with that table held by another socket, which refuses every transaction naming it, the
 * IPv4 table is still replaced; one with an IPv6 network fails. */
static void test_ipv4_only_leaves_ip6_alone(void **state)
{
        (void)state;
        struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
        nft_ctx_buffer_output(ctx);
        nft_ctx_buffer_error(ctx);
        if (nft_run_cmd_from_buffer(ctx, "add table ip6 berth { flags owner; }\n") != 0) {
                nft_ctx_free(ctx);
                skip(); /* `flags owner` tables need Linux 5.12: CI's kernel (6.18) runs this */
        }
        struct berth_error *err = NULL;
        struct berth_net_rules_network n = {
            .bridge = "br-one", .subnet = cidr("10.77.0.0/24"), .masquerade = true, .icc = true};
        ok(berth_net_rules_apply(&n, 1, NULL, 0, &err), err);
        ok(berth_net_rules_apply(&n, 1, NULL, 0, &err), err);
        _cleanup_free_ char *t = list_table();
        must_have(t, "ip saddr 10.77.0.0/24 oifname != \"br-one\" masquerade");
        n.subnet6 = cidr("fd00:77::/64");
        assert_true(berth_net_rules_apply(&n, 1, NULL, 0, &err) < 0);
        berth_error_free(err);
        err = NULL;
        nft_ctx_free(ctx);
        ok(berth_net_rules_apply(NULL, 0, NULL, 0, &err), err);
}

static void test_other_tables_untouched(void **state)
{
        (void)state;
        struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
        nft_ctx_buffer_output(ctx);
        nft_ctx_buffer_error(ctx);
        assert_int_equal(nft_run_cmd_from_buffer(ctx, "add table inet other\n"
                                                      "add chain inet other c\n"
                                                      "add rule inet other c counter accept\n"),
                         0);
        apply_two();
        struct berth_error *err = NULL;
        ok(berth_net_rules_apply(NULL, 0, NULL, 0, &err), err);
        assert_int_equal(nft_run_cmd_from_buffer(ctx, "list table inet other"), 0);
        assert_non_null(strstr(nft_ctx_get_output_buffer(ctx), "counter"));
        assert_int_equal(nft_run_cmd_from_buffer(ctx, "delete table inet other"), 0);
        nft_ctx_free(ctx);
}

/* libnftables' own message reaches the caller: a table `ip berth` owned by another netlink
 * socket (flags owner) cannot be replaced by anyone else, and stays as it was. */
static void test_nft_error(void **state)
{
        (void)state;
        struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
        nft_ctx_buffer_output(ctx);
        nft_ctx_buffer_error(ctx);
        if (nft_run_cmd_from_buffer(ctx, "add table ip berth { flags owner; }\n"
                                         "add chain ip berth mine\n") != 0) {
                nft_ctx_free(ctx);
                skip(); /* `flags owner` tables need Linux 5.12: CI's kernel (6.18) runs this */
        }
        struct berth_error *err = NULL;
        struct berth_net_rules_network n = {
            .bridge = "br-one", .subnet = cidr("10.77.0.0/24"), .masquerade = true, .icc = true};
        assert_true(berth_net_rules_apply(&n, 1, NULL, 0, &err) < 0);
        assert_non_null(err);
        if (!strstr(err->msg, "packet rules: table `ip berth`: nftables: Error:"))
                fail_msg("%s", err->msg);
        assert_null(strchr(err->msg, '\n'));
        berth_error_free(err);
        assert_int_equal(nft_run_cmd_from_buffer(ctx, "list table ip berth"), 0);
        assert_non_null(strstr(nft_ctx_get_output_buffer(ctx), "chain mine"));
        assert_null(strstr(nft_ctx_get_output_buffer(ctx), "br-one"));
        /* the owner's socket closes: the table goes with it */
        nft_ctx_free(ctx);
        assert_null(list_table());
}

static void test_port_reserve(void **state)
{
        (void)state;
        struct berth_error *err = NULL;
        struct berth_cidr lo = cidr("127.0.0.1");
        uint16_t port = 0;
        _cleanup_close_ int fd = -1;
        ok(berth_net_port_reserve(IPPROTO_TCP, NULL, 0, &port, &fd, &err), err);
        assert_true(port > 0);
        assert_true(fd >= 0);
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);

        /* a second reservation, on any address, fails with docker's message */
        int fd2 = -1;
        assert_int_equal(berth_net_port_reserve(IPPROTO_TCP, NULL, port, NULL, &fd2, &err),
                         -EADDRINUSE);
        char want[80];
        snprintf(want, sizeof(want), "Bind for 0.0.0.0:%u failed: port is already allocated", port);
        assert_string_equal(err->msg, want);
        berth_error_free(err);
        err = NULL;
        assert_int_equal(berth_net_port_reserve(IPPROTO_TCP, &lo, port, NULL, &fd2, &err),
                         -EADDRINUSE);
        snprintf(want, sizeof(want), "Bind for 127.0.0.1:%u failed: port is already allocated",
                 port);
        assert_string_equal(err->msg, want);
        berth_error_free(err);
        err = NULL;

        /* even a program using SO_REUSEADDR cannot take it */
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
        assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), -1);
        assert_int_equal(errno, EADDRINUSE);
        close(s);

        /* udp is its own space; after release the port is free again */
        uint16_t uport = 0;
        ok(berth_net_port_reserve(IPPROTO_UDP, &lo, port, &uport, &fd2, &err), err);
        assert_int_equal(uport, port);
        close(fd2);
        close(TAKE_FD(fd));
        ok(berth_net_port_reserve(IPPROTO_TCP, NULL, port, NULL, &fd2, &err), err);
        close(fd2);
        assert_int_equal(berth_net_port_reserve(IPPROTO_ICMP, NULL, 1, NULL, &fd2, &err),
                         -EPROTONOSUPPORT);
        berth_error_free(err);
}

static int setup(void **state)
{
        (void)state;
        if (geteuid() != 0) {
                fprintf(stderr, "not root\n");
                return -1;
        }
        if (unshare(CLONE_NEWNET) < 0) {
                perror("unshare");
                return -1;
        }
        return 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_apply_and_list),
            cmocka_unit_test(test_duplicate_keys),
            cmocka_unit_test(test_bad_input_keeps_table),
            cmocka_unit_test(test_apply_empty_deletes),
            cmocka_unit_test(test_ipv6_table),
            cmocka_unit_test(test_ipv4_only_leaves_ip6_alone),
            cmocka_unit_test(test_other_tables_untouched),
            cmocka_unit_test(test_nft_error),
            cmocka_unit_test(test_port_reserve),
        };
        return cmocka_run_group_tests(tests, setup, NULL);
}
