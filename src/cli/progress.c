/* docker's JSON message display (pkg/jsonmessage): per-layer lines redrawn in place on a
 * terminal, plain status lines otherwise. */
#include "cli/cli.h"

struct progress {
        FILE *out;
        bool tty;
        char **ids; /* layer ids in the order their lines were printed */
};

struct progress *progress_new(FILE *out, bool tty)
{
        struct progress *p = xcalloc(1, sizeof(*p));
        p->out = out;
        p->tty = tty;
        return p;
}

void progress_free(struct progress *p)
{
        if (!p)
                return;
        strv_free(p->ids);
        free(p);
}

char *progress_bar(int64_t current, int64_t total)
{
        if (current <= 0 && total <= 0)
                return xstrdup("");
        _cleanup_free_ char *cur = fmt_human_size((double)current);
        if (total <= 0)
                return xasprintf("%8s", cur);
        int pct = (int)((double)current / (double)total * 100) / 2;
        if (pct > 50)
                pct = 50;
        if (pct < 0)
                pct = 0;
        char bar[64];
        memset(bar, '=', (size_t)pct);
        bar[pct] = '>';
        memset(bar + pct + 1, ' ', (size_t)(50 - pct));
        bar[51] = '\0';
        _cleanup_free_ char *tot = fmt_human_size((double)total);
        if (current > total)
                return xasprintf("[%s] %8s", bar, cur);
        return xasprintf("[%s] %8s/%s", bar, cur, tot);
}

int progress_msg(struct progress *p, json_t *msg, struct berth_error **err)
{
        json_t *detail = json_object_get(msg, "errorDetail");
        const char *emsg = json_string_value(json_object_get(detail, "message"));
        if (!emsg)
                emsg = json_string_value(json_object_get(msg, "error"));
        if (emsg)
                return berth_error_setx(err, EIO, "%s", emsg);
        if (json_object_get(msg, "aux"))
                return 0;
        const char *id = json_string_value(json_object_get(msg, "id"));
        const char *status = json_string_value(json_object_get(msg, "status"));
        const char *stream = json_string_value(json_object_get(msg, "stream"));
        const char *pmsg = json_string_value(json_object_get(msg, "progress"));
        json_t *pd = json_object_get(msg, "progressDetail");
        int64_t cur = json_integer_value(json_object_get(pd, "current"));
        int64_t total = json_integer_value(json_object_get(pd, "total"));
        _cleanup_free_ char *bar = pd ? progress_bar(cur, total) : NULL;
        if (!p->tty) {
                /* no progress bars off a terminal: each status once */
                if (bar && bar[0])
                        return 0;
                if (stream) {
                        fputs(stream, p->out);
                        return 0;
                }
                if (id)
                        fprintf(p->out, "%s: ", id);
                fprintf(p->out, "%s\n", status ? status : "");
                return 0;
        }
        size_t diff = 0;
        if (id && (pd || pmsg)) {
                size_t n = strv_length(p->ids), line = n;
                for (size_t i = 0; i < n; i++)
                        if (strcmp(p->ids[i], id) == 0)
                                line = i;
                if (line == n) {
                        strv_push(&p->ids, id);
                        fputc('\n', p->out);
                        n++;
                }
                diff = n - line;
                fprintf(p->out, "\033[%zuA", diff);
        } else {
                strv_free(p->ids);
                p->ids = NULL;
        }
        if (stream) {
                fputs(stream, p->out);
        } else {
                const char *endl = pd ? "\r" : "";
                if (pd)
                        fputs("\033[2K\r", p->out);
                if (id)
                        fprintf(p->out, "%s: ", id);
                if (pd)
                        fprintf(p->out, "%s %s%s", status ? status : "", bar, endl);
                else if (pmsg)
                        fprintf(p->out, "%s %s%s", status ? status : "", pmsg, endl);
                else
                        fprintf(p->out, "%s%s\n", status ? status : "", endl);
        }
        if (id && diff)
                fprintf(p->out, "\033[%zuB", diff);
        fflush(p->out);
        return 0;
}
