#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "stream/spdy.h"

#define NV(n, v)                                                                                   \
    {                                                                                              \
        (char *)(n), sizeof(n) - 1, (char *)(v), sizeof(v) - 1                                     \
    }

static void test_dictionary(void **state)
{
    size_t len;
    const uint8_t *d = spdy_dictionary(&len);
    assert_int_equal(len, 1423);
    assert_memory_equal(d, "\0\0\0\7options", 11);
    assert_memory_equal(d + len - 6, "enq=0.", 6);
    assert_int_equal(adler32(adler32(0, NULL, 0), d, (uInt)len), 0xe3c6a7c2);
}

static void test_header_roundtrip(void **state)
{
    spdy_zip client, server;
    assert_int_equal(spdy_zip_init(&client, 65536), 0);
    assert_int_equal(spdy_zip_init(&server, 65536), 0);
    spdy_nv h1[] = {NV("streamtype", "error"), NV("port", "8080"), NV("requestid", "0")};
    spdy_nv h2[] = {NV("streamtype", "data"), NV("port", "8080"), NV("requestid", "0")};
    /* several blocks share one zlib stream per direction */
    for (int round = 0; round < 3; round++) {
        sbuf frame = {0};
        uint32_t id = (uint32_t)(1 + 2 * round);
        assert_int_equal(spdy_put_syn_stream(&frame, &client, id, 0, 0, 0, round % 2 ? h2 : h1, 3),
                         0);
        spdy_frame f;
        size_t used = 0;
        const char *why;
        assert_int_equal(
            spdy_frame_decode(sbuf_head(&frame), sbuf_avail(&frame), 1 << 20, &f, &used, &why),
            SPDY_FRAME);
        assert_int_equal(used, sbuf_avail(&frame));
        assert_true(f.control);
        assert_int_equal(f.type, SPDY_SYN_STREAM);
        assert_int_equal(f.stream_id, id);
        spdy_headers h;
        assert_int_equal(spdy_headers_decompress(&server, f.payload, f.payload_len, &h, &why), 0);
        assert_int_equal(h.n, 3);
        assert_string_equal(spdy_headers_get(&h, "streamtype"), round % 2 ? "data" : "error");
        assert_string_equal(spdy_headers_get(&h, "port"), "8080");
        assert_null(spdy_headers_get(&h, "missing"));
        spdy_headers_free(&h);
        sbuf_free(&frame);
    }
    /* and the other direction: a SYN_REPLY with no headers */
    sbuf reply = {0};
    assert_int_equal(spdy_put_syn_reply(&reply, &server, 1, 0, NULL, 0), 0);
    spdy_frame f;
    size_t used;
    const char *why;
    assert_int_equal(
        spdy_frame_decode(sbuf_head(&reply), sbuf_avail(&reply), 1 << 20, &f, &used, &why),
        SPDY_FRAME);
    assert_int_equal(f.type, SPDY_SYN_REPLY);
    spdy_headers h;
    assert_int_equal(spdy_headers_decompress(&client, f.payload, f.payload_len, &h, &why), 0);
    assert_int_equal(h.n, 0);
    spdy_headers_free(&h);
    sbuf_free(&reply);
    spdy_zip_free(&client);
    spdy_zip_free(&server);
}

static void test_multivalue_and_bad_blocks(void **state)
{
    spdy_zip a, b;
    spdy_zip_init(&a, 65536);
    spdy_zip_init(&b, 65536);
    static const char two[] = "a\0b";
    spdy_nv nv[] = {{(char *)"x", 1, (char *)two, 3}};
    sbuf blk = {0};
    assert_int_equal(spdy_headers_compress(&a, nv, 1, &blk), 0);
    spdy_headers h;
    const char *why;
    assert_int_equal(spdy_headers_decompress(&b, sbuf_head(&blk), sbuf_avail(&blk), &h, &why), 0);
    assert_string_equal(spdy_headers_get(&h, "x"), "a"); /* the first value */
    assert_int_equal(h.nv[0].value_len, 3);
    spdy_headers_free(&h);
    sbuf_free(&blk);

    spdy_nv upper[] = {NV("StreamType", "x")};
    assert_int_equal(spdy_headers_compress(&a, upper, 1, &blk), 0);
    assert_int_equal(spdy_headers_decompress(&b, sbuf_head(&blk), sbuf_avail(&blk), &h, &why), -1);
    assert_string_equal(why, "header name not in lowercase");
    sbuf_free(&blk);
    spdy_zip_free(&a);
    spdy_zip_free(&b);

    spdy_zip_init(&a, 65536);
    spdy_zip_init(&b, 65536);
    spdy_nv dup[] = {NV("a", "1"), NV("a", "2")};
    assert_int_equal(spdy_headers_compress(&a, dup, 2, &blk), 0);
    assert_int_equal(spdy_headers_decompress(&b, sbuf_head(&blk), sbuf_avail(&blk), &h, &why), -1);
    assert_string_equal(why, "duplicate header name");
    sbuf_free(&blk);
    spdy_zip_free(&a);
    spdy_zip_free(&b);

    /* not zlib at all */
    spdy_zip_init(&b, 65536);
    assert_int_equal(spdy_headers_decompress(&b, (const uint8_t *)"garbage!", 8, &h, &why), -1);
    spdy_zip_free(&b);

    /* a block that inflates beyond the limit */
    spdy_zip_init(&a, 1 << 20);
    spdy_zip_init(&b, 1024);
    static char big[4000];
    memset(big, 'v', sizeof(big));
    spdy_nv bignv[] = {{(char *)"k", 1, big, sizeof(big)}};
    assert_int_equal(spdy_headers_compress(&a, bignv, 1, &blk), 0);
    assert_int_equal(spdy_headers_decompress(&b, sbuf_head(&blk), sbuf_avail(&blk), &h, &why), -1);
    assert_string_equal(why, "header block too large");
    sbuf_free(&blk);
    spdy_zip_free(&a);
    spdy_zip_free(&b);
}

/* Deflates raw bytes with the SPDY dictionary, as a (hostile) client would. */
static size_t deflate_raw(const uint8_t *raw, size_t n, uint8_t *out, size_t cap)
{
    z_stream z = {0};
    assert_int_equal(deflateInit(&z, Z_DEFAULT_COMPRESSION), Z_OK);
    size_t dlen;
    const uint8_t *dict = spdy_dictionary(&dlen);
    assert_int_equal(deflateSetDictionary(&z, dict, (uInt)dlen), Z_OK);
    z.next_in = (Bytef *)raw;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_SYNC_FLUSH), Z_OK);
    size_t used = cap - z.avail_out;
    deflateEnd(&z);
    return used;
}

/* A header whose name arrived but whose value is cut short: everything
 * allocated so far is freed (found by fuzz/fuzz_stream_spdy: the name leaked). */
static void test_truncated_value_frees_name(void **state)
{
    static const uint8_t raw[] = {0, 0, 0, 2, 0,   0,   0,   1, 'a', 0, 0,  0,   1,  '1',
                                  0, 0, 0, 3, 'b', 'c', 'd', 0, 0,   0, 10, 'x', 'y'};
    uint8_t blk[256];
    size_t n = deflate_raw(raw, sizeof(raw), blk, sizeof(blk));
    spdy_zip b;
    spdy_zip_init(&b, 65536);
    spdy_headers h;
    const char *why;
    assert_int_equal(spdy_headers_decompress(&b, blk, n, &h, &why), -1);
    assert_string_equal(why, "truncated header block");
    assert_int_equal(h.n, 0);
    assert_null(h.nv);
    spdy_zip_free(&b);
}

static void test_control_frames(void **state)
{
    sbuf b = {0};
    spdy_put_rst(&b, 5, SPDY_CANCEL);
    spdy_put_ping(&b, 7);
    spdy_put_goaway(&b, 9, SPDY_GOAWAY_OK);
    spdy_put_window_update(&b, 3, 1000);
    uint32_t ids[] = {SPDY_SETTINGS_INITIAL_WINDOW_SIZE}, vals[] = {1 << 20};
    spdy_put_settings(&b, 0, ids, vals, 1);
    spdy_put_data(&b, 3, SPDY_FLAG_FIN, "hello", 5);
    const uint8_t *p = sbuf_head(&b);
    size_t left = sbuf_avail(&b), used;
    spdy_frame f;
    const char *why;
    assert_int_equal(spdy_frame_decode(p, left, 1 << 20, &f, &used, &why), SPDY_FRAME);
    assert_int_equal(f.type, SPDY_RST_STREAM);
    assert_int_equal(f.stream_id, 5);
    assert_int_equal(f.status, SPDY_CANCEL);
    p += used, left -= used;
    assert_int_equal(spdy_frame_decode(p, left, 1 << 20, &f, &used, &why), SPDY_FRAME);
    assert_int_equal(f.type, SPDY_PING);
    assert_int_equal(f.ping_id, 7);
    p += used, left -= used;
    assert_int_equal(spdy_frame_decode(p, left, 1 << 20, &f, &used, &why), SPDY_FRAME);
    assert_int_equal(f.type, SPDY_GOAWAY);
    assert_int_equal(f.last_good, 9);
    p += used, left -= used;
    assert_int_equal(spdy_frame_decode(p, left, 1 << 20, &f, &used, &why), SPDY_FRAME);
    assert_int_equal(f.type, SPDY_WINDOW_UPDATE);
    assert_int_equal(f.delta, 1000);
    p += used, left -= used;
    assert_int_equal(spdy_frame_decode(p, left, 1 << 20, &f, &used, &why), SPDY_FRAME);
    assert_int_equal(f.type, SPDY_SETTINGS);
    uint8_t fl;
    uint32_t id, v;
    assert_true(spdy_settings_entry(&f, 0, &fl, &id, &v));
    assert_int_equal(id, SPDY_SETTINGS_INITIAL_WINDOW_SIZE);
    assert_int_equal(v, 1 << 20);
    assert_false(spdy_settings_entry(&f, 1, &fl, &id, &v));
    p += used, left -= used;
    /* a data frame arriving in pieces */
    assert_int_equal(spdy_frame_decode(p, 5, 1 << 20, &f, &used, &why), SPDY_NEED_MORE);
    assert_int_equal(spdy_frame_decode(p, 12, 1 << 20, &f, &used, &why), SPDY_NEED_MORE);
    assert_int_equal(spdy_frame_decode(p, left, 1 << 20, &f, &used, &why), SPDY_FRAME);
    assert_false(f.control);
    assert_int_equal(f.stream_id, 3);
    assert_int_equal(f.flags, SPDY_FLAG_FIN);
    assert_int_equal(f.payload_len, 5);
    assert_memory_equal(f.payload, "hello", 5);
    assert_int_equal(used, left);
    sbuf_free(&b);
}

static void test_bad_frames(void **state)
{
    spdy_frame f;
    size_t used;
    const char *why;
    /* version 2 control frame */
    const uint8_t v2[] = {0x80, 0x02, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 1};
    assert_int_equal(spdy_frame_decode(v2, sizeof(v2), 1 << 20, &f, &used, &why), SPDY_BAD);
    /* RST_STREAM of length 4 */
    const uint8_t rst[] = {0x80, 0x03, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 1};
    assert_int_equal(spdy_frame_decode(rst, sizeof(rst), 1 << 20, &f, &used, &why), SPDY_BAD);
    /* data for stream 0 */
    const uint8_t d0[] = {0, 0, 0, 0, 0, 0, 0, 1, 'x'};
    assert_int_equal(spdy_frame_decode(d0, sizeof(d0), 1 << 20, &f, &used, &why), SPDY_BAD);
    /* oversized */
    const uint8_t huge[] = {0, 0, 0, 1, 0, 0xff, 0xff, 0xff};
    assert_int_equal(spdy_frame_decode(huge, sizeof(huge), 1 << 20, &f, &used, &why),
                     SPDY_TOO_LARGE);
    /* SETTINGS whose count lies */
    const uint8_t st[] = {0x80, 0x03, 0x00, 0x04, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 9};
    assert_int_equal(spdy_frame_decode(st, sizeof(st), 1 << 20, &f, &used, &why), SPDY_BAD);
    /* unknown control frame type: decoded, to be ignored */
    const uint8_t unk[] = {0x80, 0x03, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00};
    assert_int_equal(spdy_frame_decode(unk, sizeof(unk), 1 << 20, &f, &used, &why), SPDY_FRAME);
    assert_int_equal(f.type, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dictionary),
        cmocka_unit_test(test_header_roundtrip),
        cmocka_unit_test(test_multivalue_and_bad_blocks),
        cmocka_unit_test(test_truncated_value_frees_name),
        cmocka_unit_test(test_control_frames),
        cmocka_unit_test(test_bad_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
