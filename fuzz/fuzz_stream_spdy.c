/* SPDY/3.1 as a client sends it to the streaming server (src/stream/spdy.c):
 * a byte stream cut into frames; header blocks of SYN_STREAM and HEADERS are
 * inflated with one per-connection zlib context, as the server does. */
#include "fuzz/fuzz_util.h"
#include "stream/spdy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    spdy_zip z;
    if (spdy_zip_init(&z, 64 * 1024) < 0)
        abort();
    size_t off = 0;
    while (off < size) {
        spdy_frame f;
        size_t used = 0;
        const char *why = NULL;
        int rc = spdy_frame_decode(data + off, size - off, 1u << 20, &f, &used, &why);
        if (rc == SPDY_BAD) {
            FUZZ_CHECK(why && why[0]);
            break;
        }
        if (rc != SPDY_FRAME)
            break;
        FUZZ_CHECK(used > 0 && used <= size - off);
        FUZZ_CHECK(!f.payload_len ||
                   (f.payload >= data + off && f.payload + f.payload_len <= data + off + used));
        if (f.control &&
            (f.type == SPDY_SYN_STREAM || f.type == SPDY_HEADERS || f.type == SPDY_SYN_REPLY)) {
            spdy_headers h = {0};
            const char *w = NULL;
            if (spdy_headers_decompress(&z, f.payload, f.payload_len, &h, &w) == 0) {
                (void)spdy_headers_get(&h, "streamtype");
                (void)spdy_headers_get(&h, "port");
                spdy_headers_free(&h);
            } else {
                FUZZ_CHECK(w && w[0]);
            }
        } else if (f.control && f.type == SPDY_SETTINGS) {
            uint8_t fl;
            uint32_t id, v;
            for (uint32_t i = 0; spdy_settings_entry(&f, i, &fl, &id, &v); i++)
                ;
        }
        off += used;
    }
    spdy_zip_free(&z);
    return 0;
}
