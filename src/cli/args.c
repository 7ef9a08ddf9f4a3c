/* docker's (cobra/pflag) argument syntax: --name v, --name=v, -x v, -xv, -abc for bools, "--". */
#include <math.h>

#include "cli/cli.h"

static bool name_matches(const char *names, const char *s, size_t len)
{
        const char *p = names;
        for (;;) {
                const char *bar = strchr(p, '|');
                size_t n = bar ? (size_t)(bar - p) : strlen(p);
                if (n == len && strncmp(p, s, len) == 0)
                        return true;
                if (!bar)
                        return false;
                p = bar + 1;
        }
}

static int find_long(const struct cli_args *a, const char *s, size_t len)
{
        for (size_t i = 0; i < a->n_flags; i++)
                if (name_matches(a->flags[i].name, s, len))
                        return (int)i;
        return -1;
}

static int find_short(const struct cli_args *a, char c)
{
        for (size_t i = 0; i < a->n_flags; i++)
                if (a->flags[i].short_name == c)
                        return (int)i;
        return -1;
}

static void first_name(const struct cli_flag *f, char *buf, size_t size)
{
        const char *bar = strchr(f->name, '|');
        size_t n = bar ? (size_t)(bar - f->name) : strlen(f->name);
        if (n >= size)
                n = size - 1;
        memcpy(buf, f->name, n);
        buf[n] = '\0';
}

static void add_value(struct cli_args *a, int i, const char *v)
{
        if (a->flags[i].type != CLI_LIST && a->values[i]) {
                strv_free(a->values[i]);
                a->values[i] = NULL;
        }
        strv_push(&a->values[i], v);
}

static int parse_bool(const char *v, bool *ret)
{
        static const char *const yes[] = {"1", "t", "T", "true", "TRUE", "True"};
        static const char *const no[] = {"0", "f", "F", "false", "FALSE", "False"};
        for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
                if (strcmp(v, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcmp(v, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

int cli_args_parse(struct cli_args *a, const struct cli_flag *flags, size_t n_flags, int argc,
                   char **argv, bool interspersed, struct berth_error **err)
{
        *a = (struct cli_args){.flags = flags, .n_flags = n_flags};
        a->values = xcalloc(n_flags ? n_flags : 1, sizeof(char **));
        bool flags_done = false;
        for (int i = 1; i < argc; i++) {
                const char *s = argv[i];
                if (flags_done || s[0] != '-' || s[1] == '\0') {
                        strv_push(&a->pos, s);
                        if (!interspersed)
                                flags_done = true;
                        continue;
                }
                if (strcmp(s, "--") == 0) {
                        flags_done = true;
                        continue;
                }
                if (s[1] == '-') {
                        const char *name = s + 2;
                        const char *eq = strchr(name, '=');
                        size_t len = eq ? (size_t)(eq - name) : strlen(name);
                        int f = find_long(a, name, len);
                        if (f < 0) {
                                cli_args_release(a);
                                return berth_error_setx(err, EINVAL, "unknown flag: --%.*s",
                                                        (int)len, name);
                        }
                        if (flags[f].type == CLI_BOOL) {
                                bool b = true;
                                if (eq && parse_bool(eq + 1, &b) < 0) {
                                        cli_args_release(a);
                                        return berth_error_setx(
                                            err, EINVAL,
                                            "invalid argument \"%s\" for \"--%.*s\" flag: "
                                            "strconv.ParseBool: parsing \"%s\": invalid syntax",
                                            eq + 1, (int)len, name, eq + 1);
                                }
                                add_value(a, f, b ? "true" : "false");
                        } else if (eq) {
                                add_value(a, f, eq + 1);
                        } else if (i + 1 < argc) {
                                add_value(a, f, argv[++i]);
                        } else {
                                cli_args_release(a);
                                return berth_error_setx(err, EINVAL, "flag needs an argument: --%s",
                                                        name);
                        }
                        continue;
                }
                /* a group of shorthands: bools until one that takes a value */
                for (const char *p = s + 1; *p; p++) {
                        int f = find_short(a, *p);
                        if (f < 0) {
                                cli_args_release(a);
                                return berth_error_setx(
                                    err, EINVAL, "unknown shorthand flag: '%c' in %s", *p, s);
                        }
                        if (flags[f].type == CLI_BOOL) {
                                if (p[1] == '=') {
                                        bool b = true;
                                        if (parse_bool(p + 2, &b) < 0) {
                                                cli_args_release(a);
                                                return berth_error_setx(
                                                    err, EINVAL,
                                                    "invalid argument \"%s\" for \"-%c\"", p + 2,
                                                    *p);
                                        }
                                        add_value(a, f, b ? "true" : "false");
                                        break;
                                }
                                add_value(a, f, "true");
                                continue;
                        }
                        if (p[1] != '\0') {
                                add_value(a, f, p[1] == '=' ? p + 2 : p + 1);
                        } else if (i + 1 < argc) {
                                add_value(a, f, argv[++i]);
                        } else {
                                char name[64];
                                first_name(&flags[f], name, sizeof(name));
                                cli_args_release(a);
                                return berth_error_setx(
                                    err, EINVAL, "flag needs an argument: '%c' in -%c", *p, *p);
                        }
                        break;
                }
        }
        return 0;
}

void cli_args_release(struct cli_args *a)
{
        if (a->values)
                for (size_t i = 0; i < a->n_flags; i++)
                        strv_free(a->values[i]);
        free(a->values);
        strv_free(a->pos);
        a->values = NULL;
        a->pos = NULL;
}

static int index_of(const struct cli_args *a, const char *name)
{
        int i = find_long(a, name, strlen(name));
        if (i < 0)
                abort(); /* a verb asked for a flag it did not declare: a bug */
        return i;
}

const char *cli_arg_str(const struct cli_args *a, const char *name)
{
        char **v = a->values[index_of(a, name)];
        return v ? v[strv_length(v) - 1] : NULL;
}

bool cli_arg_bool(const struct cli_args *a, const char *name)
{
        const char *v = cli_arg_str(a, name);
        return v && strcmp(v, "true") == 0;
}

bool cli_arg_set(const struct cli_args *a, const char *name)
{
        return a->values[index_of(a, name)] != NULL;
}

char **cli_arg_list(const struct cli_args *a, const char *name)
{
        return a->values[index_of(a, name)];
}

int cli_parse_bytes(const char *s, int64_t *ret)
{
        char *end = NULL;
        errno = 0;
        double v = strtod(s, &end);
        if (end == s || errno || v < 0 || !isfinite(v))
                return -EINVAL;
        int64_t mult = 1;
        if (*end) {
                switch (*end | 0x20) {
                case 'b':
                        mult = 1;
                        break;
                case 'k':
                        mult = 1LL << 10;
                        break;
                case 'm':
                        mult = 1LL << 20;
                        break;
                case 'g':
                        mult = 1LL << 30;
                        break;
                case 't':
                        mult = 1LL << 40;
                        break;
                case 'p':
                        mult = 1LL << 50;
                        break;
                default:
                        return -EINVAL;
                }
                end++;
                if (mult > 1 && (*end | 0x20) == 'i')
                        end++;
                if (mult > 1 && (*end | 0x20) == 'b')
                        end++;
                if (*end)
                        return -EINVAL;
        }
        double r = v * (double)mult;
        if (r > 9.2e18)
                return -ERANGE;
        *ret = (int64_t)r;
        return 0;
}

int cli_parse_duration(const char *s, int64_t *ret)
{
        static const struct {
                const char *unit;
                double ns;
        } units[] = {{"ns", 1},  {"us", 1e3}, {"µs", 1e3},  {"ms", 1e6},
                     {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
        const char *p = s;
        bool neg = false;
        if (*p == '-' || *p == '+')
                neg = *p++ == '-';
        if (strcmp(p, "0") == 0) {
                *ret = 0;
                return 0;
        }
        if (*p == '\0')
                return -EINVAL;
        double total = 0;
        while (*p) {
                char *end = NULL;
                if (!((*p >= '0' && *p <= '9') || *p == '.'))
                        return -EINVAL;
                double v = strtod(p, &end);
                if (end == p)
                        return -EINVAL;
                p = end;
                size_t best = 0;
                int which = -1;
                for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
                        size_t l = strlen(units[i].unit);
                        if (strncmp(p, units[i].unit, l) == 0 && l > best) {
                                best = l;
                                which = (int)i;
                        }
                }
                if (which < 0)
                        return -EINVAL;
                total += v * units[which].ns;
                p += best;
        }
        if (total > 9.2e18)
                return -ERANGE;
        *ret = (int64_t)(neg ? -total : total);
        return 0;
}
