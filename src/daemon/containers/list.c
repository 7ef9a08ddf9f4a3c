/* docker's /containers/json (the containers that pass the list filters, newest first, as
 * container_summary entries) and /containers/prune. */
#include "daemon/containers/containers.h"
#include "daemon/daemon.h"
#include "daemon/state/events.h"
#include "daemon/state/volumes.h"
#include "image/image.h"

#include <regex.h>

/* what a filter predicate looks at */
struct filter_ctx {
        struct daemon *d;
        struct containers *cs;
        struct container *c;
};

static bool any_match(json_t *vals, bool (*pred)(const char *want, void *ud), void *ud)
{
        json_t *e;
        size_t i;

        if (!json_array_size(vals))
                return true;
        json_array_foreach(vals, i, e) if (pred(json_string_value(e), ud)) return true;
        return false;
}

static bool pred_id(const char *want, void *ud)
{
        return strncmp(((struct container *)ud)->id, want, strlen(want)) == 0;
}

/* docker's name filter: an (unanchored) regular expression matched against "/name" and "name";
 * an expression that does not compile matches nothing, as in docker */
static bool pred_name(const char *want, void *ud)
{
        struct filter_ctx *a = ud;
        _cleanup_free_ char *slashed = NULL;
        regex_t re;
        bool match;

        pthread_mutex_lock(&a->cs->lock);
        slashed = xasprintf("/%s", a->c->name);
        pthread_mutex_unlock(&a->cs->lock);

        if (regcomp(&re, want, REG_EXTENDED | REG_NOSUB) != 0)
                return false;
        match =
            regexec(&re, slashed, 0, NULL, 0) == 0 || regexec(&re, slashed + 1, 0, NULL, 0) == 0;
        regfree(&re);
        return match;
}

static bool pred_status(const char *want, void *ud)
{
        struct filter_ctx *a = ud;
        const char *s;

        pthread_mutex_lock(&a->cs->lock);
        s = container_status_name(a->c->status);
        if (a->c->status == CONTAINER_EXITED && !a->c->has_been_started)
                s = "created";
        pthread_mutex_unlock(&a->cs->lock);
        return strcmp(s, want) == 0;
}

static bool pred_exited(const char *want, void *ud)
{
        struct filter_ctx *a = ud;
        bool match;

        pthread_mutex_lock(&a->cs->lock);
        match = a->c->status == CONTAINER_EXITED && a->c->has_been_started &&
                a->c->exit_code == atoi(want);
        pthread_mutex_unlock(&a->cs->lock);
        return match;
}

/* docker's health filter: starting, healthy, unhealthy or none (no healthcheck) */
static bool pred_health(const char *want, void *ud)
{
        struct filter_ctx *a = ud;
        return container_health_is(a->d->containers, a->c, want);
}

static bool pred_ancestor(const char *want, void *ud)
{
        struct filter_ctx *a = ud;
        _cleanup_free_ char *id = NULL;
        const char *img = berth_json_get_str(a->c->config, "image");
        const char *img_id = berth_json_get_str(a->c->config, "image_id");

        if (img && strcmp(img, want) == 0)
                return true;
        if (berth_image_resolve(a->d->images, want, &id, NULL) < 0)
                return false;
        return img_id && strcmp(id, img_id) == 0;
}

/* docker's network filter: a network the container is attached to, by name or id (prefix) */
static bool pred_network(const char *want, void *ud)
{
        struct filter_ctx *a = ud;
        json_t *nets = json_object_get(a->c->config, "networks"), *es;
        const char *mode = json_string_value(container_host_cfg(a->c, "NetworkMode"));
        const char *k;

        if (mode && strcmp(mode, want) == 0)
                return true;
        json_object_foreach(nets, k, es)
        {
                const char *id = berth_json_get_str(es, "NetworkID");
                if (strcmp(k, want) == 0 || (id && strncmp(id, want, strlen(want)) == 0))
                        return true;
        }
        return false;
}

/* docker's volume filter: a mount of the container by volume name (or bind source) or by
 * destination */
static bool pred_volume(const char *want, void *ud)
{
        struct filter_ctx *a = ud;
        json_t *m;
        size_t i;

        json_array_foreach(json_object_get(a->c->config, "mounts"), i, m)
        {
                const char *name = berth_json_get_str(m, "Name");
                const char *key = name && *name ? name : berth_json_get_str(m, "Source");
                if ((key && strcmp(key, want) == 0) ||
                    strcmp(berth_json_get_str(m, "Destination") ?: "", want) == 0)
                        return true;
        }
        return false;
}

/* is-task: swarm tasks, which berth never runs */
static bool pred_is_task(const char *want, void *ud)
{
        (void)ud;
        return strcmp(want, "true") != 0 && strcmp(want, "1") != 0;
}

static int filter_error(const char *key, struct berth_error **err)
{
        return berth_error_setx(err, EINVAL, "invalid filter '%s'", key);
}

int container_list(struct containers *cs, json_t *filters, bool all, long long limit, bool size,
                   json_t **ret, struct berth_error **err)
{
        struct daemon *d = cs->d;
        json_t *out;
        struct container **v;
        size_t n, count = 0;
        time_t before = 0, since = 0;
        const char *k;
        json_t *vals;

        json_object_foreach(filters, k, vals)
        {
                static const char *const known[] = {
                    "id",    "name",   "label",   "status", "ancestor", "exited",  "before",
                    "since", "health", "network", "volume", "is-task",  "publish", "expose"};
                bool ok = false;
                for (size_t i = 0; i < ARRAY_SIZE(known); i++)
                        ok |= strcmp(k, known[i]) == 0;
                if (!ok)
                        return filter_error(k, err);
                /* known to docker, not implemented here: refused rather than matching all */
                if (!strcmp(k, "publish") || !strcmp(k, "expose"))
                        return berth_error_setx(err, EINVAL,
                                                "filter '%s' is not supported by berth", k);
        }
        for (int pass = 0; pass < 2; pass++) {
                json_t *vs = json_object_get(filters, pass ? "since" : "before");
                struct container *ref;
                if (!json_array_size(vs))
                        continue;
                int r = container_get(cs, json_string_value(json_array_get(vs, 0)), &ref, err);
                if (r < 0)
                        return r;
                (pass ? &since : &before)[0] = container_created_unix(ref) ?: 1;
                container_unref(cs, ref);
        }
        if (json_array_size(json_object_get(filters, "status")) ||
            json_array_size(json_object_get(filters, "exited")))
                all = true;
        /* docker: a limit (ps -n, ps -l) counts stopped containers too */
        if (limit > 0)
                all = true;
        out = json_array();
        v = containers_snapshot(cs, &n);
        /* newest first */
        for (size_t i = n; i-- > 0;) {
                struct container *c = v[i];
                struct filter_ctx actx = {d, cs, c};
                json_t *cfg;
                if (!all && !container_is_running(cs, c))
                        continue;
                if (!any_match(json_object_get(filters, "id"), pred_id, c) ||
                    !any_match(json_object_get(filters, "name"), pred_name, &actx) ||
                    !any_match(json_object_get(filters, "status"), pred_status, &actx) ||
                    !any_match(json_object_get(filters, "exited"), pred_exited, &actx) ||
                    !any_match(json_object_get(filters, "health"), pred_health, &actx) ||
                    !any_match(json_object_get(filters, "ancestor"), pred_ancestor, &actx) ||
                    !any_match(json_object_get(filters, "network"), pred_network, &actx) ||
                    !any_match(json_object_get(filters, "volume"), pred_volume, &actx) ||
                    !any_match(json_object_get(filters, "is-task"), pred_is_task, &actx))
                        continue;
                cfg = container_config_merged(c);
                if (!berth_labels_match_all(json_object_get(cfg, "Labels"),
                                            json_object_get(filters, "label"))) {
                        json_decref(cfg);
                        continue;
                }
                json_decref(cfg);
                if (before && container_created_unix(c) >= before)
                        continue;
                if (since && container_created_unix(c) <= since)
                        continue;
                if (limit > 0 && count >= (size_t)limit)
                        break;
                json_array_append_new(out, container_summary(cs, c, size));
                count++;
        }
        containers_snapshot_free(cs, v, n);
        *ret = out;
        return 0;
}

json_t *container_prune(struct containers *cs, json_t *filters)
{
        struct berth_error *err = NULL;
        json_t *deleted = json_array();
        struct container **v;
        size_t n;
        uint64_t reclaimed = 0;

        v = containers_snapshot(cs, &n);
        for (size_t i = 0; i < n; i++) {
                struct container *c = v[i];
                _cleanup_free_ char *upper = xasprintf("%s/upper", c->dir);
                json_t *cfg = container_config_merged(c);
                bool match = berth_labels_match_all(json_object_get(cfg, "Labels"),
                                                    json_object_get(filters, "label"));
                uint64_t sz;
                json_decref(cfg);
                if (!match || container_is_running(cs, c))
                        continue;
                sz = volumes_dir_size(upper);
                if (container_remove(cs, c, false, false, &err) < 0) {
                        berth_error_free(TAKE_PTR(err));
                        continue;
                }
                reclaimed += sz;
                json_array_append_new(deleted, json_string(c->id));
        }
        containers_snapshot_free(cs, v, n);
        events_publish(cs->d, "container", "prune", "", NULL);
        return json_pack("{s:o,s:I}", "ContainersDeleted", deleted, "SpaceReclaimed",
                         (json_int_t)reclaimed);
}
