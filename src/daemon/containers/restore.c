/* containers_open: the table loaded from the db, then live-restore: shims still running are
 * re-adopted (same pid and start time), the others' exits recorded; restart policies applied
 * at daemon start. */
#include "daemon/containers/containers.h"
#include "daemon/daemon.h"
#include "daemon/containers/lifecycle.h"
#include "daemon/state/volumes.h"

#include <sys/epoll.h>
#include <sys/syscall.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

static int pidfd_open(pid_t pid)
{
        return (int)syscall(SYS_pidfd_open, pid, 0);
}

static void load_row(const char *id, const char *name, json_t *config, json_t *state,
                     void *userdata)
{
        struct containers *cs = userdata;
        struct container *c = container_new(cs, id, name, config);

        container_state_load(c, state);
        cs->v = xrealloc(cs->v, (cs->n + 1) * sizeof(*cs->v));
        cs->v[cs->n++] = c;
}

/* Re-adopt c if its shim still runs (same pid and start time), else record its exit. */
static void readopt(struct containers *cs, struct container *c)
{
        json_t *ms = json_object_get(c->config, "mounts");
        json_t *m;
        size_t i;
        int pidfd = -1;

        json_array_foreach(ms, i, m)
        {
                const char *name = berth_json_get_str(m, "Name");
                if (name)
                        volumes_ref(cs->d->volumes, name, c->id, NULL);
        }
        if (c->status != CONTAINER_RUNNING && c->status != CONTAINER_PAUSED) {
                if (c->mounted)
                        container_unmount_rootfs(cs, c);
                pthread_mutex_lock(&cs->lock);
                if (c->status == CONTAINER_RESTARTING || c->status == CONTAINER_REMOVING) {
                        c->status = CONTAINER_EXITED;
                        container_persist_locked(cs, c);
                }
                pthread_mutex_unlock(&cs->lock);
                return;
        }
        if (c->shim_pid > 0 && container_proc_start_time(c->shim_pid) == c->shim_start)
                pidfd = pidfd_open(c->shim_pid);
        /* the start time is checked again now that the pidfd pins the pid */
        if (pidfd >= 0 && container_proc_start_time(c->shim_pid) == c->shim_start) {
                berth_log(BERTH_LOG_INFO, "container `%s`: re-adopted (shim %d)", c->id,
                          c->shim_pid);
                container_watch_shim(cs, c, pidfd);
                return;
        }
        if (pidfd >= 0)
                close(pidfd);
        berth_log(BERTH_LOG_INFO, "container `%s`: exited while the daemon was away", c->id);
        container_ref(cs, c);
        container_exited(cs, c);
}

static void apply_startup_policies(struct containers *cs)
{
        size_t n;
        struct container **v = containers_snapshot(cs, &n);

        for (size_t i = 0; i < n; i++) {
                struct container *c = v[i];
                bool want;
                pthread_mutex_lock(&cs->lock);
                want =
                    c->status == CONTAINER_EXITED && c->has_been_started &&
                    container_restart_wanted(cs, c, true) &&
                    strcmp(berth_json_get_str(container_host_cfg(c, "RestartPolicy"), "Name") ?: "",
                           "on-failure") != 0;
                if (want)
                        c->status = CONTAINER_RESTARTING;
                pthread_mutex_unlock(&cs->lock);
                if (want)
                        container_schedule_restart(cs, c);
        }
        containers_snapshot_free(cs, v, n);
}

int containers_open(struct daemon *d, struct containers **ret, struct berth_error **err)
{
        struct containers *cs = xcalloc(1, sizeof(*cs));
        size_t n;
        struct container **v;
        int r;

        cs->d = d;
        {
                _cleanup_error_ struct berth_error *e = NULL;
                if (container_trash_open(d, &e) < 0)
                        berth_warn("removed containers are deleted in place: %s", e->msg);
        }
        pthread_mutex_init(&cs->lock, NULL);
        pthread_cond_init(&cs->cond, NULL);
        cs->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (cs->epfd < 0) {
                free(cs);
                return berth_error_set(err, errno, "epoll");
        }
        r = db_container_foreach(d, load_row, cs, err);
        if (r < 0) {
                close(cs->epfd);
                free(cs);
                return r;
        }
        d->containers = cs;
        r = pthread_create(&cs->watcher, NULL, container_watcher_main, cs);
        if (r != 0)
                return berth_error_setx(err, r, "cannot start the exit watcher thread: %s",
                                        strerror(r));
        r = health_start_scheduler(cs, err);
        if (r < 0)
                return r;
        v = containers_snapshot(cs, &n);
        for (size_t i = 0; i < n; i++)
                readopt(cs, v[i]);
        containers_snapshot_free(cs, v, n);
        apply_startup_policies(cs);
        *ret = cs;
        return 0;
}
