/* Container state on disk: <root>/<id>/state.json, written atomically, read by every verb. */
#include "runtime/internal.h"

#include <sys/stat.h>

static const char *root_of(const struct berth_runtime *rt)
{
        return rt && rt->root ? rt->root : BERTH_RUNTIME_DEFAULT_ROOT;
}

int state_dir_create(const struct berth_runtime *rt, const char *id, int *ret_dirfd,
                     struct berth_error **err)
{
        const char *root = root_of(rt);
        _cleanup_close_ int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0 && errno == ENOENT) {
                if (berth_mkdir_p(root, 0700, err) < 0)
                        return berth_error_wrap(err, "state root");
                rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        }
        if (rootfd < 0)
                return berth_error_set(err, errno, "open state root `%s`", root);
        if (mkdirat(rootfd, id, 0700) < 0) {
                if (errno == EEXIST)
                        return berth_error_setx(err, EEXIST, "container `%s` already exists", id);
                return berth_error_set(err, errno, "create state dir `%s/%s`", root, id);
        }
        int fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                int r = berth_error_set(err, errno, "open state dir `%s/%s`", root, id);
                unlinkat(rootfd, id, AT_REMOVEDIR);
                return r;
        }
        *ret_dirfd = fd;
        return 0;
}

json_t *state_to_json(const struct state *st, const char *status)
{
        json_t *j = json_object();
        json_object_set_new(j, "ociVersion", json_string("1.2.0"));
        json_object_set_new(j, "id", json_string(st->id));
        json_object_set_new(j, "status", json_string(status));
        json_object_set_new(j, "pid", json_integer(strcmp(status, "stopped") ? st->pid : 0));
        json_object_set_new(j, "bundle", json_string(st->bundle));
        json_object_set_new(j, "rootfs", json_string(st->rootfs));
        json_object_set_new(j, "created", json_string(st->created));
        if (st->annotations && json_object_size(st->annotations))
                json_object_set(j, "annotations", st->annotations);
        json_object_set_new(j, "owner", json_string(""));
        return j;
}

int state_save(int dirfd, const struct state *st, struct berth_error **err)
{
        _cleanup_json_ json_t *j = state_to_json(st, "created");
        json_object_set_new(j, "pid", json_integer(st->pid));
        json_t *priv = json_object();
        json_object_set_new(priv, "start_time", json_integer((json_int_t)st->start_time));
        if (st->has_cgroup && st->cg_path) {
                json_object_set_new(priv, "cgroup_mode", json_integer(st->cg_mode));
                json_object_set_new(priv, "cgroup_path", json_string(st->cg_path));
                json_object_set_new(priv, "cgroup_v1_mask", json_integer(st->cg_v1_mask));
        }
        json_object_set_new(j, "berth", priv);
        _cleanup_free_ char *data = berth_json_dump(j, false);
        return berth_write_atomic_at(dirfd, "state.json", data, strlen(data), err);
}

int state_load(const struct berth_runtime *rt, const char *id, struct state **ret_state,
               int *ret_dirfd, struct berth_error **err)
{
        if (berth_id_validate(id, err) < 0)
                return -EINVAL;
        _cleanup_free_ char *dir = xasprintf("%s/%s", root_of(rt), id);
        _cleanup_close_ int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dirfd < 0) {
                if (errno == ENOENT)
                        return berth_error_setx(err, ENOENT, "container `%s` does not exist", id);
                return berth_error_set(err, errno, "open `%s`", dir);
        }
        _cleanup_error_ struct berth_error *lerr = NULL;
        _cleanup_json_ json_t *j = berth_json_load_at(dirfd, "state.json", 0, &lerr);
        if (!j) {
                /* a state dir without state.json is a create that is still running or crashed */
                if (lerr->code == ENOENT)
                        return berth_error_setx(err, ENOENT, "container `%s` does not exist", id);
                return berth_error_setx(err, lerr->code, "container `%s`: %s", id, lerr->msg);
        }
        struct state *st = xcalloc(1, sizeof(*st));
        st->id = xstrdup(id);
        st->pid = (pid_t)json_integer_value(json_object_get(j, "pid"));
        st->bundle = xstrdup(berth_json_get_str(j, "bundle") ?: "");
        st->rootfs = xstrdup(berth_json_get_str(j, "rootfs") ?: "");
        st->created = xstrdup(berth_json_get_str(j, "created") ?: "");
        json_t *a = json_object_get(j, "annotations");
        st->annotations = a ? json_incref(a) : json_object();
        json_t *priv = json_object_get(j, "berth");
        st->start_time = (uint64_t)json_integer_value(json_object_get(priv, "start_time"));
        json_t *path = json_object_get(priv, "cgroup_path");
        if (json_is_string(path)) {
                st->has_cgroup = true;
                st->cg_path = xstrdup(json_string_value(path));
                st->cg_mode =
                    (enum cgroup_mode)json_integer_value(json_object_get(priv, "cgroup_mode"));
                st->cg_v1_mask =
                    (uint32_t)json_integer_value(json_object_get(priv, "cgroup_v1_mask"));
        }
        *ret_state = st;
        if (ret_dirfd)
                *ret_dirfd = TAKE_FD(dirfd);
        return 0;
}

uint64_t proc_start_time(pid_t pid)
{
        char path[64], buf[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        /* comm may hold spaces and parentheses: fields start after the last ')' */
        char *p = strrchr(buf, ')');
        if (!p)
                return 0;
        p++;
        /* after ')' come fields 3..; start time is field 22, the 20th from here; zombies
         * (state Z) count as exited */
        char *save = NULL;
        int field = 3;
        for (char *t = strtok_r(p, " ", &save); t; t = strtok_r(NULL, " ", &save), field++) {
                if (field == 3 && (t[0] == 'Z' || t[0] == 'X'))
                        return 0;
                if (field == 22)
                        return strtoull(t, NULL, 10);
        }
        return 0;
}

const char *state_status(const struct state *st, int dirfd)
{
        if (st->pid <= 0 || proc_start_time(st->pid) != st->start_time)
                return "stopped";
        if (faccessat(dirfd, STATE_FIFO, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                return "created";
        if (st->has_cgroup) {
                _cleanup_(cgroup_freep) struct cgroup *cg = NULL;
                if (cgroup_load(st->cg_mode, st->cg_path, st->cg_v1_mask, &cg, NULL) == 0 &&
                    cgroup_is_frozen(cg))
                        return "paused";
        }
        return "running";
}

int state_remove(const struct berth_runtime *rt, const char *id, struct berth_error **err)
{
        _cleanup_close_ int rootfd = open(root_of(rt), O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return berth_error_set(err, errno, "open state root `%s`", root_of(rt));
        return berth_rm_rf_at(rootfd, id, err);
}

void state_free(struct state *st)
{
        if (!st)
                return;
        free(st->id);
        free(st->bundle);
        free(st->rootfs);
        free(st->created);
        json_decref(st->annotations);
        free(st->cg_path);
        free(st);
}
