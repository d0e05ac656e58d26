#include <stdlib.h>

#include "stream/wschan.h"
#include "util/b64.h"

int wschan_encode(bool base64, uint8_t channel, const void *data, size_t len, sbuf *out)
{
    if (!base64) {
        if (sbuf_put_u8(out, channel) < 0)
            return -1;
        return sbuf_append(out, data, len);
    }
    if (channel > 9 || sbuf_reserve(out, 2 + 4 * ((len + 2) / 3)) < 0)
        return -1;
    out->data[out->len++] = (uint8_t)('0' + channel);
    out->len += b64_encode(data, len, (char *)out->data + out->len);
    return 0;
}

int wschan_decode(bool base64, const uint8_t *msg, size_t len, uint8_t *channel, sbuf *out)
{
    if (len == 0)
        return -1;
    if (!base64) {
        *channel = msg[0];
        return sbuf_append(out, msg + 1, len - 1);
    }
    if (msg[0] < '0' || msg[0] > '9')
        return -1;
    *channel = (uint8_t)(msg[0] - '0');
    size_t elen = len - 1;
    if (elen % 4 != 0)
        return -1;
    if (elen == 0)
        return 0;
    if (sbuf_reserve(out, elen / 4 * 3 + 1) < 0)
        return -1;
    long n = b64_decode((const char *)msg + 1, elen, out->data + out->len);
    if (n < 0)
        return -1;
    out->len += (size_t)n;
    return 0;
}
