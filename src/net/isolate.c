/* Running a piece of src/net in a forked child, so that a library ending the process cannot end
 * the daemon. libnftables calls exit() when it cannot open or talk over its netlink socket
 * (netlink_init_error(), netlink_open_error(): "Unable to initialize Netlink socket", exit
 * status 3 in 1.0.x) and abort()s on allocation failure; with nf_tables missing from the kernel or
 * the socket refused by a seccomp filter, that would take berthd down with every container's
 * monitor connection.
 *
 * The child is a plain fork() of the calling thread: same network namespace (nftables state is
 * per netns), credentials and memory, so the callback reads its arguments directly. Its result
 * comes back through a shared anonymous page; whatever it writes on stderr (libnftables' last
 * words before exit()) goes to a memfd the parent reads when no result arrived. stdout is
 * /dev/null in the child, so a stdio buffer of the parent flushed by exit() is not written twice.
 * The child gets SIGKILL if the forking thread ends and when it outlives the timeout (a lock held
 * by another thread at fork time could block it forever).
 */
#include "net/net.h"
#include "net/nl.h"

#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#define REPORT_SIZE 4096
#define STDERR_KEEP 1024

struct report {
        int done;
        int code;
        char msg[REPORT_SIZE - 2 * sizeof(int)];
};

static _Noreturn void child_run(struct report *rep, int stderr_fd, net_isolated_fn fn, void *arg)
{
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null >= 0)
                dup2(null, STDOUT_FILENO);
        dup2(stderr_fd, STDERR_FILENO);
        struct berth_error *e = NULL;
        int r = fn(arg, &e);
        rep->code = r < 0 ? r : 0;
        if (r < 0)
                snprintf(rep->msg, sizeof(rep->msg), "%s", e ? e->msg : "failed");
        __atomic_store_n(&rep->done, 1, __ATOMIC_RELEASE);
        _exit(0);
}

/* The child's stderr, first line only, trailing blanks gone; "" when it wrote nothing. */
static char *stderr_text(int fd)
{
        char buf[STDERR_KEEP + 1];
        ssize_t n = pread(fd, buf, STDERR_KEEP, 0);
        if (n < 0)
                n = 0;
        buf[n] = '\0';
        char *nl = strchr(buf, '\n');
        if (nl)
                *nl = '\0';
        size_t l = strlen(buf);
        while (l > 0 && (buf[l - 1] == ' ' || buf[l - 1] == '\r'))
                buf[--l] = '\0';
        return xstrdup(buf);
}

/* Wait for pid at most timeout_ms (killing it after that); its wait status in *ret_status. */
static int child_wait(pid_t pid, int timeout_ms, int *ret_status)
{
        bool timed_out = false;
        _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd >= 0) {
                struct pollfd p = {.fd = pidfd, .events = POLLIN};
                struct timespec start, now;
                clock_gettime(CLOCK_MONOTONIC, &start);
                for (;;) {
                        clock_gettime(CLOCK_MONOTONIC, &now);
                        long spent = (now.tv_sec - start.tv_sec) * 1000 +
                                     (now.tv_nsec - start.tv_nsec) / 1000000;
                        if (spent >= timeout_ms) {
                                timed_out = true;
                                kill(pid, SIGKILL);
                                break;
                        }
                        int n = poll(&p, 1, (int)(timeout_ms - spent));
                        if (n > 0 || (n < 0 && errno != EINTR))
                                break;
                }
        }
        int status = 0;
        while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR)
                ;
        *ret_status = status;
        return timed_out ? -ETIMEDOUT : 0;
}

int net_isolated(const char *what, net_isolated_fn fn, void *arg, int timeout_ms,
                 struct berth_error **err)
{
        struct report *rep = mmap(NULL, sizeof(struct report), PROT_READ | PROT_WRITE,
                                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (rep == MAP_FAILED)
                return berth_error_set(err, errno, "%s: map a shared page", what);
        _cleanup_close_ int efd = memfd_create("berth-net-stderr", MFD_CLOEXEC);
        if (efd < 0) {
                int e = errno;
                munmap(rep, sizeof(*rep));
                return berth_error_set(err, e, "%s: memfd_create", what);
        }
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                munmap(rep, sizeof(*rep));
                return berth_error_set(err, e, "%s: fork", what);
        }
        if (pid == 0)
                child_run(rep, efd, fn, arg);

        int status;
        int tr = child_wait(pid, timeout_ms, &status);
        int r;
        if (tr == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
            __atomic_load_n(&rep->done, __ATOMIC_ACQUIRE)) {
                r = rep->code;
                if (r < 0)
                        berth_error_setx(err, -r, "%s", rep->msg);
        } else {
                _cleanup_free_ char *said = stderr_text(efd);
                const char *sep = *said ? ": " : "";
                if (tr < 0)
                        r = berth_error_setx(err, ETIMEDOUT, "%s: no answer after %d ms%s%s", what,
                                             timeout_ms, sep, said);
                else if (WIFSIGNALED(status))
                        r = berth_error_setx(err, EIO, "%s: killed by signal %d%s%s", what,
                                             WTERMSIG(status), sep, said);
                else
                        r = berth_error_setx(err, EIO, "%s: ended its process (exit status %d)%s%s",
                                             what, WEXITSTATUS(status), sep, said);
        }
        munmap(rep, sizeof(*rep));
        return r;
}
