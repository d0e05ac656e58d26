#include <stdlib.h>
#include <string.h>

#include "stream/buf.h"

int sbuf_reserve(sbuf *b, size_t n)
{
    if (b->off > 0 && b->off == b->len) {
        b->off = b->len = 0;
    }
    if (b->cap - b->len >= n)
        return 0;
    /* Reclaim the consumed prefix before growing. */
    if (b->off > 0) {
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->cap - b->len >= n)
            return 0;
    }
    size_t want = b->cap ? b->cap : 256;
    while (want - b->len < n) {
        if (want > SIZE_MAX / 2)
            return -1;
        want *= 2;
    }
    uint8_t *p = realloc(b->data, want);
    if (!p)
        return -1;
    b->data = p;
    b->cap = want;
    return 0;
}

int sbuf_append(sbuf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (sbuf_reserve(b, n) < 0)
        return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int sbuf_put_u8(sbuf *b, uint8_t v)
{
    return sbuf_append(b, &v, 1);
}

int sbuf_put_u16(sbuf *b, uint16_t v)
{
    uint8_t p[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    return sbuf_append(b, p, 2);
}

int sbuf_put_u32(sbuf *b, uint32_t v)
{
    uint8_t p[4];
    wr_u32(p, v);
    return sbuf_append(b, p, 4);
}

void sbuf_consume(sbuf *b, size_t n)
{
    if (n > sbuf_avail(b))
        n = sbuf_avail(b);
    b->off += n;
    if (b->off == b->len)
        b->off = b->len = 0;
}

uint8_t *sbuf_steal(sbuf *b, size_t *len)
{
    if (b->off > 0) {
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
    }
    uint8_t *p = b->data;
    *len = b->len;
    b->data = NULL;
    b->len = b->cap = b->off = 0;
    return p;
}

void sbuf_free(sbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = b->off = 0;
}
