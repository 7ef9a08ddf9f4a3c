/* Word expansion as moby's shell lexer does it (buildkit frontend/dockerfile/shell/lex.go,
 * ProcessWord and ProcessWords): quotes, the escape character, $VAR and ${VAR...}. The words of
 * every instruction but RUN's shell form go through here, with the variables in scope. */
#include "build/internal.h"

#include <ctype.h>

#define LEX_EOF -1
/* ${a:-${b:-${c...}}} nests through recursion: refuse before the stack would suffer */
#define LEX_DEPTH_MAX 64

struct lexer {
        const char *s;
        size_t len, pos;
        const struct bld_lex_opts *o;
        bld_lookup_fn lookup;
        void *userdata;
        unsigned depth;
        char *msg; /* the first error, before bld_lex() names the text */
};

/* moby's wordsStruct: the split into words done while expanding */
struct words {
        struct bld_buf word;
        char **v;
        size_t n;
        bool in_word;
};

static int peek(const struct lexer *l)
{
        return l->pos < l->len ? (unsigned char)l->s[l->pos] : LEX_EOF;
}

static int next(struct lexer *l)
{
        return l->pos < l->len ? (unsigned char)l->s[l->pos++] : LEX_EOF;
}

static int lex_fail(struct lexer *l, const char *fmt, ...) _printf_(2, 3);
static int lex_fail(struct lexer *l, const char *fmt, ...)
{
        if (!l->msg) {
                va_list ap;
                va_start(ap, fmt);
                if (vasprintf(&l->msg, fmt, ap) < 0)
                        abort();
                va_end(ap);
        }
        return -EINVAL;
}

/* unicode.IsSpace over the ASCII range: bytes of a UTF-8 sequence never split a word */
static bool is_space(int c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static void words_push(struct words *w)
{
        w->v = xrealloc(w->v, (w->n + 2) * sizeof(char *));
        w->v[w->n++] = xstrndup(w->word.s ? w->word.s : "", w->word.len);
        w->v[w->n] = NULL;
        w->word.len = 0;
        if (w->word.s)
                w->word.s[0] = '\0';
        w->in_word = false;
}

static void words_raw_char(struct words *w, char c)
{
        bld_buf_addc(&w->word, c);
        w->in_word = true;
}

static void words_char(struct words *w, char c)
{
        if (is_space((unsigned char)c)) {
                if (w->in_word && w->word.len > 0)
                        words_push(w);
        } else {
                words_raw_char(w, c);
        }
}

static void words_string(struct words *w, const char *s)
{
        for (; *s; s++)
                words_char(w, *s);
}

static void words_raw_string(struct words *w, const char *s)
{
        bld_buf_adds(&w->word, s);
        w->in_word = true;
}

static void words_release(struct words *w)
{
        bld_buf_release(&w->word);
        for (size_t i = 0; i < w->n; i++)
                free(w->v[i]);
        free(w->v);
        *w = (struct words){0};
}

static int process_stop_on(struct lexer *l, int stop, struct bld_buf *result, struct words *w);

static int process_single_quote(struct lexer *l, struct bld_buf *out)
{
        int ch = next(l);
        if (l->o->raw_quotes)
                bld_buf_addc(out, (char)ch);
        for (;;) {
                ch = next(l);
                if (ch == LEX_EOF)
                        return lex_fail(l, "unexpected end of statement while looking for "
                                           "matching single-quote");
                if (ch == '\'') {
                        if (l->o->raw_quotes)
                                bld_buf_addc(out, (char)ch);
                        return 0;
                }
                bld_buf_addc(out, (char)ch);
        }
}

static int process_dollar(struct lexer *l, struct bld_buf *out);

static int process_double_quote(struct lexer *l, struct bld_buf *out)
{
        int ch = next(l);
        if (l->o->raw_quotes)
                bld_buf_addc(out, (char)ch);
        for (;;) {
                switch (peek(l)) {
                case LEX_EOF:
                        return lex_fail(l, "unexpected end of statement while looking for "
                                           "matching double-quote");
                case '"':
                        ch = next(l);
                        if (l->o->raw_quotes)
                                bld_buf_addc(out, (char)ch);
                        return 0;
                case '$': {
                        int r = process_dollar(l, out);
                        if (r < 0)
                                return r;
                        break;
                }
                default:
                        ch = next(l);
                        if (ch == (unsigned char)l->o->escape) {
                                if (l->o->raw_escapes)
                                        bld_buf_addc(out, (char)ch);
                                int p = peek(l);
                                if (p == LEX_EOF)
                                        continue; /* an escape at the end is dropped */
                                /* only these are escaped inside "…"; other escapes stay */
                                if (p == '"' || p == '$' || p == (unsigned char)l->o->escape)
                                        ch = next(l);
                                else if (l->o->raw_escapes)
                                        continue;
                        }
                        bld_buf_addc(out, (char)ch);
                }
        }
}

/* A name: letters, digits and '_'; a leading digit run ($1, $12) or one special parameter
 * ($@ $* $# $? $- $$ $! $0) stands alone. */
static char *process_name(struct lexer *l)
{
        struct bld_buf name = {0};
        while (peek(l) != LEX_EOF) {
                int ch = peek(l);
                if (name.len == 0 && isdigit(ch)) {
                        while (peek(l) != LEX_EOF && isdigit(peek(l)))
                                bld_buf_addc(&name, (char)next(l));
                        break;
                }
                if (name.len == 0 && strchr("@*#?-$!0", ch)) {
                        bld_buf_addc(&name, (char)next(l));
                        break;
                }
                if (!isalnum(ch) && ch != '_')
                        break;
                bld_buf_addc(&name, (char)next(l));
        }
        return bld_buf_take(&name);
}

static const char *lookup(struct lexer *l, const char *name)
{
        return l->lookup ? l->lookup(l->userdata, name) : NULL;
}

static int process_dollar(struct lexer *l, struct bld_buf *out)
{
        next(l); /* '$' */
        if (peek(l) != '{') {
                _cleanup_free_ char *name = process_name(l);
                if (!*name) {
                        bld_buf_addc(out, '$');
                        return 0;
                }
                const char *v = lookup(l, name);
                if (!v && l->o->skip_unset) {
                        bld_buf_addc(out, '$');
                        bld_buf_adds(out, name);
                } else if (v) {
                        bld_buf_adds(out, v);
                }
                return 0;
        }
        next(l); /* '{' */
        switch (peek(l)) {
        case LEX_EOF:
                return lex_fail(l, "syntax error: missing '}'");
        case '{':
        case '}':
        case ':':
                return lex_fail(l, "syntax error: bad substitution");
        }
        _cleanup_free_ char *name = process_name(l);
        int ch = next(l);
        if (ch == '}') {
                const char *v = lookup(l, name);
                if (!v && l->o->skip_unset) {
                        bld_buf_adds(out, "${");
                        bld_buf_adds(out, name);
                        bld_buf_addc(out, '}');
                } else if (v) {
                        bld_buf_adds(out, v);
                }
                return 0;
        }
        if (ch == LEX_EOF)
                return lex_fail(l, "syntax error: missing '}'");
        bool colon = ch == ':';
        int mod = colon ? next(l) : ch;
        if (!colon && mod != '-' && mod != '+' && mod != '?')
                return lex_fail(l, "missing ':' in substitution");
        if (mod == LEX_EOF)
                return lex_fail(l, "syntax error: missing '}'");
        if (++l->depth > LEX_DEPTH_MAX)
                return lex_fail(l, "substitutions nested deeper than %d", LEX_DEPTH_MAX);
        struct bld_buf word = {0};
        struct words w = {0};
        int r = process_stop_on(l, '}', &word, &w);
        words_release(&w);
        l->depth--;
        if (r < 0) {
                bld_buf_release(&word);
                if (peek(l) == LEX_EOF) {
                        free(l->msg);
                        l->msg = NULL;
                        return lex_fail(l, "syntax error: missing '}'");
                }
                return r;
        }
        _cleanup_free_ char *wd = bld_buf_take(&word);
        const char *v = lookup(l, name);
        if (!v && l->o->skip_unset) {
                bld_buf_adds(out, "${");
                bld_buf_adds(out, name);
                if (colon)
                        bld_buf_addc(out, ':');
                bld_buf_addc(out, (char)mod);
                bld_buf_adds(out, wd);
                bld_buf_addc(out, '}');
                return 0;
        }
        /* with ':' an empty value counts as unset */
        bool unset = !v || (colon && !*v);
        switch (mod) {
        case '-':
                bld_buf_adds(out, unset ? wd : v);
                return 0;
        case '+':
                if (!unset)
                        bld_buf_adds(out, wd);
                return 0;
        case '?':
                if (unset)
                        return lex_fail(l, "%s: %s", name,
                                        *wd  ? wd
                                        : !v ? "is not allowed to be unset"
                                             : "is not allowed to be empty");
                bld_buf_adds(out, v);
                return 0;
        default:
                return lex_fail(l, "unsupported modifier (%c) in substitution", mod);
        }
}

static int process_stop_on(struct lexer *l, int stop, struct bld_buf *result, struct words *w)
{
        while (peek(l) != LEX_EOF) {
                int ch = peek(l);
                if (stop != LEX_EOF && ch == stop) {
                        next(l);
                        if (w->word.len > 0)
                                words_push(w);
                        return 0;
                }
                if (ch == '\'' || ch == '"' || ch == '$') {
                        struct bld_buf tmp = {0};
                        int r = ch == '\''  ? process_single_quote(l, &tmp)
                                : ch == '"' ? process_double_quote(l, &tmp)
                                            : process_dollar(l, &tmp);
                        _cleanup_free_ char *s = bld_buf_take(&tmp);
                        if (r < 0)
                                return r;
                        bld_buf_adds(result, s);
                        if (ch == '$')
                                words_string(w, s);
                        else
                                words_raw_string(w, s);
                        continue;
                }
                ch = next(l);
                if (ch == (unsigned char)l->o->escape) {
                        if (l->o->raw_escapes) {
                                words_raw_char(w, (char)ch);
                                bld_buf_addc(result, (char)ch);
                        }
                        ch = next(l);
                        if (ch == LEX_EOF)
                                break;
                        words_raw_char(w, (char)ch);
                } else {
                        words_char(w, (char)ch);
                }
                bld_buf_addc(result, (char)ch);
        }
        if (stop != LEX_EOF)
                return lex_fail(l, "unexpected end of statement while looking for matching %c",
                                stop);
        if (w->word.len > 0)
                words_push(w);
        return 0;
}

char *bld_go_quote(const char *s)
{
        struct bld_buf b = {0};
        const unsigned char *u = (const unsigned char *)s;
        size_t n = strlen(s);
        bld_buf_addc(&b, '"');
        for (size_t i = 0; i < n;) {
                unsigned char c = u[i];
                const char *esc = NULL;
                switch (c) {
                case '"':
                        esc = "\\\"";
                        break;
                case '\\':
                        esc = "\\\\";
                        break;
                case '\a':
                        esc = "\\a";
                        break;
                case '\b':
                        esc = "\\b";
                        break;
                case '\f':
                        esc = "\\f";
                        break;
                case '\n':
                        esc = "\\n";
                        break;
                case '\r':
                        esc = "\\r";
                        break;
                case '\t':
                        esc = "\\t";
                        break;
                case '\v':
                        esc = "\\v";
                        break;
                }
                if (esc) {
                        bld_buf_adds(&b, esc);
                        i++;
                        continue;
                }
                if (c < 0x20 || c == 0x7f) {
                        char x[5];
                        snprintf(x, sizeof(x), "\\x%02x", c);
                        bld_buf_adds(&b, x);
                        i++;
                        continue;
                }
                /* a valid UTF-8 sequence stays as it is, a stray byte becomes \xNN */
                size_t l = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
                bool ok = l > 0 && i + l <= n;
                for (size_t k = 1; ok && k < l; k++)
                        ok = (u[i + k] & 0xc0) == 0x80;
                if (!ok) {
                        char x[5];
                        snprintf(x, sizeof(x), "\\x%02x", c);
                        bld_buf_adds(&b, x);
                        i++;
                        continue;
                }
                bld_buf_add(&b, s + i, l);
                i += l;
        }
        bld_buf_addc(&b, '"');
        return bld_buf_take(&b);
}

int bld_lex(const char *text, const struct bld_lex_opts *o, bld_lookup_fn fn, void *userdata,
            char **ret_word, char ***ret_words, struct berth_error **err)
{
        struct lexer l = {
            .s = text,
            .len = strlen(text),
            .o = o,
            .lookup = fn,
            .userdata = userdata,
        };
        struct bld_buf result = {0};
        struct words w = {0};
        int r = process_stop_on(&l, LEX_EOF, &result, &w);
        if (r < 0) {
                bld_buf_release(&result);
                words_release(&w);
                _cleanup_free_ char *q = bld_go_quote(text);
                r = berth_error_setx(err, EINVAL, "failed to process %s: %s", q, l.msg);
                free(l.msg);
                return r;
        }
        if (ret_word)
                *ret_word = bld_buf_take(&result);
        else
                bld_buf_release(&result);
        if (ret_words) {
                *ret_words = w.v ? w.v : xcalloc(1, sizeof(char *));
                w.v = NULL;
                w.n = 0;
        }
        words_release(&w);
        return 0;
}

int bld_expand(const char *word, char escape, bld_lookup_fn fn, void *userdata, char **ret,
               struct berth_error **err)
{
        struct bld_lex_opts o = {.escape = escape};
        return bld_lex(word, &o, fn, userdata, ret, NULL, err);
}

int bld_expand_words(const char *text, char escape, bld_lookup_fn fn, void *userdata, char ***ret,
                     struct berth_error **err)
{
        struct bld_lex_opts o = {.escape = escape};
        return bld_lex(text, &o, fn, userdata, NULL, ret, err);
}
