/* A subset of Go's text/template over JSON values, as docker's --format uses it. */
#include <ctype.h>
#include <math.h>

#include "cli/cli.h"
#include "cli/template-types.h"

enum op_kind { OP_FIELD, OP_DOT, OP_ROOT, OP_STR, OP_NUM, OP_BOOL, OP_NIL, OP_FUNC, OP_SUB };

struct pipe;

struct operand {
        enum op_kind kind;
        char **fields; /* field chain after ., $ or (…) */
        char *s;       /* string literal or function name */
        double num;
        bool b;
        struct pipe *sub;
};

struct command {
        struct operand *ops;
        size_t n;
};

struct pipe {
        struct command *cmds;
        size_t n;
};

enum node_kind { N_TEXT, N_ACTION, N_IF, N_RANGE, N_WITH };

struct node {
        enum node_kind kind;
        char *text;
        struct pipe *pipe;
        char *vars[2]; /* {{range $i, $e := …}}, {{$x := …}}: declared names without '$' */
        size_t n_vars;
        bool assign;            /* {{$x = …}}: assigns an existing variable */
        struct node *body;      /* list */
        struct node *else_body; /* list; for `else if` a single N_IF */
        struct node *next;
};

struct tmpl {
        struct node *root;
};

/* ---------------------------------------------------------------- freeing */

static void pipe_free(struct pipe *p);

static void operand_release(struct operand *o)
{
        strv_free(o->fields);
        free(o->s);
        pipe_free(o->sub);
}

static void pipe_free(struct pipe *p)
{
        if (!p)
                return;
        for (size_t i = 0; i < p->n; i++) {
                for (size_t j = 0; j < p->cmds[i].n; j++)
                        operand_release(&p->cmds[i].ops[j]);
                free(p->cmds[i].ops);
        }
        free(p->cmds);
        free(p);
}

static void nodes_free(struct node *n)
{
        while (n) {
                struct node *next = n->next;
                free(n->text);
                free(n->vars[0]);
                free(n->vars[1]);
                pipe_free(n->pipe);
                nodes_free(n->body);
                nodes_free(n->else_body);
                free(n);
                n = next;
        }
}

void tmpl_free(struct tmpl *t)
{
        if (!t)
                return;
        nodes_free(t->root);
        free(t);
}

/* ---------------------------------------------------------------- pipeline parsing */

struct lexer {
        const char *p;
        const char *action; /* for messages */
};

static void skip_space(struct lexer *l)
{
        while (*l->p == ' ' || *l->p == '\t' || *l->p == '\n' || *l->p == '\r')
                l->p++;
}

static bool ident_char(char c)
{
        return isalnum((unsigned char)c) || c == '_';
}

static int parse_fields(struct lexer *l, char ***fields, struct berth_error **err)
{
        while (*l->p == '.' && ident_char(l->p[1])) {
                l->p++;
                const char *s = l->p;
                while (ident_char(*l->p))
                        l->p++;
                _cleanup_free_ char *f = xstrndup(s, (size_t)(l->p - s));
                strv_push(fields, f);
        }
        return 0;
}

static int parse_pipe(struct lexer *l, bool in_parens, struct pipe **ret, struct berth_error **err);

static int parse_string(struct lexer *l, char **ret, struct berth_error **err)
{
        char q = *l->p++;
        size_t cap = 16, len = 0;
        _cleanup_free_ char *s = xmalloc(cap);
        while (*l->p && *l->p != q) {
                char c = *l->p++;
                if (q == '"' && c == '\\') {
                        c = *l->p++;
                        switch (c) {
                        case 'n':
                                c = '\n';
                                break;
                        case 't':
                                c = '\t';
                                break;
                        case 'r':
                                c = '\r';
                                break;
                        case '\\':
                        case '"':
                                break;
                        default:
                                return berth_error_setx(err, EINVAL, "template: bad escape in `%s`",
                                                        l->action);
                        }
                }
                if (len + 2 > cap) {
                        cap *= 2;
                        s = xrealloc(s, cap);
                }
                s[len++] = c;
        }
        if (*l->p != q)
                return berth_error_setx(err, EINVAL, "template: unterminated string in `%s`",
                                        l->action);
        l->p++;
        s[len] = '\0';
        *ret = TAKE_PTR(s);
        return 0;
}

static int parse_operand(struct lexer *l, struct operand *o, struct berth_error **err)
{
        *o = (struct operand){0};
        const char *p = l->p;
        int r = 0;
        if (*p == '.') {
                if (ident_char(p[1])) {
                        o->kind = OP_FIELD;
                        r = parse_fields(l, &o->fields, err);
                } else {
                        o->kind = OP_DOT;
                        l->p++;
                }
        } else if (*p == '$') {
                /* $ (the data) or a variable $name, then fields */
                o->kind = OP_ROOT;
                const char *st = ++l->p;
                while (ident_char(*l->p))
                        l->p++;
                o->s = xstrndup(st, (size_t)(l->p - st));
                r = parse_fields(l, &o->fields, err);
        } else if (*p == '"' || *p == '`') {
                o->kind = OP_STR;
                r = parse_string(l, &o->s, err);
        } else if (*p == '(') {
                l->p++;
                o->kind = OP_SUB;
                r = parse_pipe(l, true, &o->sub, err);
                if (r < 0)
                        return r;
                if (*l->p != ')')
                        return berth_error_setx(err, EINVAL, "template: missing `)` in `%s`",
                                                l->action);
                l->p++;
                r = parse_fields(l, &o->fields, err);
        } else if (isdigit((unsigned char)*p) || (*p == '-' && isdigit((unsigned char)p[1]))) {
                char *end = NULL;
                o->kind = OP_NUM;
                o->num = strtod(p, &end);
                l->p = end;
        } else if (isalpha((unsigned char)*p)) {
                const char *s = p;
                while (ident_char(*l->p))
                        l->p++;
                o->s = xstrndup(s, (size_t)(l->p - s));
                if (strcmp(o->s, "true") == 0 || strcmp(o->s, "false") == 0) {
                        o->kind = OP_BOOL;
                        o->b = o->s[0] == 't';
                } else if (strcmp(o->s, "nil") == 0) {
                        o->kind = OP_NIL;
                } else {
                        o->kind = OP_FUNC;
                }
        } else {
                return berth_error_setx(err, EINVAL, "template: unexpected `%c` in `%s`", *p,
                                        l->action);
        }
        return r;
}

static int parse_pipe(struct lexer *l, bool in_parens, struct pipe **ret, struct berth_error **err)
{
        struct pipe *p = xcalloc(1, sizeof(*p));
        struct command cmd = {0};
        int r = 0;
        for (;;) {
                skip_space(l);
                char c = *l->p;
                if (c == '\0' || (in_parens && c == ')') || c == '|') {
                        if (cmd.n == 0) {
                                r = berth_error_setx(err, EINVAL, "template: missing value in `%s`",
                                                     l->action);
                                break;
                        }
                        p->cmds = xrealloc(p->cmds, (p->n + 1) * sizeof(*p->cmds));
                        p->cmds[p->n++] = cmd;
                        cmd = (struct command){0};
                        if (c != '|')
                                break;
                        l->p++;
                        continue;
                }
                struct operand o;
                r = parse_operand(l, &o, err);
                if (r < 0) {
                        operand_release(&o);
                        break;
                }
                cmd.ops = xrealloc(cmd.ops, (cmd.n + 1) * sizeof(*cmd.ops));
                cmd.ops[cmd.n++] = o;
        }
        if (r < 0) {
                for (size_t j = 0; j < cmd.n; j++)
                        operand_release(&cmd.ops[j]);
                free(cmd.ops);
                pipe_free(p);
                return r;
        }
        *ret = p;
        return 0;
}

static int parse_pipe_str(const char *s, struct pipe **ret, struct berth_error **err)
{
        struct lexer l = {.p = s, .action = s};
        return parse_pipe(&l, false, ret, err);
}

/* ---------------------------------------------------------------- template structure */

struct item {
        bool action;
        char *s;
};

struct items {
        struct item *v;
        size_t n, pos;
};

static int split_items(const char *text, struct items *ret, struct berth_error **err)
{
        struct items it = {0};
        const char *p = text;
        bool trim_next = false;
        for (;;) {
                const char *open = strstr(p, "{{");
                const char *tend = open ? open : p + strlen(p);
                const char *tstart = p;
                if (trim_next)
                        while (tstart < tend && isspace((unsigned char)*tstart))
                                tstart++;
                bool trim_prev = open && open[2] == '-' && isspace((unsigned char)open[3]);
                const char *te = tend;
                if (trim_prev)
                        while (te > tstart && isspace((unsigned char)te[-1]))
                                te--;
                if (te > tstart) {
                        it.v = xrealloc(it.v, (it.n + 1) * sizeof(*it.v));
                        it.v[it.n++] =
                            (struct item){false, xstrndup(tstart, (size_t)(te - tstart))};
                }
                if (!open)
                        break;
                const char *body = open + 2 + (trim_prev ? 2 : 0);
                const char *close = strstr(body, "}}");
                if (!close) {
                        for (size_t i = 0; i < it.n; i++)
                                free(it.v[i].s);
                        free(it.v);
                        return berth_error_setx(err, EINVAL, "template: unclosed action");
                }
                const char *be = close;
                trim_next = be - body >= 2 && be[-1] == '-' && isspace((unsigned char)be[-2]);
                if (trim_next)
                        be -= 2;
                while (body < be && isspace((unsigned char)*body))
                        body++;
                while (be > body && isspace((unsigned char)be[-1]))
                        be--;
                it.v = xrealloc(it.v, (it.n + 1) * sizeof(*it.v));
                it.v[it.n++] = (struct item){true, xstrndup(body, (size_t)(be - body))};
                p = close + 2;
        }
        *ret = it;
        return 0;
}

static bool keyword(const char *s, const char *kw, const char **rest)
{
        size_t n = strlen(kw);
        if (strncmp(s, kw, n) != 0 || (s[n] != '\0' && !isspace((unsigned char)s[n])))
                return false;
        *rest = s + n;
        while (isspace((unsigned char)**rest))
                (*rest)++;
        return true;
}

/* "$a := pipe", "$a, $b := pipe" or "$a = pipe": the names go to n; *rest is the pipeline.
 * Returns false (rest untouched) when s declares nothing. */
static bool parse_decl(const char *s, struct node *n, const char **rest)
{
        const char *p = s;
        char *names[2] = {NULL, NULL};
        size_t k = 0;
        while (k < 2 && *p == '$') {
                const char *st = ++p;
                while (ident_char(*p))
                        p++;
                names[k++] = xstrndup(st, (size_t)(p - st));
                while (*p == ' ')
                        p++;
                if (*p != ',')
                        break;
                p++;
                while (*p == ' ')
                        p++;
        }
        bool assign = p[0] == '=' && p[1] != '=';
        if (k == 0 || !(assign || (p[0] == ':' && p[1] == '='))) {
                free(names[0]);
                free(names[1]);
                return false;
        }
        n->vars[0] = names[0];
        n->vars[1] = names[1];
        n->n_vars = k;
        n->assign = assign;
        *rest = p + (assign ? 1 : 2);
        return true;
}

enum stop { STOP_EOF, STOP_END, STOP_ELSE, STOP_ELSE_IF };

/* Parse a list of nodes until {{end}}, {{else}}, {{else if …}} or the end of input. */
static int parse_list(struct items *it, struct node **ret, enum stop *ret_stop, char **ret_elseif,
                      struct berth_error **err)
{
        struct node *head = NULL, **tail = &head;
        int r = 0;
        *ret_stop = STOP_EOF;
        while (it->pos < it->n) {
                struct item *x = &it->v[it->pos++];
                struct node *n = NULL;
                const char *rest;
                if (!x->action) {
                        n = xcalloc(1, sizeof(*n));
                        n->kind = N_TEXT;
                        n->text = xstrdup(x->s);
                } else if (x->s[0] == '/' && x->s[1] == '*') {
                        continue; /* comment */
                } else if (keyword(x->s, "end", &rest)) {
                        *ret_stop = STOP_END;
                        break;
                } else if (keyword(x->s, "else", &rest)) {
                        const char *cond;
                        if (keyword(rest, "if", &cond)) {
                                *ret_stop = STOP_ELSE_IF;
                                *ret_elseif = xstrdup(cond);
                        } else {
                                *ret_stop = STOP_ELSE;
                        }
                        break;
                } else if (keyword(x->s, "if", &rest) || keyword(x->s, "range", &rest) ||
                           keyword(x->s, "with", &rest)) {
                        n = xcalloc(1, sizeof(*n));
                        n->kind = x->s[0] == 'i' ? N_IF : x->s[0] == 'r' ? N_RANGE : N_WITH;
                        parse_decl(rest, n, &rest);
                        _cleanup_free_ char *cond = xstrdup(rest);
                        for (;;) {
                                r = parse_pipe_str(cond, &n->pipe, err);
                                if (r < 0)
                                        break;
                                enum stop st;
                                _cleanup_free_ char *elseif = NULL;
                                r = parse_list(it, &n->body, &st, &elseif, err);
                                if (r < 0)
                                        break;
                                if (st == STOP_ELSE) {
                                        r = parse_list(it, &n->else_body, &st, &elseif, err);
                                        if (r < 0)
                                                break;
                                }
                                if (st == STOP_ELSE_IF && n->kind == N_IF) {
                                        /* {{else if c}} nests an if in the else branch that
                                         * shares this {{end}} */
                                        struct node *inner = xcalloc(1, sizeof(*inner));
                                        inner->kind = N_IF;
                                        struct node *outer = n;
                                        outer->else_body = inner;
                                        r = parse_pipe_str(elseif, &inner->pipe, err);
                                        if (r < 0)
                                                break;
                                        enum stop st2;
                                        _cleanup_free_ char *elseif2 = NULL;
                                        r = parse_list(it, &inner->body, &st2, &elseif2, err);
                                        if (r < 0)
                                                break;
                                        struct node *cur = inner;
                                        while (st2 == STOP_ELSE_IF) {
                                                struct node *nx = xcalloc(1, sizeof(*nx));
                                                nx->kind = N_IF;
                                                cur->else_body = nx;
                                                cur = nx;
                                                r = parse_pipe_str(elseif2, &nx->pipe, err);
                                                free(elseif2);
                                                elseif2 = NULL;
                                                if (r < 0)
                                                        break;
                                                r = parse_list(it, &nx->body, &st2, &elseif2, err);
                                                if (r < 0)
                                                        break;
                                        }
                                        if (r < 0)
                                                break;
                                        if (st2 == STOP_ELSE) {
                                                r = parse_list(it, &cur->else_body, &st2, &elseif2,
                                                               err);
                                                if (r < 0)
                                                        break;
                                        }
                                        st = st2;
                                }
                                if (st != STOP_END)
                                        r = berth_error_setx(err, EINVAL,
                                                             "template: missing {{end}} for "
                                                             "`%s`",
                                                             x->s);
                                break;
                        }
                        if (r < 0) {
                                nodes_free(n);
                                break;
                        }
                } else {
                        n = xcalloc(1, sizeof(*n));
                        n->kind = N_ACTION;
                        const char *pipe_text = x->s;
                        parse_decl(x->s, n, &pipe_text);
                        r = parse_pipe_str(pipe_text, &n->pipe, err);
                        if (r < 0) {
                                nodes_free(n);
                                break;
                        }
                }
                *tail = n;
                tail = &n->next;
        }
        if (r < 0) {
                nodes_free(head);
                return r;
        }
        *ret = head;
        return 0;
}

int tmpl_parse(const char *text, struct tmpl **ret, struct berth_error **err)
{
        struct items it;
        int r = split_items(text, &it, err);
        if (r < 0)
                return r;
        struct node *root = NULL;
        enum stop st;
        _cleanup_free_ char *elseif = NULL;
        r = parse_list(&it, &root, &st, &elseif, err);
        if (r == 0 && st != STOP_EOF) {
                nodes_free(root);
                r = berth_error_setx(err, EINVAL, "template: unexpected {{%s}}",
                                     st == STOP_END ? "end" : "else");
        }
        for (size_t i = 0; i < it.n; i++)
                free(it.v[i].s);
        free(it.v);
        if (r < 0)
                return r;
        struct tmpl *t = xmalloc(sizeof(*t));
        t->root = root;
        *ret = t;
        return 0;
}

/* ---------------------------------------------------------------- values */

/* A missing map key: Go prints "<no value>". Never freed (static singleton). */
static json_t *no_value(void)
{
        static json_t *nv;
        if (!nv)
                nv = json_string("<no value>");
        return nv;
}

static bool is_no_value(json_t *v)
{
        return v == no_value();
}

static void append(char **out, size_t *len, const char *s)
{
        size_t n = strlen(s);
        *out = xrealloc(*out, *len + n + 1);
        memcpy(*out + *len, s, n + 1);
        *len += n;
}

static char *number_string(double d)
{
        if (d == floor(d) && fabs(d) < 1e21)
                return xasprintf("%.0f", d);
        return xasprintf("%g", d);
}

static int cmp_keys(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

char *tmpl_value_string(json_t *v)
{
        if (!v)
                return xstrdup("<nil>");
        if (is_no_value(v))
                return xstrdup("<no value>");
        switch (json_typeof(v)) {
        case JSON_STRING:
                return xstrdup(json_string_value(v));
        case JSON_INTEGER:
                return xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
        case JSON_REAL:
                return number_string(json_real_value(v));
        case JSON_TRUE:
                return xstrdup("true");
        case JSON_FALSE:
                return xstrdup("false");
        case JSON_NULL:
                return xstrdup("<nil>");
        case JSON_ARRAY: {
                char *out = NULL;
                size_t len = 0;
                append(&out, &len, "[");
                size_t i;
                json_t *e;
                json_array_foreach(v, i, e)
                {
                        if (i > 0)
                                append(&out, &len, " ");
                        _cleanup_free_ char *s = tmpl_value_string(e);
                        append(&out, &len, s);
                }
                append(&out, &len, "]");
                return out;
        }
        case JSON_OBJECT: {
                size_t n = json_object_size(v);
                const char **keys = xcalloc(n ? n : 1, sizeof(char *));
                size_t k = 0;
                const char *key;
                json_t *e;
                json_object_foreach(v, key, e) keys[k++] = key;
                qsort(keys, n, sizeof(char *), cmp_keys);
                char *out = NULL;
                size_t len = 0;
                append(&out, &len, "map[");
                for (size_t i = 0; i < n; i++) {
                        if (i > 0)
                                append(&out, &len, " ");
                        append(&out, &len, keys[i]);
                        append(&out, &len, ":");
                        _cleanup_free_ char *s = tmpl_value_string(json_object_get(v, keys[i]));
                        append(&out, &len, s);
                }
                append(&out, &len, "]");
                free(keys);
                return out;
        }
        }
        return xstrdup("");
}

static bool truthy(json_t *v)
{
        if (!v || is_no_value(v))
                return false;
        switch (json_typeof(v)) {
        case JSON_STRING:
                return json_string_length(v) > 0;
        case JSON_INTEGER:
                return json_integer_value(v) != 0;
        case JSON_REAL:
                return json_real_value(v) != 0;
        case JSON_TRUE:
                return true;
        case JSON_ARRAY:
                return json_array_size(v) > 0;
        case JSON_OBJECT:
                return json_object_size(v) > 0;
        default:
                return false;
        }
}

/* ---------------------------------------------------------------- docker's Go types
 *
 * docker inspect -f runs the template on its Go structs first and on the raw JSON only when that
 * fails (template-types.h): a null or absent field prints after its Go type. */

/* Typed stand-ins for nil slices and maps: print as [] and map[], marshal as null. Never freed
 * (static singletons), like no_value(). */
static json_t *nil_slice(void)
{
        static json_t *v;
        if (!v)
                v = json_array();
        return v;
}

static json_t *nil_map(void)
{
        static json_t *v;
        if (!v)
                v = json_object();
        return v;
}

static json_t *nil_strmap(void)
{
        static json_t *v;
        if (!v)
                v = json_object();
        return v;
}

static json_t *zero_duration(void)
{
        static json_t *v;
        if (!v)
                v = json_integer(0);
        return v;
}

static bool is_nil_stand_in(json_t *v)
{
        return v && (v == nil_slice() || v == nil_map() || v == nil_strmap());
}

/* The value a field of kind k holds when the JSON has null or nothing (new reference). */
static json_t *go_zero(enum go_kind k)
{
        switch (k) {
        case GO_STRING:
                return json_string("");
        case GO_INT:
        case GO_DURATION:
                return json_integer(0);
        case GO_BOOL:
                return json_false();
        case GO_SLICE:
                return json_incref(nil_slice());
        case GO_MAP:
                return json_incref(nil_map());
        case GO_STRMAP:
                return json_incref(nil_strmap());
        case GO_PTR:
        case GO_STRUCT:
                break;
        }
        return json_null();
}

#define TYPED_MAX 64

/* docker inspect runs a template on its Go structs, and when that fails on the JSON as maps
 * with missingkey=error; other documents are run once, leniently */
enum tmpl_mode { MODE_LOOSE, MODE_TYPED, MODE_RAW };

struct ctx {
        enum tmpl_mode mode;
        json_t *root;
        struct {
                char *name;
                json_t *v;
        } vars[64];
        size_t n_vars;
        /* values of the data whose Go type is known (borrowed: the data outlives the run) */
        struct {
                json_t *v;
                const struct go_type *type; /* a struct's, or NULL with kind */
                enum go_kind kind;
        } typed[TYPED_MAX];
        size_t n_typed;
};

static void typed_add(struct ctx *c, json_t *v, enum go_kind kind, const struct go_type *type)
{
        if (!v || c->n_typed == TYPED_MAX)
                return;
        for (size_t i = 0; i < c->n_typed; i++)
                if (c->typed[i].v == v)
                        return;
        c->typed[c->n_typed].v = v;
        c->typed[c->n_typed].kind = kind;
        c->typed[c->n_typed].type = type;
        c->n_typed++;
}

/* The Go kind of v when known (false otherwise); *ret_type its struct type. */
static bool typed_get(struct ctx *c, json_t *v, enum go_kind *ret_kind,
                      const struct go_type **ret_type)
{
        if (v == nil_slice() || v == nil_map() || v == nil_strmap()) {
                *ret_kind = v == nil_slice() ? GO_SLICE : v == nil_map() ? GO_MAP : GO_STRMAP;
                *ret_type = NULL;
                return true;
        }
        for (size_t i = 0; c && i < c->n_typed; i++)
                if (c->typed[i].v == v) {
                        *ret_kind = c->typed[i].kind;
                        *ret_type = c->typed[i].type;
                        return true;
                }
        return false;
}

static int var_push(struct ctx *c, const char *name, json_t *v, struct berth_error **err)
{
        if (c->n_vars == ARRAY_SIZE(c->vars))
                return berth_error_setx(err, E2BIG, "template: too many variables");
        c->vars[c->n_vars].name = xstrdup(name);
        c->vars[c->n_vars].v = json_incref(v);
        c->n_vars++;
        return 0;
}

static void vars_pop_to(struct ctx *c, size_t n)
{
        while (c->n_vars > n) {
                c->n_vars--;
                free(c->vars[c->n_vars].name);
                json_decref(c->vars[c->n_vars].v);
        }
}

static json_t *var_get(struct ctx *c, const char *name)
{
        if (!name || !*name)
                return c->root;
        for (size_t i = c->n_vars; i > 0; i--)
                if (strcmp(c->vars[i - 1].name, name) == 0)
                        return c->vars[i - 1].v;
        return NULL;
}

static char *typed_string(struct ctx *c, json_t *v, enum go_kind kind, const struct go_type *type);

/* v as docker's fmt prints it, with the Go type when known */
static char *value_string(struct ctx *c, json_t *v)
{
        enum go_kind kind;
        const struct go_type *type;

        if (v && typed_get(c, v, &kind, &type))
                return typed_string(c, v, kind, type);
        if (v == zero_duration())
                return xstrdup("0s");
        return tmpl_value_string(v);
}

static char *typed_string(struct ctx *c, json_t *v, enum go_kind kind, const struct go_type *type)
{
        if (!v || json_is_null(v)) {
                switch (kind) {
                case GO_STRING:
                        return xstrdup("");
                case GO_INT:
                        return xstrdup("0");
                case GO_BOOL:
                        return xstrdup("false");
                case GO_SLICE:
                        return xstrdup("[]");
                case GO_MAP:
                case GO_STRMAP:
                        return xstrdup("map[]");
                case GO_DURATION:
                        return xstrdup("0s");
                case GO_PTR:
                case GO_STRUCT:
                        break;
                }
                return xstrdup("<nil>");
        }
        if (kind == GO_DURATION && json_is_integer(v))
                return go_duration_string(json_integer_value(v));
        if ((kind == GO_PTR || kind == GO_STRUCT) && type && type->printable && json_is_object(v)) {
                /* text/template prints through one pointer: {v1 v2 …} in field order */
                char *out = NULL;
                size_t len = 0;
                append(&out, &len, "{");
                for (const struct go_field *f = type->fields; f->name; f++) {
                        _cleanup_free_ char *s =
                            typed_string(c, json_object_get(v, f->name), f->kind, f->type);
                        if (f != type->fields)
                                append(&out, &len, " ");
                        append(&out, &len, s);
                }
                append(&out, &len, "}");
                return out;
        }
        return tmpl_value_string(v);
}

static char *fields_text(char **fields)
{
        char *out = NULL;
        size_t len = 0;
        append(&out, &len, "");
        for (char **f = fields; f && *f; f++) {
                append(&out, &len, ".");
                append(&out, &len, *f);
        }
        return out;
}

/* docker's message when its typed run failed and the raw map has no such key */
static int no_entry(char **fields, char **at, struct berth_error **err)
{
        _cleanup_free_ char *chain = fields_text(fields);

        return berth_error_setx(err, EINVAL,
                                "template: executing \"\" at <%s>: map has no entry for key "
                                "\"%s\"",
                                chain, *at);
}

/* A field chain in docker's raw run (its JSON as Go maps, missingkey=error). */
static json_t *get_fields_raw(json_t *v, char **fields, struct berth_error **err, int *r)
{
        json_t *cur = v;
        for (char **f = fields; f && *f; f++) {
                if (!json_is_object(cur)) {
                        *r = berth_error_setx(err, EINVAL,
                                              json_is_null(cur) || !cur
                                                  ? "template: nil pointer evaluating interface "
                                                    "{}.%s"
                                                  : "template: can't evaluate field %s in type %s",
                                              *f, json_is_array(cur) ? "[]interface {}" : "string");
                        return NULL;
                }
                cur = json_object_get(cur, *f);
                if (!cur) {
                        *r = no_entry(fields, f, err);
                        return NULL;
                }
        }
        /* a null is a nil interface{}: printed as <no value> */
        return json_incref(json_is_null(cur) ? no_value() : cur);
}

static json_t *get_fields(struct ctx *c, json_t *v, char **fields, struct berth_error **err, int *r)
{
        json_t *cur;
        enum go_kind kind = GO_STRING;
        const struct go_type *type = NULL;
        bool typed;

        if (c->mode == MODE_RAW)
                return get_fields_raw(v, fields, err, r);
        cur = json_incref(v);
        typed = c->mode == MODE_TYPED && typed_get(c, v, &kind, &type);
        for (char **f = fields; f && *f; f++) {
                const struct go_field *gf = NULL;
                if (typed && (kind == GO_PTR || kind == GO_STRUCT) && type) {
                        gf = go_field_of(type, *f);
                        if (!gf && type->complete) {
                                /* no such Go field: docker's typed run fails here */
                                json_decref(cur);
                                *r = berth_error_setx(err, EINVAL,
                                                      "template: can't evaluate field %s", *f);
                                return NULL;
                        }
                }
                if (typed && json_is_null(cur)) {
                        json_decref(cur);
                        *r = berth_error_setx(err, EINVAL,
                                              "template: nil pointer evaluating field %s", *f);
                        return NULL;
                }
                if (!cur || !json_is_object(cur)) {
                        if (!cur || json_is_null(cur) || is_no_value(cur)) {
                                /* Go: nil pointer evaluating … — docker prints <no value> for
                                 * maps; keep going quietly */
                                json_decref(cur);
                                return json_incref(no_value());
                        }
                        json_decref(cur);
                        *r = berth_error_setx(err, EINVAL,
                                              "template: can't evaluate field %s in type %s", *f,
                                              json_is_array(v) ? "[]interface {}" : "string");
                        return NULL;
                }
                json_t *next = gf && gf->json && !*gf->json
                                   ? cur
                                   : json_object_get(cur, gf && gf->json ? gf->json : *f);
                json_decref(cur);
                if (gf) {
                        kind = gf->kind;
                        type = gf->type;
                        if (next && !json_is_null(next)) {
                                if (type || kind == GO_STRMAP || kind == GO_DURATION)
                                        typed_add(c, next, kind, type);
                                cur = json_incref(next);
                        } else if (kind == GO_DURATION) {
                                cur = json_incref(zero_duration());
                        } else {
                                cur = go_zero(kind);
                        }
                        continue;
                }
                typed = false;
                cur = json_incref(next ? next : no_value());
        }
        return cur;
}

static int eval_pipe(struct ctx *c, const struct pipe *p, json_t *dot, json_t **ret,
                     struct berth_error **err);

static int eval_operand(struct ctx *c, const struct operand *o, json_t *dot, json_t **ret,
                        struct berth_error **err)
{
        int r = 0;
        json_t *v = NULL;
        switch (o->kind) {
        case OP_FIELD:
                v = get_fields(c, dot, o->fields, err, &r);
                break;
        case OP_DOT:
                v = json_incref(dot);
                break;
        case OP_ROOT: {
                json_t *base = var_get(c, o->s);
                if (!base && o->s && *o->s)
                        return berth_error_setx(err, EINVAL, "template: undefined variable \"$%s\"",
                                                o->s);
                v = get_fields(c, base, o->fields, err, &r);
                break;
        }
        case OP_STR:
                v = json_string(o->s);
                break;
        case OP_NUM:
                v = o->num == floor(o->num) && fabs(o->num) < 9e18
                        ? json_integer((json_int_t)o->num)
                        : json_real(o->num);
                break;
        case OP_BOOL:
                v = json_boolean(o->b);
                break;
        case OP_NIL:
                v = json_null();
                break;
        case OP_SUB: {
                json_t *sub = NULL;
                r = eval_pipe(c, o->sub, dot, &sub, err);
                if (r < 0)
                        return r;
                v = get_fields(c, sub, o->fields, err, &r);
                json_decref(sub);
                break;
        }
        case OP_FUNC:
                return berth_error_setx(err, EINVAL, "template: `%s` is not a value", o->s);
        }
        if (r < 0)
                return r;
        *ret = v;
        return 0;
}

char *tmpl_json_marshal(const json_t *v, bool sort_keys)
{
        char *raw = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
                                      (sort_keys ? JSON_SORT_KEYS : JSON_PRESERVE_ORDER));
        if (!raw)
                return xstrdup("null");
        /* the three characters only occur inside strings in JSON text */
        size_t extra = 0;
        for (const char *p = raw; *p; p++)
                if (*p == '<' || *p == '>' || *p == '&')
                        extra += 5;
        if (!extra)
                return raw;
        char *out = xmalloc(strlen(raw) + extra + 1), *o = out;
        for (const char *p = raw; *p; p++) {
                if (*p == '<' || *p == '>' || *p == '&') {
                        o += sprintf(o, "\\u00%s", *p == '<' ? "3c" : *p == '>' ? "3e" : "26");
                        continue;
                }
                *o++ = *p;
        }
        *o = '\0';
        free(raw);
        return out;
}

static bool values_equal(json_t *a, json_t *b)
{
        if (json_is_number(a) && json_is_number(b))
                return json_number_value(a) == json_number_value(b);
        return json_equal(a, b);
}

static int not_defined(const char *name, struct berth_error **err)
{
        return berth_error_setx(err, EINVAL, "template: function \"%s\" not defined", name);
}

static int fn_json(struct ctx *c, const char *name, json_t **args, size_t n, json_t **ret,
                   struct berth_error **err)
{
        json_t *a = args[0];
        /* docker marshals a nil slice or map as null */
        if (is_no_value(a) || is_nil_stand_in(a))
                a = json_null();
        /* docker's template json: an encoder without HTML escaping */
        char *s = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
        *ret = json_string(s ? s : "null");
        free(s);
        return 0;
}

static int fn_index(struct ctx *c, const char *name, json_t **args, size_t n, json_t **ret,
                    struct berth_error **err)
{
        json_t *cur = json_incref(args[0]);
        for (size_t i = 1; i < n; i++) {
                json_t *next = NULL;
                if (json_is_array(cur) && json_is_integer(args[i])) {
                        json_int_t k = json_integer_value(args[i]);
                        if (k < 0 || (size_t)k >= json_array_size(cur)) {
                                json_decref(cur);
                                return berth_error_setx(
                                    err, ERANGE,
                                    "template: error calling index: index out of "
                                    "range: %" JSON_INTEGER_FORMAT,
                                    k);
                        }
                        next = json_array_get(cur, (size_t)k);
                } else if (json_is_object(cur) && json_is_string(args[i])) {
                        enum go_kind kind;
                        const struct go_type *type;
                        next = json_object_get(cur, json_string_value(args[i]));
                        /* a map[string]string gives its zero value for a missing key */
                        if (!next && typed_get(c, cur, &kind, &type) && kind == GO_STRMAP) {
                                json_decref(cur);
                                *ret = json_string("");
                                return 0;
                        }
                        if (!next)
                                next = no_value();
                } else if (!cur || json_is_null(cur) || is_no_value(cur)) {
                        next = no_value();
                } else {
                        json_decref(cur);
                        return berth_error_setx(err, EINVAL,
                                                "template: error calling index: cannot "
                                                "index this value");
                }
                json_decref(cur);
                cur = json_incref(next);
        }
        *ret = cur;
        return 0;
}

static int fn_len(struct ctx *c, const char *name, json_t **args, size_t n, json_t **ret,
                  struct berth_error **err)
{
        json_t *a = args[0];
        size_t l = json_is_array(a)    ? json_array_size(a)
                   : json_is_object(a) ? json_object_size(a)
                   : json_is_string(a) ? json_string_length(a)
                                       : 0;
        *ret = json_integer((json_int_t)l);
        return 0;
}

static int fn_join(struct ctx *c, const char *name, json_t **args, size_t n, json_t **ret,
                   struct berth_error **err)
{
        char *out = NULL;
        size_t len = 0;
        append(&out, &len, "");
        const char *sep = json_string_value(args[1]);
        size_t i;
        json_t *e;
        if (json_is_array(args[0]))
                json_array_foreach(args[0], i, e)
                {
                        if (i > 0)
                                append(&out, &len, sep ? sep : "");
                        _cleanup_free_ char *s = value_string(c, e);
                        append(&out, &len, s);
                }
        *ret = json_string(out);
        free(out);
        return 0;
}

static int fn_case(struct ctx *c, const char *name, json_t **args, size_t n, json_t **ret,
                   struct berth_error **err)
{
        char *s = value_string(c, args[0]);
        bool start = true;
        for (char *p = s; *p; p++) {
                if (name[0] == 'u')
                        *p = (char)toupper((unsigned char)*p);
                else if (name[0] == 'l')
                        *p = (char)tolower((unsigned char)*p);
                else if (start)
                        *p = (char)toupper((unsigned char)*p);
                start = isspace((unsigned char)*p);
        }
        *ret = json_string(s);
        free(s);
        return 0;
}

static int fn_print(struct ctx *c, const char *name, json_t **args, size_t n, json_t **ret,
                    struct berth_error **err)
{
        char *out = NULL;
        size_t len = 0;
        append(&out, &len, "");
        for (size_t i = 0; i < n; i++) {
                /* print adds spaces only between operands when neither is a string */
                if (i > 0 &&
                    (name[5] == 'l' || (!json_is_string(args[i]) && !json_is_string(args[i - 1]))))
                        append(&out, &len, " ");
                _cleanup_free_ char *s = value_string(c, args[i]);
                append(&out, &len, s);
        }
        if (name[5] == 'l')
                append(&out, &len, "\n");
        *ret = json_string(out);
        free(out);
        return 0;
}

static int fn_printf(struct ctx *c, const char *name, json_t **args, size_t n, json_t **ret,
                     struct berth_error **err)
{
        if (!json_is_string(args[0]))
                return not_defined(name, err);
        /* %s %v %d %q and widths applied to the string forms */
        const char *f = json_string_value(args[0]);
        char *out = NULL;
        size_t len = 0, ai = 1;
        append(&out, &len, "");
        for (const char *p = f; *p; p++) {
                if (*p != '%') {
                        char ch[2] = {*p, 0};
                        append(&out, &len, ch);
                        continue;
                }
                p++;
                if (*p == '%') {
                        append(&out, &len, "%");
                        continue;
                }
                const char *spec = p;
                while (*p == '-' || isdigit((unsigned char)*p) || *p == '.')
                        p++;
                if (!*p)
                        break;
                _cleanup_free_ char *s =
                    ai < n ? value_string(c, args[ai++]) : xstrdup("%!v(MISSING)");
                _cleanup_free_ char *fmt = xasprintf("%%%.*ss", (int)(p - spec), spec);
                _cleanup_free_ char *q = *p == 'q' ? xasprintf("\"%s\"", s) : NULL;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
                _cleanup_free_ char *piece = xasprintf(fmt, q ? q : s);
#pragma GCC diagnostic pop
                append(&out, &len, piece);
        }
        *ret = json_string(out);
        free(out);
        return 0;
}

static int fn_eq(struct ctx *c, const char *name, json_t **args, size_t n, json_t **ret,
                 struct berth_error **err)
{
        bool eq = false;
        for (size_t i = 1; i < n; i++)
                eq = eq || values_equal(args[0], args[i]);
        *ret = json_boolean(name[0] == 'e' ? eq : !eq);
        return 0;
}

static int fn_not(struct ctx *c, const char *name, json_t **args, size_t n, json_t **ret,
                  struct berth_error **err)
{
        *ret = json_boolean(!truthy(args[0]));
        return 0;
}

static int fn_and_or(struct ctx *c, const char *name, json_t **args, size_t n, json_t **ret,
                     struct berth_error **err)
{
        size_t i = 0;
        for (; i + 1 < n; i++)
                if (truthy(args[i]) != (name[0] == 'a'))
                        break;
        *ret = json_incref(args[i]);
        return 0;
}

static int fn_split(struct ctx *c, const char *name, json_t **args, size_t n, json_t **ret,
                    struct berth_error **err)
{
        json_t *arr = json_array();
        _cleanup_free_ char *s = value_string(c, args[0]);
        const char *sep = json_string_value(args[1]);
        size_t sl = sep ? strlen(sep) : 0;
        const char *p = s;
        for (;;) {
                const char *q = sl ? strstr(p, sep) : NULL;
                size_t l = q ? (size_t)(q - p) : strlen(p);
                _cleanup_free_ char *piece = xstrndup(p, l);
                json_array_append_new(arr, json_string(piece));
                if (!q)
                        break;
                p = q + sl;
        }
        *ret = arr;
        return 0;
}

static int fn_truncate(struct ctx *c, const char *name, json_t **args, size_t n, json_t **ret,
                       struct berth_error **err)
{
        if (!json_is_integer(args[1]))
                return not_defined(name, err);
        _cleanup_free_ char *s = value_string(c, args[0]);
        json_int_t k = json_integer_value(args[1]);
        if (k >= 0 && (size_t)k < strlen(s))
                s[k] = '\0';
        *ret = json_string(s);
        return 0;
}

/* Go's text/template builtins and docker's template functions that berth knows, with how many
 * arguments each takes (max -1: any number); a call that fits none is "not defined" */
static const struct template_func {
        const char *name;
        size_t min;
        ssize_t max;
        int (*fn)(struct ctx *c, const char *name, json_t **args, size_t n, json_t **ret,
                  struct berth_error **err);
} template_funcs[] = {
    {"json", 1, 1, fn_json},
    {"index", 1, -1, fn_index},
    {"len", 1, 1, fn_len},
    {"join", 2, 2, fn_join},
    {"upper", 1, 1, fn_case},
    {"lower", 1, 1, fn_case},
    {"title", 1, 1, fn_case},
    {"println", 0, -1, fn_print},
    {"print", 0, -1, fn_print},
    {"printf", 1, -1, fn_printf},
    {"eq", 2, -1, fn_eq},
    {"ne", 2, -1, fn_eq},
    {"not", 1, 1, fn_not},
    {"and", 1, -1, fn_and_or},
    {"or", 1, -1, fn_and_or},
    {"split", 2, 2, fn_split},
    {"truncate", 2, 2, fn_truncate},
};

static int call_func(struct ctx *c, const char *name, json_t **args, size_t n, json_t **ret,
                     struct berth_error **err)
{
        for (size_t i = 0; i < ARRAY_SIZE(template_funcs); i++) {
                const struct template_func *f = &template_funcs[i];
                if (strcmp(name, f->name) == 0 && n >= f->min &&
                    (f->max < 0 || n <= (size_t)f->max))
                        return f->fn(c, name, args, n, ret, err);
        }
        return not_defined(name, err);
}

static int eval_command(struct ctx *c, const struct command *cmd, json_t *dot, json_t *piped,
                        json_t **ret, struct berth_error **err)
{
        if (cmd->ops[0].kind != OP_FUNC) {
                if (cmd->ops[0].kind == OP_FIELD && cmd->n == 2 && !piped) {
                        /* docker's methods with a key ({{.Label "k"}}): the field is a map */
                        _cleanup_json_ json_t *m = NULL, *k = NULL;
                        int r = eval_operand(c, &cmd->ops[0], dot, &m, err);
                        if (r < 0)
                                return r;
                        r = eval_operand(c, &cmd->ops[1], dot, &k, err);
                        if (r < 0)
                                return r;
                        if (json_is_object(m) && json_is_string(k)) {
                                json_t *v = json_object_get(m, json_string_value(k));
                                *ret = json_string(json_is_string(v) ? json_string_value(v) : "");
                                return 0;
                        }
                }
                if (cmd->n > 1 || piped)
                        return berth_error_setx(err, EINVAL,
                                                "template: can't give argument to non-function");
                return eval_operand(c, &cmd->ops[0], dot, ret, err);
        }
        size_t n = cmd->n - 1 + (piped ? 1 : 0);
        json_t **args = xcalloc(n ? n : 1, sizeof(json_t *));
        int r = 0;
        size_t got = 0;
        for (size_t i = 1; i < cmd->n; i++) {
                r = eval_operand(c, &cmd->ops[i], dot, &args[got], err);
                if (r < 0)
                        break;
                got++;
        }
        if (r == 0 && piped)
                args[got++] = json_incref(piped);
        if (r == 0)
                r = call_func(c, cmd->ops[0].s, args, got, ret, err);
        for (size_t i = 0; i < got; i++)
                json_decref(args[i]);
        free(args);
        return r;
}

static int eval_pipe(struct ctx *c, const struct pipe *p, json_t *dot, json_t **ret,
                     struct berth_error **err)
{
        json_t *v = NULL;
        for (size_t i = 0; i < p->n; i++) {
                json_t *next = NULL;
                int r = eval_command(c, &p->cmds[i], dot, v, &next, err);
                json_decref(v);
                if (r < 0)
                        return r;
                v = next;
        }
        *ret = v;
        return 0;
}

static int exec_list_scoped(struct ctx *c, const struct node *n, json_t *dot, char **out,
                            size_t *len, struct berth_error **err);

/* Run a list of nodes; variables declared in it end with it (Go's scoping). */
static int exec_list(struct ctx *c, const struct node *n, json_t *dot, char **out, size_t *len,
                     struct berth_error **err)
{
        size_t mark = c->n_vars;
        int r = exec_list_scoped(c, n, dot, out, len, err);
        vars_pop_to(c, mark);
        return r;
}

/* A body run with the control structure's own variables (key/index and element, or the value). */
static int exec_body(struct ctx *c, const struct node *ctl, const struct node *body, json_t *dot,
                     json_t *key, json_t *elem, char **out, size_t *len, struct berth_error **err)
{
        size_t mark = c->n_vars;
        int r = 0;
        if (ctl->n_vars == 1)
                r = var_push(c, ctl->vars[0], elem, err);
        else if (ctl->n_vars == 2 && (r = var_push(c, ctl->vars[0], key, err)) == 0)
                r = var_push(c, ctl->vars[1], elem, err);
        if (r == 0)
                r = exec_list(c, body, dot, out, len, err);
        vars_pop_to(c, mark);
        return r;
}

static int exec_list_scoped(struct ctx *c, const struct node *n, json_t *dot, char **out,
                            size_t *len, struct berth_error **err)
{
        for (; n; n = n->next) {
                int r = 0;
                _cleanup_json_ json_t *v = NULL;
                switch (n->kind) {
                case N_TEXT:
                        append(out, len, n->text);
                        break;
                case N_ACTION: {
                        r = eval_pipe(c, n->pipe, dot, &v, err);
                        if (r < 0)
                                return r;
                        if (n->n_vars == 1 && n->assign) {
                                size_t i = c->n_vars;
                                while (i > 0 && strcmp(c->vars[i - 1].name, n->vars[0]) != 0)
                                        i--;
                                if (i == 0)
                                        return berth_error_setx(
                                            err, EINVAL, "template: undefined variable \"$%s\"",
                                            n->vars[0]);
                                json_decref(c->vars[i - 1].v);
                                c->vars[i - 1].v = json_incref(v);
                                break;
                        }
                        if (n->n_vars == 1) {
                                r = var_push(c, n->vars[0], v, err);
                                break;
                        }
                        if (n->n_vars > 1)
                                return berth_error_setx(err, EINVAL,
                                                        "template: too many declarations");
                        _cleanup_free_ char *s = value_string(c, v);
                        append(out, len, s);
                        break;
                }
                case N_IF:
                case N_WITH:
                        r = eval_pipe(c, n->pipe, dot, &v, err);
                        if (r < 0)
                                return r;
                        if (truthy(v))
                                r = exec_body(c, n, n->body, n->kind == N_WITH ? v : dot, NULL, v,
                                              out, len, err);
                        else
                                r = exec_list(c, n->else_body, dot, out, len, err);
                        break;
                case N_RANGE:
                        r = eval_pipe(c, n->pipe, dot, &v, err);
                        if (r < 0)
                                return r;
                        if (!truthy(v)) {
                                r = exec_list(c, n->else_body, dot, out, len, err);
                        } else if (json_is_array(v)) {
                                size_t i;
                                json_t *e;
                                json_array_foreach(v, i, e)
                                {
                                        _cleanup_json_ json_t *idx = json_integer((json_int_t)i);
                                        r = exec_body(c, n, n->body, e, idx, e, out, len, err);
                                        if (r < 0)
                                                break;
                                }
                        } else if (json_is_object(v)) {
                                /* Go ranges over a map's values in key order */
                                size_t cnt = json_object_size(v), k = 0;
                                const char **keys = xcalloc(cnt, sizeof(char *));
                                const char *key;
                                json_t *e;
                                json_object_foreach(v, key, e) keys[k++] = key;
                                qsort(keys, cnt, sizeof(char *), cmp_keys);
                                for (k = 0; k < cnt && r == 0; k++) {
                                        _cleanup_json_ json_t *kv = json_string(keys[k]);
                                        json_t *e2 = json_object_get(v, keys[k]);
                                        r = exec_body(c, n, n->body, e2, kv, e2, out, len, err);
                                }
                                free(keys);
                        } else {
                                r = berth_error_setx(
                                    err, EINVAL, "template: range can't iterate over %s",
                                    json_is_string(v) ? json_string_value(v) : "a scalar");
                        }
                        break;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

int tmpl_exec(const struct tmpl *t, json_t *data, char **out, struct berth_error **err)
{
        struct ctx c = {.root = data};
        size_t len = *out ? strlen(*out) : 0, start = len;
        _cleanup_free_ char *buf = *out ? *out : xstrdup("");
        int r;

        *out = NULL;
        /* docker inspect's container document: its fields have docker's Go types */
        if (json_is_object(json_object_get(data, "State")) &&
            json_is_object(json_object_get(data, "HostConfig")) &&
            json_is_object(json_object_get(data, "GraphDriver")) &&
            json_object_get(data, "Config")) {
                c.mode = MODE_TYPED;
                typed_add(&c, data, GO_STRUCT, &go_container_type);
                r = exec_list(&c, t->root, data, &buf, &len, NULL);
                vars_pop_to(&c, 0);
                if (r == 0) {
                        *out = TAKE_PTR(buf);
                        return 0;
                }
                /* like docker: again on the raw JSON, whose errors are the ones shown */
                c.mode = MODE_RAW;
                c.n_typed = 0;
                buf[start] = '\0';
                len = start;
        }
        r = exec_list(&c, t->root, data, &buf, &len, err);
        vars_pop_to(&c, 0);
        *out = TAKE_PTR(buf);
        return r;
}
