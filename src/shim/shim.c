/* berth-shim: detach from the daemon, prepare the container's stdio, create the container (or
 * an exec process) through the runtime library in this very process, then hand over to the
 * event loop. Protocol: shim.h.
 */
#include "runtime/runtime.h"
#include "shim/internal.h"

#include <getopt.h>
#include <link.h>
#include <libgen.h>
#include <malloc.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <sys/un.h>
#include <sys/wait.h>

#define CONSOLE_SOCK "console.sock"
#define EXEC_PID     "exec.pid"
#define EXEC_SIZED   "process-tty.json"

/* ---------------------------------------------------------------- options */

static char *abs_path(const char *p, bool mkdir, struct berth_error **err)
{
        if (mkdir && berth_mkdir_p(p, 0700, err) < 0)
                return NULL;
        char buf[PATH_MAX];
        if (!realpath(p, buf)) {
                berth_error_set(err, errno, "`%s`", p);
                return NULL;
        }
        return xstrdup(buf);
}

int shim_opts_parse(int argc, char **argv, struct shim_opts *o, struct berth_error **err)
{
        enum {
                O_ID = 256,
                O_BUNDLE,
                O_STATE,
                O_RTROOT,
                O_PROCESS,
                O_STDIN,
                O_STDIN_ONCE,
                O_TTY,
                O_LOG,
                O_LOG_SIZE,
                O_LOG_FILES,
                O_RT_PATH,
                O_RT_ARG
        };
        static const struct option longopts[] = {
            {"id", required_argument, NULL, O_ID},
            {"bundle", required_argument, NULL, O_BUNDLE},
            {"state", required_argument, NULL, O_STATE},
            {"runtime-root", required_argument, NULL, O_RTROOT},
            {"process", required_argument, NULL, O_PROCESS},
            {"stdin", no_argument, NULL, O_STDIN},
            {"stdin-once", no_argument, NULL, O_STDIN_ONCE},
            {"tty", no_argument, NULL, O_TTY},
            {"log", required_argument, NULL, O_LOG},
            {"log-max-size", required_argument, NULL, O_LOG_SIZE},
            {"log-max-files", required_argument, NULL, O_LOG_FILES},
            {"runtime-path", required_argument, NULL, O_RT_PATH},
            {"runtime-arg", required_argument, NULL, O_RT_ARG},
            {NULL, 0, NULL, 0},
        };
        *o = (struct shim_opts){.log_max_size = BERTH_LOG_DEFAULT_SIZE,
                                .log_max_files = BERTH_LOG_DEFAULT_FILES};
        if (!strcmp(argv[1], "create"))
                o->mode = SHIM_CREATE;
        else if (!strcmp(argv[1], "exec"))
                o->mode = SHIM_EXEC;
        else
                return berth_error_setx(err, EINVAL, "unknown mode `%s`", argv[1]);
        const char *bundle = NULL, *state = NULL, *rtroot = NULL, *process = NULL, *log = NULL;
        const char *rtpath = NULL;
        _cleanup_strv_ char **rtargs = NULL;
        uint64_t v;
        optind = 2;
        opterr = 0;
        int c;
        while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
                switch (c) {
                case O_ID:
                        o->id = optarg;
                        break;
                case O_BUNDLE:
                        bundle = optarg;
                        break;
                case O_STATE:
                        state = optarg;
                        break;
                case O_RTROOT:
                        rtroot = optarg;
                        break;
                case O_PROCESS:
                        process = optarg;
                        break;
                case O_STDIN:
                        o->open_stdin = true;
                        break;
                case O_STDIN_ONCE:
                        o->stdin_once = true;
                        break;
                case O_TTY:
                        o->tty = true;
                        break;
                case O_LOG:
                        log = optarg;
                        break;
                case O_LOG_SIZE:
                        if (berth_parse_ram_size(optarg, &v) < 0)
                                return berth_error_setx(err, EINVAL,
                                                        "--log-max-size `%s`: expected bytes "
                                                        "with an optional unit (k, m, g)",
                                                        optarg);
                        o->log_max_size = v;
                        break;
                case O_LOG_FILES:
                        if (berth_parse_u64(optarg, &v) < 0 || v < 1 || v > 1000)
                                return berth_error_setx(err, EINVAL, "--log-max-files `%s`",
                                                        optarg);
                        o->log_max_files = (unsigned)v;
                        break;
                case O_RT_PATH:
                        rtpath = optarg;
                        break;
                case O_RT_ARG:
                        strv_push(&rtargs, optarg);
                        break;
                default:
                        return berth_error_setx(err, EINVAL, "unknown option `%s`",
                                                argv[optind - 1]);
                }
        }
        if (optind != argc)
                return berth_error_setx(err, EINVAL, "unexpected argument `%s`", argv[optind]);
        if (rtargs && !rtpath)
                return berth_error_setx(err, EINVAL, "--runtime-arg needs --runtime-path");
        if (rtpath && rtpath[0] != '/')
                return berth_error_setx(err, EINVAL, "--runtime-path `%s` must be absolute",
                                        rtpath);
        if (!o->id || berth_id_validate(o->id, err) < 0)
                return o->id ? -EINVAL : berth_error_setx(err, EINVAL, "--id is required");
        if (!state || !rtroot)
                return berth_error_setx(err, EINVAL, "--state and --runtime-root are required");
        if (o->mode == SHIM_CREATE && !bundle)
                return berth_error_setx(err, EINVAL, "create needs --bundle");
        if (o->mode == SHIM_EXEC && !process)
                return berth_error_setx(err, EINVAL, "exec needs --process");
        /* docker exec closes the process' stdin when the client's input ends */
        if (o->mode == SHIM_EXEC)
                o->stdin_once = true;
        /* absolute now: the shim leaves its working directory once detached */
        if (!(o->state = abs_path(state, true, err)) ||
            !(o->runtime_root = abs_path(rtroot, true, err)) ||
            (bundle && !(o->bundle = abs_path(bundle, false, err))) ||
            (process && !(o->process = abs_path(process, false, err)))) {
                /* on failure the caller has nothing to release */
                shim_opts_release(o);
                *o = (struct shim_opts){0};
                return -EINVAL;
        }
        if (log)
                o->log_path = xstrdup(log);
        if (rtpath)
                o->runtime_path = xstrdup(rtpath);
        o->runtime_args = TAKE_PTR(rtargs);
        return 0;
}

void shim_opts_release(struct shim_opts *o)
{
        free(o->bundle);
        free(o->state);
        free(o->runtime_root);
        free(o->process);
        free(o->log_path);
        free(o->runtime_path);
        strv_free(o->runtime_args);
}

/* ---------------------------------------------------------------- files */

int shim_write_exit(int state_fd, int exit_code, bool oom_killed, const char *error)
{
        char now[48], msg[1024], esc[1536];
        shim_time_now(now, sizeof(now));
        size_t elen = 0;
        if (error)
                shim_json_escape(error, strlen(error), esc, sizeof(esc), &elen);
        esc[elen] = '\0';
        int n = snprintf(msg, sizeof(msg),
                         "{\"exit_code\":%d,\"oom_killed\":%s,\"finished_at\":\"%s\"%s%s%s}\n",
                         exit_code, oom_killed ? "true" : "false", now,
                         error ? ",\"error\":\"" : "", error ? esc : "", error ? "\"" : "");
        if (n < 0 || (size_t)n >= sizeof(msg))
                return -EOVERFLOW;
        return berth_write_atomic_at(state_fd, BERTH_SHIM_EXIT_FILE, msg, (size_t)n, NULL);
}

/* BERTH_SHIM_STDERR set (berthd's debugging switch): the daemon's stderr, kept for messages of
 * the runtime library and the shim's own errors; else -1. */
static int debug_fd = -1;
static const char *debug_id = "";

static void debug_sink(enum berth_log_level level, const char *msg, void *userdata)
{
        if (debug_fd >= 0)
                dprintf(debug_fd, "berth-shim `%s`: %s\n", debug_id, msg);
}

static void send_error(int ctl, struct berth_error *e)
{
        if (debug_fd >= 0)
                dprintf(debug_fd, "berth-shim `%s`: %s\n", debug_id,
                        e && e->msg ? e->msg : "unknown error");
        _cleanup_json_ json_t *j =
            json_pack("{s:s, s:i}", "error", e && e->msg ? e->msg : "unknown error", "code",
                      e && e->code ? e->code : EIO);
        shim_send_json(ctl, j);
}

/* A unix socket bound in dirfd under name, through /proc/self/fd: state paths may be longer
 * than sun_path allows. */
static int listen_at(int dirfd, const char *name, int type, int *ret_fd, char **ret_path,
                     struct berth_error **err)
{
        struct sockaddr_un sa;
        if (berth_sockaddr_un(&sa, "/proc/self/fd/%d/%s", dirfd, name) < 0)
                return berth_error_setx(err, ENAMETOOLONG, "socket name `%s` is too long", name);
        unlinkat(dirfd, name, 0);
        _cleanup_close_ int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return berth_error_set(err, errno, "socket");
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0)
                return berth_error_set(err, errno, "listen on `%s`", name);
        if (ret_path)
                *ret_path = xstrdup(sa.sun_path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* The pty master the container's process sends over the console socket. */
static int recv_master(int listen_fd, int *ret_fd, struct berth_error **err)
{
        _cleanup_close_ int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
                return berth_error_set(err, errno, "no connection on the console socket");
        char b;
        size_t nfds = 0;
        ssize_t n = berth_recv_fds(c, &b, 1, MSG_DONTWAIT, ret_fd, 1, &nfds);
        if (n <= 0 || nfds == 0) {
                if (nfds)
                        close(*ret_fd);
                return berth_error_setx(err, EPROTO, "no pty master on the console socket");
        }
        return 0;
}

/* ---------------------------------------------------------------- stdio */

struct stdio_plan {
        int child[3]; /* what the container gets as 0, 1, 2 */
        int console_listen;
        char *console_path;
};

static int stdio_prepare(struct shim *s, struct stdio_plan *p, struct berth_error **err)
{
        p->child[0] = p->child[1] = p->child[2] = -1;
        p->console_listen = -1;
        p->console_path = NULL;
        if (s->opts->tty) {
                if (listen_at(s->state_fd, CONSOLE_SOCK, SOCK_STREAM, &p->console_listen,
                              &p->console_path, err) < 0)
                        return -EIO;
                return 0;
        }
        int fds[2];
        for (int i = 0; i < 3; i++) {
                if (i == 0 && !s->opts->open_stdin)
                        continue;
                if (pipe2(fds, O_CLOEXEC) < 0)
                        return berth_error_set(err, errno, "pipe");
                if (i == 0) {
                        p->child[0] = fds[0];
                        s->io.in_fd = fds[1];
                } else {
                        p->child[i] = fds[1];
                        *(i == 1 ? &s->io.out_fd : &s->io.err_fd) = fds[0];
                }
        }
        return 0;
}

/* Put the container's ends on 0/1/2 (the runtime's child inherits them), or back to /dev/null. */
static void stdio_install(const struct stdio_plan *p, bool install)
{
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        for (int i = 0; i < 3; i++) {
                int src = install && p->child[i] >= 0 ? p->child[i] : null;
                if (src >= 0)
                        dup2(src, i);
        }
        if (null >= 0)
                close(null);
}

static void stdio_release(struct shim *s, struct stdio_plan *p)
{
        for (int i = 0; i < 3; i++)
                if (p->child[i] >= 0)
                        close(TAKE_FD(p->child[i]));
        if (p->console_listen >= 0) {
                close(TAKE_FD(p->console_listen));
                unlinkat(s->state_fd, CONSOLE_SOCK, 0);
        }
        free(p->console_path);
        p->console_path = NULL;
}

/* After a tty process exists: its master is the container's stdout (and stdin). */
static int stdio_take_master(struct shim *s, struct stdio_plan *p, struct berth_error **err)
{
        if (!s->opts->tty)
                return 0;
        int master = -1;
        if (recv_master(p->console_listen, &master, err) < 0)
                return -EIO;
        s->io.tty_fd = s->io.out_fd = master;
        if (s->opts->open_stdin)
                s->io.in_fd = fcntl(master, F_DUPFD_CLOEXEC, 3);
        return 0;
}

/* ---------------------------------------------------------------- memory */

/* Drop this process' mappings of its own read-only program segments: the runtime library,
 * jansson and libseccomp were needed to create the container; the event loop touches a small
 * part of the binary. The kernel's fault-around would map back the 64 KiB around every page the
 * loop touches (most of the binary); it stops at VMA boundaries, so every other page gets a
 * different readahead hint (MADV_RANDOM), which splits the mapping into one VMA per page. Only
 * the pages the loop really uses come back: an idle shim stays well under 1 MB RSS.
 * Only PT_LOAD segments without PF_W qualify: they are mapped read-only from the file and never
 * written (RELRO lies in the writable segment), so dropping them loses nothing. The page cache
 * is untouched (MADV_DONTNEED, not MADV_PAGEOUT): other shims share it. */
static int shed_segments(struct dl_phdr_info *info, size_t size, void *data)
{
        bool *split = data;
        const uintptr_t page = 4096;
        for (int i = 0; i < info->dlpi_phnum; i++) {
                const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
                if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W))
                        continue;
                uintptr_t start = (info->dlpi_addr + ph->p_vaddr) & ~(page - 1);
                uintptr_t end =
                    (info->dlpi_addr + ph->p_vaddr + ph->p_memsz + page - 1) & ~(page - 1);
                if (!*split)
                        for (uintptr_t p = start + page; p < end; p += 2 * page)
                                madvise((void *)p, page, MADV_RANDOM);
                madvise((void *)start, end - start, MADV_DONTNEED);
        }
        *split = true;
        return 1; /* the program itself is the first object; nothing else is mapped */
}

void shim_shed_pages(void)
{
        static bool split;
        malloc_trim(0);
        dl_iterate_phdr(shed_segments, &split);
}

/* ---------------------------------------------------------------- modes */

static struct stdio_plan plan;

static struct berth_runtime runtime_of(struct shim *s)
{
        return (struct berth_runtime){.root = s->opts->runtime_root};
}

static int create_start(struct shim *s, pid_t *ret_pid, struct berth_error **err)
{
        struct berth_runtime rt = runtime_of(s);
        if (s->opts->runtime_path ? shim_oci_start(s, err) < 0
                                  : berth_container_start(&rt, s->opts->id, NULL, err) < 0)
                return -EIO;
        *ret_pid = s->pid;
        return 0;
}

static bool create_oom(struct shim *s)
{
        if (s->opts->runtime_path)
                return shim_oci_oom_killed(s);
        struct berth_runtime rt = runtime_of(s);
        _cleanup_json_ json_t *ev = NULL;
        bool running;
        if (berth_container_stats(&rt, s->opts->id, &ev, &running, NULL) < 0)
                return false;
        json_t *v =
            json_object_get(json_object_get(json_object_get(ev, "data"), "memory"), "oomKill");
        return json_integer_value(v) > 0;
}

static void create_finish(struct shim *s)
{
        if (s->opts->runtime_path) {
                shim_oci_delete(s);
                return;
        }
        struct berth_runtime rt = runtime_of(s);
        berth_container_delete(&rt, s->opts->id, true, NULL);
}

static const struct shim_ops create_ops = {
    .start = create_start, .finish = create_finish, .oom_killed = create_oom};

/* The pid the runtime library wrote to EXEC_PID (then removed). */
static int read_exec_pid(struct shim *s, pid_t *ret_pid, struct berth_error **err)
{
        _cleanup_free_ char *data = NULL;
        uint64_t pid = 0;
        int r = berth_read_file_at(s->state_fd, EXEC_PID, 64, &data, NULL, err);
        unlinkat(s->state_fd, EXEC_PID, 0);
        if (r < 0)
                return r;
        if (berth_parse_u64(data, &pid) < 0 || pid == 0 || pid > INT32_MAX)
                return berth_error_setx(err, EIO, "exec: no pid");
        *ret_pid = (pid_t)pid;
        return 0;
}

static int exec_start(struct shim *s, pid_t *ret_pid, struct berth_error **err)
{
        struct berth_runtime rt = runtime_of(s);
        _cleanup_free_ char *pid_file = xasprintf("/proc/self/fd/%d/%s", s->state_fd, EXEC_PID);
        _cleanup_free_ char *sized = NULL;
        if (s->has_init_size) {
                /* the size must be there before the process runs: put it in its spec (berthd
                 * wrote it with jansson: every number fits an integer, kept one for runc) */
                _cleanup_json_ json_t *proc =
                    berth_json_load_at(AT_FDCWD, s->opts->process, 0, err);
                if (!proc)
                        return -EINVAL;
                json_object_set_new(proc, "consoleSize",
                                    json_pack("{s:i, s:i}", "height", (int)s->init_rows, "width",
                                              (int)s->init_cols));
                _cleanup_free_ char *text = berth_json_dump(proc, false);
                if (berth_write_atomic_at(s->state_fd, EXEC_SIZED, text, strlen(text), err) < 0)
                        return -EIO;
                sized = xasprintf("%s/%s", s->opts->state, EXEC_SIZED);
        }
        struct berth_exec_opts eo = {
            .process_path = sized ? sized : s->opts->process,
            .tty = s->opts->tty,
            .console_socket = plan.console_path,
            .pid_file = pid_file,
        };
        int status = 0;
        pid_t pid = 0;
        stdio_install(&plan, true);
        int r = s->opts->runtime_path
                    ? shim_oci_exec(s, eo.process_path, plan.console_path, &pid, err)
                    : berth_container_exec(&rt, s->opts->id, &eo, true, &status, err);
        stdio_install(&plan, false);
        if (sized)
                unlinkat(s->state_fd, EXEC_SIZED, 0);
        if (r >= 0 && !s->opts->runtime_path)
                r = read_exec_pid(s, &pid, err);
        if (r < 0) {
                stdio_release(s, &plan);
                return r;
        }
        r = stdio_take_master(s, &plan, err);
        stdio_release(s, &plan);
        if (r < 0) {
                kill((pid_t)pid, SIGKILL);
                return r;
        }
        *ret_pid = (pid_t)pid;
        return 0;
}

static const struct shim_ops exec_ops = {.start = exec_start};

/* ---------------------------------------------------------------- main */

/* setsid + double fork: the daemon's child exits at once, the shim is reparented to the
 * daemon's subreaper or init and outlives the daemon. */
static void detach(void)
{
        pid_t p = fork();
        if (p < 0) {
                perror("berth-shim: fork");
                _exit(1);
        }
        if (p > 0)
                _exit(0);
        setsid();
        p = fork();
        if (p < 0)
                _exit(1);
        if (p > 0)
                _exit(0);
}

/* Everything up to "created": state files, log, attach socket, stdio, the container. */
static int shim_setup(struct shim *s, struct shim_log *log, struct berth_error **err)
{
        const struct shim_opts *o = s->opts;
        s->state_fd = open(o->state, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (s->state_fd < 0)
                return berth_error_set(err, errno, "state dir `%s`", o->state);
        char pidbuf[16];
        int n = snprintf(pidbuf, sizeof(pidbuf), "%d", (int)getpid());
        unlinkat(s->state_fd, BERTH_SHIM_EXIT_FILE, 0);
        if (berth_write_atomic_at(s->state_fd, BERTH_SHIM_PID_FILE, pidbuf, (size_t)n, err) < 0)
                return -EIO;
        if (o->log_path &&
            shim_log_open(log, o->log_path, o->log_max_size, o->log_max_files, err) < 0)
                return -EIO;
        s->log = log;
        if (listen_at(s->state_fd, BERTH_SHIM_ATTACH_SOCK, SOCK_SEQPACKET, &s->io.listen_fd, NULL,
                      err) < 0)
                return -EIO;
        if (chdir("/") < 0)
                return berth_error_set(err, errno, "chdir `/`");
        if (stdio_prepare(s, &plan, err) < 0)
                return -EIO;
        if (o->mode != SHIM_CREATE)
                return 0;
        if (o->runtime_path) {
                stdio_install(&plan, true);
                int r = shim_oci_create(s, plan.console_path, &s->pid, err);
                stdio_install(&plan, false);
                if (r < 0)
                        return r;
                if (stdio_take_master(s, &plan, err) < 0) {
                        shim_oci_delete(s);
                        return -EIO;
                }
                stdio_release(s, &plan);
                return 0;
        }
        struct berth_runtime rt = runtime_of(s);
        struct berth_create_opts co = {
            .id = o->id, .bundle = o->bundle, .console_socket = plan.console_path};
        stdio_install(&plan, true);
        int r = berth_container_create(&rt, &co, err);
        stdio_install(&plan, false);
        if (r < 0)
                return r;
        _cleanup_json_ json_t *st = NULL;
        if (berth_container_state(&rt, o->id, &st, err) < 0 ||
            stdio_take_master(s, &plan, err) < 0) {
                berth_container_delete(&rt, o->id, true, NULL);
                return -EIO;
        }
        s->pid = (pid_t)json_integer_value(json_object_get(st, "pid"));
        stdio_release(s, &plan);
        return 0;
}

static int shim_run(struct shim_opts *o)
{
        struct shim s = {.opts = o, .ops = o->mode == SHIM_CREATE ? &create_ops : &exec_ops};
        s.io = (struct shim_io){.out_fd = -1,
                                .err_fd = -1,
                                .in_fd = -1,
                                .tty_fd = -1,
                                .ctl_fd = BERTH_SHIM_CONTROL_FD,
                                .listen_fd = -1,
                                .sig_fd = -1};
        s.state_fd = -1;
        static struct shim_log log = {.fd = -1, .dirfd = -1};
        _cleanup_error_ struct berth_error *err = NULL;
        int ctl = BERTH_SHIM_CONTROL_FD;

        plan = (struct stdio_plan){.child = {-1, -1, -1}, .console_listen = -1};
        /* nothing of the daemon's but the control channel; stdio on /dev/null */
        syscall(SYS_close_range, 4U, ~0U, 0U);
        if (getenv("BERTH_SHIM_STDERR")) {
                debug_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 4);
                debug_id = o->id;
                berth_log_set_sink(debug_sink, BERTH_LOG_DEBUG, NULL);
        }
        stdio_install(&plan, false);
        umask(022);
        sigset_t all;
        sigfillset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        s.io.sig_fd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
        /* orphans of the container (no pid namespace of its own) come to us to be reaped */
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

        if (shim_setup(&s, &log, &err) < 0) {
                send_error(ctl, err);
                stdio_release(&s, &plan);
                shim_log_close(&log);
                if (s.state_fd >= 0) {
                        unlinkat(s.state_fd, BERTH_SHIM_ATTACH_SOCK, 0);
                        unlinkat(s.state_fd, BERTH_SHIM_PID_FILE, 0);
                        close(s.state_fd);
                }
                return 1;
        }
        _cleanup_json_ json_t *j =
            json_pack("{s:{s:i, s:i}}", "created", "pid", (int)s.pid, "shim_pid", (int)getpid());
        shim_send_json(ctl, j);
        json_decref(TAKE_PTR(j));
        /* the pages creating the container needed are given back by the loop: once idle, or
         * after "started" */
        shim_loop_run(&s);
        if (s.io.tty_fd >= 0)
                close(s.io.tty_fd);
        unlinkat(s.state_fd, BERTH_SHIM_ATTACH_SOCK, 0);
        close(s.state_fd);
        return 0;
}

static const char usage[] =
    "usage: berth-shim create --id ID --bundle DIR --state DIR --runtime-root DIR\n"
    "                         [--stdin] [--stdin-once] [--tty]\n"
    "                         [--log PATH [--log-max-size BYTES] [--log-max-files N]]\n"
    "                         [--runtime-path BIN [--runtime-arg ARG]...]\n"
    "       berth-shim exec   --id ID --state DIR --runtime-root DIR --process FILE\n"
    "                         [--stdin] [--tty] [--runtime-path BIN [--runtime-arg ARG]...]\n"
    "       berth-shim init -- CMD [ARG...]   (or run as docker-init)\n"
    "fd 3 must be the control channel (SOCK_SEQPACKET) to berthd.\n";

int berth_shim_main(int argc, char **argv)
{
        const char *base = argv[0] ? strrchr(argv[0], '/') : NULL;
        base = base ? base + 1 : argv[0] ? argv[0] : "";
        if (!strcmp(base, "docker-init") || (argc > 1 && !strcmp(argv[1], "init"))) {
                char **cmd = argv + (strcmp(base, "docker-init") ? 2 : 1);
                if (*cmd && !strcmp(*cmd, "--"))
                        cmd++;
                if (!*cmd) {
                        fputs("docker-init: no command given\n", stderr);
                        return 1;
                }
                return shim_init_main(cmd);
        }
        if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
                fputs(usage, argc < 2 ? stderr : stdout);
                return argc < 2 ? 2 : 0;
        }
        struct shim_opts o;
        _cleanup_error_ struct berth_error *err = NULL;
        if (shim_opts_parse(argc, argv, &o, &err) < 0) {
                fprintf(stderr, "berth-shim: %s\n%s", err->msg, usage);
                return 2;
        }
        struct stat st;
        if (fstat(BERTH_SHIM_CONTROL_FD, &st) < 0 || !S_ISSOCK(st.st_mode)) {
                fprintf(stderr, "berth-shim: fd %d must be the control socket\n",
                        BERTH_SHIM_CONTROL_FD);
                shim_opts_release(&o);
                return 2;
        }
        detach();
        int r = shim_run(&o);
        shim_opts_release(&o);
        return r;
}
