/* The shim's one event loop: container output → json-file log and attached clients, clients'
 * input → container stdin, requests on the control channel and attach.sock, SIGCHLD → exit.
 * Single thread, level-triggered epoll, buffers allocated only while data is queued.
 */
#include "shim/internal.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#define CLIENT_QUEUE_MAX (1u << 20)  /* a client that reads nothing is dropped past this */
#define STDIN_QUEUE_MAX  (64u << 10) /* clients' input waits while the container reads none */
#define FLUSH_TIMEOUT_MS 5000        /* after exit: how long clients get to take their output */
#define READ_CHUNK       8192

enum src_kind { SRC_CTL, SRC_LISTEN, SRC_CONN, SRC_CLIENT, SRC_OUT, SRC_ERR, SRC_IN, SRC_SIG };

struct src {
        enum src_kind kind;
        int fd;
};

struct buf {
        char *data;
        size_t off, len, cap;
};

#define DETACH_KEYS_MAX 16

struct client {
        struct src src;
        struct client *next;
        bool want_in, want_out, want_err, raw;
        bool reading;
        uint32_t events;
        struct buf q;
        /* a tty client's detach sequence (docker's ctrl-p,ctrl-q by default) and how much of it
         * arrived: the matched keys are held back from the container until the sequence breaks */
        unsigned char detach_keys[DETACH_KEYS_MAX];
        size_t n_detach_keys, detach_pos;
        /* the daemon's end for this client (sent with the attach, -1 if none): told
         * {"detached": true} when the detach keys end the attach, closed when the client goes */
        int notify_fd;
};

struct conn {
        struct src src;
        struct conn *next;
};

static struct loop {
        struct shim *shim;
        int epfd;
        struct src ctl, listen, out, err, in, sig;
        bool in_registered;
        struct client *clients;
        struct conn *conns;
        /* dropped during a batch of events that may still name them: freed after it */
        struct client *dead_clients;
        struct conn *dead_conns;
        struct buf inq;
        bool in_close_pending;
        bool in_paused;
        bool exited;
        int status;
        bool fatal; /* start failed or the daemon left before start */
        char *fatal_msg;
        /* the pages creating the container needed are still mapped: given back once the loop
         * has been idle for SHED_IDLE_MS, or right after "started" (berthd sends attach and start
         * at once after "created": shedding first would make them wait) */
        bool shed_pending;
} L;

#define SHED_IDLE_MS 50

static char rbuf[READ_CHUNK];

static void buf_append(struct buf *b, const char *p, size_t n)
{
        if (b->off && b->off == b->len)
                b->off = b->len = 0;
        if (b->len + n > b->cap) {
                if (b->off) {
                        memmove(b->data, b->data + b->off, b->len - b->off);
                        b->len -= b->off;
                        b->off = 0;
                }
                if (b->len + n > b->cap) {
                        size_t cap = b->cap ? b->cap : 4096;
                        while (cap < b->len + n)
                                cap *= 2;
                        b->data = xrealloc(b->data, cap);
                        b->cap = cap;
                }
        }
        memcpy(b->data + b->len, p, n);
        b->len += n;
}

static size_t buf_size(const struct buf *b)
{
        return b->len - b->off;
}

static void buf_release(struct buf *b)
{
        free(b->data);
        *b = (struct buf){0};
}

static void buf_consume(struct buf *b, size_t n)
{
        b->off += n;
        if (b->off == b->len)
                buf_release(b); /* idle shims hold no buffers */
}

static void ep_set(struct src *s, int op, uint32_t events)
{
        struct epoll_event ev = {.events = events, .data.ptr = s};
        epoll_ctl(L.epfd, op, s->fd, &ev);
}

/* ---------------------------------------------------------------- container stdin */

static void stdin_close_now(void)
{
        if (L.in.fd < 0)
                return;
        if (L.in_registered)
                epoll_ctl(L.epfd, EPOLL_CTL_DEL, L.in.fd, NULL);
        close(L.in.fd);
        L.in.fd = -1;
        L.in_registered = false;
        buf_release(&L.inq);
}

static void clients_update(void);

static void stdin_pump(void)
{
        while (L.in.fd >= 0 && buf_size(&L.inq)) {
                ssize_t w = write(L.in.fd, L.inq.data + L.inq.off, buf_size(&L.inq));
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        /* the container closed its stdin: nothing more can go there */
                        stdin_close_now();
                        break;
                }
                buf_consume(&L.inq, (size_t)w);
        }
        if (L.in.fd >= 0 && !buf_size(&L.inq) && L.in_close_pending)
                stdin_close_now();
        if (L.in.fd >= 0) {
                uint32_t ev = buf_size(&L.inq) ? EPOLLOUT : 0;
                ep_set(&L.in, L.in_registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, ev);
                L.in_registered = true;
        }
        bool paused = buf_size(&L.inq) >= STDIN_QUEUE_MAX;
        if (paused != L.in_paused) {
                L.in_paused = paused;
                clients_update();
        }
}

static void stdin_feed(const char *p, size_t n)
{
        if (L.in.fd < 0 || L.in_close_pending)
                return;
        buf_append(&L.inq, p, n);
        stdin_pump();
}

static void stdin_request_close(void)
{
        L.in_close_pending = true;
        stdin_pump();
}

/* ---------------------------------------------------------------- attached clients */

static void client_set_events(struct client *c)
{
        uint32_t ev = 0;
        if (c->reading && !(c->want_in && L.in_paused))
                ev |= EPOLLIN;
        if (buf_size(&c->q))
                ev |= EPOLLOUT;
        if (ev != c->events) {
                c->events = ev;
                ep_set(&c->src, EPOLL_CTL_MOD, ev);
        }
}

static void clients_update(void)
{
        for (struct client *c = L.clients; c; c = c->next)
                client_set_events(c);
}

static void client_drop(struct client *c)
{
        for (struct client **p = &L.clients; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        epoll_ctl(L.epfd, EPOLL_CTL_DEL, c->src.fd, NULL);
        close(c->src.fd);
        c->src.fd = -1;
        if (c->notify_fd >= 0)
                close(c->notify_fd);
        c->notify_fd = -1;
        buf_release(&c->q);
        c->next = L.dead_clients;
        L.dead_clients = c;
}

/* Write what is queued; false when the client is gone. */
static bool client_flush(struct client *c)
{
        while (buf_size(&c->q)) {
                ssize_t w = write(c->src.fd, c->q.data + c->q.off, buf_size(&c->q));
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        return false;
                }
                buf_consume(&c->q, (size_t)w);
        }
        client_set_events(c);
        return true;
}

/* Send one chunk of stream output to c; false when c must be dropped. */
static bool client_push(struct client *c, enum shim_stream s, const char *p, size_t n)
{
        unsigned char hdr[8] = {(unsigned char)s,
                                0,
                                0,
                                0,
                                (unsigned char)(n >> 24),
                                (unsigned char)(n >> 16),
                                (unsigned char)(n >> 8),
                                (unsigned char)n};
        size_t hlen = c->raw ? 0 : sizeof(hdr);
        size_t done = 0, total = hlen + n;
        if (!buf_size(&c->q)) {
                struct iovec iov[2] = {{hdr, hlen}, {(void *)p, n}};
                ssize_t w;
                do
                        w = writev(c->src.fd, hlen ? iov : iov + 1, hlen ? 2 : 1);
                while (w < 0 && errno == EINTR);
                if (w < 0 && errno != EAGAIN)
                        return false;
                done = w > 0 ? (size_t)w : 0;
        }
        if (done == total)
                return true;
        if (buf_size(&c->q) + total - done > CLIENT_QUEUE_MAX)
                return false;
        if (done < hlen) {
                buf_append(&c->q, (const char *)hdr + done, hlen - done);
                buf_append(&c->q, p, n);
        } else {
                buf_append(&c->q, p + (done - hlen), n - (done - hlen));
        }
        client_set_events(c);
        return true;
}

static void broadcast(enum shim_stream s, const char *p, size_t n)
{
        for (struct client *c = L.clients, *next; c; c = next) {
                next = c->next;
                if (!(s == SHIM_STDERR ? c->want_err : c->want_out))
                        continue;
                if (!client_push(c, s, p, n))
                        client_drop(c);
        }
}

static void client_readable(struct client *c)
{
        ssize_t n = read(c->src.fd, rbuf, sizeof(rbuf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n > 0) {
                if (!c->want_in)
                        return;
                /* moby/term's escape proxy: a key counts when it arrives alone (a key press on
                 * a terminal, not pasted text) */
                if (c->n_detach_keys && n == 1 &&
                    (unsigned char)rbuf[0] == c->detach_keys[c->detach_pos]) {
                        if (++c->detach_pos < c->n_detach_keys)
                                return;
                        /* detached: the client goes, the container keeps running; the daemon
                         * hears of it (its detach event) */
                        _cleanup_json_ json_t *note = json_pack("{s:b}", "detached", 1);
                        shim_send_json(c->notify_fd, note);
                        client_drop(c);
                        return;
                }
                if (c->detach_pos) {
                        stdin_feed((const char *)c->detach_keys, c->detach_pos);
                        c->detach_pos = 0;
                }
                stdin_feed(rbuf, (size_t)n);
                return;
        }
        /* EOF (or an error): this client's input has ended; its output may still flow. docker
         * closes the container's stdin then only without a tty (a tty client that detached on
         * its side, as the docker CLI does, leaves the container running) */
        c->reading = false;
        if (c->want_in && L.shim->opts->stdin_once && !L.shim->opts->tty)
                stdin_request_close();
        if (n < 0) {
                client_drop(c);
                return;
        }
        client_set_events(c);
}

static void client_add(int fd, int notify_fd, bool in, bool out, bool err, bool raw,
                       const json_t *detach_keys)
{
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
                fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        struct client *c = xcalloc(1, sizeof(*c));
        c->src = (struct src){SRC_CLIENT, fd};
        c->notify_fd = notify_fd;
        c->want_in = in && L.shim->opts->open_stdin;
        c->want_out = out;
        c->want_err = err;
        c->raw = raw || L.shim->opts->tty;
        if (L.shim->opts->tty && json_is_array(detach_keys)) {
                size_t i;
                json_t *k;
                json_array_foreach(detach_keys, i, k)
                {
                        if (i >= DETACH_KEYS_MAX || !json_is_integer(k))
                                break;
                        c->detach_keys[i] = (unsigned char)json_integer_value(k);
                        c->n_detach_keys = i + 1;
                }
        }
        c->reading = true;
        c->events = EPOLLIN;
        ep_set(&c->src, EPOLL_CTL_ADD, c->events);
        c->next = L.clients;
        L.clients = c;
        client_set_events(c);
}

/* ---------------------------------------------------------------- requests */

void shim_send_json(int fd, json_t *msg)
{
        if (fd < 0)
                return;
        _cleanup_free_ char *s = json_dumps(msg, JSON_COMPACT);
        if (s)
                send(fd, s, strlen(s), MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void reply(int fd, int code, const char *msg)
{
        _cleanup_json_ json_t *j = code ? json_pack("{s:s, s:i}", "error", msg, "code", code)
                                        : json_pack("{s:b}", "ok", 1);
        shim_send_json(fd, j);
}

static void do_start(void)
{
        struct shim *s = L.shim;
        _cleanup_error_ struct berth_error *err = NULL;
        pid_t pid = 0;
        if (s->started)
                return;
        if (s->ops->start(s, &pid, &err) < 0) {
                _cleanup_json_ json_t *j =
                    json_pack("{s:s, s:i}", "error", err->msg, "code", err->code ? err->code : EIO);
                shim_send_json(L.ctl.fd, j);
                L.fatal = true;
                L.fatal_msg = xstrdup(err->msg);
                berth_warn("start: %s", err->msg);
                return;
        }
        s->started = true;
        s->pid = pid;
        _cleanup_json_ json_t *j = json_pack("{s:b, s:i}", "started", 1, "pid", (int)pid);
        shim_send_json(L.ctl.fd, j);
        json_decref(TAKE_PTR(j));
        shim_shed_pages();
        L.shed_pending = false;
}

/* Registers whichever of the container's fds exist and are not watched yet. */
static void io_register(void)
{
        struct shim_io *io = &L.shim->io;
        if (io->out_fd >= 0 && L.out.fd < 0) {
                L.out = (struct src){SRC_OUT, TAKE_FD(io->out_fd)};
                fcntl(L.out.fd, F_SETFL, fcntl(L.out.fd, F_GETFL) | O_NONBLOCK);
                ep_set(&L.out, EPOLL_CTL_ADD, EPOLLIN);
        }
        if (io->err_fd >= 0 && L.err.fd < 0) {
                L.err = (struct src){SRC_ERR, TAKE_FD(io->err_fd)};
                fcntl(L.err.fd, F_SETFL, fcntl(L.err.fd, F_GETFL) | O_NONBLOCK);
                ep_set(&L.err, EPOLL_CTL_ADD, EPOLLIN);
        }
        if (io->in_fd >= 0 && L.in.fd < 0 && L.in_close_pending) {
                /* closed before it existed (exec with a tty: close_stdin before start) */
                close(io->in_fd);
                io->in_fd = -1;
        }
        if (io->in_fd >= 0 && L.in.fd < 0) {
                L.in = (struct src){SRC_IN, TAKE_FD(io->in_fd)};
                fcntl(L.in.fd, F_SETFL, fcntl(L.in.fd, F_GETFL) | O_NONBLOCK);
                stdin_pump();
        }
}

/* One request (JSON in msg, maybe fds: fds[0] the attach's connection, fds[1] its notify
 * socket; both taken); reply_fd gets {"ok"} or {"error"} when >= 0. */
static void handle_request(const char *msg, size_t n, int fds[2], int reply_fd, bool control)
{
        int fd = fds[0], notify_fd = fds[1];
        json_error_t jerr;
        _cleanup_json_ json_t *j = json_loadb(msg, n, 0, &jerr);
        json_t *v;
        if (!j || !json_is_object(j)) {
                reply(reply_fd, EINVAL, "malformed request");
        } else if ((v = json_object_get(j, "attach"))) {
                if (fd < 0 || !json_is_object(v)) {
                        reply(reply_fd, EINVAL, "attach needs an object and a connected socket");
                } else {
                        client_add(fd, notify_fd, json_is_true(json_object_get(v, "stdin")),
                                   json_is_true(json_object_get(v, "stdout")),
                                   json_is_true(json_object_get(v, "stderr")),
                                   json_is_true(json_object_get(v, "raw")),
                                   json_object_get(v, "detach_keys"));
                        fd = notify_fd = -1;
                        reply(reply_fd, 0, NULL);
                }
        } else if ((v = json_object_get(j, "resize"))) {
                struct winsize ws = {
                    .ws_row = (unsigned short)json_integer_value(json_object_get(v, "h")),
                    .ws_col = (unsigned short)json_integer_value(json_object_get(v, "w"))};
                int tty = L.shim->io.tty_fd;
                if (tty < 0 && L.shim->opts->tty && !L.shim->started) {
                        L.shim->has_init_size = true;
                        L.shim->init_rows = ws.ws_row;
                        L.shim->init_cols = ws.ws_col;
                        reply(reply_fd, 0, NULL);
                } else if (tty < 0)
                        reply(reply_fd, ENOTTY, "the container has no tty");
                else if (ioctl(tty, TIOCSWINSZ, &ws) < 0)
                        reply(reply_fd, errno, "resize failed");
                else
                        reply(reply_fd, 0, NULL);
        } else if (json_is_true(json_object_get(j, "close_stdin"))) {
                if (L.in.fd >= 0)
                        stdin_request_close();
                else if (L.shim->opts->open_stdin)
                        L.in_close_pending = true; /* exec: its stdin comes at start */
                reply(reply_fd, 0, NULL);
        } else if (control && json_is_true(json_object_get(j, "start"))) {
                do_start();
                io_register();
        } else {
                reply(reply_fd, EINVAL, "unknown request");
        }
        if (fd >= 0)
                close(fd);
        if (notify_fd >= 0)
                close(notify_fd);
}

/* Receive one datagram and at most two fds (-1 for those not sent); 0 on EOF, -1 on
 * EAGAIN/error, else its length. */
static ssize_t recv_msg(int sock, char *buf, size_t cap, int ret_fds[2])
{
        size_t nfds = 0;
        ssize_t n = berth_recv_fds(sock, buf, cap - 1, MSG_DONTWAIT, ret_fds, 2, &nfds);
        for (size_t i = nfds; i < 2; i++)
                ret_fds[i] = -1;
        if (n < 0)
                return n == -ECONNRESET ? 0 : -1;
        if (n == 0) {
                for (size_t i = 0; i < 2; i++)
                        if (ret_fds[i] >= 0)
                                close(ret_fds[i]);
                ret_fds[0] = ret_fds[1] = -1;
                return 0;
        }
        buf[n] = '\0';
        return n;
}

static void ctl_close(void)
{
        if (L.ctl.fd < 0)
                return;
        epoll_ctl(L.epfd, EPOLL_CTL_DEL, L.ctl.fd, NULL);
        close(L.ctl.fd);
        L.ctl.fd = -1;
        L.shim->io.ctl_fd = -1;
}

static void ctl_readable(void)
{
        char msg[BERTH_SHIM_MSG_MAX];
        int fds[2];
        ssize_t n = recv_msg(L.ctl.fd, msg, sizeof(msg), fds);
        if (n < 0)
                return;
        if (n == 0) {
                ctl_close();
                if (!L.shim->started && !L.exited) {
                        L.fatal = true;
                        L.fatal_msg = xstrdup("the daemon went away before start");
                        berth_warn("%s", L.fatal_msg);
                }
                return;
        }
        handle_request(msg, (size_t)n, fds, -1, true);
        /* after "started" the channel has done its job: the shim now lives on its own */
        if (L.shim->started)
                ctl_close();
}

static void conn_close(struct conn *c)
{
        for (struct conn **p = &L.conns; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        epoll_ctl(L.epfd, EPOLL_CTL_DEL, c->src.fd, NULL);
        close(c->src.fd);
        c->src.fd = -1;
        c->next = L.dead_conns;
        L.dead_conns = c;
}

static void free_dead(void)
{
        while (L.dead_clients) {
                struct client *c = L.dead_clients;
                L.dead_clients = c->next;
                free(c);
        }
        while (L.dead_conns) {
                struct conn *c = L.dead_conns;
                L.dead_conns = c->next;
                free(c);
        }
}

static void conn_readable(struct conn *c)
{
        char msg[BERTH_SHIM_MSG_MAX];
        int fds[2];
        ssize_t n = recv_msg(c->src.fd, msg, sizeof(msg), fds);
        if (n < 0)
                return;
        if (n == 0) {
                conn_close(c);
                return;
        }
        handle_request(msg, (size_t)n, fds, c->src.fd, false);
}

static void listen_readable(void)
{
        int fd = accept4(L.listen.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
                return;
        struct conn *c = xcalloc(1, sizeof(*c));
        c->src = (struct src){SRC_CONN, fd};
        c->next = L.conns;
        L.conns = c;
        ep_set(&c->src, EPOLL_CTL_ADD, EPOLLIN);
}

/* ---------------------------------------------------------------- output and exit */

static void output_close(struct src *s)
{
        shim_log_flush(L.shim->log, s->kind == SRC_ERR ? SHIM_STDERR : SHIM_STDOUT);
        epoll_ctl(L.epfd, EPOLL_CTL_DEL, s->fd, NULL);
        if (s->fd != L.shim->io.tty_fd)
                close(s->fd);
        s->fd = -1;
}

/* Read once from a container output fd: 1 data, 0 nothing now, -1 EOF (the fd is closed then:
 * EOF, or EIO from a pty master whose slave is closed everywhere). */
static int output_readable(struct src *s)
{
        enum shim_stream st = s->kind == SRC_ERR ? SHIM_STDERR : SHIM_STDOUT;
        ssize_t n = read(s->fd, rbuf, sizeof(rbuf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return 0;
        if (n > 0) {
                shim_log_write(L.shim->log, st, rbuf, (size_t)n);
                broadcast(st, rbuf, (size_t)n);
                return 1;
        }
        output_close(s);
        return -1;
}

/* After exit: take what is still buffered, without waiting for writers that outlive the
 * container (a process that escaped into another session may hold the pipe forever). */
static void output_drain(struct src *s)
{
        while (s->fd >= 0) {
                int r = output_readable(s);
                if (r == 0) {
                        output_close(s);
                        return;
                }
        }
}

static void sig_readable(void)
{
        struct signalfd_siginfo si;
        while (read(L.sig.fd, &si, sizeof(si)) == sizeof(si))
                ;
        for (;;) {
                int status;
                pid_t w = waitpid(-1, &status, WNOHANG);
                if (w <= 0)
                        break;
                if (L.shim->pid > 0 && w == L.shim->pid && !L.exited) {
                        L.exited = true;
                        L.status = WIFEXITED(status)     ? WEXITSTATUS(status)
                                   : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                                         : 255;
                }
        }
}

static long now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Give attached clients their last output, then close them. */
static void clients_finish(void)
{
        long deadline = now_ms() + FLUSH_TIMEOUT_MS;
        for (;;) {
                size_t n = 0;
                for (struct client *c = L.clients, *next; c; c = next) {
                        next = c->next;
                        if (!client_flush(c))
                                client_drop(c);
                        else if (buf_size(&c->q))
                                n++;
                }
                long left = deadline - now_ms();
                if (!n || left <= 0)
                        break;
                /* only the clients: the loop's other fds may stay readable */
                _cleanup_free_ struct pollfd *pf = xcalloc(n, sizeof(*pf));
                size_t i = 0;
                for (struct client *c = L.clients; c && i < n; c = c->next)
                        if (buf_size(&c->q))
                                pf[i++] = (struct pollfd){.fd = c->src.fd, .events = POLLOUT};
                poll(pf, i, (int)(left > 100 ? 100 : left));
        }
        while (L.clients)
                client_drop(L.clients);
        free_dead();
}

int shim_loop_run(struct shim *s)
{
        L = (struct loop){.shim = s, .shed_pending = !s->started};
        L.out.fd = L.err.fd = L.in.fd = -1;
        L.epfd = epoll_create1(EPOLL_CLOEXEC);
        L.ctl = (struct src){SRC_CTL, s->io.ctl_fd};
        L.listen = (struct src){SRC_LISTEN, s->io.listen_fd};
        L.sig = (struct src){SRC_SIG, s->io.sig_fd};
        ep_set(&L.ctl, EPOLL_CTL_ADD, EPOLLIN);
        ep_set(&L.listen, EPOLL_CTL_ADD, EPOLLIN);
        ep_set(&L.sig, EPOLL_CTL_ADD, EPOLLIN);
        io_register();
        while (!L.exited && !L.fatal) {
                struct epoll_event ev[16];
                int n = epoll_wait(L.epfd, ev, 16, L.shed_pending ? SHED_IDLE_MS : -1);
                if (n < 0 && errno != EINTR)
                        break;
                if (n == 0 && L.shed_pending) {
                        shim_shed_pages();
                        L.shed_pending = false;
                }
                for (int i = 0; i < n && !L.fatal; i++) {
                        struct src *src = ev[i].data.ptr;
                        uint32_t e = ev[i].events;
                        if (src->fd < 0)
                                continue; /* closed earlier in this batch */
                        switch (src->kind) {
                        case SRC_CTL:
                                if (L.ctl.fd >= 0)
                                        ctl_readable();
                                break;
                        case SRC_LISTEN:
                                listen_readable();
                                break;
                        case SRC_CONN:
                                conn_readable((struct conn *)src);
                                break;
                        case SRC_CLIENT: {
                                struct client *c = (struct client *)src;
                                if ((e & EPOLLOUT) && !client_flush(c)) {
                                        client_drop(c);
                                        break;
                                }
                                if ((e & (EPOLLIN | EPOLLHUP | EPOLLERR)) && c->reading)
                                        client_readable(c);
                                else if (e & (EPOLLHUP | EPOLLERR))
                                        client_drop(c);
                                break;
                        }
                        case SRC_OUT:
                        case SRC_ERR:
                                if (src->fd >= 0)
                                        output_readable(src);
                                break;
                        case SRC_IN:
                                /* the reader is gone (a pipe's EPOLLERR; a pty master's
                                 * EPOLLHUP once no slave is open): nothing can go there */
                                if (e & (EPOLLERR | EPOLLHUP))
                                        stdin_close_now();
                                else
                                        stdin_pump();
                                break;
                        case SRC_SIG:
                                sig_readable();
                                break;
                        }
                }
                free_dead();
        }
        if (L.exited) {
                output_drain(&L.out);
                output_drain(&L.err);
        } else {
                /* never started (or start failed): take the process down */
                for (struct src *o = &L.out; o <= &L.err; o++)
                        if (o->fd >= 0) {
                                epoll_ctl(L.epfd, EPOLL_CTL_DEL, o->fd, NULL);
                                if (o->fd != s->io.tty_fd)
                                        close(o->fd);
                                o->fd = -1;
                        }
        }
        stdin_close_now();
        bool oom = L.exited && s->ops->oom_killed ? s->ops->oom_killed(s) : false;
        shim_write_exit(s->state_fd, L.exited ? L.status : 255, oom,
                        L.exited      ? NULL
                        : L.fatal_msg ? L.fatal_msg
                                      : "the shim failed");
        shim_log_close(s->log);
        clients_finish();
        ctl_close();
        while (L.conns)
                conn_close(L.conns);
        free_dead();
        if (s->ops->finish)
                s->ops->finish(s);
        free(L.fatal_msg);
        close(L.epfd);
        return 0;
}
