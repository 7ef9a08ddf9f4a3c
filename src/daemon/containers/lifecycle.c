/* Containers and their shims: the table (memory + SQLite), persistence and start (overlay
 * rootfs, spec, shim). Exits, restart policies, stop/kill/pause, remove and rename are in
 * lifecycle-stop.c. */
#include "daemon/containers/containers.h"
#include "daemon/containers/lifecycle.h"
#include "daemon/daemon.h"
#include "daemon/containers/etc-files.h"
#include "daemon/state/events.h"
#include "daemon/state/logs.h"
#include "daemon/network/network.h"
#include "daemon/spec/spec.h"
#include "daemon/state/volumes.h"
#include "runtime/runtime.h"
#include "shim/shim.h"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define STATE_MAX (1u << 20)

/* ---------------------------------------------------------------- small helpers */

char *container_now_rfc3339(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return berth_time_rfc3339(&ts);
}

static const char zero_time[] = "0001-01-01T00:00:00Z";

const char *container_status_name(enum container_status s)
{
        static const char *const names[] = {"created",  "running", "paused", "restarting",
                                            "removing", "exited",  "dead"};
        return names[s];
}

static enum container_status status_parse(const char *s)
{
        for (int i = CONTAINER_CREATED; i <= CONTAINER_DEAD; i++)
                if (s && strcmp(s, container_status_name(i)) == 0)
                        return i;
        return CONTAINER_DEAD;
}

json_t *container_cfg(struct container *c, const char *key)
{
        return json_object_get(json_object_get(c->config, "create"), key);
}

json_t *container_host_cfg(struct container *c, const char *key)
{
        return json_object_get(container_cfg(c, "HostConfig"), key);
}

uint64_t container_proc_start_time(pid_t pid)
{
        char path[64], buf[1024];
        _cleanup_close_ int fd = -1;
        ssize_t n;
        char *p;

        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        p = strrchr(buf, ')');
        if (!p)
                return 0;
        /* after ") " come fields 3…; starttime is field 22 */
        p += 2;
        for (int field = 3; field < 22 && p; field++) {
                p = strchr(p, ' ');
                if (p)
                        p++;
        }
        return p ? strtoull(p, NULL, 10) : 0;
}

static int pidfd_open(pid_t pid)
{
        return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* ---------------------------------------------------------------- table */

void container_ref(struct containers *cs, struct container *c)
{
        pthread_mutex_lock(&cs->lock);
        c->refs++;
        pthread_mutex_unlock(&cs->lock);
}

void container_free(struct container *c)
{
        while (c->pending) {
                struct pending_attach *p = c->pending;
                c->pending = p->next;
                json_decref(p->msg);
                if (p->fd >= 0)
                        close(p->fd);
                if (p->notify_fd >= 0)
                        close(p->notify_fd);
                free(p);
        }
        if (c->pidfd >= 0)
                close(c->pidfd);
        json_decref(c->health);
        free(c->health_started_at);
        free(c->id);
        free(c->name);
        free(c->dir);
        free(c->rootfs);
        free(c->state_dir);
        free(c->log_path);
        json_decref(c->config);
        free(c->started_at);
        free(c->finished_at);
        free(c->error);
        pthread_mutex_destroy(&c->op);
        free(c);
}

void container_unref(struct containers *cs, struct container *c)
{
        bool last;

        if (!c)
                return;
        pthread_mutex_lock(&cs->lock);
        last = --c->refs == 0;
        pthread_mutex_unlock(&cs->lock);
        if (last)
                container_free(c);
}

struct container *container_new(struct containers *cs, const char *id, const char *name,
                                json_t *config)
{
        struct container *c = xcalloc(1, sizeof(*c));

        c->refs = 1; /* the table's */
        c->id = xstrdup(id);
        c->name = xstrdup(name);
        c->dir = xasprintf("%s/containers/%s", cs->d->data_root, id);
        c->rootfs = xasprintf("%s/rootfs", c->dir);
        c->state_dir = xasprintf("%s/shim", c->dir);
        c->log_path = xasprintf("%s/%s-json.log", c->dir, id);
        c->config = json_incref(config);
        c->pidfd = -1;
        c->started_at = xstrdup(zero_time);
        c->finished_at = xstrdup(zero_time);
        c->error = xstrdup("");
        pthread_mutex_init(&c->op, NULL);
        return c;
}

/* under cs->lock */
static struct container *find_locked(struct containers *cs, const char *ref, bool *ret_ambiguous)
{
        struct container *found = NULL;
        size_t len = strlen(ref);
        const char *name = ref[0] == '/' ? ref + 1 : ref;

        *ret_ambiguous = false;
        if (len == 0)
                return NULL;
        for (size_t i = 0; i < cs->n; i++)
                if (strcmp(cs->v[i]->id, ref) == 0)
                        return cs->v[i];
        for (size_t i = 0; i < cs->n; i++)
                if (strcmp(cs->v[i]->name, name) == 0)
                        return cs->v[i];
        for (size_t i = 0; i < cs->n; i++) {
                if (strncmp(cs->v[i]->id, ref, len) != 0)
                        continue;
                if (found) {
                        *ret_ambiguous = true;
                        return NULL;
                }
                found = cs->v[i];
        }
        return found;
}

int container_get(struct containers *cs, const char *ref, struct container **ret,
                  struct berth_error **err)
{
        struct container *c;
        bool ambiguous;

        pthread_mutex_lock(&cs->lock);
        c = find_locked(cs, ref, &ambiguous);
        if (c && !c->removed)
                c->refs++;
        else
                c = NULL;
        pthread_mutex_unlock(&cs->lock);
        if (ambiguous)
                return berth_error_setx(err, EINVAL,
                                        "multiple containers found with provided prefix: %s", ref);
        if (!c)
                return berth_error_setx(err, ENOENT, "No such container: %s", ref);
        *ret = c;
        return 0;
}

struct container **containers_snapshot(struct containers *cs, size_t *ret_n)
{
        struct container **v;
        size_t n = 0;

        pthread_mutex_lock(&cs->lock);
        v = xcalloc(cs->n + 1, sizeof(*v));
        for (size_t i = 0; i < cs->n; i++) {
                if (cs->v[i]->removed)
                        continue;
                cs->v[i]->refs++;
                v[n++] = cs->v[i];
        }
        pthread_mutex_unlock(&cs->lock);
        *ret_n = n;
        return v;
}

void containers_snapshot_free(struct containers *cs, struct container **v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                container_unref(cs, v[i]);
        free(v);
}

/* Table removal: under cs->lock. */
void container_table_drop_locked(struct containers *cs, struct container *c)
{
        for (size_t i = 0; i < cs->n; i++) {
                if (cs->v[i] != c)
                        continue;
                memmove(&cs->v[i], &cs->v[i + 1], (cs->n - i - 1) * sizeof(*cs->v));
                cs->n--;
                c->removed = true;
                c->refs--; /* the table's reference; the caller still holds one */
                break;
        }
}

bool container_is_running(struct containers *cs, struct container *c)
{
        bool r;

        pthread_mutex_lock(&cs->lock);
        r = c->status == CONTAINER_RUNNING || c->status == CONTAINER_PAUSED ||
            c->status == CONTAINER_RESTARTING;
        pthread_mutex_unlock(&cs->lock);
        return r;
}

enum container_status container_status_of(struct containers *cs, struct container *c)
{
        enum container_status s;

        pthread_mutex_lock(&cs->lock);
        s = c->status;
        pthread_mutex_unlock(&cs->lock);
        return s;
}

bool container_exited_after_start(struct containers *cs, struct container *c)
{
        bool r;

        pthread_mutex_lock(&cs->lock);
        r = c->status == CONTAINER_EXITED && c->has_been_started;
        pthread_mutex_unlock(&cs->lock);
        return r;
}

void containers_count(struct containers *cs, int *ret_running, int *ret_paused, int *ret_stopped)
{
        int run = 0, paused = 0, stopped = 0;

        pthread_mutex_lock(&cs->lock);
        for (size_t i = 0; i < cs->n; i++) {
                if (cs->v[i]->status == CONTAINER_RUNNING ||
                    cs->v[i]->status == CONTAINER_RESTARTING)
                        run++;
                else if (cs->v[i]->status == CONTAINER_PAUSED)
                        paused++;
                else
                        stopped++;
        }
        pthread_mutex_unlock(&cs->lock);
        *ret_running = run;
        *ret_paused = paused;
        *ret_stopped = stopped;
}

bool containers_image_in_use(const char *image_id, void *userdata, char **ret_container)
{
        struct daemon *d = userdata;
        struct containers *cs = d->containers;
        bool used = false;

        if (!cs)
                return false;
        pthread_mutex_lock(&cs->lock);
        for (size_t i = 0; i < cs->n && !used; i++) {
                const char *id = berth_json_get_str(cs->v[i]->config, "image_id");
                used = id && strcmp(id, image_id) == 0;
                if (used && ret_container)
                        *ret_container = xstrndup(cs->v[i]->id, 12);
        }
        pthread_mutex_unlock(&cs->lock);
        return used;
}

bool container_name_valid(const char *name)
{
        /* docker's pattern wants two characters; one-letter names (`--name a`) are taken here */
        if (!name[0])
                return false;
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", name[0]))
                return false;
        for (const char *p = name + 1; *p; p++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-",
                            *p))
                        return false;
        return true;
}

/* under cs->lock */
struct container *container_by_name_locked(struct containers *cs, const char *name)
{
        for (size_t i = 0; i < cs->n; i++)
                if (strcmp(cs->v[i]->name, name) == 0)
                        return cs->v[i];
        return NULL;
}

/* ---------------------------------------------------------------- persistence */

/* under cs->lock */
json_t *container_state_json_locked(struct container *c)
{
        json_t *st = json_pack("{s:s,s:i,s:i,s:I,s:i,s:b,s:s,s:s,s:s,s:i,s:b,s:b,s:b}", "Status",
                               container_status_name(c->status), "Pid", (int)c->pid, "ShimPid",
                               (int)c->shim_pid, "ShimStart", (json_int_t)c->shim_start, "ExitCode",
                               c->exit_code, "OOMKilled", c->oom_killed, "StartedAt", c->started_at,
                               "FinishedAt", c->finished_at, "Error", c->error, "RestartCount",
                               c->restart_count, "StoppedByUser", c->stopped_by_user,
                               "HasBeenStarted", c->has_been_started, "Mounted", c->mounted);

        health_save_locked(c, st);
        return st;
}

void container_state_load(struct container *c, json_t *st)
{
        c->status = status_parse(berth_json_get_str(st, "Status"));
        c->pid = (pid_t)json_integer_value(json_object_get(st, "Pid"));
        c->shim_pid = (pid_t)json_integer_value(json_object_get(st, "ShimPid"));
        c->shim_start = (uint64_t)json_integer_value(json_object_get(st, "ShimStart"));
        c->exit_code = (int)json_integer_value(json_object_get(st, "ExitCode"));
        c->oom_killed = json_is_true(json_object_get(st, "OOMKilled"));
        free(c->started_at);
        c->started_at = xstrdup(berth_json_get_str(st, "StartedAt") ?: zero_time);
        free(c->finished_at);
        c->finished_at = xstrdup(berth_json_get_str(st, "FinishedAt") ?: zero_time);
        free(c->error);
        c->error = xstrdup(berth_json_get_str(st, "Error") ?: "");
        c->restart_count = (int)json_integer_value(json_object_get(st, "RestartCount"));
        c->stopped_by_user = json_is_true(json_object_get(st, "StoppedByUser"));
        c->has_been_started = json_is_true(json_object_get(st, "HasBeenStarted"));
        c->mounted = json_is_true(json_object_get(st, "Mounted"));
        health_load(c, st);
}

/* Persist c's state; under cs->lock (SQLite has its own lock). */
void container_persist_locked(struct containers *cs, struct container *c)
{
        _cleanup_json_ json_t *st = container_state_json_locked(c);
        _cleanup_error_ struct berth_error *err = NULL;

        if (c->removed)
                return;
        if (db_container_set_state(cs->d, c->id, st, &err) < 0)
                berth_warn("container `%s`: save state: %s", c->id, err->msg);
}

void container_publish(struct containers *cs, struct container *c, const char *action,
                       json_t *extra)
{
        json_t *attrs = json_object();
        json_t *labels = container_cfg(c, "Labels");
        const char *k;
        json_t *v;

        json_object_set_new(attrs, "name", json_string(c->name));
        json_object_set(attrs, "image", json_object_get(c->config, "image") ?: json_string(""));
        if (json_is_object(labels))
                json_object_foreach(labels, k, v) if (json_is_string(v))
                    json_object_set(attrs, k, v);
        if (extra)
                json_object_update(attrs, extra);
        json_decref(extra);
        events_publish(cs->d, "container", action, c->id, attrs);
}

int container_config_save(struct containers *cs, struct container *c, struct berth_error **err)
{
        _cleanup_json_ json_t *st = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        int r;

        pthread_mutex_lock(&cs->lock);
        st = container_state_json_locked(c);
        r = c->removed ? 0 : db_container_put(cs->d, c->id, c->name, c->config, st, &e);
        pthread_mutex_unlock(&cs->lock);
        if (r < 0) {
                berth_warn("container `%s`: save: %s", c->id, e->msg);
                if (err)
                        *err = TAKE_PTR(e);
        }
        return r;
}

/* ---------------------------------------------------------------- start */

static int write_file(const char *dir, const char *name, const char *data, struct berth_error **err)
{
        _cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

        if (dfd < 0)
                return berth_error_set(err, errno, "open `%s`", dir);
        return berth_write_atomic_at(dfd, name, data, strlen(data), err);
}

void container_unmount_rootfs(struct containers *cs, struct container *c)
{
        /* the shareable /dev/shm goes with the run (moby unmounts it at stop too); joiners keep
         * their own bind of it; so do the container's network namespace, endpoints and ports */
        container_ipc_release(c);
        network_container_release(cs->d->networks, c->id);
        pthread_mutex_lock(&cs->lock);
        if (c->io_holds > 0) {
                /* a copy in progress: its release unmounts */
                pthread_mutex_unlock(&cs->lock);
                return;
        }
        pthread_mutex_unlock(&cs->lock);
        if (umount2(c->rootfs, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
                berth_warn("container `%s`: unmount rootfs: %s", c->id, strerror(errno));
        pthread_mutex_lock(&cs->lock);
        c->mounted = false;
        pthread_mutex_unlock(&cs->lock);
}

static int mount_rootfs(struct containers *cs, struct container *c, struct berth_error **err)
{
        _cleanup_strv_ char **image_dirs = NULL, **dirs = NULL;
        _cleanup_free_ char *upper = xasprintf("%s/upper", c->dir);
        _cleanup_free_ char *work = xasprintf("%s/work", c->dir);
        _cleanup_free_ char *init = NULL;
        int r;

        r = berth_image_layer_dirs(cs->d->images, berth_json_get_str(c->config, "image_id"),
                                   &image_dirs, err);
        if (r < 0)
                return r;
        /* the mount points of /etc/hosts, /etc/hostname, /etc/resolv.conf (and /proc, /sys, …)
         * live in a layer of their own, so they never land in the upper dir (diff, commit) */
        r = etc_files_init_layer(c, &init, err);
        if (r < 0)
                return r;
        strv_push(&dirs, init);
        for (char **p = image_dirs; *p; p++)
                strv_push(&dirs, *p);
        if ((mkdir(upper, 0755) < 0 && errno != EEXIST) ||
            (mkdir(work, 0700) < 0 && errno != EEXIST) ||
            (mkdir(c->rootfs, 0755) < 0 && errno != EEXIST))
                return berth_error_set(err, errno, "container dirs under `%s`", c->dir);
        pthread_mutex_lock(&cs->lock);
        if (c->mounted && c->io_holds > 0) {
                /* mounted for a copy in progress: the container uses that mount */
                pthread_mutex_unlock(&cs->lock);
                return 0;
        }
        pthread_mutex_unlock(&cs->lock);
        /* a stale mount of a previous run (daemon killed mid-way) */
        umount2(c->rootfs, MNT_DETACH);
        r = berth_overlay_mount(dirs, strv_length(dirs), upper, work, c->rootfs, err);
        if (r < 0)
                return r;
        pthread_mutex_lock(&cs->lock);
        c->mounted = true;
        pthread_mutex_unlock(&cs->lock);
        return 0;
}

/* Fill the volumes of c's "populate" list from its mounted rootfs (docker's CopyData). */
static int populate_mounted(struct containers *cs, struct container *c, struct berth_error **err)
{
        json_t *todo = json_object_get(c->config, "populate");
        _cleanup_close_ int rootfd = open(c->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        json_t *e;
        size_t i;
        int r;

        if (rootfd < 0)
                return berth_error_set(err, errno, "open `%s`", c->rootfs);
        json_array_foreach(todo, i, e)
        {
                const char *name = berth_json_get_str(e, "Name");
                const char *dst = berth_json_get_str(e, "Destination");
                if (!name || !dst)
                        continue;
                r = volumes_populate(cs->d->volumes, name, rootfd, dst, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int container_populate_volumes(struct containers *cs, struct container *c, struct berth_error **err)
{
        bool temp;
        int r;

        if (json_array_size(json_object_get(c->config, "populate")) == 0)
                return 0;
        r = container_rootfs_hold(cs, c, &temp, err);
        if (r < 0)
                return r;
        r = populate_mounted(cs, c, err);
        container_rootfs_release(cs, c);
        return r;
}

static int build_spec(struct containers *cs, struct container *c, struct berth_error **err)
{
        struct daemon *d = cs->d;
        json_t *hc = container_cfg(c, "HostConfig");
        const char *netmode = berth_json_get_str(hc, "NetworkMode") ?: "";
        const char *hostname = json_string_value(container_cfg(c, "Hostname"));
        _cleanup_free_ char *short_id = xstrndup(c->id, 12);
        _cleanup_free_ char *hosts = xasprintf("%s/hosts", c->dir);
        _cleanup_free_ char *resolv = xasprintf("%s/resolv.conf", c->dir);
        _cleanup_free_ char *hostname_path = xasprintf("%s/hostname", c->dir);
        _cleanup_json_ json_t *spec = NULL;
        _cleanup_free_ char *text = NULL;
        _cleanup_free_ struct spec_mount *mounts = NULL;
        _cleanup_free_ char *shm_path = NULL;
        json_t *ms = json_object_get(c->config, "mounts");
        struct spec_ctx ctx = {0};
        const char *modes[] = {"NetworkMode", "PidMode", "IpcMode", "UTSMode"};
        pid_t *pids[] = {&ctx.net_container_pid, &ctx.pid_container_pid, &ctx.ipc_container_pid,
                         &ctx.uts_container_pid};
        bool host_net = strcmp(netmode, "host") == 0;
        struct network_setup net = {0};
        json_t *e;
        size_t i;
        int r;

        if (!hostname || !*hostname)
                hostname = host_net ? NULL : short_id;
        if (host_net && !hostname) {
                static char hn[256];
                gethostname(hn, sizeof(hn) - 1);
                hostname = hn;
        }
        r = network_container_setup(d->networks, c, hostname, &net, err);
        if (r >= 0) {
                /* its own addresses on its first network and its names, as dockerd writes
                 * them (the IPv4 line, then the IPv6 one) */
                struct etc_hosts_entry own[2];
                size_t n_own = 0;
                if (net.own_ip)
                        own[n_own++] = (struct etc_hosts_entry){net.own_ip, net.own_names};
                if (net.own_ip6)
                        own[n_own++] = (struct etc_hosts_entry){net.own_ip6, net.own_names};
                r = etc_files_write(c, hostname, host_net, n_own ? own : NULL, n_own,
                                    net.resolv_conf, networks_host_gateway(d->networks), err);
        }
        ctx.netns_path = net.netns_path;
        if (r < 0)
                goto out;
        r = container_ipc_prepare(cs, c, &shm_path, err);
        if (r < 0)
                goto out;
        for (size_t k = 0; k < ARRAY_SIZE(modes); k++) {
                const char *m = berth_json_get_str(hc, modes[k]);
                struct container *other;
                if (!m || strncmp(m, "container:", 10) != 0)
                        continue;
                r = container_get(cs, m + 10, &other, err);
                if (r < 0)
                        goto out;
                pthread_mutex_lock(&cs->lock);
                *pids[k] = other->status == CONTAINER_RUNNING || other->status == CONTAINER_PAUSED
                               ? other->pid
                               : 0;
                pthread_mutex_unlock(&cs->lock);
                if (*pids[k] == 0) {
                        r = berth_error_setx(err, EINVAL,
                                             "cannot join namespace of a non running container "
                                             "%s",
                                             other->id);
                        container_unref(cs, other);
                        goto out;
                }
                container_unref(cs, other);
        }
        mounts = xcalloc(json_array_size(ms) + 1, sizeof(*mounts));
        json_array_foreach(ms, i, e)
        {
                mounts[i] = (struct spec_mount){
                    .source = berth_json_get_str(e, "Source"),
                    .target = berth_json_get_str(e, "Destination"),
                    .readonly = !json_is_true(json_object_get(e, "RW")),
                    .propagation = berth_json_get_str(e, "Propagation"),
                };
                if (mounts[i].propagation && !*mounts[i].propagation)
                        mounts[i].propagation = NULL;
        }
        ctx.id = c->id;
        ctx.rootfs = c->rootfs;
        ctx.hostname = hostname;
        ctx.hosts_path = hosts;
        ctx.resolv_path = resolv;
        ctx.hostname_path = hostname_path;
        ctx.init_path = d->init_path ? d->init_path : d->shim_path;
        ctx.seccomp_default_path = d->seccomp_default_path;
        ctx.cgroup_parent = berth_json_get_str(hc, "CgroupParent");
        if (ctx.cgroup_parent && !*ctx.cgroup_parent)
                ctx.cgroup_parent = NULL;
        ctx.shm_path = shm_path;
        ctx.mounts = mounts;
        ctx.n_mounts = json_array_size(ms);
        r = daemon_spec_build(json_object_get(c->config, "create"),
                              json_object_get(c->config, "image_config"), &ctx, &spec, err);
        if (r < 0)
                goto out;
        r = container_rt_spec_adjust(cs, c, spec, err);
        if (r < 0)
                goto out;
        text = berth_json_dump(spec, false);
        r = write_file(c->dir, "config.json", text, err);
out:
        network_setup_release(&net);
        return r;
}

int container_shim_send(int fd, json_t *msg, int pass_fd, struct berth_error **err)
{
        return container_shim_send_fds(fd, msg, &pass_fd, pass_fd >= 0 ? 1 : 0, err);
}

int container_shim_send_fds(int fd, json_t *msg, const int *fds, size_t nfds,
                            struct berth_error **err)
{
        _cleanup_free_ char *s = berth_json_dump(msg, false);
        ssize_t n = berth_send_fds(fd, s, strlen(s), fds, nfds);

        if (n < 0)
                return berth_error_set(err, (int)-n, "send to the shim");
        return 0;
}

/* One datagram from the shim (timeout ms); EPIPE when it closed the channel. */
int container_shim_recv(int fd, int timeout_ms, json_t **ret, struct berth_error **err)
{
        char buf[BERTH_SHIM_MSG_MAX + 1];
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n;
        json_t *j;

        for (;;) {
                int r = poll(&p, 1, timeout_ms);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r == 0)
                        return berth_error_setx(err, ETIMEDOUT, "the shim did not answer");
                break;
        }
        n = recv(fd, buf, sizeof(buf) - 1, MSG_CMSG_CLOEXEC);
        if (n < 0)
                return berth_error_set(err, errno, "read from the shim");
        if (n == 0)
                return berth_error_setx(err, EPIPE, "the shim exited without a word");
        buf[n] = '\0';
        j = json_loads(buf, 0, NULL);
        if (!j)
                return berth_error_setx(err, EPROTO, "bad message from the shim: `%s`", buf);
        if (json_object_get(j, "error")) {
                int code = (int)json_integer_value(json_object_get(j, "code"));
                int r = berth_error_setx(err, code > 0 ? code : EIO, "%s",
                                         berth_json_get_str(j, "error") ?: "shim error");
                json_decref(j);
                return r;
        }
        *ret = j;
        return 0;
}

/* Run the shim with fd 3 = ctl_child and stdio on /dev/null (posix_spawn: a vfork, no copy of
 * the daemon's address space on the start path); waits for that first process, which exits at
 * once (the shim double-forks: it is not our child afterwards). */
void container_spawnattr_init(posix_spawnattr_t *attr)
{
        sigset_t none, dfl;

        posix_spawnattr_init(attr);
        sigemptyset(&none);
        sigemptyset(&dfl);
        sigaddset(&dfl, SIGPIPE);
        posix_spawnattr_setsigmask(attr, &none);
        posix_spawnattr_setsigdefault(attr, &dfl);
        posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
}

int container_shim_spawn(struct containers *cs, char **argv, int ctl_child,
                         struct berth_error **err)
{
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        pid_t pid;
        int status, r;

        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        if (!getenv("BERTH_SHIM_STDERR"))
                posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        /* dup2 clears close-on-exec on the copy */
        posix_spawn_file_actions_adddup2(&fa, ctl_child, BERTH_SHIM_CONTROL_FD);
        container_spawnattr_init(&attr);
        r = posix_spawn(&pid, cs->d->shim_path, &fa, &attr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (r != 0)
                return berth_error_set(err, r, "run the shim `%s`", cs->d->shim_path);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return berth_error_setx(err, EIO, "shim `%s` failed to start (status %d)",
                                        cs->d->shim_path, status);
        return 0;
}

void container_watch_shim(struct containers *cs, struct container *c, int pidfd)
{
        struct epoll_event ev = {.events = EPOLLIN};

        pthread_mutex_lock(&cs->lock);
        if (c->pidfd >= 0)
                close(c->pidfd);
        c->pidfd = pidfd;
        c->refs++; /* the watcher's, dropped when the exit is processed */
        ev.data.ptr = c;
        pthread_mutex_unlock(&cs->lock);
        if (epoll_ctl(cs->epfd, EPOLL_CTL_ADD, pidfd, &ev) < 0)
                berth_warn("container `%s`: watch shim: %s", c->id, strerror(errno));
}

int container_start_locked(struct containers *cs, struct container *c, struct berth_error **err)
{
        _cleanup_close_ int ctl = -1, ctl_child = -1;
        _cleanup_json_ json_t *msg = NULL;
        _cleanup_strv_ char **argv = NULL;
        bool tty = json_is_true(container_cfg(c, "Tty"));
        bool open_stdin = json_is_true(container_cfg(c, "OpenStdin"));
        bool stdin_once = json_is_true(container_cfg(c, "StdinOnce"));
        json_t *logcfg = container_host_cfg(c, "LogConfig");
        json_t *logopts = json_object_get(logcfg, "Config");
        const char *log_type = berth_json_get_str(logcfg, "Type");
        _cleanup_free_ char *exit_path = xasprintf("%s/%s", c->state_dir, BERTH_SHIM_EXIT_FILE);
        struct pending_attach *pending;
        pid_t pid, shim_pid;
        int sp[2], pidfd, r;

        pthread_mutex_lock(&cs->lock);
        if (c->status == CONTAINER_RUNNING || c->status == CONTAINER_PAUSED) {
                pthread_mutex_unlock(&cs->lock);
                return berth_error_setx(err, EALREADY, "container already started");
        }
        if (c->removed || c->status == CONTAINER_REMOVING) {
                pthread_mutex_unlock(&cs->lock);
                return berth_error_setx(err, EINVAL, "container is marked for removal");
        }
        pthread_mutex_unlock(&cs->lock);

        r = mount_rootfs(cs, c, err);
        if (r < 0)
                return r;
        berth_debug("container `%.12s`: rootfs mounted", c->id);
        r = build_spec(cs, c, err);
        if (r < 0)
                goto fail_unmount;
        berth_debug("container `%.12s`: spec written", c->id);
        unlink(exit_path);

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
                r = berth_error_set(err, errno, "socketpair");
                goto fail_unmount;
        }
        ctl = sp[0];
        ctl_child = sp[1];
        strv_push(&argv, "berth-shim");
        strv_push(&argv, "create");
        strv_push(&argv, "--id");
        strv_push(&argv, c->id);
        strv_push(&argv, "--bundle");
        strv_push(&argv, c->dir);
        strv_push(&argv, "--state");
        strv_push(&argv, c->state_dir);
        r = container_rt_shim_args(cs, c, &argv, err);
        if (r < 0)
                goto fail_unmount;
        if (open_stdin)
                strv_push(&argv, "--stdin");
        if (open_stdin && stdin_once)
                strv_push(&argv, "--stdin-once");
        if (tty)
                strv_push(&argv, "--tty");
        if (logs_driver_readable(log_type)) {
                /* the local driver: the same file, docker's local defaults (20 MiB x 5) */
                bool local = log_type && strcmp(log_type, "local") == 0;
                const char *size = berth_json_get_str(logopts, "max-size");
                const char *files = berth_json_get_str(logopts, "max-file");
                if (local && !size)
                        size = "20m";
                if (local && !files)
                        files = "5";
                strv_push(&argv, "--log");
                strv_push(&argv, c->log_path);
                if (size) {
                        strv_push(&argv, "--log-max-size");
                        strv_push(&argv, size);
                }
                if (files) {
                        strv_push(&argv, "--log-max-files");
                        strv_push(&argv, files);
                }
        } else if (strcmp(log_type, "none") != 0) {
                r = berth_error_setx(err, EINVAL, "logging driver `%s` is not supported", log_type);
                goto fail_unmount;
        }
        r = container_shim_spawn(cs, argv, ctl_child, err);
        close(TAKE_FD(ctl_child));
        if (r < 0)
                goto fail_unmount;
        r = container_shim_recv(ctl, 60000, &msg, err);
        if (r < 0)
                goto fail_unmount;
        berth_debug("container `%.12s`: shim created it", c->id);
        pid = (pid_t)json_integer_value(json_object_get(json_object_get(msg, "created"), "pid"));
        shim_pid =
            (pid_t)json_integer_value(json_object_get(json_object_get(msg, "created"), "shim_pid"));
        json_decref(TAKE_PTR(msg));
        if (pid <= 0 || shim_pid <= 0) {
                r = berth_error_setx(err, EPROTO, "the shim sent no pids");
                goto fail_unmount;
        }

        /* attach requests made before start see all the output */
        pthread_mutex_lock(&cs->lock);
        pending = TAKE_PTR(c->pending);
        pthread_mutex_unlock(&cs->lock);
        while (pending) {
                struct pending_attach *p = pending;
                pending = p->next;
                int fds[2] = {p->fd, p->notify_fd};
                if (container_shim_send_fds(ctl, p->msg, fds, p->notify_fd >= 0 ? 2 : 1, NULL) < 0)
                        berth_warn("container `%s`: attach lost", c->id);
                json_decref(p->msg);
                if (p->fd >= 0)
                        close(p->fd);
                if (p->notify_fd >= 0)
                        close(p->notify_fd);
                free(p);
        }
        pidfd = pidfd_open(shim_pid);
        msg = json_pack("{s:b}", "start", true);
        r = container_shim_send(ctl, msg, -1, err);
        json_decref(TAKE_PTR(msg));
        if (r >= 0)
                r = container_shim_recv(ctl, 60000, &msg, err);
        if (r < 0) {
                /* the shim cleans up after itself; make sure the container is gone */
                container_rt_delete(cs, c);
                if (pidfd >= 0)
                        close(pidfd);
                goto fail_unmount;
        }

        berth_debug("container `%.12s`: started", c->id);
        pthread_mutex_lock(&cs->lock);
        c->status = CONTAINER_RUNNING;
        c->pid = pid;
        c->shim_pid = shim_pid;
        c->shim_start = container_proc_start_time(shim_pid);
        c->exit_code = 0;
        c->oom_killed = false;
        free(c->error);
        c->error = xstrdup("");
        free(c->started_at);
        c->started_at = container_now_rfc3339();
        free(c->finished_at);
        c->finished_at = xstrdup(zero_time);
        c->has_been_started = true;
        c->stopped_by_user = false;
        health_reset_locked(c);
        container_persist_locked(cs, c);
        pthread_cond_broadcast(&cs->cond);
        pthread_mutex_unlock(&cs->lock);
        container_publish(cs, c, "start", NULL);
        if (pidfd >= 0) {
                container_watch_shim(cs, c, pidfd);
        } else {
                /* the shim is gone already (a very short container): its exit.json tells */
                container_ref(cs, c);
                container_exited(cs, c);
        }
        return 0;

fail_unmount:
        container_unmount_rootfs(cs, c);
        pthread_mutex_lock(&cs->lock);
        free(c->error);
        c->error = xstrdup(*err ? (*err)->msg : "start failed");
        if (c->has_been_started) {
                c->status = CONTAINER_EXITED;
                c->exit_code = 128;
        }
        container_persist_locked(cs, c);
        pthread_mutex_unlock(&cs->lock);
        return r;
}

/* Attach clients queued for a start that failed: their connections are closed (the client sees
 * the end of the stream and reports start's error). */
static void release_pending(struct containers *cs, struct container *c)
{
        struct pending_attach *pending;

        pthread_mutex_lock(&cs->lock);
        pending = TAKE_PTR(c->pending);
        pthread_mutex_unlock(&cs->lock);
        while (pending) {
                struct pending_attach *p = pending;
                pending = p->next;
                json_decref(p->msg);
                if (p->fd >= 0) {
                        shutdown(p->fd, SHUT_RDWR);
                        close(p->fd);
                }
                if (p->notify_fd >= 0)
                        close(p->notify_fd);
                free(p);
        }
}

int container_start(struct containers *cs, struct container *c, struct berth_error **err)
{
        _cleanup_error_ struct berth_error *e2 = NULL;
        int r;

        pthread_mutex_lock(&c->op);
        r = container_start_locked(cs, c, err);
        pthread_mutex_unlock(&c->op);
        if (r < 0 && r != -EALREADY) {
                release_pending(cs, c);
                /* like docker: --rm removes a container that could not start (its client waits
                 * for condition=removed) */
                if (json_is_true(container_host_cfg(c, "AutoRemove")) && !c->removed &&
                    container_remove(cs, c, true, true, &e2) < 0)
                        berth_warn("container `%s`: auto-remove: %s", c->id, e2->msg);
        }
        return r;
}

int container_rootfs_hold(struct containers *cs, struct container *c, bool *ret_temp,
                          struct berth_error **err)
{
        int r = 0;

        pthread_mutex_lock(&c->op);
        pthread_mutex_lock(&cs->lock);
        if (c->mounted) {
                c->io_holds++;
                pthread_mutex_unlock(&cs->lock);
                pthread_mutex_unlock(&c->op);
                *ret_temp = true;
                return 0;
        }
        pthread_mutex_unlock(&cs->lock);
        r = mount_rootfs(cs, c, err);
        if (r >= 0) {
                pthread_mutex_lock(&cs->lock);
                c->io_holds++;
                pthread_mutex_unlock(&cs->lock);
                *ret_temp = true;
        }
        pthread_mutex_unlock(&c->op);
        return r;
}

void container_rootfs_release(struct containers *cs, struct container *c)
{
        bool unmount;

        pthread_mutex_lock(&c->op);
        pthread_mutex_lock(&cs->lock);
        c->io_holds--;
        unmount =
            c->io_holds == 0 && c->status != CONTAINER_RUNNING && c->status != CONTAINER_PAUSED;
        pthread_mutex_unlock(&cs->lock);
        if (unmount)
                container_unmount_rootfs(cs, c);
        pthread_mutex_unlock(&c->op);
}
