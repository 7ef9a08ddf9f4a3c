/* Unit tests for the registry client's credentials and challenges (src/image/auth.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "image/registry-internal.h"

static void test_base64(void **state)
{
        _cleanup_free_ char *out = NULL;
        size_t len = 0;
        /* standard with padding, URL-safe without */
        assert_int_equal(reg_base64_decode("dXNlcjpwYXNz", &out, &len), 0);
        assert_string_equal(out, "user:pass");
        assert_int_equal(len, 9);
        free(out);
        out = NULL;
        assert_int_equal(reg_base64_decode("Pz8-Pz8_", &out, &len), 0);
        assert_int_equal(len, 6);
        assert_memory_equal(out, "\x3f\x3f\x3e\x3f\x3f\x3f", 6);
        free(out);
        out = NULL;
        assert_int_equal(reg_base64_decode("YQ", &out, &len), 0);
        assert_string_equal(out, "a");
        free(out);
        out = NULL;
        assert_int_equal(reg_base64_decode("YQ==", &out, &len), 0);
        assert_int_equal(len, 1);
        free(out);
        out = NULL;
        assert_int_equal(reg_base64_decode("Y", &out, &len), -EINVAL);
        assert_int_equal(reg_base64_decode("!!!!", &out, &len), -EINVAL);
        _cleanup_free_ char *enc = berth_base64_encode("user:pass", 9);
        assert_string_equal(enc, "dXNlcjpwYXNz");
}

static void test_challenge(void **state)
{
        struct reg_challenge c = {0};
        assert_int_equal(reg_challenge_parse("Bearer realm=\"https://auth.docker.io/token\","
                                             "service=\"registry.docker.io\",scope=\"repository:"
                                             "library/busybox:pull\"",
                                             &c, NULL),
                         0);
        assert_string_equal(c.scheme, "bearer");
        assert_string_equal(c.realm, "https://auth.docker.io/token");
        assert_string_equal(c.service, "registry.docker.io");
        assert_string_equal(c.scope, "repository:library/busybox:pull");
        reg_challenge_release(&c);
        assert_int_equal(reg_challenge_parse("Basic realm=\"a \\\"b\\\"\"", &c, NULL), 0);
        assert_string_equal(c.scheme, "basic");
        assert_string_equal(c.realm, "a \"b\"");
        assert_null(c.service);
        reg_challenge_release(&c);
        /* unquoted values, spaces after commas, unknown keys */
        assert_int_equal(
            reg_challenge_parse("BEARER realm=http://x/t, service=s, error=\"x\"", &c, NULL), 0);
        assert_string_equal(c.realm, "http://x/t");
        assert_string_equal(c.service, "s");
        reg_challenge_release(&c);
        struct berth_error *e = NULL;
        assert_int_equal(reg_challenge_parse("Bearer service=\"x\"", &c, &e), -EINVAL);
        assert_non_null(strstr(e->msg, "realm"));
        berth_error_free(e);
        e = NULL;
        assert_int_equal(reg_challenge_parse("   ", &c, &e), -EINVAL);
        berth_error_free(e);
}

static char *write_config(const char *json)
{
        char t[] = "/tmp/berth-auth-XXXXXX";
        int fd = mkstemp(t);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
        close(fd);
        return xstrdup(t);
}

static void test_creds_header(void **state)
{
        struct reg_creds c = {0};
        /* {"username":"u","password":"p?>"} base64url without padding */
        const char *json = "{\"username\":\"u\",\"password\":\"p?>\",\"serveraddress\":\"x\"}";
        _cleanup_free_ char *b = berth_base64_encode(json, strlen(json));
        for (char *p = b; *p; p++)
                *p = *p == '+' ? '-' : *p == '/' ? '_' : *p == '=' ? 0 : *p;
        assert_int_equal(reg_creds_lookup("h:1", b, "/nonexistent", &c, NULL), 0);
        assert_string_equal(c.username, "u");
        assert_string_equal(c.password, "p?>");
        reg_creds_release(&c);
        /* "{}": anonymous, and the config file is not consulted */
        assert_int_equal(reg_creds_lookup("h:1", "e30=", "/nonexistent", &c, NULL), 0);
        assert_null(c.username);
        struct berth_error *e = NULL;
        assert_int_equal(reg_creds_lookup("h:1", "bm90IGpzb24", NULL, &c, &e), -EINVAL);
        assert_non_null(strstr(e->msg, "X-Registry-Auth"));
        berth_error_free(e);
        const char *tok = "{\"identitytoken\":\"refresh\"}";
        _cleanup_free_ char *tb = berth_base64_encode(tok, strlen(tok));
        assert_int_equal(reg_creds_lookup("h:1", tb, NULL, &c, NULL), 0);
        assert_string_equal(c.identitytoken, "refresh");
        reg_creds_release(&c);
}

static void test_creds_config(void **state)
{
        /* dXNlcjpwYXNz = user:pass, aHViOmh1Yg== = hub:hub */
        _cleanup_free_ char *path =
            write_config("{\"auths\": {\"http://127.0.0.1:5000/v2/\": {\"auth\": "
                         "\"dXNlcjpwYXNz\"}, \"https://index.docker.io/v1/\": {\"auth\": "
                         "\"aHViOmh1Yg==\"}, \"bad:1\": {\"auth\": \"bm9jb2xvbg==\"}}}");
        struct reg_creds c = {0};
        assert_int_equal(reg_creds_lookup("127.0.0.1:5000", NULL, path, &c, NULL), 0);
        assert_string_equal(c.username, "user");
        assert_string_equal(c.password, "pass");
        reg_creds_release(&c);
        assert_int_equal(reg_creds_lookup("docker.io", NULL, path, &c, NULL), 0);
        assert_string_equal(c.username, "hub");
        reg_creds_release(&c);
        assert_int_equal(reg_creds_lookup("127.0.0.1:5001", NULL, path, &c, NULL), 0);
        assert_null(c.username);
        struct berth_error *e = NULL;
        assert_int_equal(reg_creds_lookup("bad:1", NULL, path, &c, &e), -EINVAL);
        assert_non_null(strstr(e->msg, "bad:1"));
        berth_error_free(e);
        e = NULL;
        _cleanup_free_ char *broken = write_config("{\"auths\": ");
        assert_true(reg_creds_lookup("x", NULL, broken, &c, &e) < 0);
        berth_error_free(e);
        unlink(path);
        unlink(broken);
}

static void test_token_cache(void **state)
{
        assert_null(reg_token_cache_get("h", "repository:a:pull"));
        reg_token_cache_put("h", "repository:a:pull", "tok1", 300);
        _cleanup_free_ char *t = reg_token_cache_get("h", "repository:a:pull");
        assert_string_equal(t, "tok1");
        assert_null(reg_token_cache_get("h", "repository:a:pull,push"));
        assert_null(reg_token_cache_get("other", "repository:a:pull"));
        reg_token_cache_put("h", "repository:a:pull", "tok2", 300);
        _cleanup_free_ char *t2 = reg_token_cache_get("h", "repository:a:pull");
        assert_string_equal(t2, "tok2");
        /* a token valid for one second is not worth keeping */
        reg_token_cache_put("h", "repository:b:pull", "short", 1);
        assert_null(reg_token_cache_get("h", "repository:b:pull"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_base64),       cmocka_unit_test(test_challenge),
            cmocka_unit_test(test_creds_header), cmocka_unit_test(test_creds_config),
            cmocka_unit_test(test_token_cache),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
