/* Allocation, cleanup destructors, string vectors, ids and time helpers. */
#include "common/common.h"
#include <ctype.h>

#include <pthread.h>
#include <sys/random.h>
#include <strings.h>
#include <time.h>

void *xmalloc(size_t n)
{
        void *p = malloc(n ? n : 1);
        if (!p)
                abort();
        return p;
}

void *xcalloc(size_t n, size_t size)
{
        void *p = calloc(n ? n : 1, size ? size : 1);
        if (!p)
                abort();
        return p;
}

void *xrealloc(void *p, size_t n)
{
        p = realloc(p, n ? n : 1);
        if (!p)
                abort();
        return p;
}

char *xstrdup(const char *s)
{
        char *p = strdup(s);
        if (!p)
                abort();
        return p;
}

char *xstrndup(const char *s, size_t n)
{
        char *p = strndup(s, n);
        if (!p)
                abort();
        return p;
}

char *xasprintf(const char *fmt, ...)
{
        char *p = NULL;
        va_list ap;
        va_start(ap, fmt);
        int r = vasprintf(&p, fmt, ap);
        va_end(ap);
        if (r < 0)
                abort();
        return p;
}

void berth_freep(void *p)
{
        free(*(void **)p);
}

void berth_closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}

void berth_fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}

void berth_closedirp(DIR **d)
{
        if (*d)
                closedir(*d);
}

void berth_json_decrefp(json_t **j)
{
        json_decref(*j);
}

size_t strv_length(char *const *v)
{
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

void strv_free(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

void berth_strvp(char ***v)
{
        strv_free(*v);
}

void strv_push(char ***v, const char *s)
{
        size_t n = strv_length(*v);
        *v = xrealloc(*v, (n + 2) * sizeof(char *));
        (*v)[n] = xstrdup(s);
        (*v)[n + 1] = NULL;
}

int berth_parse_u64(const char *s, uint64_t *ret)
{
        if (!s || !*s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        char *end = NULL;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end)
                return -EINVAL;
        *ret = v;
        return 0;
}

void berth_random_bytes(void *buf, size_t n)
{
        uint8_t *p = buf;

        while (n > 0) {
                ssize_t r = getrandom(p, n, 0);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        abort(); /* ENOSYS: a kernel older than 3.17, which berth never runs on */
                p += r;
                n -= (size_t)r;
        }
}

void berth_random_hex(char *out, size_t nbytes)
{
        static const char hex[] = "0123456789abcdef";
        uint8_t b[64];

        if (nbytes > sizeof(b))
                abort(); /* a caller's bug: ids are at most 64 bytes */
        berth_random_bytes(b, nbytes);
        for (size_t i = 0; i < nbytes; i++) {
                out[2 * i] = hex[b[i] >> 4];
                out[2 * i + 1] = hex[b[i] & 0xf];
        }
        out[2 * nbytes] = '\0';
}

int berth_thread_spawn_detached(void *(*fn)(void *), void *arg)
{
        pthread_attr_t attr;
        pthread_t t;
        int r;

        r = pthread_attr_init(&attr);
        if (r != 0)
                return -r;
        r = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (r == 0)
                r = pthread_create(&t, &attr, fn, arg);
        pthread_attr_destroy(&attr);
        return -r;
}

int berth_parse_ram_size(const char *s, uint64_t *ret)
{
        if (!strcmp(s, "-1")) {
                *ret = 0;
                return 0;
        }
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || end == s || v < 0 || !(s[0] >= '0' && s[0] <= '9'))
                return -EINVAL;
        static const char units[] = "bkmgtp";
        double mult = 1;
        if (*end) {
                const char *u = strchr(units, end[0] | 0x20);
                if (!u)
                        return -EINVAL;
                for (const char *q = units; q < u; q++)
                        mult *= 1024;
                end++;
                if (*end == 'b' || *end == 'B')
                        end++;
                if ((*end == 'i' || *end == 'I') && (end[1] == 'b' || end[1] == 'B'))
                        end += 2;
        }
        if (*end || v * mult >= 18446744073709551615.0)
                return -EINVAL;
        *ret = (uint64_t)(v * mult);
        return 0;
}

int berth_id_validate(const char *id, struct berth_error **err)
{
        size_t n = id ? strlen(id) : 0;
        if (n == 0)
                return berth_error_setx(err, EINVAL, "invalid container id: empty");
        if (n > 1024)
                return berth_error_setx(err, EINVAL, "invalid container id: longer than 1024");
        if (id[0] == '.' || id[0] == '-')
                goto bad;
        for (size_t i = 0; i < n; i++) {
                char c = id[i];
                bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' || c == '+';
                if (!ok)
                        goto bad;
        }
        return 0;
bad:
        return berth_error_setx(err, EINVAL, "invalid container id `%s`", id);
}

char *berth_time_rfc3339(const struct timespec *ts)
{
        /* by hand: strftime() would load the local time zone file on every call */
        struct tm tm;
        gmtime_r(&ts->tv_sec, &tm);
        return xasprintf("%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts->tv_nsec);
}

char *berth_base64_encode(const void *data, size_t n)
{
        const unsigned char *in = data;
        static const char tbl[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        char *out = xmalloc(4 * ((n + 2) / 3) + 1), *o = out;

        for (size_t i = 0; i < n; i += 3) {
                unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
                             (i + 2 < n ? in[i + 2] : 0);
                *o++ = tbl[(v >> 18) & 63];
                *o++ = tbl[(v >> 12) & 63];
                *o++ = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
                *o++ = i + 2 < n ? tbl[v & 63] : '=';
        }
        *o = '\0';
        return out;
}

size_t berth_detach_keys_parse(const char *spec, unsigned char *keys, size_t max)
{
        static const char ctrl[] = "@abcdefghijklmnopqrstuvwxyz[\\]^_";
        _cleanup_free_ char *copy = xstrdup(spec && *spec ? spec : "ctrl-p,ctrl-q");
        char *rest = copy, *k;
        size_t n = 0;

        /* strsep, not strtok: an empty key ("a,,b") is an unknown one, as in moby */
        while ((k = strsep(&rest, ","))) {
                if (n == max)
                        return 0;
                if (strlen(k) == 1) {
                        keys[n++] = (unsigned char)k[0];
                        continue;
                }
                const char *hit = strncasecmp(k, "ctrl-", 5) == 0 && strlen(k) == 6
                                      ? strchr(ctrl, tolower((unsigned char)k[5]))
                                      : NULL;
                if (!hit || !*hit)
                        return 0;
                keys[n++] = (unsigned char)(hit - ctrl);
        }
        return n;
}
