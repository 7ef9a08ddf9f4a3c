/* The Dockerfile parser: moby's classic parser (buildkit frontend/dockerfile/parser, parser.go,
 * line_parsers.go, split_command.go) and the argument checks of its instructions package, which
 * docker runs before the first step. Instructions keep their raw words; the builder expands them.
 * The text comes from the build context, so from any API client: fuzzed by
 * fuzz/build-dockerfile.c. */
#include "build/internal.h"

#include <ctype.h>

/* bufio.Scanner's default token limit, which docker's parser inherits */
#define LINE_MAX_LEN (64u * 1024 - 1)

struct parser {
        const char *name;
        const char *text;
        size_t len, pos;
        unsigned line; /* lines consumed */
        char escape;
        bool directives_done, seen_escape, seen_syntax;
        char *syntax;
        struct bld_instr *instrs;
        size_t n_instrs;
        char **warnings;
        struct berth_error **err;
};

static const struct {
        const char *name;
        enum bld_kind kind;
} keywords[] = {
    {"from", BLD_FROM},
    {"run", BLD_RUN},
    {"cmd", BLD_CMD},
    {"entrypoint", BLD_ENTRYPOINT},
    {"copy", BLD_COPY},
    {"add", BLD_ADD},
    {"env", BLD_ENV},
    {"arg", BLD_ARG},
    {"workdir", BLD_WORKDIR},
    {"user", BLD_USER},
    {"label", BLD_LABEL},
    {"expose", BLD_EXPOSE},
    {"volume", BLD_VOLUME},
    {"shell", BLD_SHELL},
    {"stopsignal", BLD_STOPSIGNAL},
    {"healthcheck", BLD_HEALTHCHECK},
    {"onbuild", BLD_ONBUILD},
    {"maintainer", BLD_MAINTAINER},
};

enum flag_type { FLAG_BOOL, FLAG_STRING, FLAG_STRINGS };

struct flag_spec {
        enum bld_kind kind;
        const char *name;
        enum flag_type type;
};

/* The flags docker's instructions define (BFlags); anything else is "Unknown flag". Whether the
 * builder implements a known one is its business: it refuses what it does not do. */
static const struct flag_spec flag_specs[] = {
    {BLD_FROM, "platform", FLAG_STRING},
    {BLD_RUN, "mount", FLAG_STRINGS},
    {BLD_RUN, "network", FLAG_STRING},
    {BLD_RUN, "security", FLAG_STRING},
    {BLD_COPY, "from", FLAG_STRING},
    {BLD_COPY, "chown", FLAG_STRING},
    {BLD_COPY, "chmod", FLAG_STRING},
    {BLD_COPY, "link", FLAG_BOOL},
    {BLD_COPY, "parents", FLAG_BOOL},
    {BLD_COPY, "exclude", FLAG_STRINGS},
    {BLD_ADD, "chown", FLAG_STRING},
    {BLD_ADD, "chmod", FLAG_STRING},
    {BLD_ADD, "link", FLAG_BOOL},
    {BLD_ADD, "checksum", FLAG_STRING},
    {BLD_ADD, "keep-git-dir", FLAG_BOOL},
    {BLD_ADD, "exclude", FLAG_STRINGS},
    {BLD_HEALTHCHECK, "interval", FLAG_STRING},
    {BLD_HEALTHCHECK, "timeout", FLAG_STRING},
    {BLD_HEALTHCHECK, "start-period", FLAG_STRING},
    {BLD_HEALTHCHECK, "start-interval", FLAG_STRING},
    {BLD_HEALTHCHECK, "retries", FLAG_STRING},
};

/* unicode.IsSpace over ASCII */
static bool is_space(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* the parser's reWhitespace, [\t\v\f\r ] */
static bool is_ws(char c)
{
        return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

/* RE2's \s: [\t\n\f\r ] */
static bool is_re_space(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static const char *skip_space(const char *s)
{
        while (is_space(*s))
                s++;
        return s;
}

static char *trim_space_dup(const char *s)
{
        s = skip_space(s);
        size_t n = strlen(s);
        while (n > 0 && is_space(s[n - 1]))
                n--;
        return xstrndup(s, n);
}

static const char *kind_name(enum bld_kind k)
{
        static const char *const names[] = {
            [BLD_FROM] = "FROM",
            [BLD_RUN] = "RUN",
            [BLD_CMD] = "CMD",
            [BLD_ENTRYPOINT] = "ENTRYPOINT",
            [BLD_COPY] = "COPY",
            [BLD_ADD] = "ADD",
            [BLD_ENV] = "ENV",
            [BLD_ARG] = "ARG",
            [BLD_WORKDIR] = "WORKDIR",
            [BLD_USER] = "USER",
            [BLD_LABEL] = "LABEL",
            [BLD_EXPOSE] = "EXPOSE",
            [BLD_VOLUME] = "VOLUME",
            [BLD_SHELL] = "SHELL",
            [BLD_STOPSIGNAL] = "STOPSIGNAL",
            [BLD_HEALTHCHECK] = "HEALTHCHECK",
            [BLD_ONBUILD] = "ONBUILD",
            [BLD_MAINTAINER] = "MAINTAINER",
        };
        return names[k];
}

static bool lookup_kind(const char *word, enum bld_kind *ret)
{
        for (size_t i = 0; i < ARRAY_SIZE(keywords); i++)
                if (!strcasecmp(word, keywords[i].name)) {
                        *ret = keywords[i].kind;
                        return true;
                }
        return false;
}

static void instr_release(struct bld_instr *in)
{
        free(in->original);
        for (size_t i = 0; i < in->n_flags; i++) {
                free(in->flags[i].name);
                free(in->flags[i].value);
        }
        free(in->flags);
        for (size_t i = 0; i < in->n_args; i++)
                free(in->args[i]);
        free(in->args);
        for (size_t i = 0; i < in->n_heredocs; i++) {
                free(in->heredocs[i].name);
                free(in->heredocs[i].body);
        }
        free(in->heredocs);
        *in = (struct bld_instr){0};
}

void bld_dockerfile_free(struct bld_dockerfile *df)
{
        if (!df)
                return;
        for (size_t i = 0; i < df->n_instrs; i++)
                instr_release(&df->instrs[i]);
        free(df->instrs);
        free(df->syntax);
        strv_free(df->warnings);
        free(df);
}

void bld_dockerfile_freep(struct bld_dockerfile **df)
{
        bld_dockerfile_free(*df);
        *df = NULL;
}

static void add_arg(struct bld_instr *in, const char *s)
{
        in->args = xrealloc(in->args, (in->n_args + 1) * sizeof(char *));
        in->args[in->n_args++] = s ? xstrdup(s) : NULL;
}

static void add_arg_n(struct bld_instr *in, const char *s, size_t n)
{
        in->args = xrealloc(in->args, (in->n_args + 1) * sizeof(char *));
        in->args[in->n_args++] = xstrndup(s, n);
}

/* An error at line:col of the file; what is printf'd. */
static int fail(struct parser *p, unsigned line, unsigned col, const char *fmt, ...) _printf_(4, 5);
static int fail(struct parser *p, unsigned line, unsigned col, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        _cleanup_free_ char *what = NULL;
        if (vasprintf(&what, fmt, ap) < 0)
                abort();
        va_end(ap);
        return berth_error_setx(p->err, EINVAL, "%s:%u:%u: %s", p->name, line, col, what);
}

/* ------------------------------------------------------------------ words */

/* moby's parseWords: whitespace separates, quotes group and are kept, the escape character is
 * kept with the character it escapes (the words are expanded later). */
static char **parse_words(const char *rest, char escape)
{
        char **v = NULL;
        struct bld_buf w = {0};
        bool in_word = false, in_quote = false, blank_ok = false;
        char quote = 0;
        size_t n = strlen(rest);
        for (size_t pos = 0; pos <= n; pos++) {
                char ch = pos < n ? rest[pos] : 0;
                if (!in_word && !in_quote) {
                        if (pos == n)
                                break;
                        if (is_space(ch))
                                continue;
                        in_word = true;
                }
                if (pos == n) {
                        if (blank_ok || w.len > 0)
                                strv_push(&v, w.s ? w.s : "");
                        break;
                }
                if (!in_quote) {
                        if (is_space(ch)) {
                                in_word = false;
                                if (blank_ok || w.len > 0)
                                        strv_push(&v, w.s ? w.s : "");
                                w.len = 0;
                                if (w.s)
                                        w.s[0] = '\0';
                                blank_ok = false;
                                continue;
                        }
                        if (ch == '\'' || ch == '"') {
                                quote = ch;
                                blank_ok = true;
                                in_quote = true;
                        }
                        if (ch == escape) {
                                if (pos + 1 == n)
                                        continue; /* an escape at the end is dropped */
                                bld_buf_addc(&w, ch);
                                ch = rest[++pos];
                        }
                        bld_buf_addc(&w, ch);
                        continue;
                }
                /* in a quote */
                if (ch == quote)
                        in_quote = false;
                if (ch == escape && quote != '\'') {
                        if (pos + 1 == n) {
                                in_quote = false;
                                continue;
                        }
                        bld_buf_addc(&w, ch);
                        ch = rest[++pos];
                }
                bld_buf_addc(&w, ch);
        }
        bld_buf_release(&w);
        return v ? v : xcalloc(1, sizeof(char *));
}

/* moby's extractBuilderFlags: the leading `--x` words (quotes removed, '\' escapes), the rest
 * of the line after them in *ret_rest. */
static char **extract_flags(const char *line, const char **ret_rest)
{
        char **v = NULL;
        struct bld_buf w = {0};
        enum { SPACES, WORD, QUOTE } phase = SPACES;
        bool blank_ok = false;
        char quote = 0;
        size_t n = strlen(line);
        *ret_rest = line + n;
        for (size_t pos = 0; pos <= n; pos++) {
                char ch = pos < n ? line[pos] : 0;
                if (phase == SPACES) {
                        if (pos == n)
                                break;
                        if (is_space(ch))
                                continue;
                        if (ch != '-' || pos + 1 == n || line[pos + 1] != '-') {
                                *ret_rest = line + pos;
                                break;
                        }
                        phase = WORD;
                }
                if (pos == n) {
                        if (!(w.len == 2 && !strcmp(w.s, "--")) && (blank_ok || w.len > 0))
                                strv_push(&v, w.s ? w.s : "");
                        break;
                }
                if (phase == WORD) {
                        if (is_space(ch)) {
                                phase = SPACES;
                                if (w.len == 2 && !strcmp(w.s, "--")) {
                                        *ret_rest = line + pos;
                                        break;
                                }
                                if (blank_ok || w.len > 0)
                                        strv_push(&v, w.s ? w.s : "");
                                w.len = 0;
                                if (w.s)
                                        w.s[0] = '\0';
                                blank_ok = false;
                                continue;
                        }
                        if (ch == '\'' || ch == '"') {
                                quote = ch;
                                blank_ok = true;
                                phase = QUOTE;
                                continue;
                        }
                        if (ch == '\\') {
                                if (pos + 1 == n)
                                        continue;
                                ch = line[++pos];
                        }
                        bld_buf_addc(&w, ch);
                        continue;
                }
                /* QUOTE */
                if (ch == quote) {
                        phase = WORD;
                        continue;
                }
                if (ch == '\\') {
                        if (pos + 1 == n) {
                                phase = WORD;
                                continue;
                        }
                        ch = line[++pos];
                }
                bld_buf_addc(&w, ch);
        }
        bld_buf_release(&w);
        return v;
}

/* moby's parseJSON: 1 and the strings when rest is a JSON array of strings (what follows the
 * array is ignored, like Go's json.Decoder), 0 when it is no JSON array (shell form), -EINVAL
 * for an array holding something else than strings. */
static int parse_json(const char *rest, struct bld_instr *in)
{
        rest = skip_space(rest);
        if (*rest != '[')
                return 0;
        json_error_t jerr;
        _cleanup_json_ json_t *j = json_loads(rest, JSON_DISABLE_EOF_CHECK, &jerr);
        if (!j || !json_is_array(j))
                return 0;
        size_t i;
        json_t *e;
        json_array_foreach(j, i, e) if (!json_is_string(e)) return -EINVAL;
        json_array_foreach(j, i, e) add_arg(in, json_string_value(e));
        in->json = true;
        return 1;
}

/* ------------------------------------------------------------------ one instruction */

struct line_ctx {
        unsigned line, col;
};

static int parse_flags(struct parser *p, const struct line_ctx *lc, struct bld_instr *in,
                       char **words)
{
        for (size_t i = 0; words && words[i]; i++) {
                const char *w = words[i];
                if (strncmp(w, "--", 2))
                        return fail(p, lc->line, lc->col, "Arg should start with -- : %s", w);
                w += 2;
                const char *eq = strchr(w, '=');
                _cleanup_free_ char *name = eq ? xstrndup(w, (size_t)(eq - w)) : xstrdup(w);
                in->flags = xrealloc(in->flags, (in->n_flags + 1) * sizeof(*in->flags));
                in->flags[in->n_flags++] = (struct bld_flag){
                    .name = TAKE_PTR(name),
                    .value = xstrdup(eq ? eq + 1 : ""),
                };
        }
        return 0;
}

/* BFlags.Parse against the instruction's flag set */
static int check_flags(struct parser *p, const struct line_ctx *lc, const struct bld_instr *in,
                       char **words)
{
        for (size_t i = 0; i < in->n_flags; i++) {
                const struct bld_flag *f = &in->flags[i];
                bool has_eq = strchr(words[i], '=') != NULL;
                const struct flag_spec *spec = NULL;
                for (size_t k = 0; k < ARRAY_SIZE(flag_specs); k++)
                        if (flag_specs[k].kind == in->kind && !strcmp(flag_specs[k].name, f->name))
                                spec = &flag_specs[k];
                if (!spec)
                        return fail(p, lc->line, lc->col, "Unknown flag: %s", f->name);
                if (spec->type != FLAG_STRINGS)
                        for (size_t k = 0; k < i; k++)
                                if (!strcmp(in->flags[k].name, f->name))
                                        return fail(p, lc->line, lc->col,
                                                    "Duplicate flag specified: %s", f->name);
                if (spec->type == FLAG_BOOL) {
                        if (has_eq && !*f->value)
                                return fail(p, lc->line, lc->col, "Missing a value on flag: %s",
                                            f->name);
                        if (*f->value && strcasecmp(f->value, "true") &&
                            strcasecmp(f->value, "false"))
                                return fail(p, lc->line, lc->col,
                                            "Expecting boolean value for flag %s, not: %s", f->name,
                                            f->value);
                } else if (!has_eq) {
                        return fail(p, lc->line, lc->col, "Missing a value on flag: %s", f->name);
                }
        }
        return 0;
}

/* ENV and LABEL: `key value…` (legacy, one pair) or `k=v k2="v 2"` */
static int parse_name_val(struct parser *p, const struct line_ctx *lc, const char *rest,
                          const char *key, struct bld_instr *in)
{
        _cleanup_strv_ char **words = parse_words(rest, p->escape);
        if (!words[0])
                return 0;
        if (!strchr(words[0], '=')) {
                size_t n = 0;
                while (rest[n] && !is_ws(rest[n]))
                        n++;
                size_t m = n;
                while (rest[m] && is_ws(rest[m]))
                        m++;
                if (!rest[n])
                        return fail(p, lc->line, lc->col, "%s must have two arguments", key);
                add_arg_n(in, rest, n);
                add_arg(in, rest + m);
                return 0;
        }
        for (size_t i = 0; words[i]; i++) {
                const char *eq = strchr(words[i], '=');
                if (!eq) {
                        _cleanup_free_ char *q = bld_go_quote(words[i]);
                        return fail(p, lc->line, lc->col,
                                    "Syntax error - can't find = in %s. Must be of the "
                                    "form: name=value",
                                    q);
                }
                add_arg_n(in, words[i], (size_t)(eq - words[i]));
                add_arg(in, eq + 1);
        }
        return 0;
}

static int parse_maybe_json(struct parser *p, const struct line_ctx *lc, const char *rest,
                            struct bld_instr *in, bool to_list)
{
        int r = parse_json(rest, in);
        if (r < 0)
                return fail(p, lc->line, lc->col,
                            "when using JSON array syntax, arrays must be comprised of "
                            "strings only");
        if (r > 0)
                return 0;
        if (to_list) {
                _cleanup_strv_ char **words = parse_words(rest, p->escape);
                for (size_t i = 0; words[i]; i++)
                        add_arg(in, words[i]);
        } else if (*rest) {
                add_arg(in, rest);
        }
        return 0;
}

/* moby's newNodeFromLine with the line parsers of dispatch[]; *ret_known is false for an
 * unknown keyword (an error for an instruction, not for an ONBUILD trigger). */
static int parse_node(struct parser *p, const struct line_ctx *lc, const char *line,
                      struct bld_instr *in, char ***ret_flag_words, bool *ret_known)
{
        const char *s = skip_space(line);
        size_t cl = 0;
        while (s[cl] && !is_ws(s[cl]))
                cl++;
        _cleanup_free_ char *cmd = xstrndup(s, cl);
        const char *after = s + cl;
        while (*after && is_ws(*after))
                after++;
        const char *rest_start = "";
        _cleanup_strv_ char **flag_words = extract_flags(after, &rest_start);
        _cleanup_free_ char *rest = trim_space_dup(rest_start);
        int r;

        if (!lookup_kind(cmd, &in->kind)) {
                *ret_known = false;
                if (!*cmd)
                        return fail(p, lc->line, lc->col,
                                    "unexpected end of file after a line continuation");
                for (char *c = cmd; *c; c++)
                        *c = (char)toupper((unsigned char)*c);
                return fail(p, lc->line, lc->col, "unknown instruction: %s", cmd);
        }
        *ret_known = true;
        r = parse_flags(p, lc, in, flag_words);
        if (r < 0)
                return r;
        switch (in->kind) {
        case BLD_ADD:
        case BLD_COPY:
        case BLD_VOLUME:
                r = parse_maybe_json(p, lc, rest, in, true);
                break;
        case BLD_RUN:
        case BLD_CMD:
        case BLD_ENTRYPOINT:
        case BLD_SHELL:
                r = parse_maybe_json(p, lc, rest, in, false);
                break;
        case BLD_ENV:
                r = parse_name_val(p, lc, rest, "ENV", in);
                break;
        case BLD_LABEL:
                r = parse_name_val(p, lc, rest, "LABEL", in);
                break;
        case BLD_ARG: {
                _cleanup_strv_ char **words = parse_words(rest, p->escape);
                for (size_t i = 0; words[i]; i++) {
                        const char *eq = strchr(words[i], '=');
                        if (eq) {
                                add_arg_n(in, words[i], (size_t)(eq - words[i]));
                                add_arg(in, eq + 1);
                        } else {
                                add_arg(in, words[i]);
                                add_arg(in, NULL);
                        }
                }
                break;
        }
        case BLD_FROM:
        case BLD_EXPOSE: {
                _cleanup_strv_ char **words = parse_words(rest, p->escape);
                for (size_t i = 0; words[i]; i++)
                        add_arg(in, words[i]);
                break;
        }
        case BLD_HEALTHCHECK: {
                size_t sep = 0;
                while (rest[sep] && !is_space(rest[sep]))
                        sep++;
                if (sep == 0)
                        break;
                _cleanup_free_ char *typ = xstrndup(rest, sep);
                for (char *c = typ; *c; c++)
                        *c = (char)toupper((unsigned char)*c);
                add_arg(in, typ);
                r = parse_maybe_json(p, lc, skip_space(rest + sep), in, false);
                break;
        }
        case BLD_ONBUILD:
                if (*rest)
                        add_arg(in, rest);
                break;
        case BLD_MAINTAINER:
        case BLD_STOPSIGNAL:
        case BLD_USER:
        case BLD_WORKDIR:
                if (*rest)
                        add_arg(in, rest);
                break;
        }
        if (r < 0)
                return r;
        *ret_flag_words = TAKE_PTR(flag_words);
        return 0;
}

static bool valid_stage_name(const char *s)
{
        if (!islower((unsigned char)*s) && !isupper((unsigned char)*s))
                return false;
        for (s++; *s; s++)
                if (!isalnum((unsigned char)*s) && !strchr("-_.", *s))
                        return false;
        return true;
}

/* the checks of moby's instructions.Parse* that need nothing but the words */
static int check_instr(struct parser *p, const struct line_ctx *lc, struct bld_instr *in)
{
        const char *k = kind_name(in->kind);
        switch (in->kind) {
        case BLD_FROM:
                if (in->n_args == 3 && !strcasecmp(in->args[1], "as")) {
                        if (!valid_stage_name(in->args[2])) {
                                _cleanup_free_ char *q = bld_go_quote(in->args[2]);
                                return fail(p, lc->line, lc->col,
                                            "invalid name for build stage: %s, name can't "
                                            "start with a number or contain symbols",
                                            q);
                        }
                } else if (in->n_args != 1) {
                        return fail(p, lc->line, lc->col,
                                    "FROM requires either one or three arguments");
                }
                break;
        case BLD_COPY:
        case BLD_ADD:
                if (in->n_args < 2)
                        return fail(p, lc->line, lc->col,
                                    "%s requires at least two arguments, but only one was "
                                    "provided. Destination could not be determined",
                                    k);
                break;
        case BLD_ENV:
        case BLD_LABEL:
        case BLD_ARG:
                if (in->n_args == 0)
                        return fail(p, lc->line, lc->col, "%s requires at least one argument", k);
                for (size_t i = 0; i < in->n_args; i += 2)
                        if (!*in->args[i])
                                return fail(p, lc->line, lc->col, "%s names can not be blank", k);
                break;
        case BLD_WORKDIR:
        case BLD_USER:
        case BLD_STOPSIGNAL:
        case BLD_MAINTAINER:
                if (in->n_args != 1)
                        return fail(p, lc->line, lc->col, "%s requires exactly one argument", k);
                break;
        case BLD_EXPOSE:
        case BLD_ONBUILD:
                if (in->n_args == 0)
                        return fail(p, lc->line, lc->col, "%s requires at least one argument", k);
                break;
        case BLD_VOLUME:
                if (in->n_args == 0)
                        return fail(p, lc->line, lc->col, "%s requires at least one argument", k);
                for (size_t i = 0; i < in->n_args; i++) {
                        _cleanup_free_ char *t = trim_space_dup(in->args[i]);
                        if (!*t)
                                return fail(p, lc->line, lc->col,
                                            "VOLUME specified can not be an empty string");
                }
                break;
        case BLD_SHELL:
                if (in->n_args == 0)
                        return fail(p, lc->line, lc->col, "%s requires at least one argument", k);
                if (!in->json)
                        return fail(p, lc->line, lc->col,
                                    "SHELL requires the arguments to be in JSON form");
                break;
        case BLD_HEALTHCHECK:
                if (in->n_args == 0)
                        return fail(p, lc->line, lc->col, "%s requires at least one argument", k);
                if (!strcmp(in->args[0], "NONE")) {
                        if (in->n_args != 1)
                                return fail(p, lc->line, lc->col,
                                            "HEALTHCHECK NONE takes no arguments");
                } else if (!strcmp(in->args[0], "CMD")) {
                        if (in->n_args == 1)
                                return fail(p, lc->line, lc->col,
                                            "Missing command after HEALTHCHECK CMD");
                } else {
                        _cleanup_free_ char *q = bld_go_quote(in->args[0]);
                        return fail(p, lc->line, lc->col,
                                    "Unknown type %s in HEALTHCHECK (try CMD)", q);
                }
                break;
        case BLD_RUN:
        case BLD_CMD:
        case BLD_ENTRYPOINT:
                break;
        }
        return 0;
}

static int parse_heredocs(struct parser *p, const struct line_ctx *lc, const char *line,
                          struct bld_instr *in);

/* One logical line (continuations joined) into p->instrs. */
static int parse_instr(struct parser *p, const struct line_ctx *lc, const char *line)
{
        struct bld_instr in = {.line = lc->line};
        _cleanup_strv_ char **flag_words = NULL;
        bool known;
        int r = parse_node(p, lc, line, &in, &flag_words, &known);
        if (r >= 0)
                r = check_instr(p, lc, &in);
        if (r >= 0)
                r = check_flags(p, lc, &in, flag_words);
        if (r >= 0 && in.kind == BLD_ONBUILD) {
                /* the trigger is parsed as a line (moby's parseSubCommand) but only checked
                 * when it runs; an unknown trigger passes too */
                struct bld_instr trig = {0};
                _cleanup_strv_ char **tf = NULL;
                bool tknown;
                struct berth_error *e = NULL;
                struct berth_error **saved = p->err;
                p->err = &e;
                int tr = parse_node(p, lc, in.args[0], &trig, &tf, &tknown);
                p->err = saved;
                if (tr < 0 && tknown) {
                        /* report the trigger's own line error */
                        if (p->err)
                                *p->err = e;
                        else
                                berth_error_free(e);
                        r = tr;
                } else {
                        berth_error_free(e);
                        if (tknown && (trig.kind == BLD_ONBUILD))
                                r = fail(p, lc->line, lc->col,
                                         "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
                        else if (tknown && (trig.kind == BLD_FROM || trig.kind == BLD_MAINTAINER))
                                r = fail(p, lc->line, lc->col,
                                         "%s isn't allowed as an ONBUILD trigger",
                                         kind_name(trig.kind));
                        else if (tknown && !trig.json &&
                                 (trig.kind == BLD_RUN || trig.kind == BLD_COPY ||
                                  trig.kind == BLD_ADD))
                                r = parse_heredocs(p, lc, line, &in);
                }
                instr_release(&trig);
        } else if (r >= 0 && !in.json &&
                   (in.kind == BLD_RUN || in.kind == BLD_COPY || in.kind == BLD_ADD)) {
                r = parse_heredocs(p, lc, line, &in);
        }
        if (r < 0) {
                instr_release(&in);
                return r;
        }
        /* moby's withNameAndCode keeps strings.TrimSpace(original) */
        in.original = trim_space_dup(line);
        p->instrs = xrealloc(p->instrs, (p->n_instrs + 1) * sizeof(*p->instrs));
        p->instrs[p->n_instrs++] = in;
        return 0;
}

/* ------------------------------------------------------------------ lines */

/* The next line with its terminator, or false at the end. */
static bool next_line(struct parser *p, const char **ret, size_t *ret_len)
{
        if (p->pos >= p->len)
                return false;
        const char *s = p->text + p->pos;
        const char *nl = memchr(s, '\n', p->len - p->pos);
        size_t n = nl ? (size_t)(nl - s) + 1 : p->len - p->pos;
        p->pos += n;
        *ret = s;
        *ret_len = n;
        return true;
}

static size_t trim_newline(const char *s, size_t n)
{
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
                n--;
        return n;
}

static bool is_comment(const char *s, size_t n)
{
        n = trim_newline(s, n);
        size_t i = 0;
        while (i < n && is_space(s[i]))
                i++;
        return i < n && s[i] == '#';
}

/* reDirectives `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$` against a line, until the first
 * line that is not a known directive. */
static int possible_directive(struct parser *p, const char *s, size_t n, unsigned line)
{
        if (p->directives_done)
                return 0;
        size_t i = 0;
        if (n == 0 || s[0] != '#') {
                p->directives_done = true;
                return 0;
        }
        for (i = 1; i < n && is_re_space(s[i]); i++)
                ;
        size_t k0 = i;
        if (i >= n || !isalpha((unsigned char)s[i])) {
                p->directives_done = true;
                return 0;
        }
        while (i < n && isalnum((unsigned char)s[i]))
                i++;
        size_t k1 = i;
        while (i < n && is_re_space(s[i]))
                i++;
        if (i >= n || s[i] != '=') {
                p->directives_done = true;
                return 0;
        }
        i++;
        size_t sp = i;
        while (i < n && is_re_space(s[i]))
                i++;
        size_t v0 = i, v1 = n;
        while (v1 > v0 && is_re_space(s[v1 - 1]))
                v1--;
        if (v0 == v1) {
                /* (.+?) takes one character back from the spaces before it */
                if (v0 == sp) {
                        p->directives_done = true;
                        return 0;
                }
                v0--;
                v1 = v0 + 1;
        }
        _cleanup_free_ char *key = xstrndup(s + k0, k1 - k0);
        _cleanup_free_ char *value = xstrndup(s + v0, v1 - v0);
        if (!strcasecmp(key, "escape")) {
                if (p->seen_escape)
                        return fail(p, line, 1, "only one escape parser directive can be used");
                p->seen_escape = true;
                if (strcmp(value, "`") && strcmp(value, "\\"))
                        return fail(p, line, 1, "invalid escape token '%s' does not match ` or \\",
                                    value);
                p->escape = value[0];
        } else if (!strcasecmp(key, "syntax")) {
                if (p->seen_syntax)
                        return fail(p, line, 1, "only one syntax parser directive can be used");
                p->seen_syntax = true;
                p->syntax = TAKE_PTR(value);
        } else {
                p->directives_done = true;
        }
        return 0;
}

/* `([^E])E[ \t]*$|^E[ \t]*$` → "$1": true when the line continues */
static bool trim_continuation(const struct parser *p, char *s)
{
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
        if (n == 0 || s[n - 1] != p->escape)
                return false;
        if (n >= 2 && s[n - 2] == p->escape)
                return false;
        s[n - 1] = '\0';
        return true;
}

/* a processed line (newline trimmed, maybe left-trimmed, a comment emptied), NUL-terminated */
static char *process_line(struct parser *p, const char *raw, size_t n, bool strip_left,
                          unsigned line, int *r)
{
        n = trim_newline(raw, n);
        if (strip_left)
                while (n > 0 && is_space(*raw)) {
                        raw++;
                        n--;
                }
        *r = possible_directive(p, raw, n, line);
        if (n > 0 && raw[0] == '#')
                n = 0;
        return xstrndup(raw, n);
}

/* The lines of the file into p->instrs (moby's Parse loop). */
static int parse_lines(struct parser *p)
{
        const char *raw;
        size_t n;
        int r = 0;

        while (next_line(p, &raw, &n)) {
                if (trim_newline(raw, n) > LINE_MAX_LEN)
                        return fail(p, p->line + 1, 1,
                                    "dockerfile line greater than max allowed size of %u",
                                    LINE_MAX_LEN);
                size_t lead = 0;
                while (lead < n && is_space(raw[lead]) && raw[lead] != '\n')
                        lead++;
                _cleanup_free_ char *first = process_line(p, raw, n, true, p->line + 1, &r);
                if (r < 0)
                        return r;
                p->line++;
                struct line_ctx lc = {.line = p->line, .col = (unsigned)lead + 1};
                bool cont = trim_continuation(p, first);
                if (!cont && !*first)
                        continue;
                _cleanup_(bld_buf_release) struct bld_buf line = {0};
                bool empty_continuation = false;
                bld_buf_adds(&line, first);
                while (cont && next_line(p, &raw, &n)) {
                        if (trim_newline(raw, n) > LINE_MAX_LEN)
                                return fail(p, p->line + 1, 1,
                                            "dockerfile line greater than max allowed size of %u",
                                            LINE_MAX_LEN);
                        _cleanup_free_ char *c = process_line(p, raw, n, false, p->line + 1, &r);
                        if (r < 0)
                                return r;
                        p->line++;
                        if (is_comment(raw, n))
                                continue;
                        if (!*skip_space(c)) {
                                empty_continuation = true;
                                continue;
                        }
                        cont = trim_continuation(p, c);
                        bld_buf_adds(&line, c);
                }
                r = parse_instr(p, &lc, line.s ? line.s : "");
                if (r < 0)
                        return r;
                if (empty_continuation) {
                        _cleanup_free_ char *w = xasprintf(
                            "[WARNING]: Empty continuation line found in:\n    %s", line.s);
                        strv_push(&p->warnings, w);
                }
        }
        if (p->n_instrs == 0)
                return fail(p, p->line, 1, "file with no instructions");
        if (p->warnings)
                strv_push(&p->warnings, "[WARNING]: Empty continuation lines will become errors "
                                        "in a future release.");
        return 0;
}

int bld_parse(const char *name, const char *text, size_t len, struct bld_dockerfile **ret,
              struct berth_error **err)
{
        struct parser p = {
            .name = name,
            .text = text,
            .len = len,
            .escape = '\\',
            .err = err,
        };
        const char *z = memchr(text, '\0', len);
        if (z) {
                unsigned line = 1;
                for (const char *c = text; c < z; c++)
                        line += *c == '\n';
                return berth_error_setx(err, EINVAL, "%s:%u:1: NUL byte in the Dockerfile", name,
                                        line);
        }
        if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
                p.pos = 3;
        int r = parse_lines(&p);
        if (r < 0) {
                for (size_t i = 0; i < p.n_instrs; i++)
                        instr_release(&p.instrs[i]);
                free(p.instrs);
                free(p.syntax);
                strv_free(p.warnings);
                return r;
        }
        struct bld_dockerfile *df = xcalloc(1, sizeof(*df));
        df->escape = p.escape;
        df->syntax = p.syntax;
        df->instrs = p.instrs;
        df->n_instrs = p.n_instrs;
        df->warnings = p.warnings;
        *ret = df;
        return 0;
}

/* ------------------------------------------------------------------ heredocs */

/* `^(\d*)<<(-?)([^<]*)$` on one raw word: 1 with the heredoc, 0 when the word is none */
static int heredoc_from_word(struct parser *p, const struct line_ctx *lc, const char *word,
                             struct bld_heredoc *ret)
{
        const char *s = word;
        while (isdigit((unsigned char)*s))
                s++;
        if (strncmp(s, "<<", 2))
                return 0;
        s += 2;
        bool chomp = *s == '-';
        if (chomp)
                s++;
        if (!*s || strchr(s, '<'))
                return 0;
        struct bld_lex_opts o = {.escape = '\\', .skip_unset = true};
        _cleanup_strv_ char **words = NULL;
        _cleanup_strv_ char **raw_words = NULL;
        struct berth_error *e = NULL;
        if (bld_lex(s, &o, NULL, NULL, NULL, &words, &e) < 0) {
                int r = fail(p, lc->line, lc->col, "%s", e->msg);
                berth_error_free(e);
                return r;
        }
        if (strv_length(words) != 1)
                return 0;
        o.raw_quotes = true;
        if (bld_lex(s, &o, NULL, NULL, NULL, &raw_words, &e) < 0) {
                int r = fail(p, lc->line, lc->col, "%s", e->msg);
                berth_error_free(e);
                return r;
        }
        if (strv_length(raw_words) != 1)
                return fail(p, lc->line, lc->col,
                            "internal lexing of heredoc produced inconsistent results: %s", s);
        size_t q = 0, rq = 0;
        for (const char *c = words[0]; *c; c++)
                q += *c == '\'' || *c == '"';
        for (const char *c = raw_words[0]; *c; c++)
                rq += *c == '\'' || *c == '"';
        *ret = (struct bld_heredoc){
            .name = xstrdup(words[0]),
            .expand = q == rq,
            .chomp = chomp,
        };
        return 1;
}

static char *chomp_tabs(const char *body)
{
        struct bld_buf b = {0};
        bool bol = true;
        for (const char *c = body; *c; c++) {
                if (bol && *c == '\t')
                        continue;
                bol = *c == '\n';
                bld_buf_addc(&b, *c);
        }
        return bld_buf_take(&b);
}

/* heredocsFromLine, then each body read from the following lines */
static int parse_heredocs(struct parser *p, const struct line_ctx *lc, const char *line,
                          struct bld_instr *in)
{
        if (!strstr(line, "<<"))
                return 0;
        struct bld_lex_opts o = {
            .escape = '\\', .raw_quotes = true, .raw_escapes = true, .skip_unset = true};
        _cleanup_strv_ char **words = NULL;
        struct berth_error *e = NULL;
        if (bld_lex(line, &o, NULL, NULL, NULL, &words, &e) < 0) {
                berth_error_free(e); /* like moby: no heredocs then */
                return 0;
        }
        for (size_t i = 0; words[i]; i++) {
                struct bld_heredoc h;
                int r = heredoc_from_word(p, lc, words[i], &h);
                if (r < 0)
                        return r;
                if (r == 0)
                        continue;
                struct bld_buf body = {0};
                bool done = false;
                const char *raw;
                size_t n;
                while (next_line(p, &raw, &n)) {
                        p->line++;
                        size_t tn = trim_newline(raw, n);
                        if (tn > LINE_MAX_LEN) {
                                bld_buf_release(&body);
                                free(h.name);
                                return fail(p, p->line, 1,
                                            "dockerfile line greater than max allowed size of %u",
                                            LINE_MAX_LEN);
                        }
                        const char *t = raw;
                        if (h.chomp)
                                while (tn > 0 && *t == '\t') {
                                        t++;
                                        tn--;
                                }
                        if (tn == strlen(h.name) && !memcmp(t, h.name, tn)) {
                                done = true;
                                break;
                        }
                        bld_buf_add(&body, raw, n);
                }
                if (!done) {
                        bld_buf_release(&body);
                        free(h.name);
                        return fail(p, lc->line, lc->col, "unterminated heredoc");
                }
                h.body = bld_buf_take(&body);
                if (h.chomp) {
                        char *c = chomp_tabs(h.body);
                        free(h.body);
                        h.body = c;
                }
                in->heredocs = xrealloc(in->heredocs, (in->n_heredocs + 1) * sizeof(*in->heredocs));
                in->heredocs[in->n_heredocs++] = h;
        }
        return 0;
}
