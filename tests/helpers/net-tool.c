/* net-tool: drives src/net's namespaces, bridges and endpoints without the daemon, for the
 * integration tests (tests/integration/net), which run it inside a throwaway network namespace.
 *
 *   net-tool bridge NAME GATEWAY/PREFIX [MTU]
 *   net-tool bridge-rm NAME
 *   net-tool netns PATH
 *   net-tool netns-rm PATH
 *   net-tool endpoint NETNS-PATH BRIDGE ADDRESS/PREFIX [GATEWAY|-] [HOST-IFNAME]   (prints it)
 *   net-tool endpoint-rm HOST-IFNAME
 *   net-tool links PREFIX
 *   net-tool pick-subnet [USED/PREFIX...]
 *   net-tool next-address SUBNET [AFTER|-] [USED...]
 */
#include "net/net.h"

static int parse_cidrs(char **args, int n, struct berth_cidr *out, struct berth_error **err)
{
        for (int i = 0; i < n; i++) {
                int r = berth_cidr_parse(args[i], &out[i], err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int run(int argc, char **argv, struct berth_error **err)
{
        const char *cmd = argv[1];
        char buf[64];
        int r;
        if (strcmp(cmd, "bridge") == 0 && (argc == 4 || argc == 5)) {
                struct berth_cidr gw;
                uint64_t mtu = 0;
                r = berth_cidr_parse(argv[3], &gw, err);
                if (r < 0)
                        return r;
                if (argc == 5 && (berth_parse_u64(argv[4], &mtu) < 0 || mtu > 65535))
                        return berth_error_setx(err, EINVAL, "invalid mtu `%s`", argv[4]);
                return berth_bridge_ensure(argv[2], &gw, (unsigned)mtu, err);
        }
        if (strcmp(cmd, "bridge-rm") == 0 && argc == 3)
                return berth_bridge_remove(argv[2], err);
        if (strcmp(cmd, "netns") == 0 && argc == 3)
                return berth_netns_create(argv[2], err);
        if (strcmp(cmd, "netns-rm") == 0 && argc == 3)
                return berth_netns_remove(argv[2], err);
        if (strcmp(cmd, "endpoint") == 0 && argc >= 5 && argc <= 7) {
                struct berth_endpoint ep = {.bridge = argv[3], .ifname = "eth0"};
                r = berth_cidr_parse(argv[4], &ep.address, err);
                if (r < 0)
                        return r;
                if (argc >= 6 && strcmp(argv[5], "-") != 0) {
                        r = berth_cidr_parse(argv[5], &ep.gateway, err);
                        if (r < 0)
                                return r;
                }
                if (argc == 7)
                        ep.host_ifname = argv[6];
                berth_ipam_mac(&ep.address, ep.mac);
                _cleanup_close_ int fd = -1;
                r = berth_netns_open(argv[2], &fd, err);
                if (r < 0)
                        return r;
                _cleanup_free_ char *host = NULL;
                r = berth_endpoint_add(fd, &ep, &host, err);
                if (r < 0)
                        return r;
                printf("%s\n", host);
                return 0;
        }
        if (strcmp(cmd, "endpoint-rm") == 0 && argc == 3)
                return berth_endpoint_remove(argv[2], err);
        if (strcmp(cmd, "links") == 0 && argc == 3) {
                _cleanup_strv_ char **names = NULL;
                r = berth_links_list(argv[2], &names, err);
                if (r < 0)
                        return r;
                for (char **n = names; *n; n++)
                        printf("%s\n", *n);
                return 0;
        }
        if (strcmp(cmd, "pick-subnet") == 0) {
                int n = argc - 2;
                _cleanup_free_ struct berth_cidr *used = xcalloc((size_t)n + 1, sizeof(*used));
                struct berth_cidr got;
                r = parse_cidrs(argv + 2, n, used, err);
                if (r >= 0)
                        r = berth_ipam_pick_subnet(used, (size_t)n, &got, err);
                if (r < 0)
                        return r;
                printf("%s\n", berth_cidr_format(&got, true, buf, sizeof(buf)));
                return 0;
        }
        if (strcmp(cmd, "next-address") == 0 && argc >= 3) {
                struct berth_cidr subnet, gw, after, got;
                bool has_after = argc >= 4 && strcmp(argv[3], "-") != 0;
                int n = argc > 4 ? argc - 4 : 0;
                _cleanup_free_ struct berth_cidr *used = xcalloc((size_t)n + 1, sizeof(*used));
                r = berth_cidr_parse(argv[2], &subnet, err);
                if (r >= 0 && has_after)
                        r = berth_cidr_parse(argv[3], &after, err);
                if (r >= 0)
                        r = parse_cidrs(argv + 4, n, used, err);
                if (r < 0)
                        return r;
                berth_ipam_gateway(&subnet, &gw);
                r = berth_ipam_next(&subnet, &gw, used, (size_t)n, has_after ? &after : NULL, &got,
                                    err);
                if (r < 0)
                        return r;
                printf("%s\n", berth_cidr_format(&got, true, buf, sizeof(buf)));
                return 0;
        }
        return berth_error_setx(err, EINVAL, "usage: see the comment at the top of net-tool.c");
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                fprintf(stderr, "net-tool: missing command\n");
                return 2;
        }
        _cleanup_error_ struct berth_error *err = NULL;
        if (run(argc, argv, &err) < 0) {
                fprintf(stderr, "net-tool: %s\n", err ? err->msg : "unknown error");
                return 1;
        }
        return 0;
}
