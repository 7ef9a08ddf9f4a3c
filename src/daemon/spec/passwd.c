/* docker's User resolution over berth's own /etc/passwd and /etc/group parser (src/common:
 * never NSS, CVE-2019-14271). */
#include "daemon/spec/spec-internal.h"

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
        if (berth_parse_id(s, strlen(s), ret) < 0)
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

static const struct berth_group_ent *find_group(const struct berth_group_ent *gr, size_t n,
                                                const char *arg)
{
        bool numeric = is_numeric(arg);
        uint32_t gid = 0;
        if (numeric && berth_parse_id(arg, strlen(arg), &gid) < 0)
                numeric = false;
        for (size_t i = 0; i < n; i++)
                if (!strcmp(gr[i].name, arg) || (numeric && gr[i].gid == gid))
                        return &gr[i];
        return NULL;
}

int spec_user_resolve_tables(const struct berth_passwd_ent *pw, size_t n_pw,
                             const struct berth_group_ent *gr, size_t n_gr, const char *user,
                             char *const *group_add, struct spec_user *ret,
                             struct berth_error **err)
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
                const struct berth_group_ent *g = find_group(gr, n_gr, garg);
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
        }
        /* the primary gid heads the supplementary groups, as dockerd sets them since
         * CVE-2022-36109: a group that denies access cannot be shed with setgroups() */
        gids_push(&u, u.gid);
        if (!(garg && *garg) && matched) {
                /* no explicit group: the supplementary groups are those listing the user */
                for (size_t i = 0; i < n_gr; i++)
                        for (size_t j = 0; gr[i].members[j]; j++)
                                if (!strcmp(gr[i].members[j], matched)) {
                                        gids_push(&u, gr[i].gid);
                                        break;
                                }
        }

        for (size_t i = 0; group_add && group_add[i]; i++) {
                const struct berth_group_ent *g = find_group(gr, n_gr, group_add[i]);
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
                if (berth_passwd_read_at(rootfd, "/etc/passwd", &pwd, &pwl, err) < 0 ||
                    berth_passwd_read_at(rootfd, "/etc/group", &grp, &grl, err) < 0)
                        return -berth_error_code(*err);
        }
        struct berth_passwd_ent *pw = NULL;
        struct berth_group_ent *gr = NULL;
        size_t npw = 0, ngr = 0;
        berth_passwd_parse(pwd ? pwd : "", pwl, &pw, &npw);
        berth_group_parse(grp ? grp : "", grl, &gr, &ngr);
        int r = spec_user_resolve_tables(pw, npw, gr, ngr, user, group_add, ret, err);
        berth_passwd_free(pw, npw);
        berth_group_free(gr, ngr);
        return r;
}
