/* .dockerignore as docker reads and applies it: moby/patternmatcher's ignorefile.ReadAll (one
 * pattern a line, '#' comments, filepath.Clean, a leading '/' dropped), NewPatternMatcher (a
 * pattern checked with filepath.Match's syntax) and MatchesOrParentMatches. Patterns become
 * tokens matched with a position set rather than a regexp: linear in the path's length for any
 * pattern. The file comes from the build context: fuzzed by fuzz/build-dockerignore.c. */
#include "build/internal.h"

enum tok_kind {
        TOK_CHAR,      /* one byte */
        TOK_ANY,       /* `?`: one character but '/' */
        TOK_STAR,      /* `*`: any run without '/' */
        TOK_DSTAR,     /* `**` inside: "" or anything ending with '/' (moby's regexp group) */
        TOK_DSTAR_END, /* `**` at the end: anything */
        TOK_CLASS,     /* `[…]`: one character in (or, negated, not in) the ranges */
};

struct range {
        uint32_t lo, hi;
};

struct tok {
        enum tok_kind kind;
        char c;
        bool negated;
        struct range *ranges;
        size_t n_ranges;
};

/* moby's matchType: plain patterns compare strings, the rest go through the tokens */
enum match_type { MATCH_EXACT, MATCH_PREFIX, MATCH_SUFFIX, MATCH_TOKENS };

struct pattern {
        char *cleaned;
        bool exclusion;
        enum match_type type;
        struct tok *toks;
        size_t n_toks;
};

struct bld_ignore {
        struct pattern *pats;
        size_t n_pats;
        bool exclusions;
};

/* refuse pathological files before any work */
#define IGNORE_MAX_PATTERNS 100000

static void pattern_release(struct pattern *p)
{
        for (size_t i = 0; i < p->n_toks; i++)
                free(p->toks[i].ranges);
        free(p->toks);
        free(p->cleaned);
}

void bld_ignore_free(struct bld_ignore *ig)
{
        if (!ig)
                return;
        for (size_t i = 0; i < ig->n_pats; i++)
                pattern_release(&ig->pats[i]);
        free(ig->pats);
        free(ig);
}

void bld_ignore_freep(struct bld_ignore **ig)
{
        bld_ignore_free(*ig);
        *ig = NULL;
}

/* Go's path.Clean: the shortest equivalent path, "." for an empty result. */
static char *clean_path(const char *s)
{
        size_t n = strlen(s);
        if (n == 0)
                return xstrdup(".");
        bool rooted = s[0] == '/';
        char *out = xmalloc(n + 2);
        size_t w = 0, r = 0, dotdot = 0;
        if (rooted) {
                out[w++] = '/';
                r = 1;
                dotdot = 1;
        }
        while (r < n) {
                if (s[r] == '/') {
                        r++;
                } else if (s[r] == '.' && (r + 1 == n || s[r + 1] == '/')) {
                        r++;
                } else if (s[r] == '.' && s[r + 1] == '.' && (r + 2 == n || s[r + 2] == '/')) {
                        r += 2;
                        if (w > dotdot) {
                                w--;
                                while (w > dotdot && out[w] != '/')
                                        w--;
                        } else if (!rooted) {
                                if (w > 0)
                                        out[w++] = '/';
                                out[w++] = '.';
                                out[w++] = '.';
                                dotdot = w;
                        }
                } else {
                        if ((rooted && w != 1) || (!rooted && w != 0))
                                out[w++] = '/';
                        for (; r < n && s[r] != '/'; r++)
                                out[w++] = s[r];
                }
        }
        if (w == 0)
                out[w++] = '.';
        out[w] = '\0';
        return out;
}

static char *trim_space(const char *s, size_t n)
{
        while (n > 0 && strchr(" \t\n\v\f\r", *s)) {
                s++;
                n--;
        }
        while (n > 0 && strchr(" \t\n\v\f\r", s[n - 1]))
                n--;
        return xstrndup(s, n);
}

/* the length of the UTF-8 sequence starting at s (1 for a stray byte), at most n */
static size_t rune_len(const unsigned char *s, size_t n)
{
        size_t l = s[0] < 0x80 ? 1 : s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 1;
        if (l > n)
                return 1;
        for (size_t i = 1; i < l; i++)
                if ((s[i] & 0xc0) != 0x80)
                        return 1;
        return l;
}

static uint32_t rune_at(const unsigned char *s, size_t l)
{
        if (l == 1)
                return s[0];
        uint32_t r = s[0] & (0x7f >> l);
        for (size_t i = 1; i < l; i++)
                r = (r << 6) | (s[i] & 0x3f);
        return r;
}

/* filepath.Match's getEsc: one range end, `\` escaping; false for a bad pattern */
static bool get_esc(const char **s, uint32_t *ret)
{
        const char *c = *s;
        if (!*c || *c == '-' || *c == ']')
                return false;
        if (*c == '\\') {
                c++;
                if (!*c)
                        return false;
        }
        size_t l = rune_len((const unsigned char *)c, strlen(c));
        *ret = rune_at((const unsigned char *)c, l);
        c += l;
        if (!*c)
                return false;
        *s = c;
        return true;
}

/* `[…]` after the '[': the class's ranges, *s past the ']'; false for a bad pattern */
static bool parse_class(const char **s, struct tok *t)
{
        const char *c = *s;
        t->kind = TOK_CLASS;
        if (*c == '^') {
                t->negated = true;
                c++;
        }
        for (;;) {
                if (*c == ']' && t->n_ranges > 0) {
                        c++;
                        break;
                }
                struct range r;
                if (!get_esc(&c, &r.lo))
                        return false;
                r.hi = r.lo;
                if (*c == '-') {
                        c++;
                        if (!get_esc(&c, &r.hi))
                                return false;
                }
                t->ranges = xrealloc(t->ranges, (t->n_ranges + 1) * sizeof(*t->ranges));
                t->ranges[t->n_ranges++] = r;
        }
        *s = c;
        return true;
}

static void push_tok(struct pattern *p, struct tok t)
{
        p->toks = xrealloc(p->toks, (p->n_toks + 1) * sizeof(*p->toks));
        p->toks[p->n_toks++] = t;
}

/* moby's Pattern.compile, with filepath.Match's syntax check (NewPatternMatcher calls
 * filepath.Match(p, ".") for it): false for a bad pattern */
static bool compile(struct pattern *p)
{
        const char *s = p->cleaned;
        p->type = MATCH_EXACT;
        for (size_t i = 0; *s; i++) {
                char ch = *s++;
                if (ch == '*') {
                        if (*s == '*') {
                                s++;
                                if (*s == '/')
                                        s++;
                                if (!*s) {
                                        if (p->type == MATCH_EXACT) {
                                                p->type = MATCH_PREFIX;
                                        } else {
                                                push_tok(p, (struct tok){.kind = TOK_DSTAR_END});
                                                p->type = MATCH_TOKENS;
                                        }
                                } else {
                                        push_tok(p, (struct tok){.kind = TOK_DSTAR});
                                        p->type = MATCH_TOKENS;
                                }
                                if (i == 0)
                                        p->type = MATCH_SUFFIX;
                        } else {
                                push_tok(p, (struct tok){.kind = TOK_STAR});
                                p->type = MATCH_TOKENS;
                        }
                } else if (ch == '?') {
                        push_tok(p, (struct tok){.kind = TOK_ANY});
                        p->type = MATCH_TOKENS;
                } else if (ch == '\\') {
                        if (!*s)
                                return false; /* filepath.Match: ErrBadPattern */
                        push_tok(p, (struct tok){.kind = TOK_CHAR, .c = *s++});
                        p->type = MATCH_TOKENS;
                } else if (ch == '[') {
                        struct tok t = {0};
                        if (!parse_class(&s, &t)) {
                                free(t.ranges);
                                return false;
                        }
                        push_tok(p, t);
                        p->type = MATCH_TOKENS;
                } else {
                        push_tok(p, (struct tok){.kind = TOK_CHAR, .c = ch});
                }
        }
        /* a suffix match followed by wildcards was turned into tokens above; one that stayed
         * plain compares strings */
        return true;
}

/* The positions of path reachable after the tokens, as a set advanced token by token in one
 * pass each: a pattern costs O(tokens × path length) whatever its stars. */
static bool tokens_match(const struct pattern *p, const char *path)
{
        size_t n = strlen(path);
        const unsigned char *u = (const unsigned char *)path;
        _cleanup_free_ bool *cur = xcalloc(n + 1, sizeof(bool));
        _cleanup_free_ bool *nxt = xcalloc(n + 1, sizeof(bool));
        cur[0] = true;
        for (size_t t = 0; t < p->n_toks; t++) {
                const struct tok *tk = &p->toks[t];
                bool active = false, any = false;
                memset(nxt, 0, n + 1);
                for (size_t i = 0; i <= n; i++) {
                        switch (tk->kind) {
                        case TOK_CHAR:
                                if (cur[i] && i < n && path[i] == tk->c)
                                        nxt[i + 1] = true;
                                break;
                        case TOK_ANY:
                                if (cur[i] && i < n && path[i] != '/')
                                        nxt[i + rune_len(u + i, n - i)] = true;
                                break;
                        case TOK_CLASS:
                                if (cur[i] && i < n) {
                                        size_t l = rune_len(u + i, n - i);
                                        uint32_t r = rune_at(u + i, l);
                                        bool in = false;
                                        for (size_t k = 0; k < tk->n_ranges; k++)
                                                if (tk->ranges[k].lo <= r && r <= tk->ranges[k].hi)
                                                        in = true;
                                        if (in != tk->negated)
                                                nxt[i + l] = true;
                                }
                                break;
                        case TOK_STAR:
                                /* from a reachable position up to the next '/' */
                                active |= cur[i];
                                nxt[i] = active;
                                if (i < n && path[i] == '/')
                                        active = false;
                                break;
                        case TOK_DSTAR:
                                /* the position itself, and after every later '/' */
                                active |= cur[i];
                                nxt[i] |= cur[i];
                                if (active && i < n && path[i] == '/')
                                        nxt[i + 1] = true;
                                break;
                        case TOK_DSTAR_END:
                                active |= cur[i];
                                nxt[i] = active;
                                break;
                        }
                }
                for (size_t i = 0; i <= n; i++)
                        any |= nxt[i];
                if (!any)
                        return false;
                bool *sw = cur;
                cur = nxt;
                nxt = sw;
        }
        return cur[n];
}

static bool pattern_match(const struct pattern *p, const char *path)
{
        size_t pl = strlen(p->cleaned), n = strlen(path);
        switch (p->type) {
        case MATCH_EXACT:
                return !strcmp(path, p->cleaned);
        case MATCH_PREFIX:
                return !strncmp(path, p->cleaned, pl - 2);
        case MATCH_SUFFIX: {
                const char *suffix = p->cleaned + 2;
                size_t sl = pl - 2;
                if (n >= sl && !memcmp(path + n - sl, suffix, sl))
                        return true;
                /* `**` + "/foo" matches "foo" */
                return sl > 0 && suffix[0] == '/' && !strcmp(path, suffix + 1);
        }
        case MATCH_TOKENS:
                return tokens_match(p, path);
        }
        return false;
}

/* ignorefile.ReadAll's normalisation of one line; NULL when the line holds no pattern */
static char *read_line(const char *line, size_t n)
{
        if (n > 0 && line[0] == '#')
                return NULL;
        _cleanup_free_ char *t = trim_space(line, n);
        if (!*t)
                return NULL;
        bool invert = t[0] == '!';
        _cleanup_free_ char *pat = invert ? trim_space(t + 1, strlen(t + 1)) : xstrdup(t);
        if (*pat) {
                char *c = clean_path(pat);
                free(pat);
                pat = c;
                if (strlen(pat) > 1 && pat[0] == '/')
                        memmove(pat, pat + 1, strlen(pat));
        }
        return xasprintf("%s%s", invert ? "!" : "", pat);
}

int bld_ignore_parse(const char *text, size_t len, struct bld_ignore **ret,
                     struct berth_error **err)
{
        _cleanup_ignore_ struct bld_ignore *ig = xcalloc(1, sizeof(*ig));
        size_t pos = 0;
        unsigned lineno = 0;
        if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
                pos = 3;
        if (memchr(text, '\0', len))
                return berth_error_setx(err, EINVAL, ".dockerignore: NUL byte in the file");
        while (pos < len) {
                const char *l = text + pos;
                const char *nl = memchr(l, '\n', len - pos);
                size_t n = nl ? (size_t)(nl - l) : len - pos;
                pos += n + (nl ? 1 : 0);
                lineno++;
                /* bufio.ScanLines drops the '\r' of "\r\n" */
                size_t ln = n > 0 && l[n - 1] == '\r' ? n - 1 : n;
                _cleanup_free_ char *line = read_line(l, ln);
                if (!line)
                        continue;
                /* NewPatternMatcher: trimmed and cleaned once more */
                _cleanup_free_ char *t = trim_space(line, strlen(line));
                if (!*t)
                        continue;
                _cleanup_free_ char *c = clean_path(t);
                struct pattern p = {0};
                const char *body = c;
                if (c[0] == '!') {
                        if (!c[1])
                                return berth_error_setx(err, EINVAL,
                                                        ".dockerignore:%u: illegal exclusion "
                                                        "pattern: \"!\"",
                                                        lineno);
                        p.exclusion = true;
                        body = c + 1;
                }
                if (ig->n_pats >= IGNORE_MAX_PATTERNS)
                        return berth_error_setx(err, EINVAL, ".dockerignore: more than %d patterns",
                                                IGNORE_MAX_PATTERNS);
                p.cleaned = xstrdup(body);
                if (!compile(&p)) {
                        pattern_release(&p);
                        return berth_error_setx(err, EINVAL,
                                                ".dockerignore:%u: syntax error in pattern `%s`",
                                                lineno, body);
                }
                ig->exclusions |= p.exclusion;
                ig->pats = xrealloc(ig->pats, (ig->n_pats + 1) * sizeof(*ig->pats));
                ig->pats[ig->n_pats++] = p;
        }
        *ret = TAKE_PTR(ig);
        return 0;
}

bool bld_ignore_excluded(const struct bld_ignore *ig, const char *path)
{
        if (!ig || !strcmp(path, ".") || !*path)
                return false;
        /* filepath.Dir: the parent directories to try, "" when there is none */
        const char *slash = strrchr(path, '/');
        _cleanup_free_ char *parent = slash ? xstrndup(path, (size_t)(slash - path)) : NULL;
        bool matched = false;
        for (size_t i = 0; i < ig->n_pats; i++) {
                const struct pattern *p = &ig->pats[i];
                if (p->exclusion != matched)
                        continue;
                bool match = pattern_match(p, path);
                if (!match && parent && *parent) {
                        /* each ancestor: "a", "a/b", … up to the parent */
                        for (char *c = parent;; c++) {
                                if (*c == '/' || !*c) {
                                        char save = *c;
                                        *c = '\0';
                                        match = pattern_match(p, parent);
                                        *c = save;
                                        if (match || !save)
                                                break;
                                }
                        }
                }
                if (match)
                        matched = !p->exclusion;
        }
        return matched;
}

bool bld_ignore_may_reinclude(const struct bld_ignore *ig, const char *dir)
{
        if (!ig || !ig->exclusions)
                return false;
        if (!*dir || !strcmp(dir, "."))
                return true;
        /* moby's walker (archive.TarWithOptions, which the docker CLI uses for the context):
         * an excluded directory is still walked when an exception, as written, starts with
         * it. A wildcard exception (`!` then `**` and `*.go`) does not count: docker skips the
         * directory, and so must a walker that wants docker's context. */
        _cleanup_free_ char *dir_slash = xasprintf("%s/", dir);
        size_t dl = strlen(dir_slash);
        for (size_t i = 0; i < ig->n_pats; i++) {
                const struct pattern *p = &ig->pats[i];
                if (!p->exclusion)
                        continue;
                _cleanup_free_ char *ps = xasprintf("%s/", p->cleaned);
                if (!strncmp(ps, dir_slash, dl))
                        return true;
        }
        return false;
}
