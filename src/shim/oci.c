/* An external OCI runtime (runc, crun, … named in berthd's daemon.json) driven through its
 * command line, the way containerd's shim drives runc: `create` with the container's stdio
 * passed through (or --console-socket), `start`, `exec -d`, `delete --force`. The processes it
 * makes are reparented to the shim (a child subreaper), which reaps them as it reaps the
 * built-in runtime's. The runtime's own messages go to a json log in the state dir (its stderr
 * is the container's), from which a failure takes its error text.
 */
#include "runtime/runtime.h"
#include "shim/internal.h"

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define RUNTIME_LOG "runtime.log"

/* The last "msg" of level error (or the last line) of the runtime's json log, else NULL. */
static char *log_last_error(int state_fd)
{
        _cleanup_free_ char *data = NULL;
        if (berth_read_file_at(state_fd, RUNTIME_LOG, 1 << 20, &data, NULL, NULL) < 0)
                return NULL;
        char *found = NULL, *save = NULL;
        for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                _cleanup_json_ json_t *j = json_loads(line, 0, NULL);
                const char *msg = j ? berth_json_get_str(j, "msg") : line;
                const char *level = j ? berth_json_get_str(j, "level") : "error";
                if (msg && level && !strcmp(level, "error")) {
                        free(found);
                        found = xstrdup(msg);
                }
        }
        return found;
}

int shim_oci_run(struct shim *s, char **verb_args, struct berth_error **err)
{
        const struct shim_opts *o = s->opts;
        _cleanup_strv_ char **argv = NULL;
        _cleanup_free_ char *log = xasprintf("%s/%s", o->state, RUNTIME_LOG);
        strv_push(&argv, o->runtime_path);
        strv_push(&argv, "--root");
        strv_push(&argv, o->runtime_root);
        strv_push(&argv, "--log");
        strv_push(&argv, log);
        strv_push(&argv, "--log-format");
        strv_push(&argv, "json");
        for (size_t i = 0; o->runtime_args && o->runtime_args[i]; i++)
                strv_push(&argv, o->runtime_args[i]);
        for (size_t i = 0; verb_args[i]; i++)
                strv_push(&argv, verb_args[i]);
        unlinkat(s->state_fd, RUNTIME_LOG, 0);

        pid_t pid = fork();
        if (pid < 0)
                return berth_error_set(err, errno, "fork");
        if (pid == 0) {
                /* the runtime gets the stdio the caller installed and nothing else */
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                syscall(SYS_close_range, 3U, ~0U, 0U);
                execv(argv[0], argv);
                _exit(127);
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return berth_error_set(err, errno, "wait for `%s`", o->runtime_path);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        _cleanup_free_ char *msg = log_last_error(s->state_fd);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !msg)
                return berth_error_setx(err, ENOENT, "runtime `%s` could not be run",
                                        o->runtime_path);
        if (msg)
                return berth_error_setx(err, EIO, "%s %s: %s", o->runtime_path, verb_args[0], msg);
        if (WIFEXITED(status))
                return berth_error_setx(err, EIO, "%s %s: exit status %d", o->runtime_path,
                                        verb_args[0], WEXITSTATUS(status));
        return berth_error_setx(err, EIO, "%s %s: %s", o->runtime_path, verb_args[0],
                                strsignal(WTERMSIG(status)));
}

/* The pid the runtime wrote to the state dir's file name (then removed). */
static int read_pid(struct shim *s, const char *name, pid_t *ret_pid, struct berth_error **err)
{
        _cleanup_free_ char *data = NULL;
        uint64_t pid = 0;
        int r = berth_read_file_at(s->state_fd, name, 64, &data, NULL, err);
        unlinkat(s->state_fd, name, 0);
        if (r < 0)
                return r;
        data[strcspn(data, "\n")] = '\0';
        if (berth_parse_u64(data, &pid) < 0 || pid == 0 || pid > INT32_MAX)
                return berth_error_setx(err, EIO, "runtime wrote no pid to `%s`", name);
        *ret_pid = (pid_t)pid;
        return 0;
}

/* The console socket as another process reaches it: the shim binds it through
 * /proc/self/fd/<state dir> (state paths outgrow sun_path), which in the runtime's process is
 * /proc/<shim pid>/fd/<state dir>. NULL stays NULL. */
static char *console_path_for_runtime(const char *console_socket)
{
        if (!console_socket)
                return NULL;
        if (!strncmp(console_socket, "/proc/self/", 11))
                return xasprintf("/proc/%d/%s", (int)getpid(), console_socket + 11);
        return xstrdup(console_socket);
}

int shim_oci_create(struct shim *s, const char *console_socket, pid_t *ret_pid,
                    struct berth_error **err)
{
        const struct shim_opts *o = s->opts;
        _cleanup_free_ char *pid_file = xasprintf("%s/runtime.pid", o->state);
        _cleanup_free_ char *console = console_path_for_runtime(console_socket);
        _cleanup_strv_ char **args = NULL;
        strv_push(&args, "create");
        strv_push(&args, "--bundle");
        strv_push(&args, o->bundle);
        strv_push(&args, "--pid-file");
        strv_push(&args, pid_file);
        if (console) {
                strv_push(&args, "--console-socket");
                strv_push(&args, console);
        }
        strv_push(&args, o->id);
        if (shim_oci_run(s, args, err) < 0)
                return -EIO;
        if (read_pid(s, "runtime.pid", ret_pid, err) < 0) {
                shim_oci_delete(s);
                return -EIO;
        }
        return 0;
}

int shim_oci_start(struct shim *s, struct berth_error **err)
{
        char *args[] = {"start", (char *)s->opts->id, NULL};
        return shim_oci_run(s, args, err);
}

int shim_oci_exec(struct shim *s, const char *process, const char *console_socket, pid_t *ret_pid,
                  struct berth_error **err)
{
        const struct shim_opts *o = s->opts;
        _cleanup_free_ char *pid_file = xasprintf("%s/exec.pid", o->state);
        _cleanup_free_ char *console = console_path_for_runtime(console_socket);
        _cleanup_strv_ char **args = NULL;
        strv_push(&args, "exec");
        strv_push(&args, "--process");
        strv_push(&args, process);
        strv_push(&args, "--detach");
        strv_push(&args, "--pid-file");
        strv_push(&args, pid_file);
        if (console) {
                strv_push(&args, "--console-socket");
                strv_push(&args, console);
        }
        strv_push(&args, o->id);
        if (shim_oci_run(s, args, err) < 0)
                return -EIO;
        return read_pid(s, "exec.pid", ret_pid, err);
}

void shim_oci_delete(struct shim *s)
{
        char *args[] = {"delete", "--force", (char *)s->opts->id, NULL};
        _cleanup_error_ struct berth_error *err = NULL;
        if (shim_oci_run(s, args, &err) < 0)
                berth_warn("%s", err->msg);
}

bool shim_oci_oom_killed(struct shim *s)
{
        _cleanup_free_ char *cfg = xasprintf("%s/config.json", s->opts->bundle);
        _cleanup_json_ json_t *spec = berth_json_load_at(AT_FDCWD, cfg, 0, NULL);
        const char *cgpath = berth_json_get_str(json_object_get(spec, "linux"), "cgroupsPath");
        _cleanup_json_ json_t *data = NULL;
        if (!spec || berth_cgroup_stats(cgpath, s->opts->id, &data, NULL) < 0)
                return false;
        json_t *v = json_object_get(json_object_get(data, "memory"), "oomKill");
        return json_integer_value(v) > 0;
}
