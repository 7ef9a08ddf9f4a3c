/* libFuzzer: berthd's HTTP layer (src/daemon/http/server.c) end to end. Each input is the raw bytes
 * a client sends on the socket; they go through libmicrohttpd, berthd's framing checks (ambiguous
 * Content-Length + chunked, sizes), version prefix stripping, route matching (`{}` and `{*}`
 * patterns like the real tables) and every request accessor (query, bools, ints, filters, JSON
 * body, params, headers), and a handler that answers with each reply kind. The server must never
 * crash nor hang on client input. */
#include "daemon/http/api.h"
#include "daemon/daemon.h"
#include "daemon/http/server.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

static void produce(int fd, void *ud)
{
        const char *s = ud;

        if (write(fd, s, strlen(s)) < 0)
                return;
}

static void hijacked(int sock, void *ud)
{
        char buf[256];

        if (read(sock, buf, sizeof(buf)) > 0 && write(sock, "ok", 2) < 0)
                buf[0] = '\0';
        close(sock);
}

/* every accessor, then a reply chosen by the path */
static void echo(struct api_req *r)
{
        struct berth_error *err = NULL;
        _cleanup_json_ json_t *filters = NULL, *body = NULL;
        long long n;
        size_t len;
        const char *p = api_path(r);

        (void)api_version(r);
        (void)api_method(r);
        for (unsigned i = 0; i < 6; i++)
                (void)api_param(r, i);
        (void)api_query(r, "name");
        (void)api_query_bool(r, "all", false);
        (void)api_header(r, "Content-Type");
        (void)api_body(r, &len);
        if (api_query_int(r, "limit", -1, &n, &err) < 0) {
                api_reply_error(r, err);
                return;
        }
        if (api_query_filters(r, &filters, &err) < 0) {
                api_reply_error(r, err);
                return;
        }
        if (api_body_json(r, &body, &err) < 0) {
                api_reply_error(r, err);
                return;
        }
        api_set_header(r, "X-Fuzz", "1");
        if (strstr(p, "/attach"))
                api_reply_hijack(r, NULL, hijacked, NULL, NULL);
        else if (strstr(p, "/logs"))
                api_reply_stream(r, 200, "text/plain", produce, xstrdup("streamed\n"), free);
        else if (strstr(p, "/kill"))
                api_reply_empty(r, 204);
        else if (strstr(p, "/wait"))
                api_reply_errorf(r, 409, "conflict `%s`", p);
        else
                api_reply_json(r, 200, json_pack("{s:O}", "filters", filters));
}

static void stream_in(struct api_req *r)
{
        char buf[4096];
        int fd = api_body_fd(r);
        size_t total = 0;
        ssize_t k;

        while ((k = read(fd, buf, sizeof(buf))) > 0)
                total += (size_t)k;
        api_reply_json(r, 200, json_pack("{s:I}", "read", (json_int_t)total));
}

/* the shapes of the real tables (containers, images with slashes, volumes, exec) */
const struct api_route api_routes_system[] = {
    {"GET", "/info", echo, false},
    {"GET", "/events", echo, false},
    {"POST", "/containers/create", echo, false},
    {"GET", "/containers/json", echo, false},
    {"GET", "/containers/{}/json", echo, false},
    {"POST", "/containers/{}/attach", echo, false},
    {"GET", "/containers/{}/logs", echo, false},
    {"POST", "/containers/{}/kill", echo, false},
    {"POST", "/containers/{}/wait", echo, false},
    {"DELETE", "/containers/{}", echo, false},
    {"PUT", "/containers/{}/archive", stream_in, true},
    {"HEAD", "/containers/{}/archive", echo, false},
    {"POST", "/exec/{}/start", echo, false},
    {"GET", "/images/{*}/json", echo, false},
    {"GET", "/images/{*}/history", echo, false},
    {"POST", "/images/{*}/tag", echo, false},
    {"DELETE", "/images/{*}", echo, false},
    {"POST", "/images/load", stream_in, true},
    {"GET", "/volumes/{}", echo, false},
    {NULL, NULL, NULL, false},
};

const struct api_route api_routes_containers[] = {{NULL, NULL, NULL, false}};
const struct api_route api_routes_images[] = {{NULL, NULL, NULL, false}};
const struct api_route api_routes_volumes[] = {{NULL, NULL, NULL, false}};
const struct api_route api_routes_networks[] = {{NULL, NULL, NULL, false}};
const struct api_route api_routes_build[] = {{NULL, NULL, NULL, false}};

static struct daemon d;
static struct server *srv;

static void cleanup(void)
{
        unlink(d.socket_path);
        rmdir(d.data_root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        struct berth_error *err = NULL;
        char dir[] = "/tmp/fuzz-api-XXXXXX";

        signal(SIGPIPE, SIG_IGN);
        if (!mkdtemp(dir))
                abort();
        d.data_root = xstrdup(dir);
        d.socket_path = xasprintf("%s/s.sock", dir);
        if (server_start(&d, &srv, &err) < 0) {
                fprintf(stderr, "server: %s\n", err->msg);
                abort();
        }
        atexit(cleanup);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        struct pollfd p;
        char buf[65536];
        int sp[2];

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
                abort();
        if (server_add_connection(srv, sp[0], (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                close(sp[1]);
                return 0;
        }
        for (size_t off = 0; off < size;) {
                ssize_t w = write(sp[1], data + off, size - off);
                if (w <= 0)
                        break;
                off += (size_t)w;
        }
        shutdown(sp[1], SHUT_WR);
        /* the answer (or the close); a hang here is a bug the fuzzer reports as a timeout */
        p = (struct pollfd){.fd = sp[1], .events = POLLIN};
        while (poll(&p, 1, 5000) > 0) {
                if (read(sp[1], buf, sizeof(buf)) <= 0)
                        break;
        }
        close(sp[1]);
        /* the connection's threads free what they hold after the client sees EOF: wait, so the
         * per-input leak check does not count memory still on its way to free() */
        for (int i = 0; i < 5000 && server_busy(srv); i++)
                usleep(1000);
        return 0;
}
