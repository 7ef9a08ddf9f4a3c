/* Local volumes: a directory per volume, metadata in a JSON file beside its _data, references
 * by container in memory. */
#include "daemon/state/volumes.h"
#include "daemon/daemon.h"
#include "daemon/state/events.h"

#include <ftw.h>
#include <sys/mount.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>

#define VOLUME_META "volume.json"

struct volume {
        char *name;
        json_t *meta; /* {"Name", "CreatedAt", "Labels", "Options"} as stored */
        char **refs;  /* container ids, NULL-terminated (may be NULL) */
        bool mounted; /* options type/device/o: mounted on _data while referenced */
        struct volume *next;
};

struct berth_volumes {
        struct daemon *d;
        char *dir; /* D/volumes */
        int dirfd;
        pthread_mutex_t lock;
        struct volume *list;
};

static bool is_mounted(const char *path);
static void unmount_locked(struct berth_volumes *v, struct volume *vol);

static void volume_free(struct volume *vol)
{
        free(vol->name);
        json_decref(vol->meta);
        strv_free(vol->refs);
        free(vol);
}

static struct volume *find(struct berth_volumes *v, const char *name)
{
        for (struct volume *vol = v->list; vol; vol = vol->next)
                if (!strcmp(vol->name, name))
                        return vol;
        return NULL;
}

int volumes_name_validate(const char *name, struct berth_error **err)
{
        static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        size_t n = strlen(name);
        bool valid = n >= 2 && n <= 255 && strchr(ok, name[0]) && name[0] &&
                     strspn(name + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                      "0123456789_.-") == n - 1;
        if (!valid)
                return berth_error_setx(
                    err, EINVAL,
                    "create %s: \"%s\" includes invalid characters for a local volume name, only "
                    "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host "
                    "directory, use absolute path",
                    name, name);
        return 0;
}

int volumes_open(struct daemon *d, struct berth_volumes **ret, struct berth_error **err)
{
        _cleanup_free_ char *dir = xasprintf("%s/volumes", d->data_root);
        if (berth_mkdir_p(dir, 0701, err) < 0)
                return -EIO;
        _cleanup_close_ int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                return berth_error_set(err, errno, "open `%s`", dir);
        struct berth_volumes *v = xcalloc(1, sizeof(*v));
        v->d = d;
        pthread_mutex_init(&v->lock, NULL);
        _cleanup_close_ int scan = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *dirp = scan >= 0 ? fdopendir(scan) : NULL;
        if (dirp) {
                scan = -1;
                struct dirent *de;
                while ((de = readdir(dirp))) {
                        if (de->d_name[0] == '.' || volumes_name_validate(de->d_name, NULL) < 0)
                                continue;
                        _cleanup_free_ char *meta_path = xasprintf("%s/" VOLUME_META, de->d_name);
                        json_t *meta = berth_json_load_at(dirfd, meta_path, 0, NULL);
                        if (!json_is_object(meta)) {
                                /* a volume dir without metadata (a create killed half-way, or
                                 * copied in by hand): keep it, with what can be known */
                                json_decref(meta);
                                struct stat st;
                                if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                                    !S_ISDIR(st.st_mode))
                                        continue;
                                struct timespec ts = {.tv_sec = st.st_mtim.tv_sec};
                                _cleanup_free_ char *created = berth_time_rfc3339(&ts);
                                meta = json_pack("{s:s, s:s, s:n, s:n}", "Name", de->d_name,
                                                 "CreatedAt", created, "Labels", "Options");
                        }
                        struct volume *vol = xcalloc(1, sizeof(*vol));
                        vol->name = xstrdup(de->d_name);
                        vol->meta = meta;
                        _cleanup_free_ char *mp = xasprintf("%s/%s/_data", dir, de->d_name);
                        vol->mounted = is_mounted(mp);
                        vol->next = v->list;
                        v->list = vol;
                }
                closedir(dirp);
        }
        v->dir = TAKE_PTR(dir);
        v->dirfd = TAKE_FD(dirfd);
        *ret = v;
        return 0;
}

void volumes_free(struct berth_volumes *v)
{
        if (!v)
                return;
        while (v->list) {
                struct volume *next = v->list->next;
                volume_free(v->list);
                v->list = next;
        }
        if (v->dirfd >= 0)
                close(v->dirfd);
        pthread_mutex_destroy(&v->lock);
        free(v->dir);
        free(v);
}

/* ---------------------------------------------------------------- sizes */

struct size_walk {
        uint64_t total;
        dev_t *devs;
        ino_t *inos;
        size_t n, cap;
};

static __thread struct size_walk *walk_state;

static int size_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        struct size_walk *w = walk_state;
        if (flag != FTW_F || !S_ISREG(st->st_mode))
                return 0;
        if (st->st_nlink > 1) {
                for (size_t i = 0; i < w->n; i++)
                        if (w->inos[i] == st->st_ino && w->devs[i] == st->st_dev)
                                return 0;
                if (w->n == w->cap) {
                        w->cap = w->cap ? w->cap * 2 : 16;
                        w->inos = xrealloc(w->inos, w->cap * sizeof(*w->inos));
                        w->devs = xrealloc(w->devs, w->cap * sizeof(*w->devs));
                }
                w->inos[w->n] = st->st_ino;
                w->devs[w->n++] = st->st_dev;
        }
        w->total += (uint64_t)st->st_size;
        return 0;
}

uint64_t volumes_dir_size(const char *path)
{
        struct size_walk w = {0};
        walk_state = &w;
        nftw(path, size_cb, 32, FTW_PHYS | FTW_MOUNT);
        walk_state = NULL;
        free(w.inos);
        free(w.devs);
        return w.total;
}

/* ---------------------------------------------------------------- objects */

static char *mountpoint(struct berth_volumes *v, const char *name)
{
        return xasprintf("%s/%s/_data", v->dir, name);
}

static json_t *volume_json(struct berth_volumes *v, struct volume *vol, bool with_usage)
{
        _cleanup_free_ char *mp = mountpoint(v, vol->name);
        json_t *labels = json_object_get(vol->meta, "Labels");
        json_t *opts = json_object_get(vol->meta, "Options");
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:O?, s:s, s:O?, s:s}", "Name", vol->name, "Driver", "local",
                      "Mountpoint", mp, "Labels", json_is_object(labels) ? labels : NULL, "Scope",
                      "local", "Options", json_is_object(opts) ? opts : NULL, "CreatedAt",
                      json_string_value(json_object_get(vol->meta, "CreatedAt"))
                          ? json_string_value(json_object_get(vol->meta, "CreatedAt"))
                          : "");
        /* the size is walked later, outside the lock (fill_size): a big volume must not stall
         * container creation */
        if (with_usage)
                json_object_set_new(o, "UsageData",
                                    json_pack("{s:I, s:I}", "Size", (json_int_t)-1, "RefCount",
                                              (json_int_t)strv_length(vol->refs)));
        return o;
}

/* UsageData.Size of a volume object from volume_json(with_usage), without the lock held. */
static uint64_t fill_size(json_t *o)
{
        json_t *usage = json_object_get(o, "UsageData");
        const char *mp = json_string_value(json_object_get(o, "Mountpoint"));
        if (!usage || !mp)
                return 0;
        uint64_t size = volumes_dir_size(mp);
        json_object_set_new(usage, "Size", json_integer((json_int_t)size));
        return size;
}

static bool labels_valid(json_t *labels)
{
        const char *k;
        json_t *val;
        if (!labels || json_is_null(labels))
                return true;
        if (!json_is_object(labels))
                return false;
        json_object_foreach(labels, k, val) if (!json_is_string(val)) return false;
        return true;
}

/* with v->lock held */
static int create_locked(struct berth_volumes *v, const char *name, json_t *labels, json_t *opts,
                         struct volume **ret, struct berth_error **err)
{
        struct volume *vol = find(v, name);
        if (vol) {
                *ret = vol;
                return 0;
        }
        if (mkdirat(v->dirfd, name, 0701) < 0 && errno != EEXIST)
                return berth_error_set(err, errno, "create volume `%s`", name);
        _cleanup_free_ char *data = xasprintf("%s/_data", name);
        if (mkdirat(v->dirfd, data, 0755) < 0 && errno != EEXIST) {
                int r = berth_error_set(err, errno, "create volume `%s`", name);
                berth_rm_rf_at(v->dirfd, name, NULL);
                return r;
        }
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        now.tv_nsec = 0;
        _cleanup_free_ char *created = berth_time_rfc3339(&now);
        /* docker shows seconds: 2024-01-02T03:04:05Z */
        char *dot = strchr(created, '.');
        if (dot)
                strcpy(dot, "Z");
        json_t *meta = json_pack("{s:s, s:s, s:O?, s:O?}", "Name", name, "CreatedAt", created,
                                 "Labels", json_is_object(labels) ? labels : NULL, "Options",
                                 json_is_object(opts) ? opts : NULL);
        _cleanup_free_ char *s = json_dumps(meta, JSON_COMPACT | JSON_SORT_KEYS);
        _cleanup_close_ int vfd = openat(v->dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (vfd < 0 || berth_write_atomic_at(vfd, VOLUME_META, s, strlen(s), err) < 0) {
                if (vfd < 0)
                        berth_error_set(err, errno, "open volume `%s`", name);
                json_decref(meta);
                berth_rm_rf_at(v->dirfd, name, NULL);
                return berth_error_wrap(err, "create volume `%s`", name);
        }
        vol = xcalloc(1, sizeof(*vol));
        vol->name = xstrdup(name);
        vol->meta = meta;
        vol->next = v->list;
        v->list = vol;
        events_publish(v->d, "volume", "create", name, json_pack("{s:s}", "driver", "local"));
        *ret = vol;
        return 0;
}

int volumes_create(struct berth_volumes *v, const char *name, const char *driver, json_t *labels,
                   json_t *opts, json_t **ret_volume, struct berth_error **err)
{
        char rnd[65];
        if (!name || !*name) {
                berth_random_hex(rnd, 32);
                name = rnd;
        } else if (volumes_name_validate(name, err) < 0) {
                return -EINVAL;
        }
        if (driver && *driver && strcmp(driver, "local"))
                return berth_error_setx(err, ENOENT,
                                        "create %s: error looking up volume plugin %s: plugin "
                                        "\"%s\" not found",
                                        name, driver, driver);
        if (!labels_valid(labels) || !labels_valid(opts))
                return berth_error_setx(err, EINVAL,
                                        "create %s: labels and options must be "
                                        "objects of strings",
                                        name);
        if (volumes_check_options(opts, err) < 0)
                return berth_error_wrap(err, "create %s", name);
        pthread_mutex_lock(&v->lock);
        struct volume *vol;
        int r = create_locked(v, name, labels, opts, &vol, err);
        if (r == 0 && ret_volume)
                *ret_volume = volume_json(v, vol, false);
        pthread_mutex_unlock(&v->lock);
        return r;
}

int volumes_inspect(struct berth_volumes *v, const char *name, bool with_usage, json_t **ret,
                    struct berth_error **err)
{
        pthread_mutex_lock(&v->lock);
        struct volume *vol = find(v, name);
        json_t *o = vol ? volume_json(v, vol, with_usage) : NULL;
        pthread_mutex_unlock(&v->lock);
        if (!o)
                return berth_error_setx(err, ENOENT, "get %s: no such volume", name);
        fill_size(o);
        *ret = o;
        return 0;
}

bool volumes_is_anonymous(struct berth_volumes *v, const char *name)
{
        pthread_mutex_lock(&v->lock);
        struct volume *vol = find(v, name);
        bool anon =
            vol && json_object_get(json_object_get(vol->meta, "Labels"), VOLUME_ANONYMOUS_LABEL);
        pthread_mutex_unlock(&v->lock);
        return anon;
}

/* ---------------------------------------------------------------- filters */

static bool bool_filter(const char *s, bool *ret)
{
        if (!strcmp(s, "true") || !strcmp(s, "1")) {
                *ret = true;
                return true;
        }
        if (!strcmp(s, "false") || !strcmp(s, "0")) {
                *ret = false;
                return true;
        }
        return false;
}

static int check_keys(json_t *filters, const char *const *known, struct berth_error **err)
{
        const char *key;
        json_t *vals;
        json_object_foreach(filters, key, vals)
        {
                bool ok = false;
                for (size_t i = 0; known[i]; i++)
                        ok = ok || !strcmp(known[i], key);
                if (!ok)
                        return berth_error_setx(err, EINVAL, "invalid filter '%s'", key);
        }
        return 0;
}

/* every "label" filter matches and no "label!" one does */
static bool labels_pass(json_t *filters, json_t *labels)
{
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(filters, "label"), i,
                           f) if (!json_string_value(f) ||
                                  !berth_label_match(labels, json_string_value(f))) return false;
        json_array_foreach(json_object_get(filters, "label!"), i,
                           f) if (json_string_value(f) &&
                                  berth_label_match(labels, json_string_value(f))) return false;
        return true;
}

int volumes_list(struct berth_volumes *v, json_t *filters, json_t **ret, struct berth_error **err)
{
        static const char *const known[] = {"dangling", "name", "label", "label!", "driver", NULL};
        if (check_keys(filters, known, err) < 0)
                return -EINVAL;
        int dangling = -1;
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(filters, "dangling"), i, f)
        {
                bool b;
                if (!json_string_value(f) || !bool_filter(json_string_value(f), &b))
                        return berth_error_setx(err, EINVAL, "invalid filter 'dangling=%s'",
                                                json_string_value(f) ? json_string_value(f) : "");
                dangling = b;
        }
        json_t *out = json_array();
        pthread_mutex_lock(&v->lock);
        for (struct volume *vol = v->list; vol; vol = vol->next) {
                if (dangling >= 0 && (strv_length(vol->refs) == 0) != (bool)dangling)
                        continue;
                json_t *names = json_object_get(filters, "name");
                bool name_ok = !names;
                json_array_foreach(names, i, f) name_ok =
                    name_ok || (json_string_value(f) && strstr(vol->name, json_string_value(f)));
                if (!name_ok)
                        continue;
                json_t *drivers = json_object_get(filters, "driver");
                bool driver_ok = !drivers;
                json_array_foreach(drivers, i, f) driver_ok =
                    driver_ok || (json_string_value(f) && !strcmp(json_string_value(f), "local"));
                if (!driver_ok || !labels_pass(filters, json_object_get(vol->meta, "Labels")))
                        continue;
                json_array_append_new(out, volume_json(v, vol, false));
        }
        pthread_mutex_unlock(&v->lock);
        *ret = json_pack("{s:o, s:[]}", "Volumes", out, "Warnings");
        return 0;
}

/* with v->lock held; vol is unlinked and freed on success */
static int remove_locked(struct berth_volumes *v, struct volume *vol, uint64_t *ret_size,
                         struct berth_error **err)
{
        size_t n = strv_length(vol->refs);
        if (n > 0) {
                _cleanup_free_ char *ids = xstrdup("");
                for (size_t i = 0; i < n; i++) {
                        char *next = xasprintf("%s%s%s", ids, i ? ", " : "", vol->refs[i]);
                        free(ids);
                        ids = next;
                }
                return berth_error_setx(err, EBUSY, "remove %s: volume is in use - [%s]", vol->name,
                                        ids);
        }
        if (ret_size) {
                _cleanup_free_ char *mp = mountpoint(v, vol->name);
                *ret_size = vol->mounted ? 0 : volumes_dir_size(mp);
        }
        /* a mounted volume without users (left by a killed daemon): its data is elsewhere */
        unmount_locked(v, vol);
        /* metadata first: a volume whose removal is cut short is gone, not half there */
        _cleanup_free_ char *meta = xasprintf("%s/" VOLUME_META, vol->name);
        if (unlinkat(v->dirfd, meta, 0) < 0 && errno != ENOENT)
                return berth_error_set(err, errno, "remove %s", vol->name);
        if (berth_rm_rf_at(v->dirfd, vol->name, err) < 0)
                return berth_error_wrap(err, "remove %s", vol->name);
        for (struct volume **p = &v->list; *p; p = &(*p)->next)
                if (*p == vol) {
                        *p = vol->next;
                        break;
                }
        events_publish(v->d, "volume", "destroy", vol->name, json_pack("{s:s}", "driver", "local"));
        volume_free(vol);
        return 0;
}

int volumes_remove(struct berth_volumes *v, const char *name, bool force, struct berth_error **err)
{
        pthread_mutex_lock(&v->lock);
        struct volume *vol = find(v, name);
        int r = 0;
        if (!vol) {
                if (!force)
                        r = berth_error_setx(err, ENOENT, "get %s: no such volume", name);
        } else {
                r = remove_locked(v, vol, NULL, err);
        }
        pthread_mutex_unlock(&v->lock);
        return r;
}

int volumes_prune(struct berth_volumes *v, json_t *filters, json_t **ret, struct berth_error **err)
{
        static const char *const known[] = {"label", "label!", "all", NULL};
        if (check_keys(filters, known, err) < 0)
                return -EINVAL;
        bool all = false;
        size_t i;
        json_t *f;
        json_array_foreach(
            json_object_get(filters, "all"), i,
            f) if (!json_string_value(f) ||
                   !bool_filter(json_string_value(f),
                                &all)) return berth_error_setx(err, EINVAL,
                                                               "invalid filter 'all=%s'",
                                                               json_string_value(f)
                                                                   ? json_string_value(f)
                                                                   : "");
        json_t *deleted = json_array();
        uint64_t reclaimed = 0;
        pthread_mutex_lock(&v->lock);
        struct volume *vol = v->list;
        while (vol) {
                struct volume *next = vol->next;
                json_t *labels = json_object_get(vol->meta, "Labels");
                bool anon = json_object_get(labels, VOLUME_ANONYMOUS_LABEL) != NULL;
                if (strv_length(vol->refs) == 0 && (all || anon) && labels_pass(filters, labels)) {
                        _cleanup_free_ char *name = xstrdup(vol->name);
                        uint64_t size = 0;
                        _cleanup_error_ struct berth_error *e = NULL;
                        if (remove_locked(v, vol, &size, &e) == 0) {
                                json_array_append_new(deleted, json_string(name));
                                reclaimed += size;
                        } else {
                                berth_warn("volume prune: %s", e->msg);
                        }
                }
                vol = next;
        }
        pthread_mutex_unlock(&v->lock);
        *ret = json_pack("{s:o, s:I}", "VolumesDeleted", deleted, "SpaceReclaimed",
                         (json_int_t)reclaimed);
        return 0;
}

/* ---------------------------------------------------------------- mount options */

static const struct {
        const char *name;
        unsigned long set, clear;
} mount_flags[] = {
    {"ro", MS_RDONLY, 0},
    {"rw", 0, MS_RDONLY},
    {"nosuid", MS_NOSUID, 0},
    {"suid", 0, MS_NOSUID},
    {"nodev", MS_NODEV, 0},
    {"dev", 0, MS_NODEV},
    {"noexec", MS_NOEXEC, 0},
    {"exec", 0, MS_NOEXEC},
    {"sync", MS_SYNCHRONOUS, 0},
    {"async", 0, MS_SYNCHRONOUS},
    {"noatime", MS_NOATIME, 0},
    {"atime", 0, MS_NOATIME},
    {"nodiratime", MS_NODIRATIME, 0},
    {"diratime", 0, MS_NODIRATIME},
    {"relatime", MS_RELATIME, 0},
    {"norelatime", 0, MS_RELATIME},
    {"strictatime", MS_STRICTATIME, 0},
    {"bind", MS_BIND, 0},
    {"rbind", MS_BIND | MS_REC, 0},
};

int volumes_parse_mount_options(const char *o, unsigned long *ret_flags, char **ret_data)
{
        unsigned long flags = 0;
        _cleanup_free_ char *copy = xstrdup(o ? o : "");
        _cleanup_free_ char *data = xstrdup("");
        char *save = NULL;
        for (char *opt = strtok_r(copy, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
                bool known = false;
                for (size_t i = 0; i < ARRAY_SIZE(mount_flags) && !known; i++) {
                        if (strcmp(opt, mount_flags[i].name))
                                continue;
                        flags = (flags | mount_flags[i].set) & ~mount_flags[i].clear;
                        known = true;
                }
                if (!known) {
                        char *next = xasprintf("%s%s%s", data, *data ? "," : "", opt);
                        free(data);
                        data = next;
                }
        }
        *ret_flags = flags;
        *ret_data = TAKE_PTR(data);
        return 0;
}

int volumes_check_options(json_t *opts, struct berth_error **err)
{
        const char *key;
        json_t *val;
        json_object_foreach(opts, key, val)
        {
                if (strcmp(key, "type") && strcmp(key, "device") && strcmp(key, "o"))
                        return berth_error_setx(err, EINVAL, "invalid option key: \"%s\"", key);
        }
        bool has_type = json_string_value(json_object_get(opts, "type")) &&
                        *json_string_value(json_object_get(opts, "type"));
        bool has_device = json_string_value(json_object_get(opts, "device")) &&
                          *json_string_value(json_object_get(opts, "device"));
        if (json_object_size(opts) > 0 && (!has_type || !has_device))
                return berth_error_setx(err, EINVAL, "missing required option: \"%s\"",
                                        has_type ? "device" : "type");
        return 0;
}

/* with v->lock held: mount a volume created with type/device/o on its _data (once) */
static int mount_locked(struct berth_volumes *v, struct volume *vol, struct berth_error **err)
{
        json_t *opts = json_object_get(vol->meta, "Options");
        const char *type = json_string_value(json_object_get(opts, "type"));
        const char *device = json_string_value(json_object_get(opts, "device"));
        if (vol->mounted || !type || !device)
                return 0;
        unsigned long flags;
        _cleanup_free_ char *data = NULL;
        volumes_parse_mount_options(json_string_value(json_object_get(opts, "o")), &flags, &data);
        _cleanup_free_ char *mp = mountpoint(v, vol->name);
        /* a bind source is used as the user gave it, like docker's local driver */
        if (mount(device, mp, type, flags, *data ? data : NULL) < 0)
                return berth_error_set(err, errno, "mount volume `%s` (%s on %s)", vol->name, type,
                                       device);
        vol->mounted = true;
        return 0;
}

static void unmount_locked(struct berth_volumes *v, struct volume *vol)
{
        if (!vol->mounted)
                return;
        _cleanup_free_ char *mp = mountpoint(v, vol->name);
        if (umount2(mp, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
                berth_warn("unmount volume `%s`: %s", vol->name, strerror(errno));
        vol->mounted = false;
}

/* Is path a mount point now (a daemon restarted while a volume was mounted)? */
static bool is_mounted(const char *path)
{
        _cleanup_free_ char *mi = NULL;
        if (berth_read_file_at(AT_FDCWD, "/proc/self/mountinfo", 16 << 20, &mi, NULL, NULL) < 0)
                return false;
        for (char *line = mi; line && *line;) {
                char *nl = strchr(line, '\n');
                if (nl)
                        *nl = '\0';
                /* field 5 is the mount point */
                char *p = line;
                for (int i = 0; i < 4 && p; i++) {
                        p = strchr(p, ' ');
                        if (p)
                                p++;
                }
                if (p && !strncmp(p, path, strlen(path)) && p[strlen(path)] == ' ')
                        return true;
                line = nl ? nl + 1 : NULL;
        }
        return false;
}

/* ---------------------------------------------------------------- populate from the image */

/* Deep enough for any image; bounds the recursion (each level holds two fds). */
#define POPULATE_MAX_DEPTH 128
/* Hard-linked inodes remembered (an O_PATH fd each) to link their later names; beyond that the
 * later names become copies. */
#define POPULATE_MAX_LINKS 1024

struct populate {
        struct {
                dev_t dev;
                ino_t ino;
                int fd; /* O_PATH of the first copy */
        } links[POPULATE_MAX_LINKS];
        size_t n_links;
};

static void populate_release(struct populate *p)
{
        for (size_t i = 0; i < p->n_links; i++)
                close(p->links[i].fd);
}

/* Extended attributes of src onto dst (security.capability of a ping binary, ACLs…); a file
 * system without them is not an error. */
static void copy_xattrs_fd(int src, int dst)
{
        char names[4096];
        ssize_t n = flistxattr(src, names, sizeof(names));

        for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(names + off) + 1) {
                char value[4096];
                ssize_t len = fgetxattr(src, names + off, value, sizeof(value));
                if (len >= 0)
                        (void)fsetxattr(dst, names + off, value, (size_t)len, 0);
        }
}

/* Owner, then mode (chown clears set-id bits), then times of an open copy. */
static int copy_attrs_fd(int fd, const struct stat *st)
{
        struct timespec times[2] = {st->st_atim, st->st_mtim};

        if (fchown(fd, st->st_uid, st->st_gid) < 0 || fchmod(fd, st->st_mode & 07777) < 0 ||
            futimens(fd, times) < 0)
                return -errno;
        return 0;
}

static int copy_data(int src, int dst)
{
        for (;;) {
                ssize_t n = copy_file_range(src, NULL, dst, NULL, 1 << 30, 0);
                if (n == 0)
                        return 0;
                if (n > 0)
                        continue;
                if (errno == EINTR)
                        continue;
                if (errno != EXDEV && errno != EINVAL && errno != EOPNOTSUPP && errno != ENOSYS)
                        return -errno;
                break;
        }
        char buf[65536];
        for (;;) {
                ssize_t n = read(src, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                if (berth_write_all(dst, buf, (size_t)n) < 0)
                        return -errno;
        }
}

static int populate_file(struct populate *p, int src_dir, int dst_dir, const char *name,
                         const struct stat *st)
{
        _cleanup_close_ int src = -1, dst = -1;
        struct stat check;
        int r;

        if (st->st_nlink > 1)
                for (size_t i = 0; i < p->n_links; i++)
                        if (p->links[i].dev == st->st_dev && p->links[i].ino == st->st_ino)
                                return linkat(p->links[i].fd, "", dst_dir, name, AT_EMPTY_PATH) < 0
                                           ? -errno
                                           : 0;
        src = openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (src < 0)
                return -errno;
        /* the name read by readdir is the file opened: not swapped for a fifo or device since */
        if (fstat(src, &check) < 0 || !S_ISREG(check.st_mode) || check.st_ino != st->st_ino)
                return -EAGAIN;
        dst = openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (dst < 0)
                return -errno;
        r = copy_data(src, dst);
        if (r < 0)
                return r;
        copy_xattrs_fd(src, dst);
        r = copy_attrs_fd(dst, st);
        if (r < 0)
                return r;
        if (st->st_nlink > 1 && p->n_links < POPULATE_MAX_LINKS) {
                int keep = openat(dst_dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (keep >= 0)
                        p->links[p->n_links++] =
                            (typeof(p->links[0])){st->st_dev, st->st_ino, keep};
        }
        return 0;
}

static int populate_dir(struct populate *p, int src_dir, int dst_dir, int depth,
                        struct berth_error **err);

/* One entry of src_dir (already lstat'ed) copied into dst_dir. */
static int populate_entry(struct populate *p, int src_dir, int dst_dir, const char *name,
                          const struct stat *st, int depth, struct berth_error **err)
{
        struct timespec times[2] = {st->st_atim, st->st_mtim};
        int r = 0;

        switch (st->st_mode & S_IFMT) {
        case S_IFDIR: {
                _cleanup_close_ int src = -1, dst = -1;
                if (mkdirat(dst_dir, name, 0700) < 0)
                        return berth_error_set(err, errno, "create `%s`", name);
                src = openat(src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                dst = openat(dst_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (src < 0 || dst < 0)
                        return berth_error_set(err, errno, "open `%s`", name);
                r = populate_dir(p, src, dst, depth + 1, err);
                if (r < 0)
                        return berth_error_wrap(err, "%s", name);
                copy_xattrs_fd(src, dst);
                r = copy_attrs_fd(dst, st);
                break;
        }
        case S_IFREG:
                r = populate_file(p, src_dir, dst_dir, name, st);
                break;
        case S_IFLNK: {
                char target[PATH_MAX + 1];
                ssize_t n = readlinkat(src_dir, name, target, PATH_MAX);
                if (n < 0)
                        return berth_error_set(err, errno, "read link `%s`", name);
                target[n] = '\0';
                if (symlinkat(target, dst_dir, name) < 0 ||
                    fchownat(dst_dir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
                    utimensat(dst_dir, name, times, AT_SYMLINK_NOFOLLOW) < 0)
                        r = -errno;
                break;
        }
        case S_IFCHR:
        case S_IFBLK:
        case S_IFIFO:
        case S_IFSOCK:
                if (mknodat(dst_dir, name, st->st_mode, st->st_rdev) < 0 ||
                    fchownat(dst_dir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0 ||
                    utimensat(dst_dir, name, times, AT_SYMLINK_NOFOLLOW) < 0)
                        r = -errno;
                break;
        default:
                break;
        }
        if (r < 0 && (!err || !*err))
                return berth_error_set(err, -r, "copy `%s`", name);
        return r;
}

static int populate_dir(struct populate *p, int src_dir, int dst_dir, int depth,
                        struct berth_error **err)
{
        _cleanup_close_ int scan = -1;
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (depth > POPULATE_MAX_DEPTH)
                return berth_error_setx(err, ELOOP, "more than %d directory levels",
                                        POPULATE_MAX_DEPTH);
        scan = openat(src_dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (scan < 0 || !(d = fdopendir(scan)))
                return berth_error_set(err, errno, "read directory");
        scan = -1;
        while (r == 0 && (errno = 0, de = readdir(d))) {
                struct stat st;
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno == ENOENT)
                                continue;
                        r = berth_error_set(err, errno, "stat `%s`", de->d_name);
                        break;
                }
                r = populate_entry(p, dirfd(d), dst_dir, de->d_name, &st, depth, err);
        }
        closedir(d);
        return r;
}

static bool dir_empty(int fd)
{
        _cleanup_close_ int scan = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = scan >= 0 ? fdopendir(scan) : NULL;
        struct dirent *de;
        bool empty = true;

        if (!d)
                return false;
        scan = -1;
        while (empty && (de = readdir(d)))
                empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
        closedir(d);
        return empty;
}

int volumes_populate(struct berth_volumes *v, const char *name, int rootfd, const char *path,
                     struct berth_error **err)
{
        _cleanup_free_ char *data = xasprintf("%s/_data", name);
        _cleanup_close_ int src = -1, dst = -1;
        struct populate *p;
        struct stat st;
        int r;

        pthread_mutex_lock(&v->lock);
        r = find(v, name) ? 0 : -ENOENT;
        pthread_mutex_unlock(&v->lock);
        if (r < 0)
                return berth_error_setx(err, ENOENT, "get %s: no such volume", name);
        /* symlinks on the way are the image's: resolved inside the rootfs, like moby's
         * GetResourcePath */
        src = berth_open_in_root(rootfd, path, O_RDONLY | O_DIRECTORY);
        if (src < 0) {
                if (errno == ENOENT || errno == ENOTDIR)
                        return 0;
                return berth_error_set(err, errno, "open `%s` in the rootfs", path);
        }
        dst = openat(v->dirfd, data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dst < 0)
                return berth_error_set(err, errno, "open volume `%s`", name);
        if (!dir_empty(dst) || fstat(src, &st) < 0)
                return 0;
        p = xcalloc(1, sizeof(*p));
        r = populate_dir(p, src, dst, 0, err);
        populate_release(p);
        free(p);
        if (r < 0)
                return berth_error_wrap(err, "copy `%s` of the image into volume `%s`", path, name);
        /* moby's copyOwnership: the volume's root takes the image directory's owner and mode */
        if (fchown(dst, st.st_uid, st.st_gid) < 0 || fchmod(dst, st.st_mode & 07777) < 0)
                return berth_error_set(err, errno, "volume `%s`: owner and mode", name);
        return 0;
}

/* ---------------------------------------------------------------- references */

static void add_ref(struct volume *vol, const char *container_id)
{
        for (char **p = vol->refs; p && *p; p++)
                if (!strcmp(*p, container_id))
                        return;
        strv_push(&vol->refs, container_id);
}

int volumes_get_or_create(struct daemon *d, const char *name, const char *container_id,
                          char **ret_name, char **ret_mountpoint, struct berth_error **err)
{
        struct berth_volumes *v = d->volumes;
        char rnd[65];
        _cleanup_json_ json_t *labels = NULL;
        if (!name || !*name) {
                berth_random_hex(rnd, 32);
                name = rnd;
                labels = json_pack("{s:s}", VOLUME_ANONYMOUS_LABEL, "");
        } else if (volumes_name_validate(name, err) < 0) {
                return -EINVAL;
        }
        pthread_mutex_lock(&v->lock);
        struct volume *vol;
        int r = create_locked(v, name, labels, NULL, &vol, err);
        if (r == 0)
                r = mount_locked(v, vol, err);
        if (r == 0) {
                add_ref(vol, container_id);
                if (ret_name)
                        *ret_name = xstrdup(name);
                *ret_mountpoint = mountpoint(v, name);
        }
        pthread_mutex_unlock(&v->lock);
        return r;
}

int volumes_ref(struct berth_volumes *v, const char *name, const char *container_id,
                struct berth_error **err)
{
        pthread_mutex_lock(&v->lock);
        struct volume *vol = find(v, name);
        int r = 0;
        if (vol && (r = mount_locked(v, vol, err)) == 0)
                add_ref(vol, container_id);
        pthread_mutex_unlock(&v->lock);
        if (!vol)
                return berth_error_setx(err, ENOENT, "get %s: no such volume", name);
        return r;
}

void volumes_unref_container(struct berth_volumes *v, const char *container_id)
{
        pthread_mutex_lock(&v->lock);
        for (struct volume *vol = v->list; vol; vol = vol->next) {
                size_t n = strv_length(vol->refs), j = 0;
                for (size_t i = 0; i < n; i++) {
                        if (!strcmp(vol->refs[i], container_id))
                                free(vol->refs[i]);
                        else
                                vol->refs[j++] = vol->refs[i];
                }
                if (vol->refs)
                        vol->refs[j] = NULL;
                if (n > 0 && j == 0)
                        unmount_locked(v, vol);
        }
        pthread_mutex_unlock(&v->lock);
}

int volumes_disk_usage(struct berth_volumes *v, json_t **ret, uint64_t *ret_total,
                       struct berth_error **err)
{
        json_t *out = json_array();
        uint64_t total = 0;
        pthread_mutex_lock(&v->lock);
        for (struct volume *vol = v->list; vol; vol = vol->next)
                json_array_append_new(out, volume_json(v, vol, true));
        pthread_mutex_unlock(&v->lock);
        size_t i;
        json_t *o;
        json_array_foreach(out, i, o) total += fill_size(o);
        *ret = out;
        if (ret_total)
                *ret_total = total;
        return 0;
}
