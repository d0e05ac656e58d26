/* Internal to src/stream: WebSocket framing (RFC 6455 section 5) for the
 * server side. Pure functions: the parser takes client frames (which must be
 * masked), the writer produces unmasked server frames. */
#ifndef CRIC_STREAM_WSFRAME_H
#define CRIC_STREAM_WSFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stream/buf.h"

enum {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xa,
};

#define WS_CLOSE_NORMAL 1000
#define WS_CLOSE_PROTOCOL 1002
#define WS_CLOSE_TOO_BIG 1009

typedef struct wsframe {
    bool fin;
    uint8_t opcode;
    uint64_t len;
    size_t header; /* bytes before the payload */
    uint8_t mask[4];
} wsframe;

/* Reads a frame header from buf. 1: *f is complete (the payload may still
 * be arriving: compare len with what follows the header); 0: more bytes
 * needed; -1: not a valid client frame (unmasked, reserved bits or opcodes,
 * a fragmented or oversized control frame, a payload over max). */
int wsframe_header(const uint8_t *buf, size_t n, uint64_t max, wsframe *f);
/* Unmasks payload in place (offset: payload bytes before p). */
void wsframe_unmask(const wsframe *f, uint8_t *p, size_t n, uint64_t offset);
/* Appends one unmasked final frame. */
int wsframe_put(sbuf *out, uint8_t opcode, const void *data, size_t len);

#endif
