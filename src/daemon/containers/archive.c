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
#include <locale.h>
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
 * The archive docker's pkg/archive writes, through libarchive's restricted pax writer: ustar
 * headers, a PAX extended header only before an entry whose name, link target, size, ids or
 * user/group names do not fit one, times in whole seconds (no atime/ctime: no PAX header for
 * them), directories named with a trailing '/', each directory's entries in lexical order (Go's
 * filepath.Walk), a file's second and later names as hard link entries, sockets left out.
 * Unlike Go's archive/tar, libarchive writes only the permission bits in the header's mode (moby
 * also keeps the file type bits there: 0100644; readers take the type from the typeflag), splits
 * a long path into ustar's prefix at the first '/' that lets the rest fit (Go: at the last that
 * fits the prefix), and moves ids from 2^18 on into PAX records (Go: from 2^21). */

struct tar_out {
        struct archive *a;
        struct archive_entry_linkresolver *links; /* a file's later names: hard link entries */
        struct berth_error *err;                  /* the first write error: the rest is skipped */
        int depth;                                /* of add_tree: 0 for the directory asked for */
        /* the container's own users and groups: entries carry their names, as docker's do */
        struct berth_passwd_ent *pw;
        size_t n_pw;
        struct berth_group_ent *gr;
        size_t n_gr;
        /* docker cp from a stopped container's rootfs: the container path of the entry named
         * top_name (its arcname prefix), and the container dir whose hosts, hostname and
         * resolv.conf docker mounts over the rootfs' empty ones for the copy; etc_dirfd -1: none */
        const char *top_path, *top_name;
        int etc_dirfd;
};

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

static void tar_entry_freep(struct archive_entry **e)
{
        if (*e)
                archive_entry_free(*e);
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

        _cleanup_(tar_entry_freep) struct archive_entry *e = NULL, *spare = NULL;
        _cleanup_free_ char *dirname = NULL;
        const char *user, *group;
        int r;

        if (S_ISSOCK(st->st_mode))
                return 0; /* moby: "archive: skipping … since it is a socket" */
        if (t->err)
                return -EPIPE;
        e = archive_entry_new();
        if (S_ISDIR(st->st_mode)) {
                size_t len = strlen(arcname);
                if (len == 0 || arcname[len - 1] != '/')
                        dirname = xasprintf("%s/", arcname);
        }
        archive_entry_copy_pathname(e, dirname ? dirname : arcname);
        /* the fields docker writes: no atime/ctime, mtime in whole seconds (a PAX header
         * otherwise); dev, ino and nlink for the link resolver */
        archive_entry_set_mode(e, st->st_mode);
        archive_entry_set_uid(e, st->st_uid);
        archive_entry_set_gid(e, st->st_gid);
        archive_entry_set_mtime(e, st->st_mtim.tv_sec > 0 ? st->st_mtim.tv_sec : 0, 0);
        archive_entry_set_dev(e, st->st_dev);
        archive_entry_set_ino64(e, (la_int64_t)st->st_ino);
        archive_entry_set_nlink(e, (unsigned)st->st_nlink);
        if (S_ISREG(st->st_mode))
                archive_entry_set_size(e, st->st_size);
        if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
                archive_entry_set_rdev(e, st->st_rdev);
        tar_out_names(t, st->st_uid, st->st_gid, &user, &group);
        if (user)
                archive_entry_copy_uname(e, user);
        if (group)
                archive_entry_copy_gname(e, group);
        if (S_ISLNK(st->st_mode)) {
                char target[4096];
                ssize_t n = readlinkat(parentfd, name, target, sizeof(target) - 1);
                if (n < 0)
                        return 0;
                target[n] = '\0';
                archive_entry_copy_symlink(e, target);
        }
        /* a file's second and later names: hard links to its first (tar's strategy: the
         * entry comes back at once, its size unset when it is a later name) */
        archive_entry_linkify(t->links, &e, &spare);
        r = archive_write_header(t->a, e);
        if (r == ARCHIVE_FATAL)
                return berth_error_setx(&t->err, EIO, "tar: %s", archive_error_string(t->a));
        if (r == ARCHIVE_FAILED)
                return 0; /* this entry only (a file type tar cannot hold) */
        if (S_ISREG(st->st_mode) && !archive_entry_hardlink(e) && st->st_size > 0) {
                _cleanup_close_ int fd = open_regular(parentfd, name);
                char buf[65536];
                off_t left = st->st_size;
                while (fd >= 0 && left > 0) {
                        ssize_t n =
                            read(fd, buf, sizeof(buf) < (size_t)left ? sizeof(buf) : (size_t)left);
                        if (n <= 0)
                                break;
                        if (archive_write_data(t->a, buf, (size_t)n) < 0)
                                return berth_error_setx(&t->err, EPIPE, "tar: %s",
                                                        archive_error_string(t->a));
                        left -= n;
                }
                /* a file that shrank while we read: pad, the header is written */
                memset(buf, 0, sizeof(buf));
                while (left > 0) {
                        size_t n = sizeof(buf) < (size_t)left ? sizeof(buf) : (size_t)left;
                        if (archive_write_data(t->a, buf, n) < 0)
                                return berth_error_setx(&t->err, EPIPE, "tar: %s",
                                                        archive_error_string(t->a));
                        left -= (off_t)n;
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

static la_ssize_t tar_write_cb(struct archive *a, void *ud, const void *buf, size_t n)
{
        int r = berth_write_all(*(int *)ud, buf, n);

        if (r < 0) {
                archive_set_error(a, -r, "client gone");
                return -1;
        }
        return (la_ssize_t)n;
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

static void tar_out_write(struct container_tar *j, int fd)
{
        struct tar_out t = {.etc_dirfd = -1};
        _cleanup_close_ int etc_dirfd = -1;
        int out = fd;

        t.a = archive_write_new();
        archive_write_set_format_pax_restricted(t.a);
        /* no padding to a record size: the two zero blocks end it, as Go's writer does */
        archive_write_set_bytes_per_block(t.a, 0);
        if (archive_write_open2(t.a, &out, NULL, tar_write_cb, NULL, NULL) != ARCHIVE_OK) {
                berth_debug("archive: %s", archive_error_string(t.a));
                archive_write_free(t.a);
                return;
        }
        t.links = archive_entry_linkresolver_new();
        archive_entry_linkresolver_set_strategy(t.links, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);

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
        if (!t.err && archive_write_close(t.a) != ARCHIVE_OK)
                berth_error_setx(&t.err, EPIPE, "tar: %s", archive_error_string(t.a));
        if (t.err)
                berth_debug("archive: %s", t.err->msg);
        berth_error_free(t.err);
        berth_passwd_free(t.pw, t.n_pw);
        berth_group_free(t.gr, t.n_gr);
        archive_entry_linkresolver_free(t.links);
        archive_write_free(t.a);
}

void container_tar_write(int fd, void *p)
{
        /* names go out as they are (UTF-8, as Go's writer takes them): in the C locale
         * libarchive cannot convert a non-ASCII name to UTF-8, and marks it hdrcharset=BINARY */
        locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
        locale_t old = utf8 ? uselocale(utf8) : (locale_t)0;

        tar_out_write(p, fd);
        if (utf8) {
                uselocale(old);
                freelocale(utf8);
        }
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
