/* The step executor of docker's classic builder: stages walked in order, each instruction's words
 * expanded with the ARG/ENV in scope at that step (moby's dispatchers), one image per step, a
 * layer only for steps that change files (RUN, COPY/ADD, a WORKDIR that makes its directory),
 * and the build cache consulted before any work. RUN is a real container of the engine
 * (create/attach/start/wait/remove, as `docker run` does) whose upper dir becomes the layer
 * through docker commit's code. */
#include "daemon/build/build.h"
#include "daemon/containers/containers.h"
#include "daemon/daemon.h"
#include "image/image.h"

#include <ctype.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>

struct stage {
        char *name; /* lowercased `AS` name, NULL when none */
        char *image_id;
        json_t *cfg;  /* the image's config.config being built */
        json_t *args; /* ARGs declared in the stage: {name: value|null} */
        bool cmd_set;
        size_t first, end; /* its instructions: FROM at first, up to end */
        bool built;
        bool needed;  /* the target stage or one it takes files or its base from */
        bool done;    /* its thread finished (built or not), under sched.lock */
        bool *deps;   /* [n_stages]: the earlier stages it takes its base or files from */
        size_t step0; /* the number of its FROM step */
};

/* The stages' threads: the first failure (err, code) wins and cancels the others (cancel_fd,
 * an eventfd a running RUN polls, is written once). */
struct sched {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool failed;
        struct berth_error *err;
        int code;
        int cancel_fd;
};

struct builder {
        struct daemon *d;
        const struct build_opts *o;
        struct build_out *out;
        struct bld_dockerfile *df;
        struct build_context *cx;
        struct bld_ignore *ig;
        json_t *meta; /* ARGs before the first FROM */
        json_t *used; /* build args some ARG consumed */
        struct stage *stages;
        size_t n_stages;
        json_t *cache_from; /* cache_from_load, NULL until needed */
        /* read-only trees of RUN --mount=type=bind,from=… for the step running */
        struct build_mount run_mounts[8];
        size_t n_run_mounts;
        char *run_tmp; /* a directory the RUN step running made (its heredoc script), or NULL */
        size_t step, total;
        int code; /* exit status of a failed RUN */
        /* Each stage runs in a thread on its own copy of this struct (out, run_mounts, step and
         * code are its own); the rest is shared: stages other than its own are read only once
         * they are done (stage_wait), used is written under sc->lock. */
        struct sched *sc;
};

static const char *const builtin_args[] = {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
                                           "FTP_PROXY",  "ftp_proxy",  "NO_PROXY",    "no_proxy",
                                           "ALL_PROXY",  "all_proxy"};

static bool is_builtin_arg(const char *k)
{
        for (size_t i = 0; i < ARRAY_SIZE(builtin_args); i++)
                if (!strcmp(builtin_args[i], k))
                        return true;
        return false;
}

static const char *host_arch(void)
{
        struct utsname u;
        if (uname(&u) < 0)
                return "amd64";
        if (!strcmp(u.machine, "x86_64"))
                return "amd64";
        if (!strcmp(u.machine, "aarch64"))
                return "arm64";
        if (!strncmp(u.machine, "arm", 3))
                return "arm";
        return "amd64";
}

static char *now_rfc3339(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return berth_time_rfc3339(&ts);
}

/* ---------------------------------------------------------------- expansion */

struct lookup {
        struct builder *b;
        struct stage *st;
};

static const char *env_get(json_t *cfg, const char *name)
{
        size_t i, n = strlen(name);
        json_t *v;
        const char *found = NULL;
        json_array_foreach(json_object_get(cfg, "Env"), i, v)
        {
                const char *s = json_string_value(v);
                if (s && !strncmp(s, name, n) && s[n] == '=')
                        found = s + n + 1;
        }
        return found;
}

static const char *lookup_fn(void *userdata, const char *name)
{
        struct lookup *l = userdata;
        if (l->st) {
                const char *v = env_get(l->st->cfg, name);
                if (v)
                        return v;
                return json_string_value(json_object_get(l->st->args, name));
        }
        return json_string_value(json_object_get(l->b->meta, name));
}

static int expand(struct builder *b, struct stage *st, const char *word, char **ret,
                  struct berth_error **err)
{
        struct lookup l = {b, st};
        return bld_expand(word, b->df->escape, lookup_fn, &l, ret, err);
}

static const char *flag_get(const struct bld_instr *in, const char *name)
{
        const char *v = NULL;
        for (size_t i = 0; i < in->n_flags; i++)
                if (!strcmp(in->flags[i].name, name))
                        v = in->flags[i].value;
        return v;
}

/* Refuse flags this instruction does not take (never ignore one). */
static int flags_check(const struct bld_instr *in, const char *const *allowed, const char *kw,
                       struct berth_error **err)
{
        for (size_t i = 0; i < in->n_flags; i++) {
                bool ok = false;
                for (size_t k = 0; allowed && allowed[k]; k++)
                        ok |= !strcmp(in->flags[i].name, allowed[k]);
                if (!ok)
                        return berth_error_setx(err, ENOTSUP,
                                                "%s --%s is not supported by berth's builder", kw,
                                                in->flags[i].name);
        }
        return 0;
}

/* ---------------------------------------------------------------- output helpers */

static void print_id(struct builder *b, const char *id)
{
        const char *hex = strncmp(id, "sha256:", 7) ? id : id + 7;
        build_out_stream(b->out, " ---> %.12s\n", hex);
}

static char *key_of(struct stage *st, const char *kind, const char *what, const char *extra)
{
        _cleanup_free_ char *cfg = json_dumps(st->cfg, JSON_COMPACT | JSON_SORT_KEYS);
        _cleanup_free_ char *s = xasprintf("%s\n%s\n%s\n%s\n%s", st->image_id, kind, what,
                                           extra ? extra : "", cfg ? cfg : "");
        char hex[65];
        build_sha256_hex(s, strlen(s), hex);
        return xstrdup(hex);
}

/* A cached result for key: the stage moves to it. */
static json_t *shell_of(struct stage *st);

/* words of a command line joined with spaces, as docker's history shows them */
static char *join_words(json_t *a)
{
        char *out = xstrdup("");
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v)
        {
                char *n = xasprintf("%s%s%s", out, i ? " " : "", json_string_value(v));
                free(out);
                out = n;
        }
        return out;
}

/* --cache-from: the images of the given local images' chains (parent links of images built or
 * committed here), as {parent, created_by, config}. */
static void cache_from_load(struct builder *b)
{
        b->cache_from = json_array();
        for (size_t i = 0; b->o->cachefrom && b->o->cachefrom[i]; i++) {
                _cleanup_error_ struct berth_error *e = NULL;
                char *id = NULL;
                if (berth_image_resolve(b->d->images, b->o->cachefrom[i], &id, &e) < 0) {
                        build_out_stream(b->out, "[Warning] --cache-from image %s not found\n",
                                         b->o->cachefrom[i]);
                        continue;
                }
                for (int depth = 0; id && depth < 1000; depth++) {
                        _cleanup_json_ json_t *doc = NULL;
                        if (berth_image_config(b->d->images, id, &doc, &e) < 0) {
                                berth_error_free(TAKE_PTR(e));
                                break;
                        }
                        json_t *hist = json_object_get(doc, "history");
                        json_t *last = json_array_get(hist, json_array_size(hist) - 1);
                        const char *parent = json_string_value(json_object_get(doc, "parent"));
                        const char *by = json_string_value(json_object_get(last, "created_by"));
                        if (parent && by) {
                                _cleanup_free_ char *cfg = json_dumps(
                                    json_object_get(doc, "config"), JSON_COMPACT | JSON_SORT_KEYS);
                                json_array_append_new(b->cache_from,
                                                      json_pack("{s:s,s:s,s:s,s:s}", "id", id,
                                                                "parent", parent, "by", by,
                                                                "config", cfg ? cfg : ""));
                        }
                        free(id);
                        id = parent ? xstrdup(parent) : NULL;
                }
                free(id);
        }
}

/* A step of a --cache-from image made from the same parent by the same command into the same
 * config. */
static char *cache_from_find(struct builder *b, struct stage *st, const char *created_by)
{
        if (!b->o->cachefrom)
                return NULL;
        if (!b->cache_from)
                cache_from_load(b);
        _cleanup_free_ char *cfg = json_dumps(st->cfg, JSON_COMPACT | JSON_SORT_KEYS);
        size_t i;
        json_t *c;
        json_array_foreach(b->cache_from, i, c)
        {
                if (!strcmp(json_string_value(json_object_get(c, "parent")), st->image_id) &&
                    !strcmp(json_string_value(json_object_get(c, "by")), created_by) &&
                    !strcmp(json_string_value(json_object_get(c, "config")), cfg ? cfg : ""))
                        return xstrdup(json_string_value(json_object_get(c, "id")));
        }
        return NULL;
}

/* A cached result for key (or, with --cache-from, a step of those images that made the same
 * thing): the stage moves to it. */
static bool step_cached(struct builder *b, struct stage *st, const char *key,
                        const char *created_by)
{
        if (b->o->nocache)
                return false;
        char *id = build_cache_get(b->d, key);
        if (!id)
                id = cache_from_find(b, st, created_by);
        if (!id)
                return false;
        build_out_stream(b->out, " ---> Using cache\n");
        free(st->image_id);
        st->image_id = id;
        return true;
}

static json_t *shell_of(struct stage *st)
{
        json_t *sh = json_object_get(st->cfg, "Shell");
        if (json_is_array(sh) && json_array_size(sh))
                return json_deep_copy(sh);
        return json_pack("[s,s]", "/bin/sh", "-c");
}

/* docker's container_config Cmd of a metadata step: [shell…, "#(nop) ", comment]; of COPY/ADD
 * and WORKDIR (withCmdCommentString): [shell…, "#(nop) comment"] */
static json_t *nop_cmd(struct stage *st, const char *comment)
{
        json_t *cmd = shell_of(st);
        json_array_append_new(cmd, json_string("#(nop) "));
        json_array_append_new(cmd, json_string(comment));
        return cmd;
}

static json_t *nop_cmd1(struct stage *st, const char *comment)
{
        json_t *cmd = shell_of(st);
        char *s = xasprintf("#(nop) %s", comment);
        json_array_append_new(cmd, json_string(s));
        free(s);
        return cmd;
}

/* A new image without a layer: the parent's config with the stage's config and one
 * empty_layer history entry. */
static int commit_nop(struct builder *b, struct stage *st, const char *key, const char *comment,
                      bool one, struct berth_error **err)
{
        _cleanup_json_ json_t *doc = NULL;
        _cleanup_json_ json_t *cmd = one ? nop_cmd1(st, comment) : nop_cmd(st, comment);
        if (berth_image_config(b->d->images, st->image_id, &doc, err) < 0)
                return -EIO;
        _cleanup_free_ char *created = now_rfc3339();
        _cleanup_free_ char *created_by = NULL;
        size_t i;
        json_t *v;
        json_array_foreach(cmd, i, v)
        {
                char *next = xasprintf("%s%s%s", created_by ? created_by : "", i ? " " : "",
                                       json_string_value(v));
                free(created_by);
                created_by = next;
        }
        json_object_set(doc, "config", st->cfg);
        json_t *cc = json_deep_copy(st->cfg);
        json_object_set(cc, "Cmd", cmd);
        json_object_set_new(doc, "container_config", cc);
        json_object_set_new(doc, "created", json_string(created));
        json_object_set_new(doc, "parent", json_string(st->image_id));
        json_t *hist = json_object_get(doc, "history");
        if (!json_is_array(hist)) {
                hist = json_array();
                json_object_set_new(doc, "history", hist);
        }
        json_array_append_new(hist, json_pack("{s:s,s:s,s:b}", "created", created, "created_by",
                                              created_by, "empty_layer", true));
        _cleanup_free_ char *text = json_dumps(doc, JSON_COMPACT);
        _cleanup_free_ char *digest = NULL, *id = NULL;
        if (berth_store_put(berth_images_blobs(b->d->images), text, strlen(text), NULL, &digest,
                            err) < 0 ||
            berth_image_commit(b->d->images, digest, NULL, NULL, NULL, &id, err) < 0)
                return berth_error_wrap(err, "commit %s", comment);
        build_cache_put(b->d, key, id);
        free(st->image_id);
        st->image_id = TAKE_PTR(id);
        return 0;
}

/* A new image with the upper dir as its layer. */
static int commit_layer(struct builder *b, struct stage *st, const char *key, const char *upper,
                        json_t *cmd, const char *container_id, struct berth_error **err)
{
        _cleanup_json_ json_t *cc = json_deep_copy(st->cfg);
        json_object_set(cc, "Cmd", cmd);
        struct berth_commit_opts co = {
            .parent = st->image_id,
            .config = st->cfg,
            .container_config = cc,
            .container_id = container_id,
        };
        _cleanup_free_ char *id = NULL;
        if (berth_image_commit_dir(b->d->images, upper, &co, &id, err) < 0)
                return -EIO;
        build_cache_put(b->d, key, id);
        free(st->image_id);
        st->image_id = TAKE_PTR(id);
        return 0;
}

/* ---------------------------------------------------------------- FROM */

/* The image of FROM scratch: no layers, a fixed config (the same id every time). */
static int scratch_image(struct builder *b, char **ret, struct berth_error **err)
{
        _cleanup_json_ json_t *doc =
            json_pack("{s:s,s:s,s:{},s:{s:s,s:[]}}", "architecture", host_arch(), "os", "linux",
                      "config", "rootfs", "type", "layers", "diff_ids");
        _cleanup_free_ char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
        _cleanup_free_ char *digest = NULL;
        if (berth_store_put(berth_images_blobs(b->d->images), text, strlen(text), NULL, &digest,
                            err) < 0 ||
            berth_image_commit(b->d->images, digest, NULL, NULL, NULL, ret, err) < 0)
                return berth_error_wrap(err, "FROM scratch");
        return 0;
}

static struct stage *stage_by_name(struct builder *b, const char *name, size_t before)
{
        for (size_t i = 0; i < before && i < b->n_stages; i++)
                if (b->stages[i].name && !strcasecmp(b->stages[i].name, name))
                        return &b->stages[i];
        char *end = NULL;
        unsigned long n = strtoul(name, &end, 10);
        if (*name && end && !*end && n < before)
                return &b->stages[n];
        return NULL;
}

/* The image of an earlier stage s once its thread is done (a copy), or NULL when it was not
 * built (not needed by the target, failed, or the build was cancelled). */
static char *stage_wait(struct builder *b, struct stage *s)
{
        char *id = NULL;
        if (!b->sc)
                return s->built ? xstrdup(s->image_id) : NULL;
        pthread_mutex_lock(&b->sc->lock);
        while (s->needed && !s->done && !b->sc->failed)
                pthread_cond_wait(&b->sc->cond, &b->sc->lock);
        if (s->built)
                id = xstrdup(s->image_id);
        pthread_mutex_unlock(&b->sc->lock);
        return id;
}

static int image_get(struct builder *b, const char *name, bool pull, char **ret,
                     struct berth_error **err)
{
        _cleanup_error_ struct berth_error *e = NULL;
        if (!pull && berth_image_resolve(b->d->images, name, ret, &e) == 0)
                return 0;
        /* the credentials of the image's registry from the build's X-Registry-Config */
        _cleanup_free_ char *auth = NULL;
        if (berth_registry_auth_for(b->o->auth, name, &auth, err) < 0)
                return -EINVAL;
        struct berth_registry_opts ro = {.auth_header = auth};
        if (berth_image_pull(b->d->images, name, &ro, ret, err) < 0)
                return -ENOENT;
        return 0;
}

static int dispatch(struct builder *b, struct stage *st, const struct bld_instr *in,
                    struct berth_error **err);

static int stage_from(struct builder *b, size_t idx, struct berth_error **err)
{
        struct stage *st = &b->stages[idx];
        const struct bld_instr *in = &b->df->instrs[st->first];
        static const char *const allowed[] = {"platform", NULL};
        if (flags_check(in, allowed, "FROM", err) < 0)
                return -ENOTSUP;
        if (in->n_args != 1 && !(in->n_args == 3 && !strcasecmp(in->args[1], "AS")))
                return berth_error_setx(err, EINVAL, "FROM requires either one or three arguments");
        const char *plat = flag_get(in, "platform");
        if (plat) {
                _cleanup_free_ char *p = NULL;
                if (expand(b, NULL, plat, &p, err) < 0)
                        return -EINVAL;
                _cleanup_free_ char *host = xasprintf("linux/%s", host_arch());
                if (*p && strcasecmp(p, host) && strcasecmp(p, "linux"))
                        return berth_error_setx(err, ENOTSUP,
                                                "FROM --platform=%s: berth builds for this "
                                                "machine's platform only (%s)",
                                                p, host);
        }
        _cleanup_free_ char *name = NULL;
        if (expand(b, NULL, in->args[0], &name, err) < 0)
                return -EINVAL;
        if (!*name)
                return berth_error_setx(err, EINVAL, "base name (%s) should not be blank",
                                        in->args[0]);
        /* an earlier stage by its name (FROM takes no stage index) */
        struct stage *from = NULL;
        for (size_t k = 0; k < idx && !from; k++)
                if (b->stages[k].name && !strcasecmp(b->stages[k].name, name))
                        from = &b->stages[k];
        json_t *cfg = NULL;
        _cleanup_free_ char *from_id = from ? stage_wait(b, from) : NULL;
        if (from && !from_id) {
                return berth_error_setx(err, EINVAL, "FROM %s: stage not built", name);
        } else if (from) {
                st->image_id = TAKE_PTR(from_id);
                cfg = json_deep_copy(from->cfg);
        } else if (!strcasecmp(name, "scratch")) {
                if (scratch_image(b, &st->image_id, err) < 0)
                        return -EIO;
                cfg = json_object();
        } else {
                int r = image_get(b, name, b->o->pull, &st->image_id, err);
                if (r < 0)
                        return r;
                _cleanup_json_ json_t *doc = NULL;
                if (berth_image_config(b->d->images, st->image_id, &doc, err) < 0)
                        return -EIO;
                cfg = json_object_get(doc, "config");
                cfg = json_is_object(cfg) ? json_deep_copy(cfg) : json_object();
        }
        st->cfg = cfg;
        st->args = json_object();
        /* ONBUILD triggers of the base run now, in this build; the image made from them does not
         * keep them */
        json_t *triggers = json_incref(json_object_get(cfg, "OnBuild"));
        json_object_del(cfg, "OnBuild");
        if (json_is_array(triggers) && json_array_size(triggers)) {
                size_t n = json_array_size(triggers), i;
                json_t *t;
                build_out_stream(b->out, "# Executing %zu build trigger%s\n", n, n == 1 ? "" : "s");
                json_array_foreach(triggers, i, t)
                {
                        const char *text = json_string_value(t);
                        _cleanup_dockerfile_ struct bld_dockerfile *tdf = NULL;
                        if (!text || bld_parse("ONBUILD", text, strlen(text), &tdf, err) < 0) {
                                json_decref(triggers);
                                return -EINVAL;
                        }
                        for (size_t k = 0; k < tdf->n_instrs; k++) {
                                enum bld_kind kd = tdf->instrs[k].kind;
                                if (kd == BLD_FROM || kd == BLD_ONBUILD || kd == BLD_MAINTAINER) {
                                        json_decref(triggers);
                                        return berth_error_setx(
                                            err, EINVAL, "%s isn't allowed as an ONBUILD trigger",
                                            tdf->instrs[k].original);
                                }
                                if (dispatch(b, st, &tdf->instrs[k], err) < 0) {
                                        json_decref(triggers);
                                        return -EIO;
                                }
                        }
                }
        }
        json_decref(triggers);
        return 0;
}

/* ---------------------------------------------------------------- metadata instructions */

static void env_set(json_t *cfg, const char *k, const char *v)
{
        json_t *env = json_object_get(cfg, "Env");
        if (!json_is_array(env)) {
                env = json_array();
                json_object_set_new(cfg, "Env", env);
        }
        size_t i, n = strlen(k);
        json_t *e;
        char *kv = xasprintf("%s=%s", k, v);
        json_array_foreach(env, i, e)
        {
                const char *s = json_string_value(e);
                if (s && !strncmp(s, k, n) && s[n] == '=') {
                        json_array_set_new(env, i, json_string(kv));
                        free(kv);
                        return;
                }
        }
        json_array_append_new(env, json_string(kv));
        free(kv);
}

static json_t *obj_field(json_t *cfg, const char *key)
{
        json_t *o = json_object_get(cfg, key);
        if (!json_is_object(o)) {
                o = json_object();
                json_object_set_new(cfg, key, o);
        }
        return o;
}

/* Go's %q of a []string: ["a" "b"] */
static char *go_strv(json_t *arr)
{
        char *s = xstrdup("[");
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v)
        {
                char *n = xasprintf("%s%s\"%s\"", s, i ? " " : "", json_string_value(v));
                free(s);
                s = n;
        }
        char *n = xasprintf("%s]", s);
        free(s);
        return n;
}

/* CMD/ENTRYPOINT/HEALTHCHECK CMD arguments: the JSON array, or the shell with the line */
static json_t *cmd_words(struct stage *st, const struct bld_instr *in, size_t from)
{
        json_t *a = json_array();
        if (in->json) {
                for (size_t i = from; i < in->n_args; i++)
                        json_array_append_new(a, json_string(in->args[i]));
                return a;
        }
        json_decref(a);
        a = shell_of(st);
        if (from < in->n_args)
                json_array_append_new(a, json_string(in->args[from]));
        return a;
}

/* Go time.ParseDuration for HEALTHCHECK flags, in ns */
static int parse_duration(const char *s, int64_t *ret, struct berth_error **err)
{
        double total = 0;
        const char *p = s;
        if (!*p)
                return berth_error_setx(err, EINVAL, "invalid duration `%s`", s);
        if (!strcmp(p, "0")) {
                *ret = 0;
                return 0;
        }
        while (*p) {
                char *end;
                double v = strtod(p, &end);
                if (end == p)
                        return berth_error_setx(err, EINVAL, "invalid duration `%s`", s);
                p = end;
                double mul;
                if (!strncmp(p, "ns", 2))
                        mul = 1, p += 2;
                else if (!strncmp(p, "us", 2) || !strncmp(p, "µs", 3))
                        mul = 1e3, p += (*p == 'u' ? 2 : 3);
                else if (!strncmp(p, "ms", 2))
                        mul = 1e6, p += 2;
                else if (*p == 's')
                        mul = 1e9, p++;
                else if (*p == 'm')
                        mul = 60e9, p++;
                else if (*p == 'h')
                        mul = 3600e9, p++;
                else
                        return berth_error_setx(err, EINVAL, "invalid duration `%s`", s);
                total += v * mul;
        }
        *ret = (int64_t)total;
        return 0;
}

static int healthcheck(struct builder *b, struct stage *st, const struct bld_instr *in,
                       char **ret_comment, struct berth_error **err)
{
        static const char *const allowed[] = {"interval",       "timeout", "start-period",
                                              "start-interval", "retries", NULL};
        if (flags_check(in, allowed, "HEALTHCHECK", err) < 0)
                return -ENOTSUP;
        if (in->n_args < 1)
                return berth_error_setx(err, EINVAL, "HEALTHCHECK requires an argument");
        json_t *hc = json_object();
        if (!strcasecmp(in->args[0], "NONE")) {
                if (in->n_args > 1 || in->n_flags) {
                        json_decref(hc);
                        return berth_error_setx(err, EINVAL, "HEALTHCHECK NONE takes no arguments");
                }
                json_object_set_new(hc, "Test", json_pack("[s]", "NONE"));
        } else {
                json_t *test = json_array();
                if (in->json) {
                        json_array_append_new(test, json_string("CMD"));
                        for (size_t i = 1; i < in->n_args; i++)
                                json_array_append_new(test, json_string(in->args[i]));
                } else {
                        json_array_append_new(test, json_string("CMD-SHELL"));
                        if (in->n_args > 1)
                                json_array_append_new(test, json_string(in->args[1]));
                }
                json_object_set_new(hc, "Test", test);
                static const char *const dk[] = {"interval", "timeout", "start-period",
                                                 "start-interval"};
                static const char *const jk[] = {"Interval", "Timeout", "StartPeriod",
                                                 "StartInterval"};
                for (size_t i = 0; i < ARRAY_SIZE(dk); i++) {
                        const char *v = flag_get(in, dk[i]);
                        int64_t ns = 0;
                        if (!v)
                                continue;
                        if (parse_duration(v, &ns, err) < 0) {
                                json_decref(hc);
                                return berth_error_wrap(err, "HEALTHCHECK --%s", dk[i]);
                        }
                        json_object_set_new(hc, jk[i], json_integer(ns));
                }
                const char *rv = flag_get(in, "retries");
                if (rv) {
                        uint64_t n;
                        if (berth_parse_u64(rv, &n) < 0) {
                                json_decref(hc);
                                return berth_error_setx(err, EINVAL,
                                                        "HEALTHCHECK --retries: invalid `%s`", rv);
                        }
                        json_object_set_new(hc, "Retries", json_integer((json_int_t)n));
                }
        }
        (void)b;
        _cleanup_free_ char *dump = json_dumps(hc, JSON_COMPACT | JSON_SORT_KEYS);
        json_object_set_new(st->cfg, "Healthcheck", hc);
        *ret_comment = xasprintf("HEALTHCHECK %s", dump);
        return 0;
}

static int expand_all(struct builder *b, struct stage *st, const struct bld_instr *in, size_t from,
                      char ***ret, struct berth_error **err)
{
        _cleanup_strv_ char **out = NULL;
        /* docker expands the JSON strings of COPY/ADD/VOLUME too (exec forms never come here) */
        for (size_t i = from; i < in->n_args; i++) {
                _cleanup_free_ char *w = NULL;
                if (expand(b, st, in->args[i], &w, err) < 0)
                        return -EINVAL;
                strv_push(&out, w);
        }
        *ret = TAKE_PTR(out);
        return 0;
}

static int declare_arg(struct builder *b, json_t *scope, struct stage *st, const char *k,
                       const char *dflt_raw, struct berth_error **err)
{
        json_t *given = json_object_get(b->o->buildargs, k);
        _cleanup_free_ char *dflt = NULL;
        if (dflt_raw && expand(b, st, dflt_raw, &dflt, err) < 0)
                return -EINVAL;
        if (given) {
                if (b->sc)
                        pthread_mutex_lock(&b->sc->lock);
                json_object_set(b->used, k, json_true());
                if (b->sc)
                        pthread_mutex_unlock(&b->sc->lock);
                json_object_set(scope, k, json_is_string(given) ? given : json_null());
                if (json_is_string(given))
                        return 0;
        }
        if (dflt)
                json_object_set_new(scope, k, json_string(dflt));
        else if (st && json_is_string(json_object_get(b->meta, k)))
                /* `ARG x` in a stage takes the value of a global ARG x */
                json_object_set(scope, k, json_object_get(b->meta, k));
        else if (!given)
                json_object_set_new(scope, k, json_null());
        return 0;
}

static int metadata(struct builder *b, struct stage *st, const struct bld_instr *in,
                    struct berth_error **err)
{
        _cleanup_free_ char *comment = NULL;
        _cleanup_strv_ char **w = NULL;
        json_t *cfg = st->cfg;
        if (in->kind != BLD_HEALTHCHECK && flags_check(in, NULL, "this instruction", err) < 0)
                return -ENOTSUP;
        switch (in->kind) {
        case BLD_ENV:
        case BLD_LABEL: {
                bool env = in->kind == BLD_ENV;
                if (in->n_args == 0 || in->n_args % 2)
                        return berth_error_setx(err, EINVAL, "%s requires at least one argument",
                                                env ? "ENV" : "LABEL");
                comment = xstrdup(env ? "ENV" : "LABEL");
                for (size_t i = 0; i < in->n_args; i += 2) {
                        _cleanup_free_ char *k = NULL, *v = NULL;
                        if (expand(b, st, in->args[i], &k, err) < 0 ||
                            expand(b, st, in->args[i + 1] ? in->args[i + 1] : "", &v, err) < 0)
                                return -EINVAL;
                        if (!*k)
                                return berth_error_setx(err, EINVAL, "%s names must not be blank",
                                                        env ? "ENV" : "LABEL");
                        if (env)
                                env_set(cfg, k, v);
                        else
                                json_object_set_new(obj_field(cfg, "Labels"), k, json_string(v));
                        char *n = xasprintf("%s %s=%s", comment, k, v);
                        free(comment);
                        comment = n;
                }
                break;
        }
        case BLD_ARG: {
                if (in->n_args == 0 || in->n_args % 2)
                        return berth_error_setx(err, EINVAL, "ARG requires exactly one argument");
                comment = xstrdup("ARG");
                for (size_t i = 0; i < in->n_args; i += 2) {
                        if (declare_arg(b, st->args, st, in->args[i], in->args[i + 1], err) < 0)
                                return -EINVAL;
                        char *n = in->args[i + 1]
                                      ? xasprintf("%s %s=%s", comment, in->args[i], in->args[i + 1])
                                      : xasprintf("%s %s", comment, in->args[i]);
                        free(comment);
                        comment = n;
                }
                break;
        }
        case BLD_USER:
        case BLD_STOPSIGNAL:
        case BLD_MAINTAINER: {
                if (expand_all(b, st, in, 0, &w, err) < 0)
                        return -EINVAL;
                if (strv_length(w) != 1)
                        return berth_error_setx(err, EINVAL, "%s requires exactly one argument",
                                                in->kind == BLD_USER         ? "USER"
                                                : in->kind == BLD_STOPSIGNAL ? "STOPSIGNAL"
                                                                             : "MAINTAINER");
                if (in->kind == BLD_USER) {
                        json_object_set_new(cfg, "User", json_string(w[0]));
                        comment = xasprintf("USER %s", w[0]);
                } else if (in->kind == BLD_STOPSIGNAL) {
                        json_object_set_new(cfg, "StopSignal", json_string(w[0]));
                        comment = xasprintf("STOPSIGNAL %s", w[0]);
                } else {
                        comment = xasprintf("MAINTAINER %s", w[0]);
                }
                break;
        }
        case BLD_EXPOSE: {
                if (expand_all(b, st, in, 0, &w, err) < 0)
                        return -EINVAL;
                if (!w)
                        return berth_error_setx(err, EINVAL,
                                                "EXPOSE requires at least one "
                                                "argument");
                json_t *ports = obj_field(cfg, "ExposedPorts");
                comment = xstrdup("EXPOSE");
                for (size_t i = 0; w[i]; i++) {
                        _cleanup_free_ char *spec = xstrdup(w[i]);
                        char *proto = strchr(spec, '/');
                        if (proto)
                                *proto++ = 0;
                        unsigned lo, hi;
                        char *dash = strchr(spec, '-');
                        char *end;
                        lo = (unsigned)strtoul(spec, &end, 10);
                        if (end == spec || (*end && end != dash) || lo > 65535)
                                return berth_error_setx(err, EINVAL, "invalid containerPort: %s",
                                                        w[i]);
                        hi = dash ? (unsigned)strtoul(dash + 1, &end, 10) : lo;
                        if ((dash && (*end || end == dash + 1)) || hi < lo || hi > 65535)
                                return berth_error_setx(err, EINVAL, "invalid containerPort: %s",
                                                        w[i]);
                        for (unsigned p = lo; p <= hi; p++) {
                                _cleanup_free_ char *k =
                                    xasprintf("%u/%s", p, proto && *proto ? proto : "tcp");
                                for (char *c = k; *c; c++)
                                        *c = (char)tolower((unsigned char)*c);
                                json_object_set_new(ports, k, json_object());
                        }
                        /* the history shows the ports as written, like docker's */
                        char *n = xasprintf("%s %s", comment, w[i]);
                        free(comment);
                        comment = n;
                }
                break;
        }
        case BLD_VOLUME: {
                if (expand_all(b, st, in, 0, &w, err) < 0)
                        return -EINVAL;
                if (!w)
                        return berth_error_setx(err, EINVAL,
                                                "VOLUME requires at least one "
                                                "argument");
                json_t *vols = obj_field(cfg, "Volumes");
                comment = xstrdup("VOLUME [");
                for (size_t i = 0; w[i]; i++) {
                        if (!*w[i])
                                return berth_error_setx(err, EINVAL,
                                                        "VOLUME specified can not be an empty "
                                                        "string");
                        json_object_set_new(vols, w[i], json_object());
                        char *n = xasprintf("%s%s%s", comment, i ? " " : "", w[i]);
                        free(comment);
                        comment = n;
                }
                char *n = xasprintf("%s]", comment);
                free(comment);
                comment = n;
                break;
        }
        case BLD_CMD:
        case BLD_ENTRYPOINT: {
                bool entry = in->kind == BLD_ENTRYPOINT;
                json_t *a = cmd_words(st, in, 0);
                _cleanup_free_ char *q = go_strv(a);
                json_object_set_new(cfg, entry ? "Entrypoint" : "Cmd", a);
                if (!entry)
                        st->cmd_set = true;
                else if (!st->cmd_set)
                        json_object_set_new(cfg, "Cmd", json_null());
                comment = xasprintf("%s %s", entry ? "ENTRYPOINT" : "CMD", q);
                break;
        }
        case BLD_SHELL: {
                if (!in->json || in->n_args == 0)
                        return berth_error_setx(err, EINVAL,
                                                "SHELL requires the arguments to be in JSON form");
                json_t *a = json_array();
                for (size_t i = 0; i < in->n_args; i++)
                        json_array_append_new(a, json_string(in->args[i]));
                comment = go_strv(a);
                char *n = xasprintf("SHELL %s", comment);
                free(comment);
                comment = n;
                json_object_set_new(cfg, "Shell", a);
                break;
        }
        case BLD_HEALTHCHECK:
                if (healthcheck(b, st, in, &comment, err) < 0)
                        return -EINVAL;
                break;
        case BLD_ONBUILD: {
                if (in->n_args < 1)
                        return berth_error_setx(err, EINVAL,
                                                "ONBUILD requires at least one "
                                                "argument");
                const char *t = in->args[0];
                size_t kl = strcspn(t, " \t");
                if ((kl == 7 && !strncasecmp(t, "ONBUILD", 7)) ||
                    (kl == 4 && !strncasecmp(t, "FROM", 4)) ||
                    (kl == 10 && !strncasecmp(t, "MAINTAINER", 10)))
                        return berth_error_setx(
                            err, EINVAL, "%.*s isn't allowed as an ONBUILD trigger", (int)kl, t);
                json_t *ob = json_object_get(cfg, "OnBuild");
                if (!json_is_array(ob)) {
                        ob = json_array();
                        json_object_set_new(cfg, "OnBuild", ob);
                }
                json_array_append_new(ob, json_string(t));
                comment = xasprintf("ONBUILD %s", t);
                break;
        }
        default:
                return berth_error_setx(err, EINVAL, "not a metadata instruction");
        }
        _cleanup_free_ char *key = key_of(st, "nop", comment, NULL);
        _cleanup_json_ json_t *nop = nop_cmd(st, comment);
        _cleanup_free_ char *by = join_words(nop);
        if (step_cached(b, st, key, by))
                return 0;
        return commit_nop(b, st, key, comment, false, err);
}

/* ---------------------------------------------------------------- WORKDIR */

static int workdir(struct builder *b, struct stage *st, const struct bld_instr *in,
                   struct berth_error **err)
{
        _cleanup_strv_ char **w = NULL;
        if (flags_check(in, NULL, "WORKDIR", err) < 0)
                return -ENOTSUP;
        if (expand_all(b, st, in, 0, &w, err) < 0)
                return -EINVAL;
        if (strv_length(w) != 1)
                return berth_error_setx(err, EINVAL, "WORKDIR requires exactly one argument");
        const char *cur = json_string_value(json_object_get(st->cfg, "WorkingDir"));
        _cleanup_free_ char *dir =
            w[0][0] == '/' ? xstrdup(w[0]) : xasprintf("%s/%s", cur && *cur ? cur : "", w[0]);
        /* clean: no trailing '/' (but "/"), no "//" */
        _cleanup_free_ char *clean = xcalloc(1, strlen(dir) + 2);
        char *o = clean;
        for (const char *p = dir; *p; p++)
                if (!(*p == '/' && o > clean && o[-1] == '/'))
                        *o++ = *p;
        while (o > clean + 1 && o[-1] == '/')
                *--o = 0;
        if (!*clean)
                strcpy(clean, "/");
        json_object_set_new(st->cfg, "WorkingDir", json_string(clean));
        _cleanup_free_ char *comment = xasprintf("WORKDIR %s", clean);
        _cleanup_free_ char *key = key_of(st, "workdir", comment, NULL);
        _cleanup_json_ json_t *nop = nop_cmd1(st, comment);
        _cleanup_free_ char *by = join_words(nop);
        if (step_cached(b, st, key, by))
                return 0;
        /* docker makes the directory: a layer when it did not exist */
        struct build_mount m = {.root = -1};
        if (build_mount_image(b->d, st->image_id, true, &m, err) < 0)
                return -EIO;
        int fd = berth_mkdir_in_root(m.root, clean, 0755, err);
        int r = fd;
        if (fd >= 0) {
                close(fd);
                if (build_mount_changed(&m)) {
                        _cleanup_json_ json_t *cmd = nop_cmd1(st, comment);
                        r = commit_layer(b, st, key, m.upper, cmd, NULL, err);
                } else {
                        r = commit_nop(b, st, key, comment, true, err);
                }
        }
        build_mount_release(&m);
        return r;
}

/* ---------------------------------------------------------------- COPY / ADD */

/* A heredoc body with $NAME and ${NAME} expanded (quotes kept, `\$` a literal dollar), as
 * buildkit expands unquoted heredocs. */
static char *heredoc_expand(struct builder *b, struct stage *st, const char *body)
{
        struct lookup l = {b, st};
        size_t cap = strlen(body) + 64, len = 0;
        char *out = xmalloc(cap);
        for (const char *p = body; *p;) {
                const char *val = NULL;
                size_t vlen = 0;
                if (p[0] == '\\' && p[1] == '$') {
                        val = "$";
                        vlen = 1;
                        p += 2;
                } else if (p[0] == '$' && (p[1] == '_' || isalpha((unsigned char)p[1]))) {
                        const char *q = p + 1;
                        while (*q == '_' || isalnum((unsigned char)*q))
                                q++;
                        _cleanup_free_ char *name = xstrndup(p + 1, (size_t)(q - p - 1));
                        val = lookup_fn(&l, name) ?: "";
                        vlen = strlen(val);
                        p = q;
                } else if (p[0] == '$' && p[1] == '{' && strchr(p, '}')) {
                        const char *q = strchr(p, '}');
                        _cleanup_free_ char *name = xstrndup(p + 2, (size_t)(q - p - 2));
                        val = lookup_fn(&l, name) ?: "";
                        vlen = strlen(val);
                        p = q + 1;
                } else {
                        val = p++;
                        vlen = 1;
                }
                if (len + vlen + 1 > cap) {
                        cap = (len + vlen + 1) * 2;
                        out = xrealloc(out, cap);
                }
                memcpy(out + len, val, vlen);
                len += vlen;
        }
        out[len] = 0;
        return out;
}

/* `COPY <<EOF /dst`: each heredoc source (srcs, all `<<NAME` words) written as a file named
 * after it into a directory of its own (dir), the sources renamed to those files. */
static int heredoc_sources(struct builder *b, struct stage *st, const struct bld_instr *in,
                           char **srcs, const char *dir, struct berth_error **err)
{
        if (berth_mkdir_p(dir, 0700, err) < 0)
                return -EIO;
        _cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return berth_error_set(err, errno, "open `%s`", dir);
        for (size_t i = 0; srcs[i]; i++) {
                const char *name = srcs[i] + 2 + (srcs[i][2] == '-');
                const struct bld_heredoc *h = NULL;
                for (size_t k = 0; k < in->n_heredocs; k++)
                        if (!strcmp(in->heredocs[k].name, name))
                                h = &in->heredocs[k];
                if (!h || strchr(name, '/') || !*name || name[0] == '.')
                        return berth_error_setx(err, EINVAL, "unknown heredoc `%s`", srcs[i]);
                _cleanup_free_ char *body =
                    h->expand ? heredoc_expand(b, st, h->body) : xstrdup(h->body);
                if (berth_write_file_at(dfd, name, body, strlen(body), O_CREAT | O_TRUNC, err) < 0)
                        return -EIO;
                char *file = xstrdup(name);
                free(srcs[i]);
                srcs[i] = file;
        }
        return 0;
}

static int copy_step(struct builder *b, size_t idx, struct stage *st, const struct bld_instr *in,
                     struct berth_error **err)
{
        bool add = in->kind == BLD_ADD;
        const char *kw = add ? "ADD" : "COPY";
        static const char *const allowed[] = {"from", "chown", "chmod", "link", NULL};
        if (flags_check(in, allowed, kw, err) < 0)
                return -ENOTSUP;
        if (in->n_heredocs && flag_get(in, "from"))
                return berth_error_setx(err, ENOTSUP,
                                        "%s --from with a heredoc is not supported by "
                                        "berth's builder",
                                        kw);
        _cleanup_strv_ char **w = NULL;
        if (expand_all(b, st, in, 0, &w, err) < 0)
                return -EINVAL;
        size_t n = strv_length(w);
        if (n < 2)
                return berth_error_setx(err, EINVAL, "%s requires at least two arguments", kw);
        _cleanup_free_ char *from = NULL, *chown = NULL, *chmod_s = NULL;
        if ((flag_get(in, "from") && expand(b, st, flag_get(in, "from"), &from, err) < 0) ||
            (flag_get(in, "chown") && expand(b, st, flag_get(in, "chown"), &chown, err) < 0) ||
            (flag_get(in, "chmod") && expand(b, st, flag_get(in, "chmod"), &chmod_s, err) < 0))
                return -EINVAL;
        struct build_copy c = {.add = add, .src_root = -1, .ig = b->ig}, hc = {.src_root = -1};
        _cleanup_strv_ char **hd_srcs = NULL;
        _cleanup_free_ char *hd_hash = NULL;
        if (chmod_s) {
                char *end;
                unsigned long m = strtoul(chmod_s, &end, 8);
                if (!*chmod_s || *end || m > 07777)
                        return berth_error_setx(err, EINVAL, "invalid chmod parameter: %s",
                                                chmod_s);
                c.has_chmod = true;
                c.chmod = (mode_t)m;
        }
        /* the destination: relative to WORKDIR, a trailing '/' kept */
        _cleanup_free_ char *dst = xstrdup(w[n - 1]);
        const char *wd = json_string_value(json_object_get(st->cfg, "WorkingDir"));
        _cleanup_free_ char *dest =
            dst[0] == '/' ? xstrdup(dst)
                          : xasprintf("%s/%s", wd && *wd && strcmp(wd, "/") ? wd : "", dst);
        c.dest = dest;
        free(w[n - 1]);
        w[n - 1] = NULL;
        c.srcs = w;
        if (add)
                for (size_t i = 0; w[i]; i++)
                        if (!strncmp(w[i], "http://", 7) || !strncmp(w[i], "https://", 8))
                                return berth_error_setx(err, ENOTSUP,
                                                        "ADD from a URL (`%s`) is not supported "
                                                        "by berth: download it in a RUN step",
                                                        w[i]);
        /* the source tree */
        struct build_mount src = {.root = -1}, m = {.root = -1};
        _cleanup_free_ char *src_image = NULL, *hash = NULL, *comment = NULL, *extra = NULL,
                            *key = NULL, *hd_dir = NULL;
        _cleanup_close_ int hd_fd = -1;
        int r = 0;
        if (from) {
                struct stage *s = stage_by_name(b, from, idx);
                if (s && !(src_image = stage_wait(b, s))) {
                        return berth_error_setx(err, EINVAL, "%s --from=%s: stage not built", kw,
                                                from);
                } else if (s) {
                } else if (image_get(b, from, false, &src_image, err) < 0) {
                        return berth_error_wrap(err, "%s --from=%s", kw, from);
                }
                c.ig = NULL;
                /* image content never changes: its hash is remembered */
                _cleanup_free_ char *joined = xasprintf("%s\n%s", src_image, dest);
                for (size_t i = 0; w[i]; i++) {
                        char *nj = xasprintf("%s\n%s", joined, w[i]);
                        free(joined);
                        joined = nj;
                }
                char mk[65];
                build_sha256_hex(joined, strlen(joined), mk);
                hash = build_srchash_get(b->d, mk);
                if (!hash) {
                        if (build_mount_image(b->d, src_image, false, &src, err) < 0)
                                return -EIO;
                        c.src_root = src.root;
                        r = build_copy_hash(&c, &hash, err);
                        if (r == 0)
                                build_srchash_put(b->d, mk, hash);
                }
        } else {
                if (in->n_heredocs) {
                        /* heredoc sources come from a directory of their own (hc), the others
                         * from the context (c, then without them); both go to dest, a
                         * directory when there are both */
                        for (size_t i = 0, k = 0; i <= n - 1; i++) {
                                if (w[i] && !strncmp(w[i], "<<", 2))
                                        strv_push(&hd_srcs, w[i]);
                                else
                                        w[k++] = w[i];
                                if (w[i] && !strncmp(w[i], "<<", 2))
                                        free(w[i]);
                        }
                        size_t dl = strlen(dest);
                        if (w[0] &&
                            !(dest[dl - 1] == '/' || (dl >= 2 && !strcmp(dest + dl - 2, "/."))))
                                return berth_error_setx(err, EINVAL,
                                                        "When using %s with more than one source "
                                                        "file, the destination must be a "
                                                        "directory and end with a /",
                                                        kw);
                        char rnd[17];
                        berth_random_hex(rnd, 8);
                        hd_dir = xasprintf("%s/build/tmp/hd-%s", b->d->data_root, rnd);
                        hc = c;
                        hc.srcs = hd_srcs;
                        hc.ig = NULL;
                        r = heredoc_sources(b, st, in, hd_srcs, hd_dir, err);
                        if (r == 0 && (hc.src_root = hd_fd =
                                           open(hd_dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
                                r = berth_error_set(err, errno, "open `%s`", hd_dir);
                        if (r == 0)
                                r = build_copy_hash(&hc, &hd_hash, err);
                }
                /* from the context's index; the unpacked tree only when it cannot tell */
                if (r == 0 && w[0]) {
                        r = build_context_hash(b->cx, b->ig, w, &hash, err);
                        if (r == 1) {
                                c.src_root = build_context_root(b->cx, err);
                                r = c.src_root < 0 ? -EIO : build_copy_hash(&c, &hash, err);
                        }
                }
                if (r == 0 && hd_hash) {
                        char *both = hash ? xasprintf("%s+%s", hash, hd_hash) : xstrdup(hd_hash);
                        free(hash);
                        hash = both;
                }
        }
        if (r < 0)
                goto out;
        comment = xasprintf("%s %s in %s ", kw, hash, dst);
        extra = xasprintf("%s|%s|%s", dest, chown ? chown : "", chmod_s ? chmod_s : "");
        key = key_of(st, kw, comment, extra);
        berth_debug("build: %s key %s", comment, key);
        {
                json_t *nop = nop_cmd1(st, comment);
                char *by = join_words(nop);
                bool hit = step_cached(b, st, key, by);
                free(by);
                json_decref(nop);
                if (hit)
                        goto out;
        }
        if (from && !src.mounted) {
                if ((r = build_mount_image(b->d, src_image, false, &src, err)) < 0)
                        goto out;
                c.src_root = src.root;
        } else if (!from && c.src_root < 0 && c.srcs[0]) {
                if ((r = c.src_root = build_context_root(b->cx, err)) < 0)
                        goto out;
        }
        if ((r = build_mount_image(b->d, st->image_id, true, &m, err)) < 0)
                goto out;
        if (chown && (r = build_chown_parse(m.root, chown, &c.uid, &c.gid, err)) == 0)
                c.has_chown = true;
        if (r == 0 && c.srcs[0])
                r = build_copy_run(&c, m.root, err);
        if (r == 0 && hd_srcs) {
                hc.has_chown = c.has_chown;
                hc.uid = c.uid;
                hc.gid = c.gid;
                r = build_copy_run(&hc, m.root, err);
        }
        if (r == 0) {
                _cleanup_json_ json_t *cmd = nop_cmd1(st, comment);
                r = commit_layer(b, st, key, m.upper, cmd, NULL, err);
        }
        build_mount_release(&m);
out:
        if (src.dir)
                build_mount_release(&src);
        if (hd_dir) {
                _cleanup_error_ struct berth_error *e = NULL;
                berth_rm_rf_at(AT_FDCWD, hd_dir, &e);
        }
        if (r < 0 && *err && !strstr((*err)->msg, "failed"))
                return berth_error_wrap(err, "%s failed", kw);
        return r;
}

/* ---------------------------------------------------------------- RUN */

/* `RUN --mount=type=bind,target=/x[,source=/s][,from=stage|image]`: the source (a path of the
 * context, or of a stage's or image's tree mounted read-only for the step) bound read-only at
 * target. The path is resolved inside its tree (openat2 RESOLVE_IN_ROOT) and bound by the
 * symlink-free path that resolution gave; its content (context) or its image id (from) goes into
 * the step's cache key. */
static int bind_mount(struct builder *b, struct stage *st, const char *source, const char *from,
                      const char *target, json_t *binds, char **keyspec, struct berth_error **err)
{
        int root = -1;
        _cleanup_free_ char *what = NULL;
        if (from) {
                struct stage *s = stage_by_name(b, from, (size_t)(st - b->stages));
                _cleanup_free_ char *img = NULL;
                if (s && !(img = stage_wait(b, s)))
                        return berth_error_setx(err, EINVAL, "RUN --mount from=%s: stage not built",
                                                from);
                if (s) {
                } else if (image_get(b, from, false, &img, err) < 0)
                        return berth_error_wrap(err, "RUN --mount from=%s", from);
                if (b->n_run_mounts == ARRAY_SIZE(b->run_mounts))
                        return berth_error_setx(err, E2BIG, "RUN: too many bind mounts");
                struct build_mount *m = &b->run_mounts[b->n_run_mounts];
                *m = (struct build_mount){.root = -1};
                if (build_mount_image(b->d, img, false, m, err) < 0)
                        return -EIO;
                b->n_run_mounts++;
                root = m->root;
                what = xasprintf("from=%s", img);
        } else {
                root = build_context_root(b->cx, err);
                if (root < 0)
                        return -EIO;
                char *srcs[] = {(char *)(source ? source : "."), NULL};
                struct build_copy c = {.src_root = root, .ig = b->ig, .srcs = srcs, .dest = "/"};
                if (build_copy_hash(&c, &what, err) < 0)
                        return berth_error_wrap(err, "RUN --mount source=%s", srcs[0]);
        }
        _cleanup_close_ int fd = berth_open_in_root(root, source && *source ? source : ".", O_PATH);
        if (fd < 0)
                return berth_error_set(err, errno, "RUN --mount: source `%s`",
                                       source ? source : ".");
        char link[64], real[PATH_MAX];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, real, sizeof(real) - 1);
        if (n <= 0)
                return berth_error_set(err, errno, "RUN --mount: source `%s`", source);
        real[n] = 0;
        char *bind = xasprintf("%s:%s:ro", real, target);
        json_array_append_new(binds, json_string(bind));
        free(bind);
        char *k = xasprintf("%s --mount=bind,%s,source=%s,target=%s", *keyspec ? *keyspec : "",
                            what, source ? source : "", target);
        free(*keyspec);
        *keyspec = k;
        return 0;
}

/* `RUN --mount=type=cache,target=/x[,id=…][,sharing=shared][,mode=…][,uid=…][,gid=…]`: a
 * directory of the daemon's (data_root/build/cache-mounts/<id>) bound at target for the step,
 * kept across builds, never part of a layer or of the cache key's content. Other mount types
 * are refused. Appends "source:target" to binds and the mount's spec to *keyspec. */
static int bind_mount(struct builder *b, struct stage *st, const char *source, const char *from,
                      const char *target, json_t *binds, char **keyspec, struct berth_error **err);

/* buildkit's tmpfs size (go-units RAMInBytes: a number with an optional k/m/g/t/p unit, 'b'
 * and 'i' allowed after it, powers of 1024) in bytes */
static int tmpfs_size(const char *v, uint64_t *ret, struct berth_error **err)
{
        char *end;
        errno = 0;
        double n = strtod(v, &end);
        if (end == v || errno || n < 0)
                return berth_error_setx(err, EINVAL, "RUN --mount=type=tmpfs: invalid size `%s`",
                                        v);
        while (*end == ' ')
                end++;
        static const char units[] = "kmgtp";
        double mul = 1;
        const char *u = *end ? strchr(units, tolower((unsigned char)*end)) : NULL;
        if (u) {
                for (const char *x = units; x <= u; x++)
                        mul *= 1024;
                end++;
                if (tolower((unsigned char)*end) == 'i')
                        end++;
        }
        if (tolower((unsigned char)*end) == 'b')
                end++;
        if (*end || n * mul > 9e18)
                return berth_error_setx(err, EINVAL, "RUN --mount=type=tmpfs: invalid size `%s`",
                                        v);
        *ret = (uint64_t)(n * mul);
        return 0;
}

static int cache_mount(struct builder *b, struct stage *st, const char *spec, json_t *binds,
                       json_t *tmpfs, char **keyspec, struct berth_error **err)
{
        _cleanup_free_ char *copy = xstrdup(spec), *target = NULL, *id = NULL, *source = NULL,
                            *from = NULL;
        uint64_t mode = 0755, uid = 0, gid = 0;
        char *save = NULL;
        bool cache = false, is_bind = true, is_tmpfs = false;
        _cleanup_free_ char *size = NULL;
        for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
                char *v = strchr(kv, '=');
                if (v)
                        *v++ = 0;
                if (!strcmp(kv, "type") && v) {
                        if (!strcmp(v, "secret") || !strcmp(v, "ssh"))
                                return berth_error_setx(
                                    err, ENOTSUP,
                                    "RUN --mount=type=%s is not supported by berth's builder: "
                                    "docker's classic build protocol has no session to carry "
                                    "secrets or ssh agents (cache, bind and tmpfs mounts are "
                                    "supported)",
                                    v);
                        if (strcmp(v, "cache") && strcmp(v, "bind") && strcmp(v, "tmpfs"))
                                return berth_error_setx(err, ENOTSUP,
                                                        "RUN --mount=type=%s is not supported by "
                                                        "berth's builder (cache, bind and tmpfs "
                                                        "are)",
                                                        v);
                        cache = !strcmp(v, "cache");
                        is_tmpfs = !strcmp(v, "tmpfs");
                        is_bind = !cache && !is_tmpfs;
                } else if (!strcmp(kv, "size") && v) {
                        free(size);
                        size = xstrdup(v);
                } else if ((!strcmp(kv, "source") || !strcmp(kv, "src")) && v) {
                        free(source);
                        source = xstrdup(v);
                } else if (!strcmp(kv, "from") && v && *v) {
                        free(from);
                        from = xstrdup(v);
                } else if ((!strcmp(kv, "ro") || !strcmp(kv, "readonly")) &&
                           (!v || !strcasecmp(v, "true"))) {
                        /* bind mounts are read-only here anyway */
                } else if (!strcmp(kv, "rw") || !strcmp(kv, "readwrite")) {
                        return berth_error_setx(err, ENOTSUP,
                                                "RUN --mount rw is not supported by berth's "
                                                "builder (bind mounts are read-only)");
                } else if ((!strcmp(kv, "target") || !strcmp(kv, "dst") ||
                            !strcmp(kv, "destination")) &&
                           v && *v) {
                        free(target);
                        target = xstrdup(v);
                } else if (!strcmp(kv, "id") && v && *v) {
                        free(id);
                        id = xstrdup(v);
                } else if (!strcmp(kv, "sharing") && v) {
                        if (strcmp(v, "shared"))
                                return berth_error_setx(err, ENOTSUP,
                                                        "RUN --mount sharing=%s is not supported "
                                                        "by berth's builder (only shared)",
                                                        v);
                } else if ((!strcmp(kv, "mode") || !strcmp(kv, "uid") || !strcmp(kv, "gid")) && v) {
                        char *end;
                        uint64_t n = strtoull(v, &end, !strcmp(kv, "mode") ? 8 : 10);
                        if (!*v || *end)
                                return berth_error_setx(err, EINVAL, "RUN --mount: bad %s `%s`", kv,
                                                        v);
                        *(!strcmp(kv, "mode") ? &mode : !strcmp(kv, "uid") ? &uid : &gid) = n;
                } else {
                        return berth_error_setx(err, ENOTSUP,
                                                "RUN --mount option `%s` is not supported by "
                                                "berth's builder",
                                                kv);
                }
        }
        if (!target || target[0] != '/')
                return berth_error_setx(err, EINVAL, "RUN --mount needs an absolute target");
        if (size && !is_tmpfs)
                return berth_error_setx(err, EINVAL,
                                        "RUN --mount: size is an option of type=tmpfs only");
        if (is_tmpfs) {
                /* buildkit's tmpfs: empty, writable, never in the layer, gone after the step */
                if (source || from || id || mode != 0755 || uid || gid)
                        return berth_error_setx(err, EINVAL,
                                                "RUN --mount=type=tmpfs takes no source, from, "
                                                "id, mode, uid or gid");
                uint64_t bytes = 0;
                if (size && tmpfs_size(size, &bytes, err) < 0)
                        return -EINVAL;
                if (json_object_get(tmpfs, target))
                        return berth_error_setx(err, EINVAL, "RUN --mount: duplicate target `%s`",
                                                target);
                /* buildkit mounts it nosuid only (docker's --tmpfs default is noexec,nodev):
                 * programs built there can run */
                _cleanup_free_ char *opts =
                    bytes ? xasprintf("exec,dev,size=%llu", (unsigned long long)bytes)
                          : xstrdup("exec,dev");
                json_object_set_new(tmpfs, target, json_string(opts));
                char *k = xasprintf("%s --mount=tmpfs,target=%s,%s", *keyspec ? *keyspec : "",
                                    target, opts);
                free(*keyspec);
                *keyspec = k;
                return 0;
        }
        if (is_bind)
                return bind_mount(b, st, source, from, target, binds, keyspec, err);
        char hex[65];
        const char *name = id ? id : target;
        build_sha256_hex(name, strlen(name), hex);
        _cleanup_free_ char *dir = xasprintf("%s/build/cache-mounts/%.32s", b->d->data_root, hex);
        struct stat sb;
        if (stat(dir, &sb) < 0) {
                if (berth_mkdir_p(dir, (mode_t)mode, err) < 0)
                        return -EIO;
                if (chown(dir, (uid_t)uid, (gid_t)gid) < 0 || chmod(dir, (mode_t)mode) < 0)
                        return berth_error_set(err, errno, "cache mount `%s`", dir);
        }
        char *bind = xasprintf("%s:%s", dir, target);
        json_array_append_new(binds, json_string(bind));
        free(bind);
        char *k = xasprintf("%s --mount=%s", *keyspec ? *keyspec : "", spec);
        free(*keyspec);
        *keyspec = k;
        return 0;
}

/* docker's multiplexed frames ([stream, 0, 0, 0, size BE32] + payload): stdout as it is, stderr
 * between the colour codes dockerd's builder puts around it */
struct demux {
        unsigned char hdr[8];
        size_t hlen;
        uint32_t left;
};

static void demux_feed(struct builder *b, struct demux *d, const char *p, size_t n)
{
        while (n) {
                if (d->left == 0) {
                        size_t k = 8 - d->hlen < n ? 8 - d->hlen : n;
                        memcpy(d->hdr + d->hlen, p, k);
                        d->hlen += k;
                        p += k;
                        n -= k;
                        if (d->hlen == 8) {
                                d->left = (uint32_t)d->hdr[4] << 24 | (uint32_t)d->hdr[5] << 16 |
                                          (uint32_t)d->hdr[6] << 8 | d->hdr[7];
                                d->hlen = 0;
                        }
                        continue;
                }
                size_t k = d->left < n ? d->left : n;
                if (d->hdr[0] == 2) {
                        _cleanup_free_ char *s = xmalloc(k + 16);
                        memcpy(s, "\033[91m", 5);
                        memcpy(s + 5, p, k);
                        memcpy(s + 5 + k, "\033[0m", 4);
                        build_out_raw(b->out, s, k + 9);
                } else {
                        build_out_raw(b->out, p, k);
                }
                d->left -= (uint32_t)k;
                p += k;
                n -= k;
        }
}

/* The step's output until it ends. A client that went away, or another stage's failure
 * (sc->cancel_fd), kills the step's container: *ret_cancelled is then set. */
static void run_output(struct builder *b, int fd, struct containers *cs, struct container *c,
                       bool *ret_cancelled)
{
        char buf[16384];
        struct demux dm = {0};
        int client = build_out_client_fd(b->out);
        int cancel = b->sc ? b->sc->cancel_fd : -1;
        bool killed = false;
        for (;;) {
                struct pollfd p[3] = {{.fd = fd, .events = POLLIN},
                                      {.fd = killed ? -1 : client, .events = POLLRDHUP},
                                      {.fd = killed ? -1 : cancel, .events = POLLIN}};
                int n = poll(p, 3, -1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return;
                if ((p[1].revents & (POLLRDHUP | POLLHUP | POLLERR)) || (p[2].revents & POLLIN)) {
                        /* the client went away or another stage failed: the step is stopped,
                         * the build ends */
                        _cleanup_error_ struct berth_error *e = NULL;
                        if (p[1].revents)
                                build_out_set_broken(b->out);
                        container_kill(cs, c, "KILL", &e);
                        killed = true;
                        *ret_cancelled = true;
                }
                if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                        ssize_t r = read(fd, buf, sizeof(buf));
                        if (r < 0 && errno == EINTR)
                                continue;
                        if (r <= 0)
                                return;
                        demux_feed(b, &dm, buf, (size_t)r);
                }
        }
}

/* Whether line (trimmed) is one heredoc alone, buildkit's MustParseHeredoc:
 * `^(\d*)<<(-?)([^<]*)$` with a one-word rest. */
static bool heredoc_alone(const char *line)
{
        while (*line == ' ' || *line == '\t')
                line++;
        while (isdigit((unsigned char)*line))
                line++;
        if (strncmp(line, "<<", 2))
                return false;
        line += 2 + (line[2] == '-');
        while (*line == ' ' || *line == '\t')
                line++;
        size_t n = strcspn(line, " \t<");
        const char *rest = line + n;
        while (*rest == ' ' || *rest == '\t' || *rest == '\r' || *rest == '\n')
                rest++;
        return n > 0 && !*rest;
}

/* RUN's command with heredocs, as buildkit's dispatchRun makes it: `RUN <<EOF` alone runs the
 * body through the shell, or, when it starts with `#!`, runs it as a file (bound read-only at
 * /dev/pipes/<name>, its content in the cache key); otherwise the line and each body followed
 * by its delimiter go to the shell, which reads the heredocs itself (`cat <<EOF > /f`,
 * `python3 <<EOF`, several in one RUN, quoting and `<<-` as the shell has them). */
static int run_heredoc(struct builder *b, struct stage *st, const struct bld_instr *in,
                       json_t *binds, char **keyspec, json_t **ret_argv, struct berth_error **err)
{
        const char *line = in->n_args ? in->args[0] : "";
        json_t *argv = shell_of(st);
        if (in->n_heredocs == 1 && heredoc_alone(line)) {
                const struct bld_heredoc *h = &in->heredocs[0];
                if (strncmp(h->body, "#!", 2)) {
                        json_array_append_new(argv, json_string(h->body));
                        *ret_argv = argv;
                        return 0;
                }
                const char *name = h->name;
                if (!*name || name[0] == '.' ||
                    strspn(name, "abcdefghijklmnopqrstuvwxyz"
                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen(name)) {
                        json_decref(argv);
                        return berth_error_setx(err, EINVAL,
                                                "RUN: heredoc name `%s` cannot name a script file "
                                                "(letters, digits, '_', '.', '-')",
                                                name);
                }
                char rnd[17];
                berth_random_hex(rnd, 8);
                b->run_tmp = xasprintf("%s/build/tmp/rh-%s", b->d->data_root, rnd);
                _cleanup_free_ char *file = xasprintf("%s/%s", b->run_tmp, name);
                _cleanup_close_ int fd = -1;
                if (berth_mkdir_p(b->run_tmp, 0755, err) < 0 ||
                    (fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755)) < 0 ||
                    berth_write_all(fd, h->body, strlen(h->body)) < 0) {
                        json_decref(argv);
                        if (!*err)
                                berth_error_set(err, errno, "RUN: write `%s`", file);
                        return -EIO;
                }
                if (fchmod(fd, 0755) < 0) {
                        json_decref(argv);
                        return berth_error_set(err, errno, "RUN: chmod `%s`", file);
                }
                char *bind = xasprintf("%s:/dev/pipes/%s:ro", file, name);
                json_array_append_new(binds, json_string(bind));
                free(bind);
                char hex[65];
                build_sha256_hex(h->body, strlen(h->body), hex);
                char *k = xasprintf("%s heredoc=%s:%s", *keyspec ? *keyspec : "", name, hex);
                free(*keyspec);
                *keyspec = k;
                char *path = xasprintf("/dev/pipes/%s", name);
                json_array_append_new(argv, json_string(path));
                free(path);
                *ret_argv = argv;
                return 0;
        }
        char *text = xstrdup(line);
        for (size_t i = 0; i < in->n_heredocs; i++) {
                char *n = xasprintf("%s\n%s%s", text, in->heredocs[i].body, in->heredocs[i].name);
                free(text);
                text = n;
        }
        json_array_append_new(argv, json_string(text));
        free(text);
        *ret_argv = argv;
        return 0;
}

static int run_step(struct builder *b, struct stage *st, const struct bld_instr *in,
                    struct berth_error **err)
{
        static const char *const allowed[] = {"network", "mount", NULL};
        if (flags_check(in, allowed, "RUN", err) < 0)
                return -ENOTSUP;
        _cleanup_json_ json_t *binds = json_array(), *tmpfs = json_object();
        _cleanup_free_ char *mounts = NULL;
        for (size_t i = 0; i < in->n_flags; i++) {
                if (strcmp(in->flags[i].name, "mount"))
                        continue;
                _cleanup_free_ char *spec = NULL;
                if (expand(b, st, in->flags[i].value, &spec, err) < 0 ||
                    cache_mount(b, st, spec, binds, tmpfs, &mounts, err) < 0)
                        return -EINVAL;
        }
        const char *net = b->o->networkmode;
        const char *nf = flag_get(in, "network");
        if (nf) {
                if (strcmp(nf, "default") && strcmp(nf, "none") && strcmp(nf, "host"))
                        return berth_error_setx(err, ENOTSUP,
                                                "RUN --network=%s: berth supports "
                                                "default, none and host",
                                                nf);
                if (strcmp(nf, "default"))
                        net = nf;
        }
        _cleanup_json_ json_t *argv = NULL;
        if (in->json) {
                argv = json_array();
                for (size_t i = 0; i < in->n_args; i++)
                        json_array_append_new(argv, json_string(in->args[i]));
        } else if (in->n_heredocs) {
                if (run_heredoc(b, st, in, binds, &mounts, &argv, err) < 0)
                        return -EINVAL;
        } else {
                argv = shell_of(st);
                json_array_append_new(argv, json_string(in->n_args ? in->args[0] : ""));
        }
        /* build args in scope go into the environment (not those an ENV overrides) */
        _cleanup_json_ json_t *env = json_array();
        _cleanup_json_ json_t *saved = json_array(); /* docker's "|N k=v" prefix */
        const char *k;
        json_t *v;
        void *tmp;
        _cleanup_strv_ char **keys = NULL;
        json_object_foreach_safe(st->args, tmp, k, v) if (json_is_string(v) && !env_get(st->cfg, k))
            strv_push(&keys, k);
        if (keys)
                qsort(keys, strv_length(keys), sizeof(char *),
                      (int (*)(const void *, const void *))strcmp);
        for (size_t i = 0; keys && keys[i]; i++) {
                char *kv = xasprintf("%s=%s", keys[i],
                                     json_string_value(json_object_get(st->args, keys[i])));
                json_array_append_new(env, json_string(kv));
                json_array_append_new(saved, json_string(kv));
                free(kv);
        }
        json_object_foreach_safe(b->o->buildargs, tmp, k,
                                 v) if (is_builtin_arg(k) && json_is_string(v))
        {
                char *kv = xasprintf("%s=%s", k, json_string_value(v));
                json_array_append_new(env, json_string(kv));
                free(kv);
        }
        _cleanup_json_ json_t *cmd = json_array();
        if (json_array_size(saved)) {
                char *n = xasprintf("|%zu", json_array_size(saved));
                json_array_append_new(cmd, json_string(n));
                free(n);
                json_array_extend(cmd, saved);
        }
        json_array_extend(cmd, argv);
        _cleanup_free_ char *cmdline = NULL;
        size_t i;
        json_array_foreach(cmd, i, v)
        {
                char *n =
                    xasprintf("%s%s%s", cmdline ? cmdline : "", i ? " " : "", json_string_value(v));
                free(cmdline);
                cmdline = n;
        }
        _cleanup_free_ char *key = key_of(st, "run", cmdline, mounts);
        if (step_cached(b, st, key, cmdline))
                return 0;

        struct containers *cs = b->d->containers;
        json_t *hc = json_deep_copy(b->o->hostconfig);
        json_object_set_new(hc, "NetworkMode", json_string(net && *net ? net : "default"));
        if (json_array_size(binds))
                json_object_set(hc, "Binds", binds);
        if (json_object_size(tmpfs))
                json_object_set(hc, "Tmpfs", tmpfs);
        const char *wd = json_string_value(json_object_get(st->cfg, "WorkingDir"));
        const char *user = json_string_value(json_object_get(st->cfg, "User"));
        _cleanup_json_ json_t *body = json_pack(
            "{s:s,s:O,s:[],s:O,s:s,s:s,s:b,s:b,s:b,s:o}", "Image", st->image_id, "Cmd", argv,
            "Entrypoint", "Env", env, "WorkingDir", wd ? wd : "", "User", user ? user : "",
            "AttachStdout", true, "AttachStderr", true, "Tty", false, "HostConfig", hc);
        _cleanup_json_ json_t *warnings = json_array();
        _cleanup_free_ char *cid = NULL;
        if (container_create(cs, NULL, body, &cid, warnings, err) < 0)
                return -EIO;
        struct container *c = NULL;
        if (container_get(cs, cid, &c, err) < 0)
                return -EIO;
        build_out_stream(b->out, " ---> Running in %.12s\n", cid);
        int r = 0, code = -1;
        bool cancelled = false;
        int sv[2];
        uint64_t gen = 0;
        _cleanup_json_ json_t *amsg = json_pack("{s:{s:b,s:b,s:b,s:b}}", "attach", "stdin", false,
                                                "stdout", true, "stderr", true, "raw", false);
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
                r = berth_error_set(err, errno, "socketpair");
                goto remove;
        }
        if ((r = container_attach(cs, c, amsg, sv[1], err)) < 0) {
                close(sv[0]);
                goto remove;
        }
        pthread_mutex_lock(&cs->lock);
        gen = c->exit_gen;
        pthread_mutex_unlock(&cs->lock);
        if ((r = container_start(cs, c, err)) < 0) {
                close(sv[0]);
                goto remove;
        }
        run_output(b, sv[0], cs, c, &cancelled);
        close(sv[0]);
        container_wait(cs, c, "not-running", gen, &code);
        if (build_out_broken(b->out)) {
                r = berth_error_setx(err, ECANCELED, "the client went away");
                goto remove;
        }
        if (cancelled) {
                r = berth_error_setx(err, ECANCELED, "cancelled: another stage failed");
                goto remove;
        }
        if (code != 0) {
                _cleanup_free_ char *shown = NULL;
                json_array_foreach(argv, i, v)
                {
                        char *n = xasprintf("%s%s%s", shown ? shown : "", i ? " " : "",
                                            json_string_value(v));
                        free(shown);
                        shown = n;
                }
                b->code = code;
                r = berth_error_setx(err, EIO, "The command '%s' returned a non-zero code: %d",
                                     shown, code);
                goto remove;
        }
        {
                _cleanup_free_ char *upper = xasprintf("%s/upper", c->dir);
                r = commit_layer(b, st, key, upper, cmd, cid, err);
        }
remove:
        if (r < 0 || b->o->rm || b->o->forcerm) {
                _cleanup_error_ struct berth_error *e = NULL;
                if (container_remove(cs, c, true, true, &e) < 0)
                        berth_warn("build: remove intermediate container %s: %s", cid, e->msg);
                else if (r == 0)
                        build_out_stream(b->out, "Removing intermediate container %.12s\n", cid);
        }
        container_unref(cs, c);
        return r;
}

/* ---------------------------------------------------------------- the walk */

static int dispatch(struct builder *b, struct stage *st, const struct bld_instr *in,
                    struct berth_error **err)
{
        size_t idx = (size_t)(st - b->stages);
        switch (in->kind) {
        case BLD_RUN: {
                int r = run_step(b, st, in, err);
                while (b->n_run_mounts)
                        build_mount_release(&b->run_mounts[--b->n_run_mounts]);
                if (b->run_tmp) {
                        _cleanup_error_ struct berth_error *e = NULL;
                        if (berth_rm_rf_at(AT_FDCWD, b->run_tmp, &e) < 0)
                                berth_warn("build: remove `%s`: %s", b->run_tmp, e->msg);
                        free(b->run_tmp);
                        b->run_tmp = NULL;
                }
                return r;
        }
        case BLD_COPY:
        case BLD_ADD:
                return copy_step(b, idx, st, in, err);
        case BLD_WORKDIR:
                return workdir(b, st, in, err);
        case BLD_FROM:
                return berth_error_setx(err, EINVAL, "FROM inside a stage");
        default:
                return metadata(b, st, in, err);
        }
}

static void stage_free(struct stage *st)
{
        free(st->deps);
        free(st->name);
        free(st->image_id);
        json_decref(st->cfg);
        json_decref(st->args);
}

/* The stages each stage depends on (FROM <stage>, COPY/ADD --from=<stage>, RUN
 * --mount=…,from=<stage>; a reference through a variable could name any earlier stage: all of
 * them then), and those the target (the last of n) needs, followed back. */
static void mark_needed(struct builder *b, size_t n)
{
        for (size_t s = 0; s < b->n_stages; s++) {
                struct stage *st = &b->stages[s];
                st->deps = xcalloc(b->n_stages, sizeof(*st->deps));
                for (size_t k = st->first; k < st->end; k++) {
                        const struct bld_instr *in = &b->df->instrs[k];
                        const char *ref = in->kind == BLD_FROM ? in->args[0] : flag_get(in, "from");
                        _cleanup_free_ char *mref = NULL;
                        if (in->kind == BLD_RUN) {
                                /* RUN --mount=…,from=<stage>; several such mounts: every earlier
                                 * stage */
                                size_t nm = 0;
                                for (size_t f = 0; f < in->n_flags; f++) {
                                        const char *v = in->flags[f].value;
                                        const char *fr = strcmp(in->flags[f].name, "mount")
                                                             ? NULL
                                                             : strstr(v, "from=");
                                        if (!fr || (fr != v && fr[-1] != ','))
                                                continue;
                                        nm++;
                                        free(mref);
                                        mref = xstrndup(fr + 5, strcspn(fr + 5, ","));
                                }
                                ref = nm > 1 ? "$" : mref;
                        }
                        if (!ref || (in->kind != BLD_FROM && in->kind != BLD_COPY &&
                                     in->kind != BLD_ADD && in->kind != BLD_RUN))
                                continue;
                        if (strchr(ref, '$')) {
                                for (size_t e = 0; e < s; e++)
                                        st->deps[e] = true;
                                continue;
                        }
                        struct stage *dep = NULL;
                        for (size_t e = 0; e < s && !dep; e++)
                                if (b->stages[e].name && !strcasecmp(b->stages[e].name, ref))
                                        dep = &b->stages[e];
                        if (!dep && in->kind != BLD_FROM)
                                dep = stage_by_name(b, ref, s);
                        if (dep)
                                st->deps[dep - b->stages] = true;
                }
        }
        b->stages[n - 1].needed = true;
        for (size_t s = n; s-- > 0;)
                for (size_t e = 0; b->stages[s].needed && e < s; e++)
                        if (b->stages[s].deps[e])
                                b->stages[e].needed = true;
}

/* One stage's steps, on the thread's own builder copy b. */
static int build_stage(struct builder *b, size_t s, const char *label_line,
                       struct berth_error **err)
{
        struct stage *st = &b->stages[s];
        const struct bld_instr *in = &b->df->instrs[st->first];
        int r;
        b->step = st->step0;
        build_out_stream(b->out, "Step %zu/%zu : %s\n", b->step++, b->total, in->original);
        if ((r = stage_from(b, s, err)) < 0)
                return r;
        print_id(b, st->image_id);
        build_out_step_end(b->out);
        for (size_t k = st->first + 1; k < st->end; k++) {
                if (build_out_broken(b->out))
                        return berth_error_setx(err, ECANCELED, "the client went away");
                if (__atomic_load_n(&b->sc->failed, __ATOMIC_RELAXED))
                        return berth_error_setx(err, ECANCELED, "cancelled: another stage failed");
                in = &b->df->instrs[k];
                build_out_stream(b->out, "Step %zu/%zu : %s\n", b->step++, b->total, in->original);
                if ((r = dispatch(b, st, in, err)) < 0)
                        return r;
                print_id(b, st->image_id);
                build_out_step_end(b->out);
        }
        if (label_line) {
                _cleanup_dockerfile_ struct bld_dockerfile *ldf = NULL;
                build_out_stream(b->out, "Step %zu/%zu : %s\n", b->step++, b->total, label_line);
                if ((r = bld_parse("labels", label_line, strlen(label_line), &ldf, err)) < 0 ||
                    (r = dispatch(b, st, &ldf->instrs[0], err)) < 0)
                        return r;
                print_id(b, st->image_id);
        }
        build_out_aux(b->out, st->image_id);
        build_out_step_end(b->out);
        return 0;
}

struct worker {
        struct builder b; /* the thread's copy */
        struct build_out out;
        size_t stage;
        const char *label_line;
        pthread_t thread;
        bool started;
};

/* A stage's thread: waits for the stages it depends on, builds, and on failure cancels the
 * others (the first failure is the build's error). */
static void *stage_thread(void *arg)
{
        struct worker *w = arg;
        struct builder *b = &w->b;
        struct sched *sc = b->sc;
        struct stage *st = &b->stages[w->stage];
        _cleanup_error_ struct berth_error *e = NULL;
        int r = 0;
        pthread_mutex_lock(&sc->lock);
        for (;;) {
                bool ready = true;
                for (size_t k = 0; k < w->stage; k++)
                        if (st->deps[k] && b->stages[k].needed && !b->stages[k].done)
                                ready = false;
                if (ready || sc->failed)
                        break;
                pthread_cond_wait(&sc->cond, &sc->lock);
        }
        bool go = !sc->failed;
        pthread_mutex_unlock(&sc->lock);
        if (go)
                r = build_stage(b, w->stage, w->label_line, &e);
        /* its output first, so that a failure's message comes after the failing step */
        build_out_child_release(b->out);
        pthread_mutex_lock(&sc->lock);
        if (go && r == 0) {
                st->built = true;
        } else if (go && !sc->failed) {
                uint64_t one = 1;
                sc->failed = true;
                sc->err = TAKE_PTR(e);
                sc->code = b->code;
                if (write(sc->cancel_fd, &one, sizeof(one)) < 0)
                        berth_warn("build: cancel the other stages: %m");
        }
        st->done = true;
        pthread_cond_broadcast(&sc->cond);
        pthread_mutex_unlock(&sc->lock);
        while (b->n_run_mounts)
                build_mount_release(&b->run_mounts[--b->n_run_mounts]);
        return NULL;
}

/* The needed stages of the first n, each in a thread of its own: those that do not depend on
 * each other build at the same time. */
static int build_stages(struct builder *b, size_t n, const char *label_line,
                        struct berth_error **err)
{
        struct sched sc = {.cancel_fd = eventfd(0, EFD_CLOEXEC)};
        if (sc.cancel_fd < 0)
                return berth_error_set(err, errno, "eventfd");
        pthread_mutex_init(&sc.lock, NULL);
        pthread_cond_init(&sc.cond, NULL);
        b->sc = &sc;
        /* loaded once, before the threads share it */
        if (b->o->cachefrom && !b->cache_from)
                cache_from_load(b);
        build_out_share(b->out);
        struct worker *w = xcalloc(n, sizeof(*w));
        int r = 0;
        for (size_t s = 0; s < n; s++) {
                if (!b->stages[s].needed)
                        continue;
                w[s].b = *b;
                w[s].b.n_run_mounts = 0;
                w[s].b.code = 0;
                w[s].stage = s;
                w[s].label_line = s + 1 == n ? label_line : NULL;
                build_out_child_init(b->out, &w[s].out);
                w[s].b.out = &w[s].out;
                int e = pthread_create(&w[s].thread, NULL, stage_thread, &w[s]);
                if (e) {
                        json_decref(w[s].out.held);
                        pthread_mutex_lock(&sc.lock);
                        if (!sc.failed) {
                                uint64_t one = 1;
                                sc.failed = true;
                                berth_error_set(&sc.err, e, "build: start a stage's thread");
                                if (write(sc.cancel_fd, &one, sizeof(one)) < 0)
                                        berth_warn("build: cancel the other stages: %m");
                        }
                        pthread_cond_broadcast(&sc.cond);
                        pthread_mutex_unlock(&sc.lock);
                        break;
                }
                w[s].started = true;
        }
        for (size_t s = 0; s < n; s++)
                if (w[s].started)
                        pthread_join(w[s].thread, NULL);
        free(w);
        build_out_unshare(b->out);
        b->sc = NULL;
        if (sc.failed) {
                if (!sc.err)
                        berth_error_setx(&sc.err, EIO, "build failed");
                b->code = sc.code;
                *err = TAKE_PTR(sc.err);
                r = -((*err)->code ? (*err)->code : EIO);
        }
        pthread_cond_destroy(&sc.cond);
        pthread_mutex_destroy(&sc.lock);
        close(sc.cancel_fd);
        return r;
}

int build_run(struct daemon *d, struct build_context *cx, const struct build_opts *o,
              struct build_out *out, char **ret_id, int *ret_code, struct berth_error **err)
{
        struct builder b = {.d = d, .o = o, .out = out, .cx = cx};
        _cleanup_dockerfile_ struct bld_dockerfile *df = NULL;
        _cleanup_ignore_ struct bld_ignore *ig = NULL;
        _cleanup_json_ json_t *meta = json_object(), *used = json_object();
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ char *label_line = NULL;
        size_t len = 0, n_stages = 0, n_meta = 0, i = 0;
        int r = 0;

        b.meta = meta;
        b.used = used;
        /* the Dockerfile: from the index, else (a symlink) resolved inside the unpacked context */
        if (cx->dockerfile) {
                text = xmalloc(cx->dockerfile_len + 1);
                memcpy(text, cx->dockerfile, cx->dockerfile_len + 1);
                len = cx->dockerfile_len;
        } else {
                int ctx = build_context_root(cx, err);
                if (ctx < 0)
                        return -EIO;
                _cleanup_close_ int fd = berth_open_in_root(ctx, o->dockerfile, O_RDONLY);
                if (fd < 0)
                        return berth_error_setx(
                            err, ENOENT, "Cannot locate specified Dockerfile: %s", o->dockerfile);
                if (berth_read_file_at(fd, "", 16u << 20, &text, &len, err) < 0) {
                        /* berth_read_file_at wants a path: read through our own fd */
                        berth_error_free(TAKE_PTR(*err));
                        char p[64];
                        snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
                        if (berth_read_file_at(AT_FDCWD, p, 16u << 20, &text, &len, err) < 0)
                                return berth_error_wrap(err, "read %s", o->dockerfile);
                }
        }
        const char *dfname =
            strrchr(o->dockerfile, '/') ? strrchr(o->dockerfile, '/') + 1 : o->dockerfile;
        if (bld_parse(dfname, text, len, &df, err) < 0)
                return -EINVAL;
        b.df = df;
        if (cx->ignore) {
                if (bld_ignore_parse(cx->ignore, cx->ignore_len, &ig, err) < 0)
                        return berth_error_wrap(err, ".dockerignore");
                b.ig = ig;
        }
        /* stages */
        for (; i < df->n_instrs && df->instrs[i].kind != BLD_FROM; i++)
                if (df->instrs[i].kind != BLD_ARG)
                        return berth_error_setx(err, EINVAL,
                                                "%s:%u: no build stage in current context: "
                                                "`%s` before the first FROM",
                                                dfname, df->instrs[i].line, df->instrs[i].original);
        n_meta = i;
        for (; i < df->n_instrs; i++)
                if (df->instrs[i].kind == BLD_FROM) {
                        b.stages = xrealloc(b.stages, (b.n_stages + 1) * sizeof(*b.stages));
                        struct stage *st = &b.stages[b.n_stages++];
                        *st = (struct stage){.first = i, .end = df->n_instrs};
                        if (b.n_stages > 1)
                                st[-1].end = i;
                        const struct bld_instr *in = &df->instrs[i];
                        if (in->n_args == 3) {
                                st->name = xstrdup(in->args[2]);
                                for (char *c = st->name; *c; c++)
                                        *c = (char)tolower((unsigned char)*c);
                                for (size_t k = 0; r == 0 && k + 1 < b.n_stages; k++)
                                        if (b.stages[k].name && !strcmp(b.stages[k].name, st->name))
                                                r = berth_error_setx(err, EINVAL,
                                                                     "duplicate name %s", st->name);
                                if (r < 0)
                                        goto done;
                        }
                }
        if (b.n_stages == 0) {
                r = berth_error_setx(err, EINVAL, "%s: no FROM instruction", dfname);
                goto done;
        }
        n_stages = b.n_stages;
        if (o->target && *o->target) {
                size_t t = 0;
                while (t < b.n_stages &&
                       !(b.stages[t].name && !strcasecmp(b.stages[t].name, o->target)))
                        t++;
                if (t == b.n_stages) {
                        r = berth_error_setx(err, EINVAL,
                                             "failed to reach build target %s in Dockerfile",
                                             o->target);
                        goto done;
                }
                n_stages = t + 1;
        }
        /* --label: one more LABEL step at the end, as docker does */
        if (json_object_size(o->labels)) {
                _cleanup_strv_ char **keys = NULL;
                const char *k;
                json_t *v;
                json_object_foreach(o->labels, k, v) strv_push(&keys, k);
                qsort(keys, strv_length(keys), sizeof(char *),
                      (int (*)(const void *, const void *))strcmp);
                label_line = xstrdup("LABEL");
                for (size_t k2 = 0; keys[k2]; k2++) {
                        char *n = xasprintf("%s \"%s\"='%s'", label_line, keys[k2],
                                            json_string_value(json_object_get(o->labels, keys[k2]))
                                                ?: "");
                        free(label_line);
                        label_line = n;
                }
        }
        /* stages the target does not need are not built (nor counted) */
        mark_needed(&b, n_stages);
        b.total = n_meta + (label_line ? 1 : 0);
        for (size_t s = 0; s < n_stages; s++)
                if (b.stages[s].needed)
                        b.total += b.stages[s].end - b.stages[s].first;
        /* the parser's warnings, before the first step as docker prints them */
        for (size_t k = 0; df->warnings && df->warnings[k]; k++)
                build_out_stream(out, "%s\n", df->warnings[k]);
        b.step = 1;
        for (i = 0; i < n_meta; i++) {
                const struct bld_instr *in = &df->instrs[i];
                build_out_stream(out, "Step %zu/%zu : %s\n", b.step++, b.total, in->original);
                for (size_t k = 0; k + 1 < in->n_args; k += 2)
                        if ((r = declare_arg(&b, meta, NULL, in->args[k], in->args[k + 1], err)) <
                            0)
                                goto done;
        }
        for (size_t s = 0, step = b.step; s < n_stages; s++)
                if (b.stages[s].needed) {
                        b.stages[s].step0 = step;
                        step += b.stages[s].end - b.stages[s].first;
                }
        if ((r = build_stages(&b, n_stages, label_line, err)) < 0)
                goto done;
        {
                /* build args no ARG consumed */
                _cleanup_free_ char *unused = NULL;
                const char *k;
                json_t *v;
                json_object_foreach(o->buildargs, k,
                                    v) if (!json_object_get(used, k) && !is_builtin_arg(k))
                {
                        char *n = xasprintf("%s%s%s", unused ? unused : "", unused ? " " : "", k);
                        free(unused);
                        unused = n;
                }
                if (unused)
                        build_out_stream(out,
                                         "[Warning] One or more build-args [%s] were not "
                                         "consumed\n",
                                         unused);
        }
        *ret_id = xstrdup(b.stages[n_stages - 1].image_id);
done:
        if (r < 0 && b.code)
                *ret_code = b.code;
        for (size_t s = 0; s < b.n_stages; s++)
                stage_free(&b.stages[s]);
        free(b.stages);
        json_decref(b.cache_from);
        return r;
}
