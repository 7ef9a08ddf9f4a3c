/* Does bridge networking work here? The daemon asks once at start, so that a kernel without the
 * bridge or nf_tables modules, a refused netlink socket or a missing CAP_NET_ADMIN turns into a
 * warning with its cause and clear errors for the requests that need networking, instead of a
 * failure half-way through the first `run -p` (or, with libnftables, the daemon's exit).
 *
 * Everything is tried for real in a forked child (isolate.c): the netlink sockets in the caller's
 * namespace, then in a fresh namespace of the child's own, a bridge, a veth pair on it and the
 * same `ip berth` ruleset the daemon loads (nat hooks, fib, masquerade, dnat, ct) — the modules
 * they need are loaded on demand by the kernel exactly as for the daemon's own requests. The
 * child's namespace vanishes with it; the caller's links and rules are never touched. */
#include "net/net.h"
#include "net/nl.h"

#include <sched.h>
#include <sys/socket.h>
#include <linux/netlink.h>

#define PROBE_BRIDGE     "berth-probe"
#define PROBE_TIMEOUT_MS 20000

static struct berth_cidr probe_addr(const char *s)
{
        struct berth_cidr c;
        if (berth_cidr_parse(s, &c, NULL) < 0)
                abort();
        return c;
}

/* A hint for the codes the kernel gives when a link kind or a module is missing. */
static const char *module_hint(int r, const char *module)
{
        static _Thread_local char buf[96];
        if (r == -EOPNOTSUPP || r == -ENOENT || r == -EPROTONOSUPPORT || r == -EAFNOSUPPORT) {
                snprintf(buf, sizeof(buf), " (is the `%s` kernel module available?)", module);
                return buf;
        }
        return "";
}

static int probe_run(void *arg, struct berth_error **err)
{
        (void)arg;
        _cleanup_strv_ char **names = NULL;
        int r = berth_links_list("lo", &names, err);
        if (r < 0)
                return NET_WRAP(r, err, "netlink");

        _cleanup_close_ int nf = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
        if (nf < 0) {
                r = -errno;
                return berth_error_set(err, -r,
                                       "nf_tables: cannot open a netfilter netlink socket%s",
                                       module_hint(r, "nfnetlink"));
        }

        if (unshare(CLONE_NEWNET) < 0)
                return berth_error_set(err, errno, "network namespaces: cannot create one");
        _cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (self < 0)
                return berth_error_set(err, errno, "network namespaces: open the new one");

        struct berth_cidr gw = probe_addr("10.255.255.1/30");
        r = berth_bridge_ensure(PROBE_BRIDGE, &gw, 0, err);
        if (r < 0)
                return NET_WRAP(r, err, "bridge%s", module_hint(r, "bridge"));

        struct berth_endpoint ep = {
            .bridge = PROBE_BRIDGE,
            .host_ifname = "berth-probe-v",
            .ifname = "probe0",
            .address = probe_addr("10.255.255.2/30"),
        };
        r = berth_endpoint_add(self, &ep, NULL, err);
        if (r < 0)
                return NET_WRAP(r, err, "veth%s", module_hint(r, "veth"));

        struct berth_net_rules_network net = {.bridge = PROBE_BRIDGE,
                                              .subnet = probe_addr("10.255.255.0/30"),
                                              .masquerade = true,
                                              .icc = true};
        struct berth_net_rules_port port = {.proto = IPPROTO_TCP,
                                            .host_port = 1,
                                            .container_ip = probe_addr("10.255.255.2"),
                                            .container_port = 1,
                                            .bridge = PROBE_BRIDGE};
        r = net_rules_apply_here(&net, 1, &port, 1, err);
        if (r < 0)
                return NET_WRAP(r, err,
                                "nf_tables (are the nf_tables, nft_chain_nat, nft_nat, nft_masq, "
                                "nft_fib_ipv4 and nft_ct kernel modules available?)");
        return 0;
}

int berth_net_probe(struct berth_error **err)
{
        return net_isolated("network probe", probe_run, NULL, PROBE_TIMEOUT_MS, err);
}
