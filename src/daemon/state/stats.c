/* docker's stats JSON from runtime samples, the per-container sampler, GET …/stats. */
#include "daemon/state/stats.h"
#include "daemon/daemon.h"
#include "runtime/runtime.h"

#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

static void sample_copy(struct stats_sample *dst, const struct stats_sample *src)
{
        *dst = *src;
        json_incref(dst->cg);
        json_incref(dst->percpu);
        json_incref(dst->blkio);
        json_incref(dst->networks);
}

/* ---------------------------------------------------------------- sampling */

static char *read_text(const char *path)
{
        char *data = NULL;
        if (berth_read_file_at(AT_FDCWD, path, 1 << 20, &data, NULL, NULL) < 0)
                return NULL;
        return data;
}

/* The container's own cgroup dir of a v1 controller ("blkio", "cpuacct") or of the unified
 * hierarchy (controller NULL), from its init's /proc/<pid>/cgroup. NULL when the container has
 * no cgroup of its own there (its path does not name the container: on a hybrid host the
 * runtime leaves it in the host's root of controllers it does not use, whose counters are the
 * whole host's). */
static char *cgroup_dir(const char *proc_cgroup, const char *controller, const char *id)
{
        static int pure_v2 = -1;
        if (pure_v2 < 0)
                pure_v2 = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
        _cleanup_free_ char *copy = xstrdup(proc_cgroup);
        char *save = NULL;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *c1 = strchr(line, ':');
                char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2)
                        continue;
                *c2 = '\0';
                const char *ctrls = c1 + 1, *path = c2 + 1;
                if (!strstr(path, id))
                        continue;
                if (!controller) {
                        if (!strcmp(line, "0") && !*ctrls)
                                return xasprintf(pure_v2 ? "/sys/fs/cgroup%s"
                                                         : "/sys/fs/cgroup/unified%s",
                                                 path);
                        continue;
                }
                /* "cpu,cpuacct" */
                _cleanup_free_ char *list = xstrdup(ctrls);
                char *s2 = NULL;
                for (char *c = strtok_r(list, ",", &s2); c; c = strtok_r(NULL, ",", &s2))
                        if (!strcmp(c, controller))
                                return xasprintf("/sys/fs/cgroup/%s%s", controller, path);
        }
        return NULL;
}

/* When pid started (ns since the epoch), from its starttime in /proc/<pid>/stat (clock ticks
 * since boot) and its age on CLOCK_BOOTTIME; 0 when unknown. Not from /proc/stat's btime: that is
 * in whole seconds, and up to a second of error skews the CPU % of a young container (its
 * baseline is its start) by half. */
static int64_t process_start_ns(pid_t pid)
{
        _cleanup_free_ char *path = xasprintf("/proc/%d/stat", (int)pid);
        _cleanup_free_ char *st = read_text(path);
        /* the command may hold spaces and parentheses: count from the last ')' */
        char *p = st ? strrchr(st, ')') : NULL;
        if (!p)
                return 0;
        unsigned long long start = 0;
        /* after ')': field 3 (state) … field 22 (starttime) */
        for (int field = 3; field <= 22 && p; field++)
                p = strchr(p + 1, ' ');
        if (!p || sscanf(p + 1, "%llu", &start) != 1)
                return 0;
        long hz = sysconf(_SC_CLK_TCK);
        struct timespec boot, real;
        if (hz <= 0 || clock_gettime(CLOCK_BOOTTIME, &boot) < 0 ||
            clock_gettime(CLOCK_REALTIME, &real) < 0)
                return 0;
        int64_t age = (int64_t)boot.tv_sec * 1000000000 + boot.tv_nsec -
                      (int64_t)(start * (1000000000ull / (uint64_t)hz));
        if (age < 0)
                age = 0;
        return (int64_t)real.tv_sec * 1000000000 + real.tv_nsec - age;
}

static uint64_t mem_total(void)
{
        static uint64_t total;
        if (total)
                return total;
        _cleanup_free_ char *mi = read_text("/proc/meminfo");
        unsigned long long kb;
        const char *p = mi ? strstr(mi, "MemTotal:") : NULL;
        if (p && sscanf(p, "MemTotal: %llu kB", &kb) == 1)
                total = kb * 1024;
        return total;
}

/* The cgroup reading of a container an external runtime made (cgroups_path "": the default
 * one), running while its cgroup has a process; *ret_pid its first process. */
static int external_take(const char *cgroups_path, const char *id, json_t **ret_data,
                         bool *ret_running, pid_t *ret_pid, struct berth_error **err)
{
        const char *cg = *cgroups_path ? cgroups_path : NULL;
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        if (berth_cgroup_stats(cg, id, ret_data, err) < 0)
                return -ENOENT;
        if (berth_cgroup_pids(cg, id, &pids, &n, NULL) < 0)
                n = 0;
        *ret_running = n > 0;
        *ret_pid = n > 0 ? pids[0] : 0;
        return 0;
}

int stats_sample_take(const char *runtime_root, const char *id, const char *cgroups_path,
                      struct stats_sample *ret, bool *ret_running, struct berth_error **err)
{
        struct berth_runtime rt = {.root = runtime_root};
        struct timespec now;
        _cleanup_json_ json_t *ev = NULL, *state = NULL, *data = NULL;
        bool running = false;
        pid_t pid = 0;
        if (cgroups_path) {
                if (external_take(cgroups_path, id, &data, &running, &pid, err) < 0)
                        return -ENOENT;
        } else {
                if (berth_container_stats(&rt, id, &ev, &running, err) < 0)
                        return -ENOENT;
                data = json_incref(json_object_get(ev, "data"));
        }
        clock_gettime(CLOCK_REALTIME, &now);
        struct stats_sample s = {0};
        s.read_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
        s.cg = json_incref(data);
        _cleanup_free_ char *ps = read_text("/proc/stat");
        s.system_cpu_ns = ps ? stats_parse_proc_stat(ps) : 0;
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        s.online_cpus = ncpu > 0 ? (unsigned)ncpu : 1;
        s.mem_total = mem_total();
        if (!cgroups_path && running && berth_container_state(&rt, id, &state, NULL) == 0)
                pid = (pid_t)json_integer_value(json_object_get(state, "pid"));
        if (pid > 0)
                s.started_ns = process_start_ns(pid);
        if (pid > 0) {
                _cleanup_free_ char *pcg_path = xasprintf("/proc/%d/cgroup", (int)pid);
                _cleanup_free_ char *pcg = read_text(pcg_path);
                _cleanup_free_ char *netp = xasprintf("/proc/%d/net/dev", (int)pid);
                _cleanup_free_ char *net = read_text(netp);
                if (net) {
                        s.networks = stats_parse_net_dev(net);
                        if (json_object_size(s.networks) == 0) {
                                json_decref(s.networks);
                                s.networks = NULL;
                        }
                }
                _cleanup_free_ char *acct = pcg ? cgroup_dir(pcg, "cpuacct", id) : NULL;
                if (acct) {
                        _cleanup_free_ char *f = xasprintf("%s/cpuacct.usage_percpu", acct);
                        _cleanup_free_ char *t = read_text(f);
                        if (t) {
                                s.percpu = json_array();
                                char *p = t, *end;
                                for (unsigned i = 0; i < s.online_cpus; i++) {
                                        unsigned long long v = strtoull(p, &end, 10);
                                        if (end == p)
                                                break;
                                        json_array_append_new(s.percpu,
                                                              json_integer((json_int_t)v));
                                        p = end;
                                }
                        }
                }
                _cleanup_free_ char *blk = pcg ? cgroup_dir(pcg, "blkio", id) : NULL;
                _cleanup_free_ char *uni = pcg ? cgroup_dir(pcg, NULL, id) : NULL;
                if (blk) {
                        _cleanup_free_ char *fb =
                            xasprintf("%s/blkio.throttle.io_service_bytes_recursive", blk);
                        _cleanup_free_ char *fs =
                            xasprintf("%s/blkio.throttle.io_serviced_recursive", blk);
                        _cleanup_free_ char *tb = read_text(fb);
                        _cleanup_free_ char *ts = read_text(fs);
                        s.blkio = stats_parse_blkio_v1(tb, ts);
                } else if (uni) {
                        _cleanup_free_ char *f = xasprintf("%s/io.stat", uni);
                        _cleanup_free_ char *t = read_text(f);
                        if (t)
                                s.blkio = stats_parse_io_stat(t);
                }
        }
        *ret = s;
        if (ret_running)
                *ret_running = running;
        return 0;
}

/* ---------------------------------------------------------------- the sampler */

struct tracked {
        char *id;
        char *cgroups_path; /* an external runtime's container; NULL: the built-in runtime's */
        struct stats_sample last, older; /* the two latest samples */
        int64_t wanted_ns; /* last request (or stats_track): idle ones stop being sampled */
        struct tracked *next;
};

/* A container nobody asked about for this long is no longer sampled. */
#define STATS_IDLE_NS (60ll * 1000000000)

static int64_t now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct tracked *list;
        char *runtime_root;
        bool running;
        bool stop;
        pthread_t thread;
} sampler = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static struct tracked *tracked_find(const char *id)
{
        for (struct tracked *t = sampler.list; t; t = t->next)
                if (!strcmp(t->id, id))
                        return t;
        return NULL;
}

static void tracked_remove(const char *id)
{
        for (struct tracked **p = &sampler.list; *p; p = &(*p)->next) {
                if (!strcmp((*p)->id, id)) {
                        struct tracked *t = *p;
                        *p = t->next;
                        stats_sample_release(&t->last);
                        stats_sample_release(&t->older);
                        free(t->id);
                        free(t->cgroups_path);
                        free(t);
                        return;
                }
        }
}

static void *sampler_main(void *arg)
{
        pthread_mutex_lock(&sampler.lock);
        while (!sampler.stop && sampler.list) {
                /* sample each tracked container outside the lock, one at a time */
                char **ids = NULL, **cgs = NULL;
                for (struct tracked *t = sampler.list; t; t = t->next) {
                        strv_push(&ids, t->id);
                        /* "-": the built-in runtime's (strv holds no NULL) */
                        strv_push(&cgs, t->cgroups_path ? t->cgroups_path : "-");
                }
                _cleanup_free_ char *root = xstrdup(sampler.runtime_root);
                pthread_mutex_unlock(&sampler.lock);
                for (size_t i = 0; ids && ids[i]; i++) {
                        char **id = &ids[i];
                        struct stats_sample s;
                        bool running = false;
                        int r = stats_sample_take(root, *id, strcmp(cgs[i], "-") ? cgs[i] : NULL,
                                                  &s, &running, NULL);
                        pthread_mutex_lock(&sampler.lock);
                        struct tracked *t = tracked_find(*id);
                        if (t && (r < 0 || !running || now_ns() - t->wanted_ns > STATS_IDLE_NS)) {
                                tracked_remove(*id);
                        } else if (t) {
                                stats_sample_release(&t->older);
                                t->older = t->last;
                                t->last = s;
                                r = -1;
                        }
                        pthread_mutex_unlock(&sampler.lock);
                        if (r == 0)
                                stats_sample_release(&s);
                }
                strv_free(ids);
                strv_free(cgs);
                pthread_mutex_lock(&sampler.lock);
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_sec += STATS_INTERVAL_MS / 1000;
                if (!sampler.stop)
                        pthread_cond_timedwait(&sampler.cond, &sampler.lock, &ts);
        }
        sampler.running = false;
        pthread_cond_broadcast(&sampler.cond);
        pthread_mutex_unlock(&sampler.lock);
        return arg;
}

/* with sampler.lock held; seed (may be NULL) becomes the first kept sample */
static void track_locked(const char *runtime_root, const char *id, const char *cgroups_path,
                         const struct stats_sample *seed)
{
        if (sampler.stop)
                return;
        if (!sampler.runtime_root)
                sampler.runtime_root = xstrdup(runtime_root);
        struct tracked *t = tracked_find(id);
        if (!t) {
                t = xcalloc(1, sizeof(*t));
                t->id = xstrdup(id);
                t->cgroups_path = cgroups_path ? xstrdup(cgroups_path) : NULL;
                t->next = sampler.list;
                sampler.list = t;
        }
        t->wanted_ns = now_ns();
        if (seed && t->last.read_ns == 0)
                sample_copy(&t->last, seed);
        if (!sampler.running) {
                pthread_attr_t attr;
                pthread_attr_init(&attr);
                pthread_attr_setstacksize(&attr, 256 * 1024);
                pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
                if (pthread_create(&sampler.thread, &attr, sampler_main, NULL) == 0)
                        sampler.running = true;
                pthread_attr_destroy(&attr);
        }
}

void stats_track(struct daemon *d, const char *id)
{
        pthread_mutex_lock(&sampler.lock);
        track_locked(d->runtime_root, id, NULL, NULL);
        pthread_mutex_unlock(&sampler.lock);
}

void stats_untrack(const char *id)
{
        pthread_mutex_lock(&sampler.lock);
        tracked_remove(id);
        pthread_mutex_unlock(&sampler.lock);
}

void stats_shutdown(void)
{
        pthread_mutex_lock(&sampler.lock);
        sampler.stop = true;
        pthread_cond_broadcast(&sampler.cond);
        while (sampler.running)
                pthread_cond_wait(&sampler.cond, &sampler.lock);
        while (sampler.list)
                tracked_remove(sampler.list->id);
        free(sampler.runtime_root);
        sampler.runtime_root = NULL;
        pthread_mutex_unlock(&sampler.lock);
}

/* A window shorter than this says little: /proc/stat counts in 10 ms ticks. */
#define STATS_MIN_WINDOW_NS (100ll * 1000000)

/* The latest kept sample of id at least STATS_MIN_WINDOW_NS older than now_read (else the one
 * before it), copied into *ret; read_ns 0 when there is none such. */
static void last_sample(const char *id, int64_t now_read, struct stats_sample *ret)
{
        memset(ret, 0, sizeof(*ret));
        pthread_mutex_lock(&sampler.lock);
        struct tracked *t = tracked_find(id);
        if (t && t->last.read_ns) {
                bool fresh = now_read - t->last.read_ns < STATS_MIN_WINDOW_NS;
                if (!fresh)
                        sample_copy(ret, &t->last);
                else if (t->older.read_ns)
                        sample_copy(ret, &t->older);
        }
        pthread_mutex_unlock(&sampler.lock);
}

json_t *stats_frame(const char *runtime_root, const char *id, const char *name,
                    const char *cgroups_path, struct stats_sample *prev,
                    struct stats_sample *ret_cur, bool *ret_running)
{
        bool running = false;
        if (stats_sample_take(runtime_root, id, cgroups_path, ret_cur, &running, NULL) < 0) {
                memset(ret_cur, 0, sizeof(*ret_cur));
                running = false;
        }
        if (prev->read_ns == 0)
                last_sample(id, ret_cur->read_ns, prev);
        if (prev->read_ns == 0 && running)
                stats_start_baseline(ret_cur, prev);
        if (running) {
                pthread_mutex_lock(&sampler.lock);
                track_locked(runtime_root, id, cgroups_path, ret_cur);
                pthread_mutex_unlock(&sampler.lock);
        }
        *ret_running = running;
        return stats_docker_json(ret_cur, prev, id, name);
}
