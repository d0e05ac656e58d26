/* The attach/control framing of src/shim/protocol.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "shim/protocol.h"

static size_t put(uint8_t *buf, uint8_t type, const char *payload, size_t len)
{
    shim_frame_header(buf, type, (uint32_t)len);
    memcpy(buf + SHIM_FRAME_HDR, payload, len);
    return SHIM_FRAME_HDR + len;
}

static void test_header_big_endian(void **state)
{
    (void)state;
    uint8_t h[SHIM_FRAME_HDR];
    shim_frame_header(h, SHIM_MSG_STDOUT, 0x01020304);
    uint8_t want[] = {0x81, 1, 2, 3, 4};
    assert_memory_equal(h, want, sizeof(want));
}

static void test_two_frames_one_buffer(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n = put(buf, SHIM_MSG_STDIN, "hello", 5);
    n += put(buf + n, SHIM_MSG_CLOSE_STDIN, "", 0);
    struct shim_frame_reader *r = malloc(sizeof(*r));
    shim_frame_reader_init(r);
    const uint8_t *p = buf;
    size_t len = n;
    assert_int_equal(shim_frame_feed(r, &p, &len), SHIM_FRAME_READY);
    assert_int_equal(r->type, SHIM_MSG_STDIN);
    assert_int_equal(r->len, 5);
    assert_memory_equal(r->payload, "hello", 5);
    assert_int_equal(shim_frame_feed(r, &p, &len), SHIM_FRAME_READY);
    assert_int_equal(r->type, SHIM_MSG_CLOSE_STDIN);
    assert_int_equal(r->len, 0);
    assert_int_equal(len, 0);
    free(r);
}

static void test_byte_by_byte(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n = put(buf, SHIM_MSG_CONTROL, "reopen-log", 10);
    uint8_t rs[4] = {0, 40, 0, 100};
    shim_frame_header(buf + n, SHIM_MSG_RESIZE, 4);
    memcpy(buf + n + SHIM_FRAME_HDR, rs, 4);
    n += SHIM_FRAME_HDR + 4;
    struct shim_frame_reader *r = malloc(sizeof(*r));
    shim_frame_reader_init(r);
    int frames = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = buf + i;
        size_t len = 1;
        int st = shim_frame_feed(r, &p, &len);
        assert_int_equal(len, 0);
        if (st == SHIM_FRAME_READY) {
            frames++;
            if (frames == 1) {
                assert_int_equal(r->type, SHIM_MSG_CONTROL);
                assert_memory_equal(r->payload, "reopen-log", 10);
            } else {
                assert_int_equal(r->type, SHIM_MSG_RESIZE);
                assert_memory_equal(r->payload, rs, 4);
            }
        } else {
            assert_int_equal(st, SHIM_FRAME_MORE);
        }
    }
    assert_int_equal(frames, 2);
    free(r);
}

static void test_oversized_rejected(void **state)
{
    (void)state;
    uint8_t h[SHIM_FRAME_HDR];
    shim_frame_header(h, SHIM_MSG_STDIN, SHIM_FRAME_MAX + 1);
    struct shim_frame_reader *r = malloc(sizeof(*r));
    shim_frame_reader_init(r);
    const uint8_t *p = h;
    size_t len = sizeof(h);
    assert_int_equal(shim_frame_feed(r, &p, &len), SHIM_FRAME_BAD);
    free(r);
}

static void test_max_frame(void **state)
{
    (void)state;
    size_t n = SHIM_FRAME_HDR + SHIM_FRAME_MAX;
    uint8_t *buf = malloc(n);
    shim_frame_header(buf, SHIM_MSG_STDERR, SHIM_FRAME_MAX);
    memset(buf + SHIM_FRAME_HDR, 'z', SHIM_FRAME_MAX);
    struct shim_frame_reader *r = malloc(sizeof(*r));
    shim_frame_reader_init(r);
    const uint8_t *p = buf;
    size_t len = 1000; /* in two pieces */
    assert_int_equal(shim_frame_feed(r, &p, &len), SHIM_FRAME_MORE);
    len = n - 1000;
    assert_int_equal(shim_frame_feed(r, &p, &len), SHIM_FRAME_READY);
    assert_int_equal(r->len, SHIM_FRAME_MAX);
    assert_int_equal(r->payload[SHIM_FRAME_MAX - 1], 'z');
    free(r);
    free(buf);
}

static void test_id_valid(void **state)
{
    (void)state;
    assert_true(shim_id_valid("3f2a"));
    assert_true(shim_id_valid("Abc_1.2+3-4"));
    char longest[129];
    memset(longest, 'a', 128);
    longest[128] = '\0';
    assert_true(shim_id_valid(longest));
    const char *bad[] = {"", "-rf", ".hidden", "_x", "a/b", "a b", "..", "a\n", "a$b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(shim_id_valid(bad[i]));
    char over[130];
    memset(over, 'a', 129);
    over[129] = '\0';
    assert_false(shim_id_valid(over));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_big_endian), cmocka_unit_test(test_two_frames_one_buffer),
        cmocka_unit_test(test_byte_by_byte),      cmocka_unit_test(test_oversized_rejected),
        cmocka_unit_test(test_max_frame),         cmocka_unit_test(test_id_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
