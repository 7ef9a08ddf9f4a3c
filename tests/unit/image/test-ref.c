/* Image references: docker's normalisation and validation rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "image/image.h"

static void check(const char *in, const char *full, const char *familiar, const char *repo)
{
        struct berth_ref r = {0};
        struct berth_error *err = NULL;
        int rc = berth_ref_parse(in, &r, &err);
        if (rc < 0)
                fail_msg("`%s`: %s", in, err->msg);
        char *f = berth_ref_full(&r), *fam = berth_ref_familiar(&r), *rp = berth_ref_repo(&r);
        if (strcmp(f, full) || strcmp(fam, familiar) || strcmp(rp, repo))
                fail_msg("`%s`: got %s / %s / %s", in, f, fam, rp);
        free(f);
        free(fam);
        free(rp);
        berth_ref_release(&r);
}

static void bad(const char *in, const char *msg_part)
{
        struct berth_ref r = {0};
        struct berth_error *err = NULL;
        if (berth_ref_parse(in, &r, &err) == 0)
                fail_msg("`%s` was accepted as %s/%s", in, r.domain, r.path);
        assert_int_equal(err->code, EINVAL);
        if (msg_part && !strstr(err->msg, msg_part))
                fail_msg("`%s`: message `%s` lacks `%s`", in, err->msg, msg_part);
        berth_error_free(err);
}

#define D64 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_normalise(void **state)
{
        (void)state;
        check("busybox", "docker.io/library/busybox", "busybox", "busybox");
        check("busybox:latest", "docker.io/library/busybox:latest", "busybox:latest", "busybox");
        check("library/busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36", "busybox");
        check("docker.io/busybox", "docker.io/library/busybox", "busybox", "busybox");
        check("index.docker.io/library/busybox:x", "docker.io/library/busybox:x", "busybox:x",
              "busybox");
        check("user/app:v1", "docker.io/user/app:v1", "user/app:v1", "user/app");
        check("docker.io/user/app", "docker.io/user/app", "user/app", "user/app");
        check("127.0.0.1:5055/big:1", "127.0.0.1:5055/big:1", "127.0.0.1:5055/big:1",
              "127.0.0.1:5055/big");
        check("localhost/foo", "localhost/foo", "localhost/foo", "localhost/foo");
        check("localhost:5000/a/b/c:t", "localhost:5000/a/b/c:t", "localhost:5000/a/b/c:t",
              "localhost:5000/a/b/c");
        check("quay.io/podman/hello", "quay.io/podman/hello", "quay.io/podman/hello",
              "quay.io/podman/hello");
        check("ghcr.io/a-b/c_d/e__f/g.h/i--j", "ghcr.io/a-b/c_d/e__f/g.h/i--j",
              "ghcr.io/a-b/c_d/e__f/g.h/i--j", "ghcr.io/a-b/c_d/e__f/g.h/i--j");
        check("busybox@" D64, "docker.io/library/busybox@" D64, "busybox@" D64, "busybox");
        check("busybox:1@" D64, "docker.io/library/busybox:1@" D64, "busybox:1@" D64, "busybox");
        check("reg.example:443/x@" D64, "reg.example:443/x@" D64, "reg.example:443/x@" D64,
              "reg.example:443/x");
        check("Registry.Example/x:T_1.a-b", "Registry.Example/x:T_1.a-b",
              "Registry.Example/x:T_1.a-b", "Registry.Example/x");
        check("[::1]:5000/x", "[::1]:5000/x", "[::1]:5000/x", "[::1]:5000/x");
        check("docker.io/library/a/b", "docker.io/library/a/b", "library/a/b", "library/a/b");
        check("a1", "docker.io/library/a1", "a1", "a1");
}

static void test_invalid(void **state)
{
        (void)state;
        bad("", NULL);
        bad("Busybox", "lowercase");
        bad("user/App", "lowercase");
        bad("busybox:", "tag");
        bad("busybox:-x", "tag");
        bad("busybox:a/b", NULL);
        bad("busybox@sha256:abc", "digest");
        bad("busybox@md5:0123", "digest");
        bad("-busybox", NULL);
        bad("busy__-box", NULL);
        bad("busybox.", NULL);
        bad("a//b", NULL);
        bad("/a", NULL);
        bad("a/", NULL);
        bad("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "64-byte");
        bad("exa_mple.com/x", "registry host");
        bad("example.com:/x", "registry host");
        bad("example.com:8a/x", "registry host");
        bad("-example.com/x", "registry host");
        bad("busybox:"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "tag");
        char longname[300];
        memset(longname, 'a', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = 0;
        bad(longname, "255");
        bad("a b", NULL);
        bad("a@", "digest");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_normalise),
            cmocka_unit_test(test_invalid),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
