/* Files in and out of a container: docker cp (container_archive_get/put), export and changes;
 * the routes are in http/api-archive.c.
 *
 * Every path inside the container is resolved once with openat2(RESOLVE_IN_ROOT) and then used
 * through *at() calls on fds: a symlink in the container (even one swapped in while we copy)
 * cannot lead outside it (CVE-2018-15664, CVE-2019-14271 — nothing of the container is executed
 * or loaded either). docker cp sees the container's mounts like docker does: a running
 * container's paths are resolved from its own root (/proc/<pid>/root, checked against the
 * rootfs), which crosses its binds, volumes and tmpfs; a stopped container's path is mapped
 * through its recorded binds and volumes (the deepest destination holding it) and resolved in
 * that mount's source, else in its rootfs, which is mounted for the copy and unmounted after. */
#include "daemon/containers/containers.h"
#include "daemon/daemon.h"

#include <archive.h>
#include <archive_entry.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* The container ref, referenced, with its rootfs held (*ret_temp: release it when done). */
static int container_hold(struct containers *cs, const char *ref, struct container **ret,
                          bool *ret_temp, struct berth_error **err)
{
        struct container *c;
        int r;

        r = container_get(cs, ref, &c, err);
        if (r < 0)
                return r;
        r = container_rootfs_hold(cs, c, ret_temp, err);
        if (r < 0) {
                container_unref(cs, c);
                return r;
        }
        *ret = c;
        return 0;
}

/* docker's os.FileMode bits for the path-stat header */
static uint32_t go_mode(mode_t m)
{
        uint32_t g = m & 0777;

        if (S_ISDIR(m))
                g |= 1u << 31;
        else if (S_ISLNK(m))
                g |= 1u << 27;
        else if (S_ISFIFO(m))
                g |= 1u << 25;
        else if (S_ISSOCK(m))
                g |= 1u << 24;
        else if (S_ISCHR(m))
                g |= (1u << 26) | (1u << 21);
        else if (S_ISBLK(m))
                g |= 1u << 26;
        if (m & S_ISUID)
                g |= 1u << 23;
        if (m & S_ISGID)
                g |= 1u << 22;
        if (m & S_ISVTX)
                g |= 1u << 20;
        return g;
}

static const char *base_name(const char *path)
{
        size_t n = strlen(path);
        const char *s;

        while (n > 1 && path[n - 1] == '/')
                n--;
        for (s = path + n; s > path && s[-1] != '/'; s--)
                ;
        return s;
}

/* ---------------------------------------------------------------- where a path lives */

/* The recorded bind or volume (docker's Mounts array) whose destination holds the cleaned path,
 * the deepest one (docker mounts nested ones over their parent); NULL: the rootfs. *ret_rest:
 * the path below the destination ("" for the destination itself), pointing into clean. */
static json_t *mount_of(struct container *c, const char *clean, const char **ret_rest)
{
        json_t *best = NULL, *m;
        size_t best_len = 0, i;

        json_array_foreach(json_object_get(c->config, "mounts"), i, m)
        {
                const char *dst = berth_json_get_str(m, "Destination");
                _cleanup_free_ char *d = NULL;
                size_t n;
                if (!dst || !berth_json_get_str(m, "Source"))
                        continue;
                d = berth_path_clean_abs(dst);
                n = strcmp(d, "/") == 0 ? 0 : strlen(d);
                if (strncmp(clean, d, n) != 0 || (clean[n] != '\0' && clean[n] != '/'))
                        continue;
                if (!best || n > best_len) {
                        best = m;
                        best_len = n;
                        *ret_rest = clean + n;
                }
        }
        return best;
}

static bool same_inode(int fd, const char *path)
{
        struct stat a, b;

        return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
               a.st_ino == b.st_ino;
}

/* The root of the running container as its mount namespace sees it: /proc/<pid>/root, whose
 * lookups cross the container's binds, volumes and tmpfs. The pid is pinned by a pidfd and the
 * root must be the container's rootfs (same device and inode as the overlay we mounted): a
 * recycled pid cannot redirect the copy to another process' filesystem. -1 when the container
 * is gone meanwhile; *ret_pidfd: the pidfd (to join the mount namespace for writes). */
static int proc_root_open(struct container *c, pid_t pid, int *ret_pidfd)
{
        _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        _cleanup_close_ int fd = -1;
        char path[64];

        if (pidfd < 0)
                return -1;
        snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
        fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || !same_inode(fd, c->rootfs))
                return -1;
        /* still alive: the /proc entry we opened was the pidfd's process */
        if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
                return -1;
        *ret_pidfd = TAKE_FD(pidfd);
        return TAKE_FD(fd);
}

/* Where a copy looks: path resolved (RESOLVE_IN_ROOT) in the tree fd; name: the archive name of
 * what path names (docker's: the last component of the path asked for). */
struct cp_root {
        int fd;
        int pidfd; /* the running container's init: -1 when fd is a stopped one's tree */
        char *path;
        char *name;
        bool in_mount; /* under a bind or volume: a read-only rootfs does not matter */
        bool readonly; /* under a read-only bind or volume */
};

static void cp_root_release(struct cp_root *r)
{
        if (r->fd >= 0)
                close(r->fd);
        if (r->pidfd >= 0)
                close(r->pidfd);
        free(r->path);
        free(r->name);
        *r = (struct cp_root){.fd = -1, .pidfd = -1};
}

/* Find where path (in c, whose rootfs is held) lives. */
static int cp_root_open(struct containers *cs, struct container *c, const char *path,
                        struct cp_root *ret, struct berth_error **err)
{
        _cleanup_free_ char *clean = berth_path_clean_abs(path);
        const char *rest = "", *base = base_name(path);
        json_t *m = mount_of(c, clean, &rest);
        struct cp_root r = {.fd = -1, .pidfd = -1};
        pid_t pid = 0;

        r.in_mount = m != NULL;
        r.readonly = m && !json_is_true(json_object_get(m, "RW"));
        r.name = xstrndup(base, strcspn(base, "/"));
        if (!*r.name) {
                free(r.name);
                r.name = xstrdup(".");
        }
        pthread_mutex_lock(&cs->lock);
        if (c->status == CONTAINER_RUNNING || c->status == CONTAINER_PAUSED)
                pid = c->pid;
        pthread_mutex_unlock(&cs->lock);
        if (pid > 0) {
                r.fd = proc_root_open(c, pid, &r.pidfd);
                r.path = xstrdup(path);
        }
        /* stopped (or gone meanwhile): the recorded mounts tell, like docker mounting them */
        if (r.fd < 0 && m) {
                const char *src = berth_json_get_str(m, "Source");
                struct stat st;
                free(r.path);
                if (stat(src, &st) == 0 && !S_ISDIR(st.st_mode)) {
                        /* a file bound over a file: it is the whole mount */
                        _cleanup_free_ char *dir = xstrdup(src);
                        char *slash = strrchr(dir, '/');
                        if (*rest || !slash) {
                                cp_root_release(&r);
                                return berth_error_setx(err, ENOENT,
                                                        "Could not find the file %s in container "
                                                        "%s",
                                                        path, c->name);
                        }
                        r.path = xstrdup(slash + 1);
                        slash[slash == dir ? 1 : 0] = '\0';
                        r.fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
                } else {
                        r.path = xstrdup(*rest ? rest : "/");
                        r.fd = open(src, O_PATH | O_DIRECTORY | O_CLOEXEC);
                }
                if (r.fd < 0) {
                        int e = errno;
                        cp_root_release(&r);
                        return berth_error_set(err, e, "open the source of mount `%s`",
                                               berth_json_get_str(m, "Destination"));
                }
        } else if (r.fd < 0) {
                free(r.path);
                r.path = xstrdup(clean);
                r.fd = open(c->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (r.fd < 0) {
                        int e = errno;
                        cp_root_release(&r);
                        return berth_error_set(err, e, "open rootfs of `%s`", c->id);
                }
        }
        *ret = r;
        return 0;
}

/* ---------------------------------------------------------------- tar out
 * The archive docker's pkg/archive writes with Go's archive/tar: ustar headers, a PAX extended
 * header before an entry whose name, link target, size, ids or user/group names do not fit one
 * (Go's choice), the file type bits kept in the header's mode (moby's fillGo18FileTypeBits:
 * 0100644 for a regular file, 040755 for a directory), times in whole seconds, directories
 * named with a trailing '/', each directory's entries in lexical order (Go's filepath.Walk),
 * a file's second and later names as hard link entries, sockets left out. libarchive masks the
 * mode to its permission bits, hence this writer. */

struct tar_seen {
        dev_t dev;
        ino_t ino;
        char *name;
};

struct tar_out {
        int fd;
        struct berth_error *err; /* the first write error: the rest is skipped */
        int depth;               /* of add_tree: 0 for the directory asked for */
        /* the container's own users and groups: entries carry their names, as docker's do */
        struct berth_passwd_ent *pw;
        size_t n_pw;
        struct berth_group_ent *gr;
        size_t n_gr;
        /* files with more than one name already written: (dev, ino) → their first name */
        struct tar_seen *seen;
        size_t n_seen;
        /* docker cp from a stopped container's rootfs: the container path of the entry named
         * top_name (its arcname prefix), and the container dir whose hosts, hostname and
         * resolv.conf docker mounts over the rootfs' empty ones for the copy; etc_dirfd -1: none */
        const char *top_path, *top_name;
        int etc_dirfd;
};

#define TAR_BLOCK 512

static int tar_write(struct tar_out *t, const void *p, size_t n)
{
        int r;

        if (t->err)
                return -EPIPE;
        r = berth_write_all(t->fd, p, n);
        if (r < 0)
                return berth_error_set(&t->err, -r, "tar: client gone");
        return 0;
}

/* v in octal, zero-padded, in a field of width bytes ending in NUL; false when it does not fit */
static bool tar_octal(char *field, size_t width, uint64_t v)
{
        for (size_t i = width - 1; i-- > 0;) {
                field[i] = (char)('0' + (v & 7));
                v >>= 3;
        }
        field[width - 1] = '\0';
        return v == 0;
}

static bool tar_ascii(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s >= 0x80)
                        return false;
        return true;
}

/* Go's splitUSTARPath: name (> 100 bytes) as prefix (<= 155) '/' suffix (<= 100) */
static bool tar_split(const char *name, size_t *ret_prefix_len)
{
        size_t len = strlen(name), n = len;

        if (len <= 100 || !tar_ascii(name))
                return false;
        if (n > 156)
                n = 156;
        else if (name[n - 1] == '/')
                n--;
        const char *slash = memrchr(name, '/', n);
        if (!slash || slash == name)
                return false;
        size_t plen = (size_t)(slash - name), slen = len - plen - 1;
        if (slen > 100 || slen == 0 || plen > 155)
                return false;
        *ret_prefix_len = plen;
        return true;
}

struct tar_hdr {
        const char *name, *link, *uname, *gname;
        uint64_t mode, uid, gid, size, mtime, devmajor, devminor;
        char type;
};

/* The 512-byte header of h (strings cut to their fields, numbers that do not fit as 0: the PAX
 * header before it carries them), with its checksum. */
static void tar_block(const struct tar_hdr *h, size_t prefix_len, char b[TAR_BLOCK])
{
        unsigned sum = 0;

        memset(b, 0, TAR_BLOCK);
        if (prefix_len) {
                memcpy(b + 345, h->name, prefix_len);
                strncpy(b, h->name + prefix_len + 1, 100);
        } else {
                strncpy(b, h->name, 100);
        }
        if (!tar_octal(b + 100, 8, h->mode))
                tar_octal(b + 100, 8, h->mode & 07777);
        if (!tar_octal(b + 108, 8, h->uid))
                tar_octal(b + 108, 8, 0);
        if (!tar_octal(b + 116, 8, h->gid))
                tar_octal(b + 116, 8, 0);
        if (!tar_octal(b + 124, 12, h->size))
                tar_octal(b + 124, 12, 0);
        if (!tar_octal(b + 136, 12, h->mtime))
                tar_octal(b + 136, 12, 0);
        b[156] = h->type;
        strncpy(b + 157, h->link ? h->link : "", 100);
        memcpy(b + 257,
               "ustar\0"
               "00",
               8);
        strncpy(b + 265, h->uname ? h->uname : "", 32);
        strncpy(b + 297, h->gname ? h->gname : "", 32);
        tar_octal(b + 329, 8, h->devmajor);
        tar_octal(b + 337, 8, h->devminor);
        memset(b + 148, ' ', 8);
        for (size_t i = 0; i < TAR_BLOCK; i++)
                sum += (unsigned char)b[i];
        tar_octal(b + 148, 7, sum);
}

/* append "LEN key=value\n" (LEN counting itself) to *recs */
static void pax_add(char **recs, const char *key, const char *value)
{
        size_t body = strlen(key) + strlen(value) + 3, len = body + 1;

        while (snprintf(NULL, 0, "%zu", len) + body != len)
                len++;
        char *more = xasprintf("%s%zu %s=%s\n", *recs ? *recs : "", len, key, value);
        free(*recs);
        *recs = more;
}

static int tar_header(struct tar_out *t, const struct tar_hdr *h)
{
        char b[TAR_BLOCK], num[24];
        _cleanup_free_ char *recs = NULL;
        size_t prefix_len = 0;
        bool ustar = true;

        /* Go's allowedFormats: what ustar cannot hold goes into PAX records, sorted by key */
        if (h->gid >= 07777777) {
                snprintf(num, sizeof(num), "%" PRIu64, h->gid);
                pax_add(&recs, "gid", num);
                ustar = false;
        }
        if (h->gname && (strlen(h->gname) > 32 || !tar_ascii(h->gname))) {
                pax_add(&recs, "gname", h->gname);
                ustar = false;
        }
        if (h->link && (strlen(h->link) > 100 || !tar_ascii(h->link))) {
                pax_add(&recs, "linkpath", h->link);
                ustar = false;
        }
        if (strlen(h->name) > 100 || !tar_ascii(h->name)) {
                pax_add(&recs, "path", h->name);
                if (!tar_split(h->name, &prefix_len))
                        ustar = false;
        }
        if (h->size >= 077777777777ull) {
                snprintf(num, sizeof(num), "%" PRIu64, h->size);
                pax_add(&recs, "size", num);
                ustar = false;
        }
        if (h->uid >= 07777777) {
                snprintf(num, sizeof(num), "%" PRIu64, h->uid);
                pax_add(&recs, "uid", num);
                ustar = false;
        }
        if (h->uname && (strlen(h->uname) > 32 || !tar_ascii(h->uname))) {
                pax_add(&recs, "uname", h->uname);
                ustar = false;
        }
        if (!ustar) {
                /* Go: path.Join(DIR, "PaxHeaders.0", BASE) (a directory's "a/b/" gives
                 * "a/b/PaxHeaders.0"), typeflag x, the records as its data */
                const char *slash = strrchr(h->name, '/');
                const char *base = slash ? slash + 1 : h->name;
                _cleanup_free_ char *xname =
                    xasprintf("%.*sPaxHeaders.0%s%s", slash ? (int)(slash - h->name + 1) : 0,
                              h->name, *base ? "/" : "", base);
                size_t len = strlen(recs);
                struct tar_hdr x = {.name = xname, .size = len, .mtime = 0, .type = 'x'};
                tar_block(&x, 0, b);
                if (tar_write(t, b, TAR_BLOCK) < 0 || tar_write(t, recs, len) < 0)
                        return -EPIPE;
                memset(b, 0, sizeof(b));
                if (len % TAR_BLOCK && tar_write(t, b, TAR_BLOCK - len % TAR_BLOCK) < 0)
                        return -EPIPE;
                prefix_len = 0;
        }
        tar_block(h, prefix_len, b);
        return tar_write(t, b, TAR_BLOCK);
}

/* the first name the archive gave the file st is (it has several), else NULL after noting
 * arcname as its first */
static const char *tar_seen(struct tar_out *t, const struct stat *st, const char *arcname)
{
        for (size_t i = 0; i < t->n_seen; i++)
                if (t->seen[i].dev == st->st_dev && t->seen[i].ino == st->st_ino)
                        return t->seen[i].name;
        t->seen = xrealloc(t->seen, (t->n_seen + 1) * sizeof(*t->seen));
        t->seen[t->n_seen++] = (struct tar_seen){st->st_dev, st->st_ino, xstrdup(arcname)};
        return NULL;
}

/* The names of the container's /etc/passwd and /etc/group under rootfd (berth's own parser: the
 * files are the image's, CVE-2019-14271); none when they cannot be read. */
static void tar_out_load_names(struct tar_out *t, int rootfd)
{
        _cleanup_free_ char *pwd = NULL, *grp = NULL;
        size_t pwl = 0, grl = 0;
        struct berth_error *err = NULL;

        if (rootfd < 0)
                return;
        if (berth_passwd_read_at(rootfd, "/etc/passwd", &pwd, &pwl, &err) == 0 && pwd)
                berth_passwd_parse(pwd, pwl, &t->pw, &t->n_pw);
        berth_error_free(TAKE_PTR(err));
        if (berth_passwd_read_at(rootfd, "/etc/group", &grp, &grl, &err) == 0 && grp)
                berth_group_parse(grp, grl, &t->gr, &t->n_gr);
        berth_error_free(err);
}

/* the first name of uid and of gid, like a passwd lookup (NULL: none) */
static void tar_out_names(const struct tar_out *t, uid_t uid, gid_t gid, const char **ret_user,
                          const char **ret_group)
{
        *ret_user = *ret_group = NULL;
        for (size_t i = 0; i < t->n_pw && !*ret_user; i++)
                if (t->pw[i].uid == uid)
                        *ret_user = t->pw[i].name;
        for (size_t i = 0; i < t->n_gr && !*ret_group; i++)
                if (t->gr[i].gid == gid)
                        *ret_group = t->gr[i].name;
}

/* Kernel filesystems a running container's tree crosses (/proc, /sys, …): their directories
 * are not walked unless asked for by name (endless, and nothing docker cp should copy). */
static bool pseudo_fs(int fd)
{
        struct statfs sf;

        if (fstatfs(fd, &sf) < 0)
                return true;
        switch ((unsigned long)sf.f_type) {
        case PROC_SUPER_MAGIC:
        case SYSFS_MAGIC:
        case CGROUP_SUPER_MAGIC:
        case CGROUP2_SUPER_MAGIC:
        case DEVPTS_SUPER_MAGIC:
        case SECURITYFS_MAGIC:
        case DEBUGFS_MAGIC:
        case TRACEFS_MAGIC:
        case BPF_FS_MAGIC:
                return true;
        default:
                return false;
        }
}

static int add_tree(struct tar_out *t, int dirfd, const char *name, const char *arcname);

/* parentfd/name for reading; name "": parentfd is the file itself (an O_PATH fd, reopened) */
static int open_regular(int parentfd, const char *name)
{
        char self[64];

        if (*name)
                return openat(parentfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        /* the magic link reopens the file the fd holds (no O_NOFOLLOW: it is a link) */
        snprintf(self, sizeof(self), "/proc/self/fd/%d", parentfd);
        return open(self, O_RDONLY | O_CLOEXEC);
}

/* The container's own /etc file (hosts, hostname, resolv.conf) that docker cp of a stopped
 * container reads at arcname instead of the rootfs' empty mount point, as dockerd mounts them for
 * the copy; NULL when arcname is not one, or the container never had them (never started). */
static const char *etc_file_over(struct tar_out *t, const char *arcname, struct stat *ret_st)
{
        static const char *const files[] = {"hosts", "hostname", "resolv.conf"};
        _cleanup_free_ char *path = NULL, *clean = NULL;
        size_t tl;

        if (t->etc_dirfd < 0)
                return NULL;
        tl = strlen(t->top_name);
        if (strcmp(t->top_name, ".") == 0) /* cp of "/": the entries are named from there */
                path = xasprintf("%s/%s", t->top_path, arcname);
        else if (strncmp(arcname, t->top_name, tl) == 0 && (!arcname[tl] || arcname[tl] == '/'))
                path = xasprintf("%s%s", t->top_path, arcname + tl);
        else
                return NULL;
        clean = berth_path_clean_abs(path);
        if (strncmp(clean, "/etc/", 5) != 0)
                return NULL;
        for (size_t i = 0; i < ARRAY_SIZE(files); i++)
                if (strcmp(clean + 5, files[i]) == 0 &&
                    fstatat(t->etc_dirfd, files[i], ret_st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    S_ISREG(ret_st->st_mode))
                        return files[i];
        return NULL;
}

static int add_entry_fd(struct tar_out *t, int parentfd, const char *name, const char *arcname,
                        const struct stat *st)
{
        struct stat over_st;
        const char *over = S_ISREG(st->st_mode) ? etc_file_over(t, arcname, &over_st) : NULL;
        if (over) {
                parentfd = t->etc_dirfd;
                name = over;
                st = &over_st;
        }

        char target[4096];
        const char *linked = NULL;
        _cleanup_free_ char *dirname = NULL;
        struct tar_hdr h = {
            .name = arcname,
            .mode = st->st_mode & 07777,
            .uid = st->st_uid,
            .gid = st->st_gid,
            .mtime = st->st_mtim.tv_sec > 0 ? (uint64_t)st->st_mtim.tv_sec : 0,
        };
        int r;

        switch (st->st_mode & S_IFMT) {
        case S_IFREG:
                h.type = '0';
                h.size = (uint64_t)st->st_size;
                break;
        case S_IFDIR:
                h.type = '5';
                break;
        case S_IFLNK: {
                ssize_t n = readlinkat(parentfd, name, target, sizeof(target) - 1);
                if (n < 0)
                        return 0;
                target[n] = '\0';
                h.type = '2';
                h.link = target;
                break;
        }
        case S_IFCHR:
        case S_IFBLK:
                h.type = S_ISCHR(st->st_mode) ? '3' : '4';
                h.devmajor = major(st->st_rdev);
                h.devminor = minor(st->st_rdev);
                break;
        case S_IFIFO:
                h.type = '6';
                break;
        default:
                /* moby: "archive: skipping … since it is a socket" */
                return 0;
        }
        h.mode |= st->st_mode & S_IFMT;
        tar_out_names(t, st->st_uid, st->st_gid, &h.uname, &h.gname);
        if (S_ISDIR(st->st_mode)) {
                size_t len = strlen(arcname);
                if (len == 0 || arcname[len - 1] != '/')
                        h.name = dirname = xasprintf("%s/", arcname);
        } else if (st->st_nlink > 1 && (linked = tar_seen(t, st, arcname))) {
                h.type = '1';
                h.link = linked;
                h.size = 0;
        }
        r = tar_header(t, &h);
        if (r < 0)
                return r;
        if (h.type == '0' && h.size > 0) {
                _cleanup_close_ int fd = open_regular(parentfd, name);
                char buf[65536];
                uint64_t left = h.size;
                while (fd >= 0 && left > 0) {
                        ssize_t n = read(fd, buf, sizeof(buf) < left ? sizeof(buf) : (size_t)left);
                        if (n <= 0)
                                break;
                        if (tar_write(t, buf, (size_t)n) < 0)
                                return -EPIPE;
                        left -= (uint64_t)n;
                }
                /* a file that shrank while we read: pad, the header is written */
                memset(buf, 0, sizeof(buf));
                left += (TAR_BLOCK - h.size % TAR_BLOCK) % TAR_BLOCK;
                while (left > 0) {
                        size_t n = sizeof(buf) < left ? sizeof(buf) : (size_t)left;
                        if (tar_write(t, buf, n) < 0)
                                return -EPIPE;
                        left -= n;
                }
        }
        if (S_ISDIR(st->st_mode))
                return add_tree(t, parentfd, name, arcname);
        return 0;
}

static int name_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the contents of directory parentfd/name (name "": parentfd itself), entries named arcname/…,
 * in lexical order */
static int add_tree(struct tar_out *t, int parentfd, const char *name, const char *arcname)
{
        int dfd =
            openat(parentfd, *name ? name : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_dir_ DIR *d = NULL;
        struct dirent *de;
        char **names = NULL;
        size_t n = 0;
        int r = 0;

        if (dfd < 0)
                return 0;
        if (t->depth > 0 && pseudo_fs(dfd)) {
                close(dfd);
                return 0;
        }
        d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                return 0;
        }
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                names = xrealloc(names, (n + 1) * sizeof(*names));
                names[n++] = xstrdup(de->d_name);
        }
        if (n)
                qsort(names, n, sizeof(*names), name_cmp);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *child = NULL;
                struct stat st;
                if (r < 0 || fstatat(dirfd(d), names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                child = strcmp(arcname, ".") == 0 ? xstrdup(names[i])
                                                  : xasprintf("%s/%s", arcname, names[i]);
                t->depth++;
                r = add_entry_fd(t, dirfd(d), names[i], child, &st);
                t->depth--;
        }
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        return r;
}

struct container_tar {
        struct containers *cs;
        struct container *c;
        struct cp_root root; /* docker cp: where the path lives */
        bool whole;          /* export: the rootfs' contents at the top */
        bool temp;           /* the rootfs was mounted for us */
};

void container_tar_free(void *p)
{
        struct container_tar *j = p;

        cp_root_release(&j->root);
        if (j->temp)
                container_rootfs_release(j->cs, j->c);
        container_unref(j->cs, j->c);
        free(j);
}

void container_tar_write(int fd, void *p)
{
        struct container_tar *j = p;
        struct tar_out t = {.fd = fd, .etc_dirfd = -1};
        char end[2 * TAR_BLOCK] = {0};
        _cleanup_close_ int etc_dirfd = -1;

        /* a running container's own root (its /etc as it sees it), else the held rootfs */
        _cleanup_close_ int rootfd = j->root.pidfd >= 0
                                         ? fcntl(j->root.fd, F_DUPFD_CLOEXEC, 3)
                                         : open(j->c->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        tar_out_load_names(&t, rootfd);
        if (j->whole) {
                if (rootfd >= 0)
                        add_tree(&t, rootfd, ".", ".");
        } else {
                _cleanup_close_ int obj =
                    berth_open_in_root(j->root.fd, j->root.path, O_PATH | O_NOFOLLOW);
                struct stat st;
                if (j->root.pidfd < 0 && !j->root.in_mount) {
                        etc_dirfd = open(j->c->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
                        t.etc_dirfd = etc_dirfd;
                        t.top_path = j->root.path;
                        t.top_name = j->root.name;
                }
                if (obj >= 0 && fstat(obj, &st) == 0)
                        add_entry_fd(&t, obj, "", j->root.name, &st);
        }
        /* the end: two zero blocks (Go writes no padding to a record size) */
        tar_write(&t, end, sizeof(end));
        if (t.err)
                berth_debug("archive: %s", t.err->msg);
        berth_error_free(t.err);
        berth_passwd_free(t.pw, t.n_pw);
        berth_group_free(t.gr, t.n_gr);
        for (size_t i = 0; i < t.n_seen; i++)
                free(t.seen[i].name);
        free(t.seen);
}

/* stat of what root names: docker's X-Docker-Container-Path-Stat */
static int path_stat(struct container *c, const struct cp_root *root, const char *path,
                     char **ret_header, struct berth_error **err)
{
        _cleanup_close_ int fd = -1;
        _cleanup_json_ json_t *j = NULL;
        _cleanup_free_ char *s = NULL;
        char target[4096] = "";
        struct stat st;
        char mtime[64];
        struct tm tm;

        fd = berth_open_in_root(root->fd, root->path, O_PATH | O_NOFOLLOW);
        if (fd < 0)
                return berth_error_setx(err, errno == ENOENT ? ENOENT : errno,
                                        "Could not find the file %s in container %s", path,
                                        c->name);
        if (fstat(fd, &st) < 0)
                return berth_error_set(err, errno, "stat `%s`", path);
        if (S_ISLNK(st.st_mode)) {
                ssize_t n = readlinkat(fd, "", target, sizeof(target) - 1);
                target[n > 0 ? n : 0] = '\0';
        }
        gmtime_r(&st.st_mtime, &tm);
        strftime(mtime, sizeof(mtime), "%Y-%m-%dT%H:%M:%SZ", &tm);
        j = json_pack("{s:s,s:I,s:I,s:s,s:s}", "name", base_name(path), "size",
                      (json_int_t)st.st_size, "mode", (json_int_t)go_mode(st.st_mode), "mtime",
                      mtime, "linkTarget", target);
        s = berth_json_dump(j, false);
        *ret_header = berth_base64_encode(s, strlen(s));
        return 0;
}

int container_archive_get(struct containers *cs, const char *ref, const char *path, char **ret_stat,
                          struct container_tar **ret_tar, struct berth_error **err)
{
        _cleanup_free_ char *hdr = NULL;
        struct cp_root root = {.fd = -1, .pidfd = -1};
        struct container *c;
        struct container_tar *j;
        bool temp;
        int r;

        r = container_hold(cs, ref, &c, &temp, err);
        if (r < 0)
                return r;
        if ((r = cp_root_open(cs, c, path, &root, err)) < 0 ||
            (r = path_stat(c, &root, path, &hdr, err)) < 0 || !ret_tar) {
                cp_root_release(&root);
                if (temp)
                        container_rootfs_release(cs, c);
                container_unref(cs, c);
                if (r < 0)
                        return r;
                *ret_stat = TAKE_PTR(hdr);
                return 0;
        }
        j = xcalloc(1, sizeof(*j));
        j->cs = cs;
        j->c = c;
        j->root = root;
        j->temp = temp;
        *ret_stat = TAKE_PTR(hdr);
        *ret_tar = j;
        return 0;
}

struct apply_job {
        int pidfd, dfd, in;
        const struct berth_layer_limits *lim;
        struct berth_error *err;
        int r;
};

/* A thread of its own applies the tar inside the running container's mount namespace: there,
 * like in docker's, a bind or volume mount point in the way is busy (EBUSY) instead of being
 * unlinked from under the container (a lookup from the host's namespace may unlink what is only a
 * mount point in another one). The thread's fs_struct is unshared first (setns refuses a shared
 * one) and goes away with it, the daemon's other threads keep theirs. */
static void *apply_in_container(void *p)
{
        struct apply_job *j = p;

        if (unshare(CLONE_FS) < 0 || setns(j->pidfd, CLONE_NEWNS) < 0) {
                j->r = berth_error_set(&j->err, errno, "join the mount namespace of the container");
                return NULL;
        }
        j->r = berth_layer_apply(j->dfd, j->in, j->lim, NULL, &j->err);
        return NULL;
}

static int apply_tar(const struct cp_root *root, int dfd, int in,
                     const struct berth_layer_limits *lim, struct berth_error **err)
{
        struct apply_job j = {root->pidfd, dfd, in, lim, NULL, 0};
        pthread_t t;
        int r;

        if (root->pidfd < 0)
                return berth_layer_apply(dfd, in, lim, NULL, err);
        r = pthread_create(&t, NULL, apply_in_container, &j);
        if (r != 0)
                return berth_error_setx(err, r, "cannot start a thread: %s", strerror(r));
        pthread_join(t, NULL);
        if (j.r < 0)
                *err = j.err;
        return j.r;
}

int container_archive_put(struct containers *cs, const char *ref, const char *path, int in,
                          struct berth_error **err)
{
        struct berth_layer_limits lim = berth_layer_default_limits;
        _cleanup_close_ int dfd = -1;
        struct cp_root root = {.fd = -1, .pidfd = -1};
        struct container *c;
        bool temp = false;
        int r;

        r = container_hold(cs, ref, &c, &temp, err);
        if (r < 0)
                return r;
        r = cp_root_open(cs, c, path, &root, err);
        if (r < 0) {
                /* err says why */
        } else if (root.readonly) {
                /* docker's checkIfPathIsInAVolume (400) */
                r = berth_error_setx(err, EINVAL, "mounted volume is marked read-only");
        } else if (!root.in_mount && json_is_true(container_host_cfg(c, "ReadonlyRootfs"))) {
                r = berth_error_setx(err, EACCES, "container rootfs is marked read-only");
        } else if ((dfd = berth_open_in_root(root.fd, root.path, O_RDONLY | O_DIRECTORY)) < 0) {
                r = berth_error_setx(err, ENOENT, "Could not find the file %s in container %s",
                                     path, c->name);
        } else {
                /* the tar is applied with dfd as its root: nothing lands outside it, whatever
                 * names, symlinks or hard links it carries */
                _cleanup_error_ struct berth_error *aerr = NULL;
                lim.allow_devices = false;
                if (apply_tar(&root, dfd, in, &lim, &aerr) < 0) {
                        if (aerr->code == EROFS)
                                /* a read-only mount of the running container's own (a
                                 * --read-only tmpfs, a volume mounted ro inside) */
                                r = berth_error_setx(err, EINVAL,
                                                     "mounted volume is marked read-only");
                        else
                                /* EAGAIN (a limit of the daemon's): docker's 500, else 400 */
                                r = berth_error_setx(err, aerr->code == EAGAIN ? EAGAIN : EINVAL,
                                                     "extract into `%s`: %s", path, aerr->msg);
                }
        }
        cp_root_release(&root);
        if (temp)
                container_rootfs_release(cs, c);
        container_unref(cs, c);
        return r < 0 ? r : 0;
}

int container_export(struct containers *cs, const char *ref, struct container_tar **ret_tar,
                     struct berth_error **err)
{
        struct container *c;
        struct container_tar *j;
        bool temp;
        int r;

        r = container_hold(cs, ref, &c, &temp, err);
        if (r < 0)
                return r;
        j = xcalloc(1, sizeof(*j));
        j->cs = cs;
        j->c = c;
        /* no cp root: container_tar_free must not close fd 0 (calloc's zeroes) twice */
        j->root = (struct cp_root){.fd = -1, .pidfd = -1};
        j->whole = true;
        j->temp = temp;
        *ret_tar = j;
        return 0;
}

/* ---------------------------------------------------------------- changes */

static bool in_lowers(int *lowers, size_t n, const char *path)
{
        for (size_t i = 0; i < n; i++) {
                int fd = berth_open_in_root(lowers[i], path, O_PATH | O_NOFOLLOW);
                if (fd >= 0) {
                        close(fd);
                        return true;
                }
        }
        return false;
}

static void walk_upper(int dirfd_, const char *rel, int *lowers, size_t n, json_t *out)
{
        _cleanup_dir_ DIR *d = NULL;
        struct dirent *de;
        int fd = openat(dirfd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0 || !(d = fdopendir(fd))) {
                if (fd >= 0)
                        close(fd);
                return;
        }
        while ((de = readdir(d))) {
                _cleanup_free_ char *p = NULL;
                struct stat st;
                int kind;
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                p = xasprintf("%s/%s", rel, de->d_name);
                if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0))
                        kind = 2; /* overlay whiteout: deleted */
                else
                        kind = in_lowers(lowers, n, p) ? 0 : 1;
                json_array_append_new(out, json_pack("{s:s,s:i}", "Path", p, "Kind", kind));
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int sub = openat(
                            dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (sub >= 0)
                                walk_upper(sub, p, lowers, n, out);
                }
        }
}

int container_changes(struct containers *cs, const char *ref, json_t **ret,
                      struct berth_error **err)
{
        _cleanup_strv_ char **dirs = NULL;
        _cleanup_free_ char *upper = NULL, *init = NULL;
        _cleanup_close_ int ufd = -1;
        struct container *c;
        json_t *out;
        int *lowers;
        size_t n;
        int r;

        r = container_get(cs, ref, &c, err);
        if (r < 0)
                return r;
        upper = xasprintf("%s/upper", c->dir);
        berth_image_layer_dirs(
            cs->d->images, json_string_value(json_object_get(c->config, "image_id")), &dirs, NULL);
        /* the init layer (etc-files.c) lies under the container's changes like an image layer */
        init = xasprintf("%s/init", c->dir);
        strv_push(&dirs, init);
        n = strv_length(dirs);
        lowers = xcalloc(n + 1, sizeof(int));
        for (size_t i = 0; i < n; i++)
                lowers[i] = open(dirs[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
        out = json_array();
        ufd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (ufd >= 0)
                walk_upper(ufd, "", lowers, n, out);
        for (size_t i = 0; i < n; i++)
                if (lowers[i] >= 0)
                        close(lowers[i]);
        free(lowers);
        container_unref(cs, c);
        *ret = json_array_size(out) ? out : (json_decref(out), json_null());
        return 0;
}
