/* create, start, run */
#include "rtcli/rtcli.h"

#include <getopt.h>

enum {
        OPT_BUNDLE = 'b',
        OPT_PID_FILE = 256,
        OPT_CONSOLE,
        OPT_PRESERVE,
        OPT_NO_PIVOT,
        OPT_NO_KEYRING,
        OPT_DETACH = 'd',
        OPT_KEEP,
        OPT_IGNORED
};

static const struct option create_opts[] = {
    {"bundle", required_argument, NULL, OPT_BUNDLE},
    {"pid-file", required_argument, NULL, OPT_PID_FILE},
    {"console-socket", required_argument, NULL, OPT_CONSOLE},
    {"preserve-fds", required_argument, NULL, OPT_PRESERVE},
    {"no-pivot", no_argument, NULL, OPT_NO_PIVOT},
    {"no-new-keyring", no_argument, NULL, OPT_NO_KEYRING},
    {"detach", no_argument, NULL, OPT_DETACH},
    {"no-subreaper", no_argument, NULL, OPT_IGNORED},
    {"keep", no_argument, NULL, OPT_KEEP},
    {0},
};

/* Parse create/run options; detach is only accepted by run. */
static int parse_create(const char *verb, int argc, char **argv, struct berth_create_opts *o,
                        bool *detach)
{
        int c;
        opterr = 0;
        while ((c = getopt_long_only(argc, argv, detach ? "b:d" : "b:", create_opts, NULL)) != -1) {
                switch (c) {
                case OPT_BUNDLE:
                        o->bundle = optarg;
                        break;
                case OPT_PID_FILE:
                        o->pid_file = optarg;
                        break;
                case OPT_CONSOLE:
                        o->console_socket = optarg;
                        break;
                case OPT_PRESERVE: {
                        uint64_t n;
                        if (berth_parse_u64(optarg, &n) < 0 || n > 1000)
                                return rtcli_usage(verb, "--preserve-fds: invalid number `%s`",
                                                   optarg);
                        o->preserve_fds = (int)n;
                        break;
                }
                case OPT_NO_PIVOT:
                        o->no_pivot = true;
                        break;
                case OPT_NO_KEYRING:
                        o->no_new_keyring = true;
                        break;
                case OPT_DETACH:
                        if (!detach)
                                return rtcli_usage(verb, "unknown option `%s`", argv[optind - 1]);
                        *detach = true;
                        break;
                case OPT_KEEP:
                        if (!detach)
                                return rtcli_usage(verb, "unknown option `%s`", argv[optind - 1]);
                        o->keep = true;
                        break;
                case OPT_IGNORED:
                        break;
                default:
                        return rtcli_usage(verb, "unknown option `%s`", argv[optind - 1]);
                }
        }
        o->notify_socket = getenv("NOTIFY_SOCKET");
        /* systemd socket activation of the runtime passes on to the container, like runc */
        const char *lf = getenv("LISTEN_FDS");
        uint64_t n;
        if (lf && berth_parse_u64(lf, &n) == 0 && n > 0 && n < 1000)
                o->listen_fds = (int)n;
        o->id = rtcli_one_id(verb, argc, argv);
        return o->id ? 0 : 1;
}

int rtcli_create(struct rtcli *cli, int argc, char **argv)
{
        struct berth_create_opts o = {0};
        if (parse_create("create", argc, argv, &o, NULL))
                return 1;
        o.reexec_argv = cli->argv;
        struct berth_error *err = NULL;
        if (berth_container_create(&cli->rt, &o, &err) < 0)
                return rtcli_fail(err);
        return 0;
}

int rtcli_start(struct rtcli *cli, int argc, char **argv)
{
        const char *id = rtcli_one_id("start", argc, argv);
        if (!id)
                return 1;
        struct berth_error *err = NULL;
        if (berth_container_start(&cli->rt, id, getenv("NOTIFY_SOCKET"), &err) < 0)
                return rtcli_fail(err);
        return 0;
}

int rtcli_run(struct rtcli *cli, int argc, char **argv)
{
        struct berth_create_opts o = {0};
        bool detach = false;
        if (parse_create("run", argc, argv, &o, &detach))
                return 1;
        o.reexec_argv = cli->argv;
        struct berth_error *err = NULL;
        int status = 0;
        if (berth_container_run(&cli->rt, &o, detach, &status, &err) < 0)
                return rtcli_fail(err);
        return status;
}
