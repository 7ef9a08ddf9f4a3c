/* Unit tests for the config.json parser (src/runtime/spec.c) and the default spec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "runtime/internal.h"

#include <sched.h>
#include <sys/mount.h>

static struct spec *parse_ok(const char *text)
{
        json_error_t jerr;
        _cleanup_json_ json_t *doc = json_loads(text, JSON_DECODE_INT_AS_REAL, &jerr);
        assert_non_null(doc);
        struct spec *s = NULL;
        struct berth_error *err = NULL;
        int r = spec_parse(doc, "/bundle", &s, &err);
        if (r < 0)
                fail_msg("unexpected error: %s", err->msg);
        return s;
}

/* Parse text and expect an error whose message contains want. */
static void parse_bad(const char *text, const char *want)
{
        json_error_t jerr;
        _cleanup_json_ json_t *doc = json_loads(text, JSON_DECODE_INT_AS_REAL, &jerr);
        assert_non_null(doc);
        struct spec *s = NULL;
        struct berth_error *err = NULL;
        assert_int_equal(spec_parse(doc, "/bundle", &s, &err), -EINVAL);
        assert_null(s);
        assert_non_null(err);
        if (!strstr(err->msg, want))
                fail_msg("error `%s` does not contain `%s`", err->msg, want);
        berth_error_free(err);
}

#define MIN_DOC(extra)                                                                             \
        "{\"ociVersion\": \"1.2.0\", \"root\": {\"path\": \"rootfs\"}, "                           \
        "\"process\": {\"args\": [\"sh\"], \"cwd\": \"/\"" extra "}}"

static void test_minimal(void **state)
{
        struct spec *s = parse_ok(MIN_DOC(""));
        assert_string_equal(s->root_path, "/bundle/rootfs");
        assert_false(s->root_readonly);
        assert_string_equal(s->process.args[0], "sh");
        assert_null(s->process.args[1]);
        assert_int_equal(s->n_mounts, 0);
        assert_true(s->resources.mem_limit == SPEC_UNSET);
        assert_int_equal(spec_clone_flags(s), 0);
        spec_free(s);
}

static void test_default_spec_roundtrip(void **state)
{
        _cleanup_json_ json_t *doc = berth_spec_default(false);
        struct spec *s = NULL;
        struct berth_error *err = NULL;
        assert_int_equal(spec_parse(doc, "/b", &s, &err), 0);
        assert_true(s->root_readonly);
        assert_true(s->process.terminal);
        assert_true(s->process.no_new_privileges);
        assert_int_equal(s->process.n_rlimits, 1);
        assert_int_equal(s->process.rlimits[0].resource, RLIMIT_NOFILE);
        assert_int_equal(s->process.rlimits[0].hard, 1024);
        int f = spec_clone_flags(s);
        assert_true(f & CLONE_NEWPID);
        assert_true(f & CLONE_NEWNET);
        assert_true(f & CLONE_NEWNS);
        assert_false(f & CLONE_NEWUSER);
        /* no inheritable or ambient caps by default (CVE-2022-27650) */
        assert_int_equal(s->process.caps[CAPSET_INHERITABLE], 0);
        assert_int_equal(s->process.caps[CAPSET_AMBIENT], 0);
        assert_true(s->process.caps[CAPSET_BOUNDING] &
                    (UINT64_C(1) << spec_cap_from_name("CAP_KILL")));
        assert_int_equal(s->resources.n_device_rules, 1);
        assert_false(s->resources.device_rules[0].allow);
        assert_int_equal(s->resources.device_rules[0].type, 'a');
        spec_free(s);

        json_t *rl = berth_spec_default(true);
        assert_int_equal(spec_parse(rl, "/b", &s, &err), 0);
        assert_true(spec_clone_flags(s) & CLONE_NEWUSER);
        assert_false(spec_clone_flags(s) & CLONE_NEWNET);
        assert_int_equal(s->n_uid_mappings, 1);
        assert_int_equal(s->uid_mappings[0].host_id, geteuid());
        spec_free(s);
        json_decref(rl);
}

static void test_full(void **state)
{
        struct spec *s = parse_ok(
            "{\"ociVersion\": \"1.2.0\", \"root\": {\"path\": \"/abs/root\", \"readonly\": true},"
            " \"hostname\": \"h\", \"process\": {\"args\": [\"/bin/true\"], \"cwd\": \"/w\","
            "  \"user\": {\"uid\": 1000, \"gid\": 100, \"umask\": 63, \"additionalGids\": [5, 6]},"
            "  \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"soft\": 10, \"hard\": "
            "18446744073709551615}],"
            "  \"oomScoreAdj\": 100, \"env\": [\"A=1\"]},"
            " \"mounts\": [{\"destination\": \"/data\", \"type\": \"bind\", \"source\": \"/src\","
            "   \"options\": [\"rbind\", \"ro\", \"nosuid\", \"rslave\"]},"
            "  {\"destination\": \"/tmp\", \"type\": \"tmpfs\", \"source\": \"tmpfs\","
            "   \"options\": [\"nodev\", \"size=1m\", \"mode=1777\"]}],"
            " \"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"uts\"},"
            "   {\"type\": \"network\", \"path\": \"/proc/1/ns/net\"}, {\"type\": \"user\"}, "
            "{\"type\": \"time\"}],"
            "  \"uidMappings\": [{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}],"
            "  \"gidMappings\": [{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}],"
            "  \"timeOffsets\": {\"monotonic\": {\"secs\": 3600, \"nanosecs\": 5}},"
            "  \"sysctl\": {\"net.ipv4.ip_forward\": \"1\"},"
            "  \"resources\": {\"memory\": {\"limit\": 67108864, \"swap\": -1},"
            "    \"cpu\": {\"shares\": 512, \"quota\": 50000, \"period\": 100000, \"cpus\": \"0\"},"
            "    \"pids\": {\"limit\": 10},"
            "    \"blockIO\": {\"weight\": 500, \"throttleReadBpsDevice\": [{\"major\": 8, "
            "\"minor\": 0, \"rate\": 1024}]},"
            "    \"hugepageLimits\": [{\"pageSize\": \"2MB\", \"limit\": 0}],"
            "    \"devices\": [{\"allow\": false, \"access\": \"rwm\"}, {\"allow\": true, "
            "\"type\": \"c\", \"major\": 1, \"minor\": 3, \"access\": \"rw\"}],"
            "    \"unified\": {\"memory.high\": \"max\"}},"
            "  \"cgroupsPath\": \"/my/path\", \"rootfsPropagation\": \"rshared\","
            "  \"maskedPaths\": [\"/proc/kcore\"], \"readonlyPaths\": [\"/proc/sys\"],"
            "  \"devices\": [{\"type\": \"c\", \"path\": \"/dev/fuse\", \"major\": 10, \"minor\": "
            "229, \"fileMode\": 438}]},"
            " \"annotations\": {\"a\": \"b\"}}");
        assert_string_equal(s->root_path, "/abs/root");
        assert_string_equal(s->hostname, "h");
        assert_int_equal(s->process.uid, 1000);
        assert_int_equal(s->process.gid, 100);
        assert_int_equal(s->process.umask, 63);
        assert_int_equal(s->process.n_additional_gids, 2);
        assert_true(s->process.rlimits[0].hard == UINT64_MAX);
        assert_true(s->process.has_oom_score_adj);
        assert_int_equal(s->process.oom_score_adj, 100);
        assert_int_equal(s->n_mounts, 2);
        assert_true(s->mounts[0].bind && s->mounts[0].recursive);
        assert_true(s->mounts[0].flags & MS_RDONLY);
        assert_true(s->mounts[0].flags & MS_NOSUID);
        assert_int_equal(s->mounts[0].propagation, MS_SLAVE | MS_REC);
        assert_true(s->mounts[1].flags & MS_NODEV);
        assert_string_equal(s->mounts[1].data, "size=1m,mode=1777");
        int f = spec_clone_flags(s);
        assert_true(f & CLONE_NEWUSER);
        assert_false(f & CLONE_NEWNET); /* joined by path */
        assert_string_equal(spec_namespace(s, CLONE_NEWNET)->path, "/proc/1/ns/net");
        assert_int_equal(s->uid_mappings[0].host_id, 100000);
        assert_true(s->has_time_offsets);
        assert_int_equal(s->time_offsets[0][0], 3600);
        assert_int_equal(s->n_sysctl, 1);
        assert_int_equal(s->resources.mem_limit, 67108864);
        assert_int_equal(s->resources.mem_swap, -1);
        assert_int_equal(s->resources.cpu_shares, 512);
        assert_string_equal(s->resources.cpu_cpus, "0");
        assert_int_equal(s->resources.pids_limit, 10);
        assert_int_equal(s->resources.blkio_weight, 500);
        assert_int_equal(s->resources.n_throttle[THROTTLE_READ_BPS], 1);
        assert_int_equal(s->resources.throttle[THROTTLE_READ_BPS][0].rate, 1024);
        assert_int_equal(s->resources.n_hugepages, 1);
        assert_int_equal(s->resources.n_device_rules, 2);
        assert_int_equal(s->resources.device_rules[1].minor, 3);
        assert_string_equal(s->resources.device_rules[1].access, "rw");
        assert_int_equal(s->resources.n_unified, 1);
        assert_string_equal(s->cgroups_path, "/my/path");
        assert_int_equal(s->rootfs_propagation, MS_SHARED | MS_REC);
        assert_int_equal(s->n_devices, 1);
        assert_int_equal(s->devices[0].mode, 0666);
        assert_string_equal(json_string_value(json_object_get(s->annotations, "a")), "b");
        spec_free(s);
}

static void test_bad_documents(void **state)
{
        parse_bad("[]", "expected an object");
        parse_bad("{\"root\": {\"path\": \"r\"}, \"process\": {\"args\": [\"a\"], \"cwd\": \"/\"}}",
                  "ociVersion: required field missing");
        parse_bad("{\"ociVersion\": \"1\", \"process\": {\"args\": [\"a\"], \"cwd\": \"/\"}}",
                  "config.json: root: required field missing");
        parse_bad(MIN_DOC(", \"args\": \"sh\""),
                  "config.json: process.args: expected array of strings");
        parse_bad("{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\": "
                  "[1], \"cwd\": \"/\"}}",
                  "process.args: expected array of strings");
        parse_bad("{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\": "
                  "[], \"cwd\": \"/\"}}",
                  "process.args: must name the program to run");
        parse_bad("{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\": "
                  "[\"a\"]}}",
                  "process.cwd: required field missing");
        parse_bad("{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, \"process\": {\"args\": "
                  "[\"a\"], \"cwd\": \"rel\"}}",
                  "process.cwd: must be an absolute path");
        parse_bad(MIN_DOC(", \"user\": {\"uid\": \"root\"}"), "process.user.uid: expected integer");
        parse_bad(MIN_DOC(", \"user\": {\"uid\": -1}"), "process.user.uid: out of range");
        parse_bad(MIN_DOC(", \"terminal\": 1"), "process.terminal: expected boolean");
        parse_bad(
            MIN_DOC(", \"rlimits\": [{\"type\": \"RLIMIT_BOGUS\", \"soft\": 1, \"hard\": 1}]"),
            "process.rlimits[0].type: unknown rlimit `RLIMIT_BOGUS`");
        parse_bad(
            MIN_DOC(", \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"soft\": 2, \"hard\": 1}]"),
            "process.rlimits[0]: soft limit is above the hard limit");
        parse_bad(MIN_DOC(", \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"soft\": 2}]"),
                  "process.rlimits[0].hard: required field missing");
        parse_bad(MIN_DOC(", \"oomScoreAdj\": 5000"), "process.oomScoreAdj: out of range");
        const char *base = "{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, "
                           "\"process\": {\"args\": [\"a\"], \"cwd\": \"/\"}, ";
        struct {
                const char *tail;
                const char *want;
        } cases[] = {
            {"\"mounts\": {}}", "mounts: expected array"},
            {"\"mounts\": [{\"type\": \"tmpfs\"}]}",
             "mounts[0].destination: required field missing"},
            {"\"mounts\": [{\"destination\": \"rel\", \"type\": \"tmpfs\"}]}",
             "mounts[0].destination: must be an absolute path"},
            {"\"mounts\": [{\"destination\": \"/x\", \"options\": [\"bind\"]}]}",
             "mounts[0].source: required for a bind mount"},
            {"\"mounts\": [{\"destination\": \"/x\"}]}", "mounts[0].type: required"},
            {"\"linux\": {\"namespaces\": [{\"type\": \"bogus\"}]}}",
             "linux.namespaces[0]: unknown namespace type `bogus`"},
            {"\"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"pid\"}]}}",
             "listed twice"},
            {"\"linux\": {\"namespaces\": [{\"type\": \"user\"}]}}",
             "a new user namespace needs uid and gid mappings"},
            {"\"linux\": {\"uidMappings\": [{\"containerID\": 0, \"hostID\": 1, \"size\": 1}]}}",
             "mappings given without a user namespace"},
            {"\"linux\": {\"resources\": {\"memory\": {\"limit\": \"1G\"}}}}",
             "linux.resources.memory.limit: expected integer"},
            {"\"linux\": {\"resources\": {\"cpu\": {\"shares\": 999999}}}}",
             "linux.resources.cpu.shares: out of range"},
            {"\"linux\": {\"resources\": {\"devices\": [{\"access\": \"rwm\"}]}}}",
             "linux.resources.devices[0]: allow: required boolean"},
            {"\"linux\": {\"resources\": {\"devices\": [{\"allow\": true, \"access\": \"xyz\"}]}}}",
             "access: expected a subset of rwm"},
            {"\"linux\": {\"resources\": {\"unified\": {\"../x\": \"1\"}}}}",
             "invalid cgroup file name"},
            {"\"linux\": {\"sysctl\": {\"../../etc\": \"1\"}}}", "invalid sysctl name"},
            {"\"linux\": {\"rootfsPropagation\": \"sideways\"}}", "unknown propagation"},
            {"\"linux\": {\"devices\": [{\"type\": \"c\", \"path\": \"/dev/x\"}]}}",
             "linux.devices[0]: major and minor are required"},
            {"\"linux\": {\"devices\": [{\"type\": \"c\", \"path\": \"/dev/../x\", \"major\": 1, "
             "\"minor\": 1}]}}",
             "without `..`"},
            {"\"linux\": {\"timeOffsets\": {\"monotonic\": {\"secs\": 1}}}}",
             "time offsets need a time namespace"},
            {"\"hooks\": {\"prestart\": [{\"path\": \"rel\"}]}}",
             "hooks.prestart[0]: path: must be an absolute path"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                _cleanup_free_ char *doc = xasprintf("%s%s", base, cases[i].tail);
                parse_bad(doc, cases[i].want);
        }
}

/* Without a uts namespace of its own the names cannot apply: dropped (crun), never written to
 * the host's namespace. */
static void test_hostname_without_uts(void **state)
{
        (void)state;
        struct spec *s = parse_ok("{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, "
                                  "\"process\": {\"args\": [\"a\"], \"cwd\": \"/\"}, "
                                  "\"hostname\": \"x\", \"domainname\": \"y\"}");
        assert_null(s->hostname);
        assert_null(s->domainname);
        spec_free(s);
        s = parse_ok("{\"ociVersion\": \"1\", \"root\": {\"path\": \"r\"}, "
                     "\"process\": {\"args\": [\"a\"], \"cwd\": \"/\"}, \"hostname\": \"x\", "
                     "\"linux\": {\"namespaces\": [{\"type\": \"uts\"}]}}");
        assert_string_equal(s->hostname, "x");
        spec_free(s);
}

static void test_unknown_fields_ignored(void **state)
{
        struct spec *s = parse_ok(
            "{\"ociVersion\": \"1.2.0\", \"root\": {\"path\": \"r\", \"x\": 1},"
            " \"process\": {\"args\": [\"a\"], \"cwd\": \"/\", \"apparmorProfile\": \"p\"},"
            " \"vm\": {}, \"linux\": {\"intelRdt\": {}}}");
        spec_free(s);
}

static void test_signals_and_caps(void **state)
{
        assert_int_equal(spec_parse_signal("KILL"), SIGKILL);
        assert_int_equal(spec_parse_signal("SIGTERM"), SIGTERM);
        assert_int_equal(spec_parse_signal("sigusr1"), SIGUSR1);
        assert_int_equal(spec_parse_signal("9"), 9);
        assert_int_equal(spec_parse_signal("RTMIN+2"), SIGRTMIN + 2);
        assert_true(spec_parse_signal("NOPE") < 0);
        assert_true(spec_parse_signal("0") < 0);
        assert_true(spec_parse_signal("999") < 0);
        assert_int_equal(spec_cap_from_name("CAP_SYS_ADMIN"), 21);
        assert_int_equal(spec_cap_from_name("net_raw"), 13);
        assert_true(spec_cap_from_name("CAP_BOGUS") < 0);
        assert_string_equal(spec_cap_name(0), "CAP_CHOWN");
        assert_string_equal(spec_cap_name(spec_cap_last()), "CAP_CHECKPOINT_RESTORE");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_minimal),
            cmocka_unit_test(test_default_spec_roundtrip),
            cmocka_unit_test(test_full),
            cmocka_unit_test(test_bad_documents),
            cmocka_unit_test(test_hostname_without_uts),
            cmocka_unit_test(test_unknown_fields_ignored),
            cmocka_unit_test(test_signals_and_caps),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
