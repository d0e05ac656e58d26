/* A growable byte buffer with a read offset: append at the end, consume from
 * the front. Used for socket input, per-stream queues and frame encoding. */
#ifndef CRIC_STREAM_BUF_H
#define CRIC_STREAM_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct sbuf {
    uint8_t *data;
    size_t off; /* first unread byte */
    size_t len; /* end of valid data */
    size_t cap;
} sbuf;

static inline size_t sbuf_avail(const sbuf *b)
{
    return b->len - b->off;
}
/* Never NULL (an empty, never-grown buffer has no data; NULL + 0 and
 * memcpy from NULL are undefined even for 0 bytes). */
static inline const uint8_t *sbuf_head(const sbuf *b)
{
    static const uint8_t empty[1];
    return b->data ? b->data + b->off : empty;
}
/* Makes room for n more bytes; returns 0 or -1 on out-of-memory. */
int sbuf_reserve(sbuf *b, size_t n);
int sbuf_append(sbuf *b, const void *p, size_t n);
int sbuf_put_u8(sbuf *b, uint8_t v);
int sbuf_put_u16(sbuf *b, uint16_t v); /* big endian */
int sbuf_put_u32(sbuf *b, uint32_t v); /* big endian */
void sbuf_consume(sbuf *b, size_t n);
/* Hands the buffer's memory to the caller (b is reset). */
uint8_t *sbuf_steal(sbuf *b, size_t *len);
void sbuf_free(sbuf *b);

static inline uint32_t rd_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint16_t rd_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static inline void wr_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif
