/* berth's global flags and verb dispatch (docker's command tree). */
#include "cli/internal.h"

struct verb {
        const char *name;
        int (*fn)(int argc, char **argv);
};

static const struct verb container_verbs[] = {
    {"run", cmd_run},         {"create", cmd_create}, {"start", cmd_start},
    {"attach", cmd_attach},   {"exec", cmd_exec},     {"ps", cmd_ps},
    {"ls", cmd_ps},           {"list", cmd_ps},       {"stop", cmd_stop},
    {"restart", cmd_restart}, {"kill", cmd_kill},     {"rm", cmd_rm},
    {"remove", cmd_rm},       {"logs", cmd_logs},     {"inspect", cmd_container_inspect},
    {"top", cmd_top},         {"pause", cmd_pause},   {"unpause", cmd_unpause},
    {"update", cmd_update},   {"rename", cmd_rename}, {"wait", cmd_wait},
    {"cp", cmd_cp},           {"export", cmd_export}, {"diff", cmd_diff},
    {"stats", cmd_stats},     {"port", cmd_port},     {"prune", cmd_container_prune},
    {"commit", cmd_commit},
};

static const struct verb image_verbs[] = {
    {"ls", cmd_images},       {"list", cmd_images}, {"inspect", cmd_image_inspect},
    {"rm", cmd_rmi},          {"remove", cmd_rmi},  {"prune", cmd_image_prune},
    {"history", cmd_history}, {"tag", cmd_tag},     {"save", cmd_save},
    {"load", cmd_load},       {"pull", cmd_pull},   {"push", cmd_push},
    {"import", cmd_import},   {"build", cmd_build},
};

static const struct verb top_verbs[] = {
    {"images", cmd_images}, {"rmi", cmd_rmi},         {"tag", cmd_tag},
    {"save", cmd_save},     {"load", cmd_load},       {"pull", cmd_pull},
    {"push", cmd_push},     {"history", cmd_history}, {"inspect", cmd_inspect},
    {"volume", cmd_volume}, {"network", cmd_network}, {"system", cmd_system},
    {"info", cmd_info},     {"version", cmd_version}, {"events", cmd_events},
    {"import", cmd_import}, {"commit", cmd_commit},   {"build", cmd_build},
};

static bool has_word(const char *list, const char *w)
{
        size_t n = strlen(w);
        for (const char *p = list; (p = strstr(p, w)); p += n)
                if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
                        return true;
        return false;
}

char *cli_verb_list(const char *group)
{
        const struct verb *v = container_verbs;
        size_t n = ARRAY_SIZE(container_verbs);
        char *out = xstrdup("");

        if (strcmp(group, "image") == 0) {
                v = image_verbs;
                n = ARRAY_SIZE(image_verbs);
        } else if (!*group) {
                /* the top level: its own verbs, the management commands, the container verbs
                 * that are not only under `container` */
                free(out);
                out = xstrdup("container image completion");
                for (size_t i = 0; i < ARRAY_SIZE(top_verbs); i++) {
                        char *x = xasprintf("%s %s", out, top_verbs[i].name);
                        free(out);
                        out = x;
                }
        }
        for (size_t i = 0; i < n; i++) {
                if (!*group && (strcmp(v[i].name, "ls") == 0 || strcmp(v[i].name, "list") == 0 ||
                                strcmp(v[i].name, "remove") == 0 ||
                                strcmp(v[i].name, "prune") == 0 || has_word(out, v[i].name)))
                        continue;
                char *x = xasprintf("%s%s%s", out, *out ? " " : "", v[i].name);
                free(out);
                out = x;
        }
        return out;
}

static void usage(FILE *f)
{
        fputs("Usage:  berth [OPTIONS] COMMAND\n\n"
              "A container engine speaking the Docker Engine API\n\n"
              "Common Commands:\n"
              "  run         Create and run a new container from an image\n"
              "  exec        Execute a command in a running container\n"
              "  ps          List containers\n"
              "  build       Build an image from a Dockerfile\n"
              "  images      List images\n"
              "  pull        Download an image from a registry\n"
              "  push        Upload an image to a registry\n"
              "  logs        Fetch the logs of a container\n"
              "  inspect     Return low-level information on objects\n"
              "  stats       Display a live stream of container resource usage statistics\n"
              "  info        Display system-wide information\n"
              "  version     Show the berth version information\n\n"
              "Management Commands:\n"
              "  container   Manage containers\n"
              "  image       Manage images\n"
              "  network     Manage networks\n"
              "  volume      Manage volumes\n"
              "  system      Manage berth\n\n"
              "Container verbs: create start attach stop restart kill rm logs top pause unpause\n"
              "  update rename wait cp export diff stats port commit\n"
              "Image verbs: build images rmi tag save load pull push history import\n\n"
              "Global Options:\n"
              "      --config string      Location of client config files\n"
              "  -D, --debug              Enable debug mode\n"
              "  -H, --host string        Daemon socket to connect to (unix://PATH)\n"
              "  -l, --log-level string   Set the logging level\n"
              "  -v, --version            Print version information and quit\n",
              f);
}

static void trace_request(const char *method, const char *path)
{
        fprintf(stderr, "DEBU berth: %s /v%s%s\n", method, http_api_version, path);
}

static const struct verb *find(const struct verb *v, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i].name, name) == 0)
                        return &v[i];
        return NULL;
}

static int set_host(const char *host)
{
        const char *p = host;
        if (strncmp(p, "unix://", 7) == 0)
                p += 7;
        else if (strstr(p, "://")) {
                fprintf(stderr, "unsupported host `%s`: berth speaks over unix sockets only\n",
                        host);
                return -EINVAL;
        }
        if (*p == '\0') {
                fprintf(stderr, "invalid host `%s`\n", host);
                return -EINVAL;
        }
        free(cli.sock_path);
        cli.sock_path = xstrdup(p);
        return 0;
}

int cli_main(int argc, char **argv)
{
        const char *host = NULL;
        int i = 1;
        for (; i < argc; i++) {
                const char *a = argv[i];
                if (a[0] != '-' || a[1] == '\0')
                        break;
                if (strcmp(a, "-H") == 0 || strcmp(a, "--host") == 0 ||
                    strcmp(a, "--config") == 0 || strcmp(a, "-l") == 0 ||
                    strcmp(a, "--log-level") == 0 || strcmp(a, "--context") == 0 ||
                    strcmp(a, "-c") == 0) {
                        if (i + 1 >= argc) {
                                fprintf(stderr, "flag needs an argument: %s\nSee 'berth --help'.\n",
                                        a);
                                return 125;
                        }
                        if (a[1] == 'H' || strcmp(a, "--host") == 0)
                                host = argv[i + 1];
                        i++;
                } else if (strncmp(a, "--host=", 7) == 0) {
                        host = a + 7;
                } else if (strncmp(a, "-H", 2) == 0) {
                        host = a + 2;
                } else if (strncmp(a, "--config=", 9) == 0 || strncmp(a, "--log-level=", 12) == 0) {
                        continue;
                } else if (strcmp(a, "-D") == 0 || strcmp(a, "--debug") == 0) {
                        cli.debug = true;
                } else if (strcmp(a, "-v") == 0 || strcmp(a, "--version") == 0) {
                        printf("berth version %s\n", BERTH_VERSION);
                        return 0;
                } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
                        usage(stdout);
                        return 0;
                } else {
                        fprintf(stderr, "unknown flag: %s\nSee 'berth --help'.\n", a);
                        return 125;
                }
        }
        if (!host)
                host = getenv("BERTH_HOST");
        if (!host || !*host)
                host = getenv("DOCKER_HOST");
        if (!host || !*host) {
                host = CLI_DEFAULT_HOST;
                cli.default_host = true;
        }
        if (set_host(host) < 0)
                return 125;
        const char *apiv = getenv("DOCKER_API_VERSION");
        if (apiv && *apiv)
                http_api_version = apiv;
        if (cli.debug)
                http_trace = trace_request;
        cli.stdout_tty = isatty(STDOUT_FILENO);
        cli.stderr_tty = isatty(STDERR_FILENO);
        if (i >= argc) {
                usage(stderr);
                return 0;
        }
        int n = argc - i;
        char **v = argv + i;
        const char *name = v[0];
        const struct verb *vb = NULL;
        if (strcmp(name, "container") == 0 || strcmp(name, "image") == 0) {
                bool img = name[0] == 'i';
                if (n < 2 || strcmp(v[1], "--help") == 0) {
                        usage(stdout);
                        return n < 2 ? 1 : 0;
                }
                vb = img ? find(image_verbs, ARRAY_SIZE(image_verbs), v[1])
                         : find(container_verbs, ARRAY_SIZE(container_verbs), v[1]);
                if (!vb) {
                        fprintf(stderr,
                                "berth: '%s %s' is not a berth command.\nSee 'berth --help'\n",
                                name, v[1]);
                        return 1;
                }
                return vb->fn(n - 1, v + 1);
        }
        if (strcmp(name, "completion") == 0)
                return cmd_completion(n, v);
        vb = find(top_verbs, ARRAY_SIZE(top_verbs), name);
        if (!vb) {
                vb = find(container_verbs, ARRAY_SIZE(container_verbs), name);
                /* "ls", "list", "remove", "prune" exist only under `container` */
                if (vb && (strcmp(name, "ls") == 0 || strcmp(name, "list") == 0 ||
                           strcmp(name, "remove") == 0 || strcmp(name, "prune") == 0))
                        vb = NULL;
        }
        if (!vb) {
                fprintf(stderr, "berth: '%s' is not a berth command.\nSee 'berth --help'\n", name);
                return 1;
        }
        return vb->fn(n, v);
}
