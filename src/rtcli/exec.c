/* exec, pause, resume, ps */
#include "rtcli/rtcli.h"

#include <getopt.h>
#include <sys/wait.h>

int rtcli_exec(struct rtcli *cli, int argc, char **argv)
{
        enum {
                OPT_PID_FILE = 256,
                OPT_CONSOLE,
                OPT_PRESERVE,
                OPT_CWD,
                OPT_CAP,
                OPT_NNP,
                OPT_IGNORE_PAUSED,
                OPT_CGROUP,
                OPT_LSM
        };
        static const struct option opts[] = {
            {"process", required_argument, NULL, 'p'},
            {"tty", no_argument, NULL, 't'},
            {"detach", no_argument, NULL, 'd'},
            {"pid-file", required_argument, NULL, OPT_PID_FILE},
            {"console-socket", required_argument, NULL, OPT_CONSOLE},
            {"env", required_argument, NULL, 'e'},
            {"cwd", required_argument, NULL, OPT_CWD},
            {"user", required_argument, NULL, 'u'},
            {"additional-gids", required_argument, NULL, 'g'},
            {"cap", required_argument, NULL, OPT_CAP},
            {"no-new-privs", no_argument, NULL, OPT_NNP},
            {"preserve-fds", required_argument, NULL, OPT_PRESERVE},
            {"process-label", required_argument, NULL, OPT_LSM},
            {"apparmor", required_argument, NULL, OPT_LSM},
            {"cgroup", required_argument, NULL, OPT_CGROUP},
            {"ignore-paused", no_argument, NULL, OPT_IGNORE_PAUSED},
            {0},
        };
        struct berth_exec_opts o = {0};
        _cleanup_strv_ char **env = NULL, **caps = NULL, **cgroups = NULL;
        _cleanup_free_ gid_t *gids = NULL;
        bool detach = false;
        int c;
        opterr = 0;
        /* '+': options end at the container id; what follows is the command */
        while ((c = getopt_long_only(argc, argv, "+p:tde:u:g:", opts, NULL)) != -1) {
                switch (c) {
                case 'p':
                        o.process_path = optarg;
                        break;
                case 't':
                        o.tty = true;
                        break;
                case 'd':
                        detach = true;
                        break;
                case OPT_PID_FILE:
                        o.pid_file = optarg;
                        break;
                case OPT_CONSOLE:
                        o.console_socket = optarg;
                        break;
                case 'e':
                        if (!strchr(optarg, '='))
                                return rtcli_usage("exec", "--env `%s`: expected KEY=VALUE",
                                                   optarg);
                        strv_push(&env, optarg);
                        break;
                case OPT_CWD:
                        o.cwd = optarg;
                        break;
                case 'u':
                        o.user = optarg;
                        break;
                case 'g': {
                        uint64_t g;
                        if (berth_parse_u64(optarg, &g) < 0 || g >= UINT32_MAX)
                                return rtcli_usage("exec", "--additional-gids: invalid gid `%s`",
                                                   optarg);
                        gids = xrealloc(gids, (o.n_additional_gids + 1) * sizeof(*gids));
                        gids[o.n_additional_gids++] = (gid_t)g;
                        break;
                }
                case OPT_CAP:
                        strv_push(&caps, optarg);
                        break;
                case OPT_NNP:
                        o.no_new_privs = true;
                        break;
                case OPT_IGNORE_PAUSED:
                        o.ignore_paused = true;
                        break;
                case OPT_PRESERVE: {
                        uint64_t n;
                        if (berth_parse_u64(optarg, &n) < 0 || n > 1000)
                                return rtcli_usage("exec", "--preserve-fds: invalid number `%s`",
                                                   optarg);
                        o.preserve_fds = (int)n;
                        break;
                }
                case OPT_CGROUP:
                        strv_push(&cgroups, optarg);
                        break;
                case OPT_LSM:
                        /* features says selinux and apparmor are off: a label asked for is never
                         * silently dropped */
                        if (*optarg)
                                return rtcli_usage("exec",
                                                   "%s: berth-runtime has no SELinux or AppArmor "
                                                   "support",
                                                   argv[optind - 2]);
                        break;
                default:
                        return rtcli_usage("exec", "unknown option `%s`", argv[optind - 1]);
                }
        }
        if (optind >= argc)
                return rtcli_usage("exec", "requires a container id");
        const char *id = argv[optind++];
        if (!o.process_path && optind >= argc)
                return rtcli_usage("exec", "requires a command (or --process)");
        o.args = argv + optind;
        o.env = env;
        o.caps = caps;
        o.cgroups = cgroups;
        o.additional_gids = gids;
        o.reexec_argv = cli->argv;
        struct berth_error *err = NULL;
        int status = 0;
        if (berth_container_exec(&cli->rt, id, &o, detach, &status, &err) < 0) {
                /* runc: every failure of exec itself is 255, the process's own codes pass */
                berth_error_wrap(&err, "exec failed");
                rtcli_fail(err);
                return 255;
        }
        return status;
}

static int pause_resume(struct rtcli *cli, int argc, char **argv, bool pause)
{
        const char *id = rtcli_one_id(pause ? "pause" : "resume", argc, argv);
        if (!id)
                return 1;
        struct berth_error *err = NULL;
        if (berth_container_pause(&cli->rt, id, pause, &err) < 0)
                return rtcli_fail(err);
        return 0;
}

int rtcli_pause(struct rtcli *cli, int argc, char **argv)
{
        return pause_resume(cli, argc, argv, true);
}

int rtcli_resume(struct rtcli *cli, int argc, char **argv)
{
        return pause_resume(cli, argc, argv, false);
}

int rtcli_ps(struct rtcli *cli, int argc, char **argv)
{
        static const struct option opts[] = {{"format", required_argument, NULL, 'f'}, {0}};
        const char *format = "table";
        int c;
        opterr = 0;
        while ((c = getopt_long_only(argc, argv, "+f:", opts, NULL)) != -1) {
                if (c != 'f')
                        return rtcli_usage("ps", "unknown option `%s`", argv[optind - 1]);
                format = optarg;
        }
        if (strcmp(format, "table") && strcmp(format, "json"))
                return rtcli_usage("ps", "--format must be table or json, not `%s`", format);
        if (optind >= argc)
                return rtcli_usage("ps", "requires a container id");
        const char *id = argv[optind++];
        struct berth_error *err = NULL;
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        if (berth_container_pids(&cli->rt, id, &pids, &n, &err) < 0)
                return rtcli_fail(err);
        if (!strcmp(format, "json")) {
                _cleanup_json_ json_t *a = json_array();
                for (size_t i = 0; i < n; i++)
                        json_array_append_new(a, json_integer(pids[i]));
                _cleanup_free_ char *s = berth_json_dump(a, false);
                printf("%s\n", s);
                return 0;
        }
        /* like runc: ps(1) with the given options (default -ef), filtered to the container; run
         * without a shell, so an option holding a quote or a `$` reaches ps as it was given */
        _cleanup_strv_ char **ps_argv = NULL;
        strv_push(&ps_argv, "ps");
        if (optind >= argc)
                strv_push(&ps_argv, "-ef");
        for (int i = optind; i < argc; i++)
                strv_push(&ps_argv, argv[i]);
        int out[2];
        if (pipe2(out, O_CLOEXEC) < 0) {
                berth_error_set(&err, errno, "pipe");
                return rtcli_fail(err);
        }
        fflush(stdout);
        pid_t child = fork();
        if (child < 0) {
                berth_error_set(&err, errno, "run `ps`");
                close(out[0]);
                close(out[1]);
                return rtcli_fail(err);
        }
        if (child == 0) {
                if (dup2(out[1], STDOUT_FILENO) < 0)
                        _exit(127);
                execvp("ps", ps_argv);
                fprintf(stderr, "ps: %s\n", strerror(errno));
                _exit(127);
        }
        close(out[1]);
        FILE *f = fdopen(out[0], "r");
        if (!f) {
                berth_error_set(&err, errno, "read the output of `ps`");
                close(out[0]);
                waitpid(child, NULL, 0);
                return rtcli_fail(err);
        }
        char line[4096];
        int pid_col = -1;
        bool header = true;
        while (fgets(line, sizeof(line), f)) {
                if (header) {
                        /* find the PID column */
                        _cleanup_free_ char *copy = xstrdup(line);
                        char *save = NULL;
                        int col = 0;
                        for (char *t = strtok_r(copy, " \t\n", &save); t;
                             t = strtok_r(NULL, " \t\n", &save), col++)
                                if (!strcmp(t, "PID"))
                                        pid_col = col;
                        fputs(line, stdout);
                        header = false;
                        continue;
                }
                _cleanup_free_ char *copy = xstrdup(line);
                char *save = NULL;
                int col = 0;
                for (char *t = strtok_r(copy, " \t\n", &save); t;
                     t = strtok_r(NULL, " \t\n", &save), col++) {
                        if (col != pid_col)
                                continue;
                        pid_t p = (pid_t)atoi(t);
                        for (size_t i = 0; i < n; i++)
                                if (pids[i] == p)
                                        fputs(line, stdout);
                        break;
                }
        }
        fclose(f);
        int st = 0;
        while (waitpid(child, &st, 0) < 0 && errno == EINTR)
                ;
        if (pid_col < 0) {
                berth_error_setx(&err, EINVAL, "ps output has no PID column");
                return rtcli_fail(err);
        }
        return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

/* "5s", "250ms", "1m", "2" (seconds) → milliseconds */
static int parse_interval(const char *s, long *ret)
{
        char *end = NULL;
        double v = strtod(s, &end);
        if (end == s || v <= 0)
                return -EINVAL;
        double ms = !strcmp(end, "ms")             ? v
                    : !strcmp(end, "m")            ? v * 60000
                    : (!*end || !strcmp(end, "s")) ? v * 1000
                                                   : -1;
        if (ms < 1)
                return -EINVAL;
        *ret = (long)ms;
        return 0;
}

int rtcli_events(struct rtcli *cli, int argc, char **argv)
{
        static const struct option opts[] = {
            {"stats", no_argument, NULL, 's'},
            {"interval", required_argument, NULL, 'i'},
            {0},
        };
        bool once = false;
        long interval = 5000;
        int c;
        opterr = 0;
        while ((c = getopt_long_only(argc, argv, "+", opts, NULL)) != -1) {
                if (c == 's')
                        once = true;
                else if (c == 'i') {
                        if (parse_interval(optarg, &interval) < 0)
                                return rtcli_usage("events", "--interval: invalid duration `%s`",
                                                   optarg);
                } else
                        return rtcli_usage("events", "unknown option `%s`", argv[optind - 1]);
        }
        const char *id = rtcli_one_id("events", argc, argv);
        if (!id)
                return 1;
        json_int_t ooms = -1;
        for (;;) {
                struct berth_error *err = NULL;
                _cleanup_json_ json_t *ev = NULL;
                bool running = false;
                if (berth_container_stats(&cli->rt, id, &ev, &running, &err) < 0)
                        return rtcli_fail(err);
                json_int_t now = json_integer_value(json_object_get(
                    json_object_get(json_object_get(ev, "data"), "memory"), "oomKill"));
                if (ooms >= 0 && now > ooms)
                        printf("{\"type\":\"oom\",\"id\":\"%s\"}\n", id);
                ooms = now;
                _cleanup_free_ char *s = berth_json_dump(ev, false);
                printf("%s\n", s);
                fflush(stdout);
                if (once || !running)
                        return 0;
                usleep((useconds_t)interval * 1000);
        }
}
