/* /images routes over the image store: list, inspect, history, tag, remove, prune, pull and push
 * with docker's JSON progress stream, save and load. */
#include "daemon/http/api.h"
#include "daemon/containers/containers.h"
#include "daemon/daemon.h"
#include "daemon/state/events.h"

#include <pthread.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------- helpers */

/* Image ids and names docker's error messages use; ENOENT → "No such image: x". */
static int resolve(struct daemon *d, const char *name, char **ret_id, struct berth_error **err)
{
        _cleanup_error_ struct berth_error *e = NULL;
        int r = berth_image_resolve(d->images, name, ret_id, &e);
        if (r == -ENOENT || berth_error_code(e) == ENOENT) {
                _cleanup_free_ char *shown = berth_ref_display(name);
                return berth_error_setx(err, ENOENT, "No such image: %s", shown);
        }
        if (r < 0) {
                *err = TAKE_PTR(e);
                return r;
        }
        return 0;
}

/* Is image id used by a container (any state)? The containers module knows. */
static bool in_use(const char *id, void *userdata, char **ret_container)
{
        return containers_image_in_use(id, userdata, ret_container);
}

/* docker's units.HumanSize: decimal units, 4 significant digits ("2.153MB") */
static void human_size(uint64_t n, char *buf, size_t len)
{
        static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
        double v = (double)n;
        size_t u = 0;
        while (v >= 1000 && u + 1 < ARRAY_SIZE(units)) {
                v /= 1000;
                u++;
        }
        snprintf(buf, len, "%.4g%s", v, units[u]);
}

/* One line of docker's JSON message stream for a progress event, with the rendered bar docker
 * puts in "progress" ("[=====>    ]  1.2MB/3MB"). */
static json_t *progress_json(const struct berth_progress *p)
{
        json_t *detail = json_object();
        json_t *msg = json_pack("{s:s}", "status", p->status ? p->status : "");
        if (p->current > 0 || p->total > 0) {
                char cur[32], tot[32], bar[256];
                human_size(p->current, cur, sizeof(cur));
                json_object_set_new(detail, "current", json_integer((json_int_t)p->current));
                if (p->total > 0) {
                        json_object_set_new(detail, "total", json_integer((json_int_t)p->total));
                        human_size(p->total, tot, sizeof(tot));
                        unsigned pct = (unsigned)((double)p->current / (double)p->total * 100) / 2;
                        if (pct > 50)
                                pct = 50;
                        char eq[51], sp[51];
                        memset(eq, '=', pct);
                        eq[pct] = '\0';
                        memset(sp, ' ', 50 - pct);
                        sp[50 - pct] = '\0';
                        snprintf(bar, sizeof(bar), "[%s>%s] %8s/%s", eq, sp, cur, tot);
                } else {
                        snprintf(bar, sizeof(bar), "%8s", cur);
                }
                json_object_set_new(msg, "progress", json_string(bar));
        }
        json_object_set_new(msg, "progressDetail", detail);
        if (p->id)
                json_object_set_new(msg, "id", json_string(p->id));
        return msg;
}

/* docker's untag/delete events: the image id as the actor (id: the image untagged, NULL when
 * unknown: then the name), the name in the attributes */
static void publish_report(struct daemon *d, json_t *report, const char *id)
{
        size_t i;
        json_t *item;
        json_array_foreach(report, i, item)
        {
                const char *untagged = json_string_value(json_object_get(item, "Untagged"));
                const char *deleted = json_string_value(json_object_get(item, "Deleted"));
                if (untagged)
                        events_publish(d, "image", "untag", id ? id : untagged,
                                       json_pack("{s:s}", "name", untagged));
                if (deleted)
                        events_publish(d, "image", "delete", deleted,
                                       json_pack("{s:s}", "name", deleted));
        }
}

/* docker: "repository name must be lowercase" (the registry host may have capitals) */
static bool repo_lowercase(const struct berth_ref *ref)
{
        for (const char *p = ref->path; p && *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        return false;
        return true;
}

/* ---------------------------------------------------------------- queries */

static void images_list_handler(struct api_req *r)
{
        struct daemon *d = api_daemon(r);
        _cleanup_error_ struct berth_error *e = NULL;
        _cleanup_json_ json_t *filters = NULL;
        json_t *out;
        if (api_query_filters(r, &filters, &e) < 0)
                return api_reply_error(r, TAKE_PTR(e));
        /* API < 1.41 spelled the reference filter as ?filter=name */
        const char *legacy = api_query(r, "filter");
        if (legacy && *legacy)
                json_object_set_new(filters, "reference", json_pack("[s]", legacy));
        if (berth_image_list(d->images, api_query_bool(r, "all", false),
                             json_object_size(filters) ? filters : NULL, &out, &e) < 0)
                return api_reply_error(r, TAKE_PTR(e));
        api_reply_json(r, 200, out);
}

static void images_inspect_handler(struct api_req *r)
{
        struct daemon *d = api_daemon(r);
        _cleanup_error_ struct berth_error *e = NULL;
        _cleanup_free_ char *id = NULL;
        json_t *out;
        if (resolve(d, api_param(r, 0), &id, &e) < 0 ||
            berth_image_inspect(d->images, id, &out, &e) < 0)
                return api_reply_error(r, TAKE_PTR(e));
        api_reply_json(r, 200, out);
}

static void images_history_handler(struct api_req *r)
{
        struct daemon *d = api_daemon(r);
        _cleanup_error_ struct berth_error *e = NULL;
        _cleanup_free_ char *id = NULL;
        json_t *out;
        if (resolve(d, api_param(r, 0), &id, &e) < 0 ||
            berth_image_history(d->images, id, &out, &e) < 0)
                return api_reply_error(r, TAKE_PTR(e));
        api_reply_json(r, 200, out);
}

static void images_tag_handler(struct api_req *r)
{
        struct daemon *d = api_daemon(r);
        _cleanup_error_ struct berth_error *e = NULL;
        _cleanup_free_ char *id = NULL;
        const char *repo = api_query(r, "repo");
        const char *tag = api_query(r, "tag");
        if (!repo || !*repo)
                return api_reply_errorf(r, 400, "repository name must have at least one component");
        if (tag && (strchr(tag, ':') || strchr(tag, '/') || strchr(tag, '@')))
                return api_reply_errorf(r, 400, "invalid tag format");
        _cleanup_free_ char *ref = tag && *tag ? xasprintf("%s:%s", repo, tag) : xstrdup(repo);
        struct berth_ref parsed = {0};
        if (berth_ref_parse(ref, &parsed, &e) < 0) {
                _cleanup_error_ struct berth_error *bad = TAKE_PTR(e);
                return api_reply_errorf(r, 400, "invalid reference format: %s", bad->msg);
        }
        if (parsed.digest) {
                berth_ref_release(&parsed);
                return api_reply_errorf(r, 400, "refusing to create a tag with a digest reference");
        }
        if (!repo_lowercase(&parsed)) {
                berth_ref_release(&parsed);
                return api_reply_errorf(r, 400,
                                        "invalid reference format: repository name (%s) must be "
                                        "lowercase",
                                        repo);
        }
        _cleanup_free_ char *familiar = berth_ref_familiar(&parsed);
        berth_ref_release(&parsed);
        if (resolve(d, api_param(r, 0), &id, &e) < 0 || berth_image_tag(d->images, id, ref, &e) < 0)
                return api_reply_error(r, TAKE_PTR(e));
        events_publish(d, "image", "tag", id, json_pack("{s:s}", "name", familiar));
        api_reply_empty(r, 201);
}

static void images_remove_handler(struct api_req *r)
{
        struct daemon *d = api_daemon(r);
        _cleanup_error_ struct berth_error *e = NULL;
        _cleanup_free_ char *id = NULL;
        json_t *report;
        berth_image_resolve(d->images, api_param(r, 0), &id, NULL);
        if (berth_image_remove(d->images, api_param(r, 0), api_query_bool(r, "force", false),
                               api_query_bool(r, "noprune", false), in_use, d, &report, &e) < 0) {
                if (berth_error_code(e) == ENOENT) {
                        _cleanup_free_ char *shown = berth_ref_display(api_param(r, 0));
                        berth_error_free(TAKE_PTR(e));
                        return api_reply_errorf(r, 404, "No such image: %s", shown);
                }
                return api_reply_error(r, TAKE_PTR(e));
        }
        publish_report(d, report, id);
        api_reply_json(r, 200, report);
}

static void images_prune_handler(struct api_req *r)
{
        struct daemon *d = api_daemon(r);
        _cleanup_error_ struct berth_error *e = NULL;
        _cleanup_json_ json_t *filters = NULL;
        if (api_query_filters(r, &filters, &e) < 0)
                return api_reply_error(r, TAKE_PTR(e));
        /* `docker image prune -a` is the filter dangling=false */
        bool all = false;
        json_t *dangling = json_object_get(filters, "dangling");
        if (dangling) {
                const char *v = json_string_value(json_array_get(dangling, 0));
                if (!v || json_array_size(dangling) != 1)
                        return api_reply_errorf(r, 400, "invalid filter 'dangling'");
                if (!strcmp(v, "false") || !strcmp(v, "0"))
                        all = true;
                else if (strcmp(v, "true") && strcmp(v, "1"))
                        return api_reply_errorf(r, 400, "invalid filter 'dangling=%s'", v);
                json_object_del(filters, "dangling");
        }
        json_t *report;
        if (berth_image_prune(d->images, all, json_object_size(filters) ? filters : NULL, in_use, d,
                              &report, &e) < 0)
                return api_reply_error(r, TAKE_PTR(e));
        json_t *deleted = json_object_get(report, "ImagesDeleted");
        publish_report(d, deleted, NULL);
        /* docker sends null, not [], when nothing was deleted */
        if (json_array_size(deleted) == 0)
                json_object_set_new(report, "ImagesDeleted", json_null());
        _cleanup_free_ char *reclaimed = xasprintf(
            "%lld", (long long)json_integer_value(json_object_get(report, "SpaceReclaimed")));
        events_publish(d, "image", "prune", "", json_pack("{s:s}", "reclaimed", reclaimed));
        api_reply_json(r, 200, report);
}

/* ---------------------------------------------------------------- pull / push streams */

struct stream_job {
        struct daemon *d;
        char *ref;      /* what to pull or push */
        char *auth;     /* X-Registry-Auth, may be NULL */
        char *platform; /* may be NULL */
        int out_fd;     /* -1 until the reply streams: lines are held meanwhile */
        bool failed;    /* writing to the client failed: keep going silently */
        pthread_mutex_t lock;
        /* pull: it runs on its own thread while the handler waits to know whether to answer
         * with an HTTP error (failed before any progress beyond "Pulling from", like docker) or
         * with the stream */
        pthread_cond_t cond;
        pthread_t thread;
        bool thread_started;
        json_t *held;              /* lines (strings) not written yet */
        unsigned nmsgs;            /* progress messages so far */
        bool decided;              /* a second message came: the reply is the stream */
        bool done;                 /* the pull returned */
        struct berth_error *error; /* how it failed */
};

static void job_free(void *p)
{
        struct stream_job *j = p;
        if (!j)
                return;
        if (j->thread_started)
                pthread_join(j->thread, NULL);
        json_decref(j->held);
        berth_error_free(j->error);
        pthread_cond_destroy(&j->cond);
        free(j->ref);
        free(j->auth);
        free(j->platform);
        pthread_mutex_destroy(&j->lock);
        free(j);
}

static void job_send(struct stream_job *j, json_t *msg)
{
        _cleanup_free_ char *s = json_dumps(msg, JSON_COMPACT);
        json_decref(msg);
        _cleanup_free_ char *line = xasprintf("%s\r\n", s);
        pthread_mutex_lock(&j->lock);
        if (j->out_fd < 0)
                json_array_append_new(j->held, json_string(line));
        else if (!j->failed)
                j->failed = berth_write_all(j->out_fd, line, strlen(line)) < 0;
        pthread_mutex_unlock(&j->lock);
}

static void job_progress(const struct berth_progress *p, void *userdata)
{
        struct stream_job *j = userdata;
        pthread_mutex_lock(&j->lock);
        if (j->nmsgs++ >= 1 && !j->decided) {
                j->decided = true;
                pthread_cond_broadcast(&j->cond);
        }
        pthread_mutex_unlock(&j->lock);
        job_send(j, progress_json(p));
}

static void job_error(struct stream_job *j, struct berth_error *e)
{
        const char *msg = e && e->msg ? e->msg : "unknown error";
        job_send(j, json_pack("{s:{s:s}, s:s}", "errorDetail", "message", msg, "error", msg));
}

static struct stream_job *job_new(struct api_req *r, const char *ref)
{
        struct stream_job *j = xcalloc(1, sizeof(*j));
        j->d = api_daemon(r);
        j->ref = xstrdup(ref);
        const char *auth = api_header(r, "X-Registry-Auth");
        j->auth = auth && *auth ? xstrdup(auth) : NULL;
        const char *platform = api_query(r, "platform");
        j->platform = platform && *platform ? xstrdup(platform) : NULL;
        j->out_fd = -1;
        j->held = json_array();
        pthread_mutex_init(&j->lock, NULL);
        pthread_cond_init(&j->cond, NULL);
        return j;
}

/* The registry client reports every line docker shows ("Pulling from …", per layer progress,
 * "Digest: …", "Status: …"). */
static void *pull_thread(void *userdata)
{
        struct stream_job *j = userdata;
        struct berth_error *e = NULL;
        struct berth_registry_opts o = {
            .progress = job_progress,
            .userdata = j,
            .auth_header = j->auth,
            .platform = j->platform,
        };
        _cleanup_free_ char *id = NULL;
        if (berth_image_pull(j->d->images, j->ref, &o, &id, &e) == 0) {
                struct berth_ref ref = {0};
                if (berth_ref_parse(j->ref, &ref, NULL) == 0) {
                        _cleanup_free_ char *familiar = berth_ref_familiar(&ref);
                        berth_ref_release(&ref);
                        events_publish(j->d, "image", "pull", familiar,
                                       json_pack("{s:s}", "name", familiar));
                }
        }
        pthread_mutex_lock(&j->lock);
        j->done = true;
        j->error = e;
        pthread_cond_broadcast(&j->cond);
        pthread_mutex_unlock(&j->lock);
        return NULL;
}

/* The stream: what was held, then the rest as it comes; an error ends it as docker's
 * errorDetail message. */
static void pull_producer(int out_fd, void *userdata)
{
        struct stream_job *j = userdata;
        pthread_mutex_lock(&j->lock);
        j->out_fd = out_fd;
        size_t i;
        json_t *line;
        json_array_foreach(j->held, i, line) if (!j->failed) j->failed =
            berth_write_all(out_fd, json_string_value(line), json_string_length(line)) < 0;
        json_array_clear(j->held);
        while (!j->done)
                pthread_cond_wait(&j->cond, &j->lock);
        pthread_mutex_unlock(&j->lock);
        if (j->error)
                job_error(j, j->error);
}

static void images_create_handler(struct api_req *r)
{
        const char *from = api_query(r, "fromImage");
        const char *tag = api_query(r, "tag");
        if (api_query(r, "fromSrc"))
                return api_image_import(r); /* api-import.c */
        if (!from || !*from)
                return api_reply_errorf(r, 400, "fromImage or fromSrc is required");
        _cleanup_free_ char *ref = NULL;
        if (tag && *tag)
                ref = xasprintf("%s%s%s", from, !strncmp(tag, "sha256:", 7) ? "@" : ":", tag);
        else
                ref = xstrdup(from);
        _cleanup_error_ struct berth_error *e = NULL;
        struct berth_ref parsed = {0};
        if (berth_ref_parse(ref, &parsed, &e) < 0) {
                _cleanup_error_ struct berth_error *bad = TAKE_PTR(e);
                return api_reply_errorf(r, 400, "invalid reference format: %s", bad->msg);
        }
        bool lower = repo_lowercase(&parsed);
        berth_ref_release(&parsed);
        if (!lower)
                return api_reply_errorf(r, 400,
                                        "invalid reference format: repository name (%s) must be "
                                        "lowercase",
                                        from);
        struct stream_job *j = job_new(r, ref);
        if (pthread_create(&j->thread, NULL, pull_thread, j) != 0) {
                job_free(j);
                return api_reply_errorf(r, 500, "pull: cannot start a thread");
        }
        j->thread_started = true;
        pthread_mutex_lock(&j->lock);
        while (!j->decided && !j->done)
                pthread_cond_wait(&j->cond, &j->lock);
        bool early_error = j->done && j->error && !j->decided;
        pthread_mutex_unlock(&j->lock);
        if (early_error) {
                /* nothing shown yet: an HTTP error like docker's ("manifest unknown" → 404) */
                struct berth_error *pull_err = TAKE_PTR(j->error);
                job_free(j);
                return api_reply_error(r, pull_err);
        }
        api_reply_stream(r, 200, "application/json", pull_producer, j, job_free);
}

static void push_producer(int out_fd, void *userdata)
{
        struct stream_job *j = userdata;
        pthread_mutex_lock(&j->lock);
        j->out_fd = out_fd;
        pthread_mutex_unlock(&j->lock);
        _cleanup_error_ struct berth_error *e = NULL;
        struct berth_ref ref = {0};
        if (berth_ref_parse(j->ref, &ref, &e) < 0)
                return job_error(j, e);
        _cleanup_free_ char *tag = xstrdup(ref.tag ? ref.tag : "latest");
        _cleanup_free_ char *familiar = berth_ref_familiar(&ref);
        berth_ref_release(&ref);
        struct berth_registry_opts o = {
            .progress = job_progress,
            .userdata = j,
            .auth_header = j->auth,
        };
        _cleanup_free_ char *digest = NULL;
        if (berth_image_push(j->d->images, j->ref, &o, &digest, &e) < 0)
                return job_error(j, e);
        json_int_t size = 0;
        _cleanup_close_ int fd = -1;
        struct stat st;
        if (berth_store_open_blob(berth_images_blobs(j->d->images), digest, &fd, NULL) == 0 &&
            fstat(fd, &st) == 0)
                size = st.st_size;
        job_send(j, json_pack("{s:{}, s:{s:s, s:s, s:I}}", "progressDetail", "aux", "Tag", tag,
                              "Digest", digest, "Size", size));
        events_publish(j->d, "image", "push", familiar, json_pack("{s:s}", "name", familiar));
}

static void images_push_handler(struct api_req *r)
{
        struct daemon *d = api_daemon(r);
        const char *name = api_param(r, 0);
        const char *tag = api_query(r, "tag");
        _cleanup_free_ char *ref = tag && *tag ? xasprintf("%s:%s", name, tag) : xstrdup(name);
        _cleanup_free_ char *id = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        if (berth_image_resolve(d->images, ref, &id, &e) < 0) {
                berth_error_free(TAKE_PTR(e));
                return api_reply_errorf(r, 404, "An image does not exist locally with the tag: %s",
                                        name);
        }
        api_reply_stream(r, 200, "application/json", push_producer, job_new(r, ref), job_free);
}

/* ---------------------------------------------------------------- save / load */

struct save_job {
        struct daemon *d;
        char **names;
};

static void save_free(void *p)
{
        struct save_job *j = p;
        strv_free(j->names);
        free(j);
}

static void save_producer(int out_fd, void *userdata)
{
        struct save_job *j = userdata;
        _cleanup_error_ struct berth_error *e = NULL;
        /* the status line is gone already: a failure can only cut the tar short, which the
         * client notices (docker does the same) */
        if (berth_image_save(j->d->images, j->names, out_fd, &e) < 0) {
                berth_warn("image save: %s", e->msg);
                return;
        }
        for (char **n = j->names; *n; n++)
                events_publish(j->d, "image", "save", *n, json_pack("{s:s}", "name", *n));
}

static void save_reply(struct api_req *r, char **names)
{
        struct daemon *d = api_daemon(r);
        for (char **n = names; n && *n; n++) {
                _cleanup_free_ char *id = NULL;
                _cleanup_error_ struct berth_error *e = NULL;
                if (resolve(d, *n, &id, &e) < 0) {
                        strv_free(names);
                        return api_reply_error(r, TAKE_PTR(e));
                }
        }
        if (!names) {
                return api_reply_errorf(r, 400, "no image names given");
        }
        struct save_job *j = xcalloc(1, sizeof(*j));
        j->d = d;
        j->names = names;
        api_reply_stream(r, 200, "application/x-tar", save_producer, j, save_free);
}

static void images_get_handler(struct api_req *r)
{
        save_reply(r, api_query_all(r, "names"));
}

static void images_get_one_handler(struct api_req *r)
{
        char **names = NULL;
        strv_push(&names, api_param(r, 0));
        save_reply(r, names);
}

static void images_load_handler(struct api_req *r)
{
        struct daemon *d = api_daemon(r);
        int fd = api_body_fd(r);
        _cleanup_error_ struct berth_error *e = NULL;
        _cleanup_strv_ char **loaded = NULL;
        if (fd < 0)
                return api_reply_errorf(r, 500, "load: no request body stream");
        if (berth_image_load(d->images, fd, NULL, NULL, &loaded, &e) < 0) {
                /* the handler must consume the whole body before it answers */
                char buf[65536];
                while (read(fd, buf, sizeof(buf)) > 0)
                        ;
                /* dockerd's status is 200 already: the error is a message of the stream (the
                 * python SDK raises ImageLoadError on it, the CLI prints it and exits 1) */
                _cleanup_json_ json_t *msg =
                    json_pack("{s:{s:s},s:s}", "errorDetail", "message", e->msg, "error", e->msg);
                _cleanup_free_ char *s = json_dumps(msg, JSON_COMPACT);
                _cleanup_free_ char *line = xasprintf("%s\r\n", s);
                return api_reply_chunked(r, 200, "application/json", line);
        }
        _cleanup_free_ char *out = xstrdup("");
        for (char **l = loaded; l && *l; l++) {
                _cleanup_json_ json_t *msg = json_pack("{s:s+}", "stream", *l, "\n");
                _cleanup_free_ char *s = json_dumps(msg, JSON_COMPACT);
                char *next = xasprintf("%s%s\r\n", out, s);
                free(out);
                out = next;
                const char *name = *l;
                if (!strncmp(name, "Loaded image: ", 14))
                        name += 14;
                else if (!strncmp(name, "Loaded image ID: ", 17))
                        name += 17;
                events_publish(d, "image", "load", name, json_pack("{s:s}", "name", name));
        }
        api_reply_chunked(r, 200, "application/json", out);
}

static void images_search_handler(struct api_req *r)
{
        api_reply_errorf(r, 501, "image search is not supported by berth");
}

const struct api_route api_routes_images[] = {
    {"GET", "/images/json", images_list_handler, false},
    {"POST", "/images/create", images_create_handler, true},
    {"POST", "/images/load", images_load_handler, true},
    {"POST", "/images/prune", images_prune_handler, false},
    {"GET", "/images/get", images_get_handler, false},
    {"GET", "/images/search", images_search_handler, false},
    {"GET", "/images/{*}/json", images_inspect_handler, false},
    {"GET", "/images/{*}/history", images_history_handler, false},
    {"GET", "/images/{*}/get", images_get_one_handler, false},
    {"POST", "/images/{*}/tag", images_tag_handler, false},
    {"POST", "/images/{*}/push", images_push_handler, false},
    {"DELETE", "/images/{*}", images_remove_handler, false},
    {"POST", "/commit", api_commit, false},
    {NULL, NULL, NULL, false},
};
