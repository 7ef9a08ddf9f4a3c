/* Unit tests for docker container config → OCI spec (src/daemon/spec/). Every spec
 * built here is also fed to the runtime's own config.json parser, and seccomp filters to the
 * runtime's compiler, so the output is what berth-runtime accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "daemon/spec/spec-internal.h"
#include "runtime/runtime.h"

/* From src/runtime/internal.h, which cannot be included beside spec.h (both name a struct
 * spec_mount): the runtime's config.json parser and seccomp compiler. */
struct spec;
struct secfilter;
int spec_parse(json_t *doc, const char *bundle, struct spec **ret, struct berth_error **err);
void spec_free(struct spec *s);
int secfilter_prepare(const struct berth_runtime *rt, json_t *seccomp, struct secfilter **ret,
                      struct berth_error **err);
void secfilter_free(struct secfilter *prog);

#include <sys/stat.h>
#include <sys/sysmacros.h>

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char rootfs[] = "/tmp/berth-test-spec-XXXXXX";
static char hostfile[256];
static char seccomp_path[512];
static char cache_root[] = "/tmp/berth-test-spec-cache-XXXXXX";

static void write_file(const char *dir, const char *name, const char *text)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", dir, name);
        FILE *f = fopen(p, "we");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static int setup(void **state)
{
        assert_non_null(mkdtemp(rootfs));
        assert_non_null(mkdtemp(cache_root));
        _cleanup_free_ char *etc = xasprintf("%s/etc", rootfs);
        assert_int_equal(mkdir(etc, 0755), 0);
        write_file(etc, "passwd",
                   "root:x:0:0:root:/root:/bin/sh\n"
                   "# a comment line\n"
                   "\n"
                   "daemon:x:1:1::/:/usr/sbin/nologin\n"
                   "broken:x:notanumber:5::/:/bin/sh\n"
                   "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n"
                   "  bob:x:1001:100::/home/bob:/bin/sh  \n"
                   "nogroup-user:x:1002:4242::/:/bin/sh");
        write_file(etc, "group",
                   "root:x:0:\n"
                   "users:x:100:alice,bob\n"
                   "alice:x:1000:\n"
                   "staff:x:50:alice\n"
                   "audio:x:29: bob , carol\n"
                   "video:x:44:\n");
        /* a host file the container's symlinks point at: must never be read */
        snprintf(hostfile, sizeof(hostfile), "%s-hostpasswd", rootfs);
        FILE *f = fopen(hostfile, "we");
        assert_non_null(f);
        fputs("evil:x:0:0::/:/bin/sh\nroot:x:4242:4242::/:/bin/sh\n", f);
        fclose(f);
        snprintf(seccomp_path, sizeof(seccomp_path), "%s/data/seccomp/default.json", SOURCE_ROOT);
        return 0;
}

static int teardown(void **state)
{
        berth_rm_rf_at(AT_FDCWD, rootfs, NULL);
        berth_rm_rf_at(AT_FDCWD, cache_root, NULL);
        unlink(hostfile);
        return 0;
}

static struct spec_ctx ctx_default(void)
{
        return (struct spec_ctx){
            .id = ID,
            .rootfs = rootfs,
            .hostname = NULL,
            .hosts_path = "/var/lib/berth/containers/x/hosts",
            .resolv_path = "/var/lib/berth/containers/x/resolv.conf",
            .hostname_path = "/var/lib/berth/containers/x/hostname",
            .init_path = "/usr/libexec/berth/docker-init",
            .seccomp_default_path = seccomp_path,
            .cgroup_parent = NULL,
        };
}

/* The runtime must accept what we build, and its seccomp compiler the filter. */
static void runtime_accepts(json_t *spec)
{
        _cleanup_free_ char *text = berth_json_dump(spec, false);
        _cleanup_json_ json_t *doc = json_loads(text, JSON_DECODE_INT_AS_REAL, NULL);
        assert_non_null(doc);
        struct spec *s = NULL;
        struct berth_error *err = NULL;
        if (spec_parse(doc, "/bundle", &s, &err) < 0)
                fail_msg("runtime refuses the spec: %s\n%s", err->msg, text);
        json_t *sc = json_object_get(spec, "linux")
                         ? json_object_get(json_object_get(spec, "linux"), "seccomp")
                         : NULL;
        if (sc) {
                struct berth_runtime rt = {.root = cache_root};
                struct secfilter *prog = NULL;
                _cleanup_free_ char *sctext = berth_json_dump(sc, false);
                _cleanup_json_ json_t *scdoc = json_loads(sctext, 0, NULL);
                if (secfilter_prepare(&rt, scdoc, &prog, &err) < 0)
                        fail_msg("runtime refuses the seccomp filter: %s", err->msg);
                secfilter_free(prog);
        }
        spec_free(s);
}

static json_t *build_ctx(const char *create, const char *image, const struct spec_ctx *ctx)
{
        json_error_t je;
        _cleanup_json_ json_t *c = json_loads(create, 0, &je);
        if (!c)
                fail_msg("bad test json: %s", je.text);
        _cleanup_json_ json_t *i = image ? json_loads(image, 0, &je) : NULL;
        if (image && !i)
                fail_msg("bad test image json: %s", je.text);
        json_t *spec = NULL;
        struct berth_error *err = NULL;
        if (daemon_spec_build(c, i, ctx, &spec, &err) < 0)
                fail_msg("daemon_spec_build: %s", err->msg);
        runtime_accepts(spec);
        return spec;
}

static json_t *build(const char *create, const char *image)
{
        struct spec_ctx ctx = ctx_default();
        return build_ctx(create, image, &ctx);
}

static void build_bad_ctx(const char *create, const char *image, const struct spec_ctx *ctx,
                          int code, const char *want)
{
        _cleanup_json_ json_t *c = json_loads(create, 0, NULL);
        assert_non_null(c);
        _cleanup_json_ json_t *i = image ? json_loads(image, 0, NULL) : NULL;
        json_t *spec = NULL;
        struct berth_error *err = NULL;
        int r = daemon_spec_build(c, i, ctx, &spec, &err);
        if (r >= 0)
                fail_msg("expected an error containing `%s`", want);
        assert_int_equal(r, -code);
        assert_null(spec);
        assert_non_null(err);
        if (!strstr(err->msg, want))
                fail_msg("error `%s` does not contain `%s`", err->msg, want);
        berth_error_free(err);
}

static void build_bad(const char *create, const char *image, const char *want)
{
        struct spec_ctx ctx = ctx_default();
        build_bad_ctx(create, image, &ctx, EINVAL, want);
}

static json_t *jpath(json_t *j, const char *path)
{
        _cleanup_free_ char *copy = xstrdup(path);
        char *save = NULL;
        for (char *t = strtok_r(copy, ".", &save); t && j; t = strtok_r(NULL, ".", &save)) {
                if (json_is_array(j))
                        j = json_array_get(j, (size_t)atoi(t));
                else
                        j = json_object_get(j, t);
        }
        return j;
}

/* The JSON text of the value at path, compact, for exact comparisons. */
static char *jtext(json_t *j, const char *path)
{
        json_t *v = jpath(j, path);
        if (!v)
                return xstrdup("<absent>");
        return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

#define assert_json(spec, path, expect)                                                            \
        do {                                                                                       \
                _cleanup_free_ char *_t = jtext(spec, path);                                       \
                if (strcmp(_t, expect))                                                            \
                        fail_msg("%s: got %s, want %s", path, _t, expect);                         \
        } while (0)

static json_t *find_mount(json_t *spec, const char *dst)
{
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(spec, "mounts"), i, m)
        {
                if (!strcmp(json_string_value(json_object_get(m, "destination")), dst))
                        return m;
        }
        return NULL;
}

static bool has_str(json_t *arr, const char *s)
{
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e)
        {
                if (json_is_string(e) && !strcmp(json_string_value(e), s))
                        return true;
        }
        return false;
}

static bool has_ns(json_t *spec, const char *type, const char **ret_path)
{
        size_t i;
        json_t *n;
        json_array_foreach(jpath(spec, "linux.namespaces"), i, n)
        {
                if (!strcmp(json_string_value(json_object_get(n, "type")), type)) {
                        if (ret_path)
                                *ret_path = json_string_value(json_object_get(n, "path"));
                        return true;
                }
        }
        return false;
}

/* ---------------------------------------------------------------- process */

static void test_entrypoint_cmd(void **state)
{
        const char *img = "{\"Entrypoint\": [\"/docker-entrypoint.sh\"], \"Cmd\": [\"nginx\", "
                          "\"-g\", \"daemon off;\"]}";
        _cleanup_json_ json_t *a = build("{}", img);
        assert_json(a, "process.args",
                    "[\"/docker-entrypoint.sh\",\"nginx\",\"-g\",\"daemon off;\"]");
        /* container Cmd replaces the image's, image Entrypoint stays */
        _cleanup_json_ json_t *b = build("{\"Cmd\": [\"sh\"]}", img);
        assert_json(b, "process.args", "[\"/docker-entrypoint.sh\",\"sh\"]");
        /* container Entrypoint drops the image's Cmd */
        _cleanup_json_ json_t *c = build("{\"Entrypoint\": [\"/bin/echo\"]}", img);
        assert_json(c, "process.args", "[\"/bin/echo\"]");
        _cleanup_json_ json_t *d =
            build("{\"Entrypoint\": [\"/bin/echo\"], \"Cmd\": [\"hi\"]}", img);
        assert_json(d, "process.args", "[\"/bin/echo\",\"hi\"]");
        /* cleared Entrypoint ([] from docker CLI, [""] from older clients) keeps image Cmd */
        _cleanup_json_ json_t *e = build("{\"Entrypoint\": []}", img);
        assert_json(e, "process.args", "[\"nginx\",\"-g\",\"daemon off;\"]");
        _cleanup_json_ json_t *f = build("{\"Entrypoint\": [\"\"], \"Cmd\": [\"ls\"]}", img);
        assert_json(f, "process.args", "[\"ls\"]");
        /* StrSlice: a plain string is one element; null means absent */
        _cleanup_json_ json_t *g = build("{\"Entrypoint\": null, \"Cmd\": \"top\"}", img);
        assert_json(g, "process.args", "[\"/docker-entrypoint.sh\",\"top\"]");
        build_bad("{\"Entrypoint\": []}", "{\"Entrypoint\": [\"x\"]}", "No command specified");
        build_bad("{}", NULL, "No command specified");
        build_bad("{\"Cmd\": [1]}", NULL, "`Cmd`");
        /* Init prefixes the args and binds the init binary read-only */
        _cleanup_json_ json_t *h =
            build("{\"Cmd\": [\"sleep\", \"1\"], \"HostConfig\": {\"Init\": true}}", NULL);
        assert_json(h, "process.args", "[\"/sbin/docker-init\",\"--\",\"sleep\",\"1\"]");
        json_t *m = find_mount(h, "/sbin/docker-init");
        assert_non_null(m);
        assert_string_equal(json_string_value(json_object_get(m, "source")),
                            "/usr/libexec/berth/docker-init");
        assert_true(has_str(json_object_get(m, "options"), "ro"));
        struct spec_ctx noinit = ctx_default();
        noinit.init_path = NULL;
        build_bad_ctx("{\"Cmd\": [\"x\"], \"HostConfig\": {\"Init\": true}}", NULL, &noinit, EINVAL,
                      "init");
}

static void test_env(void **state)
{
        const char *img = "{\"Env\": [\"PATH=/opt/bin:/usr/bin\", \"A=image\", \"B=image\", "
                          "\"GONE=x\"], \"Cmd\": [\"sh\"]}";
        _cleanup_json_ json_t *a =
            build("{\"Env\": [\"B=user\", \"C=user\", \"GONE\"], \"Hostname\": \"web\"}", img);
        assert_json(a, "process.env",
                    "[\"PATH=/opt/bin:/usr/bin\",\"HOSTNAME=web\",\"B=user\",\"C=user\","
                    "\"A=image\"]");
        /* defaults: PATH, HOSTNAME (12 chars of the id), TERM only with a tty */
        _cleanup_json_ json_t *b = build("{\"Cmd\": [\"sh\"], \"Tty\": true}", NULL);
        assert_json(b, "process.env",
                    "[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\","
                    "\"HOSTNAME=0123456789ab\",\"TERM=xterm\"]");
        assert_json(b, "process.terminal", "true");
        assert_json(b, "process.consoleSize", "<absent>");
        assert_json(b, "hostname", "\"0123456789ab\"");
        _cleanup_json_ json_t *b2 = build(
            "{\"Cmd\": [\"sh\"], \"Tty\": true, \"HostConfig\": {\"ConsoleSize\": [40, 120]}}",
            NULL);
        assert_json(b2, "process.consoleSize", "{\"height\":40,\"width\":120}");
        _cleanup_json_ json_t *c =
            build("{\"Cmd\": [\"sh\"], \"Env\": [\"TERM=vt100\"], \"Tty\": true}", NULL);
        assert_json(c, "process.env.2", "\"TERM=vt100\"");
        assert_json(c, "process.terminal", "true");
        _cleanup_json_ json_t *d = build("{\"Cmd\": [\"sh\"]}", NULL);
        assert_json(d, "process.terminal", "false");
        assert_int_equal(json_array_size(jpath(d, "process.env")), 2);
}

static void test_cwd_hostname(void **state)
{
        _cleanup_json_ json_t *a = build("{\"Cmd\": [\"sh\"]}", "{\"WorkingDir\": \"/app\"}");
        assert_json(a, "process.cwd", "\"/app\"");
        _cleanup_json_ json_t *b =
            build("{\"Cmd\": [\"sh\"], \"WorkingDir\": \"/srv\"}", "{\"WorkingDir\": \"/app\"}");
        assert_json(b, "process.cwd", "\"/srv\"");
        _cleanup_json_ json_t *c = build("{\"Cmd\": [\"sh\"], \"WorkingDir\": \"\"}", NULL);
        assert_json(c, "process.cwd", "\"/\"");
        build_bad("{\"Cmd\": [\"sh\"], \"WorkingDir\": \"rel\"}", NULL, "absolute path");
        build_bad("{\"Cmd\": [\"sh\"], \"Hostname\": \"a/b\"}", NULL,
                  "invalid hostname format: a/b");
        build_bad("{\"Cmd\": [\"sh\"], \"Hostname\": \"-x\"}", NULL, "invalid hostname format");
        build_bad("{\"Cmd\": [\"sh\"], \"Hostname\": "
                  "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
                  NULL, "invalid hostname format");
        build_bad("{\"Cmd\": [\"sh\"], \"Domainname\": \"a..b\"}", NULL,
                  "invalid domainname format");
        _cleanup_json_ json_t *f =
            build("{\"Cmd\": [\"sh\"], \"Hostname\": \"web-1.example\"}", NULL);
        assert_json(f, "hostname", "\"web-1.example\"");
        struct spec_ctx ctx = ctx_default();
        ctx.hostname = "from-ctx";
        _cleanup_json_ json_t *d =
            build_ctx("{\"Cmd\": [\"sh\"], \"Domainname\": \"example.org\"}", NULL, &ctx);
        assert_json(d, "hostname", "\"from-ctx\"");
        assert_json(d, "domainname", "\"example.org\"");
        _cleanup_json_ json_t *e =
            build_ctx("{\"Cmd\": [\"sh\"], \"Hostname\": \"mine\"}", NULL, &ctx);
        assert_json(e, "hostname", "\"mine\"");
        assert_string_equal(json_string_value(jpath(e, "root.path")), rootfs);
}

static void test_user(void **state)
{
        static const struct {
                const char *user, *group_add, *expect;
        } cases[] = {
            {"", NULL, "{\"uid\":0,\"gid\":0,\"additionalGids\":[0]}"},
            {"alice", NULL, "{\"uid\":1000,\"gid\":1000,\"additionalGids\":[1000,100,50]}"},
            {"1000", NULL, "{\"uid\":1000,\"gid\":1000,\"additionalGids\":[1000,100,50]}"},
            {"alice:staff", NULL, "{\"uid\":1000,\"gid\":50,\"additionalGids\":[50]}"},
            {"alice:44", NULL, "{\"uid\":1000,\"gid\":44,\"additionalGids\":[44]}"},
            {"alice:4000", NULL, "{\"uid\":1000,\"gid\":4000,\"additionalGids\":[4000]}"},
            {"bob", NULL, "{\"uid\":1001,\"gid\":100,\"additionalGids\":[100,29]}"},
            {"4242", NULL, "{\"uid\":4242,\"gid\":0,\"additionalGids\":[0]}"},
            {"4242:4243", NULL, "{\"uid\":4242,\"gid\":4243,\"additionalGids\":[4243]}"},
            {"nogroup-user", NULL, "{\"uid\":1002,\"gid\":4242,\"additionalGids\":[4242]}"},
            {"daemon", "[\"video\", \"777\", \"staff\"]",
             "{\"uid\":1,\"gid\":1,\"additionalGids\":[1,44,777,50]}"},
            {"alice", "[\"users\"]",
             "{\"uid\":1000,\"gid\":1000,\"additionalGids\":[1000,100,50]}"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                _cleanup_free_ char *create = xasprintf(
                    "{\"Cmd\": [\"id\"], \"User\": \"%s\", \"HostConfig\": {\"GroupAdd\": %s}}",
                    cases[i].user, cases[i].group_add ? cases[i].group_add : "null");
                _cleanup_json_ json_t *s = build(create, NULL);
                _cleanup_free_ char *got = jtext(s, "process.user");
                if (strcmp(got, cases[i].expect))
                        fail_msg("User %s: got %s, want %s", cases[i].user, got, cases[i].expect);
        }
        /* the image's User applies unless the container names one */
        _cleanup_json_ json_t *a = build("{\"Cmd\": [\"id\"]}", "{\"User\": \"bob\"}");
        assert_json(a, "process.user.uid", "1001");
        build_bad("{\"Cmd\": [\"id\"], \"User\": \"carol\"}", NULL,
                  "unable to find user carol: no matching entries in passwd file");
        build_bad("{\"Cmd\": [\"id\"], \"User\": \"alice:nogroup\"}", NULL,
                  "unable to find group nogroup: no matching entries in group file");
        build_bad("{\"Cmd\": [\"id\"], \"HostConfig\": {\"GroupAdd\": [\"nope\"]}}", NULL,
                  "Unable to find group nope");
        build_bad("{\"Cmd\": [\"id\"], \"User\": \"99999999999\"}", NULL, "out of range");
        /* a malformed uid never becomes 0 */
        build_bad("{\"Cmd\": [\"id\"], \"User\": \"broken\"}", NULL, "unable to find user broken");
}

/* /etc/passwd and /etc/group symlinked out of the rootfs: the host files are never read. */
static void test_user_symlink_escape(void **state)
{
        /* below cache_root: teardown removes it even when an assertion fails half-way */
        _cleanup_free_ char *other = xasprintf("%s/root2", cache_root);
        assert_int_equal(mkdir(other, 0755), 0);
        _cleanup_free_ char *etc = xasprintf("%s/etc", other);
        assert_int_equal(mkdir(etc, 0755), 0);
        _cleanup_free_ char *pw = xasprintf("%s/passwd", etc);
        _cleanup_free_ char *gr = xasprintf("%s/group", etc);
        assert_int_equal(symlink(hostfile, pw), 0);
        _cleanup_free_ char *rel = xasprintf("../../../../../../../..%s", hostfile);
        assert_int_equal(symlink(rel, gr), 0);
        struct spec_ctx ctx = ctx_default();
        ctx.rootfs = other;
        build_bad_ctx("{\"Cmd\": [\"id\"], \"User\": \"evil\"}", NULL, &ctx, EINVAL,
                      "unable to find user evil");
        /* the host file maps uid 4242 to gid 4242 and names root: neither is seen */
        build_bad_ctx("{\"Cmd\": [\"id\"], \"User\": \"root\"}", NULL, &ctx, EINVAL,
                      "unable to find user root");
        _cleanup_json_ json_t *s = build_ctx("{\"Cmd\": [\"id\"], \"User\": \"4242\"}", NULL, &ctx);
        assert_json(s, "process.user", "{\"uid\":4242,\"gid\":0,\"additionalGids\":[0]}");
        /* a FIFO as /etc/passwd must not block */
        unlink(pw);
        assert_int_equal(mkfifo(pw, 0644), 0);
        build_bad_ctx("{\"Cmd\": [\"id\"], \"User\": \"alice\"}", NULL, &ctx, EINVAL,
                      "unable to find user alice");
        /* a directory /etc missing entirely: numeric users still work */
        berth_rm_rf_at(AT_FDCWD, etc, NULL);
        _cleanup_json_ json_t *t = build_ctx("{\"Cmd\": [\"id\"], \"User\": \"5:6\"}", NULL, &ctx);
        assert_json(t, "process.user", "{\"uid\":5,\"gid\":6,\"additionalGids\":[6]}");
        berth_rm_rf_at(AT_FDCWD, other, NULL);
}

/* ---------------------------------------------------------------- capabilities */

static const char *const docker_default_caps =
    "[\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\",\"CAP_FSETID\",\"CAP_FOWNER\",\"CAP_MKNOD\","
    "\"CAP_NET_RAW\",\"CAP_SETGID\",\"CAP_SETUID\",\"CAP_SETFCAP\",\"CAP_SETPCAP\","
    "\"CAP_NET_BIND_SERVICE\",\"CAP_SYS_CHROOT\",\"CAP_KILL\",\"CAP_AUDIT_WRITE\"]";

static void test_caps(void **state)
{
        _cleanup_json_ json_t *a = build("{\"Cmd\": [\"sh\"]}", NULL);
        assert_json(a, "process.capabilities.bounding", docker_default_caps);
        assert_json(a, "process.capabilities.effective", docker_default_caps);
        assert_json(a, "process.capabilities.permitted", docker_default_caps);
        /* CVE-2022-29162: never inheritable or ambient */
        assert_json(a, "process.capabilities.inheritable", "<absent>");
        assert_json(a, "process.capabilities.ambient", "<absent>");
        assert_json(a, "process.noNewPrivileges", "false");

        _cleanup_json_ json_t *b = build("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"CapAdd\": "
                                         "[\"net_admin\", \"CAP_SYS_TIME\", \"Sys_Ptrace\"], "
                                         "\"CapDrop\": [\"MKNOD\", \"cap_net_raw\"]}}",
                                         NULL);
        json_t *bb = jpath(b, "process.capabilities.bounding");
        assert_int_equal(json_array_size(bb), 15);
        assert_true(has_str(bb, "CAP_NET_ADMIN"));
        assert_true(has_str(bb, "CAP_SYS_TIME"));
        assert_true(has_str(bb, "CAP_SYS_PTRACE"));
        assert_false(has_str(bb, "CAP_MKNOD"));
        assert_false(has_str(bb, "CAP_NET_RAW"));

        _cleanup_json_ json_t *c = build("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"CapDrop\": "
                                         "[\"all\"], \"CapAdd\": [\"chown\"]}}",
                                         NULL);
        assert_json(c, "process.capabilities.bounding", "[\"CAP_CHOWN\"]");
        _cleanup_json_ json_t *d =
            build("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"CapDrop\": [\"ALL\"]}}", NULL);
        assert_json(d, "process.capabilities.bounding", "[]");
        _cleanup_json_ json_t *e = build("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"CapAdd\": "
                                         "[\"ALL\"], \"CapDrop\": [\"MKNOD\"]}}",
                                         NULL);
        _cleanup_strv_ char **all = spec_caps_all();
        json_t *eb = jpath(e, "process.capabilities.bounding");
        assert_int_equal(json_array_size(eb), strv_length(all) - 1);
        assert_true(has_str(eb, "CAP_SYS_ADMIN"));
        assert_false(has_str(eb, "CAP_MKNOD"));
        _cleanup_json_ json_t *f =
            build("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Privileged\": true, "
                  "\"CapDrop\": [\"ALL\"]}}",
                  NULL);
        assert_int_equal(json_array_size(jpath(f, "process.capabilities.bounding")),
                         strv_length(all));
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"CapAdd\": [\"CAP_BOGUS\"]}}", NULL,
                  "unknown capability: \"CAP_BOGUS\"");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"CapDrop\": \"CHOWN\"}}", NULL, "CapDrop");
}

/* ---------------------------------------------------------------- resources */

static void test_resources(void **state)
{
        _cleanup_json_ json_t *a = build(
            "{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Memory\": 67108864, \"MemoryReservation\": "
            "33554432, \"NanoCpus\": 1500000000, \"CpuShares\": 512, \"CpusetCpus\": \"0\", "
            "\"CpusetMems\": \"0\", \"PidsLimit\": 100, \"BlkioWeight\": 300, \"OomKillDisable\": "
            "true}}",
            NULL);
        assert_json(a, "linux.resources.memory",
                    "{\"limit\":67108864,\"swap\":134217728,\"reservation\":33554432,"
                    "\"disableOOMKiller\":true}");
        assert_json(a, "linux.resources.cpu",
                    "{\"period\":100000,\"quota\":150000,\"shares\":512,\"cpus\":\"0\",\"mems\":"
                    "\"0\"}");
        assert_json(a, "linux.resources.pids", "{\"limit\":100}");
        assert_json(a, "linux.resources.blockIO", "{\"weight\":300}");
        assert_json(a, "linux.cgroupsPath", "\"/berth/" ID "\"");

        _cleanup_json_ json_t *b =
            build("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Memory\": 67108864, "
                  "\"MemorySwap\": -1, \"PidsLimit\": -1, \"CpuQuota\": "
                  "50000, \"CpuPeriod\": 200000}}",
                  NULL);
        assert_json(b, "linux.resources.memory", "{\"limit\":67108864,\"swap\":-1}");
        assert_json(b, "linux.resources.cpu", "{\"quota\":50000,\"period\":200000}");
        assert_json(b, "linux.resources.pids", "<absent>");
        _cleanup_json_ json_t *c =
            build("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Memory\": 67108864, "
                  "\"MemorySwap\": 100000000, \"PidsLimit\": 0, "
                  "\"CgroupParent\": \"custom.slice\"}}",
                  NULL);
        assert_json(c, "linux.resources.memory", "{\"limit\":67108864,\"swap\":100000000}");
        assert_json(c, "linux.cgroupsPath", "\"/custom.slice/" ID "\"");
        struct spec_ctx ctx = ctx_default();
        ctx.cgroup_parent = "engine";
        _cleanup_json_ json_t *d = build_ctx("{\"Cmd\": [\"sh\"]}", NULL, &ctx);
        assert_json(d, "linux.cgroupsPath", "\"/engine/" ID "\"");
        assert_json(d, "linux.resources.memory", "<absent>");
        assert_json(d, "linux.resources.cpu", "<absent>");

        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"NanoCpus\": 1000000000, \"CpuPeriod\": "
                  "100000}}",
                  NULL, "Conflicting options: Nano CPUs and CPU Period cannot both be set");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"NanoCpus\": 1000000000, \"CpuQuota\": "
                  "100000}}",
                  NULL, "Conflicting options: Nano CPUs and CPU Quota cannot both be set");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"NanoCpus\": 100000000000000}}", NULL,
                  "Range of CPUs is from 0.01");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"BlkioWeight\": 5}}", NULL,
                  "Range of blkio weight is from 10 to 1000");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"BlkioWeight\": 1001}}", NULL,
                  "Range of blkio weight is from 10 to 1000");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Memory\": 1000}}", NULL,
                  "Minimum memory limit allowed is 6MB");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Memory\": 67108864, \"MemorySwap\": "
                  "1000}}",
                  NULL, "Minimum memoryswap limit should be larger than memory limit");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"MemorySwap\": 67108864}}", NULL,
                  "You should always set the Memory limit when using Memoryswap limit");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Memory\": 16777216, "
                  "\"MemoryReservation\": 33554432}}",
                  NULL, "Minimum memory limit can not be less than memory reservation limit");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"CpuPeriod\": 10}}", NULL,
                  "CPU cfs period can not be less than 1ms");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"CpuQuota\": 10}}", NULL,
                  "CPU cfs quota can not be less than 1ms");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"CpusetCpus\": \"0-a\"}}", NULL,
                  "Invalid value 0-a for cpuset cpus");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Memory\": \"1g\"}}", NULL, "`Memory`");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"OomScoreAdj\": 1001}}", NULL,
                  "range for oom score adj is [-1000, 1000]");
        _cleanup_json_ json_t *e =
            build("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"OomScoreAdj\": 500}}", NULL);
        assert_json(e, "process.oomScoreAdj", "500");
}

static void test_annotations(void **state)
{
        _cleanup_json_ json_t *a = build(
            "{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Annotations\": {\"org.example.k\": \"v\", "
            "\"x\": \"\"}}}",
            NULL);
        json_t *an = json_object_get(a, "annotations");
        assert_int_equal(json_object_size(an), 2);
        assert_string_equal(json_string_value(json_object_get(an, "org.example.k")), "v");
        assert_string_equal(json_string_value(json_object_get(an, "x")), "");
        _cleanup_json_ json_t *none = build("{\"Cmd\": [\"sh\"], \"HostConfig\": {}}", NULL);
        assert_null(json_object_get(none, "annotations"));
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Annotations\": {\"\": \"v\"}}}", NULL,
                  "invalid Annotations: the empty string is not permitted as an annotation key");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Annotations\": {\"k\": 1}}}", NULL,
                  "invalid value for `Annotations`: expected a map of strings");
        (void)state;
}

static void test_ulimits_sysctls(void **state)
{
        _cleanup_json_ json_t *a = build(
            "{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Ulimits\": [{\"Name\": \"nofile\", \"Soft\": "
            "1024, \"Hard\": 2048}, {\"Name\": \"core\", \"Soft\": -1, \"Hard\": -1}], "
            "\"Sysctls\": {\"net.ipv4.ip_forward\": \"1\", \"kernel.shmmax\": \"1000000\", "
            "\"fs.mqueue.msg_max\": \"20\"}}}",
            NULL);
        assert_json(a, "process.rlimits.0",
                    "{\"type\":\"RLIMIT_NOFILE\",\"hard\":2048,\"soft\":1024}");
        assert_json(a, "process.rlimits.1.type", "\"RLIMIT_CORE\"");
        assert_json(a, "linux.sysctl.net.ipv4.ip_forward", "<absent>"); /* dotted key: see below */
        assert_string_equal(
            json_string_value(json_object_get(jpath(a, "linux.sysctl"), "net.ipv4.ip_forward")),
            "1");
        assert_int_equal(json_object_size(jpath(a, "linux.sysctl")), 3);
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Ulimits\": [{\"Name\": \"nofile\", "
                  "\"Soft\": 4096, \"Hard\": 1024}]}}",
                  NULL, "ulimit soft limit must be less than or equal to hard limit: 4096 > 1024");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Ulimits\": [{\"Name\": \"bogus\", "
                  "\"Soft\": 1, \"Hard\": 1}]}}",
                  NULL, "invalid ulimit type: bogus");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Sysctls\": {\"kernel.panic\": \"1\"}}}",
                  NULL, "sysctl kernel.panic is not allowed");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"NetworkMode\": \"host\", \"Sysctls\": "
                  "{\"net.ipv4.ip_forward\": \"1\"}}}",
                  NULL, "host network");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"IpcMode\": \"host\", \"Sysctls\": "
                  "{\"kernel.shmmax\": \"1\"}}}",
                  NULL, "host IPC");
}

static void test_blkio_devices(void **state)
{
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"BlkioDeviceReadBps\": [{\"Path\": "
                  "\"/dev/null\", \"Rate\": 1048576}]}}",
                  NULL, "is not a block device");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"BlkioDeviceWriteIOps\": [{\"Path\": "
                  "\"/dev/nope\", \"Rate\": 10}]}}",
                  NULL, "BlkioDeviceWriteIOps: `/dev/nope`");
        /* any block device of this machine */
        _cleanup_dir_ DIR *d = opendir("/dev");
        struct dirent *de;
        struct stat st;
        char path[300] = "";
        while (d && (de = readdir(d))) {
                snprintf(path, sizeof(path), "/dev/%s", de->d_name);
                if (lstat(path, &st) == 0 && S_ISBLK(st.st_mode))
                        break;
                path[0] = '\0';
        }
        if (!path[0])
                skip();
        _cleanup_free_ char *create = xasprintf(
            "{\"Cmd\": [\"sh\"], \"HostConfig\": {\"BlkioWeight\": 100, \"BlkioWeightDevice\": "
            "[{\"Path\": \"%s\", \"Weight\": 200}], \"BlkioDeviceReadBps\": [{\"Path\": \"%s\", "
            "\"Rate\": 1048576}], \"BlkioDeviceWriteIOps\": [{\"Path\": \"%s\", \"Rate\": 10}]}}",
            path, path, path);
        _cleanup_json_ json_t *a = build(create, NULL);
        _cleanup_free_ char *want = xasprintf(
            "{\"weight\":100,\"weightDevice\":[{\"major\":%u,\"minor\":%u,\"weight\":200}],"
            "\"throttleReadBpsDevice\":[{\"major\":%u,\"minor\":%u,\"rate\":1048576}],"
            "\"throttleWriteIOPSDevice\":[{\"major\":%u,\"minor\":%u,\"rate\":10}]}",
            major(st.st_rdev), minor(st.st_rdev), major(st.st_rdev), minor(st.st_rdev),
            major(st.st_rdev), minor(st.st_rdev));
        assert_json(a, "linux.resources.blockIO", want);
}

/* ---------------------------------------------------------------- security */

static json_t *find_rule(json_t *spec, const char *name)
{
        size_t i;
        json_t *r;
        json_array_foreach(jpath(spec, "linux.seccomp.syscalls"), i, r)
        {
                if (has_str(json_object_get(r, "names"), name))
                        return r;
        }
        return NULL;
}

static void test_defaults_and_privileged(void **state)
{
        _cleanup_json_ json_t *a = build("{\"Cmd\": [\"sh\"]}", NULL);
        json_t *masked = jpath(a, "linux.maskedPaths");
        assert_true(has_str(masked, "/proc/kcore"));
        assert_true(has_str(masked, "/proc/interrupts"));
        assert_true(has_str(masked, "/sys/devices/virtual/powercap"));
        assert_json(
            a, "linux.readonlyPaths",
            "[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\",\"/proc/sysrq-trigger\"]");
        assert_json(a, "linux.resources.devices.0", "{\"allow\":false,\"access\":\"rwm\"}");
        assert_json(a, "linux.resources.devices.2",
                    "{\"allow\":true,\"access\":\"rwm\",\"type\":\"c\",\"major\":1,\"minor\":3}");
        assert_json(a, "linux.seccomp.defaultAction", "\"SCMP_ACT_ERRNO\"");
        assert_true(has_str(json_object_get(find_mount(a, "/sys"), "options"), "ro"));
        assert_true(has_str(json_object_get(find_mount(a, "/sys/fs/cgroup"), "options"), "ro"));
        assert_json(a, "root.readonly", "false");

        _cleanup_json_ json_t *p =
            build("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Privileged\": true}}", NULL);
        assert_json(p, "linux.seccomp", "<absent>");
        assert_json(p, "linux.maskedPaths", "<absent>");
        assert_json(p, "linux.readonlyPaths", "<absent>");
        assert_json(p, "linux.resources.devices", "[{\"allow\":true,\"access\":\"rwm\"}]");
        assert_false(has_str(json_object_get(find_mount(p, "/sys"), "options"), "ro"));
        assert_false(has_str(json_object_get(find_mount(p, "/sys/fs/cgroup"), "options"), "ro"));
        /* every host device node, e.g. /dev/null 1:3 */
        bool null_found = false;
        size_t i;
        json_t *d;
        json_array_foreach(jpath(p, "linux.devices"), i, d)
        {
                const char *path = json_string_value(json_object_get(d, "path"));
                assert_true(strcmp(path, "/dev/ptmx") && strcmp(path, "/dev/console"));
                assert_true(strncmp(path, "/dev/pts/", 9));
                if (!strcmp(path, "/dev/null")) {
                        null_found = true;
                        assert_json(d, "major", "1");
                        assert_json(d, "minor", "3");
                        assert_json(d, "type", "\"c\"");
                }
        }
        assert_true(null_found);

        /* read-only rootfs: the bound files and /sys become ro too, /dev stays writable */
        _cleanup_json_ json_t *r =
            build("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"ReadonlyRootfs\": true, \"ShmSize\": "
                  "1048576, \"SecurityOpt\": [\"no-new-privileges\", \"systempaths=unconfined\"]}}",
                  NULL);
        assert_json(r, "root.readonly", "true");
        assert_true(has_str(json_object_get(find_mount(r, "/etc/hosts"), "options"), "ro"));
        assert_false(has_str(json_object_get(find_mount(r, "/dev"), "options"), "ro"));
        assert_true(has_str(json_object_get(find_mount(r, "/dev/shm"), "options"), "size=1024k"));
        assert_json(r, "process.noNewPrivileges", "true");
        assert_json(r, "linux.maskedPaths", "<absent>");
        _cleanup_json_ json_t *n = build(
            "{\"Cmd\": [\"sh\"], \"HostConfig\": {\"SecurityOpt\": [\"no-new-privileges:false\", "
            "\"label=disable\", \"apparmor=unconfined\"]}}",
            NULL);
        assert_json(n, "process.noNewPrivileges", "false");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"SecurityOpt\": [\"bogus\"]}}", NULL,
                  "invalid --security-opt 1: \"bogus\"");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"SecurityOpt\": [\"foo=bar\"]}}", NULL,
                  "invalid --security-opt 2");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"SecurityOpt\": "
                  "[\"no-new-privileges=maybe\"]}}",
                  NULL, "invalid --security-opt 2");
}

static void test_seccomp(void **state)
{
        /* the default profile, filtered for the default capabilities */
        _cleanup_json_ json_t *a = build("{\"Cmd\": [\"sh\"]}", NULL);
        assert_json(a, "linux.seccomp.defaultErrnoRet", "1");
#if defined(__x86_64__)
        assert_json(a, "linux.seccomp.architectures",
                    "[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"]");
        assert_non_null(find_rule(a, "arch_prctl"));
#endif
        assert_non_null(find_rule(a, "read"));
        assert_non_null(find_rule(a, "chroot")); /* CAP_SYS_CHROOT is a default */
        assert_null(find_rule(a, "mount"));
        assert_null(find_rule(a, "ptrace"));
        json_t *c3 = find_rule(a, "clone3");
        assert_non_null(c3);
        assert_json(c3, "action", "\"SCMP_ACT_ERRNO\"");
        assert_json(c3, "errnoRet", "38");
        assert_json(c3, "includes", "<absent>");
        assert_json(c3, "excludes", "<absent>");
        /* CAP_SYS_ADMIN opens the mount group and drops the clone restrictions */
        _cleanup_json_ json_t *b =
            build("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"CapAdd\": [\"SYS_ADMIN\", "
                  "\"SYS_PTRACE\"]}}",
                  NULL);
        assert_non_null(find_rule(b, "mount"));
        assert_non_null(find_rule(b, "ptrace"));
        json_t *c3b = find_rule(b, "clone3");
        assert_string_equal(json_string_value(json_object_get(c3b, "action")), "SCMP_ACT_ALLOW");
        /* dropping CAP_SYS_CHROOT removes chroot */
        _cleanup_json_ json_t *c =
            build("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"CapDrop\": [\"SYS_CHROOT\"]}}", NULL);
        assert_null(find_rule(c, "chroot"));
        /* unconfined */
        _cleanup_json_ json_t *d = build(
            "{\"Cmd\": [\"sh\"], \"HostConfig\": {\"SecurityOpt\": [\"seccomp=unconfined\"]}}",
            NULL);
        assert_json(d, "linux.seccomp", "<absent>");
        _cleanup_json_ json_t *d2 = build(
            "{\"Cmd\": [\"sh\"], \"HostConfig\": {\"SecurityOpt\": [\"seccomp:unconfined\"]}}",
            NULL);
        assert_json(d2, "linux.seccomp", "<absent>");
        /* a custom profile as the docker CLI sends it: the JSON text after "seccomp=" */
        const char *profile =
            "{\\\"defaultAction\\\": \\\"SCMP_ACT_ALLOW\\\", \\\"architectures\\\": "
            "[\\\"SCMP_ARCH_X86_64\\\"], \\\"syscalls\\\": [{\\\"name\\\": \\\"mkdir\\\", "
            "\\\"action\\\": \\\"SCMP_ACT_ERRNO\\\", \\\"errnoRet\\\": 13}, {\\\"names\\\": "
            "[\\\"reboot\\\"], \\\"action\\\": \\\"SCMP_ACT_ERRNO\\\", \\\"excludes\\\": "
            "{\\\"caps\\\": [\\\"CAP_SYS_BOOT\\\"]}}, {\\\"names\\\": [\\\"swapon\\\"], "
            "\\\"action\\\": \\\"SCMP_ACT_ERRNO\\\", \\\"includes\\\": {\\\"caps\\\": "
            "[\\\"CAP_SYS_ADMIN\\\"]}}, {\\\"names\\\": [\\\"personality\\\"], \\\"action\\\": "
            "\\\"SCMP_ACT_ERRNO\\\", \\\"args\\\": [{\\\"index\\\": 0, \\\"value\\\": 8, "
            "\\\"op\\\": \\\"SCMP_CMP_EQ\\\"}], \\\"comment\\\": \\\"x\\\"}, {\\\"names\\\": "
            "[\\\"acct\\\"], \\\"action\\\": \\\"SCMP_ACT_ERRNO\\\", \\\"includes\\\": "
            "{\\\"minKernel\\\": \\\"99.0\\\"}}]}";
        _cleanup_free_ char *create = xasprintf(
            "{\"Cmd\": [\"sh\"], \"HostConfig\": {\"SecurityOpt\": [\"seccomp=%s\"]}}", profile);
        _cleanup_json_ json_t *e = build(create, NULL);
        assert_json(
            e, "linux.seccomp",
            "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\"],"
            "\"syscalls\":[{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\","
            "\"errnoRet\":13},{\"names\":[\"reboot\"],\"action\":\"SCMP_ACT_ERRNO\"},"
            "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{"
            "\"index\":0,\"value\":8,\"op\":\"SCMP_CMP_EQ\"}]}]}");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"SecurityOpt\": [\"seccomp={nope\"]}}",
                  NULL, "decoding seccomp profile failed");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"SecurityOpt\": [\"seccomp={}\"]}}", NULL,
                  "defaultAction");
        build_bad(
            "{\"Cmd\": [\"sh\"], \"HostConfig\": {\"SecurityOpt\": [\"seccomp={"
            "\\\"defaultAction\\\": \\\"SCMP_ACT_ALLOW\\\", \\\"syscalls\\\": [{\\\"name\\\": "
            "\\\"a\\\", \\\"names\\\": [\\\"b\\\"], \\\"action\\\": \\\"SCMP_ACT_ALLOW\\\"}]}\"]}}",
            NULL, "use either 'name' or 'names'");
        struct spec_ctx ctx = ctx_default();
        ctx.seccomp_default_path = "/nonexistent/default.json";
        build_bad_ctx("{\"Cmd\": [\"sh\"]}", NULL, &ctx, EIO, "default seccomp profile");
}

/* The default profile is cached, and reloaded when its file changes. */
static void test_seccomp_default_reload(void **state)
{
        _cleanup_free_ char *path = xasprintf("%s/profile.json", cache_root);
        _cleanup_free_ char *text = NULL;
        assert_int_equal(berth_read_file_at(AT_FDCWD, seccomp_path, 1 << 20, &text, NULL, NULL), 0);
        write_file(cache_root, "profile.json", text);
        struct spec_ctx ctx = ctx_default();
        ctx.seccomp_default_path = path;
        _cleanup_json_ json_t *a = build_ctx("{\"Cmd\": [\"sh\"]}", NULL, &ctx);
        assert_non_null(find_rule(a, "chroot"));
        _cleanup_json_ json_t *a2 = build_ctx("{\"Cmd\": [\"sh\"]}", NULL, &ctx);
        assert_true(json_equal(jpath(a, "linux.seccomp"), jpath(a2, "linux.seccomp")));
        static const char other[] = "{\"defaultAction\": \"SCMP_ACT_LOG\", \"syscalls\": "
                                    "[{\"names\": [\"chroot\"], \"action\": \"SCMP_ACT_ERRNO\"}]}";
        write_file(cache_root, "profile.json", other);
        _cleanup_json_ json_t *b = build_ctx("{\"Cmd\": [\"sh\"]}", NULL, &ctx);
        assert_json(b, "linux.seccomp",
                    "{\"defaultAction\":\"SCMP_ACT_LOG\",\"syscalls\":[{\"names\":[\"chroot\"],"
                    "\"action\":\"SCMP_ACT_ERRNO\"}]}");
        /* a broken default profile is an error, not an unconfined container */
        write_file(cache_root, "profile.json", "{");
        build_bad_ctx("{\"Cmd\": [\"sh\"]}", NULL, &ctx, EIO, "default seccomp profile");
        unlink(path);
}

/* The C filter matches scripts/gen-seccomp-default.py --oci for the same capabilities. */
static void test_seccomp_matches_generator(void **state)
{
#if defined(__x86_64__)
        if (access("/usr/bin/python3", X_OK) < 0)
                skip();
        _cleanup_json_ json_t *a =
            build("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"CapAdd\": [\"SYS_NICE\"], \"CapDrop\": "
                  "[\"SYS_CHROOT\"]}}",
                  NULL);
        json_t *caps = jpath(a, "process.capabilities.bounding");
        _cleanup_free_ char *cmd =
            xasprintf("/usr/bin/python3 %s/scripts/gen-seccomp-default.py --oci %s", SOURCE_ROOT,
                      seccomp_path);
        size_t i;
        json_t *c;
        json_array_foreach(caps, i, c)
        {
                char *n = xasprintf("%s %s", cmd, json_string_value(c));
                free(cmd);
                cmd = n;
        }
        FILE *f = popen(cmd, "re");
        assert_non_null(f);
        json_error_t je;
        _cleanup_json_ json_t *want = json_loadf(f, 0, &je);
        pclose(f);
        if (!want)
                fail_msg("generator output: %s", je.text);
        if (!json_equal(want, jpath(a, "linux.seccomp")))
                fail_msg("seccomp differs from the generator:\n%s\n%s",
                         berth_json_dump(want, false),
                         berth_json_dump(jpath(a, "linux.seccomp"), false));
#else
        skip();
#endif
}

static void test_devices(void **state)
{
        _cleanup_json_ json_t *a = build(
            "{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Devices\": [{\"PathOnHost\": \"/dev/null\", "
            "\"PathInContainer\": \"/dev/mynull\", \"CgroupPermissions\": \"rw\"}, "
            "{\"PathOnHost\": \"/dev/zero\"}], \"DeviceCgroupRules\": [\"c 42:* rmw\"]}}",
            NULL);
        assert_json(a, "linux.devices.0",
                    "{\"path\":\"/dev/mynull\",\"type\":\"c\",\"major\":1,\"minor\":3,"
                    "\"fileMode\":438,\"uid\":0,\"gid\":0}");
        assert_json(a, "linux.devices.1.path", "\"/dev/zero\"");
        json_t *rules = jpath(a, "linux.resources.devices");
        size_t n = json_array_size(rules);
        assert_json(rules, "8",
                    "{\"allow\":true,\"access\":\"rw\",\"type\":\"c\",\"major\":1,\"minor\":3}");
        _cleanup_free_ char *last = jtext(rules, "10");
        assert_string_equal(last,
                            "{\"allow\":true,\"access\":\"rmw\",\"type\":\"c\",\"major\":42}");
        assert_int_equal(n, 11);
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Devices\": [{\"PathOnHost\": "
                  "\"/dev/does-not-exist\"}]}}",
                  NULL, "error gathering device information while adding custom device");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Devices\": [{\"PathOnHost\": "
                  "\"/etc/hostname\"}]}}",
                  NULL, "not a device node");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Devices\": [{\"PathOnHost\": "
                  "\"/dev/null\", \"CgroupPermissions\": \"rwx\"}]}}",
                  NULL, "invalid device cgroup permissions");
        /* a directory of devices only below /dev (found by the fuzzer: "/" stalled the daemon) */
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Devices\": [{\"PathOnHost\": \"/\"}]}}",
                  NULL, "not a device node");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Devices\": [{\"PathOnHost\": "
                  "\"/dev/../sys\"}]}}",
                  NULL, "not a device node");
        _cleanup_json_ json_t *b = build("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Devices\": "
                                         "[{\"PathOnHost\": \"/dev/pts\", \"PathInContainer\": "
                                         "\"/dev/hostpts\", \"CgroupPermissions\": \"r\"}]}}",
                                         NULL);
        bool ptmx = false;
        size_t i;
        json_t *d;
        json_array_foreach(jpath(b, "linux.devices"), i, d)
        {
                const char *p = json_string_value(json_object_get(d, "path"));
                assert_true(!strncmp(p, "/dev/hostpts/", 13));
                ptmx = ptmx || !strcmp(p, "/dev/hostpts/ptmx");
        }
        assert_true(ptmx);
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"DeviceCgroupRules\": [\"x 1:2 r\"]}}",
                  NULL, "invalid device cgroup rule format");
}

/* ---------------------------------------------------------------- namespaces */

static void test_namespaces(void **state)
{
        _cleanup_json_ json_t *a = build("{\"Cmd\": [\"sh\"]}", NULL);
        assert_true(has_ns(a, "mount", NULL));
        assert_true(has_ns(a, "network", NULL));
        assert_true(has_ns(a, "pid", NULL));
        assert_true(has_ns(a, "ipc", NULL));
        assert_true(has_ns(a, "uts", NULL));
        assert_false(has_ns(a, "user", NULL));
        assert_non_null(find_mount(a, "/dev/shm"));
        assert_json(find_mount(a, "/dev/shm"), "type", "\"tmpfs\"");
        assert_true(has_str(json_object_get(find_mount(a, "/dev/shm"), "options"), "size=65536k"));

        _cleanup_json_ json_t *b =
            build("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"NetworkMode\": \"host\", \"PidMode\": "
                  "\"host\", "
                  "\"IpcMode\": \"host\", \"UTSMode\": \"host\", \"UsernsMode\": \"host\", "
                  "\"CgroupnsMode\": \"host\"}}",
                  NULL);
        assert_false(has_ns(b, "network", NULL));
        assert_false(has_ns(b, "pid", NULL));
        assert_false(has_ns(b, "ipc", NULL));
        assert_false(has_ns(b, "uts", NULL));
        assert_false(has_ns(b, "cgroup", NULL));
        assert_true(has_ns(b, "mount", NULL));
        assert_json(b, "hostname", "<absent>");
        assert_json(find_mount(b, "/dev/shm"), "source", "\"/dev/shm\"");

        struct spec_ctx ctx = ctx_default();
        ctx.net_container_pid = 4242;
        ctx.pid_container_pid = 4243;
        ctx.ipc_container_pid = 4244;
        _cleanup_json_ json_t *c = build_ctx(
            "{\"Cmd\": [\"sh\"], \"HostConfig\": {\"NetworkMode\": \"container:web\", \"PidMode\": "
            "\"container:web\", \"IpcMode\": \"container:db\", \"CgroupnsMode\": \"private\"}}",
            NULL, &ctx);
        const char *path = NULL;
        assert_true(has_ns(c, "network", &path));
        assert_string_equal(path, "/proc/4242/ns/net");
        assert_true(has_ns(c, "pid", &path));
        assert_string_equal(path, "/proc/4243/ns/pid");
        assert_true(has_ns(c, "ipc", &path));
        assert_string_equal(path, "/proc/4244/ns/ipc");
        /* without the donor's shm dir: a tmpfs of its own; with it: the donor's, bound */
        assert_json(find_mount(c, "/dev/shm"), "type", "\"tmpfs\"");
        ctx.shm_path = "/var/lib/berth/containers/db/mounts/shm";
        _cleanup_json_ json_t *c3 = build_ctx(
            "{\"Cmd\": [\"sh\"], \"HostConfig\": {\"IpcMode\": \"container:db\"}}", NULL, &ctx);
        assert_json(find_mount(c3, "/dev/shm"), "type", "\"bind\"");
        assert_json(find_mount(c3, "/dev/shm"), "source",
                    "\"/var/lib/berth/containers/db/mounts/shm\"");
        assert_true(has_str(json_object_get(find_mount(c3, "/dev/shm"), "options"), "rbind"));
        assert_true(has_str(json_object_get(find_mount(c3, "/dev/shm"), "options"), "noexec"));
        assert_true(has_ns(c, "cgroup", &path));
        assert_null(path);

        _cleanup_json_ json_t *d = build("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"NetworkMode\": "
                                         "\"none\", \"IpcMode\": \"none\"}}",
                                         NULL);
        assert_true(has_ns(d, "network", NULL));
        assert_null(find_mount(d, "/dev/shm"));

        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"NetworkMode\": \"container:web\"}}", NULL,
                  "not running");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"UsernsMode\": \"private\"}}", NULL,
                  "not supported");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"IpcMode\": \"weird\"}}", NULL,
                  "invalid IPC mode: weird");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"PidMode\": \"weird\"}}", NULL,
                  "invalid PID mode: weird");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"UTSMode\": \"weird\"}}", NULL,
                  "invalid UTS mode: weird");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"CgroupnsMode\": \"weird\"}}", NULL,
                  "invalid cgroup namespace mode");
        /* a user network: the namespace the daemon prepared is joined */
        struct spec_ctx c2 = ctx_default();
        c2.netns_path = "/var/lib/berth/runtime/netns/abc";
        _cleanup_json_ json_t *e = build_ctx(
            "{\"Cmd\": [\"sh\"], \"HostConfig\": {\"NetworkMode\": \"mynet\"}}", NULL, &c2);
        assert_true(has_ns(e, "network", &path));
        assert_string_equal(path, "/var/lib/berth/runtime/netns/abc");
}

/* ---------------------------------------------------------------- mounts */

/* The generated /etc files are bound after the user's mounts: a volume at /etc (moby sorts
 * mounts parents first) must not hide them. */
static void test_etc_files_after_user_mounts(void **state)
{
        (void)state;
        struct spec_mount ms[] = {
            {.source = "/var/lib/berth/volumes/v/_data", .target = "/etc"},
        };
        struct spec_ctx ctx = ctx_default();
        ctx.mounts = ms;
        ctx.n_mounts = 1;
        _cleanup_json_ json_t *a = build_ctx("{\"Cmd\": [\"sh\"]}", NULL, &ctx);
        json_t *mounts = json_object_get(a, "mounts"), *m;
        size_t i, etc = SIZE_MAX, n_after = 0;
        json_array_foreach(mounts, i, m)
        {
                const char *dst = json_string_value(json_object_get(m, "destination"));
                if (!strcmp(dst, "/etc"))
                        etc = i;
                else if (!strncmp(dst, "/etc/", 5))
                        n_after += etc != SIZE_MAX;
        }
        assert_int_not_equal(etc, SIZE_MAX);
        assert_int_equal(n_after, 3);
        assert_string_equal(
            json_string_value(json_object_get(json_array_get(mounts, json_array_size(mounts) - 1),
                                              "destination")),
            "/etc/hosts");
}

static void test_mounts(void **state)
{
        struct spec_mount ms[] = {
            {.source = "/srv/data", .target = "/data/", .readonly = true},
            {.source = "/var/lib/berth/volumes/v/_data",
             .target = "/vol",
             .propagation = "rshared"},
            {.source = "/host/dev", .target = "/dev"},
            {.source = "/srv/flat", .target = "/flat", .non_recursive = true},
        };
        struct spec_ctx ctx = ctx_default();
        ctx.mounts = ms;
        ctx.n_mounts = 2;
        _cleanup_json_ json_t *a = build_ctx(
            "{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Tmpfs\": {\"/run\": \"rw,exec,size=1m\", "
            "\"/dev/shm\": \"\"}, \"Mounts\": [{\"Type\": \"tmpfs\", \"Target\": \"/cache\", "
            "\"TmpfsOptions\": {\"SizeBytes\": 1048576, \"Mode\": 448}}, {\"Type\": \"tmpfs\", "
            "\"Target\": \"/ro\", \"ReadOnly\": true, \"TmpfsOptions\": {\"SizeBytes\": 3000}}]}}",
            NULL, &ctx);
        assert_json(find_mount(a, "/data"), "options", "[\"rbind\",\"ro\",\"rprivate\"]");
        assert_json(find_mount(a, "/data"), "source", "\"/srv/data\"");
        assert_json(find_mount(a, "/vol"), "options", "[\"rbind\",\"rw\",\"rshared\"]");
        assert_json(a, "linux.rootfsPropagation", "\"rshared\"");
        assert_json(find_mount(a, "/run"), "options",
                    "[\"nosuid\",\"nodev\",\"rprivate\",\"rw\",\"exec\",\"size=1m\"]");
        assert_json(find_mount(a, "/run"), "type", "\"tmpfs\"");
        /* a user tmpfs at /dev/shm replaces the default one */
        json_t *shm = find_mount(a, "/dev/shm");
        assert_json(shm, "source", "\"tmpfs\"");
        size_t count = 0, i;
        json_t *m;
        json_array_foreach(json_object_get(a, "mounts"), i, m)
        {
                if (!strcmp(json_string_value(json_object_get(m, "destination")), "/dev/shm"))
                        count++;
        }
        assert_int_equal(count, 1);
        assert_json(find_mount(a, "/cache"), "options",
                    "[\"noexec\",\"nosuid\",\"nodev\",\"rprivate\",\"size=1m\",\"mode=700\"]");
        assert_json(find_mount(a, "/ro"), "options",
                    "[\"noexec\",\"nosuid\",\"nodev\",\"rprivate\",\"size=3000\",\"ro\"]");
        assert_json(find_mount(a, "/etc/hosts"), "source", "\"/var/lib/berth/containers/x/hosts\"");
        assert_json(find_mount(a, "/etc/resolv.conf"), "type", "\"bind\"");
        assert_non_null(find_mount(a, "/etc/hostname"));
        assert_json(find_mount(a, "/proc"), "type", "\"proc\"");
        assert_json(find_mount(a, "/dev/pts"), "options",
                    "[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\","
                    "\"gid=5\"]");
        assert_non_null(find_mount(a, "/dev/mqueue"));
        /* a user mount at /dev drops every default under /dev */
        ms[2] = ms[3];
        ms[3] = (struct spec_mount){.source = "/host/dev", .target = "/dev"};
        ctx.n_mounts = 4;
        _cleanup_json_ json_t *b = build_ctx("{\"Cmd\": [\"sh\"]}", NULL, &ctx);
        assert_null(find_mount(b, "/dev/pts"));
        assert_null(find_mount(b, "/dev/shm"));
        assert_json(find_mount(b, "/dev"), "source", "\"/host/dev\"");
        assert_json(find_mount(b, "/flat"), "options", "[\"bind\",\"rw\",\"rprivate\"]");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Tmpfs\": {\"rel\": \"\"}}}", NULL,
                  "mount path must be absolute");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Tmpfs\": {\"/x\": \"bogus=1\"}}}", NULL,
                  "invalid tmpfs option");
}

struct parsed {
        struct spec_mount_req *v;
        size_t n;
};

static struct parsed parse_ok(const char *hc)
{
        _cleanup_free_ char *text = xasprintf("{\"HostConfig\": %s}", hc);
        _cleanup_json_ json_t *c = json_loads(text, 0, NULL);
        assert_non_null(c);
        struct parsed p = {0};
        struct berth_error *err = NULL;
        if (daemon_spec_parse_mounts(c, &p.v, &p.n, &err) < 0)
                fail_msg("parse_mounts: %s", err->msg);
        return p;
}

static void parse_bad(const char *hc, const char *want)
{
        _cleanup_free_ char *text = xasprintf("{\"HostConfig\": %s}", hc);
        _cleanup_json_ json_t *c = json_loads(text, 0, NULL);
        assert_non_null(c);
        struct spec_mount_req *v = NULL;
        size_t n = 0;
        struct berth_error *err = NULL;
        assert_int_equal(daemon_spec_parse_mounts(c, &v, &n, &err), -EINVAL);
        assert_null(v);
        if (!strstr(err->msg, want))
                fail_msg("error `%s` does not contain `%s`", err->msg, want);
        berth_error_free(err);
}

static void test_parse_mounts(void **state)
{
        struct parsed p = parse_ok(
            "{\"Binds\": [\"/srv//data/:/data:ro,Z\", \"myvol:/var/lib/db\", "
            "\"cache:/cache:nocopy\", \"/h:/shared:rshared\"], \"Mounts\": [{\"Type\": \"bind\", "
            "\"Source\": \"/tmp\", \"Target\": \"/t\", \"ReadOnly\": true, \"BindOptions\": "
            "{\"Propagation\": \"rslave\"}}, {\"Type\": \"volume\", \"Target\": \"/anon\"}, "
            "{\"Type\": \"volume\", \"Source\": \"named\", \"Target\": \"/named\", "
            "\"VolumeOptions\": {\"NoCopy\": true}}, {\"Type\": \"tmpfs\", \"Target\": "
            "\"/tmpfs\"}], \"Tmpfs\": {\"/run\": \"\"}}");
        assert_int_equal(p.n, 7);
        assert_int_equal(p.v[0].kind, SPEC_MOUNT_BIND);
        assert_string_equal(p.v[0].source, "/srv/data");
        assert_string_equal(p.v[0].target, "/data");
        assert_true(p.v[0].readonly);
        assert_true(p.v[0].create_source);
        assert_int_equal(p.v[1].kind, SPEC_MOUNT_VOLUME);
        assert_string_equal(p.v[1].volume, "myvol");
        assert_null(p.v[1].source);
        assert_false(p.v[1].readonly);
        assert_true(p.v[2].nocopy);
        assert_string_equal(p.v[3].propagation, "rshared");
        assert_int_equal(p.v[4].kind, SPEC_MOUNT_BIND);
        assert_false(p.v[4].create_source);
        assert_string_equal(p.v[4].propagation, "rslave");
        assert_true(p.v[4].readonly);
        assert_null(p.v[5].volume);
        assert_string_equal(p.v[5].target, "/anon");
        assert_string_equal(p.v[6].volume, "named");
        assert_true(p.v[6].nocopy);
        daemon_spec_mount_reqs_free(p.v, p.n);

        struct parsed e = parse_ok("{\"Binds\": null, \"Mounts\": null}");
        assert_int_equal(e.n, 0);
        daemon_spec_mount_reqs_free(e.v, e.n);

        parse_bad("{\"Binds\": [\"/only\"]}", "invalid volume specification: '/only'");
        parse_bad("{\"Binds\": [\"a:b:c:d\"]}", "invalid volume specification: 'a:b:c:d'");
        parse_bad("{\"Binds\": [\":/x\"]}", "invalid volume specification");
        parse_bad("{\"Binds\": [\"/a:/b:rx\"]}", "invalid mode: rx");
        parse_bad("{\"Binds\": [\"/a:/b:ro,rw\"]}", "invalid mode: ro,rw");
        parse_bad("{\"Binds\": [\"/a:rel\"]}", "mount path must be absolute");
        parse_bad("{\"Binds\": [\"/a:/\"]}", "destination can't be '/'");
        parse_bad("{\"Binds\": [\"v@l:/x\"]}",
                  "includes invalid characters for a local volume name");
        parse_bad("{\"Binds\": [\"vol:/x:rshared\"]}", "propagation mode is only valid for bind");
        parse_bad("{\"Binds\": [\"/a:/x\", \"/b:/x/\"]}", "Duplicate mount point: /x");
        parse_bad("{\"Binds\": [\"/a:/x\"], \"Tmpfs\": {\"/x\": \"\"}}",
                  "Duplicate mount point: /x");
        parse_bad("{\"Mounts\": [{\"Type\": \"bind\", \"Source\": \"/does/not/exist\", \"Target\": "
                  "\"/x\"}]}",
                  "invalid mount config for type \"bind\": bind source path does not exist: "
                  "/does/not/exist");
        struct parsed q = parse_ok("{\"Mounts\": [{\"Type\": \"bind\", \"Source\": \"/not/yet\", "
                                   "\"Target\": \"/x\", \"BindOptions\": {\"CreateMountpoint\": "
                                   "true, \"NonRecursive\": true}}]}");
        assert_int_equal(q.n, 1);
        assert_true(q.v[0].create_source);
        assert_true(q.v[0].non_recursive);
        daemon_spec_mount_reqs_free(q.v, q.n);
        parse_bad("{\"Mounts\": [{\"Type\": \"bind\", \"Target\": \"/x\"}]}",
                  "field Source must not be empty");
        parse_bad("{\"Mounts\": [{\"Type\": \"bind\", \"Source\": \"/tmp\"}]}",
                  "field Target must not be empty");
        parse_bad("{\"Mounts\": [{\"Type\": \"nfs\", \"Target\": \"/x\"}]}",
                  "invalid mount config for type \"nfs\": mount type unknown");
        parse_bad("{\"Mounts\": [{\"Type\": \"tmpfs\", \"Source\": \"/tmp\", \"Target\": \"/x\"}]}",
                  "field Source must not be specified");
        parse_bad("{\"Mounts\": [{\"Type\": \"volume\", \"Target\": \"/x\", \"BindOptions\": {}}]}",
                  "field BindOptions must not be specified");
        parse_bad("{\"Mounts\": [{\"Type\": \"bind\", \"Source\": \"/tmp\", \"Target\": \"/x\", "
                  "\"BindOptions\": {\"Propagation\": \"sideways\"}}]}",
                  "invalid propagation mode");
        parse_bad(
            "{\"Mounts\": [{\"Type\": \"volume\", \"Source\": \"../x\", \"Target\": \"/x\"}]}",
            "invalid volume name");
        parse_bad("{\"Mounts\": {}}", "`Mounts`");
}

/* ---------------------------------------------------------------- exec */

static void test_exec_process(void **state)
{
        _cleanup_json_ json_t *spec =
            build("{\"Cmd\": [\"sh\"], \"Env\": [\"A=1\", \"B=2\"], \"WorkingDir\": \"/app\", "
                  "\"User\": \"alice\", \"HostConfig\": {\"SecurityOpt\": [\"no-new-privileges\"], "
                  "\"Ulimits\": [{\"Name\": \"nofile\", \"Soft\": 10, \"Hard\": 20}]}}",
                  NULL);
        json_error_t je;
        _cleanup_json_ json_t *x1 =
            json_loads("{\"Cmd\": [\"ls\", \"-l\"], \"Env\": [\"B=3\"]}", 0, &je);
        json_t *p = NULL;
        struct berth_error *err = NULL;
        assert_int_equal(daemon_spec_exec_process(x1, spec, NULL, rootfs, &p, &err), 0);
        assert_json(p, "args", "[\"ls\",\"-l\"]");
        assert_json(p, "cwd", "\"/app\"");
        assert_json(p, "user.uid", "1000");
        assert_json(p, "terminal", "false");
        assert_json(p, "noNewPrivileges", "true");
        assert_json(p, "rlimits.0.soft", "10");
        assert_json(p, "capabilities.bounding", docker_default_caps);
        json_t *env = json_object_get(p, "env");
        assert_true(has_str(env, "A=1"));
        assert_true(has_str(env, "B=3"));
        assert_false(has_str(env, "B=2"));
        assert_false(has_str(env, "TERM=xterm"));
        json_decref(p);

        _cleanup_json_ json_t *x2 =
            json_loads("{\"Cmd\": [\"id\"], \"User\": \"bob:staff\", \"WorkingDir\": \"/tmp\", "
                       "\"Tty\": true, \"Privileged\": true, \"ConsoleSize\": [24, 80]}",
                       0, &je);
        assert_int_equal(daemon_spec_exec_process(x2, spec, NULL, rootfs, &p, &err), 0);
        assert_json(p, "user", "{\"uid\":1001,\"gid\":50,\"additionalGids\":[50]}");
        assert_json(p, "cwd", "\"/tmp\"");
        assert_json(p, "terminal", "true");
        assert_json(p, "consoleSize", "{\"height\":24,\"width\":80}");
        assert_true(has_str(json_object_get(p, "env"), "TERM=xterm"));
        _cleanup_strv_ char **all = spec_caps_all();
        assert_int_equal(json_array_size(jpath(p, "capabilities.bounding")), strv_length(all));
        /* the runtime accepts the exec process inside the container's spec */
        _cleanup_json_ json_t *whole = json_deep_copy(spec);
        json_object_set_new(whole, "process", p);
        runtime_accepts(whole);

        _cleanup_json_ json_t *x3 = json_loads("{\"Cmd\": []}", 0, &je);
        p = NULL;
        assert_int_equal(daemon_spec_exec_process(x3, spec, NULL, rootfs, &p, &err), -EINVAL);
        assert_non_null(strstr(err->msg, "No exec command specified"));
        berth_error_free(err);
        err = NULL;
        _cleanup_json_ json_t *x4 = json_loads("{\"Cmd\": [\"id\"], \"User\": \"nobody\"}", 0, &je);
        assert_int_equal(daemon_spec_exec_process(x4, spec, NULL, rootfs, &p, &err), -EINVAL);
        assert_non_null(strstr(err->msg, "unable to find user nobody"));
        berth_error_free(err);
        assert_null(p);
}

static void test_bad_input_types(void **state)
{
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": []}", NULL, "`HostConfig`");
        build_bad("{\"Cmd\": [\"sh\"], \"Tty\": \"yes\"}", NULL, "`Tty`");
        build_bad("{\"Cmd\": [\"sh\"], \"Env\": [1]}", NULL, "`Env`");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Memory\": 1.5}}", NULL, "`Memory`");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"ShmSize\": -1}}", NULL, "SHM size");
        _cleanup_json_ json_t *arr = json_array();
        json_t *spec = NULL;
        struct berth_error *err = NULL;
        struct spec_ctx ctx = ctx_default();
        assert_int_equal(daemon_spec_build(arr, NULL, &ctx, &spec, &err), -EINVAL);
        berth_error_free(err);
}

/* ---------------------------------------------------------------- real client bodies */

/* ContainerCreate bodies captured from the docker CLI 28 and the python docker SDK (all their
 * default and null fields included) against the busybox image's config. */
static json_t *build_file(const char *name)
{
        _cleanup_free_ char *path =
            xasprintf("%s/tests/unit/daemon/docker-cli/%s", SOURCE_ROOT, name);
        _cleanup_free_ char *text = NULL;
        if (berth_read_file_at(AT_FDCWD, path, 1 << 20, &text, NULL, NULL) < 0)
                fail_msg("read %s", path);
        return build(text, "{\"Env\": [\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                           "/sbin:/bin\"], \"Cmd\": [\"sh\"]}");
}

static void test_docker_clients(void **state)
{
        _cleanup_json_ json_t *a = build_file("run-plain.json");
        assert_json(a, "process.args", "[\"echo\",\"hi\"]");
        assert_json(a, "process.capabilities.bounding", docker_default_caps);
        assert_true(has_ns(a, "network", NULL));
        assert_non_null(find_rule(a, "read"));
        assert_json(a, "process.rlimits", "[]");
        assert_json(a, "linux.resources.memory", "<absent>");

        _cleanup_json_ json_t *b = build_file("run-many-flags.json");
        assert_json(b, "process.args",
                    "[\"/sbin/docker-init\",\"--\",\"/bin/sh\",\"-c\",\"echo x\"]");
        assert_json(b, "process.user", "{\"uid\":1000,\"gid\":1000,\"additionalGids\":[1000]}");
        assert_json(b, "process.cwd", "\"/tmp\"");
        assert_json(b, "process.terminal", "true");
        assert_true(has_str(jpath(b, "process.env"), "TERM=xterm"));
        assert_true(has_str(jpath(b, "process.env"), "A=1"));
        assert_json(b, "process.noNewPrivileges", "true");
        assert_json(b, "process.rlimits",
                    "[{\"type\":\"RLIMIT_NOFILE\",\"hard\":2048,\"soft\":1024}]");
        assert_json(b, "root.readonly", "true");
        assert_json(b, "linux.resources.memory", "{\"limit\":67108864,\"swap\":134217728}");
        assert_json(b, "linux.resources.cpu",
                    "{\"period\":100000,\"quota\":150000,\"shares\":512}");
        assert_json(b, "linux.resources.pids", "{\"limit\":100}");
        assert_true(has_str(jpath(b, "process.capabilities.bounding"), "CAP_NET_ADMIN"));
        assert_false(has_str(jpath(b, "process.capabilities.bounding"), "CAP_MKNOD"));
        assert_null(find_rule(b, "mount")); /* the CLI sent the default profile's text */
        assert_non_null(find_rule(b, "read"));
        assert_true(has_str(json_object_get(find_mount(b, "/run"), "options"), "size=1m"));
        assert_true(has_str(json_object_get(find_mount(b, "/t"), "options"), "size=1m"));
        assert_true(has_str(json_object_get(find_mount(b, "/dev/shm"), "options"), "size=131072k"));
        assert_json(b, "linux.devices.0.path", "\"/dev/n\"");
        assert_string_equal(
            json_string_value(json_object_get(jpath(b, "linux.sysctl"), "net.ipv4.ip_forward")),
            "1");
        assert_true(has_ns(b, "network", NULL));

        _cleanup_json_ json_t *c = build_file("run-privileged-host.json");
        assert_json(c, "process.args", "[\"sh\"]");
        assert_false(has_ns(c, "network", NULL));
        assert_false(has_ns(c, "pid", NULL));
        assert_false(has_ns(c, "uts", NULL));
        assert_json(c, "linux.seccomp", "<absent>");
        assert_json(c, "process.user", "{\"uid\":0,\"gid\":0,\"additionalGids\":[0,50]}");
        _cleanup_strv_ char **all = spec_caps_all();
        assert_int_equal(json_array_size(jpath(c, "process.capabilities.bounding")),
                         strv_length(all));

        _cleanup_json_ json_t *d = build_file("sdk-create.json");
        assert_json(d, "process.args", "[\"echo\",\"via-sdk\"]");
        assert_non_null(find_rule(d, "mount"));
        assert_json(d, "linux.resources.memory", "{\"limit\":67108864,\"swap\":134217728}");
        assert_non_null(find_mount(d, "/run"));

        struct parsed p = parse_ok("{\"Binds\": [\"/tmp:/data:ro\"], \"Mounts\": [{\"Type\": "
                                   "\"tmpfs\", \"Target\": \"/t\", \"TmpfsOptions\": "
                                   "{\"SizeBytes\": 1048576}}], \"Tmpfs\": {\"/run\": "
                                   "\"size=1m\"}}");
        assert_int_equal(p.n, 1);
        assert_string_equal(p.v[0].source, "/tmp");
        daemon_spec_mount_reqs_free(p.v, p.n);

        /* MaskedPaths / ReadonlyPaths from the API replace the defaults */
        _cleanup_json_ json_t *e =
            build("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"MaskedPaths\": [\"/proc/kcore\"], "
                  "\"ReadonlyPaths\": []}}",
                  NULL);
        assert_json(e, "linux.maskedPaths", "[\"/proc/kcore\"]");
        assert_json(e, "linux.readonlyPaths", "[]");
        build_bad("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"MaskedPaths\": [\"rel\"]}}", NULL,
                  "not an absolute path");
}

static int validate(const char *create, char **ret_msg)
{
        _cleanup_json_ json_t *c = json_loads(create, 0, NULL);
        assert_non_null(c);
        struct berth_error *err = NULL;
        int r = daemon_spec_validate(c, NULL, &err);
        *ret_msg = err ? xstrdup(err->msg) : NULL;
        berth_error_free(err);
        return r;
}

static void test_validate(void **state)
{
        static const char *const ok[] = {
            "{\"Cmd\": [\"sh\"], \"User\": \"nosuchuser\"}",
            ("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"NetworkMode\": \"container:other\", "
             "\"Init\": true}}"),
            "{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Binds\": [\"/nonexistent/dir:/x\"]}}",
            /* a missing host device fails the start, not the create (docker) */
            ("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Devices\": [{\"PathOnHost\": "
             "\"/dev/berth-nonexistent\"}]}}"),
        };
        static const struct {
                const char *create, *want;
        } bad[] = {
            {"{\"Cmd\": [\"sh\"], \"HostConfig\": {\"NanoCpus\": 1000000000, \"CpuPeriod\": "
             "100000}}",
             "Conflicting options: Nano CPUs and CPU Period cannot both be set"},
            {"{\"Cmd\": [\"sh\"], \"HostConfig\": {\"CapAdd\": [\"BOGUS\"]}}",
             "unknown capability: \"CAP_BOGUS\""},
            {"{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Binds\": [\"relative:/x:zz\"]}}",
             "invalid mode: zz"},
            {"{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Mounts\": [{\"Type\": \"bind\", \"Source\": "
             "\"/nonexist\", \"Target\": \"/x\"}]}}",
             "bind source path does not exist: /nonexist"},
            {"{\"Cmd\": [\"sh\"], \"HostConfig\": {\"BlkioWeight\": 5}}",
             "Range of blkio weight is from 10 to 1000"},
            {"{\"Cmd\": [\"sh\"], \"HostConfig\": {\"Memory\": 1024}}",
             "Minimum memory limit allowed is 6MB"},
            {"{\"Cmd\": [\"sh\"], \"HostConfig\": {\"SecurityOpt\": [\"seccomp={\"]}}",
             "decoding seccomp profile failed"},
            {"{}", "No command specified"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
                _cleanup_free_ char *msg = NULL;
                if (validate(ok[i], &msg) < 0)
                        fail_msg("%s: unexpected %s", ok[i], msg);
        }
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                _cleanup_free_ char *msg = NULL;
                assert_int_equal(validate(bad[i].create, &msg), -EINVAL);
                if (!strstr(msg, bad[i].want))
                        fail_msg("%s: `%s` lacks `%s`", bad[i].create, msg, bad[i].want);
        }
        /* network names are the daemon's network module's to check (a user network "x") */
        _cleanup_free_ char *msg = NULL;
        assert_int_equal(
            validate("{\"Cmd\": [\"sh\"], \"HostConfig\": {\"NetworkMode\": \"x\"}}", &msg), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_entrypoint_cmd),
            cmocka_unit_test(test_env),
            cmocka_unit_test(test_cwd_hostname),
            cmocka_unit_test(test_user),
            cmocka_unit_test(test_user_symlink_escape),
            cmocka_unit_test(test_caps),
            cmocka_unit_test(test_resources),
            cmocka_unit_test(test_ulimits_sysctls),
            cmocka_unit_test(test_annotations),
            cmocka_unit_test(test_blkio_devices),
            cmocka_unit_test(test_defaults_and_privileged),
            cmocka_unit_test(test_seccomp),
            cmocka_unit_test(test_seccomp_matches_generator),
            cmocka_unit_test(test_seccomp_default_reload),
            cmocka_unit_test(test_devices),
            cmocka_unit_test(test_namespaces),
            cmocka_unit_test(test_mounts),
            cmocka_unit_test(test_parse_mounts),
            cmocka_unit_test(test_exec_process),
            cmocka_unit_test(test_bad_input_types),
            cmocka_unit_test(test_docker_clients),
            cmocka_unit_test(test_validate),
            cmocka_unit_test(test_etc_files_after_user_mounts),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
