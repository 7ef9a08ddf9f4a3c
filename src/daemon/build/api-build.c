/* POST /build (docker's classic builder protocol: the query options, a tar context as the body,
 * the JSON message stream back) and POST /build/prune. The context is unpacked by the image
 * store's safe extractor into a private directory; the steps run in build_run. */
#include "daemon/build/build.h"
#include "daemon/daemon.h"
#include "daemon/state/events.h"
#include "image/image.h"

#include <sys/stat.h>

/* ---------------------------------------------------------------- output */

/* writes msg (taken) to the build's own output */
static void out_emit(struct build_out *o, json_t *msg, bool direct)
{
        _cleanup_free_ char *text = json_dumps(msg, JSON_COMPACT);
        json_decref(msg);
        if (!text)
                return;
        _cleanup_free_ char *line = xasprintf("%s\r\n", text);
        size_t len = strlen(line);
        if (o->quiet && !direct) {
                o->qbuf = xrealloc(o->qbuf, o->qlen + len + 1);
                memcpy(o->qbuf + o->qlen, line, len + 1);
                o->qlen += len;
                return;
        }
        if (__atomic_load_n(&o->broken, __ATOMIC_RELAXED))
                return;
        if (berth_write_all(o->fd, line, len) < 0)
                __atomic_store_n(&o->broken, true, __ATOMIC_RELAXED);
}

/* [msg, direct] pairs of held, written to p and emptied (p's lock held) */
static void out_flush(struct build_out *p, json_t *held)
{
        size_t i;
        json_t *v;
        json_array_foreach(held, i, v)
        {
                out_emit(p, json_incref(json_array_get(v, 0)), json_is_true(json_array_get(v, 1)));
        }
        json_array_clear(held);
}

static void out_line(struct build_out *o, json_t *msg, bool direct)
{
        struct build_out *p = o->parent;
        if (!p)
                return out_emit(o, msg, direct);
        pthread_mutex_lock(&p->lock);
        if (!p->owner) {
                p->owner = o;
                out_flush(p, o->held);
        }
        if (p->owner == o)
                out_emit(p, msg, direct);
        else
                json_array_append_new(o->held, json_pack("[o,b]", msg, direct));
        pthread_mutex_unlock(&p->lock);
}

void build_out_share(struct build_out *parent)
{
        pthread_mutex_init(&parent->lock, NULL);
        parent->owner = NULL;
        parent->queue = json_array();
}

void build_out_unshare(struct build_out *parent)
{
        pthread_mutex_destroy(&parent->lock);
        json_decref(parent->queue);
        parent->queue = NULL;
}

void build_out_child_init(struct build_out *parent, struct build_out *child)
{
        *child = (struct build_out){.fd = -1, .client_fd = -1, .parent = parent};
        child->held = json_array();
}

void build_out_step_end(struct build_out *o)
{
        struct build_out *p = o->parent;
        if (!p)
                return;
        pthread_mutex_lock(&p->lock);
        if (p->owner == o) {
                p->owner = NULL;
                out_flush(p, p->queue);
        } else if (json_array_size(o->held)) {
                if (!p->owner)
                        out_flush(p, o->held);
                else
                        json_array_extend(p->queue, o->held);
        }
        json_array_clear(o->held);
        pthread_mutex_unlock(&p->lock);
}

void build_out_child_release(struct build_out *o)
{
        build_out_step_end(o);
        json_decref(o->held);
        o->held = NULL;
}

bool build_out_broken(struct build_out *o)
{
        struct build_out *p = o->parent ? o->parent : o;
        return __atomic_load_n(&p->broken, __ATOMIC_RELAXED);
}

void build_out_set_broken(struct build_out *o)
{
        struct build_out *p = o->parent ? o->parent : o;
        __atomic_store_n(&p->broken, true, __ATOMIC_RELAXED);
}

int build_out_client_fd(struct build_out *o)
{
        struct build_out *p = o->parent ? o->parent : o;
        return p->client_fd;
}

void build_out_stream(struct build_out *o, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        char *s = NULL;
        if (vasprintf(&s, fmt, ap) < 0)
                abort();
        va_end(ap);
        build_out_raw(o, s, strlen(s));
        free(s);
}

void build_out_raw(struct build_out *o, const char *data, size_t len)
{
        json_t *s = json_stringn(data, len);
        if (!s) {
                /* not UTF-8: bytes outside ASCII shown as '?' */
                _cleanup_free_ char *copy = xmalloc(len + 1);
                for (size_t i = 0; i < len; i++)
                        copy[i] = (unsigned char)data[i] < 0x80 ? data[i] : '?';
                s = json_stringn(copy, len);
        }
        out_line(o, json_pack("{s:o}", "stream", s), false);
}

void build_out_aux(struct build_out *o, const char *id)
{
        out_line(o, json_pack("{s:{s:s}}", "aux", "ID", id), true);
}

/* a copy of s fit for a JSON string: bytes that are not UTF-8 become '?' */
static json_t *json_text(const char *s)
{
        json_t *j = json_string(s);
        if (j)
                return j;
        _cleanup_free_ char *copy = xstrdup(s);
        for (char *p = copy; *p; p++)
                if ((unsigned char)*p >= 0x80)
                        *p = '?';
        return json_string(copy);
}

void build_out_error(struct build_out *o, const char *msg, int code)
{
        if (o->quiet && o->qlen && !o->broken) {
                /* -q: the step output is shown when the build fails */
                if (berth_write_all(o->fd, o->qbuf, o->qlen) < 0)
                        o->broken = true;
        }
        json_t *detail = json_pack("{s:o}", "message", json_text(msg));
        if (code)
                json_object_set_new(detail, "code", json_integer(code));
        out_line(o, json_pack("{s:o,s:o}", "errorDetail", detail, "error", json_text(msg)), true);
}

/* ---------------------------------------------------------------- the route */

struct build_job {
        struct daemon *d;
        struct build_context cx;
        char **tags;
        char **cachefrom;
        char *dockerfile, *target, *networkmode, *auth;
        json_t *buildargs, *labels, *hostconfig;
        bool nocache, pull, quiet, rm, forcerm;
        int client_fd;
};

static void job_free(void *p)
{
        struct build_job *j = p;
        build_context_release(&j->cx);
        strv_free(j->tags);
        strv_free(j->cachefrom);
        free(j->dockerfile);
        free(j->target);
        free(j->networkmode);
        free(j->auth);
        json_decref(j->buildargs);
        json_decref(j->labels);
        json_decref(j->hostconfig);
        if (j->client_fd >= 0)
                close(j->client_fd);
        free(j);
}

static void build_producer(int out_fd, void *userdata)
{
        struct build_job *j = userdata;
        struct build_out out = {.fd = out_fd, .client_fd = j->client_fd, .quiet = j->quiet};
        struct build_opts o = {
            .tags = j->tags,
            .dockerfile = j->dockerfile,
            .buildargs = j->buildargs,
            .labels = j->labels,
            .nocache = j->nocache,
            .pull = j->pull,
            .quiet = j->quiet,
            .rm = j->rm,
            .forcerm = j->forcerm,
            .target = j->target,
            .cachefrom = j->cachefrom,
            .networkmode = j->networkmode,
            .hostconfig = j->hostconfig,
            .auth = j->auth,
        };
        _cleanup_error_ struct berth_error *e = NULL;
        _cleanup_free_ char *id = NULL;
        int code = 0;
        if (build_run(j->d, &j->cx, &o, &out, &id, &code, &e) < 0) {
                berth_debug("build failed: %s", e ? e->msg : "?");
                build_out_error(&out, e ? e->msg : "build failed", code);
                free(out.qbuf);
                return;
        }
        build_out_stream(&out, "Successfully built %.12s\n", id + 7);
        for (size_t i = 0; j->tags && j->tags[i]; i++) {
                if (berth_image_tag(j->d->images, id, j->tags[i], &e) < 0) {
                        build_out_error(&out, e->msg, 0);
                        free(out.qbuf);
                        return;
                }
                events_publish(j->d, "image", "tag", id, json_pack("{s:s}", "name", j->tags[i]));
                build_out_stream(&out, "Successfully tagged %s\n", j->tags[i]);
        }
        if (j->quiet) {
                out.quiet = false;
                build_out_stream(&out, "%s\n", id);
        }
        free(out.qbuf);
}

static void drain(int fd)
{
        char buf[65536];
        while (fd >= 0 && read(fd, buf, sizeof(buf)) > 0)
                ;
}

/* a JSON object query value of string (or null) values; {} when absent */
static int query_object(struct api_req *r, const char *key, bool nulls, json_t **ret,
                        struct berth_error **err)
{
        const char *s = api_query(r, key);
        if (!s || !*s || !strcmp(s, "null")) {
                *ret = json_object();
                return 0;
        }
        json_error_t je;
        json_t *j = json_loads(s, 0, &je);
        if (!json_is_object(j)) {
                json_decref(j);
                return berth_error_setx(err, EINVAL, "invalid %s: a JSON object is required", key);
        }
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) if (!json_is_string(v) && !(nulls && json_is_null(v)))
        {
                json_decref(j);
                return berth_error_setx(err, EINVAL, "invalid %s: `%s` is not a string", key, k);
        }
        *ret = j;
        return 0;
}

/* docker's resource options of the RUN containers: HostConfig fields */
static int query_hostconfig(struct api_req *r, json_t *hc, struct berth_error **err)
{
        static const char *const ints[][2] = {
            {"memory", "Memory"},     {"memswap", "MemorySwap"},  {"cpushares", "CpuShares"},
            {"cpuquota", "CpuQuota"}, {"cpuperiod", "CpuPeriod"}, {"shmsize", "ShmSize"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(ints); i++) {
                long long v;
                if (api_query_int(r, ints[i][0], 0, &v, err) < 0)
                        return -EINVAL;
                if (v)
                        json_object_set_new(hc, ints[i][1], json_integer(v));
        }
        static const char *const strs[][2] = {
            {"cpusetcpus", "CpusetCpus"},
            {"cpusetmems", "CpusetMems"},
            {"cgroupparent", "CgroupParent"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(strs); i++) {
                const char *v = api_query(r, strs[i][0]);
                if (v && *v)
                        json_object_set_new(hc, strs[i][1], json_string(v));
        }
        const char *ul = api_query(r, "ulimits");
        if (ul && *ul && strcmp(ul, "null") && strcmp(ul, "[]")) {
                json_t *j = json_loads(ul, 0, NULL);
                if (!json_is_array(j)) {
                        json_decref(j);
                        return berth_error_setx(err, EINVAL, "invalid ulimits");
                }
                json_object_set_new(hc, "Ulimits", j);
        }
        _cleanup_strv_ char **hosts = api_query_all(r, "extrahosts");
        if (hosts && hosts[0] && *hosts[0]) {
                json_t *a = json_array();
                for (size_t i = 0; hosts[i]; i++)
                        json_array_append_new(a, json_string(hosts[i]));
                json_object_set_new(hc, "ExtraHosts", a);
        }
        return 0;
}

/* options berth's builder does not have: refused when they ask for something */
static int query_refused(struct api_req *r, struct berth_error **err)
{
        const char *v;
        if (api_query_bool(r, "squash", false))
                return berth_error_setx(err, ENOTSUP, "squash is not supported by berth's builder");
        if ((v = api_query(r, "remote")) && *v)
                return berth_error_setx(err, ENOTSUP,
                                        "remote build contexts (%s) are not supported by berth: "
                                        "send the context as the request body",
                                        v);
        if ((v = api_query(r, "version")) && *v && strcmp(v, "1"))
                return berth_error_setx(err, ENOTSUP,
                                        "builder version %s (BuildKit) is not supported by berth: "
                                        "use the classic builder (version=1, "
                                        "DOCKER_BUILDKIT=0)",
                                        v);
        if ((v = api_query(r, "outputs")) && *v && strcmp(v, "null") && strcmp(v, "[]"))
                return berth_error_setx(err, ENOTSUP, "build outputs are not supported by berth");
        if ((v = api_query(r, "isolation")) && *v && strcmp(v, "default"))
                return berth_error_setx(err, ENOTSUP, "isolation `%s` is not supported on linux",
                                        v);
        if ((v = api_query(r, "platform")) && *v) {
                const char *host = NULL;
#if defined(__x86_64__)
                host = "linux/amd64";
#elif defined(__aarch64__)
                host = "linux/arm64";
#endif
                if (!host || (strcasecmp(v, host) && strcasecmp(v, "linux")))
                        return berth_error_setx(err, ENOTSUP,
                                                "platform `%s`: berth builds for this machine's "
                                                "platform only",
                                                v);
        }
        if ((v = api_query(r, "networkmode")) && *v && strcmp(v, "default") &&
            strcmp(v, "bridge") && strcmp(v, "none") && strcmp(v, "host"))
                return berth_error_setx(err, ENOTSUP,
                                        "network mode `%s` is not supported for builds (default, "
                                        "bridge, none, host)",
                                        v);
        return 0;
}

/* a fresh data_root/build/tmp/ctx-<random> name (its directory made) */
static char *mktemp_name(struct daemon *d, struct berth_error **err)
{
        char hex[17];
        berth_random_hex(hex, 8);
        _cleanup_free_ char *tmp = xasprintf("%s/build/tmp", d->data_root);
        if (berth_mkdir_p(tmp, 0700, err) < 0)
                return NULL;
        return xasprintf("%s/ctx-%s", tmp, hex);
}

static void handle_build(struct api_req *r)
{
        struct daemon *d = api_daemon(r);
        int body = api_body_fd(r);
        _cleanup_error_ struct berth_error *e = NULL;
        struct build_job *j = xcalloc(1, sizeof(*j));
        j->d = d;
        j->cx.root = -1;
        pthread_mutex_init(&j->cx.lock, NULL);
        j->client_fd = -1;
        _cleanup_strv_ char **tags = api_query_all(r, "t");
        int rc = query_refused(r, &e);
        for (size_t i = 0; rc == 0 && tags && tags[i]; i++) {
                struct berth_ref ref = {0};
                if (berth_ref_parse(tags[i], &ref, &e) < 0) {
                        berth_error_free(TAKE_PTR(e));
                        rc = berth_error_setx(&e, EINVAL, "invalid reference format: %s", tags[i]);
                        break;
                }
                if (ref.digest) {
                        berth_ref_release(&ref);
                        rc = berth_error_setx(&e, EINVAL,
                                              "invalid reference format: %s is a digest", tags[i]);
                        break;
                }
                _cleanup_free_ char *familiar = berth_ref_familiar(&ref);
                strv_push(&j->tags, familiar ? familiar : tags[i]);
                berth_ref_release(&ref);
        }
        if (rc == 0)
                rc = query_object(r, "buildargs", true, &j->buildargs, &e);
        if (rc == 0)
                rc = query_object(r, "labels", false, &j->labels, &e);
        const char *cf = api_query(r, "cachefrom");
        if (rc == 0 && cf && *cf && strcmp(cf, "null")) {
                /* a JSON array of local image names */
                _cleanup_json_ json_t *a = json_loads(cf, 0, NULL);
                size_t i;
                json_t *v;
                if (!json_is_array(a))
                        rc = berth_error_setx(&e, EINVAL,
                                              "invalid cachefrom: a JSON array is "
                                              "required");
                json_array_foreach(a, i, v) if (rc == 0)
                {
                        if (json_is_string(v))
                                strv_push(&j->cachefrom, json_string_value(v));
                        else
                                rc = berth_error_setx(&e, EINVAL, "invalid cachefrom");
                }
        }
        j->hostconfig = json_object();
        if (rc == 0)
                rc = query_hostconfig(r, j->hostconfig, &e);
        if (rc < 0) {
                drain(body);
                job_free(j);
                return api_reply_error(r, TAKE_PTR(e));
        }
        const char *df = api_query(r, "dockerfile");
        j->dockerfile = xstrdup(df && *df ? df : "Dockerfile");
        const char *t = api_query(r, "target");
        j->target = t && *t ? xstrdup(t) : NULL;
        const char *nm = api_query(r, "networkmode");
        j->networkmode = xstrdup(nm && *nm && strcmp(nm, "default") ? nm : "default");
        j->nocache = api_query_bool(r, "nocache", false);
        j->pull = api_query_bool(r, "pull", false);
        j->quiet = api_query_bool(r, "q", false);
        j->rm = api_query_bool(r, "rm", true);
        j->forcerm = api_query_bool(r, "forcerm", false);
        const char *rc_hdr = api_header(r, "X-Registry-Config");
        j->auth = rc_hdr && *rc_hdr ? xstrdup(rc_hdr) : NULL;
        /* the context */
        if (body < 0) {
                job_free(j);
                return api_reply_errorf(r, 500, "build: no request body stream");
        }
        /* the tar is kept as it came and indexed; unpacked only if a step copies from it */
        j->cx.dir = mktemp_name(d, &e);
        if (!j->cx.dir) {
                drain(body);
                job_free(j);
                return api_reply_error(r, TAKE_PTR(e));
        }
        j->cx.tar_path = xasprintf("%s.tar", j->cx.dir);
        {
                _cleanup_close_ int fd =
                    open(j->cx.tar_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                char buf[65536];
                ssize_t n;
                if (fd < 0)
                        rc = berth_error_set(&e, errno, "create `%s`", j->cx.tar_path);
                while (rc == 0 && (n = read(body, buf, sizeof(buf))) != 0) {
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0)
                                rc = berth_error_set(&e, errno, "read the build context");
                        else if (berth_write_all(fd, buf, (size_t)n) < 0)
                                rc = berth_error_set(&e, errno, "write `%s`", j->cx.tar_path);
                }
        }
        drain(body);
        if (rc == 0)
                rc = build_context_index(&j->cx, j->dockerfile, &e);
        if (rc < 0) {
                job_free(j);
                berth_error_wrap(&e, "build context");
                e->code = EINVAL;
                return api_reply_error(r, TAKE_PTR(e));
        }
        int cfd = api_client_fd(r);
        if (cfd >= 0)
                j->client_fd = fcntl(cfd, F_DUPFD_CLOEXEC, 3);
        api_reply_stream(r, 200, "application/json", build_producer, j, job_free);
}

static void handle_build_prune(struct api_req *r)
{
        _cleanup_error_ struct berth_error *e = NULL;
        _cleanup_json_ json_t *filters = NULL;
        json_t *ids = NULL;
        if (api_query_filters(r, &filters, &e) < 0)
                return api_reply_error(r, TAKE_PTR(e));
        if (json_object_size(filters))
                return api_reply_errorf(r, 501,
                                        "builder prune: filters are not supported by berth: the "
                                        "whole cache is pruned");
        if (build_cache_prune(api_daemon(r), &ids, &e) < 0)
                return api_reply_error(r, TAKE_PTR(e));
        /* the images of the steps stay (untagged): `image prune` frees their space */
        api_reply_json(
            r, 200, json_pack("{s:o,s:I}", "CachesDeleted", ids, "SpaceReclaimed", (json_int_t)0));
}

static void handle_build_cancel(struct api_req *r)
{
        api_reply_errorf(r, 501, "build cancel is not supported: close the build connection");
}

const struct api_route api_routes_build[] = {
    {"POST", "/build", handle_build, true},
    {"POST", "/build/prune", handle_build_prune, false},
    {"POST", "/build/cancel", handle_build_cancel, false},
    {NULL, NULL, NULL, false},
};
