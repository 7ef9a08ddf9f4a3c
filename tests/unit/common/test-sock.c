/* Unit tests for src/common/sock.c: unix socket addresses and fd passing (SCM_RIGHTS). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "common/common.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

static void test_sockaddr_un(void **state)
{
        struct sockaddr_un sa;
        char longp[200];

        assert_int_equal(berth_sockaddr_un(&sa, "/run/berth/%s", "berth.sock"), 0);
        assert_int_equal(sa.sun_family, AF_UNIX);
        assert_string_equal(sa.sun_path, "/run/berth/berth.sock");
        assert_int_equal(berth_sockaddr_un(&sa, "/proc/self/fd/%d/%s", 7, "attach.sock"), 0);
        assert_string_equal(sa.sun_path, "/proc/self/fd/7/attach.sock");
        /* exactly sun_path - 1 characters fit, one more does not */
        memset(longp, 'a', sizeof(sa.sun_path) - 1);
        longp[sizeof(sa.sun_path) - 1] = '\0';
        assert_int_equal(berth_sockaddr_un(&sa, "%s", longp), 0);
        longp[sizeof(sa.sun_path) - 1] = 'a';
        longp[sizeof(sa.sun_path)] = '\0';
        assert_int_equal(berth_sockaddr_un(&sa, "%s", longp), -ENAMETOOLONG);
}

static bool same_file(int a, int b)
{
        struct stat sa, sb;
        return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
               sa.st_ino == sb.st_ino;
}

static int count_fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        int n = 0;
        assert_non_null(d);
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

static void test_pass_fds(void **state)
{
        int sp[2], p1[2], p2[2];
        int got[BERTH_FDS_MAX];
        size_t n = 99;
        char buf[16];

        assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
        assert_int_equal(pipe2(p1, O_CLOEXEC), 0);
        assert_int_equal(pipe2(p2, O_CLOEXEC), 0);

        int two[2] = {p1[0], p2[1]};
        assert_int_equal(berth_send_fds(sp[0], "hi", 2, two, 2), 2);
        assert_int_equal(berth_recv_fds(sp[1], buf, sizeof(buf), 0, got, 2, &n), 2);
        assert_memory_equal(buf, "hi", 2);
        assert_int_equal(n, 2);
        assert_true(same_file(got[0], p1[0]));
        assert_true(same_file(got[1], p2[1]));
        /* received close-on-exec */
        assert_true(fcntl(got[0], F_GETFD) & FD_CLOEXEC);
        assert_true(fcntl(got[1], F_GETFD) & FD_CLOEXEC);
        close(got[0]);
        close(got[1]);

        /* no fds: a plain message */
        assert_int_equal(berth_send_fds(sp[0], "x", 1, NULL, 0), 1);
        assert_int_equal(berth_recv_fds(sp[1], buf, sizeof(buf), 0, got, 1, &n), 1);
        assert_int_equal(n, 0);

        /* more fds than asked for: the extra ones are closed, not leaked */
        int before = count_fds();
        assert_int_equal(berth_send_fds(sp[0], "y", 1, two, 2), 1);
        assert_int_equal(berth_recv_fds(sp[1], buf, sizeof(buf), 0, got, 1, &n), 1);
        assert_int_equal(n, 1);
        assert_true(same_file(got[0], p1[0]));
        assert_int_equal(count_fds(), before + 1);
        close(got[0]);

        /* nobody asks for the fds: all of them are closed */
        assert_int_equal(berth_send_fds(sp[0], "z", 1, two, 2), 1);
        assert_int_equal(berth_recv_fds(sp[1], buf, sizeof(buf), 0, NULL, 0, NULL), 1);
        assert_int_equal(count_fds(), before);

        /* too many to send */
        int many[BERTH_FDS_MAX + 1] = {0};
        assert_int_equal(berth_send_fds(sp[0], "m", 1, many, BERTH_FDS_MAX + 1), -EINVAL);

        /* nothing queued and MSG_DONTWAIT: EAGAIN; a closed peer: EOF */
        assert_int_equal(berth_recv_fds(sp[1], buf, sizeof(buf), MSG_DONTWAIT, got, 1, &n),
                         -EAGAIN);
        close(sp[0]);
        assert_int_equal(berth_recv_fds(sp[1], buf, sizeof(buf), 0, got, 1, &n), 0);
        assert_int_equal(n, 0);
        /* sending to a closed peer is EPIPE, not a SIGPIPE */
        int sp2[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp2), 0);
        close(sp2[1]);
        assert_int_equal(berth_send_fds(sp2[0], "q", 1, NULL, 0), -EPIPE);
        assert_int_equal(berth_send_all(sp2[0], "q", 1), -EPIPE);
        close(sp2[0]);

        close(sp[1]);
        close(p1[0]);
        close(p1[1]);
        close(p2[0]);
        close(p2[1]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_sockaddr_un),
            cmocka_unit_test(test_pass_fds),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
