/* json-file logs: parse, filter, frame, follow through rotations. */
#include "daemon/state/logs.h"
#include "daemon/state/events.h"

#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>

#define LOG_LINE_MAX      (1u << 20) /* a longer "line" is not the shim's; skipped */
#define LOG_ROTATIONS_MAX 100

/* ---------------------------------------------------------------- drivers */

bool logs_driver_readable(const char *type)
{
        return !type || !*type || strcmp(type, "json-file") == 0 || strcmp(type, "local") == 0;
}

static bool str_in(const char *s, const char *const *set)
{
        for (; *set; set++)
                if (strcmp(s, *set) == 0)
                        return true;
        return false;
}

int logs_config_validate(json_t *logcfg, struct berth_error **err)
{
        static const char *const docker_opts[] = {
            "compress", "labels", "labels-regex", "env", "env-regex", "tag", NULL};
        json_t *type_j = json_object_get(logcfg, "Type");
        json_t *opts = json_object_get(logcfg, "Config");
        const char *type = json_is_string(type_j) ? json_string_value(type_j) : "";
        const char *k;
        json_t *v;

        if (logcfg && !json_is_object(logcfg))
                return berth_error_setx(err, EINVAL, "LogConfig: expected an object");
        if (type_j && !json_is_null(type_j) && !json_is_string(type_j))
                return berth_error_setx(err, EINVAL, "LogConfig.Type: expected a string");
        if (opts && !json_is_null(opts) && !json_is_object(opts))
                return berth_error_setx(err, EINVAL, "LogConfig.Config: expected an object");
        if (!*type)
                type = "json-file";
        /* docker: the none driver takes (and ignores) any option */
        if (strcmp(type, "none") == 0)
                return 0;
        if (strcmp(type, "json-file") != 0 && strcmp(type, "local") != 0)
                return berth_error_setx(err, EINVAL,
                                        "logger: no log driver named '%s' is registered", type);
        json_object_foreach(opts, k, v)
        {
                const char *s = json_is_string(v) ? json_string_value(v) : NULL;
                uint64_t n;

                if (!s)
                        return berth_error_setx(err, EINVAL, "log opt '%s': expected a string", k);
                if (strcmp(k, "max-size") == 0) {
                        if (berth_parse_ram_size(s, &n) < 0)
                                return berth_error_setx(err, EINVAL, "invalid size: '%s'", s);
                } else if (strcmp(k, "max-file") == 0) {
                        if (berth_parse_u64(s, &n) < 0 || n > 1000)
                                return berth_error_setx(err, EINVAL,
                                                        "invalid value for max-file: %s", s);
                        if (n < 1)
                                return berth_error_setx(err, EINVAL,
                                                        "max-file cannot be less than 1");
                } else if (strcmp(k, "mode") == 0) {
                        /* blocking is what the shim does; non-blocking's ring buffer is not */
                        if (strcmp(s, "non-blocking") == 0)
                                return berth_error_setx(err, EINVAL,
                                                        "log opt mode `non-blocking` is not "
                                                        "supported by berth (only blocking)");
                        if (*s && strcmp(s, "blocking") != 0)
                                return berth_error_setx(
                                    err, EINVAL, "logger: logging mode not supported: %s", s);
                } else if (strcmp(k, "compress") == 0 && strcmp(s, "false") == 0) {
                        /* rotated files stay uncompressed, as asked */
                } else if (str_in(k, docker_opts) &&
                           (strcmp(type, "json-file") == 0 || strcmp(k, "compress") == 0)) {
                        return berth_error_setx(err, EINVAL,
                                                "log opt `%s` of the %s log driver is not "
                                                "supported by berth",
                                                k, type);
                } else if (strcmp(type, "json-file") == 0) {
                        return berth_error_setx(err, EINVAL,
                                                "unknown log opt '%s' for json-file log driver", k);
                } else {
                        return berth_error_setx(err, EINVAL,
                                                "unknown log opt '%s' for log driver local", k);
                }
        }
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
        char *buf; /* output gathered into few writes */
        size_t len;
        bool gone; /* the client went away */
        bool past_until;
};

#define EMIT_BUF (64u * 1024)

/* Write what is gathered (before waiting for more, and at the end). */
static void emit_flush(struct emitter *em)
{
        if (em->len && !em->gone && berth_write_all(em->out_fd, em->buf, em->len) < 0)
                em->gone = true;
        em->len = 0;
}

static void emit_bytes(struct emitter *em, const char *s, size_t n)
{
        if (em->gone)
                return;
        if (!em->buf)
                em->buf = xmalloc(EMIT_BUF);
        if (em->len + n > EMIT_BUF)
                emit_flush(em);
        if (n > EMIT_BUF) {
                if (berth_write_all(em->out_fd, s, n) < 0)
                        em->gone = true;
                return;
        }
        memcpy(em->buf + em->len, s, n);
        em->len += n;
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
        emit_bytes(em, s, n);
        free(s);
}

/* ---------------------------------------------------------------- tail: from the end backwards
 * `logs --tail n` of a big log reads only its end (docker's json-file does the same), then the
 * rotations while more lines are wanted. */

struct tail_collect {
        const struct logs_opts *o;
        struct chunk *v; /* the kept entries, newest first */
        size_t n;
        bool done;
};

static void tail_line(struct tail_collect *tc, const char *line, size_t len)
{
        struct log_entry e = {0};
        if (len == 0 || logs_parse_line(line, len, &e, NULL) < 0)
                return;
        const struct logs_opts *o = tc->o;
        if (o->since_ns && e.time_ns < o->since_ns) {
                /* everything before is older still */
                tc->done = true;
        } else if (((e.stream == 1 && o->out) || (e.stream == 2 && o->err)) &&
                   !(o->until_ns && e.time_ns > o->until_ns)) {
                struct chunk *c = &tc->v[tc->n++];
                c->data = logs_format_entry(&e, o, &c->len);
                tc->done = tc->n == (size_t)o->tail;
        }
        logs_entry_release(&e);
}

/* The lines of fd's bytes [0, end) from the last to the first, until tc is done. */
static void tail_file(struct tail_collect *tc, int fd, off_t end)
{
        char *carry = NULL; /* the start of a line whose beginning is in an earlier chunk */
        size_t carry_len = 0;
        off_t pos = end;
        while (!tc->done && pos > 0) {
                size_t n = pos > 65536 ? 65536 : (size_t)pos;
                pos -= (off_t)n;
                char *buf = xmalloc(n + carry_len + 1);
                if (pread(fd, buf, n, pos) != (ssize_t)n) {
                        free(buf);
                        break;
                }
                if (carry_len)
                        memcpy(buf + n, carry, carry_len);
                size_t e = n + carry_len;
                free(carry);
                carry = NULL;
                carry_len = 0;
                /* buf[0, e) ends a line (its '\n' at e - 1, or the end of the file) */
                while (e > 0 && !tc->done) {
                        char *nl = e > 1 ? memrchr(buf, '\n', e - 1) : NULL;
                        size_t start = nl ? (size_t)(nl - buf) + 1 : 0;
                        if (!nl && pos > 0)
                                break;
                        size_t len = e - start - (buf[e - 1] == '\n');
                        tail_line(tc, buf + start, len);
                        e = start;
                }
                if (e > 0 && !tc->done && e <= LOG_LINE_MAX) {
                        carry = xmalloc(e);
                        memcpy(carry, buf, e);
                        carry_len = e;
                }
                free(buf);
        }
        free(carry);
}

/* Where the last complete line of fd's first size bytes ends (a line being written is left to
 * follow). */
static off_t complete_end(int fd, off_t size)
{
        char buf[4096];
        off_t pos = size;
        while (pos > 0) {
                size_t n = pos > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)pos;
                if (pread(fd, buf, n, pos - (off_t)n) != (ssize_t)n)
                        return size;
                char *nl = memrchr(buf, '\n', n);
                if (nl)
                        return pos - (off_t)n + (nl - buf) + 1;
                pos -= (off_t)n;
        }
        return 0;
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

/* The last o->tail entries (that pass the filters) of the log and its rotations, written in
 * order; rd is left open on the log at the end of its last complete line, for follow. */
static int tail_past(const char *log_path, const struct logs_opts *o, struct reader *rd,
                     struct emitter *em)
{
        struct tail_collect tc = {.o = o, .done = o->tail == 0};
        tc.v = xcalloc(o->tail > 0 ? (size_t)o->tail : 1, sizeof(*tc.v));
        int r = 0;
        if (reader_open(rd, log_path) == 0) {
                struct stat st;
                off_t end = fstat(rd->fd, &st) == 0 ? complete_end(rd->fd, st.st_size) : 0;
                tail_file(&tc, rd->fd, end);
                if (lseek(rd->fd, end, SEEK_SET) < 0)
                        r = -errno;
        } else if (errno != ENOENT) {
                r = -errno;
        }
        for (int i = 1; i <= LOG_ROTATIONS_MAX && !tc.done && r == 0; i++) {
                _cleanup_free_ char *p = xasprintf("%s.%d", log_path, i);
                _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                struct stat st;
                if (fd < 0 || fstat(fd, &st) < 0)
                        break;
                /* rotated while we read: the file already seen */
                if (rd->fd >= 0 && st.st_ino == rd->ino && st.st_dev == rd->dev)
                        continue;
                tail_file(&tc, fd, st.st_size);
        }
        for (size_t i = tc.n; i > 0; i--) {
                struct chunk *c = &tc.v[i - 1];
                emit_bytes(em, c->data, c->len);
                free(c->data);
        }
        free(tc.v);
        return r;
}

int logs_stream(const char *log_path, const struct logs_opts *o, int out_fd, int client_fd,
                logs_running_fn running, void *userdata, struct berth_error **err)
{
        struct emitter em = {.o = o, .out_fd = out_fd};
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
        if (o->tail >= 0) {
                r = tail_past(log_path, o, &rd, &em);
        } else {
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
        }
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
                emit_flush(&em);
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
        emit_flush(&em);
        free(em.buf);
        reader_close(&rd);
        free(rd.buf);
        return r;
}
