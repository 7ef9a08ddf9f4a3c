/* HostConfig.Binds / Mounts / Tmpfs: syntax and validation with moby's linux parser rules
 * (volume/mounts/linux_parser.go) and messages, and the tmpfs mounts of the spec. */
#include "daemon/spec/spec-internal.h"

#include <sys/stat.h>

static const char *const propagations[] = {"shared",  "rshared",  "slave", "rslave",
                                           "private", "rprivate", NULL};

static bool in_list(const char *s, const char *const *list)
{
        for (size_t i = 0; list[i]; i++)
                if (!strcmp(s, list[i]))
                        return true;
        return false;
}

static bool valid_volume_name(const char *n)
{
        /* moby's local driver: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
        size_t l = strlen(n);
        if (l < 2)
                return false;
        for (size_t i = 0; i < l; i++) {
                char c = n[i];
                bool alnum =
                    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
                if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
                        return false;
        }
        return true;
}

static int bad_name(const char *n, struct berth_error **err)
{
        return berth_error_setx(
            err, EINVAL,
            "\"%s\" includes invalid characters for a local volume name, only "
            "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass "
            "a host directory, use absolute path",
            n);
}

void daemon_spec_mount_reqs_free(struct spec_mount_req *m, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(m[i].source);
                free(m[i].volume);
                free(m[i].target);
                free(m[i].propagation);
                free(m[i].mode);
        }
        free(m);
}

struct reqs {
        struct spec_mount_req *v;
        size_t n;
};

static struct spec_mount_req *reqs_add(struct reqs *r)
{
        r->v = xrealloc(r->v, (r->n + 1) * sizeof(*r->v));
        memset(&r->v[r->n], 0, sizeof(r->v[r->n]));
        return &r->v[r->n++];
}

static int check_dup(json_t *seen, const char *target, struct berth_error **err)
{
        if (json_object_get(seen, target))
                return berth_error_setx(err, EINVAL, "Duplicate mount point: %s", target);
        json_object_set_new(seen, target, json_true());
        return 0;
}

/* "ro,Z,rshared,nocopy": at most one of each kind, like moby's linuxValidMountMode. */
static int parse_mode(const char *spec, const char *mode, bool is_bind, struct spec_mount_req *r,
                      struct berth_error **err)
{
        static const char *const labels[] = {"z", "Z", NULL};
        static const char *const consist[] = {"consistent", "cached", "delegated", NULL};
        int rw = 0, label = 0, prop = 0, copy = 0, cons = 0;
        _cleanup_free_ char *copy_s = xstrdup(mode);
        char *save = NULL;
        if (!*mode)
                return berth_error_setx(err, EINVAL, "invalid mode: %s", mode);
        for (char *t = strtok_r(copy_s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (!strcmp(t, "ro") || !strcmp(t, "rw")) {
                        rw++;
                        r->readonly = !strcmp(t, "ro");
                } else if (in_list(t, labels)) {
                        label++;
                } else if (in_list(t, propagations)) {
                        prop++;
                        free(r->propagation);
                        r->propagation = xstrdup(t);
                } else if (!strcmp(t, "nocopy")) {
                        copy++;
                        r->nocopy = true;
                } else if (in_list(t, consist)) {
                        cons++;
                } else {
                        return berth_error_setx(err, EINVAL, "invalid mode: %s", mode);
                }
        }
        if (rw > 1 || label > 1 || prop > 1 || copy > 1 || cons > 1)
                return berth_error_setx(err, EINVAL, "invalid mode: %s", mode);
        if (is_bind && copy)
                return berth_error_setx(err, EINVAL, "invalid volume specification: '%s'", spec);
        if (!is_bind && prop)
                return berth_error_setx(err, EINVAL,
                                        "invalid volume specification: '%s': propagation mode is "
                                        "only valid for bind mounts",
                                        spec);
        return 0;
}

static int parse_bind_spec(const char *spec, struct spec_mount_req *r, struct berth_error **err)
{
        _cleanup_strv_ char **arr = xcalloc(1, sizeof(char *));
        const char *s = spec;
        for (;;) {
                const char *c = strchr(s, ':');
                _cleanup_free_ char *part = c ? xstrndup(s, (size_t)(c - s)) : xstrdup(s);
                strv_push(&arr, part);
                if (!c)
                        break;
                s = c + 1;
        }
        size_t n = strv_length(arr);
        if (n < 2 || n > 3 || !arr[0][0] || !arr[1][0])
                return berth_error_setx(err, EINVAL, "invalid volume specification: '%s'", spec);
        const char *src = arr[0], *dst = arr[1];
        bool bind = src[0] == '/';
        if (n == 3 && parse_mode(spec, arr[2], bind, r, err) < 0)
                return -EINVAL;
        if (n == 3)
                r->mode = xstrdup(arr[2]);
        if (dst[0] != '/')
                return berth_error_setx(err, EINVAL,
                                        "invalid volume specification: '%s': invalid mount config "
                                        "for type \"%s\": invalid mount path: '%s' mount path must "
                                        "be absolute",
                                        spec, bind ? "bind" : "volume", dst);
        r->target = berth_path_clean_abs(dst);
        if (!strcmp(r->target, "/"))
                return berth_error_setx(err, EINVAL,
                                        "invalid volume specification: '%s': invalid mount config "
                                        "for type \"%s\": invalid specification: destination can't "
                                        "be '/'",
                                        spec, bind ? "bind" : "volume");
        if (bind) {
                r->kind = SPEC_MOUNT_BIND;
                r->source = berth_path_clean_abs(src);
                r->create_source = true;
        } else {
                if (!valid_volume_name(src))
                        return bad_name(src, err);
                r->kind = SPEC_MOUNT_VOLUME;
                r->volume = xstrdup(src);
        }
        return 0;
}

static int mount_cfg_err(struct berth_error **err, const char *type, const char *fmt, ...)
    _printf_(3, 4);

static int mount_cfg_err(struct berth_error **err, const char *type, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *msg = NULL;
        if (vasprintf(&msg, fmt, ap) < 0)
                abort();
        va_end(ap);
        return berth_error_setx(err, EINVAL, "invalid mount config for type \"%s\": %s", type, msg);
}

static bool present(const json_t *o, const char *key)
{
        json_t *v = json_object_get(o, key);
        return v && !json_is_null(v);
}

/* Mount options berth has nothing behind (volume drivers and their options, labels and
 * subpaths of volumes, recursive read-only binds, tmpfs mount options): refused, not dropped. */
static int unsupported_options(const json_t *m, const char *type, struct berth_error **err)
{
        static const struct {
                const char *opts, *key;
        } refused[] = {{"BindOptions", "ReadOnlyNonRecursive"},
                       {"BindOptions", "ReadOnlyForceRecursive"},
                       {"VolumeOptions", "Labels"},
                       {"VolumeOptions", "Subpath"},
                       {"TmpfsOptions", "Options"}};
        const json_t *dc = json_object_get(json_object_get(m, "VolumeOptions"), "DriverConfig");
        const char *driver = json_string_value(json_object_get(dc, "Name"));

        for (size_t i = 0; i < ARRAY_SIZE(refused); i++)
                if (berth_json_is_set(
                        json_object_get(json_object_get(m, refused[i].opts), refused[i].key)))
                        return mount_cfg_err(err, type, "field %s.%s is not supported by berth",
                                             refused[i].opts, refused[i].key);
        if (driver && *driver && strcmp(driver, "local") != 0)
                return berth_error_setx(err, EINVAL,
                                        "error looking up volume plugin %s: plugin \"%s\" not "
                                        "found",
                                        driver, driver);
        if (berth_json_is_set(json_object_get(dc, "Options")))
                return mount_cfg_err(err, type,
                                     "field VolumeOptions.DriverConfig.Options is not supported "
                                     "by berth");
        return 0;
}

/* One HostConfig.Mounts entry; tmpfs ones are only validated (ret untouched). */
static int parse_mount_obj(const json_t *m, struct reqs *out, json_t *seen,
                           struct berth_error **err)
{
        if (!json_is_object(m))
                return berth_error_setx(err, EINVAL,
                                        "invalid value for `Mounts`: expected an "
                                        "array of objects");
        const char *type, *src, *dst;
        bool ro;
        if (sj_str(m, "Type", &type, err) < 0 || sj_str(m, "Source", &src, err) < 0 ||
            sj_str(m, "Target", &dst, err) < 0 || sj_bool(m, "ReadOnly", &ro, err) < 0)
                return -EINVAL;
        if (!type)
                type = "";
        bool is_bind = !strcmp(type, "bind"), is_vol = !strcmp(type, "volume"),
             is_tmpfs = !strcmp(type, "tmpfs");
        if (!is_bind && !is_vol && !is_tmpfs)
                return mount_cfg_err(err, type, "mount type unknown");
        if (!dst || !*dst)
                return mount_cfg_err(err, type, "field Target must not be empty");
        if (dst[0] != '/')
                return mount_cfg_err(err, type,
                                     "invalid mount path: '%s' mount path must be absolute", dst);
        _cleanup_free_ char *target = berth_path_clean_abs(dst);
        if (!strcmp(target, "/"))
                return mount_cfg_err(err, type, "invalid specification: destination can't be '/'");
        if (!is_bind && present(m, "BindOptions"))
                return mount_cfg_err(err, type, "field BindOptions must not be specified");
        if (!is_vol && present(m, "VolumeOptions"))
                return mount_cfg_err(err, type, "field VolumeOptions must not be specified");
        if (!is_tmpfs && present(m, "TmpfsOptions"))
                return mount_cfg_err(err, type, "field TmpfsOptions must not be specified");
        if (unsupported_options(m, type, err) < 0)
                return -EINVAL;
        if (check_dup(seen, target, err) < 0)
                return -EINVAL;

        if (is_tmpfs) {
                if (src && *src)
                        return mount_cfg_err(err, type, "field Source must not be specified");
                const json_t *to;
                int64_t size, mode;
                if (sj_obj(m, "TmpfsOptions", &to, err) < 0 ||
                    sj_i64(to, "SizeBytes", &size, err) < 0 || sj_i64(to, "Mode", &mode, err) < 0)
                        return -EINVAL;
                if (size < 0)
                        return mount_cfg_err(err, type, "invalid tmpfs size %lld", (long long)size);
                if (mode < 0 || mode > 07777)
                        return mount_cfg_err(err, type, "invalid tmpfs mode %llo",
                                             (unsigned long long)mode);
                return 0;
        }

        struct spec_mount_req r = {0};
        r.readonly = ro;
        r.target = TAKE_PTR(target);
        if (is_bind) {
                const json_t *bo;
                const char *prop = NULL;
                if (sj_obj(m, "BindOptions", &bo, err) < 0 ||
                    sj_str(bo, "Propagation", &prop, err) < 0 ||
                    sj_bool(bo, "NonRecursive", &r.non_recursive, err) < 0 ||
                    sj_bool(bo, "CreateMountpoint", &r.create_source, err) < 0)
                        goto fail;
                if (!src || !*src) {
                        mount_cfg_err(err, type, "field Source must not be empty");
                        goto fail;
                }
                if (src[0] != '/') {
                        mount_cfg_err(err, type,
                                      "invalid mount path: '%s' mount path must be absolute", src);
                        goto fail;
                }
                if (prop && *prop) {
                        if (!in_list(prop, propagations)) {
                                mount_cfg_err(err, type, "invalid propagation mode: %s", prop);
                                goto fail;
                        }
                        r.propagation = xstrdup(prop);
                }
                struct stat st;
                if (!r.create_source && stat(src, &st) < 0) {
                        mount_cfg_err(err, type, "bind source path does not exist: %s", src);
                        goto fail;
                }
                r.kind = SPEC_MOUNT_BIND;
                r.source = berth_path_clean_abs(src);
        } else {
                const json_t *vo;
                if (sj_obj(m, "VolumeOptions", &vo, err) < 0 ||
                    sj_bool(vo, "NoCopy", &r.nocopy, err) < 0)
                        goto fail;
                if (src && *src) {
                        if (!valid_volume_name(src)) {
                                mount_cfg_err(err, type,
                                              "invalid volume name \"%s\": must match "
                                              "[a-zA-Z0-9][a-zA-Z0-9_.-]+",
                                              src);
                                goto fail;
                        }
                        r.volume = xstrdup(src);
                }
                r.kind = SPEC_MOUNT_VOLUME;
        }
        *reqs_add(out) = r;
        return 0;
fail:
        free(r.target);
        free(r.propagation);
        free(r.source);
        free(r.volume);
        return -EINVAL;
}

static int parse_all(const json_t *hc, struct reqs *out, struct berth_error **err)
{
        _cleanup_strv_ char **binds = NULL;
        if (sj_strv(hc, "Binds", &binds, err) < 0)
                return -EINVAL;
        _cleanup_json_ json_t *seen = json_object();
        for (size_t i = 0; binds && binds[i]; i++) {
                struct spec_mount_req *r = reqs_add(out);
                if (parse_bind_spec(binds[i], r, err) < 0 || check_dup(seen, r->target, err) < 0)
                        return -EINVAL;
        }
        json_t *mounts = json_object_get(hc, "Mounts");
        if (mounts && !json_is_null(mounts)) {
                if (!json_is_array(mounts))
                        return berth_error_setx(err, EINVAL,
                                                "invalid value for `Mounts`: expected an array of "
                                                "objects");
                size_t i;
                json_t *m;
                json_array_foreach(mounts, i, m)
                {
                        if (parse_mount_obj(m, out, seen, err) < 0)
                                return -EINVAL;
                }
        }
        /* Tmpfs map keys collide with the others too */
        const json_t *tmpfs = NULL;
        if (sj_obj(hc, "Tmpfs", &tmpfs, err) < 0)
                return -EINVAL;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)tmpfs, k, v)
        {
                if (k[0] != '/')
                        return berth_error_setx(err, EINVAL,
                                                "invalid mount config for type \"tmpfs\": invalid "
                                                "mount path: '%s' mount path must be absolute",
                                                k);
                _cleanup_free_ char *t = berth_path_clean_abs(k);
                if (check_dup(seen, t, err) < 0)
                        return -EINVAL;
        }
        return 0;
}

int daemon_spec_parse_mounts(const json_t *create, struct spec_mount_req **ret, size_t *ret_n,
                             struct berth_error **err)
{
        const json_t *hc = NULL;
        if (sj_obj(create, "HostConfig", &hc, err) < 0)
                return -EINVAL;
        struct reqs out = {0};
        if (parse_all(hc, &out, err) < 0) {
                daemon_spec_mount_reqs_free(out.v, out.n);
                return -EINVAL;
        }
        *ret = out.v;
        *ret_n = out.n;
        return 0;
}

/* ---------------------------------------------------------------- tmpfs */

char **spec_tmpfs_options_merge(char *const *opts)
{
        /* moby's MergeTmpfsOptions: the last of each flag pair and of each key=value wins */
        static const char *const pairs[][2] = {
            {"ro", "rw"},
            {"exec", "noexec"},
            {"suid", "nosuid"},
            {"dev", "nodev"},
            {"atime", "noatime"},
            {"diratime", "nodiratime"},
            {"relatime", "norelatime"},
            {"strictatime", "nostrictatime"},
            {"sync", "async"},
        };
        char **out = xcalloc(1, sizeof(char *));
        size_t n = strv_length((char **)opts);
        for (size_t i = n; i > 0; i--) {
                const char *o = opts[i - 1];
                const char *eq = strchr(o, '=');
                size_t kl = eq ? (size_t)(eq - o) : strlen(o);
                bool dup = false;
                for (size_t j = 0; out[j] && !dup; j++) {
                        const char *p = out[j];
                        const char *peq = strchr(p, '=');
                        size_t pl = peq ? (size_t)(peq - p) : strlen(p);
                        if (pl == kl && !strncmp(p, o, kl))
                                dup = true;
                        for (size_t q = 0; q < ARRAY_SIZE(pairs) && !dup; q++)
                                if ((!strcmp(o, pairs[q][0]) && !strcmp(p, pairs[q][1])) ||
                                    (!strcmp(o, pairs[q][1]) && !strcmp(p, pairs[q][0])))
                                        dup = true;
                }
                if (!dup)
                        strv_push(&out, o);
        }
        /* back to the caller's order */
        size_t m = strv_length(out);
        for (size_t i = 0; i < m / 2; i++) {
                char *t = out[i];
                out[i] = out[m - 1 - i];
                out[m - 1 - i] = t;
        }
        return out;
}

static json_t *tmpfs_mount(const char *dst, char *const *user_opts, bool readonly)
{
        _cleanup_strv_ char **opts = xcalloc(1, sizeof(char *));
        strv_push(&opts, "noexec");
        strv_push(&opts, "nosuid");
        strv_push(&opts, "nodev");
        strv_push(&opts, "rprivate");
        for (size_t i = 0; user_opts && user_opts[i]; i++)
                strv_push(&opts, user_opts[i]);
        if (readonly)
                strv_push(&opts, "ro");
        _cleanup_strv_ char **merged = spec_tmpfs_options_merge(opts);
        json_t *a = json_array();
        for (size_t i = 0; merged[i]; i++)
                json_array_append_new(a, json_string(merged[i]));
        return json_pack("{s:s, s:s, s:s, s:o}", "destination", dst, "type", "tmpfs", "source",
                         "tmpfs", "options", a);
}

static const char *const tmpfs_flags[] = {
    "ro",          "rw",         "exec",        "noexec",        "suid",        "nosuid",
    "dev",         "nodev",      "atime",       "noatime",       "diratime",    "nodiratime",
    "relatime",    "norelatime", "strictatime", "nostrictatime", "sync",        "async",
    "dirsync",     "mand",       "nomand",      "shared",        "rshared",     "slave",
    "rslave",      "private",    "rprivate",    "unbindable",    "runbindable", "tmpcopyup",
    "notmpcopyup", NULL};
static const char *const tmpfs_keys[] = {"size",      "mode",      "uid",  "gid",
                                         "nr_inodes", "nr_blocks", "mpol", NULL};

int spec_tmpfs_mounts(const json_t *create, bool readonly_root, json_t *mounts, json_t *targets,
                      struct berth_error **err)
{
        const json_t *hc = json_object_get(create, "HostConfig");
        const json_t *tmpfs = NULL;
        if (sj_obj(hc, "Tmpfs", &tmpfs, err) < 0)
                return -EINVAL;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)tmpfs, k, v)
        {
                if (!json_is_string(v))
                        return berth_error_setx(err, EINVAL,
                                                "invalid value for `Tmpfs`: expected a map of "
                                                "strings");
                if (k[0] != '/')
                        return berth_error_setx(err, EINVAL,
                                                "invalid mount config for type \"tmpfs\": invalid "
                                                "mount path: '%s' mount path must be absolute",
                                                k);
                _cleanup_strv_ char **opts = xcalloc(1, sizeof(char *));
                _cleanup_free_ char *copy = xstrdup(json_string_value(v));
                char *save = NULL;
                for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                        const char *eq = strchr(t, '=');
                        bool ok = false;
                        if (eq) {
                                _cleanup_free_ char *key = xstrndup(t, (size_t)(eq - t));
                                ok = in_list(key, tmpfs_keys) && eq[1];
                        } else {
                                ok = in_list(t, tmpfs_flags);
                        }
                        if (!ok)
                                return berth_error_setx(
                                    err, EINVAL, "invalid tmpfs option \"%s\" for `%s`", t, k);
                        strv_push(&opts, t);
                }
                _cleanup_free_ char *dst = berth_path_clean_abs(k);
                json_array_append_new(mounts, tmpfs_mount(dst, opts, false));
                json_object_set_new(targets, dst, json_true());
        }
        (void)readonly_root;

        json_t *ms = json_object_get(hc, "Mounts");
        size_t i;
        json_t *m;
        json_array_foreach(json_is_array(ms) ? ms : NULL, i, m)
        {
                const char *type = NULL, *dst = NULL;
                if (!json_is_object(m) || sj_str(m, "Type", &type, err) < 0 ||
                    sj_str(m, "Target", &dst, err) < 0)
                        return berth_error_setx(err, EINVAL, "invalid value for `Mounts`");
                if (!type || strcmp(type, "tmpfs"))
                        continue;
                if (!dst || dst[0] != '/')
                        return berth_error_setx(err, EINVAL,
                                                "invalid mount config for type \"tmpfs\": invalid "
                                                "mount path: '%s' mount path must be absolute",
                                                dst ? dst : "");
                const json_t *to;
                int64_t size, mode;
                bool ro;
                if (sj_obj(m, "TmpfsOptions", &to, err) < 0 ||
                    sj_i64(to, "SizeBytes", &size, err) < 0 || sj_i64(to, "Mode", &mode, err) < 0 ||
                    sj_bool(m, "ReadOnly", &ro, err) < 0)
                        return -EINVAL;
                if (size < 0 || mode < 0 || mode > 07777)
                        return berth_error_setx(err, EINVAL,
                                                "invalid mount config for type \"tmpfs\": invalid "
                                                "TmpfsOptions for `%s`",
                                                dst);
                _cleanup_strv_ char **opts = xcalloc(1, sizeof(char *));
                if (size) {
                        /* moby: whole MiB as "m", whole KiB as "k", else bytes */
                        _cleanup_free_ char *s =
                            size % (1 << 20) == 0 ? xasprintf("size=%lldm", (long long)size >> 20)
                            : size % 1024 == 0    ? xasprintf("size=%lldk", (long long)size >> 10)
                                                  : xasprintf("size=%lld", (long long)size);
                        strv_push(&opts, s);
                }
                if (mode) {
                        _cleanup_free_ char *s = xasprintf("mode=%llo", (unsigned long long)mode);
                        strv_push(&opts, s);
                }
                _cleanup_free_ char *cdst = berth_path_clean_abs(dst);
                json_array_append_new(mounts, tmpfs_mount(cdst, opts, ro));
                json_object_set_new(targets, cdst, json_true());
        }
        return 0;
}
