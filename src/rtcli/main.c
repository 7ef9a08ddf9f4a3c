/* berth-runtime: global options, logging and verb dispatch. */
#include "rtcli/rtcli.h"

#include <getopt.h>
#include <seccomp.h>
#include <time.h>

static FILE *log_file;
static bool log_json;

/* runc's log records (logrus): text `time="…" level=debug msg="…"` or one JSON object a line */
static void log_line(const char *level, const char *msg)
{
        if (!log_file)
                return;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        _cleanup_free_ char *t = berth_time_rfc3339(&ts);
        if (log_json) {
                _cleanup_json_ json_t *j =
                    json_pack("{s:s, s:s, s:s}", "level", level, "msg", msg, "time", t);
                _cleanup_free_ char *s = berth_json_dump(j, false);
                fprintf(log_file, "%s\n", s);
        } else {
                fprintf(log_file, "time=\"%s\" level=%s msg=\"", t, level);
                for (const char *c = msg; *c; c++) {
                        if (*c == '"' || *c == '\\')
                                fputc('\\', log_file);
                        if (*c == '\n')
                                fputs("\\n", log_file);
                        else
                                fputc(*c, log_file);
                }
                fputs("\"\n", log_file);
        }
        fflush(log_file);
}

static void sink(enum berth_log_level level, const char *msg, void *userdata)
{
        static const char *const names[] = {"debug", "info", "warning", "error"};
        log_line(names[level], msg);
        if (log_file != stderr)
                fprintf(stderr, "berth-runtime: %s: %s\n", names[level], msg);
}

int rtcli_fail(struct berth_error *err)
{
        const char *msg = err ? err->msg : "unknown error";
        if (log_file && log_file != stderr)
                log_line("error", msg);
        fprintf(stderr, "berth-runtime: %s\n", msg);
        berth_error_free(err);
        return 1;
}

int rtcli_usage(const char *verb, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "berth-runtime%s%s: ", verb ? " " : "", verb ? verb : "");
        vfprintf(stderr, fmt, ap);
        fprintf(stderr, "\n");
        va_end(ap);
        return 1;
}

const char *rtcli_one_id(const char *verb, int argc, char **argv)
{
        if (optind >= argc) {
                rtcli_usage(verb, "requires a container id");
                return NULL;
        }
        if (optind + 1 < argc) {
                rtcli_usage(verb, "takes one container id, got extra argument `%s`",
                            argv[optind + 1]);
                return NULL;
        }
        return argv[optind];
}

/* Each verb's synopsis and options as `berth-runtime VERB --help` prints them (runc's wording
 * where runc has the option). */
static const struct {
        const char *name;
        rtcli_verb_fn fn;
        const char *help;
        const char *usage;
} verbs[] = {
    {"create", rtcli_create, "create a container",
     "create [options] <container-id>\n\n"
     "  --bundle, -b DIR        path to the root of the bundle directory (default: .)\n"
     "  --console-socket PATH   unix socket receiving the pty master of a terminal\n"
     "  --pid-file PATH         file to write the process id to\n"
     "  --preserve-fds N        pass N additional file descriptors to the container\n"
     "  --no-pivot              do not use pivot_root to jail the process\n"
     "  --no-new-keyring        do not create a new session keyring\n"},
    {"start", rtcli_start, "start a created container", "start <container-id>\n"},
    {"run", rtcli_run, "create and start a container",
     "run [options] <container-id>\n\n"
     "  --bundle, -b DIR        path to the root of the bundle directory (default: .)\n"
     "  --console-socket PATH   unix socket receiving the pty master of a terminal\n"
     "  --detach, -d            detach from the container's process\n"
     "  --keep                  do not delete the container after it exits\n"
     "  --pid-file PATH         file to write the process id to\n"
     "  --preserve-fds N        pass N additional file descriptors to the container\n"
     "  --no-pivot              do not use pivot_root to jail the process\n"
     "  --no-new-keyring        do not create a new session keyring\n"
     "  --no-subreaper          accepted for runc compatibility (berth uses no subreaper)\n"},
    {"exec", rtcli_exec, "run another process in a running container",
     "exec [options] <container-id> [command [args...]]\n\n"
     "  --process, -p FILE      path to a process.json\n"
     "  --tty, -t               allocate a pseudo-TTY\n"
     "  --detach, -d            detach from the process\n"
     "  --console-socket PATH   unix socket receiving the pty master of a terminal\n"
     "  --pid-file PATH         file to write the process id to\n"
     "  --env, -e KEY=VALUE     set an environment variable (repeatable)\n"
     "  --cwd DIR               current working directory in the container\n"
     "  --user, -u UID[:GID]    user id and group id\n"
     "  --additional-gids, -g GID  additional gids (repeatable)\n"
     "  --cap, -c CAP           add a capability (repeatable)\n"
     "  --no-new-privs          set the no new privileges value for the process\n"
     "  --preserve-fds N        pass N additional file descriptors to the process\n"
     "  --ignore-paused         allow exec in a paused container\n"},
    {"pause", rtcli_pause, "freeze every process of a container", "pause <container-id>\n"},
    {"resume", rtcli_resume, "thaw a paused container", "resume <container-id>\n"},
    {"ps", rtcli_ps, "list the processes of a container",
     "ps [options] <container-id> [ps options]\n\n"
     "  --format, -f table|json  output format (default: table)\n"},
    {"update", rtcli_update, "change the resources of a running container",
     "update [options] <container-id>\n\n"
     "  --resources, -r FILE    path to a linux resources JSON file (- for stdin)\n"
     "  --memory, --memory-reservation, --memory-swap BYTES\n"
     "  --cpu-shares, --cpu-quota, --cpu-period, --cpu-rt-period, --cpu-rt-runtime N\n"
     "  --cpuset-cpus, --cpuset-mems LIST\n"
     "  --pids-limit N, --blkio-weight N\n"},
    {"events", rtcli_events, "resource usage (--stats: once) and OOM events",
     "events [options] <container-id>\n\n"
     "  --interval DURATION     interval between stats lines (default: 5s)\n"
     "  --stats                 print the container's stats once and exit\n"},
    {"checkpoint", rtcli_checkpoint, "not supported", "checkpoint: not supported by berth\n"},
    {"restore", rtcli_restore, "not supported", "restore: not supported by berth\n"},
    {"state", rtcli_state, "print the state of a container", "state <container-id>\n"},
    {"list", rtcli_list, "list containers",
     "list [options]\n\n"
     "  --format, -f table|json  output format (default: table)\n"
     "  --quiet, -q             display only container ids\n"},
    {"kill", rtcli_kill, "send a signal to a container's init",
     "kill [options] <container-id> [signal]\n\n"
     "  --all, -a               send the signal to every process of the container\n"},
    {"delete", rtcli_delete, "delete a container",
     "delete [options] <container-id>\n\n"
     "  --force, -f             kill the container first if it still runs\n"},
    {"spec", rtcli_spec, "write a default config.json",
     "spec [options]\n\n"
     "  --bundle, -b DIR        where to write config.json\n"
     "  --rootless              a spec for a rootless container\n"},
    {"features", rtcli_features, "print what this runtime supports", "features\n"},
};

static bool is_help_flag(const char *a)
{
        return a && (!strcmp(a, "-h") || !strcmp(a, "--help") || !strcmp(a, "-help"));
}

static void usage(FILE *f)
{
        fprintf(f,
                "usage: berth-runtime [global options] COMMAND [options] [args]\n\n"
                "global options:\n"
                "  --root DIR          state directory (default " BERTH_RUNTIME_DEFAULT_ROOT ")\n"
                "  --log FILE          write log messages to FILE\n"
                "  --log-format FMT    text or json\n"
                "  --debug             verbose logging\n"
                "  --version, -v       print the version\n\ncommands:\n");
        for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
                fprintf(f, "  %-10s %s\n", verbs[i].name, verbs[i].help);
}

int berth_rtcli_main(int argc, char **argv)
{
        struct rtcli cli = {.rt = {.root = BERTH_RUNTIME_DEFAULT_ROOT}, .argv = argv};
        /* jansson would read /dev/urandom for its hash seed; our documents are not hostile
         * hash-flooding input, and the start path saves the open+read */
        struct timespec seed;
        clock_gettime(CLOCK_MONOTONIC, &seed);
        json_object_seed((size_t)seed.tv_nsec ^ (size_t)getpid());
        const char *log_path = NULL, *log_format = "text";
        bool root_given = false;
        enum {
                OPT_ROOT = 256,
                OPT_LOG,
                OPT_LOG_FORMAT,
                OPT_DEBUG,
                OPT_CRIU,
                OPT_SYSTEMD,
                OPT_ROOTLESS
        };
        static const struct option opts[] = {
            {"root", required_argument, NULL, OPT_ROOT},
            {"log", required_argument, NULL, OPT_LOG},
            {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
            {"debug", no_argument, NULL, OPT_DEBUG},
            {"criu", required_argument, NULL, OPT_CRIU},
            {"systemd-cgroup", no_argument, NULL, OPT_SYSTEMD},
            {"rootless", required_argument, NULL, OPT_ROOTLESS},
            {"version", no_argument, NULL, 'v'},
            {"help", no_argument, NULL, 'h'},
            {0},
        };
        int c;
        opterr = 0;
        while ((c = getopt_long_only(argc, argv, "+vh", opts, NULL)) != -1) {
                switch (c) {
                case OPT_ROOT:
                        cli.rt.root = optarg;
                        root_given = true;
                        break;
                case OPT_LOG:
                        log_path = optarg;
                        break;
                case OPT_LOG_FORMAT:
                        log_format = optarg;
                        break;
                case OPT_DEBUG:
                        cli.debug = true;
                        break;
                case OPT_CRIU:
                case OPT_ROOTLESS:
                        break;
                case OPT_SYSTEMD:
                        return rtcli_usage(NULL, "--systemd-cgroup is not supported: berth manages "
                                                 "cgroupfs directly");
                case 'v': {
                        /* runc's three lines: scripts parse "spec:" and "libseccomp:" */
                        const struct scmp_version *sv = seccomp_version();
                        printf("berth-runtime version %s\nspec: 1.2.0\nlibseccomp: %u.%u.%u\n",
                               BERTH_VERSION, sv->major, sv->minor, sv->micro);
                        return 0;
                }
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        return rtcli_usage(NULL, "unknown global option `%s`", argv[optind - 1]);
                }
        }
        /* rootless: like runc, state under $XDG_RUNTIME_DIR unless --root says otherwise */
        _cleanup_free_ char *user_root = NULL;
        if (geteuid() != 0 && !root_given) {
                const char *xdg = getenv("XDG_RUNTIME_DIR");
                user_root = xdg && *xdg ? xasprintf("%s/berth-runtime", xdg)
                                        : xasprintf("/tmp/berth-runtime-%u", (unsigned)geteuid());
                cli.rt.root = user_root;
        }
        if (strcmp(log_format, "text") && strcmp(log_format, "json"))
                return rtcli_usage(NULL, "--log-format must be text or json, not `%s`", log_format);
        log_json = !strcmp(log_format, "json");
        log_file = stderr;
        if (log_path) {
                log_file = fopen(log_path, "ae");
                if (!log_file) {
                        fprintf(stderr, "berth-runtime: open log `%s`: %s\n", log_path,
                                strerror(errno));
                        return 1;
                }
        }
        berth_log_set_sink(sink, cli.debug ? BERTH_LOG_DEBUG : BERTH_LOG_WARN, NULL);
        if (optind >= argc) {
                usage(stderr);
                return 1;
        }
        const char *verb = argv[optind];
        for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
                if (strcmp(verb, verbs[i].name))
                        continue;
                if (is_help_flag(argv[optind + 1])) {
                        printf("berth-runtime %s - %s\n\nusage: berth-runtime %s", verbs[i].name,
                               verbs[i].help, verbs[i].usage);
                        return 0;
                }
                /* the verb parses its own options from its argv[0] on */
                int vargc = argc - optind;
                char **vargv = argv + optind;
                optind = 1;
                return verbs[i].fn(&cli, vargc, vargv);
        }
        if (!strcmp(verb, "help")) {
                usage(stdout);
                return 0;
        }
        return rtcli_usage(NULL, "unknown command `%s`", verb);
}
