/* Packet rules: berth's one nftables table `ip berth`, regenerated whole from the daemon's state
 * and replaced in a single libnftables transaction (add + delete + recreate), so a reader never
 * sees a half-built table and a failed apply leaves the previous one in place. Networks with an
 * IPv6 subnet and ports published to IPv6 addresses get a table `ip6 berth` in the same
 * transaction (masquerade, isolation, DNAT on [::]); an IPv4-only ruleset never names it.
 *
 * The table is per network namespace (nftables state belongs to the netns of the caller), so
 * tests and a daemon running in its own namespace never touch the host's rules. Base chains use
 * `policy accept` and berth only drops packets going to or coming from its own bridges: other
 * tables (docker's, firewalld's, the admin's) keep deciding for everything else.
 *
 * libnftables runs in a helper child (nft-helper.c): it exit()s on some netlink failures. */
#include "net/net.h"
#include "net/nl.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <nftables/libnftables.h>

struct rules_buf {
        char *data;
        size_t len, cap;
};

static void _printf_(2, 3) buf_printf(struct rules_buf *b, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                abort();
        if (b->len + (size_t)n + 1 > b->cap) {
                b->cap = (b->len + (size_t)n + 1) * 2;
                b->data = xrealloc(b->data, b->cap);
        }
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
}

/* Interface names go into the ruleset text inside quotes: only what the kernel accepts for a
 * link name and nothing that could end the string or start another statement. */
static int check_ifname(const char *name, struct berth_error **err)
{
        if (!name || !*name)
                return berth_error_setx(err, EINVAL, "bridge name is empty");
        size_t len = strlen(name);
        if (len >= IFNAMSIZ)
                return berth_error_setx(err, EINVAL, "bridge name `%.32s` is longer than %d bytes",
                                        name, IFNAMSIZ - 1);
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)name[i];
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
                if (!ok)
                        return berth_error_setx(
                            err, EINVAL,
                            "invalid bridge name `%.32s`: only letters, digits, "
                            "`-`, `_` and `.` are allowed",
                            name);
        }
        return 0;
}

static int check_v4(const struct berth_cidr *c, const char *what, struct berth_error **err)
{
        if (c->family == AF_INET && c->prefix <= 32)
                return 0;
        if (c->family == AF_INET6)
                return berth_error_setx(err, EAFNOSUPPORT,
                                        "%s: ipv6 packet rules are not supported yet", what);
        return berth_error_setx(err, EINVAL, "%s: not an ipv4 address", what);
}

static const char *proto_name(int proto)
{
        return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : NULL;
}

/* The subnet in nft's syntax: its network address (host bits cleared, nft refuses them) and
 * prefix. */
static void subnet_text(const struct berth_cidr *c, char *buf, size_t size)
{
        struct berth_cidr n = *c;
        if (n.family == AF_INET6) {
                for (unsigned i = 0; i < 16; i++) {
                        unsigned keep = n.prefix > i * 8 ? n.prefix - i * 8 : 0;
                        n.addr.v6.s6_addr[i] &= keep >= 8 ? 0xff : (uint8_t)(0xff00 >> keep);
                }
        } else {
                uint32_t mask = n.prefix == 0 ? 0 : htonl(~(uint32_t)0 << (32 - n.prefix));
                n.addr.v4.s_addr &= mask;
        }
        berth_cidr_format(&n, true, buf, size);
}

static int validate(const struct berth_net_rules_network *nets, size_t n_networks,
                    const struct berth_net_rules_port *ports, size_t n_ports,
                    struct berth_error **err)
{
        for (size_t i = 0; i < n_networks; i++) {
                int r = check_ifname(nets[i].bridge, err);
                if (r < 0)
                        return r;
                r = check_v4(&nets[i].subnet, "network subnet", err);
                if (r >= 0 && nets[i].subnet6.family != 0 &&
                    (nets[i].subnet6.family != AF_INET6 || nets[i].subnet6.prefix > 128))
                        r = berth_error_setx(err, EINVAL,
                                             "network IPv6 subnet: not an ipv6 "
                                             "subnet");
                if (r < 0)
                        return berth_error_wrap(err, "network on `%s`", nets[i].bridge);
        }
        for (size_t i = 0; i < n_ports; i++) {
                const struct berth_net_rules_port *p = &ports[i];
                if (!proto_name(p->proto))
                        return berth_error_setx(err, EPROTONOSUPPORT,
                                                "published port %u: protocol %d is not tcp or udp",
                                                p->host_port, p->proto);
                if (p->host_port == 0 || p->container_port == 0)
                        return berth_error_setx(err, EINVAL,
                                                "published port %u->%u: port 0 is not a port",
                                                p->host_port, p->container_port);
                int r = check_ifname(p->bridge, err);
                if (r < 0)
                        return berth_error_wrap(err, "published port %u", p->host_port);
                if (p->container_ip.family == AF_INET6) {
                        /* published on IPv6 (every address, or host_ip) to the container's
                         * IPv6 address, in `ip6 berth` */
                        if (p->host_ip.family != 0 && p->host_ip.family != AF_INET6)
                                return berth_error_setx(err, EINVAL,
                                                        "published port %u: host ip and container "
                                                        "ip families differ",
                                                        p->host_port);
                        continue;
                }
                if (p->host_ip.family != 0) {
                        r = check_v4(&p->host_ip, "host ip", err);
                        if (r < 0)
                                return berth_error_wrap(err, "published port %u", p->host_port);
                }
                r = check_v4(&p->container_ip, "container ip", err);
                if (r < 0)
                        return berth_error_wrap(err, "published port %u", p->host_port);
        }
        return 0;
}

/* Are there ports of protocol kind (0 tcp, 1 udp) bound to one host address (addr) or to all? */
static bool port_kind_used(const struct berth_net_rules_port *ports, size_t n_ports, int kind,
                           bool addr)
{
        int proto = kind == 0 ? IPPROTO_TCP : IPPROTO_UDP;
        for (size_t i = 0; i < n_ports; i++)
                if (ports[i].proto == proto && (ports[i].host_ip.family != 0) == addr)
                        return true;
        return false;
}

/* One map or set declaration with its elements (each printed by elem), nothing when it would be
 * empty (nft refuses "elements = { }"). */
static bool in_set(const struct berth_net_rules_port *p, int kind, int addr)
{
        int proto = kind == 0 ? IPPROTO_TCP : IPPROTO_UDP;
        return p->proto == proto && (addr < 0 || (p->host_ip.family != 0) == (addr == 1));
}

/* Do p and q make the same element key (nft refuses a duplicate with "File exists")? The dnat
 * maps are keyed by host address and port, the hairpin and forward sets by the container's
 * address and port (and bridge). */
static bool addr_eq(const struct berth_cidr *a, const struct berth_cidr *b)
{
        return a->family == b->family &&
               memcmp(&a->addr, &b->addr, a->family == AF_INET6 ? 16 : 4) == 0;
}

static bool same_key(const struct berth_net_rules_port *p, const struct berth_net_rules_port *q,
                     int addr)
{
        if (addr >= 0)
                return p->host_port == q->host_port &&
                       (addr == 0 || addr_eq(&p->host_ip, &q->host_ip));
        return p->container_port == q->container_port &&
               addr_eq(&p->container_ip, &q->container_ip) && strcmp(p->bridge, q->bridge) == 0;
}

static void gen_set(struct rules_buf *b, const char *kw, const char *name, const char *type,
                    const struct berth_net_rules_port *ports, size_t n_ports, int kind, int addr,
                    void (*elem)(struct rules_buf *b, const struct berth_net_rules_port *p))
{
        bool first = true;
        for (size_t i = 0; i < n_ports; i++) {
                const struct berth_net_rules_port *p = &ports[i];
                if (!in_set(p, kind, addr))
                        continue;
                /* the first of equal keys wins, as the first matching rule did */
                bool dup = false;
                for (size_t k = 0; k < i && !dup; k++)
                        dup = in_set(&ports[k], kind, addr) && same_key(&ports[k], p, addr);
                if (dup)
                        continue;
                if (first)
                        buf_printf(b, "\t%s %s {\n\t\ttype %s\n\t\telements = { ", kw, name, type);
                else
                        buf_printf(b, ",\n\t\t\t");
                elem(b, p);
                first = false;
        }
        if (!first)
                buf_printf(b, " }\n\t}\n");
}

static void elem_dnat(struct rules_buf *b, const struct berth_net_rules_port *p)
{
        char a[INET6_ADDRSTRLEN + 8], c[INET6_ADDRSTRLEN + 8];
        berth_cidr_format(&p->container_ip, false, c, sizeof(c));
        if (p->host_ip.family != 0) {
                berth_cidr_format(&p->host_ip, false, a, sizeof(a));
                buf_printf(b, "%s . ", a);
        }
        buf_printf(b, "%u : %s . %u", p->host_port, c, p->container_port);
}

static void elem_hairpin(struct rules_buf *b, const struct berth_net_rules_port *p)
{
        char c[INET6_ADDRSTRLEN + 8];
        berth_cidr_format(&p->container_ip, false, c, sizeof(c));
        buf_printf(b, "%s . %s . %u", c, c, p->container_port);
}

static void elem_forward(struct rules_buf *b, const struct berth_net_rules_port *p)
{
        char c[INET6_ADDRSTRLEN + 8];
        berth_cidr_format(&p->container_ip, false, c, sizeof(c));
        buf_printf(b, "\"%s\" . %s . %u", p->bridge, c, p->container_port);
}

/* The maps and sets of published ports of one family (at: "ipv4_addr" or "ipv6_addr"). */
static void gen_port_sets(const struct berth_net_rules_port *ports, size_t n_ports, const char *at,
                          struct rules_buf *b)
{
        for (int kind = 0; kind < 2; kind++) {
                const char *pn = kind == 0 ? "tcp" : "udp";
                char name[32], type[96];
                snprintf(name, sizeof(name), "published_%s_addr", pn);
                snprintf(type, sizeof(type), "%s . inet_service : %s . inet_service", at, at);
                gen_set(b, "map", name, type, ports, n_ports, kind, 1, elem_dnat);
                snprintf(name, sizeof(name), "published_%s", pn);
                snprintf(type, sizeof(type), "inet_service : %s . inet_service", at);
                gen_set(b, "map", name, type, ports, n_ports, kind, 0, elem_dnat);
                snprintf(name, sizeof(name), "hairpin_%s", pn);
                snprintf(type, sizeof(type), "%s . %s . inet_service", at, at);
                gen_set(b, "set", name, type, ports, n_ports, kind, -1, elem_hairpin);
                snprintf(name, sizeof(name), "forward_%s", pn);
                snprintf(type, sizeof(type), "ifname . %s . inet_service", at);
                gen_set(b, "set", name, type, ports, n_ports, kind, -1, elem_forward);
        }
}

/* The DNAT chain of published ports: a port bound to one host address is looked up first (ip:
 * "ip" or "ip6"). */
static void gen_published_chain(const struct berth_net_rules_port *ports, size_t n_ports,
                                const char *ip, struct rules_buf *b)
{
        buf_printf(b, "\tchain published {\n");
        for (int pi = 0; pi < 2; pi++) {
                const char *pn = pi == 0 ? "tcp" : "udp";
                if (port_kind_used(ports, n_ports, pi, true))
                        buf_printf(b, "\t\tdnat %s to %s daddr . %s dport map @published_%s_addr\n",
                                   ip, ip, pn, pn);
                if (port_kind_used(ports, n_ports, pi, false))
                        buf_printf(b, "\t\tdnat %s to %s dport map @published_%s\n", ip, pn, pn);
        }
        buf_printf(b, "\t}\n");
}

/* Does anything need `ip6 berth`: a network with an IPv6 subnet or a port published to an
 * IPv6 address? */
static bool need_ip6(const struct berth_net_rules_network *nets, size_t n_networks,
                     const struct berth_net_rules_port *ports, size_t n_ports)
{
        for (size_t i = 0; i < n_networks; i++)
                if (nets[i].subnet6.family == AF_INET6)
                        return true;
        for (size_t i = 0; i < n_ports; i++)
                if (ports[i].container_ip.family == AF_INET6)
                        return true;
        return false;
}

/* The forward chain of a table of family ("ip" or "ip6"): docker's isolation between bridges and
 * for --internal, established traffic, published ports (ct status dnat), icc, the way out, and
 * nothing else into a bridge. */
static void gen_forward_chain(const struct berth_net_rules_network *nets, size_t n_networks,
                              const struct berth_net_rules_port *ports, size_t n_ports,
                              const char *family, struct rules_buf *b)
{
        buf_printf(b, "\tchain forward {\n\t\ttype filter hook forward priority 0; policy "
                      "accept;\n");
        /* docker's isolation: nothing crosses from one berth bridge to another, whatever its
         * state */
        for (size_t i = 0; i < n_networks; i++) {
                for (size_t j = 0; j < n_networks; j++) {
                        if (strcmp(nets[i].bridge, nets[j].bridge) == 0)
                                continue;
                        buf_printf(b, "\t\tiifname \"%s\" oifname \"%s\" drop\n", nets[i].bridge,
                                   nets[j].bridge);
                }
        }
        for (size_t i = 0; i < n_networks; i++) {
                const struct berth_net_rules_network *n = &nets[i];
                if (n->internal)
                        buf_printf(b,
                                   "\t\tiifname \"%s\" oifname != \"%s\" drop\n"
                                   "\t\toifname \"%s\" iifname != \"%s\" drop\n",
                                   n->bridge, n->bridge, n->bridge, n->bridge);
        }
        buf_printf(b, "\t\tct state established,related accept\n");
        for (int pi = 0; pi < 2; pi++) {
                const char *pn = pi == 0 ? "tcp" : "udp";
                if (port_kind_used(ports, n_ports, pi, true) ||
                    port_kind_used(ports, n_ports, pi, false))
                        buf_printf(b,
                                   "\t\toifname . %s daddr . %s dport @forward_%s ct status dnat "
                                   "accept\n",
                                   family, pn, pn);
        }
        for (size_t i = 0; i < n_networks; i++) {
                const struct berth_net_rules_network *n = &nets[i];
                buf_printf(b, "\t\tiifname \"%s\" oifname \"%s\" %s\n", n->bridge, n->bridge,
                           n->icc ? "accept" : "drop");
                if (!n->internal)
                        buf_printf(b, "\t\tiifname \"%s\" accept\n", n->bridge);
                /* the rest into a bridge (not established, not published): docker's FORWARD
                 * drop, here for berth's bridges only */
                buf_printf(b, "\t\toifname \"%s\" drop\n", n->bridge);
        }
        buf_printf(b, "\t}\n");
}

/* The IPv6 side of the networks that have an IPv6 subnet, in `ip6 berth` (replaced like `ip
 * berth`, absent when no network has one): masquerade of what leaves the subnet, docker's
 * isolation between bridges and for --internal, nothing unsolicited into a bridge. */
static void gen_ruleset6(const struct berth_net_rules_network *nets, size_t n_networks,
                         const struct berth_net_rules_port *ports, size_t n_ports,
                         struct rules_buf *b)
{
        char a[INET6_ADDRSTRLEN + 8];

        if (!need_ip6(nets, n_networks, ports, n_ports))
                return; /* a table left from before goes in a transaction of its own */
        buf_printf(b, "add table ip6 berth\ndelete table ip6 berth\ntable ip6 berth {\n");
        /* published ports as in `ip berth`; ::1 is left alone: IPv6 has no route_localnet, a
         * loopback source never leaves through a bridge */
        gen_port_sets(ports, n_ports, "ipv6_addr", b);
        gen_published_chain(ports, n_ports, "ip6", b);
        buf_printf(b, "\tchain prerouting {\n\t\ttype nat hook prerouting priority -100; policy "
                      "accept;\n\t\tfib daddr type local jump published\n\t}\n");
        buf_printf(b, "\tchain output {\n\t\ttype nat hook output priority -100; policy "
                      "accept;\n\t\tip6 daddr != ::1 fib daddr type local jump published\n\t}\n");
        buf_printf(b, "\tchain postrouting {\n\t\ttype nat hook postrouting priority 100; policy "
                      "accept;\n");
        for (int pi = 0; pi < 2; pi++) {
                const char *pn = pi == 0 ? "tcp" : "udp";
                if (port_kind_used(ports, n_ports, pi, true) ||
                    port_kind_used(ports, n_ports, pi, false))
                        buf_printf(b,
                                   "\t\tip6 saddr . ip6 daddr . %s dport @hairpin_%s masquerade\n",
                                   pn, pn);
        }
        for (size_t i = 0; i < n_networks; i++) {
                const struct berth_net_rules_network *n = &nets[i];
                if (n->subnet6.family != AF_INET6 || !n->masquerade || n->internal)
                        continue;
                subnet_text(&n->subnet6, a, sizeof(a));
                buf_printf(b, "\t\tip6 saddr %s oifname != \"%s\" masquerade\n", a, n->bridge);
        }
        buf_printf(b, "\t}\n");
        gen_forward_chain(nets, n_networks, ports, n_ports, "ip6", b);
        buf_printf(b, "}\n");
}

static void gen_ruleset(const struct berth_net_rules_network *nets, size_t n_networks,
                        const struct berth_net_rules_port *all_ports, size_t n_all,
                        struct rules_buf *b)
{
        /* IPv4 ports here, IPv6 ones (by the container's address) in `ip6 berth` */
        _cleanup_free_ struct berth_net_rules_port *ports = xcalloc(n_all + 1, sizeof(*ports));
        _cleanup_free_ struct berth_net_rules_port *ports6 = xcalloc(n_all + 1, sizeof(*ports6));
        size_t n_ports = 0, n_ports6 = 0;
        for (size_t i = 0; i < n_all; i++) {
                if (all_ports[i].container_ip.family == AF_INET6)
                        ports6[n_ports6++] = all_ports[i];
                else
                        ports[n_ports++] = all_ports[i];
        }

        char a[INET6_ADDRSTRLEN + 8];

        buf_printf(b, "add table ip berth\ndelete table ip berth\ntable ip berth {\n");

        /* Published ports live in maps and sets, one element each, so a thousand ports cost one
         * lookup per packet and one transaction; the chains hold a fixed number of rules. */
        gen_port_sets(ports, n_ports, "ipv4_addr", b);

        /* DNAT of published ports, shared by packets arriving from outside (prerouting) and
         * packets the host sends itself (output, which includes 127.0.0.1: the bridges have
         * route_localnet=1 and postrouting masquerades those sources). A port bound to one host
         * address is looked up first. A container reaching its own network's published port
         * through the host goes straight back out of its bridge: docker skips the DNAT for
         * traffic from the bridge only with the userland proxy; without it, the hairpin is
         * masqueraded below. */
        gen_published_chain(ports, n_ports, "ip", b);
        buf_printf(b, "\tchain prerouting {\n\t\ttype nat hook prerouting priority -100; policy "
                      "accept;\n\t\tfib daddr type local jump published\n\t}\n");
        buf_printf(b, "\tchain output {\n\t\ttype nat hook output priority -100; policy "
                      "accept;\n\t\tfib daddr type local jump published\n\t}\n");

        buf_printf(b, "\tchain postrouting {\n\t\ttype nat hook postrouting priority 100; policy "
                      "accept;\n");
        for (size_t i = 0; i < n_networks; i++) {
                const struct berth_net_rules_network *n = &nets[i];
                subnet_text(&n->subnet, a, sizeof(a));
                /* localhost DNAT'd into the bridge: the container cannot answer 127.0.0.1 */
                buf_printf(b, "\t\toifname \"%s\" ip saddr 127.0.0.0/8 masquerade\n", n->bridge);
                if (n->masquerade && !n->internal)
                        buf_printf(b, "\t\tip saddr %s oifname != \"%s\" masquerade\n", a,
                                   n->bridge);
        }
        /* hairpin: a container reaching its own published port through the host */
        for (int pi = 0; pi < 2; pi++) {
                const char *pn = pi == 0 ? "tcp" : "udp";
                if (port_kind_used(ports, n_ports, pi, true) ||
                    port_kind_used(ports, n_ports, pi, false))
                        buf_printf(b, "\t\tip saddr . ip daddr . %s dport @hairpin_%s masquerade\n",
                                   pn, pn);
        }
        buf_printf(b, "\t}\n");

        gen_forward_chain(nets, n_networks, ports, n_ports, "ip", b);
        buf_printf(b, "}\n");
        gen_ruleset6(nets, n_networks, ports6, n_ports6, b);
}

static void nft_ctx_freep(struct nft_ctx **ctx)
{
        if (*ctx)
                nft_ctx_free(*ctx);
}

int net_nft_run(const char *text, struct berth_error **err)
{
        __attribute__((cleanup(nft_ctx_freep))) struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
        if (!ctx)
                return berth_error_setx(err, ENOMEM, "cannot create an nftables context");
        if (nft_ctx_buffer_output(ctx) < 0 || nft_ctx_buffer_error(ctx) < 0)
                return berth_error_setx(err, ENOMEM, "cannot buffer nftables output");
        if (nft_run_cmd_from_buffer(ctx, text) != 0) {
                const char *msg = nft_ctx_get_error_buffer(ctx);
                _cleanup_free_ char *m = xstrdup(msg && *msg ? msg : "unknown error");
                size_t l = strlen(m);
                while (l > 0 && (m[l - 1] == '\n' || m[l - 1] == ' '))
                        m[--l] = '\0';
                /* nft's message ends with the offending line and a caret line: keep the first */
                char *nl = strchr(m, '\n');
                if (nl)
                        *nl = '\0';
                return berth_error_setx(err, EINVAL, "nftables: %s", m);
        }
        return 0;
}

/* Validate and build the transaction text (malloc'd into *ret_text). */
int berth_net_rules_render(const struct berth_net_rules_network *nets, size_t n_networks,
                           const struct berth_net_rules_port *ports, size_t n_ports,
                           char **ret_text, struct berth_error **err)
{
        int r = validate(nets, n_networks, ports, n_ports, err);
        if (r < 0)
                return berth_error_wrap(err, "packet rules");
        for (size_t i = 0; i < n_ports; i++) {
                bool known = false;
                for (size_t j = 0; j < n_networks && !known; j++)
                        known = strcmp(ports[i].bridge, nets[j].bridge) == 0;
                if (!known)
                        return berth_error_setx(err, EINVAL,
                                                "packet rules: published port %u is on bridge "
                                                "`%s`, which is not one of the networks",
                                                ports[i].host_port, ports[i].bridge);
        }
        if (n_networks == 0 && n_ports == 0) {
                /* add first so that deleting a table that is not there is no error */
                *ret_text = xstrdup("add table ip berth\ndelete table ip berth\n");
                return 0;
        }
        struct rules_buf b = {0};
        gen_ruleset(nets, n_networks, ports, n_ports, &b);
        *ret_text = b.data;
        return 0;
}

/* Load a rendered table with run: in this process, or in the helper child. */
static int rules_load_with(int (*run)(const char *, struct berth_error **), const char *text,
                           struct berth_error **err)
{
        int r = run(text, err);
        if (r < 0)
                return berth_error_wrap(err, "packet rules: table `ip berth`");
        /* An IPv4-only ruleset never mentions `ip6 berth` (a kernel without nf_tables' ip6
         * family still runs it); one left by an earlier apply, or by an earlier daemon, is
         * deleted once on its own, best effort. */
        static _Atomic bool ip6_maybe = true;
        if (strstr(text, "table ip6 berth {")) {
                ip6_maybe = true;
        } else if (ip6_maybe) {
                _cleanup_error_ struct berth_error *e = NULL;
                run("add table ip6 berth\ndelete table ip6 berth\n", &e);
                ip6_maybe = false;
        }
        return 0;
}

static int rules_apply_with(int (*run)(const char *, struct berth_error **),
                            const struct berth_net_rules_network *nets, size_t n_networks,
                            const struct berth_net_rules_port *ports, size_t n_ports,
                            struct berth_error **err)
{
        _cleanup_free_ char *text = NULL;
        int r = berth_net_rules_render(nets, n_networks, ports, n_ports, &text, err);
        if (r < 0)
                return r;
        return rules_load_with(run, text, err);
}

int berth_net_rules_load(const char *text, struct berth_error **err)
{
        return rules_load_with(net_nft_run_isolated, text, err);
}

int net_rules_apply_here(const struct berth_net_rules_network *nets, size_t n_networks,
                         const struct berth_net_rules_port *ports, size_t n_ports,
                         struct berth_error **err)
{
        return rules_apply_with(net_nft_run, nets, n_networks, ports, n_ports, err);
}

int berth_net_rules_apply(const struct berth_net_rules_network *nets, size_t n_networks,
                          const struct berth_net_rules_port *ports, size_t n_ports,
                          struct berth_error **err)
{
        return rules_apply_with(net_nft_run_isolated, nets, n_networks, ports, n_ports, err);
}
