/* docker's `--change` instructions (import, commit; the build reuses them): one Dockerfile line
 * each, limited to the instructions that only touch the image config. The parser is fuzzed
 * (fuzz/image-changes.c): its input comes straight from API clients. */
#include "image/image.h"

#include <ctype.h>
#include <signal.h>

/* Refuse pathological inputs before any work: a change is one short Dockerfile line. */
#define CHANGE_MAX (64u << 10)
#define WORDS_MAX  4096

struct changes_state {
        bool cmd_set; /* a CMD came before: ENTRYPOINT keeps it (docker's cmdSet) */
};

static const char *const allowed[] = {"cmd",     "entrypoint", "env",    "expose",  "label",
                                      "onbuild", "user",       "volume", "workdir", "stopsignal"};
/* Dockerfile instructions docker knows but refuses in a change */
static const char *const known[] = {"add",         "arg",        "copy", "from",
                                    "healthcheck", "maintainer", "run",  "shell"};

static bool in_list(const char *const *l, size_t n, const char *w)
{
        for (size_t i = 0; i < n; i++)
                if (!strcmp(l[i], w))
                        return true;
        return false;
}

/* Shell-like words: whitespace separates, "…" and '…' group, a backslash escapes the next
 * character (outside single quotes). Quotes are removed, like docker's word processing. */
static int split_words(const char *s, char ***ret, struct berth_error **err)
{
        _cleanup_strv_ char **v = NULL;
        size_t n = 0;
        size_t cap = strlen(s) + 1;
        _cleanup_free_ char *w = xmalloc(cap);
        const char *p = s;
        for (;;) {
                while (*p && isspace((unsigned char)*p))
                        p++;
                if (!*p)
                        break;
                size_t len = 0;
                char quote = 0;
                for (; *p; p++) {
                        if (quote) {
                                if (*p == quote) {
                                        quote = 0;
                                        continue;
                                }
                                if (quote == '"' && *p == '\\' && (p[1] == '"' || p[1] == '\\'))
                                        p++;
                                w[len++] = *p;
                                continue;
                        }
                        if (isspace((unsigned char)*p))
                                break;
                        if (*p == '"' || *p == '\'') {
                                quote = *p;
                                continue;
                        }
                        if (*p == '\\' && p[1])
                                p++;
                        w[len++] = *p;
                }
                if (quote)
                        return berth_error_setx(err, EINVAL,
                                                "unexpected end of statement while "
                                                "looking for matching %c",
                                                quote);
                w[len] = '\0';
                if (++n > WORDS_MAX)
                        return berth_error_setx(err, EINVAL, "too many words in a change");
                strv_push(&v, w);
        }
        if (!v)
                v = xcalloc(1, sizeof(char *));
        *ret = TAKE_PTR(v);
        return 0;
}

/* The JSON form ["a", "b"]: only an array of strings counts, else docker takes the shell form. */
static json_t *json_form(const char *rest)
{
        if (*rest != '[')
                return NULL;
        json_t *a = json_loads(rest, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_array(a)) {
                json_decref(a);
                return NULL;
        }
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v) if (!json_is_string(v))
        {
                json_decref(a);
                return NULL;
        }
        return a;
}

/* CMD/ENTRYPOINT: JSON form as is, shell form → ["/bin/sh", "-c", rest] */
static json_t *exec_form(const char *rest)
{
        json_t *a = json_form(rest);
        if (a)
                return a;
        return json_pack("[s,s,s]", "/bin/sh", "-c", rest);
}

static json_t *obj_get(json_t *cfg, const char *key)
{
        json_t *o = json_object_get(cfg, key);
        if (!json_is_object(o)) {
                o = json_object();
                json_object_set_new(cfg, key, o);
        }
        return o;
}

static void env_set(json_t *cfg, const char *key, const char *value)
{
        json_t *env = json_object_get(cfg, "Env");
        if (!json_is_array(env)) {
                env = json_array();
                json_object_set_new(cfg, "Env", env);
        }
        _cleanup_free_ char *kv = xasprintf("%s=%s", key, value);
        size_t klen = strlen(key), i;
        json_t *e;
        json_array_foreach(env, i, e)
        {
                const char *s = json_string_value(e);
                if (s && !strncmp(s, key, klen) && (s[klen] == '=' || s[klen] == '\0')) {
                        json_array_set_new(env, i, json_string(kv));
                        return;
                }
        }
        json_array_append_new(env, json_string(kv));
}

/* ENV and LABEL: "k=v k2=v2" pairs, or the legacy "k v with spaces" (ENV/LABEL k v). */
static int key_values(const char *inst, const char *rest, bool is_env, json_t *cfg,
                      struct berth_error **err)
{
        _cleanup_strv_ char **w = NULL;
        if (split_words(rest, &w, err) < 0)
                return -EINVAL;
        if (!w[0])
                return berth_error_setx(err, EINVAL, "%s requires at least one argument", inst);
        if (!strchr(w[0], '=')) {
                /* legacy form: the first word is the key, the rest of the line the value */
                if (!w[1])
                        return berth_error_setx(err, EINVAL, "%s must have two arguments", inst);
                const char *p = rest;
                while (isspace((unsigned char)*p))
                        p++;
                while (*p && !isspace((unsigned char)*p))
                        p++;
                while (isspace((unsigned char)*p))
                        p++;
                if (is_env)
                        env_set(cfg, w[0], p);
                else
                        json_object_set_new(obj_get(cfg, "Labels"), w[0], json_string(p));
                return 0;
        }
        for (char **kv = w; *kv; kv++) {
                char *eq = strchr(*kv, '=');
                if (!eq)
                        return berth_error_setx(err, EINVAL,
                                                "Syntax error - can't find = in \"%s\". Must be of "
                                                "the form: name=value",
                                                *kv);
                *eq = '\0';
                if (!**kv)
                        return berth_error_setx(err, EINVAL, "%s names can not be blank", inst);
                if (is_env)
                        env_set(cfg, *kv, eq + 1);
                else
                        json_object_set_new(obj_get(cfg, "Labels"), *kv, json_string(eq + 1));
        }
        return 0;
}

static bool parse_u16(const char *s, size_t len, unsigned *ret)
{
        if (len == 0 || len > 5)
                return false;
        unsigned v = 0;
        for (size_t i = 0; i < len; i++) {
                if (!isdigit((unsigned char)s[i]))
                        return false;
                v = v * 10 + (unsigned)(s[i] - '0');
        }
        if (v > 65535)
                return false;
        *ret = v;
        return true;
}

/* "80", "80/udp", "8000-8002/tcp" → ExposedPorts keys */
static int expose(const char *rest, json_t *cfg, struct berth_error **err)
{
        _cleanup_strv_ char **w = NULL;
        if (split_words(rest, &w, err) < 0)
                return -EINVAL;
        if (!w[0])
                return berth_error_setx(err, EINVAL, "EXPOSE requires at least one argument");
        json_t *ports = obj_get(cfg, "ExposedPorts");
        for (char **p = w; *p; p++) {
                const char *proto = "tcp";
                char *slash = strchr(*p, '/');
                if (slash) {
                        *slash = '\0';
                        proto = slash + 1;
                        for (char *c = slash + 1; *c; c++)
                                *c = (char)tolower((unsigned char)*c);
                        if (strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "sctp"))
                                return berth_error_setx(err, EINVAL, "invalid proto: %s", proto);
                }
                const char *dash = strchr(*p, '-');
                unsigned lo, hi;
                if (!parse_u16(*p, dash ? (size_t)(dash - *p) : strlen(*p), &lo) ||
                    !parse_u16(dash ? dash + 1 : *p, dash ? strlen(dash + 1) : strlen(*p), &hi) ||
                    hi < lo)
                        return berth_error_setx(err, EINVAL, "invalid containerPort: %s", *p);
                if (hi - lo > 1024)
                        return berth_error_setx(err, EINVAL, "port range `%s` is too large", *p);
                for (unsigned port = lo; port <= hi; port++) {
                        char key[32];
                        snprintf(key, sizeof(key), "%u/%s", port, proto);
                        json_object_set_new(ports, key, json_object());
                }
        }
        return 0;
}

static int volume(const char *rest, json_t *cfg, struct berth_error **err)
{
        json_t *a = json_form(rest);
        _cleanup_strv_ char **w = NULL;
        if (a) {
                size_t i;
                json_t *v;
                json_array_foreach(a, i, v) strv_push(&w, json_string_value(v));
                json_decref(a);
        } else if (split_words(rest, &w, err) < 0) {
                return -EINVAL;
        }
        if (!w || !w[0])
                return berth_error_setx(err, EINVAL, "VOLUME requires at least one argument");
        json_t *vols = obj_get(cfg, "Volumes");
        for (char **p = w; *p; p++) {
                if (!**p)
                        return berth_error_setx(err, EINVAL,
                                                "VOLUME specified can not be an empty string");
                json_object_set_new(vols, *p, json_object());
        }
        return 0;
}

/* Relative WORKDIRs build on the current one; the result is cleaned ("/a/./b/../c" → "/a/c"). */
static int workdir(const char *rest, json_t *cfg, struct berth_error **err)
{
        _cleanup_strv_ char **w = NULL;
        if (split_words(rest, &w, err) < 0)
                return -EINVAL;
        if (!w[0] || w[1])
                return berth_error_setx(err, EINVAL, "WORKDIR requires exactly one argument");
        const char *cur = json_string_value(json_object_get(cfg, "WorkingDir"));
        _cleanup_free_ char *joined =
            w[0][0] == '/' ? xstrdup(w[0]) : xasprintf("%s/%s", cur && *cur ? cur : "/", w[0]);
        _cleanup_free_ char *out = berth_path_clean_abs(joined);
        json_object_set_new(cfg, "WorkingDir", json_string(out));
        return 0;
}

/* docker's signal.ParseSignal: a number, "SIGTERM", "TERM" or "RTMIN+3" */
static int stopsignal(const char *rest, json_t *cfg, struct berth_error **err)
{
        _cleanup_strv_ char **w = NULL;
        if (split_words(rest, &w, err) < 0)
                return -EINVAL;
        if (!w[0] || w[1])
                return berth_error_setx(err, EINVAL, "STOPSIGNAL requires exactly one argument");
        static const char *const names[] = {
            "ABRT",   "ALRM",   "BUS",  "CHLD", "CLD",    "CONT",  "FPE",  "HUP",  "ILL",
            "INT",    "IO",     "IOT",  "KILL", "PIPE",   "POLL",  "PROF", "PWR",  "QUIT",
            "SEGV",   "STKFLT", "STOP", "SYS",  "TERM",   "TRAP",  "TSTP", "TTIN", "TTOU",
            "UNUSED", "URG",    "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ"};
        const char *s = w[0];
        bool ok = false;
        char *end = NULL;
        long n = strtol(s, &end, 10);
        if (*s && !*end)
                ok = n > 0 && n <= 64;
        else {
                const char *name = strncasecmp(s, "SIG", 3) ? s : s + 3;
                for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !ok; i++)
                        ok = !strcasecmp(name, names[i]);
                if (!ok && !strncasecmp(name, "RTMIN", 5)) {
                        const char *r = name + 5;
                        ok = !*r || ((*r == '+') && (n = strtol(r + 1, &end, 10), !*end) && n > 0 &&
                                     n <= 30);
                }
        }
        if (!ok)
                return berth_error_setx(err, EINVAL, "Invalid signal: %s", s);
        json_object_set_new(cfg, "StopSignal", json_string(s));
        return 0;
}

static void lower(char *s)
{
        for (; *s; s++)
                *s = (char)tolower((unsigned char)*s);
}

/* One instruction: inst is lowercase, rest has no leading blanks. */
static int apply_one(struct changes_state *st, const char *inst, const char *rest, json_t *cfg,
                     struct berth_error **err)
{
        if (!strcmp(inst, "cmd")) {
                json_object_set_new(cfg, "Cmd", exec_form(rest));
                st->cmd_set = true;
                return 0;
        }
        if (!strcmp(inst, "entrypoint")) {
                json_t *a = exec_form(rest);
                /* "ENTRYPOINT []" or an empty shell form clears it */
                if (!*rest) {
                        json_decref(a);
                        a = json_null();
                }
                json_object_set_new(cfg, "Entrypoint", a);
                if (!st->cmd_set)
                        json_object_set_new(cfg, "Cmd", json_null());
                return 0;
        }
        if (!strcmp(inst, "env"))
                return key_values("ENV", rest, true, cfg, err);
        if (!strcmp(inst, "label"))
                return key_values("LABEL", rest, false, cfg, err);
        if (!strcmp(inst, "expose"))
                return expose(rest, cfg, err);
        if (!strcmp(inst, "volume"))
                return volume(rest, cfg, err);
        if (!strcmp(inst, "workdir"))
                return workdir(rest, cfg, err);
        if (!strcmp(inst, "stopsignal"))
                return stopsignal(rest, cfg, err);
        if (!strcmp(inst, "user")) {
                _cleanup_strv_ char **w = NULL;
                if (split_words(rest, &w, err) < 0)
                        return -EINVAL;
                if (!w[0] || w[1])
                        return berth_error_setx(err, EINVAL, "USER requires exactly one argument");
                json_object_set_new(cfg, "User", json_string(w[0]));
                return 0;
        }
        /* onbuild: the trigger is stored as written, after checking it is an instruction */
        size_t n = strcspn(rest, " \t");
        if (n == 0)
                return berth_error_setx(err, EINVAL, "ONBUILD requires at least one argument");
        _cleanup_free_ char *trigger = xstrndup(rest, n);
        lower(trigger);
        if (!strcmp(trigger, "onbuild"))
                return berth_error_setx(err, EINVAL,
                                        "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
        if (!strcmp(trigger, "from") || !strcmp(trigger, "maintainer"))
                return berth_error_setx(err, EINVAL, "%c%s isn't allowed as an ONBUILD trigger",
                                        toupper((unsigned char)trigger[0]), trigger + 1);
        if (!in_list(allowed, ARRAY_SIZE(allowed), trigger) &&
            !in_list(known, ARRAY_SIZE(known), trigger))
                return berth_error_setx(err, EINVAL, "unknown instruction: %s", rest);
        json_t *ob = json_object_get(cfg, "OnBuild");
        if (!json_is_array(ob)) {
                ob = json_array();
                json_object_set_new(cfg, "OnBuild", ob);
        }
        json_array_append_new(ob, json_string(rest));
        return 0;
}

int berth_image_apply_change(json_t *cfg, const char *change, bool *cmd_set,
                             struct berth_error **err)
{
        if (!json_is_object(cfg))
                return berth_error_setx(err, EINVAL, "change: the config is not an object");
        if (strlen(change) > CHANGE_MAX)
                return berth_error_setx(err, EINVAL, "change is longer than %u bytes", CHANGE_MAX);
        /* line continuations join, like in a Dockerfile; other newlines end the line */
        _cleanup_free_ char *line = xcalloc(1, strlen(change) + 1);
        size_t len = 0;
        for (const char *p = change; *p; p++) {
                if (*p == '\\' && (p[1] == '\n' || (p[1] == '\r' && p[2] == '\n'))) {
                        p += p[1] == '\r' ? 2 : 1;
                        continue;
                }
                if (*p == '\n' || *p == '\r') {
                        const char *q = p;
                        while (*q && isspace((unsigned char)*q))
                                q++;
                        if (*q)
                                return berth_error_setx(err, EINVAL,
                                                        "a change is one instruction (one line)");
                        break;
                }
                line[len++] = *p;
        }
        char *s = line;
        while (isspace((unsigned char)*s))
                s++;
        while (len > 0 && isspace((unsigned char)line[len - 1]))
                line[--len] = '\0';
        if (!*s || *s == '#')
                return 0; /* docker ignores empty lines and comments */
        size_t n = strcspn(s, " \t");
        _cleanup_free_ char *inst = xstrndup(s, n);
        char *rest = s + n;
        while (isspace((unsigned char)*rest))
                rest++;
        lower(inst);
        if (!in_list(allowed, ARRAY_SIZE(allowed), inst)) {
                if (in_list(known, ARRAY_SIZE(known), inst))
                        return berth_error_setx(err, EINVAL, "%s is not a valid change command",
                                                inst);
                _cleanup_free_ char *word = xstrndup(s, n);
                return berth_error_setx(
                    err, EINVAL, "dockerfile parse error on line 1: unknown instruction: %s", word);
        }
        struct changes_state st = {.cmd_set = cmd_set && *cmd_set};
        int r = apply_one(&st, inst, rest, cfg, err);
        if (r == 0 && cmd_set)
                *cmd_set = st.cmd_set;
        return r;
}

int berth_image_apply_changes(json_t *cfg, char *const *changes, struct berth_error **err)
{
        bool cmd_set = false;
        if (!json_is_object(cfg))
                return berth_error_setx(err, EINVAL, "change: the config is not an object");
        /* all or nothing: a bad change leaves cfg as it was */
        _cleanup_json_ json_t *copy = json_deep_copy(cfg);
        for (size_t i = 0; changes && changes[i]; i++)
                if (berth_image_apply_change(copy, changes[i], &cmd_set, err) < 0)
                        return -EINVAL;
        json_object_clear(cfg);
        json_object_update(cfg, copy);
        return 0;
}
