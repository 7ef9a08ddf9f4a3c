/* Shared by the files of src/build only: a growing string and the shell lexer's options. */
#pragma once

#include "build/dockerfile.h"

/* A growing NUL-terminated string (allocation aborts on OOM, like the x* family). */
struct bld_buf {
        char *s;
        size_t len, cap;
};

static inline void bld_buf_add(struct bld_buf *b, const char *s, size_t n)
{
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap * 2 : 32;
                while (cap < b->len + n + 1)
                        cap *= 2;
                b->s = xrealloc(b->s, cap);
                b->cap = cap;
        }
        memcpy(b->s + b->len, s, n);
        b->len += n;
        b->s[b->len] = '\0';
}

static inline void bld_buf_addc(struct bld_buf *b, char c)
{
        bld_buf_add(b, &c, 1);
}

static inline void bld_buf_adds(struct bld_buf *b, const char *s)
{
        bld_buf_add(b, s, strlen(s));
}

/* The buffer's string (never NULL: "" when nothing was added); the buffer is emptied. */
static inline char *bld_buf_take(struct bld_buf *b)
{
        char *s = b->s ? b->s : xstrdup("");
        *b = (struct bld_buf){0};
        return s;
}

static inline void bld_buf_release(struct bld_buf *b)
{
        free(b->s);
        *b = (struct bld_buf){0};
}

/* moby's shell.Lex switches: raw_quotes keeps the quote characters in the result, raw_escapes
 * the escape characters, skip_unset leaves an unset $VAR / ${VAR...} as written (the heredoc
 * detection uses all three, like buildkit's heredocsFromLine). */
struct bld_lex_opts {
        char escape;
        bool raw_quotes;
        bool raw_escapes;
        bool skip_unset;
};

/* ProcessWord and ProcessWords in one pass: ret_word (may be NULL) gets the whole expanded
 * text, ret_words (may be NULL) the NULL-terminated split. -EINVAL with docker's message. */
int bld_lex(const char *text, const struct bld_lex_opts *o, bld_lookup_fn lookup, void *userdata,
            char **ret_word, char ***ret_words, struct berth_error **err);

/* s as Go's %q prints it (strconv.Quote): in double quotes, with `"` and `\` escaped and
 * control bytes and invalid UTF-8 as escapes, so messages read like docker's. */
char *bld_go_quote(const char *s);
