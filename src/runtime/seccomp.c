/* linux.seccomp → a BPF program, compiled with libseccomp once per distinct profile and cached
 * under the state root, so a container start with a known profile only reads a file.
 *
 * A cache entry holds the canonical JSON of the profile it was built from and is used only when
 * that text matches exactly: the file name (a 64-bit FNV-1a hash) only finds it.
 */
#include "runtime/internal.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define CACHE_MAGIC "berth-seccomp-2\n"

struct secfilter {
        struct sock_filter *insns;
        size_t n;
        unsigned flags; /* SECCOMP_FILTER_FLAG_* */
};

static int bad(struct berth_error **err, const char *path, const char *what)
{
        return berth_error_setx(err, EINVAL, "config.json: linux.seccomp%s%s: %s", *path ? "." : "",
                                path, what);
}

static int parse_action(const char *name, json_t *errno_ret, uint32_t default_errno, uint32_t *ret,
                        struct berth_error **err, const char *path)
{
        uint32_t e = default_errno;
        if (json_is_number(errno_ret))
                e = (uint32_t)json_number_value(errno_ret);
        static const struct {
                const char *name;
                uint32_t act;
        } acts[] = {
            {"SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD},
            {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD},
            {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS},
            {"SCMP_ACT_TRAP", SCMP_ACT_TRAP},
            {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW},
            {"SCMP_ACT_LOG", SCMP_ACT_LOG},
        };
        for (size_t i = 0; i < ARRAY_SIZE(acts); i++)
                if (!strcmp(name, acts[i].name)) {
                        *ret = acts[i].act;
                        return 0;
                }
        if (!strcmp(name, "SCMP_ACT_ERRNO")) {
                *ret = SCMP_ACT_ERRNO(e);
                return 0;
        }
        if (!strcmp(name, "SCMP_ACT_TRACE")) {
                *ret = SCMP_ACT_TRACE(e);
                return 0;
        }
        if (!strcmp(name, "SCMP_ACT_NOTIFY"))
                return berth_error_setx(err, ENOTSUP,
                                        "config.json: linux.seccomp: SCMP_ACT_NOTIFY (seccomp user "
                                        "notification) is not supported");
        _cleanup_free_ char *m = xasprintf("unknown action `%s`", name);
        return bad(err, path, m);
}

static int parse_op(const char *name, enum scmp_compare *ret)
{
        static const struct {
                const char *name;
                enum scmp_compare op;
        } ops[] = {
            {"SCMP_CMP_NE", SCMP_CMP_NE},
            {"SCMP_CMP_LT", SCMP_CMP_LT},
            {"SCMP_CMP_LE", SCMP_CMP_LE},
            {"SCMP_CMP_EQ", SCMP_CMP_EQ},
            {"SCMP_CMP_GE", SCMP_CMP_GE},
            {"SCMP_CMP_GT", SCMP_CMP_GT},
            {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
        };
        for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
                if (!strcmp(name, ops[i].name)) {
                        *ret = ops[i].op;
                        return 0;
                }
        return -EINVAL;
}

static void ctx_release(scmp_filter_ctx *c)
{
        if (*c)
                seccomp_release(*c);
}

static int add_rule(scmp_filter_ctx ctx, json_t *rule, size_t idx, uint32_t default_errno,
                    uint32_t default_action, struct berth_error **err)
{
        char path[64];
        snprintf(path, sizeof(path), "syscalls[%zu]", idx);
        json_t *names = json_object_get(rule, "names");
        json_t *action = json_object_get(rule, "action");
        if (!json_is_array(names) || !json_is_string(action))
                return bad(err, path, "names (array) and action (string) are required");
        uint32_t act;
        if (parse_action(json_string_value(action), json_object_get(rule, "errnoRet"),
                         default_errno, &act, err, path) < 0)
                return -EINVAL;
        json_t *args = json_object_get(rule, "args");
        struct scmp_arg_cmp cmps[6];
        unsigned n_cmps = 0;
        if (args && !json_is_null(args)) {
                if (!json_is_array(args) || json_array_size(args) > 6)
                        return bad(err, path, "args: expected at most 6 comparisons");
                size_t i;
                json_t *a;
                json_array_foreach(args, i, a)
                {
                        json_t *op = json_object_get(a, "op");
                        enum scmp_compare cmp;
                        if (!json_is_object(a) || !json_is_string(op) ||
                            parse_op(json_string_value(op), &cmp) < 0 ||
                            !json_is_number(json_object_get(a, "index")))
                                return bad(err, path,
                                           "args: index, value and a known op are required");
                        cmps[n_cmps++] = (struct scmp_arg_cmp){
                            .arg = (unsigned)json_number_value(json_object_get(a, "index")),
                            .op = cmp,
                            .datum_a = (scmp_datum_t)json_number_value(json_object_get(a, "value")),
                            .datum_b =
                                (scmp_datum_t)json_number_value(json_object_get(a, "valueTwo")),
                        };
                        if (cmps[n_cmps - 1].arg > 5)
                                return bad(err, path, "args: index must be 0..5");
                }
        }
        if (act == default_action)
                return 0; /* libseccomp refuses rules that repeat the default */
        size_t i;
        json_t *n;
        json_array_foreach(names, i, n)
        {
                if (!json_is_string(n))
                        return bad(err, path, "names: expected strings");
                int nr = seccomp_syscall_resolve_name(json_string_value(n));
                if (nr == __NR_SCMP_ERROR)
                        continue; /* like runc: syscalls this kernel/arch lacks are skipped */
                int r = seccomp_rule_add_array(ctx, act, nr, n_cmps, cmps);
                if (r < 0)
                        return berth_error_set(err, -r, "linux.seccomp: rule for `%s`",
                                               json_string_value(n));
        }
        return 0;
}

/* Build the filter with libseccomp and export it as BPF instructions. */
static int compile(json_t *sc, struct secfilter *prog, struct berth_error **err)
{
        json_t *dflt = json_object_get(sc, "defaultAction");
        if (!json_is_string(dflt))
                return bad(err, "defaultAction", "required string");
        json_t *dflt_errno = json_object_get(sc, "defaultErrnoRet");
        uint32_t default_errno =
            json_is_number(dflt_errno) ? (uint32_t)json_number_value(dflt_errno) : EPERM;
        uint32_t default_action;
        if (parse_action(json_string_value(dflt), dflt_errno, default_errno, &default_action, err,
                         "defaultAction") < 0)
                return -EINVAL;
        json_t *listener = json_object_get(sc, "listenerPath");
        if (json_is_string(listener) && *json_string_value(listener))
                return berth_error_setx(err, ENOTSUP,
                                        "linux.seccomp.listenerPath: seccomp user "
                                        "notification is not supported");
        _cleanup_(ctx_release) scmp_filter_ctx ctx = seccomp_init(default_action);
        if (!ctx)
                return berth_error_setx(err, EINVAL, "linux.seccomp: cannot initialise libseccomp");
        /* the runtime sets no_new_privs itself when the spec asks */
        seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        /* a binary tree of syscall numbers: every syscall the container makes walks
         * log(n) comparisons instead of the whole allow-list */
        seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
        json_t *arches = json_object_get(sc, "architectures");
        size_t i;
        json_t *a;
        json_array_foreach(arches, i, a)
        {
                const char *name = json_string_value(a);
                if (!name || strncmp(name, "SCMP_ARCH_", 10))
                        return bad(err, "architectures", "expected SCMP_ARCH_* names");
                char lower[32];
                snprintf(lower, sizeof(lower), "%s", name + 10);
                for (char *p = lower; *p; p++)
                        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
                uint32_t arch = seccomp_arch_resolve_name(lower);
                if (!arch) {
                        berth_debug("seccomp: unknown architecture `%s` skipped", name);
                        continue;
                }
                int r = seccomp_arch_add(ctx, arch);
                if (r < 0 && r != -EEXIST)
                        return berth_error_set(err, -r, "linux.seccomp: architecture `%s`", name);
        }
        json_t *flags = json_object_get(sc, "flags");
        json_array_foreach(flags, i, a)
        {
                const char *f = json_string_value(a);
                if (f && !strcmp(f, "SECCOMP_FILTER_FLAG_LOG"))
                        prog->flags |= SECCOMP_FILTER_FLAG_LOG;
                else if (f && !strcmp(f, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"))
                        prog->flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
                else if (f && !strcmp(f, "SECCOMP_FILTER_FLAG_TSYNC"))
                        prog->flags |= SECCOMP_FILTER_FLAG_TSYNC;
                else
                        return bad(err, "flags", "unknown flag");
        }
        json_t *syscalls = json_object_get(sc, "syscalls");
        if (syscalls && !json_is_array(syscalls))
                return bad(err, "syscalls", "expected array");
        json_array_foreach(syscalls, i, a)
        {
                if (!json_is_object(a))
                        return bad(err, "syscalls", "expected array of objects");
                if (add_rule(ctx, a, i, default_errno, default_action, err) < 0)
                        return -EINVAL;
        }
        int mfd = memfd_create("berth-seccomp", MFD_CLOEXEC);
        if (mfd < 0)
                return berth_error_set(err, errno, "memfd_create");
        int r = seccomp_export_bpf(ctx, mfd);
        if (r < 0) {
                close(mfd);
                return berth_error_set(err, -r, "linux.seccomp: export filter");
        }
        off_t size = lseek(mfd, 0, SEEK_END);
        prog->n = (size_t)size / sizeof(struct sock_filter);
        prog->insns = xmalloc((size_t)size);
        ssize_t got = pread(mfd, prog->insns, (size_t)size, 0);
        close(mfd);
        if (got != size)
                return berth_error_setx(err, EIO, "linux.seccomp: short read of the filter");
        return 0;
}

static uint64_t fnv1a(const char *s, size_t n)
{
        uint64_t h = 0xcbf29ce484222325ULL;
        for (size_t i = 0; i < n; i++) {
                h ^= (unsigned char)s[i];
                h *= 0x100000001b3ULL;
        }
        return h;
}

/* Cache file: magic, flags, json length, json, bpf. */
static bool cache_read(int dirfd, const char *name, const char *json, size_t jlen,
                       struct secfilter *prog)
{
        _cleanup_free_ char *data = NULL;
        size_t len = 0;
        if (berth_read_file_at(dirfd, name, 8 << 20, &data, &len, NULL) < 0)
                return false;
        size_t hdr = strlen(CACHE_MAGIC) + 2 * sizeof(uint64_t);
        if (len < hdr || memcmp(data, CACHE_MAGIC, strlen(CACHE_MAGIC)))
                return false;
        uint64_t flags, n;
        memcpy(&flags, data + strlen(CACHE_MAGIC), sizeof(flags));
        memcpy(&n, data + strlen(CACHE_MAGIC) + sizeof(flags), sizeof(n));
        if (n != jlen || len < hdr + jlen || memcmp(data + hdr, json, jlen) ||
            (len - hdr - jlen) % sizeof(struct sock_filter))
                return false;
        prog->flags = (unsigned)flags;
        prog->n = (len - hdr - jlen) / sizeof(struct sock_filter);
        prog->insns = xmalloc(len - hdr - jlen + 1);
        memcpy(prog->insns, data + hdr + jlen, len - hdr - jlen);
        return true;
}

static void cache_write(int dirfd, const char *name, const char *json, size_t jlen,
                        const struct secfilter *prog)
{
        size_t hdr = strlen(CACHE_MAGIC) + 2 * sizeof(uint64_t);
        size_t blen = prog->n * sizeof(struct sock_filter);
        _cleanup_free_ char *buf = xmalloc(hdr + jlen + blen);
        uint64_t flags = prog->flags, n = jlen;
        memcpy(buf, CACHE_MAGIC, strlen(CACHE_MAGIC));
        memcpy(buf + strlen(CACHE_MAGIC), &flags, sizeof(flags));
        memcpy(buf + strlen(CACHE_MAGIC) + sizeof(flags), &n, sizeof(n));
        memcpy(buf + hdr, json, jlen);
        memcpy(buf + hdr + jlen, prog->insns, blen);
        /* a cache that cannot be written only costs the next start a compile */
        berth_write_atomic_at(dirfd, name, buf, hdr + jlen + blen, NULL);
}

int secfilter_prepare(const struct berth_runtime *rt, json_t *sc, struct secfilter **ret,
                      struct berth_error **err)
{
        *ret = NULL;
        if (!sc)
                return 0;
        _cleanup_free_ char *json = json_dumps(sc, JSON_COMPACT | JSON_SORT_KEYS);
        size_t jlen = strlen(json);
        char name[64];
        snprintf(name, sizeof(name), "%016llx.bpf", (unsigned long long)fnv1a(json, jlen));
        const char *root = rt && rt->root ? rt->root : BERTH_RUNTIME_DEFAULT_ROOT;
        _cleanup_free_ char *dir = xasprintf("%s/.seccomp-cache", root);
        _cleanup_close_ int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0 && mkdir(dir, 0700) == 0)
                dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        struct secfilter *prog = xcalloc(1, sizeof(*prog));
        if (dirfd >= 0 && cache_read(dirfd, name, json, jlen, prog)) {
                *ret = prog;
                return 0;
        }
        if (compile(sc, prog, err) < 0) {
                secfilter_free(prog);
                return -EINVAL;
        }
        if (dirfd >= 0)
                cache_write(dirfd, name, json, jlen, prog);
        *ret = prog;
        return 0;
}

int secfilter_load(const struct secfilter *prog, struct berth_error **err)
{
        if (!prog)
                return 0;
        struct sock_fprog fp = {.len = (unsigned short)prog->n, .filter = prog->insns};
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, prog->flags, &fp) < 0)
                return berth_error_set(err, errno, "load seccomp filter");
        return 0;
}

void secfilter_free(struct secfilter *prog)
{
        if (!prog)
                return;
        free(prog->insns);
        free(prog);
}
