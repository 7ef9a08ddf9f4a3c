/* The runtime driver: the one place that decides whether a container runs under the built-in
 * runtime library (in its shim, and called in-process here for kill, pause, update, pids) or
 * under an OCI runtime binary of daemon.json (its HostConfig.Runtime), which the shim and berthd
 * run with runc's command line. The rest of containers/ calls these functions and never the
 * runtime library for a container's state. */
#include "daemon/containers/containers.h"
#include "daemon/containers/lifecycle.h"
#include "daemon/daemon.h"
#include "runtime/runtime.h"

#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>

#define OUTPUT_MAX (64u * 1024)

/* The runtime c names, *ret NULL for the built-in one; borrowed from *ret_rts, the daemon's
 * runtimes referenced for the caller (a reload may replace them meanwhile). */
static int runtime_of(struct containers *cs, struct container *c, struct daemon_runtimes **ret_rts,
                      const struct daemon_runtime **ret, struct berth_error **err)
{
        *ret_rts = daemon_runtimes_get(cs->d);
        return daemon_runtime_lookup(*ret_rts, json_string_value(container_host_cfg(c, "Runtime")),
                                     ret, err);
}

static struct berth_runtime builtin(struct containers *cs)
{
        return (struct berth_runtime){.root = cs->d->runtime_root};
}

/* The state root of an external runtime: its own directory beside the built-in one's. */
static char *external_root(struct containers *cs, const struct daemon_runtime *rt)
{
        return xasprintf("%s/oci-%s", cs->d->runtime_root, rt->name);
}

/* The last "msg" of runc's json log lines on its stderr (or the text itself). */
static char *runtime_message(char *out)
{
        char *found = NULL, *save = NULL;
        for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                _cleanup_json_ json_t *j = json_loads(line, 0, NULL);
                const char *msg = j ? berth_json_get_str(j, "msg") : line;
                if (msg && *msg) {
                        free(found);
                        found = xstrdup(msg);
                }
        }
        return found;
}

/* Run `<path> --root R --log-format json [args] verb…` with input (may be NULL) on its stdin;
 * its stderr makes the error of a failure. */
static int external_run(struct containers *cs, const struct daemon_runtime *rt, char **verb,
                        const char *input, struct berth_error **err)
{
        _cleanup_strv_ char **argv = NULL;
        _cleanup_free_ char *root = external_root(cs, rt);
        _cleanup_free_ char *out = xmalloc(OUTPUT_MAX + 1);
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        int in[2] = {-1, -1}, errp[2];
        size_t len = 0;
        pid_t pid;
        int r, status;

        strv_push(&argv, rt->path);
        strv_push(&argv, "--root");
        strv_push(&argv, root);
        strv_push(&argv, "--log-format");
        strv_push(&argv, "json");
        for (size_t i = 0; rt->args && rt->args[i]; i++)
                strv_push(&argv, rt->args[i]);
        for (size_t i = 0; verb[i]; i++)
                strv_push(&argv, verb[i]);
        if (pipe2(errp, O_CLOEXEC) < 0)
                return berth_error_set(err, errno, "pipe");
        if (input && pipe2(in, O_CLOEXEC) < 0) {
                r = berth_error_set(err, errno, "pipe");
                close(errp[0]);
                close(errp[1]);
                return r;
        }
        posix_spawn_file_actions_init(&fa);
        if (input)
                posix_spawn_file_actions_adddup2(&fa, in[0], 0);
        else
                posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
        container_spawnattr_init(&attr);
        r = posix_spawn(&pid, rt->path, &fa, &attr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        close(errp[1]);
        if (input)
                close(in[0]);
        if (r != 0) {
                close(errp[0]);
                if (input)
                        close(in[1]);
                return berth_error_set(err, r, "run runtime `%s` (`%s`)", rt->name, rt->path);
        }
        if (input) {
                /* a resources object: far below a pipe's capacity */
                if (write(in[1], input, strlen(input)) < 0)
                        berth_warn("runtime `%s`: write its input: %s", rt->name, strerror(errno));
                close(in[1]);
        }
        for (;;) {
                ssize_t n = read(errp[0], out + len, OUTPUT_MAX - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t)n;
                if (len == OUTPUT_MAX)
                        len = 0; /* keep the tail: the error is the last line */
        }
        out[len] = '\0';
        close(errp[0]);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return berth_error_set(err, errno, "wait for runtime `%s`", rt->name);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        _cleanup_free_ char *msg = runtime_message(out);
        if (msg)
                return berth_error_setx(err, EIO, "runtime `%s` %s: %s", rt->name, verb[0], msg);
        return berth_error_setx(err, EIO, "runtime `%s` %s: %s %d", rt->name, verb[0],
                                WIFEXITED(status) ? "exit status" : "killed by signal",
                                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

int container_rt_shim_args(struct containers *cs, struct container *c, char ***argv,
                           struct berth_error **err)
{
        _cleanup_(daemon_runtimes_putp) struct daemon_runtimes *rts = NULL;
        const struct daemon_runtime *rt;

        if (runtime_of(cs, c, &rts, &rt, err) < 0)
                return -EINVAL;
        strv_push(argv, "--runtime-root");
        if (!rt) {
                strv_push(argv, cs->d->runtime_root);
                return 0;
        }
        _cleanup_free_ char *root = external_root(cs, rt);
        strv_push(argv, root);
        strv_push(argv, "--runtime-path");
        strv_push(argv, rt->path);
        for (size_t i = 0; rt->args && rt->args[i]; i++) {
                strv_push(argv, "--runtime-arg");
                strv_push(argv, rt->args[i]);
        }
        return 0;
}

int container_rt_check(struct containers *cs, struct container *c, struct berth_error **err)
{
        _cleanup_(daemon_runtimes_putp) struct daemon_runtimes *rts = NULL;
        const struct daemon_runtime *rt;

        return runtime_of(cs, c, &rts, &rt, err);
}

int container_rt_spec_adjust(struct containers *cs, struct container *c, json_t *spec,
                             struct berth_error **err)
{
        _cleanup_(daemon_runtimes_putp) struct daemon_runtimes *rts = NULL;
        const struct daemon_runtime *rt;

        if (runtime_of(cs, c, &rts, &rt, err) < 0)
                return -EINVAL;
        if (rt)
                json_object_set_new(spec, "ociVersion", json_string("1.0.2-dev"));
        return 0;
}

int container_rt_kill(struct containers *cs, struct container *c, int sig, struct berth_error **err)
{
        _cleanup_(daemon_runtimes_putp) struct daemon_runtimes *rts = NULL;
        const struct daemon_runtime *rt;
        char signum[16];

        if (runtime_of(cs, c, &rts, &rt, err) < 0)
                return -EINVAL;
        if (!rt) {
                struct berth_runtime b = builtin(cs);
                return berth_container_kill(&b, c->id, sig, false, err);
        }
        snprintf(signum, sizeof(signum), "%d", sig);
        char *verb[] = {"kill", c->id, signum, NULL};
        return external_run(cs, rt, verb, NULL, err);
}

int container_rt_pause(struct containers *cs, struct container *c, bool pause,
                       struct berth_error **err)
{
        _cleanup_(daemon_runtimes_putp) struct daemon_runtimes *rts = NULL;
        const struct daemon_runtime *rt;

        if (runtime_of(cs, c, &rts, &rt, err) < 0)
                return -EINVAL;
        if (!rt) {
                struct berth_runtime b = builtin(cs);
                return berth_container_pause(&b, c->id, pause, err);
        }
        char *verb[] = {pause ? "pause" : "resume", c->id, NULL};
        return external_run(cs, rt, verb, NULL, err);
}

void container_rt_delete(struct containers *cs, struct container *c)
{
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_(daemon_runtimes_putp) struct daemon_runtimes *rts = NULL;
        const struct daemon_runtime *rt;

        if (runtime_of(cs, c, &rts, &rt, &err) < 0)
                return;
        if (!rt) {
                struct berth_runtime b = builtin(cs);
                berth_container_delete(&b, c->id, true, NULL);
                return;
        }
        /* the shim deletes it when the container exits: this only mops up after a shim that
         * died, so "does not exist" is the usual answer */
        char *verb[] = {"delete", "--force", c->id, NULL};
        if (external_run(cs, rt, verb, NULL, &err) < 0)
                berth_debug("container `%.12s`: %s", c->id, err->msg);
}

int container_rt_update(struct containers *cs, struct container *c, json_t *resources,
                        struct berth_error **err)
{
        _cleanup_(daemon_runtimes_putp) struct daemon_runtimes *rts = NULL;
        const struct daemon_runtime *rt;

        if (runtime_of(cs, c, &rts, &rt, err) < 0)
                return -EINVAL;
        if (!rt) {
                struct berth_runtime b = builtin(cs);
                return berth_container_update(&b, c->id, resources, err);
        }
        _cleanup_free_ char *text = berth_json_dump(resources, false);
        char *verb[] = {"update", "--resources", "-", c->id, NULL};
        return external_run(cs, rt, verb, text, err);
}

/* linux.cgroupsPath of c's config.json (NULL when unset): where an external runtime put it. */
static char *cgroups_path_of(struct container *c, struct berth_error **err)
{
        _cleanup_free_ char *path = xasprintf("%s/config.json", c->dir);
        _cleanup_json_ json_t *spec = berth_json_load_at(AT_FDCWD, path, 0, err);
        if (!spec)
                return NULL;
        const char *cg = berth_json_get_str(json_object_get(spec, "linux"), "cgroupsPath");
        return xstrdup(cg ? cg : "");
}

int container_rt_pids(struct containers *cs, struct container *c, pid_t **ret_pids, size_t *ret_n,
                      struct berth_error **err)
{
        _cleanup_(daemon_runtimes_putp) struct daemon_runtimes *rts = NULL;
        const struct daemon_runtime *rt;

        if (runtime_of(cs, c, &rts, &rt, err) < 0)
                return -EINVAL;
        if (!rt) {
                struct berth_runtime b = builtin(cs);
                return berth_container_pids(&b, c->id, ret_pids, ret_n, err);
        }
        _cleanup_free_ char *cg = cgroups_path_of(c, err);
        if (!cg)
                return -EIO;
        return berth_cgroup_pids(*cg ? cg : NULL, c->id, ret_pids, ret_n, err);
}

char *container_stats_cgroup(struct containers *cs, struct container *c)
{
        _cleanup_error_ struct berth_error *err = NULL;
        _cleanup_(daemon_runtimes_putp) struct daemon_runtimes *rts = NULL;
        const struct daemon_runtime *rt;

        if (runtime_of(cs, c, &rts, &rt, &err) < 0 || !rt)
                return NULL;
        char *cg = cgroups_path_of(c, &err);
        return cg ? cg : xstrdup("");
}

int containers_runtimes_check(struct containers *cs, const struct daemon_runtimes *next,
                              struct berth_error **err)
{
        const struct daemon_runtime *rt;
        int r = 0;

        if (!cs)
                return 0;
        pthread_mutex_lock(&cs->lock);
        for (size_t i = 0; i < cs->n && r == 0; i++) {
                struct container *c = cs->v[i];
                const char *name = json_string_value(container_host_cfg(c, "Runtime"));
                if (c->status != CONTAINER_RUNNING && c->status != CONTAINER_PAUSED &&
                    c->status != CONTAINER_RESTARTING)
                        continue;
                if (daemon_runtime_lookup(next, name, &rt, NULL) < 0)
                        r = berth_error_setx(err, EBUSY,
                                             "runtime `%s` is used by container `%.12s`, which "
                                             "runs",
                                             name, c->id);
        }
        pthread_mutex_unlock(&cs->lock);
        return r;
}
