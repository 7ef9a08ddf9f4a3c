/* Exec instances: container_exec_create records an ExecConfig, container_exec_start runs it
 * under its own `berth-shim exec` (process.json from daemon_spec_exec_process) — detached, or
 * with the client's connection handed to the shim — and container_exec_inspect reports its exit.
 * The routes are in http/api-exec.c. */
#include "daemon/containers/containers.h"
#include "daemon/containers/lifecycle.h"
#include "daemon/daemon.h"
#include "daemon/state/events.h"
#include "daemon/spec/spec.h"
#include "shim/shim.h"

#include <poll.h>
#include <sqlite3.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

struct exec {
        struct exec *next;
        int refs;
        char id[65];
        struct containers *cs;
        struct container *c; /* referenced */
        json_t *config;      /* docker's ExecConfig */
        char *dir;           /* state dir: <container dir>/exec/<id> */
        bool started, running;
        int exit_code;
        pid_t pid;
        int shim_pidfd;
};

/* An exec's event as dockerd logs it: the container's attributes (name, image, labels) and the
 * execID (+ extra, taken); with_cmd: the action is "verb: ENTRYPOINT ARGS…" (dockerd joins the
 * arguments after a space even when there are none: "exec_create: sh "). */
static void exec_publish(struct exec *e, const char *verb, bool with_cmd, json_t *extra)
{
        json_t *attrs = json_pack("{s:s}", "execID", e->id);
        _cleanup_free_ char *action = NULL;

        if (extra) {
                json_object_update(attrs, extra);
                json_decref(extra);
        }
        if (with_cmd) {
                json_t *cmd = json_object_get(e->config, "Cmd");
                size_t i;
                json_t *v;
                _cleanup_free_ char *args = xstrdup("");
                json_array_foreach(cmd, i, v)
                {
                        if (i == 0)
                                continue;
                        char *more =
                            xasprintf("%s%s%s", args, i > 1 ? " " : "", json_string_value(v) ?: "");
                        free(args);
                        args = more;
                }
                action = xasprintf("%s: %s %s", verb,
                                   json_string_value(json_array_get(cmd, 0)) ?: "", args);
        }
        container_publish(e->cs, e->c, action ? action : verb, attrs);
}

/* ExecConfig's DetachKeys under any case: Go's JSON decoding matches field names so, and
 * docker-py sends "detachKeys" */
static json_t *detach_keys_field(const json_t *config)
{
        const char *k;
        json_t *v;

        json_object_foreach((json_t *)config, k, v)
        {
                if (strcasecmp(k, "DetachKeys") == 0)
                        return v;
        }
        return NULL;
}

static pthread_mutex_t exec_lock = PTHREAD_MUTEX_INITIALIZER;
static struct exec *execs;

static void exec_unref(struct exec *e)
{
        bool last;

        pthread_mutex_lock(&exec_lock);
        last = --e->refs == 0;
        if (last) {
                for (struct exec **p = &execs; *p; p = &(*p)->next) {
                        if (*p == e) {
                                *p = e->next;
                                break;
                        }
                }
        }
        pthread_mutex_unlock(&exec_lock);
        if (!last)
                return;
        container_unref(e->cs, e->c);
        json_decref(e->config);
        if (e->shim_pidfd >= 0)
                close(e->shim_pidfd);
        free(e->dir);
        free(e);
}

/* Forget the finished execs of removed containers (docker drops them with the container). */
static void exec_prune(struct containers *cs)
{
        struct exec *dead = NULL;

        pthread_mutex_lock(&exec_lock);
        for (struct exec **p = &execs; *p;) {
                struct exec *e = *p;
                bool gone;
                pthread_mutex_lock(&cs->lock);
                gone = e->c->removed;
                pthread_mutex_unlock(&cs->lock);
                if (gone && e->refs == 1 && !e->running) {
                        *p = e->next;
                        e->next = dead;
                        dead = e;
                        continue;
                }
                p = &e->next;
        }
        pthread_mutex_unlock(&exec_lock);
        while (dead) {
                struct exec *e = dead;
                dead = e->next;
                container_unref(e->cs, e->c);
                json_decref(e->config);
                if (e->shim_pidfd >= 0)
                        close(e->shim_pidfd);
                free(e->dir);
                free(e);
        }
}

/* execs survive a daemon restart as rows of the `execs` table (id, container, ExecConfig; the
 * state is the exec dir's: process.json once started, exit.json once exited) */
static void exec_persist(struct daemon *d, struct exec *e)
{
        _cleanup_free_ char *cfg = berth_json_dump(e->config, false);
        sqlite3_stmt *st = NULL;
        int rc;

        pthread_mutex_lock(&d->db_lock);
        rc = sqlite3_prepare_v2(d->db,
                                "INSERT OR REPLACE INTO execs (id, container_id, config, state) "
                                "VALUES (?, ?, ?, '{}')",
                                -1, &st, NULL);
        if (rc == SQLITE_OK) {
                sqlite3_bind_text(st, 1, e->id, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 2, e->c->id, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(st, 3, cfg, -1, SQLITE_TRANSIENT);
                rc = sqlite3_step(st);
        }
        if (rc != SQLITE_DONE)
                berth_warn("exec `%s`: not stored: %s", e->id, sqlite3_errmsg(d->db));
        sqlite3_finalize(st);
        pthread_mutex_unlock(&d->db_lock);
}

/* An exec of an earlier daemon run, back into the table (NULL when unknown). */
static struct exec *exec_restore(struct containers *cs, const char *id)
{
        struct daemon *d = cs->d;
        _cleanup_free_ char *cid = NULL, *cfg = NULL, *path = NULL;
        _cleanup_json_ json_t *ex = NULL;
        sqlite3_stmt *st = NULL;
        struct container *c;
        struct exec *e;

        if (strlen(id) != 64)
                return NULL;
        pthread_mutex_lock(&d->db_lock);
        if (sqlite3_prepare_v2(d->db, "SELECT container_id, config FROM execs WHERE id = ?", -1,
                               &st, NULL) == SQLITE_OK) {
                sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
                if (sqlite3_step(st) == SQLITE_ROW) {
                        cid = xstrdup((const char *)sqlite3_column_text(st, 0));
                        cfg = xstrdup((const char *)sqlite3_column_text(st, 1));
                }
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&d->db_lock);
        if (!cid || container_get(cs, cid, &c, NULL) < 0)
                return NULL;
        e = xcalloc(1, sizeof(*e));
        snprintf(e->id, sizeof(e->id), "%s", id);
        e->refs = 2; /* the table's and the caller's */
        e->cs = cs;
        e->c = c;
        e->config = json_loads(cfg, 0, NULL) ?: json_object();
        e->dir = xasprintf("%s/exec/%s", c->dir, e->id);
        e->shim_pidfd = -1;
        path = xasprintf("%s/process.json", e->dir);
        e->started = access(path, F_OK) == 0;
        free(TAKE_PTR(path));
        path = xasprintf("%s/%s", e->dir, BERTH_SHIM_EXIT_FILE);
        ex = berth_json_load_at(AT_FDCWD, path, 0, NULL);
        e->running = e->started && !ex;
        e->exit_code = ex ? (int)json_integer_value(json_object_get(ex, "exit_code")) : 0;
        pthread_mutex_lock(&exec_lock);
        for (struct exec *o = execs; o; o = o->next) {
                if (strcmp(o->id, id) == 0) { /* restored meanwhile by another request */
                        o->refs++;
                        pthread_mutex_unlock(&exec_lock);
                        container_unref(cs, c);
                        json_decref(e->config);
                        free(e->dir);
                        free(e);
                        return o;
                }
        }
        e->next = execs;
        execs = e;
        pthread_mutex_unlock(&exec_lock);
        return e;
}

static struct exec *exec_get(struct containers *cs, const char *id)
{
        struct exec *found = NULL;

        pthread_mutex_lock(&exec_lock);
        for (struct exec *e = execs; e; e = e->next) {
                if (strcmp(e->id, id) == 0) {
                        found = e;
                        e->refs++;
                        break;
                }
        }
        pthread_mutex_unlock(&exec_lock);
        return found ?: exec_restore(cs, id);
}

int container_exec_create(struct containers *cs, const char *ref, json_t *body, char **ret_id,
                          struct berth_error **err)
{
        struct container *c;
        struct exec *e;
        json_t *cmd;
        int r;

        cmd = json_object_get(body, "Cmd");
        if (!json_is_array(cmd) || json_array_size(cmd) == 0)
                return berth_error_setx(err, EINVAL, "No exec command specified");
        json_t *dk = detach_keys_field(body);
        if (dk && !json_is_null(dk) && !json_is_string(dk))
                return berth_error_setx(err, EINVAL, "DetachKeys must be a string");
        _cleanup_json_ json_t *keys = container_detach_keys_parse(json_string_value(dk));
        if (!keys)
                return berth_error_setx(err, EINVAL, "Invalid escape keys (%s) provided",
                                        json_string_value(dk));
        exec_prune(cs);
        r = container_get(cs, ref, &c, err);
        if (r < 0)
                return r;
        pthread_mutex_lock(&cs->lock);
        if (c->status != CONTAINER_RUNNING) {
                bool paused = c->status == CONTAINER_PAUSED;
                pthread_mutex_unlock(&cs->lock);
                r = berth_error_setx(err, EBUSY,
                                     paused ? "Container %s is paused, unpause the container "
                                              "before exec"
                                            : "Container %s is not running",
                                     paused ? ref : c->id);
                container_unref(cs, c);
                return r;
        }
        pthread_mutex_unlock(&cs->lock);
        e = xcalloc(1, sizeof(*e));
        berth_random_hex(e->id, 32);
        e->refs = 1; /* the table's, dropped by exec_prune once the container is removed */
        e->cs = cs;
        e->c = c;
        e->config = json_incref(body);
        e->dir = xasprintf("%s/exec/%s", c->dir, e->id);
        e->shim_pidfd = -1;
        e->exit_code = 0;
        pthread_mutex_lock(&exec_lock);
        e->next = execs;
        execs = e;
        pthread_mutex_unlock(&exec_lock);
        exec_persist(cs->d, e);
        exec_publish(e, "exec_create", true, NULL);
        *ret_id = xstrdup(e->id);
        return 0;
}

int container_exec_get(struct containers *cs, const char *id, struct exec **ret,
                       struct berth_error **err)
{
        struct exec *e = exec_get(cs, id);

        if (!e)
                return berth_error_setx(err, ENOENT, "No such exec instance: %s", id);
        *ret = e;
        return 0;
}

void container_exec_unref(struct exec *e)
{
        exec_unref(e);
}

int container_exec_shim_create(struct containers *cs, struct container *c, json_t *cfg,
                               const char *dir, bool want_stdin, bool tty, int timeout_ms,
                               int *ret_ctl, pid_t *ret_shim_pid, struct berth_error **err)
{
        _cleanup_json_ json_t *spec = NULL, *proc = NULL, *msg = NULL;
        _cleanup_free_ char *spec_path = xasprintf("%s/config.json", c->dir);
        _cleanup_free_ char *proc_path = xasprintf("%s/process.json", dir);
        _cleanup_free_ char *text = NULL;
        _cleanup_strv_ char **argv = NULL;
        _cleanup_close_ int dfd = -1, ctl = -1, ctl_child = -1;
        int sp[2], r;

        spec = berth_json_load_at(AT_FDCWD, spec_path, 0, err);
        if (!spec)
                return -EIO;
        r = daemon_spec_exec_process(cfg, spec, container_host_cfg(c, "GroupAdd"), c->rootfs, &proc,
                                     err);
        if (r < 0)
                return r;
        r = berth_mkdir_p(dir, 0700, err);
        if (r < 0)
                return r;
        dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return berth_error_set(err, errno, "open `%s`", dir);
        text = berth_json_dump(proc, false);
        r = berth_write_atomic_at(dfd, "process.json", text, strlen(text), err);
        if (r < 0)
                return r;
        unlinkat(dfd, BERTH_SHIM_EXIT_FILE, 0);
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
                return berth_error_set(err, errno, "socketpair");
        ctl = sp[0];
        ctl_child = sp[1];
        strv_push(&argv, "berth-shim");
        strv_push(&argv, "exec");
        strv_push(&argv, "--id");
        strv_push(&argv, c->id);
        strv_push(&argv, "--state");
        strv_push(&argv, dir);
        r = container_rt_shim_args(cs, c, &argv, err);
        if (r < 0)
                return r;
        strv_push(&argv, "--process");
        strv_push(&argv, proc_path);
        if (want_stdin)
                strv_push(&argv, "--stdin");
        if (tty)
                strv_push(&argv, "--tty");
        r = container_shim_spawn(cs, argv, ctl_child, err);
        close(TAKE_FD(ctl_child));
        if (r < 0)
                return r;
        r = container_shim_recv(ctl, timeout_ms, &msg, err);
        if (r < 0)
                return r;
        *ret_shim_pid =
            (pid_t)json_integer_value(json_object_get(json_object_get(msg, "created"), "shim_pid"));
        *ret_ctl = TAKE_FD(ctl);
        return 0;
}

/* Prepare process.json, spawn the exec shim, hand it attach_fd (may be -1), start. */
static int exec_launch(struct exec *e, bool tty, int attach_fd, json_t *attach_msg,
                       json_t *console_size, struct berth_error **err)
{
        _cleanup_json_ json_t *msg = NULL, *cfg = NULL;
        _cleanup_close_ int ctl = -1;
        bool want_stdin = json_is_true(json_object_get(e->config, "AttachStdin"));
        pid_t shim_pid;
        int r;

        cfg = json_deep_copy(e->config);
        json_object_set_new(cfg, "Tty", json_boolean(tty));
        r = container_exec_shim_create(e->cs, e->c, cfg, e->dir, want_stdin && attach_fd >= 0, tty,
                                       60000, &ctl, &shim_pid, err);
        if (r < 0)
                return r;
        if (attach_fd >= 0) {
                int notify = container_watch_detach(e->cs, e->c, e->id);
                int fds[2] = {attach_fd, notify};
                r = container_shim_send_fds(ctl, attach_msg, fds, notify >= 0 ? 2 : 1, err);
                if (notify >= 0)
                        close(notify);
                if (r < 0)
                        return -EIO;
        }
        if (tty && json_array_size(console_size) == 2) {
                msg = json_pack("{s:{s:O,s:O}}", "resize", "h", json_array_get(console_size, 0),
                                "w", json_array_get(console_size, 1));
                container_shim_send(ctl, msg, -1, NULL);
                json_decref(TAKE_PTR(msg));
        }
        pthread_mutex_lock(&exec_lock);
        e->shim_pidfd = (int)syscall(SYS_pidfd_open, shim_pid, 0);
        e->started = true;
        e->running = true;
        pthread_mutex_unlock(&exec_lock);
        msg = json_pack("{s:b}", "start", true);
        r = container_shim_send(ctl, msg, -1, err);
        json_decref(TAKE_PTR(msg));
        if (r >= 0)
                r = container_shim_recv(ctl, 60000, &msg, err);
        if (r < 0) {
                struct berth_error *cause = err ? TAKE_PTR(*err) : NULL;
                pthread_mutex_lock(&exec_lock);
                e->running = false;
                e->exit_code = 126;
                pthread_mutex_unlock(&exec_lock);
                /* the runtime refused to start the process (no such binary, no such working
                 * directory): dockerd's words for it, which scripts match */
                static const char runc_prefix[] = "unable to start container process: ";
                const char *why = cause && cause->msg ? cause->msg : "unknown error";
                /* the runtime words its own failures as runc does, prefix included */
                if (!strncmp(why, runc_prefix, sizeof(runc_prefix) - 1))
                        why += sizeof(runc_prefix) - 1;
                berth_error_setx(err, cause ? cause->code : EIO,
                                 "OCI runtime exec failed: exec failed: %s%s: unknown", runc_prefix,
                                 why);
                berth_error_free(cause);
                return r;
        }
        pthread_mutex_lock(&exec_lock);
        e->pid = (pid_t)json_integer_value(json_object_get(json_object_get(msg, "started"), "pid"));
        pthread_mutex_unlock(&exec_lock);
        return 0;
}

/* Collect the exit once the shim wrote exit.json (or is gone). wait: block until then. */
static void exec_collect(struct exec *e, bool wait)
{
        _cleanup_free_ char *path = xasprintf("%s/%s", e->dir, BERTH_SHIM_EXIT_FILE);
        _cleanup_json_ json_t *ex = NULL;
        int fd;

        pthread_mutex_lock(&exec_lock);
        fd = e->running ? e->shim_pidfd : -1;
        if (e->running && fd < 0) {
                /* restored after a daemon restart: its shim is not watched, exit.json tells */
                ex = berth_json_load_at(AT_FDCWD, path, 0, NULL);
                if (ex) {
                        e->running = false;
                        e->exit_code = (int)json_integer_value(json_object_get(ex, "exit_code"));
                }
        }
        pthread_mutex_unlock(&exec_lock);
        if (fd < 0)
                return;
        if (wait) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                while (poll(&p, 1, -1) < 0 && errno == EINTR)
                        ;
        }
        ex = berth_json_load_at(AT_FDCWD, path, 0, NULL);
        if (!ex) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                if (poll(&p, 1, 0) <= 0)
                        return; /* still running */
        }
        pthread_mutex_lock(&exec_lock);
        if (e->running) {
                e->running = false;
                e->exit_code = ex ? (int)json_integer_value(json_object_get(ex, "exit_code")) : 126;
        }
        pthread_mutex_unlock(&exec_lock);
}

static void *exec_wait_thread(void *p)
{
        struct exec *e = p;
        char code[16];

        exec_collect(e, true);
        pthread_mutex_lock(&exec_lock);
        snprintf(code, sizeof(code), "%d", e->exit_code);
        pthread_mutex_unlock(&exec_lock);
        exec_publish(e, "exec_die", false, json_pack("{s:s}", "exitCode", code));
        exec_unref(e);
        return NULL;
}

static void spawn_waiter(struct exec *e)
{
        pthread_mutex_lock(&exec_lock);
        e->refs++;
        pthread_mutex_unlock(&exec_lock);
        if (berth_thread_spawn_detached(exec_wait_thread, e) < 0) {
                /* out of threads: inspect still collects the exit (exec_collect), only the
                 * exec_die event is lost */
                berth_warn("exec `%s`: cannot start a thread to wait for it", e->id);
                exec_unref(e);
        }
}

/* The exec never ran (exec_launch failed): it is done, with dockerd's exit code for a process
 * that could not be started, so /exec/{id}/json reports it and the CLI exits with it. */
static void exec_failed(struct exec *e)
{
        pthread_mutex_lock(&exec_lock);
        e->started = true;
        e->running = false;
        e->exit_code = 126;
        pthread_mutex_unlock(&exec_lock);
}

int container_exec_start_prepare(struct exec *e, struct berth_error **err)
{
        pthread_mutex_lock(&exec_lock);
        if (e->started) {
                pthread_mutex_unlock(&exec_lock);
                return berth_error_setx(err, EBUSY, "Exec %s has already been started", e->id);
        }
        pthread_mutex_unlock(&exec_lock);
        if (!container_is_running(e->cs, e->c))
                return berth_error_setx(err, EBUSY, "Container %s is not running", e->c->id);
        pthread_mutex_lock(&e->cs->lock);
        bool paused = e->c->status == CONTAINER_PAUSED;
        pthread_mutex_unlock(&e->cs->lock);
        if (paused)
                /* paused after the exec was made: dockerd's getExecConfig refuses it too */
                return berth_error_setx(err, EBUSY,
                                        "Container %s is paused, unpause the container before exec",
                                        e->c->id);
        exec_publish(e, "exec_start", true, NULL);
        return 0;
}

bool container_exec_tty(struct exec *e)
{
        return json_is_true(json_object_get(e->config, "Tty"));
}

int container_exec_start(struct exec *e, bool tty, int attach_fd, json_t *console_size,
                         struct berth_error **err)
{
        _cleanup_json_ json_t *msg = NULL;

        if (attach_fd >= 0) {
                /* checked at create */
                json_t *keys =
                    container_detach_keys_parse(json_string_value(detach_keys_field(e->config)));
                msg =
                    json_pack("{s:{s:b,s:b,s:b,s:b,s:o*}}", "attach", "stdin",
                              json_is_true(json_object_get(e->config, "AttachStdin")), "stdout",
                              !json_is_false(json_object_get(e->config, "AttachStdout")), "stderr",
                              !json_is_false(json_object_get(e->config, "AttachStderr")), "raw",
                              tty, "detach_keys", keys);
        }
        int r = exec_launch(e, tty, attach_fd, msg, console_size, err);
        if (r < 0) {
                exec_failed(e);
                return r;
        }
        spawn_waiter(e);
        return 0;
}

int container_exec_resize(struct exec *e, long long h, long long w, struct berth_error **err)
{
        /* the exec shim serves attach.sock in its state dir like the container's */
        _cleanup_json_ json_t *msg =
            json_pack("{s:{s:I,s:I}}", "resize", "h", (json_int_t)h, "w", (json_int_t)w);
        struct container fake = {.state_dir = e->dir, .id = e->c->id};

        return container_shim_request(&fake, msg, err);
}

json_t *container_exec_inspect(struct exec *e)
{
        json_t *cfg, *j, *cmd;
        json_t *args;

        exec_collect(e, false);
        cfg = e->config;
        /* docker shows the keys given at create as the bytes (a Go []byte: base64) */
        const char *dk = json_string_value(detach_keys_field(cfg));
        _cleanup_free_ char *dk64 = NULL;
        if (dk && *dk) {
                _cleanup_json_ json_t *keys = container_detach_keys_parse(dk);
                _cleanup_free_ unsigned char *bytes = xmalloc(json_array_size(keys) + 1);
                size_t i;
                json_t *k;
                json_array_foreach(keys, i, k)
                {
                        bytes[i] = (unsigned char)json_integer_value(k);
                }
                dk64 = berth_base64_encode(bytes, json_array_size(keys));
        }
        cmd = json_object_get(cfg, "Cmd");
        args = json_deep_copy(cmd);
        json_array_remove(args, 0);
        pthread_mutex_lock(&exec_lock);
        j = json_pack(
            "{s:s,s:b,s:b,s:b,s:b,s:b,s:s,s:s,s:{s:b,s:O,s:o,s:b,s:s},s:i,s:n}", "ID", e->id,
            "Running", e->running, "OpenStdin", json_is_true(json_object_get(cfg, "AttachStdin")),
            "OpenStdout", !json_is_false(json_object_get(cfg, "AttachStdout")), "OpenStderr",
            !json_is_false(json_object_get(cfg, "AttachStderr")), "CanRemove", false, "ContainerID",
            e->c->id, "DetachKeys", dk64 ? dk64 : "", "ProcessConfig", "tty",
            json_is_true(json_object_get(cfg, "Tty")), "entrypoint", json_array_get(cmd, 0),
            "arguments", args, "privileged", json_is_true(json_object_get(cfg, "Privileged")),
            "user", json_string_value(json_object_get(cfg, "User")) ?: "", "Pid", (int)e->pid,
            "ExitCode");
        if (!e->running && e->started)
                json_object_set_new(j, "ExitCode", json_integer(e->exit_code));
        pthread_mutex_unlock(&exec_lock);
        return j;
}
