/* cli/template.c: the Go text/template subset docker's --format uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "cli/cli.h"

static json_t *data;

static char *run(const char *t)
{
        struct tmpl *tp = NULL;
        struct berth_error *e = NULL;
        if (tmpl_parse(t, &tp, &e) < 0) {
                char *m = xasprintf("PARSE: %s", e->msg);
                berth_error_free(e);
                return m;
        }
        char *out = NULL;
        int r = tmpl_exec(tp, data, &out, &e);
        tmpl_free(tp);
        if (r < 0) {
                free(out);
                char *m = xasprintf("EXEC: %s", e->msg);
                berth_error_free(e);
                return m;
        }
        return out;
}

#define check(t, want)                                                                             \
        do {                                                                                       \
                char *got = run(t);                                                                \
                assert_string_equal(got, want);                                                    \
                free(got);                                                                         \
        } while (0)

static int setup(void **state)
{
        data = json_loads("{\"Id\":\"abc\",\"State\":{\"Running\":true,\"Pid\":42,\"ExitCode\":0},"
                          "\"RepoDigests\":[\"r@sha256:1\",\"r@sha256:2\"],"
                          "\"Config\":{\"Labels\":{\"b\":\"2\",\"a\":\"1\"},\"Env\":[\"A=1\","
                          "\"B=2\"],\"Cmd\":null},\"Size\":1.5,\"Empty\":[],\"Name\":\"/x\"}",
                          0, NULL);
        return data ? 0 : -1;
}

static int teardown(void **state)
{
        json_decref(data);
        return 0;
}

static void test_fields(void **state)
{
        check("{{.Id}}", "abc");
        check("{{.State.Running}} {{.State.Pid}}", "true 42");
        check("x{{.Missing}}y", "x<no value>y");
        check("{{.Config.Cmd}}", "<nil>");
        check("{{.Size}}", "1.5");
        check("{{.Config.Labels}}", "map[a:1 b:2]");
        check("{{.Config.Env}}", "[A=1 B=2]");
        check("{{$.Id}}", "abc");
}

static void test_functions(void **state)
{
        check("{{index .RepoDigests 0}}", "r@sha256:1");
        check("{{index .Config.Labels \"b\"}}", "2");
        check("{{json .Config.Env}}", "[\"A=1\",\"B=2\"]");
        check("{{.Config.Env | json}}", "[\"A=1\",\"B=2\"]");
        check("{{len .RepoDigests}}", "2");
        check("{{join .Config.Env \",\"}}", "A=1,B=2");
        check("{{upper .Id}}", "ABC");
        check("{{printf \"%s-%d\" .Id .State.Pid}}", "abc-42");
        check("{{println .Id}}", "abc\n");
        check("{{index .RepoDigests 5}}", "EXEC: template: error calling index: index out of "
                                          "range: 5");
        check("{{nope .Id}}", "EXEC: template: function \"nope\" not defined");
        check("{{.Config.Labels \"b\"}}", "2"); /* docker's {{.Label "k"}} methods */
        check("{{.Config.Labels \"zz\"}}", "");
}

/* every entry of the function table, and calls that fit no entry (arity or argument type) */
static void test_function_table(void **state)
{
        check("{{lower \"AbC\"}}|{{title \"ab cd\"}}", "abc|Ab Cd");
        check("{{print .Id .State.Pid}}|{{print .State.Pid .State.Pid}}", "abc42|42 42");
        check("{{print \"a\" \"b\"}}", "ab");
        check("{{eq .Id \"x\" \"abc\"}} {{ne .Id \"abc\"}} {{not .State.Running}}",
              "true false false");
        check("{{and .Id .State.Pid}} {{or .Missing .Id}}", "42 abc");
        check("{{split .Name \"x\"}}", "[/ ]");
        check("{{truncate .Id 2}}", "ab");
        check("{{len .Id .Id}}", "EXEC: template: function \"len\" not defined");
        check("{{join .Config.Env}}", "EXEC: template: function \"join\" not defined");
        check("{{eq .Id}}", "EXEC: template: function \"eq\" not defined");
        check("{{truncate .Id \"2\"}}", "EXEC: template: function \"truncate\" not defined");
        check("{{printf 3}}", "EXEC: template: function \"printf\" not defined");
}

static void test_control(void **state)
{
        check("{{range .Config.Env}}[{{.}}]{{end}}", "[A=1][B=2]");
        check("{{range .Empty}}x{{else}}none{{end}}", "none");
        check("{{if .State.Running}}up{{else}}down{{end}}", "up");
        check("{{if .Empty}}a{{else if .State.Running}}b{{else}}c{{end}}", "b");
        check("{{if eq .State.Pid 42}}yes{{end}}", "yes");
        check("{{if not .State.ExitCode}}zero{{end}}", "zero");
        check("{{with .State}}{{.Pid}}{{end}}", "42");
        check("{{range $i, $e := .Config.Env}}{{$i}}={{$e}};{{end}}", "0=A=1;1=B=2;");
        check("{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}} {{end}}", "a:1 b:2 ");
        check("{{range $e := .Config.Env}}<{{$e}}>{{end}}", "<A=1><B=2>");
        check("{{$x := .Id}}{{$x}}-{{$x}}", "abc-abc");
        check("{{$x := 1}}{{if .Id}}{{$x = 2}}{{end}}{{$x}}", "2");
        check("{{with $s := .State}}{{$s.Pid}}{{end}}", "42");
        check("{{$nope}}", "EXEC: template: undefined variable \"$nope\"");
        check("{{range $e := .Config.Env}}{{end}}{{$e}}",
              "EXEC: template: undefined variable \"$e\"");
        check("a {{- .Id -}} b", "aabcb");
        check("{{/* comment */}}ok", "ok");
        check("{{if .Id}}unterminated", "PARSE: template: missing {{end}} for `if .Id`");
        check("{{end}}", "PARSE: template: unexpected {{end}}");
        check("{{.Id", "PARSE: template: unclosed action");
}

/* A container's inspect document: docker's CLI runs the template on its Go structs first, and on
 * the raw JSON only when that fails. */
static void test_docker_types(void **state)
{
        json_t *saved = data;
        data = json_loads(
            "{\"Id\":\"c1\",\"Name\":\"/n\",\"State\":{\"Status\":\"running\",\"Running\":true,"
            "\"Pid\":7,\"Health\":{\"Status\":\"starting\",\"FailingStreak\":0,\"Log\":[]}},"
            "\"HostConfig\":{\"Init\":null,\"Dns\":[],\"RestartPolicy\":{\"Name\":\"no\","
            "\"MaximumRetryCount\":0},\"LogConfig\":{\"Type\":\"json-file\",\"Config\":{}},"
            "\"Tmpfs\":null},\"GraphDriver\":{\"Name\":\"overlay2\",\"Data\":null},"
            "\"Config\":{\"Labels\":{\"a\":\"1\"},\"Entrypoint\":null,\"Cmd\":[\"sh\"],"
            "\"Healthcheck\":{\"Test\":[\"CMD\",\"true\"],\"Interval\":5400000000000,"
            "\"Timeout\":1500000000,\"StartPeriod\":1500000}}}",
            0, NULL);
        assert_non_null(data);
        check("{{.HostConfig.Init}}", "<nil>");
        check("{{json .HostConfig.Init}}", "null");
        check("{{.Config.Entrypoint}}|{{json .Config.Entrypoint}}|{{len .Config.Entrypoint}}",
              "[]|null|0");
        check("{{.Config.User}}|{{.Config.StopSignal}}|{{.Config.Tty}}", "||false");
        check("{{.HostConfig.Tmpfs}} {{.Config.ExposedPorts}} {{json .Config.ExposedPorts}}",
              "map[] map[] null");
        check("{{index .Config.Labels \"zz\"}}|{{.Config.Labels.zz}}", "|<no value>");
        check("{{.HostConfig.RestartPolicy}} {{.HostConfig.LogConfig}}",
              "{no 0} {json-file map[]}");
        check("{{.GraphDriver}}", "{map[] overlay2}");
        check("{{.State.Health}}", "{starting 0 []}");
        check("{{.Config.Healthcheck}}", "{[CMD true] 1h30m0s 1.5s 1.5ms 0s 0}");
        check("{{.Config.StopTimeout}} {{.HostConfig.CPUShares}}", "<nil> 0");
        check("{{.ContainerJSONBase.Name}} {{.HostConfig.Resources.Memory}}", "/n 0");
        /* no such Go field, or through a nil pointer: the raw run decides */
        check("{{.Nope}}", "EXEC: template: executing \"\" at <.Nope>: map has no entry for key "
                           "\"Nope\"");
        check("{{.Config.StopTimeout.X}}",
              "EXEC: template: executing \"\" at <.Config.StopTimeout.X>: map has no entry for "
              "key \"StopTimeout\"");
        /* Id is ID in Go: the whole template runs on the raw JSON, where null is <no value> */
        check("{{.ID}}", "c1");
        check("{{.Id}} {{.HostConfig.Dns}}", "c1 []");
        check("{{.Id}} {{.Config.Entrypoint}}", "c1 <no value>");
        check("{{.Id}} {{.HostConfig.Init}}", "c1 <no value>");
        check("{{.Id}} {{.Config.User}}",
              "EXEC: template: executing \"\" at <.Config.User>: map has no entry for key "
              "\"User\"");
        check("{{.Id}} {{index .Config.Labels \"zz\"}}", "c1 <no value>");
        json_decref(data);
        data = saved;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_fields),         cmocka_unit_test(test_functions),
            cmocka_unit_test(test_function_table), cmocka_unit_test(test_control),
            cmocka_unit_test(test_docker_types),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
