/* The engine's networking: docker's networks (bridge, host, none and user-defined bridges) over
 * src/net. Internal to src/daemon.
 *
 * - networks.c: the network table (memory + SQLite), the default `bridge` network, bridges made
 *   on first use, the `ip berth` table rebuilt from state, the embedded DNS of user networks,
 *   reconciliation at start.
 * - endpoints.c: a container's sandbox (a pinned netns), its endpoints (veth, IPAM address kept
 *   in the db so no address is handed out twice, also across a kill -9), connect/disconnect,
 *   NetworkSettings for inspect and ps.
 * - ports.c: published ports (PortBindings, PublishAllPorts), reserved by a held bind.
 * - api-networks.c: the /networks routes.
 *
 * Locking: every call takes the table's lock; it is never held while calling into the container
 * table, which calls in here with its own locks released (c->op may be held).
 */
#ifndef BERTH_DAEMON_NETWORK_H
#define BERTH_DAEMON_NETWORK_H

#include "common/common.h"
#include "net/net.h"

#include <pthread.h>

struct daemon;
struct container;
struct networks;

struct networks_options {
        const char *bridge; /* the default network's bridge: NULL "berth0"; "none": no default
                               bridge network (containers get loopback only, docker's -b none) */
        const char *bip;    /* the default bridge's gateway with prefix ("172.17.0.1/16") */
        bool ipv6;          /* dockerd's --ipv6: the default bridge gets IPv6 too */
        const char *fixed_cidr_v6; /* its IPv6 subnet (NULL: one from the IPv6 pools, kept) */
        /* dockerd's --default-address-pool "base=CIDR,size=N" entries: the IPv4 ones replace
         * docker's default pools (172.17-31.0.0/16, 192.168.0.0/16 in /20s); without an IPv6
         * one, the IPv6 pool is a ULA /48 derived from the engine ID, cut into /64s */
        const char *const *default_pools;
        size_t n_default_pools;
        /* berth_net_probe's answer, asked by the caller while it had one thread (the probe
         * forks: a fork taken while another thread holds a lock can leave the child stuck on
         * it): probed, and probe_error NULL when bridge networking works. Not probed: asked
         * here. */
        bool probed;
        const char *probe_error;
};

/* Load the networks and the live network state of containers from the db (creating the built-in
 * `bridge`, `host` and `none` networks), take the published ports of the sandboxes it finds
 * again, and rebuild bridges, rules and DNS for them. Never fails because the kernel lacks bridges,
 * netlink or nf_tables: that is logged, kept as a warning (networks_warning) and bridge requests
 * are refused with it. Fails only on bad options or a db error. */
int networks_open(struct daemon *d, const struct networks_options *o, struct networks **ret,
                  struct berth_error **err);
/* After the containers are loaded: release the sandboxes of containers that do not run (left by
 * a crash) and delete veths and netns pins no sandbox owns. */
void networks_reconcile(struct networks *n);
/* At daemon stop: the links queued for deletion are deleted (containers keep running: nothing
 * of theirs is touched). */
void networks_close(struct networks *n);
/* The default bridge's address for --add-host NAME:host-gateway ("172.17.0.1"), NULL without a
 * default bridge network or when bridges are unavailable (borrowed). */
const char *networks_host_gateway(struct networks *n);
/* The reason bridge networking is unavailable, NULL when it works (borrowed; for /info). */
char *networks_warning(struct networks *n);

/* ---------------------------------------------------------------- networks.c: the table */

/* docker's network inspect object (with Containers when verbose); ENOENT "network x not found". */
int networks_inspect(struct networks *n, const char *ref, json_t **ret, struct berth_error **err);
/* GET /networks with docker's filters (driver, id, label, name, scope, type, dangling). */
int networks_list(struct networks *n, json_t *filters, json_t **ret, struct berth_error **err);
/* POST /networks/create: body is docker's NetworkCreateRequest; *ret_id the new id. Bad input is
 * EINVAL, a name in use EEXIST (409), an overlapping subnet EEXIST; nothing is left behind. */
int networks_create(struct networks *n, json_t *body, char **ret_id, json_t *warnings,
                    struct berth_error **err);
/* DELETE /networks/{id}: EBUSY (409) while a container is attached, EPERM for built-ins. */
int networks_remove(struct networks *n, const char *ref, struct berth_error **err);
/* POST /networks/prune: user networks no container uses; *ret = NetworksDeleted names. */
int networks_prune(struct networks *n, json_t *filters, json_t **ret, struct berth_error **err);

/* ---------------------------------------------------------------- endpoints.c: containers */

/* At create: check NetworkMode, NetworkingConfig.EndpointsConfig, --ip/--mac-address and the
 * published ports of body the way docker does, and return the container's network attachments
 * ({name: EndpointSettings with NetworkID}, in attach order) for the container's config. Docker's
 * create warnings (ports discarded in host mode) are appended to warnings. */
int network_container_prepare(struct networks *n, json_t *body, json_t *image_config,
                              json_t *warnings, json_t **ret_attach, struct berth_error **err);

/* What a starting container gets: the netns to join (NULL: the spec decides), the lines to put
 * in /etc/hosts for its own name (its addresses on its first network, IPv4 then IPv6, each with
 * its names, as dockerd writes them), and the resolv.conf to write (NULL: the host's,
 * filtered). */
struct network_setup {
        char *netns_path;
        char *own_ip;    /* its IPv4 /etc/hosts line; NULL without an address */
        char *own_ip6;   /* its IPv6 one; NULL unless the network has IPv6 */
        char *own_names; /* the names of both lines */
        char *resolv_conf;
};

/* At start (c->op held): make the sandbox (pinned netns), an endpoint per attached network
 * (address from IPAM, persisted), reserve published ports and rebuild rules and DNS. Rolls back
 * on failure. Containers with NetworkMode host, none or container:<x> get nothing here. */
int network_container_setup(struct networks *n, struct container *c, const char *hostname,
                            struct network_setup *ret, struct berth_error **err);
void network_setup_release(struct network_setup *s);
/* At exit, a failed start and remove: endpoints, ports and netns removed, addresses freed.
 * Idempotent; never fails (problems are logged). */
void network_container_release(struct networks *n, const char *container_id);

/* After a container's die event: its network disconnect events (dockerd sends them after die;
 * the release at its exit held them). */
void network_container_events(struct networks *n, const char *container_id);

/* A running container was renamed: its endpoints answer DNS by the new name. */
void network_container_renamed(struct networks *n, const char *container_id, const char *name);

/* POST /networks/{id}/connect and disconnect on a created or running container. */
int network_connect(struct networks *n, const char *net_ref, const char *container_ref,
                    json_t *endpoint_config, struct berth_error **err);
int network_disconnect(struct networks *n, const char *net_ref, const char *container_ref,
                       bool force, struct berth_error **err);

/* docker's NetworkSettings of inspect (new reference). */
json_t *network_settings_json(struct networks *n, struct container *c);
/* The Ports array of GET /containers/json and its NetworkSettings.Networks. */
json_t *network_ports_summary(struct networks *n, struct container *c);
json_t *network_networks_summary(struct networks *n, struct container *c);

#endif
