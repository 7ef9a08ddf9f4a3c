/* The pure half of logs: one json-file line parsed, one entry framed for the client (unit-tested
 * and fuzzed on its own). */
#include "daemon/events.h"
#include "daemon/logs.h"

#include <time.h>

/* ---------------------------------------------------------------- parsing and framing */

int logs_parse_line(const char *line, size_t len, struct log_entry *ret, struct berth_error **err)
{
        json_error_t je;
        _cleanup_json_ json_t *j = json_loadb(line, len, JSON_ALLOW_NUL, &je);
        if (!json_is_object(j))
                return berth_error_setx(err, EINVAL, "invalid log line: %s", je.text);
        json_t *log = json_object_get(j, "log");
        const char *stream = json_string_value(json_object_get(j, "stream"));
        const char *time = json_string_value(json_object_get(j, "time"));
        if (!json_is_string(log) || !stream || !time)
                return berth_error_setx(err, EINVAL,
                                        "invalid log line: missing log, stream or "
                                        "time");
        int s = !strcmp(stream, "stdout") ? 1 : !strcmp(stream, "stderr") ? 2 : 0;
        if (!s)
                return berth_error_setx(err, EINVAL, "invalid log stream `%s`", stream);
        int64_t t;
        if (events_parse_time(time, &t, err) < 0)
                return -EINVAL;
        ret->len = json_string_length(log);
        ret->log = xmalloc(ret->len + 1);
        memcpy(ret->log, json_string_value(log), ret->len + 1);
        ret->stream = s;
        ret->time_ns = t;
        return 0;
}

void logs_entry_release(struct log_entry *e)
{
        free(e->log);
        e->log = NULL;
}

char *logs_format_entry(const struct log_entry *e, const struct logs_opts *o, size_t *ret_len)
{
        _cleanup_free_ char *ts = NULL;
        size_t tslen = 0;
        if (o->timestamps) {
                struct timespec t = {.tv_sec = e->time_ns / 1000000000,
                                     .tv_nsec = e->time_ns % 1000000000};
                char *s = berth_time_rfc3339(&t);
                ts = xasprintf("%s ", s);
                free(s);
                tslen = strlen(ts);
        }
        size_t hdr = o->tty ? 0 : 8;
        size_t payload = tslen + e->len;
        char *out = xmalloc(hdr + payload + 1);
        if (hdr) {
                out[0] = (char)e->stream;
                out[1] = out[2] = out[3] = 0;
                out[4] = (char)((payload >> 24) & 0xff);
                out[5] = (char)((payload >> 16) & 0xff);
                out[6] = (char)((payload >> 8) & 0xff);
                out[7] = (char)(payload & 0xff);
        }
        if (tslen)
                memcpy(out + hdr, ts, tslen);
        memcpy(out + hdr + tslen, e->log, e->len);
        out[hdr + payload] = '\0';
        *ret_len = hdr + payload;
        return out;
}
