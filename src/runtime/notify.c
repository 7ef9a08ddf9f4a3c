/* NOTIFY_SOCKET like runc: the container gets a socket of the runtime's (a directory in the
 * state dir bound at /run/notify), and whoever starts the container waits for READY=1 on it,
 * forwarding what arrives to the caller's socket with MAINPID set to the container's init. */
#include "runtime/internal.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>

#define NOTIFY_IN_CONTAINER "/run/notify"

static char *notify_dir(const struct berth_runtime *rt, const char *id)
{
        return xasprintf("%s/%s/notify", rt && rt->root ? rt->root : BERTH_RUNTIME_DEFAULT_ROOT,
                         id);
}

int notify_prepare(const struct berth_runtime *rt, const char *id, struct spec *s,
                   struct berth_error **err)
{
        _cleanup_free_ char *dir = notify_dir(rt, id);
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return berth_error_set(err, errno, "mkdir `%s`", dir);
        s->mounts = xrealloc(s->mounts, (s->n_mounts + 1) * sizeof(*s->mounts));
        s->mounts[s->n_mounts++] = (struct spec_mount){
            .destination = xstrdup(NOTIFY_IN_CONTAINER),
            .source = xstrdup(dir),
            .bind = true,
        };
        strv_push(&s->process.env, "NOTIFY_SOCKET=" NOTIFY_IN_CONTAINER "/notify.sock");
        return 0;
}

int notify_bind(const struct berth_runtime *rt, const char *id, int *ret_fd,
                struct berth_error **err)
{
        _cleanup_free_ char *dir = notify_dir(rt, id);
        struct sockaddr_un sa;
        if (berth_sockaddr_un(&sa, "%s/notify.sock", dir) < 0)
                return berth_error_setx(err, ENAMETOOLONG,
                                        "notify socket under `%s`: path too long", dir);
        unlink(sa.sun_path);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return berth_error_set(err, errno, "bind notify socket `%s`", sa.sun_path);
        /* any user of the container may notify */
        if (chmod(sa.sun_path, 0666) < 0)
                return berth_error_set(err, errno, "chmod `%s`", sa.sun_path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int forward(const char *host_path, const char *msg, size_t len)
{
        struct sockaddr_un sa;
        if (berth_sockaddr_un(&sa, "%s", host_path) < 0)
                return -ENAMETOOLONG;
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || sendto(fd, msg, len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -errno;
        return 0;
}

int notify_wait_ready(int fd, const char *host_path, pid_t pid, struct berth_error **err)
{
        _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        for (;;) {
                struct pollfd pf[2] = {{.fd = fd, .events = POLLIN},
                                       {.fd = pidfd, .events = POLLIN}};
                int n = poll(pf, pidfd >= 0 ? 2 : 1, -1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return berth_error_set(err, errno, "wait for READY=1");
                if (pf[0].revents & POLLIN) {
                        char buf[4096];
                        ssize_t len = recv(fd, buf, sizeof(buf) - 64, 0);
                        if (len <= 0)
                                continue;
                        buf[len] = '\0';
                        bool ready = strstr(buf, "READY=1") != NULL;
                        if (ready)
                                len += snprintf(buf + len, 64, "\nMAINPID=%d", (int)pid);
                        int r = forward(host_path, buf, (size_t)len);
                        if (r < 0)
                                return berth_error_set(err, -r, "forward to NOTIFY_SOCKET `%s`",
                                                       host_path);
                        if (ready)
                                return 0;
                        continue;
                }
                /* the container is gone without READY=1: nothing more will come */
                return 0;
        }
}
