/* Error values threaded through every call: see common.h. */
#include "common/common.h"

__attribute__((format(printf, 4, 0))) static int
error_vset(struct berth_error **err, int code, bool with_errno, const char *fmt, va_list ap)
{
        if (code <= 0)
                code = code < 0 ? -code : EINVAL;
        if (!err)
                return -code;
        char *msg = NULL;
        if (vasprintf(&msg, fmt, ap) < 0)
                abort();
        if (with_errno) {
                /* lowercase like every other message (and like runc's Go errors) */
                char text[128];
                snprintf(text, sizeof(text), "%s", strerror(code));
                if (text[0] >= 'A' && text[0] <= 'Z' && !(text[1] >= 'A' && text[1] <= 'Z'))
                        text[0] = (char)(text[0] - 'A' + 'a');
                char *full = xasprintf("%s: %s", msg, text);
                free(msg);
                msg = full;
        }
        /* A second error replaces nothing: the first one is the cause worth reporting. */
        if (*err) {
                free(msg);
                return -(*err)->code;
        }
        struct berth_error *e = xmalloc(sizeof(*e));
        e->code = code;
        e->msg = msg;
        *err = e;
        return -code;
}

int berth_error_set(struct berth_error **err, int code, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = error_vset(err, code, true, fmt, ap);
        va_end(ap);
        return r;
}

int berth_error_setx(struct berth_error **err, int code, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = error_vset(err, code, false, fmt, ap);
        va_end(ap);
        return r;
}

int berth_error_wrap(struct berth_error **err, const char *fmt, ...)
{
        if (!err)
                return -EIO;
        char *prefix = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&prefix, fmt, ap) < 0)
                abort();
        va_end(ap);
        if (!*err) {
                berth_error_setx(err, EIO, "%s: unknown error", prefix);
                free(prefix);
                return -EIO;
        }
        char *msg = xasprintf("%s: %s", prefix, (*err)->msg);
        free(prefix);
        free((*err)->msg);
        (*err)->msg = msg;
        return -(*err)->code;
}

void berth_error_free(struct berth_error *e)
{
        if (!e)
                return;
        free(e->msg);
        free(e);
}

int berth_error_code(const struct berth_error *e)
{
        return e ? e->code : 0;
}

void berth_errorp(struct berth_error **e)
{
        berth_error_free(*e);
}
