/* GET /containers/{id}/logs and /stats: the query read into the log options, and the streamed
 * replies, on a producer thread, from the container layer's container_logs and
 * container_stats_frame. */
#include "daemon/http/api.h"
#include "daemon/containers/containers.h"
#include "daemon/daemon.h"
#include "daemon/state/events.h"
#include "daemon/state/logs.h"
#include "daemon/state/stats.h"

#include <poll.h>

/* ---------------------------------------------------------------- options */

/* The query of GET /containers/{id}/logs (stdout, stderr, follow, timestamps, since, until,
 * tail) into *ret; tty comes from the container. EINVAL (docker's messages) on bad values or
 * when neither stream is asked for. */
static int parse_time_opt(struct api_req *r, const char *key, int64_t *ret,
                          struct berth_error **err)
{
        const char *v = api_query(r, key);
        *ret = 0;
        if (!v || !*v || !strcmp(v, "0"))
                return 0;
        if (events_parse_time(v, ret, err) < 0)
                return berth_error_wrap(err, "invalid value for \"%s\"", key);
        return 0;
}

static int logs_opts_from_request(struct api_req *r, bool tty, struct logs_opts *ret,
                                  struct berth_error **err)
{
        struct logs_opts o = {
            .out = api_query_bool(r, "stdout", false),
            .err = api_query_bool(r, "stderr", false),
            .follow = api_query_bool(r, "follow", false),
            .timestamps = api_query_bool(r, "timestamps", false),
            .tty = tty,
            .tail = -1,
        };
        if (!o.out && !o.err)
                return berth_error_setx(err, EINVAL,
                                        "Bad parameters: you must choose at least one stream");
        if (parse_time_opt(r, "since", &o.since_ns, err) < 0 ||
            parse_time_opt(r, "until", &o.until_ns, err) < 0)
                return -EINVAL;
        const char *tail = api_query(r, "tail");
        if (tail && *tail && strcmp(tail, "all")) {
                uint64_t n;
                /* docker treats a negative or unparsable tail as "all" */
                if (berth_parse_u64(tail, &n) == 0 && n <= INT32_MAX)
                        o.tail = (long long)n;
        }
        *ret = o;
        return 0;
}

/* ---------------------------------------------------------------- GET /containers/{}/logs */

/* The container named by the route's first parameter, or a 404 reply. */
static struct container *get_or_reply(struct api_req *r)
{
        struct berth_error *err = NULL;
        struct container *c;

        if (container_get(api_daemon(r)->containers, api_param(r, 0), &c, &err) < 0) {
                api_reply_error(r, err);
                return NULL;
        }
        return c;
}

/* A streamed reply's job: the container (a reference) and what was asked. */
struct logs_job {
        struct containers *cs;
        struct container *c;
        int client_fd; /* a dup of the connection (follow), -1 */
        struct logs_opts o;
};

static void logs_job_free(void *p)
{
        struct logs_job *j = p;

        container_unref(j->cs, j->c);
        if (j->client_fd >= 0)
                close(j->client_fd);
        free(j);
}

static void logs_producer(int out_fd, void *userdata)
{
        struct logs_job *j = userdata;
        _cleanup_error_ struct berth_error *e = NULL;

        if (container_logs(j->cs, j->c, &j->o, out_fd, j->client_fd, &e) < 0)
                berth_warn("logs: %s", e->msg);
}

void api_container_logs(struct api_req *r)
{
        struct containers *cs = api_daemon(r)->containers;
        struct berth_error *e = NULL;
        struct container *c = get_or_reply(r);
        struct logs_opts o;

        if (!c)
                return;
        bool tty = json_is_true(container_cfg(c, "Tty"));
        if (container_logs_readable(c, &e) < 0 || logs_opts_from_request(r, tty, &o, &e) < 0) {
                container_unref(cs, c);
                return api_reply_error(r, e);
        }
        struct logs_job *j = xcalloc(1, sizeof(*j));
        j->cs = cs;
        j->c = c;
        j->o = o;
        int cfd = o.follow ? api_client_fd(r) : -1;
        j->client_fd = cfd >= 0 ? fcntl(cfd, F_DUPFD_CLOEXEC, 3) : -1;
        const char *ct =
            tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream";
        api_reply_stream(r, 200, ct, logs_producer, j, logs_job_free);
}

/* ---------------------------------------------------------------- GET /containers/{}/stats */

struct stats_job {
        struct containers *cs;
        struct container *c;
};

static void stats_job_free(void *p)
{
        struct stats_job *j = p;

        container_unref(j->cs, j->c);
        free(j);
}

static bool write_line(int fd, json_t *o)
{
        _cleanup_free_ char *s = json_dumps(o, JSON_COMPACT);
        _cleanup_free_ char *line = xasprintf("%s\n", s);

        return berth_write_all(fd, line, strlen(line)) == 0;
}

static void stats_producer(int out_fd, void *userdata)
{
        struct stats_job *j = userdata;
        struct stats_sample prev = {0};

        for (;;) {
                struct stats_sample cur;
                bool running;
                _cleanup_json_ json_t *o =
                    container_stats_frame(j->cs, j->c, &prev, &cur, &running);
                bool ok = write_line(out_fd, o);
                stats_sample_release(&prev);
                prev = cur;
                if (!ok || !running)
                        break;
                struct pollfd p = {.fd = out_fd, .events = 0};
                if (poll(&p, 1, STATS_INTERVAL_MS) > 0)
                        break;
        }
        stats_sample_release(&prev);
}

/* stream (default true): one object per second until the container stops or the client goes
 * away; stream=false: one object at once, from a fresh sample and the last kept one. */
void api_container_stats(struct api_req *r)
{
        struct containers *cs = api_daemon(r)->containers;
        struct container *c = get_or_reply(r);

        if (!c)
                return;
        if (api_query_bool(r, "stream", true)) {
                struct stats_job *j = xcalloc(1, sizeof(*j));
                j->cs = cs;
                j->c = c;
                return api_reply_stream(r, 200, "application/json", stats_producer, j,
                                        stats_job_free);
        }
        struct stats_sample prev = {0}, cur;
        bool running;
        json_t *o = container_stats_frame(cs, c, &prev, &cur, &running);
        stats_sample_release(&prev);
        stats_sample_release(&cur);
        container_unref(cs, c);
        api_reply_json(r, 200, o);
}
