/* berthd's configuration file (dockerd's daemon.json format) and the OCI runtimes it names. */
#include "daemon/daemon.h"

#include <sys/stat.h>

void daemon_config_release(struct daemon_config *cfg)
{
        for (size_t i = 0; i < cfg->n_runtimes; i++) {
                free(cfg->runtimes[i].name);
                free(cfg->runtimes[i].path);
                strv_free(cfg->runtimes[i].args);
        }
        free(cfg->runtimes);
        json_decref(cfg->doc);
        *cfg = (struct daemon_config){.ipv6 = -1, .debug = -1};
}

/* An executable file: path as it is when it holds a '/', else found in PATH (dockerd runs a
 * bare name through PATH). */
static int runtime_path_resolve(const char *name, const char *path, char **ret,
                                struct berth_error **err)
{
        struct stat st;

        if (!*path)
                return berth_error_setx(err, EINVAL, "runtime `%s`: empty path", name);
        if (strchr(path, '/')) {
                if (path[0] != '/')
                        return berth_error_setx(err, EINVAL,
                                                "runtime `%s`: path `%s` must be absolute or a "
                                                "name found in PATH",
                                                name, path);
                if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || access(path, X_OK) < 0)
                        return berth_error_setx(err, ENOENT,
                                                "runtime `%s`: `%s` is not an executable file",
                                                name, path);
                *ret = xstrdup(path);
                return 0;
        }
        const char *env = getenv("PATH");
        _cleanup_free_ char *dirs = xstrdup(env && *env ? env
                                                        : "/usr/local/sbin:/usr/local/bin:"
                                                          "/usr/sbin:/usr/bin:/sbin:/bin");
        char *save = NULL;
        for (char *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
                _cleanup_free_ char *cand = xasprintf("%s/%s", dir, path);
                if (dir[0] == '/' && stat(cand, &st) == 0 && S_ISREG(st.st_mode) &&
                    access(cand, X_OK) == 0) {
                        *ret = TAKE_PTR(cand);
                        return 0;
                }
        }
        return berth_error_setx(err, ENOENT, "runtime `%s`: `%s` not found in PATH", name, path);
}

int daemon_config_add_runtime(struct daemon_config *cfg, const char *name, const char *path,
                              json_t *args, struct berth_error **err)
{
        _cleanup_free_ char *abs = NULL;
        _cleanup_strv_ char **argv = NULL;
        size_t i;
        json_t *a;

        if (!*name || strchr(name, '/') || strchr(name, '='))
                return berth_error_setx(err, EINVAL, "runtime name `%s` is not valid", name);
        if (!strcmp(name, DAEMON_RUNTIME_BUILTIN))
                return berth_error_setx(
                    err, EINVAL, "runtime name `%s` is reserved for the built-in runtime", name);
        for (i = 0; i < cfg->n_runtimes; i++)
                if (!strcmp(cfg->runtimes[i].name, name))
                        return berth_error_setx(err, EEXIST, "runtime `%s` is defined twice", name);
        if (args && !json_is_array(args))
                return berth_error_setx(
                    err, EINVAL, "runtime `%s`: runtimeArgs must be an array of strings", name);
        json_array_foreach(args, i, a)
        {
                if (!json_is_string(a))
                        return berth_error_setx(err, EINVAL,
                                                "runtime `%s`: runtimeArgs must be an array of "
                                                "strings",
                                                name);
                strv_push(&argv, json_string_value(a));
        }
        if (runtime_path_resolve(name, path, &abs, err) < 0)
                return -EINVAL;
        cfg->runtimes = xrealloc(cfg->runtimes, (cfg->n_runtimes + 1) * sizeof(*cfg->runtimes));
        cfg->runtimes[cfg->n_runtimes++] = (struct daemon_runtime){
            .name = xstrdup(name), .path = TAKE_PTR(abs), .args = TAKE_PTR(argv)};
        return 0;
}

static int parse_runtimes(struct daemon_config *cfg, json_t *rts, struct berth_error **err)
{
        const char *name, *k;
        json_t *rt, *v;

        if (!json_is_object(rts))
                return berth_error_setx(err, EINVAL, "`runtimes` must be an object");
        json_object_foreach(rts, name, rt)
        {
                if (!json_is_object(rt))
                        return berth_error_setx(err, EINVAL, "runtime `%s` must be an object",
                                                name);
                json_object_foreach(rt, k, v)
                {
                        if (strcmp(k, "path") != 0 && strcmp(k, "runtimeArgs") != 0)
                                return berth_error_setx(err, EINVAL,
                                                        "runtime `%s`: `%s` is not supported by "
                                                        "berthd (only `path` and `runtimeArgs`)",
                                                        name, k);
                }
                const char *path = berth_json_get_str(rt, "path");
                if (!path)
                        return berth_error_setx(
                            err, EINVAL, "runtime `%s`: `path` (a string) is required", name);
                if (daemon_config_add_runtime(cfg, name, path, json_object_get(rt, "runtimeArgs"),
                                              err) < 0)
                        return -EINVAL;
        }
        return 0;
}

/* The string value of key, or EINVAL naming it. */
static int get_string(json_t *v, const char *key, const char **ret, struct berth_error **err)
{
        if (!json_is_string(v))
                return berth_error_setx(err, EINVAL, "`%s` must be a string", key);
        *ret = json_string_value(v);
        return 0;
}

static int get_bool(json_t *v, const char *key, int *ret, struct berth_error **err)
{
        if (!json_is_boolean(v))
                return berth_error_setx(err, EINVAL, "`%s` must be true or false", key);
        *ret = json_is_true(v);
        return 0;
}

static int parse_doc(struct daemon_config *cfg, struct berth_error **err)
{
        const char *k;
        json_t *v;
        int r = 0;

        if (!json_is_object(cfg->doc))
                return berth_error_setx(err, EINVAL, "not a JSON object");
        json_object_foreach(cfg->doc, k, v)
        {
                if (!strcmp(k, "runtimes"))
                        r = parse_runtimes(cfg, v, err);
                else if (!strcmp(k, "default-runtime"))
                        r = get_string(v, k, &cfg->default_runtime, err);
                else if (!strcmp(k, "data-root"))
                        r = get_string(v, k, &cfg->data_root, err);
                else if (!strcmp(k, "bridge"))
                        r = get_string(v, k, &cfg->bridge, err);
                else if (!strcmp(k, "bip"))
                        r = get_string(v, k, &cfg->bip, err);
                else if (!strcmp(k, "fixed-cidr-v6"))
                        r = get_string(v, k, &cfg->fixed_cidr_v6, err);
                else if (!strcmp(k, "log-level"))
                        r = get_string(v, k, &cfg->log_level, err);
                else if (!strcmp(k, "seccomp-profile"))
                        r = get_string(v, k, &cfg->seccomp_profile, err);
                else if (!strcmp(k, "ipv6"))
                        r = get_bool(v, k, &cfg->ipv6, err);
                else if (!strcmp(k, "debug"))
                        r = get_bool(v, k, &cfg->debug, err);
                else if (!strcmp(k, "hosts")) {
                        if (!json_is_array(v) || json_array_size(v) != 1 ||
                            !json_is_string(json_array_get(v, 0)))
                                return berth_error_setx(err, EINVAL,
                                                        "`hosts` must be an array of one "
                                                        "unix:// address (berthd listens on "
                                                        "one socket)");
                        cfg->host = json_string_value(json_array_get(v, 0));
                } else
                        return berth_error_setx(err, EINVAL,
                                                "option `%s` is not supported by berthd", k);
                if (r < 0)
                        return r;
        }
        return 0;
}

int daemon_config_load(const char *path, bool required, struct daemon_config *ret,
                       struct berth_error **err)
{
        _cleanup_(daemon_config_release) struct daemon_config cfg = {.ipv6 = -1, .debug = -1};
        _cleanup_free_ char *text = NULL;
        json_error_t jerr;

        *ret = (struct daemon_config){.ipv6 = -1, .debug = -1};
        if (berth_read_file_at(AT_FDCWD, path, 1 << 20, &text, NULL, err) < 0) {
                if (!required && (*err)->code == ENOENT) {
                        berth_error_free(TAKE_PTR(*err));
                        return 0;
                }
                return berth_error_wrap(err, "configuration file `%s`", path);
        }
        cfg.doc = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
        if (!cfg.doc)
                return berth_error_setx(err, EINVAL, "configuration file `%s`: line %d: %s", path,
                                        jerr.line, jerr.text);
        if (parse_doc(&cfg, err) < 0)
                return berth_error_wrap(err, "configuration file `%s`", path);
        *ret = cfg;
        cfg = (struct daemon_config){.ipv6 = -1, .debug = -1};
        return 0;
}

int daemon_runtime_lookup(const struct daemon_runtimes *rts, const char *name,
                          const struct daemon_runtime **ret, struct berth_error **err)
{
        if (!name || !*name || !strcmp(name, DAEMON_RUNTIME_BUILTIN)) {
                *ret = NULL;
                return 0;
        }
        for (size_t i = 0; rts && i < rts->n; i++)
                if (!strcmp(rts->v[i].name, name)) {
                        *ret = &rts->v[i];
                        return 0;
                }
        return berth_error_setx(err, EINVAL, "Unknown runtime specified %s", name);
}

struct daemon_runtimes *daemon_runtimes_new(struct daemon_config *cfg, const char *default_runtime,
                                            struct berth_error **err)
{
        struct daemon_runtimes *rts = xcalloc(1, sizeof(*rts));
        const struct daemon_runtime *rt;

        rts->refs = 1;
        rts->v = TAKE_PTR(cfg->runtimes);
        rts->n = cfg->n_runtimes;
        cfg->n_runtimes = 0;
        rts->default_runtime = xstrdup(default_runtime ? default_runtime : DAEMON_RUNTIME_BUILTIN);
        if (daemon_runtime_lookup(rts, rts->default_runtime, &rt, NULL) < 0) {
                berth_error_setx(err, EINVAL, "default runtime `%s` is not configured",
                                 rts->default_runtime);
                daemon_runtimes_put(rts);
                return NULL;
        }
        return rts;
}

struct daemon_runtimes *daemon_runtimes_get(struct daemon *d)
{
        pthread_mutex_lock(&d->runtimes_lock);
        struct daemon_runtimes *rts = d->runtimes;
        if (rts)
                __atomic_add_fetch(&rts->refs, 1, __ATOMIC_RELAXED);
        pthread_mutex_unlock(&d->runtimes_lock);
        return rts;
}

void daemon_runtimes_put(struct daemon_runtimes *rts)
{
        if (!rts || __atomic_sub_fetch(&rts->refs, 1, __ATOMIC_ACQ_REL) > 0)
                return;
        for (size_t i = 0; i < rts->n; i++) {
                free(rts->v[i].name);
                free(rts->v[i].path);
                strv_free(rts->v[i].args);
        }
        free(rts->v);
        free(rts->default_runtime);
        free(rts);
}

void daemon_runtimes_set(struct daemon *d, struct daemon_runtimes *rts)
{
        pthread_mutex_lock(&d->runtimes_lock);
        struct daemon_runtimes *old = d->runtimes;
        d->runtimes = rts;
        pthread_mutex_unlock(&d->runtimes_lock);
        daemon_runtimes_put(old);
}
