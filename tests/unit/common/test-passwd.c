/* Unit tests for src/common/passwd.c: berth's own /etc/passwd and /etc/group parser and the
 * bounded read of those files inside a root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "common/common.h"

#include <sys/stat.h>

static void test_passwd_parser(void **state)
{
        (void)state;
        static const char text[] = "a:x:1:2::/home/a:/bin/sh\n"
                                   ":x:3:3::/:\n"
                                   "b:x:-1:2\n"
                                   "c:x:4294967295:0\n"
                                   "d:x:12\n"
                                   "e:x:7:8\r\n"
                                   "f\0:x:9:9\n";
        struct berth_passwd_ent *pw;
        size_t n;
        berth_passwd_parse(text, sizeof(text) - 1, &pw, &n);
        assert_int_equal(n, 2);
        assert_string_equal(pw[0].name, "a");
        assert_int_equal(pw[0].uid, 1);
        assert_int_equal(pw[0].gid, 2);
        assert_string_equal(pw[0].home, "/home/a");
        assert_string_equal(pw[1].name, "e");
        assert_int_equal(pw[1].gid, 8);
        assert_string_equal(pw[1].home, "");
        berth_passwd_free(pw, n);
        static const char gtext[] = "g:x:5:a,b,,c\nh:x:6\nbad:x:x:\n";
        struct berth_group_ent *gr;
        berth_group_parse(gtext, sizeof(gtext) - 1, &gr, &n);
        assert_int_equal(n, 2);
        assert_int_equal(strv_length(gr[0].members), 3);
        assert_string_equal(gr[0].members[2], "c");
        assert_int_equal(strv_length(gr[1].members), 0);
        berth_group_free(gr, n);
}

static void test_parse_id(void **state)
{
        (void)state;
        uint32_t id = 7;
        assert_int_equal(berth_parse_id("4294967294", 10, &id), 0);
        assert_int_equal(id, 4294967294u);
        assert_int_equal(berth_parse_id("4294967295", 10, &id), -ERANGE);
        assert_int_equal(berth_parse_id("+1", 2, &id), -EINVAL);
        assert_int_equal(berth_parse_id("", 0, &id), -EINVAL);
        assert_int_equal(berth_parse_id("12345678901", 11, &id), -EINVAL);
}

static void test_read_in_root(void **state)
{
        (void)state;
        char dir[] = "/tmp/berth-passwd-XXXXXX";
        assert_non_null(mkdtemp(dir));
        int root = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(root >= 0);
        assert_int_equal(mkdirat(root, "etc", 0755), 0);
        assert_int_equal(
            berth_write_file_at(root, "etc/passwd", "a:x:1:1::/:\n", 12, O_CREAT, NULL), 0);
        char *data = NULL;
        size_t len = 0;
        assert_int_equal(berth_passwd_read_at(root, "/etc/passwd", &data, &len, NULL), 0);
        assert_int_equal(len, 12);
        assert_string_equal(data, "a:x:1:1::/:\n");
        free(data);
        /* missing, a FIFO, and a symlink out of the root all read as empty */
        assert_int_equal(berth_passwd_read_at(root, "/etc/group", &data, &len, NULL), 0);
        assert_null(data);
        assert_int_equal(mkfifoat(root, "etc/fifo", 0644), 0);
        assert_int_equal(berth_passwd_read_at(root, "/etc/fifo", &data, &len, NULL), 0);
        assert_null(data);
        assert_int_equal(symlinkat("/etc/hostname", root, "etc/out"), 0);
        assert_int_equal(berth_passwd_read_at(root, "/etc/out", &data, &len, NULL), 0);
        assert_null(data);
        close(root);
        assert_int_equal(berth_rm_rf_at(AT_FDCWD, dir, NULL), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_passwd_parser),
            cmocka_unit_test(test_parse_id),
            cmocka_unit_test(test_read_in_root),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
