/* berth's own /etc/passwd and /etc/group parser. The files come from untrusted images: they are
 * read below a rootfs with openat2(RESOLVE_IN_ROOT) so a symlink cannot point at a host file,
 * must be regular files (a FIFO would block the reader), are bounded in size, and are never
 * handed to NSS (CVE-2019-14271: a host-root process loading the container's libnss). Used by
 * berthd (docker's User resolution) and by the runtime (HOME, like runc).
 */
#include "common/common.h"

#include <sys/stat.h>

#define PASSWD_MAX (4u << 20)
#define ID_MAX     4294967294u /* (uint32_t)-1 is "no id" for the kernel */

int berth_parse_id(const char *s, size_t n, uint32_t *ret)
{
        if (n == 0 || n > 10)
                return -EINVAL;
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t)(s[i] - '0');
        }
        if (v > ID_MAX)
                return -ERANGE;
        *ret = (uint32_t)v;
        return 0;
}

/* Split one line (without '\n') into at most max fields on ':'; returns the field count. */
static size_t split_fields(const char *line, size_t len, const char **f, size_t *fl, size_t max)
{
        size_t n = 0, start = 0;
        for (size_t i = 0; i <= len && n < max; i++) {
                if (i == len || line[i] == ':') {
                        f[n] = line + start;
                        fl[n] = i - start;
                        n++;
                        start = i + 1;
                }
        }
        return n;
}

/* Calls fn for every non-empty line with its whitespace trimmed, like moby/sys/user. */
static void for_each_line(const char *data, size_t len, void (*fn)(const char *, size_t, void *),
                          void *userdata)
{
        size_t i = 0;
        while (i < len) {
                const char *nl = memchr(data + i, '\n', len - i);
                size_t end = nl ? (size_t)(nl - data) : len;
                size_t a = i, b = end;
                while (a < b && (data[a] == ' ' || data[a] == '\t' || data[a] == '\r'))
                        a++;
                while (b > a && (data[b - 1] == ' ' || data[b - 1] == '\t' || data[b - 1] == '\r'))
                        b--;
                if (b > a && data[a] != '#' && !memchr(data + a, '\0', b - a))
                        fn(data + a, b - a, userdata);
                i = end + 1;
        }
}

struct pw_acc {
        struct berth_passwd_ent *v;
        size_t n;
};

static void pw_line(const char *line, size_t len, void *userdata)
{
        struct pw_acc *acc = userdata;
        const char *f[7];
        size_t fl[7];
        size_t n = split_fields(line, len, f, fl, 7);
        struct berth_passwd_ent e = {0};
        if (n < 4 || fl[0] == 0 || berth_parse_id(f[2], fl[2], &e.uid) < 0 ||
            berth_parse_id(f[3], fl[3], &e.gid) < 0)
                return;
        e.name = xstrndup(f[0], fl[0]);
        e.home = xstrndup(n > 5 ? f[5] : "", n > 5 ? fl[5] : 0);
        acc->v = xrealloc(acc->v, (acc->n + 1) * sizeof(*acc->v));
        acc->v[acc->n++] = e;
}

void berth_passwd_parse(const char *data, size_t len, struct berth_passwd_ent **ret, size_t *ret_n)
{
        struct pw_acc acc = {0};
        for_each_line(data, len, pw_line, &acc);
        *ret = acc.v;
        *ret_n = acc.n;
}

struct gr_acc {
        struct berth_group_ent *v;
        size_t n;
};

static void gr_line(const char *line, size_t len, void *userdata)
{
        struct gr_acc *acc = userdata;
        const char *f[4];
        size_t fl[4];
        size_t n = split_fields(line, len, f, fl, 4);
        struct berth_group_ent e = {0};
        if (n < 3 || fl[0] == 0 || berth_parse_id(f[2], fl[2], &e.gid) < 0)
                return;
        e.name = xstrndup(f[0], fl[0]);
        e.members = xcalloc(1, sizeof(char *));
        if (n == 4) {
                /* members may contain ':' only if the line has more fields: the rest is one
                 * comma list, like moby/sys/user */
                const char *m = f[3];
                size_t ml = len - (size_t)(f[3] - line);
                size_t start = 0;
                for (size_t i = 0; i <= ml; i++) {
                        if (i == ml || m[i] == ',') {
                                size_t a = start, b = i;
                                while (a < b && (m[a] == ' ' || m[a] == '\t'))
                                        a++;
                                while (b > a && (m[b - 1] == ' ' || m[b - 1] == '\t'))
                                        b--;
                                if (b > a) {
                                        _cleanup_free_ char *s = xstrndup(m + a, b - a);
                                        strv_push(&e.members, s);
                                }
                                start = i + 1;
                        }
                }
        }
        acc->v = xrealloc(acc->v, (acc->n + 1) * sizeof(*acc->v));
        acc->v[acc->n++] = e;
}

void berth_group_parse(const char *data, size_t len, struct berth_group_ent **ret, size_t *ret_n)
{
        struct gr_acc acc = {0};
        for_each_line(data, len, gr_line, &acc);
        *ret = acc.v;
        *ret_n = acc.n;
}

void berth_passwd_free(struct berth_passwd_ent *p, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(p[i].name);
                free(p[i].home);
        }
        free(p);
}

void berth_group_free(struct berth_group_ent *g, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(g[i].name);
                strv_free(g[i].members);
        }
        free(g);
}

int berth_passwd_read_at(int rootfd, const char *path, char **ret, size_t *ret_len,
                         struct berth_error **err)
{
        *ret = NULL;
        *ret_len = 0;
        _cleanup_close_ int fd = berth_open_in_root(rootfd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
        if (fd < 0) {
                if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP || errno == EXDEV)
                        return 0;
                return berth_error_set(err, errno, "open `%s` in the container", path);
        }
        struct stat st;
        if (fstat(fd, &st) < 0)
                return berth_error_set(err, errno, "stat `%s` in the container", path);
        if (!S_ISREG(st.st_mode))
                return 0;
        if ((uint64_t)st.st_size > PASSWD_MAX)
                return berth_error_setx(err, EFBIG, "`%s` in the container is too large", path);
        size_t cap = (size_t)st.st_size + 1, len = 0;
        _cleanup_free_ char *buf = xmalloc(cap + 1);
        for (;;) {
                ssize_t r = read(fd, buf + len, cap - len);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return berth_error_set(err, errno, "read `%s` in the container", path);
                }
                if (r == 0)
                        break;
                len += (size_t)r;
                if (len == cap) {
                        if (cap > PASSWD_MAX)
                                return berth_error_setx(err, EFBIG,
                                                        "`%s` in the container is too large", path);
                        cap *= 2;
                        buf = xrealloc(buf, cap + 1);
                }
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}
