/* Unit tests for the container layer (src/daemon/containers) over a real table: a data root
 * with berth.db holding stored containers, loaded by containers_open as berthd does at start.
 * No shim runs: what is tested is the table, lookups, state reads and docker update on stopped
 * containers (a running one's cgroup is the integration tests' job). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "daemon/containers/containers.h"
#include "daemon/daemon.h"

#define MIB (1024 * 1024)

static char root[64];
static struct daemon d;
static struct containers *cs;

static const char *const ID_CREATED =
    "c0ffee0000000000000000000000000000000000000000000000000000000001";
static const char *const ID_EXITED =
    "c0ffee0000000000000000000000000000000000000000000000000000000002";

static void put(const char *id, const char *name, json_t *host_config, json_t *state)
{
        json_t *config = json_pack("{s:{s:s,s:o},s:s,s:s,s:s}", "create", "Image", "busybox",
                                   "HostConfig", host_config, "image", "busybox", "image_id",
                                   "sha256:00", "created", "2026-01-01T00:00:00Z");
        struct berth_error *err = NULL;
        if (db_container_put(&d, id, name, config, state, &err) < 0)
                fail_msg("db_container_put: %s", err->msg);
        json_decref(config);
        json_decref(state);
}

static int setup(void **state)
{
        struct berth_error *err = NULL;
        snprintf(root, sizeof(root), "/tmp/berth-containers-unit-XXXXXX");
        if (!mkdtemp(root))
                return -1;
        d.data_root = root;
        d.runtime_root = xasprintf("%s/runtime", root);
        pthread_mutex_init(&d.db_lock, NULL);
        if (db_open(&d, &err) < 0) {
                fprintf(stderr, "%s\n", err->msg);
                return -1;
        }
        put(ID_CREATED, "web", json_pack("{s:I}", "Memory", (json_int_t)64 * MIB),
            json_pack("{s:s}", "Status", "created"));
        put(ID_EXITED, "job", json_object(),
            json_pack("{s:s,s:i,s:b,s:s}", "Status", "exited", "ExitCode", 3, "HasBeenStarted",
                      true, "FinishedAt", "2026-01-01T00:00:01Z"));
        if (containers_open(&d, &cs, &err) < 0) {
                fprintf(stderr, "%s\n", err->msg);
                return -1;
        }
        return 0;
}

static int teardown(void **state)
{
        /* the table's threads live until the process ends, as in berthd */
        return berth_rm_rf_at(AT_FDCWD, root, NULL);
}

static struct container *get(const char *ref)
{
        struct container *c = NULL;
        struct berth_error *err = NULL;
        if (container_get(cs, ref, &c, &err) < 0)
                fail_msg("container_get `%s`: %s", ref, err->msg);
        return c;
}

static void test_lookup(void **state)
{
        struct container *c = get("web");
        assert_string_equal(c->id, ID_CREATED);
        container_unref(cs, c);
        c = get("/job");
        assert_string_equal(c->id, ID_EXITED);
        container_unref(cs, c);
        c = get("c0ffee0000000000000000000000000000000000000000000000000000000001");
        assert_string_equal(c->name, "web");
        container_unref(cs, c);

        struct berth_error *err = NULL;
        c = NULL;
        /* a prefix both ids share is ambiguous; an unknown name is docker's 404 */
        assert_true(container_get(cs, "c0ffee", &c, &err) < 0);
        assert_non_null(err);
        berth_error_free(err);
        err = NULL;
        assert_int_equal(container_get(cs, "nope", &c, &err), -ENOENT);
        assert_non_null(strstr(err->msg, "No such container: nope"));
        berth_error_free(err);
}

static void test_state_reads(void **state)
{
        struct container *web = get("web"), *job = get("job");
        bool done = true;
        int code = -1;

        assert_int_equal(container_status_of(cs, web), CONTAINER_CREATED);
        assert_false(container_is_running(cs, web));
        assert_false(container_exited_after_start(cs, web));
        assert_int_equal(container_status_of(cs, job), CONTAINER_EXITED);
        assert_true(container_exited_after_start(cs, job));
        assert_true(container_health_is(cs, web, "none"));
        assert_false(container_health_is(cs, web, "healthy"));
        int running = -1, paused = -1, stopped = -1;
        containers_count(cs, &running, &paused, &stopped);
        assert_int_equal(running, 0);
        assert_int_equal(paused, 0);
        assert_int_equal(stopped, 2);

        /* a wait for the next exit, long after the last one: it waits (not answered at once) */
        container_wait_begin(cs, job, "next-exit", &done, &code);
        assert_false(done);
        /* not-running on an exited container returns its exit code without blocking */
        uint64_t gen = container_wait_begin(cs, job, "not-running", &done, &code);
        assert_false(done);
        assert_int_equal(container_wait(cs, job, "not-running", gen, &code), 0);
        assert_int_equal(code, 3);
        /* nothing was removed: no tombstone answers for it */
        assert_int_equal(container_removed_exit_code(cs, "c0ffee"), -1);
        container_unref(cs, web);
        container_unref(cs, job);
}

static void test_restart_policy_validate(void **state)
{
        static const struct {
                const char *json;
                const char *err; /* NULL: accepted */
        } cases[] = {
            {"null", NULL},
            {"{}", NULL},
            {"{\"Name\": \"\", \"MaximumRetryCount\": 3}", NULL},
            {"{\"Name\": \"always\"}", NULL},
            {"{\"Name\": \"on-failure\", \"MaximumRetryCount\": 5}", NULL},
            {"[]", "expected an object"},
            {"{\"Name\": \"sometimes\"}", "unknown policy 'sometimes'"},
            {"{\"Name\": \"always\", \"MaximumRetryCount\": 2}", "only be used with 'on-failure'"},
            {"{\"Name\": \"on-failure\", \"MaximumRetryCount\": -1}", "cannot be negative"},
            {"{\"Name\": \"on-failure\", \"MaximumRetryCount\": \"2\"}", "must be an integer"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                json_t *rp = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
                struct berth_error *err = NULL;
                int r = container_restart_policy_validate(rp, &err);
                if (!cases[i].err) {
                        assert_int_equal(r, 0);
                } else {
                        assert_int_equal(r, -EINVAL);
                        if (!strstr(err->msg, cases[i].err))
                                fail_msg("%s: `%s`", cases[i].json, err->msg);
                        berth_error_free(err);
                }
                json_decref(rp);
        }
}

struct stored_row {
        const char *id;
        json_t *hc;
};

static void stored_row_fn(const char *id, const char *name, json_t *config, json_t *st, void *ud)
{
        struct stored_row *w = ud;
        if (strcmp(id, w->id) == 0)
                w->hc = json_deep_copy(
                    json_object_get(json_object_get(config, "create"), "HostConfig"));
}

/* HostConfig of the stored row, as the next berthd start would load it. */
static json_t *stored_host_config(const char *id)
{
        struct stored_row want = {id, NULL};
        struct berth_error *err = NULL;
        assert_int_equal(db_container_foreach(&d, stored_row_fn, &want, &err), 0);
        assert_non_null(want.hc);
        return want.hc;
}

static void test_update_stopped(void **state)
{
        struct container *web = get("web");
        struct berth_error *err = NULL;

        /* swap defaults to twice the memory (128 MiB): a memory above it alone is a conflict */
        json_t *body = json_pack("{s:I}", "Memory", (json_int_t)256 * MIB);
        assert_int_equal(container_update(cs, web, body, &err), -EBUSY);
        assert_non_null(strstr(err->msg, "update the memoryswap at the same time"));
        berth_error_free(err);
        err = NULL;
        json_decref(body);
        /* a swap below the memory is refused */
        body = json_pack("{s:I,s:I}", "Memory", (json_int_t)64 * MIB, "MemorySwap",
                         (json_int_t)32 * MIB);
        assert_int_equal(container_update(cs, web, body, &err), -EINVAL);
        assert_non_null(strstr(err->msg, "Minimum memoryswap limit"));
        berth_error_free(err);
        err = NULL;
        json_decref(body);

        /* accepted: kept for the next start, the implicit swap made explicit, RestartPolicy
         * stored only with a name */
        body = json_pack("{s:I,s:i,s:{s:s}}", "Memory", (json_int_t)100 * MIB, "CpuShares", 512,
                         "RestartPolicy", "Name", "always");
        assert_int_equal(container_update(cs, web, body, &err), 0);
        json_decref(body);
        json_t *hc = stored_host_config(ID_CREATED);
        assert_int_equal(json_integer_value(json_object_get(hc, "Memory")), 100 * MIB);
        assert_int_equal(json_integer_value(json_object_get(hc, "MemorySwap")), 128 * MIB);
        assert_int_equal(json_integer_value(json_object_get(hc, "CpuShares")), 512);
        assert_string_equal(berth_json_get_str(json_object_get(hc, "RestartPolicy"), "Name"),
                            "always");
        json_decref(hc);
        body = json_pack("{s:{s:s}}", "RestartPolicy", "Name", "");
        assert_int_equal(container_update(cs, web, body, &err), 0);
        json_decref(body);
        hc = stored_host_config(ID_CREATED);
        assert_string_equal(berth_json_get_str(json_object_get(hc, "RestartPolicy"), "Name"),
                            "always");
        json_decref(hc);
        container_unref(cs, web);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_lookup),
            cmocka_unit_test(test_state_reads),
            cmocka_unit_test(test_restart_policy_validate),
            cmocka_unit_test(test_update_stopped),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
