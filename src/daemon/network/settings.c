/* What inspect and the container list show of a container's networking: docker's
 * NetworkSettings (the default bridge's legacy top-level fields, Networks with addresses,
 * endpoint ids, aliases and DNS names, Ports) and the list's Ports and Networks. */
#include "daemon/containers/containers.h"
#include "daemon/daemon.h"
#include "daemon/state/events.h"
#include "daemon/network/network-internal.h"

/* ---------------------------------------------------------------- inspect, ps */

static json_t *endpoint_settings_locked(struct networks *n, struct container *c, const char *name,
                                        json_t *es)
{
        struct net_network *net = net_attached_locked(n, name, es);
        struct net_endpoint *ep = NULL;
        json_t *aliases = json_object_get(es, "Aliases"), *dnsnames = json_null();
        json_t *ipam = json_object_get(es, "IPAMConfig");
        char a[64] = "", g[64] = "", mac[18] = "", a6[64] = "", g6[64] = "";

        for (size_t i = 0; net && i < n->n_eps && !ep; i++)
                if (strcmp(n->eps[i]->container_id, c->id) == 0 &&
                    strcmp(n->eps[i]->network_id, net->id) == 0)
                        ep = n->eps[i];
        if (ep) {
                berth_cidr_format(&ep->addr, false, a, sizeof(a));
                berth_cidr_format(&net->gateway, false, g, sizeof(g));
                net_mac_format(ep->mac, mac);
                if (ep->addr6.family) {
                        berth_cidr_format(&ep->addr6, false, a6, sizeof(a6));
                        berth_cidr_format(&net->gateway6, false, g6, sizeof(g6));
                }
        }
        aliases = json_array_size(aliases) ? json_deep_copy(aliases) : json_null();
        if (net && !net->is_default) {
                size_t i;
                json_t *e;
                if (json_is_null(aliases))
                        aliases = json_array();
                dnsnames = json_pack("[s]", c->name);
                json_array_append_new(dnsnames, json_stringn(c->id, 12));
                json_array_foreach(json_object_get(es, "Aliases"), i, e)
                    json_array_append(dnsnames, e);
                json_array_append_new(aliases, json_stringn(c->id, 12));
        }
        return json_pack("{s:O,s:n,s:o,s:s,s:n,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:i,s:o}", "IPAMConfig",
                         json_is_object(ipam) ? ipam : json_null(), "Links", "Aliases", aliases,
                         "MacAddress", mac, "DriverOpts", "NetworkID",
                         net ? net->id : berth_json_get_str(es, "NetworkID") ?: "",
                         "EndpointID", ep ? ep->endpoint_id : "", "Gateway", g, "IPAddress", a,
                         "IPPrefixLen", ep ? (int)ep->addr.prefix : 0, "IPv6Gateway", g6,
                         "GlobalIPv6Address", a6, "GlobalIPv6PrefixLen",
                         ep && ep->addr6.family ? (int)ep->addr6.prefix : 0, "DNSNames", dnsnames);
}

static json_t *networks_json_locked(struct networks *n, struct container *c)
{
        json_t *nets = json_object();
        const char *mode = net_mode_of(container_cfg(c, "HostConfig"));
        json_t *attach = json_object_get(c->config, "networks"), *es;
        const char *k;

        if (strcmp(mode, "host") == 0 || strcmp(mode, "none") == 0) {
                bool ambiguous;
                struct net_network *net = net_find_locked(n, mode, &ambiguous);
                _cleanup_json_ json_t *fake = json_pack("{s:s}", "NetworkID", net ? net->id : "");
                json_object_set_new(nets, mode, endpoint_settings_locked(n, c, mode, fake));
                return nets;
        }
        json_object_foreach(attach, k, es)
            json_object_set_new(nets, k, endpoint_settings_locked(n, c, k, es));
        return nets;
}

json_t *network_settings_json(struct networks *n, struct container *c)
{
        json_t *nets, *ports, *b, *j;
        struct net_sandbox *sb;
        bool running = container_is_running(n->d->containers, c);

        pthread_mutex_lock(&n->lock);
        nets = networks_json_locked(n, c);
        sb = running ? net_sandbox_of_locked(n, c->id) : NULL;
        ports = net_ports_settings(sb, json_object_get(c->config, "create"),
                                   json_object_get(c->config, "image_config"));
        j = json_pack("{s:s,s:s,s:s,s:b,s:s,s:i,s:n,s:n,s:s,s:s,s:s,s:i,s:s,s:i,s:s,s:s}", "Bridge",
                      "", "SandboxID", sb ? c->id : "", "SandboxKey", sb ? sb->netns_path : "",
                      "HairpinMode", false, "LinkLocalIPv6Address", "", "LinkLocalIPv6PrefixLen", 0,
                      "SecondaryIPAddresses", "SecondaryIPv6Addresses", "EndpointID", "", "Gateway",
                      "", "GlobalIPv6Address", "", "GlobalIPv6PrefixLen", 0, "IPAddress", "",
                      "IPPrefixLen", 0, "IPv6Gateway", "", "MacAddress", "");
        pthread_mutex_unlock(&n->lock);
        json_object_set_new(j, "Ports", ports);
        /* the top-level fields are the default bridge's (docker's legacy view) */
        b = json_object_get(nets, "bridge");
        if (b) {
                static const char *const keys[] = {"EndpointID",        "Gateway",
                                                   "IPAddress",         "IPPrefixLen",
                                                   "GlobalIPv6Address", "GlobalIPv6PrefixLen",
                                                   "IPv6Gateway",       "MacAddress"};
                for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
                        json_object_set(j, keys[i], json_object_get(b, keys[i]));
        }
        json_object_set_new(j, "Networks", nets);
        return j;
}

json_t *network_ports_summary(struct networks *n, struct container *c)
{
        json_t *out, *settings;
        bool running = container_is_running(n->d->containers, c);
        struct net_sandbox *sb;
        const char *k;
        json_t *v;

        pthread_mutex_lock(&n->lock);
        sb = running ? net_sandbox_of_locked(n, c->id) : NULL;
        out = net_ports_summary(sb);
        settings = net_ports_settings(sb, json_object_get(c->config, "create"),
                                      json_object_get(c->config, "image_config"));
        pthread_mutex_unlock(&n->lock);
        /* exposed but not published ports are listed without a public port */
        json_object_foreach(settings, k, v)
        {
                unsigned port = (unsigned)strtoul(k, NULL, 10);
                const char *proto = strchr(k, '/') ? strchr(k, '/') + 1 : "tcp";
                if (!json_is_null(v))
                        continue;
                json_array_append_new(out,
                                      json_pack("{s:i,s:s}", "PrivatePort", port, "Type", proto));
        }
        json_decref(settings);
        return out;
}

json_t *network_networks_summary(struct networks *n, struct container *c)
{
        json_t *nets;

        pthread_mutex_lock(&n->lock);
        nets = networks_json_locked(n, c);
        pthread_mutex_unlock(&n->lock);
        return nets;
}
