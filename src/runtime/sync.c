/* What the parent and child of a create or exec share: the sync socket protocol, pid files,
 * and waiting for the container process while forwarding signals to it. */
#include "runtime/internal.h"

#include <sched.h>
#include <sys/socket.h>
#include <linux/sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>

void sync_send(int fd, int type, int code, const char *text)
{
        struct sync_msg m = {.type = type, .code = code};
        if (text)
                snprintf(m.text, sizeof(m.text), "%s", text);
        size_t len = offsetof(struct sync_msg, text) + strlen(m.text) + 1;
        while (send(fd, &m, len, MSG_NOSIGNAL) < 0 && errno == EINTR)
                ;
}

_noreturn_ void sync_fail(int fd, struct berth_error *e)
{
        /* runc's wording, which docker's CLI and scripts look for */
        char text[sizeof(((struct sync_msg *)NULL)->text)];
        snprintf(text, sizeof(text), "unable to start container process: %s",
                 e ? e->msg : "unknown error");
        sync_send(fd, MSG_ERROR, e ? e->code : EIO, text);
        _exit(1);
}

int sync_recv(int fd, struct sync_msg *m)
{
        ssize_t n;
        memset(m, 0, sizeof(*m));
        /* A peer that exits with our message unread in its queue leaves ECONNRESET pending on
         * our side, reported once, ahead of the messages it had sent: read on past it. */
        do
                n = recv(fd, m, sizeof(*m) - 1, 0);
        while (n < 0 && (errno == EINTR || errno == ECONNRESET));
        if (n <= 0)
                return 0;
        return m->type;
}

int sync_send_fd(int sock, int fd)
{
        ssize_t n = berth_send_fds(sock, "", 1, &fd, 1);
        return n < 0 ? (int)n : 0;
}

int sync_recv_fd(int sock, int *ret_fd)
{
        char byte;
        size_t nfds = 0;
        ssize_t n = berth_recv_fds(sock, &byte, 1, 0, ret_fd, 1, &nfds);
        if (n < 0)
                return (int)n;
        if (n == 0 || nfds == 0) {
                if (nfds)
                        close(*ret_fd);
                return -EPROTO;
        }
        return 0;
}

int sync_write_pid_file(const char *path, pid_t pid, struct berth_error **err)
{
        char abs[PATH_MAX];
        _cleanup_free_ char *dir = xstrdup(path);
        char *slash = strrchr(dir, '/');
        const char *base = slash ? slash + 1 : dir;
        if (slash)
                *slash = '\0';
        if (!realpath(slash ? (*dir ? dir : "/") : ".", abs))
                return berth_error_set(err, errno, "pid file `%s`", path);
        _cleanup_close_ int dfd = open(abs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return berth_error_set(err, errno, "pid file `%s`", path);
        char buf[16];
        int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
        return berth_write_atomic_at(dfd, base, buf, (size_t)n, err);
}

void sync_pidns_restore(void)
{
        /* our own pid namespace is always a valid target: pid_for_children goes back to it */
        int fd = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                setns(fd, CLONE_NEWPID);
                close(fd);
        }
}

int sync_exit_code(int status)
{
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return 255;
}

int sync_wait_forwarding(pid_t pid, const sigset_t *restore)
{
        /* All signals are blocked since before clone: forward each to the container process
         * until it is reaped. A SIGCHLD that came early is still pending here. */
        sigset_t all;
        sigfillset(&all);
        int status = 0;
        for (;;) {
                siginfo_t si;
                int sig = sigwaitinfo(&all, &si);
                if (sig < 0)
                        continue;
                if (sig == SIGCHLD) {
                        pid_t w = waitpid(pid, &status, WNOHANG);
                        if (w == pid)
                                break;
                        continue;
                }
                kill(pid, sig);
        }
        sigprocmask(SIG_SETMASK, restore, NULL);
        return sync_exit_code(status);
}

int sync_spawn(uint64_t flags, int cgroup_fd, int pidns, sigset_t *ret_old_mask, sync_child_fn fn,
               void *arg, pid_t *ret_pid, int *ret_sock, struct berth_error **err)
{
        int fds[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
                return berth_error_set(err, errno, "socketpair");
        /* a pid namespace is entered by our children only */
        if (pidns >= 0 && setns(pidns, CLONE_NEWPID) < 0) {
                int r = berth_error_set(err, errno, "join pid namespace");
                close(fds[0]);
                close(fds[1]);
                return r;
        }
        sigset_t all;
        sigfillset(&all);
        sigprocmask(SIG_SETMASK, &all, ret_old_mask);
        struct clone_args ca = {.flags = flags, .exit_signal = SIGCHLD};
        if (cgroup_fd >= 0) {
                ca.flags |= CLONE_INTO_CGROUP;
                ca.cgroup = (uint64_t)cgroup_fd;
        }
        pid_t pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
        if (pid == 0) {
                close(fds[0]);
                fn(arg, fds[1]);
        }
        int e = errno;
        if (pidns >= 0)
                sync_pidns_restore();
        close(fds[1]);
        if (pid < 0) {
                sigprocmask(SIG_SETMASK, ret_old_mask, NULL);
                close(fds[0]);
                return berth_error_set(err, e, "clone3");
        }
        *ret_pid = pid;
        *ret_sock = fds[0];
        return 0;
}
