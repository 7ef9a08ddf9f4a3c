/* Unit tests for src/build/dockerfile.c: moby's classic parser (directives, comments,
 * continuations, JSON and shell forms, ENV/LABEL/ARG pairs, flags, heredocs, ONBUILD) and the
 * messages docker gives for bad input (checked against dockerd 20.10's classic builder). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "build/dockerfile.h"

static struct bld_dockerfile *parse_ok(const char *text)
{
        struct bld_dockerfile *df = NULL;
        struct berth_error *err = NULL;
        if (bld_parse("Dockerfile", text, strlen(text), &df, &err) < 0)
                fail_msg("parse of `%s`: %s", text, err->msg);
        assert_non_null(df);
        return df;
}

static void parse_err(const char *text, const char *want)
{
        struct bld_dockerfile *df = NULL;
        struct berth_error *err = NULL;
        int r = bld_parse("Dockerfile", text, strlen(text), &df, &err);
        if (r == 0)
                fail_msg("`%s` parsed, want `%s`", text, want);
        assert_int_equal(r, -EINVAL);
        assert_null(df);
        if (strcmp(err->msg, want))
                fail_msg("`%s`: got `%s`, want `%s`", text, err->msg, want);
        berth_error_free(err);
}

static void assert_args(const struct bld_instr *in, size_t n, ...)
{
        va_list ap;
        assert_int_equal(in->n_args, n);
        va_start(ap, n);
        for (size_t i = 0; i < n; i++) {
                const char *want = va_arg(ap, const char *);
                if (!want)
                        assert_null(in->args[i]);
                else
                        assert_string_equal(in->args[i], want);
        }
        va_end(ap);
}

static void test_basic(void **state)
{
        _cleanup_dockerfile_ struct bld_dockerfile *df =
            parse_ok("# a comment\n"
                     "FROM busybox:1.36 AS build\n"
                     "\n"
                     "  run echo hello   world\n"
                     "COPY --from=gen --chown=1:1 a \"b c\" /dst/\n"
                     "WORKDIR /my dir\n"
                     "CMD [\"sh\", \"-c\", \"echo $HOME\"]\n"
                     "ENTRYPOINT exec top -b\n"
                     "USER 1000:1000\n"
                     "EXPOSE 80/tcp 443\n"
                     "VOLUME [\"/data\", \"/logs\"]\n"
                     "VOLUME /a /b\n"
                     "STOPSIGNAL SIGTERM\n"
                     "MAINTAINER someone <a@b>  \t\n");
        assert_int_equal(df->escape, '\\');
        assert_null(df->syntax);
        assert_null(df->warnings);
        assert_int_equal(df->n_instrs, 12);
        const struct bld_instr *in = df->instrs;
        assert_int_equal(in[0].kind, BLD_FROM);
        assert_int_equal(in[0].line, 2);
        assert_string_equal(in[0].original, "FROM busybox:1.36 AS build");
        /* docker prints the step trimmed (moby's withNameAndCode) */
        assert_string_equal(in[12 - 1].original, "MAINTAINER someone <a@b>");
        assert_args(&in[0], 3, "busybox:1.36", "AS", "build");
        assert_int_equal(in[1].kind, BLD_RUN);
        assert_int_equal(in[1].line, 4);
        assert_false(in[1].json);
        assert_string_equal(in[1].original, "run echo hello   world");
        assert_args(&in[1], 1, "echo hello   world");
        assert_int_equal(in[2].kind, BLD_COPY);
        assert_int_equal(in[2].n_flags, 2);
        assert_string_equal(in[2].flags[0].name, "from");
        assert_string_equal(in[2].flags[0].value, "gen");
        assert_string_equal(in[2].flags[1].name, "chown");
        assert_string_equal(in[2].flags[1].value, "1:1");
        assert_args(&in[2], 3, "a", "\"b c\"", "/dst/");
        assert_args(&in[3], 1, "/my dir");
        assert_int_equal(in[4].kind, BLD_CMD);
        assert_true(in[4].json);
        assert_args(&in[4], 3, "sh", "-c", "echo $HOME");
        assert_false(in[5].json);
        assert_args(&in[5], 1, "exec top -b");
        assert_args(&in[6], 1, "1000:1000");
        assert_args(&in[7], 2, "80/tcp", "443");
        assert_true(in[8].json);
        assert_args(&in[8], 2, "/data", "/logs");
        assert_false(in[9].json);
        assert_args(&in[9], 2, "/a", "/b");
        assert_int_equal(in[10].kind, BLD_STOPSIGNAL);
        assert_int_equal(in[11].kind, BLD_MAINTAINER);
        assert_args(&in[11], 1, "someone <a@b>");
        assert_int_equal(in[11].n_heredocs, 0);
}

static void test_env_label_arg(void **state)
{
        _cleanup_dockerfile_ struct bld_dockerfile *df =
            parse_ok("FROM x\n"
                     "ENV A=1 B=\"two words\" C='$X' D=a\\ b\n"
                     "ENV legacy  value with   spaces\n"
                     "LABEL \"com.x\"=\"y z\" k=v\n"
                     "ARG NAME\n"
                     "ARG V=1 W= Z\n"
                     "ENV E=\n");
        const struct bld_instr *in = df->instrs;
        assert_int_equal(in[1].kind, BLD_ENV);
        assert_args(&in[1], 8, "A", "1", "B", "\"two words\"", "C", "'$X'", "D", "a\\ b");
        assert_args(&in[2], 2, "legacy", "value with   spaces");
        assert_int_equal(in[3].kind, BLD_LABEL);
        assert_args(&in[3], 4, "\"com.x\"", "\"y z\"", "k", "v");
        assert_int_equal(in[4].kind, BLD_ARG);
        assert_args(&in[4], 2, "NAME", NULL);
        assert_args(&in[5], 6, "V", "1", "W", "", "Z", NULL);
        assert_args(&in[6], 2, "E", "");
}

static void test_continuations(void **state)
{
        _cleanup_dockerfile_ struct bld_dockerfile *df = parse_ok("FROM x\n"
                                                                  "RUN echo a \\\n"
                                                                  "    b \\\n"
                                                                  "# a comment inside\n"
                                                                  "\n"
                                                                  "    \\\n"
                                                                  "  c\n"
                                                                  "RUN echo \\\\\n"
                                                                  "RUN x\\  \t\n"
                                                                  "y\n"
                                                                  "ENV A=1 \\\r\n"
                                                                  "    B=2\r\n");
        const struct bld_instr *in = df->instrs;
        assert_int_equal(df->n_instrs, 5);
        /* docker warns about the empty line inside the continuation, not about the comment */
        assert_int_equal(strv_length(df->warnings), 2);
        assert_string_equal(df->warnings[0], "[WARNING]: Empty continuation line found in:\n"
                                             "    RUN echo a     b       c");
        assert_string_equal(df->warnings[1], "[WARNING]: Empty continuation lines will become "
                                             "errors in a future release.");
        assert_int_equal(in[1].line, 2);
        assert_string_equal(in[1].original, "RUN echo a     b       c");
        assert_args(&in[1], 1, "echo a     b       c");
        /* an escaped escape at the end does not continue */
        assert_int_equal(in[2].line, 8);
        assert_args(&in[2], 1, "echo \\\\");
        assert_args(&in[3], 1, "xy");
        assert_args(&in[4], 4, "A", "1", "B", "2");
}

static void test_directives(void **state)
{
        _cleanup_dockerfile_ struct bld_dockerfile *df =
            parse_ok("\xef\xbb\xbf# syntax=docker/dockerfile:1\n"
                     "#  ESCAPE = `\n"
                     "FROM x\n"
                     "RUN dir c:\\ `\n"
                     "  && echo\n"
                     "COPY a\\b c\n");
        assert_int_equal(df->escape, '`');
        assert_string_equal(df->syntax, "docker/dockerfile:1");
        assert_int_equal(df->n_instrs, 3);
        assert_args(&df->instrs[1], 1, "dir c:\\   && echo");
        assert_args(&df->instrs[2], 2, "a\\b", "c");
        bld_dockerfile_freep(&df);
        /* after a comment or an instruction, a directive is a comment */
        df = parse_ok("# hello\n# escape=`\nFROM x\nRUN a \\\n b\n");
        assert_int_equal(df->escape, '\\');
        assert_args(&df->instrs[1], 1, "a  b");
        bld_dockerfile_freep(&df);
        df = parse_ok("FROM x\n# escape=`\n");
        assert_int_equal(df->escape, '\\');
        bld_dockerfile_freep(&df);
        /* an unknown directive ends them too */
        df = parse_ok("# foo=bar\n# escape=`\nFROM x\n");
        assert_int_equal(df->escape, '\\');
        parse_err("# escape=x\nFROM x\n",
                  "Dockerfile:1:1: invalid escape token 'x' does not match ` or \\");
        parse_err("# escape=`\n# escape=`\nFROM x\n",
                  "Dockerfile:2:1: only one escape parser directive can be used");
}

static void test_json_or_shell(void **state)
{
        _cleanup_dockerfile_ struct bld_dockerfile *df = parse_ok("FROM x\n"
                                                                  "RUN [\"a\", \"b c\"]\n"
                                                                  "RUN [ \"a\" ] trailing\n"
                                                                  "RUN [not json]\n"
                                                                  "CMD []\n"
                                                                  "SHELL [\"/bin/bash\", \"-c\"]\n"
                                                                  "COPY [\"a b\", \"/c\"]\n"
                                                                  "ENTRYPOINT [\"a\\u0041\"]\n");
        const struct bld_instr *in = df->instrs;
        assert_true(in[1].json);
        assert_args(&in[1], 2, "a", "b c");
        /* like Go's json.Decoder, what follows the array is ignored */
        assert_true(in[2].json);
        assert_args(&in[2], 1, "a");
        assert_false(in[3].json);
        assert_args(&in[3], 1, "[not json]");
        assert_true(in[4].json);
        assert_int_equal(in[4].n_args, 0);
        assert_true(in[5].json);
        assert_true(in[6].json);
        assert_args(&in[6], 2, "a b", "/c");
        assert_args(&in[7], 1, "aA");
        parse_err("FROM x\nCMD [1]\n", "Dockerfile:2:1: when using JSON array syntax, arrays "
                                       "must be comprised of strings only");
        parse_err("FROM x\nSHELL sh -c\n",
                  "Dockerfile:2:1: SHELL requires the arguments to be in JSON form");
}

static void test_healthcheck_onbuild(void **state)
{
        _cleanup_dockerfile_ struct bld_dockerfile *df =
            parse_ok("FROM x\n"
                     "HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://localhost/\n"
                     "healthcheck cmd [\"true\"]\n"
                     "HEALTHCHECK none\n"
                     "ONBUILD RUN echo $X\n"
                     "onbuild COPY . /src\n"
                     "ONBUILD FOO unknown triggers pass until they run\n");
        const struct bld_instr *in = df->instrs;
        assert_int_equal(in[1].kind, BLD_HEALTHCHECK);
        assert_int_equal(in[1].n_flags, 2);
        assert_string_equal(in[1].flags[0].name, "interval");
        assert_string_equal(in[1].flags[0].value, "5s");
        assert_args(&in[1], 2, "CMD", "curl -f http://localhost/");
        assert_false(in[1].json);
        assert_true(in[2].json);
        assert_args(&in[2], 2, "CMD", "true");
        assert_args(&in[3], 1, "NONE");
        assert_int_equal(in[4].kind, BLD_ONBUILD);
        assert_args(&in[4], 1, "RUN echo $X");
        assert_args(&in[5], 1, "COPY . /src");
        parse_err("FROM x\nHEALTHCHECK FOO x\n",
                  "Dockerfile:2:1: Unknown type \"FOO\" in HEALTHCHECK (try CMD)");
        parse_err("FROM x\nHEALTHCHECK CMD\n",
                  "Dockerfile:2:1: Missing command after HEALTHCHECK CMD");
        parse_err("FROM x\nHEALTHCHECK NONE x\n",
                  "Dockerfile:2:1: HEALTHCHECK NONE takes no arguments");
        parse_err("FROM x\nONBUILD ONBUILD RUN x\n",
                  "Dockerfile:2:1: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
        parse_err("FROM x\nONBUILD from y\n",
                  "Dockerfile:2:1: FROM isn't allowed as an ONBUILD trigger");
        parse_err("FROM x\nONBUILD MAINTAINER y\n",
                  "Dockerfile:2:1: MAINTAINER isn't allowed as an ONBUILD trigger");
        parse_err("FROM x\nONBUILD ENV a\n", "Dockerfile:2:1: ENV must have two arguments");
        parse_err("FROM x\nONBUILD\n", "Dockerfile:2:1: ONBUILD requires at least one argument");
}

static void test_flags(void **state)
{
        _cleanup_dockerfile_ struct bld_dockerfile *df =
            parse_ok("FROM --platform=linux/amd64 x\n"
                     "RUN --mount=type=cache,target=/c --mount=type=bind,from=b,target=/b "
                     "--network=none make\n"
                     "COPY --link --chmod=\"0755\" a b\n"
                     "COPY -- --odd b\n"
                     "COPY --link=false a b\n");
        const struct bld_instr *in = df->instrs;
        assert_string_equal(in[0].flags[0].name, "platform");
        assert_string_equal(in[0].flags[0].value, "linux/amd64");
        assert_args(&in[0], 1, "x");
        assert_int_equal(in[1].n_flags, 3);
        assert_string_equal(in[1].flags[1].value, "type=bind,from=b,target=/b");
        assert_args(&in[1], 1, "make");
        assert_string_equal(in[2].flags[0].name, "link");
        assert_string_equal(in[2].flags[0].value, "");
        assert_string_equal(in[2].flags[1].value, "0755");
        assert_int_equal(in[3].n_flags, 0);
        assert_args(&in[3], 2, "--odd", "b");
        assert_string_equal(in[4].flags[0].value, "false");
        parse_err("FROM x\nCOPY --foo=x a b\n", "Dockerfile:2:1: Unknown flag: foo");
        parse_err("FROM x\nWORKDIR --x=1 /a\n", "Dockerfile:2:1: Unknown flag: x");
        parse_err("FROM x\nCOPY --from a b\n", "Dockerfile:2:1: Missing a value on flag: from");
        parse_err("FROM x\nCOPY --from=a --from=b a b\n",
                  "Dockerfile:2:1: Duplicate flag specified: from");
        parse_err("FROM x\nCOPY --link=maybe a b\n",
                  "Dockerfile:2:1: Expecting boolean value for flag link, not: maybe");
}

static void test_errors(void **state)
{
        parse_err("FROM x\n\n  FORM y\n", "Dockerfile:3:3: unknown instruction: FORM");
        parse_err("form x\n", "Dockerfile:1:1: unknown instruction: FORM");
        parse_err("FROM x\nRUN a \\\n  b\nBOGUS\n", "Dockerfile:4:1: unknown instruction: BOGUS");
        parse_err("\n# only a comment\n", "Dockerfile:2:1: file with no instructions");
        parse_err("", "Dockerfile:0:1: file with no instructions");
        parse_err("FROM x\n\\\n", "Dockerfile:2:1: unexpected end of file after a line "
                                  "continuation");
        parse_err("FROM a b\n", "Dockerfile:1:1: FROM requires either one or three arguments");
        parse_err("FROM a TO b\n", "Dockerfile:1:1: FROM requires either one or three arguments");
        parse_err("FROM\n", "Dockerfile:1:1: FROM requires either one or three arguments");
        parse_err("FROM x AS 1a\n", "Dockerfile:1:1: invalid name for build stage: \"1a\", name "
                                    "can't start with a number or contain symbols");
        parse_err("FROM x\nCOPY a\n", "Dockerfile:2:1: COPY requires at least two arguments, but "
                                      "only one was provided. Destination could not be "
                                      "determined");
        parse_err("FROM x\nADD\n", "Dockerfile:2:1: ADD requires at least two arguments, but only "
                                   "one was provided. Destination could not be determined");
        parse_err("FROM x\nENV a\n", "Dockerfile:2:1: ENV must have two arguments");
        /* words are quoted like Go's %q */
        parse_err("FROM x\nENV a=b c\\\\\n", "Dockerfile:2:1: Syntax error - can't find = in "
                                             "\"c\\\\\\\\\". Must be of the form: name=value");
        parse_err("FROM x\nENV\n", "Dockerfile:2:1: ENV requires at least one argument");
        parse_err("FROM x\nENV a=b c\n", "Dockerfile:2:1: Syntax error - can't find = in \"c\". "
                                         "Must be of the form: name=value");
        parse_err("FROM x\nLABEL =b\n", "Dockerfile:2:1: LABEL names can not be blank");
        parse_err("FROM x\nARG =x\n", "Dockerfile:2:1: ARG names can not be blank");
        parse_err("FROM x\nARG\n", "Dockerfile:2:1: ARG requires at least one argument");
        parse_err("FROM x\nWORKDIR\n", "Dockerfile:2:1: WORKDIR requires exactly one argument");
        parse_err("FROM x\nUSER\n", "Dockerfile:2:1: USER requires exactly one argument");
        parse_err("FROM x\nEXPOSE\n", "Dockerfile:2:1: EXPOSE requires at least one argument");
        parse_err("FROM x\nVOLUME [\"\"]\n",
                  "Dockerfile:2:1: VOLUME specified can not be an empty string");
        parse_err("FROM x\nVOLUME\n", "Dockerfile:2:1: VOLUME requires at least one argument");
        struct bld_dockerfile *df = NULL;
        struct berth_error *err = NULL;
        assert_int_equal(bld_parse("Dockerfile", "FROM x\nRUN a\0b\n", 13, &df, &err), -EINVAL);
        assert_string_equal(err->msg, "Dockerfile:2:1: NUL byte in the Dockerfile");
        berth_error_free(err);
        err = NULL;
        /* the name is what the caller calls the file */
        assert_int_equal(bld_parse("sub/Build.df", "FROM x\nNOPE\n", 12, &df, &err), -EINVAL);
        assert_string_equal(err->msg, "sub/Build.df:2:1: unknown instruction: NOPE");
        berth_error_free(err);
}

/* docker's scanner refuses a line of 64 KiB or more, in a heredoc too */
static void test_long_lines(void **state)
{
        size_t n = 70000;
        char *text = xmalloc(n + 64);
        int k = snprintf(text, 64, "FROM x\nRUN echo ");
        memset(text + k, 'a', 65535 - 9);
        strcpy(text + k + 65535 - 9, "\n");
        _cleanup_dockerfile_ struct bld_dockerfile *df = parse_ok(text);
        assert_int_equal(strlen(df->instrs[1].original), 65535);
        strcpy(text + k + 65535 - 9, "b\n");
        parse_err(text, "Dockerfile:2:1: dockerfile line greater than max allowed size of 65535");
        k = snprintf(text, 64, "FROM x\nRUN <<EOF\n");
        memset(text + k, 'a', 65536);
        strcpy(text + k + 65536, "\nEOF\n");
        parse_err(text, "Dockerfile:3:1: dockerfile line greater than max allowed size of 65535");
        free(text);
}

static void test_run_without_args(void **state)
{
        /* docker accepts these (RUN with nothing runs the shell) */
        _cleanup_dockerfile_ struct bld_dockerfile *df = parse_ok("FROM x\nRUN\nRUN \\\n");
        assert_int_equal(df->n_instrs, 3);
        assert_int_equal(df->instrs[1].n_args, 0);
        assert_int_equal(df->instrs[2].n_args, 0);
        assert_string_equal(df->instrs[2].original, "RUN");
}

static void assert_heredoc(const struct bld_heredoc *h, const char *name, const char *body,
                           bool expand, bool chomp)
{
        assert_string_equal(h->name, name);
        assert_string_equal(h->body, body);
        assert_int_equal(h->expand, expand);
        assert_int_equal(h->chomp, chomp);
}

static void test_heredocs(void **state)
{
        _cleanup_dockerfile_ struct bld_dockerfile *df =
            parse_ok("FROM x\n"
                     "RUN <<EOF\n"
                     "echo $HOME\n"
                     "  # not a comment, not a directive\n"
                     "EOF\n"
                     "run <<-EOT\n"
                     "\techo a\n"
                     "\t\techo b\n"
                     "\tEOT\n"
                     "COPY <<\"EOF\" /f\n"
                     "$X\n"
                     "EOF\n"
                     "RUN cat <<A > /a && cat <<'B' > /b\n"
                     "a\n"
                     "A\n"
                     "b\r\n"
                     "B\r\n"
                     "COPY <<E\"O\"F <<EMPTY /dst/\n"
                     "x\n"
                     "EOF\n"
                     "EMPTY\n"
                     "RUN [\"<<EOF\"]\n"
                     "RUN echo \"<<EOF\" '<<X' 2<<IN\n"
                     "in\n"
                     "IN\n"
                     "ONBUILD RUN <<EOF\n"
                     "trigger\n"
                     "EOF\n"
                     "ENV A=<<EOF\n"
                     "WORKDIR /w\n");
        const struct bld_instr *in = df->instrs;
        assert_int_equal(df->n_instrs, 11);
        assert_int_equal(in[1].n_heredocs, 1);
        assert_string_equal(in[1].original, "RUN <<EOF");
        assert_args(&in[1], 1, "<<EOF");
        assert_heredoc(&in[1].heredocs[0], "EOF",
                       "echo $HOME\n  # not a comment, not a directive\n", true, false);
        assert_int_equal(in[2].line, 6);
        assert_heredoc(&in[2].heredocs[0], "EOT", "echo a\necho b\n", true, true);
        assert_int_equal(in[3].kind, BLD_COPY);
        assert_args(&in[3], 2, "<<\"EOF\"", "/f");
        assert_heredoc(&in[3].heredocs[0], "EOF", "$X\n", false, false);
        assert_int_equal(in[4].n_heredocs, 2);
        assert_heredoc(&in[4].heredocs[0], "A", "a\n", true, false);
        assert_heredoc(&in[4].heredocs[1], "B", "b\r\n", false, false);
        assert_int_equal(in[5].n_heredocs, 2);
        assert_heredoc(&in[5].heredocs[0], "EOF", "x\n", false, false);
        assert_heredoc(&in[5].heredocs[1], "EMPTY", "", true, false);
        /* the exec form and quoted markers hold no heredoc; a file descriptor may lead */
        assert_int_equal(in[6].n_heredocs, 0);
        assert_int_equal(in[7].n_heredocs, 1);
        assert_heredoc(&in[7].heredocs[0], "IN", "in\n", true, false);
        assert_int_equal(in[8].kind, BLD_ONBUILD);
        assert_args(&in[8], 1, "RUN <<EOF");
        assert_int_equal(in[8].n_heredocs, 1);
        assert_heredoc(&in[8].heredocs[0], "EOF", "trigger\n", true, false);
        assert_int_equal(in[9].n_heredocs, 0);
        assert_int_equal(in[10].kind, BLD_WORKDIR);
        assert_int_equal(in[10].line, 30);
        parse_err("FROM x\nRUN <<EOF\necho\nEOF2\n", "Dockerfile:2:1: unterminated heredoc");
        parse_err("FROM x\nRUN <<A <<B\nA\n", "Dockerfile:2:1: unterminated heredoc");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_basic),
            cmocka_unit_test(test_env_label_arg),
            cmocka_unit_test(test_continuations),
            cmocka_unit_test(test_directives),
            cmocka_unit_test(test_json_or_shell),
            cmocka_unit_test(test_healthcheck_onbuild),
            cmocka_unit_test(test_flags),
            cmocka_unit_test(test_errors),
            cmocka_unit_test(test_run_without_args),
            cmocka_unit_test(test_heredocs),
            cmocka_unit_test(test_long_lines),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
