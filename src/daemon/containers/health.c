/* Healthchecks: Config.Healthcheck (over the image's) of every running container, probed by one
 * scheduler thread; each probe runs as a `berth-shim exec` in a short worker thread with its
 * output captured (docker's first 4096 bytes), and State.Health keeps the last 5 results. */
#include "daemon/containers/containers.h"
#include "daemon/daemon.h"
#include "daemon/containers/lifecycle.h"
#include "daemon/spec/spec.h"
#include "shim/shim.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define HEALTH_DEFAULT_NS (30LL * 1000000000LL)
/* moby's defaultStartInterval: the probe period during the start period */
#define HEALTH_START_INTERVAL_NS (5LL * 1000000000LL)
#define HEALTH_MAX_OUTPUT        4096
#define HEALTH_MAX_LOG           5
/* keys of State.Health and of the start it belongs to in the persisted state */
#define HEALTH_KEY       "Health"
#define HEALTH_START_KEY "HealthStartedAt"

#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif

#ifndef MAX
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif

/* signalled under the table lock when a container starts or a probe finishes */
static pthread_cond_t health_cond = PTHREAD_COND_INITIALIZER;

struct health_cfg {
        json_t *test; /* ["CMD", …], ["CMD-SHELL", "…"]; borrowed */
        int64_t interval, timeout, start_period, start_interval;
        int retries;
};

/* docker's merge: the container's Test wins when set, each duration/Retries when non-zero */
static bool health_cfg_of(struct container *c, struct health_cfg *ret)
{
        json_t *mine = container_cfg(c, "Healthcheck");
        json_t *img = json_object_get(json_object_get(c->config, "image_config"), "Healthcheck");
        json_t *test = json_object_get(mine, "Test");
        const char *kind;
        struct health_cfg h = {0};

        if (json_array_size(test) == 0)
                test = json_object_get(img, "Test");
        kind = json_string_value(json_array_get(test, 0));
        if (!kind || strcmp(kind, "NONE") == 0 ||
            (strcmp(kind, "CMD") != 0 && strcmp(kind, "CMD-SHELL") != 0) ||
            json_array_size(test) < 2)
                return false;
        h.test = test;
#define PICK(field, key)                                                                           \
        do {                                                                                       \
                json_int_t v = json_integer_value(json_object_get(mine, key));                     \
                if (v <= 0)                                                                        \
                        v = json_integer_value(json_object_get(img, key));                         \
                field = v;                                                                         \
        } while (0)
        PICK(h.interval, "Interval");
        PICK(h.timeout, "Timeout");
        PICK(h.start_period, "StartPeriod");
        PICK(h.start_interval, "StartInterval");
        PICK(h.retries, "Retries");
#undef PICK
        if (h.interval <= 0)
                h.interval = HEALTH_DEFAULT_NS;
        if (h.timeout <= 0)
                h.timeout = HEALTH_DEFAULT_NS;
        if (h.retries <= 0)
                h.retries = 3;
        if (h.start_interval <= 0)
                h.start_interval = HEALTH_START_INTERVAL_NS;
        *ret = h;
        return true;
}

static int64_t ts_ns(struct timespec ts);

/* moby's monitor getInterval(): StartInterval between the probes of a container still
 * "starting" within its start period, Interval otherwise */
static int64_t health_interval_locked(const struct container *c, const struct health_cfg *h,
                                      int64_t now)
{
        const char *st = json_string_value(json_object_get(c->health, "Status"));

        if (h->start_period > 0 && now < ts_ns(c->health_since) + h->start_period && st &&
            strcmp(st, "starting") == 0)
                return h->start_interval;
        return h->interval;
}

static int64_t mono_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct timespec ns_ts(int64_t ns)
{
        return (struct timespec){.tv_sec = ns / 1000000000LL, .tv_nsec = ns % 1000000000LL};
}

static int64_t ts_ns(struct timespec ts)
{
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Go's time.RFC3339Nano, as docker marshals a probe's Start and End: trailing zeros of the
 * fraction dropped (and the dot with them) */
static char *now_rfc3339(void)
{
        struct timespec ts;
        struct tm tm;
        char buf[40], frac[16] = "";

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
        if (ts.tv_nsec > 0) {
                size_t l = (size_t)snprintf(frac, sizeof(frac), ".%09ld", ts.tv_nsec);
                while (frac[l - 1] == '0')
                        frac[--l] = '\0';
        }
        return xasprintf("%s%sZ", buf, frac);
}

static void format_duration(int64_t ns, char *buf, size_t len)
{
        if (ns % 1000000000LL == 0)
                snprintf(buf, len, "%llds", (long long)(ns / 1000000000LL));
        else
                snprintf(buf, len, "%gs", (double)ns / 1e9);
}

/* The multiplexed stream (8-byte headers) of the probe's stdout and stderr, up to the cap. */
static void demux_append(char *out, size_t *len, const char *data, size_t n, size_t *frame_left,
                         unsigned char *hdr, size_t *hdr_len)
{
        while (n > 0) {
                if (*frame_left == 0) {
                        size_t take = MIN(n, 8 - *hdr_len);
                        memcpy(hdr + *hdr_len, data, take);
                        *hdr_len += take;
                        data += take;
                        n -= take;
                        if (*hdr_len == 8) {
                                *frame_left = (size_t)hdr[4] << 24 | (size_t)hdr[5] << 16 |
                                              (size_t)hdr[6] << 8 | hdr[7];
                                *hdr_len = 0;
                        }
                        continue;
                }
                size_t take = MIN(n, *frame_left);
                size_t room = HEALTH_MAX_OUTPUT - *len;
                memcpy(out + *len, data, MIN(take, room));
                *len += MIN(take, room);
                *frame_left -= take;
                data += take;
                n -= take;
        }
}

/* Run argv in c through `berth-shim exec`; *ret_code -1 on timeout (the process is killed). */
static int probe_run(struct containers *cs, struct container *c, json_t *argv, int64_t timeout,
                     int *ret_code, char **ret_output, struct berth_error **err)
{
        _cleanup_json_ json_t *cfg = NULL, *msg = NULL, *ex = NULL;
        _cleanup_free_ char *dir = xasprintf("%s/health", c->dir);
        _cleanup_free_ char *exit_path = xasprintf("%s/%s", dir, BERTH_SHIM_EXIT_FILE);
        _cleanup_free_ char *out = xmalloc(HEALTH_MAX_OUTPUT + 1);
        _cleanup_close_ int ctl = -1, io = -1, io_child = -1;
        _cleanup_close_ int pidfd = -1;
        int64_t deadline = mono_ns() + timeout;
        size_t len = 0, frame_left = 0, hdr_len = 0;
        unsigned char hdr[8];
        bool timed_out = false, eof = false;
        pid_t pid, shim_pid;
        int sp[2], r;

        cfg = json_pack("{s:O,s:b}", "Cmd", argv, "Tty", false);
        r = container_exec_shim_create(cs, c, cfg, dir, false, false, 30000, &ctl, &shim_pid, err);
        if (r < 0)
                return r;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
                return berth_error_set(err, errno, "socketpair");
        io = sp[0];
        io_child = sp[1];
        msg = json_pack("{s:{s:b,s:b,s:b,s:b}}", "attach", "stdin", false, "stdout", true, "stderr",
                        true, "raw", false);
        r = container_shim_send(ctl, msg, io_child, err);
        json_decref(TAKE_PTR(msg));
        close(TAKE_FD(io_child));
        if (r < 0)
                return r;
        pidfd = shim_pid > 0 ? (int)syscall(SYS_pidfd_open, shim_pid, 0) : -1;
        msg = json_pack("{s:b}", "start", true);
        r = container_shim_send(ctl, msg, -1, err);
        json_decref(TAKE_PTR(msg));
        if (r >= 0)
                r = container_shim_recv(ctl, 30000, &msg, err);
        if (r < 0)
                return r;
        if (json_object_get(msg, "error")) {
                /* like docker: the probe could not run (a missing command): exit 126 */
                *ret_code = 126;
                *ret_output = xstrdup(json_string_value(json_object_get(msg, "error")) ?: "");
                return 0;
        }
        pid = (pid_t)json_integer_value(json_object_get(json_object_get(msg, "started"), "pid"));

        /* output until EOF (the shim closes the stream when the process exited), then its exit */
        while (!eof || pidfd >= 0) {
                struct pollfd p = {.fd = eof ? pidfd : io, .events = POLLIN};
                int64_t left = deadline - mono_ns();
                int n;
                if (left <= 0) {
                        timed_out = true;
                        break;
                }
                n = poll(&p, 1, (int)MIN(left / 1000000 + 1, 60000));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        continue;
                if (eof)
                        break;
                char buf[4096];
                ssize_t got = read(io, buf, sizeof(buf));
                if (got < 0 && errno == EINTR)
                        continue;
                if (got <= 0) {
                        eof = true;
                        continue;
                }
                demux_append(out, &len, buf, (size_t)got, &frame_left, hdr, &hdr_len);
        }
        if (timed_out) {
                char dur[32];
                if (pid > 0)
                        kill(pid, SIGKILL);
                format_duration(timeout, dur, sizeof(dur));
                *ret_code = -1;
                *ret_output = xasprintf("Health check exceeded timeout (%s)", dur);
                return 0;
        }
        out[len] = '\0';
        ex = berth_json_load_at(AT_FDCWD, exit_path, 0, NULL);
        *ret_code = ex ? (int)json_integer_value(json_object_get(ex, "exit_code")) : 126;
        *ret_output = TAKE_PTR(out);
        return 0;
}

struct probe_job {
        struct containers *cs;
        struct container *c;
        struct health_cfg h;
        json_t *argv;
        char *started_at;
};

static void *probe_thread(void *p)
{
        struct probe_job *job = p;
        struct containers *cs = job->cs;
        struct container *c = job->c;
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_free_ char *start = now_rfc3339(), *end = NULL, *output = NULL;
        const char *old, *now_status = NULL;
        int code = 0;
        bool changed = false;

        if (probe_run(cs, c, job->argv, job->h.timeout, &code, &output, &err) < 0) {
                code = -1;
                output = xstrdup(err->msg);
        }
        end = now_rfc3339();

        pthread_mutex_lock(&cs->lock);
        if (c->health && c->status == CONTAINER_RUNNING && c->health_started_at &&
            strcmp(c->health_started_at, job->started_at) == 0) {
                json_t *log = json_object_get(c->health, "Log");
                json_int_t streak = json_integer_value(json_object_get(c->health, "FailingStreak"));
                const char *status;

                old = json_string_value(json_object_get(c->health, "Status"));
                json_array_append_new(log, json_pack("{s:s,s:s,s:i,s:s}", "Start", start, "End",
                                                     end, "ExitCode", code, "Output", output));
                while (json_array_size(log) > HEALTH_MAX_LOG)
                        json_array_remove(log, 0);
                if (code == 0) {
                        streak = 0;
                        status = "healthy";
                } else if (strcmp(old, "starting") == 0 &&
                           mono_ns() < ts_ns(c->health_since) + job->h.start_period) {
                        status = old; /* a failure in the start period does not count */
                } else {
                        streak++;
                        status = streak >= job->h.retries ? "unhealthy" : old;
                }
                json_object_set_new(c->health, "FailingStreak", json_integer(streak));
                if (strcmp(status, old) != 0) {
                        json_object_set_new(c->health, "Status", json_string(status));
                        changed = true;
                        now_status = status;
                }
                c->health_next = ns_ts(mono_ns() + health_interval_locked(c, &job->h, mono_ns()));
                /* one small row update per probe, so a restarted daemon has the same log */
                container_persist_locked(cs, c);
        }
        c->health_busy = false;
        pthread_cond_signal(&health_cond);
        pthread_mutex_unlock(&cs->lock);
        if (changed) {
                _cleanup_free_ char *action = xasprintf("health_status: %s", now_status);
                container_publish(cs, c, action, NULL);
        }
        container_unref(cs, c);
        json_decref(job->argv);
        free(job->started_at);
        free(job);
        return NULL;
}

static json_t *probe_argv(json_t *test)
{
        const char *kind = json_string_value(json_array_get(test, 0));
        json_t *argv = json_array();

        if (strcmp(kind, "CMD-SHELL") == 0) {
                json_array_append_new(argv, json_string("/bin/sh"));
                json_array_append_new(argv, json_string("-c"));
                json_array_append(argv, json_array_get(test, 1));
        } else {
                for (size_t i = 1; i < json_array_size(test); i++)
                        json_array_append(argv, json_array_get(test, i));
        }
        return argv;
}

void health_reset_locked(struct container *c)
{
        struct health_cfg h;
        int64_t now = mono_ns();

        json_decref(TAKE_PTR(c->health));
        free(TAKE_PTR(c->health_started_at));
        if (!health_cfg_of(c, &h))
                return;
        /* a new start: docker's state starts over */
        c->health = json_pack("{s:s,s:i,s:[]}", "Status", "starting", "FailingStreak", 0, "Log");
        c->health_started_at = xstrdup(c->started_at ?: "");
        c->health_since = ns_ts(now);
        c->health_next = ns_ts(now + health_interval_locked(c, &h, now));
        /* health_busy stays: a probe of the previous start finishes first (its result is
         * dropped) */
        pthread_cond_signal(&health_cond);
}

/* Under the table lock: start the probes that are due; returns the next due time (ns). */
static int64_t schedule_locked(struct containers *cs)
{
        int64_t now = mono_ns(), next = INT64_MAX;

        for (size_t i = 0; i < cs->n; i++) {
                struct container *c = cs->v[i];
                struct health_cfg h;
                if (c->status != CONTAINER_RUNNING || c->removed || !health_cfg_of(c, &h))
                        continue;
                if (!c->health || !c->health_started_at ||
                    strcmp(c->health_started_at, c->started_at ?: "") != 0)
                        health_reset_locked(c);
                if (c->health_busy)
                        continue;
                if (ts_ns(c->health_next) <= now) {
                        struct probe_job *job = xmalloc(sizeof(*job));
                        *job = (struct probe_job){cs, c, h, probe_argv(h.test),
                                                  xstrdup(c->health_started_at)};
                        c->refs++;
                        c->health_busy = true;
                        if (berth_thread_spawn_detached(probe_thread, job) == 0)
                                continue;
                        /* out of threads: this probe is skipped, the next is due an interval
                         * later (the reference taken is dropped under the lock we hold) */
                        berth_warn("container `%s`: health check: cannot start a thread", c->id);
                        c->refs--;
                        c->health_busy = false;
                        json_decref(job->argv);
                        free(job->started_at);
                        free(job);
                        c->health_next = ns_ts(now + health_interval_locked(c, &h, now));
                }
                next = MIN(next, ts_ns(c->health_next));
        }
        return next;
}

static void *scheduler_main(void *p)
{
        struct containers *cs = p;
        sigset_t all;

        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, NULL);
        /* asleep until the next probe is due, or a start or a finished probe signals */
        pthread_mutex_lock(&cs->lock);
        for (;;) {
                int64_t next = schedule_locked(cs);
                if (next == INT64_MAX) {
                        pthread_cond_wait(&health_cond, &cs->lock);
                } else {
                        struct timespec ts;
                        clock_gettime(CLOCK_REALTIME, &ts);
                        ts = ns_ts(ts_ns(ts) + MAX(next - mono_ns(), 0));
                        pthread_cond_timedwait(&health_cond, &cs->lock, &ts);
                }
        }
        return NULL;
}

int health_start_scheduler(struct containers *cs, struct berth_error **err)
{
        int r = berth_thread_spawn_detached(scheduler_main, cs);

        if (r < 0)
                return berth_error_setx(err, -r, "health checks: cannot start a thread: %s",
                                        strerror(-r));
        return 0;
}

bool container_health_is(struct containers *cs, struct container *c, const char *want)
{
        const char *s;
        bool match;

        pthread_mutex_lock(&cs->lock);
        s = health_status_locked(c);
        match = strcmp(s ? s : "none", want) == 0;
        pthread_mutex_unlock(&cs->lock);
        return match;
}

const char *health_status_locked(struct container *c)
{
        if (!c->health || (c->status != CONTAINER_RUNNING && c->status != CONTAINER_PAUSED))
                return NULL;
        return json_string_value(json_object_get(c->health, "Status"));
}

void health_save_locked(struct container *c, json_t *st)
{
        if (!c->health || !c->health_started_at)
                return;
        json_object_set_new(st, HEALTH_KEY, json_deep_copy(c->health));
        json_object_set_new(st, HEALTH_START_KEY, json_string(c->health_started_at));
}

/* CLOCK_REALTIME seconds of an RFC 3339 UTC time ("2006-01-02T15:04:05.999999999Z"), or -1 */
static int64_t rfc3339_seconds(const char *s)
{
        struct tm tm = {0};
        const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;

        if (!end)
                return -1;
        return (int64_t)timegm(&tm);
}

void health_load(struct container *c, json_t *st)
{
        json_t *h = json_object_get(st, HEALTH_KEY);
        const char *since = json_string_value(json_object_get(st, HEALTH_START_KEY));
        const char *status = json_string_value(json_object_get(h, "Status"));
        struct health_cfg cfg;
        struct timespec real;
        int64_t now = mono_ns(), started;

        json_decref(TAKE_PTR(c->health));
        free(TAKE_PTR(c->health_started_at));
        c->health_busy = false;
        if (!status || !since || !json_is_array(json_object_get(h, "Log")) ||
            !json_is_integer(json_object_get(h, "FailingStreak")) || !health_cfg_of(c, &cfg))
                return;
        c->health = json_deep_copy(h);
        c->health_started_at = xstrdup(since);
        /* the start period counts from the container's start, which the monotonic clock of this
         * process never saw: place it by the wall clock */
        clock_gettime(CLOCK_REALTIME, &real);
        started = rfc3339_seconds(since);
        if (started < 0 || started > real.tv_sec)
                started = real.tv_sec;
        c->health_since = ns_ts(MAX(now - (real.tv_sec - started) * 1000000000LL, 0));
        c->health_next = ns_ts(now + health_interval_locked(c, &cfg, now));
}
