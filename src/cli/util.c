/* Helpers shared by the verb files: argument parsing, query strings and filters, table / JSON /
 * template output, the prune and save/export steps. */
#include <fcntl.h>
#include <stdarg.h>

#include "cli/internal.h"

/* docker's --help: each option with its value type, one-line description and default, the
 * descriptions in one column */
static void print_options(const char *verb, const char *usage, const struct cli_flag *flags,
                          size_t n_flags)
{
        char **left = xcalloc(n_flags + 1, sizeof(char *));
        const struct cli_flag_help **help = xcalloc(n_flags + 1, sizeof(*help));
        size_t width = 0;

        printf("\nUsage:  berth %s %s\n\nOptions (as `docker %s`):\n", verb, usage, verb);
        for (size_t k = 0; k < n_flags; k++) {
                const char *bar = strchr(flags[k].name, '|');
                _cleanup_free_ char *name =
                    bar ? xstrndup(flags[k].name, (size_t)(bar - flags[k].name))
                        : xstrdup(flags[k].name);
                const char *type = flags[k].type == CLI_BOOL   ? ""
                                   : flags[k].type == CLI_LIST ? "list"
                                                               : "string";
                char sh[8] = "    ";
                help[k] = cli_flag_help_of(verb, name);
                if (help[k] && flags[k].type != CLI_BOOL && *help[k]->type)
                        type = help[k]->type;
                if (flags[k].short_name)
                        snprintf(sh, sizeof(sh), "-%c, ", flags[k].short_name);
                left[k] = xasprintf("  %s--%s%s%s", sh, name, *type ? " " : "", type);
                if (strlen(left[k]) > width)
                        width = strlen(left[k]);
        }
        for (size_t k = 0; k < n_flags; k++) {
                const char *desc = help[k]                              ? help[k]->desc
                                   : strcmp(flags[k].name, "help") == 0 ? "Print usage"
                                                                        : "";
                if (*desc)
                        printf("%-*s   %s\n", (int)width, left[k], desc);
                else
                        printf("%s\n", left[k]);
        }
        strv_free(left);
        free(help);
}

int verb_parse(struct cli_args *a, const char *verb, const char *usage,
               const struct cli_flag *flags, size_t n_flags, int argc, char **argv,
               bool interspersed, int min, int max, int *ret_exit)
{
        _cleanup_error_ struct berth_error *e = NULL;
        if (cli_args_parse(a, flags, n_flags, argc, argv, interspersed, &e) < 0) {
                *ret_exit = cli_usage_error(verb, e);
                return -1;
        }
        for (size_t i = 0; i < n_flags; i++) {
                if (strcmp(flags[i].name, "help") == 0 && a->values[i]) {
                        print_options(verb, usage, flags, n_flags);
                        cli_args_release(a);
                        *ret_exit = 0;
                        return -1;
                }
        }
        int n = (int)strv_length(a->pos);
        if (n < min || (max >= 0 && n > max)) {
                if (min == max)
                        fprintf(stderr, "\"berth %s\" requires exactly %d argument%s.\n", verb, min,
                                min == 1 ? "" : "s");
                else if (n < min)
                        fprintf(stderr, "\"berth %s\" requires at least %d argument%s.\n", verb,
                                min, min == 1 ? "" : "s");
                else
                        fprintf(stderr, "\"berth %s\" accepts at most %d argument%s.\n", verb, max,
                                max == 1 ? "" : "s");
                fprintf(stderr, "See 'berth %s --help'.\n\nUsage:  berth %s %s\n", verb, verb,
                        usage);
                cli_args_release(a);
                *ret_exit = 1;
                return -1;
        }
        return 0;
}

bool cli_refuse_flag(const struct cli_args *a, const char *flag, const char *why)
{
        const char *v = cli_arg_str(a, flag);
        bool is_bool = false;
        for (size_t i = 0; i < a->n_flags; i++)
                if (strcmp(a->flags[i].name, flag) == 0)
                        is_bool = a->flags[i].type == CLI_BOOL;
        if (!v || (is_bool && strcmp(v, "true") != 0))
                return false;
        fprintf(stderr, "berth: --%s is not supported%s%s\n", flag, why ? ": " : "",
                why ? why : "");
        return true;
}

bool cli_refuse_content_trust(const struct cli_args *a)
{
        if (!cli_arg_set(a, "disable-content-trust") || cli_arg_bool(a, "disable-content-trust"))
                return false;
        fprintf(stderr, "berth: --disable-content-trust=false is not supported: berth does not "
                        "verify image signatures (Docker Content Trust)\n");
        return true;
}

int print_formatted(json_t *items, const char *format, struct berth_error **err)
{
        if (!format || !*format) {
                char *s = json_dumps(items, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
                printf("%s\n", s ? s : "[]");
                free(s);
                return 0;
        }
        if (strcmp(format, "json") == 0) {
                size_t i;
                json_t *v;
                json_array_foreach(items, i, v)
                {
                        /* docker marshals a map here: keys sorted */
                        char *s = tmpl_json_marshal(v, true);
                        printf("%s\n", s);
                        free(s);
                }
                return 0;
        }
        struct tmpl *t = NULL;
        int r = tmpl_parse(format, &t, err);
        if (r < 0)
                return r;
        size_t i;
        json_t *v;
        bool printed = false;
        json_array_foreach(items, i, v)
        {
                /* like docker: an object the template fails on is skipped, the others are
                 * printed, and the errors are reported together at the end */
                char *out = NULL;
                struct berth_error *e = NULL;
                int ri = tmpl_exec(t, v, &out, &e);
                if (ri < 0) {
                        free(out);
                        if (r == 0 && err)
                                *err = TAKE_PTR(e);
                        else if (err && *err && e) {
                                char *joined = xasprintf("%s\n%s", (*err)->msg, e->msg);
                                free((*err)->msg);
                                (*err)->msg = joined;
                        }
                        berth_error_free(e);
                        r = r < 0 ? r : ri;
                        continue;
                }
                printf("%s\n", out);
                printed = true;
                free(out);
        }
        /* docker's inspector writes a newline when nothing else was */
        if (!printed && json_array_size(items) > 0)
                printf("\n");
        tmpl_free(t);
        return r;
}

int print_table(json_t *items, const char *format, json_t *headers, struct berth_error **err)
{
        if (strcmp(format, "json") == 0) {
                size_t i;
                json_t *v;
                json_array_foreach(items, i, v) json_object_del(v, "Label");
                return print_formatted(items, "json", err);
        }
        bool table = strncmp(format, "table", 5) == 0;
        const char *f = table ? format + 5 : format;
        while (*f == ' ')
                f++;
        /* docker turns the two-character sequences \t and \n into tab and newline */
        _cleanup_free_ char *fmt = xstrdup(f);
        char *o = fmt;
        for (const char *p = fmt; *p; p++) {
                if (p[0] == '\\' && (p[1] == 't' || p[1] == 'n')) {
                        *o++ = p[1] == 't' ? '\t' : '\n';
                        p++;
                } else {
                        *o++ = *p;
                }
        }
        *o = '\0';
        while (o > fmt && o[-1] == ' ')
                *--o = '\0';
        struct tmpl *t = NULL;
        int r = tmpl_parse(fmt, &t, err);
        if (r < 0)
                return r;
        struct tabw *tw = table ? tabw_new() : NULL;
        if (table) {
                _cleanup_free_ char *h = NULL;
                _cleanup_error_ struct berth_error *he = NULL;
                if (tmpl_exec(t, headers, &h, &he) == 0)
                        tabw_line(tw, h);
        }
        size_t i;
        json_t *v;
        json_array_foreach(items, i, v)
        {
                _cleanup_free_ char *out = NULL;
                r = tmpl_exec(t, v, &out, err);
                if (r < 0)
                        break;
                if (table) {
                        /* a template output with newlines makes several table lines */
                        char *save = NULL;
                        for (char *l = strtok_r(out, "\n", &save); l;
                             l = strtok_r(NULL, "\n", &save))
                                tabw_line(tw, l);
                } else {
                        printf("%s\n", out);
                }
        }
        tmpl_free(t);
        if (tw) {
                _cleanup_free_ char *s = tabw_finish(tw);
                if (r == 0)
                        fputs(s, stdout);
        }
        return r;
}

void query_add(char **q, const char *key, const char *value)
{
        _cleanup_free_ char *enc = cli_urlencode(value);
        char *n = xasprintf("%s%s%s=%s", *q ? *q : "", *q && **q ? "&" : "?", key, enc);
        free(*q);
        *q = n;
}

char *name_path(const char *prefix, const char *name, const char *suffix)
{
        _cleanup_free_ char *enc = cli_urlencode(name);
        return xasprintf("%s%s%s", prefix, enc, suffix ? suffix : "");
}

int for_each_name(char **names, const char *method, const char *prefix, const char *suffix)
{
        int code = 0;
        for (char **p = names; p && *p; p++) {
                _cleanup_free_ char *path = name_path(prefix, *p, suffix);
                _cleanup_error_ struct berth_error *e = NULL;
                if (cli_call(method, path, NULL, NULL, NULL, &e) < 0 && e->code != EALREADY) {
                        cli_print_error(e);
                        code = 1;
                        continue;
                }
                printf("%s\n", *p);
        }
        return code;
}

void filters_add(json_t *f, char **filters)
{
        for (char **p = filters; p && *p; p++) {
                const char *eq = strchr(*p, '=');
                _cleanup_free_ char *k = eq ? xstrndup(*p, (size_t)(eq - *p)) : xstrdup(*p);
                json_t *arr = json_object_get(f, k);
                if (!arr) {
                        arr = json_array();
                        json_object_set_new(f, k, arr);
                }
                json_array_append_new(arr, json_string(eq ? eq + 1 : ""));
        }
}

void query_add_filters(char **q, char **filters)
{
        if (!filters)
                return;
        _cleanup_json_ json_t *f = json_object();
        filters_add(f, filters);
        _cleanup_free_ char *s = json_dumps(f, JSON_COMPACT);
        query_add(q, "filters", s);
}

char *fmt_labels(json_t *labels)
{
        char *out = xstrdup("");
        const char *k;
        json_t *v;
        json_object_foreach(labels, k, v)
        {
                char *x = xasprintf("%s%s%s=%s", out, *out ? "," : "", k,
                                    json_string_value(v) ? json_string_value(v) : "");
                free(out);
                out = x;
        }
        return out;
}

bool cli_confirm(const char *fmt, ...)
{
        va_list ap;
        printf("WARNING! This will remove");
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\nAre you sure you want to continue? [y/N] ");
        fflush(stdout);
        char ans[16] = "";
        return fgets(ans, sizeof(ans), stdin) && (ans[0] == 'y' || ans[0] == 'Y');
}

void cli_print_deleted(json_t *list, bool lower)
{
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v)
        {
                if (json_is_string(v)) {
                        printf("%s\n", json_string_value(v));
                        continue;
                }
                const char *u = json_string_value(json_object_get(v, "Untagged"));
                const char *d = json_string_value(json_object_get(v, "Deleted"));
                if (u)
                        printf("%s: %s\n", lower ? "untagged" : "Untagged", u);
                if (d)
                        printf("%s: %s\n", lower ? "deleted" : "Deleted", d);
        }
}

int cli_prune(const char *path, const char *list_key, const char *title, bool lower,
              int64_t *reclaimed)
{
        _cleanup_json_ json_t *j = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        if (cli_call("POST", path, NULL, NULL, &j, &e) < 0) {
                cli_print_error(e);
                return -EIO;
        }
        json_t *del = json_object_get(j, list_key);
        if (json_array_size(del)) {
                printf("%s:\n", title);
                cli_print_deleted(del, lower);
                printf("\n");
        }
        *reclaimed += json_integer_value(json_object_get(j, "SpaceReclaimed"));
        return 0;
}

void cli_print_reclaimed(int64_t total)
{
        _cleanup_free_ char *sz = fmt_human_size((double)total);
        printf("Total reclaimed space: %s\n", sz);
}

int cli_open_output(const char *path, const char *what, int *ret_fd)
{
        if (path) {
                int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd < 0) {
                        int r = -errno;
                        fprintf(stderr, "failed to %s: open %s: %s\n", what, path, strerror(-r));
                        return r;
                }
                *ret_fd = fd;
                return 0;
        }
        if (isatty(STDOUT_FILENO)) {
                fprintf(stderr, "cowardly refusing to save to a terminal. Use the -o flag or "
                                "redirect\n");
                return -ENOTTY;
        }
        *ret_fd = -1;
        return 0;
}
