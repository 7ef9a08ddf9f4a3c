/* The /containers routes: create, list, inspect, start/stop/restart/kill/wait, pause, update,
 * rename, remove, prune, top, resize, attach, logs and stats (through logs.h / stats.h). Exec
 * routes are in exec.c, archive/export/changes in archive.c. */
#include "daemon/http/api.h"
#include "daemon/containers/containers.h"
#include "daemon/daemon.h"
#include "daemon/state/events.h"
#include "daemon/state/logs.h"
#include "daemon/network/network.h"
#include "daemon/state/stats.h"
#include "daemon/state/volumes.h"

#include <regex.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

/* The container named by the route's first parameter, or a 404 reply. */
static struct container *get_or_reply(struct api_req *r)
{
        struct containers *cs = api_daemon(r)->containers;
        struct berth_error *err = NULL;
        struct container *c;

        if (container_get(cs, api_param(r, 0), &c, &err) < 0) {
                api_reply_error(r, err);
                return NULL;
        }
        return c;
}

/* ---------------------------------------------------------------- inspect, list */

/* docker's Config of inspect: the create body over the image's config */
static json_t *merged_config(struct container *c)
{
        json_t *create = json_object_get(c->config, "create");
        json_t *img = json_object_get(c->config, "image_config");
        json_t *cfg = json_object();
        const char *keys[] = {
            "Hostname",     "Domainname",   "User",        "AttachStdin",     "AttachStdout",
            "AttachStderr", "ExposedPorts", "Tty",         "OpenStdin",       "StdinOnce",
            "Env",          "Cmd",          "Healthcheck", "ArgsEscaped",     "Image",
            "Volumes",      "WorkingDir",   "Entrypoint",  "NetworkDisabled", "MacAddress",
            "OnBuild",      "Labels",       "StopSignal",  "StopTimeout",     "Shell"};
        json_t *env = json_array();
        json_t *e;
        size_t i;

        for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
                json_t *v = json_object_get(create, keys[k]);
                /* docker's merge: an empty value takes the image's (Volumes {} too) */
                if (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v)) ||
                    (strcmp(keys[k], "Volumes") == 0 && json_object_size(v) == 0))
                        v = json_object_get(img, keys[k]);
                if (v)
                        json_object_set(cfg, keys[k], v);
        }
        /* image Env, overridden by the container's */
        json_array_foreach(json_object_get(img, "Env"), i, e) json_array_append(env, e);
        json_array_foreach(json_object_get(create, "Env"), i, e)
        {
                const char *s = json_string_value(e);
                size_t klen = s ? strcspn(s, "=") : 0;
                size_t j;
                json_t *old;
                if (!s)
                        continue;
                json_array_foreach(env, j, old)
                {
                        if (strncmp(json_string_value(old) ?: "", s, klen) == 0 &&
                            json_string_value(old)[klen] == '=') {
                                json_array_remove(env, j);
                                break;
                        }
                }
                json_array_append(env, e);
        }
        json_object_set_new(cfg, "Env", json_array_size(env) ? env : json_null());
        if (!json_array_size(env))
                json_decref(env);
        if (json_array_size(json_object_get(create, "Entrypoint")) > 0 &&
            !json_array_size(json_object_get(create, "Cmd")))
                json_object_set_new(cfg, "Cmd", json_null());
        if (!json_object_get(cfg, "Hostname"))
                json_object_set_new(cfg, "Hostname", json_stringn(c->id, 12));
        /* the keys docker's Config always has (no omitempty), so templates over them work */
        static const char *const always_str[] = {"Domainname", "User", "WorkingDir"};
        static const char *const always_null[] = {"Cmd", "Volumes", "Entrypoint", "OnBuild"};
        static const char *const always_bool[] = {"AttachStdin", "AttachStdout", "AttachStderr",
                                                  "Tty",         "OpenStdin",    "StdinOnce"};
        for (size_t k = 0; k < ARRAY_SIZE(always_str); k++)
                if (!json_object_get(cfg, always_str[k]))
                        json_object_set_new(cfg, always_str[k], json_string(""));
        for (size_t k = 0; k < ARRAY_SIZE(always_null); k++)
                if (!json_object_get(cfg, always_null[k]))
                        json_object_set_new(cfg, always_null[k], json_null());
        for (size_t k = 0; k < ARRAY_SIZE(always_bool); k++)
                if (!json_object_get(cfg, always_bool[k]))
                        json_object_set_new(cfg, always_bool[k], json_false());
        json_object_set(cfg, "Image", json_object_get(c->config, "image"));
        if (!json_is_object(json_object_get(cfg, "Labels")))
                json_object_set_new(cfg, "Labels", json_object());
        return cfg;
}

/* Path and Args as docker reports them: Entrypoint+Cmd resolved. *ret_path borrows from cfg's
 * Entrypoint or Cmd (valid while cfg is); *ret_args is new. */
static void path_args(struct container *c, json_t *cfg, const char **ret_path, json_t **ret_args)
{
        json_t *argv = json_array();
        json_t *ep = json_object_get(cfg, "Entrypoint");
        json_t *cmd = json_object_get(cfg, "Cmd");
        json_t *e;
        size_t i;

        json_array_foreach(ep, i, e) json_array_append(argv, e);
        json_array_foreach(cmd, i, e) json_array_append(argv, e);
        *ret_path = json_array_size(argv) ? json_string_value(json_array_get(argv, 0)) : "";
        json_array_remove(argv, 0);
        *ret_args = argv;
}

static json_t *host_config(struct container *c)
{
        json_t *hc = json_deep_copy(container_cfg(c, "HostConfig"));
        const char *nm;

        if (!json_is_object(hc)) {
                json_decref(hc);
                hc = json_object();
        }
        nm = berth_json_get_str(hc, "NetworkMode");
        if (!nm || !*nm)
                json_object_set_new(hc, "NetworkMode", json_string("bridge"));
        if (!json_object_get(hc, "RestartPolicy"))
                json_object_set_new(hc, "RestartPolicy",
                                    json_pack("{s:s,s:i}", "Name", "no", "MaximumRetryCount", 0));
        if (!json_object_get(hc, "LogConfig"))
                json_object_set_new(hc, "LogConfig",
                                    json_pack("{s:s,s:{}}", "Type", "json-file", "Config"));
        else if (!*(berth_json_get_str(json_object_get(hc, "LogConfig"), "Type") ?: ""))
                /* made before the default was stored at create */
                json_object_set_new(json_object_get(hc, "LogConfig"), "Type",
                                    json_string("json-file"));
        if (!json_object_get(hc, "AutoRemove"))
                json_object_set_new(hc, "AutoRemove", json_false());
        if (!json_object_get(hc, "Privileged"))
                json_object_set_new(hc, "Privileged", json_false());
        if (!json_object_get(hc, "Binds"))
                json_object_set_new(hc, "Binds", json_null());
        for (const char *const *k =
                 (const char *const[]){"Memory", "MemorySwap", "MemoryReservation", "NanoCpus",
                                       "CpuShares", "CpuQuota", "CpuPeriod", "BlkioWeight", NULL};
             *k; k++)
                if (!json_object_get(hc, *k))
                        json_object_set_new(hc, *k, json_integer(0));
        return hc;
}

/* docker's -s: SizeRw the container's layer, SizeRootFs the image's layers plus that */
static void set_sizes(struct containers *cs, struct container *c, json_t *j, const char *upper)
{
        _cleanup_json_ json_t *img = NULL;
        json_int_t rw = (json_int_t)volumes_dir_size(upper), image = 0;
        const char *image_id = berth_json_get_str(c->config, "image_id");

        if (image_id && berth_image_inspect(cs->d->images, image_id, &img, NULL) >= 0)
                image = json_integer_value(json_object_get(img, "Size"));
        json_object_set_new(j, "SizeRw", json_integer(rw));
        json_object_set_new(j, "SizeRootFs", json_integer(rw + image));
}

json_t *container_inspect(struct containers *cs, struct container *c, bool size)
{
        json_t *cfg = merged_config(c);
        json_t *args, *j;
        const char *path;
        _cleanup_free_ char *upper = xasprintf("%s/upper", c->dir);
        _cleanup_free_ char *work = xasprintf("%s/work", c->dir);
        _cleanup_free_ char *name = NULL;
        _cleanup_strv_ char **lowers = NULL;
        _cleanup_free_ char *lower = NULL;
        _cleanup_free_ char *hosts = xasprintf("%s/hosts", c->dir);
        _cleanup_free_ char *resolv = xasprintf("%s/resolv.conf", c->dir);
        _cleanup_free_ char *hostname = xasprintf("%s/hostname", c->dir);
        json_t *state;

        path_args(c, cfg, &path, &args);
        if (berth_image_layer_dirs(cs->d->images, berth_json_get_str(c->config, "image_id"),
                                   &lowers, NULL) >= 0) {
                size_t len = 0;
                for (char **l = lowers; *l; l++)
                        len += strlen(*l) + 1;
                lower = xcalloc(1, len + 1);
                for (char **l = lowers; *l; l++) {
                        if (l != lowers)
                                strcat(lower, ":");
                        strcat(lower, *l);
                }
        }
        pthread_mutex_lock(&cs->lock);
        name = xasprintf("/%s", c->name);
        state =
            json_pack("{s:s,s:b,s:b,s:b,s:b,s:b,s:i,s:i,s:s,s:s,s:s}", "Status",
                      container_status_name(c->status), "Running",
                      c->status == CONTAINER_RUNNING || c->status == CONTAINER_PAUSED, "Paused",
                      c->status == CONTAINER_PAUSED, "Restarting",
                      c->status == CONTAINER_RESTARTING, "OOMKilled", c->oom_killed, "Dead",
                      c->status == CONTAINER_DEAD, "Pid", (int)c->pid, "ExitCode", c->exit_code,
                      "Error", c->error, "StartedAt", c->started_at, "FinishedAt", c->finished_at);
        if (c->health)
                json_object_set_new(state, "Health", json_deep_copy(c->health));
        j = json_object();
        json_object_set_new(j, "Id", json_string(c->id));
        json_object_set(j, "Created", json_object_get(c->config, "created"));
        json_object_set_new(j, "Path", json_string(path ? path : ""));
        json_object_set_new(j, "Args", args);
        json_object_set_new(j, "State", state);
        json_object_set(j, "Image", json_object_get(c->config, "image_id"));
        json_object_set_new(j, "ResolvConfPath", json_string(resolv));
        json_object_set_new(j, "HostnamePath", json_string(hostname));
        json_object_set_new(j, "HostsPath", json_string(hosts));
        json_object_set_new(j, "LogPath", json_string(c->log_path));
        json_object_set_new(j, "Name", json_string(name));
        json_object_set_new(j, "RestartCount", json_integer(c->restart_count));
        json_object_set_new(j, "Driver", json_string("overlay2"));
        json_object_set_new(j, "Platform", json_string("linux"));
        json_object_set_new(j, "MountLabel", json_string(""));
        json_object_set_new(j, "ProcessLabel", json_string(""));
        json_object_set_new(j, "HostConfig", host_config(c));
        json_object_set(j, "Mounts", json_object_get(c->config, "mounts"));
        pthread_mutex_unlock(&cs->lock);
        json_object_set_new(j, "Config", cfg);
        json_object_set_new(j, "NetworkSettings", network_settings_json(cs->d->networks, c));
        json_object_set_new(j, "GraphDriver",
                            json_pack("{s:s,s:{s:s,s:s,s:s,s:s}}", "Name", "overlay2", "Data",
                                      "LowerDir", lower ? lower : "", "MergedDir", c->rootfs,
                                      "UpperDir", upper, "WorkDir", work));
        json_object_set_new(j, "AppArmorProfile", json_string(""));
        json_object_set_new(j, "ExecIDs", json_null());
        if (size) {
                set_sizes(cs, c, j, upper);
        } else {
                json_object_del(j, "SizeRw");
        }
        return j;
}

/* go-units' HumanDuration, as docker's ps Status says it */
static char *human_duration(double secs)
{
        long hours;

        if (secs < 1)
                return xstrdup("Less than a second");
        if (secs < 2)
                return xstrdup("1 second");
        if (secs < 60)
                return xasprintf("%d seconds", (int)secs);
        if ((int)(secs / 60) == 1)
                return xstrdup("About a minute");
        if (secs < 3600)
                return xasprintf("%d minutes", (int)(secs / 60));
        hours = (long)(secs / 3600 + 0.5);
        if (hours == 1)
                return xstrdup("About an hour");
        if (hours < 48)
                return xasprintf("%ld hours", hours);
        if (hours < 24 * 7 * 2)
                return xasprintf("%ld days", hours / 24);
        if (hours < 24 * 30 * 2)
                return xasprintf("%ld weeks", hours / 24 / 7);
        if (hours < 24 * 365 * 2)
                return xasprintf("%ld months", hours / 24 / 30);
        return xasprintf("%ld years", (long)(secs / 3600) / 24 / 365);
}

/* Seconds since the RFC 3339 time t (fractions counted: "Up 1 second" flips when docker's
 * does) */
static double since_rfc3339(const char *t)
{
        struct tm tm = {0};
        struct timespec now;
        const char *rest;
        double frac = 0;

        if (!t || !(rest = strptime(t, "%Y-%m-%dT%H:%M:%S", &tm)))
                return 0;
        if (*rest == '.')
                frac = strtod(rest, NULL);
        clock_gettime(CLOCK_REALTIME, &now);
        return (double)(now.tv_sec - timegm(&tm)) + (double)now.tv_nsec / 1e9 - frac;
}

static time_t created_unix(struct container *c)
{
        struct tm tm = {0};
        const char *t = berth_json_get_str(c->config, "created");

        if (!t || !strptime(t, "%Y-%m-%dT%H:%M:%S", &tm))
                return 0;
        return timegm(&tm);
}

json_t *container_summary(struct containers *cs, struct container *c, bool size)
{
        json_t *cfg = merged_config(c);
        json_t *args;
        const char *path;
        _cleanup_free_ char *cmd = NULL, *status = NULL, *dur = NULL;
        _cleanup_free_ char *upper = size ? xasprintf("%s/upper", c->dir) : NULL;
        json_t *e, *j;
        size_t i, cap = 0;
        FILE *f = open_memstream(&cmd, &cap);
        const char *nm = json_string_value(container_host_cfg(c, "NetworkMode"));

        path_args(c, cfg, &path, &args);
        fputs(path ? path : "", f);
        /* docker's list quotes an argument holding a space in single quotes */
        json_array_foreach(args, i, e)
        {
                const char *a = json_string_value(e) ?: "";
                fprintf(f, strchr(a, ' ') ? " '%s'" : " %s", a);
        }
        fclose(f);
        pthread_mutex_lock(&cs->lock);
        switch (c->status) {
        case CONTAINER_RUNNING:
        case CONTAINER_PAUSED:
                dur = human_duration(since_rfc3339(c->started_at));
                if (c->status == CONTAINER_PAUSED)
                        status = xasprintf("Up %s (Paused)", dur);
                else if (health_status_locked(c) &&
                         strcmp(health_status_locked(c), "starting") == 0)
                        status = xasprintf("Up %s (health: starting)", dur);
                else if (health_status_locked(c))
                        status = xasprintf("Up %s (%s)", dur, health_status_locked(c));
                else
                        status = xasprintf("Up %s", dur);
                break;
        case CONTAINER_RESTARTING:
                dur = human_duration(since_rfc3339(c->finished_at));
                status = xasprintf("Restarting (%d) %s ago", c->exit_code, dur);
                break;
        case CONTAINER_EXITED:
                if (!c->has_been_started) {
                        status = xstrdup("Created");
                        break;
                }
                dur = human_duration(since_rfc3339(c->finished_at));
                status = xasprintf("Exited (%d) %s ago", c->exit_code, dur);
                break;
        case CONTAINER_REMOVING:
                status = xstrdup("Removal In Progress");
                break;
        case CONTAINER_DEAD:
                status = xstrdup("Dead");
                break;
        default:
                status = xstrdup("Created");
        }
        j = json_pack("{s:s,s:[s+],s:O,s:O,s:s,s:I,s:[],s:O,s:s,s:s,s:{s:s},s:{s:{}},s:O}", "Id",
                      c->id, "Names", "/", c->name, "Image", json_object_get(c->config, "image"),
                      "ImageID", json_object_get(c->config, "image_id"), "Command", cmd, "Created",
                      (json_int_t)created_unix(c), "Ports", "Labels",
                      json_object_get(cfg, "Labels"), "State", container_status_name(c->status),
                      "Status", status, "HostConfig", "NetworkMode", nm && *nm ? nm : "bridge",
                      "NetworkSettings", "Networks", "Mounts",
                      json_object_get(c->config, "mounts"));
        pthread_mutex_unlock(&cs->lock);
        json_object_set_new(j, "Ports", network_ports_summary(cs->d->networks, c));
        json_object_set_new(json_object_get(j, "NetworkSettings"), "Networks",
                            network_networks_summary(cs->d->networks, c));
        if (size) {
                set_sizes(cs, c, j, upper);
        }
        json_decref(args);
        json_decref(cfg);
        return j;
}

static void handle_inspect(struct api_req *r)
{
        struct containers *cs = api_daemon(r)->containers;
        struct container *c = get_or_reply(r);

        if (!c)
                return;
        api_reply_json(r, 200, container_inspect(cs, c, api_query_bool(r, "size", false)));
        container_unref(cs, c);
}

static bool labels_match(json_t *labels, json_t *want)
{
        json_t *e;
        size_t i;

        json_array_foreach(want, i, e)
        {
                const char *s = json_string_value(e);
                const char *eq = strchr(s, '=');
                _cleanup_free_ char *k = eq ? xstrndup(s, (size_t)(eq - s)) : xstrdup(s);
                const char *v = berth_json_get_str(labels, k);
                if (!v || (eq && strcmp(v, eq + 1) != 0))
                        return false;
        }
        return true;
}

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
        struct container *c = ud;
        _cleanup_free_ char *slashed = xasprintf("/%s", c->name);
        regex_t re;
        bool match;

        if (regcomp(&re, want, REG_EXTENDED | REG_NOSUB) != 0)
                return false;
        match = regexec(&re, slashed, 0, NULL, 0) == 0 || regexec(&re, c->name, 0, NULL, 0) == 0;
        regfree(&re);
        return match;
}

static bool pred_status(const char *want, void *ud)
{
        struct container *c = ud;
        const char *s = container_status_name(c->status);

        if (c->status == CONTAINER_EXITED && !c->has_been_started)
                s = "created";
        return strcmp(s, want) == 0;
}

static bool pred_exited(const char *want, void *ud)
{
        struct container *c = ud;

        return c->status == CONTAINER_EXITED && c->has_been_started && c->exit_code == atoi(want);
}

struct ancestor_ctx {
        struct daemon *d;
        struct container *c;
};

/* docker's health filter: starting, healthy, unhealthy or none (no healthcheck) */
static bool pred_health(const char *want, void *ud)
{
        struct ancestor_ctx *a = ud;
        return container_health_is(a->d->containers, a->c, want);
}

static bool pred_ancestor(const char *want, void *ud)
{
        struct ancestor_ctx *a = ud;
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
        struct ancestor_ctx *a = ud;
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

static int filter_error(const char *key, struct berth_error **err)
{
        return berth_error_setx(err, EINVAL, "invalid filter '%s'", key);
}

static void handle_list(struct api_req *r)
{
        struct daemon *d = api_daemon(r);
        struct containers *cs = d->containers;
        struct berth_error *err = NULL;
        _cleanup_json_ json_t *filters = NULL;
        json_t *out;
        long long limit;
        bool all = api_query_bool(r, "all", false);
        bool size = api_query_bool(r, "size", false);
        struct container **v;
        size_t n, count = 0;
        time_t before = 0, since = 0;
        const char *k;
        json_t *vals;

        if (api_query_filters(r, &filters, &err) < 0 ||
            api_query_int(r, "limit", -1, &limit, &err) < 0) {
                api_reply_error(r, err);
                return;
        }
        json_object_foreach(filters, k, vals)
        {
                static const char *const known[] = {
                    "id",    "name",   "label",   "status", "ancestor", "exited",  "before",
                    "since", "health", "network", "volume", "is-task",  "publish", "expose"};
                bool ok = false;
                for (size_t i = 0; i < ARRAY_SIZE(known); i++)
                        ok |= strcmp(k, known[i]) == 0;
                if (!ok) {
                        filter_error(k, &err);
                        api_reply_error(r, err);
                        return;
                }
        }
        for (int pass = 0; pass < 2; pass++) {
                json_t *vs = json_object_get(filters, pass ? "since" : "before");
                struct container *ref;
                if (!json_array_size(vs))
                        continue;
                if (container_get(cs, json_string_value(json_array_get(vs, 0)), &ref, &err) < 0) {
                        api_reply_error(r, err);
                        return;
                }
                (pass ? &since : &before)[0] = created_unix(ref) ?: 1;
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
                struct ancestor_ctx actx = {d, c};
                json_t *cfg;
                if (!all && !container_is_running(cs, c))
                        continue;
                if (!any_match(json_object_get(filters, "id"), pred_id, c) ||
                    !any_match(json_object_get(filters, "name"), pred_name, c) ||
                    !any_match(json_object_get(filters, "status"), pred_status, c) ||
                    !any_match(json_object_get(filters, "exited"), pred_exited, c) ||
                    !any_match(json_object_get(filters, "health"), pred_health, &actx) ||
                    !any_match(json_object_get(filters, "ancestor"), pred_ancestor, &actx) ||
                    !any_match(json_object_get(filters, "network"), pred_network, &actx))
                        continue;
                cfg = merged_config(c);
                if (!labels_match(json_object_get(cfg, "Labels"),
                                  json_object_get(filters, "label"))) {
                        json_decref(cfg);
                        continue;
                }
                json_decref(cfg);
                if (before && created_unix(c) >= before)
                        continue;
                if (since && created_unix(c) <= since)
                        continue;
                if (limit > 0 && count >= (size_t)limit)
                        break;
                json_array_append_new(out, container_summary(cs, c, size));
                count++;
        }
        containers_snapshot_free(cs, v, n);
        api_reply_json(r, 200, out);
}

/* ---------------------------------------------------------------- create, lifecycle */

static void handle_create(struct api_req *r)
{
        struct containers *cs = api_daemon(r)->containers;
        struct berth_error *err = NULL;
        _cleanup_json_ json_t *body = NULL;
        _cleanup_free_ char *id = NULL;
        json_t *warnings = json_array();

        if (api_body_json(r, &body, &err) < 0 ||
            container_create(cs, api_query(r, "name"), body, &id, warnings, &err) < 0) {
                json_decref(warnings);
                api_reply_error(r, err);
                return;
        }
        api_reply_json(r, 201, json_pack("{s:s,s:o}", "Id", id, "Warnings", warnings));
}

/* What an action route does to its container; 0 or a negative errno with *err set. */
typedef int (*container_action_fn)(struct api_req *r, struct containers *cs, struct container *c,
                                   struct berth_error **err);

/* The action routes: the route's container (or a 404 reply), fn on it, then 204 or fn's error
 * (status from its errno); the container released. */
static void with_container(struct api_req *r, container_action_fn fn)
{
        struct containers *cs = api_daemon(r)->containers;
        struct berth_error *err = NULL;
        struct container *c = get_or_reply(r);

        if (!c)
                return;
        if (fn(r, cs, c, &err) < 0)
                api_reply_error(r, err);
        else
                api_reply_empty(r, 204);
        container_unref(cs, c);
}

static int do_start(struct api_req *r, struct containers *cs, struct container *c,
                    struct berth_error **err)
{
        (void)r;
        return container_start(cs, c, err);
}

static void handle_start(struct api_req *r)
{
        with_container(r, do_start);
}

static int timeout_of(struct api_req *r, struct berth_error **err)
{
        long long t;
        int rr = api_query_int(r, "t", -1, &t, err);

        if (rr < 0)
                return INT32_MIN;
        if (t < -1 || t > 86400 * 365)
                return -1;
        return (int)t;
}

/* stop and restart check ?t= before the container is looked up (a 400 before a 404) */
static bool timeout_ok(struct api_req *r)
{
        struct berth_error *err = NULL;

        if (timeout_of(r, &err) == INT32_MIN) {
                api_reply_error(r, err);
                return false;
        }
        return true;
}

static int do_stop(struct api_req *r, struct containers *cs, struct container *c,
                   struct berth_error **err)
{
        return container_stop(cs, c, api_query(r, "signal"), timeout_of(r, err), err);
}

static void handle_stop(struct api_req *r)
{
        if (timeout_ok(r))
                with_container(r, do_stop);
}

static int do_restart(struct api_req *r, struct containers *cs, struct container *c,
                      struct berth_error **err)
{
        return container_restart(cs, c, api_query(r, "signal"), timeout_of(r, err), err);
}

static void handle_restart(struct api_req *r)
{
        if (timeout_ok(r))
                with_container(r, do_restart);
}

static int do_kill(struct api_req *r, struct containers *cs, struct container *c,
                   struct berth_error **err)
{
        return container_kill(cs, c, api_query(r, "signal"), err);
}

static void handle_kill(struct api_req *r)
{
        with_container(r, do_kill);
}

static int do_pause(struct api_req *r, struct containers *cs, struct container *c,
                    struct berth_error **err)
{
        return container_pause(cs, c, strstr(api_path(r), "/unpause") == NULL, err);
}

static void handle_pause(struct api_req *r)
{
        with_container(r, do_pause);
}

struct wait_job {
        struct containers *cs;
        struct container *c;
        char *condition;
        uint64_t gen;
        bool done;
        int code;
};

static void wait_job_free(void *p)
{
        struct wait_job *w = p;

        container_unref(w->cs, w->c);
        free(w->condition);
        free(w);
}

static void wait_producer(int fd, void *p)
{
        struct wait_job *w = p;
        _cleanup_free_ char *s = NULL;
        int code = w->code;

        if (!w->done)
                container_wait(w->cs, w->c, w->condition, w->gen, &code);
        s = xasprintf("{\"StatusCode\":%d,\"Error\":null}\n", code);
        if (write(fd, s, strlen(s)) < 0)
                berth_debug("wait: client gone");
}

static void handle_wait(struct api_req *r)
{
        struct containers *cs = api_daemon(r)->containers;
        const char *cond = api_query(r, "condition");
        struct container *c = NULL;
        struct berth_error *err = NULL;
        struct wait_job *w;

        if (!cond || !*cond)
                cond = "not-running";
        if (strcmp(cond, "not-running") != 0 && strcmp(cond, "next-exit") != 0 &&
            strcmp(cond, "removed") != 0) {
                api_reply_errorf(r, 400, "invalid condition: \"%s\"", cond);
                return;
        }
        if (container_get(cs, api_param(r, 0), &c, &err) < 0) {
                /* `run --rm`: the CLI's wait may come in after a fast container is gone */
                int code = strcmp(cond, "removed") == 0
                               ? container_removed_exit_code(cs, api_param(r, 0))
                               : -1;
                if (code >= 0) {
                        berth_error_free(err);
                        api_reply_json(r, 200, json_pack("{s:i,s:n}", "StatusCode", code, "Error"));
                        return;
                }
                api_reply_error(r, err);
                return;
        }
        w = xcalloc(1, sizeof(*w));
        w->cs = cs;
        w->c = c;
        w->condition = xstrdup(cond);
        w->gen = container_wait_begin(cs, c, cond, &w->done, &w->code);
        api_reply_stream(r, 200, "application/json", wait_producer, w, wait_job_free);
}

static int do_remove(struct api_req *r, struct containers *cs, struct container *c,
                     struct berth_error **err)
{
        if (api_query_bool(r, "link", false))
                return berth_error_setx(err, EINVAL, "links are not supported");
        return container_remove(cs, c, api_query_bool(r, "force", false),
                                api_query_bool(r, "v", false), err);
}

static void handle_remove(struct api_req *r)
{
        with_container(r, do_remove);
}

static int do_rename(struct api_req *r, struct containers *cs, struct container *c,
                     struct berth_error **err)
{
        return container_rename(cs, c, api_query(r, "name"), err);
}

static void handle_rename(struct api_req *r)
{
        with_container(r, do_rename);
}

static void handle_prune(struct api_req *r)
{
        struct containers *cs = api_daemon(r)->containers;
        struct berth_error *err = NULL;
        _cleanup_json_ json_t *filters = NULL;
        json_t *deleted = json_array();
        struct container **v;
        size_t n;
        uint64_t reclaimed = 0;

        if (api_query_filters(r, &filters, &err) < 0) {
                json_decref(deleted);
                api_reply_error(r, err);
                return;
        }
        v = containers_snapshot(cs, &n);
        for (size_t i = 0; i < n; i++) {
                struct container *c = v[i];
                _cleanup_free_ char *upper = xasprintf("%s/upper", c->dir);
                json_t *cfg = merged_config(c);
                bool match =
                    labels_match(json_object_get(cfg, "Labels"), json_object_get(filters, "label"));
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
        events_publish(api_daemon(r), "container", "prune", "", NULL);
        api_reply_json(r, 200,
                       json_pack("{s:o,s:I}", "ContainersDeleted", deleted, "SpaceReclaimed",
                                 (json_int_t)reclaimed));
}

static void handle_update(struct api_req *r)
{
        struct containers *cs = api_daemon(r)->containers;
        struct berth_error *err = NULL;
        _cleanup_json_ json_t *body = NULL;
        struct container *c;

        if (api_body_json(r, &body, &err) < 0 ||
            container_restart_policy_validate(json_object_get(body, "RestartPolicy"), &err) < 0) {
                api_reply_error(r, err);
                return;
        }
        c = get_or_reply(r);
        if (!c)
                return;
        if (container_update(cs, c, body, &err) < 0)
                api_reply_error(r, err);
        else
                api_reply_json(r, 200, json_pack("{s:[]}", "Warnings"));
        container_unref(cs, c);
}

/* ---------------------------------------------------------------- top, resize, attach */

static void handle_top(struct api_req *r)
{
        struct containers *cs = api_daemon(r)->containers;
        struct berth_error *err = NULL;
        struct container *c = get_or_reply(r);
        json_t *out;

        if (!c)
                return;
        if (container_top(cs, c, api_query(r, "ps_args"), &out, &err) < 0)
                api_reply_error(r, err);
        else
                api_reply_json(r, 200, out);
        container_unref(cs, c);
}

static void handle_resize(struct api_req *r)
{
        struct containers *cs = api_daemon(r)->containers;
        struct berth_error *err = NULL;
        struct container *c;
        long long h, w;

        if (api_query_int(r, "h", 0, &h, &err) < 0 || api_query_int(r, "w", 0, &w, &err) < 0) {
                api_reply_error(r, err);
                return;
        }
        c = get_or_reply(r);
        if (!c)
                return;
        if (!container_is_running(cs, c)) {
                api_reply_errorf(r, 409, "Container %s is not running", c->id);
        } else {
                _cleanup_json_ json_t *msg =
                    json_pack("{s:{s:I,s:I}}", "resize", "h", (json_int_t)h, "w", (json_int_t)w);
                if (container_shim_request(c, msg, &err) < 0)
                        api_reply_error(r, err);
                else
                        api_reply_empty(r, 200);
        }
        container_unref(cs, c);
}

struct attach_job {
        struct containers *cs;
        struct container *c;
        json_t *msg;
        bool logs, stream; /* logs=1: the log replayed first; stream=0: nothing live */
        struct logs_opts lopts;
};

static void attach_job_free(void *p)
{
        struct attach_job *a = p;

        container_unref(a->cs, a->c);
        json_decref(a->msg);
        free(a);
}

static void attach_hijacked(int sock, void *p)
{
        struct attach_job *a = p;
        struct berth_error *err = NULL;

        berth_sock_wait_drained(sock, 500);
        if (a->logs && logs_stream(a->c->log_path, &a->lopts, sock, sock, NULL, NULL, &err) < 0) {
                berth_warn("attach `%s`: logs: %s", a->c->id, err->msg);
                berth_error_free(TAKE_PTR(err));
        }
        if (!a->stream) {
                shutdown(sock, SHUT_RDWR);
                close(sock);
                return;
        }
        if (container_attach(a->cs, a->c, a->msg, sock, &err) < 0) {
                berth_warn("attach `%s`: %s", a->c->id, err->msg);
                berth_error_free(err);
        }
}

static void handle_attach(struct api_req *r)
{
        struct containers *cs = api_daemon(r)->containers;
        struct container *c = get_or_reply(r);
        struct attach_job *a;
        bool tty;

        if (!c)
                return;
        tty = json_is_true(container_cfg(c, "Tty"));
        if (!api_query_bool(r, "stream", false) && !api_query_bool(r, "logs", false) &&
            container_exited_after_start(cs, c)) {
                api_reply_errorf(r, 409,
                                 "You cannot attach to a stopped container, start it "
                                 "first");
                container_unref(cs, c);
                return;
        }
        json_t *keys = container_detach_keys_parse(api_query(r, "detachKeys"));
        if (!keys) {
                api_reply_errorf(r, 400, "Invalid detach keys (%s) provided",
                                 api_query(r, "detachKeys"));
                container_unref(cs, c);
                return;
        }
        a = xcalloc(1, sizeof(*a));
        a->cs = cs;
        a->c = c;
        a->msg = json_pack("{s:{s:b,s:b,s:b,s:b,s:o}}", "attach", "stdin",
                           api_query_bool(r, "stdin", false), "stdout",
                           api_query_bool(r, "stdout", false), "stderr",
                           api_query_bool(r, "stderr", false), "raw", tty, "detach_keys", keys);
        a->logs = api_query_bool(r, "logs", false);
        a->stream = api_query_bool(r, "stream", false);
        container_publish(cs, c, "attach", NULL);
        a->lopts = (struct logs_opts){.out = api_query_bool(r, "stdout", false),
                                      .err = api_query_bool(r, "stderr", false),
                                      .tty = tty,
                                      .tail = -1};
        api_reply_hijack(r,
                         tty ? "application/vnd.docker.raw-stream"
                             : "application/vnd.docker.multiplexed-stream",
                         attach_hijacked, a, attach_job_free);
}

/* ---------------------------------------------------------------- logs, stats */

struct logs_job {
        struct containers *cs;
        struct container *c;
};

static bool logs_running(void *p)
{
        struct logs_job *l = p;

        return container_is_running(l->cs, l->c);
}

static void logs_job_free(void *p)
{
        struct logs_job *l = p;

        container_unref(l->cs, l->c);
        free(l);
}

static void handle_logs(struct api_req *r)
{
        struct containers *cs = api_daemon(r)->containers;
        struct container *c = get_or_reply(r);
        struct logs_job *l;
        const char *type;

        if (!c)
                return;
        type = berth_json_get_str(container_host_cfg(c, "LogConfig"), "Type");
        if (!logs_driver_readable(type)) {
                api_reply_errorf(r, 501, "configured logging driver does not support reading");
                container_unref(cs, c);
                return;
        }
        l = xmalloc(sizeof(*l));
        l->cs = cs;
        l->c = c;
        logs_reply(r, c->log_path, json_is_true(container_cfg(c, "Tty")), logs_running, l,
                   logs_job_free);
}

static void handle_stats(struct api_req *r)
{
        struct containers *cs = api_daemon(r)->containers;
        struct container *c = get_or_reply(r);

        if (!c)
                return;
        stats_reply(r, c->id, c->name);
        container_unref(cs, c);
}

const struct api_route api_routes_containers[] = {
    {"POST", "/containers/create", handle_create, false},
    {"GET", "/containers/json", handle_list, false},
    {"POST", "/containers/prune", handle_prune, false},
    {"GET", "/containers/{}/json", handle_inspect, false},
    {"POST", "/containers/{}/start", handle_start, false},
    {"POST", "/containers/{}/stop", handle_stop, false},
    {"POST", "/containers/{}/restart", handle_restart, false},
    {"POST", "/containers/{}/kill", handle_kill, false},
    {"POST", "/containers/{}/pause", handle_pause, false},
    {"POST", "/containers/{}/unpause", handle_pause, false},
    {"POST", "/containers/{}/wait", handle_wait, false},
    {"POST", "/containers/{}/update", handle_update, false},
    {"POST", "/containers/{}/rename", handle_rename, false},
    {"DELETE", "/containers/{}", handle_remove, false},
    {"GET", "/containers/{}/top", handle_top, false},
    {"POST", "/containers/{}/resize", handle_resize, false},
    {"POST", "/containers/{}/attach", handle_attach, false},
    {"GET", "/containers/{}/logs", handle_logs, false},
    {"GET", "/containers/{}/stats", handle_stats, false},
    {"POST", "/containers/{}/exec", api_exec_create, false},
    {"POST", "/exec/{}/start", api_exec_start, false},
    {"POST", "/exec/{}/resize", api_exec_resize, false},
    {"GET", "/exec/{}/json", api_exec_inspect, false},
    {"GET", "/containers/{}/changes", api_container_changes, false},
    {"GET", "/containers/{}/export", api_container_export, false},
    {"GET", "/containers/{}/archive", api_archive_get, false},
    {"HEAD", "/containers/{}/archive", api_archive_head, false},
    {"PUT", "/containers/{}/archive", api_archive_put, true},
    {NULL, NULL, NULL, false},
};
