/* berth networking: network namespaces, bridges, veths, IPAM, port publishing, embedded DNS.
 *
 * The one public header of src/net. It depends on src/common only (libmnl for netlink,
 * libnftables for packet rules); nothing here shells out (no `ip`, no `nft`).
 *
 * Model (docker's, implemented like podman's netavark + aardvark-dns):
 * - Each container that needs its own network gets a named, persistent network namespace: a
 *   file bind-mounted from /proc/<tid>/ns/net under the daemon's netns directory. The daemon
 *   creates and plumbs it BEFORE the container starts and hands its path to the runtime
 *   (linux.namespaces[{type: network, path}]); it is torn down after the container stops. A warm
 *   pool of ready-made namespaces can be kept for fast `run`.
 * - A bridge network is a Linux bridge (docker0-like `berth0` for the default network, `br-<id12>`
 *   for user networks) holding the gateway address; each endpoint is a veth pair: the host end
 *   `bv<random>` enslaved to the bridge, the peer moved into the container's namespace and renamed
 *   `eth0` (or ethN), with its address, a default route via the gateway, loopback up.
 * - Packet rules live in ONE nftables table `ip berth` (and `ip6 berth` when IPv6 is used), owned
 *   entirely by berth and rebuilt from the daemon's state: masquerade for traffic leaving a
 *   network's subnet, DNAT for published ports (from outside and from the host itself, including
 *   127.0.0.1 — that needs route_localnet on the bridge and a masquerade of 127.0.0.0/8 sources),
 *   isolation between different bridge networks, and accept for DNS to the gateway.
 * - User networks get name resolution: an embedded DNS server bound on each user network's
 *   gateway address, port 53 (UDP and TCP), answering A/AAAA (and PTR) for container names,
 *   network aliases and container ids (12-char prefix) on THAT network, and forwarding every other
 *   query to the host's resolvers (from the host's /etc/resolv.conf; when those are loopback
 *   addresses such as 127.0.0.53, queries are forwarded from the host namespace, which works
 *   because the server runs there). The container's resolv.conf names the gateway.
 *
 * Every function is safe to call again after a partial failure (idempotent teardown), so the
 * daemon can reconcile after a crash: list what exists, delete what its state does not know.
 */
#ifndef BERTH_NET_H
#define BERTH_NET_H

#include "common/common.h"

#include <netinet/in.h>

/* ---------------------------------------------------------------- addresses */

/* An IPv4 or IPv6 prefix, e.g. 172.18.0.0/16 or fd00::/64. */
struct berth_cidr {
        int family; /* AF_INET or AF_INET6 */
        union {
                struct in_addr v4;
                struct in6_addr v6;
        } addr;
        unsigned prefix;
};

/* Parse "a.b.c.d/n", "x::y/n" (with_prefix) or a bare address (prefix = 32/128). Host bits of a
 * subnet are kept as given; EINVAL with a message naming the text on bad input. */
int berth_cidr_parse(const char *s, struct berth_cidr *ret, struct berth_error **err);
/* Format into buf ("172.18.0.0/16"; without "/n" when !with_prefix). */
const char *berth_cidr_format(const struct berth_cidr *c, bool with_prefix, char *buf, size_t size);
/* Does subnet contain addr? Do two subnets overlap? */
bool berth_cidr_contains(const struct berth_cidr *subnet, const struct berth_cidr *addr);
bool berth_cidr_overlaps(const struct berth_cidr *a, const struct berth_cidr *b);

/* ---------------------------------------------------------------- IPAM (pure functions) */

/* The daemon owns the state (SQLite); these only compute. */

/* Pick the first subnet from docker's default pools (172.17.0.0/16 … 172.31.0.0/16, then
 * 192.168.0.0/20 … 192.168.240.0/20) that overlaps none of used[0..n) nor any route of the host
 * (read through netlink). ENOSPC "all predefined address pools have been fully subnetted". */
int berth_ipam_pick_subnet(const struct berth_cidr *used, size_t n, struct berth_cidr *ret,
                           struct berth_error **err);
/* A pool of subnets: base cut into subnets of prefix size (docker's default-address-pools entry
 * "base=fd00:1::/56,size=64"). */
struct berth_ipam_pool {
        struct berth_cidr base;
        unsigned size;
};
/* Parse docker's "base=CIDR,size=N" (either order): EINVAL naming the text unless base is a
 * subnet with its host bits clear and base's prefix <= size <= the family's width. */
int berth_ipam_pool_parse(const char *s, struct berth_ipam_pool *ret, struct berth_error **err);
/* The first subnet of the pools of family (in order) that overlaps none of used[0..n) nor any
 * route of the host of that family (read through netlink); ENOSPC "all predefined address
 * pools have been fully subnetted". Pools of the other family are skipped. */
int berth_ipam_pick_pool(int family, const struct berth_ipam_pool *pools, size_t n_pools,
                         const struct berth_cidr *used, size_t n, struct berth_cidr *ret,
                         struct berth_error **err);
/* dockerd's IPv6 pool when none is configured (its deriveULABaseNetwork, after RFC 4193
 * section 3.2.2): fd00::/8 with the 40 low bits of the first 8 bytes (big endian) of
 * sha256(host id) as global ID, a /48 cut into /64s. digest: that sha256. */
void berth_ipam_ula_pool(const uint8_t digest[32], struct berth_ipam_pool *ret);
/* The gateway of a subnet: its first host address (.1). */
void berth_ipam_gateway(const struct berth_cidr *subnet, struct berth_cidr *ret);
/* The next free host address of subnet (prefix of the subnet): not the network address, not the
 * broadcast (v4), not the gateway, not any of used[0..n). Allocation starts after `after` when
 * given (round robin like docker, so a removed container's address is not reused at once) and
 * wraps. ENOSPC "no available IPv4 addresses on this network's address pools". */
int berth_ipam_next(const struct berth_cidr *subnet, const struct berth_cidr *gateway,
                    const struct berth_cidr *used, size_t n, const struct berth_cidr *after,
                    struct berth_cidr *ret, struct berth_error **err);
/* Docker's MAC for an IPv4 address: 02:42:<the four address bytes>. */
void berth_ipam_mac(const struct berth_cidr *addr, uint8_t ret_mac[6]);

/* ---------------------------------------------------------------- namespaces */

/* Create a new network namespace and pin it at path (a file created here; its directory must
 * exist and should be a private mount). Loopback is brought up inside. */
int berth_netns_create(const char *path, struct berth_error **err);
/* Unmount and remove a pinned namespace; a missing file is fine. */
int berth_netns_remove(const char *path, struct berth_error **err);
/* berth_netns_create that also hands back the rtnetlink socket it opened inside the namespace
 * (*ret_nl_fd, close-on-exec; the socket stays bound to that namespace), for
 * berth_endpoint_add_first: a namespace made ahead of time (the daemon's warm pool) is then
 * plumbed without a thread entering it. */
int berth_netns_create_nl(const char *path, int *ret_nl_fd, struct berth_error **err);
/* Pin the namespace pinned at from at to (a new file), then unpin from: a namespace made ahead
 * under one name taken by a container under its own. EEXIST when to is pinned already. */
int berth_netns_move(const char *from, const char *to, struct berth_error **err);
/* The first half of berth_netns_move: the namespace pinned at from is pinned at to as well (an
 * unmount waits for an RCU grace period: a caller in a hurry leaves from for later). */
int berth_netns_bind(const char *from, const char *to, struct berth_error **err);
/* Open a pinned namespace (O_RDONLY|O_CLOEXEC fd usable with setns). */
int berth_netns_open(const char *path, int *ret_fd, struct berth_error **err);

/* ---------------------------------------------------------------- links (netlink, libmnl) */

/* Ensure a bridge named name exists, is up, holds gateway/prefix (gateway given with the subnet's
 * prefix), and has the sysctls berth needs (route_localnet=1 on it; net.ipv4.ip_forward=1 on the
 * host — written only when not already 1). mtu 0 = default 1500. Idempotent. */
int berth_bridge_ensure(const char *name, const struct berth_cidr *gateway, unsigned mtu,
                        struct berth_error **err);
/* Delete a bridge (missing is fine). */
int berth_bridge_remove(const char *name, struct berth_error **err);

struct berth_endpoint {
        const char *bridge;         /* host bridge to enslave the host end to */
        const char *host_ifname;    /* "bv…": at most 15 chars; NULL: generated */
        const char *ifname;         /* inside the namespace: "eth0" */
        struct berth_cidr address;  /* with the subnet prefix */
        struct berth_cidr gateway;  /* default route via; family 0: no default route */
        struct berth_cidr address6; /* an IPv6 address beside address; family 0: none */
        struct berth_cidr gateway6; /* IPv6 default route via; family 0: none */
        uint8_t mac[6];             /* all zero: kernel-chosen */
        unsigned mtu;               /* 0: the bridge's */
};

/* Create a veth pair, enslave the host end to ep->bridge and bring it up, move the peer into the
 * namespace netns_fd, rename it, set mac/mtu/address, bring it up and add the default route.
 * Rolls back (deletes the pair) on failure. *ret_host_ifname (may be NULL) gets the host end's
 * name (malloc'd). */
int berth_endpoint_add(int netns_fd, const struct berth_endpoint *ep, char **ret_host_ifname,
                       struct berth_error **err);
/* berth_endpoint_add for a namespace holding loopback only, through nl_fd, an rtnetlink socket
 * of that namespace (berth_netns_create_nl): the pair is made from inside (the peer as its
 * second link, so its index is known ahead, the host end sent out to the caller's namespace),
 * brought up, addressed and routed in one netlink round trip, then the host end is put on the
 * bridge, up, in hairpin mode, in one more. No thread, no setns. Rolls back on failure. */
int berth_endpoint_add_first(int nl_fd, const struct berth_endpoint *ep, char **ret_host_ifname,
                             struct berth_error **err);
/* Remove the endpoint by its host end (deleting one end deletes the pair); missing is fine. */
int berth_endpoint_remove(const char *host_ifname, struct berth_error **err);
/* Names of the host's links starting with prefix ("bv", "br-", "berth"), for reconciliation. */
int berth_links_list(const char *prefix, char ***ret_names, struct berth_error **err);
/* berth_links_list narrowed: of kind ("bridge", "veth"; NULL any), with the alias alias (NULL
 * any), enslaved to the link master (NULL any; none when master does not exist). */
int berth_links_find(const char *prefix, const char *kind, const char *alias, const char *master,
                     char ***ret_names, struct berth_error **err);
/* Set a link's alias (IFLA_IFALIAS, at most 255 bytes kept): the daemon marks the bridges it
 * makes with it, so a sweep after a crash deletes its own and never another engine's. */
int berth_link_set_alias(const char *name, const char *alias, struct berth_error **err);

/* ---------------------------------------------------------------- packet rules (libnftables) */

struct berth_net_rules_network {
        const char *bridge; /* its bridge's name */
        struct berth_cidr subnet;
        struct berth_cidr subnet6; /* its IPv6 subnet (rules in `ip6 berth`); family 0: none */
        bool masquerade;           /* false for --internal networks (no way out either) */
        bool internal;
        bool icc; /* containers on it may talk to each other (default true) */
};

struct berth_net_rules_port {
        int proto;                 /* IPPROTO_TCP or IPPROTO_UDP */
        struct berth_cidr host_ip; /* family 0: every address (0.0.0.0) */
        uint16_t host_port;
        struct berth_cidr container_ip;
        uint16_t container_port;
        const char *bridge; /* the network the container is reached on */
};

/* Replace the whole `berth` table atomically (one nft transaction) by the rules for these
 * networks and published ports; with n_networks == 0 and n_ports == 0 the table is deleted.
 * The table lives in the caller's network namespace (nftables state is per netns). The networks'
 * IPv6 subnets get masquerade and isolation in a table `ip6 berth` replaced in the same
 * transaction (deleted when no network has one); published ports are IPv4 only: an IPv6
 * address there (or an IPv6 `subnet`) is EAFNOSUPPORT. Every port's bridge must be one of nets;
 * bridge names are checked (EINVAL) before anything reaches nft. On any error the previous
 * table is left as it was; libnftables' message is in *err. The transaction runs in a helper
 * child kept for the purpose (forked at first use), because libnftables ends its process on some
 * netlink failures: that gives EIO "... ended its process (exit status 3): ... Unable to
 * initialize Netlink socket: ...", never the caller's exit; the next call starts a new helper. */
int berth_net_rules_apply(const struct berth_net_rules_network *nets, size_t n_networks,
                          const struct berth_net_rules_port *ports, size_t n_ports,
                          struct berth_error **err);

/* berth_net_rules_apply in two steps, for a caller that skips a transaction when nothing
 * changed: the validated transaction text (malloc'd into *ret_text; the same inputs always give
 * the same text), then its load through the helper child in the caller's network namespace. */
int berth_net_rules_render(const struct berth_net_rules_network *nets, size_t n_networks,
                           const struct berth_net_rules_port *ports, size_t n_ports,
                           char **ret_text, struct berth_error **err);
int berth_net_rules_load(const char *text, struct berth_error **err);

/* Fork the helper child now rather than at the first transaction. A process that will have
 * threads calls it before it starts any: a fork taken while another thread holds a lock (the
 * allocator's, say) leaves the child stuck on it, and the first transaction then waits out the
 * helper's timeout. */
int berth_net_rules_helper_start(struct berth_error **err);

/* Can this host do bridge networking in the calling thread's network namespace? Checks, in a
 * forked child (nothing in the caller's namespace changes): rtnetlink answers; a netfilter
 * netlink socket opens; a new network namespace can be made; in it a bridge and a veth pair on it
 * can be created, and berth's nftables table (nat chains, fib, masquerade, dnat, ct) can be
 * loaded. 0 when all work; otherwise the first piece that does not, with the cause, e.g.
 * "nf_tables: ...: Protocol not supported" or "bridge: ...: Operation not supported (no `bridge`
 * kernel module?)". Takes some tens of ms: call it once at daemon start. */
int berth_net_probe(struct berth_error **err);

/* Is host_ip:host_port/proto free on the host (a bind() test, SO_REUSEADDR off)? Docker reports
 * "Bind for 0.0.0.0:8080 failed: port is already allocated" when not. host_port 0 picks a free
 * ephemeral port (ret_port). Publishing holds the port open (ret_fd, close-on-exec) for as long as
 * the mapping lives so nothing else can take it. */
int berth_net_port_reserve(int proto, const struct berth_cidr *host_ip, uint16_t host_port,
                           uint16_t *ret_port, int *ret_fd, struct berth_error **err);

/* ---------------------------------------------------------------- embedded DNS */

struct berth_dns;

/* A record the server answers: name (container name, alias or short id) -> address, on one
 * network. */
struct berth_dns_record {
        const char *name;
        struct berth_cidr address;
};

/* Start a DNS server in its own thread listening on listen_addr:53 (UDP and TCP) in the calling
 * thread's network namespace. upstream: the resolvers to forward to (NULL: read
 * /etc/resolv.conf); queries for names not in the table are forwarded, answers are relayed
 * unchanged; names in the table are answered authoritatively with TTL 600 (docker's), unknown
 * types for known names get an empty NOERROR. */
int berth_dns_start(const struct berth_cidr *listen_addr, char *const *upstream,
                    struct berth_dns **ret, struct berth_error **err);
/* Replace the table (thread-safe, copies everything). */
void berth_dns_set_records(struct berth_dns *d, const struct berth_dns_record *recs, size_t n);
/* A client's own resolvers: queries from client (a container's address on the network) that are
 * not for a name of the table go to servers (its --dns, docker's "ExtServers") instead of the
 * server's upstream. */
struct berth_dns_forwarders {
        struct berth_cidr client;
        char *const *servers; /* NULL-terminated; bad addresses are skipped */
};
/* Replace the clients' resolvers (thread-safe, copies everything). */
void berth_dns_set_forwarders(struct berth_dns *d, const struct berth_dns_forwarders *f, size_t n);
/* Stop the thread, close the sockets, free. NULL is fine. */
void berth_dns_stop(struct berth_dns *d);

/* Parse a DNS query packet: the first question's name (lowercased, dotted, no trailing dot) and
 * type. EBADMSG on anything malformed (fuzzed). */
int berth_dns_parse_query(const uint8_t *pkt, size_t len, char *ret_name, size_t name_size,
                          uint16_t *ret_type, struct berth_error **err);

#endif
