/* docker's --change instructions (import, commit, build): forms, semantics and docker's errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "image/image.h"

/* Apply changes (NULL-terminated) to a config given as JSON; return the result as compact,
 * sorted JSON (caller frees) or fail the test. */
static char *apply(const char *start, const char *const *changes)
{
        json_t *cfg = json_loads(start, 0, NULL);
        assert_non_null(cfg);
        struct berth_error *err = NULL;
        if (berth_image_apply_changes(cfg, (char *const *)changes, &err) < 0)
                fail_msg("%s", err->msg);
        char *s = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(cfg);
        return s;
}

static void check(const char *start, const char *const *changes, const char *want)
{
        char *got = apply(start, changes);
        if (strcmp(got, want))
                fail_msg("%s: got %s, want %s", changes[0], got, want);
        free(got);
}

static void bad(const char *change, const char *msg_part)
{
        json_t *cfg = json_pack("{s:s}", "User", "keep");
        struct berth_error *err = NULL;
        char *const changes[] = {(char *)change, NULL};
        if (berth_image_apply_changes(cfg, changes, &err) == 0)
                fail_msg("`%s` was accepted", change);
        assert_int_equal(err->code, EINVAL);
        if (!strstr(err->msg, msg_part))
                fail_msg("`%s`: message `%s` lacks `%s`", change, err->msg, msg_part);
        /* all or nothing */
        assert_string_equal(json_string_value(json_object_get(cfg, "User")), "keep");
        assert_int_equal(json_object_size(cfg), 1);
        berth_error_free(err);
        json_decref(cfg);
}

#define C(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_cmd_entrypoint(void **state)
{
        (void)state;
        check("{}", C("CMD [\"/bin/sh\", \"-c\", \"x\"]"), "{\"Cmd\":[\"/bin/sh\",\"-c\",\"x\"]}");
        check("{}", C("cmd echo $A  b"), "{\"Cmd\":[\"/bin/sh\",\"-c\",\"echo $A  b\"]}");
        /* not a JSON array of strings: the shell form, like docker */
        check("{}", C("CMD [1, 2]"), "{\"Cmd\":[\"/bin/sh\",\"-c\",\"[1, 2]\"]}");
        /* ENTRYPOINT resets Cmd unless a CMD came before it */
        check("{\"Cmd\":[\"old\"]}", C("ENTRYPOINT [\"/e\"]"),
              "{\"Cmd\":null,\"Entrypoint\":[\"/e\"]}");
        check("{}", C("CMD [\"a\"]", "ENTRYPOINT /e x"),
              "{\"Cmd\":[\"a\"],\"Entrypoint\":[\"/bin/sh\",\"-c\",\"/e x\"]}");
}

static void test_env_label(void **state)
{
        (void)state;
        check("{\"Env\":[\"PATH=/bin\",\"A=old\"]}", C("ENV A=b C=\"d e\" F=g\\ h"),
              "{\"Env\":[\"PATH=/bin\",\"A=b\",\"C=d e\",\"F=g h\"]}");
        check("{}", C("ENV KEY value with  spaces"), "{\"Env\":[\"KEY=value with  spaces\"]}");
        check("{}", C("LABEL a=1 'b c'=\"2\"", "LABEL a=3"),
              "{\"Labels\":{\"a\":\"3\",\"b c\":\"2\"}}");
}

static void test_expose_volume_workdir(void **state)
{
        (void)state;
        check("{}", C("EXPOSE 80 53/UDP 8000-8001/tcp"),
              "{\"ExposedPorts\":{\"53/udp\":{},\"80/tcp\":{},\"8000/tcp\":{},\"8001/tcp\":{}}}");
        check("{}", C("VOLUME [\"/a\", \"/b c\"]", "VOLUME /d /e"),
              "{\"Volumes\":{\"/a\":{},\"/b c\":{},\"/d\":{},\"/e\":{}}}");
        check("{\"WorkingDir\":\"/srv\"}", C("WORKDIR app/./x/../y"),
              "{\"WorkingDir\":\"/srv/app/y\"}");
        check("{}", C("WORKDIR /"), "{\"WorkingDir\":\"/\"}");
}

static void test_user_stopsignal_onbuild(void **state)
{
        (void)state;
        check("{}", C("USER 1000:1000", "STOPSIGNAL SIGKILL"),
              "{\"StopSignal\":\"SIGKILL\",\"User\":\"1000:1000\"}");
        check("{}", C("STOPSIGNAL 9"), "{\"StopSignal\":\"9\"}");
        check("{}", C("ONBUILD RUN make", "onbuild ENV A=b"),
              "{\"OnBuild\":[\"RUN make\",\"ENV A=b\"]}");
        /* comments and blank lines do nothing; continuations join */
        check("{}", C("# a comment", "   ", "ENV A=\\\nb"), "{\"Env\":[\"A=b\"]}");
}

static void test_errors(void **state)
{
        (void)state;
        bad("RUN echo hi", "run is not a valid change command");
        bad("FROM busybox", "from is not a valid change command");
        bad("COPY a b", "copy is not a valid change command");
        bad("FOO bar", "dockerfile parse error on line 1: unknown instruction: FOO");
        bad("ENV", "ENV requires at least one argument");
        bad("ENV A=b C", "can't find = in \"C\"");
        bad("ENV =x", "names can not be blank");
        bad("ENV A=\"unterminated", "matching \"");
        bad("EXPOSE 70000", "invalid containerPort: 70000");
        bad("EXPOSE 80/xyz", "invalid proto: xyz");
        bad("EXPOSE 9-1", "invalid containerPort");
        bad("VOLUME [\"\"]", "VOLUME specified can not be an empty string");
        bad("WORKDIR", "WORKDIR requires exactly one argument");
        bad("USER a b", "USER requires exactly one argument");
        bad("STOPSIGNAL SIGNOPE", "Invalid signal: SIGNOPE");
        bad("ONBUILD ONBUILD RUN x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
        bad("ONBUILD FROM x", "From isn't allowed as an ONBUILD trigger");
        bad("ONBUILD BOGUS x", "unknown instruction: BOGUS x");
        bad("ENV A=b\nRUN x", "one instruction");
        /* a second, bad change leaves the first one undone too */
        json_t *cfg = json_object();
        struct berth_error *err = NULL;
        char *const two[] = {"ENV A=b", "RUN x", NULL};
        assert_int_equal(berth_image_apply_changes(cfg, two, &err), -EINVAL);
        assert_int_equal(json_object_size(cfg), 0);
        berth_error_free(err);
        json_decref(cfg);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_cmd_entrypoint),
            cmocka_unit_test(test_env_label),
            cmocka_unit_test(test_expose_volume_workdir),
            cmocka_unit_test(test_user_stopsignal_onbuild),
            cmocka_unit_test(test_errors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
