/* berth's own /etc/passwd and /etc/group parser and docker's User resolution over it.
 *
 * The files come from an untrusted image: they are opened below the rootfs with
 * openat2(RESOLVE_IN_ROOT) so a symlink cannot point the daemon at a host file, must be regular
 * files (a FIFO would block the daemon), are bounded in size, and are never handed to NSS
 * (CVE-2019-14271: a host-root process loading the container's libnss). */
#include "daemon/spec-internal.h"

#include <sys/stat.h>

#define PASSWD_MAX (4u << 20)
#define ID_MAX     4294967294u /* (uint32_t)-1 is "no id" for the kernel */

static int parse_id(const char *s, size_t n, uint32_t *ret)
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
        struct passwd_ent *v;
        size_t n;
};

static void pw_line(const char *line, size_t len, void *userdata)
{
        struct pw_acc *acc = userdata;
        const char *f[7];
        size_t fl[7];
        size_t n = split_fields(line, len, f, fl, 7);
        struct passwd_ent e = {0};
        if (n < 4 || fl[0] == 0 || parse_id(f[2], fl[2], &e.uid) < 0 ||
            parse_id(f[3], fl[3], &e.gid) < 0)
                return;
        e.name = xstrndup(f[0], fl[0]);
        acc->v = xrealloc(acc->v, (acc->n + 1) * sizeof(*acc->v));
        acc->v[acc->n++] = e;
}

void passwd_parse(const char *data, size_t len, struct passwd_ent **ret, size_t *ret_n)
{
        struct pw_acc acc = {0};
        for_each_line(data, len, pw_line, &acc);
        *ret = acc.v;
        *ret_n = acc.n;
}

struct gr_acc {
        struct group_ent *v;
        size_t n;
};

static void gr_line(const char *line, size_t len, void *userdata)
{
        struct gr_acc *acc = userdata;
        const char *f[4];
        size_t fl[4];
        size_t n = split_fields(line, len, f, fl, 4);
        struct group_ent e = {0};
        if (n < 3 || fl[0] == 0 || parse_id(f[2], fl[2], &e.gid) < 0)
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

void group_parse(const char *data, size_t len, struct group_ent **ret, size_t *ret_n)
{
        struct gr_acc acc = {0};
        for_each_line(data, len, gr_line, &acc);
        *ret = acc.v;
        *ret_n = acc.n;
}

void passwd_free(struct passwd_ent *p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(p[i].name);
        free(p);
}

void group_free(struct group_ent *g, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(g[i].name);
                strv_free(g[i].members);
        }
        free(g);
}

void spec_user_release(struct spec_user *u)
{
        free(u->gids);
        u->gids = NULL;
        u->n_gids = 0;
}

static bool is_numeric(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

static int numeric_id(const char *s, const char *what, uint32_t *ret, struct berth_error **err)
{
        if (parse_id(s, strlen(s), ret) < 0)
                return berth_error_setx(err, EINVAL, "%s %s out of range", what, s);
        return 0;
}

static void gids_push(struct spec_user *u, uint32_t gid)
{
        for (size_t i = 0; i < u->n_gids; i++)
                if (u->gids[i] == gid)
                        return;
        u->gids = xrealloc(u->gids, (u->n_gids + 1) * sizeof(*u->gids));
        u->gids[u->n_gids++] = gid;
}

static const struct group_ent *find_group(const struct group_ent *gr, size_t n, const char *arg)
{
        bool numeric = is_numeric(arg);
        uint32_t gid = 0;
        if (numeric && parse_id(arg, strlen(arg), &gid) < 0)
                numeric = false;
        for (size_t i = 0; i < n; i++)
                if (!strcmp(gr[i].name, arg) || (numeric && gr[i].gid == gid))
                        return &gr[i];
        return NULL;
}

int spec_user_resolve_tables(const struct passwd_ent *pw, size_t n_pw, const struct group_ent *gr,
                             size_t n_gr, const char *user, char *const *group_add,
                             struct spec_user *ret, struct berth_error **err)
{
        _cleanup_free_ char *uarg = xstrdup(user ? user : "");
        char *garg = strchr(uarg, ':');
        if (garg)
                *garg++ = '\0';
        struct spec_user u = {0};
        const char *matched = NULL;

        /* moby/sys/user GetExecUser: "" means uid 0; a name or a number selects the first
         * passwd entry with that name or uid; a number without entry is used as it is */
        bool unum = !*uarg || is_numeric(uarg);
        uint32_t uid = 0;
        if (*uarg && unum && numeric_id(uarg, "uid", &uid, err) < 0)
                return -EINVAL;
        for (size_t i = 0; i < n_pw; i++) {
                if ((unum && pw[i].uid == uid) || (!unum && !strcmp(pw[i].name, uarg))) {
                        matched = pw[i].name;
                        u.uid = pw[i].uid;
                        u.gid = pw[i].gid;
                        break;
                }
        }
        if (!matched) {
                if (!unum)
                        return berth_error_setx(err, EINVAL,
                                                "unable to find user %s: no matching entries in "
                                                "passwd file",
                                                uarg);
                u.uid = uid;
                u.gid = 0;
        }

        if (garg && *garg) {
                const struct group_ent *g = find_group(gr, n_gr, garg);
                if (g) {
                        u.gid = g->gid;
                } else if (is_numeric(garg)) {
                        if (numeric_id(garg, "gid", &u.gid, err) < 0)
                                return -EINVAL;
                } else {
                        return berth_error_setx(err, EINVAL,
                                                "unable to find group %s: no matching entries in "
                                                "group file",
                                                garg);
                }
        } else if (matched) {
                /* no explicit group: the supplementary groups are those listing the user */
                for (size_t i = 0; i < n_gr; i++)
                        for (size_t j = 0; gr[i].members[j]; j++)
                                if (!strcmp(gr[i].members[j], matched)) {
                                        gids_push(&u, gr[i].gid);
                                        break;
                                }
        }

        for (size_t i = 0; group_add && group_add[i]; i++) {
                const struct group_ent *g = find_group(gr, n_gr, group_add[i]);
                uint32_t gid = 0;
                if (g) {
                        gid = g->gid;
                } else if (is_numeric(group_add[i])) {
                        if (numeric_id(group_add[i], "gid", &gid, err) < 0) {
                                spec_user_release(&u);
                                return -EINVAL;
                        }
                } else {
                        spec_user_release(&u);
                        return berth_error_setx(err, EINVAL,
                                                "Unable to find group %s: no matching entries in "
                                                "group file",
                                                group_add[i]);
                }
                gids_push(&u, gid);
        }
        *ret = u;
        return 0;
}

/* Read rootfs/path without leaving rootfs; a missing or non-regular file reads as empty. */
static int read_in_root(int rootfd, const char *path, char **ret, size_t *ret_len,
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

int spec_user_resolve(const char *rootfs, const char *user, char *const *group_add,
                      struct spec_user *ret, struct berth_error **err)
{
        _cleanup_close_ int rootfd = -1;
        _cleanup_free_ char *pwd = NULL, *grp = NULL;
        size_t pwl = 0, grl = 0;
        if (rootfs) {
                rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (rootfd < 0)
                        return berth_error_setx(err, EIO, "open rootfs `%s`: %s", rootfs,
                                                strerror(errno));
                if (read_in_root(rootfd, "/etc/passwd", &pwd, &pwl, err) < 0 ||
                    read_in_root(rootfd, "/etc/group", &grp, &grl, err) < 0)
                        return -berth_error_code(*err);
        }
        struct passwd_ent *pw = NULL;
        struct group_ent *gr = NULL;
        size_t npw = 0, ngr = 0;
        passwd_parse(pwd ? pwd : "", pwl, &pw, &npw);
        group_parse(grp ? grp : "", grl, &gr, &ngr);
        int r = spec_user_resolve_tables(pw, npw, gr, ngr, user, group_add, ret, err);
        passwd_free(pw, npw);
        group_free(gr, ngr);
        return r;
}
