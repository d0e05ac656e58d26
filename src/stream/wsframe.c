#include "stream/wsframe.h"

int wsframe_header(const uint8_t *buf, size_t n, uint64_t max, wsframe *f)
{
    if (n < 2)
        return 0;
    f->fin = buf[0] & 0x80;
    f->opcode = buf[0] & 0x0f;
    if (buf[0] & 0x70)
        return -1; /* no extension was negotiated */
    bool control = f->opcode & 0x8;
    if (f->opcode != WS_OP_CONT && f->opcode != WS_OP_TEXT && f->opcode != WS_OP_BINARY &&
        f->opcode != WS_OP_CLOSE && f->opcode != WS_OP_PING && f->opcode != WS_OP_PONG)
        return -1;
    if (!(buf[1] & 0x80))
        return -1; /* clients must mask */
    uint64_t len = buf[1] & 0x7f;
    size_t h = 2;
    if (len == 126) {
        if (n < 4)
            return 0;
        len = (uint64_t)buf[2] << 8 | buf[3];
        h = 4;
    } else if (len == 127) {
        if (n < 10)
            return 0;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | buf[2 + i];
        if (len >> 63)
            return -1;
        h = 10;
    }
    if (control && (!f->fin || len > 125))
        return -1;
    if (len > max)
        return -1;
    if (n < h + 4)
        return 0;
    for (int i = 0; i < 4; i++)
        f->mask[i] = buf[h + i];
    f->len = len;
    f->header = h + 4;
    return 1;
}

void wsframe_unmask(const wsframe *f, uint8_t *p, size_t n, uint64_t offset)
{
    for (size_t i = 0; i < n; i++)
        p[i] ^= f->mask[(offset + i) & 3];
}

int wsframe_put(sbuf *out, uint8_t opcode, const void *data, size_t len)
{
    uint8_t h[10];
    size_t hl;
    h[0] = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        h[1] = (uint8_t)len;
        hl = 2;
    } else if (len <= 0xffff) {
        h[1] = 126;
        h[2] = (uint8_t)(len >> 8);
        h[3] = (uint8_t)len;
        hl = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
        hl = 10;
    }
    if (sbuf_append(out, h, hl) < 0)
        return -1;
    return len ? sbuf_append(out, data, len) : 0;
}
