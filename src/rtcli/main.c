/* berth-runtime: global options, logging and verb dispatch. */
#include "rtcli/rtcli.h"

#include <getopt.h>
#include <time.h>

static FILE *log_file;
static bool log_json;

static void log_line(const char *level, const char *msg)
{
        if (!log_file)
                return;
        if (log_json) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                _cleanup_free_ char *t = berth_time_rfc3339(&ts);
                _cleanup_json_ json_t *j =
                    json_pack("{s:s, s:s, s:s}", "level", level, "msg", msg, "time", t);
                _cleanup_free_ char *s = berth_json_dump(j, false);
                fprintf(log_file, "%s\n", s);
        } else {
                fprintf(log_file, "%s: %s\n", level, msg);
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

static const struct {
        const char *name;
        rtcli_verb_fn fn;
        const char *help;
} verbs[] = {
    {"create", rtcli_create, "create a container"},
    {"start", rtcli_start, "start a created container"},
    {"run", rtcli_run, "create and start a container"},
    {"exec", rtcli_exec, "run another process in a running container"},
    {"pause", rtcli_pause, "freeze every process of a container"},
    {"resume", rtcli_resume, "thaw a paused container"},
    {"ps", rtcli_ps, "list the processes of a container"},
    {"update", rtcli_update, "change the resources of a running container"},
    {"events", rtcli_events, "resource usage (--stats: once) and OOM events"},
    {"checkpoint", rtcli_checkpoint, "not supported"},
    {"restore", rtcli_restore, "not supported"},
    {"state", rtcli_state, "print the state of a container"},
    {"list", rtcli_list, "list containers"},
    {"kill", rtcli_kill, "send a signal to a container's init"},
    {"delete", rtcli_delete, "delete a container"},
    {"spec", rtcli_spec, "write a default config.json"},
    {"features", rtcli_features, "print what this runtime supports"},
};

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
                case 'v':
                        printf("berth-runtime version %s\nspec: 1.2.0\n", BERTH_VERSION);
                        return 0;
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
