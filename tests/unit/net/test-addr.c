/* Unit tests for src/net/addr.c: CIDR parsing and comparison, IPAM (pure, no root). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "net/net.h"
#include "net/nl.h"

static struct berth_cidr cidr(const char *s)
{
        struct berth_cidr c;
        struct berth_error *err = NULL;
        int r = berth_cidr_parse(s, &c, &err);
        if (r < 0)
                fail_msg("parse `%s`: %s", s, err->msg);
        return c;
}

static const char *fmt(const struct berth_cidr *c)
{
        static char buf[4][64];
        static int i;
        i = (i + 1) % 4;
        return berth_cidr_format(c, true, buf[i], sizeof(buf[i]));
}

static void test_parse_format(void **state)
{
        const char *good[][2] = {
            {"172.18.0.0/16", "172.18.0.0/16"},   {"10.1.2.3", "10.1.2.3/32"},
            {"0.0.0.0/0", "0.0.0.0/0"},           {"fd00::/64", "fd00::/64"},
            {"FD00:0::1/128", "fd00::1/128"},     {"::1", "::1/128"},
            {"192.168.1.7/24", "192.168.1.7/24"}, /* host bits kept */
        };
        for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
                struct berth_cidr c = cidr(good[i][0]);
                assert_string_equal(fmt(&c), good[i][1]);
        }
        struct berth_cidr c = cidr("10.0.0.1/8");
        char buf[64];
        assert_string_equal(berth_cidr_format(&c, false, buf, sizeof(buf)), "10.0.0.1");
        assert_int_equal(c.family, AF_INET);
        assert_int_equal(c.prefix, 8);
        c = cidr("fe80::1");
        assert_int_equal(c.family, AF_INET6);
        assert_int_equal(c.prefix, 128);

        const char *bad[] = {"",
                             "/",
                             "10.0.0.0/",
                             "10.0.0.0/33",
                             "10.0.0.0/-1",
                             "10.0.0.0/+8",
                             "10.0.0.0/ 8",
                             "10.0.0/8",
                             "10.0.0.256",
                             "fd00::/129",
                             "fd00:::1/64",
                             "x/8",
                             "10.0.0.0/8/8",
                             "10.0.0.0/0x8",
                             "1.2.3.4 ",
                             "10.0.0.0/0008"};
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                struct berth_error *err = NULL;
                struct berth_cidr out = {.family = 99};
                assert_int_equal(berth_cidr_parse(bad[i], &out, &err), -EINVAL);
                assert_non_null(err);
                assert_non_null(strstr(err->msg, "invalid"));
                if (bad[i][0])
                        assert_non_null(strstr(err->msg, bad[i]));
                assert_int_equal(out.family, 99); /* ret_ untouched on failure */
                berth_error_free(err);
        }
        assert_int_equal(berth_cidr_parse(NULL, &c, NULL), -EINVAL);
}

static void test_contains_overlaps(void **state)
{
        struct berth_cidr n16 = cidr("172.18.0.0/16"), n24 = cidr("172.18.5.0/24");
        struct berth_cidr other = cidr("172.19.0.0/16"), all = cidr("0.0.0.0/0");
        struct berth_cidr a = cidr("172.18.255.254"), b = cidr("172.19.0.1");
        assert_true(berth_cidr_contains(&n16, &a));
        assert_false(berth_cidr_contains(&n16, &b));
        assert_true(berth_cidr_contains(&all, &b));
        assert_true(berth_cidr_overlaps(&n16, &n24));
        assert_true(berth_cidr_overlaps(&n24, &n16));
        assert_false(berth_cidr_overlaps(&n16, &other));
        assert_true(berth_cidr_overlaps(&all, &other));

        struct berth_cidr v6 = cidr("fd00:1::/64"), v6a = cidr("fd00:1::ffff:1"),
                          v6b = cidr("fd00:2::1"), v6w = cidr("fd00::/16");
        assert_true(berth_cidr_contains(&v6, &v6a));
        assert_false(berth_cidr_contains(&v6, &v6b));
        assert_true(berth_cidr_overlaps(&v6w, &v6));
        struct berth_cidr v6o = cidr("fd00:2::/64");
        assert_false(berth_cidr_overlaps(&v6, &v6o));
        /* families never mix */
        struct berth_cidr mapped = cidr("::ffff:172.18.0.1");
        assert_false(berth_cidr_contains(&n16, &mapped));
        assert_false(berth_cidr_overlaps(&all, &v6));
        struct berth_cidr none = {0};
        assert_false(berth_cidr_overlaps(&none, &none));
}

static void test_pick_subnet(void **state)
{
        struct berth_cidr got;
        assert_int_equal(net_ipam_pick_subnet_from(NULL, 0, NULL, 0, &got, NULL), 0);
        assert_string_equal(fmt(&got), "172.17.0.0/16");

        /* used networks and host routes are both skipped, partial overlaps too */
        struct berth_cidr used[] = {cidr("172.17.0.0/16"), cidr("172.18.3.0/24")};
        struct berth_cidr routes[] = {cidr("172.19.0.0/16"), cidr("172.16.0.0/12")};
        assert_int_equal(net_ipam_pick_subnet_from(used, 2, routes, 1, &got, NULL), 0);
        assert_string_equal(fmt(&got), "172.20.0.0/16");
        /* a wide host route takes the whole 172.16/12 range: on to 192.168.0.0/20 */
        assert_int_equal(net_ipam_pick_subnet_from(used, 2, routes, 2, &got, NULL), 0);
        assert_string_equal(fmt(&got), "192.168.0.0/20");
        struct berth_cidr r2[] = {cidr("172.16.0.0/12"), cidr("192.168.0.0/19")};
        assert_int_equal(net_ipam_pick_subnet_from(NULL, 0, r2, 2, &got, NULL), 0);
        assert_string_equal(fmt(&got), "192.168.32.0/20");

        /* every pool taken */
        struct berth_cidr full[] = {cidr("172.16.0.0/12"), cidr("192.168.0.0/16")};
        struct berth_error *err = NULL;
        assert_int_equal(net_ipam_pick_subnet_from(full, 2, NULL, 0, &got, &err), -ENOSPC);
        assert_string_equal(err->msg, "all predefined address pools have been fully subnetted");
        berth_error_free(err);

        /* the real one reads this machine's routes: whatever it picks overlaps none of them */
        struct berth_cidr *host = NULL;
        size_t n_host = 0;
        assert_int_equal(net_routes(AF_INET, &host, &n_host, NULL), 0);
        err = NULL;
        int r = berth_ipam_pick_subnet(used, 2, &got, &err);
        if (r == 0) {
                for (size_t i = 0; i < n_host; i++)
                        assert_false(berth_cidr_overlaps(&got, &host[i]));
                assert_false(berth_cidr_overlaps(&got, &used[0]));
                assert_false(berth_cidr_overlaps(&got, &used[1]));
        } else {
                assert_int_equal(r, -ENOSPC);
                berth_error_free(err);
        }
        for (size_t i = 0; i < n_host; i++)
                assert_int_equal(host[i].family, AF_INET);
        free(host);
}

static struct berth_ipam_pool pool(const char *s)
{
        struct berth_ipam_pool p;
        assert_int_equal(berth_ipam_pool_parse(s, &p, NULL), 0);
        return p;
}

static void test_pools(void **state)
{
        (void)state;
        struct berth_ipam_pool p = pool("base=fd00:ab::/56,size=64");
        assert_string_equal(fmt(&p.base), "fd00:ab::/56");
        assert_int_equal(p.size, 64);
        p = pool("size=24,base=10.10.0.0/16");
        assert_string_equal(fmt(&p.base), "10.10.0.0/16");
        assert_int_equal(p.size, 24);
        static const char *const bad[] = {
            "",
            "base=fd00::/56",
            "size=64",
            "base=x,size=64",
            "base=fd00::1/56,size=64",
            "base=fd00::/56,size=40",
            "base=fd00::/56,size=129",
            "base=fd00::/56,size=64,x=1",
            "base=fd00::,size=64",
            "base=fd00::/56,size=-1",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct berth_error *err = NULL;
                assert_int_equal(berth_ipam_pool_parse(bad[i], &p, &err), -EINVAL);
                assert_non_null(strstr(err->msg, "address pool"));
                berth_error_free(err);
        }

        /* the first free /64 in order; a taken larger subnet is skipped whole */
        struct berth_ipam_pool pools[] = {pool("base=fd00:ab::/56,size=64"),
                                          pool("base=fd00:cd::/63,size=64")};
        struct berth_cidr got;
        assert_int_equal(net_ipam_pick_pool_from(pools, 2, NULL, 0, NULL, 0, &got, NULL), 0);
        assert_string_equal(fmt(&got), "fd00:ab::/64");
        struct berth_cidr used[] = {cidr("fd00:ab::/64"), cidr("fd00:ab:0:1::/80"),
                                    cidr("fd00:ab:0:4::/62")};
        struct berth_cidr routes[] = {cidr("fd00:ab:0:2::/64"), cidr("fe80::/64")};
        assert_int_equal(net_ipam_pick_pool_from(pools, 2, used, 3, routes, 2, &got, NULL), 0);
        assert_string_equal(fmt(&got), "fd00:ab:0:3::/64");
        used[2] = cidr("fd00:ab:0:3::/64");
        assert_int_equal(net_ipam_pick_pool_from(pools, 2, used, 3, routes, 2, &got, NULL), 0);
        assert_string_equal(fmt(&got), "fd00:ab:0:4::/64");
        /* the first pool full (by one subnet that covers it): the second one */
        struct berth_cidr all[] = {cidr("fd00:ab::/48"), cidr("fd00:cd::/64")};
        assert_int_equal(net_ipam_pick_pool_from(pools, 2, all, 2, NULL, 0, &got, NULL), 0);
        assert_string_equal(fmt(&got), "fd00:cd:0:1::/64");
        struct berth_cidr none[] = {cidr("fd00::/16")};
        struct berth_error *err = NULL;
        assert_int_equal(net_ipam_pick_pool_from(pools, 2, none, 1, NULL, 0, &got, &err), -ENOSPC);
        assert_string_equal(err->msg, "all predefined address pools have been fully subnetted");
        berth_error_free(err);
        /* a pool of 2^64 subnets entirely taken ends at once */
        struct berth_ipam_pool huge = pool("base=fd00::/8,size=72");
        struct berth_cidr ula[] = {cidr("fd00::/8")};
        err = NULL;
        assert_int_equal(net_ipam_pick_pool_from(&huge, 1, ula, 1, NULL, 0, &got, &err), -ENOSPC);
        berth_error_free(err);
        /* IPv4 pools work the same way, up to the end of the address space */
        struct berth_ipam_pool v4 = pool("base=255.255.255.0/24,size=26");
        struct berth_cidr v4used[] = {cidr("255.255.255.0/25"), cidr("255.255.255.192/26")};
        assert_int_equal(net_ipam_pick_pool_from(&v4, 1, v4used, 2, NULL, 0, &got, NULL), 0);
        assert_string_equal(fmt(&got), "255.255.255.128/26");
        v4used[1] = cidr("255.255.255.128/25");
        err = NULL;
        assert_int_equal(net_ipam_pick_pool_from(&v4, 1, v4used, 2, NULL, 0, &got, &err), -ENOSPC);
        berth_error_free(err);

        /* the real one reads this machine's IPv6 routes and skips pools of the other family */
        err = NULL;
        int r = berth_ipam_pick_pool(AF_INET6, pools, 2, used, 3, &got, &err);
        if (r == 0)
                assert_int_equal(got.family, AF_INET6);
        else
                berth_error_free(err);
        err = NULL;
        assert_int_equal(berth_ipam_pick_pool(AF_INET, pools, 2, NULL, 0, &got, &err), -ENOSPC);
        berth_error_free(err);
}

static void test_ula_pool(void **state)
{
        (void)state;
        /* moby's TestDeriveULABaseNetwork: sha256("") and sha256 of a host id */
        static const uint8_t empty[32] = {0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14};
        static const uint8_t uuid[32] = {0x1c, 0xa9, 0x42, 0x62, 0xfb, 0x69, 0x18, 0xaf};
        struct berth_ipam_pool p;
        berth_ipam_ula_pool(empty, &p);
        assert_string_equal(fmt(&p.base), "fd42:98fc:1c14::/48");
        assert_int_equal(p.size, 64);
        berth_ipam_ula_pool(uuid, &p);
        assert_string_equal(fmt(&p.base), "fd62:fb69:18af::/48");
}

static void test_gateway(void **state)
{
        struct berth_cidr gw;
        struct berth_cidr n = cidr("172.18.7.9/16");
        berth_ipam_gateway(&n, &gw);
        assert_string_equal(fmt(&gw), "172.18.0.1/16");
        n = cidr("fd00:1::/64");
        berth_ipam_gateway(&n, &gw);
        assert_string_equal(fmt(&gw), "fd00:1::1/64");
}

static void test_next(void **state)
{
        struct berth_cidr subnet = cidr("172.18.0.0/16"), gw, got;
        berth_ipam_gateway(&subnet, &gw);
        assert_int_equal(berth_ipam_next(&subnet, &gw, NULL, 0, NULL, &got, NULL), 0);
        assert_string_equal(fmt(&got), "172.18.0.2/16");

        struct berth_cidr used[] = {cidr("172.18.0.2"), cidr("172.18.0.3"), cidr("10.0.0.4")};
        assert_int_equal(berth_ipam_next(&subnet, &gw, used, 3, NULL, &got, NULL), 0);
        assert_string_equal(fmt(&got), "172.18.0.4/16");
        /* round robin: after .3 comes .4 even though .2 was freed */
        struct berth_cidr after = cidr("172.18.0.3");
        assert_int_equal(berth_ipam_next(&subnet, &gw, used + 1, 1, &after, &got, NULL), 0);
        assert_string_equal(fmt(&got), "172.18.0.4/16");
        /* crossing an octet */
        after = cidr("172.18.0.255");
        assert_int_equal(berth_ipam_next(&subnet, &gw, NULL, 0, &after, &got, NULL), 0);
        assert_string_equal(fmt(&got), "172.18.1.0/16");
        /* wrap: after the last host (the broadcast is never given) back to the start */
        after = cidr("172.18.255.254");
        assert_int_equal(berth_ipam_next(&subnet, &gw, used, 2, &after, &got, NULL), 0);
        assert_string_equal(fmt(&got), "172.18.0.4/16");
        /* an `after` outside the subnet is ignored */
        after = cidr("10.9.9.9");
        assert_int_equal(berth_ipam_next(&subnet, &gw, NULL, 0, &after, &got, NULL), 0);
        assert_string_equal(fmt(&got), "172.18.0.2/16");

        /* a /30 has two hosts: the gateway and one more */
        struct berth_cidr s30 = cidr("10.10.0.0/30"), gw30;
        berth_ipam_gateway(&s30, &gw30);
        assert_int_equal(berth_ipam_next(&s30, &gw30, NULL, 0, NULL, &got, NULL), 0);
        assert_string_equal(fmt(&got), "10.10.0.2/30");
        struct berth_cidr one = got;
        after = got;
        assert_int_equal(berth_ipam_next(&s30, &gw30, NULL, 0, &after, &got, NULL), 0);
        assert_string_equal(fmt(&got), "10.10.0.2/30"); /* wrapped past the gateway */
        struct berth_error *err = NULL;
        assert_int_equal(berth_ipam_next(&s30, &gw30, &one, 1, &after, &got, &err), -ENOSPC);
        assert_string_equal(err->msg,
                            "no available IPv4 addresses on this network's address pools");
        berth_error_free(err);
        struct berth_cidr s32 = cidr("10.10.0.7/32");
        assert_int_equal(berth_ipam_next(&s32, NULL, NULL, 0, NULL, &got, NULL), -ENOSPC);

        /* a full /24 (253 used + gateway) then one freed in the middle */
        struct berth_cidr s24 = cidr("192.168.5.0/24"), gw24;
        berth_ipam_gateway(&s24, &gw24);
        struct berth_cidr many[253];
        for (int i = 0; i < 253; i++) {
                char t[32];
                snprintf(t, sizeof(t), "192.168.5.%d", i + 2);
                many[i] = cidr(t);
        }
        assert_int_equal(berth_ipam_next(&s24, &gw24, many, 253, NULL, &got, NULL), -ENOSPC);
        after = cidr("192.168.5.200");
        assert_int_equal(berth_ipam_next(&s24, &gw24, many + 1, 252, &after, &got, NULL), 0);
        assert_string_equal(fmt(&got), "192.168.5.2/24");

        /* IPv6: no broadcast, the last address is a host */
        struct berth_cidr s6 = cidr("fd00:9::/126"), gw6;
        berth_ipam_gateway(&s6, &gw6);
        after = cidr("fd00:9::2");
        assert_int_equal(berth_ipam_next(&s6, &gw6, NULL, 0, &after, &got, NULL), 0);
        assert_string_equal(fmt(&got), "fd00:9::3/126");
        struct berth_cidr big6 = cidr("fd00::/64");
        berth_ipam_gateway(&big6, &gw6);
        after = cidr("fd00::ffff:ffff:ffff:ffff");
        assert_int_equal(berth_ipam_next(&big6, &gw6, NULL, 0, &after, &got, NULL), 0);
        assert_string_equal(fmt(&got), "fd00::2/64");
        err = NULL;
        berth_ipam_gateway(&s6, &gw6);
        struct berth_cidr full6[] = {cidr("fd00:9::2"), cidr("fd00:9::3")};
        assert_int_equal(berth_ipam_next(&s6, &gw6, full6, 2, NULL, &got, &err), -ENOSPC);
        assert_non_null(strstr(err->msg, "IPv6"));
        berth_error_free(err);

        struct berth_cidr none = {0};
        assert_int_equal(berth_ipam_next(&none, NULL, NULL, 0, NULL, &got, NULL), -EINVAL);
}

static void test_mac(void **state)
{
        uint8_t mac[6];
        struct berth_cidr a = cidr("172.17.0.2");
        berth_ipam_mac(&a, mac);
        const uint8_t want[6] = {0x02, 0x42, 0xac, 0x11, 0x00, 0x02};
        assert_memory_equal(mac, want, 6);
        a = cidr("10.255.1.200/16");
        berth_ipam_mac(&a, mac);
        const uint8_t want2[6] = {0x02, 0x42, 10, 255, 1, 200};
        assert_memory_equal(mac, want2, 6);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_parse_format), cmocka_unit_test(test_contains_overlaps),
            cmocka_unit_test(test_pick_subnet),  cmocka_unit_test(test_gateway),
            cmocka_unit_test(test_next),         cmocka_unit_test(test_mac),
            cmocka_unit_test(test_pools),        cmocka_unit_test(test_ula_pool),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
