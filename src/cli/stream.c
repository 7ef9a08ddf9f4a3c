/* The attach/exec stream: hijacked connection ⇄ local stdio, raw terminal mode, resizes on
 * SIGWINCH, signal proxying, and docker's 8-byte-header multiplexing when there is no tty. */
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <termios.h>

#include "cli/cli.h"
#include "cli/internal.h"

int cli_hijack(const char *path, json_t *body, struct http_conn **ret, struct berth_error **err)
{
        _cleanup_conn_ struct http_conn *c = NULL;
        _cleanup_free_ char *data = body ? json_dumps(body, JSON_COMPACT) : NULL;
        struct http_resp resp = {0};
        int r = cli_request("POST", path, data ? "application/json" : "text/plain", data,
                            data ? strlen(data) : 0, -1, "Connection: Upgrade\r\nUpgrade: tcp\r\n",
                            &c, &resp, err);
        if (r < 0)
                return r;
        if (resp.status != 101 && resp.status != 200) {
                if (!resp.has_length && !resp.chunked)
                        resp.remaining = 0, resp.done = true;
                return cli_response_error(c, &resp, err);
        }
        http_resp_release(&resp);
        *ret = TAKE_PTR(c);
        return 0;
}

void demux_init(struct demux *d)
{
        *d = (struct demux){0};
}

int demux_feed(struct demux *d, const char *p, size_t n, int out_fd, int err_fd)
{
        while (n > 0) {
                if (d->left == 0) {
                        size_t need = 8 - d->hlen;
                        size_t k = n < need ? n : need;
                        memcpy(d->hdr + d->hlen, p, k);
                        d->hlen += k;
                        p += k;
                        n -= k;
                        if (d->hlen < 8)
                                return 0;
                        d->hlen = 0;
                        d->stream = d->hdr[0];
                        d->left = ((uint32_t)d->hdr[4] << 24) | ((uint32_t)d->hdr[5] << 16) |
                                  ((uint32_t)d->hdr[6] << 8) | (uint32_t)d->hdr[7];
                        if (d->stream > 3)
                                return -EPROTO;
                        continue;
                }
                size_t k = n < d->left ? n : d->left;
                int fd = d->stream == 2 ? err_fd : out_fd;
                if (d->stream != 0 && berth_write_all(fd, p, k) < 0 && errno != EPIPE)
                        return -errno;
                d->left -= (uint32_t)k;
                p += k;
                n -= k;
        }
        return 0;
}

static void send_resize(const char *resize_path)
{
        struct winsize ws;
        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0)
                return;
        if (ws.ws_row == 0 && ws.ws_col == 0)
                return;
        _cleanup_free_ char *p = xasprintf("%s?h=%u&w=%u", resize_path, ws.ws_row, ws.ws_col);
        _cleanup_error_ struct berth_error *e = NULL;
        cli_call("POST", p, NULL, NULL, NULL, &e);
}

size_t detach_filter(const unsigned char *keys, size_t nkeys, size_t *matched, char *buf,
                     size_t len, bool *ret_detached)
{
        /* bytes of a partial match are held back; a full match detaches and is not sent */
        char out[32768 + 16];
        size_t o = 0;
        for (size_t i = 0; i < len; i++) {
                unsigned char b = (unsigned char)buf[i];
                if (b == keys[*matched]) {
                        if (++*matched == nkeys) {
                                *ret_detached = true;
                                *matched = 0;
                                break;
                        }
                        continue;
                }
                for (size_t k = 0; k < *matched; k++)
                        out[o++] = (char)keys[k];
                *matched = 0;
                if (b == keys[0]) {
                        *matched = 1;
                        if (nkeys == 1) {
                                *ret_detached = true;
                                break;
                        }
                        continue;
                }
                out[o++] = (char)b;
        }
        memcpy(buf, out, o);
        return o;
}

static struct termios saved_termios;
static bool raw_mode;

static void restore_terminal(void)
{
        if (raw_mode)
                tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_termios);
        raw_mode = false;
}

int cli_pump(struct http_conn *c, const struct pump_opts *o, struct berth_error **err)
{
        int sock = http_conn_fd(c);
        if (o->tty && o->use_stdin && isatty(STDIN_FILENO) &&
            tcgetattr(STDIN_FILENO, &saved_termios) == 0) {
                struct termios raw = saved_termios;
                cfmakeraw(&raw);
                if (tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0) {
                        raw_mode = true;
                        atexit(restore_terminal);
                }
        }
        sigset_t mask;
        sigemptyset(&mask);
        if (o->tty && o->resize_path)
                sigaddset(&mask, SIGWINCH);
        if (o->proxy_id) {
                static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
                for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
                        sigaddset(&mask, sigs[i]);
        }
        sigprocmask(SIG_BLOCK, &mask, NULL);
        _cleanup_close_ int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (o->tty && o->resize_path)
                send_resize(o->resize_path);

        struct demux d;
        demux_init(&d);
        bool stdin_open = o->use_stdin, detached = false;
        unsigned char keys[16];
        size_t nkeys = berth_detach_keys_parse(o->detach_keys, keys, sizeof(keys)), matched = 0;
        char buf[32768];
        int r = 0;
        /* bytes the HTTP client already buffered belong to the stream */
        for (;;) {
                struct pollfd p[3] = {{sock, POLLIN, 0},
                                      {stdin_open ? STDIN_FILENO : -1, POLLIN, 0},
                                      {sfd, POLLIN, 0}};
                ssize_t n = http_raw_read_buffered(c, buf, sizeof(buf));
                if (n == 0) {
                        if (poll(p, 3, -1) < 0) {
                                if (errno == EINTR)
                                        continue;
                                r = berth_error_set(err, errno, "poll");
                                break;
                        }
                        if (p[2].revents & POLLIN) {
                                struct signalfd_siginfo si;
                                while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                                        if (si.ssi_signo == SIGWINCH) {
                                                send_resize(o->resize_path);
                                                continue;
                                        }
                                        _cleanup_free_ char *kp =
                                            xasprintf("/containers/%s/kill?signal=%u", o->proxy_id,
                                                      si.ssi_signo);
                                        _cleanup_error_ struct berth_error *e = NULL;
                                        cli_call("POST", kp, NULL, NULL, NULL, &e);
                                }
                        }
                        if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
                                ssize_t k = read(STDIN_FILENO, buf, sizeof(buf));
                                if (k < 0 && errno == EINTR)
                                        continue;
                                if (k <= 0) {
                                        stdin_open = false;
                                        shutdown(sock, SHUT_WR);
                                } else {
                                        size_t out = (size_t)k;
                                        if (o->tty && nkeys > 0)
                                                out = detach_filter(keys, nkeys, &matched, buf,
                                                                    (size_t)k, &detached);
                                        if (berth_write_all(sock, buf, out) < 0)
                                                stdin_open = false;
                                        if (detached)
                                                break;
                                }
                        }
                        if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        n = http_raw_read(c, buf, sizeof(buf));
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n < 0 && errno == ECONNRESET)
                                n = 0;
                        if (n < 0) {
                                r = berth_error_set(err, errno, "read the attach stream");
                                break;
                        }
                        if (n == 0)
                                break;
                }
                if (o->tty) {
                        if (berth_write_all(STDOUT_FILENO, buf, (size_t)n) < 0 && errno != EPIPE) {
                                r = berth_error_set(err, errno, "write stdout");
                                break;
                        }
                } else {
                        int k = demux_feed(&d, buf, (size_t)n, STDOUT_FILENO, STDERR_FILENO);
                        if (k < 0) {
                                r = berth_error_set(err, -k, "attach stream");
                                break;
                        }
                }
        }
        restore_terminal();
        sigprocmask(SIG_UNBLOCK, &mask, NULL);
        if (r == 0 && o->ret_detached)
                *o->ret_detached = detached;
        return r;
}
