/* docker's json-file log driver, byte for byte: one {"log","stream","time"} object per line,
 * lines longer than 16 KiB split into partial entries, size-based rotation PATH → PATH.1 → …
 * Nothing here allocates per line: the shim must stay small while a container logs a lot.
 */
#include "shim/internal.h"

#include <libgen.h>
#include <sys/stat.h>
#include <time.h>

void shim_time_now(char *buf, size_t len)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        int n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        if (n < 0 || (size_t)n >= len)
                return;
        if (ts.tv_nsec) {
                /* RFC3339Nano: up to 9 digits, trailing zeros dropped */
                char frac[16];
                snprintf(frac, sizeof(frac), ".%09ld", ts.tv_nsec);
                size_t f = strlen(frac);
                while (f > 1 && frac[f - 1] == '0')
                        frac[--f] = '\0';
                snprintf(buf + n, len - (size_t)n, "%sZ", frac);
        } else {
                snprintf(buf + n, len - (size_t)n, "Z");
        }
}

/* Length of the valid UTF-8 sequence at s (max n bytes), 0 when invalid; *ret_cp gets it. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *ret_cp)
{
        uint32_t cp;
        size_t len;
        if (s[0] >= 0xc2 && s[0] <= 0xdf) {
                len = 2;
                cp = s[0] & 0x1f;
        } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
                len = 3;
                cp = s[0] & 0x0f;
        } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
                len = 4;
                cp = s[0] & 0x07;
        } else {
                return 0;
        }
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        /* overlong forms, surrogates and values past U+10FFFF are invalid, as in Go */
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        *ret_cp = cp;
        return len;
}

size_t shim_json_escape(const char *str, size_t n, char *out, size_t cap, size_t *ret_len)
{
        static const char hex[] = "0123456789abcdef";
        const unsigned char *s = (const unsigned char *)str;
        size_t i = 0, o = 0;
        while (i < n) {
                unsigned char b = s[i];
                char esc[8];
                size_t elen = 0, adv = 1;
                if (b < 0x80) {
                        if (b >= 0x20 && b != '\\' && b != '"' && b != '<' && b != '>' &&
                            b != '&') {
                                if (o + 1 > cap)
                                        break;
                                out[o++] = (char)b;
                                i++;
                                continue;
                        }
                        if (b == '\\' || b == '"') {
                                esc[0] = '\\';
                                esc[1] = (char)b;
                                elen = 2;
                        } else if (b == '\n') {
                                memcpy(esc, "\\n", 2);
                                elen = 2;
                        } else if (b == '\r') {
                                memcpy(esc, "\\r", 2);
                                elen = 2;
                        } else {
                                memcpy(esc, "\\u00", 4);
                                esc[4] = hex[b >> 4];
                                esc[5] = hex[b & 0xf];
                                elen = 6;
                        }
                } else {
                        uint32_t cp = 0;
                        size_t len = utf8_decode(s + i, n - i, &cp);
                        if (len == 0) {
                                memcpy(esc, "\\ufffd", 6);
                                elen = 6;
                        } else if (cp == 0x2028 || cp == 0x2029) {
                                memcpy(esc, "\\u202", 5);
                                esc[5] = hex[cp & 0xf];
                                elen = 6;
                                adv = len;
                        } else {
                                if (o + len > cap)
                                        break;
                                memcpy(out + o, s + i, len);
                                o += len;
                                i += len;
                                continue;
                        }
                }
                if (o + elen > cap)
                        break;
                memcpy(out + o, esc, elen);
                o += elen;
                i += adv;
        }
        *ret_len = o;
        return i;
}

int shim_log_open(struct shim_log *l, const char *path, uint64_t max_size, unsigned max_files,
                  struct berth_error **err)
{
        _cleanup_free_ char *d = xstrdup(path), *b = xstrdup(path);
        const char *dir = dirname(d), *base = basename(b);
        _cleanup_close_ int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                return berth_error_set(err, errno, "log directory `%s`", dir);
        _cleanup_close_ int fd =
            openat(dirfd, base, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
        if (fd < 0)
                return berth_error_set(err, errno, "open log `%s`", path);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return berth_error_set(err, errno, "stat log `%s`", path);
        l->fd = TAKE_FD(fd);
        l->dirfd = TAKE_FD(dirfd);
        l->name = xstrdup(base);
        l->size = (uint64_t)st.st_size;
        l->max_size = max_size;
        l->max_files = max_files ? max_files : 1;
        l->pending_len[0] = l->pending_len[1] = 0;
        return 0;
}

/* docker's rotation: PATH.<n-2> → PATH.<n-1>, …, PATH → PATH.1, then a new PATH; with a single
 * file the file is truncated. */
static void log_rotate(struct shim_log *l)
{
        if (l->max_files <= 1) {
                if (ftruncate(l->fd, 0) == 0)
                        l->size = 0;
                return;
        }
        char from[PATH_MAX], to[PATH_MAX];
        snprintf(to, sizeof(to), "%s.%u", l->name, l->max_files - 1);
        unlinkat(l->dirfd, to, 0);
        for (unsigned i = l->max_files - 1; i > 1; i--) {
                snprintf(from, sizeof(from), "%s.%u", l->name, i - 1);
                snprintf(to, sizeof(to), "%s.%u", l->name, i);
                renameat(l->dirfd, from, l->dirfd, to);
        }
        snprintf(to, sizeof(to), "%s.1", l->name);
        if (renameat(l->dirfd, l->name, l->dirfd, to) < 0)
                return;
        int fd =
            openat(l->dirfd, l->name, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
        if (fd < 0)
                return; /* keep writing to the renamed file rather than losing output */
        close(l->fd);
        l->fd = fd;
        l->size = 0;
}

/* Errors are dropped (see shim_log_write); size counts what was written. */
static void write_all(struct shim_log *l, const char *p, size_t n)
{
        if (berth_write_all(l->fd, p, n) == 0)
                l->size += n;
}

/* One entry: line (n bytes, including its newline unless partial). */
static void log_entry(struct shim_log *l, enum shim_stream s, const char *line, size_t n,
                      const char *now)
{
        /* docker checks the size before each write: a file may pass max-size by one entry */
        if (l->max_size && l->size >= l->max_size)
                log_rotate(l);
        static char buf[8192];
        size_t o = 0, used;
        memcpy(buf, "{\"log\":\"", 8);
        o = 8;
        while (n) {
                size_t consumed = shim_json_escape(line, n, buf + o, sizeof(buf) - o, &used);
                o += used;
                line += consumed;
                n -= consumed;
                if (n) {
                        write_all(l, buf, o);
                        o = 0;
                }
        }
        char tail[128];
        int t = snprintf(tail, sizeof(tail), "\",\"stream\":\"%s\",\"time\":\"%s\"}\n",
                         s == SHIM_STDERR ? "stderr" : "stdout", now);
        if (o + (size_t)t > sizeof(buf)) {
                write_all(l, buf, o);
                o = 0;
        }
        memcpy(buf + o, tail, (size_t)t);
        write_all(l, buf, o + (size_t)t);
}

void shim_log_write(struct shim_log *l, enum shim_stream s, const char *data, size_t n)
{
        if (!l || l->fd < 0 || n == 0)
                return;
        char now[48];
        shim_time_now(now, sizeof(now));
        int k = s == SHIM_STDERR ? 1 : 0;
        char *pend = l->pending[k];
        size_t *plen = &l->pending_len[k];
        while (n) {
                const char *nl = memchr(data, '\n', n);
                size_t take = nl ? (size_t)(nl - data) + 1 : n;
                if (*plen + take > SHIM_LOG_LINE_MAX) {
                        /* a full buffer without a newline: a partial entry, like docker */
                        size_t room = SHIM_LOG_LINE_MAX - *plen;
                        memcpy(pend + *plen, data, room);
                        log_entry(l, s, pend, SHIM_LOG_LINE_MAX, now);
                        *plen = 0;
                        data += room;
                        n -= room;
                        continue;
                }
                if (!nl) {
                        memcpy(pend + *plen, data, take);
                        *plen += take;
                        return;
                }
                if (*plen) {
                        memcpy(pend + *plen, data, take);
                        log_entry(l, s, pend, *plen + take, now);
                        *plen = 0;
                } else {
                        log_entry(l, s, data, take, now);
                }
                data += take;
                n -= take;
        }
}

void shim_log_flush(struct shim_log *l, enum shim_stream s)
{
        if (!l || l->fd < 0)
                return;
        int k = s == SHIM_STDERR ? 1 : 0;
        if (!l->pending_len[k])
                return;
        char now[48];
        shim_time_now(now, sizeof(now));
        log_entry(l, s, l->pending[k], l->pending_len[k], now);
        l->pending_len[k] = 0;
}

void shim_log_close(struct shim_log *l)
{
        if (!l || l->fd < 0)
                return;
        shim_log_flush(l, SHIM_STDOUT);
        shim_log_flush(l, SHIM_STDERR);
        close(l->fd);
        close(l->dirfd);
        free(l->name);
        l->fd = l->dirfd = -1;
        l->name = NULL;
}
