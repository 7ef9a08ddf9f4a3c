/* POST /images/create?fromSrc=… (docker import) and POST /commit (docker commit). The work is
 * the image store's (berth_image_import, berth_image_commit_dir); here are docker's parameters,
 * the container's state (paused during the diff) and the config merge of docker commit. */
#include "daemon/http/api.h"
#include "daemon/containers/containers.h"
#include "daemon/daemon.h"
#include "daemon/state/events.h"
#include "image/image.h"

#include <ctype.h>

static void drain(int fd)
{
        char buf[65536];
        while (fd >= 0 && read(fd, buf, sizeof(buf)) > 0)
                ;
}

/* repo (which may carry a tag) + tag → "repo:tag", NULL without a repo. docker refuses
 * upper case in the repository part. */
static int target_name(const char *repo, const char *tag, char **ret, struct berth_error **err)
{
        if (!repo || !*repo) {
                *ret = NULL;
                return 0;
        }
        _cleanup_free_ char *name = tag && *tag ? xasprintf("%s:%s", repo, tag) : xstrdup(repo);
        const char *slash = strrchr(repo, '/');
        const char *colon = strchr(slash ? slash : repo, ':');
        for (const char *p = repo; *p && (!colon || p < colon); p++)
                if (isupper((unsigned char)*p))
                        return berth_error_setx(err, EINVAL,
                                                "invalid reference format: repository name (%s) "
                                                "must be lowercase",
                                                repo);
        struct berth_ref ref = {0};
        if (berth_ref_parse(name, &ref, err) < 0)
                return berth_error_wrap(err, "invalid reference format");
        bool digest = ref.digest != NULL;
        berth_ref_release(&ref);
        if (digest)
                return berth_error_setx(
                    err, EINVAL, "invalid reference format: `%s` is a digest, not a tag", name);
        *ret = TAKE_PTR(name);
        return 0;
}

void api_image_import(struct api_req *r)
{
        struct daemon *d = api_daemon(r);
        const char *src = api_query(r, "fromSrc");
        int body = api_body_fd(r);
        _cleanup_error_ struct berth_error *e = NULL;
        _cleanup_free_ char *name = NULL;
        _cleanup_strv_ char **changes = api_query_all(r, "changes");
        if (target_name(api_query(r, "repo"), api_query(r, "tag"), &name, &e) < 0) {
                drain(body);
                return api_reply_error(r, TAKE_PTR(e));
        }
        struct berth_import_opts o = {
            .source = src,
            .message = api_query(r, "message"),
            .changes = changes,
            .platform = api_query(r, "platform"),
            .tag = name,
        };
        _cleanup_free_ char *id = NULL;
        int rc;
        if (!src || !*src) {
                drain(body);
                return api_reply_errorf(r, 400, "fromSrc is required");
        }
        if (!strcmp(src, "-")) {
                if (body < 0)
                        return api_reply_errorf(r, 500, "import: no request body stream");
                rc = berth_image_import(d->images, body, &o, &id, &e);
                /* the handler consumes the body before it answers */
                drain(body);
        } else {
                drain(body);
                rc = berth_image_import_url(d->images, src, &o, &id, &e);
        }
        if (rc < 0) {
                /* a download that failed is the source's fault, like docker's 500 */
                return api_reply_error(r, TAKE_PTR(e));
        }
        events_publish(d, "image", "import", id, json_pack("{s:s}", "name", id));
        if (name)
                events_publish(d, "image", "tag", id, json_pack("{s:s}", "name", name));
        _cleanup_json_ json_t *msg = json_pack("{s:s}", "status", id);
        _cleanup_free_ char *line = json_dumps(msg, JSON_COMPACT);
        _cleanup_free_ char *out = xasprintf("%s\r\n", line);
        api_reply_chunked(r, 200, "application/json", out);
}

/* ---------------------------------------------------------------- commit */

static bool empty(json_t *v)
{
        return !v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v)) ||
               (json_is_array(v) && !json_array_size(v)) ||
               (json_is_object(v) && !json_object_size(v));
}

static void merge_objects(json_t *user, json_t *base, const char *key)
{
        json_t *b = json_object_get(base, key);
        if (!json_is_object(b) || !json_object_size(b))
                return;
        json_t *u = json_object_get(user, key);
        if (!json_is_object(u)) {
                json_object_set_new(user, key, json_deep_copy(b));
                return;
        }
        const char *k;
        json_t *v;
        json_object_foreach(b, k, v) if (!json_object_get(u, k)) json_object_set(u, k, v);
}

/* docker's merge(userConf, imageConf) of commit: what the user's config leaves empty comes from
 * the container's; Env by variable, Labels/ExposedPorts/Volumes by key; Cmd only without an
 * Entrypoint of the user's. */
static void commit_merge(json_t *user, json_t *base)
{
        static const char *const plain[] = {"User",        "WorkingDir", "StopSignal",
                                            "Hostname",    "Domainname", "Image",
                                            "Healthcheck", "Shell",      "OnBuild"};
        for (size_t i = 0; i < ARRAY_SIZE(plain); i++)
                if (empty(json_object_get(user, plain[i])) && json_object_get(base, plain[i]))
                        json_object_set(user, plain[i], json_object_get(base, plain[i]));
        static const char *const flags[] = {"AttachStdin", "AttachStdout", "AttachStderr",
                                            "Tty",         "OpenStdin",    "StdinOnce"};
        for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
                if (!json_object_get(user, flags[i]) && json_object_get(base, flags[i]))
                        json_object_set(user, flags[i], json_object_get(base, flags[i]));
        if (empty(json_object_get(user, "Entrypoint"))) {
                if (empty(json_object_get(user, "Cmd")))
                        json_object_set(user, "Cmd", json_object_get(base, "Cmd"));
                if (!json_object_get(user, "Entrypoint") ||
                    json_is_null(json_object_get(user, "Entrypoint")))
                        json_object_set(user, "Entrypoint", json_object_get(base, "Entrypoint"));
        }
        json_t *benv = json_object_get(base, "Env");
        json_t *uenv = json_object_get(user, "Env");
        if (json_is_array(benv)) {
                if (!json_is_array(uenv)) {
                        uenv = json_array();
                        json_object_set_new(user, "Env", uenv);
                }
                size_t i, j;
                json_t *b, *u;
                json_array_foreach(benv, i, b)
                {
                        const char *bs = json_string_value(b);
                        if (!bs)
                                continue;
                        size_t klen = strcspn(bs, "=");
                        bool found = false;
                        json_array_foreach(uenv, j, u)
                        {
                                const char *us = json_string_value(u);
                                if (us && strcspn(us, "=") == klen && !strncmp(us, bs, klen))
                                        found = true;
                        }
                        if (!found)
                                json_array_append(uenv, b);
                }
        }
        merge_objects(user, base, "Labels");
        merge_objects(user, base, "ExposedPorts");
        merge_objects(user, base, "Volumes");
}

void api_commit(struct api_req *r)
{
        struct daemon *d = api_daemon(r);
        struct containers *cs = d->containers;
        _cleanup_error_ struct berth_error *e = NULL;
        const char *ref = api_query(r, "container");
        if (!ref || !*ref)
                return api_reply_errorf(r, 400, "container is required");
        _cleanup_free_ char *name = NULL;
        if (target_name(api_query(r, "repo"), api_query(r, "tag"), &name, &e) < 0)
                return api_reply_error(r, TAKE_PTR(e));
        /* the body: docker's container Config of overrides, may be empty or null */
        size_t blen = 0;
        const char *body = api_body(r, &blen);
        _cleanup_json_ json_t *user = NULL;
        if (blen) {
                json_error_t je;
                user = json_loadb(body, blen, JSON_DECODE_ANY, &je);
                if (!user)
                        return api_reply_errorf(r, 400, "invalid JSON in the request body: %s",
                                                je.text);
                if (!json_is_object(user) && !json_is_null(user))
                        return api_reply_errorf(r, 400,
                                                "the request body must be a JSON object (a "
                                                "container Config)");
        }
        if (!json_is_object(user)) {
                json_decref(user);
                user = json_object();
        }
        struct container *c = NULL;
        if (container_get(cs, ref, &c, &e) < 0)
                return api_reply_error(r, TAKE_PTR(e));
        _cleanup_json_ json_t *inspect = container_inspect(cs, c, false);
        json_t *cconf = json_object_get(inspect, "Config");
        const char *parent = json_string_value(json_object_get(c->config, "image_id"));
        _cleanup_strv_ char **changes = api_query_all(r, "changes");
        _cleanup_free_ char *id = NULL;
        int rc = 0;
        if (!parent)
                rc = berth_error_setx(&e, EINVAL, "container `%s` has no image", c->id);
        /* the user's config with the changes, then docker's merge with the container's */
        if (rc == 0)
                rc = berth_image_apply_changes(user, changes, &e);
        if (rc == 0)
                commit_merge(user, cconf);
        bool paused_here = false;
        if (rc == 0 && api_query_bool(r, "pause", true)) {
                if (container_status_of(cs, c) == CONTAINER_RUNNING) {
                        rc = container_pause(cs, c, true, &e);
                        paused_here = rc == 0;
                }
        }
        if (rc == 0) {
                _cleanup_free_ char *upper = xasprintf("%s/upper", c->dir);
                struct berth_commit_opts o = {
                    .parent = parent,
                    .config = user,
                    .container_config = cconf,
                    .container_id = c->id,
                    .comment = api_query(r, "comment"),
                    .author = api_query(r, "author"),
                    .tag = name,
                };
                rc = berth_image_commit_dir(d->images, upper, &o, &id, &e);
        }
        /* docker's order: pause, commit, unpause */
        if (rc == 0)
                events_publish(d, "container", "commit", c->id,
                               json_pack("{s:s, s:s}", "name", c->name, "comment",
                                         api_query(r, "comment") ? api_query(r, "comment") : ""));
        if (paused_here) {
                _cleanup_error_ struct berth_error *ue = NULL;
                container_pause(cs, c, false, &ue);
        }
        if (rc < 0) {
                container_unref(cs, c);
                return api_reply_error(r, TAKE_PTR(e));
        }
        if (name)
                events_publish(d, "image", "tag", id, json_pack("{s:s}", "name", name));
        container_unref(cs, c);
        api_reply_json(r, 201, json_pack("{s:s}", "Id", id));
}
