/* The /containers routes: create, list, inspect, start/stop/restart/kill/wait, pause, update,
 * rename, remove, prune, top, resize, attach, logs and stats (through logs.h / stats.h). Exec
 * routes are in api-exec.c, archive/export/changes in api-archive.c. */
#include "daemon/http/api.h"
#include "daemon/containers/containers.h"
#include "daemon/daemon.h"
#include "daemon/state/events.h"
#include "daemon/state/logs.h"
#include "daemon/network/network.h"
#include "daemon/state/stats.h"
#include "daemon/state/volumes.h"

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

static void handle_inspect(struct api_req *r)
{
        struct containers *cs = api_daemon(r)->containers;
        struct container *c = get_or_reply(r);

        if (!c)
                return;
        api_reply_json(r, 200, container_inspect(cs, c, api_query_bool(r, "size", false)));
        container_unref(cs, c);
}

static void handle_list(struct api_req *r)
{
        struct berth_error *err = NULL;
        _cleanup_json_ json_t *filters = NULL;
        json_t *out;
        long long limit;

        if (api_query_filters(r, &filters, &err) < 0 ||
            api_query_int(r, "limit", -1, &limit, &err) < 0 ||
            container_list(api_daemon(r)->containers, filters, api_query_bool(r, "all", false),
                           limit, api_query_bool(r, "size", false), &out, &err) < 0) {
                api_reply_error(r, err);
                return;
        }
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
        struct berth_error *err = NULL;
        _cleanup_json_ json_t *filters = NULL;

        if (api_query_filters(r, &filters, &err) < 0) {
                api_reply_error(r, err);
                return;
        }
        api_reply_json(r, 200, container_prune(api_daemon(r)->containers, filters));
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
        _cleanup_free_ char *cg = container_stats_cgroup(cs, c);
        stats_reply(r, c->id, c->name, cg);
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
