/* GET /containers/{id}/logs and /stats: the query read into the state layer's options and the
 * streamed replies, on a producer thread (logs through state/logs.c's logs_stream, stats through
 * state/stats.c's stats_frame). */
#include "daemon/http/api.h"
#include "daemon/daemon.h"
#include "daemon/state/events.h"
#include "daemon/state/logs.h"
#include "daemon/state/stats.h"

#include <poll.h>

/* ---------------------------------------------------------------- options */

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

int logs_opts_from_request(struct api_req *r, bool tty, struct logs_opts *ret,
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

/* ---------------------------------------------------------------- the API reply */

struct logs_job {
        char *path;
        int client_fd; /* a dup of the connection (follow), -1 */
        struct logs_opts o;
        logs_running_fn running;
        void *userdata;
        void (*free_userdata)(void *);
};

static void logs_job_free(void *p)
{
        struct logs_job *j = p;
        if (j->free_userdata)
                j->free_userdata(j->userdata);
        if (j->client_fd >= 0)
                close(j->client_fd);
        free(j->path);
        free(j);
}

static void logs_producer(int out_fd, void *userdata)
{
        struct logs_job *j = userdata;
        _cleanup_error_ struct berth_error *e = NULL;
        if (logs_stream(j->path, &j->o, out_fd, j->client_fd, j->running, j->userdata, &e) < 0)
                berth_warn("logs: %s", e->msg);
}

void logs_reply(struct api_req *r, const char *log_path, bool tty, logs_running_fn running,
                void *userdata, void (*free_userdata)(void *))
{
        _cleanup_error_ struct berth_error *e = NULL;
        struct logs_opts o;
        if (logs_opts_from_request(r, tty, &o, &e) < 0) {
                if (free_userdata)
                        free_userdata(userdata);
                return api_reply_error(r, TAKE_PTR(e));
        }
        struct logs_job *j = xcalloc(1, sizeof(*j));
        j->path = xstrdup(log_path);
        j->o = o;
        j->running = running;
        j->userdata = userdata;
        j->free_userdata = free_userdata;
        int cfd = o.follow ? api_client_fd(r) : -1;
        j->client_fd = cfd >= 0 ? fcntl(cfd, F_DUPFD_CLOEXEC, 3) : -1;
        const char *ct =
            tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream";
        api_reply_stream(r, 200, ct, logs_producer, j, logs_job_free);
}

/* ---------------------------------------------------------------- GET /containers/{}/stats */

struct stats_job {
        char *runtime_root;
        char *id;
        char *name;
        bool stream;
};

static void stats_job_free(void *p)
{
        struct stats_job *j = p;
        free(j->runtime_root);
        free(j->id);
        free(j->name);
        free(j);
}

static bool write_line(int fd, json_t *o)
{
        _cleanup_free_ char *s = json_dumps(o, JSON_COMPACT);
        _cleanup_free_ char *line = xasprintf("%s\n", s);
        size_t len = strlen(line);
        const char *p = line;
        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return false;
                p += n;
                len -= (size_t)n;
        }
        return true;
}

static void stats_producer(int out_fd, void *userdata)
{
        struct stats_job *j = userdata;
        struct stats_sample prev = {0};
        for (;;) {
                struct stats_sample cur;
                bool running;
                _cleanup_json_ json_t *o =
                    stats_frame(j->runtime_root, j->id, j->name, &prev, &cur, &running);
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

void stats_reply(struct api_req *r, const char *id, const char *name)
{
        struct daemon *d = api_daemon(r);
        struct stats_job *j = xcalloc(1, sizeof(*j));
        j->runtime_root = xstrdup(d->runtime_root);
        j->id = xstrdup(id);
        j->name = xstrdup(name ? name : "");
        j->stream = api_query_bool(r, "stream", true);
        if (j->stream)
                return api_reply_stream(r, 200, "application/json", stats_producer, j,
                                        stats_job_free);
        struct stats_sample prev = {0}, cur;
        bool running;
        json_t *o = stats_frame(j->runtime_root, j->id, j->name, &prev, &cur, &running);
        stats_sample_release(&prev);
        stats_sample_release(&cur);
        stats_job_free(j);
        api_reply_json(r, 200, o);
}
