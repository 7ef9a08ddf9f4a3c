/* src/net internals shared by addr.c, netns.c and link.c (not part of the public contract), and
 * reachable from the unit tests. */
#ifndef BERTH_NET_NL_H
#define BERTH_NET_NL_H

#include "net/net.h"

/* Prefix *err with context and return r (the code itself, also when err is NULL). */
#define NET_WRAP(r, err, ...) ((void)berth_error_wrap((err), __VA_ARGS__), (r))

/* The IPv4 destinations of the main routing table of the calling thread's network namespace
 * (default routes left out), read through rtnetlink. *ret is malloc'd (NULL when none). */
int net_routes_v4(struct berth_cidr **ret, size_t *ret_n, struct berth_error **err);

/* Bring the link `name` up in the calling thread's network namespace (through a NETLINK_ROUTE
 * socket opened here). */
int net_link_up(const char *name, struct berth_error **err);

/* berth_ipam_pick_subnet with the host's routes given instead of read. */
int net_ipam_pick_subnet_from(const struct berth_cidr *used, size_t n,
                              const struct berth_cidr *routes, size_t n_routes,
                              struct berth_cidr *ret, struct berth_error **err);

#endif
