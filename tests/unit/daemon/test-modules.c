/* Unit tests for berthd's modules: event filters and times, json-file log parsing, framing,
 * tail/since and rotation, stats JSON, local volumes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "daemon/daemon.h"
#include "daemon/containers/etc-files.h"
#include "daemon/state/events.h"
#include "daemon/state/logs.h"
#include "daemon/state/stats.h"
#include "daemon/state/volumes.h"

#include <poll.h>
#include <sys/mount.h>
#include <pthread.h>
#include <sys/stat.h>

static json_t *filters(const char *json)
{
        json_t *f = json_loads(json, 0, NULL);
        assert_non_null(f);
        return f;
}

/* ---------------------------------------------------------------- events */

static void test_events_shape(void **state)
{
        json_t *e = events_make("container", "start", "abc",
                                json_pack("{s:s, s:s}", "name", "web", "image", "busybox"),
                                1700000000123456789LL);
        assert_string_equal(json_string_value(json_object_get(e, "status")), "start");
        assert_string_equal(json_string_value(json_object_get(e, "id")), "abc");
        assert_string_equal(json_string_value(json_object_get(e, "from")), "busybox");
        assert_string_equal(json_string_value(json_object_get(e, "Type")), "container");
        assert_string_equal(json_string_value(json_object_get(e, "scope")), "local");
        assert_int_equal(json_integer_value(json_object_get(e, "time")), 1700000000);
        assert_true(json_integer_value(json_object_get(e, "timeNano")) == 1700000000123456789LL);
        json_decref(e);
        /* volumes carry no legacy fields */
        e = events_make("volume", "create", "v1", NULL, 1);
        assert_null(json_object_get(e, "status"));
        assert_non_null(json_object_get(json_object_get(e, "Actor"), "Attributes"));
        json_decref(e);
}

static void test_events_filters(void **state)
{
        json_t *c = events_make(
            "container", "exec_start: sh -c true", "0123456789ab",
            json_pack("{s:s, s:s, s:s}", "name", "web", "image", "busybox:latest", "tier", "front"),
            1);
        json_t *img = events_make("image", "tag", "sha256:ff",
                                  json_pack("{s:s}", "name", "127.0.0.1:5000/x:1"), 1);
        struct {
                const char *f;
                bool c, img;
        } cases[] = {
            {"{}", true, true},
            {"{\"type\": [\"container\"]}", true, false},
            {"{\"type\": [\"image\", \"container\"]}", true, true},
            {"{\"event\": [\"exec_start\"]}", true, false},
            {"{\"event\": [\"container:exec_start\"]}", true, false},
            {"{\"event\": [\"tag\"]}", false, true},
            {"{\"container\": [\"web\"]}", true, false},
            {"{\"container\": [\"0123\"]}", true, false},
            {"{\"container\": [\"nope\"]}", false, false},
            {"{\"image\": [\"busybox\"]}", true, false},
            {"{\"image\": [\"127.0.0.1:5000/x\"]}", false, true},
            {"{\"label\": [\"tier\"]}", true, false},
            {"{\"label\": [\"tier=front\"]}", true, false},
            {"{\"label\": [\"tier=back\"]}", false, false},
            {"{\"scope\": [\"local\"]}", true, true},
            {"{\"volume\": [\"v\"]}", false, false},
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                json_t *f = filters(cases[i].f);
                if (events_match(c, f) != cases[i].c || events_match(img, f) != cases[i].img)
                        fail_msg("filter %s", cases[i].f);
                json_decref(f);
        }
        json_t *bad = filters("{\"bogus\": [\"x\"]}");
        struct berth_error *err = NULL;
        assert_int_equal(events_check_filters(bad, &err), -EINVAL);
        assert_non_null(strstr(err->msg, "bogus"));
        berth_error_free(err);
        json_decref(bad);
        json_decref(c);
        json_decref(img);
}

static void test_events_time(void **state)
{
        int64_t t;
        assert_int_equal(events_parse_time("1700000000", &t, NULL), 0);
        assert_true(t == 1700000000000000000LL);
        assert_int_equal(events_parse_time("1700000000.5", &t, NULL), 0);
        assert_true(t == 1700000000500000000LL);
        assert_int_equal(events_parse_time("1700000000.000000001", &t, NULL), 0);
        assert_true(t == 1700000000000000001LL);
        assert_int_equal(events_parse_time("2023-11-14T22:13:20Z", &t, NULL), 0);
        assert_true(t == 1700000000000000000LL);
        assert_int_equal(events_parse_time("2023-11-14T22:13:20.25Z", &t, NULL), 0);
        assert_true(t == 1700000000250000000LL);
        assert_int_equal(events_parse_time("2023-11-15T00:13:20+02:00", &t, NULL), 0);
        assert_true(t == 1700000000000000000LL);
        assert_int_equal(events_parse_time("yesterday", &t, NULL), -EINVAL);
        assert_int_equal(events_parse_time("1.2.3", &t, NULL), -EINVAL);
        assert_int_equal(events_parse_time("", &t, NULL), -EINVAL);
        /* RFC 3339 names its zone; nanoseconds since 1970 end in 2262 */
        assert_int_equal(events_parse_time("2023-11-14T22:13:20", &t, NULL), -EINVAL);
        assert_int_equal(events_parse_time("2023-11-14T22:13:20+2:000", &t, NULL), -EINVAL);
        assert_int_equal(events_parse_time("1012-01-01T00:00:00Z", &t, NULL), -ERANGE);
        assert_int_equal(events_parse_time("2300-01-01T00:00:00Z", &t, NULL), -ERANGE);
        assert_int_equal(events_parse_time("9223372036", &t, NULL), -EINVAL);
        assert_int_equal(events_parse_time("9223372035.999999999", &t, NULL), 0);
}

struct stream_arg {
        struct berth_events *ev;
        int fd;
        int64_t since, until;
        json_t *filters;
};

static void *stream_thread(void *p)
{
        struct stream_arg *a = p;
        events_stream(a->ev, a->fd, -1, a->since, a->until, a->filters);
        close(a->fd);
        return NULL;
}

static void test_events_stream(void **state)
{
        struct daemon d = {0};
        d.events = events_new();
        int64_t t0 = events_now_ns();
        events_publish(&d, "volume", "create", "old", NULL);
        events_publish(&d, "container", "start", "c1", json_pack("{s:s}", "name", "one"));
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        /* since in the past and until a little ahead: the ring is replayed, filtered, and the
         * stream ends by itself */
        struct stream_arg a = {.ev = d.events,
                               .fd = p[1],
                               .since = t0,
                               .until = events_now_ns() + 300000000,
                               .filters = filters("{\"type\": [\"container\"]}")};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, stream_thread, &a), 0);
        events_publish(&d, "container", "die", "c1", json_pack("{s:s}", "exitCode", "0"));
        events_publish(&d, "image", "pull", "busybox:latest", NULL);
        char buf[8192];
        size_t len = 0;
        ssize_t n;
        while ((n = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0)
                len += (size_t)n;
        buf[len] = '\0';
        pthread_join(th, NULL);
        close(p[0]);
        assert_non_null(strstr(buf, "\"Action\":\"start\""));
        assert_non_null(strstr(buf, "\"Action\":\"die\""));
        assert_null(strstr(buf, "pull"));
        assert_null(strstr(buf, "\"old\""));
        json_decref(a.filters);
        events_free(d.events);
}

/* ---------------------------------------------------------------- logs */

static void test_logs_parse_format(void **state)
{
        const char *line = "{\"log\":\"hello\\n\",\"stream\":\"stderr\",\"time\":"
                           "\"2024-01-02T03:04:05.123456789Z\"}";
        struct log_entry e;
        assert_int_equal(logs_parse_line(line, strlen(line), &e, NULL), 0);
        assert_int_equal(e.stream, 2);
        assert_int_equal(e.len, 6);
        assert_string_equal(e.log, "hello\n");
        struct logs_opts o = {.out = true, .err = true, .tail = -1};
        size_t n;
        char *s = logs_format_entry(&e, &o, &n);
        assert_int_equal(n, 8 + 6);
        assert_int_equal(s[0], 2);
        assert_int_equal(s[7], 6);
        assert_memory_equal(s + 8, "hello\n", 6);
        free(s);
        o.timestamps = true;
        o.tty = true;
        s = logs_format_entry(&e, &o, &n);
        assert_string_equal(s, "2024-01-02T03:04:05.123456789Z hello\n");
        free(s);
        logs_entry_release(&e);
        const char *bad[] = {
            "", "{", "{\"log\":\"x\"}",
            "{\"log\":\"x\",\"stream\":\"other\",\"time\":\"2024-01-02T03:04:05Z\"}",
            "{\"log\":1,\"stream\":\"stdout\",\"time\":\"2024-01-02T03:04:05Z\"}"};
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
                assert_int_equal(logs_parse_line(bad[i], strlen(bad[i]), &e, NULL), -EINVAL);
}

/* the shim's fast path and the general JSON parser agree */
static void test_logs_parse_agrees(void **state)
{
        const char *lines[] = {
            "{\"log\":\"plain\\n\",\"stream\":\"stdout\",\"time\":\"2024-01-02T03:04:05Z\"}",
            "{\"log\":\"q\\\" b\\\\ s\\/ t\\t r\\r f\\f b\\b\",\"stream\":\"stderr\",\"time\":"
            "\"2024-01-02T03:04:05.5Z\"}",
            "{\"log\":\"\\u0041\\u00e9\\u20ac\\u003c\\u0000x\",\"stream\":\"stdout\",\"time\":"
            "\"2024-01-02T03:04:05.123456789Z\"}",
            "{\"log\":\"\\ud83d\\ude00 surrogates\",\"stream\":\"stdout\",\"time\":"
            "\"2024-01-02T03:04:05.1Z\"}",
            "{\"log\":\"raw "
            "\xc3\xa9\",\"stream\":\"stdout\",\"time\":\"2024-12-31T23:59:59.999Z\"}",
            "{\"stream\":\"stdout\",\"log\":\"other order\",\"time\":\"2024-01-02T03:04:05Z\"}",
            "{\"log\":\"zone\",\"stream\":\"stdout\",\"time\":\"2024-01-02T05:04:05+02:00\"}",
        };
        for (size_t i = 0; i < ARRAY_SIZE(lines); i++) {
                struct log_entry e;
                if (logs_parse_line(lines[i], strlen(lines[i]), &e, NULL) < 0)
                        fail_msg("line %zu not parsed", i);
                json_t *j = json_loads(lines[i], JSON_ALLOW_NUL, NULL);
                assert_non_null(j);
                json_t *log = json_object_get(j, "log");
                assert_int_equal(e.len, json_string_length(log));
                assert_memory_equal(e.log, json_string_value(log), e.len);
                int64_t t;
                assert_int_equal(
                    events_parse_time(json_string_value(json_object_get(j, "time")), &t, NULL), 0);
                assert_true(e.time_ns == t);
                assert_int_equal(
                    e.stream,
                    strcmp(json_string_value(json_object_get(j, "stream")), "stdout") ? 2 : 1);
                json_decref(j);
                logs_entry_release(&e);
        }
        const char *bad[] = {
            "{\"log\":\"x\",\"stream\":\"stdout\",\"time\":\"2024-01-02T03:04:05Z\"}junk",
            "{\"log\":\"x\",\"stream\":\"stdout\",\"time\":\"2024-01-02T03:04:05Z\"",
            "{\"log\":\"x\\q\",\"stream\":\"stdout\",\"time\":\"2024-01-02T03:04:05Z\"}",
            "{\"log\":\"x\",\"stream\":\"stdin\",\"time\":\"2024-01-02T03:04:05Z\"}",
            "{\"log\":\"x\",\"stream\":\"stdout\",\"time\":\"2024-13-02T03:04:05Z\"}",
            "{\"log\":\"x\\u12\",\"stream\":\"stdout\",\"time\":\"2024-01-02T03:04:05Z\"}",
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                struct log_entry e;
                if (logs_parse_line(bad[i], strlen(bad[i]), &e, NULL) == 0)
                        fail_msg("bad line %zu parsed", i);
        }
}

static void write_log(const char *path, int first, int n)
{
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        for (int i = first; i < first + n; i++)
                fprintf(f,
                        "{\"log\":\"line %d\\n\",\"stream\":\"%s\",\"time\":"
                        "\"2024-01-01T00:00:%02d.000000000Z\"}\n",
                        i, i % 2 ? "stderr" : "stdout", i);
        fclose(f);
}

/* logs_stream into a temporary file, raw (tty) output collected as a string */
static char *run_logs(const char *path, struct logs_opts *o)
{
        int fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        o->tty = true;
        assert_int_equal(logs_stream(path, o, fd, -1, NULL, NULL, NULL), 0);
        off_t size = lseek(fd, 0, SEEK_END);
        char *buf = xmalloc((size_t)size + 1);
        assert_int_equal(pread(fd, buf, (size_t)size, 0), size);
        buf[size] = '\0';
        close(fd);
        return buf;
}

static void test_logs_stream(void **state)
{
        char dir[] = "/tmp/berth-test-logs-XXXXXX";
        assert_non_null(mkdtemp(dir));
        char *path = xasprintf("%s/c-json.log", dir);
        char *r1 = xasprintf("%s.1", path), *r2 = xasprintf("%s.2", path);
        write_log(r2, 0, 3); /* oldest */
        write_log(r1, 3, 3);
        write_log(path, 6, 3);
        struct logs_opts o = {.out = true, .err = true, .tail = -1};
        char *s = run_logs(path, &o);
        assert_string_equal(s, "line 0\nline 1\nline 2\nline 3\nline 4\nline 5\nline 6\nline "
                               "7\nline 8\n");
        free(s);
        o.tail = 4;
        s = run_logs(path, &o);
        assert_string_equal(s, "line 5\nline 6\nline 7\nline 8\n");
        free(s);
        o.tail = 0;
        s = run_logs(path, &o);
        assert_string_equal(s, "");
        free(s);
        /* stdout only (even lines), since 00:00:02, until 00:00:06 */
        struct logs_opts f = {.out = true, .tail = -1};
        assert_int_equal(events_parse_time("2024-01-01T00:00:02Z", &f.since_ns, NULL), 0);
        assert_int_equal(events_parse_time("2024-01-01T00:00:06Z", &f.until_ns, NULL), 0);
        s = run_logs(path, &f);
        assert_string_equal(s, "line 2\nline 4\nline 6\n");
        free(s);
        /* stderr with timestamps and tail 1 */
        struct logs_opts t = {.err = true, .timestamps = true, .tail = 1};
        s = run_logs(path, &t);
        assert_string_equal(s, "2024-01-01T00:00:07.000000000Z line 7\n");
        free(s);
        /* a missing log is an empty one */
        char *missing = xasprintf("%s/none.log", dir);
        s = run_logs(missing, &o);
        assert_string_equal(s, "");
        free(s);
        free(missing);
        assert_int_equal(berth_rm_rf_at(AT_FDCWD, dir, NULL), 0);
        free(path);
        free(r1);
        free(r2);
}

static void test_logs_tail_big(void **state)
{
        char dir[] = "/tmp/berth-test-tail-XXXXXX";
        assert_non_null(mkdtemp(dir));
        char *path = xasprintf("%s/c-json.log", dir);
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        /* ~400 kB: many 64 kB chunks read backwards, lines cut across their edges */
        for (int i = 0; i < 3000; i++)
                fprintf(f,
                        "{\"log\":\"%d %.*s\\n\",\"stream\":\"stdout\",\"time\":"
                        "\"2024-01-01T00:00:00Z\"}\n",
                        i, i % 97,
                        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        /* a line the shim is still writing */
        fputs("{\"log\":\"partial", f);
        fclose(f);
        struct logs_opts o = {.out = true, .tail = 2500};
        char *s = run_logs(path, &o);
        size_t lines = 0;
        for (char *p = s; (p = strchr(p, '\n')); p++)
                lines++;
        assert_int_equal(lines, 2500);
        assert_true(!strncmp(s, "500 ", 4));
        char *last = strrchr(s, '\n');
        *last = '\0';
        last = strrchr(s, '\n');
        assert_true(!strncmp(last + 1, "2999 ", 5));
        free(s);
        /* every line when asked for more than there are; the partial one never */
        o.tail = 100000;
        s = run_logs(path, &o);
        lines = 0;
        for (char *p = s; (p = strchr(p, '\n')); p++)
                lines++;
        assert_int_equal(lines, 3000);
        assert_null(strstr(s, "partial"));
        free(s);
        assert_int_equal(berth_rm_rf_at(AT_FDCWD, dir, NULL), 0);
        free(path);
}

struct follow_arg {
        const char *path;
        int fd;
        long long tail;
        volatile bool running;
};

static bool follow_running(void *p)
{
        return ((struct follow_arg *)p)->running;
}

static void *follow_thread(void *p)
{
        struct follow_arg *a = p;
        struct logs_opts o = {
            .out = true, .err = true, .follow = true, .tty = true, .tail = a->tail};
        logs_stream(a->path, &o, a->fd, -1, follow_running, a, NULL);
        close(a->fd);
        return NULL;
}

/* read until want is in buf (or the pipe ends) */
static void read_until(int fd, char *buf, size_t *len, size_t cap, const char *want)
{
        while (!strstr(buf, want)) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                assert_true(poll(&p, 1, 10000) > 0);
                ssize_t n = read(fd, buf + *len, cap - 1 - *len);
                if (n <= 0)
                        break;
                *len += (size_t)n;
                buf[*len] = '\0';
        }
        assert_non_null(strstr(buf, want));
}

static void test_logs_follow_rotation(void **state)
{
        char dir[] = "/tmp/berth-test-follow-XXXXXX";
        assert_non_null(mkdtemp(dir));
        char *path = xasprintf("%s/c-json.log", dir);
        char *r1 = xasprintf("%s.1", path);
        write_log(path, 0, 2);
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        struct follow_arg a = {.path = path, .fd = p[1], .running = true, .tail = -1};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, follow_thread, &a), 0);
        char buf[8192] = "";
        size_t len = 0;
        read_until(p[0], buf, &len, sizeof(buf), "line 1\n");
        /* appended lines, then a rotation (rename + new file) as the shim does it */
        FILE *f = fopen(path, "ae");
        fprintf(f,
                "{\"log\":\"more\\n\",\"stream\":\"stdout\",\"time\":\"2024-01-01T00:01:00Z\"}\n");
        fclose(f);
        read_until(p[0], buf, &len, sizeof(buf), "more\n");
        assert_int_equal(rename(path, r1), 0);
        write_log(path, 10, 1);
        read_until(p[0], buf, &len, sizeof(buf), "line 10\n");
        a.running = false;
        pthread_join(th, NULL);
        ssize_t n;
        while ((n = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0)
                len += (size_t)n;
        buf[len] = '\0';
        close(p[0]);
        assert_string_equal(buf, "line 0\nline 1\nmore\nline 10\n");
        assert_int_equal(berth_rm_rf_at(AT_FDCWD, dir, NULL), 0);
        free(path);
        free(r1);
}

/* ---------------------------------------------------------------- stats */

static void test_stats_parsers(void **state)
{
        long hz = sysconf(_SC_CLK_TCK);
        uint64_t ns = stats_parse_proc_stat("cpu  10 20 30 40 50 60 70 80 0 0\ncpu0 1 1 1 1\n");
        assert_true(ns == 280ull * (1000000000ull / (uint64_t)hz));
        assert_true(stats_parse_proc_stat("intr 1\n") == 0);

        json_t *b = stats_parse_blkio_v1("8:0 Read 4096\n8:0 Write 8192\nTotal 12288\n",
                                         "8:0 Read 1\n8:0 Write 2\n");
        json_t *sb = json_object_get(b, "io_service_bytes_recursive");
        assert_int_equal(json_array_size(sb), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(sb, 1), "op")),
                            "Write");
        assert_int_equal(json_integer_value(json_object_get(json_array_get(sb, 1), "value")), 8192);
        assert_true(json_is_null(json_object_get(b, "io_queue_recursive")));
        json_decref(b);

        b = stats_parse_io_stat("259:0 rbytes=100 wbytes=200 rios=3 wios=4 dbytes=0 dios=0\n");
        sb = json_object_get(b, "io_service_bytes_recursive");
        assert_int_equal(json_array_size(sb), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(sb, 0), "op")),
                            "read");
        assert_int_equal(json_integer_value(json_object_get(json_array_get(sb, 0), "major")), 259);
        assert_int_equal(
            json_integer_value(json_object_get(
                json_array_get(json_object_get(b, "io_serviced_recursive"), 1), "value")),
            4);
        json_decref(b);

        json_t *net = stats_parse_net_dev(
            "Inter-|   Receive                            |  Transmit\n"
            " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets "
            "errs drop fifo colls carrier compressed\n"
            "    lo:     100       1    0    0    0     0          0         0      100       1 "
            "   0    0    0     0       0          0\n"
            "  eth0:    1500      10    1    2    0     0          0         0     3000      20 "
            "   3    4    0     0       0          0\n");
        assert_int_equal(json_object_size(net), 1);
        json_t *eth = json_object_get(net, "eth0");
        assert_int_equal(json_integer_value(json_object_get(eth, "rx_bytes")), 1500);
        assert_int_equal(json_integer_value(json_object_get(eth, "rx_dropped")), 2);
        assert_int_equal(json_integer_value(json_object_get(eth, "tx_bytes")), 3000);
        assert_int_equal(json_integer_value(json_object_get(eth, "tx_dropped")), 4);
        json_decref(net);
}

static void test_stats_docker_json(void **state)
{
        struct stats_sample prev = {
            .read_ns = 1000000000,
            .cg = json_loads("{\"cpu\":{\"usage\":{\"total\":1000,\"kernel\":400,\"user\":600}}}",
                             0, NULL),
            .system_cpu_ns = 50000,
            .online_cpus = 2,
        };
        struct stats_sample cur = {
            .read_ns = 2000000000,
            .cg = json_loads("{\"cpu\":{\"usage\":{\"total\":3000,\"kernel\":1000,\"user\":2000},"
                             "\"throttling\":{\"periods\":5,\"throttledPeriods\":1,"
                             "\"throttledTime\":7}},"
                             "\"memory\":{\"usage\":{\"usage\":4096,\"limit\":-1,\"max\":8192},"
                             "\"raw\":{\"cache\":1024,\"total_inactive_file\":512}},"
                             "\"pids\":{\"current\":3,\"limit\":100}}",
                             0, NULL),
            .percpu = json_pack("[I,I]", (json_int_t)1000, (json_int_t)2000),
            .system_cpu_ns = 90000,
            .online_cpus = 2,
            .mem_total = 1 << 30,
        };
        json_t *o = stats_docker_json(&cur, &prev, "abc", "web");
        assert_string_equal(json_string_value(json_object_get(o, "name")), "/web");
        assert_string_equal(json_string_value(json_object_get(o, "id")), "abc");
        assert_string_equal(json_string_value(json_object_get(o, "read")),
                            "1970-01-01T00:00:02.000000000Z");
        json_t *cpu = json_object_get(o, "cpu_stats");
        assert_int_equal(
            json_integer_value(json_object_get(json_object_get(cpu, "cpu_usage"), "total_usage")),
            3000);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(cpu, "cpu_usage"),
                                                            "usage_in_kernelmode")),
                         1000);
        assert_int_equal(
            json_array_size(json_object_get(json_object_get(cpu, "cpu_usage"), "percpu_usage")), 2);
        assert_int_equal(json_integer_value(json_object_get(cpu, "system_cpu_usage")), 90000);
        assert_int_equal(json_integer_value(json_object_get(cpu, "online_cpus")), 2);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(cpu, "throttling_data"),
                                                            "throttled_time")),
                         7);
        json_t *pre = json_object_get(o, "precpu_stats");
        assert_int_equal(
            json_integer_value(json_object_get(json_object_get(pre, "cpu_usage"), "total_usage")),
            1000);
        assert_int_equal(json_integer_value(json_object_get(pre, "system_cpu_usage")), 50000);
        json_t *mem = json_object_get(o, "memory_stats");
        assert_int_equal(json_integer_value(json_object_get(mem, "usage")), 4096);
        assert_int_equal(json_integer_value(json_object_get(mem, "max_usage")), 8192);
        /* no limit: the host's memory, like docker */
        assert_int_equal(json_integer_value(json_object_get(mem, "limit")), 1 << 30);
        assert_int_equal(
            json_integer_value(json_object_get(json_object_get(mem, "stats"), "cache")), 1024);
        json_t *pids = json_object_get(o, "pids_stats");
        assert_int_equal(json_integer_value(json_object_get(pids, "current")), 3);
        assert_int_equal(json_integer_value(json_object_get(pids, "limit")), 100);
        assert_non_null(
            json_object_get(json_object_get(o, "blkio_stats"), "io_service_bytes_recursive"));
        assert_null(json_object_get(o, "networks"));
        json_decref(o);

        /* no previous sample: docker's zero time and zero precpu */
        o = stats_docker_json(&cur, NULL, "abc", "/web");
        assert_string_equal(json_string_value(json_object_get(o, "preread")),
                            "0001-01-01T00:00:00Z");
        assert_string_equal(json_string_value(json_object_get(o, "name")), "/web");
        assert_null(json_object_get(json_object_get(o, "precpu_stats"), "system_cpu_usage"));
        json_decref(o);
        /* a limit below the host's memory is kept */
        json_object_set_new(json_object_get(json_object_get(cur.cg, "memory"), "usage"), "limit",
                            json_integer(67108864));
        o = stats_docker_json(&cur, &prev, "abc", "web");
        assert_int_equal(
            json_integer_value(json_object_get(json_object_get(o, "memory_stats"), "limit")),
            67108864);
        json_decref(o);
        stats_sample_release(&cur);
        stats_sample_release(&prev);
}

static void test_stats_start_baseline(void **state)
{
        struct stats_sample cur = {
            .read_ns = 110LL * 1000000000,
            .started_ns = 100LL * 1000000000,
            .system_cpu_ns = 1000LL * 1000000000,
            .online_cpus = 2,
        };
        struct stats_sample base;
        stats_start_baseline(&cur, &base);
        assert_true(base.read_ns == cur.started_ns);
        /* 10 s of wall time on 2 cpus: 20 s of host cpu time earlier */
        assert_true(base.system_cpu_ns == 980LL * 1000000000);
        json_t *o = stats_docker_json(&cur, &base, "id", "n");
        json_t *pre = json_object_get(o, "precpu_stats");
        assert_int_equal(
            json_integer_value(json_object_get(json_object_get(pre, "cpu_usage"), "total_usage")),
            0);
        json_decref(o);
        stats_sample_release(&base);
        cur.started_ns = 0;
        stats_start_baseline(&cur, &base);
        assert_true(base.read_ns == 0);
}

/* ---------------------------------------------------------------- volumes */

static void test_volumes(void **state)
{
        char dir[] = "/tmp/berth-test-volumes-XXXXXX";
        assert_non_null(mkdtemp(dir));
        struct daemon d = {.data_root = dir};
        struct berth_error *err = NULL;
        assert_int_equal(volumes_open(&d, &d.volumes, NULL), 0);
        json_t *v = NULL;
        json_t *labels = json_pack("{s:s}", "team", "a");
        assert_int_equal(volumes_create(d.volumes, "data", NULL, labels, NULL, &v, NULL), 0);
        json_decref(labels);
        assert_string_equal(json_string_value(json_object_get(v, "Driver")), "local");
        char *mp = xasprintf("%s/volumes/data/_data", dir);
        assert_string_equal(json_string_value(json_object_get(v, "Mountpoint")), mp);
        assert_int_equal(access(mp, F_OK), 0);
        json_decref(v);
        /* a file inside counts in its size */
        char *file = xasprintf("%s/f", mp);
        FILE *f = fopen(file, "we");
        fputs("0123456789", f);
        fclose(f);
        assert_int_equal(volumes_inspect(d.volumes, "data", true, &v, NULL), 0);
        assert_int_equal(
            json_integer_value(json_object_get(json_object_get(v, "UsageData"), "Size")), 10);
        json_decref(v);
        /* bad names, drivers and options */
        assert_int_equal(volumes_create(d.volumes, "a", NULL, NULL, NULL, NULL, &err), -EINVAL);
        assert_non_null(strstr(err->msg, "invalid characters"));
        berth_error_free(TAKE_PTR(err));
        assert_int_equal(volumes_create(d.volumes, "../x", NULL, NULL, NULL, NULL, NULL), -EINVAL);
        assert_int_equal(volumes_create(d.volumes, "ok1", "nfs", NULL, NULL, NULL, NULL), -ENOENT);
        /* an anonymous volume used by a container */
        char *name = NULL, *amp = NULL;
        assert_int_equal(volumes_get_or_create(&d, NULL, "c1", &name, &amp, NULL), 0);
        assert_int_equal(strlen(name), 64);
        assert_true(volumes_is_anonymous(d.volumes, name));
        assert_int_equal(volumes_ref(d.volumes, "data", "c1", NULL), 0);
        assert_int_equal(volumes_remove(d.volumes, "data", false, &err), -EBUSY);
        assert_non_null(strstr(err->msg, "volume is in use - [c1]"));
        berth_error_free(TAKE_PTR(err));
        /* list filters */
        json_t *fl = filters("{\"dangling\": [\"true\"]}");
        assert_int_equal(volumes_list(d.volumes, fl, &v, NULL), 0);
        assert_int_equal(json_array_size(json_object_get(v, "Volumes")), 0);
        json_decref(v);
        json_decref(fl);
        fl = filters("{\"label\": [\"team=a\"]}");
        assert_int_equal(volumes_list(d.volumes, fl, &v, NULL), 0);
        assert_int_equal(json_array_size(json_object_get(v, "Volumes")), 1);
        json_decref(v);
        json_decref(fl);
        fl = filters("{\"nope\": [\"x\"]}");
        assert_int_equal(volumes_list(d.volumes, fl, &v, NULL), -EINVAL);
        json_decref(fl);
        /* prune: nothing while referenced; then only the anonymous one without all=true */
        assert_int_equal(volumes_prune(d.volumes, NULL, &v, NULL), 0);
        assert_int_equal(json_array_size(json_object_get(v, "VolumesDeleted")), 0);
        json_decref(v);
        volumes_unref_container(d.volumes, "c1");
        assert_int_equal(volumes_prune(d.volumes, NULL, &v, NULL), 0);
        assert_int_equal(json_array_size(json_object_get(v, "VolumesDeleted")), 1);
        assert_string_equal(
            json_string_value(json_array_get(json_object_get(v, "VolumesDeleted"), 0)), name);
        json_decref(v);
        assert_int_equal(access(amp, F_OK), -1);
        /* reopening finds what is on disk */
        volumes_free(d.volumes);
        assert_int_equal(volumes_open(&d, &d.volumes, NULL), 0);
        assert_int_equal(volumes_inspect(d.volumes, "data", false, &v, NULL), 0);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(v, "Labels"), "team")), "a");
        json_decref(v);
        fl = filters("{\"all\": [\"true\"]}");
        assert_int_equal(volumes_prune(d.volumes, fl, &v, NULL), 0);
        assert_int_equal(json_integer_value(json_object_get(v, "SpaceReclaimed")), 10);
        json_decref(v);
        json_decref(fl);
        assert_int_equal(volumes_remove(d.volumes, "data", false, NULL), -ENOENT);
        assert_int_equal(volumes_remove(d.volumes, "data", true, NULL), 0);
        volumes_free(d.volumes);
        assert_int_equal(berth_rm_rf_at(AT_FDCWD, dir, NULL), 0);
        free(mp);
        free(file);
        free(name);
        free(amp);
}

static void test_volume_options(void **state)
{
        unsigned long flags;
        char *data;
        assert_int_equal(volumes_parse_mount_options("bind,ro,size=1m,mode=0755", &flags, &data),
                         0);
        assert_true(flags == (MS_BIND | MS_RDONLY));
        assert_string_equal(data, "size=1m,mode=0755");
        free(data);
        assert_int_equal(volumes_parse_mount_options(NULL, &flags, &data), 0);
        assert_true(flags == 0);
        assert_string_equal(data, "");
        free(data);
        assert_int_equal(volumes_parse_mount_options("ro,rw,nosuid", &flags, &data), 0);
        assert_true(flags == MS_NOSUID);
        free(data);
        json_t *ok = filters("{\"type\": \"tmpfs\", \"device\": \"tmpfs\", \"o\": \"size=1m\"}");
        assert_int_equal(volumes_check_options(ok, NULL), 0);
        assert_int_equal(volumes_check_options(NULL, NULL), 0);
        json_t *bad = filters("{\"type\": \"tmpfs\", \"color\": \"red\"}");
        struct berth_error *err = NULL;
        assert_int_equal(volumes_check_options(bad, &err), -EINVAL);
        assert_non_null(strstr(err->msg, "invalid option key"));
        berth_error_free(err);
        json_t *nodev = filters("{\"type\": \"tmpfs\"}");
        assert_int_equal(volumes_check_options(nodev, NULL), -EINVAL);
        json_decref(ok);
        json_decref(bad);
        json_decref(nodev);
}

/* --add-host entries: docker's accepted forms and messages, and the hosts file's layout. */
static void test_etc_hosts(void **state)
{
        (void)state;
        static const struct {
                const char *entry, *error;
        } bad[] = {
            {"bad", "bad format for add-host: \"bad\""},
            {":1.2.3.4", "bad format for add-host: \":1.2.3.4\""},
            {"x:", "bad format for add-host: \"x:\""},
            {"x:notip", "invalid IP address in add-host: \"notip\""},
            {"x:1.2.3.4:5", "invalid IP address in add-host: \"1.2.3.4:5\""},
            {"gw:host-gateway", "host-gateway is not supported"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                _cleanup_json_ json_t *a = json_pack("[s]", bad[i].entry);
                struct etc_hosts_entry *v = NULL;
                size_t n = 0;
                struct berth_error *err = NULL;
                assert_int_equal(etc_hosts_parse_extra(a, NULL, &v, &n, &err), -EINVAL);
                if (!strstr(err->msg, bad[i].error))
                        fail_msg("%s: %s", bad[i].entry, err->msg);
                berth_error_free(err);
        }
        _cleanup_json_ json_t *ok =
            json_pack("[s,s,s,s]", "foo:1.2.3.4", "six:::1", "eq=10.0.0.1", "br:[fe80::1]");
        struct etc_hosts_entry *v = NULL;
        size_t n = 0;
        assert_int_equal(etc_hosts_parse_extra(ok, NULL, &v, &n, NULL), 0);
        assert_int_equal(n, 4);
        struct etc_hosts_entry own[] = {{"172.17.0.2", "abc123 web"}};
        _cleanup_free_ char *text = etc_hosts_render(v, n, own, 1);
        assert_string_equal(text, "127.0.0.1\tlocalhost\n"
                                  "::1\tlocalhost ip6-localhost ip6-loopback\n"
                                  "fe00::0\tip6-localnet\n"
                                  "ff00::0\tip6-mcastprefix\n"
                                  "ff02::1\tip6-allnodes\n"
                                  "ff02::2\tip6-allrouters\n"
                                  "1.2.3.4\tfoo\n"
                                  "::1\tsix\n"
                                  "10.0.0.1\teq\n"
                                  "fe80::1\tbr\n"
                                  "172.17.0.2\tabc123 web\n");
        etc_hosts_entries_free(v, n);
        assert_int_equal(etc_hosts_parse_extra(NULL, NULL, &v, &n, NULL), 0);
        assert_int_equal(n, 0);
        etc_hosts_entries_free(v, n);
}

static void test_logs_follow_after_tail(void **state)
{
        char dir[] = "/tmp/berth-test-follow2-XXXXXX";
        assert_non_null(mkdtemp(dir));
        char *path = xasprintf("%s/c-json.log", dir);
        write_log(path, 0, 3);
        /* the shim is half-way through a line when the client comes */
        FILE *f = fopen(path, "ae");
        fputs("{\"log\":\"comp", f);
        fclose(f);
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        struct follow_arg a = {.path = path, .fd = p[1], .running = true, .tail = 1};
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, follow_thread, &a), 0);
        char buf[8192] = "";
        size_t len = 0;
        read_until(p[0], buf, &len, sizeof(buf), "line 2\n");
        f = fopen(path, "ae");
        fputs("lete\\n\",\"stream\":\"stdout\",\"time\":\"2024-01-01T00:02:00Z\"}\n", f);
        fclose(f);
        read_until(p[0], buf, &len, sizeof(buf), "complete\n");
        a.running = false;
        pthread_join(th, NULL);
        close(p[0]);
        assert_string_equal(buf, "line 2\ncomplete\n");
        assert_int_equal(berth_rm_rf_at(AT_FDCWD, dir, NULL), 0);
        free(path);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_events_shape),
            cmocka_unit_test(test_events_filters),
            cmocka_unit_test(test_events_time),
            cmocka_unit_test(test_events_stream),
            cmocka_unit_test(test_logs_parse_format),
            cmocka_unit_test(test_logs_stream),
            cmocka_unit_test(test_logs_follow_rotation),
            cmocka_unit_test(test_logs_tail_big),
            cmocka_unit_test(test_stats_parsers),
            cmocka_unit_test(test_stats_docker_json),
            cmocka_unit_test(test_stats_start_baseline),
            cmocka_unit_test(test_volumes),
            cmocka_unit_test(test_etc_hosts),
            cmocka_unit_test(test_volume_options),
            cmocka_unit_test(test_logs_follow_after_tail),
            cmocka_unit_test(test_logs_parse_agrees),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
