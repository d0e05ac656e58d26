/* gRPC message framing: reassembly across arbitrary chunk boundaries and the
 * checks made on each 5-byte prefix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rpc/frame.h"

#define MAX_MSGS 16

typedef struct collected {
    size_t n;
    uint8_t *msg[MAX_MSGS];
    size_t len[MAX_MSGS];
    size_t refuse_after; /* refuse the message with this index (0: never) */
} collected;

static int collect(void *arg, uint8_t *msg, size_t len)
{
    collected *c = arg;
    if (c->refuse_after && c->n == c->refuse_after) {
        free(msg);
        return -1;
    }
    assert_true(c->n < MAX_MSGS);
    assert_true(len == 0 ? msg == NULL : msg != NULL);
    c->msg[c->n] = msg;
    c->len[c->n] = len;
    c->n++;
    return 0;
}

static void collected_free(collected *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->msg[i]);
}

/* Builds prefix+payload for each length; payload byte j of message i is (i*31+j). */
static uint8_t *build_stream(const size_t *lens, size_t n, size_t *out_len)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += RPC_FRAME_PREFIX_LEN + lens[i];
    uint8_t *buf = malloc(total ? total : 1);
    assert_non_null(buf);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        rpc_frame_prefix(buf + o, (uint32_t)lens[i]);
        o += RPC_FRAME_PREFIX_LEN;
        for (size_t j = 0; j < lens[i]; j++)
            buf[o++] = (uint8_t)(i * 31 + j);
    }
    *out_len = total;
    return buf;
}

static void check_messages(const collected *c, const size_t *lens, size_t n)
{
    assert_int_equal(c->n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(c->len[i], lens[i]);
        for (size_t j = 0; j < lens[i]; j++)
            assert_int_equal(c->msg[i][j], (uint8_t)(i * 31 + j));
    }
}

static void test_prefix_encoding(void **state)
{
    uint8_t p[5];
    rpc_frame_prefix(p, 0x01020304u);
    assert_int_equal(p[0], 0);
    assert_int_equal(p[1], 1);
    assert_int_equal(p[2], 2);
    assert_int_equal(p[3], 3);
    assert_int_equal(p[4], 4);
}

static void test_whole_buffer(void **state)
{
    const size_t lens[] = {3, 0, 100000, 1};
    size_t total;
    uint8_t *buf = build_stream(lens, 4, &total);
    rpc_frame_reader r;
    rpc_frame_reader_init(&r, 1 << 20);
    collected c = {0};
    size_t kept = 0;
    assert_int_equal(rpc_frame_feed(&r, buf, total, collect, &c, &kept), RPC_FRAME_OK);
    assert_int_equal(kept, 3 + 100000 + 1);
    assert_false(rpc_frame_reader_partial(&r));
    check_messages(&c, lens, 4);
    collected_free(&c);
    rpc_frame_reader_reset(&r);
    free(buf);
}

/* Every split into chunks of a fixed size 1..40, then pseudo-random cuts. */
static void test_arbitrary_chunks(void **state)
{
    const size_t lens[] = {0, 1, 7, 70, 0, 33};
    size_t total;
    uint8_t *buf = build_stream(lens, 6, &total);
    for (size_t step = 1; step <= 40; step++) {
        rpc_frame_reader r;
        rpc_frame_reader_init(&r, 1024);
        collected c = {0};
        size_t kept_total = 0;
        for (size_t o = 0; o < total; o += step) {
            size_t n = total - o < step ? total - o : step;
            size_t kept;
            assert_int_equal(rpc_frame_feed(&r, buf + o, n, collect, &c, &kept), RPC_FRAME_OK);
            assert_true(kept <= n);
            kept_total += kept;
        }
        assert_int_equal(kept_total, 1 + 7 + 70 + 33);
        assert_false(rpc_frame_reader_partial(&r));
        check_messages(&c, lens, 6);
        collected_free(&c);
        rpc_frame_reader_reset(&r);
    }
    uint32_t seed = 12345;
    for (int round = 0; round < 200; round++) {
        rpc_frame_reader r;
        rpc_frame_reader_init(&r, 1024);
        collected c = {0};
        size_t o = 0;
        while (o < total) {
            seed = seed * 1103515245u + 12345u;
            size_t n = (seed >> 16) % 12;
            if (n > total - o)
                n = total - o;
            assert_int_equal(rpc_frame_feed(&r, buf + o, n, collect, &c, NULL), RPC_FRAME_OK);
            o += n;
        }
        check_messages(&c, lens, 6);
        collected_free(&c);
        rpc_frame_reader_reset(&r);
    }
    free(buf);
}

static void test_partial_then_reset(void **state)
{
    const size_t lens[] = {50};
    size_t total;
    uint8_t *buf = build_stream(lens, 1, &total);
    rpc_frame_reader r;
    rpc_frame_reader_init(&r, 1024);
    collected c = {0};
    assert_int_equal(rpc_frame_feed(&r, buf, 3, collect, &c, NULL), RPC_FRAME_OK);
    assert_true(rpc_frame_reader_partial(&r));
    assert_int_equal(rpc_frame_feed(&r, buf + 3, 20, collect, &c, NULL), RPC_FRAME_OK);
    assert_true(rpc_frame_reader_partial(&r));
    assert_int_equal(c.n, 0);
    rpc_frame_reader_reset(&r); /* frees the partial message */
    assert_false(rpc_frame_reader_partial(&r));
    assert_int_equal(rpc_frame_feed(&r, buf, total, collect, &c, NULL), RPC_FRAME_OK);
    check_messages(&c, lens, 1);
    collected_free(&c);
    rpc_frame_reader_reset(&r);
    free(buf);
}

static void test_max_length_exact(void **state)
{
    const size_t lens[] = {64};
    size_t total;
    uint8_t *buf = build_stream(lens, 1, &total);
    rpc_frame_reader r;
    rpc_frame_reader_init(&r, 64);
    collected c = {0};
    assert_int_equal(rpc_frame_feed(&r, buf, total, collect, &c, NULL), RPC_FRAME_OK);
    check_messages(&c, lens, 1);
    collected_free(&c);
    rpc_frame_reader_reset(&r);
    free(buf);
}

/* The prefix alone is enough to refuse: nothing of the payload is buffered. */
static void test_over_max(void **state)
{
    rpc_frame_reader r;
    rpc_frame_reader_init(&r, 16u << 20);
    uint8_t p[5];
    rpc_frame_prefix(p, (16u << 20) + 1);
    collected c = {0};
    size_t kept = 99;
    assert_int_equal(rpc_frame_feed(&r, p, 4, collect, &c, &kept), RPC_FRAME_OK);
    assert_int_equal(rpc_frame_feed(&r, p + 4, 1, collect, &c, &kept), RPC_FRAME_TOO_LARGE);
    assert_int_equal(kept, 0);
    assert_int_equal(r.msg_len, (16u << 20) + 1);
    assert_null(r.msg);
    /* sticky */
    uint8_t more[100] = {0};
    assert_int_equal(rpc_frame_feed(&r, more, sizeof(more), collect, &c, &kept),
                     RPC_FRAME_TOO_LARGE);
    assert_int_equal(c.n, 0);
    rpc_frame_reader_reset(&r);

    /* 0xffffffff, the largest prefix */
    rpc_frame_reader_init(&r, 1024);
    const uint8_t big[5] = {0, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(rpc_frame_feed(&r, big, 5, collect, &c, NULL), RPC_FRAME_TOO_LARGE);
    rpc_frame_reader_reset(&r);
}

/* A large announced length does not allocate it up front. */
static void test_grows_with_data(void **state)
{
    rpc_frame_reader r;
    rpc_frame_reader_init(&r, 64u << 20);
    uint8_t p[5];
    rpc_frame_prefix(p, 60u << 20);
    collected c = {0};
    uint8_t chunk[1000];
    memset(chunk, 7, sizeof(chunk));
    assert_int_equal(rpc_frame_feed(&r, p, 5, collect, &c, NULL), RPC_FRAME_OK);
    assert_int_equal(rpc_frame_feed(&r, chunk, sizeof(chunk), collect, &c, NULL), RPC_FRAME_OK);
    assert_true(r.msg_cap < 1u << 20);
    rpc_frame_reader_reset(&r);
}

static void test_compressed_flag(void **state)
{
    rpc_frame_reader r;
    rpc_frame_reader_init(&r, 1024);
    const uint8_t m[] = {1, 0, 0, 0, 2, 'h', 'i'};
    collected c = {0};
    assert_int_equal(rpc_frame_feed(&r, m, sizeof(m), collect, &c, NULL), RPC_FRAME_COMPRESSED);
    assert_int_equal(c.n, 0);
    rpc_frame_reader_reset(&r);

    const uint8_t bad[] = {0x80, 0, 0, 0, 0};
    assert_int_equal(rpc_frame_feed(&r, bad, sizeof(bad), collect, &c, NULL), RPC_FRAME_BAD_FLAG);
    rpc_frame_reader_reset(&r);

    /* an invalid second message after a good one */
    const uint8_t two[] = {0, 0, 0, 0, 1, 'x', 1, 0, 0, 0, 0};
    assert_int_equal(rpc_frame_feed(&r, two, sizeof(two), collect, &c, NULL), RPC_FRAME_COMPRESSED);
    assert_int_equal(c.n, 1);
    collected_free(&c);
    rpc_frame_reader_reset(&r);
}

static void test_callback_refuses(void **state)
{
    const size_t lens[] = {2, 2, 2};
    size_t total;
    uint8_t *buf = build_stream(lens, 3, &total);
    rpc_frame_reader r;
    rpc_frame_reader_init(&r, 1024);
    collected c = {.refuse_after = 1};
    assert_int_equal(rpc_frame_feed(&r, buf, total, collect, &c, NULL), RPC_FRAME_REJECTED);
    assert_int_equal(c.n, 1);
    assert_int_equal(rpc_frame_feed(&r, buf, total, collect, &c, NULL), RPC_FRAME_REJECTED);
    collected_free(&c);
    rpc_frame_reader_reset(&r);
    free(buf);
}

static void test_strerror(void **state)
{
    assert_string_equal(rpc_frame_strerror(RPC_FRAME_OK), "ok");
    assert_string_equal(rpc_frame_strerror(RPC_FRAME_COMPRESSED), "compressed message");
    assert_string_equal(rpc_frame_strerror(-99), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefix_encoding),  cmocka_unit_test(test_whole_buffer),
        cmocka_unit_test(test_arbitrary_chunks), cmocka_unit_test(test_partial_then_reset),
        cmocka_unit_test(test_max_length_exact), cmocka_unit_test(test_over_max),
        cmocka_unit_test(test_grows_with_data),  cmocka_unit_test(test_compressed_flag),
        cmocka_unit_test(test_callback_refuses), cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
