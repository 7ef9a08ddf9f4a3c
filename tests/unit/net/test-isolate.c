/* Unit tests for src/net/isolate.c, nft-helper.c and probe.c (root): the children that run
 * libnftables and the probe, and the probe itself. The process first moves into its own network
 * namespace, so neither the probe nor the rules ever reach the host's. The failure cases install a
 * seccomp filter that refuses netlink sockets (as a kernel without nfnetlink or a confined daemon
 * would), in a forked copy of the test so the filter never reaches the other tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "net/net.h"
#include "net/nl.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <nftables/libnftables.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#if defined(__x86_64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

static struct berth_cidr cidr(const char *s)
{
        struct berth_cidr c;
        assert_int_equal(berth_cidr_parse(s, &c, NULL), 0);
        return c;
}

static void ok(int r, struct berth_error *err)
{
        if (r < 0)
                fail_msg("%s", err ? err->msg : "(no message)");
        assert_null(err);
}

static void must_contain(const struct berth_error *err, const char *part)
{
        assert_non_null(err);
        if (!strstr(err->msg, part))
                fail_msg("`%s` not in `%s`", part, err->msg);
}

static bool table_exists(void)
{
        struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
        assert_non_null(ctx);
        nft_ctx_buffer_output(ctx);
        nft_ctx_buffer_error(ctx);
        bool there = nft_run_cmd_from_buffer(ctx, "list table ip berth") == 0;
        nft_ctx_free(ctx);
        return there;
}

/* ---------------------------------------------------------------- net_isolated */

struct cb_arg {
        int what;
        int value;
};

static int cb(void *arg, struct berth_error **err)
{
        struct cb_arg *a = arg;
        switch (a->what) {
        case 0:
                return a->value; /* the argument is the parent's memory, read in the child */
        case 1:
                return berth_error_setx(err, EADDRINUSE, "taken %d", a->value);
        case 2:
                fprintf(stderr, "mnl.c:60: Unable to initialize Netlink socket: gone\nmore\n");
                exit(3);
        case 3:
                raise(SIGUSR1); /* cmocka catches SIGSEGV itself */
                return 0;
        default:
                for (;;)
                        pause();
        }
}

static void test_isolated_results(void **state)
{
        (void)state;
        struct berth_error *err = NULL;
        struct cb_arg a = {.what = 0, .value = 7};
        /* a positive result is success: 0 */
        ok(net_isolated("job", cb, &a, 5000, &err), err);

        a = (struct cb_arg){.what = 1, .value = 42};
        assert_int_equal(net_isolated("job", cb, &a, 5000, &err), -EADDRINUSE);
        assert_string_equal(err->msg, "taken 42");
        berth_error_free(err);
        err = NULL;

        /* the library's exit(): status and its first stderr line, the caller lives on */
        a.what = 2;
        assert_int_equal(net_isolated("nftables", cb, &a, 5000, &err), -EIO);
        assert_string_equal(err->msg, "nftables: ended its process (exit status 3): mnl.c:60: "
                                      "Unable to initialize Netlink socket: gone");
        berth_error_free(err);
        err = NULL;

        a.what = 3;
        assert_int_equal(net_isolated("job", cb, &a, 5000, &err), -EIO);
        char want[64];
        snprintf(want, sizeof(want), "job: killed by signal %d", SIGUSR1);
        assert_string_equal(err->msg, want);
        berth_error_free(err);
        err = NULL;

        /* a child that hangs is killed at the timeout and reaped */
        a.what = 4;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_int_equal(net_isolated("job", cb, &a, 300, &err), -ETIMEDOUT);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        assert_true(s >= 0.29 && s < 5);
        must_contain(err, "job: no answer after 300 ms");
        berth_error_free(err);
        assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
        assert_int_equal(errno, ECHILD);
}

/* ---------------------------------------------------------------- seccomp */

#ifdef TEST_AUDIT_ARCH
/* socket(AF_NETLINK, *, protocol) fails with EPROTONOSUPPORT, what a kernel without that netlink
 * family answers. */
static void refuse_netlink(int protocol)
{
        struct sock_filter f[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_AUDIT_ARCH, 1, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 1, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_NETLINK, 1, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)protocol, 1, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPROTONOSUPPORT),
        };
        struct sock_fprog prog = {.len = ARRAY_SIZE(f), .filter = f};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
            prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
                perror("seccomp");
                _exit(90);
        }
}

/* Run check() in a forked copy of the test under the filter; cmocka's asserts cannot be used
 * there, so check() reports through its exit status and stderr. */
static void under_filter(int protocol, int (*check)(void))
{
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                refuse_netlink(protocol);
                _exit(check());
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

static int expect_msg(int r, int code, struct berth_error *err, const char *part)
{
        if (r != code || !err || !strstr(err->msg, part)) {
                fprintf(stderr, "got %d `%s`, want %d with `%s`\n", r, err ? err->msg : "(none)",
                        code, part);
                return 1;
        }
        berth_error_free(err);
        return 0;
}

/* libnftables cannot open its socket and exit()s: the caller gets the cause and goes on. */
static int check_rules_without_nfnetlink(void)
{
        struct berth_net_rules_network n = {
            .bridge = "br-one", .subnet = cidr("10.77.0.0/24"), .masquerade = true, .icc = true};
        struct berth_error *err = NULL;
        int r = berth_net_rules_apply(&n, 1, NULL, 0, &err);
        if (expect_msg(r, -EIO, err,
                       "packet rules: table `ip berth`: nftables: ended its process (exit status "
                       "3): ") != 0)
                return 1;
        err = NULL;
        r = berth_net_rules_apply(&n, 1, NULL, 0, &err);
        if (expect_msg(r, -EIO, err, "Unable to initialize Netlink socket: Protocol not supported"))
                return 2;
        err = NULL;
        r = berth_net_probe(&err);
        if (expect_msg(r, -EPROTONOSUPPORT, err,
                       "nf_tables: cannot open a netfilter netlink socket (is the `nfnetlink` "
                       "kernel module available?): protocol not supported") != 0)
                return 3;
        return 0;
}

static int check_probe_without_rtnetlink(void)
{
        struct berth_error *err = NULL;
        int r = berth_net_probe(&err);
        if (r >= 0 || !err || strncmp(err->msg, "netlink: ", 9) != 0 ||
            !strstr(err->msg, "protocol not supported")) {
                fprintf(stderr, "got %d `%s`\n", r, err ? err->msg : "(none)");
                return 1;
        }
        berth_error_free(err);
        return 0;
}
#endif

static void test_rules_survive_nft_exit(void **state)
{
        (void)state;
#ifdef TEST_AUDIT_ARCH
        under_filter(NETLINK_NETFILTER, check_rules_without_nfnetlink);
        under_filter(NETLINK_ROUTE, check_probe_without_rtnetlink);
#else
        skip();
#endif
}

/* ---------------------------------------------------------------- the probe */

static void test_probe(void **state)
{
        (void)state;
        struct berth_error *err = NULL;
        ok(berth_net_probe(&err), err);
        /* it worked in a namespace of its own: nothing here changed */
        _cleanup_strv_ char **links = NULL;
        ok(berth_links_list("berth", &links, &err), err);
        assert_true(!links || !links[0]);
        assert_false(table_exists());
}

/* The pids of this process's children (the nftables helper), from /proc. */
static size_t children(pid_t *ret, size_t max)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
        FILE *f = fopen(path, "re");
        assert_non_null(f);
        size_t n = 0;
        int pid;
        while (n < max && fscanf(f, "%d", &pid) == 1)
                ret[n++] = pid;
        fclose(f);
        return n;
}

static void apply_one(void)
{
        struct berth_net_rules_network net = {
            .bridge = "br-one", .subnet = cidr("10.77.0.0/24"), .masquerade = true, .icc = true};
        struct berth_net_rules_port port = {.proto = IPPROTO_TCP,
                                            .host_port = 8080,
                                            .container_ip = cidr("10.77.0.2"),
                                            .container_port = 80,
                                            .bridge = "br-one"};
        struct berth_error *err = NULL;
        ok(berth_net_rules_apply(&net, 1, &port, 1, &err), err);
}

/* One helper serves every call; killed, it is replaced; it keeps none of the caller's fds (a
 * reserved port closed by the caller is free again at once). */
static void test_helper_kept_and_replaced(void **state)
{
        (void)state;
        apply_one();
        pid_t kids[8];
        assert_int_equal(children(kids, 8), 1);
        pid_t first = kids[0];
        apply_one();
        assert_int_equal(children(kids, 8), 1);
        assert_int_equal(kids[0], first);

        kill(first, SIGKILL);
        usleep(50 * 1000);
        uint16_t port = 0;
        int fd = -1;
        struct berth_error *err = NULL;
        ok(berth_net_port_reserve(IPPROTO_TCP, NULL, 0, &port, &fd, &err), err);
        apply_one(); /* a new helper, forked while fd is open */
        assert_int_equal(children(kids, 8), 1);
        assert_int_not_equal(kids[0], first);
        close(fd);
        ok(berth_net_port_reserve(IPPROTO_TCP, NULL, port, NULL, &fd, &err), err);
        close(fd);
        ok(berth_net_rules_apply(NULL, 0, NULL, 0, &err), err);
        assert_false(table_exists());
}

static double ms_since(const struct timespec *t0)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* The rules still apply through the helper, about as fast as in process (printed). */
static void test_apply_through_child(void **state)
{
        (void)state;
        enum { N = 1000 };
        struct berth_net_rules_network net = {
            .bridge = "br-one", .subnet = cidr("10.77.0.0/24"), .masquerade = true, .icc = true};
        struct berth_net_rules_port *ports = xcalloc(N, sizeof(*ports));
        for (size_t i = 0; i < N; i++)
                ports[i] = (struct berth_net_rules_port){.proto = IPPROTO_TCP,
                                                         .host_port = (uint16_t)(20000 + i),
                                                         .container_ip = cidr("10.77.0.2"),
                                                         .container_port = (uint16_t)(20000 + i),
                                                         .bridge = "br-one"};
        struct berth_error *err = NULL;
        struct timespec t0, t1, t2;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        ok(net_rules_apply_here(&net, 1, ports, N, &err), err);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ok(berth_net_rules_apply(&net, 1, ports, N, &err), err);
        clock_gettime(CLOCK_MONOTONIC, &t2);
        assert_true(table_exists());
        double here =
            (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        double child =
            (double)(t2.tv_sec - t1.tv_sec) * 1e3 + (double)(t2.tv_nsec - t1.tv_nsec) / 1e6;
        print_message("%d ports: in process %.1f ms, through the helper %.1f ms\n", N, here, child);
        enum { SMALL = 50 };
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < SMALL; i++)
                ok(net_rules_apply_here(&net, 1, ports, 1, &err), err);
        here = ms_since(&t0);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < SMALL; i++)
                ok(berth_net_rules_apply(&net, 1, ports, 1, &err), err);
        child = ms_since(&t0);
        print_message("1 port: in process %.2f ms, through the helper %.2f ms\n", here / SMALL,
                      child / SMALL);
        ok(berth_net_rules_apply(NULL, 0, NULL, 0, &err), err);
        assert_false(table_exists());
        free(ports);
}

static int setup(void **state)
{
        (void)state;
        if (geteuid() != 0) {
                fprintf(stderr, "not root\n");
                return -1;
        }
        if (unshare(CLONE_NEWNET) < 0) {
                perror("unshare");
                return -1;
        }
        return 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_isolated_results),
            cmocka_unit_test(test_rules_survive_nft_exit),
            cmocka_unit_test(test_probe),
            cmocka_unit_test(test_apply_through_child),
            cmocka_unit_test(test_helper_kept_and_replaced),
        };
        return cmocka_run_group_tests(tests, setup, NULL);
}
