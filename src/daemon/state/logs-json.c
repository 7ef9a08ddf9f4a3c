/* The pure half of logs: one json-file line parsed, one entry framed for the client (unit-tested
 * and fuzzed on its own). */
#include "daemon/state/events.h"
#include "daemon/state/logs.h"

#include <time.h>

/* ---------------------------------------------------------------- parsing and framing */

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* RFC 3339 UTC time of the shim ("2024-01-02T03:04:05.123456789Z", fraction optional) without
 * strptime/timegm: the date part is converted once per distinct second. -1 when not that
 * shape (the general parser then decides). */
static int64_t fast_time(const char *t, size_t n)
{
        static __thread char last[20];
        static __thread int64_t last_secs = -1;
        static const char shape[] = "dddd-dd-ddTdd:dd:dd";
        if (n < 20 || t[n - 1] != 'Z')
                return -1;
        for (size_t i = 0; i < 19; i++)
                if (shape[i] == 'd' ? t[i] < '0' || t[i] > '9' : t[i] != shape[i])
                        return -1;
        int64_t secs;
        if (last_secs >= 0 && !memcmp(t, last, 19)) {
                secs = last_secs;
        } else {
                char buf[21];
                memcpy(buf, t, 19);
                memcpy(buf + 19, "Z", 2);
                if (events_parse_time(buf, &secs, NULL) < 0)
                        return -1;
                secs /= 1000000000;
                memcpy(last, t, 19);
                last_secs = secs;
        }
        int64_t ns = 0;
        size_t i = 19;
        if (t[i] == '.') {
                int digits = 0;
                for (i++; i < n - 1; i++, digits++) {
                        if (t[i] < '0' || t[i] > '9' || digits >= 9)
                                return -1;
                        ns = ns * 10 + (t[i] - '0');
                }
                for (; digits < 9; digits++)
                        ns *= 10;
        }
        if (i != n - 1)
                return -1;
        return secs * 1000000000 + ns;
}

/* The shim's exact shape {"log":"…","stream":"std…","time":"…"} with ASCII text, parsed
 * without building a JSON tree (a 10 MB log is ~90k lines). 0, or -EINVAL to let jansson
 * decide (other key orders, non-ASCII text, surrogate escapes, …). */
static int fast_parse(const char *line, size_t len, struct log_entry *ret)
{
        static const char head[] = "{\"log\":\"";
        static const char mid[] = "\",\"stream\":\"";
        static const char tim[] = "\",\"time\":\"";
        if (len < sizeof(head) - 1 || memcmp(line, head, sizeof(head) - 1))
                return -EINVAL;
        const char *p = line + sizeof(head) - 1, *end = line + len;
        _cleanup_free_ char *out = xmalloc(len + 1);
        size_t o = 0;
        while (p < end && *p != '"') {
                unsigned char c = (unsigned char)*p;
                if (c < 0x20 || c >= 0x80)
                        return -EINVAL;
                if (c != '\\') {
                        out[o++] = (char)c;
                        p++;
                        continue;
                }
                if (end - p < 2)
                        return -EINVAL;
                switch (p[1]) {
                case '"':
                case '\\':
                case '/':
                        out[o++] = p[1];
                        break;
                case 'b':
                        out[o++] = '\b';
                        break;
                case 'f':
                        out[o++] = '\f';
                        break;
                case 'n':
                        out[o++] = '\n';
                        break;
                case 'r':
                        out[o++] = '\r';
                        break;
                case 't':
                        out[o++] = '\t';
                        break;
                case 'u': {
                        if (end - p < 6)
                                return -EINVAL;
                        int v = 0;
                        for (int k = 2; k < 6; k++) {
                                int h = hexval(p[k]);
                                if (h < 0)
                                        return -EINVAL;
                                v = v * 16 + h;
                        }
                        if (v >= 0xd800 && v <= 0xdfff)
                                return -EINVAL;
                        if (v < 0x80) {
                                out[o++] = (char)v;
                        } else if (v < 0x800) {
                                out[o++] = (char)(0xc0 | (v >> 6));
                                out[o++] = (char)(0x80 | (v & 0x3f));
                        } else {
                                out[o++] = (char)(0xe0 | (v >> 12));
                                out[o++] = (char)(0x80 | ((v >> 6) & 0x3f));
                                out[o++] = (char)(0x80 | (v & 0x3f));
                        }
                        p += 6;
                        continue;
                }
                default:
                        return -EINVAL;
                }
                p += 2;
        }
        if ((size_t)(end - p) < sizeof(mid) - 1 + 6 + sizeof(tim) - 1 + 2 ||
            memcmp(p, mid, sizeof(mid) - 1))
                return -EINVAL;
        p += sizeof(mid) - 1;
        int stream = !memcmp(p, "stdout", 6) ? 1 : !memcmp(p, "stderr", 6) ? 2 : 0;
        p += 6;
        if (!stream || memcmp(p, tim, sizeof(tim) - 1))
                return -EINVAL;
        p += sizeof(tim) - 1;
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q || end - q != 2 || q[1] != '}')
                return -EINVAL;
        int64_t t = fast_time(p, (size_t)(q - p));
        if (t < 0)
                return -EINVAL;
        out[o] = '\0';
        ret->log = TAKE_PTR(out);
        ret->len = o;
        ret->stream = stream;
        ret->time_ns = t;
        return 0;
}

int logs_parse_line(const char *line, size_t len, struct log_entry *ret, struct berth_error **err)
{
        if (fast_parse(line, len, ret) == 0)
                return 0;
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
