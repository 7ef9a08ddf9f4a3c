/* src/net internals shared by addr.c, netns.c and link.c (not part of the public contract), and
 * reachable from the unit tests. */
#ifndef BERTH_NET_NL_H
#define BERTH_NET_NL_H

#include "net/net.h"

/* Prefix *err with context and return r (the code itself, also when err is NULL). */
#define NET_WRAP(r, err, ...) ((void)berth_error_wrap((err), __VA_ARGS__), (r))

/* The destinations of family (AF_INET or AF_INET6) in the main routing table of the calling
 * thread's network namespace (default routes left out), read through rtnetlink. *ret is
 * malloc'd (NULL when none). */
int net_routes(int family, struct berth_cidr **ret, size_t *ret_n, struct berth_error **err);

/* Bring the link `name` up in the calling thread's network namespace (through a NETLINK_ROUTE
 * socket opened here). */
int net_link_up(const char *name, struct berth_error **err);

/* Bring loopback up in the calling thread's network namespace; with ret_fd, the rtnetlink socket
 * used (bound to that namespace for good, close-on-exec) is handed back open. */
int net_lo_up_keep(int *ret_fd, struct berth_error **err);

/* berth_ipam_pick_subnet with the host's routes given instead of read. */
int net_ipam_pick_subnet_from(const struct berth_cidr *used, size_t n,
                              const struct berth_cidr *routes, size_t n_routes,
                              struct berth_cidr *ret, struct berth_error **err);

/* berth_ipam_pick_pool with the host's routes given instead of read. */
int net_ipam_pick_pool_from(const struct berth_ipam_pool *pools, size_t n_pools,
                            const struct berth_cidr *used, size_t n,
                            const struct berth_cidr *routes, size_t n_routes,
                            struct berth_cidr *ret, struct berth_error **err);

/* Run fn(arg, err) in a fork()ed child of the calling thread (same network namespace, memory and
 * credentials) and hand back its result and error message, so that a library which ends the
 * process (libnftables exit()s on some netlink failures) or crashes cannot end the caller. A child
 * that ends without reporting gives EIO naming its exit status or signal and the first line it
 * wrote on stderr ("<what>: ended its process (exit status 3): ..."); one still running after
 * timeout_ms is killed (ETIMEDOUT). fn must not rely on other threads of the caller. */
typedef int (*net_isolated_fn)(void *arg, struct berth_error **err);
int net_isolated(const char *what, net_isolated_fn fn, void *arg, int timeout_ms,
                 struct berth_error **err);

/* Run a buffer of nft commands through libnftables in the calling process; libnftables' own
 * message (first line) goes into the error. Only for a process that may die with it. */
int net_nft_run(const char *text, struct berth_error **err);

/* Run a buffer of nft commands in the caller's network namespace through the kept helper child
 * (nft-helper.c), so that libnftables ending its process ends only the helper: EIO
 * "nftables: ended its process (exit status N): <its stderr>", and the next call starts a new
 * helper. Thread-safe (calls are serialized). */
int net_nft_run_isolated(const char *text, struct berth_error **err);

/* berth_net_rules_apply's transaction run in the calling process itself (no child): for code that
 * is already isolated (the probe). Inputs are validated the same way. */
int net_rules_apply_here(const struct berth_net_rules_network *nets, size_t n_networks,
                         const struct berth_net_rules_port *ports, size_t n_ports,
                         struct berth_error **err);

#endif
