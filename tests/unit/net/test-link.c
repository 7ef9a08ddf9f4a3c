/* Unit tests for src/net/netns.c and link.c (root). The process first moves into its own network
 * and mount namespaces, so nothing here touches the host's links, routes or mounts; a sysfs
 * mounted from inside shows this namespace's links. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "net/net.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

static char tmpdir[] = "/tmp/berth-net-link-XXXXXX";
static char sysdir[PATH_MAX];

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

/* ---------------------------------------------------------------- observing a namespace */

struct seen {
        bool exists, up;
        char addr[INET6_ADDRSTRLEN];
        unsigned prefix;
        uint8_t mac[6];
        char gateway[INET_ADDRSTRLEN]; /* default route's, from /proc/thread-self/net/route */
        char gateway_dev[IFNAMSIZ + 1];
};

struct look {
        int netns_fd; /* -1: the test's own namespace */
        const char *ifname;
        struct seen seen;
};

static void look_now(struct look *l)
{
        struct ifaddrs *ifas = NULL;
        if (getifaddrs(&ifas) < 0)
                return;
        for (struct ifaddrs *i = ifas; i; i = i->ifa_next) {
                if (strcmp(i->ifa_name, l->ifname) != 0 || !i->ifa_addr)
                        continue;
                l->seen.exists = true;
                l->seen.up = i->ifa_flags & IFF_UP;
                if (i->ifa_addr->sa_family == AF_PACKET) {
                        const struct sockaddr_ll *ll = (const struct sockaddr_ll *)i->ifa_addr;
                        memcpy(l->seen.mac, ll->sll_addr, 6);
                } else if (i->ifa_addr->sa_family == AF_INET) {
                        const struct sockaddr_in *a = (const struct sockaddr_in *)i->ifa_addr;
                        const struct sockaddr_in *m = (const struct sockaddr_in *)i->ifa_netmask;
                        inet_ntop(AF_INET, &a->sin_addr, l->seen.addr, sizeof(l->seen.addr));
                        l->seen.prefix = (unsigned)__builtin_popcount(m->sin_addr.s_addr);
                }
        }
        freeifaddrs(ifas);
        FILE *f = fopen("/proc/thread-self/net/route", "re");
        char line[256], dev[IFNAMSIZ + 1];
        unsigned dst, gw;
        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "%16s %x %x", dev, &dst, &gw) == 3 && dst == 0 && gw != 0) {
                        struct in_addr a = {.s_addr = gw};
                        inet_ntop(AF_INET, &a, l->seen.gateway, sizeof(l->seen.gateway));
                        snprintf(l->seen.gateway_dev, sizeof(l->seen.gateway_dev), "%s", dev);
                }
        if (f)
                fclose(f);
}

static void *look_thread(void *arg)
{
        struct look *l = arg;
        if (setns(l->netns_fd, CLONE_NEWNET) == 0)
                look_now(l);
        return NULL;
}

/* What ifname looks like in the namespace netns_fd (-1: here). */
static struct seen look(int netns_fd, const char *ifname)
{
        struct look l = {.netns_fd = netns_fd, .ifname = ifname};
        if (netns_fd < 0) {
                look_now(&l);
        } else {
                pthread_t t;
                assert_int_equal(pthread_create(&t, NULL, look_thread, &l), 0);
                pthread_join(t, NULL);
        }
        return l.seen;
}

static bool has_link(const char *prefix, const char *name)
{
        char **names = NULL;
        struct berth_error *err = NULL;
        ok(berth_links_list(prefix, &names, &err), err);
        bool found = false;
        for (char **n = names; *n; n++) {
                assert_int_equal(strncmp(*n, prefix, strlen(prefix)), 0);
                if (!name || strcmp(*n, name) == 0)
                        found = true;
        }
        strv_free(names);
        return found;
}

static bool mounted_under(const char *dir)
{
        FILE *f = fopen("/proc/self/mountinfo", "re");
        assert_non_null(f);
        char line[4096];
        bool found = false;
        size_t len = strlen(dir);
        while (fgets(line, sizeof(line), f)) {
                char mp[4096];
                if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 && strncmp(mp, dir, len) == 0 &&
                    mp[len] == '/' && strcmp(mp, sysdir) != 0)
                        found = true;
        }
        fclose(f);
        return found;
}

static char *read_small(const char *path)
{
        char *data = NULL;
        if (berth_read_file_at(AT_FDCWD, path, 4096, &data, NULL, NULL) < 0)
                return NULL;
        data[strcspn(data, "\n")] = '\0';
        return data;
}

/* ---------------------------------------------------------------- tests */

static void test_bridge(void **state)
{
        struct berth_error *err = NULL;
        struct berth_cidr gw = cidr("10.88.0.1/24");
        ok(berth_bridge_ensure("brtest0", &gw, 0, &err), err);
        ok(berth_bridge_ensure("brtest0", &gw, 0, &err), err); /* idempotent */
        struct seen s = look(-1, "brtest0");
        assert_true(s.exists);
        assert_true(s.up);
        assert_string_equal(s.addr, "10.88.0.1");
        assert_int_equal(s.prefix, 24);
        _cleanup_free_ char *rl = read_small("/proc/sys/net/ipv4/conf/brtest0/route_localnet");
        assert_string_equal(rl, "1");
        _cleanup_free_ char *fw = read_small("/proc/sys/net/ipv4/ip_forward");
        assert_string_equal(fw, "1");
        _cleanup_free_ char *kind = xasprintf("%s/class/net/brtest0/bridge", sysdir);
        assert_int_equal(access(kind, F_OK), 0);
        _cleanup_free_ char *mtu_path = xasprintf("%s/class/net/brtest0/mtu", sysdir);
        _cleanup_free_ char *mtu = read_small(mtu_path);
        assert_string_equal(mtu, "1500");
        assert_true(has_link("brtest", "brtest0"));

        /* a link of another kind with the name is refused, and left alone */
        assert_int_equal(berth_bridge_ensure("lo", &gw, 0, &err), -EEXIST);
        assert_non_null(strstr(err->msg, "bridge `lo`"));
        berth_error_free(err);
        err = NULL;
        assert_true(look(-1, "lo").exists);
        assert_int_equal(berth_bridge_remove("lo", &err), -EINVAL);
        berth_error_free(err);
        err = NULL;
        const char *bad[] = {"", "a/b", "0123456789abcdef", "..", "a b"};
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                assert_int_equal(berth_bridge_ensure(bad[i], &gw, 0, &err), -EINVAL);
                assert_non_null(strstr(err->msg, "invalid bridge name"));
                berth_error_free(err);
                err = NULL;
        }
        /* a failed ensure of a new bridge leaves nothing behind */
        struct berth_cidr nogw = {0};
        assert_int_equal(berth_bridge_ensure("brtest9", &nogw, 0, &err), -EINVAL);
        berth_error_free(err);
        err = NULL;
        assert_int_equal(berth_bridge_ensure("brtest9", &gw, 20, &err), -EINVAL);
        berth_error_free(err);
        err = NULL;
        assert_false(has_link("brtest9", NULL));
}

static void test_netns(void **state)
{
        struct berth_error *err = NULL;
        _cleanup_free_ char *p = xasprintf("%s/ns1", tmpdir);
        ok(berth_netns_create(p, &err), err);
        assert_int_equal(berth_netns_create(p, &err), -EEXIST);
        berth_error_free(err);
        err = NULL;
        int fd = -1;
        ok(berth_netns_open(p, &fd, &err), err);
        struct seen lo = look(fd, "lo");
        assert_true(lo.exists);
        assert_true(lo.up);
        assert_false(look(fd, "brtest0").exists); /* a different namespace */
        close(fd);
        ok(berth_netns_remove(p, &err), err);
        assert_int_equal(access(p, F_OK), -1);
        assert_false(mounted_under(tmpdir));
        ok(berth_netns_remove(p, &err), err); /* missing is fine */

        /* a plain file is not a namespace */
        _cleanup_free_ char *plain = xasprintf("%s/plain", tmpdir);
        assert_int_equal(berth_write_file_at(AT_FDCWD, plain, "x", 1, O_CREAT, NULL), 0);
        assert_int_equal(berth_netns_open(plain, &fd, &err), -EINVAL);
        berth_error_free(err);
        err = NULL;
        /* ...but a leftover plain file (crash before the mount) is reused */
        ok(berth_netns_create(plain, &err), err);
        ok(berth_netns_open(plain, &fd, &err), err);
        close(fd);
        ok(berth_netns_remove(plain, &err), err);
        assert_int_equal(berth_netns_create("relative", &err), -EINVAL);
        berth_error_free(err);
        err = NULL;
        _cleanup_free_ char *nodir = xasprintf("%s/missing/ns", tmpdir);
        assert_int_equal(berth_netns_create(nodir, &err), -ENOENT);
        berth_error_free(err);
        assert_false(mounted_under(tmpdir));
}

static void test_endpoints(void **state)
{
        struct berth_error *err = NULL;
        struct berth_cidr gw = cidr("10.88.0.1/24");
        ok(berth_bridge_ensure("brtest0", &gw, 0, &err), err);
        _cleanup_free_ char *pa = xasprintf("%s/a", tmpdir);
        _cleanup_free_ char *pb = xasprintf("%s/b", tmpdir);
        ok(berth_netns_create(pa, &err), err);
        ok(berth_netns_create(pb, &err), err);
        int fa = -1, fb = -1;
        ok(berth_netns_open(pa, &fa, &err), err);
        ok(berth_netns_open(pb, &fb, &err), err);

        struct berth_endpoint ea = {
            .bridge = "brtest0",
            .host_ifname = "bvtesta",
            .ifname = "eth0",
            .address = cidr("10.88.0.2/24"),
            .gateway = cidr("10.88.0.1"),
        };
        berth_ipam_mac(&ea.address, ea.mac);
        _cleanup_free_ char *ha = NULL, *hb = NULL;
        ok(berth_endpoint_add(fa, &ea, &ha, &err), err);
        assert_string_equal(ha, "bvtesta");
        struct berth_endpoint eb = {
            .bridge = "brtest0",
            .ifname = "eth0",
            .address = cidr("10.88.0.3/24"),
            .gateway = cidr("10.88.0.1"),
            .mtu = 1400,
        };
        ok(berth_endpoint_add(fb, &eb, &hb, &err), err);
        assert_true(strncmp(hb, "bv", 2) == 0 && strlen(hb) < IFNAMSIZ);

        struct seen sa = look(fa, "eth0"), sb = look(fb, "eth0");
        assert_true(sa.exists && sa.up);
        assert_string_equal(sa.addr, "10.88.0.2");
        assert_int_equal(sa.prefix, 24);
        assert_memory_equal(sa.mac, ea.mac, 6);
        assert_string_equal(sa.gateway, "10.88.0.1");
        assert_string_equal(sa.gateway_dev, "eth0");
        assert_true(sb.exists && sb.up);
        assert_string_equal(sb.addr, "10.88.0.3");
        assert_string_equal(sb.gateway, "10.88.0.1");
        assert_true(look(fa, "lo").up);

        /* host ends: up, enslaved to the bridge, mtu from the bridge or the endpoint (the
         * kernel then lowers the bridge's own to its smallest port's) */
        assert_true(look(-1, "bvtesta").up);
        assert_true(look(-1, hb).up);
        _cleanup_free_ char *brif = xasprintf("%s/class/net/brtest0/brif/bvtesta", sysdir);
        assert_int_equal(access(brif, F_OK), 0);
        _cleanup_free_ char *brif_b = xasprintf("%s/class/net/brtest0/brif/%s", sysdir, hb);
        assert_int_equal(access(brif_b, F_OK), 0);
        _cleanup_free_ char *mtu_a_path = xasprintf("%s/class/net/bvtesta/mtu", sysdir);
        _cleanup_free_ char *mtu_a = read_small(mtu_a_path);
        assert_string_equal(mtu_a, "1500");
        _cleanup_free_ char *mtu_b_path = xasprintf("%s/class/net/%s/mtu", sysdir, hb);
        _cleanup_free_ char *mtu_b = read_small(mtu_b_path);
        assert_string_equal(mtu_b, "1400");
        assert_true(has_link("bv", "bvtesta"));
        assert_true(has_link("bv", hb));

        /* a second eth0 in the same namespace fails and rolls back its host end */
        struct berth_endpoint dup = eb;
        dup.host_ifname = "bvtestdup";
        assert_true(berth_endpoint_add(fb, &dup, NULL, &err) < 0);
        assert_non_null(strstr(err->msg, "endpoint `bvtestdup`"));
        berth_error_free(err);
        err = NULL;
        assert_false(has_link("bvtestdup", NULL));
        /* an address the kernel refuses inside: the pair is deleted again */
        struct berth_endpoint bad = eb;
        bad.host_ifname = "bvtestbad";
        bad.ifname = "eth1";
        bad.gateway = cidr("10.99.0.1"); /* unreachable from 10.88.0.0/24 */
        assert_true(berth_endpoint_add(fb, &bad, NULL, &err) < 0);
        assert_non_null(strstr(err->msg, "default route"));
        berth_error_free(err);
        err = NULL;
        assert_false(has_link("bvtestbad", NULL));
        assert_false(look(fb, "eth1").exists);
        /* a missing bridge */
        struct berth_endpoint nobr = eb;
        nobr.bridge = "brnone";
        assert_int_equal(berth_endpoint_add(fb, &nobr, NULL, &err), -ENODEV);
        assert_non_null(strstr(err->msg, "bridge `brnone` not found"));
        berth_error_free(err);
        err = NULL;

        /* removal deletes both ends; again is fine */
        ok(berth_endpoint_remove(ha, &err), err);
        assert_false(has_link("bvtesta", NULL));
        assert_false(look(fa, "eth0").exists);
        ok(berth_endpoint_remove(ha, &err), err);
        assert_int_equal(berth_endpoint_remove("brtest0", &err), -EINVAL); /* not a veth */
        berth_error_free(err);
        err = NULL;
        ok(berth_endpoint_remove(hb, &err), err);
        assert_false(look(fb, "eth0").exists);
        assert_false(has_link("bv", NULL));

        close(fa);
        close(fb);
        ok(berth_netns_remove(pa, &err), err);
        ok(berth_netns_remove(pb, &err), err);
        assert_false(mounted_under(tmpdir));
        ok(berth_bridge_remove("brtest0", &err), err);
        ok(berth_bridge_remove("brtest0", &err), err);
        assert_false(has_link("brtest", NULL));
}

static void test_links_list(void **state)
{
        struct berth_error *err = NULL;
        struct berth_cidr gw1 = cidr("10.89.0.1/24"), gw2 = cidr("10.90.0.1/24");
        ok(berth_bridge_ensure("br-listaa", &gw1, 0, &err), err);
        ok(berth_bridge_ensure("br-listbb", &gw2, 0, &err), err);
        char **names = NULL;
        ok(berth_links_list("br-list", &names, &err), err);
        assert_int_equal(strv_length(names), 2);
        strv_free(names);
        ok(berth_links_list("nothing-like-this", &names, &err), err);
        assert_int_equal(strv_length(names), 0);
        strv_free(names);
        ok(berth_bridge_remove("br-listaa", &err), err);
        ok(berth_bridge_remove("br-listbb", &err), err);
        assert_false(has_link("br-list", NULL));
}

/* A namespace made with its socket kept, moved to another pin, its first endpoint made from
 * inside (berth_endpoint_add_first): the same result as berth_endpoint_add. */
static void test_endpoint_add_first(void **state)
{
        struct berth_error *err = NULL;
        struct berth_cidr gw = cidr("10.91.0.1/24");
        ok(berth_bridge_ensure("brtest1", &gw, 0, &err), err);
        _cleanup_free_ char *warm = xasprintf("%s/warm", tmpdir);
        _cleanup_free_ char *pin = xasprintf("%s/claimed", tmpdir);
        int nl = -1, fd = -1;
        ok(berth_netns_create_nl(warm, &nl, &err), err);
        assert_true(nl >= 0 && (fcntl(nl, F_GETFD) & FD_CLOEXEC));
        ok(berth_netns_move(warm, pin, &err), err);
        assert_int_equal(access(warm, F_OK), -1);
        assert_int_equal(berth_netns_move(warm, pin, NULL), -ENOENT);
        ok(berth_netns_open(pin, &fd, &err), err);
        assert_true(look(fd, "lo").up);

        struct berth_endpoint ep = {
            .bridge = "brtest1",
            .ifname = "eth0",
            .address = cidr("10.91.0.7/24"),
            .gateway = cidr("10.91.0.1"),
        };
        berth_ipam_mac(&ep.address, ep.mac);
        _cleanup_free_ char *host = NULL;
        ok(berth_endpoint_add_first(nl, &ep, &host, &err), err);
        struct seen s = look(fd, "eth0");
        assert_true(s.exists && s.up);
        assert_string_equal(s.addr, "10.91.0.7");
        assert_int_equal(s.prefix, 24);
        assert_memory_equal(s.mac, ep.mac, 6);
        assert_string_equal(s.gateway, "10.91.0.1");
        assert_string_equal(s.gateway_dev, "eth0");
        assert_true(look(-1, host).up);
        _cleanup_free_ char *brif = xasprintf("%s/class/net/brtest1/brif/%s", sysdir, host);
        assert_int_equal(access(brif, F_OK), 0);
        _cleanup_free_ char *hp = xasprintf("%s/class/net/%s/brport/hairpin_mode", sysdir, host);
        _cleanup_free_ char *hairpin = read_small(hp);
        assert_string_equal(hairpin, "1");
        char **ports = NULL;
        ok(berth_links_find("", "veth", NULL, "brtest1", &ports, &err), err);
        assert_int_equal(strv_length(ports), 1);
        assert_string_equal(ports[0], host);
        strv_free(ports);

        /* a failure inside rolls the pair back: a second first endpoint cannot take index 2 */
        assert_true(berth_endpoint_add_first(nl, &ep, NULL, &err) < 0);
        assert_non_null(err);
        berth_error_free(TAKE_PTR(err));
        ok(berth_links_find("", "veth", NULL, "brtest1", &ports, &err), err);
        assert_int_equal(strv_length(ports), 1);
        strv_free(ports);

        close(nl);
        close(fd);
        ok(berth_endpoint_remove(host, &err), err);
        ok(berth_netns_remove(pin, &err), err);
        ok(berth_bridge_remove("brtest1", &err), err);
}

static void test_links_find_alias(void **state)
{
        struct berth_error *err = NULL;
        struct berth_cidr gw1 = cidr("10.92.0.1/24"), gw2 = cidr("10.93.0.1/24");
        ok(berth_bridge_ensure("br-aliasaa", &gw1, 0, &err), err);
        ok(berth_bridge_ensure("br-aliasbb", &gw2, 0, &err), err);
        ok(berth_link_set_alias("br-aliasaa", "berth /var/lib/x", &err), err);
        char **names = NULL;
        ok(berth_links_find("", "bridge", "berth /var/lib/x", NULL, &names, &err), err);
        assert_int_equal(strv_length(names), 1);
        assert_string_equal(names[0], "br-aliasaa");
        strv_free(names);
        ok(berth_links_find("br-alias", "veth", NULL, NULL, &names, &err), err);
        assert_int_equal(strv_length(names), 0);
        strv_free(names);
        ok(berth_links_find("", NULL, NULL, "no-such-master", &names, &err), err);
        assert_int_equal(strv_length(names), 0);
        strv_free(names);
        ok(berth_bridge_remove("br-aliasaa", &err), err);
        ok(berth_bridge_remove("br-aliasbb", &err), err);
}

static int setup(void **state)
{
        if (geteuid() != 0) {
                fprintf(stderr, "test-net-link needs root\n");
                return -1;
        }
        if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0)
                return -1;
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return -1;
        if (!mkdtemp(tmpdir))
                return -1;
        snprintf(sysdir, sizeof(sysdir), "%s/sys", tmpdir);
        if (mkdir(sysdir, 0755) < 0 || mount("sysfs", sysdir, "sysfs", 0, NULL) < 0)
                return -1;
        return 0;
}

static int teardown(void **state)
{
        /* anything left behind is a failure of the run */
        int leaked = 0;
        char **names = NULL;
        const char *prefixes[] = {"bv", "br", "eth"};
        for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
                if (berth_links_list(prefixes[i], &names, NULL) == 0) {
                        for (char **n = names; *n; n++) {
                                fprintf(stderr, "leaked link `%s`\n", *n);
                                leaked++;
                        }
                        strv_free(names);
                }
        }
        umount2(sysdir, MNT_DETACH);
        rmdir(sysdir);
        if (mounted_under(tmpdir)) {
                fprintf(stderr, "leaked mount under `%s`\n", tmpdir);
                leaked++;
        }
        char plain[PATH_MAX];
        snprintf(plain, sizeof(plain), "%s/plain", tmpdir);
        unlink(plain);
        if (rmdir(tmpdir) < 0) {
                fprintf(stderr, "leaked files in `%s`\n", tmpdir);
                leaked++;
        }
        return leaked ? -1 : 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_bridge),
            cmocka_unit_test(test_netns),
            cmocka_unit_test(test_endpoints),
            cmocka_unit_test(test_links_list),
            cmocka_unit_test(test_endpoint_add_first),
            cmocka_unit_test(test_links_find_alias),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
