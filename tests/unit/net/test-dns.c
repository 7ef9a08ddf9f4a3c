/* Unit tests for src/net/dns.c's query parser (pure): well-formed questions with and without
 * compression, and crafted packets that must all be EBADMSG (pointer loops, forward pointers,
 * truncation, lying counts, responses). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "net/net.h"

static int parse(const uint8_t *p, size_t len, char *name, uint16_t *type)
{
        struct berth_error *err = NULL;
        int r = berth_dns_parse_query(p, len, name, 256, type, &err);
        if (r < 0) {
                assert_non_null(err);
                assert_int_equal(err->code, -r);
        }
        berth_error_free(err);
        return r;
}

#define HDR(qd, an, ns, ar) 0x12, 0x34, 0x01, 0x00, 0, qd, 0, an, 0, ns, 0, ar

static void test_plain(void **state)
{
        (void)state;
        const uint8_t q[] = {
            HDR(1, 0, 0, 0), 3, 'W', 'e', 'b', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0, 1, 0, 1};
        char name[256];
        uint16_t type = 0;
        assert_int_equal(parse(q, sizeof(q), name, &type), 0);
        assert_string_equal(name, "web.example");
        assert_int_equal(type, 1);
        /* the root */
        const uint8_t root[] = {HDR(1, 0, 0, 0), 0, 0, 2, 0, 1};
        assert_int_equal(parse(root, sizeof(root), name, &type), 0);
        assert_string_equal(name, "");
        assert_int_equal(type, 2);
        /* an EDNS OPT record in the additional section is fine */
        const uint8_t edns[] = {
            HDR(1, 0, 0, 1), 1, 'a', 0, 0, 28, 0, 1, 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0};
        assert_int_equal(parse(edns, sizeof(edns), name, &type), 0);
        assert_string_equal(name, "a");
        assert_int_equal(type, 28);
        /* a name too long for the caller's buffer */
        struct berth_error *err = NULL;
        assert_int_equal(berth_dns_parse_query(q, sizeof(q), name, 5, &type, &err), -ENAMETOOLONG);
        berth_error_free(err);
}

static void test_compression(void **state)
{
        (void)state;
        char name[256];
        uint16_t type;
        /* a pointer back into the header is a (strange) backwards pointer: bytes 4.. are
         * 0,1 = label of length 0: the root */
        const uint8_t back[] = {HDR(1, 0, 0, 0), 1, 'x', 0xc0, 4, 0, 1, 0, 1};
        assert_int_equal(parse(back, sizeof(back), name, &type), 0);
        assert_string_equal(name, "x");
        /* a pointer to itself */
        const uint8_t self[] = {HDR(1, 0, 0, 0), 0xc0, 12, 0, 1, 0, 1};
        assert_int_equal(parse(self, sizeof(self), name, &type), -EBADMSG);
        /* a pointer forwards (the start of a loop) */
        const uint8_t fwd[] = {HDR(1, 0, 0, 0), 0xc0, 14, 0xc0, 12, 0, 1, 0, 1};
        assert_int_equal(parse(fwd, sizeof(fwd), name, &type), -EBADMSG);
        /* a label pointing back to a pointer to after itself */
        const uint8_t loop[] = {HDR(1, 0, 0, 0), 1, 'a', 0xc0, 12, 0, 1, 0, 1};
        assert_int_equal(parse(loop, sizeof(loop), name, &type), -EBADMSG);
        /* pointer cut in half, pointer past the end */
        const uint8_t half[] = {HDR(1, 0, 0, 0), 1, 'a', 0xc0};
        assert_int_equal(parse(half, sizeof(half), name, &type), -EBADMSG);
        const uint8_t past[] = {HDR(1, 0, 0, 0), 0xc1, 0xff, 0, 1, 0, 1};
        assert_int_equal(parse(past, sizeof(past), name, &type), -EBADMSG);
        /* extended label types */
        const uint8_t ext[] = {HDR(1, 0, 0, 0), 0x41, 'a', 0, 0, 1, 0, 1};
        assert_int_equal(parse(ext, sizeof(ext), name, &type), -EBADMSG);
}

static void test_malformed(void **state)
{
        (void)state;
        char name[256];
        uint16_t type;
        const uint8_t q[] = {HDR(1, 0, 0, 0), 3, 'w', 'e', 'b', 0, 0, 1, 0, 1};
        /* every truncation */
        for (size_t l = 0; l < sizeof(q); l++)
                assert_int_equal(parse(q, l, name, &type), -EBADMSG);
        assert_int_equal(parse(q, sizeof(q), name, &type), 0);
        assert_int_equal(parse(NULL, 0, name, &type), -EBADMSG);
        /* huge or zero question counts, answer counts the packet cannot hold */
        const uint8_t many[] = {0x12, 0x34, 0x01, 0x00, 0xff, 0xff, 0, 0, 0, 0, 0,
                                0,    3,    'w',  'e',  'b',  0,    0, 1, 0, 1};
        assert_int_equal(parse(many, sizeof(many), name, &type), -EBADMSG);
        const uint8_t none[] = {HDR(0, 0, 0, 0), 3, 'w', 'e', 'b', 0, 0, 1, 0, 1};
        assert_int_equal(parse(none, sizeof(none), name, &type), -EBADMSG);
        const uint8_t an[] = {0x12, 0x34, 0x01, 0x00, 0,   1, 0xff, 0xff, 0xff, 0xff, 0xff,
                              0xff, 3,    'w',  'e',  'b', 0, 0,    1,    0,    1};
        assert_int_equal(parse(an, sizeof(an), name, &type), -EBADMSG);
        /* a response, not a query */
        const uint8_t resp[] = {0x12, 0x34, 0x81, 0x80, 0,   1, 0, 0, 0, 0, 0,
                                0,    3,    'w',  'e',  'b', 0, 0, 1, 0, 1};
        assert_int_equal(parse(resp, sizeof(resp), name, &type), -EBADMSG);
        /* a dot or a control byte inside a label, a label running past the end */
        const uint8_t dot[] = {HDR(1, 0, 0, 0), 3, 'a', '.', 'b', 0, 0, 1, 0, 1};
        assert_int_equal(parse(dot, sizeof(dot), name, &type), -EBADMSG);
        const uint8_t ctl[] = {HDR(1, 0, 0, 0), 3, 'a', 0, 'b', 0, 0, 1, 0, 1};
        assert_int_equal(parse(ctl, sizeof(ctl), name, &type), -EBADMSG);
        const uint8_t run[] = {HDR(1, 0, 0, 0), 63, 'a', 0, 0, 1, 0, 1};
        assert_int_equal(parse(run, sizeof(run), name, &type), -EBADMSG);
        /* a class that is neither IN nor ANY */
        const uint8_t chaos[] = {HDR(1, 0, 0, 0), 1, 'a', 0, 0, 16, 0, 3};
        assert_int_equal(parse(chaos, sizeof(chaos), name, &type), -EBADMSG);
}

static void test_name_length(void **state)
{
        (void)state;
        /* 5 labels of 63 bytes: 320 bytes on the wire, over DNS's 255 */
        uint8_t p[12 + 5 * 64 + 5] = {HDR(1, 0, 0, 0)};
        size_t o = 12;
        for (int i = 0; i < 5; i++) {
                p[o++] = 63;
                memset(p + o, 'a', 63);
                o += 63;
        }
        p[o++] = 0;
        p[o++] = 0;
        p[o++] = 1;
        p[o++] = 0;
        p[o++] = 1;
        char name[256];
        uint16_t type;
        assert_int_equal(parse(p, o, name, &type), -EBADMSG);
        /* 3 of them (192 bytes) are fine */
        size_t l3 = 12 + 3 * 64;
        memcpy(p + l3, (const uint8_t[]){0, 0, 1, 0, 1}, 5);
        assert_int_equal(parse(p, l3 + 5, name, &type), 0);
        assert_int_equal(strlen(name), 3 * 63 + 2);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_plain),
            cmocka_unit_test(test_compression),
            cmocka_unit_test(test_malformed),
            cmocka_unit_test(test_name_length),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
