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
 * The parser checks them like docker's BFlags: a flag the instruction does not define is
 * "Unknown flag: x", a value flag needs `=`, a boolean one (`--link`, `--parents`,
 * `--keep-git-dir`) takes nothing, "true" or "false" (any case), and only the repeatable ones
 * (`--mount`, `--exclude`) may come twice. The builder refuses the known ones it does not do.
 */
struct bld_flag {
        char *name;
        char *value;
};

/* `<<EOF` / `<<-EOF` / `<<"EOF"`: expand is false when the delimiter was quoted, chomp for `<<-`
 * (leading tabs removed from the body's lines, done by the parser). body ends with '\n' (or is ""
 * for an empty heredoc); "\r\n" line ends are kept as written. Only RUN, COPY and ADD in shell
 * form (and ONBUILD with such a trigger: the bodies are then on the ONBUILD instruction) read
 * heredocs, like buildkit. */
struct bld_heredoc {
        char *name;
        char *body;
        bool expand;
        bool chomp;
};

struct bld_instr {
        enum bld_kind kind;
        /* what docker prints after "Step N/M : ": the keyword as written, flags and arguments,
         * continuations joined with nothing between them (moby's node.Original), trimmed of
         * surrounding whitespace like docker's step text */
        char *original;
        unsigned line; /* 1-based line of the keyword */
        struct bld_flag *flags;
        size_t n_flags;
        /* true when the arguments were a JSON array (exec form of RUN/CMD/ENTRYPOINT/SHELL,
         * COPY/ADD/VOLUME in JSON form): args are then the array's strings, unquoted. Note
         * (checked on dockerd 20.10): docker still expands variables in the JSON strings of
         * COPY/ADD/VOLUME (`COPY ["$SRC", "/d/"]` copies $SRC: each string goes through
         * bld_expand), never in the exec form of RUN/CMD/ENTRYPOINT/SHELL/HEALTHCHECK. */
        bool json;
        /* Raw words, unexpanded, quotes kept (moby's node.Next chain):
         * - RUN/CMD/ENTRYPOINT/SHELL shell form: one word, the rest of the line (a heredoc's
         *   `<<EOF` marker stays in it);
         * - ENV/LABEL/ARG: key, value pairs (n_args even; ARG without default has value NULL);
         *   the legacy `ENV key value words` form gives one pair;
         * - HEALTHCHECK: args[0] is "NONE" or "CMD"; for CMD the rest as for CMD above;
         * - ONBUILD: args[0] is the trigger's text (parsed again when the trigger runs);
         * - FROM: image [AS name] as written (3 words with AS); everything else: the
         *   whitespace-separated words (a quoted word keeps its quotes and inner spaces).
         * - WORKDIR/USER/STOPSIGNAL/MAINTAINER: one word, the rest of the line (moby's
         *   parseString: `WORKDIR /my dir` is "/my dir").
         * The parser already ran docker's argument checks (FROM's one or three words and stage
         * name, COPY/ADD's destination, SHELL's JSON form, HEALTHCHECK's type, ONBUILD's
         * forbidden triggers, ...) with docker's wording. */
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
        /* Added by the parser's branch: what docker's parser warns about, as it prints them
         * before the first step (empty continuation lines: one message per instruction holding
         * one, then a closing one); a NULL-terminated strv, NULL when there is nothing. */
        char **warnings;
};

/* name is what errors call the file ("Dockerfile", or the -f path). Errors (-EINVAL) read
 * "<name>:<line>:<column>: <what>", e.g. "Dockerfile:3:1: unknown instruction: FORM"; the
 * column is the keyword's (1 for directive errors). text may be any bytes but NUL; a line
 * longer than 65535 bytes is refused like docker's scanner does. At least one instruction. */
int bld_parse(const char *name, const char *text, size_t len, struct bld_dockerfile **ret,
              struct berth_error **err);
void bld_dockerfile_free(struct bld_dockerfile *df);
void bld_dockerfile_freep(struct bld_dockerfile **df);
#define _cleanup_dockerfile_ __attribute__((cleanup(bld_dockerfile_freep)))

/* Variable lookup for expansion: the value or NULL when unset. */
typedef const char *(*bld_lookup_fn)(void *userdata, const char *name);

/* One word as moby's shell lexer ProcessWord does: quotes removed ('…' literal, "…" expanding),
 * the escape character honoured, $VAR ${VAR} ${VAR:-word} ${VAR-word} ${VAR:+word} ${VAR+word}
 * expanded (unset → ""), and ${VAR?msg} / ${VAR:?msg} failing with "VAR: msg" when unset
 * (or empty). -EINVAL with docker's message ("failed to process \"<word>\": ...") for an
 * unterminated quote or a bad ${} (other modifiers, e.g. ${VAR%x}, are "unsupported"). Names
 * are ASCII letters, digits and '_'; $1 and the special parameters ($@ $* $# $? $- $$ $! $0)
 * are looked up under those names. */
int bld_expand(const char *word, char escape, bld_lookup_fn lookup, void *userdata, char **ret,
               struct berth_error **err);
/* The same over a whole line, split into words afterwards as ProcessWords does (an expansion
 * inside quotes stays one word). ret is a NULL-terminated strv. */
int bld_expand_words(const char *text, char escape, bld_lookup_fn lookup, void *userdata,
                     char ***ret, struct berth_error **err);

/* .dockerignore with docker's semantics (moby/patternmatcher): each line cleaned like Go's
 * filepath.Clean with a leading '/' dropped, comments '#', Go filepath.Match syntax plus `**`,
 * `!` exceptions, later lines win. A '#' only starts a comment in the first column. Errors
 * (-EINVAL): ".dockerignore:<line>: syntax error in pattern `x`" (filepath.Match's syntax: an
 * unclosed or empty `[]`, a trailing `\\`), `illegal exclusion pattern: "!"`. Character classes
 * follow filepath.Match (`[a-z]`, `[^a-z]`, `\\` escapes); moby hands them to a Go regexp, which
 * differs only for classes holding `*` or `?`. Like the docker CLI, the builder itself keeps
 * the Dockerfile and .dockerignore in the context whatever the patterns say. */
struct bld_ignore;
int bld_ignore_parse(const char *text, size_t len, struct bld_ignore **ret,
                     struct berth_error **err);
void bld_ignore_free(struct bld_ignore *ig);
void bld_ignore_freep(struct bld_ignore **ig);
#define _cleanup_ignore_ __attribute__((cleanup(bld_ignore_freep)))
/* path: relative to the context root, '/'-separated, cleaned. True when excluded, counting a
 * match of a parent directory (MatchesOrParentMatches). "." (the root) is never excluded.
 * Linear in the path's length for any pattern. */
bool bld_ignore_excluded(const struct bld_ignore *ig, const char *path);
/* True when some `!` exception could re-include something below dir (a walker may then not
 * skip an excluded directory wholesale). docker's own walker rule, which decides what the
 * docker CLI sends: an exception that starts with `dir/` as written (`!dir/keep/file`), not a
 * wildcard one (`!src/` then `**` and `*.go` does not keep `src/x`); the root always. */
bool bld_ignore_may_reinclude(const struct bld_ignore *ig, const char *dir);
