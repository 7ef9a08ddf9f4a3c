/* libFuzzer target: bytes → bld_parse() (the Dockerfile of a build context, from any API
 * client), then every word of every instruction through bld_expand() and bld_expand_words() as
 * the builder would, and the whole input through the lexer with both escape characters. Nothing
 * may crash, leak or hang; the parser's promises (pairs for ENV/LABEL/ARG, heredoc bodies ending
 * with a newline, the two lexer entry points agreeing on errors) must hold. */
#include "build/dockerfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *lookup(void *userdata, const char *name)
{
        if (!strcmp(name, "EMPTY"))
                return "";
        if (!strcmp(name, "SPACES"))
                return " a  b ";
        if (name[0] >= 'A' && name[0] <= 'M')
                return name;
        return NULL;
}

static void expand_both(const char *s, char escape)
{
        char *word = NULL;
        char **words = NULL;
        struct berth_error *e1 = NULL, *e2 = NULL;
        int r1 = bld_expand(s, escape, lookup, NULL, &word, &e1);
        int r2 = bld_expand_words(s, escape, lookup, NULL, &words, &e2);
        /* ProcessWord and ProcessWords lex the same text the same way */
        if ((r1 < 0) != (r2 < 0))
                __builtin_trap();
        if (r1 < 0 && (!e1 || !e1->msg))
                __builtin_trap();
        if (r1 == 0 && !word)
                __builtin_trap();
        if (r2 == 0 && !words)
                __builtin_trap();
        free(word);
        strv_free(words);
        berth_error_free(e1);
        berth_error_free(e2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct bld_dockerfile *df = NULL;
        struct berth_error *err = NULL;
        if (bld_parse("Dockerfile", (const char *)data, size, &df, &err) < 0) {
                if (!err || strncmp(err->msg, "Dockerfile:", 11))
                        __builtin_trap();
                berth_error_free(err);
        } else {
                for (size_t i = 0; i < df->n_instrs; i++) {
                        const struct bld_instr *in = &df->instrs[i];
                        if (!in->original || in->line == 0)
                                __builtin_trap();
                        bool pairs =
                            in->kind == BLD_ENV || in->kind == BLD_LABEL || in->kind == BLD_ARG;
                        if (pairs && in->n_args % 2)
                                __builtin_trap();
                        for (size_t k = 0; k < in->n_flags; k++)
                                if (!in->flags[k].name || !in->flags[k].value)
                                        __builtin_trap();
                        for (size_t k = 0; k < in->n_heredocs; k++) {
                                const char *b = in->heredocs[k].body;
                                size_t bl = strlen(b);
                                if (bl && b[bl - 1] != '\n')
                                        __builtin_trap();
                        }
                        if (in->json)
                                continue;
                        for (size_t k = 0; k < in->n_args; k++) {
                                if (!in->args[k]) {
                                        if (in->kind != BLD_ARG || k % 2 == 0)
                                                __builtin_trap();
                                        continue;
                                }
                                expand_both(in->args[k], df->escape);
                        }
                }
                bld_dockerfile_free(df);
        }
        /* the lexer alone over the whole input (no NUL: it works on C strings) */
        char *text = xstrndup((const char *)data, size);
        expand_both(text, '\\');
        expand_both(text, '`');
        free(text);
        return 0;
}
