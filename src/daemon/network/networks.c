/* The network table: docker's networks in memory and in the db (`networks`), the built-in
 * `bridge`, `host` and `none`, user-defined bridge networks, their bridges (made on first use for
 * the default one, at create for user networks), the one `ip berth` table rebuilt from state and
 * the embedded DNS server of each user network. */
#include "daemon/daemon.h"
#include "daemon/state/events.h"
#include "daemon/network/network-internal.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#define DEFAULT_BRIDGE "berth0"
#define DEFAULT_BIP    "172.17.0.1/16"

bool net_is_bridge(const struct net_network *net)
{
        return strcmp(net->driver, "bridge") == 0;
}

static void network_free(struct net_network *net)
{
        if (!net)
                return;
        berth_dns_stop(net->dns);
        free(net->id);
        free(net->name);
        free(net->driver);
        free(net->bridge);
        json_decref(net->doc);
        free(net);
}

static const char *opt_of(const struct net_network *net, const char *key)
{
        return berth_json_get_str(json_object_get(net->doc, "Options"), key);
}

/* The struct from docker's object (its id and name given); NULL on a malformed document. */
static struct net_network *network_from_doc(const char *id, const char *name, json_t *doc)
{
        struct net_network *net = xcalloc(1, sizeof(*net));
        json_t *cfgs = json_object_get(json_object_get(doc, "IPAM"), "Config"), *cfg;
        const char *subnet = NULL, *gw = NULL;
        size_t i;

        net->id = xstrdup(id);
        net->name = xstrdup(name);
        net->driver = xstrdup(berth_json_get_str(doc, "Driver") ?: "bridge");
        net->doc = json_incref(doc);
        net->internal = json_is_true(json_object_get(doc, "Internal"));
        net->is_default = strcmp(name, "bridge") == 0 && net_is_bridge(net);
        if (!net_is_bridge(net))
                return net;
        /* a user network's bridge is br-<id12> unless an option names it (docker's Options
         * stay as given: compose compares them) */
        if (opt_of(net, "com.docker.network.bridge.name"))
                net->bridge = xstrdup(opt_of(net, "com.docker.network.bridge.name"));
        else
                net->bridge = xasprintf("br-%.12s", id);
        /* one IPv4 subnet, and an IPv6 one when EnableIPv6 */
        json_array_foreach(cfgs, i, cfg)
        {
                const char *s = berth_json_get_str(cfg, "Subnet");
                if (s && strchr(s, ':')) {
                        const char *g6 = berth_json_get_str(cfg, "Gateway");
                        if (berth_cidr_parse(s, &net->subnet6, NULL) < 0 || !g6 ||
                            berth_cidr_parse(g6, &net->gateway6, NULL) < 0 ||
                            net->subnet6.family != AF_INET6 || net->gateway6.family != AF_INET6) {
                                network_free(net);
                                return NULL;
                        }
                        net->gateway6.prefix = net->subnet6.prefix;
                } else if (!subnet) {
                        subnet = s;
                        gw = berth_json_get_str(cfg, "Gateway");
                }
        }
        if (!json_is_true(json_object_get(doc, "EnableIPv6")))
                net->subnet6.family = net->gateway6.family = 0;
        if (!subnet || berth_cidr_parse(subnet, &net->subnet, NULL) < 0 || !gw ||
            berth_cidr_parse(gw, &net->gateway, NULL) < 0 || !*net->bridge) {
                network_free(net);
                return NULL;
        }
        net->gateway.prefix = net->subnet.prefix;
        return net;
}

static int network_save(struct networks *n, struct net_network *net, struct berth_error **err)
{
        _cleanup_free_ char *text = berth_json_dump(net->doc, false);
        const char *args[] = {net->id, net->name, text};

        return db_exec(n->d, "INSERT OR REPLACE INTO networks (id, name, config) VALUES (?, ?, ?)",
                       args, 3, err);
}

static void table_add_locked(struct networks *n, struct net_network *net)
{
        n->nets = xrealloc(n->nets, (n->n_nets + 1) * sizeof(*n->nets));
        n->nets[n->n_nets++] = net;
}

static void table_drop_locked(struct networks *n, struct net_network *net)
{
        for (size_t i = 0; i < n->n_nets; i++) {
                if (n->nets[i] != net)
                        continue;
                memmove(&n->nets[i], &n->nets[i + 1], (n->n_nets - i - 1) * sizeof(*n->nets));
                n->n_nets--;
                return;
        }
}

struct net_network *net_by_id_locked(struct networks *n, const char *id)
{
        for (size_t i = 0; i < n->n_nets; i++)
                if (strcmp(n->nets[i]->id, id) == 0)
                        return n->nets[i];
        return NULL;
}

/* docker's order: full id, then name, then a unique id prefix */
struct net_network *net_find_locked(struct networks *n, const char *ref, bool *ret_ambiguous)
{
        struct net_network *found = NULL;
        size_t len = strlen(ref);

        *ret_ambiguous = false;
        if (!len)
                return NULL;
        if ((found = net_by_id_locked(n, ref)))
                return found;
        for (size_t i = 0; i < n->n_nets; i++)
                if (strcmp(n->nets[i]->name, ref) == 0)
                        return n->nets[i];
        for (size_t i = 0; i < n->n_nets; i++) {
                if (strncmp(n->nets[i]->id, ref, len) != 0)
                        continue;
                if (found) {
                        *ret_ambiguous = true;
                        return NULL;
                }
                found = n->nets[i];
        }
        return found;
}

int net_lookup_locked(struct networks *n, const char *ref, struct net_network **ret,
                      struct berth_error **err)
{
        bool ambiguous;
        struct net_network *net = net_find_locked(n, ref, &ambiguous);

        if (ambiguous)
                return berth_error_setx(
                    err, EINVAL, "network %s is ambiguous (more than one network matches)", ref);
        if (!net)
                return berth_error_setx(err, ENOENT, "network %s not found", ref);
        *ret = net;
        return 0;
}

/* ---------------------------------------------------------------- documents */

/* The network address of c (host bits cleared), with its prefix. */
static void subnet_of(const struct berth_cidr *c, struct berth_cidr *ret)
{
        *ret = *c;
        if (c->family == AF_INET6) {
                for (unsigned i = 0; i < 16; i++) {
                        unsigned keep = c->prefix > i * 8 ? c->prefix - i * 8 : 0;
                        ret->addr.v6.s6_addr[i] &= keep >= 8 ? 0xff : (uint8_t)(0xff00 >> keep);
                }
                return;
        }
        uint32_t mask = c->prefix == 0 ? 0 : ~(uint32_t)0 << (32 - c->prefix);
        ret->addr.v4.s_addr = htonl(ntohl(c->addr.v4.s_addr) & mask);
}

static void ipam_config_add(json_t *cfgs, const struct berth_cidr *subnet,
                            const struct berth_cidr *gw)
{
        char s[64], g[64];
        struct berth_cidr net;

        subnet_of(subnet, &net);
        berth_cidr_format(&net, true, s, sizeof(s));
        berth_cidr_format(gw, false, g, sizeof(g));
        json_array_append_new(cfgs, json_pack("{s:s,s:s}", "Subnet", s, "Gateway", g));
}

/* docker's IPAM.Config: the IPv4 subnet, then the IPv6 one (subnet6 NULL: none) */
static json_t *ipam_config(const struct berth_cidr *subnet, const struct berth_cidr *gw,
                           const struct berth_cidr *subnet6, const struct berth_cidr *gw6)
{
        json_t *cfgs = json_array();

        ipam_config_add(cfgs, subnet, gw);
        if (subnet6)
                ipam_config_add(cfgs, subnet6, gw6);
        return cfgs;
}

static json_t *network_doc(const char *name, const char *id, const char *driver, json_t *ipam,
                           json_t *options, json_t *ipam_options, bool ipv6, bool internal,
                           bool attachable, json_t *labels)
{
        _cleanup_free_ char *now = NULL;
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        now = berth_time_rfc3339(&ts);
        return json_pack("{s:s,s:s,s:s,s:s,s:s,s:b,s:{s:s,s:o,s:o},s:b,s:b,s:b,s:{s:s},s:b,s:o,"
                         "s:o}",
                         "Name", name, "Id", id, "Created", now, "Scope", "local", "Driver", driver,
                         "EnableIPv6", ipv6, "IPAM", "Driver", "default", "Options",
                         ipam_options ?: json_null(), "Config", ipam ?: json_array(), "Internal",
                         internal, "Attachable", attachable, "Ingress", false, "ConfigFrom",
                         "Network", "", "ConfigOnly", false, "Options", options ?: json_object(),
                         "Labels", labels ?: json_object());
}

/* ---------------------------------------------------------------- bridges, rules, DNS */

/* The --dns of net's containers, as forwarders of its embedded DNS. */
static void dns_forwarders_update_locked(struct networks *n, struct net_network *net)
{
        struct berth_dns_forwarders *f = xcalloc(n->n_eps + 1, sizeof(*f));
        char ***servers = xcalloc(n->n_eps + 1, sizeof(*servers));
        size_t cnt = 0;

        for (size_t i = 0; i < n->n_eps; i++) {
                struct net_endpoint *ep = n->eps[i];
                json_t *e;
                size_t k;
                if (strcmp(ep->network_id, net->id) != 0 || !json_array_size(ep->dns))
                        continue;
                servers[cnt] = xcalloc(json_array_size(ep->dns) + 1, sizeof(char *));
                json_array_foreach(ep->dns, k, e) servers[cnt][k] =
                    xstrdup(json_string_value(e) ?: "");
                f[cnt] = (struct berth_dns_forwarders){ep->addr, servers[cnt]};
                cnt++;
        }
        berth_dns_set_forwarders(net->dns, f, cnt);
        for (size_t i = 0; i < cnt; i++)
                strv_free(servers[i]);
        free(servers);
        free(f);
}

void net_dns_update_locked(struct networks *n, struct net_network *net)
{
        struct berth_dns_record *recs;
        size_t cnt = 0, cap = 0, n_ids = 0;
        char **ids;

        if (!net->dns)
                return;
        for (size_t i = 0; i < n->n_eps; i++)
                if (strcmp(n->eps[i]->network_id, net->id) == 0)
                        cap += 2 * (2 + json_array_size(n->eps[i]->aliases));
        recs = xcalloc(cap + 1, sizeof(*recs));
        ids = xcalloc(cap + 1, sizeof(*ids));
        for (size_t i = 0; i < n->n_eps; i++) {
                struct net_endpoint *ep = n->eps[i];
                json_t *a;
                size_t k;
                if (strcmp(ep->network_id, net->id) != 0)
                        continue;
                ids[n_ids] = xstrndup(ep->container_id, 12);
                /* A from the IPv4 address, AAAA from the IPv6 one */
                for (int six = 0; six < 2; six++) {
                        const struct berth_cidr *addr = six ? &ep->addr6 : &ep->addr;
                        if (!addr->family)
                                continue;
                        recs[cnt++] = (struct berth_dns_record){ep->name, *addr};
                        recs[cnt++] = (struct berth_dns_record){ids[n_ids], *addr};
                        json_array_foreach(ep->aliases, k, a) if (json_string_value(a))
                            recs[cnt++] = (struct berth_dns_record){json_string_value(a), *addr};
                }
                n_ids++;
        }
        berth_dns_set_records(net->dns, recs, cnt);
        for (size_t i = 0; i < n_ids; i++)
                free(ids[i]);
        free(ids);
        free(recs);
        dns_forwarders_update_locked(n, net);
}

int net_up_locked(struct networks *n, struct net_network *net, struct berth_error **err)
{
        unsigned mtu = 0;
        const char *m;
        int r;

        if (!net_is_bridge(net) || net->up)
                return 0;
        if (n->warning)
                return berth_error_setx(err, ENODEV, "bridge networking is not available: %s",
                                        n->warning);
        m = opt_of(net, "com.docker.network.driver.mtu");
        if (m)
                mtu = (unsigned)strtoul(m, NULL, 10);
        r = berth_bridge_ensure(net->bridge, &net->gateway, mtu, err);
        if (r >= 0 && net->gateway6.family == AF_INET6) {
                r = berth_bridge_ensure(net->bridge, &net->gateway6, mtu, err);
                if (r < 0 && !net->is_default)
                        berth_bridge_remove(net->bridge, NULL);
        }
        if (r < 0)
                return berth_error_wrap(err, "network %s", net->name);
        if (!net->is_default) {
                _cleanup_error_ struct berth_error *e = NULL;
                if (berth_link_set_alias(net->bridge, n->alias, &e) < 0)
                        berth_warn("network %s: %s", net->name, e->msg);
        }
        if (!net->is_default && !net->dns) {
                r = berth_dns_start(&net->gateway, NULL, &net->dns, err);
                if (r < 0) {
                        berth_bridge_remove(net->bridge, NULL);
                        return berth_error_wrap(err, "network %s: embedded DNS", net->name);
                }
        }
        net->up = true;
        net_dns_update_locked(n, net);
        return 0;
}

int net_rules_apply_locked(struct networks *n, struct berth_error **err)
{
        _cleanup_free_ struct berth_net_rules_network *nets = xcalloc(n->n_nets + 1, sizeof(*nets));
        _cleanup_free_ struct berth_net_rules_port *ports = NULL;
        _cleanup_free_ char *text = NULL;
        size_t nn = 0, np = 0, cap = 0;
        int r;

        for (size_t i = 0; i < n->n_nets; i++) {
                struct net_network *net = n->nets[i];
                const char *icc = opt_of(net, "com.docker.network.bridge.enable_icc");
                const char *masq = opt_of(net, "com.docker.network.bridge.enable_ip_masquerade");
                if (!net_is_bridge(net) || !net->up)
                        continue;
                nets[nn++] = (struct berth_net_rules_network){
                    .bridge = net->bridge,
                    .subnet = net->subnet,
                    .subnet6 = net->subnet6,
                    .masquerade = !masq || strcmp(masq, "false") != 0,
                    .internal = net->internal,
                    .icc = !icc || strcmp(icc, "false") != 0,
                };
        }
        for (size_t i = 0; i < n->n_sbs; i++)
                cap += n->sbs[i]->n_ports;
        ports = xcalloc(cap + 1, sizeof(*ports));
        for (size_t i = 0; i < n->n_sbs; i++) {
                struct net_sandbox *sb = n->sbs[i];
                struct net_network *net =
                    sb->network_id ? net_by_id_locked(n, sb->network_id) : NULL;
                struct net_endpoint *ep = NULL;
                if (!net || !net->up)
                        continue;
                for (size_t k = 0; k < n->n_eps && !ep; k++)
                        if (strcmp(n->eps[k]->container_id, sb->container_id) == 0 &&
                            strcmp(n->eps[k]->network_id, net->id) == 0)
                                ep = n->eps[k];
                if (!ep)
                        continue;
                for (size_t k = 0; k < sb->n_ports; k++) {
                        const struct net_port *p = &sb->ports[k];
                        struct berth_net_rules_port *q = &ports[np];
                        *q = (struct berth_net_rules_port){
                            .proto = p->proto,
                            .host_ip = p->host_ip,
                            .host_port = p->host_port,
                            .container_ip = ep->addr,
                            .container_port = p->container_port,
                            .bridge = net->bridge,
                        };
                        if (p->host_ip.family == AF_INET6) {
                                /* to the container's IPv6 address; [::] is every address */
                                if (!ep->addr6.family)
                                        continue;
                                q->container_ip = ep->addr6;
                                if (IN6_IS_ADDR_UNSPECIFIED(&p->host_ip.addr.v6))
                                        q->host_ip.family = 0;
                        }
                        np++;
                }
        }
        if (nn == 0 && n->warning)
                return 0; /* nothing to apply, and nf_tables may be what is missing */
        r = berth_net_rules_render(nets, nn, ports, np, &text, err);
        if (r < 0)
                return r;
        /* a container without published ports changes nothing here: no transaction (the
         * helper's round trip and nft's cache load cost more than a start's other steps) */
        if (n->rules_text && strcmp(n->rules_text, text) == 0)
                return 0;
        free(TAKE_PTR(n->rules_text));
        r = berth_net_rules_load(text, err);
        if (r < 0)
                return r;
        n->rules_text = TAKE_PTR(text);
        return 0;
}

/* ---------------------------------------------------------------- open, reconcile */

static void load_network_row(const char *const *cols, size_t nc, void *userdata)
{
        struct networks *n = userdata;
        _cleanup_json_ json_t *doc = NULL;
        struct net_network *net;

        if (nc < 3 || !cols[0] || !cols[1] || !cols[2])
                return;
        doc = json_loads(cols[2], 0, NULL);
        net = doc ? network_from_doc(cols[0], cols[1], doc) : NULL;
        if (!net) {
                berth_warn("network `%s`: unreadable row skipped", cols[1]);
                return;
        }
        table_add_locked(n, net);
}

static void load_endpoint_row(const char *const *cols, size_t nc, void *userdata)
{
        struct networks *n = userdata;
        _cleanup_json_ json_t *j = NULL;
        struct net_endpoint *ep;

        if (nc < 3 || !cols[0] || !cols[1] || !cols[2])
                return;
        j = json_loads(cols[2], 0, NULL);
        ep = j ? net_endpoint_from_json(cols[0], cols[1], j) : NULL;
        if (!ep)
                return;
        n->eps = xrealloc(n->eps, (n->n_eps + 1) * sizeof(*n->eps));
        n->eps[n->n_eps++] = ep;
}

static void load_sandbox_row(const char *const *cols, size_t nc, void *userdata)
{
        struct networks *n = userdata;
        _cleanup_json_ json_t *j = NULL;
        struct net_sandbox *sb;

        if (nc < 2 || !cols[0] || !cols[1])
                return;
        j = json_loads(cols[1], 0, NULL);
        sb = j ? net_sandbox_from_json(cols[0], j) : NULL;
        if (!sb)
                return;
        n->sbs = xrealloc(n->sbs, (n->n_sbs + 1) * sizeof(*n->sbs));
        n->sbs[n->n_sbs++] = sb;
}

/* The built-in networks: `host`, `none` and (unless -b none) `bridge` with the configured
 * bridge and address, updated when the options changed since the last run. */
/* The subnets the bridge networks use (IPv4 and IPv6), but skip's; n*2 + 1 entries in *ret. */
static size_t used_subnets_locked(struct networks *n, const struct net_network *skip,
                                  struct berth_cidr **ret)
{
        struct berth_cidr *used = xcalloc(2 * n->n_nets + 1, sizeof(*used));
        size_t n_used = 0;

        for (size_t j = 0; j < n->n_nets; j++) {
                if (!net_is_bridge(n->nets[j]) || n->nets[j] == skip)
                        continue;
                used[n_used++] = n->nets[j]->subnet;
                if (n->nets[j]->subnet6.family)
                        used[n_used++] = n->nets[j]->subnet6;
        }
        *ret = used;
        return n_used;
}

/* berthd --ipv6 without --fixed-cidr-v6 (dockerd >= 27): the default bridge keeps the IPv6
 * subnet it was given before, else gets the first free one of the IPv6 pools. */
static int default_subnet6_pick(struct networks *n, struct net_network *old,
                                struct berth_error **err)
{
        _cleanup_free_ struct berth_cidr *used = NULL;
        size_t n_used;
        int r;

        if (old && old->subnet6.family == AF_INET6) {
                n->default_subnet6 = old->subnet6;
                return 0;
        }
        n_used = used_subnets_locked(n, old, &used);
        r = berth_ipam_pick_pool(AF_INET6, n->pools6, n->n_pools6, used, n_used,
                                 &n->default_subnet6, err);
        if (r < 0)
                return berth_error_wrap(err, "the default bridge's IPv6 subnet");
        return 0;
}

static int builtins_ensure(struct networks *n, struct berth_error **err)
{
        static const char *const names[] = {"bridge", "host", "none"};
        static const char *const drivers[] = {"bridge", "host", "null"};
        bool ambiguous;
        int r;

        for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
                struct net_network *old = net_find_locked(n, names[i], &ambiguous);
                struct net_network *net;
                char id[65];
                json_t *doc, *ipam = NULL, *opts = NULL;
                if (i == 0 && !n->default_bridge) {
                        if (old) {
                                table_drop_locked(n, old);
                                db_exec(n->d, "DELETE FROM networks WHERE id = ?",
                                        (const char *[]){old->id}, 1, NULL);
                                network_free(old);
                        }
                        continue;
                }
                if (i == 0 && n->default_ipv6_pool && !n->default_subnet6.family) {
                        r = default_subnet6_pick(n, old, err);
                        if (r < 0)
                                return r;
                }
                if (i == 0) {
                        char mtu[] = "1500";
                        struct berth_cidr gw6 = {0};
                        if (n->default_subnet6.family)
                                berth_ipam_gateway(&n->default_subnet6, &gw6);
                        ipam = ipam_config(&n->default_gateway, &n->default_gateway,
                                           n->default_subnet6.family ? &n->default_subnet6 : NULL,
                                           &gw6);
                        opts = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}",
                                         "com.docker.network.bridge.default_bridge", "true",
                                         "com.docker.network.bridge.enable_icc", "true",
                                         "com.docker.network.bridge.enable_ip_masquerade", "true",
                                         "com.docker.network.bridge.host_binding_ipv4", "0.0.0.0",
                                         "com.docker.network.bridge.name", n->default_bridge,
                                         "com.docker.network.driver.mtu", mtu);
                        if (old && json_equal(json_object_get(old->doc, "Options"), opts) &&
                            json_equal(json_object_get(json_object_get(old->doc, "IPAM"), "Config"),
                                       ipam) &&
                            json_is_true(json_object_get(old->doc, "EnableIPv6")) ==
                                (n->default_subnet6.family != 0)) {
                                json_decref(ipam);
                                json_decref(opts);
                                continue;
                        }
                } else if (old) {
                        continue;
                }
                if (old)
                        snprintf(id, sizeof(id), "%s", old->id);
                else
                        berth_random_hex(id, 32);
                doc = network_doc(names[i], id, drivers[i], ipam, opts, i == 0 ? NULL : json_null(),
                                  i == 0 && n->default_subnet6.family != 0, false, false, NULL);
                if (i != 0)
                        json_object_set_new(json_object_get(doc, "IPAM"), "Options", json_null());
                net = network_from_doc(id, names[i], doc);
                json_decref(doc);
                if (!net)
                        return berth_error_setx(err, EINVAL, "network %s: bad settings", names[i]);
                r = network_save(n, net, err);
                if (r < 0) {
                        network_free(net);
                        return r;
                }
                if (old) {
                        table_drop_locked(n, old);
                        network_free(old);
                }
                table_add_locked(n, net);
        }
        return 0;
}

/* Can this daemon make bridges, veths and its nftables table? Asked once at start, in a forked
 * child and a throwaway namespace (berth_net_probe): when not, the daemon still serves everything
 * else and refuses bridge requests with the cause. */
static void probe(struct networks *n, const struct networks_options *o)
{
        _cleanup_error_ struct berth_error *e = NULL;

        if (o && o->probed)
                n->warning = o->probe_error ? xstrdup(o->probe_error) : NULL;
        else if (berth_net_probe(&e) < 0)
                n->warning = xstrdup(e ? e->msg : "unknown cause");
        if (n->warning)
                berth_warn("bridge networking is not available: %s", n->warning);
}

/* The default address pools: the IPv4 ones given (none: docker's list, in src/net), the IPv6
 * ones given, else dockerd's ULA /48 of the engine ID. */
static int pools_init(struct networks *n, struct daemon *d, const struct networks_options *o,
                      struct berth_error **err)
{
        size_t count = o ? o->n_default_pools : 0;

        n->pools4 = xcalloc(count + 1, sizeof(*n->pools4));
        n->pools6 = xcalloc(count + 1, sizeof(*n->pools6));
        for (size_t i = 0; i < count; i++) {
                struct berth_ipam_pool p;
                int r = berth_ipam_pool_parse(o->default_pools[i], &p, err);
                if (r < 0)
                        return berth_error_wrap(err, "--default-address-pool");
                if (p.base.family == AF_INET && p.size > 30)
                        return berth_error_setx(err, EINVAL,
                                                "--default-address-pool `%s`: IPv4 subnets of at "
                                                "most /30 are needed",
                                                o->default_pools[i]);
                if (p.base.family == AF_INET6 && p.size > 126)
                        return berth_error_setx(err, EINVAL,
                                                "--default-address-pool `%s`: IPv6 subnets of at "
                                                "most /126 are needed",
                                                o->default_pools[i]);
                if (p.base.family == AF_INET)
                        n->pools4[n->n_pools4++] = p;
                else
                        n->pools6[n->n_pools6++] = p;
        }
        if (n->n_pools6 == 0) {
                _cleanup_free_ char *id = daemon_engine_id(d);
                uint8_t md[EVP_MAX_MD_SIZE];
                unsigned len = 0;
                if (!EVP_Digest(id, strlen(id), md, &len, EVP_sha256(), NULL) || len != 32)
                        return berth_error_setx(err, EIO, "sha256 of the engine ID failed");
                berth_ipam_ula_pool(md, &n->pools6[n->n_pools6++]);
        }
        return 0;
}

int networks_open(struct daemon *d, const struct networks_options *o, struct networks **ret,
                  struct berth_error **err)
{
        struct networks *n = xcalloc(1, sizeof(*n));
        const char *bip = o && o->bip ? o->bip : DEFAULT_BIP;
        int r;

        n->d = d;
        pthread_mutex_init(&n->lock, NULL);
        n->alias = xasprintf("berth %s", d->data_root);
        if (!o || !o->bridge)
                n->default_bridge = xstrdup(DEFAULT_BRIDGE);
        else if (strcmp(o->bridge, "none") != 0)
                n->default_bridge = xstrdup(o->bridge);
        r = berth_cidr_parse(bip, &n->default_gateway, err);
        if (r >= 0 && (n->default_gateway.family != AF_INET || n->default_gateway.prefix > 30 ||
                       n->default_gateway.prefix < 8))
                r = berth_error_setx(err, EINVAL,
                                     "--bip `%s`: an IPv4 address with a prefix "
                                     "between /8 and /30 is needed",
                                     bip);
        if (r >= 0 && o && o->fixed_cidr_v6 && !o->ipv6)
                r = berth_error_setx(err, EINVAL, "--fixed-cidr-v6 needs --ipv6");
        if (r >= 0)
                r = pools_init(n, d, o, err);
        if (r >= 0 && o && o->ipv6 && (!o->fixed_cidr_v6 || !*o->fixed_cidr_v6))
                n->default_ipv6_pool = true;
        else if (r >= 0 && o && o->ipv6) {
                struct berth_cidr *s6 = &n->default_subnet6;
                if (berth_cidr_parse(o->fixed_cidr_v6, s6, NULL) < 0 || s6->family != AF_INET6 ||
                    !strchr(o->fixed_cidr_v6, '/') || s6->prefix > 126)
                        r = berth_error_setx(err, EINVAL,
                                             "--fixed-cidr-v6 `%s`: an IPv6 subnet with a prefix "
                                             "of at most /126 is needed",
                                             o->fixed_cidr_v6);
                else
                        subnet_of(s6, s6);
        }
        if (r < 0)
                goto fail;
        berth_cidr_format(&n->default_gateway, false, n->default_gateway_text,
                          sizeof(n->default_gateway_text));
        n->netns_dir = xasprintf("%s/netns", d->runtime_root);
        r = berth_mkdir_p(n->netns_dir, 0700, err);
        if (r < 0)
                goto fail;
        r = db_query(d, "SELECT id, name, config FROM networks", NULL, 0, load_network_row, n, err);
        if (r >= 0)
                r = builtins_ensure(n, err);
        if (r >= 0)
                r = db_query(d, "SELECT container_id, network_id, config FROM endpoints", NULL, 0,
                             load_endpoint_row, n, err);
        if (r >= 0)
                r = db_query(d, "SELECT container_id, config FROM sandboxes", NULL, 0,
                             load_sandbox_row, n, err);
        if (r < 0)
                goto fail;
        probe(n, o);
        n->pool_dir = xasprintf("%s/netns-pool", d->runtime_root);
        if (berth_mkdir_p(n->pool_dir, 0700, NULL) < 0)
                free(TAKE_PTR(n->pool_dir));
        net_pool_clear(n);
        net_reaper_start(n);
        /* live-restore: the networks of running containers come back as they were */
        for (size_t i = 0; i < n->n_sbs; i++)
                net_ports_rebind(n->sbs[i]);
        for (size_t i = 0; i < n->n_nets; i++) {
                struct net_network *net = n->nets[i];
                _cleanup_error_ struct berth_error *e = NULL;
                bool used = !net->is_default;
                for (size_t k = 0; k < n->n_eps && !used; k++)
                        used = strcmp(n->eps[k]->network_id, net->id) == 0;
                if (net_is_bridge(net) && used && net_up_locked(n, net, &e) < 0)
                        berth_warn("%s", e->msg);
        }
        {
                /* rebuilt when a bridge network is in use: a daemon without one (-b none, no
                 * user network) never touches nftables */
                _cleanup_error_ struct berth_error *e = NULL;
                bool any = false;
                for (size_t i = 0; i < n->n_nets; i++)
                        any |= n->nets[i]->up;
                if (any && net_rules_apply_locked(n, &e) < 0)
                        berth_warn("network rules: %s", e->msg);
        }
        *ret = n;
        return 0;
fail:
        free(n->default_bridge);
        free(n->alias);
        free(n->pools4);
        free(n->pools6);
        free(n);
        return r;
}

void networks_close(struct networks *n)
{
        if (!n)
                return;
        net_reaper_stop(n);
        net_pool_clear(n);
}

const char *networks_host_gateway(struct networks *n)
{
        if (!n || !n->default_bridge || n->warning)
                return NULL;
        return n->default_gateway_text;
}

char *networks_warning(struct networks *n)
{
        return n ? n->warning : NULL;
}

/* ---------------------------------------------------------------- API operations */

static json_t *inspect_locked(struct networks *n, struct net_network *net)
{
        json_t *j = json_deep_copy(net->doc);
        json_t *cs = json_object();

        for (size_t i = 0; i < n->n_eps; i++) {
                struct net_endpoint *ep = n->eps[i];
                char a[64], a6[64] = "", mac[18];
                if (strcmp(ep->network_id, net->id) != 0)
                        continue;
                berth_cidr_format(&ep->addr, true, a, sizeof(a));
                if (ep->addr6.family)
                        berth_cidr_format(&ep->addr6, true, a6, sizeof(a6));
                snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", ep->mac[0], ep->mac[1],
                         ep->mac[2], ep->mac[3], ep->mac[4], ep->mac[5]);
                json_object_set_new(cs, ep->container_id,
                                    json_pack("{s:s,s:s,s:s,s:s,s:s}", "Name", ep->name,
                                              "EndpointID", ep->endpoint_id, "MacAddress", mac,
                                              "IPv4Address", a, "IPv6Address", a6));
        }
        json_object_set_new(j, "Containers", cs);
        return j;
}

int networks_inspect(struct networks *n, const char *ref, json_t **ret, struct berth_error **err)
{
        struct net_network *net;
        int r;

        pthread_mutex_lock(&n->lock);
        r = net_lookup_locked(n, ref, &net, err);
        if (r >= 0)
                *ret = inspect_locked(n, net);
        pthread_mutex_unlock(&n->lock);
        return r;
}

static bool builtin(const struct net_network *net)
{
        return net->is_default || strcmp(net->driver, "host") == 0 ||
               strcmp(net->driver, "null") == 0;
}

static bool in_use_locked(struct networks *n, struct net_network *net)
{
        for (size_t i = 0; i < n->n_eps; i++)
                if (strcmp(n->eps[i]->network_id, net->id) == 0)
                        return true;
        return false;
}

static bool filter_match(struct networks *n, struct net_network *net, json_t *filters)
{
        const char *k;
        json_t *vals;

        json_object_foreach(filters, k, vals)
        {
                bool any = json_array_size(vals) == 0;
                json_t *e;
                size_t i;
                if (strcmp(k, "label") == 0) {
                        if (!berth_labels_match_all(json_object_get(net->doc, "Labels"), vals))
                                return false;
                        continue;
                }
                json_array_foreach(vals, i, e)
                {
                        const char *v = json_string_value(e) ?: "";
                        if (strcmp(k, "name") == 0)
                                any |= strstr(net->name, v) != NULL;
                        else if (strcmp(k, "id") == 0)
                                any |= strncmp(net->id, v, strlen(v)) == 0;
                        else if (strcmp(k, "driver") == 0)
                                any |= strcmp(net->driver, v) == 0;
                        else if (strcmp(k, "scope") == 0)
                                any |= strcmp(v, "local") == 0;
                        else if (strcmp(k, "type") == 0)
                                any |= strcmp(v, builtin(net) ? "builtin" : "custom") == 0;
                        else if (strcmp(k, "dangling") == 0)
                                any |= (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) ==
                                       (!builtin(net) && !in_use_locked(n, net));
                }
                if (!any)
                        return false;
        }
        return true;
}

static int check_filters(json_t *filters, struct berth_error **err)
{
        static const char *const known[] = {"driver", "id",   "label",   "name",
                                            "scope",  "type", "dangling"};
        const char *k;
        json_t *vals, *e;
        size_t i;

        json_object_foreach(filters, k, vals)
        {
                bool ok = false;
                for (size_t j = 0; j < ARRAY_SIZE(known); j++)
                        ok |= strcmp(k, known[j]) == 0;
                if (!ok)
                        return berth_error_setx(err, EINVAL, "invalid filter '%s'", k);
                if (strcmp(k, "type") != 0)
                        continue;
                json_array_foreach(
                    vals, i, e) if (strcmp(json_string_value(e) ?: "", "custom") != 0 &&
                                    strcmp(json_string_value(e) ?: "", "builtin") !=
                                        0) return berth_error_setx(err, EINVAL,
                                                                   "invalid filter: 'type'='%s'",
                                                                   json_string_value(e) ?: "");
        }
        return 0;
}

int networks_list(struct networks *n, json_t *filters, json_t **ret, struct berth_error **err)
{
        json_t *out;
        int r = check_filters(filters, err);

        if (r < 0)
                return r;
        out = json_array();
        pthread_mutex_lock(&n->lock);
        for (size_t i = 0; i < n->n_nets; i++)
                if (filter_match(n, n->nets[i], filters))
                        json_array_append_new(out, inspect_locked(n, n->nets[i]));
        pthread_mutex_unlock(&n->lock);
        *ret = out;
        return 0;
}

static bool name_valid(const char *s)
{
        if (!s[0] ||
            !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", s[0]))
                return false;
        for (const char *p = s; *p; p++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-",
                            *p))
                        return false;
        return true;
}

/* One IPAM config's gateway: the one given (inside subnet) or the subnet's first address. */
static int gateway_parse(const struct berth_cidr *subnet, const char *g, struct berth_cidr *ret,
                         struct berth_error **err)
{
        if (!g || !*g) {
                berth_ipam_gateway(subnet, ret);
                return 0;
        }
        if (berth_cidr_parse(g, ret, NULL) < 0 || strchr(g, '/') || ret->family != subnet->family)
                return berth_error_setx(err, EINVAL, "invalid network config: invalid gateway %s",
                                        g);
        if (!berth_cidr_contains(subnet, ret))
                return berth_error_setx(err, EINVAL, "no matching subnet for gateway %s", g);
        ret->prefix = subnet->prefix;
        return 0;
}

/* The subnets, gateways and options of a create body, checked like docker (nothing touched):
 * one IPv4 config and, with EnableIPv6, one IPv6 config, each subnet picked from the default
 * pools when absent. *ret_subnet6 has family 0 without IPv6. */
static int create_parse_locked(struct networks *n, json_t *body, struct berth_cidr *ret_subnet,
                               struct berth_cidr *ret_gw, struct berth_cidr *ret_subnet6,
                               struct berth_cidr *ret_gw6, struct berth_error **err)
{
        json_t *ipam = json_object_get(body, "IPAM");
        json_t *cfgs = json_object_get(ipam, "Config");
        const char *idrv = berth_json_get_str(ipam, "Driver");
        json_t *cfg, *cfg4 = NULL, *cfg6 = NULL, *opts = json_object_get(body, "Options");
        bool ipv6 = json_is_true(json_object_get(body, "EnableIPv6"));
        const char *k;
        json_t *v;
        size_t i;
        _cleanup_free_ struct berth_cidr *used = NULL;
        size_t n_used = used_subnets_locked(n, NULL, &used);
        struct berth_cidr subnet, gw, subnet6 = {0}, gw6 = {0};
        const char *s, *g;
        int r;

        if (idrv && *idrv && strcmp(idrv, "default") != 0)
                return berth_error_setx(err, EINVAL,
                                        "IPAM driver \"%s\" is not supported "
                                        "(only \"default\")",
                                        idrv);
        if (cfgs && !json_is_array(cfgs) && !json_is_null(cfgs))
                return berth_error_setx(err, EINVAL, "IPAM.Config: expected an array");
        json_object_foreach(opts, k, v)
        {
                static const char *const ok[] = {"com.docker.network.bridge.name",
                                                 "com.docker.network.bridge.enable_icc",
                                                 "com.docker.network.bridge.enable_ip_masquerade",
                                                 "com.docker.network.driver.mtu"};
                bool known = false;
                for (size_t j = 0; j < ARRAY_SIZE(ok); j++)
                        known |= strcmp(k, ok[j]) == 0;
                if (!known || !json_is_string(v))
                        return berth_error_setx(err, EINVAL, "network option `%s` is not supported",
                                                k);
        }
        json_array_foreach(cfgs, i, cfg)
        {
                json_object_foreach(cfg, k, v)
                {
                        if (strcmp(k, "Subnet") != 0 && strcmp(k, "Gateway") != 0 &&
                            !(json_is_string(v) && !*json_string_value(v)) &&
                            !(json_is_object(v) && !json_object_size(v)) && !json_is_null(v))
                                return berth_error_setx(err, EINVAL,
                                                        "IPAM config `%s` is not supported", k);
                }
                s = berth_json_get_str(cfg, "Subnet");
                if (s && *s) {
                        if (berth_cidr_parse(s, &subnet, NULL) < 0 || !strchr(s, '/'))
                                return berth_error_setx(err, EINVAL,
                                                        "invalid network config: invalid subnet "
                                                        "%s: invalid CIDR address",
                                                        s);
                        for (size_t j = 0; j < n_used; j++)
                                if (used[j].family == subnet.family &&
                                    berth_cidr_overlaps(&subnet, &used[j]))
                                        return berth_error_setx(
                                            err, EPERM,
                                            "invalid pool request: Pool overlaps "
                                            "with other one on this address space");
                }
                json_t **slot = s && *s && subnet.family == AF_INET6 ? &cfg6 : &cfg4;
                if (*slot)
                        return berth_error_setx(err, EINVAL,
                                                "only one IPv4 and one IPv6 IPAM config per "
                                                "network are supported");
                *slot = cfg;
        }
        if (cfg6 && !ipv6)
                return berth_error_setx(err, EINVAL,
                                        "an IPv6 subnet needs an IPv6 network (--ipv6, "
                                        "EnableIPv6)");

        s = berth_json_get_str(cfg4, "Subnet");
        g = berth_json_get_str(cfg4, "Gateway");
        if (s && *s) {
                berth_cidr_parse(s, &subnet, NULL);
                if (subnet.prefix > 30)
                        return berth_error_setx(err, EINVAL, "subnet %s is too small: at most /30",
                                                s);
        } else {
                if (g && *g)
                        return berth_error_setx(err, EINVAL,
                                                "invalid network config: a gateway needs a "
                                                "subnet");
                if (n->n_pools4)
                        r = berth_ipam_pick_pool(AF_INET, n->pools4, n->n_pools4, used, n_used,
                                                 &subnet, err);
                else
                        r = berth_ipam_pick_subnet(used, n_used, &subnet, err);
                if (r < 0)
                        return r;
        }
        r = gateway_parse(&subnet, g, &gw, err);
        if (r < 0)
                return r;
        if (cfg6) {
                s = berth_json_get_str(cfg6, "Subnet");
                berth_cidr_parse(s, &subnet6, NULL);
                if (subnet6.prefix > 126)
                        return berth_error_setx(err, EINVAL, "subnet %s is too small: at most /126",
                                                s);
                r = gateway_parse(&subnet6, berth_json_get_str(cfg6, "Gateway"), &gw6, err);
                if (r < 0)
                        return r;
        } else if (ipv6) {
                /* dockerd >= 27: a /64 of the IPv6 pools (the ULA of the engine ID unless
                 * configured), its first address the gateway */
                r = berth_ipam_pick_pool(AF_INET6, n->pools6, n->n_pools6, used, n_used, &subnet6,
                                         err);
                if (r < 0)
                        return r;
                berth_ipam_gateway(&subnet6, &gw6);
        }
        *ret_subnet = subnet;
        *ret_gw = gw;
        *ret_subnet6 = subnet6;
        *ret_gw6 = gw6;
        return 0;
}

int networks_create(struct networks *n, json_t *body, char **ret_id, json_t *warnings,
                    struct berth_error **err)
{
        const char *name = berth_json_get_str(body, "Name");
        const char *driver = berth_json_get_str(body, "Driver");
        json_t *labels = json_object_get(body, "Labels");
        json_t *opts = json_object_get(body, "Options");
        const char *from = berth_json_get_str(json_object_get(body, "ConfigFrom"), "Network");
        const char *bname;
        struct berth_cidr subnet, gw, subnet6, gw6;
        struct net_network *net = NULL;
        char id[65], b[16];
        json_t *doc, *ipam, *o;
        int r;

        (void)warnings;
        if (!name || !*name)
                return berth_error_setx(err, EINVAL, "network name must not be empty");
        if (!name_valid(name))
                return berth_error_setx(err, EINVAL,
                                        "invalid network name \"%s\": only "
                                        "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                                        name);
        if (driver && *driver && strcmp(driver, "bridge") != 0)
                return berth_error_setx(err, EINVAL,
                                        "network driver \"%s\" is not supported (only \"bridge\")",
                                        driver);
        if (json_is_true(json_object_get(body, "Ingress")) ||
            json_is_true(json_object_get(body, "ConfigOnly")) || (from && *from))
                return berth_error_setx(err, EINVAL,
                                        "swarm networks (Ingress, ConfigOnly, ConfigFrom) are not "
                                        "supported");
        {
                const char *scope = berth_json_get_str(body, "Scope");
                if (scope && *scope && strcmp(scope, "local") != 0)
                        return berth_error_setx(err, EINVAL,
                                                "network scope \"%s\" is not supported", scope);
        }
        if (labels && !json_is_object(labels) && !json_is_null(labels))
                return berth_error_setx(err, EINVAL, "Labels: expected an object");
        if (opts && !json_is_object(opts) && !json_is_null(opts))
                return berth_error_setx(err, EINVAL, "Options: expected an object");

        pthread_mutex_lock(&n->lock);
        for (size_t i = 0; i < n->n_nets; i++) {
                if (strcmp(n->nets[i]->name, name) == 0) {
                        r = berth_error_setx(err, EEXIST, "network with name %s already exists",
                                             name);
                        goto out;
                }
        }
        r = create_parse_locked(n, body, &subnet, &gw, &subnet6, &gw6, err);
        if (r < 0)
                goto out;
        berth_random_hex(id, 32);
        o = json_is_object(opts) ? json_deep_copy(opts) : json_object();
        bname = berth_json_get_str(o, "com.docker.network.bridge.name");
        if (!bname) {
                snprintf(b, sizeof(b), "br-%.12s", id);
                bname = b;
        }
        for (size_t i = 0; i < n->n_nets; i++) {
                if (n->nets[i]->bridge && strcmp(n->nets[i]->bridge, bname) == 0) {
                        json_decref(o);
                        r = berth_error_setx(err, EEXIST, "bridge name %s is used by network %s",
                                             bname, n->nets[i]->name);
                        goto out;
                }
        }
        ipam = ipam_config(&subnet, &gw, subnet6.family ? &subnet6 : NULL, &gw6);
        doc = network_doc(name, id, "bridge", ipam, o, json_object(), subnet6.family != 0,
                          json_is_true(json_object_get(body, "Internal")),
                          json_is_true(json_object_get(body, "Attachable")),
                          json_is_object(labels) ? json_deep_copy(labels) : NULL);
        {
                json_t *io = json_object_get(json_object_get(body, "IPAM"), "Options");
                if (json_is_object(io))
                        json_object_set(json_object_get(doc, "IPAM"), "Options", io);
        }
        net = network_from_doc(id, name, doc);
        json_decref(doc);
        if (!net) {
                r = berth_error_setx(err, EINVAL, "invalid network config");
                goto out;
        }
        /* the bridge first: a network that cannot work is not recorded */
        r = net_up_locked(n, net, err);
        if (r >= 0)
                r = network_save(n, net, err);
        if (r < 0) {
                if (net->up)
                        berth_bridge_remove(net->bridge, NULL);
                network_free(net);
                goto out;
        }
        table_add_locked(n, net);
        {
                _cleanup_error_ struct berth_error *e = NULL;
                if (net_rules_apply_locked(n, &e) < 0)
                        berth_warn("network %s: rules: %s", name, e->msg);
        }
        *ret_id = xstrdup(id);
out:
        pthread_mutex_unlock(&n->lock);
        if (r >= 0)
                events_publish(n->d, "network", "create", id,
                               json_pack("{s:s,s:s}", "name", name, "type", "bridge"));
        return r;
}

static int remove_locked(struct networks *n, struct net_network *net, struct berth_error **err)
{
        _cleanup_error_ struct berth_error *e = NULL;
        int r;

        if (builtin(net))
                return berth_error_setx(
                    err, EPERM, "%s is a pre-defined network and cannot be removed", net->name);
        if (in_use_locked(n, net))
                return berth_error_setx(err, EBUSY,
                                        "error while removing network: network %s id %s has "
                                        "active endpoints",
                                        net->name, net->id);
        r = db_exec(n->d, "DELETE FROM networks WHERE id = ?", (const char *[]){net->id}, 1, err);
        if (r < 0)
                return r;
        table_drop_locked(n, net);
        berth_dns_stop(TAKE_PTR(net->dns));
        if (net->up && berth_bridge_remove(net->bridge, &e) < 0) {
                berth_warn("network %s: %s", net->name, e->msg);
                berth_error_free(TAKE_PTR(e));
        }
        if (net_rules_apply_locked(n, &e) < 0)
                berth_warn("network %s: rules: %s", net->name, e->msg);
        events_publish(n->d, "network", "destroy", net->id,
                       json_pack("{s:s,s:s}", "name", net->name, "type", net->driver));
        network_free(net);
        return 0;
}

int networks_remove(struct networks *n, const char *ref, struct berth_error **err)
{
        struct net_network *net;
        int r;

        pthread_mutex_lock(&n->lock);
        net_reaper_drain_locked(n);
        r = net_lookup_locked(n, ref, &net, err);
        if (r >= 0)
                r = remove_locked(n, net, err);
        pthread_mutex_unlock(&n->lock);
        return r;
}

int networks_prune(struct networks *n, json_t *filters, json_t **ret, struct berth_error **err)
{
        json_t *deleted = json_array();
        const char *k;
        json_t *v;

        json_object_foreach(filters, k, v)
        {
                if (strcmp(k, "label") != 0 && strcmp(k, "until") != 0 &&
                    strcmp(k, "label!") != 0) {
                        json_decref(deleted);
                        return berth_error_setx(err, EINVAL, "invalid filter '%s'", k);
                }
                if (strcmp(k, "label") != 0) {
                        json_decref(deleted);
                        return berth_error_setx(err, EINVAL, "prune filter '%s' is not supported",
                                                k);
                }
        }
        pthread_mutex_lock(&n->lock);
        net_reaper_drain_locked(n);
        for (size_t i = n->n_nets; i-- > 0;) {
                struct net_network *net = n->nets[i];
                _cleanup_free_ char *name = xstrdup(net->name);
                if (builtin(net) || in_use_locked(n, net) ||
                    !berth_labels_match_all(json_object_get(net->doc, "Labels"),
                                            json_object_get(filters, "label")))
                        continue;
                if (remove_locked(n, net, NULL) >= 0)
                        json_array_append_new(deleted, json_string(name));
        }
        pthread_mutex_unlock(&n->lock);
        *ret = deleted;
        return 0;
}
