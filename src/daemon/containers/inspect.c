/* docker's inspect and list entries of a container: the create body merged over the image's
 * config, State read under the container table lock, sizes, network settings. */
#include "daemon/containers/containers.h"
#include "daemon/daemon.h"
#include "daemon/network/network.h"
#include "daemon/state/volumes.h"
#include "image/image.h"

/* docker's Config of inspect: the create body over the image's config */
json_t *container_config_merged(struct container *c)
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
        json_t *cfg = container_config_merged(c);
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

time_t container_created_unix(struct container *c)
{
        struct tm tm = {0};
        const char *t = berth_json_get_str(c->config, "created");

        if (!t || !strptime(t, "%Y-%m-%dT%H:%M:%S", &tm))
                return 0;
        return timegm(&tm);
}

json_t *container_summary(struct containers *cs, struct container *c, bool size)
{
        json_t *cfg = container_config_merged(c);
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
                      (json_int_t)container_created_unix(c), "Ports", "Labels",
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
