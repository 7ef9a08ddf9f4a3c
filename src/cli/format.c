/* Output helpers that match docker's: tabwriter alignment, go-units sizes and durations. */
#include <inttypes.h>
#include <time.h>

#include "cli/cli.h"

struct tabw {
        char ***rows; /* per line: cells; the last cell is the unterminated rest */
        size_t *n_cells;
        size_t n;
};

struct tabw *tabw_new(void)
{
        return xcalloc(1, sizeof(struct tabw));
}

void tabw_line(struct tabw *t, const char *line)
{
        char **cells = NULL;
        const char *p = line;
        for (;;) {
                const char *tab = strchr(p, '\t');
                size_t l = tab ? (size_t)(tab - p) : strlen(p);
                _cleanup_free_ char *c = xstrndup(p, l);
                strv_push(&cells, c);
                if (!tab)
                        break;
                p = tab + 1;
        }
        t->rows = xrealloc(t->rows, (t->n + 1) * sizeof(*t->rows));
        t->n_cells = xrealloc(t->n_cells, (t->n + 1) * sizeof(*t->n_cells));
        t->rows[t->n] = cells;
        t->n_cells[t->n] = strv_length(cells);
        t->n++;
}

void tabw_print(struct tabw *t, FILE *out)
{
        _cleanup_free_ char *s = tabw_finish(t);
        fputs(s, out);
}

static size_t text_width(const char *s)
{
        size_t w = 0;
        for (; *s; s++)
                if (((unsigned char)*s & 0xc0) != 0x80)
                        w++;
        return w;
}

char *tabw_finish(struct tabw *t)
{
        enum { MINWIDTH = 10, PADDING = 3 };
        /* widths[i][j]: width of column j on line i (terminated cells only) */
        size_t **widths = xcalloc(t->n ? t->n : 1, sizeof(size_t *));
        size_t max_cols = 0;
        for (size_t i = 0; i < t->n; i++) {
                widths[i] = xcalloc(t->n_cells[i] ? t->n_cells[i] : 1, sizeof(size_t));
                if (t->n_cells[i] > max_cols)
                        max_cols = t->n_cells[i];
        }
        /* a column's width is shared by each run of consecutive lines that terminate a cell in
         * it (Go's tabwriter blocks) */
        for (size_t j = 0; j + 1 < max_cols; j++) {
                size_t i = 0;
                while (i < t->n) {
                        if (t->n_cells[i] <= j + 1) {
                                i++;
                                continue;
                        }
                        size_t start = i, w = MINWIDTH;
                        for (; i < t->n && t->n_cells[i] > j + 1; i++) {
                                size_t cw = text_width(t->rows[i][j]) + PADDING;
                                if (cw > w)
                                        w = cw;
                        }
                        for (size_t k = start; k < i; k++)
                                widths[k][j] = w;
                }
        }
        size_t len = 0, cap = 256;
        char *out = xmalloc(cap);
        for (size_t i = 0; i < t->n; i++) {
                for (size_t j = 0; j < t->n_cells[i]; j++) {
                        const char *c = t->rows[i][j];
                        size_t cl = strlen(c), pad = 0;
                        if (j + 1 < t->n_cells[i])
                                pad = widths[i][j] - text_width(c);
                        while (len + cl + pad + 2 > cap) {
                                cap *= 2;
                                out = xrealloc(out, cap);
                        }
                        memcpy(out + len, c, cl);
                        len += cl;
                        memset(out + len, ' ', pad);
                        len += pad;
                }
                out[len++] = '\n';
                free(widths[i]);
                strv_free(t->rows[i]);
        }
        out[len] = '\0';
        free(widths);
        free(t->rows);
        free(t->n_cells);
        free(t);
        return out;
}

static char *custom_size(double size, double base, const char *const *units, int precision)
{
        int i = 0;
        while (size >= base && units[i + 1]) {
                size /= base;
                i++;
        }
        return xasprintf("%.*g%s", precision, size, units[i]);
}

char *fmt_human_size(double bytes)
{
        static const char *const units[] = {"B",  "kB", "MB", "GB", "TB",
                                            "PB", "EB", "ZB", "YB", NULL};
        return custom_size(bytes, 1000.0, units, 4);
}

/* images, ps -s, stats NET/BLOCK I/O use precision 3 */
char *fmt_human_size3(double bytes)
{
        static const char *const units[] = {"B",  "kB", "MB", "GB", "TB",
                                            "PB", "EB", "ZB", "YB", NULL};
        return custom_size(bytes, 1000.0, units, 3);
}

char *fmt_bytes_size(double bytes)
{
        static const char *const units[] = {"B",   "KiB", "MiB", "GiB", "TiB",
                                            "PiB", "EiB", "ZiB", "YiB", NULL};
        return custom_size(bytes, 1024.0, units, 4);
}

char *fmt_human_duration(int64_t seconds)
{
        if (seconds < 1)
                return xstrdup("Less than a second");
        if (seconds == 1)
                return xstrdup("1 second");
        if (seconds < 60)
                return xasprintf("%" PRId64 " seconds", seconds);
        int64_t minutes = seconds / 60;
        if (minutes == 1)
                return xstrdup("About a minute");
        if (minutes < 60)
                return xasprintf("%" PRId64 " minutes", minutes);
        int64_t hours = (int64_t)((double)seconds / 3600.0 + 0.5);
        if (hours == 1)
                return xstrdup("About an hour");
        if (hours < 48)
                return xasprintf("%" PRId64 " hours", hours);
        if (hours < 24 * 7 * 2)
                return xasprintf("%" PRId64 " days", hours / 24);
        if (hours < 24 * 30 * 2)
                return xasprintf("%" PRId64 " weeks", hours / 24 / 7);
        if (hours < 24 * 365 * 2)
                return xasprintf("%" PRId64 " months", hours / 24 / 30);
        return xasprintf("%" PRId64 " years", seconds / 3600 / 24 / 365);
}

int fmt_parse_time(const char *s, int64_t *ret)
{
        struct tm tm = {0};
        const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!p)
                return -EINVAL;
        while (*p == '.' || (*p >= '0' && *p <= '9'))
                p++;
        int64_t off = 0;
        if (*p == '+' || *p == '-') {
                int h = 0, m = 0;
                if (sscanf(p + 1, "%d:%d", &h, &m) != 2)
                        return -EINVAL;
                off = (h * 3600 + m * 60) * (*p == '-' ? -1 : 1);
        } else if (*p != 'Z' && *p != '\0') {
                return -EINVAL;
        }
        *ret = (int64_t)timegm(&tm) - off;
        return 0;
}

char *fmt_short_id(const char *id)
{
        const char *colon = strchr(id, ':');
        if (colon)
                id = colon + 1;
        return xstrndup(id, 12);
}
