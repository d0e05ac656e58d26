/* The exit statuses on the error stream, the WebSocket frames and the
 * WebSocket channel framing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stream/status.h"
#include "stream/wschan.h"
#include "stream/wsframe.h"

/* A masked client frame as a browser would send it. */
static size_t client_frame(uint8_t *out, uint8_t b0, const uint8_t *payload, size_t len)
{
    const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t h = 0;
    out[h++] = b0;
    if (len < 126) {
        out[h++] = (uint8_t)(0x80 | len);
    } else if (len <= 0xffff) {
        out[h++] = 0x80 | 126;
        out[h++] = (uint8_t)(len >> 8);
        out[h++] = (uint8_t)len;
    } else {
        out[h++] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            out[h++] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    }
    memcpy(out + h, mask, 4);
    h += 4;
    for (size_t i = 0; i < len; i++)
        out[h + i] = payload[i] ^ mask[i & 3];
    return h + len;
}

static void test_wsframe(void **state)
{
    (void)state;
    static uint8_t buf[70000 + 14], payload[70000];
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(i * 7);
    /* The RFC 6455 example: a masked "Hello". */
    const uint8_t hello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    wsframe f;
    assert_int_equal(wsframe_header(hello, sizeof(hello), 1 << 20, &f), 1);
    assert_true(f.fin);
    assert_int_equal(f.opcode, WS_OP_TEXT);
    assert_int_equal(f.len, 5);
    assert_int_equal(f.header, 6);
    uint8_t p[5];
    memcpy(p, hello + 6, 5);
    wsframe_unmask(&f, p, 5, 0);
    assert_memory_equal(p, "Hello", 5);
    /* Every length encoding, and a header that arrives in pieces. */
    size_t lens[] = {0, 125, 126, 65535, 65536, 70000};
    for (size_t k = 0; k < 6; k++) {
        size_t n = client_frame(buf, 0x82, payload, lens[k]);
        size_t hl = n - lens[k];
        for (size_t cut = 0; cut < hl; cut++)
            assert_int_equal(wsframe_header(buf, cut, 1 << 20, &f), 0);
        assert_int_equal(wsframe_header(buf, n, 1 << 20, &f), 1);
        assert_int_equal(f.len, lens[k]);
        assert_int_equal(f.header, hl);
        /* Unmasking in two parts equals unmasking at once. */
        size_t half = lens[k] / 2;
        wsframe_unmask(&f, buf + hl, half, 0);
        wsframe_unmask(&f, buf + hl + half, lens[k] - half, half);
        assert_memory_equal(buf + hl, payload, lens[k]);
        assert_int_equal(wsframe_header(buf, n, lens[k] ? lens[k] - 1 : 0, &f),
                         lens[k] ? -1 : 1); /* over max */
    }
    /* Not valid from a client. */
    uint8_t unmasked[] = {0x82, 0x01, 0x00};
    assert_int_equal(wsframe_header(unmasked, 3, 100, &f), -1);
    size_t n = client_frame(buf, 0xc2, payload, 1); /* RSV1 */
    assert_int_equal(wsframe_header(buf, n, 100, &f), -1);
    n = client_frame(buf, 0x83, payload, 1); /* reserved opcode */
    assert_int_equal(wsframe_header(buf, n, 100, &f), -1);
    n = client_frame(buf, 0x09, payload, 1); /* fragmented ping */
    assert_int_equal(wsframe_header(buf, n, 100, &f), -1);
    n = client_frame(buf, 0x89, payload, 126); /* oversized ping */
    assert_int_equal(wsframe_header(buf, n, 1000, &f), -1);
    /* Server frames: unmasked, final, shortest length form. */
    sbuf out = {0};
    assert_int_equal(wsframe_put(&out, WS_OP_BINARY, payload, 3), 0);
    assert_int_equal(wsframe_put(&out, WS_OP_TEXT, payload, 300), 0);
    assert_int_equal(wsframe_put(&out, WS_OP_BINARY, payload, 70000), 0);
    const uint8_t *o = sbuf_head(&out);
    assert_int_equal(sbuf_avail(&out), 2 + 3 + 4 + 300 + 10 + 70000);
    assert_int_equal(o[0], 0x82);
    assert_int_equal(o[1], 3);
    assert_int_equal(o[5], 0x81);
    assert_int_equal(o[6], 126);
    assert_int_equal(o[7] << 8 | o[8], 300);
    assert_int_equal(o[309], 0x82);
    assert_int_equal(o[310], 127);
    assert_int_equal(o[316] << 16 | o[317] << 8 | o[318], 70000);
    sbuf_free(&out);
}

static void test_status_json(void **state)
{
    char *s = k8s_status_success();
    assert_string_equal(s, "{\"metadata\":{},\"status\":\"Success\"}");
    free(s);
    char *argv[] = {"sh", "-c", "exit 3"};
    s = k8s_status_exit_code(argv, 3, 3);
    assert_string_equal(
        s, "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"command terminated with non-zero "
           "exit code: error executing command [sh -c exit 3], exit code 3\",\"reason\":"
           "\"NonZeroExitCode\",\"details\":{\"causes\":[{\"reason\":\"ExitCode\",\"message\":"
           "\"3\"}]}}");
    free(s);
    /* Go's encoding/json escapes <, >, & and quotes */
    char *argv2[] = {"sh", "-c", "echo \"x\" >&2; exit 1"};
    s = k8s_status_exit_code(argv2, 3, 1);
    assert_non_null(strstr(s, "[sh -c echo \\\"x\\\" \\u003e\\u00262; exit 1], exit code 1"));
    free(s);
    s = k8s_status_internal("container 3f: not running");
    assert_string_equal(s, "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"Internal error "
                           "occurred: container 3f: not running\",\"reason\":\"InternalError\","
                           "\"details\":{\"causes\":[{\"message\":\"container 3f: not running\"}]},"
                           "\"code\":500}");
    free(s);
    s = k8s_exit_message(argv, 3, 3);
    assert_string_equal(s, "command terminated with non-zero exit code: error executing command "
                           "[sh -c exit 3], exit code 3");
    free(s);
}

static void test_wschan(void **state)
{
    sbuf m = {0}, d = {0};
    uint8_t ch = 0;
    assert_int_equal(wschan_encode(false, 1, "out\n", 4, &m), 0);
    assert_int_equal(sbuf_avail(&m), 5);
    assert_memory_equal(sbuf_head(&m), "\x01out\n", 5);
    assert_int_equal(wschan_decode(false, sbuf_head(&m), sbuf_avail(&m), &ch, &d), 0);
    assert_int_equal(ch, 1);
    assert_memory_equal(sbuf_head(&d), "out\n", 4);
    sbuf_free(&m);
    sbuf_free(&d);

    /* base64: every padding length round-trips */
    const char *texts[] = {"", "a", "ab", "abc", "abcd"};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(wschan_encode(true, 2, texts[i], strlen(texts[i]), &m), 0);
        assert_int_equal(sbuf_head(&m)[0], '2');
        assert_int_equal(wschan_decode(true, sbuf_head(&m), sbuf_avail(&m), &ch, &d), 0);
        assert_int_equal(ch, 2);
        assert_int_equal(sbuf_avail(&d), strlen(texts[i]));
        if (texts[i][0])
            assert_memory_equal(sbuf_head(&d), texts[i], strlen(texts[i]));
        sbuf_free(&m);
        sbuf_free(&d);
    }
    assert_int_equal(wschan_encode(true, 1, "hi", 2, &m), 0);
    assert_memory_equal(sbuf_head(&m), "1aGk=", 5);
    sbuf_free(&m);
    /* malformed */
    assert_int_equal(wschan_decode(true, (const uint8_t *)"0abc", 4, &ch, &d), -1);
    assert_int_equal(wschan_decode(true, (const uint8_t *)"x", 1, &ch, &d), -1);
    assert_int_equal(wschan_decode(true, (const uint8_t *)"0a!c=", 5, &ch, &d), -1);
    assert_int_equal(wschan_decode(false, (const uint8_t *)"", 0, &ch, &d), -1);
    assert_int_equal(wschan_encode(true, 12, "x", 1, &m), -1);
    sbuf_free(&d);
    sbuf_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_json),
        cmocka_unit_test(test_wschan),
        cmocka_unit_test(test_wsframe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
