#include <openssl/evp.h>
#include <stdlib.h>

#include "stream/wschan.h"

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
    int n = EVP_EncodeBlock(out->data + out->len, data, (int)len);
    out->len += (size_t)n;
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
    int n = EVP_DecodeBlock(out->data + out->len, msg + 1, (int)elen);
    if (n < 0)
        return -1;
    /* EVP_DecodeBlock counts padding as zero bytes. */
    if (msg[len - 1] == '=')
        n--;
    if (msg[len - 2] == '=')
        n--;
    out->len += (size_t)n;
    return 0;
}
