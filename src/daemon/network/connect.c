/* Connect and disconnect (docker network connect/disconnect) on a created or running container:
 * the container's attachments in its config, an endpoint added to or taken from its namespace
 * while it runs; and a rename seen by the networks' DNS. */
#include "daemon/containers/containers.h"
#include "daemon/daemon.h"
#include "daemon/state/events.h"
#include "daemon/network/network-internal.h"

void network_container_renamed(struct networks *n, const char *container_id, const char *name)
{
        if (!n)
                return;
        pthread_mutex_lock(&n->lock);
        for (size_t i = 0; i < n->n_eps; i++) {
                struct net_endpoint *ep = n->eps[i];
                struct net_network *net;
                _cleanup_json_ json_t *j = NULL;
                _cleanup_free_ char *text = NULL;
                if (strcmp(ep->container_id, container_id) != 0)
                        continue;
                free(ep->name);
                ep->name = xstrdup(name);
                j = net_endpoint_to_json(ep);
                text = berth_json_dump(j, false);
                db_exec(n->d,
                        "UPDATE endpoints SET config = ? WHERE container_id = ? AND network_id = ?",
                        (const char *[]){text, ep->container_id, ep->network_id}, 3, NULL);
                net = net_by_id_locked(n, ep->network_id);
                if (net)
                        net_dns_update_locked(n, net);
        }
        pthread_mutex_unlock(&n->lock);
}

/* ---------------------------------------------------------------- connect, disconnect */

int network_connect(struct networks *n, const char *net_ref, const char *container_ref,
                    json_t *endpoint_config, struct berth_error **err)
{
        struct containers *cs = n->d->containers;
        struct container *c;
        struct net_network *net;
        _cleanup_json_ json_t *es = NULL;
        _cleanup_close_ int nsfd = -1;
        json_t *attach;
        const char *mode;
        int r;

        r = container_get(cs, container_ref, &c, err);
        if (r < 0)
                return r;
        pthread_mutex_lock(&c->op);
        mode = net_mode_of(container_cfg(c, "HostConfig"));
        pthread_mutex_lock(&n->lock);
        r = net_lookup_locked(n, net_ref, &net, err);
        if (r < 0)
                goto out;
        if (net_special_mode(mode) || !net_is_bridge(net)) {
                r = berth_error_setx(err, EINVAL,
                                     net_special_mode(mode)
                                         ? "container sharing network namespace with another "
                                           "container or host cannot be connected to any other "
                                           "network"
                                         : "container cannot be disconnected from host network "
                                           "or connected to host network");
                goto out;
        }
        attach = json_object_get(c->config, "networks");
        if (!json_is_object(attach)) {
                attach = json_object();
                json_object_set_new(c->config, "networks", attach);
        }
        if (json_object_get(attach, net->name)) {
                r = berth_error_setx(err, EPERM,
                                     "endpoint with name %s already exists in network %s", c->name,
                                     net->name);
                goto out;
        }
        es = json_is_object(endpoint_config) ? json_deep_copy(endpoint_config) : json_object();
        json_object_del(es, "NetworkID");
        json_object_del(es, "EndpointID");
        json_object_set_new(es, "NetworkID", json_string(net->id));
        r = net_check_endpoint_settings(net, es, err);
        if (r < 0)
                goto out;
        if (container_is_running(cs, c)) {
                struct net_sandbox *sb = net_sandbox_of_locked(n, c->id);
                char ifname[16];
                unsigned idx = 0;
                if (!sb) {
                        r = berth_error_setx(err, EINVAL,
                                             "container %s has no network namespace of its own "
                                             "(started without a network)",
                                             c->name);
                        goto out;
                }
                for (bool taken = true; taken; idx++) {
                        snprintf(ifname, sizeof(ifname), "eth%u", idx);
                        taken = false;
                        for (size_t i = 0; i < n->n_eps; i++)
                                taken |= strcmp(n->eps[i]->container_id, c->id) == 0 &&
                                         strcmp(n->eps[i]->ifname, ifname) == 0;
                }
                r = net_up_locked(n, net, err);
                if (r >= 0)
                        r = berth_netns_open(sb->netns_path, &nsfd, err);
                if (r >= 0)
                        r = net_endpoint_add_locked(n, c, net, es, ifname, false, nsfd, -1, err);
                if (r >= 0 && !sb->network_id)
                        sb->network_id = xstrdup(net->id);
                if (r >= 0) {
                        json_object_set(attach, net->name, es);
                        net_resolv_refresh_locked(n, c);
                }
                if (r >= 0) {
                        _cleanup_error_ struct berth_error *e = NULL;
                        if (net_rules_apply_locked(n, &e) < 0)
                                berth_warn("network %s: rules: %s", net->name, e->msg);
                }
                if (r < 0)
                        goto out;
        }
        json_object_set(attach, net->name, es);
        /* dockerd sends it when an endpoint is made: not for a container that does not run */
        if (container_is_running(cs, c))
                events_publish(n->d, "network", "connect", net->id,
                               json_pack("{s:s,s:s,s:s}", "container", c->id, "name", net->name,
                                         "type", net->driver));
out:
        pthread_mutex_unlock(&n->lock);
        if (r >= 0)
                r = container_config_save(cs, c, err);
        pthread_mutex_unlock(&c->op);
        container_unref(cs, c);
        return r;
}

/* dockerd's disconnect --force of a container it does not know: the network's endpoint of that
 * name (one its container left behind) is deleted; 404 "endpoint x not found" when none. */
static int force_endpoint_delete(struct networks *n, const char *net_ref, const char *name,
                                 struct berth_error **err)
{
        struct net_network *net;
        int r;

        pthread_mutex_lock(&n->lock);
        r = net_lookup_locked(n, net_ref, &net, err);
        for (size_t i = 0; r >= 0 && i < n->n_eps; i++) {
                struct net_endpoint *ep = n->eps[i];
                _cleanup_error_ struct berth_error *e = NULL;
                if (strcmp(ep->network_id, net->id) != 0 ||
                    (strcmp(ep->name, name) != 0 && strcmp(ep->container_id, name) != 0))
                        continue;
                berth_log(BERTH_LOG_INFO, "network %s: endpoint of `%s` deleted (force)", net->name,
                          name);
                net_endpoint_drop_locked(n, ep);
                if (net_rules_apply_locked(n, &e) < 0)
                        berth_warn("network %s: rules: %s", net->name, e->msg);
                pthread_mutex_unlock(&n->lock);
                return 0;
        }
        if (r >= 0)
                r = berth_error_setx(err, ENOENT, "endpoint %s not found", name);
        pthread_mutex_unlock(&n->lock);
        return r;
}

int network_disconnect(struct networks *n, const char *net_ref, const char *container_ref,
                       bool force, struct berth_error **err)
{
        struct containers *cs = n->d->containers;
        struct container *c;
        struct net_network *net;
        json_t *attach;
        int r;

        r = container_get(cs, container_ref, &c, err);
        if (r == -ENOENT && force) {
                if (err)
                        berth_error_free(TAKE_PTR(*err));
                return force_endpoint_delete(n, net_ref, container_ref, err);
        }
        if (r < 0)
                return r;
        pthread_mutex_lock(&c->op);
        pthread_mutex_lock(&n->lock);
        r = net_lookup_locked(n, net_ref, &net, err);
        if (r < 0)
                goto out;
        attach = json_object_get(c->config, "networks");
        if (!json_object_get(attach, net->name)) {
                /* dockerd's words (and its 500), which differ for a container that runs */
                r = berth_error_setx(err, ENOLINK,
                                     container_is_running(cs, c)
                                         ? "container %s is not connected to network %s"
                                         : "container %s is not connected to the network %s",
                                     c->id, net->name);
                goto out;
        }
        /* off the attach list before resolv.conf is written again below */
        json_object_del(attach, net->name);
        for (size_t i = 0; i < n->n_eps; i++) {
                struct net_endpoint *ep = n->eps[i];
                if (strcmp(ep->container_id, c->id) == 0 && strcmp(ep->network_id, net->id) == 0) {
                        _cleanup_error_ struct berth_error *e = NULL;
                        struct net_sandbox *sb = net_sandbox_of_locked(n, c->id);
                        net_endpoint_drop_locked(n, ep);
                        if (sb && sb->network_id && strcmp(sb->network_id, net->id) == 0) {
                                /* published ports went to this network: no longer reachable */
                                free(sb->network_id);
                                sb->network_id = NULL;
                        }
                        if (net_rules_apply_locked(n, &e) < 0)
                                berth_warn("network %s: rules: %s", net->name, e->msg);
                        net_resolv_refresh_locked(n, c);
                        break;
                }
        }
        events_publish(
            n->d, "network", "disconnect", net->id,
            json_pack("{s:s,s:s,s:s}", "container", c->id, "name", net->name, "type", net->driver));
out:
        pthread_mutex_unlock(&n->lock);
        if (r >= 0)
                r = container_config_save(cs, c, err);
        pthread_mutex_unlock(&c->op);
        container_unref(cs, c);
        return r;
}
