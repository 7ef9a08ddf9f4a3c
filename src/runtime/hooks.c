/* OCI hooks: run with the container state as JSON on stdin, each bounded by its timeout.
 * A failing hook fails the operation it belongs to, with its exit status and output in the
 * message, the way runc reports it. */
#include "runtime/internal.h"

#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

static const char *const hook_names[HOOK_KINDS] = {
    "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"};

const char *hooks_name(enum spec_hook_kind k)
{
        return hook_names[k];
}

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int run_one(const struct spec_hook *h, char *const *default_env, const char *state,
                   size_t idx, const char *kind, struct berth_error **err)
{
        int in[2], out[2];
        if (pipe2(in, O_CLOEXEC) < 0)
                return berth_error_set(err, errno, "%s hook #%zu: pipe", kind, idx);
        if (pipe2(out, O_CLOEXEC) < 0) {
                int e = errno;
                close(in[0]);
                close(in[1]);
                return berth_error_set(err, e, "%s hook #%zu: pipe", kind, idx);
        }
        pid_t pid = fork();
        if (pid == 0) {
                dup2(in[0], 0);
                dup2(out[1], 1);
                dup2(out[1], 2);
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                char *const *argv =
                    h->args && h->args[0] ? h->args : (char *const[]){h->path, NULL};
                execve(h->path, argv,
                       h->env        ? h->env
                       : default_env ? default_env
                                     : (char *const[]){NULL});
                dprintf(2, "exec `%s`: %s", h->path, strerror(errno));
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        if (pid < 0) {
                close(in[1]);
                close(out[0]);
                return berth_error_set(err, errno, "%s hook #%zu: fork", kind, idx);
        }
        /* the state is small: one write, then EOF; a hook that does not read it may exit early */
        ssize_t w = write(in[1], state, strlen(state));
        (void)w;
        close(in[1]);
        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        int64_t deadline = h->timeout > 0 ? now_ms() + (int64_t)h->timeout * 1000 : -1;
        char output[1024];
        size_t olen = 0;
        bool timed_out = false, out_open = true;
        for (;;) {
                struct pollfd pf[2] = {{.fd = out_open ? out[0] : -1, .events = POLLIN},
                                       {.fd = pidfd, .events = POLLIN}};
                int wait = deadline < 0 ? -1 : (int)(deadline - now_ms());
                if (deadline >= 0 && wait <= 0) {
                        timed_out = true;
                        break;
                }
                int n = poll(pf, 2, wait);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n == 0) {
                        timed_out = true;
                        break;
                }
                if (pf[0].revents) {
                        char buf[512];
                        ssize_t r = read(out[0], buf, sizeof(buf));
                        if (r <= 0) {
                                out_open = false;
                        } else if (olen < sizeof(output) - 1) {
                                size_t take = (size_t)r < sizeof(output) - 1 - olen
                                                  ? (size_t)r
                                                  : sizeof(output) - 1 - olen;
                                memcpy(output + olen, buf, take);
                                olen += take;
                        }
                }
                if (pf[1].revents & POLLIN) {
                        /* exited: take what output is already there, do not wait for
                         * descendants that may still hold the pipe */
                        char buf[512];
                        ssize_t r;
                        while (olen < sizeof(output) - 1 &&
                               poll(&(struct pollfd){.fd = out[0], .events = POLLIN}, 1, 0) > 0 &&
                               (r = read(out[0], buf,
                                         sizeof(buf) - 1 < sizeof(output) - 1 - olen
                                             ? sizeof(buf) - 1
                                             : sizeof(output) - 1 - olen)) > 0) {
                                memcpy(output + olen, buf, (size_t)r);
                                olen += (size_t)r;
                        }
                        break;
                }
                if (pidfd < 0 && !out_open)
                        break;
        }
        if (timed_out)
                kill(pid, SIGKILL);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        close(out[0]);
        if (pidfd >= 0)
                close(pidfd);
        output[olen] = '\0';
        while (olen > 0 && (output[olen - 1] == '\n' || output[olen - 1] == '\r'))
                output[--olen] = '\0';
        if (timed_out)
                return berth_error_setx(err, ETIMEDOUT,
                                        "error running %s hook #%zu `%s`: timed out "
                                        "after %d s",
                                        kind, idx, h->path, h->timeout);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                char how[64];
                if (WIFEXITED(status))
                        snprintf(how, sizeof(how), "exit status %d", WEXITSTATUS(status));
                else
                        snprintf(how, sizeof(how), "signal: %s", strsignal(WTERMSIG(status)));
                return berth_error_setx(err, ECANCELED, "error running %s hook #%zu `%s`: %s%s%s",
                                        kind, idx, h->path, how, olen ? ", output: " : "", output);
        }
        return 0;
}

int hooks_run(const struct spec *s, enum spec_hook_kind k, const char *state,
              struct berth_error **err)
{
        /* startContainer runs in the container as its process is about to: without an env of
         * its own it inherits the process's (runc's init execs it from that environment) */
        char *const *def = k == HOOK_START_CONTAINER ? s->process.env : NULL;
        for (size_t i = 0; i < s->n_hooks[k]; i++)
                if (run_one(&s->hooks[k][i], def, state, i, hook_names[k], err) < 0)
                        return -ECANCELED;
        return 0;
}

char *hooks_state(const struct spec *s, const char *id, const char *status, pid_t pid)
{
        _cleanup_json_ json_t *j =
            json_pack("{s:s, s:s, s:s, s:i, s:s, s:O}", "ociVersion", "1.2.0", "id", id, "status",
                      status, "pid", (int)pid, "bundle", s->bundle, "annotations", s->annotations);
        return berth_json_dump(j, false);
}
