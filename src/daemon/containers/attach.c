/* Requests to a container's shim over its attach socket (attach, resize, close_stdin), attach
 * requests queued until start, and wait conditions. */
#include "daemon/containers/containers.h"
#include "daemon/daemon.h"
#include "daemon/containers/lifecycle.h"
#include "shim/shim.h"

#include <sys/socket.h>
#include <sys/un.h>

int container_shim_request(struct container *c, json_t *msg, struct berth_error **err)
{
        return container_shim_request_fd(c, msg, -1, err);
}

int container_shim_request_fd(struct container *c, json_t *msg, int fd, struct berth_error **err)
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
        return container_shim_send(s, msg, fd, err);
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
        int r;

        pthread_mutex_lock(&cs->lock);
        if (c->status == CONTAINER_CREATED || c->status == CONTAINER_EXITED ||
            c->status == CONTAINER_RESTARTING) {
                struct pending_attach *p = xcalloc(1, sizeof(*p));
                struct pending_attach **tail = &c->pending;
                p->msg = json_incref(msg);
                p->fd = fd;
                while (*tail)
                        tail = &(*tail)->next;
                *tail = p;
                pthread_mutex_unlock(&cs->lock);
                return 0;
        }
        pthread_mutex_unlock(&cs->lock);
        r = container_shim_request_fd(c, msg, fd, err);
        close(fd);
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
