/* Terminals: a pty made inside the container (its own devpts instance), the master handed to
 * whoever asked for it over the console socket with SCM_RIGHTS (like runc: podman/conmon and
 * containerd's shim rely on it), or relayed by the runtime itself for a foreground `run`/`exec`.
 */
#include "runtime/internal.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>

int console_connect(const char *path, int *ret_fd, struct berth_error **err)
{
        struct sockaddr_un sa;
        if (berth_sockaddr_un(&sa, "%s", path) < 0)
                return berth_error_setx(err, ENAMETOOLONG, "console socket `%s`: path too long",
                                        path);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return berth_error_set(err, errno, "console socket");
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return berth_error_set(err, errno, "connect to console socket `%s`", path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* /dev/console: a bind of our pty slave onto a file we create in the container's /dev, never
 * through a path the image controls (CVE-2025-52565). */
static int mount_console(int slave, struct berth_error **err)
{
        _cleanup_close_ int dev = open("/dev", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dev < 0)
                return errno == ENOENT ? 0 : berth_error_set(err, errno, "open `/dev`");
        _cleanup_close_ int f =
            openat(dev, "console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (f < 0)
                return berth_error_set(err, errno, "create `/dev/console`");
        struct stat st;
        if (fstat(f, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISCHR(st.st_mode)))
                return berth_error_setx(err, EPERM, "`/dev/console` is not a plain file");
        char src[32], dst[32];
        snprintf(src, sizeof(src), "/proc/self/fd/%d", slave);
        snprintf(dst, sizeof(dst), "/proc/self/fd/%d", f);
        if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
                return berth_error_set(err, errno, "bind pty on `/dev/console`");
        return 0;
}

int console_setup(int sock, const struct spec_process *p, bool dev_console,
                  struct berth_error **err)
{
        _cleanup_close_ int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0)
                return berth_error_set(err, errno, "open `/dev/ptmx`");
        int unlock = 0;
        if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
                return berth_error_set(err, errno, "unlock pty");
        /* TIOCGPTPEER opens the slave of this very master: no /dev/pts/N path to race on */
        _cleanup_close_ int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                return berth_error_set(err, errno, "open pty slave");
        if (p->console_height || p->console_width) {
                struct winsize ws = {.ws_row = (unsigned short)p->console_height,
                                     .ws_col = (unsigned short)p->console_width};
                if (ioctl(slave, TIOCSWINSZ, &ws) < 0)
                        return berth_error_set(err, errno, "set console size");
        }
        if (dev_console && mount_console(slave, err) < 0)
                return -EIO;
        int r = sync_send_fd(sock, master);
        if (r < 0)
                return berth_error_set(err, -r, "send pty master over the console socket");
        if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
                return berth_error_set(err, errno, "make the pty the controlling terminal");
        for (int i = 0; i < 3; i++)
                if (dup2(slave, i) < 0)
                        return berth_error_set(err, errno, "dup pty onto fd %d", i);
        return 0;
}

static void copy_winsize(int from, int to)
{
        struct winsize ws;
        if (ioctl(from, TIOCGWINSZ, &ws) == 0)
                ioctl(to, TIOCSWINSZ, &ws);
}

/* Copy what is readable on from to to; false on EOF or error. */
static bool pump(int from, int to)
{
        char buf[16384];
        ssize_t n = read(from, buf, sizeof(buf));
        if (n <= 0)
                return n < 0 && (errno == EINTR || errno == EAGAIN);
        for (ssize_t off = 0; off < n;) {
                ssize_t w = write(to, buf + off, (size_t)(n - off));
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return false;
                }
                off += w;
        }
        return true;
}

int console_relay(int master, pid_t pid, const sigset_t *restore)
{
        struct termios saved;
        bool raw = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
        if (raw) {
                struct termios t = saved;
                cfmakeraw(&t);
                tcsetattr(STDIN_FILENO, TCSANOW, &t);
                copy_winsize(STDIN_FILENO, master);
        }
        sigset_t all;
        sigfillset(&all);
        int sfd = signalfd(-1, &all, SFD_CLOEXEC);
        bool in_open = true, out_open = true;
        int status = 0;
        bool exited = false;
        while (!exited || out_open) {
                struct pollfd pf[3] = {
                    {.fd = in_open ? STDIN_FILENO : -1, .events = POLLIN},
                    {.fd = out_open ? master : -1, .events = POLLIN},
                    {.fd = exited ? -1 : sfd, .events = POLLIN},
                };
                /* once the process is gone, drain what the pty still holds, then stop */
                int n = poll(pf, 3, exited ? 50 : -1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                if (pf[0].revents & (POLLIN | POLLHUP | POLLERR))
                        in_open = pump(STDIN_FILENO, master);
                if (pf[1].revents & (POLLIN | POLLHUP | POLLERR))
                        out_open = pump(master, STDOUT_FILENO);
                if (!(pf[2].revents & POLLIN))
                        continue;
                struct signalfd_siginfo si;
                if (read(sfd, &si, sizeof(si)) != sizeof(si))
                        continue;
                if (si.ssi_signo == SIGCHLD) {
                        if (waitpid(pid, &status, WNOHANG) == pid)
                                exited = true;
                } else if (si.ssi_signo == SIGWINCH) {
                        copy_winsize(STDIN_FILENO, master);
                } else {
                        kill(pid, (int)si.ssi_signo);
                }
        }
        if (!exited)
                while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                        ;
        if (raw)
                tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        if (sfd >= 0)
                close(sfd);
        sigprocmask(SIG_SETMASK, restore, NULL);
        return sync_exit_code(status);
}

int console_channel(const char *socket_path, bool terminal, int *ret_child_fd, int *ret_relay_fd,
                    struct berth_error **err)
{
        *ret_child_fd = *ret_relay_fd = -1;
        if (socket_path)
                return console_connect(socket_path, ret_child_fd, err);
        if (!terminal)
                return 0;
        /* no socket: the runtime relays the pty itself */
        int pair[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
                return berth_error_set(err, errno, "socketpair");
        *ret_relay_fd = pair[0];
        *ret_child_fd = pair[1];
        return 0;
}

int console_wait(int relay_fd, pid_t pid, const sigset_t *restore)
{
        if (relay_fd < 0)
                return sync_wait_forwarding(pid, restore);
        int master = -1;
        int r = sync_recv_fd(relay_fd, &master);
        if (r < 0) {
                berth_warn("no pty from the container: %s", strerror(-r));
                return sync_wait_forwarding(pid, restore);
        }
        int status = console_relay(master, pid, restore);
        close(master);
        return status;
}
