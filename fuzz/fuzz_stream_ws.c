/* WebSocket as a client sends it to the streaming server: the input is cut
 * into frames by src/stream/wsframe.c (client frames: masked, size-capped),
 * each payload unmasked and decoded with the Kubernetes channel framing
 * (src/stream/wschan.c, binary and base64 protocols). The whole input is
 * also decoded as one channel message: what decodes must encode back to the
 * same message (base64: modulo padding). */
#include "fuzz/fuzz_util.h"
#include "stream/wschan.h"
#include "stream/wsframe.h"

static void frames(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        wsframe f;
        int rc = wsframe_header(data + off, size - off, 1u << 20, &f);
        if (rc <= 0)
            break;
        FUZZ_CHECK(f.header >= 2 && f.header <= 14 && f.header <= size - off);
        FUZZ_CHECK(f.len <= (1u << 20));
        if (f.len > size - off - f.header)
            break; /* the payload is still arriving */
        uint8_t *p = malloc(f.len ? f.len : 1);
        FUZZ_CHECK(p);
        memcpy(p, data + off + f.header, f.len);
        /* Unmasked in two pieces, as reads may split it. */
        size_t half = f.len / 2;
        wsframe_unmask(&f, p, half, 0);
        wsframe_unmask(&f, p + half, f.len - half, half);
        for (int b64 = 0; b64 < 2; b64++) {
            sbuf out = {0};
            uint8_t ch;
            (void)wschan_decode(b64, p, f.len, &ch, &out);
            sbuf_free(&out);
        }
        sbuf echo = {0};
        FUZZ_CHECK(wsframe_put(&echo, f.opcode, p, f.len) == 0);
        sbuf_free(&echo);
        free(p);
        off += f.header + f.len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    frames(data, size);
    for (int b64 = 0; b64 < 2; b64++) {
        sbuf out = {0};
        uint8_t ch = 0;
        if (wschan_decode(b64, data, size, &ch, &out) == 0) {
            sbuf again = {0};
            FUZZ_CHECK(wschan_encode(b64, ch, sbuf_head(&out), sbuf_avail(&out), &again) == 0);
            if (!b64)
                FUZZ_CHECK(sbuf_avail(&again) == size &&
                           memcmp(sbuf_head(&again), data, size) == 0);
            sbuf back = {0};
            uint8_t ch2 = 0;
            FUZZ_CHECK(wschan_decode(b64, sbuf_head(&again), sbuf_avail(&again), &ch2, &back) == 0);
            FUZZ_CHECK(ch2 == ch && sbuf_avail(&back) == sbuf_avail(&out) &&
                       (sbuf_avail(&out) == 0 ||
                        memcmp(sbuf_head(&back), sbuf_head(&out), sbuf_avail(&out)) == 0));
            sbuf_free(&back);
            sbuf_free(&again);
        }
        sbuf_free(&out);
    }
    return 0;
}
