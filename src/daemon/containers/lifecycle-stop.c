/* Containers after start: the exit watcher (one epoll thread over the shims' pidfds) and exit
 * handling, restart policies (docker's back-off), stop/kill/pause, remove and rename. Split from
 * lifecycle.c (start and the table). */
#include "daemon/containers/containers.h"
#include "daemon/containers/lifecycle.h"
#include "daemon/daemon.h"
#include "daemon/state/events.h"
#include "daemon/network/network.h"
#include "daemon/state/volumes.h"
#include "runtime/runtime.h"
#include "shim/shim.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* ---------------------------------------------------------------- exit, restart policies */

bool container_restart_wanted(struct containers *cs, struct container *c, bool daemon_start)
{
        json_t *pol = container_host_cfg(c, "RestartPolicy");
        const char *name = berth_json_get_str(pol, "Name") ?: "no";
        int max = (int)json_integer_value(json_object_get(pol, "MaximumRetryCount"));

        if (c->removed || json_is_true(container_host_cfg(c, "AutoRemove")))
                return false;
        if (strcmp(name, "always") == 0)
                return !c->stopped_by_user || daemon_start;
        if (strcmp(name, "unless-stopped") == 0)
                return !c->stopped_by_user;
        if (strcmp(name, "on-failure") == 0)
                return !c->stopped_by_user && c->exit_code != 0 &&
                       (max <= 0 || c->restart_count < max);
        return false;
}

struct restart_job {
        struct containers *cs;
        struct container *c;
        unsigned delay_ms;
};

static void *restart_thread(void *p)
{
        struct restart_job *job = p;
        struct containers *cs = job->cs;
        struct container *c = job->c;
        _cleanup_error_ struct berth_error *err = NULL;
        struct timespec ts = {job->delay_ms / 1000, (long)(job->delay_ms % 1000) * 1000000};
        bool still;

        nanosleep(&ts, NULL);
        pthread_mutex_lock(&c->op);
        pthread_mutex_lock(&cs->lock);
        still = c->status == CONTAINER_RESTARTING && !c->removed;
        if (still)
                c->restart_count++;
        pthread_mutex_unlock(&cs->lock);
        if (still && container_start_locked(cs, c, &err) < 0) {
                berth_warn("container `%s`: restart: %s", c->id, err->msg);
                pthread_mutex_lock(&cs->lock);
                c->status = CONTAINER_EXITED;
                container_persist_locked(cs, c);
                pthread_cond_broadcast(&cs->cond);
                pthread_mutex_unlock(&cs->lock);
        }
        pthread_mutex_unlock(&c->op);
        container_unref(cs, c);
        free(job);
        return NULL;
}

void container_schedule_restart(struct containers *cs, struct container *c)
{
        struct restart_job *job = xmalloc(sizeof(*job));
        /* docker's back-off: 100 ms doubling, capped (here at 10 s) */
        unsigned delay = 100u << (c->restart_count < 7 ? c->restart_count : 7);

        *job = (struct restart_job){cs, c, delay > 10000 ? 10000 : delay};
        container_ref(cs, c);
        if (berth_thread_spawn_detached(restart_thread, job) == 0)
                return;
        /* out of threads: the restart is given up, the container stays exited */
        berth_warn("container `%s`: restart: cannot start a thread", c->id);
        free(job);
        pthread_mutex_lock(&cs->lock);
        if (c->status == CONTAINER_RESTARTING) {
                c->status = CONTAINER_EXITED;
                container_persist_locked(cs, c);
                pthread_cond_broadcast(&cs->cond);
        }
        pthread_mutex_unlock(&cs->lock);
        container_unref(cs, c);
}

struct remove_job {
        struct containers *cs;
        struct container *c;
};

static void *remove_thread(void *p)
{
        struct remove_job *job = p;
        _cleanup_error_ struct berth_error *err = NULL;

        if (container_remove(job->cs, job->c, false, true, &err) < 0)
                berth_warn("container `%s`: auto-remove: %s", job->c->id, err->msg);
        container_unref(job->cs, job->c);
        free(job);
        return NULL;
}

/* Record the exit of c from the shim's exit.json; takes the caller's reference on c. */
void container_exited(struct containers *cs, struct container *c)
{
        _cleanup_free_ char *path = xasprintf("%s/%s", c->state_dir, BERTH_SHIM_EXIT_FILE);
        _cleanup_json_ json_t *ex = berth_json_load_at(AT_FDCWD, path, 0, NULL);
        bool restart, autorm;
        const char *fin;
        int code;

        container_unmount_rootfs(cs, c);
        pthread_mutex_lock(&cs->lock);
        if (c->pidfd >= 0) {
                epoll_ctl(cs->epfd, EPOLL_CTL_DEL, c->pidfd, NULL);
                close(c->pidfd);
                c->pidfd = -1;
        }
        code = ex ? (int)json_integer_value(json_object_get(ex, "exit_code")) : 255;
        c->exit_code = code;
        c->oom_killed = ex && json_is_true(json_object_get(ex, "oom_killed"));
        fin = ex ? berth_json_get_str(ex, "finished_at") : NULL;
        free(c->finished_at);
        c->finished_at = fin ? xstrdup(fin) : container_now_rfc3339();
        free(c->error);
        c->error = xstrdup(ex ? berth_json_get_str(ex, "error") ?: ""
                              : "the shim exited without recording the exit");
        c->pid = 0;
        c->shim_pid = 0;
        c->shim_start = 0;
        c->exit_gen++;
        clock_gettime(CLOCK_MONOTONIC, &c->exited_mono);
        restart = container_restart_wanted(cs, c, false);
        autorm = json_is_true(container_host_cfg(c, "AutoRemove")) && !c->removed;
        c->status = restart ? CONTAINER_RESTARTING : CONTAINER_EXITED;
        container_persist_locked(cs, c);
        pthread_cond_broadcast(&cs->cond);
        pthread_mutex_unlock(&cs->lock);
        if (c->oom_killed)
                container_publish(cs, c, "oom", NULL);
        {
                char codebuf[16];
                snprintf(codebuf, sizeof(codebuf), "%d", code);
                container_publish(cs, c, "die", json_pack("{s:s}", "exitCode", codebuf));
        }
        network_container_events(cs->d->networks, c->id);
        berth_debug("container `%s` exited with %d", c->id, code);
        if (restart) {
                container_schedule_restart(cs, c);
        } else if (autorm) {
                struct remove_job *job = xmalloc(sizeof(*job));
                *job = (struct remove_job){cs, c};
                container_ref(cs, c);
                if (berth_thread_spawn_detached(remove_thread, job) < 0) {
                        /* out of threads: left exited for `docker rm` */
                        berth_warn("container `%s`: auto-remove: cannot start a thread", c->id);
                        container_unref(cs, c);
                        free(job);
                }
        }
        container_unref(cs, c);
}

void *container_watcher_main(void *p)
{
        struct containers *cs = p;
        struct epoll_event evs[16];

        for (;;) {
                int n = epoll_wait(cs->epfd, evs, ARRAY_SIZE(evs), -1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        break;
                for (int i = 0; i < n; i++) {
                        if (evs[i].data.u64 & CONTAINER_WATCH_DETACH_TAG) {
                                container_detach_watch_ready(cs, evs[i].data.u64);
                                continue;
                        }
                        struct container *c = evs[i].data.ptr;
                        epoll_ctl(cs->epfd, EPOLL_CTL_DEL, c->pidfd, NULL);
                        container_exited(cs, c);
                }
        }
        return NULL;
}

/* ---------------------------------------------------------------- stop, kill, pause */

static int signal_of(const char *s, int dflt, struct berth_error **err)
{
        int sig;

        if (!s || !*s)
                return dflt;
        sig = berth_signal_parse(s);
        if (sig <= 0 || sig >= NSIG)
                return berth_error_setx(err, EINVAL, "Invalid signal: %s", s);
        return sig;
}

static int send_signal(struct containers *cs, struct container *c, int sig,
                       struct berth_error **err)
{
        return container_rt_kill(cs, c, sig, err);
}

/* Wait until c is not running or timeout_ms passes (< 0: forever). */
static bool wait_stopped(struct containers *cs, struct container *c, long timeout_ms)
{
        struct timespec end;
        bool stopped;

        clock_gettime(CLOCK_REALTIME, &end);
        end.tv_sec += timeout_ms / 1000;
        end.tv_nsec += (timeout_ms % 1000) * 1000000;
        if (end.tv_nsec >= 1000000000) {
                end.tv_sec++;
                end.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock(&cs->lock);
        while (c->status == CONTAINER_RUNNING || c->status == CONTAINER_PAUSED) {
                if (timeout_ms < 0)
                        pthread_cond_wait(&cs->cond, &cs->lock);
                else if (pthread_cond_timedwait(&cs->cond, &cs->lock, &end) == ETIMEDOUT)
                        break;
        }
        stopped = !(c->status == CONTAINER_RUNNING || c->status == CONTAINER_PAUSED);
        pthread_mutex_unlock(&cs->lock);
        return stopped;
}

static int stop_locked(struct containers *cs, struct container *c, const char *signame, int timeout,
                       struct berth_error **err)
{
        json_t *st = container_cfg(c, "StopTimeout");
        int sig;
        bool paused;

        sig = signal_of(signame ?: json_string_value(container_cfg(c, "StopSignal")), SIGTERM, err);
        if (sig < 0)
                return sig;
        if (timeout < 0)
                timeout = json_is_integer(st) ? (int)json_integer_value(st) : 10;
        pthread_mutex_lock(&cs->lock);
        if (c->status == CONTAINER_RESTARTING) {
                /* a pending restart is cancelled */
                c->stopped_by_user = true;
                c->status = CONTAINER_EXITED;
                container_persist_locked(cs, c);
                pthread_cond_broadcast(&cs->cond);
                pthread_mutex_unlock(&cs->lock);
                return 0;
        }
        if (c->status != CONTAINER_RUNNING && c->status != CONTAINER_PAUSED) {
                pthread_mutex_unlock(&cs->lock);
                return berth_error_setx(err, EALREADY, "container already stopped");
        }
        if (container_rt_check(cs, c, err) < 0) {
                pthread_mutex_unlock(&cs->lock);
                return -EINVAL;
        }
        c->stopped_by_user = true;
        paused = c->status == CONTAINER_PAUSED;
        container_persist_locked(cs, c);
        pthread_mutex_unlock(&cs->lock);
        {
                char sigbuf[16];
                snprintf(sigbuf, sizeof(sigbuf), "%d", sig);
                container_publish(cs, c, "kill", json_pack("{s:s}", "signal", sigbuf));
        }
        if (send_signal(cs, c, sig, NULL) >= 0 && paused) {
                container_rt_pause(cs, c, false, NULL);
        }
        if (timeout >= 0 && wait_stopped(cs, c, (long)timeout * 1000))
                goto stopped;
        send_signal(cs, c, SIGKILL, NULL);
        if (paused) {
                container_rt_pause(cs, c, false, NULL);
        }
        wait_stopped(cs, c, -1);
stopped:
        container_publish(cs, c, "stop", NULL);
        return 0;
}

int container_stop(struct containers *cs, struct container *c, const char *signal, int timeout,
                   struct berth_error **err)
{
        int r;

        pthread_mutex_lock(&c->op);
        r = stop_locked(cs, c, signal, timeout, err);
        pthread_mutex_unlock(&c->op);
        return r;
}

int container_restart(struct containers *cs, struct container *c, const char *signal, int timeout,
                      struct berth_error **err)
{
        int r;

        pthread_mutex_lock(&c->op);
        r = stop_locked(cs, c, signal, timeout, err);
        if (r == -EALREADY) {
                berth_error_free(TAKE_PTR(*err));
                r = 0;
        }
        if (r >= 0)
                r = container_start_locked(cs, c, err);
        pthread_mutex_unlock(&c->op);
        if (r >= 0)
                container_publish(cs, c, "restart", NULL);
        return r;
}

int container_kill(struct containers *cs, struct container *c, const char *signame,
                   struct berth_error **err)
{
        int sig = signal_of(signame, SIGKILL, err);
        bool paused;
        int r;

        if (sig < 0)
                return sig;
        pthread_mutex_lock(&cs->lock);
        if (c->status != CONTAINER_RUNNING && c->status != CONTAINER_PAUSED) {
                pthread_mutex_unlock(&cs->lock);
                return berth_error_setx(err, EBUSY,
                                        "Cannot kill container: %s: container %s "
                                        "is not running",
                                        c->name, c->id);
        }
        if (sig == SIGKILL || sig == SIGTERM || sig == SIGINT)
                c->stopped_by_user = true;
        container_persist_locked(cs, c);
        paused = c->status == CONTAINER_PAUSED;
        pthread_mutex_unlock(&cs->lock);
        r = send_signal(cs, c, sig, err);
        if (r < 0)
                return r;
        {
                char sigbuf[16];
                snprintf(sigbuf, sizeof(sigbuf), "%d", sig);
                container_publish(cs, c, "kill", json_pack("{s:s}", "signal", sigbuf));
        }
        /* docker's Kill: SIGKILL returns once the exit is recorded (inspect right after shows
         * it), a frozen container thawed so the signal lands; other signals return at once */
        if (sig == SIGKILL) {
                if (paused) {
                        container_rt_pause(cs, c, false, NULL);
                }
                if (!wait_stopped(cs, c, 10000))
                        return berth_error_setx(err, ETIMEDOUT,
                                                "tried to kill container, but did not receive an "
                                                "exit event");
        }
        return 0;
}

int container_pause(struct containers *cs, struct container *c, bool pause,
                    struct berth_error **err)
{
        int r;

        pthread_mutex_lock(&c->op);
        pthread_mutex_lock(&cs->lock);
        if (pause && c->status != CONTAINER_RUNNING) {
                r = berth_error_setx(err, EBUSY,
                                     c->status == CONTAINER_PAUSED
                                         ? "Container %s is already paused"
                                         : "Container %s is not running",
                                     c->id);
                pthread_mutex_unlock(&cs->lock);
                pthread_mutex_unlock(&c->op);
                return r;
        }
        if (!pause && c->status != CONTAINER_PAUSED) {
                r = berth_error_setx(err, EBUSY, "Container %s is not paused", c->id);
                pthread_mutex_unlock(&cs->lock);
                pthread_mutex_unlock(&c->op);
                return r;
        }
        pthread_mutex_unlock(&cs->lock);
        r = container_rt_pause(cs, c, pause, err);
        if (r >= 0) {
                pthread_mutex_lock(&cs->lock);
                if (c->status == CONTAINER_RUNNING || c->status == CONTAINER_PAUSED)
                        c->status = pause ? CONTAINER_PAUSED : CONTAINER_RUNNING;
                container_persist_locked(cs, c);
                pthread_mutex_unlock(&cs->lock);
                container_publish(cs, c, pause ? "pause" : "unpause", NULL);
        }
        pthread_mutex_unlock(&c->op);
        return r;
}

/* ---------------------------------------------------------------- remove, rename */

int container_remove(struct containers *cs, struct container *c, bool force, bool volumes,
                     struct berth_error **err)
{
        struct daemon *d = cs->d;
        _cleanup_error_ struct berth_error *e2 = NULL;
        json_t *ms = json_object_get(c->config, "mounts");
        json_t *m;
        size_t i;
        int r;

        pthread_mutex_lock(&c->op);
        pthread_mutex_lock(&cs->lock);
        if (c->removed) {
                pthread_mutex_unlock(&cs->lock);
                pthread_mutex_unlock(&c->op);
                return 0;
        }
        if ((c->status == CONTAINER_RUNNING || c->status == CONTAINER_PAUSED) && !force) {
                r = berth_error_setx(err, EBUSY,
                                     "You cannot remove a %s container %s. Stop the container "
                                     "before attempting removal or force remove",
                                     container_status_name(c->status), c->id);
                pthread_mutex_unlock(&cs->lock);
                pthread_mutex_unlock(&c->op);
                return r;
        }
        if ((c->status == CONTAINER_RUNNING || c->status == CONTAINER_PAUSED) &&
            container_rt_check(cs, c, err) < 0) {
                pthread_mutex_unlock(&cs->lock);
                pthread_mutex_unlock(&c->op);
                return -EINVAL;
        }
        c->stopped_by_user = true;
        if (c->status == CONTAINER_RESTARTING)
                c->status = CONTAINER_EXITED;
        pthread_mutex_unlock(&cs->lock);
        if (force && container_is_running(cs, c)) {
                if (c->status == CONTAINER_PAUSED)
                        container_rt_pause(cs, c, false, NULL);
                send_signal(cs, c, SIGKILL, NULL);
                wait_stopped(cs, c, -1);
        }
        pthread_mutex_lock(&cs->lock);
        c->status = CONTAINER_REMOVING;
        pthread_mutex_unlock(&cs->lock);

        container_rt_delete(cs, c);
        container_unmount_rootfs(cs, c);
        r = db_container_delete(d, c->id, err);
        if (r < 0) {
                pthread_mutex_lock(&cs->lock);
                c->status = CONTAINER_DEAD;
                pthread_mutex_unlock(&cs->lock);
                pthread_mutex_unlock(&c->op);
                return r;
        }
        /* its path is free at once; the tree is deleted off the request's path */
        container_trash(c->dir);
        volumes_unref_container(d->volumes, c->id);
        if (volumes) {
                json_array_foreach(ms, i, m)
                {
                        const char *name = berth_json_get_str(m, "Name");
                        if (!name || !volumes_is_anonymous(d->volumes, name))
                                continue;
                        if (volumes_remove(d->volumes, name, false, &e2) < 0) {
                                berth_debug("volume `%s` kept: %s", name, e2->msg);
                                berth_error_free(TAKE_PTR(e2));
                        }
                }
        }
        pthread_mutex_lock(&cs->lock);
        {
                struct tombstone *t = &cs->tomb[cs->tomb_next++ % ARRAY_SIZE(cs->tomb)];
                snprintf(t->id, sizeof(t->id), "%s", c->id);
                t->exit_code = c->exit_code;
                clock_gettime(CLOCK_MONOTONIC, &t->when);
        }
        container_table_drop_locked(cs, c);
        pthread_cond_broadcast(&cs->cond);
        pthread_mutex_unlock(&cs->lock);
        pthread_mutex_unlock(&c->op);
        container_publish(cs, c, "destroy", NULL);
        return 0;
}

int container_rename(struct containers *cs, struct container *c, const char *name,
                     struct berth_error **err)
{
        _cleanup_free_ char *old = NULL;
        struct container *other;
        int r;

        if (name && name[0] == '/')
                name++;
        if (!name || !container_name_valid(name))
                return berth_error_setx(err, EINVAL,
                                        "Invalid container name (%s), only "
                                        "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                                        name ? name : "");
        pthread_mutex_lock(&cs->lock);
        other = container_by_name_locked(cs, name);
        if (other) {
                r = other == c ? berth_error_setx(err, EINVAL,
                                                  "Renaming a container with the same name as "
                                                  "its current name")
                               : berth_error_setx(err, EEXIST,
                                                  "Conflict. The container name \"/%s\" is "
                                                  "already in use by container \"%s\". You have "
                                                  "to remove (or rename) that container to be "
                                                  "able to reuse that name.",
                                                  name, other->id);
                pthread_mutex_unlock(&cs->lock);
                return r;
        }
        r = db_container_rename(cs->d, c->id, name, err);
        if (r >= 0) {
                old = c->name;
                c->name = xstrdup(name);
        }
        pthread_mutex_unlock(&cs->lock);
        if (r >= 0) {
                network_container_renamed(cs->d->networks, c->id, name);
                container_publish(cs, c, "rename", json_pack("{s:s+}", "oldName", "/", old));
        }
        return r;
}
