/* Unit tests for the blob store (src/image/store.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "image/image.h"

#define HELLO_SHA "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

static char *tmpdir(void)
{
        char t[] = "/tmp/berth-store-XXXXXX";
        assert_non_null(mkdtemp(t));
        return xstrdup(t);
}

static void test_digest_parse(void **state)
{
        char hex[65];
        assert_int_equal(berth_digest_parse(HELLO_SHA, hex, NULL), 0);
        assert_string_equal(hex, &HELLO_SHA[7]);
        const char *bad[] = {
            "", "sha256:", "md5:abc",
            "sha256:2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824",
            "sha256:../../../../etc/passwd000000000000000000000000000000000000000000"};
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                struct berth_error *err = NULL;
                assert_int_equal(berth_digest_parse(bad[i], hex, &err), -EINVAL);
                assert_non_null(strstr(err->msg, "digest"));
                berth_error_free(err);
        }
}

static void test_put_verify_and_read(void **state)
{
        _cleanup_free_ char *dir = tmpdir();
        struct berth_store *st = NULL;
        assert_int_equal(berth_store_open(dir, &st, NULL), 0);
        char *digest = NULL;
        assert_int_equal(berth_store_put(st, "hello", 5, HELLO_SHA, &digest, NULL), 0);
        assert_string_equal(digest, HELLO_SHA);
        free(digest);
        assert_true(berth_store_has(st, HELLO_SHA));
        int fd = -1;
        assert_int_equal(berth_store_open_blob(st, HELLO_SHA, &fd, NULL), 0);
        char buf[16] = "";
        assert_int_equal(read(fd, buf, sizeof(buf)), 5);
        assert_memory_equal(buf, "hello", 5);
        close(fd);

        /* a digest mismatch stores nothing */
        const char *other =
            "sha256:0000000000000000000000000000000000000000000000000000000000000000";
        struct berth_error *err = NULL;
        assert_int_equal(berth_store_put(st, "HELLO", 5, other, NULL, &err), -EBADMSG);
        assert_non_null(strstr(err->msg, "digest mismatch"));
        berth_error_free(err);
        assert_false(berth_store_has(st, other));
        _cleanup_free_ char *tmp = xasprintf("%s/tmp", dir);
        _cleanup_dir_ DIR *d = opendir(tmp);
        struct dirent *de;
        int n = 0;
        while ((de = readdir(d)))
                n += de->d_name[0] != '.';
        assert_int_equal(n, 0);
        berth_store_close(st);

        /* a temporary left by a killed writer is gone at the next open */
        _cleanup_free_ char *stray = xasprintf("%s/tmp/blob-1-1", dir);
        assert_int_equal(berth_write_file_at(AT_FDCWD, stray, "x", 1, O_CREAT, NULL), 0);
        assert_int_equal(berth_store_open(dir, &st, NULL), 0);
        assert_int_equal(access(stray, F_OK), -1);
        assert_true(berth_store_has(st, HELLO_SHA));
        berth_store_close(st);
        assert_int_equal(berth_rm_rf_at(AT_FDCWD, dir, NULL), 0);
}

static void test_streaming_writer(void **state)
{
        _cleanup_free_ char *dir = tmpdir();
        struct berth_store *st = NULL;
        assert_int_equal(berth_store_open(dir, &st, NULL), 0);
        struct berth_blob_writer *w = NULL;
        assert_int_equal(berth_blob_begin(st, &w, NULL), 0);
        assert_int_equal(berth_blob_write(w, "hel", 3, NULL), 0);
        assert_int_equal(berth_blob_write(w, "lo", 2, NULL), 0);
        char *digest = NULL;
        assert_int_equal(berth_blob_commit(w, NULL, &digest, NULL), 0);
        assert_string_equal(digest, HELLO_SHA);
        free(digest);
        assert_int_equal(berth_blob_begin(st, &w, NULL), 0);
        berth_blob_abort(w);
        berth_store_close(st);
        assert_int_equal(berth_rm_rf_at(AT_FDCWD, dir, NULL), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_digest_parse),
            cmocka_unit_test(test_put_verify_and_read),
            cmocka_unit_test(test_streaming_writer),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
