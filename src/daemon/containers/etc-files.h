/* The files a container gets from outside its rootfs, as docker makes them: /etc/hosts,
 * /etc/hostname and /etc/resolv.conf, written to the container dir and bound over the rootfs by
 * the spec; and the container's init layer, which holds their (empty) mount points so the
 * runtime never creates them in the overlay upper dir (`diff`, `commit` and `export` do not see
 * them, like docker's "-init" layer). Internal to src/daemon. */
#ifndef BERTH_DAEMON_ETC_FILES_H
#define BERTH_DAEMON_ETC_FILES_H

#include "common/common.h"

struct container;

/* One line of /etc/hosts: an address and its names (space-separated). */
struct etc_hosts_entry {
        char *ip;
        char *names;
};

void etc_hosts_entries_free(struct etc_hosts_entry *v, size_t n);

/* HostConfig.ExtraHosts (an array of "name:ip", or "name=ip" as newer clients send; NULL or
 * null: none) → entries in order. EINVAL with docker's messages ("bad format for add-host",
 * "invalid IP address in add-host"); "host-gateway" is refused (EINVAL) while berth has no
 * bridge network to name a gateway. */
int etc_hosts_parse_extra(const json_t *extra_hosts, const char *host_gateway,
                          struct etc_hosts_entry **ret, size_t *ret_n, struct berth_error **err);

/* The text of /etc/hosts as docker builds it: the localhost block, then extra (--add-host),
 * then own (the container's own addresses and names: its IP and hostname/aliases on a network,
 * none in a private network namespace without one). Allocated. */
char *etc_hosts_render(const struct etc_hosts_entry *extra, size_t n_extra,
                       const struct etc_hosts_entry *own, size_t n_own);

/* Write c->dir/{hosts,hostname,resolv.conf} for a start: hostname as given; host_net copies the
 * host's /etc/hosts (when no extra hosts are asked, like docker) and keeps loopback resolvers;
 * own: the container's own lines (its address on its network, from src/daemon/network); resolv:
 * the resolv.conf the network module made (--dns…, a user network's DNS), NULL: the host's,
 * filtered. EINVAL for bad ExtraHosts (a container created before they were checked). */
int etc_files_write(struct container *c, const char *hostname, bool host_net,
                    const struct etc_hosts_entry *own, size_t n_own, const char *resolv,
                    const char *host_gateway, struct berth_error **err);

/* Make c->dir/init, the top lower layer of c's overlay (above the image's), as moby's init
 * layer: empty etc/hosts, etc/hostname, etc/resolv.conf and dev/console (mode 0755, docker's),
 * dirs dev/pts, dev/shm, proc and sys, and etc/mtab -> /proc/mounts. Idempotent; *ret_dir gets
 * its path. */
int etc_files_init_layer(struct container *c, char **ret_dir, struct berth_error **err);

#endif
