/* json-file logs: parse, filter, frame, follow through rotations. */
#include "daemon/logs.h"
#include "daemon/api.h"
#include "daemon/events.h"

#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>

#define LOG_LINE_MAX      (1u << 20) /* a longer "line" is not the shim's; skipped */
#define LOG_ROTATIONS_MAX 100

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

/* ---------------------------------------------------------------- reading */

struct chunk {
        char *data;
        size_t len;
};

struct emitter {
        const struct logs_opts *o;
        int out_fd;
        struct chunk *ring; /* tail: the last o->tail chunks */
        size_t ring_n, ring_pos;
        bool buffering; /* collecting the past for tail */
        bool gone;      /* the client went away */
        bool past_until;
};

static bool write_all(int fd, const char *buf, size_t len)
{
        while (len > 0) {
                ssize_t n = write(fd, buf, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return false;
                buf += n;
                len -= (size_t)n;
        }
        return true;
}

static void emit_line(struct emitter *em, const char *line, size_t len)
{
        struct log_entry e = {0};
        if (len == 0 || logs_parse_line(line, len, &e, NULL) < 0)
                return;
        const struct logs_opts *o = em->o;
        bool want = (e.stream == 1 && o->out) || (e.stream == 2 && o->err);
        if (o->until_ns && e.time_ns > o->until_ns)
                em->past_until = true;
        if (!want || em->past_until || (o->since_ns && e.time_ns < o->since_ns)) {
                logs_entry_release(&e);
                return;
        }
        size_t n;
        char *s = logs_format_entry(&e, o, &n);
        logs_entry_release(&e);
        if (em->buffering && o->tail >= 0) {
                if (o->tail == 0) {
                        free(s);
                        return;
                }
                struct chunk *slot = &em->ring[em->ring_pos];
                free(slot->data);
                slot->data = s;
                slot->len = n;
                em->ring_pos = (em->ring_pos + 1) % (size_t)o->tail;
                if (em->ring_n < (size_t)o->tail)
                        em->ring_n++;
                return;
        }
        if (!em->gone && !write_all(em->out_fd, s, n))
                em->gone = true;
        free(s);
}

static void flush_ring(struct emitter *em)
{
        if (em->o->tail > 0) {
                size_t cap = (size_t)em->o->tail;
                size_t start = (em->ring_pos + cap - em->ring_n) % cap;
                for (size_t i = 0; i < em->ring_n; i++) {
                        struct chunk *c = &em->ring[(start + i) % cap];
                        if (!em->gone && !write_all(em->out_fd, c->data, c->len))
                                em->gone = true;
                        free(c->data);
                        c->data = NULL;
                }
        }
        em->ring_n = 0;
        em->buffering = false;
}

struct reader {
        int fd;
        char *buf;
        size_t len, cap;
        ino_t ino;
        dev_t dev;
};

static void reader_close(struct reader *rd)
{
        if (rd->fd >= 0)
                close(rd->fd);
        rd->fd = -1;
        rd->len = 0;
}

static int reader_open(struct reader *rd, const char *path)
{
        reader_close(rd);
        rd->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (rd->fd < 0)
                return -errno;
        struct stat st;
        if (fstat(rd->fd, &st) == 0) {
                rd->ino = st.st_ino;
                rd->dev = st.st_dev;
        }
        return 0;
}

/* Emit every complete line available now; a partial last line stays buffered. */
static int reader_drain(struct reader *rd, struct emitter *em)
{
        if (rd->fd < 0)
                return 0;
        for (;;) {
                if (rd->cap - rd->len < 65536) {
                        rd->cap = rd->cap ? rd->cap * 2 : 131072;
                        rd->buf = xrealloc(rd->buf, rd->cap);
                }
                ssize_t n = read(rd->fd, rd->buf + rd->len, rd->cap - rd->len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                rd->len += (size_t)n;
                size_t start = 0;
                for (;;) {
                        char *nl = memchr(rd->buf + start, '\n', rd->len - start);
                        if (!nl)
                                break;
                        emit_line(em, rd->buf + start, (size_t)(nl - (rd->buf + start)));
                        start = (size_t)(nl - rd->buf) + 1;
                }
                memmove(rd->buf, rd->buf + start, rd->len - start);
                rd->len -= start;
                if (rd->len > LOG_LINE_MAX)
                        rd->len = 0;
                if (em->gone || em->past_until)
                        return 0;
        }
}

/* Has the log at path been replaced (rotated) since rd opened it? */
static bool rotated(struct reader *rd, const char *path)
{
        struct stat st;
        if (stat(path, &st) < 0)
                return false;
        return rd->fd < 0 || st.st_ino != rd->ino || st.st_dev != rd->dev;
}

int logs_stream(const char *log_path, const struct logs_opts *o, int out_fd, int client_fd,
                logs_running_fn running, void *userdata, struct berth_error **err)
{
        struct emitter em = {.o = o, .out_fd = out_fd, .buffering = o->tail >= 0};
        if (o->tail > 0)
                em.ring = xcalloc((size_t)o->tail, sizeof(*em.ring));
        struct reader rd = {.fd = -1};
        int r = 0;
        /* watch first: a rotation between reading the files and watching is not missed */
        _cleanup_close_ int ino = -1;
        if (o->follow) {
                _cleanup_free_ char *dir = xstrdup(log_path);
                char *slash = strrchr(dir, '/');
                if (slash)
                        *slash = '\0';
                ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
                if (ino >= 0 &&
                    inotify_add_watch(ino, slash ? dir : ".",
                                      IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
                        close(ino);
                        ino = -1;
                }
        }
        /* the past: oldest rotation first */
        int nrot = 0;
        while (nrot < LOG_ROTATIONS_MAX) {
                _cleanup_free_ char *p = xasprintf("%s.%d", log_path, nrot + 1);
                if (access(p, F_OK) < 0)
                        break;
                nrot++;
        }
        for (int i = nrot; i >= 1 && !em.gone && !em.past_until; i--) {
                _cleanup_free_ char *p = xasprintf("%s.%d", log_path, i);
                if (reader_open(&rd, p) < 0)
                        continue;
                reader_drain(&rd, &em);
                reader_close(&rd);
        }
        if (reader_open(&rd, log_path) == 0 || errno == ENOENT) {
                if (!em.past_until)
                        r = reader_drain(&rd, &em);
        } else {
                r = -errno;
        }
        flush_ring(&em);
        if (r < 0) {
                berth_error_set(err, -r, "read `%s`", log_path);
                goto out;
        }
        while (o->follow && !em.gone && !em.past_until) {
                bool alive = !running || running(userdata);
                if (rotated(&rd, log_path)) {
                        /* the old file is complete once renamed: take its last lines first */
                        reader_drain(&rd, &em);
                        if (reader_open(&rd, log_path) < 0)
                                rd.fd = -1;
                }
                reader_drain(&rd, &em);
                if (!alive || em.gone || em.past_until)
                        break;
                if (o->until_ns && events_now_ns() >= o->until_ns)
                        break;
                struct pollfd p[3] = {{.fd = ino, .events = POLLIN},
                                      {.fd = out_fd, .events = 0},
                                      {.fd = client_fd, .events = POLLRDHUP}};
                int timeout = ino >= 0 ? 500 : 100;
                if (poll(p, 3, timeout) > 0) {
                        if ((p[1].revents & (POLLERR | POLLHUP | POLLNVAL)) ||
                            (p[2].revents & (POLLRDHUP | POLLHUP | POLLERR)))
                                break;
                        char evbuf[4096];
                        while (ino >= 0 && read(ino, evbuf, sizeof(evbuf)) > 0)
                                ;
                }
                if (events_client_gone(out_fd, client_fd))
                        break;
        }
out:
        reader_close(&rd);
        free(rd.buf);
        if (em.ring) {
                for (long long i = 0; i < o->tail; i++)
                        free(em.ring[i].data);
                free(em.ring);
        }
        return r;
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
