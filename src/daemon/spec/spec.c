/* Docker container config → OCI runtime spec: the process (Entrypoint/Cmd, Env, User, …), root,
 * hostname, namespaces and the default mounts, with moby's daemon/oci_linux.go semantics.
 * Security lives in spec-security.c, resources in spec-resources.c, user mounts in
 * spec-mounts.c, users in passwd.c. */
#include "daemon/spec/spec-internal.h"

#include <linux/magic.h>
#include <pthread.h>
#include <sys/statfs.h>

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define DEFAULT_SHM  (64 * 1024 * 1024)

/* ---------------------------------------------------------------- typed JSON access */

static int wrong(struct berth_error **err, const char *key, const char *what)
{
        return berth_error_setx(err, EINVAL, "invalid value for `%s`: expected %s", key, what);
}

int sj_str(const json_t *o, const char *key, const char **ret, struct berth_error **err)
{
        json_t *v = o ? json_object_get(o, key) : NULL;
        *ret = NULL;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_string(v))
                return wrong(err, key, "a string");
        *ret = json_string_value(v);
        return 0;
}

int sj_i64(const json_t *o, const char *key, int64_t *ret, struct berth_error **err)
{
        json_t *v = o ? json_object_get(o, key) : NULL;
        *ret = 0;
        if (!v || json_is_null(v))
                return 0;
        if (json_is_integer(v)) {
                *ret = (int64_t)json_integer_value(v);
                return 0;
        }
        if (json_is_real(v)) {
                double d = json_real_value(v);
                if (d != d || d < -9.2e18 || d > 9.2e18 || d != (double)(int64_t)d)
                        return wrong(err, key, "an integer");
                *ret = (int64_t)d;
                return 0;
        }
        return wrong(err, key, "an integer");
}

int sj_bool(const json_t *o, const char *key, bool *ret, struct berth_error **err)
{
        json_t *v = o ? json_object_get(o, key) : NULL;
        *ret = false;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_boolean(v))
                return wrong(err, key, "a boolean");
        *ret = json_is_true(v);
        return 0;
}

int sj_obj(const json_t *o, const char *key, const json_t **ret, struct berth_error **err)
{
        json_t *v = o ? json_object_get(o, key) : NULL;
        *ret = NULL;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_object(v))
                return wrong(err, key, "an object");
        *ret = v;
        return 0;
}

int sj_strv(const json_t *o, const char *key, char ***ret, struct berth_error **err)
{
        json_t *v = o ? json_object_get(o, key) : NULL;
        *ret = NULL;
        if (!v || json_is_null(v))
                return 0;
        char **out = xcalloc(1, sizeof(char *));
        if (json_is_string(v)) {
                strv_push(&out, json_string_value(v));
                *ret = out;
                return 0;
        }
        if (!json_is_array(v)) {
                strv_free(out);
                return wrong(err, key, "an array of strings");
        }
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
                if (!json_is_string(e)) {
                        strv_free(out);
                        return wrong(err, key, "an array of strings");
                }
                strv_push(&out, json_string_value(e));
        }
        *ret = out;
        return 0;
}

static json_t *strv_json(char *const *v)
{
        json_t *a = json_array();
        for (size_t i = 0; v && v[i]; i++)
                json_array_append_new(a, json_string(v[i]));
        return a;
}

/* ---------------------------------------------------------------- env */

static size_t env_key_len(const char *e)
{
        const char *eq = strchr(e, '=');
        return eq ? (size_t)(eq - e) : strlen(e);
}

static ssize_t env_find(char *const *env, const char *e)
{
        size_t kl = env_key_len(e);
        for (size_t i = 0; env && env[i]; i++)
                if (env_key_len(env[i]) == kl && !strncmp(env[i], e, kl))
                        return (ssize_t)i;
        return -1;
}

void spec_env_merge(char ***env, char *const *overrides)
{
        if (!*env)
                *env = xcalloc(1, sizeof(char *));
        for (size_t i = 0; overrides && overrides[i]; i++) {
                ssize_t at = env_find(*env, overrides[i]);
                if (at >= 0) {
                        free((*env)[at]);
                        (*env)[at] = xstrdup(overrides[i]);
                } else {
                        strv_push(env, overrides[i]);
                }
        }
        size_t w = 0;
        for (size_t r = 0; (*env)[r]; r++) {
                if (strchr((*env)[r], '='))
                        (*env)[w++] = (*env)[r];
                else
                        free((*env)[r]);
        }
        (*env)[w] = NULL;
}

/* moby's merge(): the container's Env first, then the image's entries for other keys. */
static char **env_with_image(char *const *user_env, char *const *image_env)
{
        char **out = xcalloc(1, sizeof(char *));
        for (size_t i = 0; user_env && user_env[i]; i++)
                strv_push(&out, user_env[i]);
        for (size_t i = 0; image_env && image_env[i]; i++)
                if (env_find(user_env, image_env[i]) < 0)
                        strv_push(&out, image_env[i]);
        return out;
}

static void env_base(char ***env, const char *hostname, bool tty)
{
        strv_push(env, DEFAULT_PATH);
        if (hostname) {
                _cleanup_free_ char *h = xasprintf("HOSTNAME=%s", hostname);
                strv_push(env, h);
        }
        if (tty)
                strv_push(env, "TERM=xterm");
}

/* ---------------------------------------------------------------- process */

/* ctx->rootfs of daemon_spec_validate(): no rootfs to read users from yet. */
static const char validate_rootfs[] = "/";

static json_t *user_json(const struct spec_user *u)
{
        json_t *j = json_pack("{s:I, s:I}", "uid", (json_int_t)u->uid, "gid", (json_int_t)u->gid);
        if (u->n_gids) {
                json_t *a = json_array();
                for (size_t i = 0; i < u->n_gids; i++)
                        json_array_append_new(a, json_integer(u->gids[i]));
                json_object_set_new(j, "additionalGids", a);
        }
        return j;
}

/* ConsoleSize [height, width] (API 1.42, HostConfig and ExecConfig): the tty's size from the
 * first byte instead of after a resize call. */
static void console_size(const json_t *o, json_t *process)
{
        json_t *cs = json_object_get(o, "ConsoleSize");
        if (!json_is_array(cs) || json_array_size(cs) != 2 ||
            !json_is_integer(json_array_get(cs, 0)) || !json_is_integer(json_array_get(cs, 1)))
                return;
        json_int_t h = json_integer_value(json_array_get(cs, 0));
        json_int_t w = json_integer_value(json_array_get(cs, 1));
        if (h > 0 && w > 0 && h <= 65535 && w <= 65535)
                json_object_set_new(process, "consoleSize",
                                    json_pack("{s:I, s:I}", "height", h, "width", w));
}

static int args_build(const json_t *create, const json_t *image, bool init, char ***ret,
                      struct berth_error **err)
{
        _cleanup_strv_ char **entry = NULL, **cmd = NULL, **ientry = NULL, **icmd = NULL;
        if (sj_strv(create, "Entrypoint", &entry, err) < 0 || sj_strv(create, "Cmd", &cmd, err) < 0)
                return -EINVAL;
        if (image && (sj_strv(image, "Entrypoint", &ientry, err) < 0 ||
                      sj_strv(image, "Cmd", &icmd, err) < 0))
                return berth_error_wrap(err, "image config");
        /* Entrypoint [""] is how older clients clear the image's entrypoint */
        if (entry && strv_length(entry) == 1 && !entry[0][0]) {
                free(entry[0]);
                entry[0] = NULL;
        }
        /* moby merge(): an explicit Entrypoint (even []) drops the image's; the image's Cmd is
         * used only when the container names neither Entrypoint nor Cmd */
        if (strv_length(entry) == 0) {
                if (strv_length(cmd) == 0) {
                        strv_free(cmd);
                        cmd = TAKE_PTR(icmd);
                }
                if (!entry) {
                        entry = TAKE_PTR(ientry);
                }
        }
        char **args = xcalloc(1, sizeof(char *));
        if (init) {
                strv_push(&args, "/sbin/docker-init");
                strv_push(&args, "--");
        }
        for (size_t i = 0; entry && entry[i]; i++)
                strv_push(&args, entry[i]);
        for (size_t i = 0; cmd && cmd[i]; i++)
                strv_push(&args, cmd[i]);
        if (strv_length(args) == (init ? 2u : 0u)) {
                strv_free(args);
                return berth_error_setx(err, EINVAL, "No command specified");
        }
        *ret = args;
        return 0;
}

static int build_process(const json_t *create, const json_t *image, const json_t *hc,
                         const struct spec_ctx *ctx, const char *hostname, bool init, json_t **ret,
                         struct berth_error **err)
{
        _cleanup_strv_ char **args = NULL, **uenv = NULL, **ienv = NULL, **merged = NULL,
                            **env = NULL, **group_add = NULL;
        if (args_build(create, image, init, &args, err) < 0)
                return -EINVAL;
        if (sj_strv(create, "Env", &uenv, err) < 0)
                return -EINVAL;
        if (image && sj_strv(image, "Env", &ienv, err) < 0)
                return berth_error_wrap(err, "image config");
        bool tty;
        if (sj_bool(create, "Tty", &tty, err) < 0)
                return -EINVAL;
        merged = env_with_image(uenv, ienv);
        env = xcalloc(1, sizeof(char *));
        env_base(&env, hostname, tty);
        spec_env_merge(&env, merged);

        const char *cwd = NULL, *user = NULL;
        if (sj_str(create, "WorkingDir", &cwd, err) < 0 || sj_str(create, "User", &user, err) < 0)
                return -EINVAL;
        if (!cwd || !*cwd) {
                if (image && sj_str(image, "WorkingDir", &cwd, err) < 0)
                        return berth_error_wrap(err, "image config");
        }
        if (!cwd || !*cwd)
                cwd = "/";
        if (cwd[0] != '/')
                return berth_error_setx(err, EINVAL,
                                        "the working directory '%s' is invalid, it needs to be an "
                                        "absolute path",
                                        cwd);
        if (!user || !*user) {
                if (image && sj_str(image, "User", &user, err) < 0)
                        return berth_error_wrap(err, "image config");
        }
        if (sj_strv(hc, "GroupAdd", &group_add, err) < 0)
                return -EINVAL;
        struct spec_user u = {0};
        /* validation before the rootfs exists: User is looked up at start, like docker */
        if (!ctx->validate_only && spec_user_resolve(ctx->rootfs, user, group_add, &u, err) < 0)
                return -berth_error_code(*err);
        json_t *p = json_pack("{s:b, s:o, s:o, s:o, s:s}", "terminal", tty, "user", user_json(&u),
                              "args", strv_json(args), "env", strv_json(env), "cwd", cwd);
        if (tty)
                console_size(hc, p);
        spec_user_release(&u);
        *ret = p;
        return 0;
}

/* ---------------------------------------------------------------- namespaces */

static void ns_add(json_t *ns, const char *type, const char *path)
{
        json_t *o = json_pack("{s:s}", "type", type);
        if (path)
                json_object_set_new(o, "path", json_string(path));
        json_array_append_new(ns, o);
}

/* A "container:<x>" mode joins the namespace of the pid the daemon resolved. */
static int ns_join(json_t *ns, const char *type, const char *file, const char *mode, pid_t pid,
                   struct berth_error **err)
{
        if (pid <= 0)
                return berth_error_setx(err, EINVAL,
                                        "cannot join the %s namespace of `%s`: the container is "
                                        "not running",
                                        type, mode + strlen("container:"));
        _cleanup_free_ char *path = xasprintf("/proc/%d/ns/%s", (int)pid, file);
        ns_add(ns, type, path);
        return 0;
}

static bool is_container_mode(const char *m)
{
        return m && !strncmp(m, "container:", 10) && m[10];
}

static bool unified;
static pthread_once_t unified_once = PTHREAD_ONCE_INIT;

static void unified_init(void)
{
        struct statfs sf;
        unified = statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

/* The host's cgroup layout does not change while the daemon runs. */
static bool cgroup2_unified(void)
{
        pthread_once(&unified_once, unified_init);
        return unified;
}

const char *daemon_spec_default_cgroupns_mode(void)
{
        return cgroup2_unified() ? "private" : "host";
}

struct ns_modes {
        bool host_net, host_ipc, host_uts, host_pid, no_ipc, new_net;
};

static int build_namespaces(const json_t *hc, const struct spec_ctx *ctx, json_t *ns,
                            struct ns_modes *m, struct berth_error **err)
{
        const char *net, *pid, *ipc, *uts, *userns, *cgns;
        if (sj_str(hc, "NetworkMode", &net, err) < 0 || sj_str(hc, "PidMode", &pid, err) < 0 ||
            sj_str(hc, "IpcMode", &ipc, err) < 0 || sj_str(hc, "UTSMode", &uts, err) < 0 ||
            sj_str(hc, "UsernsMode", &userns, err) < 0 ||
            sj_str(hc, "CgroupnsMode", &cgns, err) < 0)
                return -EINVAL;
        *m = (struct ns_modes){0};

        if (userns && *userns && strcmp(userns, "host"))
                return berth_error_setx(err, EINVAL, "user namespace mode `%s` is not supported",
                                        userns);

        ns_add(ns, "mount", NULL);

        if (net && !strcmp(net, "host")) {
                m->host_net = true;
        } else if (is_container_mode(net)) {
                if (ns_join(ns, "network", "net", net, ctx->net_container_pid, err) < 0)
                        return -EINVAL;
        } else {
                /* bridge, none and user networks (checked by the daemon's network module): the
                 * namespace it made and plumbed, or a new one with loopback only */
                ns_add(ns, "network", ctx->netns_path);
                m->new_net = true;
        }

        if (!pid || !*pid || !strcmp(pid, "private")) {
                ns_add(ns, "pid", NULL);
        } else if (!strcmp(pid, "host")) {
                m->host_pid = true;
        } else if (is_container_mode(pid)) {
                if (ns_join(ns, "pid", "pid", pid, ctx->pid_container_pid, err) < 0)
                        return -EINVAL;
        } else {
                return berth_error_setx(err, EINVAL, "invalid PID mode: %s", pid);
        }

        if (!ipc || !*ipc || !strcmp(ipc, "private") || !strcmp(ipc, "shareable") ||
            !strcmp(ipc, "none")) {
                ns_add(ns, "ipc", NULL);
                m->no_ipc = ipc && !strcmp(ipc, "none");
        } else if (!strcmp(ipc, "host")) {
                m->host_ipc = true;
        } else if (is_container_mode(ipc)) {
                if (ns_join(ns, "ipc", "ipc", ipc, ctx->ipc_container_pid, err) < 0)
                        return -EINVAL;
        } else {
                return berth_error_setx(err, EINVAL, "invalid IPC mode: %s", ipc);
        }

        if (!uts || !*uts || !strcmp(uts, "private")) {
                ns_add(ns, "uts", NULL);
        } else if (!strcmp(uts, "host")) {
                m->host_uts = true;
        } else if (is_container_mode(uts)) {
                if (ns_join(ns, "uts", "uts", uts, ctx->uts_container_pid, err) < 0)
                        return -EINVAL;
                m->host_uts = true; /* the hostname is the other container's */
        } else {
                return berth_error_setx(err, EINVAL, "invalid UTS mode: %s", uts);
        }

        if (!cgns || !*cgns)
                cgns = daemon_spec_default_cgroupns_mode();
        if (!strcmp(cgns, "private")) {
                ns_add(ns, "cgroup", NULL);
        } else if (strcmp(cgns, "host")) {
                return berth_error_setx(err, EINVAL, "invalid cgroup namespace mode: %s", cgns);
        }
        return 0;
}

/* ---------------------------------------------------------------- mounts */

static json_t *mount_new(const char *dst, const char *type, const char *src, const char *opts)
{
        json_t *m = json_pack("{s:s, s:s, s:s}", "destination", dst, "type", type, "source", src);
        json_t *o = json_array();
        _cleanup_free_ char *copy = xstrdup(opts);
        char *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
                json_array_append_new(o, json_string(t));
        json_object_set_new(m, "options", o);
        return m;
}

static bool opts_has(const json_t *m, const char *opt)
{
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(m, "options"), i, o)
        {
                if (!strcmp(json_string_value(o), opt))
                        return true;
        }
        return false;
}

static void opts_remove(json_t *m, const char *opt)
{
        json_t *a = json_object_get(m, "options");
        for (size_t i = json_array_size(a); i > 0; i--)
                if (!strcmp(json_string_value(json_array_get(a, i - 1)), opt))
                        json_array_remove(a, i - 1);
}

static char *path_clean(const char *p)
{
        /* collapse "//", "/./" and trailing '/', like Go's filepath.Clean for absolute paths
         * (".." is kept: docker refuses nothing about it here, the runtime resolves in root) */
        char *out = xmalloc(strlen(p) + 2);
        size_t w = 0;
        for (const char *s = p; *s;) {
                if (*s == '/') {
                        while (*s == '/')
                                s++;
                        if (s[0] == '.' && (s[1] == '/' || !s[1])) {
                                s++;
                                continue;
                        }
                        out[w++] = '/';
                        continue;
                }
                out[w++] = *s++;
        }
        while (w > 1 && out[w - 1] == '/')
                w--;
        if (w == 0)
                out[w++] = '/';
        out[w] = '\0';
        return out;
}

static int build_mounts(const json_t *create, const json_t *hc, const struct spec_ctx *ctx,
                        const struct ns_modes *m, bool privileged, bool readonly_root, bool init,
                        json_t **ret, struct berth_error **err)
{
        int64_t shm;
        if (sj_i64(hc, "ShmSize", &shm, err) < 0)
                return -EINVAL;
        if (shm < 0)
                return berth_error_setx(err, EINVAL, "SHM size can not be less than 0");
        if (shm == 0)
                shm = DEFAULT_SHM;

        /* user mounts first, to know which defaults they replace */
        _cleanup_json_ json_t *user = json_array();
        _cleanup_json_ json_t *targets = json_object();
        for (size_t i = 0; i < ctx->n_mounts; i++) {
                const struct spec_mount *sm = &ctx->mounts[i];
                if (!sm->source || !sm->target || sm->target[0] != '/')
                        return berth_error_setx(err, EINVAL, "invalid mount `%s`",
                                                sm->target ? sm->target : "");
                _cleanup_free_ char *dst = path_clean(sm->target);
                _cleanup_free_ char *opts = xasprintf(
                    "%s,%s,%s", sm->non_recursive ? "bind" : "rbind", sm->readonly ? "ro" : "rw",
                    sm->propagation && *sm->propagation ? sm->propagation : "rprivate");
                json_array_append_new(user, mount_new(dst, "bind", sm->source, opts));
                json_object_set_new(targets, dst, json_true());
        }
        if (spec_tmpfs_mounts(create, readonly_root, user, targets, err) < 0)
                return -EINVAL;
        bool user_dev = json_object_get(targets, "/dev") != NULL;

        json_t *out = json_array();
        json_t *defaults = json_array();
        json_array_append_new(defaults, mount_new("/proc", "proc", "proc", "nosuid,noexec,nodev"));
        json_array_append_new(defaults, mount_new("/dev", "tmpfs", "tmpfs",
                                                  "nosuid,strictatime,mode=755,size=65536k"));
        json_array_append_new(defaults,
                              mount_new("/dev/pts", "devpts", "devpts",
                                        "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5"));
        json_array_append_new(
            defaults, mount_new("/sys", "sysfs", "sysfs",
                                privileged ? "nosuid,noexec,nodev" : "nosuid,noexec,nodev,ro"));
        json_array_append_new(defaults, mount_new("/sys/fs/cgroup", "cgroup", "cgroup",
                                                  privileged ? "nosuid,noexec,nodev,relatime"
                                                             : "ro,nosuid,noexec,nodev,relatime"));
        json_array_append_new(defaults,
                              mount_new("/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"));
        if (ctx->shm_path || m->host_ipc) {
                /* moby's IpcMounts: the shared tmpfs (or the host's /dev/shm) bound in */
                json_array_append_new(defaults,
                                      mount_new("/dev/shm", "bind",
                                                ctx->shm_path ? ctx->shm_path : "/dev/shm",
                                                "rbind,nosuid,noexec,nodev,rprivate"));
        } else if (!m->no_ipc) {
                _cleanup_free_ char *o =
                    shm % 1024 == 0
                        ? xasprintf("nosuid,noexec,nodev,mode=1777,size=%lldk",
                                    (long long)shm / 1024)
                        : xasprintf("nosuid,noexec,nodev,mode=1777,size=%lld", (long long)shm);
                json_array_append_new(defaults, mount_new("/dev/shm", "tmpfs", "shm", o));
        }
        struct {
                const char *dst, *src;
        } files[] = {
            {"/etc/resolv.conf", ctx->resolv_path},
            {"/etc/hostname", ctx->hostname_path},
            {"/etc/hosts", ctx->hosts_path},
        };
        size_t n_files = 0;
        for (size_t i = 0; i < ARRAY_SIZE(files); i++)
                if (files[i].src) {
                        json_array_append_new(defaults, mount_new(files[i].dst, "bind",
                                                                  files[i].src, "rbind,rprivate"));
                        n_files++;
                }

        size_t i;
        json_t *d;
        /* the generated files go over the user's mounts: a volume at /etc must not hide them
         * (moby sorts them in with the user's mounts, parents first) */
        json_t *etc_files = json_array();
        json_array_foreach(defaults, i, d)
        {
                const char *dst = json_string_value(json_object_get(d, "destination"));
                bool etc_file = i >= json_array_size(defaults) - n_files;
                if (json_object_get(targets, dst))
                        continue;
                if (user_dev && !strncmp(dst, "/dev/", 5))
                        continue;
                /* moby: with a read-only rootfs every default mount but the pseudo-filesystems
                 * docker must write to is read-only too */
                if (readonly_root && strcmp(dst, "/proc") && strcmp(dst, "/dev") &&
                    strcmp(dst, "/dev/pts") && strcmp(dst, "/dev/shm") &&
                    strcmp(dst, "/dev/mqueue") && !opts_has(d, "ro")) {
                        if (privileged && !strcmp(dst, "/sys"))
                                ;
                        else
                                json_array_append_new(json_object_get(d, "options"),
                                                      json_string("ro"));
                }
                if (privileged && !strcmp(dst, "/sys/fs/cgroup"))
                        opts_remove(d, "ro");
                json_array_append(etc_file ? etc_files : out, d);
        }
        json_decref(defaults);
        json_array_extend(out, user);
        json_array_extend(out, etc_files);
        json_decref(etc_files);

        if (init) {
                if (!ctx->init_path) {
                        json_decref(out);
                        return berth_error_setx(err, EINVAL,
                                                "init requested but no init binary is configured");
                }
                json_array_append_new(
                    out, mount_new("/sbin/docker-init", "bind", ctx->init_path, "bind,ro"));
        }
        *ret = out;
        return 0;
}

/* ---------------------------------------------------------------- the whole spec */

/* moby's validHostnamePattern (RFC 1123 labels) within the kernel's 64-byte limit. */
static bool hostname_valid(const char *h)
{
        size_t n = strlen(h);
        if (n == 0 || n > 64)
                return false;
        for (const char *label = h; *label;) {
                const char *end = strchr(label, '.');
                size_t l = end ? (size_t)(end - label) : strlen(label);
                if (l == 0 || label[0] == '-' || label[l - 1] == '-')
                        return false;
                for (size_t i = 0; i < l; i++) {
                        char c = label[i];
                        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                              (c >= '0' && c <= '9') || c == '-'))
                                return false;
                }
                if (!end)
                        break;
                label = end + 1;
                if (!*label)
                        return false;
        }
        return true;
}

int daemon_spec_build(const json_t *create, const json_t *image_config, const struct spec_ctx *ctx,
                      json_t **ret_spec, struct berth_error **err)
{
        if (!json_is_object(create))
                return berth_error_setx(err, EINVAL, "container config must be a JSON object");
        if (image_config && !json_is_object(image_config))
                image_config = NULL;
        if (!ctx || !ctx->id || !ctx->rootfs)
                return berth_error_setx(err, EINVAL, "spec context lacks the id or the rootfs");
        const json_t *hc = NULL;
        if (sj_obj(create, "HostConfig", &hc, err) < 0)
                return -EINVAL;

        bool privileged, readonly_root, init;
        if (sj_bool(hc, "Privileged", &privileged, err) < 0 ||
            sj_bool(hc, "ReadonlyRootfs", &readonly_root, err) < 0 ||
            sj_bool(hc, "Init", &init, err) < 0)
                return -EINVAL;

        _cleanup_json_ json_t *ns = json_array();
        struct ns_modes modes;
        if (build_namespaces(hc, ctx, ns, &modes, err) < 0)
                return -berth_error_code(*err);

        const char *cfg_host = NULL, *domain = NULL;
        if (sj_str(create, "Hostname", &cfg_host, err) < 0 ||
            sj_str(create, "Domainname", &domain, err) < 0)
                return -EINVAL;
        if (cfg_host && *cfg_host && !hostname_valid(cfg_host))
                return berth_error_setx(err, EINVAL, "invalid hostname format: %s", cfg_host);
        if (domain && *domain && !hostname_valid(domain))
                return berth_error_setx(err, EINVAL, "invalid domainname format: %s", domain);
        _cleanup_free_ char *hostname = NULL;
        if (cfg_host && *cfg_host)
                hostname = xstrdup(cfg_host);
        else if (ctx->hostname && *ctx->hostname)
                hostname = xstrdup(ctx->hostname);
        else
                hostname = xstrndup(ctx->id, 12);

        _cleanup_json_ json_t *process = NULL;
        if (build_process(create, image_config, hc, ctx, hostname, init, &process, err) < 0)
                return -berth_error_code(*err);

        _cleanup_(spec_secopts_release) struct spec_secopts so = {0};
        if (spec_secopts_parse(json_object_get(hc, "SecurityOpt"), &so, err) < 0)
                return -EINVAL;
        _cleanup_strv_ char **caps = NULL;
        if (spec_caps(json_object_get(hc, "CapAdd"), json_object_get(hc, "CapDrop"), privileged,
                      &caps, err) < 0)
                return -EINVAL;
        json_object_set_new(process, "capabilities", spec_caps_json(caps));
        json_object_set_new(process, "noNewPrivileges", json_boolean(so.no_new_privileges));
        json_t *rlimits = NULL;
        if (spec_rlimits(hc, &rlimits, err) < 0)
                return -EINVAL;
        if (rlimits)
                json_object_set_new(process, "rlimits", rlimits);
        int64_t oom;
        if (sj_i64(hc, "OomScoreAdj", &oom, err) < 0)
                return -EINVAL;
        if (oom < -1000 || oom > 1000)
                return berth_error_setx(err, EINVAL,
                                        "Invalid value %lld, range for oom score adj is "
                                        "[-1000, 1000]",
                                        (long long)oom);
        if (oom)
                json_object_set_new(process, "oomScoreAdj", json_integer(oom));

        _cleanup_json_ json_t *mounts = NULL;
        if (build_mounts(create, hc, ctx, &modes, privileged, readonly_root, init, &mounts, err) <
            0)
                return -EINVAL;

        _cleanup_json_ json_t *lx = json_object();
        _cleanup_json_ json_t *res = json_object();
        if (spec_resources_apply(hc, res, err) < 0)
                return -EINVAL;
        if (spec_security_apply(hc, ctx, caps, privileged, &so, lx, res, err) < 0)
                return -berth_error_code(*err);
        if (spec_sysctls(hc, modes.host_net, modes.host_ipc, modes.host_uts, lx, err) < 0)
                return -EINVAL;
        const char *cgparent = NULL;
        if (sj_str(hc, "CgroupParent", &cgparent, err) < 0)
                return -EINVAL;
        if (!cgparent || !*cgparent)
                cgparent = ctx->cgroup_parent && *ctx->cgroup_parent ? ctx->cgroup_parent : "berth";
        /* absolute: the runtime puts a relative cgroupsPath under its own "berth/" */
        while (*cgparent == '/')
                cgparent++;
        _cleanup_free_ char *cgpath =
            *cgparent ? xasprintf("/%s/%s", cgparent, ctx->id) : xasprintf("/%s", ctx->id);
        json_object_set_new(lx, "cgroupsPath", json_string(cgpath));
        json_object_set(lx, "namespaces", ns);
        json_object_set(lx, "resources", res);

        /* a shared or slave bind needs the container's / to propagate, like moby */
        const char *rprop = NULL;
        size_t i;
        json_t *mnt;
        json_array_foreach(mounts, i, mnt)
        {
                if (opts_has(mnt, "shared") || opts_has(mnt, "rshared"))
                        rprop = "rshared";
                else if (!rprop && (opts_has(mnt, "slave") || opts_has(mnt, "rslave")))
                        rprop = "rslave";
        }
        if (rprop)
                json_object_set_new(lx, "rootfsPropagation", json_string(rprop));

        /* HostConfig.Annotations (API 1.43): passed to the runtime as the spec's, like moby */
        const json_t *annotations = NULL;
        if (sj_obj(hc, "Annotations", &annotations, err) < 0)
                return -EINVAL;
        const char *ak;
        json_t *av;
        json_object_foreach((json_t *)annotations, ak, av)
        {
                if (!*ak)
                        return berth_error_setx(err, EINVAL,
                                                "invalid Annotations: the empty string is not "
                                                "permitted as an annotation key");
                if (!json_is_string(av))
                        return berth_error_setx(err, EINVAL,
                                                "invalid value for `Annotations`: expected a map "
                                                "of strings");
        }

        json_t *spec = json_pack("{s:s, s:O, s:{s:s, s:b}, s:O, s:O}", "ociVersion", "1.2.0",
                                 "process", process, "root", "path", ctx->rootfs, "readonly",
                                 readonly_root, "mounts", mounts, "linux", lx);
        if (annotations && json_object_size(annotations))
                json_object_set_new(spec, "annotations", json_deep_copy(annotations));
        if (!modes.host_uts)
                json_object_set_new(spec, "hostname", json_string(hostname));
        if (domain && *domain && !modes.host_uts)
                json_object_set_new(spec, "domainname", json_string(domain));
        *ret_spec = spec;
        return 0;
}

int daemon_spec_validate(const json_t *create, const json_t *image_config, struct berth_error **err)
{
        struct spec_ctx ctx = {
            .id = "0000000000000000000000000000000000000000000000000000000000000000",
            .rootfs = validate_rootfs,
            .validate_only = true,
            .init_path = "/sbin/docker-init",
            .seccomp_default_path = "", /* the default profile is the daemon's, not the client's */
            .net_container_pid = 1,
            .pid_container_pid = 1,
            .ipc_container_pid = 1,
            .uts_container_pid = 1,
        };
        struct spec_mount_req *reqs = NULL;
        size_t n = 0;
        if (daemon_spec_parse_mounts(create, &reqs, &n, err) < 0)
                return -berth_error_code(*err);
        daemon_spec_mount_reqs_free(reqs, n);
        _cleanup_json_ json_t *spec = NULL;
        return daemon_spec_build(create, image_config, &ctx, &spec, err);
}

/* ---------------------------------------------------------------- exec */

int daemon_spec_exec_process(const json_t *exec_config, const json_t *container_spec,
                             const json_t *group_add, const char *rootfs, json_t **ret_process,
                             struct berth_error **err)
{
        if (!json_is_object(exec_config))
                return berth_error_setx(err, EINVAL, "exec config must be a JSON object");
        json_t *cproc = json_object_get(container_spec, "process");
        if (!json_is_object(cproc))
                return berth_error_setx(err, EINVAL, "the container's spec has no process");
        _cleanup_strv_ char **cmd = NULL, **xenv = NULL, **env = NULL;
        if (sj_strv(exec_config, "Cmd", &cmd, err) < 0)
                return -EINVAL;
        if (strv_length(cmd) == 0)
                return berth_error_setx(err, EINVAL, "No exec command specified");
        if (sj_strv(exec_config, "Env", &xenv, err) < 0 ||
            sj_strv(json_object_get(cproc, "env") ? cproc : NULL, "env", &env, err) < 0)
                return -EINVAL;
        bool tty, privileged;
        const char *cwd, *user;
        if (sj_bool(exec_config, "Tty", &tty, err) < 0 ||
            sj_bool(exec_config, "Privileged", &privileged, err) < 0 ||
            sj_str(exec_config, "WorkingDir", &cwd, err) < 0 ||
            sj_str(exec_config, "User", &user, err) < 0)
                return -EINVAL;
        if (cwd && *cwd && cwd[0] != '/')
                return berth_error_setx(err, EINVAL,
                                        "the working directory '%s' is invalid, it needs to be an "
                                        "absolute path",
                                        cwd);
        if (tty && env_find(env, "TERM") < 0)
                strv_push(&env, "TERM=xterm");
        spec_env_merge(&env, xenv);

        _cleanup_json_ json_t *p = json_deep_copy(cproc);
        json_object_del(p, "consoleSize");
        json_object_del(p, "apparmorProfile");
        json_object_del(p, "selinuxLabel");
        json_object_set_new(p, "args", strv_json(cmd));
        json_object_set_new(p, "env", strv_json(env));
        json_object_set_new(p, "terminal", json_boolean(tty));
        if (tty)
                console_size(exec_config, p);
        if (cwd && *cwd)
                json_object_set_new(p, "cwd", json_string(cwd));
        else if (!json_is_string(json_object_get(p, "cwd")))
                json_object_set_new(p, "cwd", json_string("/"));
        if (user && *user) {
                /* the container's --group-add holds for an exec's own user too, as in dockerd */
                _cleanup_json_ json_t *hc = json_pack("{s:O?}", "GroupAdd", (json_t *)group_add);
                _cleanup_strv_ char **groups = NULL;
                struct spec_user u = {0};
                if (sj_strv(hc, "GroupAdd", &groups, err) < 0)
                        return -EINVAL;
                if (spec_user_resolve(rootfs, user, groups, &u, err) < 0)
                        return -berth_error_code(*err);
                json_object_set_new(p, "user", user_json(&u));
                spec_user_release(&u);
        }
        if (privileged) {
                _cleanup_strv_ char **all = spec_caps_all();
                json_object_set_new(p, "capabilities", spec_caps_json(all));
        }
        *ret_process = TAKE_PTR(p);
        return 0;
}
