/* berthd_main: command line, start-up (state, image store, modules, live-restore) and the
 * signal loop. */
#include "daemon/build/build.h"
#include "daemon/containers/containers.h"
#include "daemon/daemon.h"
#include "daemon/state/events.h"
#include "daemon/network/network.h"
#include "daemon/http/server.h"
#include "daemon/state/volumes.h"

#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

/* the daemon's state lives as long as the process: background threads (exit watcher, health
 * scheduler, restart timers) use it until exit, so it is reachable from here, not from main's
 * stack frame that exit() reuses */
static struct daemon daemon_state;

static const char *level_names[] = {"debug", "info", "warn", "error"};

static void sink(enum berth_log_level level, const char *msg, void *userdata)
{
        struct timespec ts;
        struct tm tm;
        char buf[32];

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
        fprintf(stderr, "%s.%03ldZ berthd %s: %s\n", buf, ts.tv_nsec / 1000000, level_names[level],
                msg);
}

static void usage(FILE *f)
{
        fputs("usage: berthd [--data-root DIR] [-H unix://PATH] [--shim PATH] "
              "[--log-level debug|info|warn|error] [-D]\n"
              "              [--seccomp-profile FILE] [-b|--bridge NAME|none] [--bip CIDR]\n"
              "              [--ipv6 [--fixed-cidr-v6 CIDR]]\n"
              "              [--default-address-pool base=CIDR,size=N]...\n"
              "              [--config-file FILE] [--add-runtime NAME=PATH]...\n"
              "              [--default-runtime NAME]\n",
              f);
}

static char *self_dir_file(const char *name)
{
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

        if (n <= 0)
                return xstrdup(name);
        exe[n] = '\0';
        *strrchr(exe, '/') = '\0';
        return xasprintf("%s/%s", exe, name);
}

/* docker's default seccomp profile (data/seccomp/default.json): --seccomp-profile, then the
 * installed copy, then the source tree's (a build run from its tree) */
static char *find_seccomp_profile(const char *flag)
{
        const char *cands[] = {flag, getenv("BERTH_SECCOMP_PROFILE"),
                               BERTH_DATADIR "/seccomp/default.json",
                               BERTH_SOURCE_DATADIR "/seccomp/default.json"};

        for (size_t i = 0; i < ARRAY_SIZE(cands); i++)
                if (cands[i] && *cands[i] && access(cands[i], R_OK) == 0)
                        return xstrdup(cands[i]);
        return NULL;
}

/* busybox:latest from share/berth/default-image.tar (the build tree's when run from it), once per
 * store: a missing archive is only worth a warning (pull or load still work) */
static void load_default_image(struct berth_images *imgs)
{
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_strv_ char **loaded = NULL;

        if (berth_image_load_default(imgs, &loaded, &err) < 0) {
                berth_log(BERTH_LOG_WARN, "no default image: %s", err->msg);
                return;
        }
        for (size_t i = 0; loaded && loaded[i]; i++)
                berth_log(BERTH_LOG_INFO, "default image: %s", loaded[i]);
}

/* dir/berthd.lock, flock'ed (exclusive) for the life of the process and holding its pid: two
 * daemons on one data root (or exec root) would each take the other's containers, layers and
 * database rows for their own. The fd stays open until exit; EBUSY naming the holder's pid. */
char *daemon_engine_id(struct daemon *d)
{
        /* docker's ID is stable across restarts: kept in the data root */
        _cleanup_close_ int dfd = open(d->data_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char *id = NULL;
        if (dfd >= 0 && berth_read_file_at(dfd, "engine-id", 256, &id, NULL, NULL) == 0) {
                id[strcspn(id, "\n")] = '\0';
                if (*id)
                        return id;
                free(id);
        }
        uint8_t b[16];
        berth_random_bytes(b, sizeof(b));
        id = xasprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                       b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
                       b[13], b[14], b[15]);
        if (dfd >= 0)
                berth_write_atomic_at(dfd, "engine-id", id, strlen(id), NULL);
        return id;
}

static int lock_dir(const char *dir, const char *what, struct berth_error **err)
{
        _cleanup_free_ char *path = xasprintf("%s/berthd.lock", dir);
        _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        char pid[32];
        ssize_t n;

        if (fd < 0)
                return berth_error_set(err, errno, "open `%s`", path);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno != EWOULDBLOCK)
                        return berth_error_set(err, errno, "lock `%s`", path);
                n = pread(fd, pid, sizeof(pid) - 1, 0);
                pid[n > 0 ? n : 0] = '\0';
                pid[strcspn(pid, "\n")] = '\0';
                return berth_error_setx(err, EBUSY,
                                        "%s `%s` is in use by another berthd (pid %s): its lock "
                                        "`%s` is held",
                                        what, dir, *pid ? pid : "unknown", path);
        }
        if (ftruncate(fd, 0) < 0 || dprintf(fd, "%d\n", (int)getpid()) < 0)
                return berth_error_set(err, errno, "write `%s`", path);
        return TAKE_FD(fd);
}

static int daemon_init(struct daemon *d, struct networks_options *net, struct berth_error **err)
{
        _cleanup_free_ char *cdir = xasprintf("%s/containers", d->data_root);
        int r;

        r = berth_mkdir_p(d->data_root, 0711, err);
        if (r < 0)
                return r;
        r = berth_mkdir_p(cdir, 0710, err);
        if (r < 0)
                return r;
        r = berth_mkdir_p(d->runtime_root, 0700, err);
        if (r < 0)
                return r;
        /* before anything in them is read or written; held (never closed) until exit */
        r = lock_dir(d->data_root, "data root", err);
        if (r < 0)
                return r;
        r = lock_dir(d->runtime_root, "exec root", err);
        if (r < 0)
                return r;
        r = db_open(d, err);
        if (r < 0)
                return r;
        /* the nftables helper forked while berthd has one thread (the image store, networks and
         * containers start theirs below); without nf_tables it is harmless, and a failure here
         * only means the first transaction forks it */
        _cleanup_error_ struct berth_error *helper_err = NULL, *probe_err = NULL;
        if (berth_net_rules_helper_start(&helper_err) < 0)
                berth_warn("nftables helper: %s", helper_err->msg);
        /* the network probe forks too: still one thread (the image store's GC thread starts
         * in berth_images_open) */
        net->probed = true;
        if (berth_net_probe(&probe_err) < 0)
                net->probe_error = probe_err ? probe_err->msg : "unknown cause";
        r = berth_images_open(d->data_root, &d->images, err);
        if (r < 0)
                return berth_error_wrap(err, "image store");
        load_default_image(d->images);
        build_cleanup(d);
        d->events = events_new();
        r = volumes_open(d, &d->volumes, err);
        if (r < 0)
                return berth_error_wrap(err, "volumes");
        r = networks_open(d, net, &d->networks, err);
        if (r < 0)
                return berth_error_wrap(err, "networks");
        r = containers_open(d, &d->containers, err);
        if (r < 0)
                return r;
        networks_reconcile(d->networks);
        return 0;
}

#define DEFAULT_CONFIG_FILE "/etc/berth/daemon.json"

/* A value from the file where the flag gave none; both: dockerd's conflict error. */
static int merge_one(const char *key, const char *from_file, const char **flag,
                     struct berth_error **err)
{
        if (!from_file)
                return 0;
        if (*flag)
                return berth_error_setx(err, EINVAL,
                                        "the following directives are specified both as a flag "
                                        "and in the configuration file: %s: (from flag: %s, from "
                                        "file: %s)",
                                        key, *flag, from_file);
        *flag = from_file;
        return 0;
}

static int merge_bool(const char *key, int from_file, bool *flag, struct berth_error **err)
{
        if (from_file < 0)
                return 0;
        if (*flag)
                return berth_error_setx(err, EINVAL,
                                        "the following directives are specified both as a flag "
                                        "and in the configuration file: %s: (from flag: true, "
                                        "from file: %s)",
                                        key, from_file ? "true" : "false");
        *flag = from_file;
        return 0;
}

static int config_merge(const struct daemon_config *cfg, const char *data_root_flag,
                        const char **data_root, const char **host, const char **level, bool *debug,
                        const char **seccomp, struct networks_options *net,
                        const char **default_runtime, struct berth_error **err)
{
        static const char default_host[] = "unix:///run/berth/berth.sock";
        const char *dr = data_root_flag, *h = strcmp(*host, default_host) ? *host : NULL;
        bool ipv6 = net->ipv6;

        if (merge_one("data-root", cfg->data_root, &dr, err) < 0 ||
            merge_one("hosts", cfg->host, &h, err) < 0 ||
            merge_one("log-level", cfg->log_level, level, err) < 0 ||
            merge_bool("debug", cfg->debug, debug, err) < 0 ||
            merge_one("seccomp-profile", cfg->seccomp_profile, seccomp, err) < 0 ||
            merge_one("bridge", cfg->bridge, &net->bridge, err) < 0 ||
            merge_one("bip", cfg->bip, &net->bip, err) < 0 ||
            merge_bool("ipv6", cfg->ipv6, &ipv6, err) < 0 ||
            merge_one("fixed-cidr-v6", cfg->fixed_cidr_v6, &net->fixed_cidr_v6, err) < 0 ||
            merge_one("default-runtime", cfg->default_runtime, default_runtime, err) < 0)
                return -EINVAL;
        net->ipv6 = ipv6;
        if (dr)
                *data_root = dr;
        if (h)
                *host = h;
        return 0;
}

/* --add-runtime NAME=PATH, beside the file's runtimes. */
static int runtimes_add(struct daemon_config *cfg, char **specs, struct berth_error **err)
{
        for (size_t i = 0; specs && specs[i]; i++) {
                _cleanup_free_ char *name = xstrdup(specs[i]);
                char *eq = strchr(name, '=');
                if (!eq || eq == name || !eq[1])
                        return berth_error_setx(err, EINVAL,
                                                "--add-runtime `%s`: expected NAME=PATH", specs[i]);
                *eq = '\0';
                if (daemon_config_add_runtime(cfg, name, eq + 1, NULL, err) < 0)
                        return berth_error_wrap(err, "--add-runtime");
        }
        return 0;
}

/* SIGHUP: dockerd's reload of daemon.json for its runtimes and default-runtime (the other keys
 * take effect at the next start). A bad file is logged and the running set stays. */
static void reload_runtimes(struct daemon *d, const char *config_file, char **add_runtimes,
                            const char *default_flag)
{
        _cleanup_(daemon_config_release) struct daemon_config cfg = {.ipv6 = -1, .debug = -1};
        _cleanup_error_ struct berth_error *err = NULL;
        const char *path = config_file ? config_file : DEFAULT_CONFIG_FILE;
        const char *dflt = default_flag;
        struct daemon_runtimes *rts;

        if (daemon_config_load(path, config_file != NULL, &cfg, &err) < 0 ||
            merge_one("default-runtime", cfg.default_runtime, &dflt, &err) < 0 ||
            runtimes_add(&cfg, add_runtimes, &err) < 0 ||
            !(rts = daemon_runtimes_new(&cfg, dflt, &err))) {
                berth_warn("reload: %s (the runtimes stay as they were)", err->msg);
                return;
        }
        if (containers_runtimes_check(d->containers, rts, &err) < 0) {
                berth_warn("reload: %s (the runtimes stay as they were)", err->msg);
                daemon_runtimes_put(rts);
                return;
        }
        berth_log(BERTH_LOG_INFO,
                  "reload: %zu runtimes from `%s` and --add-runtime, default `%s` (other keys "
                  "take effect at the next start)",
                  rts->n, path, rts->default_runtime);
        daemon_runtimes_set(d, rts);
}

int berthd_main(int argc, char **argv)
{
        static const struct option opts[] = {
            {"data-root", required_argument, NULL, 'R'},
            {"host", required_argument, NULL, 'H'},
            {"shim", required_argument, NULL, 'S'},
            {"log-level", required_argument, NULL, 'l'},
            {"debug", no_argument, NULL, 'D'},
            {"seccomp-profile", required_argument, NULL, 'P'},
            {"bridge", required_argument, NULL, 'b'},
            {"bip", required_argument, NULL, 'B'},
            {"ipv6", no_argument, NULL, '6'},
            {"fixed-cidr-v6", required_argument, NULL, 'F'},
            {"default-address-pool", required_argument, NULL, 'p'},
            {"config-file", required_argument, NULL, 'C'},
            {"add-runtime", required_argument, NULL, 'A'},
            {"default-runtime", required_argument, NULL, 'd'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        struct daemon *d = &daemon_state;
        _cleanup_error_ struct berth_error *err = NULL;
        enum berth_log_level level = BERTH_LOG_INFO;
        const char *data_root = getenv("BERTH_DATA_ROOT");
        const char *host = "unix:///run/berth/berth.sock";
        const char *shim = NULL, *seccomp = NULL;
        struct networks_options net = {0};
        _cleanup_free_ const char **pools = xcalloc((size_t)argc + 1, sizeof(*pools));
        const char *config_file = NULL, *level_arg = NULL, *default_runtime = NULL;
        const char *default_runtime_flag = NULL; /* for reloads: the file's may change */
        _cleanup_strv_ char **add_runtimes = NULL;
        bool debug = false, data_root_flag = false;
        sigset_t mask;
        int c, sig;

        if (!data_root || !*data_root)
                data_root = "/var/lib/berth";
        while ((c = getopt_long(argc, argv, "H:b:Dh", opts, NULL)) != -1) {
                switch (c) {
                case 'R':
                        data_root = optarg;
                        data_root_flag = true;
                        break;
                case 'H':
                        host = optarg;
                        break;
                case 'S':
                        shim = optarg;
                        break;
                case 'l':
                        level_arg = optarg;
                        break;
                case 'D':
                        debug = true;
                        break;
                case 'P':
                        seccomp = optarg;
                        break;
                case 'b':
                        net.bridge = optarg;
                        break;
                case 'B':
                        net.bip = optarg;
                        break;
                case '6':
                        net.ipv6 = true;
                        break;
                case 'F':
                        net.fixed_cidr_v6 = optarg;
                        break;
                case 'p':
                        pools[net.n_default_pools++] = optarg;
                        break;
                case 'C':
                        config_file = optarg;
                        break;
                case 'A':
                        strv_push(&add_runtimes, optarg);
                        break;
                case 'd':
                        default_runtime = default_runtime_flag = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind < argc) {
                usage(stderr);
                return 2;
        }
        /* dockerd's daemon.json: a key there and its flag both given is an error, as in dockerd */
        static struct daemon_config cfg;
        if (daemon_config_load(config_file ? config_file : DEFAULT_CONFIG_FILE, config_file != NULL,
                               &cfg, &err) < 0 ||
            config_merge(&cfg, data_root_flag ? data_root : NULL, &data_root, &host, &level_arg,
                         &debug, &seccomp, &net, &default_runtime, &err) < 0 ||
            runtimes_add(&cfg, add_runtimes, &err) < 0) {
                fprintf(stderr, "berthd: %s\n", err->msg);
                return 1;
        }
        if (level_arg) {
                for (c = 0; c < (int)ARRAY_SIZE(level_names); c++)
                        if (strcmp(level_arg, level_names[c]) == 0)
                                break;
                if (c == (int)ARRAY_SIZE(level_names) && strcmp(level_arg, "warning") != 0) {
                        fprintf(stderr, "berthd: unknown log level `%s`\n", level_arg);
                        return 2;
                }
                level =
                    c == (int)ARRAY_SIZE(level_names) ? BERTH_LOG_WARN : (enum berth_log_level)c;
        }
        if (debug)
                level = BERTH_LOG_DEBUG;
        pthread_mutex_init(&d->runtimes_lock, NULL);
        {
                struct daemon_runtimes *rts = daemon_runtimes_new(&cfg, default_runtime, &err);
                if (!rts) {
                        fprintf(stderr, "berthd: %s\n", err->msg);
                        return 1;
                }
                daemon_runtimes_set(d, rts);
        }
        if (strncmp(host, "unix://", 7) != 0 || host[7] != '/') {
                fprintf(stderr, "berthd: only unix:///absolute/path hosts are supported: `%s`\n",
                        host);
                return 2;
        }
        if (data_root[0] != '/') {
                fprintf(stderr, "berthd: --data-root must be absolute: `%s`\n", data_root);
                return 2;
        }
        berth_log_set_sink(sink, level, NULL);
        umask(022);

        d->data_root = xstrdup(data_root);
        d->socket_path = xstrdup(host + 7);
        d->runtime_root = xasprintf("%s/runtime", data_root);
        d->shim_path = shim ? xstrdup(shim) : self_dir_file("berth-shim");
        d->seccomp_default_path = find_seccomp_profile(seccomp);
        pthread_mutex_init(&d->db_lock, NULL);
        /* one heap per connection thread would keep what each request freed: two are enough */
        mallopt(M_ARENA_MAX, 2);

        /* signals are taken synchronously below; every thread inherits the mask */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        /* checked again when binding: this is to refuse before restoring any container */
        net.default_pools = pools;
        if (server_socket_check(d->socket_path, &err) < 0 || daemon_init(d, &net, &err) < 0 ||
            server_start(d, &d->server, &err) < 0) {
                fprintf(stderr, "berthd: %s\n", err->msg);
                return 1;
        }
        berth_log(BERTH_LOG_INFO, "listening on `%s` (data root `%s`)", d->socket_path,
                  d->data_root);
        {
                /* a re-adopted container whose runtime the configuration no longer names */
                _cleanup_(daemon_runtimes_putp) struct daemon_runtimes *rts =
                    daemon_runtimes_get(d);
                if (containers_runtimes_check(d->containers, rts, &err) < 0) {
                        berth_warn("%s, but the configuration does not name it: it cannot be "
                                   "stopped until it does (add it and send SIGHUP)",
                                   err->msg);
                        berth_error_free(TAKE_PTR(err));
                }
        }
        for (;;) {
                sig = sigtimedwait(&mask, NULL, &(struct timespec){.tv_sec = 1});
                if (sig < 0) {
                        server_idle(d->server);
                        continue;
                }
                if (sig == SIGHUP) {
                        reload_runtimes(d, config_file, add_runtimes, default_runtime_flag);
                        continue;
                }
                break;
        }
        berth_log(BERTH_LOG_INFO, "shutting down (containers keep running)");
        server_stop(d->server);
        /* connection threads are joined once the last request ends (a client following events or
         * attached keeps its connection: then the process ends under it). What the container
         * table's threads (exit watcher, health, restarts) use stays reachable from daemon_state
         * until exit, and the WAL keeps every committed write. */
        if (server_free(d->server, 2000))
                d->server = NULL;
        networks_close(d->networks);
        return 0;
}
