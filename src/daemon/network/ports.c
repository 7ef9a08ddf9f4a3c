/* Published ports: HostConfig.PortBindings ("80/tcp": [{"HostIp", "HostPort"}], ranges on
 * either side) and PublishAllPorts (every exposed port of the config and the image onto a free
 * host port), reserved by a bind held for as long as the container runs (src/net's
 * berth_net_port_reserve: docker's "port is already allocated"), DNAT'd by the `ip berth` table
 * (IPv6 host addresses, and [::] on an IPv6 network, by `ip6 berth`). No proxy process. */
#include "daemon/network/network-internal.h"

#include <arpa/inet.h>

/* "80", "80-90" → [lo, hi]; false on anything else (0 allowed only when zero_ok) */
static bool range_parse(const char *s, bool zero_ok, unsigned *ret_lo, unsigned *ret_hi)
{
        char *end;
        unsigned long lo, hi;

        if (!s || !*s || !strchr("0123456789", s[0]))
                return false;
        lo = strtoul(s, &end, 10);
        hi = lo;
        if (*end == '-') {
                if (!strchr("0123456789", end[1]))
                        return false;
                hi = strtoul(end + 1, &end, 10);
        }
        if (*end || lo > 65535 || hi > 65535 || hi < lo || (!zero_ok && lo == 0))
                return false;
        *ret_lo = (unsigned)lo;
        *ret_hi = (unsigned)hi;
        return true;
}

/* "80/tcp" → range and protocol */
static int port_key_parse(const char *key, unsigned *lo, unsigned *hi, const char **proto,
                          struct berth_error **err)
{
        const char *slash = strchr(key, '/');
        _cleanup_free_ char *num = slash ? xstrndup(key, (size_t)(slash - key)) : xstrdup(key);

        *proto = slash ? slash + 1 : "tcp";
        if (strcmp(*proto, "tcp") != 0 && strcmp(*proto, "udp") != 0) {
                if (strcmp(*proto, "sctp") == 0)
                        return berth_error_setx(err, EINVAL,
                                                "sctp port publishing is not supported: %s", key);
                return berth_error_setx(err, EINVAL, "invalid proto: %s", *proto);
        }
        if (!range_parse(num, false, lo, hi))
                return berth_error_setx(err, EINVAL, "invalid containerPort: %s", num);
        return 0;
}

/* An IPv6 host address DNAT'd by the `ip6 berth` table: not the loopback nor a link-local one,
 * whose packets the kernel never routes through a bridge (the reply would arrive on the bridge
 * for ::1, which IPv6 drops, having no route_localnet; dockerd hands both to its userland proxy,
 * which berth does not have). */
static int host_ip6_check(const struct berth_cidr *a, const char *ip, struct berth_error **err)
{
        if (a->family != AF_INET6)
                return 0;
        if (IN6_IS_ADDR_LOOPBACK(&a->addr.v6))
                return berth_error_setx(err, EINVAL,
                                        "publishing on %s is not supported: the kernel does not "
                                        "forward IPv6 loopback traffic to a container and berth "
                                        "has no userland proxy (publish on 127.0.0.1, on [::] or "
                                        "on another IPv6 address of the host)",
                                        ip);
        if (IN6_IS_ADDR_LINKLOCAL(&a->addr.v6) || IN6_IS_ADDR_V4MAPPED(&a->addr.v6) ||
            IN6_IS_ADDR_MULTICAST(&a->addr.v6))
                return berth_error_setx(err, EINVAL,
                                        "publishing on %s is not supported: a link-local, "
                                        "multicast or IPv4-mapped address cannot be forwarded to "
                                        "a container",
                                        ip);
        return 0;
}

static void want_add(json_t *out, const char *proto, const char *ip, unsigned hlo, unsigned hhi,
                     unsigned cport)
{
        json_array_append_new(out, json_pack("{s:s,s:s,s:i,s:i,s:i}", "Proto", proto, "HostIp",
                                             ip ? ip : "", "HostLo", hlo, "HostHi", hhi,
                                             "ContainerPort", cport));
}

int net_ports_wanted(json_t *create, json_t *image_config, json_t **ret, struct berth_error **err)
{
        json_t *hc = json_object_get(create, "HostConfig");
        json_t *pb = json_object_get(hc, "PortBindings");
        _cleanup_json_ json_t *out = json_array();
        const char *key;
        json_t *binds;
        int r;

        if (pb && !json_is_object(pb) && !json_is_null(pb))
                return berth_error_setx(err, EINVAL, "PortBindings: expected an object");
        json_object_foreach(pb, key, binds)
        {
                unsigned clo, chi;
                const char *proto;
                json_t *b;
                size_t i;
                r = port_key_parse(key, &clo, &chi, &proto, err);
                if (r < 0)
                        return r;
                if (binds && !json_is_array(binds) && !json_is_null(binds))
                        return berth_error_setx(err, EINVAL, "PortBindings[%s]: expected an array",
                                                key);
                json_array_foreach(binds, i, b)
                {
                        const char *ip = berth_json_get_str(b, "HostIp");
                        const char *hp = berth_json_get_str(b, "HostPort");
                        unsigned hlo = 0, hhi = 0;
                        struct berth_cidr a;
                        if (ip && *ip) {
                                if (berth_cidr_parse(ip, &a, NULL) < 0 || strchr(ip, '/'))
                                        return berth_error_setx(err, EINVAL,
                                                                "invalid IP address: %s", ip);
                                r = host_ip6_check(&a, ip, err);
                                if (r < 0)
                                        return r;
                        }
                        if (hp && *hp && !range_parse(hp, true, &hlo, &hhi))
                                return berth_error_setx(err, EINVAL, "invalid hostPort: %s", hp);
                        if (chi > clo && hhi != 0 && hhi - hlo != chi - clo)
                                return berth_error_setx(err, EINVAL,
                                                        "invalid ranges specified for container "
                                                        "and host Ports: %s and %s",
                                                        key, hp);
                        for (unsigned c = clo; c <= chi; c++) {
                                if (chi > clo && hhi != 0)
                                        want_add(out, proto, ip, hlo + (c - clo), hlo + (c - clo),
                                                 c);
                                else
                                        want_add(out, proto, ip, hlo, hhi, c);
                        }
                }
        }
        if (json_is_true(json_object_get(hc, "PublishAllPorts"))) {
                json_t *sets[] = {json_object_get(create, "ExposedPorts"),
                                  json_object_get(image_config, "ExposedPorts")};
                /* the container ports already bound, per protocol (tcp, udp): an exposed range
                 * of thousands of ports stays linear */
                _cleanup_free_ uint8_t *bound = xcalloc(2, 65536 / 8);
                size_t i;
                json_t *w;
                json_array_foreach(out, i, w)
                {
                        json_int_t c = json_integer_value(json_object_get(w, "ContainerPort"));
                        bool udp = strcmp(berth_json_get_str(w, "Proto") ?: "", "udp") == 0;
                        if (c >= 0 && c < 65536)
                                bound[(udp ? 8192 : 0) + c / 8] |= (uint8_t)(1u << (c % 8));
                }
                for (size_t s = 0; s < ARRAY_SIZE(sets); s++) {
                        json_t *dummy;
                        json_object_foreach(sets[s], key, dummy)
                        {
                                unsigned clo, chi;
                                const char *proto;
                                r = port_key_parse(key, &clo, &chi, &proto, err);
                                if (r < 0)
                                        return r;
                                uint8_t *set = bound + (strcmp(proto, "udp") == 0 ? 8192 : 0);
                                for (unsigned c = clo; c <= chi; c++) {
                                        if (set[c / 8] & (1u << (c % 8)))
                                                continue;
                                        set[c / 8] |= (uint8_t)(1u << (c % 8));
                                        want_add(out, proto, NULL, 0, 0, c);
                                }
                        }
                }
        }
        *ret = TAKE_PTR(out);
        return 0;
}

void net_ports_close(struct net_sandbox *sb)
{
        for (size_t i = 0; i < sb->n_ports; i++) {
                if (sb->ports[i].fd >= 0)
                        close(sb->ports[i].fd);
                sb->ports[i].fd = -1;
        }
}

int net_ports_reserve(struct net_sandbox *sb, json_t *wanted, bool ipv6, struct berth_error **err)
{
        size_t n = json_array_size(wanted), i, cnt = 0;
        /* on an IPv6 network a port on every address is also [::]:port (docker's second
         * binding), DNAT'd to the container's IPv6 address */
        struct net_port *ports = xcalloc(2 * n + 1, sizeof(*ports));
        json_t *w;

        json_array_foreach(wanted, i, w)
        {
                struct net_port *p = &ports[cnt], *p6 = &ports[cnt + 1];
                const char *ip = berth_json_get_str(w, "HostIp");
                unsigned lo = (unsigned)json_integer_value(json_object_get(w, "HostLo"));
                unsigned hi = (unsigned)json_integer_value(json_object_get(w, "HostHi"));
                bool six = false, refused = false;
                int r = -EINVAL;
                p->fd = p6->fd = -1;
                p->proto = strcmp(berth_json_get_str(w, "Proto") ?: "", "udp") == 0 ? IPPROTO_UDP
                                                                                    : IPPROTO_TCP;
                p->container_port =
                    (uint16_t)json_integer_value(json_object_get(w, "ContainerPort"));
                if (ip && *ip)
                        berth_cidr_parse(ip, &p->host_ip, NULL);
                if (p->host_ip.family == AF_INET6 && !ipv6) {
                        /* DNAT does not cross address families, and there is no proxy */
                        berth_error_setx(err, EINVAL,
                                         "publishing on IPv6 address %s needs an IPv6 network: "
                                         "the container's first network has no IPv6 subnet "
                                         "(network create --ipv6)",
                                         ip);
                        refused = true;
                } else if (!(ip && *ip) && ipv6) {
                        six = true;
                        *p6 = *p;
                        berth_cidr_parse("::", &p6->host_ip, NULL);
                }
                for (unsigned port = lo; port <= hi && !refused; port++) {
                        /* a range: the first free port of it, the last failure otherwise */
                        if (port > lo && err && *err)
                                berth_error_free(TAKE_PTR(*err));
                        r = berth_net_port_reserve(p->proto, p->host_ip.family ? &p->host_ip : NULL,
                                                   (uint16_t)port, &p->host_port, &p->fd, err);
                        if (r >= 0 && six) {
                                r = berth_net_port_reserve(p6->proto, &p6->host_ip, p->host_port,
                                                           &p6->host_port, &p6->fd, err);
                                if (r < 0) {
                                        close(p->fd);
                                        p->fd = -1;
                                }
                        }
                        if (r >= 0)
                                break;
                }
                if (r < 0) {
                        for (size_t k = 0; k < cnt; k++)
                                close(ports[k].fd);
                        free(ports);
                        if (refused)
                                return r;
                        return berth_error_wrap(err, "driver failed programming external "
                                                     "connectivity on endpoint");
                }
                cnt += six ? 2 : 1;
        }
        net_ports_close(sb);
        free(sb->ports);
        sb->ports = ports;
        sb->n_ports = cnt;
        return 0;
}

void net_ports_rebind(struct net_sandbox *sb)
{
        for (size_t i = 0; i < sb->n_ports; i++) {
                struct net_port *p = &sb->ports[i];
                _cleanup_error_ struct berth_error *e = NULL;
                if (p->fd >= 0)
                        continue;
                if (berth_net_port_reserve(p->proto, p->host_ip.family ? &p->host_ip : NULL,
                                           p->host_port, NULL, &p->fd, &e) < 0)
                        berth_warn("container `%.12s`: published port %u: %s", sb->container_id,
                                   p->host_port, e->msg);
        }
}

static void host_ip_text(const struct net_port *p, char *buf, size_t size)
{
        if (p->host_ip.family)
                berth_cidr_format(&p->host_ip, false, buf, size);
        else
                snprintf(buf, size, "0.0.0.0");
}

json_t *net_ports_settings(const struct net_sandbox *sb, json_t *create, json_t *image_config)
{
        json_t *out = json_object();
        json_t *sets[] = {json_object_get(create, "ExposedPorts"),
                          json_object_get(image_config, "ExposedPorts"),
                          json_object_get(json_object_get(create, "HostConfig"), "PortBindings")};
        const char *key;
        json_t *dummy;

        if (!sb)
                return out;
        for (size_t s = 0; s < ARRAY_SIZE(sets); s++) {
                json_object_foreach(sets[s], key, dummy)
                {
                        unsigned lo, hi;
                        const char *proto;
                        if (port_key_parse(key, &lo, &hi, &proto, NULL) < 0)
                                continue;
                        for (unsigned c = lo; c <= hi; c++) {
                                _cleanup_free_ char *k = xasprintf("%u/%s", c, proto);
                                if (!json_object_get(out, k))
                                        json_object_set_new(out, k, json_null());
                        }
                }
        }
        for (size_t i = 0; i < sb->n_ports; i++) {
                const struct net_port *p = &sb->ports[i];
                _cleanup_free_ char *k =
                    xasprintf("%u/%s", p->container_port, p->proto == IPPROTO_UDP ? "udp" : "tcp");
                json_t *arr = json_object_get(out, k);
                char ip[64], port[8];
                if (!json_is_array(arr)) {
                        arr = json_array();
                        json_object_set_new(out, k, arr);
                }
                host_ip_text(p, ip, sizeof(ip));
                snprintf(port, sizeof(port), "%u", p->host_port);
                json_array_append_new(arr, json_pack("{s:s,s:s}", "HostIp", ip, "HostPort", port));
        }
        return out;
}

json_t *net_ports_summary(const struct net_sandbox *sb)
{
        json_t *out = json_array();

        for (size_t i = 0; sb && i < sb->n_ports; i++) {
                const struct net_port *p = &sb->ports[i];
                char ip[64];
                host_ip_text(p, ip, sizeof(ip));
                json_array_append_new(out,
                                      json_pack("{s:s,s:i,s:i,s:s}", "IP", ip, "PrivatePort",
                                                p->container_port, "PublicPort", p->host_port,
                                                "Type", p->proto == IPPROTO_UDP ? "udp" : "tcp"));
        }
        return out;
}
