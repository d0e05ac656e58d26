/* The Kubernetes channel framing inside WebSocket messages
 * (src/stream/wschan.c), binary and base64 protocols; what decodes must
 * encode back to the same message (base64: modulo padding). */
#include "fuzz/fuzz_util.h"
#include "stream/wschan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
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
