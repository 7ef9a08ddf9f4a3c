/* Capabilities, SecurityOpt, seccomp (docker's profile format → OCI), masked/readonly paths and
 * devices, with moby's semantics (oci/caps, profiles/seccomp, daemon/oci_linux.go). */
#include "daemon/spec/spec-internal.h"
#include "runtime/runtime.h"
#include <ctype.h>

#include <glob.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>

static const char *const default_caps[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
    NULL,
};

static size_t cap_count(void)
{
        static size_t cached;
        size_t n = __atomic_load_n(&cached, __ATOMIC_RELAXED);
        if (n)
                return n;
        size_t last = (size_t)berth_capability_last();
        _cleanup_fclose_ FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
        unsigned v;
        if (f && fscanf(f, "%u", &v) == 1 && v < last)
                last = v;
        n = last + 1;
        __atomic_store_n(&cached, n, __ATOMIC_RELAXED);
        return n;
}

/* "All capabilities" means all the daemon itself holds in its bounding set: a cap outside it
 * cannot be granted (capset fails), e.g. when berth runs in a restricted container or VM. */
static bool cap_available(size_t cap)
{
        return cap < cap_count() && prctl(PR_CAPBSET_READ, (unsigned long)cap, 0, 0, 0) == 1;
}

char **spec_caps_all(void)
{
        char **v = xcalloc(1, sizeof(char *));
        for (size_t i = 0; i < cap_count(); i++)
                if (cap_available(i))
                        strv_push(&v, berth_capability_name((int)i));
        return v;
}

json_t *spec_caps_json(char *const *caps)
{
        json_t *a = json_array();
        for (size_t i = 0; caps && caps[i]; i++)
                json_array_append_new(a, json_string(caps[i]));
        return json_pack("{s:O, s:O, s:o}", "bounding", a, "effective", a, "permitted", a);
}

static bool strv_has(char *const *v, const char *s)
{
        for (size_t i = 0; v && v[i]; i++)
                if (!strcmp(v[i], s))
                        return true;
        return false;
}

/* "net_admin", "CAP_NET_ADMIN", "all" → "CAP_NET_ADMIN" / "ALL"; unknown → EINVAL. */
static int cap_normalize(const json_t *list, const char *field, char ***ret,
                         struct berth_error **err)
{
        char **out = xcalloc(1, sizeof(char *));
        size_t i;
        json_t *e;
        if (list && !json_is_null(list) && !json_is_array(list)) {
                strv_free(out);
                return berth_error_setx(
                    err, EINVAL, "invalid value for `%s`: expected an array of strings", field);
        }
        json_array_foreach(list, i, e)
        {
                if (!json_is_string(e)) {
                        strv_free(out);
                        return berth_error_setx(err, EINVAL,
                                                "invalid value for `%s`: expected an array of "
                                                "strings",
                                                field);
                }
                const char *s = json_string_value(e);
                _cleanup_free_ char *up = xstrdup(s);
                for (char *p = up; *p; p++)
                        if (*p >= 'a' && *p <= 'z')
                                *p = (char)(*p - 'a' + 'A');
                if (!strcmp(up, "ALL")) {
                        if (!strv_has(out, "ALL"))
                                strv_push(&out, "ALL");
                        continue;
                }
                _cleanup_free_ char *name =
                    strncmp(up, "CAP_", 4) ? xasprintf("CAP_%s", up) : xstrdup(up);
                bool known = false;
                for (size_t c = 0; c < (size_t)berth_capability_last() + 1 && !known; c++)
                        known = !strcmp(berth_capability_name((int)c), name);
                if (!known) {
                        strv_free(out);
                        return berth_error_setx(err, EINVAL, "unknown capability: \"%s\"", name);
                }
                if (!strv_has(out, name))
                        strv_push(&out, name);
        }
        *ret = out;
        return 0;
}

int spec_caps(const json_t *cap_add, const json_t *cap_drop, bool privileged, char ***ret_caps,
              struct berth_error **err)
{
        _cleanup_strv_ char **add = NULL, **drop = NULL;
        if (cap_normalize(cap_add, "CapAdd", &add, err) < 0 ||
            cap_normalize(cap_drop, "CapDrop", &drop, err) < 0)
                return -EINVAL;
        char **caps = xcalloc(1, sizeof(char *));
        if (privileged) {
                strv_free(caps);
                caps = spec_caps_all();
        } else if (strv_has(add, "ALL")) {
                for (size_t i = 0; i < cap_count(); i++)
                        if (cap_available(i) && !strv_has(drop, berth_capability_name((int)i)))
                                strv_push(&caps, berth_capability_name((int)i));
        } else if (strv_has(drop, "ALL")) {
                for (size_t i = 0; add[i]; i++)
                        strv_push(&caps, add[i]);
        } else {
                for (size_t i = 0; default_caps[i]; i++)
                        if (!strv_has(drop, default_caps[i]))
                                strv_push(&caps, default_caps[i]);
                for (size_t i = 0; add[i]; i++)
                        if (!strv_has(caps, add[i]))
                                strv_push(&caps, add[i]);
        }
        *ret_caps = caps;
        return 0;
}

/* ---------------------------------------------------------------- SecurityOpt */

void spec_secopts_release(struct spec_secopts *s)
{
        free(s->seccomp_profile);
        s->seccomp_profile = NULL;
}

static int parse_bool(const char *v, bool *ret)
{
        static const char *const t[] = {"1", "t", "T", "true", "TRUE", "True"};
        static const char *const f[] = {"0", "f", "F", "false", "FALSE", "False"};
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                if (!strcmp(v, t[i])) {
                        *ret = true;
                        return 0;
                }
                if (!strcmp(v, f[i])) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

int spec_secopts_parse(const json_t *security_opt, struct spec_secopts *ret,
                       struct berth_error **err)
{
        *ret = (struct spec_secopts){0};
        if (!security_opt || json_is_null(security_opt))
                return 0;
        if (!json_is_array(security_opt))
                return berth_error_setx(err, EINVAL,
                                        "invalid value for `SecurityOpt`: expected an array of "
                                        "strings");
        size_t i;
        json_t *e;
        json_array_foreach(security_opt, i, e)
        {
                if (!json_is_string(e)) {
                        spec_secopts_release(ret);
                        return berth_error_setx(err, EINVAL,
                                                "invalid value for `SecurityOpt`: expected an "
                                                "array of strings");
                }
                const char *opt = json_string_value(e);
                if (!strcmp(opt, "no-new-privileges")) {
                        ret->no_new_privileges = true;
                        continue;
                }
                if (!strcmp(opt, "disable")) /* label=disable without SELinux */
                        continue;
                /* "key=value", or the deprecated "key:value" */
                const char *sep = strchr(opt, '=');
                const char *colon = strchr(opt, ':');
                if (!sep || (colon && colon < sep))
                        sep = colon;
                if (!sep) {
                        spec_secopts_release(ret);
                        return berth_error_setx(err, EINVAL, "invalid --security-opt 1: \"%s\"",
                                                opt);
                }
                _cleanup_free_ char *key = xstrndup(opt, (size_t)(sep - opt));
                const char *val = sep + 1;
                if (!strcmp(key, "no-new-privileges")) {
                        if (parse_bool(val, &ret->no_new_privileges) < 0) {
                                spec_secopts_release(ret);
                                return berth_error_setx(err, EINVAL,
                                                        "invalid --security-opt 2: \"%s\"", opt);
                        }
                } else if (!strcmp(key, "seccomp")) {
                        free(ret->seccomp_profile);
                        ret->seccomp_profile = NULL;
                        ret->seccomp_unconfined = !strcmp(val, "unconfined");
                        if (!ret->seccomp_unconfined && strcmp(val, "builtin"))
                                ret->seccomp_profile = xstrdup(val);
                } else if (!strcmp(key, "systempaths")) {
                        if (strcmp(val, "unconfined")) {
                                spec_secopts_release(ret);
                                return berth_error_setx(err, EINVAL,
                                                        "invalid --security-opt 2: \"%s\"", opt);
                        }
                        ret->systempaths_unconfined = true;
                } else if (!strcmp(key, "apparmor") || !strcmp(key, "label")) {
                        /* no LSM on this engine: accepted and ignored, like docker without one */
                } else {
                        spec_secopts_release(ret);
                        return berth_error_setx(err, EINVAL, "invalid --security-opt 2: \"%s\"",
                                                opt);
                }
        }
        return 0;
}

/* ---------------------------------------------------------------- seccomp */

#if defined(__x86_64__)
#define NATIVE_GOARCH "amd64"
#define NATIVE_SCMP   "SCMP_ARCH_X86_64"
#elif defined(__aarch64__)
#define NATIVE_GOARCH "arm64"
#define NATIVE_SCMP   "SCMP_ARCH_AARCH64"
#else
#define NATIVE_GOARCH "unknown"
#define NATIVE_SCMP   "SCMP_ARCH_NATIVE"
#endif

static int kernel_version(void)
{
        static int cached = -1;
        int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
        if (v >= 0)
                return v;
        struct utsname u;
        int maj = 0, min = 0;
        if (uname(&u) == 0)
                (void)sscanf(u.release, "%d.%d", &maj, &min);
        v = maj * 1000 + min;
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
        return v;
}

static bool json_strs_has(const json_t *a, const char *s)
{
        size_t i;
        json_t *e;
        json_array_foreach(a, i, e)
        {
                if (json_is_string(e) && !strcmp(json_string_value(e), s))
                        return true;
        }
        return false;
}

static int sc_bad(struct berth_error **err, const char *what)
{
        return berth_error_setx(err, EINVAL, "invalid seccomp profile: %s", what);
}

/* Does the rule apply to a container holding caps on this machine? (moby's profiles/seccomp) */
static int rule_applies(const json_t *r, char *const *caps, bool *ret, struct berth_error **err)
{
        const json_t *inc = json_object_get(r, "includes");
        const json_t *exc = json_object_get(r, "excludes");
        if ((inc && !json_is_object(inc)) || (exc && !json_is_object(exc)))
                return sc_bad(err, "includes/excludes must be objects");
        *ret = false;
        json_t *a = json_object_get(inc, "caps");
        size_t i;
        json_t *e;
        json_array_foreach(a, i, e)
        {
                if (!json_is_string(e) || !strv_has(caps, json_string_value(e)))
                        return 0;
        }
        a = json_object_get(inc, "arches");
        if (json_array_size(a) && !json_strs_has(a, NATIVE_GOARCH))
                return 0;
        json_t *mk = json_object_get(inc, "minKernel");
        if (json_is_string(mk) && *json_string_value(mk)) {
                int maj = 0, min = 0;
                if (sscanf(json_string_value(mk), "%d.%d", &maj, &min) < 1)
                        return sc_bad(err, "bad minKernel");
                if (kernel_version() < maj * 1000 + min)
                        return 0;
        }
        json_array_foreach(json_object_get(exc, "caps"), i, e)
        {
                if (json_is_string(e) && strv_has(caps, json_string_value(e)))
                        return 0;
        }
        if (json_strs_has(json_object_get(exc, "arches"), NATIVE_GOARCH))
                return 0;
        *ret = true;
        return 0;
}

int spec_seccomp_from_profile(const json_t *p, char *const *caps, json_t **ret,
                              struct berth_error **err)
{
        if (!json_is_object(p))
                return sc_bad(err, "expected a JSON object");
        json_t *dflt = json_object_get(p, "defaultAction");
        if (!json_is_string(dflt) || !*json_string_value(dflt))
                return sc_bad(err, "defaultAction is required");
        _cleanup_json_ json_t *out = json_pack("{s:O}", "defaultAction", dflt);
        static const char *const copy[] = {"defaultErrnoRet", "listenerPath", "listenerMetadata",
                                           "flags"};
        for (size_t i = 0; i < ARRAY_SIZE(copy); i++) {
                json_t *v = json_object_get(p, copy[i]);
                if (v && !json_is_null(v))
                        json_object_set(out, copy[i], v);
        }

        json_t *arches = json_object_get(p, "architectures");
        json_t *archmap = json_object_get(p, "archMap");
        if (json_array_size(arches) && json_array_size(archmap))
                return sc_bad(err, "use either 'architectures' or 'archMap'");
        json_t *oarch = json_array();
        json_object_set_new(out, "architectures", oarch);
        size_t i;
        json_t *e;
        json_array_foreach(arches, i, e)
        {
                if (!json_is_string(e))
                        return sc_bad(err, "architectures must be strings");
                json_array_append(oarch, e);
        }
        json_array_foreach(archmap, i, e)
        {
                json_t *a = json_object_get(e, "architecture");
                if (!json_is_string(a))
                        return sc_bad(err, "archMap entries need an architecture");
                if (strcmp(json_string_value(a), NATIVE_SCMP))
                        continue;
                json_array_append(oarch, a);
                size_t j;
                json_t *s;
                json_array_foreach(json_object_get(e, "subArchitectures"), j, s)
                {
                        if (!json_is_string(s))
                                return sc_bad(err, "subArchitectures must be strings");
                        json_array_append(oarch, s);
                }
        }
        if (json_array_size(oarch) == 0)
                json_object_del(out, "architectures");

        json_t *sys = json_object_get(p, "syscalls");
        if (sys && !json_is_null(sys) && !json_is_array(sys))
                return sc_bad(err, "syscalls must be an array");
        json_t *osys = json_array();
        json_object_set_new(out, "syscalls", osys);
        json_array_foreach(sys, i, e)
        {
                if (!json_is_object(e))
                        return sc_bad(err, "syscalls must be objects");
                json_t *name = json_object_get(e, "name");
                json_t *names = json_object_get(e, "names");
                if (name && !json_is_null(name) && json_array_size(names))
                        return sc_bad(err, "'name' and 'names' were specified in the seccomp "
                                           "profile, use either 'name' or 'names'");
                if (!json_is_string(json_object_get(e, "action")))
                        return sc_bad(err, "syscall rule without an action");
                bool applies;
                if (rule_applies(e, caps, &applies, err) < 0)
                        return -EINVAL;
                if (!applies)
                        continue;
                json_t *r = json_object();
                json_array_append_new(osys, r);
                if (json_is_string(name)) {
                        json_object_set_new(r, "names", json_pack("[O]", name));
                } else if (json_is_array(names) && json_array_size(names)) {
                        size_t j;
                        json_t *n;
                        json_array_foreach(names, j, n)
                        {
                                if (!json_is_string(n))
                                        return sc_bad(err, "names must be strings");
                        }
                        json_object_set(r, "names", names);
                } else {
                        return sc_bad(err, "syscall rule without names");
                }
                static const char *const keep[] = {"action", "errnoRet", "args"};
                for (size_t k = 0; k < ARRAY_SIZE(keep); k++) {
                        json_t *v = json_object_get(e, keep[k]);
                        if (v && !json_is_null(v))
                                json_object_set(r, keep[k], v);
                }
        }
        *ret = TAKE_PTR(out);
        return 0;
}

/* The default profile is parsed once (again when the file changes) and its filtered form cached
 * per capability set: loading and filtering cost ~0.5 ms, about as much as the whole rest of the
 * spec, and `run` is on the fast path. Cached objects are never modified after they are built;
 * specs share them by reference (jansson's reference counts are atomic). */
#define SC_CACHE_SLOTS 8

static struct {
        pthread_mutex_t lock;
        char *path;
        struct stat st;
        json_t *profile;
        struct {
                uint64_t caps;
                json_t *oci;
        } slot[SC_CACHE_SLOTS];
        size_t n_slots, next;
} sc_cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

static uint64_t caps_mask(char *const *caps)
{
        uint64_t m = 0;
        for (size_t i = 0; caps && caps[i]; i++)
                for (size_t c = 0; c < (size_t)berth_capability_last() + 1; c++)
                        if (!strcmp(caps[i], berth_capability_name((int)c)))
                                m |= UINT64_C(1) << c;
        return m;
}

static void sc_cache_reset(void)
{
        json_decref(sc_cache.profile);
        sc_cache.profile = NULL;
        for (size_t i = 0; i < sc_cache.n_slots; i++)
                json_decref(sc_cache.slot[i].oci);
        sc_cache.n_slots = sc_cache.next = 0;
        free(sc_cache.path);
        sc_cache.path = NULL;
}

/* A broken default profile is the daemon's fault, not the client's: EIO (a 500), whatever the
 * cause's errno (ENOENT would read as "no such container"). */
static int server_error(struct berth_error **err)
{
        if (err && *err)
                (*err)->code = EIO;
        return berth_error_wrap(err, "default seccomp profile");
}

static int seccomp_default(const char *path, char *const *caps, json_t **ret,
                           struct berth_error **err)
{
        struct stat st;
        if (stat(path, &st) < 0)
                return berth_error_set(err, EIO, "default seccomp profile `%s`: %s", path,
                                       strerror(errno));
        uint64_t mask = caps_mask(caps);
        pthread_mutex_lock(&sc_cache.lock);
        if (!sc_cache.path || strcmp(sc_cache.path, path) || sc_cache.st.st_ino != st.st_ino ||
            sc_cache.st.st_dev != st.st_dev || sc_cache.st.st_size != st.st_size ||
            sc_cache.st.st_mtim.tv_sec != st.st_mtim.tv_sec ||
            sc_cache.st.st_mtim.tv_nsec != st.st_mtim.tv_nsec) {
                sc_cache_reset();
                json_t *profile = berth_json_load_at(AT_FDCWD, path, 0, err);
                if (!profile) {
                        pthread_mutex_unlock(&sc_cache.lock);
                        return server_error(err);
                }
                sc_cache.profile = profile;
                sc_cache.path = xstrdup(path);
                sc_cache.st = st;
        }
        for (size_t i = 0; i < sc_cache.n_slots; i++) {
                if (sc_cache.slot[i].caps == mask) {
                        *ret = json_incref(sc_cache.slot[i].oci);
                        pthread_mutex_unlock(&sc_cache.lock);
                        return 0;
                }
        }
        json_t *oci = NULL;
        if (spec_seccomp_from_profile(sc_cache.profile, caps, &oci, err) < 0) {
                pthread_mutex_unlock(&sc_cache.lock);
                return server_error(err);
        }
        size_t at;
        if (sc_cache.n_slots < SC_CACHE_SLOTS) {
                at = sc_cache.n_slots++;
        } else {
                at = sc_cache.next;
                sc_cache.next = (at + 1) % SC_CACHE_SLOTS;
                json_decref(sc_cache.slot[at].oci);
        }
        sc_cache.slot[at].caps = mask;
        sc_cache.slot[at].oci = json_incref(oci);
        pthread_mutex_unlock(&sc_cache.lock);
        *ret = oci;
        return 0;
}

static int seccomp_apply(const struct spec_ctx *ctx, char *const *caps,
                         const struct spec_secopts *so, json_t *lx, struct berth_error **err)
{
        json_t *sc = NULL;
        if (so->seccomp_profile) {
                json_error_t je;
                _cleanup_json_ json_t *profile =
                    json_loads(so->seccomp_profile, JSON_REJECT_DUPLICATES, &je);
                if (!profile)
                        return berth_error_setx(err, EINVAL,
                                                "decoding seccomp profile failed: %s (line %d, "
                                                "column %d)",
                                                je.text, je.line, je.column);
                if (spec_seccomp_from_profile(profile, caps, &sc, err) < 0)
                        return -EINVAL;
        } else {
                if (!ctx->seccomp_default_path) {
                        berth_warn("no default seccomp profile configured: containers run "
                                   "without seccomp");
                        return 0;
                }
                if (!*ctx->seccomp_default_path) /* daemon_spec_validate() */
                        return 0;
                if (seccomp_default(ctx->seccomp_default_path, caps, &sc, err) < 0)
                        return -berth_error_code(*err);
        }
        json_object_set_new(lx, "seccomp", sc);
        return 0;
}

/* ---------------------------------------------------------------- paths */

/* HostConfig.MaskedPaths / ReadonlyPaths replace docker's defaults when given (API ≥ 1.30). */
static int paths_override(const json_t *hc, const char *key, json_t *lx, const char *oci,
                          struct berth_error **err)
{
        json_t *v = json_object_get(hc, key);
        if (!v || json_is_null(v))
                return 0;
        _cleanup_strv_ char **list = NULL;
        if (!json_is_array(v) || sj_strv(hc, key, &list, err) < 0)
                return berth_error_setx(
                    err, EINVAL, "invalid value for `%s`: expected an array of strings", key);
        json_t *a = json_array();
        for (size_t i = 0; list[i]; i++) {
                if (list[i][0] != '/') {
                        json_decref(a);
                        return berth_error_setx(err, EINVAL, "%s: `%s` is not an absolute path",
                                                key, list[i]);
                }
                json_array_append_new(a, json_string(list[i]));
        }
        json_object_set_new(lx, oci, a);
        return 0;
}

/* The per-CPU thermal_throttle directories docker masks too; looked up once per process (a
 * glob over sysfs costs ~0.25 ms). */
static pthread_once_t thermal_once = PTHREAD_ONCE_INIT;
static char **thermal_dirs;

static void thermal_init(void)
{
        glob_t g = {0};
        char **v = xcalloc(1, sizeof(char *));
        if (glob("/sys/devices/system/cpu/cpu*/thermal_throttle", GLOB_ONLYDIR, NULL, &g) == 0)
                for (size_t i = 0; i < g.gl_pathc; i++)
                        strv_push(&v, g.gl_pathv[i]);
        globfree(&g);
        thermal_dirs = v;
}

json_t *daemon_spec_default_masked_paths(void)
{
        static const char *const masked[] = {
            "/proc/asound",     "/proc/acpi",        "/proc/interrupts",
            "/proc/kcore",      "/proc/keys",        "/proc/latency_stats",
            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
            "/proc/scsi",       "/sys/firmware",     "/sys/devices/virtual/powercap",
        };
        json_t *m = json_array();
        for (size_t i = 0; i < ARRAY_SIZE(masked); i++)
                json_array_append_new(m, json_string(masked[i]));
        pthread_once(&thermal_once, thermal_init);
        for (size_t i = 0; thermal_dirs && thermal_dirs[i]; i++)
                json_array_append_new(m, json_string(thermal_dirs[i]));
        return m;
}

json_t *daemon_spec_default_readonly_paths(void)
{
        static const char *const ro[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                         "/proc/sysrq-trigger"};
        json_t *r = json_array();
        for (size_t i = 0; i < ARRAY_SIZE(ro); i++)
                json_array_append_new(r, json_string(ro[i]));
        return r;
}

static int paths_apply(const json_t *hc, json_t *lx, struct berth_error **err)
{
        json_object_set_new(lx, "maskedPaths", daemon_spec_default_masked_paths());
        json_object_set_new(lx, "readonlyPaths", daemon_spec_default_readonly_paths());
        if (paths_override(hc, "MaskedPaths", lx, "maskedPaths", err) < 0 ||
            paths_override(hc, "ReadonlyPaths", lx, "readonlyPaths", err) < 0)
                return -EINVAL;
        return 0;
}

/* ---------------------------------------------------------------- devices */

static json_t *rule(bool allow, const char *type, int64_t maj, int64_t min, const char *access)
{
        json_t *r = json_pack("{s:b, s:s}", "allow", allow, "access", access);
        if (type)
                json_object_set_new(r, "type", json_string(type));
        if (maj >= 0)
                json_object_set_new(r, "major", json_integer(maj));
        if (min >= 0)
                json_object_set_new(r, "minor", json_integer(min));
        return r;
}

static json_t *device_json(const char *path, const struct stat *st, bool host_owner)
{
        return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "path", path, "type",
                         S_ISBLK(st->st_mode) ? "b" : "c", "major", (json_int_t)major(st->st_rdev),
                         "minor", (json_int_t)minor(st->st_rdev), "fileMode",
                         (json_int_t)(st->st_mode & 07777), "uid",
                         (json_int_t)(host_owner ? st->st_uid : 0), "gid",
                         (json_int_t)(host_owner ? st->st_gid : 0));
}

/* Every char/block node under the directory dfd (recursively, never following a symlink), named
 * as under dst; at the top of the host's /dev it skips what the runtime sets up itself (pts, shm,
 * mqueue, console, ptmx). Visits at most *budget entries: -E2BIG beyond (a client naming a huge
 * tree must not stall the daemon). Takes dfd. */
static int walk_devices(int dfd, const char *dst, json_t *devs, bool top, int depth, size_t *budget)
{
        _cleanup_dir_ DIR *d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                return 0;
        }
        if (depth > 16)
                return -E2BIG;
        struct dirent *de;
        while ((de = readdir(d))) {
                const char *n = de->d_name;
                if (!strcmp(n, ".") || !strcmp(n, ".."))
                        continue;
                if (*budget == 0)
                        return -E2BIG;
                (*budget)--;
                if (top &&
                    (!strcmp(n, "pts") || !strcmp(n, "shm") || !strcmp(n, "fd") ||
                     !strcmp(n, "mqueue") || !strcmp(n, ".lxc") || !strcmp(n, ".lxd-mounts") ||
                     !strcmp(n, ".udev") || !strcmp(n, "console") || !strcmp(n, "ptmx")))
                        continue;
                struct stat st;
                if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                _cleanup_free_ char *to = xasprintf("%s/%s", dst, n);
                if (S_ISDIR(st.st_mode)) {
                        int sub =
                            openat(dirfd(d), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub >= 0 && walk_devices(sub, to, devs, false, depth + 1, budget) < 0)
                                return -E2BIG;
                } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
                        json_array_append_new(devs, device_json(to, &st, true));
                }
        }
        return 0;
}

static bool valid_perms(const char *p)
{
        if (!*p || strlen(p) > 3)
                return false;
        for (const char *c = p; *c; c++)
                if ((*c != 'r' && *c != 'w' && *c != 'm') || strchr(c + 1, *c))
                        return false;
        return true;
}

/* errno as Go's syscall errors word it (docker's messages): strerror, lowercase */
static const char *go_errno_text(int e, char *buf, size_t n)
{
        snprintf(buf, n, "%s", strerror(e));
        buf[0] = (char)tolower((unsigned char)buf[0]);
        return buf;
}

static int add_device(const json_t *d, bool validate_only, json_t *devs, json_t *rules,
                      struct berth_error **err)
{
        const char *host, *ctr, *perms;
        if (!json_is_object(d))
                return berth_error_setx(err, EINVAL,
                                        "invalid value for `Devices`: expected an array of "
                                        "objects");
        if (sj_str(d, "PathOnHost", &host, err) < 0 ||
            sj_str(d, "PathInContainer", &ctr, err) < 0 ||
            sj_str(d, "CgroupPermissions", &perms, err) < 0)
                return -EINVAL;
        if (!host || !*host)
                return berth_error_setx(err, EINVAL, "device PathOnHost must not be empty");
        if (!ctr || !*ctr)
                ctr = host;
        if (!perms || !*perms)
                perms = "rwm";
        if (ctr[0] != '/')
                return berth_error_setx(err, EINVAL, "%s is not an absolute path", ctr);
        if (!valid_perms(perms))
                return berth_error_setx(err, EINVAL, "invalid device cgroup permissions: %s",
                                        perms);
        /* docker creates the container and fails its start when the host has no such device */
        if (validate_only)
                return 0;
        struct stat st;
        char why[128];
        if (stat(host, &st) < 0)
                return berth_error_setx(err, EINVAL,
                                        "error gathering device information while adding custom "
                                        "device \"%s\": %s",
                                        host, go_errno_text(errno, why, sizeof(why)));
        if (S_ISDIR(st.st_mode)) {
                /* a directory of devices (e.g. /dev/snd): only below the host's /dev */
                _cleanup_free_ char *real = realpath(host, NULL);
                if (!real || strncmp(real, "/dev/", 5))
                        return berth_error_setx(err, EINVAL,
                                                "error gathering device information while adding "
                                                "custom device \"%s\": not a device node",
                                                host);
                int dfd = open(real, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (dfd < 0)
                        return berth_error_setx(err, EINVAL,
                                                "error gathering device information while adding "
                                                "custom device \"%s\": %s",
                                                host, go_errno_text(errno, why, sizeof(why)));
                size_t before = json_array_size(devs), budget = 4096;
                if (walk_devices(dfd, ctr, devs, false, 0, &budget) < 0)
                        return berth_error_setx(err, EINVAL,
                                                "custom device \"%s\": too many entries", host);
                for (size_t i = before; i < json_array_size(devs); i++) {
                        json_t *e = json_array_get(devs, i);
                        json_array_append_new(
                            rules, rule(true, json_string_value(json_object_get(e, "type")),
                                        json_integer_value(json_object_get(e, "major")),
                                        json_integer_value(json_object_get(e, "minor")), perms));
                }
                return 0;
        }
        if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
                return berth_error_setx(err, EINVAL,
                                        "error gathering device information while adding custom "
                                        "device \"%s\": not a device node",
                                        host);
        json_array_append_new(devs, device_json(ctr, &st, false));
        json_array_append_new(rules, rule(true, S_ISBLK(st.st_mode) ? "b" : "c", major(st.st_rdev),
                                          minor(st.st_rdev), perms));
        return 0;
}

/* DeviceCgroupRules: "c 1:3 rwm", "b *:* m". */
static int add_cgroup_rule(const char *s, json_t *rules, struct berth_error **err)
{
        char type, majs[16], mins[16], acc[8];
        char extra;
        if (sscanf(s, "%c %15[0-9*]:%15[0-9*] %7s %c", &type, majs, mins, acc, &extra) != 4 ||
            (type != 'a' && type != 'b' && type != 'c') || !valid_perms(acc))
                return berth_error_setx(err, EINVAL, "invalid device cgroup rule format: '%s'", s);
        int64_t maj = -1, min = -1;
        uint64_t v;
        if (strcmp(majs, "*")) {
                if (berth_parse_u64(majs, &v) < 0 || v > 0xfffffff)
                        return berth_error_setx(err, EINVAL,
                                                "invalid device cgroup rule format: '%s'", s);
                maj = (int64_t)v;
        }
        if (strcmp(mins, "*")) {
                if (berth_parse_u64(mins, &v) < 0 || v > 0xfffffff)
                        return berth_error_setx(err, EINVAL,
                                                "invalid device cgroup rule format: '%s'", s);
                min = (int64_t)v;
        }
        char t[2] = {type, 0};
        json_array_append_new(rules, rule(true, t, maj, min, acc));
        return 0;
}

static int devices_apply(const json_t *hc, bool privileged, bool validate_only, json_t *lx,
                         json_t *res, struct berth_error **err)
{
        json_t *devs = json_array();
        json_object_set_new(lx, "devices", devs);
        json_t *rules = json_array();
        json_object_set_new(res, "devices", rules);
        if (privileged) {
                size_t budget = 65536;
                int dfd = open("/dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd >= 0 && walk_devices(dfd, "/dev", devs, true, 0, &budget) < 0)
                        berth_warn("privileged: more than %d entries under /dev, the rest is left "
                                   "out",
                                   65536);
                json_array_append_new(rules, rule(true, NULL, -1, -1, "rwm"));
                return 0;
        }
        /* moby's oci.DefaultLinuxSpec: deny all, then the standard nodes (the runtime adds
         * runc's own defaults: mknod of any, pts, ptmx, tun) */
        json_array_append_new(rules, rule(false, NULL, -1, -1, "rwm"));
        json_array_append_new(rules, rule(true, "c", 1, 5, "rwm"));
        json_array_append_new(rules, rule(true, "c", 1, 3, "rwm"));
        json_array_append_new(rules, rule(true, "c", 1, 9, "rwm"));
        json_array_append_new(rules, rule(true, "c", 1, 8, "rwm"));
        json_array_append_new(rules, rule(true, "c", 5, 0, "rwm"));
        json_array_append_new(rules, rule(true, "c", 5, 1, "rwm"));
        json_array_append_new(rules, rule(false, "c", 10, 229, "rwm"));

        json_t *list = json_object_get(hc, "Devices");
        if (list && !json_is_null(list) && !json_is_array(list))
                return berth_error_setx(err, EINVAL,
                                        "invalid value for `Devices`: expected an array of "
                                        "objects");
        size_t i;
        json_t *d;
        json_array_foreach(list, i, d)
        {
                if (add_device(d, validate_only, devs, rules, err) < 0)
                        return -berth_error_code(*err);
        }
        _cleanup_strv_ char **crules = NULL;
        if (sj_strv(hc, "DeviceCgroupRules", &crules, err) < 0)
                return -EINVAL;
        for (size_t k = 0; crules && crules[k]; k++)
                if (add_cgroup_rule(crules[k], rules, err) < 0)
                        return -EINVAL;
        return 0;
}

int spec_security_apply(const json_t *hc, const struct spec_ctx *ctx, char *const *caps,
                        bool privileged, const struct spec_secopts *so, json_t *lx,
                        json_t *resources, struct berth_error **err)
{
        if (!privileged && !so->systempaths_unconfined && paths_apply(hc, lx, err) < 0)
                return -EINVAL;
        if (devices_apply(hc, privileged, ctx->validate_only, lx, resources, err) < 0)
                return -berth_error_code(*err);
        /* moby: privileged containers and seccomp=unconfined run without a filter */
        if (so->seccomp_unconfined || privileged)
                return 0;
        return seccomp_apply(ctx, caps, so, lx, err);
}
