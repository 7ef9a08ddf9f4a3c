/* config.json → struct spec. Unknown fields are ignored; wrong types and missing required fields
 * are errors naming the field, so a user sees "config.json: process.args: expected array of
 * strings" instead of a crash later.
 */
#include "runtime/internal.h"

#include <sched.h>
#include <sys/stat.h>
#include <sys/mount.h>
#include <sys/personality.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

struct field {
        const char *path; /* dotted path for messages */
};

static int bad(struct berth_error **err, const char *path, const char *what)
{
        return berth_error_setx(err, EINVAL, "config.json: %s: %s", path, what);
}

/* Child path "parent.key" or "parent[i]" for messages; static buffers are fine: one at a time. */
static char *sub(const char *parent, const char *key)
{
        return parent && *parent ? xasprintf("%s.%s", parent, key) : xstrdup(key);
}

static char *idx(const char *parent, size_t i)
{
        return xasprintf("%s[%zu]", parent, i);
}

static int get_string(json_t *o, const char *key, const char *parent, bool required, char **ret,
                      struct berth_error **err)
{
        json_t *v = json_object_get(o, key);
        if (!v || json_is_null(v)) {
                if (required) {
                        _cleanup_free_ char *p = sub(parent, key);
                        return bad(err, p, "required field missing");
                }
                return 0;
        }
        if (!json_is_string(v)) {
                _cleanup_free_ char *p = sub(parent, key);
                return bad(err, p, "expected string");
        }
        *ret = xstrdup(json_string_value(v));
        return 0;
}

static int get_bool(json_t *o, const char *key, const char *parent, bool *ret,
                    struct berth_error **err)
{
        json_t *v = json_object_get(o, key);
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_boolean(v)) {
                _cleanup_free_ char *p = sub(parent, key);
                return bad(err, p, "expected boolean");
        }
        *ret = json_is_true(v);
        return 0;
}

/* An integer field; absent leaves *ret alone. min/max bound the value. */
static int get_int(json_t *o, const char *key, const char *parent, int64_t min, int64_t max,
                   int64_t *ret, struct berth_error **err)
{
        json_t *v = json_object_get(o, key);
        if (!v || json_is_null(v))
                return 0;
        _cleanup_free_ char *p = sub(parent, key);
        if (json_is_real(v)) {
                double d = json_real_value(v);
                if (d != (double)(int64_t)d)
                        return bad(err, p, "expected integer");
                if (d < (double)min || d > (double)max)
                        return bad(err, p, "out of range");
                *ret = (int64_t)d;
                return 0;
        }
        if (!json_is_integer(v))
                return bad(err, p, "expected integer");
        json_int_t n = json_integer_value(v);
        if (n < min || n > max)
                return bad(err, p, "out of range");
        *ret = n;
        return 0;
}

/* A uint64 that JSON may carry beyond INT64_MAX (rlimits use 2^64-1 for unlimited); jansson
 * parses such numbers as reals, so accept a real that is a whole number.
 */
static int get_u64(json_t *o, const char *key, const char *parent, bool required, uint64_t *ret,
                   struct berth_error **err)
{
        json_t *v = json_object_get(o, key);
        _cleanup_free_ char *p = sub(parent, key);
        if (!v || json_is_null(v))
                return required ? bad(err, p, "required field missing") : 0;
        if (json_is_integer(v)) {
                if (json_integer_value(v) < 0)
                        return bad(err, p, "expected non-negative integer");
                *ret = (uint64_t)json_integer_value(v);
                return 0;
        }
        if (json_is_real(v) && json_real_value(v) >= 0) {
                double d = json_real_value(v);
                *ret = d >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)d;
                return 0;
        }
        return bad(err, p, "expected non-negative integer");
}

static int get_object(json_t *o, const char *key, const char *parent, json_t **ret,
                      struct berth_error **err)
{
        json_t *v = json_object_get(o, key);
        *ret = NULL;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_object(v)) {
                _cleanup_free_ char *p = sub(parent, key);
                return bad(err, p, "expected object");
        }
        *ret = v;
        return 0;
}

static int get_array(json_t *o, const char *key, const char *parent, json_t **ret,
                     struct berth_error **err)
{
        json_t *v = json_object_get(o, key);
        *ret = NULL;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_array(v)) {
                _cleanup_free_ char *p = sub(parent, key);
                return bad(err, p, "expected array");
        }
        *ret = v;
        return 0;
}

static int get_strv(json_t *o, const char *key, const char *parent, char ***ret,
                    struct berth_error **err)
{
        json_t *v = json_object_get(o, key);
        if (!v || json_is_null(v))
                return 0;
        _cleanup_free_ char *p = sub(parent, key);
        if (!json_is_array(v))
                return bad(err, p, "expected array of strings");
        _cleanup_strv_ char **out = xcalloc(json_array_size(v) + 1, sizeof(char *));
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
                if (!json_is_string(e))
                        return bad(err, p, "expected array of strings");
                out[i] = xstrdup(json_string_value(e));
        }
        strv_free(*ret);
        *ret = TAKE_PTR(out);
        return 0;
}

/* ---------------------------------------------------------------- tables */

static const struct {
        const char *name;
        int type;
} ns_names[] = {
    {"pid", CLONE_NEWPID},       {"network", CLONE_NEWNET}, {"mount", CLONE_NEWNS},
    {"ipc", CLONE_NEWIPC},       {"uts", CLONE_NEWUTS},     {"user", CLONE_NEWUSER},
    {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
};

static const char *const rlimit_names[] = {
    [RLIMIT_CPU] = "RLIMIT_CPU",           [RLIMIT_FSIZE] = "RLIMIT_FSIZE",
    [RLIMIT_DATA] = "RLIMIT_DATA",         [RLIMIT_STACK] = "RLIMIT_STACK",
    [RLIMIT_CORE] = "RLIMIT_CORE",         [RLIMIT_RSS] = "RLIMIT_RSS",
    [RLIMIT_NPROC] = "RLIMIT_NPROC",       [RLIMIT_NOFILE] = "RLIMIT_NOFILE",
    [RLIMIT_MEMLOCK] = "RLIMIT_MEMLOCK",   [RLIMIT_AS] = "RLIMIT_AS",
    [RLIMIT_LOCKS] = "RLIMIT_LOCKS",       [RLIMIT_SIGPENDING] = "RLIMIT_SIGPENDING",
    [RLIMIT_MSGQUEUE] = "RLIMIT_MSGQUEUE", [RLIMIT_NICE] = "RLIMIT_NICE",
    [RLIMIT_RTPRIO] = "RLIMIT_RTPRIO",     [RLIMIT_RTTIME] = "RLIMIT_RTTIME",
};

static const char *const cap_names[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

int spec_cap_from_name(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(cap_names); i++)
                if (!strcasecmp(name, cap_names[i]) || !strcasecmp(name, cap_names[i] + 4))
                        return (int)i;
        return -EINVAL;
}

const char *spec_cap_name(int cap)
{
        return cap >= 0 && (size_t)cap < ARRAY_SIZE(cap_names) ? cap_names[cap] : NULL;
}

int spec_cap_last(void)
{
        return (int)ARRAY_SIZE(cap_names) - 1;
}

const char *berth_capability_name(int cap)
{
        return spec_cap_name(cap);
}

int berth_capability_last(void)
{
        return spec_cap_last();
}

static const struct {
        const char *name;
        int sig;
} sig_names[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},
    {"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

int spec_parse_signal(const char *s)
{
        uint64_t n;
        if (!s || !*s)
                return -EINVAL;
        if (berth_parse_u64(s, &n) == 0)
                return n >= 1 && n <= (uint64_t)SIGRTMAX ? (int)n : -EINVAL;
        if (!strncasecmp(s, "SIG", 3))
                s += 3;
        for (size_t i = 0; i < ARRAY_SIZE(sig_names); i++)
                if (!strcasecmp(s, sig_names[i].name))
                        return sig_names[i].sig;
        if (!strncasecmp(s, "RTMIN", 5) || !strncasecmp(s, "RTMAX", 5)) {
                int base = !strncasecmp(s, "RTMIN", 5) ? SIGRTMIN : SIGRTMAX;
                const char *rest = s + 5;
                if (!*rest)
                        return base;
                long off = strtol(rest, NULL, 10);
                int sig = base + (int)off;
                return sig >= SIGRTMIN && sig <= SIGRTMAX ? sig : -EINVAL;
        }
        return -EINVAL;
}

int berth_signal_parse(const char *s)
{
        return spec_parse_signal(s);
}

/* ---------------------------------------------------------------- mounts */

static const struct {
        const char *name;
        unsigned long set;
        unsigned long propagation;
} mount_opts[] = {
    {"ro", MS_RDONLY, 0},
    {"rw", 0, 0},
    {"nosuid", MS_NOSUID, 0},
    {"suid", 0, 0},
    {"nodev", MS_NODEV, 0},
    {"dev", 0, 0},
    {"noexec", MS_NOEXEC, 0},
    {"exec", 0, 0},
    {"sync", MS_SYNCHRONOUS, 0},
    {"async", 0, 0},
    {"dirsync", MS_DIRSYNC, 0},
    {"remount", MS_REMOUNT, 0},
    {"mand", MS_MANDLOCK, 0},
    {"nomand", 0, 0},
    {"atime", 0, 0},
    {"noatime", MS_NOATIME, 0},
    {"diratime", 0, 0},
    {"nodiratime", MS_NODIRATIME, 0},
    {"relatime", MS_RELATIME, 0},
    {"norelatime", 0, 0},
    {"strictatime", MS_STRICTATIME, 0},
    {"nostrictatime", 0, 0},
    {"lazytime", MS_LAZYTIME, 0},
    {"nolazytime", 0, 0},
    {"nosymfollow", MS_NOSYMFOLLOW, 0},
    {"symfollow", 0, 0},
    {"private", 0, MS_PRIVATE},
    {"rprivate", 0, MS_PRIVATE | MS_REC},
    {"shared", 0, MS_SHARED},
    {"rshared", 0, MS_SHARED | MS_REC},
    {"slave", 0, MS_SLAVE},
    {"rslave", 0, MS_SLAVE | MS_REC},
    {"unbindable", 0, MS_UNBINDABLE},
    {"runbindable", 0, MS_UNBINDABLE | MS_REC},
    {"tmpcopyup", 0, 0},
    {"rbind", 0, 0},
    {"bind", 0, 0},
    {"rro", 0, 0},
    {"rrw", 0, 0},
};

static int parse_mount(json_t *m, const char *path, struct spec_mount *out,
                       struct berth_error **err)
{
        if (!json_is_object(m))
                return bad(err, path, "expected object");
        if (get_string(m, "destination", path, true, &out->destination, err) < 0 ||
            get_string(m, "type", path, false, &out->type, err) < 0 ||
            get_string(m, "source", path, false, &out->source, err) < 0)
                return -EINVAL;
        if (out->destination[0] != '/') {
                _cleanup_free_ char *p = sub(path, "destination");
                return bad(err, p, "must be an absolute path");
        }
        _cleanup_strv_ char **opts = NULL;
        if (get_strv(m, "options", path, &opts, err) < 0)
                return -EINVAL;
        _cleanup_free_ char *data = NULL;
        for (size_t i = 0; opts && opts[i]; i++) {
                const char *o = opts[i];
                bool known = false;
                for (size_t k = 0; k < ARRAY_SIZE(mount_opts); k++) {
                        if (strcmp(o, mount_opts[k].name))
                                continue;
                        known = true;
                        out->flags |= mount_opts[k].set;
                        if (mount_opts[k].propagation)
                                out->propagation = mount_opts[k].propagation;
                        break;
                }
                if (!strcmp(o, "bind") || !strcmp(o, "rbind")) {
                        out->bind = true;
                        out->recursive = o[0] == 'r';
                } else if (!strcmp(o, "rro")) {
                        out->rro = true;
                } else if (!strcmp(o, "idmap") || !strcmp(o, "ridmap")) {
                        _cleanup_free_ char *p = sub(path, "options");
                        return bad(err, p, "idmapped mounts are not supported");
                }
                if (known)
                        continue;
                char *nd = data ? xasprintf("%s,%s", data, o) : xstrdup(o);
                free(data);
                data = nd;
        }
        if (out->type && !strcmp(out->type, "bind"))
                out->bind = true;
        if (!out->bind && !out->type) {
                _cleanup_free_ char *p = sub(path, "type");
                return bad(err, p, "required for a mount that is not a bind mount");
        }
        if (out->bind && !out->source) {
                _cleanup_free_ char *p = sub(path, "source");
                return bad(err, p, "required for a bind mount");
        }
        out->data = TAKE_PTR(data);
        return 0;
}

/* ---------------------------------------------------------------- process */

static int parse_caps(json_t *caps, const char *path, struct spec_process *p,
                      struct berth_error **err)
{
        static const char *const sets[] = {"bounding", "effective", "inheritable", "permitted",
                                           "ambient"};
        p->has_caps = true;
        for (size_t s = 0; s < ARRAY_SIZE(sets); s++) {
                _cleanup_strv_ char **names = NULL;
                if (get_strv(caps, sets[s], path, &names, err) < 0)
                        return -EINVAL;
                for (size_t i = 0; names && names[i]; i++) {
                        int c = spec_cap_from_name(names[i]);
                        if (c < 0) {
                                /* runc warns and ignores capabilities this kernel lacks */
                                berth_warn("config.json: %s.%s: unknown capability `%s` ignored",
                                           path, sets[s], names[i]);
                                continue;
                        }
                        p->caps[s] |= UINT64_C(1) << c;
                }
        }
        return 0;
}

static int parse_rlimits(json_t *arr, struct spec_process *p, struct berth_error **err)
{
        p->rlimits = xcalloc(json_array_size(arr), sizeof(*p->rlimits));
        size_t i;
        json_t *r;
        json_array_foreach(arr, i, r)
        {
                _cleanup_free_ char *path = idx("process.rlimits", i);
                if (!json_is_object(r))
                        return bad(err, path, "expected object");
                _cleanup_free_ char *type = NULL;
                if (get_string(r, "type", path, true, &type, err) < 0)
                        return -EINVAL;
                int res = -1;
                for (size_t k = 0; k < ARRAY_SIZE(rlimit_names); k++)
                        if (rlimit_names[k] && !strcmp(type, rlimit_names[k]))
                                res = (int)k;
                if (res < 0) {
                        _cleanup_free_ char *tp = sub(path, "type");
                        _cleanup_free_ char *m = xasprintf("unknown rlimit `%s`", type);
                        return bad(err, tp, m);
                }
                struct spec_rlimit *rl = &p->rlimits[p->n_rlimits++];
                rl->resource = res;
                if (get_u64(r, "soft", path, true, &rl->soft, err) < 0 ||
                    get_u64(r, "hard", path, true, &rl->hard, err) < 0)
                        return -EINVAL;
                if (rl->soft > rl->hard) {
                        return bad(err, path, "soft limit is above the hard limit");
                }
        }
        return 0;
}

int spec_parse_process(json_t *proc, struct spec_process *p, struct berth_error **err)
{
        const char *P = "process";
        int64_t v;
        if (!json_is_object(proc))
                return bad(err, P, "expected object");
        if (get_bool(proc, "terminal", P, &p->terminal, err) < 0)
                return -EINVAL;
        json_t *o;
        if (get_object(proc, "consoleSize", P, &o, err) < 0)
                return -EINVAL;
        if (o) {
                v = 0;
                if (get_int(o, "height", "process.consoleSize", 0, UINT16_MAX, &v, err) < 0)
                        return -EINVAL;
                p->console_height = (unsigned)v;
                v = 0;
                if (get_int(o, "width", "process.consoleSize", 0, UINT16_MAX, &v, err) < 0)
                        return -EINVAL;
                p->console_width = (unsigned)v;
        }
        if (get_object(proc, "user", P, &o, err) < 0)
                return -EINVAL;
        p->umask = SPEC_UNSET;
        if (o) {
                v = 0;
                if (get_int(o, "uid", "process.user", 0, UINT32_MAX - 1, &v, err) < 0)
                        return -EINVAL;
                p->uid = (uid_t)v;
                v = 0;
                if (get_int(o, "gid", "process.user", 0, UINT32_MAX - 1, &v, err) < 0)
                        return -EINVAL;
                p->gid = (gid_t)v;
                if (get_int(o, "umask", "process.user", 0, 0777, &p->umask, err) < 0)
                        return -EINVAL;
                json_t *g;
                if (get_array(o, "additionalGids", "process.user", &g, err) < 0)
                        return -EINVAL;
                if (g) {
                        p->additional_gids = xcalloc(json_array_size(g), sizeof(gid_t));
                        size_t i;
                        json_t *e;
                        json_array_foreach(g, i, e)
                        {
                                double gv = json_number_value(e);
                                if (!json_is_number(e) || gv < 0 || gv >= UINT32_MAX ||
                                    gv != (double)(uint32_t)gv)
                                        return bad(err, "process.user.additionalGids",
                                                   "expected array of gids");
                                p->additional_gids[p->n_additional_gids++] = (gid_t)gv;
                        }
                }
        }
        if (get_strv(proc, "args", P, &p->args, err) < 0 ||
            get_strv(proc, "env", P, &p->env, err) < 0 ||
            get_string(proc, "cwd", P, true, &p->cwd, err) < 0)
                return -EINVAL;
        if (!p->args || !p->args[0])
                return bad(err, "process.args", "must name the program to run");
        if (p->cwd[0] != '/')
                return bad(err, "process.cwd", "must be an absolute path");
        if (get_object(proc, "capabilities", P, &o, err) < 0)
                return -EINVAL;
        if (o && parse_caps(o, "process.capabilities", p, err) < 0)
                return -EINVAL;
        json_t *a;
        if (get_array(proc, "rlimits", P, &a, err) < 0)
                return -EINVAL;
        if (a && parse_rlimits(a, p, err) < 0)
                return -EINVAL;
        if (get_bool(proc, "noNewPrivileges", P, &p->no_new_privileges, err) < 0)
                return -EINVAL;
        v = SPEC_UNSET;
        if (get_int(proc, "oomScoreAdj", P, -1000, 1000, &v, err) < 0)
                return -EINVAL;
        if (v != SPEC_UNSET) {
                p->has_oom_score_adj = true;
                p->oom_score_adj = (int)v;
        }
        return spec_parse_process_attrs(proc, p, err);
}

/* ---------------------------------------------------------------- linux */

static int parse_idmaps(json_t *arr, const char *path, struct spec_idmap **ret, size_t *ret_n,
                        struct berth_error **err)
{
        struct spec_idmap *m = xcalloc(json_array_size(arr), sizeof(*m));
        *ret = m;
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e)
        {
                _cleanup_free_ char *p = idx(path, i);
                int64_t c = -1, h = -1, s = -1;
                if (!json_is_object(e))
                        return bad(err, p, "expected object");
                if (get_int(e, "containerID", p, 0, UINT32_MAX, &c, err) < 0 ||
                    get_int(e, "hostID", p, 0, UINT32_MAX, &h, err) < 0 ||
                    get_int(e, "size", p, 1, UINT32_MAX, &s, err) < 0)
                        return -EINVAL;
                if (c < 0 || h < 0 || s < 0)
                        return bad(err, p, "containerID, hostID and size are required");
                m[i] = (struct spec_idmap){(uint32_t)c, (uint32_t)h, (uint32_t)s};
                (*ret_n)++;
        }
        return 0;
}

static int parse_devnum(json_t *o, const char *key, const char *path, int64_t *ret,
                        struct berth_error **err)
{
        *ret = -1;
        return get_int(o, key, path, -1, UINT32_MAX, ret, err);
}

static int parse_device_rules(json_t *arr, struct spec_resources *r, struct berth_error **err)
{
        r->device_rules = xcalloc(json_array_size(arr), sizeof(*r->device_rules));
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e)
        {
                _cleanup_free_ char *p = idx("linux.resources.devices", i);
                struct spec_device_rule *d = &r->device_rules[i];
                if (!json_is_object(e))
                        return bad(err, p, "expected object");
                json_t *allow = json_object_get(e, "allow");
                if (!json_is_boolean(allow))
                        return bad(err, p, "allow: required boolean");
                d->allow = json_is_true(allow);
                _cleanup_free_ char *type = NULL, *access = NULL;
                if (get_string(e, "type", p, false, &type, err) < 0 ||
                    get_string(e, "access", p, false, &access, err) < 0)
                        return -EINVAL;
                d->type = type && *type ? type[0] : 'a';
                if (!strchr("acb", d->type) || (type && strlen(type) > 1))
                        return bad(err, p, "type: expected a, b or c");
                if (parse_devnum(e, "major", p, &d->major, err) < 0 ||
                    parse_devnum(e, "minor", p, &d->minor, err) < 0)
                        return -EINVAL;
                const char *acc = access && *access ? access : "rwm";
                if (strlen(acc) > 3 || strspn(acc, "rwm") != strlen(acc))
                        return bad(err, p, "access: expected a subset of rwm");
                strcpy(d->access, acc);
                r->n_device_rules++;
        }
        return 0;
}

static int parse_throttles(json_t *blkio, const char *key, struct spec_throttle **ret,
                           size_t *ret_n, struct berth_error **err)
{
        json_t *arr;
        if (get_array(blkio, key, "linux.resources.blockIO", &arr, err) < 0)
                return -EINVAL;
        if (!arr)
                return 0;
        *ret = xcalloc(json_array_size(arr), sizeof(**ret));
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e)
        {
                _cleanup_free_ char *base = sub("linux.resources.blockIO", key);
                _cleanup_free_ char *p = idx(base, i);
                struct spec_throttle *t = &(*ret)[i];
                int64_t maj = -1, min = -1;
                if (!json_is_object(e))
                        return bad(err, p, "expected object");
                if (get_int(e, "major", p, 0, UINT32_MAX, &maj, err) < 0 ||
                    get_int(e, "minor", p, 0, UINT32_MAX, &min, err) < 0 ||
                    get_u64(e, "rate", p, true, &t->rate, err) < 0)
                        return -EINVAL;
                if (maj < 0 || min < 0)
                        return bad(err, p, "major and minor are required");
                t->major = maj;
                t->minor = min;
                (*ret_n)++;
        }
        return 0;
}

void spec_resources_init(struct spec_resources *r)
{
        *r = (struct spec_resources){
            .mem_limit = SPEC_UNSET,
            .mem_reservation = SPEC_UNSET,
            .mem_swap = SPEC_UNSET,
            .mem_swappiness = SPEC_UNSET,
            .cpu_shares = SPEC_UNSET,
            .cpu_quota = SPEC_UNSET,
            .cpu_period = SPEC_UNSET,
            .cpu_rt_runtime = SPEC_UNSET,
            .cpu_rt_period = SPEC_UNSET,
            .cpu_idle = SPEC_UNSET,
            .pids_limit = SPEC_UNSET,
            .blkio_weight = SPEC_UNSET,
            .blkio_leaf_weight = SPEC_UNSET,
        };
}

int spec_parse_resources(json_t *res, struct spec_resources *r, struct berth_error **err)
{
        const char *P = "linux.resources";
        json_t *o, *a;
        if (get_object(res, "memory", P, &o, err) < 0)
                return -EINVAL;
        if (o) {
                const char *M = "linux.resources.memory";
                if (get_int(o, "limit", M, -1, INT64_MAX, &r->mem_limit, err) < 0 ||
                    get_int(o, "reservation", M, -1, INT64_MAX, &r->mem_reservation, err) < 0 ||
                    get_int(o, "swap", M, -1, INT64_MAX, &r->mem_swap, err) < 0 ||
                    get_int(o, "swappiness", M, 0, 100, &r->mem_swappiness, err) < 0 ||
                    get_bool(o, "disableOOMKiller", M, &r->mem_disable_oom_killer, err) < 0)
                        return -EINVAL;
                if (r->mem_limit == 0)
                        r->mem_limit = SPEC_UNSET;
        }
        if (get_object(res, "cpu", P, &o, err) < 0)
                return -EINVAL;
        if (o) {
                const char *C = "linux.resources.cpu";
                if (get_int(o, "shares", C, 0, 262144, &r->cpu_shares, err) < 0 ||
                    get_int(o, "quota", C, -1, INT64_MAX, &r->cpu_quota, err) < 0 ||
                    get_int(o, "period", C, 0, 1000000, &r->cpu_period, err) < 0 ||
                    get_int(o, "realtimeRuntime", C, -1, INT64_MAX, &r->cpu_rt_runtime, err) < 0 ||
                    get_int(o, "realtimePeriod", C, 0, INT64_MAX, &r->cpu_rt_period, err) < 0 ||
                    get_int(o, "idle", C, 0, 1, &r->cpu_idle, err) < 0 ||
                    get_string(o, "cpus", C, false, &r->cpu_cpus, err) < 0 ||
                    get_string(o, "mems", C, false, &r->cpu_mems, err) < 0)
                        return -EINVAL;
                if (r->cpu_shares == 0)
                        r->cpu_shares = SPEC_UNSET;
                if (r->cpu_period == 0)
                        r->cpu_period = SPEC_UNSET;
                if (r->cpu_quota == 0)
                        r->cpu_quota = SPEC_UNSET;
                if (r->cpu_cpus && !*r->cpu_cpus) {
                        free(r->cpu_cpus);
                        r->cpu_cpus = NULL;
                }
                if (r->cpu_mems && !*r->cpu_mems) {
                        free(r->cpu_mems);
                        r->cpu_mems = NULL;
                }
        }
        if (get_object(res, "pids", P, &o, err) < 0)
                return -EINVAL;
        if (o && get_int(o, "limit", "linux.resources.pids", INT64_MIN + 1, INT64_MAX,
                         &r->pids_limit, err) < 0)
                return -EINVAL;
        if (get_object(res, "blockIO", P, &o, err) < 0)
                return -EINVAL;
        if (o) {
                const char *B = "linux.resources.blockIO";
                if (get_int(o, "weight", B, 0, 1000, &r->blkio_weight, err) < 0 ||
                    get_int(o, "leafWeight", B, 0, 1000, &r->blkio_leaf_weight, err) < 0)
                        return -EINVAL;
                if (r->blkio_weight == 0)
                        r->blkio_weight = SPEC_UNSET;
                if (r->blkio_leaf_weight == 0)
                        r->blkio_leaf_weight = SPEC_UNSET;
                if (get_array(o, "weightDevice", B, &a, err) < 0)
                        return -EINVAL;
                if (a) {
                        r->blkio_weight_devices =
                            xcalloc(json_array_size(a), sizeof(*r->blkio_weight_devices));
                        size_t i;
                        json_t *e;
                        json_array_foreach(a, i, e)
                        {
                                _cleanup_free_ char *p =
                                    idx("linux.resources.blockIO.weightDevice", i);
                                struct spec_weight_device *w = &r->blkio_weight_devices[i];
                                w->major = w->minor = -1;
                                w->weight = w->leaf_weight = SPEC_UNSET;
                                if (!json_is_object(e))
                                        return bad(err, p, "expected object");
                                if (get_int(e, "major", p, 0, UINT32_MAX, &w->major, err) < 0 ||
                                    get_int(e, "minor", p, 0, UINT32_MAX, &w->minor, err) < 0 ||
                                    get_int(e, "weight", p, 0, 1000, &w->weight, err) < 0 ||
                                    get_int(e, "leafWeight", p, 0, 1000, &w->leaf_weight, err) < 0)
                                        return -EINVAL;
                                if (w->major < 0 || w->minor < 0)
                                        return bad(err, p, "major and minor are required");
                                r->n_blkio_weight_devices++;
                        }
                }
                static const char *const keys[] = {
                    "throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice",
                    "throttleWriteIOPSDevice"};
                for (size_t k = 0; k < 4; k++)
                        if (parse_throttles(o, keys[k], &r->throttle[k], &r->n_throttle[k], err) <
                            0)
                                return -EINVAL;
        }
        if (get_array(res, "hugepageLimits", P, &a, err) < 0)
                return -EINVAL;
        if (a) {
                r->hugepages = xcalloc(json_array_size(a), sizeof(*r->hugepages));
                size_t i;
                json_t *e;
                json_array_foreach(a, i, e)
                {
                        _cleanup_free_ char *p = idx("linux.resources.hugepageLimits", i);
                        struct spec_hugepage *h = &r->hugepages[i];
                        if (!json_is_object(e))
                                return bad(err, p, "expected object");
                        r->n_hugepages++;
                        if (get_string(e, "pageSize", p, true, &h->pagesize, err) < 0 ||
                            get_u64(e, "limit", p, true, &h->limit, err) < 0)
                                return -EINVAL;
                        if (strchr(h->pagesize, '/') || strstr(h->pagesize, ".."))
                                return bad(err, p, "pageSize: invalid");
                }
        }
        if (get_array(res, "devices", P, &a, err) < 0)
                return -EINVAL;
        if (a && parse_device_rules(a, r, err) < 0)
                return -EINVAL;
        if (get_object(res, "unified", P, &o, err) < 0)
                return -EINVAL;
        if (o) {
                r->unified = xcalloc(json_object_size(o), sizeof(*r->unified));
                const char *k;
                json_t *v;
                json_object_foreach(o, k, v)
                {
                        if (!json_is_string(v)) {
                                _cleanup_free_ char *p = sub("linux.resources.unified", k);
                                return bad(err, p, "expected string");
                        }
                        if (strchr(k, '/') || !strcmp(k, ".") || !strcmp(k, "..")) {
                                _cleanup_free_ char *p = sub("linux.resources.unified", k);
                                return bad(err, p, "invalid cgroup file name");
                        }
                        r->unified[r->n_unified].key = xstrdup(k);
                        r->unified[r->n_unified++].value = xstrdup(json_string_value(v));
                }
        }
        return 0;
}

static int parse_devices(json_t *arr, struct spec *s, struct berth_error **err)
{
        s->devices = xcalloc(json_array_size(arr), sizeof(*s->devices));
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e)
        {
                _cleanup_free_ char *p = idx("linux.devices", i);
                struct spec_device *d = &s->devices[i];
                if (!json_is_object(e))
                        return bad(err, p, "expected object");
                s->n_devices++;
                _cleanup_free_ char *type = NULL;
                int64_t mode = 0666, uid = 0, gid = 0;
                d->major = d->minor = -1;
                if (get_string(e, "type", p, true, &type, err) < 0 ||
                    get_string(e, "path", p, true, &d->path, err) < 0 ||
                    get_int(e, "major", p, 0, UINT32_MAX, &d->major, err) < 0 ||
                    get_int(e, "minor", p, 0, UINT32_MAX, &d->minor, err) < 0 ||
                    get_int(e, "fileMode", p, 0, 07777, &mode, err) < 0 ||
                    get_int(e, "uid", p, 0, UINT32_MAX - 1, &uid, err) < 0 ||
                    get_int(e, "gid", p, 0, UINT32_MAX - 1, &gid, err) < 0)
                        return -EINVAL;
                if (strlen(type) != 1 || !strchr("cbup", type[0]))
                        return bad(err, p, "type: expected c, b, u or p");
                d->type = type[0];
                if (d->type != 'p' && (d->major < 0 || d->minor < 0))
                        return bad(err, p, "major and minor are required");
                if (d->path[0] != '/' || strstr(d->path, ".."))
                        return bad(err, p, "path: must be an absolute path without `..`");
                d->mode = (uint32_t)mode;
                d->uid = (uid_t)uid;
                d->gid = (gid_t)gid;
        }
        return 0;
}

static int parse_hooks(json_t *hooks, struct spec *s, struct berth_error **err)
{
        static const char *const names[HOOK_KINDS] = {"prestart",        "createRuntime",
                                                      "createContainer", "startContainer",
                                                      "poststart",       "poststop"};
        for (int k = 0; k < HOOK_KINDS; k++) {
                json_t *arr;
                if (get_array(hooks, names[k], "hooks", &arr, err) < 0)
                        return -EINVAL;
                if (!arr)
                        continue;
                s->hooks[k] = xcalloc(json_array_size(arr), sizeof(struct spec_hook));
                size_t i;
                json_t *e;
                json_array_foreach(arr, i, e)
                {
                        _cleanup_free_ char *base = sub("hooks", names[k]);
                        _cleanup_free_ char *p = idx(base, i);
                        struct spec_hook *h = &s->hooks[k][i];
                        if (!json_is_object(e))
                                return bad(err, p, "expected object");
                        s->n_hooks[k]++;
                        int64_t t = 0;
                        if (get_string(e, "path", p, true, &h->path, err) < 0 ||
                            get_strv(e, "args", p, &h->args, err) < 0 ||
                            get_strv(e, "env", p, &h->env, err) < 0 ||
                            get_int(e, "timeout", p, 1, INT32_MAX, &t, err) < 0)
                                return -EINVAL;
                        h->timeout = (int)t;
                        if (h->path[0] != '/')
                                return bad(err, p, "path: must be an absolute path");
                }
        }
        return 0;
}

static int parse_linux(json_t *lx, struct spec *s, struct berth_error **err)
{
        const char *L = "linux";
        json_t *a, *o;
        if (spec_parse_memory_policy(lx, s, err) < 0 || get_array(lx, "namespaces", L, &a, err) < 0)
                return -EINVAL;
        if (a) {
                s->namespaces = xcalloc(json_array_size(a), sizeof(*s->namespaces));
                size_t i;
                json_t *e;
                json_array_foreach(a, i, e)
                {
                        _cleanup_free_ char *p = idx("linux.namespaces", i);
                        _cleanup_free_ char *type = NULL;
                        if (!json_is_object(e))
                                return bad(err, p, "expected object");
                        if (get_string(e, "type", p, true, &type, err) < 0)
                                return -EINVAL;
                        int t = 0;
                        for (size_t k = 0; k < ARRAY_SIZE(ns_names); k++)
                                if (!strcmp(type, ns_names[k].name))
                                        t = ns_names[k].type;
                        if (!t) {
                                _cleanup_free_ char *m =
                                    xasprintf("unknown namespace type `%s`", type);
                                return bad(err, p, m);
                        }
                        if (spec_namespace(s, t)) {
                                _cleanup_free_ char *m =
                                    xasprintf("namespace `%s` listed twice", type);
                                return bad(err, p, m);
                        }
                        struct spec_namespace *ns = &s->namespaces[s->n_namespaces++];
                        ns->type = t;
                        if (get_string(e, "path", p, false, &ns->path, err) < 0)
                                return -EINVAL;
                        if (ns->path && !*ns->path) {
                                free(ns->path);
                                ns->path = NULL;
                        }
                }
        }
        if (get_array(lx, "uidMappings", L, &a, err) < 0 ||
            (a &&
             parse_idmaps(a, "linux.uidMappings", &s->uid_mappings, &s->n_uid_mappings, err) < 0))
                return -EINVAL;
        if (get_array(lx, "gidMappings", L, &a, err) < 0 ||
            (a &&
             parse_idmaps(a, "linux.gidMappings", &s->gid_mappings, &s->n_gid_mappings, err) < 0))
                return -EINVAL;
        if (get_object(lx, "timeOffsets", L, &o, err) < 0)
                return -EINVAL;
        if (o) {
                static const char *const clocks[] = {"monotonic", "boottime"};
                for (int c = 0; c < 2; c++) {
                        json_t *t;
                        _cleanup_free_ char *p = sub("linux.timeOffsets", clocks[c]);
                        if (get_object(o, clocks[c], "linux.timeOffsets", &t, err) < 0)
                                return -EINVAL;
                        if (!t)
                                continue;
                        s->has_time_offsets = true;
                        if (get_int(t, "secs", p, INT64_MIN + 1, INT64_MAX, &s->time_offsets[c][0],
                                    err) < 0 ||
                            get_int(t, "nanosecs", p, 0, 999999999, &s->time_offsets[c][1], err) <
                                0)
                                return -EINVAL;
                }
        }
        if (get_object(lx, "sysctl", L, &o, err) < 0)
                return -EINVAL;
        if (o) {
                s->sysctl = xcalloc(json_object_size(o), sizeof(*s->sysctl));
                const char *k;
                json_t *v;
                json_object_foreach(o, k, v)
                {
                        _cleanup_free_ char *p = sub("linux.sysctl", k);
                        if (!json_is_string(v))
                                return bad(err, p, "expected string");
                        if (!*k || strstr(k, "..") || k[0] == '/' || k[0] == '.')
                                return bad(err, p, "invalid sysctl name");
                        s->sysctl[s->n_sysctl].key = xstrdup(k);
                        s->sysctl[s->n_sysctl++].value = xstrdup(json_string_value(v));
                }
        }
        spec_resources_init(&s->resources);
        if (get_object(lx, "resources", L, &o, err) < 0)
                return -EINVAL;
        if (o) {
                s->has_resources = true;
                if (spec_parse_resources(o, &s->resources, err) < 0)
                        return -EINVAL;
        }
        if (get_string(lx, "cgroupsPath", L, false, &s->cgroups_path, err) < 0)
                return -EINVAL;
        if (s->cgroups_path && !*s->cgroups_path) {
                free(s->cgroups_path);
                s->cgroups_path = NULL;
        }
        _cleanup_free_ char *prop = NULL;
        if (get_string(lx, "rootfsPropagation", L, false, &prop, err) < 0)
                return -EINVAL;
        if (prop && *prop) {
                static const struct {
                        const char *n;
                        unsigned long f;
                } props[] = {
                    {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
                    {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
                    {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
                    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
                };
                for (size_t k = 0; k < ARRAY_SIZE(props); k++)
                        if (!strcmp(prop, props[k].n))
                                s->rootfs_propagation = props[k].f;
                if (!s->rootfs_propagation)
                        return bad(err, "linux.rootfsPropagation", "unknown propagation");
        }
        if (get_strv(lx, "maskedPaths", L, &s->masked_paths, err) < 0 ||
            get_strv(lx, "readonlyPaths", L, &s->readonly_paths, err) < 0)
                return -EINVAL;
        if (get_array(lx, "devices", L, &a, err) < 0 || (a && parse_devices(a, s, err) < 0))
                return -EINVAL;
        if (get_object(lx, "seccomp", L, &o, err) < 0)
                return -EINVAL;
        s->seccomp = json_incref(o);
        if (get_object(lx, "personality", L, &o, err) < 0)
                return -EINVAL;
        if (o) {
                _cleanup_free_ char *dom = NULL;
                if (get_string(o, "domain", "linux.personality", true, &dom, err) < 0)
                        return -EINVAL;
                if (!strcmp(dom, "LINUX"))
                        s->personality = PER_LINUX;
                else if (!strcmp(dom, "LINUX32"))
                        s->personality = PER_LINUX32;
                else
                        return bad(err, "linux.personality.domain", "expected LINUX or LINUX32");
        }
        return 0;
}

/* Is the network namespace at path the one this process runs in (runc: "host" means current)? */
static bool is_current_netns(const char *path)
{
        struct stat a, b;
        return stat("/proc/self/ns/net", &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
               a.st_ino == b.st_ino;
}

/* runc's rules: /proc/sys is only partly namespaced, so a sysctl is written only when the
 * namespace that owns it is the container's own; anything else would change the host. */
static int validate_sysctls(const struct spec *s, struct berth_error **err)
{
        static const char *const ipc_keys[] = {
            "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
            "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
        };
        const struct spec_namespace *net = spec_namespace(s, CLONE_NEWNET);
        bool own_ipc = spec_namespace(s, CLONE_NEWIPC) != NULL;
        bool own_uts = spec_namespace(s, CLONE_NEWUTS) != NULL;
        for (size_t i = 0; i < s->n_sysctl; i++) {
                /* "net/ipv4/ip_forward" is the same key: '/' and '.' swap roles (sysctl.d(5)) */
                _cleanup_free_ char *k = xstrdup(s->sysctl[i].key);
                if (k[strcspn(k, "./")] == '/')
                        for (char *c = k; *c; c++)
                                *c = *c == '/' ? '.' : *c == '.' ? '/' : *c;
                bool ipc = !strncmp(k, "fs.mqueue.", 10);
                for (size_t j = 0; j < ARRAY_SIZE(ipc_keys) && !ipc; j++)
                        ipc = !strcmp(k, ipc_keys[j]);
                if (ipc) {
                        if (!own_ipc)
                                return berth_error_setx(err, EINVAL,
                                                        "config.json: linux.sysctl: `%s` is not "
                                                        "allowed in the host's ipc namespace",
                                                        k);
                        continue;
                }
                if (!strncmp(k, "net.", 4)) {
                        if (!net || (net->path && is_current_netns(net->path)))
                                return berth_error_setx(err, EINVAL,
                                                        "config.json: linux.sysctl: `%s` is not "
                                                        "allowed in the host's network namespace",
                                                        k);
                        continue;
                }
                if (own_uts && !strcmp(k, "kernel.domainname")) {
                        if (s->domainname && *s->domainname &&
                            strcmp(s->domainname, s->sysctl[i].value))
                                return bad(err, "domainname",
                                           "conflicts with the sysctl `kernel.domainname`");
                        continue;
                }
                if (own_uts && !strcmp(k, "kernel.hostname"))
                        return berth_error_setx(err, EINVAL,
                                                "config.json: linux.sysctl: `%s` is not allowed: "
                                                "it conflicts with the `hostname` field",
                                                k);
                return berth_error_setx(err, EINVAL,
                                        "config.json: linux.sysctl: `%s` is not in a separate "
                                        "kernel namespace",
                                        k);
        }
        return 0;
}

static int parse_doc(json_t *doc, struct spec *s, struct berth_error **err)
{
        json_t *o, *a;
        if (get_string(doc, "ociVersion", "", true, &s->oci_version, err) < 0 ||
            get_object(doc, "root", "", &o, err) < 0)
                return -EINVAL;
        if (!o)
                return bad(err, "root", "required field missing");
        _cleanup_free_ char *root = NULL;
        if (get_string(o, "path", "root", true, &root, err) < 0 ||
            get_bool(o, "readonly", "root", &s->root_readonly, err) < 0)
                return -EINVAL;
        s->root_path = root[0] == '/' ? xstrdup(root) : xasprintf("%s/%s", s->bundle, root);
        if (get_object(doc, "process", "", &o, err) < 0)
                return -EINVAL;
        if (!o)
                return bad(err, "process", "required field missing");
        if (spec_parse_process(o, &s->process, err) < 0 ||
            get_string(doc, "hostname", "", false, &s->hostname, err) < 0 ||
            get_string(doc, "domainname", "", false, &s->domainname, err) < 0 ||
            get_array(doc, "mounts", "", &a, err) < 0)
                return -EINVAL;
        if (a) {
                s->mounts = xcalloc(json_array_size(a), sizeof(*s->mounts));
                size_t i;
                json_t *e;
                json_array_foreach(a, i, e)
                {
                        _cleanup_free_ char *p = idx("mounts", i);
                        s->n_mounts++;
                        if (parse_mount(e, p, &s->mounts[i], err) < 0)
                                return -EINVAL;
                }
        }
        if (get_object(doc, "linux", "", &o, err) < 0 || (o && parse_linux(o, s, err) < 0) ||
            get_object(doc, "hooks", "", &o, err) < 0 || (o && parse_hooks(o, s, err) < 0) ||
            get_object(doc, "annotations", "", &o, err) < 0)
                return -EINVAL;
        s->annotations = o ? json_incref(o) : json_object();

        const struct spec_namespace *user = spec_namespace(s, CLONE_NEWUSER);
        if (user && !user->path && (!s->n_uid_mappings || !s->n_gid_mappings))
                return bad(err, "linux.uidMappings",
                           "a new user namespace needs uid and gid mappings");
        if (!user && (s->n_uid_mappings || s->n_gid_mappings))
                return bad(err, "linux.uidMappings", "mappings given without a user namespace");
        if (validate_sysctls(s, err) < 0)
                return -EINVAL;
        if (!spec_namespace(s, CLONE_NEWUTS)) {
                /* crun's rule: without a uts namespace of its own the container shares the
                 * host's names, so the fields cannot apply; they are dropped with a warning
                 * (writing them would rename the host) */
                if (s->hostname && *s->hostname)
                        berth_warn("hostname `%s` not set: the container has no uts namespace "
                                   "of its own",
                                   s->hostname);
                if (s->domainname && *s->domainname)
                        berth_warn("domainname `%s` not set: the container has no uts namespace "
                                   "of its own",
                                   s->domainname);
                free(s->hostname);
                free(s->domainname);
                s->hostname = s->domainname = NULL;
        }
        if (s->has_time_offsets && !spec_namespace(s, CLONE_NEWTIME))
                return bad(err, "linux.timeOffsets", "time offsets need a time namespace");
        return 0;
}

int spec_parse(json_t *doc, const char *bundle, struct spec **ret, struct berth_error **err)
{
        if (!json_is_object(doc))
                return bad(err, "(document)", "expected an object");
        struct spec *s = xcalloc(1, sizeof(*s));
        s->personality = SPEC_UNSET;
        spec_resources_init(&s->resources);
        s->bundle = xstrdup(bundle);
        int r = parse_doc(doc, s, err);
        if (r < 0) {
                spec_free(s);
                return r;
        }
        *ret = s;
        return 0;
}

void spec_resources_release(struct spec_resources *r)
{
        free(r->cpu_cpus);
        free(r->cpu_mems);
        free(r->blkio_weight_devices);
        for (int k = 0; k < 4; k++)
                free(r->throttle[k]);
        for (size_t i = 0; i < r->n_hugepages; i++)
                free(r->hugepages[i].pagesize);
        free(r->hugepages);
        free(r->device_rules);
        for (size_t i = 0; i < r->n_unified; i++) {
                free(r->unified[i].key);
                free(r->unified[i].value);
        }
        free(r->unified);
}

void spec_process_release(struct spec_process *p)
{
        free(p->additional_gids);
        strv_free(p->args);
        strv_free(p->env);
        free(p->cwd);
        free(p->rlimits);
        free(p->affinity[0]);
        free(p->affinity[1]);
        *p = (struct spec_process){.umask = SPEC_UNSET};
}

void spec_free(struct spec *s)
{
        if (!s)
                return;
        free(s->oci_version);
        free(s->bundle);
        free(s->root_path);
        free(s->hostname);
        free(s->domainname);
        spec_process_release(&s->process);
        for (size_t i = 0; i < s->n_mounts; i++) {
                free(s->mounts[i].destination);
                free(s->mounts[i].type);
                free(s->mounts[i].source);
                free(s->mounts[i].data);
        }
        free(s->mounts);
        for (size_t i = 0; i < s->n_namespaces; i++)
                free(s->namespaces[i].path);
        free(s->namespaces);
        free(s->uid_mappings);
        free(s->gid_mappings);
        for (size_t i = 0; i < s->n_sysctl; i++) {
                free(s->sysctl[i].key);
                free(s->sysctl[i].value);
        }
        free(s->sysctl);
        spec_resources_release(&s->resources);
        free(s->cgroups_path);
        strv_free(s->masked_paths);
        strv_free(s->readonly_paths);
        for (size_t i = 0; i < s->n_devices; i++)
                free(s->devices[i].path);
        free(s->devices);
        json_decref(s->seccomp);
        for (int k = 0; k < HOOK_KINDS; k++) {
                for (size_t i = 0; i < s->n_hooks[k]; i++) {
                        free(s->hooks[k][i].path);
                        strv_free(s->hooks[k][i].args);
                        strv_free(s->hooks[k][i].env);
                }
                free(s->hooks[k]);
        }
        json_decref(s->annotations);
        free(s);
}

int spec_clone_flags(const struct spec *s)
{
        int flags = 0;
        for (size_t i = 0; i < s->n_namespaces; i++)
                if (!s->namespaces[i].path)
                        flags |= s->namespaces[i].type;
        return flags;
}

const struct spec_namespace *spec_namespace(const struct spec *s, int type)
{
        for (size_t i = 0; i < s->n_namespaces; i++)
                if (s->namespaces[i].type == type)
                        return &s->namespaces[i];
        return NULL;
}

const char *spec_namespace_name(int type)
{
        for (size_t k = 0; k < ARRAY_SIZE(ns_names); k++)
                if (ns_names[k].type == type)
                        return ns_names[k].name;
        return "?";
}

bool spec_wants_limits(const struct spec *s)
{
        if (!s->has_resources)
                return false;
        const struct spec_resources *r = &s->resources;
        /* device rules alone are what every default spec carries: not a limit to enforce */
        return r->mem_limit != SPEC_UNSET || r->mem_reservation != SPEC_UNSET ||
               r->mem_swap != SPEC_UNSET || r->cpu_shares != SPEC_UNSET ||
               r->cpu_quota != SPEC_UNSET || r->cpu_period != SPEC_UNSET || r->cpu_cpus ||
               r->cpu_mems || r->pids_limit != SPEC_UNSET || r->blkio_weight != SPEC_UNSET ||
               r->n_hugepages || r->n_unified || r->n_throttle[0] || r->n_throttle[1] ||
               r->n_throttle[2] || r->n_throttle[3];
}
