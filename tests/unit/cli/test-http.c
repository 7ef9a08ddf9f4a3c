/* cli/http.c and the attach demultiplexer: answers parsed from a real unix socket. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>

#include "cli/cli.h"
#include "cli/internal.h"

struct server {
        int lfd;
        const char *answer; /* written after the first request head arrives */
        size_t answer_len;
        char request[8192];
};

static void *serve(void *arg)
{
        struct server *s = arg;
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
        size_t got = 0;
        while (got < sizeof(s->request) - 1 && !strstr(s->request, "\r\n\r\n")) {
                ssize_t n = read(fd, s->request + got, sizeof(s->request) - 1 - got);
                if (n <= 0)
                        break;
                got += (size_t)n;
                s->request[got] = '\0';
        }
        /* dribble the answer in small pieces: the parser must not depend on segment sizes */
        for (size_t off = 0; off < s->answer_len; off += 7) {
                size_t k = s->answer_len - off < 7 ? s->answer_len - off : 7;
                if (write(fd, s->answer + off, k) < 0)
                        break;
        }
        close(fd);
        return NULL;
}

static char sock_path[108];

static struct http_conn *start(struct server *s, pthread_t *th, const char *answer, size_t len)
{
        snprintf(sock_path, sizeof(sock_path), "/tmp/berth-test-http-%d.sock", getpid());
        unlink(sock_path);
        s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, sock_path);
        assert_int_equal(bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(s->lfd, 1), 0);
        s->answer = answer;
        s->answer_len = len;
        s->request[0] = '\0';
        pthread_create(th, NULL, serve, s);
        struct http_conn *c = NULL;
        struct berth_error *e = NULL;
        assert_int_equal(http_connect(sock_path, &c, &e), 0);
        return c;
}

static void finish(struct server *s, pthread_t th, struct http_conn *c)
{
        http_conn_free(c);
        pthread_join(th, NULL);
        close(s->lfd);
        unlink(sock_path);
}

static void test_chunked_keepalive(void **state)
{
        static const char ans[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n"
                                  "5\r\n{\"a\":\r\n3\r\n1}\n\r\n0\r\n\r\n"
                                  "HTTP/1.1 404 Not Found\r\nContent-Length: 27\r\n\r\n"
                                  "{\"message\":\"No such thing\"}";
        struct server s;
        pthread_t th;
        struct http_conn *c = start(&s, &th, ans, sizeof(ans) - 1);
        struct berth_error *e = NULL;
        assert_int_equal(http_send(c, "POST", "/containers/create?name=x", NULL, "{}", 2, NULL, &e),
                         0);
        struct http_resp r;
        assert_int_equal(http_read_head(c, &r, &e), 0);
        assert_int_equal(r.status, 200);
        assert_true(r.chunked);
        assert_string_equal(r.content_type, "application/json");
        char *body = NULL;
        size_t len = 0;
        assert_int_equal(http_read_body_all(c, &r, 1 << 20, &body, &len, &e), 0);
        assert_string_equal(body, "{\"a\":1}\n");
        free(body);
        http_resp_release(&r);
        /* the next answer on the same connection */
        assert_int_equal(http_read_head(c, &r, &e), 0);
        assert_int_equal(r.status, 404);
        assert_int_equal(http_read_body_all(c, &r, 1 << 20, &body, &len, &e), 0);
        char *m = cli_error_message(body, len);
        assert_string_equal(m, "No such thing");
        free(m);
        free(body);
        http_resp_release(&r);
        assert_non_null(strstr(s.request, "POST /v1.43/containers/create?name=x HTTP/1.1\r\n"));
        assert_non_null(strstr(s.request, "Content-Length: 2\r\n"));
        finish(&s, th, c);
}

static void test_lines(void **state)
{
        static const char ans[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "4\r\n{\"x\"\r\n6\r\n:1}\n{}\r\n1\r\n\n\r\n0\r\n\r\n";
        struct server s;
        pthread_t th;
        struct http_conn *c = start(&s, &th, ans, sizeof(ans) - 1);
        struct berth_error *e = NULL;
        assert_int_equal(http_send(c, "GET", "/events", NULL, NULL, 0, NULL, &e), 0);
        struct http_resp r;
        assert_int_equal(http_read_head(c, &r, &e), 0);
        char *line = NULL;
        size_t cap = 0;
        assert_int_equal(http_read_line(c, &r, &line, &cap, &e), 7);
        assert_string_equal(line, "{\"x\":1}");
        assert_int_equal(http_read_line(c, &r, &line, &cap, &e), 2);
        assert_string_equal(line, "{}");
        assert_int_equal(http_read_line(c, &r, &line, &cap, &e), 0);
        free(line);
        http_resp_release(&r);
        finish(&s, th, c);
}

static void test_hijack_and_demux(void **state)
{
        /* 101 then a multiplexed stream: stdout "hi\n", stderr "err" */
        static const char ans[] = "HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\n"
                                  "Upgrade: tcp\r\n\r\n"
                                  "\x01\0\0\0\0\0\0\x03hi\n\x02\0\0\0\0\0\0\x03"
                                  "err";
        struct server s;
        pthread_t th;
        struct http_conn *c = start(&s, &th, ans, sizeof(ans) - 1);
        struct berth_error *e = NULL;
        assert_int_equal(http_send(c, "POST", "/containers/x/attach?stream=1", NULL, NULL, 0,
                                   "Connection: Upgrade\r\nUpgrade: tcp\r\n", &e),
                         0);
        struct http_resp r;
        assert_int_equal(http_read_head(c, &r, &e), 0);
        assert_int_equal(r.status, 101);
        http_resp_release(&r);
        int out[2], err[2];
        assert_int_equal(pipe(out), 0);
        assert_int_equal(pipe(err), 0);
        struct demux d;
        demux_init(&d);
        char buf[64];
        ssize_t n;
        while ((n = http_raw_read(c, buf, 5)) > 0)
                assert_int_equal(demux_feed(&d, buf, (size_t)n, out[1], err[1]), 0);
        close(out[1]);
        close(err[1]);
        n = read(out[0], buf, sizeof(buf));
        assert_int_equal(n, 3);
        assert_memory_equal(buf, "hi\n", 3);
        n = read(err[0], buf, sizeof(buf));
        assert_int_equal(n, 3);
        assert_memory_equal(buf, "err", 3);
        close(out[0]);
        close(err[0]);
        assert_non_null(strstr(s.request, "Upgrade: tcp\r\n"));
        finish(&s, th, c);
        /* a bad stream id is a protocol error */
        demux_init(&d);
        assert_int_equal(demux_feed(&d, "\x09\0\0\0\0\0\0\x01x", 9, 1, 2), -EPROTO);
}

static void test_bad_answers(void **state)
{
        static const char ans[] = "SMTP ready\r\n";
        struct server s;
        pthread_t th;
        struct http_conn *c = start(&s, &th, ans, sizeof(ans) - 1);
        struct berth_error *e = NULL;
        assert_int_equal(http_send(c, "GET", "/_ping", NULL, NULL, 0, NULL, &e), 0);
        struct http_resp r;
        assert_int_equal(http_read_head(c, &r, &e), -EPROTO);
        assert_non_null(strstr(e->msg, "bad answer status line"));
        berth_error_free(e);
        finish(&s, th, c);
        static const char cut[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
        c = start(&s, &th, cut, sizeof(cut) - 1);
        e = NULL;
        assert_int_equal(http_send(c, "GET", "/x", NULL, NULL, 0, NULL, &e), 0);
        assert_int_equal(http_read_head(c, &r, &e), 0);
        char *body = NULL;
        assert_int_equal(http_read_body_all(c, &r, 100, &body, NULL, &e), -ECONNRESET);
        berth_error_free(e);
        http_resp_release(&r);
        finish(&s, th, c);
}

static void test_detach_keys(void **state)
{
        unsigned char keys[16];
        assert_int_equal(berth_detach_keys_parse(NULL, keys, sizeof(keys)), 2);
        assert_int_equal(keys[0], 0x10);
        assert_int_equal(keys[1], 0x11);
        assert_int_equal(berth_detach_keys_parse("a,ctrl-@,ctrl-[", keys, sizeof(keys)), 3);
        assert_memory_equal(keys, "a\0\x1b", 3);
        assert_int_equal(berth_detach_keys_parse("ctrl-pp", keys, sizeof(keys)), 0);
        /* moby/term: any case, an empty key is unknown, "" is the default */
        assert_int_equal(berth_detach_keys_parse("CTRL-X,q", keys, sizeof(keys)), 2);
        assert_memory_equal(keys, "\x18q", 2);
        assert_int_equal(berth_detach_keys_parse("a,,b", keys, sizeof(keys)), 0);
        assert_int_equal(berth_detach_keys_parse("ctrl-1", keys, sizeof(keys)), 0);
        assert_int_equal(berth_detach_keys_parse("a,b,c", keys, 2), 0);
        assert_int_equal(berth_detach_keys_parse("", keys, sizeof(keys)), 2);
        berth_detach_keys_parse(NULL, keys, sizeof(keys));
        size_t matched = 0;
        bool detached = false;
        char buf[64] = "ab\x10"
                       "c\x10";
        /* a lone ctrl-p goes through once the next byte shows it is not the sequence; a
         * trailing one is held back */
        size_t n = detach_filter(keys, 2, &matched, buf, 5, &detached);
        assert_int_equal(n, 4);
        assert_memory_equal(buf,
                            "ab\x10"
                            "c",
                            4);
        assert_int_equal(matched, 1);
        assert_false(detached);
        memcpy(buf, "\x11zz", 3);
        n = detach_filter(keys, 2, &matched, buf, 3, &detached);
        assert_true(detached);
        assert_int_equal(n, 0);
        matched = 0;
        detached = false;
        memcpy(buf, "\x10x", 2);
        n = detach_filter(keys, 2, &matched, buf, 2, &detached);
        assert_int_equal(n, 2);
        assert_memory_equal(buf, "\x10x", 2);
        assert_false(detached);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_chunked_keepalive), cmocka_unit_test(test_lines),
            cmocka_unit_test(test_hijack_and_demux),  cmocka_unit_test(test_bad_answers),
            cmocka_unit_test(test_detach_keys),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
