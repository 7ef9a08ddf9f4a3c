/* Shared between the files of src/daemon/network: the table's structures. Everything "_locked"
 * runs under networks.lock. */
#ifndef BERTH_DAEMON_NETWORK_INTERNAL_H
#define BERTH_DAEMON_NETWORK_INTERNAL_H

#include "daemon/http/api.h"
#include "daemon/network/network.h"

struct net_network {
        char *id, *name;
        char *driver; /* "bridge", "host" or "null" */
        char *bridge; /* its link: "berth0", "br-<id12>"; NULL unless driver bridge */
        json_t *doc;  /* docker's inspect object without Containers (persisted) */
        struct berth_cidr subnet, gateway;   /* gateway with the subnet's prefix */
        struct berth_cidr subnet6, gateway6; /* EnableIPv6: family AF_INET6, else 0 */
        bool internal, is_default;
        bool up;                       /* bridge ensured (and DNS started) in this run */
        struct berth_cidr last, last6; /* the last addresses handed out (round robin) */
        struct berth_dns *dns;         /* user networks: the embedded DNS on the gateway */
};

/* A container's attachment to a network while it runs (row of `endpoints`). */
struct net_endpoint {
        char *container_id, *network_id, *endpoint_id;
        char *name; /* the container's name, for DNS */
        char *ifname, *host_ifname;
        struct berth_cidr addr;  /* with the subnet's prefix */
        struct berth_cidr addr6; /* on an IPv6 network; family 0: none */
        uint8_t mac[6];
        json_t *aliases; /* strings */
        json_t *dns;     /* the container's --dns: its embedded DNS forwards other names there */
};

struct net_port {
        int proto;                 /* IPPROTO_TCP / IPPROTO_UDP */
        struct berth_cidr host_ip; /* family 0: 0.0.0.0 */
        uint16_t host_port, container_port;
        int fd; /* the held bind, -1 when lost */
};

/* A running container's network namespace and published ports (row of `sandboxes`). */
struct net_sandbox {
        char *container_id;
        char *netns_path;
        char *network_id; /* where published ports are DNAT'd to */
        struct net_port *ports;
        size_t n_ports;
};

/* The host end of a released endpoint, deleted by the reaper thread; its address stays taken on
 * its network until then (a container joined to the namespace could still be using it). */
struct net_reap {
        char *host_ifname, *network_id;
        struct berth_cidr addr, addr6;
        char *pin; /* instead: a netns pin to remove (a warm one whose namespace was claimed) */
};

/* A network namespace made ahead (loopback up) with an rtnetlink socket open in it. */
struct net_warm {
        char *path;
        int nl_fd;
};

struct networks {
        struct daemon *d;
        pthread_mutex_t lock;
        char *netns_dir;
        char *warning;        /* why bridge networking is unavailable; NULL when it works */
        char *default_bridge; /* NULL: no default bridge network (-b none) */
        struct berth_cidr default_gateway;
        struct berth_cidr default_subnet6; /* --fixed-cidr-v6; family 0: no IPv6 */
        bool default_ipv6_pool;            /* --ipv6 alone: the default bridge's IPv6 subnet
                                              comes from pools6 (and is kept once picked) */
        /* the default address pools (--default-address-pool): IPv4 ones (none: docker's
         * built-in list) and IPv6 ones (at least the ULA derived from the engine ID) */
        struct berth_ipam_pool *pools4, *pools6;
        size_t n_pools4, n_pools6;
        char default_gateway_text[64];
        struct net_network **nets;
        size_t n_nets;
        struct net_endpoint **eps;
        size_t n_eps;
        struct net_sandbox **sbs;
        size_t n_sbs;
        /* the `ip berth` table last loaded (its transaction text): a state that gives the same
         * text is not loaded again; NULL when unknown (after a failure or before the first) */
        char *rules_text;
        /* released endpoints' links, deleted off the request's path (a veth's deletion waits
         * for RCU grace periods: 10-20 ms, most of a `run --rm`'s release) */
        struct net_reap *reap;
        size_t n_reap;
        pthread_cond_t reap_cond;
        pthread_t reaper;
        bool reaper_started, closing;
        /* the warm pool (DESIGN.md): namespaces the reaper thread makes ahead in pool_dir, so a
         * start only moves one to its container's pin and plumbs it through its socket; emptied
         * at close, swept at open (a crash leaves its pins) */
        char *pool_dir;
        struct net_warm *pool;
        size_t n_pool;
        bool pool_off; /* making one failed: the pool stays empty */
        /* the alias this daemon gives the bridges of its user networks ("berth <data root>"):
         * what a sweep at start deletes when no network of the db owns it */
        char *alias;
        /* disconnect events of exiting containers, out after their die event:
         * [{container, network}] */
        json_t *pending;
};

/* networks.c */
struct net_network *net_find_locked(struct networks *n, const char *ref, bool *ret_ambiguous);
struct net_network *net_by_id_locked(struct networks *n, const char *id);
/* ENOENT "network x not found" (docker's 404) */
int net_lookup_locked(struct networks *n, const char *ref, struct net_network **ret,
                      struct berth_error **err);
/* Bring net's bridge (and DNS) up when it is not; refused with the warning when bridge
 * networking is unavailable. */
int net_up_locked(struct networks *n, struct net_network *net, struct berth_error **err);
/* The `ip berth` table from the current state; no transaction when it is the table already
 * loaded. */
int net_rules_apply_locked(struct networks *n, struct berth_error **err);
/* net's DNS records from its endpoints. */
void net_dns_update_locked(struct networks *n, struct net_network *net);
bool net_is_bridge(const struct net_network *net);

/* endpoints.c */
struct net_sandbox *net_sandbox_of_locked(struct networks *n, const char *container_id);
void net_endpoint_free(struct net_endpoint *ep);
void net_sandbox_free(struct net_sandbox *sb);
json_t *net_endpoint_to_json(const struct net_endpoint *ep);
struct net_endpoint *net_endpoint_from_json(const char *container_id, const char *network_id,
                                            json_t *j);
json_t *net_sandbox_to_json(const struct net_sandbox *sb);
struct net_sandbox *net_sandbox_from_json(const char *container_id, json_t *j);
/* Remove c's endpoint on net: veth, db row, memory. */
void net_endpoint_drop_locked(struct networks *n, struct net_endpoint *ep);
/* Start the reaper thread (at open) and, at close, let it delete what is queued and end. */
void net_reaper_start(struct networks *n);
void net_reaper_stop(struct networks *n);
/* Wait (the lock released meanwhile) until every queued link is deleted: a network's removal
 * answers with none of its containers' links left. */
void net_reaper_drain_locked(struct networks *n);

void net_mac_format(const uint8_t mac[6], char buf[18]);
/* A HostConfig's NetworkMode ("" and "default" are "bridge"); host, none and container:<x>. */
const char *net_mode_of(json_t *hc);
bool net_special_mode(const char *m);
/* docker's checks of EndpointSettings (IPAMConfig, Aliases, MacAddress, Links) on net. */
int net_check_endpoint_settings(struct net_network *net, json_t *es, struct berth_error **err);
/* An endpoint of c on net named ifname in the namespace netns_fd (a default route when
 * primary), its address allocated and recorded in the db before the veth is made. nl_fd >= 0:
 * the namespace holds loopback only and nl_fd is its rtnetlink socket (berth_endpoint_add_first).
 */
int net_endpoint_add_locked(struct networks *n, struct container *c, struct net_network *net,
                            json_t *es, const char *ifname, bool primary, int netns_fd, int nl_fd,
                            struct berth_error **err);
/* A new namespace pinned at path: one of the warm pool moved there, else made now; *ret_nl_fd
 * (may be NULL) an rtnetlink socket in it. */
int net_sandbox_ns_make_locked(struct networks *n, const char *path, int *ret_nl_fd,
                               struct berth_error **err);
/* The pool's namespaces removed (at close), and those a crash left (at open). */
void net_pool_clear(struct networks *n);
/* The network an attachment (name, EndpointSettings with NetworkID) refers to, or NULL. */
struct net_network *net_attached_locked(struct networks *n, const char *name, json_t *es);

/* A running container's resolv.conf after connect/disconnect: the embedded DNS of its first
 * user network (docker switches to its resolver the same way), else the host's resolvers. */
void net_resolv_refresh_locked(struct networks *n, struct container *c);

/* ports.c */
/* The published ports a container asks for (PortBindings, PublishAllPorts over ExposedPorts of
 * the config and the image); EINVAL on bad specs. *ret: array of {proto, HostIp, HostPort (a
 * range "a-b" or ""), ContainerPort}. */
int net_ports_wanted(json_t *create, json_t *image_config, json_t **ret, struct berth_error **err);
/* Reserve what wanted asks (held binds) into sb->ports; all or nothing. ipv6 (the container's
 * first network has IPv6): the ports on every address are also reserved on [::] (entries of
 * their own, host_ip "::"), and a port on one IPv6 host address is allowed (EINVAL without). */
int net_ports_reserve(struct net_sandbox *sb, json_t *wanted, bool ipv6, struct berth_error **err);
/* Take the recorded ports again after a daemon restart (best effort, logged). */
void net_ports_rebind(struct net_sandbox *sb);
void net_ports_close(struct net_sandbox *sb);
/* docker's NetworkSettings.Ports object and the Ports array of the list API. */
json_t *net_ports_settings(const struct net_sandbox *sb, json_t *create, json_t *image_config);
json_t *net_ports_summary(const struct net_sandbox *sb);

#endif
