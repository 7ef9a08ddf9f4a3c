/* Requests to a container's shim over its attach socket (attach, resize, close_stdin), attach
 * requests queued until start, and wait conditions. */
#include "daemon/containers/containers.h"
#include "daemon/daemon.h"
#include "daemon/containers/lifecycle.h"
#include "shim/shim.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

int container_shim_request(struct container *c, json_t *msg, struct berth_error **err)
{
        return container_shim_request_fd(c, msg, -1, err);
}

int container_shim_request_fd(struct container *c, json_t *msg, int fd, struct berth_error **err)
{
        return container_shim_request_fds(c, msg, &fd, fd >= 0 ? 1 : 0, err);
}

int container_shim_request_fds(struct container *c, json_t *msg, const int *fds, size_t nfds,
                               struct berth_error **err)
{
        struct sockaddr_un sa;
        _cleanup_close_ int s = -1;
        int dfd;

        s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (s < 0)
                return berth_error_set(err, errno, "socket");
        /* the path may be longer than sun_path: connect through the state dir's fd */
        dfd = open(c->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return berth_error_set(err, errno, "open `%s`", c->state_dir);
        berth_sockaddr_un(&sa, "/proc/self/fd/%d/%s", dfd, BERTH_SHIM_ATTACH_SOCK);
        if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int e = errno;
                close(dfd);
                return berth_error_set(err, e, "connect to the shim of `%s`", c->id);
        }
        close(dfd);
        return container_shim_send_fds(s, msg, fds, nfds, err);
}

int container_resize(struct containers *cs, struct container *c, long long h, long long w,
                     struct berth_error **err)
{
        _cleanup_json_ json_t *msg = NULL;
        char hs[24], ws[24];
        int r;

        if (!container_is_running(cs, c))
                return berth_error_setx(err, EBUSY, "Container %s is not running", c->id);
        msg = json_pack("{s:{s:I,s:I}}", "resize", "h", (json_int_t)h, "w", (json_int_t)w);
        r = container_shim_request(c, msg, err);
        if (r < 0)
                return r;
        /* dockerd (daemon/resize.go): after the resize, with the size asked */
        snprintf(hs, sizeof(hs), "%lld", h);
        snprintf(ws, sizeof(ws), "%lld", w);
        container_publish(cs, c, "resize", json_pack("{s:s,s:s}", "height", hs, "width", ws));
        return 0;
}

/* ---------------------------------------------------------------- detach events */

struct detach_watch {
        struct detach_watch *next; /* cs->detach_watches */
        int fd;                    /* the daemon's end */
        char *id;                  /* the container's */
        char *exec_id;             /* NULL: an attach of the container itself */
};

int container_watch_detach(struct containers *cs, struct container *c, const char *exec_id)
{
        int sv[2];

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -1;
        struct detach_watch *w = xcalloc(1, sizeof(*w));
        w->fd = sv[0];
        w->id = xstrdup(c->id);
        w->exec_id = exec_id ? xstrdup(exec_id) : NULL;
        /* nothing can wake the watcher before the caller passes sv[1] on: listed after the add */
        /* malloc'd: aligned, so the low bit is free for the tag */
        struct epoll_event ev = {.events = EPOLLIN,
                                 .data.u64 = (uint64_t)(uintptr_t)w | CONTAINER_WATCH_DETACH_TAG};
        if (epoll_ctl(cs->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0) {
                close(sv[0]);
                close(sv[1]);
                free(w->id);
                free(w->exec_id);
                free(w);
                return -1;
        }
        pthread_mutex_lock(&cs->lock);
        w->next = cs->detach_watches;
        cs->detach_watches = w;
        pthread_mutex_unlock(&cs->lock);
        return sv[1];
}

void container_detach_watch_ready(struct containers *cs, uint64_t tagged)
{
        struct detach_watch *w =
            (struct detach_watch *)(uintptr_t)(tagged & ~(uint64_t)CONTAINER_WATCH_DETACH_TAG);
        char buf[BERTH_SHIM_MSG_MAX + 1];
        ssize_t n = recv(w->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
        struct container *c;

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n > 0) {
                buf[n] = '\0';
                _cleanup_json_ json_t *j = json_loads(buf, 0, NULL);
                /* removed meanwhile: nobody to tell */
                if (json_is_true(json_object_get(j, "detached")) &&
                    container_get(cs, w->id, &c, NULL) == 0) {
                        /* dockerd: LogContainerEvent(detach) when its attach copy ends in an
                         * EscapeError, exec_detach with the execID for an exec */
                        if (w->exec_id)
                                container_publish(cs, c, "exec_detach",
                                                  json_pack("{s:s}", "execID", w->exec_id));
                        else
                                container_publish(cs, c, "detach", NULL);
                        container_unref(cs, c);
                }
        }
        /* one word per watch: it is done (detached, or the client went) */
        pthread_mutex_lock(&cs->lock);
        for (struct detach_watch **p = &cs->detach_watches; *p; p = &(*p)->next)
                if (*p == w) {
                        *p = w->next;
                        break;
                }
        pthread_mutex_unlock(&cs->lock);
        epoll_ctl(cs->epfd, EPOLL_CTL_DEL, w->fd, NULL);
        close(w->fd);
        free(w->id);
        free(w->exec_id);
        free(w);
}

json_t *container_detach_keys_parse(const char *keys)
{
        unsigned char bytes[16];
        size_t n = berth_detach_keys_parse(keys, bytes, sizeof(bytes));
        if (n == 0)
                return NULL;
        json_t *out = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(out, json_integer(bytes[i]));
        return out;
}

int container_attach(struct containers *cs, struct container *c, json_t *msg, int fd,
                     struct berth_error **err)
{
        int notify = container_watch_detach(cs, c, NULL);
        int r;

        pthread_mutex_lock(&cs->lock);
        if (c->status == CONTAINER_CREATED || c->status == CONTAINER_EXITED ||
            c->status == CONTAINER_RESTARTING) {
                struct pending_attach *p = xcalloc(1, sizeof(*p));
                struct pending_attach **tail = &c->pending;
                p->msg = json_incref(msg);
                p->fd = fd;
                p->notify_fd = notify;
                while (*tail)
                        tail = &(*tail)->next;
                *tail = p;
                pthread_mutex_unlock(&cs->lock);
                return 0;
        }
        pthread_mutex_unlock(&cs->lock);
        int fds[2] = {fd, notify};
        r = container_shim_request_fds(c, msg, fds, notify >= 0 ? 2 : 1, err);
        close(fd);
        if (notify >= 0)
                close(notify);
        return r;
}

int container_removed_exit_code(struct containers *cs, const char *ref)
{
        struct timespec now;
        int code = -1;

        clock_gettime(CLOCK_MONOTONIC, &now);
        pthread_mutex_lock(&cs->lock);
        for (size_t i = 0; i < ARRAY_SIZE(cs->tomb); i++) {
                struct tombstone *t = &cs->tomb[i];
                if (t->id[0] && strncmp(t->id, ref, strlen(ref)) == 0 &&
                    now.tv_sec - t->when.tv_sec < 30)
                        code = t->exit_code;
        }
        pthread_mutex_unlock(&cs->lock);
        return code;
}

uint64_t container_wait_begin(struct containers *cs, struct container *c, const char *condition,
                              bool *ret_done, int *ret_code)
{
        struct timespec now;
        uint64_t gen;

        clock_gettime(CLOCK_MONOTONIC, &now);
        *ret_done = false;
        pthread_mutex_lock(&cs->lock);
        gen = c->exit_gen;
        /* `run`/`start -a` send wait(next-exit) and start at once: when the start won the race
         * and the container is already gone, that exit is the one the client waits for */
        if (strcmp(condition, "next-exit") == 0 && c->has_been_started &&
            c->status == CONTAINER_EXITED && now.tv_sec - c->exited_mono.tv_sec < 2 &&
            c->exited_mono.tv_sec != 0) {
                *ret_done = true;
                *ret_code = c->exit_code;
        }
        pthread_mutex_unlock(&cs->lock);
        return gen;
}

int container_wait(struct containers *cs, struct container *c, const char *condition, uint64_t gen,
                   int *ret_code)
{
        pthread_mutex_lock(&cs->lock);
        if (strcmp(condition, "removed") == 0) {
                while (!c->removed)
                        pthread_cond_wait(&cs->cond, &cs->lock);
        } else if (strcmp(condition, "next-exit") == 0) {
                while (c->exit_gen == gen && !c->removed)
                        pthread_cond_wait(&cs->cond, &cs->lock);
        } else {
                /* docker: a restarting container counts as running, and its waiters are woken
                 * by each exit, so a restart policy does not make wait last forever */
                while ((c->status == CONTAINER_RUNNING || c->status == CONTAINER_PAUSED ||
                        c->status == CONTAINER_RESTARTING) &&
                       c->exit_gen == gen && !c->removed)
                        pthread_cond_wait(&cs->cond, &cs->lock);
        }
        *ret_code = c->exit_code;
        pthread_mutex_unlock(&cs->lock);
        return 0;
}
