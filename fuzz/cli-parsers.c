/* libFuzzer target for the berth CLI's parsers: Go templates over JSON, HTTP answers (status
 * line, headers, sized/chunked bodies, lines), docker's attach stream framing and detach keys,
 * run/create flags → create bodies, and progress messages. The first byte picks the parser. */
#include <stdint.h>
#include <sys/socket.h>

#include "cli/cli.h"
#include "cli/internal.h"

static void fuzz_template(const char *s, size_t n)
{
        /* "template\nJSON" */
        const char *nl = memchr(s, '\n', n);
        _cleanup_free_ char *t = xstrndup(s, nl ? (size_t)(nl - s) : n);
        json_t *data = nl ? json_loadb(nl + 1, n - (size_t)(nl + 1 - s), 0, NULL) : NULL;
        if (!data)
                data = json_pack("{s:s,s:{s:b,s:i},s:[s,s],s:{s:s}}", "Id", "x", "State", "Running",
                                 1, "Pid", 3, "L", "a", "b", "M", "k", "v");
        struct tmpl *tp = NULL;
        struct berth_error *e = NULL;
        if (tmpl_parse(t, &tp, &e) == 0) {
                char *out = NULL;
                tmpl_exec(tp, data, &out, &e);
                free(out);
                tmpl_free(tp);
        }
        berth_error_free(e);
        json_decref(data);
}

static void fuzz_http(const char *s, size_t n)
{
        int sp[2];
        if (n > 100000 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
                return;
        int sz = 1 << 20;
        setsockopt(sp[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
        setsockopt(sp[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
        if (write(sp[1], s, n) != (ssize_t)n) {
                close(sp[0]);
                close(sp[1]);
                return;
        }
        close(sp[1]);
        struct http_conn *c = http_conn_from_fd(sp[0]);
        struct berth_error *e = NULL;
        for (int i = 0; i < 3; i++) {
                struct http_resp r = {0};
                if (http_read_head(c, &r, &e) < 0)
                        break;
                char *h = http_resp_header(&r, "X-Docker-Container-Path-Stat");
                free(h);
                if (i == 1) {
                        char *line = NULL;
                        size_t cap = 0;
                        while (http_read_line(c, &r, &line, &cap, &e) > 0)
                                ;
                        free(line);
                } else {
                        char *body = NULL;
                        http_read_body_all(c, &r, 1 << 20, &body, NULL, &e);
                        free(body);
                }
                http_resp_release(&r);
                berth_error_free(e);
                e = NULL;
        }
        berth_error_free(e);
        http_conn_free(c);
}

static void fuzz_stream(const char *s, size_t n)
{
        struct demux d;
        demux_init(&d);
        int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        demux_feed(&d, s, n, devnull, devnull);
        close(devnull);
        unsigned char keys[16];
        _cleanup_free_ char *spec = xstrndup(s, n);
        berth_detach_keys_parse(spec, keys, sizeof(keys)); /* the input as a --detach-keys value */
        size_t nk =
            berth_detach_keys_parse(n > 0 && s[0] == 'c' ? "ctrl-a,x" : NULL, keys, sizeof(keys));
        size_t matched = 0;
        bool detached = false;
        char buf[32768];
        size_t k = n < sizeof(buf) ? n : sizeof(buf);
        memcpy(buf, s, k);
        detach_filter(keys, nk, &matched, buf, k, &detached);
}

static void fuzz_args(const char *s, size_t n)
{
        /* argv after "run", separated by '\x01' */
        char *argv[64];
        int argc = 0;
        _cleanup_free_ char *copy = xmalloc(n + 1);
        memcpy(copy, s, n);
        copy[n] = '\0';
        argv[argc++] = "run";
        for (char *p = copy; argc < 63;) {
                argv[argc++] = p;
                char *sep = strchr(p, '\x01');
                if (!sep)
                        break;
                *sep = '\0';
                p = sep + 1;
        }
        argv[argc] = NULL;
        for (int i = 1; i < argc; i++)
                if (strstr(argv[i], "file"))
                        return; /* --env-file/--label-file would read files the input names */
        struct cli_args a;
        struct berth_error *e = NULL;
        if (cli_args_parse(&a, cli_create_flags, cli_create_n_flags, argc, argv, false, &e) == 0) {
                json_t *body = NULL;
                if (a.pos && a.pos[0])
                        cli_create_body(&a, &body, &e);
                json_decref(body);
                cli_args_release(&a);
        }
        berth_error_free(e);
        int64_t v;
        cli_parse_bytes(argv[argc - 1], &v);
        cli_parse_duration(argv[argc - 1], &v);
        fmt_parse_time(argv[argc - 1], &v);
}

static void fuzz_progress(const char *s, size_t n)
{
        FILE *out = fopen("/dev/null", "we");
        if (!out)
                return;
        struct progress *p = progress_new(out, n % 2);
        const char *end = s + n;
        while (s < end) {
                const char *nl = memchr(s, '\n', (size_t)(end - s));
                size_t l = nl ? (size_t)(nl - s) : (size_t)(end - s);
                json_t *m = json_loadb(s, l, 0, NULL);
                if (m) {
                        struct berth_error *e = NULL;
                        progress_msg(p, m, &e);
                        berth_error_free(e);
                        json_decref(m);
                }
                s += l + 1;
        }
        progress_free(p);
        fclose(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1)
                return 0;
        const char *s = (const char *)data + 1;
        size_t n = size - 1;
        switch (data[0] % 5) {
        case 0:
                fuzz_template(s, n);
                break;
        case 1:
                fuzz_http(s, n);
                break;
        case 2:
                fuzz_stream(s, n);
                break;
        case 3:
                fuzz_args(s, n);
                break;
        default:
                fuzz_progress(s, n);
                break;
        }
        return 0;
}
