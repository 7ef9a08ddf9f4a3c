/* libnftables out of the caller's process: a helper child, forked on first use and kept, runs
 * every nft transaction of berth_net_rules_apply. libnftables exit()s when it cannot open or talk
 * over its netlink socket (netlink_init_error(): "Unable to initialize Netlink socket", exit
 * status 3 in 1.0.x) and aborts on allocation failure; in the daemon's own process that would end
 * berthd and every container's monitor connection with it.
 *
 * Why a kept child rather than a fork per transaction: under load a fork + exit costs 5-30 ms
 * (copy-on-write faults, scheduling), against well under 1 ms for a small transaction, and `run -p`
 * applies the table on its way. The helper:
 * - closes every fd it inherited (port reservations, container pipes, the API socket) except its
 *   own, so it never keeps a port or a pipe alive behind the daemon's back;
 * - receives each request as [caller's netns fd, memfd holding the nft text] over a SEQPACKET
 *   socket, setns()es into that namespace (nftables state is per netns; the contract is "the
 *   caller's namespace") and answers {code, message};
 * - writes its stderr (libnftables' last words before exit()) into a memfd shared with the
 *   parent, emptied before every request, read when the helper dies answering;
 * - ends when the daemon's end of the socket closes (the daemon died or a fork of it reset the
 *   state).
 * A helper that died between requests (killed by someone) is reaped and replaced transparently; one
 * that dies answering turns into that request's error; one that hangs is killed at the timeout.
 */
#include "net/net.h"
#include "net/nl.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* A transaction of a thousand published ports takes well under a second; this only bounds a
 * helper that hangs (a lock some other thread of the daemon held when it was forked). */
#define NFT_TIMEOUT_MS 30000
#define NFT_TEXT_MAX   (64u << 20)

struct reply {
        int code;
        char msg[2048];
};

static pthread_mutex_t helper_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
        pid_t owner; /* the process that forked it: a fork of that process starts afresh */
        pid_t pid;
        int sock;
        int stderr_fd;
} helper = {.sock = -1, .stderr_fd = -1};

/* ---------------------------------------------------------------- the helper's side */

enum { HELPER_SOCK = 3 };

static int serve_one(struct berth_error **err)
{
        char byte;
        int fds[2];
        size_t nfds = 0;
        ssize_t n = berth_recv_fds(HELPER_SOCK, &byte, 1, 0, fds, 2, &nfds);
        if (n <= 0) {
                for (size_t i = 0; i < nfds; i++)
                        close(fds[i]);
                _exit(0); /* the daemon is gone */
        }
        if (nfds != 2) {
                for (size_t i = 0; i < nfds; i++)
                        close(fds[i]);
                return berth_error_setx(err, EPROTO, "request without its two fds");
        }
        _cleanup_close_ int netns = fds[0];
        _cleanup_close_ int text_fd = fds[1];

        if (setns(netns, CLONE_NEWNET) < 0)
                return berth_error_set(err, errno, "enter the caller's network namespace");
        struct stat st;
        if (fstat(text_fd, &st) < 0)
                return berth_error_set(err, errno, "stat the request");
        if ((uint64_t)st.st_size > NFT_TEXT_MAX)
                return berth_error_setx(err, EFBIG, "request of %jd bytes", (intmax_t)st.st_size);
        _cleanup_free_ char *text = xmalloc((size_t)st.st_size + 1);
        size_t got = 0;
        while (got < (size_t)st.st_size) {
                ssize_t r = pread(text_fd, text + got, (size_t)st.st_size - got, (off_t)got);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return berth_error_set(err, r < 0 ? errno : EIO, "read the request");
                got += (size_t)r;
        }
        text[got] = '\0';
        /* stderr holds only what this transaction writes */
        if (ftruncate(STDERR_FILENO, 0) == 0)
                lseek(STDERR_FILENO, 0, SEEK_SET);
        return net_nft_run(text, err);
}

static _Noreturn void helper_main(int sock, int stderr_fd)
{
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0 ||
            dup2(stderr_fd, STDERR_FILENO) < 0 || dup2(sock, HELPER_SOCK) < 0)
                _exit(127);
        /* nothing of the daemon's stays open here: a reserved port or a container's pipe held by
         * the helper would outlive the daemon's own close */
        if (close_range(HELPER_SOCK + 1, ~0U, 0) < 0)
                _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (;;) {
                struct berth_error *e = NULL;
                struct reply rep = {0};
                rep.code = serve_one(&e);
                if (rep.code > 0)
                        rep.code = 0;
                if (rep.code < 0)
                        snprintf(rep.msg, sizeof(rep.msg), "%s", e ? e->msg : "failed");
                berth_error_free(e);
                if (send(HELPER_SOCK, &rep, sizeof(rep), MSG_NOSIGNAL) < 0)
                        _exit(0);
        }
}

/* ---------------------------------------------------------------- the caller's side */

static void helper_forget_locked(void)
{
        if (helper.sock >= 0)
                close(helper.sock);
        if (helper.stderr_fd >= 0)
                close(helper.stderr_fd);
        helper.sock = helper.stderr_fd = -1;
        helper.pid = 0;
}

/* Reap a helper that is gone (or kill it first): its wait status. */
static int helper_reap_locked(bool kill_it)
{
        int status = 0;
        if (helper.owner == getpid() && helper.pid > 0) {
                if (kill_it)
                        kill(helper.pid, SIGKILL);
                while (waitpid(helper.pid, &status, 0) < 0 && errno == EINTR)
                        ;
        }
        helper_forget_locked();
        return status;
}

static int helper_spawn_locked(struct berth_error **err)
{
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
                return berth_error_set(err, errno, "socketpair");
        int efd = memfd_create("berth-nft-stderr", MFD_CLOEXEC);
        if (efd < 0) {
                int e = errno;
                close(sp[0]);
                close(sp[1]);
                return berth_error_set(err, e, "memfd_create");
        }
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(sp[0]);
                close(sp[1]);
                close(efd);
                return berth_error_set(err, e, "fork the nftables helper");
        }
        if (pid == 0) {
                close(sp[0]);
                helper_main(sp[1], efd);
        }
        close(sp[1]);
        helper.owner = getpid();
        helper.pid = pid;
        helper.sock = sp[0];
        helper.stderr_fd = efd;
        return 0;
}

/* The helper's first stderr line, trailing blanks gone; "" when it wrote nothing. */
static void helper_stderr_locked(char *buf, size_t size)
{
        ssize_t n = pread(helper.stderr_fd, buf, size - 1, 0);
        buf[n > 0 ? n : 0] = '\0';
        char *nl = strchr(buf, '\n');
        if (nl)
                *nl = '\0';
        size_t l = strlen(buf);
        while (l > 0 && (buf[l - 1] == ' ' || buf[l - 1] == '\r'))
                buf[--l] = '\0';
}

static int helper_send_locked(int netns, int text_fd)
{
        int fds[2] = {netns, text_fd};
        ssize_t n = berth_send_fds(helper.sock, "", 1, fds, 2);
        return n < 0 ? (int)n : 0;
}

static int helper_call_locked(int netns, int text_fd, struct berth_error **err)
{
        if (helper.owner != getpid())
                helper_forget_locked(); /* inherited through a fork: not ours to talk to */
        int r;
        for (int attempt = 0;; attempt++) {
                if (helper.pid == 0) {
                        r = helper_spawn_locked(err);
                        if (r < 0)
                                return r;
                }
                r = helper_send_locked(netns, text_fd);
                if (r == 0)
                        break;
                /* it died between two requests: replace it once */
                helper_reap_locked(true);
                if (attempt > 0)
                        return berth_error_setx(err, -r, "send to the nftables helper: %s",
                                                strerror(-r));
        }

        struct pollfd p = {.fd = helper.sock, .events = POLLIN};
        int n;
        do
                n = poll(&p, 1, NFT_TIMEOUT_MS);
        while (n < 0 && errno == EINTR);
        struct reply rep;
        ssize_t got = 0;
        if (n > 0) {
                do
                        got = recv(helper.sock, &rep, sizeof(rep), 0);
                while (got < 0 && errno == EINTR);
        }
        if (n > 0 && got == (ssize_t)sizeof(rep)) {
                if (rep.code < 0) {
                        rep.msg[sizeof(rep.msg) - 1] = '\0';
                        return berth_error_setx(err, -rep.code, "%s", rep.msg);
                }
                return 0;
        }

        char said[1024];
        helper_stderr_locked(said, sizeof(said));
        const char *sep = *said ? ": " : "";
        if (n == 0) {
                helper_reap_locked(true);
                return berth_error_setx(err, ETIMEDOUT, "nftables: no answer after %d ms%s%s",
                                        NFT_TIMEOUT_MS, sep, said);
        }
        int status = helper_reap_locked(true);
        if (WIFSIGNALED(status))
                return berth_error_setx(err, EIO, "nftables: killed by signal %d%s%s",
                                        WTERMSIG(status), sep, said);
        return berth_error_setx(err, EIO, "nftables: ended its process (exit status %d)%s%s",
                                WEXITSTATUS(status), sep, said);
}

int berth_net_rules_helper_start(struct berth_error **err)
{
        pthread_mutex_lock(&helper_lock);
        if (helper.pid != 0 && helper.owner != getpid())
                helper_forget_locked();
        int r = helper.pid == 0 ? helper_spawn_locked(err) : 0;
        pthread_mutex_unlock(&helper_lock);
        return r;
}

int net_nft_run_isolated(const char *text, struct berth_error **err)
{
        _cleanup_close_ int netns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (netns < 0)
                return berth_error_set(err, errno, "open the network namespace");
        _cleanup_close_ int text_fd = memfd_create("berth-nft-request", MFD_CLOEXEC);
        if (text_fd < 0)
                return berth_error_set(err, errno, "memfd_create");
        if (berth_write_all(text_fd, text, strlen(text)) < 0)
                return berth_error_set(err, errno, "write the nftables request");

        pthread_mutex_lock(&helper_lock);
        int r = helper_call_locked(netns, text_fd, err);
        pthread_mutex_unlock(&helper_lock);
        return r;
}
