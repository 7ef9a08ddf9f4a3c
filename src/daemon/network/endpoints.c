/* A container's networking: the attachments checked at create, the sandbox (a pinned netns) and
 * one endpoint per attached network made at start (veth, an IPAM address recorded in the db
 * before the veth exists, so an address is never handed out twice, also across a kill -9),
 * released at exit; connect/disconnect; resolv.conf; NetworkSettings for inspect and ps. */
#include "daemon/containers/containers.h"
#include "daemon/daemon.h"
#include "daemon/state/events.h"
#include "daemon/network/network-internal.h"

#include <arpa/inet.h>
#include <sys/stat.h>

void net_mac_format(const uint8_t mac[6], char buf[18])
{
        snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
                 mac[5]);
}

static bool mac_parse(const char *s, uint8_t ret[6])
{
        unsigned v[6];
        char tail;

        if (!s ||
            sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                   &tail) != 6 ||
            strlen(s) != 17)
                return false;
        for (int i = 0; i < 6; i++)
                ret[i] = (uint8_t)v[i];
        return true;
}

/* ---------------------------------------------------------------- records */

void net_endpoint_free(struct net_endpoint *ep)
{
        if (!ep)
                return;
        free(ep->container_id);
        free(ep->network_id);
        free(ep->endpoint_id);
        free(ep->name);
        free(ep->ifname);
        free(ep->host_ifname);
        json_decref(ep->aliases);
        json_decref(ep->dns);
        free(ep);
}

json_t *net_endpoint_to_json(const struct net_endpoint *ep)
{
        char a[64], a6[64], mac[18];
        json_t *j;

        berth_cidr_format(&ep->addr, true, a, sizeof(a));
        net_mac_format(ep->mac, mac);
        j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:O,s:O}", "EndpointID", ep->endpoint_id, "Name",
                      ep->name, "IfName", ep->ifname, "HostIfName", ep->host_ifname ?: "",
                      "Address", a, "MacAddress", mac, "Aliases", ep->aliases, "Forwarders",
                      ep->dns);
        if (ep->addr6.family) {
                berth_cidr_format(&ep->addr6, true, a6, sizeof(a6));
                json_object_set_new(j, "Address6", json_string(a6));
        }
        return j;
}

struct net_endpoint *net_endpoint_from_json(const char *container_id, const char *network_id,
                                            json_t *j)
{
        struct net_endpoint *ep = xcalloc(1, sizeof(*ep));
        const char *a = berth_json_get_str(j, "Address");

        ep->container_id = xstrdup(container_id);
        ep->network_id = xstrdup(network_id);
        ep->endpoint_id = xstrdup(berth_json_get_str(j, "EndpointID") ?: "");
        ep->name = xstrdup(berth_json_get_str(j, "Name") ?: "");
        ep->ifname = xstrdup(berth_json_get_str(j, "IfName") ?: "eth0");
        ep->host_ifname = xstrdup(berth_json_get_str(j, "HostIfName") ?: "");
        ep->aliases = json_incref(json_object_get(j, "Aliases"));
        if (!json_is_array(ep->aliases)) {
                json_decref(ep->aliases);
                ep->aliases = json_array();
        }
        const char *a6 = berth_json_get_str(j, "Address6");
        ep->dns = json_incref(json_object_get(j, "Forwarders"));
        if (!json_is_array(ep->dns)) {
                json_decref(ep->dns);
                ep->dns = json_array();
        }
        if (!a || berth_cidr_parse(a, &ep->addr, NULL) < 0 ||
            (a6 && berth_cidr_parse(a6, &ep->addr6, NULL) < 0) ||
            !mac_parse(berth_json_get_str(j, "MacAddress"), ep->mac)) {
                net_endpoint_free(ep);
                return NULL;
        }
        return ep;
}

void net_sandbox_free(struct net_sandbox *sb)
{
        if (!sb)
                return;
        net_ports_close(sb);
        free(sb->ports);
        free(sb->container_id);
        free(sb->netns_path);
        free(sb->network_id);
        free(sb);
}

json_t *net_sandbox_to_json(const struct net_sandbox *sb)
{
        json_t *ports = json_array();

        for (size_t i = 0; i < sb->n_ports; i++) {
                const struct net_port *p = &sb->ports[i];
                char ip[64] = "";
                if (p->host_ip.family)
                        berth_cidr_format(&p->host_ip, false, ip, sizeof(ip));
                json_array_append_new(ports, json_pack("{s:s,s:s,s:i,s:i}", "Proto",
                                                       p->proto == IPPROTO_UDP ? "udp" : "tcp",
                                                       "HostIp", ip, "HostPort", p->host_port,
                                                       "ContainerPort", p->container_port));
        }
        return json_pack("{s:s,s:s?,s:o}", "NetnsPath", sb->netns_path, "NetworkID", sb->network_id,
                         "Ports", ports);
}

struct net_sandbox *net_sandbox_from_json(const char *container_id, json_t *j)
{
        struct net_sandbox *sb = xcalloc(1, sizeof(*sb));
        json_t *ports = json_object_get(j, "Ports"), *p;
        size_t i;

        sb->container_id = xstrdup(container_id);
        sb->netns_path = xstrdup(berth_json_get_str(j, "NetnsPath") ?: "");
        if (berth_json_get_str(j, "NetworkID"))
                sb->network_id = xstrdup(berth_json_get_str(j, "NetworkID"));
        sb->ports = xcalloc(json_array_size(ports) + 1, sizeof(*sb->ports));
        json_array_foreach(ports, i, p)
        {
                struct net_port *q = &sb->ports[sb->n_ports];
                const char *ip = berth_json_get_str(p, "HostIp");
                q->proto = strcmp(berth_json_get_str(p, "Proto") ?: "", "udp") == 0 ? IPPROTO_UDP
                                                                                    : IPPROTO_TCP;
                if (ip && *ip && berth_cidr_parse(ip, &q->host_ip, NULL) < 0)
                        continue;
                q->host_port = (uint16_t)json_integer_value(json_object_get(p, "HostPort"));
                q->container_port =
                    (uint16_t)json_integer_value(json_object_get(p, "ContainerPort"));
                q->fd = -1;
                sb->n_ports++;
        }
        return sb;
}

struct net_sandbox *net_sandbox_of_locked(struct networks *n, const char *container_id)
{
        for (size_t i = 0; i < n->n_sbs; i++)
                if (strcmp(n->sbs[i]->container_id, container_id) == 0)
                        return n->sbs[i];
        return NULL;
}

static int sandbox_save(struct networks *n, struct net_sandbox *sb, struct berth_error **err)
{
        _cleanup_json_ json_t *j = net_sandbox_to_json(sb);
        _cleanup_free_ char *text = berth_json_dump(j, false);
        const char *args[] = {sb->container_id, text};

        return db_exec(n->d,
                       "INSERT OR REPLACE INTO sandboxes (container_id, config) VALUES (?, ?)",
                       args, 2, err);
}

/* ---------------------------------------------------------------- the reaper */

#define POOL_SIZE 3

static bool pool_wanted_locked(struct networks *n)
{
        return !n->closing && !n->pool_off && n->pool_dir && n->n_pool < POOL_SIZE;
}

/* One namespace more in the pool (called and returning with the lock held, released while the
 * namespace is made). */
static void pool_fill_one_locked(struct networks *n)
{
        _cleanup_error_ struct berth_error *e = NULL;
        char hex[17];
        _cleanup_free_ char *path = NULL;
        int fd = -1, r;

        berth_random_hex(hex, 8);
        path = xasprintf("%s/%s", n->pool_dir, hex);
        pthread_mutex_unlock(&n->lock);
        r = berth_netns_create_nl(path, &fd, &e);
        pthread_mutex_lock(&n->lock);
        if (r < 0) {
                berth_debug("network: no warm pool: %s", e->msg);
                n->pool_off = true;
                return;
        }
        if (n->closing) {
                close(fd);
                berth_netns_remove(path, NULL);
                return;
        }
        n->pool = xrealloc(n->pool, (n->n_pool + 1) * sizeof(*n->pool));
        n->pool[n->n_pool++] = (struct net_warm){TAKE_PTR(path), fd};
}

static void reap_forget_locked(struct networks *n, size_t i)
{
        free(n->reap[i].host_ifname);
        free(n->reap[i].network_id);
        free(n->reap[i].pin);
        memmove(&n->reap[i], &n->reap[i + 1], (n->n_reap - i - 1) * sizeof(*n->reap));
        n->n_reap--;
        pthread_cond_broadcast(&n->reap_cond); /* net_reaper_drain_locked */
}

/* The thread behind the request path: deletes released links, then tops the pool up. */
static void *reaper_run(void *arg)
{
        struct networks *n = arg;

        pthread_mutex_lock(&n->lock);
        for (;;) {
                _cleanup_error_ struct berth_error *e = NULL;
                _cleanup_free_ char *name = NULL;
                while (!n->n_reap && !n->closing && !pool_wanted_locked(n))
                        pthread_cond_wait(&n->reap_cond, &n->lock);
                if (!n->n_reap && n->closing)
                        break;
                if (!n->n_reap) {
                        pool_fill_one_locked(n);
                        continue;
                }
                bool pin = n->reap[0].pin != NULL;
                name = xstrdup(pin ? n->reap[0].pin : n->reap[0].host_ifname);
                pthread_mutex_unlock(&n->lock);
                if (pin ? berth_netns_remove(name, &e) < 0 : berth_endpoint_remove(name, &e) < 0)
                        berth_warn("%s `%s`: %s", pin ? "netns" : "endpoint", name, e->msg);
                pthread_mutex_lock(&n->lock);
                /* a start that wanted its address may have deleted it meanwhile */
                for (size_t i = 0; i < n->n_reap; i++) {
                        if (strcmp(n->reap[i].pin ?: n->reap[i].host_ifname, name) == 0) {
                                reap_forget_locked(n, i);
                                break;
                        }
                }
        }
        pthread_mutex_unlock(&n->lock);
        return NULL;
}

void net_pool_clear(struct networks *n)
{
        _cleanup_dir_ DIR *dir = NULL;
        struct dirent *de;

        pthread_mutex_lock(&n->lock);
        for (size_t i = 0; i < n->n_pool; i++) {
                close(n->pool[i].nl_fd);
                berth_netns_remove(n->pool[i].path, NULL);
                free(n->pool[i].path);
        }
        n->n_pool = 0;
        dir = n->pool_dir ? opendir(n->pool_dir) : NULL;
        while (dir && (de = readdir(dir))) {
                _cleanup_free_ char *p = NULL;
                if (de->d_name[0] == '.')
                        continue;
                p = xasprintf("%s/%s", n->pool_dir, de->d_name);
                berth_netns_remove(p, NULL);
        }
        pthread_mutex_unlock(&n->lock);
}

int net_sandbox_ns_make_locked(struct networks *n, const char *path, int *ret_nl_fd,
                               struct berth_error **err)
{
        int fd = -1, r;

        while (n->n_pool > 0) {
                _cleanup_error_ struct berth_error *e = NULL;
                struct net_warm w = n->pool[--n->n_pool];
                pthread_cond_broadcast(&n->reap_cond); /* made again behind us */
                r = berth_netns_bind(w.path, path, &e);
                if (r < 0) {
                        berth_warn("network: warm namespace: %s", e->msg);
                        berth_netns_remove(w.path, NULL);
                        free(w.path);
                        close(w.nl_fd);
                        continue;
                }
                if (n->reaper_started && !n->closing) {
                        /* its warm pin goes behind the request (an unmount waits for RCU) */
                        n->reap = xrealloc(n->reap, (n->n_reap + 1) * sizeof(*n->reap));
                        n->reap[n->n_reap++] = (struct net_reap){.pin = TAKE_PTR(w.path)};
                } else if (berth_netns_remove(w.path, &e) < 0) {
                        berth_warn("network: warm namespace: %s", e->msg);
                }
                free(w.path);
                if (ret_nl_fd)
                        *ret_nl_fd = w.nl_fd;
                else
                        close(w.nl_fd);
                return 0;
        }
        r = berth_netns_create_nl(path, &fd, err);
        if (r < 0)
                return r;
        if (ret_nl_fd)
                *ret_nl_fd = fd;
        else
                close(fd);
        return 0;
}

void net_reaper_start(struct networks *n)
{
        pthread_cond_init(&n->reap_cond, NULL);
        n->reaper_started = pthread_create(&n->reaper, NULL, reaper_run, n) == 0;
        if (!n->reaper_started)
                berth_warn("network: no reaper thread: released links are deleted in line");
}

void net_reaper_stop(struct networks *n)
{
        pthread_mutex_lock(&n->lock);
        n->closing = true;
        pthread_cond_broadcast(&n->reap_cond);
        pthread_mutex_unlock(&n->lock);
        if (n->reaper_started)
                pthread_join(n->reaper, NULL);
        n->reaper_started = false;
}

void net_reaper_drain_locked(struct networks *n)
{
        while (n->n_reap && n->reaper_started)
                pthread_cond_wait(&n->reap_cond, &n->lock);
}

/* Forget ep (db row, memory); its link is deleted now (sync) or queued for the reaper. */
static void endpoint_forget_locked(struct networks *n, struct net_endpoint *ep, bool sync)
{
        _cleanup_error_ struct berth_error *e = NULL;
        struct net_network *net = net_by_id_locked(n, ep->network_id);

        if (ep->host_ifname && *ep->host_ifname) {
                if (!sync && n->reaper_started && !n->closing) {
                        n->reap = xrealloc(n->reap, (n->n_reap + 1) * sizeof(*n->reap));
                        n->reap[n->n_reap++] = (struct net_reap){
                            .host_ifname = xstrdup(ep->host_ifname),
                            .network_id = xstrdup(ep->network_id),
                            .addr = ep->addr,
                            .addr6 = ep->addr6,
                        };
                        pthread_cond_broadcast(&n->reap_cond);
                } else if (berth_endpoint_remove(ep->host_ifname, &e) < 0) {
                        berth_warn("endpoint `%s`: %s", ep->host_ifname, e->msg);
                }
        }
        db_exec(n->d, "DELETE FROM endpoints WHERE container_id = ? AND network_id = ?",
                (const char *[]){ep->container_id, ep->network_id}, 2, NULL);
        for (size_t i = 0; i < n->n_eps; i++) {
                if (n->eps[i] != ep)
                        continue;
                memmove(&n->eps[i], &n->eps[i + 1], (n->n_eps - i - 1) * sizeof(*n->eps));
                n->n_eps--;
                break;
        }
        if (net)
                net_dns_update_locked(n, net);
        net_endpoint_free(ep);
}

void net_endpoint_drop_locked(struct networks *n, struct net_endpoint *ep)
{
        endpoint_forget_locked(n, ep, true);
}

static void sandbox_drop_locked(struct networks *n, struct net_sandbox *sb)
{
        _cleanup_error_ struct berth_error *e = NULL;

        if (sb->netns_path && *sb->netns_path && berth_netns_remove(sb->netns_path, &e) < 0)
                berth_warn("container `%s`: %s", sb->container_id, e->msg);
        db_exec(n->d, "DELETE FROM sandboxes WHERE container_id = ?",
                (const char *[]){sb->container_id}, 1, NULL);
        for (size_t i = 0; i < n->n_sbs; i++) {
                if (n->sbs[i] != sb)
                        continue;
                memmove(&n->sbs[i], &n->sbs[i + 1], (n->n_sbs - i - 1) * sizeof(*n->sbs));
                n->n_sbs--;
                break;
        }
        net_sandbox_free(sb);
}

/* docker's network connect/disconnect event of container_id on net */
static void publish_locked(struct networks *n, const char *action, const char *container_id,
                           const struct net_network *net)
{
        events_publish(n->d, "network", action, net->id,
                       json_pack("{s:s,s:s,s:s}", "container", container_id, "name", net->name,
                                 "type", net->driver));
}

/* The disconnect events a container's exit holds until its die event is out (dockerd's order:
 * die, then network disconnect). */
static void flush_events_locked(struct networks *n, const char *container_id)
{
        for (size_t i = 0; i < json_array_size(n->pending);) {
                json_t *p = json_array_get(n->pending, i);
                struct net_network *net;
                if (strcmp(berth_json_get_str(p, "container") ?: "", container_id) != 0) {
                        i++;
                        continue;
                }
                net = net_by_id_locked(n, berth_json_get_str(p, "network") ?: "");
                if (net)
                        publish_locked(n, "disconnect", container_id, net);
                json_array_remove(n->pending, i);
        }
}

/* defer: the disconnect events wait for network_container_events (the container is exiting) */
static void release_locked(struct networks *n, const char *container_id, bool defer)
{
        _cleanup_error_ struct berth_error *e = NULL;
        struct net_sandbox *sb = net_sandbox_of_locked(n, container_id);
        /* a loopback-only sandbox changes no rule: the table (maybe another daemon's, in the
         * machine's namespace) is left alone */
        bool changed = sb && sb->n_ports > 0;

        /* the namespace first: with its last user gone the kernel deletes the veths in it
         * (and their host ends) itself; the reaper deletes what is left, e.g. a pair kept by
         * a container that joined this one's namespace */
        if (sb)
                sandbox_drop_locked(n, sb);
        flush_events_locked(n, container_id); /* an earlier exit's, never flushed */
        for (size_t i = 0; i < n->n_eps; i++) {
                struct net_network *net = net_by_id_locked(n, n->eps[i]->network_id);
                if (strcmp(n->eps[i]->container_id, container_id) != 0 || !net)
                        continue;
                if (!defer) {
                        publish_locked(n, "disconnect", container_id, net);
                        continue;
                }
                if (!n->pending)
                        n->pending = json_array();
                json_array_append_new(n->pending, json_pack("{s:s,s:s}", "container", container_id,
                                                            "network", net->id));
        }
        for (size_t i = n->n_eps; i-- > 0;) {
                if (strcmp(n->eps[i]->container_id, container_id) != 0)
                        continue;
                endpoint_forget_locked(n, n->eps[i], false);
                changed = true;
                i = n->n_eps; /* the array moved under us */
        }
        if (changed && net_rules_apply_locked(n, &e) < 0)
                berth_warn("container `%s`: rules: %s", container_id, e->msg);
}

/* Milliseconds since t0 (CLOCK_MONOTONIC), for the debug log's timings. */
static double ms_since(const struct timespec *t0)
{
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

void network_container_release(struct networks *n, const char *container_id)
{
        struct timespec t0;

        if (!n)
                return;
        struct containers *cs = n->d->containers;
        struct container *c = NULL;
        bool exiting;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        /* still running: the exit path, whose die event comes after this */
        exiting =
            cs && container_get(cs, container_id, &c, NULL) >= 0 && container_is_running(cs, c);
        if (c)
                container_unref(cs, c);
        pthread_mutex_lock(&n->lock);
        release_locked(n, container_id, exiting);
        pthread_mutex_unlock(&n->lock);
        berth_debug("container `%.12s`: network released in %.2f ms", container_id, ms_since(&t0));
}

void network_container_events(struct networks *n, const char *container_id)
{
        if (!n)
                return;
        pthread_mutex_lock(&n->lock);
        flush_events_locked(n, container_id);
        pthread_mutex_unlock(&n->lock);
}

/* ---------------------------------------------------------------- create-time checks */

const char *net_mode_of(json_t *hc)
{
        const char *m = berth_json_get_str(hc, "NetworkMode");

        return !m || !*m || strcmp(m, "default") == 0 ? "bridge" : m;
}

bool net_special_mode(const char *m)
{
        return strcmp(m, "host") == 0 || strcmp(m, "none") == 0 ||
               strncmp(m, "container:", 10) == 0;
}

int net_check_endpoint_settings(struct net_network *net, json_t *es, struct berth_error **err)
{
        json_t *ipam = json_object_get(es, "IPAMConfig");
        const char *ip = berth_json_get_str(ipam, "IPv4Address");
        const char *ip6 = berth_json_get_str(ipam, "IPv6Address");
        const char *mac = berth_json_get_str(es, "MacAddress");
        json_t *aliases = json_object_get(es, "Aliases"), *links = json_object_get(es, "Links");
        struct berth_cidr a;
        uint8_t m[6];

        if (ip6 && *ip6) {
                if (net->is_default)
                        return berth_error_setx(err, EINVAL,
                                                "user specified IP address is supported on user "
                                                "defined networks only");
                if (berth_cidr_parse(ip6, &a, NULL) < 0 || strchr(ip6, '/') || a.family != AF_INET6)
                        return berth_error_setx(err, EINVAL, "invalid IPv6 address: %s", ip6);
                if (!net->subnet6.family || !berth_cidr_contains(&net->subnet6, &a))
                        return berth_error_setx(err, EINVAL,
                                                "no configured subnet or ip-range contain the IP "
                                                "address %s",
                                                ip6);
        }
        if (json_array_size(links))
                return berth_error_setx(err, EINVAL, "links are not supported");
        if (json_array_size(json_object_get(ipam, "LinkLocalIPs")))
                return berth_error_setx(err, EINVAL, "link-local addresses are not supported");
        if (mac && *mac && !mac_parse(mac, m))
                return berth_error_setx(err, EINVAL, "invalid MAC address: %s", mac);
        if (json_array_size(aliases) && net->is_default)
                return berth_error_setx(err, EINVAL,
                                        "network-scoped alias is supported only for containers "
                                        "in user defined networks");
        if (ip && *ip) {
                if (net->is_default)
                        return berth_error_setx(err, EINVAL,
                                                "user specified IP address is supported on user "
                                                "defined networks only");
                if (berth_cidr_parse(ip, &a, NULL) < 0 || strchr(ip, '/') || a.family != AF_INET)
                        return berth_error_setx(err, EINVAL, "invalid IPv4 address: %s", ip);
                if (!berth_cidr_contains(&net->subnet, &a))
                        return berth_error_setx(err, EINVAL,
                                                "no configured subnet or ip-range contain the IP "
                                                "address %s",
                                                ip);
        }
        if (!net_is_bridge(net))
                return berth_error_setx(err, EINVAL,
                                        "container cannot be connected to network %s: its "
                                        "driver is %s",
                                        net->name, net->driver);
        return 0;
}

int network_container_prepare(struct networks *n, json_t *body, json_t *image_config,
                              json_t *warnings, json_t **ret_attach, struct berth_error **err)
{
        json_t *hc = json_object_get(body, "HostConfig");
        const char *mode = net_mode_of(hc);
        json_t *eps = json_object_get(json_object_get(body, "NetworkingConfig"), "EndpointsConfig");
        const char *cmac = berth_json_get_str(body, "MacAddress");
        _cleanup_json_ json_t *attach = json_object(), *wanted = NULL;
        bool ports = json_object_size(json_object_get(hc, "PortBindings")) ||
                     json_is_true(json_object_get(hc, "PublishAllPorts"));
        struct net_network *net;
        const char *k;
        json_t *v;
        int r;

        if (eps && !json_is_object(eps) && !json_is_null(eps))
                return berth_error_setx(err, EINVAL,
                                        "NetworkingConfig.EndpointsConfig: expected "
                                        "an object");
        r = net_ports_wanted(body, image_config, &wanted, err);
        if (r < 0)
                return r;
        if (strncmp(mode, "container:", 10) == 0) {
                if (ports)
                        return berth_error_setx(err, EINVAL,
                                                "conflicting options: port publishing and the "
                                                "container type network mode");
                if (berth_json_get_str(body, "Hostname") && *berth_json_get_str(body, "Hostname"))
                        return berth_error_setx(err, EINVAL,
                                                "conflicting options: hostname and the network "
                                                "mode");
                if (json_array_size(json_object_get(hc, "Dns")) ||
                    json_array_size(json_object_get(hc, "DnsSearch")) ||
                    json_array_size(json_object_get(hc, "DnsOptions")))
                        return berth_error_setx(err, EINVAL,
                                                "conflicting options: dns and the network mode");
                if (json_array_size(json_object_get(hc, "ExtraHosts")))
                        return berth_error_setx(err, EINVAL,
                                                "conflicting options: custom host-to-IP mapping "
                                                "and the network mode");
        }
        if (strcmp(mode, "host") == 0 && json_array_size(wanted) && warnings)
                json_array_append_new(warnings,
                                      json_string("Published ports are discarded when using host "
                                                  "network mode"));
        if (net_special_mode(mode)) {
                if (cmac && *cmac)
                        return berth_error_setx(err, EINVAL,
                                                "conflicting options: mac-address and the network "
                                                "mode");
                json_object_foreach(eps, k, v)
                {
                        if (strcmp(k, mode) != 0 && strcmp(k, "default") != 0)
                                return berth_error_setx(
                                    err, EINVAL,
                                    "container sharing network namespace with another "
                                    "container or host cannot be connected to any other "
                                    "network");
                }
                *ret_attach = json_object();
                return 0;
        }
        pthread_mutex_lock(&n->lock);
        if (strcmp(mode, "bridge") == 0 && !n->default_bridge &&
            strcmp(berth_json_get_str(hc, "NetworkMode") ?: "", "bridge") != 0) {
                /* -b none: no default network, the container keeps loopback only (asking for
                 * `bridge` by name finds no such network) */
                pthread_mutex_unlock(&n->lock);
                *ret_attach = json_object();
                return 0;
        }
        r = net_lookup_locked(n, mode, &net, err);
        if (r == -ENOENT) {
                /* dockerd looks the network up at start: create succeeds, start says "network
                 * x not found" (and the docker CLI takes no create 404 for a missing image) */
                json_t *es = json_object_get(eps, mode);
                if (err && *err)
                        berth_error_free(TAKE_PTR(*err));
                json_object_set_new(attach, mode,
                                    json_is_object(es) ? json_deep_copy(es) : json_object());
                r = 0;
        } else if (r >= 0) {
                json_t *es = json_object_get(eps, mode);
                if (!es) /* docker's CLI names the default network "default" */
                        es = json_object_get(eps, "default");
                if (!es)
                        es = json_object_get(eps, net->name);
                if (!es)
                        es = json_object_get(eps, net->id);
                es = json_is_object(es) ? json_deep_copy(es) : json_object();
                if (cmac && *cmac && !berth_json_get_str(es, "MacAddress"))
                        json_object_set_new(es, "MacAddress", json_string(cmac));
                json_object_set_new(es, "NetworkID", json_string(net->id));
                r = net_check_endpoint_settings(net, es, err);
                json_object_set_new(attach, net->name, es);
        }
        json_object_foreach(eps, k, v)
        {
                struct net_network *other;
                json_t *es;
                if (r < 0)
                        break;
                if (strcmp(k, "default") == 0)
                        continue;
                r = net_lookup_locked(n, k, &other, err);
                if (r == -ENOENT) {
                        if (err && *err)
                                berth_error_free(TAKE_PTR(*err));
                        r = 0;
                        if (!json_object_get(attach, k))
                                json_object_set_new(attach, k,
                                                    json_is_object(v) ? json_deep_copy(v)
                                                                      : json_object());
                        continue;
                }
                if (r < 0)
                        break;
                if (json_object_get(attach, other->name))
                        continue;
                es = json_is_object(v) ? json_deep_copy(v) : json_object();
                json_object_set_new(es, "NetworkID", json_string(other->id));
                r = net_check_endpoint_settings(other, es, err);
                json_object_set_new(attach, other->name, es);
        }
        pthread_mutex_unlock(&n->lock);
        if (r < 0)
                return r;
        *ret_attach = TAKE_PTR(attach);
        return 0;
}

/* ---------------------------------------------------------------- start */

/* The next free address of net (or the one es asks for). */
static int allocate_try_locked(struct networks *n, struct net_network *net, const char *want,
                               bool six, bool with_reap, struct berth_cidr *ret,
                               struct berth_error **err)
{
        const struct berth_cidr *subnet = six ? &net->subnet6 : &net->subnet;
        const struct berth_cidr *gw = six ? &net->gateway6 : &net->gateway;
        struct berth_cidr *last = six ? &net->last6 : &net->last;
        _cleanup_free_ struct berth_cidr *used = NULL;
        size_t n_used = 0;
        int r;

        used = xcalloc(n->n_eps + n->n_reap + 1, sizeof(*used));
        for (size_t i = 0; i < n->n_eps; i++)
                if (strcmp(n->eps[i]->network_id, net->id) == 0)
                        used[n_used++] = six ? n->eps[i]->addr6 : n->eps[i]->addr;
        /* links still being deleted keep their addresses */
        for (size_t i = 0; i < n->n_reap && with_reap; i++)
                if (n->reap[i].network_id && strcmp(n->reap[i].network_id, net->id) == 0)
                        used[n_used++] = six ? n->reap[i].addr6 : n->reap[i].addr;
        if (want && *want) {
                struct berth_cidr a;
                if (berth_cidr_parse(want, &a, err) < 0)
                        return -EINVAL;
                a.prefix = subnet->prefix;
                /* the same address: a /128 (/32) subnet of it contains it */
                struct berth_cidr self = a;
                self.prefix = six ? 128 : 32;
                for (size_t i = 0; i < n_used; i++)
                        if (berth_cidr_contains(&self, &used[i]))
                                return berth_error_setx(err, EEXIST, "Address already in use");
                if (berth_cidr_contains(&self, gw))
                        return berth_error_setx(err, EEXIST, "Address already in use");
                *ret = a;
                return 0;
        }
        r = berth_ipam_next(subnet, gw, used, n_used, last->family ? last : NULL, ret, err);
        if (r < 0)
                return r;
        *last = *ret;
        return 0;
}

/* Delete the queued links of net now (the lock held): their addresses are wanted. */
static void reap_now_locked(struct networks *n, struct net_network *net)
{
        for (size_t i = n->n_reap; i-- > 0;) {
                _cleanup_error_ struct berth_error *e = NULL;
                if (!n->reap[i].network_id || strcmp(n->reap[i].network_id, net->id) != 0)
                        continue;
                if (berth_endpoint_remove(n->reap[i].host_ifname, &e) < 0)
                        berth_warn("endpoint `%s`: %s", n->reap[i].host_ifname, e->msg);
                reap_forget_locked(n, i);
        }
}

/* The next free address of net in one family (or the one es asks for). */
static int allocate_locked(struct networks *n, struct net_network *net, json_t *es, bool six,
                           struct berth_cidr *ret, struct berth_error **err)
{
        const char *want = berth_json_get_str(json_object_get(es, "IPAMConfig"),
                                              six ? "IPv6Address" : "IPv4Address");
        _cleanup_error_ struct berth_error *e = NULL;
        bool reaping = false;
        int r;

        for (size_t i = 0; i < n->n_reap && !reaping; i++)
                reaping = n->reap[i].network_id && strcmp(n->reap[i].network_id, net->id) == 0;
        r = allocate_try_locked(n, net, want, six, true, ret, reaping ? &e : err);
        if (r >= 0 || !reaping || (r != -ENOSPC && r != -EEXIST)) {
                if (r < 0 && e && err && !*err)
                        *err = TAKE_PTR(e);
                return r;
        }
        /* what is left is held by links being deleted: delete them here */
        reap_now_locked(n, net);
        return allocate_try_locked(n, net, want, six, false, ret, err);
}

/* One endpoint of c on net, named ifname, in the namespace netns_fd; recorded in the db first. */
int net_endpoint_add_locked(struct networks *n, struct container *c, struct net_network *net,
                            json_t *es, const char *ifname, bool primary, int netns_fd, int nl_fd,
                            struct berth_error **err)
{
        struct net_endpoint *ep = xcalloc(1, sizeof(*ep));
        const char *mac = berth_json_get_str(es, "MacAddress");
        json_t *aliases = json_object_get(es, "Aliases");
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *text = NULL;
        char eid[65], a[64];
        int r;

        ep->container_id = xstrdup(c->id);
        ep->network_id = xstrdup(net->id);
        berth_random_hex(eid, 32);
        ep->endpoint_id = xstrdup(eid);
        ep->name = xstrdup(c->name);
        ep->ifname = xstrdup(ifname);
        ep->aliases = json_is_array(aliases) ? json_deep_copy(aliases) : json_array();
        {
                /* docker's --dns on a user network: the container asks the embedded DNS, which
                 * forwards the names it does not know to these servers */
                json_t *dns = json_object_get(container_cfg(c, "HostConfig"), "Dns");
                ep->dns = json_is_array(dns) ? json_deep_copy(dns) : json_array();
        }
        r = allocate_locked(n, net, es, false, &ep->addr, err);
        if (r >= 0 && net->subnet6.family)
                r = allocate_locked(n, net, es, true, &ep->addr6, err);
        if (r < 0)
                goto fail;
        if (!mac || !*mac || !mac_parse(mac, ep->mac))
                berth_ipam_mac(&ep->addr, ep->mac);
        {
                /* the host end's name chosen here, so the row written before the veth exists
                 * is the final one (one write on the start's path) */
                char hex[9];
                berth_random_hex(hex, 4);
                ep->host_ifname = xasprintf("bv%.7s", hex);
        }
        j = net_endpoint_to_json(ep);
        text = berth_json_dump(j, false);
        berth_cidr_format(&ep->addr, false, a, sizeof(a));
        r = db_exec(n->d,
                    "INSERT INTO endpoints (container_id, network_id, address, config) VALUES "
                    "(?, ?, ?, ?)",
                    (const char *[]){ep->container_id, ep->network_id, a, text}, 4, err);
        if (r < 0)
                goto fail;
        {
                struct berth_endpoint be = {
                    .bridge = net->bridge,
                    .host_ifname = ep->host_ifname,
                    .ifname = ifname,
                    .address = ep->addr,
                    .address6 = ep->addr6,
                };
                memcpy(be.mac, ep->mac, 6);
                /* docker's internal networks have no way out: no default route either */
                if (primary && !net->internal) {
                        be.gateway = net->gateway;
                        be.gateway6 = net->gateway6;
                }
                /* the batched first endpoint is IPv4 only */
                r = nl_fd >= 0 && !ep->addr6.family
                        ? berth_endpoint_add_first(nl_fd, &be, NULL, err)
                        : berth_endpoint_add(netns_fd, &be, NULL, err);
        }
        if (r < 0) {
                db_exec(n->d, "DELETE FROM endpoints WHERE container_id = ? AND network_id = ?",
                        (const char *[]){ep->container_id, ep->network_id}, 2, NULL);
                goto fail;
        }
        n->eps = xrealloc(n->eps, (n->n_eps + 1) * sizeof(*n->eps));
        n->eps[n->n_eps++] = ep;
        net_dns_update_locked(n, net);
        return 0;
fail:
        net_endpoint_free(ep);
        return berth_error_wrap(err, "network %s", net->name);
}

struct net_network *net_attached_locked(struct networks *n, const char *name, json_t *es)
{
        bool ambiguous;
        struct net_network *net = net_find_locked(n, name, &ambiguous);
        const char *id = berth_json_get_str(es, "NetworkID");

        if (!net && id)
                net = net_by_id_locked(n, id);
        return net;
}

/* docker's resolv.conf: the host's (loopback resolvers dropped), nameservers, search and options
 * replaced by --dns, --dns-search, --dns-option; on a user network the embedded DNS on the
 * gateway first. NULL when nothing differs from the host's filtered file. */
static char *resolv_conf_text(struct container *c, const char *dns_server, bool always)
{
        json_t *hc = container_cfg(c, "HostConfig");
        json_t *dns = json_object_get(hc, "Dns"), *search = json_object_get(hc, "DnsSearch");
        json_t *opts = json_object_get(hc, "DnsOptions"), *e;
        _cleanup_free_ char *host = NULL;
        char *out = NULL;
        size_t cap = 0, i;
        bool have_ns = false;
        FILE *f;

        if (!always && !dns_server && !json_array_size(dns) && !json_array_size(search) &&
            !json_array_size(opts))
                return NULL;
        berth_read_file_at(AT_FDCWD, "/etc/resolv.conf", 1 << 20, &host, NULL, NULL);
        f = open_memstream(&out, &cap);
        if (!f)
                abort();
        if (dns_server) {
                fprintf(f, "nameserver %s\n", dns_server);
                have_ns = true;
        }
        /* with the embedded DNS the --dns servers are its forwarders for this container
         * (docker's ExtServers), not nameservers of its own */
        json_array_foreach(dns, i, e)
        {
                if (dns_server)
                        break;
                fprintf(f, "nameserver %s\n", json_string_value(e) ?: "");
                have_ns = true;
        }
        for (char *line = host, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                if (strncmp(line, "nameserver", 10) == 0) {
                        const char *a = line + 10 + strspn(line + 10, " \t");
                        if (dns_server || json_array_size(dns) || strncmp(a, "127.", 4) == 0 ||
                            strcmp(a, "::1") == 0)
                                continue;
                        have_ns = true;
                } else if ((strncmp(line, "search", 6) == 0 || strncmp(line, "domain", 6) == 0) &&
                           json_array_size(search)) {
                        continue;
                } else if (strncmp(line, "options", 7) == 0 && json_array_size(opts)) {
                        continue;
                }
                fprintf(f, "%s\n", line);
        }
        if (!have_ns)
                fputs("nameserver 8.8.8.8\nnameserver 8.8.4.4\n", f);
        if (json_array_size(search)) {
                fputs("search", f);
                json_array_foreach(search, i, e) fprintf(f, " %s", json_string_value(e) ?: "");
                fputc('\n', f);
        }
        if (json_array_size(opts)) {
                fputs("options", f);
                json_array_foreach(opts, i, e) fprintf(f, " %s", json_string_value(e) ?: "");
                fputc('\n', f);
        }
        fclose(f);
        return out;
}

void net_resolv_refresh_locked(struct networks *n, struct container *c)
{
        json_t *attach = json_object_get(c->config, "networks"), *es;
        _cleanup_free_ char *path = xasprintf("%s/resolv.conf", c->dir), *text = NULL;
        _cleanup_close_ int fd = -1;
        const char *k, *dns = NULL;
        char g[64];

        json_object_foreach(attach, k, es)
        {
                struct net_network *net = net_attached_locked(n, k, es);
                bool has_ep = false;
                if (!net || net->is_default || !net->dns)
                        continue;
                for (size_t i = 0; i < n->n_eps && !has_ep; i++)
                        has_ep = strcmp(n->eps[i]->container_id, c->id) == 0 &&
                                 strcmp(n->eps[i]->network_id, net->id) == 0;
                if (!has_ep)
                        continue;
                dns = berth_cidr_format(&net->gateway, false, g, sizeof(g));
                break;
        }
        text = resolv_conf_text(c, dns, true);
        /* bound into the running container: rewritten in place (a rename would leave the
         * container with the old inode) */
        fd = open(path, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || berth_write_all(fd, text, strlen(text)) < 0)
                berth_warn("container `%.12s`: rewrite resolv.conf: %s", c->id, strerror(errno));
}

void network_setup_release(struct network_setup *s)
{
        free(s->netns_path);
        free(s->own_ip);
        free(s->own_ip6);
        free(s->own_names);
        free(s->resolv_conf);
        *s = (struct network_setup){0};
}

/* --network none (and the default network under -b none): a namespace of its own with loopback
 * up, like docker's. Where the daemon cannot make one (no netlink, no CAP_NET_ADMIN) the runtime
 * makes it: loopback stays down, the container still runs. */
static int sandbox_lo_only(struct networks *n, struct container *c, struct network_setup *ret)
{
        _cleanup_error_ struct berth_error *e = NULL;
        struct net_sandbox *sb = xcalloc(1, sizeof(*sb));

        ret->resolv_conf = resolv_conf_text(c, NULL, false);
        sb->container_id = xstrdup(c->id);
        sb->netns_path = xasprintf("%s/%s", n->netns_dir, c->id);
        pthread_mutex_lock(&n->lock);
        release_locked(n, c->id, false);
        if (net_sandbox_ns_make_locked(n, sb->netns_path, NULL, &e) < 0 ||
            sandbox_save(n, sb, &e) < 0) {
                berth_debug("container `%.12s`: %s: the runtime makes its namespace", c->id,
                            e->msg);
                berth_netns_remove(sb->netns_path, NULL);
                net_sandbox_free(sb);
                pthread_mutex_unlock(&n->lock);
                return 0;
        }
        n->sbs = xrealloc(n->sbs, (n->n_sbs + 1) * sizeof(*n->sbs));
        n->sbs[n->n_sbs++] = sb;
        ret->netns_path = xstrdup(sb->netns_path);
        pthread_mutex_unlock(&n->lock);
        return 0;
}

static int container_setup(struct networks *n, struct container *c, const char *hostname,
                           struct network_setup *ret, struct berth_error **err);

int network_container_setup(struct networks *n, struct container *c, const char *hostname,
                            struct network_setup *ret, struct berth_error **err)
{
        struct timespec t0;
        int r;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        r = container_setup(n, c, hostname, ret, err);
        berth_debug("container `%.12s`: network set up in %.2f ms", c->id, ms_since(&t0));
        return r;
}

static int container_setup(struct networks *n, struct container *c, const char *hostname,
                           struct network_setup *ret, struct berth_error **err)
{
        json_t *attach = json_object_get(c->config, "networks");
        const char *mode = net_mode_of(container_cfg(c, "HostConfig"));
        const char *domain = json_string_value(container_cfg(c, "Domainname"));
        _cleanup_json_ json_t *wanted = NULL;
        _cleanup_close_ int nsfd = -1, nlfd = -1;
        struct net_sandbox *sb;
        struct net_network *first = NULL, *dns_net = NULL;
        const char *k;
        json_t *es;
        unsigned idx = 0;
        int r;

        *ret = (struct network_setup){0};
        if (strcmp(mode, "host") == 0 || strncmp(mode, "container:", 10) == 0) {
                ret->resolv_conf =
                    strcmp(mode, "host") == 0 ? resolv_conf_text(c, NULL, false) : NULL;
                return 0;
        }
        if (strcmp(mode, "none") == 0 || !json_object_size(attach))
                return sandbox_lo_only(n, c, ret);
        r = net_ports_wanted(json_object_get(c->config, "create"),
                             json_object_get(c->config, "image_config"), &wanted, err);
        if (r < 0)
                return r;
        pthread_mutex_lock(&n->lock);
        release_locked(n, c->id, false); /* what a previous run left */
        json_object_foreach(attach, k, es)
        {
                struct net_network *net = net_attached_locked(n, k, es);
                if (!net) {
                        r = berth_error_setx(err, ENOENT, "network %s not found", k);
                        goto fail_unlocked_nothing;
                }
                r = net_up_locked(n, net, err);
                if (r < 0)
                        goto fail_unlocked_nothing;
        }
        sb = xcalloc(1, sizeof(*sb));
        sb->container_id = xstrdup(c->id);
        sb->netns_path = xasprintf("%s/%s", n->netns_dir, c->id);
        r = net_sandbox_ns_make_locked(n, sb->netns_path, &nlfd, err);
        if (r < 0) {
                net_sandbox_free(sb);
                goto fail_unlocked_nothing;
        }
        n->sbs = xrealloc(n->sbs, (n->n_sbs + 1) * sizeof(*n->sbs));
        n->sbs[n->n_sbs++] = sb;
        /* its row is written once, below, when complete: a crash before leaves endpoint rows
         * without a sandbox (released at the next start) and a pin nobody owns (swept) */
        r = berth_netns_open(sb->netns_path, &nsfd, err);
        if (r < 0)
                goto fail;
        json_object_foreach(attach, k, es)
        {
                struct net_network *net = net_attached_locked(n, k, es);
                char ifname[16];
                snprintf(ifname, sizeof(ifname), "eth%u", idx);
                r = net_endpoint_add_locked(n, c, net, es, ifname, idx == 0, nsfd,
                                            idx == 0 ? nlfd : -1, err);
                if (r < 0)
                        goto fail;
                if (!first)
                        first = net;
                if (!dns_net && !net->is_default)
                        dns_net = net;
                idx++;
        }
        sb->network_id = xstrdup(first->id);
        r = net_ports_reserve(sb, wanted, first->subnet6.family != 0, err);
        if (r >= 0)
                r = sandbox_save(n, sb, err);
        if (r >= 0)
                r = net_rules_apply_locked(n, err);
        if (r < 0)
                goto fail;
        for (size_t i = 0; i < n->n_eps; i++) {
                struct net_endpoint *ep = n->eps[i];
                char a[64];
                if (strcmp(ep->container_id, c->id) != 0 || strcmp(ep->network_id, first->id))
                        continue;
                berth_cidr_format(&ep->addr, false, a, sizeof(a));
                ret->own_ip = xstrdup(a);
                if (ep->addr6.family) {
                        berth_cidr_format(&ep->addr6, false, a, sizeof(a));
                        ret->own_ip6 = xstrdup(a);
                }
                if (domain && *domain)
                        ret->own_names = xasprintf("%s.%s %s", hostname, domain, hostname);
                else
                        ret->own_names = xstrdup(hostname);
        }
        if (dns_net) {
                char g[64];
                berth_cidr_format(&dns_net->gateway, false, g, sizeof(g));
                ret->resolv_conf = resolv_conf_text(c, g, false);
        } else {
                ret->resolv_conf = resolv_conf_text(c, NULL, false);
        }
        ret->netns_path = xstrdup(sb->netns_path);
        /* dockerd's order: network connect, then the container's start */
        for (size_t i = 0; i < n->n_eps; i++) {
                struct net_network *net = net_by_id_locked(n, n->eps[i]->network_id);
                if (net && strcmp(n->eps[i]->container_id, c->id) == 0)
                        publish_locked(n, "connect", c->id, net);
        }
        pthread_mutex_unlock(&n->lock);
        return 0;

fail:
        release_locked(n, c->id, false);
fail_unlocked_nothing:
        pthread_mutex_unlock(&n->lock);
        return r;
}

/* ---------------------------------------------------------------- reconcile */

void networks_reconcile(struct networks *n)
{
        struct containers *cs = n->d->containers;
        _cleanup_dir_ DIR *dir = NULL;
        struct dirent *de;

        pthread_mutex_lock(&n->lock);
        /* sandboxes and endpoints of containers that do not run */
        for (bool again = true; again;) {
                again = false;
                for (size_t i = 0; i < n->n_sbs && !again; i++) {
                        struct container *c = NULL;
                        bool keep = container_get(cs, n->sbs[i]->container_id, &c, NULL) >= 0 &&
                                    container_is_running(cs, c);
                        if (c)
                                container_unref(cs, c);
                        if (!keep) {
                                berth_log(BERTH_LOG_INFO,
                                          "container `%.12s`: network released "
                                          "(it no longer runs)",
                                          n->sbs[i]->container_id);
                                release_locked(n, n->sbs[i]->container_id, false);
                                again = true;
                        }
                }
                for (size_t i = 0; i < n->n_eps && !again; i++) {
                        if (!net_sandbox_of_locked(n, n->eps[i]->container_id)) {
                                release_locked(n, n->eps[i]->container_id, false);
                                again = true;
                        }
                }
        }
        /* bridges of this daemon's user networks (marked with its alias) the db no longer
         * knows: a crash in the middle of `network rm`, after the row went */
        if (!n->warning) {
                _cleanup_error_ struct berth_error *e = NULL;
                _cleanup_strv_ char **brs = NULL;
                if (berth_links_find("", "bridge", n->alias, NULL, &brs, &e) < 0)
                        berth_warn("network: list bridges: %s", e->msg);
                for (size_t i = 0; brs && brs[i]; i++) {
                        bool known = false;
                        for (size_t k = 0; k < n->n_nets && !known; k++)
                                known =
                                    n->nets[k]->bridge && strcmp(n->nets[k]->bridge, brs[i]) == 0;
                        if (known)
                                continue;
                        berth_log(BERTH_LOG_INFO, "stale bridge `%s` removed", brs[i]);
                        berth_bridge_remove(brs[i], NULL);
                }
        }
        /* host ends (berth's `bv` names only) on this daemon's bridges no endpoint owns (their
         * deletion was queued when the daemon died; a pair whose namespace went is gone) */
        for (size_t i = 0; i < n->n_nets && !n->warning; i++) {
                _cleanup_strv_ char **ports = NULL;
                if (!net_is_bridge(n->nets[i]) ||
                    berth_links_find("bv", "veth", NULL, n->nets[i]->bridge, &ports, NULL) < 0)
                        continue;
                for (size_t k = 0; ports[k]; k++) {
                        bool owned = false;
                        for (size_t j = 0; j < n->n_eps && !owned; j++)
                                owned = strcmp(n->eps[j]->host_ifname, ports[k]) == 0;
                        for (size_t j = 0; j < n->n_reap && !owned; j++)
                                owned = n->reap[j].host_ifname &&
                                        strcmp(n->reap[j].host_ifname, ports[k]) == 0;
                        if (owned)
                                continue;
                        berth_log(BERTH_LOG_INFO, "stale endpoint `%s` removed", ports[k]);
                        berth_endpoint_remove(ports[k], NULL);
                }
        }
        /* a veth whose container side sat in a removed namespace went with it: the pins are
         * what is left to sweep (and only in this daemon's own directory) */
        /* netns pins no sandbox owns */
        dir = opendir(n->netns_dir);
        while (dir && (de = readdir(dir))) {
                _cleanup_free_ char *p = NULL;
                if (de->d_name[0] == '.' || net_sandbox_of_locked(n, de->d_name))
                        continue;
                p = xasprintf("%s/%s", n->netns_dir, de->d_name);
                berth_log(BERTH_LOG_INFO, "stale netns `%s` removed", p);
                berth_netns_remove(p, NULL);
        }
        pthread_mutex_unlock(&n->lock);
}
