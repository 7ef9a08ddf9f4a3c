/* run, create, start, attach, exec: docker's container creation flags → the create body, and
 * the attach/start/wait dance with docker's exit codes. */
#include <ctype.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "cli/internal.h"

/* [rows, cols] of our terminal (docker's ConsoleSize), NULL when not on one */
static json_t *console_size(void)
{
        struct winsize ws;
        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0)
                return NULL;
        if (ws.ws_row == 0 && ws.ws_col == 0)
                return NULL;
        return json_pack("[i,i]", ws.ws_row, ws.ws_col);
}

#define CREATE_FLAGS                                                                               \
        {"help", 0, CLI_BOOL}, {"detach", 'd', CLI_BOOL}, {"interactive", 'i', CLI_BOOL},          \
            {"tty", 't', CLI_BOOL}, {"rm", 0, CLI_BOOL}, {"name", 0, CLI_STRING},                  \
            {"env", 'e', CLI_LIST}, {"env-file", 0, CLI_LIST}, {"volume", 'v', CLI_LIST},          \
            {"mount", 0, CLI_LIST}, {"workdir", 'w', CLI_STRING}, {"user", 'u', CLI_STRING},       \
            {"publish", 'p', CLI_LIST}, {"publish-all", 'P', CLI_BOOL}, {"expose", 0, CLI_LIST},   \
            {"network|net", 0, CLI_LIST}, {"network-alias|net-alias", 0, CLI_LIST},                \
            {"link-local-ip", 0, CLI_LIST}, {"memory", 'm', CLI_STRING},                           \
            {"memory-reservation", 0, CLI_STRING}, {"memory-swap", 0, CLI_STRING},                 \
            {"memory-swappiness", 0, CLI_STRING}, {"kernel-memory", 0, CLI_STRING},                \
            {"oom-kill-disable", 0, CLI_BOOL}, {"oom-score-adj", 0, CLI_STRING},                   \
            {"shm-size", 0, CLI_STRING}, {"cpus", 0, CLI_STRING}, {"cpu-shares", 'c', CLI_STRING}, \
            {"cpu-quota", 0, CLI_STRING}, {"cpu-period", 0, CLI_STRING},                           \
            {"cpuset-cpus", 0, CLI_STRING}, {"cpuset-mems", 0, CLI_STRING},                        \
            {"pids-limit", 0, CLI_STRING}, {"blkio-weight", 0, CLI_STRING},                        \
            {"device", 0, CLI_LIST}, {"privileged", 0, CLI_BOOL}, {"cap-add", 0, CLI_LIST},        \
            {"cap-drop", 0, CLI_LIST}, {"security-opt", 0, CLI_LIST}, {"read-only", 0, CLI_BOOL},  \
            {"ulimit", 0, CLI_LIST}, {"ipc", 0, CLI_STRING}, {"pid", 0, CLI_STRING},               \
            {"uts", 0, CLI_STRING}, {"userns", 0, CLI_STRING}, {"cgroupns", 0, CLI_STRING},        \
            {"cgroup-parent", 0, CLI_STRING}, {"init", 0, CLI_BOOL}, {"restart", 0, CLI_STRING},   \
            {"entrypoint", 0, CLI_STRING}, {"label", 'l', CLI_LIST}, {"label-file", 0, CLI_LIST},  \
            {"hostname", 'h', CLI_STRING}, {"domainname", 0, CLI_STRING},                          \
            {"stop-signal", 0, CLI_STRING}, {"stop-timeout", 0, CLI_STRING},                       \
            {"tmpfs", 0, CLI_LIST}, {"health-cmd", 0, CLI_STRING},                                 \
            {"health-interval", 0, CLI_STRING}, {"health-timeout", 0, CLI_STRING},                 \
            {"health-retries", 0, CLI_STRING}, {"health-start-period", 0, CLI_STRING},             \
            {"health-start-interval", 0, CLI_STRING}, {"no-healthcheck", 0, CLI_BOOL},             \
            {"log-driver", 0, CLI_STRING}, {"log-opt", 0, CLI_LIST}, {"attach", 'a', CLI_LIST},    \
            {"sig-proxy", 0, CLI_BOOL}, {"pull", 0, CLI_STRING}, {"quiet", 'q', CLI_BOOL},         \
            {"group-add", 0, CLI_LIST}, {"dns", 0, CLI_LIST}, {"dns-search", 0, CLI_LIST},         \
            {"dns-option", 0, CLI_LIST}, {"add-host", 0, CLI_LIST},                                \
            {"mac-address", 0, CLI_STRING}, {"ip", 0, CLI_STRING}, {"ip6", 0, CLI_STRING},         \
            {"platform", 0, CLI_STRING}, {"runtime", 0, CLI_STRING}, {"isolation", 0, CLI_STRING}, \
            {"storage-opt", 0, CLI_LIST}, {"sysctl", 0, CLI_LIST}, {"cidfile", 0, CLI_STRING},     \
            {"detach-keys", 0, CLI_STRING}, {"disable-content-trust", 0, CLI_BOOL},                \
            {"device-cgroup-rule", 0, CLI_LIST}, {"gpus", 0, CLI_STRING},                          \
            {"volumes-from", 0, CLI_LIST}, {"volume-driver", 0, CLI_STRING},                       \
            {"annotation", 0, CLI_LIST}, {"blkio-weight-device", 0, CLI_LIST},                     \
            {"device-read-bps", 0, CLI_LIST}, {"device-write-bps", 0, CLI_LIST},                   \
            {"device-read-iops", 0, CLI_LIST}, {"device-write-iops", 0, CLI_LIST},                 \
        {                                                                                          \
                "link", 0, CLI_LIST                                                                \
        }

const struct cli_flag cli_create_flags[] = {CREATE_FLAGS};
const size_t cli_create_n_flags = ARRAY_SIZE(cli_create_flags);

#define bad(err, ...) berth_error_setx(err, EINVAL, __VA_ARGS__)

static int set_bytes(json_t *hc, const char *key, const char *v, struct berth_error **err)
{
        int64_t b;
        if (!v)
                return 0;
        if (strcmp(v, "-1") == 0) {
                json_object_set_new(hc, key, json_integer(-1));
                return 0;
        }
        if (cli_parse_bytes(v, &b) < 0)
                return bad(err, "invalid size: '%s'", v);
        json_object_set_new(hc, key, json_integer(b));
        return 0;
}

static int set_int(json_t *obj, const char *key, const char *flag, const char *v,
                   struct berth_error **err)
{
        if (!v)
                return 0;
        char *end = NULL;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (end == v || *end || errno)
                return berth_error_setx(
                    err, EINVAL,
                    "invalid argument \"%s\" for \"--%s\" flag: strconv.ParseInt: "
                    "parsing \"%s\": invalid syntax",
                    v, flag, v);
        json_object_set_new(obj, key, json_integer(n));
        return 0;
}

static int read_env_file(const char *path, json_t *env, bool labels, struct berth_error **err)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return berth_error_set(err, errno, "open %s", path);
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, f)) >= 0) {
                while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                        line[--n] = '\0';
                char *p = line;
                while (isspace((unsigned char)*p))
                        p++;
                if (*p == '\0' || *p == '#')
                        continue;
                if (!labels && !strchr(p, '=')) {
                        /* a bare name takes its value from our environment, if set */
                        const char *v = getenv(p);
                        if (!v)
                                continue;
                        _cleanup_free_ char *kv = xasprintf("%s=%s", p, v);
                        json_array_append_new(env, json_string(kv));
                        continue;
                }
                json_array_append_new(env, json_string(p));
        }
        return 0;
}

static int parse_mount(const char *spec, json_t **ret, struct berth_error **err)
{
        _cleanup_json_ json_t *m = json_object();
        _cleanup_free_ char *copy = xstrdup(spec);
        char *save = NULL;
        const char *type = "volume";
        for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
                char *eq = strchr(kv, '=');
                const char *k = kv, *v = eq ? eq + 1 : "true";
                if (eq)
                        *eq = '\0';
                if (strcmp(k, "type") == 0) {
                        type = v;
                        json_object_set_new(m, "Type", json_string(v));
                } else if (strcmp(k, "source") == 0 || strcmp(k, "src") == 0) {
                        json_object_set_new(m, "Source", json_string(v));
                } else if (strcmp(k, "target") == 0 || strcmp(k, "destination") == 0 ||
                           strcmp(k, "dst") == 0) {
                        json_object_set_new(m, "Target", json_string(v));
                } else if (strcmp(k, "readonly") == 0 || strcmp(k, "ro") == 0) {
                        json_object_set_new(
                            m, "ReadOnly",
                            json_boolean(strcmp(v, "true") == 0 || strcmp(v, "1") == 0));
                } else if (strcmp(k, "bind-propagation") == 0) {
                        json_object_set_new(m, "BindOptions", json_pack("{s:s}", "Propagation", v));
                } else if (strcmp(k, "tmpfs-size") == 0) {
                        int64_t b;
                        if (cli_parse_bytes(v, &b) < 0)
                                return bad(err, "invalid tmpfs-size: '%s'", v);
                        json_object_set_new(m, "TmpfsOptions", json_pack("{s:I}", "SizeBytes", b));
                } else if (strcmp(k, "tmpfs-mode") == 0) {
                        json_object_set_new(m, "TmpfsOptions",
                                            json_pack("{s:I}", "Mode", strtoll(v, NULL, 8)));
                } else if (strcmp(k, "volume-nocopy") == 0) {
                        json_object_set_new(m, "VolumeOptions", json_pack("{s:b}", "NoCopy", 1));
                } else {
                        return bad(err, "invalid field '%s' must be a key=value pair", k);
                }
        }
        if (!json_object_get(m, "Type"))
                json_object_set_new(m, "Type", json_string(type));
        if (!json_object_get(m, "Target"))
                return bad(err, "invalid argument \"%s\" for \"--mount\" flag: target is required",
                           spec);
        *ret = TAKE_PTR(m);
        return 0;
}

static int parse_device(const char *spec, json_t **ret, struct berth_error **err)
{
        _cleanup_free_ char *copy = xstrdup(spec);
        char *parts[3] = {0};
        size_t n = 0;
        char *save = NULL;
        for (char *p = strtok_r(copy, ":", &save); p && n < 3; p = strtok_r(NULL, ":", &save))
                parts[n++] = p;
        if (n == 0)
                return bad(err, "invalid device: '%s'", spec);
        const char *host = parts[0], *cont = parts[0], *perm = "rwm";
        if (n == 2) {
                if (parts[1][0] == '/')
                        cont = parts[1];
                else
                        perm = parts[1];
        } else if (n == 3) {
                cont = parts[1];
                perm = parts[2];
        }
        *ret = json_pack("{s:s,s:s,s:s}", "PathOnHost", host, "PathInContainer", cont,
                         "CgroupPermissions", perm);
        return 0;
}

/* --blkio-weight-device PATH:WEIGHT, --device-{read,write}-bps PATH:RATE[kb|mb|gb] and
 * --device-{read,write}-iops PATH:N → HostConfig.BlkioWeightDevice / BlkioDevice*, with docker's
 * validation (opts.ValidateWeightDevice, ValidateThrottleBpsDevice, ValidateThrottleIOpsDevice). */
static int parse_blkio_devices(const struct cli_args *a, json_t *hc, struct berth_error **err)
{
        static const struct {
                const char *flag, *key;
                int kind; /* 0 weight, 1 bytes, 2 count */
        } t[] = {{"blkio-weight-device", "BlkioWeightDevice", 0},
                 {"device-read-bps", "BlkioDeviceReadBps", 1},
                 {"device-write-bps", "BlkioDeviceWriteBps", 1},
                 {"device-read-iops", "BlkioDeviceReadIOps", 2},
                 {"device-write-iops", "BlkioDeviceWriteIOps", 2}};
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                char **v = cli_arg_list(a, t[i].flag);
                if (!v)
                        continue;
                json_t *arr = json_array();
                json_object_set_new(hc, t[i].key, arr);
                for (; *v; v++) {
                        const char *colon = strrchr(*v, ':');
                        if (!colon || colon == *v)
                                return bad(err, "bad format: %s", *v);
                        if (strncmp(*v, "/dev/", 5) != 0)
                                return bad(err, "bad format for device path: %s", *v);
                        _cleanup_free_ char *path = xstrndup(*v, (size_t)(colon - *v));
                        const char *val = colon + 1;
                        char *end = NULL;
                        int64_t n = 0;
                        if (t[i].kind == 1) {
                                if (cli_parse_bytes(val, &n) < 0)
                                        return bad(err,
                                                   "invalid rate for device: %s. The correct "
                                                   "format is <device-path>:<number>[<unit>]. "
                                                   "Number must be a positive integer. Unit is "
                                                   "optional and can be kb, mb, or gb",
                                                   *v);
                        } else {
                                errno = 0;
                                long long x = strtoll(val, &end, 10);
                                if (end == val || *end || errno || x < 0 ||
                                    (t[i].kind == 0 && x > 65535))
                                        return bad(err,
                                                   t[i].kind == 0
                                                       ? "invalid weight for device: %s"
                                                       : "invalid rate for device: %s. The "
                                                         "correct format is "
                                                         "<device-path>:<number>. Number must "
                                                         "be a positive integer",
                                                   *v);
                                n = x;
                        }
                        if (t[i].kind == 0 && n > 0 && (n < 10 || n > 1000))
                                return bad(err, "invalid weight for device: %s", *v);
                        json_array_append_new(arr, json_pack("{s:s,s:I}", "Path", path,
                                                             t[i].kind == 0 ? "Weight" : "Rate",
                                                             (json_int_t)n));
                }
        }
        return 0;
}

static int parse_ulimit(const char *spec, json_t **ret, struct berth_error **err)
{
        const char *eq = strchr(spec, '=');
        if (!eq)
                return bad(err, "invalid ulimit argument: %s", spec);
        _cleanup_free_ char *name = xstrndup(spec, (size_t)(eq - spec));
        char *end = NULL;
        long long soft = strtoll(eq + 1, &end, 10), hard = soft;
        if (end == eq + 1)
                return bad(err, "invalid ulimit argument: %s", spec);
        if (*end == ':') {
                const char *h = end + 1;
                hard = strtoll(h, &end, 10);
                if (end == h)
                        return bad(err, "invalid ulimit argument: %s", spec);
        }
        if (*end)
                return bad(err, "invalid ulimit argument: %s", spec);
        *ret = json_pack("{s:s,s:I,s:I}", "Name", name, "Soft", soft, "Hard", hard);
        return 0;
}

static int parse_restart(const char *v, json_t **ret, struct berth_error **err)
{
        const char *colon = strchr(v, ':');
        _cleanup_free_ char *name = colon ? xstrndup(v, (size_t)(colon - v)) : xstrdup(v);
        long long max = 0;
        if (strcmp(name, "no") != 0 && strcmp(name, "always") != 0 &&
            strcmp(name, "on-failure") != 0 && strcmp(name, "unless-stopped") != 0)
                return bad(err, "invalid restart policy format: %s", v);
        if (colon) {
                if (strcmp(name, "on-failure") != 0)
                        return bad(err,
                                   "invalid restart policy format: maximum retry count can "
                                   "only be used with 'on-failure': %s",
                                   v);
                char *end = NULL;
                max = strtoll(colon + 1, &end, 10);
                if (end == colon + 1 || *end || max < 0)
                        return bad(err, "invalid restart policy format: %s", v);
        }
        *ret = json_pack("{s:s,s:I}", "Name", strcmp(name, "no") == 0 ? "" : name,
                         "MaximumRetryCount", max);
        return 0;
}

static int split_words(const char *s, json_t *arr)
{
        /* --entrypoint is a single word in docker (no shell splitting) */
        json_array_append_new(arr, json_string(s));
        return 0;
}

/* --detach-keys that name no key sequence (docker's daemon refuses them; berth matches the keys
 * in the client, so it says it here) */
static bool detach_keys_invalid(const struct cli_args *a)
{
        const char *k = cli_arg_str(a, "detach-keys");
        unsigned char keys[16];

        return k && *k && berth_detach_keys_parse(k, keys, sizeof(keys)) == 0;
}

static bool refuse_detach_keys(const struct cli_args *a)
{
        if (!detach_keys_invalid(a))
                return false;
        fprintf(stderr, "Invalid detach keys (%s) provided\n", cli_arg_str(a, "detach-keys"));
        return true;
}

int cli_create_body(const struct cli_args *a, json_t **ret, struct berth_error **err)
{
        char **pos = a->pos;
        _cleanup_json_ json_t *cfg = json_object();
        json_t *hc = json_object();
        json_object_set_new(cfg, "HostConfig", hc);
        bool detach = cli_arg_bool(a, "detach"), in = cli_arg_bool(a, "interactive");
        bool tty = cli_arg_bool(a, "tty");
        const char *s;
        int r;

        /* docker flags berth parses but has nothing behind: refused, never ignored */
        static const struct {
                const char *flag, *why;
        } unsupported[] = {
            {"gpus", "berth has no GPU device driver (HostConfig.DeviceRequests)"},
            {"kernel-memory", "kernel memory limits are deprecated by the kernel (dockerd "
                              "ignores them since API 1.42)"},
            {"platform", "berth runs the local image of the host's platform (pull another "
                         "platform with `berth pull --platform`)"},
        };
        for (size_t k = 0; k < ARRAY_SIZE(unsupported); k++)
                if (cli_arg_set(a, unsupported[k].flag))
                        return bad(err, "berth: --%s is not supported: %s", unsupported[k].flag,
                                   unsupported[k].why);
        if (cli_arg_set(a, "disable-content-trust") && !cli_arg_bool(a, "disable-content-trust"))
                return bad(err, "berth: --disable-content-trust=false is not supported: berth "
                                "does not verify image signatures (Docker Content Trust)");

        if (detach_keys_invalid(a))
                return bad(err, "Invalid detach keys (%s) provided", cli_arg_str(a, "detach-keys"));

        json_object_set_new(cfg, "Image", json_string(pos[0]));
        if (pos[1]) {
                json_t *cmd = json_array();
                for (char **p = pos + 1; *p; p++)
                        json_array_append_new(cmd, json_string(*p));
                json_object_set_new(cfg, "Cmd", cmd);
        }
        char **attach = cli_arg_list(a, "attach");
        bool a_in = in, a_out = !detach, a_err = !detach;
        if (attach) {
                a_in = a_out = a_err = false;
                for (char **p = attach; *p; p++) {
                        if (strcasecmp(*p, "stdin") == 0)
                                a_in = true;
                        else if (strcasecmp(*p, "stdout") == 0)
                                a_out = true;
                        else if (strcasecmp(*p, "stderr") == 0)
                                a_err = true;
                        else
                                return bad(err,
                                           "invalid argument \"%s\" for \"-a, --attach\" "
                                           "flag: valid streams are STDIN, STDOUT and STDERR",
                                           *p);
                }
                if (detach)
                        return bad(err, "Conflicting options: -a and -d");
        }
        json_object_set_new(cfg, "AttachStdin", json_boolean(a_in && !detach));
        json_object_set_new(cfg, "AttachStdout", json_boolean(a_out));
        json_object_set_new(cfg, "AttachStderr", json_boolean(a_err));
        json_object_set_new(cfg, "Tty", json_boolean(tty));
        json_t *csz = tty ? console_size() : NULL;
        if (csz)
                json_object_set_new(hc, "ConsoleSize", csz);
        json_object_set_new(cfg, "OpenStdin", json_boolean(in));
        json_object_set_new(cfg, "StdinOnce", json_boolean(in && a_in && !detach));
        if ((s = cli_arg_str(a, "hostname")))
                json_object_set_new(cfg, "Hostname", json_string(s));
        if ((s = cli_arg_str(a, "domainname")))
                json_object_set_new(cfg, "Domainname", json_string(s));
        if ((s = cli_arg_str(a, "user")))
                json_object_set_new(cfg, "User", json_string(s));
        if ((s = cli_arg_str(a, "workdir")))
                json_object_set_new(cfg, "WorkingDir", json_string(s));
        if ((s = cli_arg_str(a, "entrypoint"))) {
                json_t *ep = json_array();
                if (*s)
                        split_words(s, ep);
                json_object_set_new(cfg, "Entrypoint", ep);
        }
        if ((s = cli_arg_str(a, "stop-signal")))
                json_object_set_new(cfg, "StopSignal", json_string(s));
        if ((r = set_int(cfg, "StopTimeout", "stop-timeout", cli_arg_str(a, "stop-timeout"), err)) <
            0)
                return r;

        json_t *env = json_array();
        json_object_set_new(cfg, "Env", env);
        for (char **p = cli_arg_list(a, "env-file"); p && *p; p++)
                if ((r = read_env_file(*p, env, false, err)) < 0)
                        return r;
        for (char **p = cli_arg_list(a, "env"); p && *p; p++) {
                if (!strchr(*p, '=')) {
                        const char *v = getenv(*p);
                        if (v) {
                                _cleanup_free_ char *kv = xasprintf("%s=%s", *p, v);
                                json_array_append_new(env, json_string(kv));
                        }
                        continue;
                }
                json_array_append_new(env, json_string(*p));
        }
        json_t *labels = json_object();
        json_object_set_new(cfg, "Labels", labels);
        _cleanup_json_ json_t *label_lines = json_array();
        for (char **p = cli_arg_list(a, "label-file"); p && *p; p++)
                if ((r = read_env_file(*p, label_lines, true, err)) < 0)
                        return r;
        for (char **p = cli_arg_list(a, "label"); p && *p; p++)
                json_array_append_new(label_lines, json_string(*p));
        size_t i;
        json_t *l;
        json_array_foreach(label_lines, i, l)
        {
                const char *kv = json_string_value(l);
                const char *eq = strchr(kv, '=');
                _cleanup_free_ char *k = eq ? xstrndup(kv, (size_t)(eq - kv)) : xstrdup(kv);
                json_object_set_new(labels, k, json_string(eq ? eq + 1 : ""));
        }

        /* volumes: absolute source → bind; a name → named volume; only a target → anonymous */
        json_t *binds = json_array();
        _cleanup_json_ json_t *vols = json_object();
        json_object_set_new(hc, "Binds", binds);
        for (char **p = cli_arg_list(a, "volume"); p && *p; p++) {
                if ((*p)[0] == '\0')
                        return bad(err, "invalid spec: %s: empty section between colons", *p);
                if (!strchr(*p, ':')) {
                        json_object_set_new(vols, *p, json_object());
                        continue;
                }
                if ((*p)[0] == ':')
                        return bad(err, "invalid spec: %s", *p);
                json_array_append_new(binds, json_string(*p));
        }
        if (json_object_size(vols))
                json_object_set_new(cfg, "Volumes", json_incref(vols));
        json_t *mounts = json_array();
        json_object_set_new(hc, "Mounts", mounts);
        for (char **p = cli_arg_list(a, "mount"); p && *p; p++) {
                json_t *m = NULL;
                if ((r = parse_mount(*p, &m, err)) < 0)
                        return r;
                json_array_append_new(mounts, m);
        }
        _cleanup_json_ json_t *tmpfs = json_object();
        for (char **p = cli_arg_list(a, "tmpfs"); p && *p; p++) {
                const char *colon = strchr(*p, ':');
                _cleanup_free_ char *dst = colon ? xstrndup(*p, (size_t)(colon - *p)) : xstrdup(*p);
                json_object_set_new(tmpfs, dst, json_string(colon ? colon + 1 : ""));
        }
        if (json_object_size(tmpfs))
                json_object_set_new(hc, "Tmpfs", json_incref(tmpfs));

        if ((r = cli_create_network(a, cfg, hc, err)) < 0 ||
            (r = cli_create_ports(a, cfg, hc, err)) < 0)
                return r;
        json_object_set_new(hc, "AutoRemove", json_boolean(cli_arg_bool(a, "rm")));
        json_object_set_new(hc, "Privileged", json_boolean(cli_arg_bool(a, "privileged")));
        json_object_set_new(hc, "ReadonlyRootfs", json_boolean(cli_arg_bool(a, "read-only")));
        if (cli_arg_set(a, "init"))
                json_object_set_new(hc, "Init", json_boolean(cli_arg_bool(a, "init")));
        if (cli_arg_bool(a, "oom-kill-disable"))
                json_object_set_new(hc, "OomKillDisable", json_true());
        static const struct {
                const char *flag, *key;
        } lists[] = {{"cap-add", "CapAdd"},
                     {"cap-drop", "CapDrop"},
                     {"security-opt", "SecurityOpt"},
                     {"group-add", "GroupAdd"},
                     {"dns-search", "DnsSearch"},
                     {"dns-option", "DnsOptions"},
                     {"device-cgroup-rule", "DeviceCgroupRules"},
                     {"volumes-from", "VolumesFrom"}};
        for (i = 0; i < ARRAY_SIZE(lists); i++) {
                char **v = cli_arg_list(a, lists[i].flag);
                if (!v)
                        continue;
                json_t *arr = json_array();
                for (; *v; v++)
                        json_array_append_new(arr, json_string(*v));
                json_object_set_new(hc, lists[i].key, arr);
        }
        static const struct {
                const char *flag, *key;
        } modes[] = {{"ipc", "IpcMode"},
                     {"pid", "PidMode"},
                     {"uts", "UTSMode"},
                     {"userns", "UsernsMode"},
                     {"cgroupns", "CgroupnsMode"},
                     {"cgroup-parent", "CgroupParent"},
                     {"cpuset-cpus", "CpusetCpus"},
                     {"cpuset-mems", "CpusetMems"},
                     {"runtime", "Runtime"},
                     {"isolation", "Isolation"},
                     {"volume-driver", "VolumeDriver"}};
        for (i = 0; i < ARRAY_SIZE(modes); i++)
                if ((s = cli_arg_str(a, modes[i].flag)))
                        json_object_set_new(hc, modes[i].key, json_string(s));
        if ((r = set_bytes(hc, "Memory", cli_arg_str(a, "memory"), err)) < 0 ||
            (r = set_bytes(hc, "MemoryReservation", cli_arg_str(a, "memory-reservation"), err)) <
                0 ||
            (r = set_bytes(hc, "MemorySwap", cli_arg_str(a, "memory-swap"), err)) < 0 ||
            (r = set_bytes(hc, "ShmSize", cli_arg_str(a, "shm-size"), err)) < 0 ||
            (r = set_int(hc, "CpuShares", "cpu-shares", cli_arg_str(a, "cpu-shares"), err)) < 0 ||
            (r = set_int(hc, "CpuQuota", "cpu-quota", cli_arg_str(a, "cpu-quota"), err)) < 0 ||
            (r = set_int(hc, "CpuPeriod", "cpu-period", cli_arg_str(a, "cpu-period"), err)) < 0 ||
            (r = set_int(hc, "PidsLimit", "pids-limit", cli_arg_str(a, "pids-limit"), err)) < 0 ||
            (r = set_int(hc, "BlkioWeight", "blkio-weight", cli_arg_str(a, "blkio-weight"), err)) <
                0 ||
            (r = set_int(hc, "MemorySwappiness", "memory-swappiness",
                         cli_arg_str(a, "memory-swappiness"), err)) < 0 ||
            (r = set_int(hc, "OomScoreAdj", "oom-score-adj", cli_arg_str(a, "oom-score-adj"),
                         err)) < 0)
                return r;
        if ((s = cli_arg_str(a, "cpus"))) {
                char *end = NULL;
                double c = strtod(s, &end);
                if (end == s || *end || !(c >= 0 && c <= 1e6))
                        return bad(err,
                                   "invalid argument \"%s\" for \"--cpus\" flag: failed to "
                                   "parse as a rational number",
                                   s);
                json_object_set_new(hc, "NanoCpus", json_integer((json_int_t)(c * 1e9 + 0.5)));
        }
        json_t *devs = json_array();
        json_object_set_new(hc, "Devices", devs);
        for (char **p = cli_arg_list(a, "device"); p && *p; p++) {
                json_t *d = NULL;
                if ((r = parse_device(*p, &d, err)) < 0)
                        return r;
                json_array_append_new(devs, d);
        }
        if ((r = parse_blkio_devices(a, hc, err)) < 0)
                return r;
        json_t *ul = json_array();
        json_object_set_new(hc, "Ulimits", ul);
        for (char **p = cli_arg_list(a, "ulimit"); p && *p; p++) {
                json_t *u = NULL;
                if ((r = parse_ulimit(*p, &u, err)) < 0)
                        return r;
                json_array_append_new(ul, u);
        }
        _cleanup_json_ json_t *sysctls = json_object();
        for (char **p = cli_arg_list(a, "sysctl"); p && *p; p++) {
                const char *eq = strchr(*p, '=');
                if (!eq)
                        return bad(err, "invalid sysctl: %s", *p);
                _cleanup_free_ char *k = xstrndup(*p, (size_t)(eq - *p));
                json_object_set_new(sysctls, k, json_string(eq + 1));
        }
        if (json_object_size(sysctls))
                json_object_set_new(hc, "Sysctls", json_incref(sysctls));
        _cleanup_json_ json_t *annotations = json_object();
        for (char **p = cli_arg_list(a, "annotation"); p && *p; p++) {
                const char *eq = strchr(*p, '=');
                if (!eq)
                        return bad(err,
                                   "invalid argument \"%s\" for \"--annotation\" flag: bad "
                                   "format for annotation: %s",
                                   *p, *p);
                _cleanup_free_ char *k = xstrndup(*p, (size_t)(eq - *p));
                json_object_set_new(annotations, k, json_string(eq + 1));
        }
        if (json_object_size(annotations))
                json_object_set_new(hc, "Annotations", json_incref(annotations));
        /* the daemon says whether its storage can honour them (docker's behaviour) */
        _cleanup_json_ json_t *sopts = json_object();
        for (char **p = cli_arg_list(a, "storage-opt"); p && *p; p++) {
                const char *eq = strchr(*p, '=');
                if (!eq)
                        return bad(err, "invalid storage option");
                _cleanup_free_ char *k = xstrndup(*p, (size_t)(eq - *p));
                json_object_set_new(sopts, k, json_string(eq + 1));
        }
        if (json_object_size(sopts))
                json_object_set_new(hc, "StorageOpt", json_incref(sopts));
        if ((s = cli_arg_str(a, "restart"))) {
                json_t *rp = NULL;
                if ((r = parse_restart(s, &rp, err)) < 0)
                        return r;
                if (cli_arg_bool(a, "rm") && json_string_length(json_object_get(rp, "Name"))) {
                        json_decref(rp);
                        return bad(err, "Conflicting options: --restart and --rm");
                }
                json_object_set_new(hc, "RestartPolicy", rp);
        }
        json_t *logcfg = json_object();
        for (char **p = cli_arg_list(a, "log-opt"); p && *p; p++) {
                const char *eq = strchr(*p, '=');
                if (!eq) {
                        json_decref(logcfg);
                        return bad(err, "invalid key value pair format in log-opt: %s", *p);
                }
                _cleanup_free_ char *k = xstrndup(*p, (size_t)(eq - *p));
                json_object_set_new(logcfg, k, json_string(eq + 1));
        }
        s = cli_arg_str(a, "log-driver");
        json_object_set_new(hc, "LogConfig",
                            json_pack("{s:s,s:o}", "Type", s ? s : "", "Config", logcfg));

        /* healthcheck */
        if (cli_arg_bool(a, "no-healthcheck")) {
                json_object_set_new(cfg, "Healthcheck", json_pack("{s:[s]}", "Test", "NONE"));
        } else {
                static const struct {
                        const char *flag, *key;
                } hd[] = {{"health-interval", "Interval"},
                          {"health-timeout", "Timeout"},
                          {"health-start-period", "StartPeriod"},
                          {"health-start-interval", "StartInterval"}};
                json_t *h = json_object();
                if ((s = cli_arg_str(a, "health-cmd")))
                        json_object_set_new(h, "Test", json_pack("[s,s]", "CMD-SHELL", s));
                for (i = 0; i < ARRAY_SIZE(hd); i++) {
                        int64_t ns;
                        if (!(s = cli_arg_str(a, hd[i].flag)))
                                continue;
                        if (cli_parse_duration(s, &ns) < 0 || ns < 0) {
                                json_decref(h);
                                return bad(err, "invalid duration: %s", s);
                        }
                        json_object_set_new(h, hd[i].key, json_integer(ns));
                }
                if ((r = set_int(h, "Retries", "health-retries", cli_arg_str(a, "health-retries"),
                                 err)) < 0) {
                        json_decref(h);
                        return r;
                }
                if (json_object_size(h))
                        json_object_set_new(cfg, "Healthcheck", h);
                else
                        json_decref(h);
        }
        *ret = TAKE_PTR(cfg);
        return 0;
}

/* "busybox" → "busybox:latest" like docker's reference normalisation for messages. */
static char *ref_with_tag(const char *ref)
{
        const char *slash = strrchr(ref, '/');
        const char *last = slash ? slash + 1 : ref;
        if (strchr(last, ':') || strchr(ref, '@'))
                return xstrdup(ref);
        return xasprintf("%s:latest", ref);
}

static int create_container(const struct cli_args *a, json_t *body, char **ret_id,
                            struct berth_error **err)
{
        _cleanup_free_ char *path = xstrdup("/containers/create");
        const char *name = cli_arg_str(a, "name");
        if (name) {
                _cleanup_free_ char *q = NULL;
                query_add(&q, "name", name);
                free(path);
                path = xasprintf("/containers/create%s", q);
        }
        const char *pull = cli_arg_str(a, "pull");
        if (!pull)
                pull = "missing";
        if (strcmp(pull, "missing") != 0 && strcmp(pull, "always") != 0 &&
            strcmp(pull, "never") != 0)
                return bad(err,
                           "invalid pull option: '%s': must be one of \"always\", "
                           "\"missing\" or \"never\"",
                           pull);
        const char *image = json_string_value(json_object_get(body, "Image"));
        bool quiet = cli_arg_bool(a, "quiet");
        if (strcmp(pull, "always") == 0) {
                int r = cli_pull_image(image, quiet, stderr, err);
                if (r < 0)
                        return r;
        }
        _cleanup_json_ json_t *resp = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        int r = cli_call("POST", path, body, NULL, &resp, &e);
        if (r == -ENOENT && strcmp(pull, "missing") == 0 && strstr(e->msg, "image")) {
                _cleanup_free_ char *full = ref_with_tag(image);
                fprintf(stderr, "Unable to find image '%s' locally\n", full);
                r = cli_pull_image(image, quiet, stderr, err);
                if (r < 0)
                        return r;
                berth_error_free(TAKE_PTR(e));
                json_decref(TAKE_PTR(resp));
                r = cli_call("POST", path, body, NULL, &resp, &e);
        }
        if (r < 0) {
                *err = TAKE_PTR(e);
                return r;
        }
        const char *id = json_string_value(json_object_get(resp, "Id"));
        if (!id)
                return berth_error_setx(err, EPROTO, "the daemon's create answer has no Id");
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(resp, "Warnings"), i, x)
            fprintf(stderr, "WARNING: %s\n", json_string_value(x));
        *ret_id = xstrdup(id);
        return 0;
}

static int start_error_code(const struct berth_error *e)
{
        const char *m = e->msg;
        if (strstr(m, "executable file not found") || strstr(m, "no such file or directory") ||
            strstr(m, "system cannot find the file specified"))
                return 127;
        if (strstr(m, "permission denied") || strstr(m, "is a directory"))
                return 126;
        return 125;
}

static int wait_send(struct http_conn **ret, const char *id, const char *condition,
                     struct berth_error **err)
{
        _cleanup_conn_ struct http_conn *c = NULL;
        int r = cli_connect(&c, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *p = xasprintf("/containers/%s/wait?condition=%s", id, condition);
        r = http_send(c, "POST", p, NULL, NULL, 0, NULL, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

static int wait_result(struct http_conn *c, int *ret_code, struct berth_error **err)
{
        struct http_resp resp = {0};
        int r = http_read_head(c, &resp, err);
        if (r < 0)
                return r;
        _cleanup_free_ char *text = NULL;
        size_t len = 0, cap = 0;
        if (resp.status >= 400) {
                r = http_read_body_all(c, &resp, 1 << 20, &text, &len, err);
                http_resp_release(&resp);
                if (r < 0)
                        return r;
                _cleanup_free_ char *m = cli_error_message(text, len);
                return berth_error_setx(err, resp.status == 404 ? ENOENT : EIO,
                                        "Error response from daemon: %s", m);
        }
        /* like docker's client: the answer is the first JSON document; the end of the body is
         * not waited for */
        ssize_t n = http_read_line(c, &resp, &text, &cap, err);
        http_resp_release(&resp);
        if (n < 0)
                return (int)n;
        _cleanup_json_ json_t *j = json_loadb(text ? text : "", (size_t)n, 0, NULL);
        json_t *sc = json_object_get(j, "StatusCode");
        if (!json_is_integer(sc))
                return berth_error_setx(err, EPROTO, "bad wait answer from the daemon");
        const char *werr =
            json_string_value(json_object_get(json_object_get(j, "Error"), "Message"));
        if (werr && *werr)
                return berth_error_setx(err, EIO, "Error response from daemon: %s", werr);
        *ret_code = (int)json_integer_value(sc);
        return 0;
}

static void remove_quietly(const char *id)
{
        _cleanup_free_ char *p = xasprintf("/containers/%s?force=1&v=1", id);
        _cleanup_error_ struct berth_error *e = NULL;
        cli_call("DELETE", p, NULL, NULL, NULL, &e);
}

static const char run_usage[] = "[OPTIONS] IMAGE [COMMAND] [ARG...]";

static int run_or_create(int argc, char **argv, bool run)
{
        const char *verb = run ? "run" : "create";
        struct cli_args a;
        int code;
        if (verb_parse(&a, verb, run_usage, cli_create_flags, cli_create_n_flags, argc, argv, false,
                       1, -1, &code) < 0)
                return code == 1 ? 125 : code;
        _cleanup_error_ struct berth_error *e = NULL;
        _cleanup_json_ json_t *body = NULL;
        if (cli_create_body(&a, &body, &e) < 0) {
                code = cli_usage_error(verb, e);
                cli_args_release(&a);
                return code;
        }
        bool detach = run ? cli_arg_bool(&a, "detach") : true;
        bool tty = cli_arg_bool(&a, "tty"), in = cli_arg_bool(&a, "interactive");
        bool autorm = cli_arg_bool(&a, "rm");
        bool sig_proxy = cli_arg_set(&a, "sig-proxy") ? cli_arg_bool(&a, "sig-proxy") : true;
        const char *cidfile = cli_arg_str(&a, "cidfile");
        _cleanup_free_ char *detach_keys =
            cli_arg_str(&a, "detach-keys") ? xstrdup(cli_arg_str(&a, "detach-keys")) : NULL;
        if (tty && in && !isatty(STDIN_FILENO) && run && !detach) {
                fprintf(stderr, "the input device is not a TTY\n");
                cli_args_release(&a);
                return 1;
        }
        _cleanup_fclose_ FILE *cidf = NULL;
        if (cidfile) {
                /* like docker: refuse an existing file before creating anything */
                cidf = fopen(cidfile, "wxe");
                if (!cidf) {
                        fprintf(stderr,
                                errno == EEXIST ? "Container ID file found, make sure the other "
                                                  "container isn't running or delete %s\n"
                                                : "failed to create the container ID file %s\n",
                                cidfile);
                        cli_args_release(&a);
                        return 125;
                }
        }
        _cleanup_free_ char *id = NULL;
        if (create_container(&a, body, &id, &e) < 0) {
                if (cidf)
                        unlink(cidfile);
                cli_args_release(&a);
                return cli_fail(e, 125);
        }
        if (cidf) {
                fputs(id, cidf);
                fflush(cidf);
        }
        if (!run) {
                printf("%s\n", id);
                cli_args_release(&a);
                return 0;
        }
        if (detach) {
                _cleanup_free_ char *p = xasprintf("/containers/%s/start", id);
                if (cli_call("POST", p, NULL, NULL, NULL, &e) < 0) {
                        cli_args_release(&a);
                        if (autorm)
                                remove_quietly(id);
                        return cli_fail(e, start_error_code(e));
                }
                printf("%s\n", id);
                cli_args_release(&a);
                return 0;
        }
        bool a_in = json_is_true(json_object_get(body, "AttachStdin"));
        bool a_out = json_is_true(json_object_get(body, "AttachStdout"));
        bool a_err = json_is_true(json_object_get(body, "AttachStderr"));
        cli_args_release(&a);
        _cleanup_conn_ struct http_conn *att = NULL;
        if (a_in || a_out || a_err) {
                _cleanup_free_ char *p =
                    xasprintf("/containers/%s/attach?stream=1&stdin=%d&stdout=%d&stderr=%d", id,
                              a_in, a_out, a_err);
                if (cli_hijack(p, NULL, &att, &e) < 0) {
                        if (autorm)
                                remove_quietly(id);
                        return cli_fail(e, 125);
                }
        }
        /* ask for the exit before starting: a fast container is otherwise gone (or removed with
         * --rm) before we ask */
        _cleanup_conn_ struct http_conn *w = NULL;
        if (wait_send(&w, id, autorm ? "removed" : "next-exit", &e) < 0) {
                if (autorm)
                        remove_quietly(id);
                return cli_fail(e, 125);
        }
        _cleanup_free_ char *sp = xasprintf("/containers/%s/start", id);
        if (cli_call("POST", sp, NULL, NULL, NULL, &e) < 0) {
                if (autorm)
                        remove_quietly(id);
                return cli_fail(e, start_error_code(e));
        }
        if (att) {
                _cleanup_free_ char *rp = xasprintf("/containers/%s/resize", id);
                bool detached = false;
                struct pump_opts o = {.tty = tty,
                                      .use_stdin = a_in,
                                      .resize_path = tty ? rp : NULL,
                                      .proxy_id = sig_proxy && !tty ? id : NULL,
                                      .detach_keys = detach_keys,
                                      .ret_detached = &detached};
                if (cli_pump(att, &o, &e) < 0)
                        return cli_fail(e, 125);
                if (detached)
                        return 0;
        }
        int status = 0;
        if (wait_result(w, &status, &e) < 0)
                return cli_fail(e, 125);
        return status;
}

int cmd_run(int argc, char **argv)
{
        return run_or_create(argc, argv, true);
}

int cmd_create(int argc, char **argv)
{
        return run_or_create(argc, argv, false);
}

static int exit_code_of(const char *id, struct berth_error **err)
{
        _cleanup_free_ char *p = xasprintf("/containers/%s/json", id);
        _cleanup_json_ json_t *j = NULL;
        int r = cli_call("GET", p, NULL, NULL, &j, err);
        if (r < 0)
                return r;
        return (int)json_integer_value(json_object_get(json_object_get(j, "State"), "ExitCode"));
}

/* attach to id, optionally start it, copy the streams, return the container's exit code */
static int attach_and_maybe_start(const char *id, bool start, bool use_stdin, bool sig_proxy,
                                  const char *detach_keys)
{
        _cleanup_error_ struct berth_error *e = NULL;
        _cleanup_free_ char *ip = name_path("/containers/", id, "/json");
        _cleanup_json_ json_t *info = NULL;
        if (cli_call("GET", ip, NULL, NULL, &info, &e) < 0)
                return cli_fail(e, 1);
        json_t *cfg = json_object_get(info, "Config");
        bool tty = json_is_true(json_object_get(cfg, "Tty"));
        use_stdin = use_stdin && json_is_true(json_object_get(cfg, "OpenStdin"));
        const char *full = json_string_value(json_object_get(info, "Id"));
        _cleanup_free_ char *cid = xstrdup(full ? full : id);
        _cleanup_free_ char *p =
            xasprintf("/containers/%s/attach?stream=1&stdin=%d&stdout=1&stderr=1", cid, use_stdin);
        _cleanup_conn_ struct http_conn *att = NULL;
        if (cli_hijack(p, NULL, &att, &e) < 0)
                return cli_fail(e, 1);
        _cleanup_conn_ struct http_conn *w = NULL;
        if (wait_send(&w, cid, "next-exit", &e) < 0)
                return cli_fail(e, 1);
        if (start) {
                _cleanup_free_ char *sp = xasprintf("/containers/%s/start", cid);
                if (cli_call("POST", sp, NULL, NULL, NULL, &e) < 0)
                        return cli_fail(e, start_error_code(e) == 125 ? 1 : start_error_code(e));
        }
        _cleanup_free_ char *rp = xasprintf("/containers/%s/resize", cid);
        bool detached = false;
        struct pump_opts o = {.tty = tty,
                              .use_stdin = use_stdin,
                              .resize_path = tty ? rp : NULL,
                              .proxy_id = sig_proxy && !tty ? cid : NULL,
                              .detach_keys = detach_keys,
                              .ret_detached = &detached};
        if (cli_pump(att, &o, &e) < 0)
                return cli_fail(e, 1);
        if (detached)
                return 0;
        int status = 0;
        if (wait_result(w, &status, &e) < 0) {
                berth_error_free(TAKE_PTR(e));
                status = exit_code_of(cid, &e);
                if (status < 0)
                        return cli_fail(e, 1);
        }
        return status;
}

int cmd_start(int argc, char **argv)
{
        static const struct cli_flag flags[] = {
            {"help", 0, CLI_BOOL},          {"attach", 'a', CLI_BOOL},
            {"interactive", 'i', CLI_BOOL}, {"detach-keys", 0, CLI_STRING},
            {"checkpoint", 0, CLI_STRING},  {"checkpoint-dir", 0, CLI_STRING}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "start", "[OPTIONS] CONTAINER [CONTAINER...]", flags, ARRAY_SIZE(flags),
                       argc, argv, true, 1, -1, &code) < 0)
                return code;
        bool att = cli_arg_bool(&a, "attach"), in = cli_arg_bool(&a, "interactive");
        if (cli_refuse_flag(&a, "checkpoint", "berth has no checkpoint/restore") ||
            cli_refuse_flag(&a, "checkpoint-dir", "berth has no checkpoint/restore") ||
            refuse_detach_keys(&a)) {
                cli_args_release(&a);
                return 125;
        }
        if (att || in) {
                if (strv_length(a.pos) > 1) {
                        fprintf(stderr, "you cannot start and attach multiple containers at "
                                        "once\n");
                        cli_args_release(&a);
                        return 1;
                }
                code = attach_and_maybe_start(a.pos[0], true, in, true,
                                              cli_arg_str(&a, "detach-keys"));
                cli_args_release(&a);
                return code;
        }
        code = for_each_name(a.pos, "POST", "/containers/", "/start");
        cli_args_release(&a);
        return code;
}

int cmd_attach(int argc, char **argv)
{
        static const struct cli_flag flags[] = {{"help", 0, CLI_BOOL},
                                                {"no-stdin", 0, CLI_BOOL},
                                                {"sig-proxy", 0, CLI_BOOL},
                                                {"detach-keys", 0, CLI_STRING}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "attach", "[OPTIONS] CONTAINER", flags, ARRAY_SIZE(flags), argc, argv,
                       true, 1, 1, &code) < 0)
                return code;
        if (refuse_detach_keys(&a)) {
                cli_args_release(&a);
                return 1;
        }
        bool proxy = cli_arg_set(&a, "sig-proxy") ? cli_arg_bool(&a, "sig-proxy") : true;
        code = attach_and_maybe_start(a.pos[0], false, !cli_arg_bool(&a, "no-stdin"), proxy,
                                      cli_arg_str(&a, "detach-keys"));
        cli_args_release(&a);
        return code;
}

int cmd_exec(int argc, char **argv)
{
        static const struct cli_flag flags[] = {
            {"help", 0, CLI_BOOL},          {"detach", 'd', CLI_BOOL},
            {"interactive", 'i', CLI_BOOL}, {"tty", 't', CLI_BOOL},
            {"env", 'e', CLI_LIST},         {"env-file", 0, CLI_LIST},
            {"workdir", 'w', CLI_STRING},   {"user", 'u', CLI_STRING},
            {"privileged", 0, CLI_BOOL},    {"detach-keys", 0, CLI_STRING}};
        struct cli_args a;
        int code;
        if (verb_parse(&a, "exec", "[OPTIONS] CONTAINER COMMAND [ARG...]", flags, ARRAY_SIZE(flags),
                       argc, argv, false, 2, -1, &code) < 0)
                return code;
        if (detach_keys_invalid(&a)) {
                /* moby's exec wording */
                fprintf(stderr, "Error response from daemon: Invalid escape keys (%s) provided\n",
                        cli_arg_str(&a, "detach-keys"));
                cli_args_release(&a);
                return 1;
        }
        _cleanup_error_ struct berth_error *e = NULL;
        bool detach = cli_arg_bool(&a, "detach"), tty = cli_arg_bool(&a, "tty");
        bool in = cli_arg_bool(&a, "interactive");
        _cleanup_json_ json_t *body = json_object();
        json_t *cmd = json_array(), *env = json_array();
        for (char **p = a.pos + 1; *p; p++)
                json_array_append_new(cmd, json_string(*p));
        json_object_set_new(body, "Cmd", cmd);
        for (char **p = cli_arg_list(&a, "env-file"); p && *p; p++)
                if (read_env_file(*p, env, false, &e) < 0) {
                        json_decref(env);
                        cli_args_release(&a);
                        return cli_fail(e, 125);
                }
        for (char **p = cli_arg_list(&a, "env"); p && *p; p++)
                json_array_append_new(env, json_string(*p));
        json_object_set_new(body, "Env", env);
        json_object_set_new(body, "AttachStdin", json_boolean(in && !detach));
        json_object_set_new(body, "AttachStdout", json_boolean(!detach));
        json_object_set_new(body, "AttachStderr", json_boolean(!detach));
        json_object_set_new(body, "Tty", json_boolean(tty));
        json_object_set_new(body, "Detach", json_boolean(detach));
        json_object_set_new(body, "Privileged", json_boolean(cli_arg_bool(&a, "privileged")));
        const char *s;
        if ((s = cli_arg_str(&a, "workdir")))
                json_object_set_new(body, "WorkingDir", json_string(s));
        if ((s = cli_arg_str(&a, "user")))
                json_object_set_new(body, "User", json_string(s));
        _cleanup_free_ char *detach_keys =
            cli_arg_str(&a, "detach-keys") ? xstrdup(cli_arg_str(&a, "detach-keys")) : NULL;
        _cleanup_free_ char *cp = name_path("/containers/", a.pos[0], "/exec");
        cli_args_release(&a);
        _cleanup_json_ json_t *resp = NULL;
        if (cli_call("POST", cp, body, NULL, &resp, &e) < 0)
                return cli_fail(e, e->code == ENOENT || e->code == EEXIST ? 1 : 126);
        const char *eid = json_string_value(json_object_get(resp, "Id"));
        if (!eid) {
                fprintf(stderr, "exec create answer without an Id\n");
                return 126;
        }
        _cleanup_free_ char *sp = xasprintf("/exec/%s/start", eid);
        _cleanup_json_ json_t *sbody = json_pack("{s:b,s:b}", "Detach", detach, "Tty", tty);
        json_t *csz = tty ? console_size() : NULL;
        if (csz)
                json_object_set_new(sbody, "ConsoleSize", csz);
        if (detach) {
                if (cli_call("POST", sp, sbody, NULL, NULL, &e) < 0)
                        return cli_fail(e, 126);
                return 0;
        }
        _cleanup_conn_ struct http_conn *c = NULL;
        if (cli_hijack(sp, sbody, &c, &e) < 0)
                return cli_fail(e, 126);
        _cleanup_free_ char *rp = xasprintf("/exec/%s/resize", eid);
        struct pump_opts o = {.tty = tty,
                              .use_stdin = in,
                              .resize_path = tty ? rp : NULL,
                              .detach_keys = detach_keys};
        if (cli_pump(c, &o, &e) < 0)
                return cli_fail(e, 126);
        _cleanup_free_ char *ip = xasprintf("/exec/%s/json", eid);
        _cleanup_json_ json_t *info = NULL;
        if (cli_call("GET", ip, NULL, NULL, &info, &e) < 0)
                return cli_fail(e, 126);
        return (int)json_integer_value(json_object_get(info, "ExitCode"));
}
