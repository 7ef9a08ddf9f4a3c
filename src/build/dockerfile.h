/* Dockerfile and .dockerignore parsing: the part of builds that reads text and touches nothing.
 *
 * The model is moby's classic builder (buildkit's frontend parser): the parser turns the file into
 * instructions holding *raw* words (quotes and $VARs still in them); the builder expands the words
 * of each instruction with bld_expand*() against the variables in scope at that step, because ARG
 * and ENV scoping is only known while the stages are walked. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/common.h"

enum bld_kind {
        BLD_FROM,
        BLD_RUN,
        BLD_CMD,
        BLD_ENTRYPOINT,
        BLD_COPY,
        BLD_ADD,
        BLD_ENV,
        BLD_ARG,
        BLD_WORKDIR,
        BLD_USER,
        BLD_LABEL,
        BLD_EXPOSE,
        BLD_VOLUME,
        BLD_SHELL,
        BLD_STOPSIGNAL,
        BLD_HEALTHCHECK,
        BLD_ONBUILD,
        BLD_MAINTAINER,
};

/* `--name=value` before the arguments (`--from=gen`, `--chown=1:1`, `--mount=type=cache,...`,
 * `--link`); repeatable ones (`--mount`) appear once per occurrence. value is "" for a bare flag.
 */
struct bld_flag {
        char *name;
        char *value;
};

/* `<<EOF` / `<<-EOF` / `<<"EOF"`: expand is false when the delimiter was quoted, chomp for `<<-`
 * (leading tabs removed from the body's lines, done by the parser). body ends with '\n'. */
struct bld_heredoc {
        char *name;
        char *body;
        bool expand;
        bool chomp;
};

struct bld_instr {
        enum bld_kind kind;
        /* what docker prints after "Step N/M : ": the keyword as written, flags and arguments,
         * continuations joined with nothing between them (moby's node.Original) */
        char *original;
        unsigned line; /* 1-based line of the keyword */
        struct bld_flag *flags;
        size_t n_flags;
        /* true when the arguments were a JSON array (exec form of RUN/CMD/ENTRYPOINT/SHELL,
         * COPY/ADD/VOLUME in JSON form): args are then the array's strings, final */
        bool json;
        /* Raw words, unexpanded, quotes kept (moby's node.Next chain):
         * - RUN/CMD/ENTRYPOINT/SHELL shell form: one word, the rest of the line (a heredoc's
         *   `<<EOF` marker stays in it);
         * - ENV/LABEL/ARG: key, value pairs (n_args even; ARG without default has value NULL);
         *   the legacy `ENV key value words` form gives one pair;
         * - HEALTHCHECK: args[0] is "NONE" or "CMD"; for CMD the rest as for CMD above;
         * - ONBUILD: args[0] is the trigger's text (parsed again when the trigger runs);
         * - FROM: image [AS name] as written (3 words with AS); everything else: the
         *   whitespace-separated words (a quoted word keeps its quotes and inner spaces). */
        char **args;
        size_t n_args;
        struct bld_heredoc *heredocs;
        size_t n_heredocs;
};

struct bld_dockerfile {
        char escape;  /* '\\' or '`' from the escape directive */
        char *syntax; /* the syntax directive, noted and otherwise ignored; NULL if absent */
        struct bld_instr *instrs;
        size_t n_instrs;
};

/* name is what errors call the file ("Dockerfile", or the -f path). Errors (-EINVAL) read
 * "<name>:<line>:<column>: <what>", e.g. "Dockerfile:3:1: unknown instruction: FORM". */
int bld_parse(const char *name, const char *text, size_t len, struct bld_dockerfile **ret,
              struct berth_error **err);
void bld_dockerfile_free(struct bld_dockerfile *df);
void bld_dockerfile_freep(struct bld_dockerfile **df);
#define _cleanup_dockerfile_ __attribute__((cleanup(bld_dockerfile_freep)))

/* Variable lookup for expansion: the value or NULL when unset. */
typedef const char *(*bld_lookup_fn)(void *userdata, const char *name);

/* One word as moby's shell lexer ProcessWord does: quotes removed ('…' literal, "…" expanding),
 * the escape character honoured, $VAR ${VAR} ${VAR:-word} ${VAR-word} ${VAR:+word} ${VAR+word}
 * expanded (unset → ""). -EINVAL with a message for an unterminated quote or a bad ${}. */
int bld_expand(const char *word, char escape, bld_lookup_fn lookup, void *userdata, char **ret,
               struct berth_error **err);
/* The same over a whole line, split into words afterwards as ProcessWords does (an expansion
 * inside quotes stays one word). ret is a NULL-terminated strv. */
int bld_expand_words(const char *text, char escape, bld_lookup_fn lookup, void *userdata,
                     char ***ret, struct berth_error **err);

/* .dockerignore with docker's semantics (moby/patternmatcher): each line cleaned like Go's
 * filepath.Clean with a leading '/' dropped, comments '#', Go filepath.Match syntax plus `**`,
 * `!` exceptions, later lines win. */
struct bld_ignore;
int bld_ignore_parse(const char *text, size_t len, struct bld_ignore **ret,
                     struct berth_error **err);
void bld_ignore_free(struct bld_ignore *ig);
void bld_ignore_freep(struct bld_ignore **ig);
#define _cleanup_ignore_ __attribute__((cleanup(bld_ignore_freep)))
/* path: relative to the context root, '/'-separated, cleaned. True when excluded, counting a
 * match of a parent directory (MatchesOrParentMatches). */
bool bld_ignore_excluded(const struct bld_ignore *ig, const char *path);
/* True when some `!` exception could re-include something below dir (a walker may then not
 * skip an excluded directory wholesale). */
bool bld_ignore_may_reinclude(const struct bld_ignore *ig, const char *dir);
