/* SPDY/3.1 framing (draft-mbelshe-httpbis-spdy-00 / the SPDY/3.1 spec): frame
 * encode and decode, and name/value header blocks compressed with zlib and the
 * SPDY/3 dictionary (one deflate and one inflate stream per connection, each
 * block ended by a sync flush). Pure: no sockets, usable by a client (tests)
 * as well as by the server. */
#ifndef CRIC_STREAM_SPDY_H
#define CRIC_STREAM_SPDY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include "stream/buf.h"

#define SPDY_VERSION 3
#define SPDY_HEADER_LEN 8
#define SPDY_MAX_FRAME_LEN 0xffffff

enum {
    SPDY_SYN_STREAM = 1,
    SPDY_SYN_REPLY = 2,
    SPDY_RST_STREAM = 3,
    SPDY_SETTINGS = 4,
    SPDY_PING = 6,
    SPDY_GOAWAY = 7,
    SPDY_HEADERS = 8,
    SPDY_WINDOW_UPDATE = 9,
};

enum { SPDY_FLAG_FIN = 0x01, SPDY_FLAG_UNIDIRECTIONAL = 0x02 };

/* RST_STREAM status codes. */
enum {
    SPDY_PROTOCOL_ERROR = 1,
    SPDY_INVALID_STREAM = 2,
    SPDY_REFUSED_STREAM = 3,
    SPDY_UNSUPPORTED_VERSION = 4,
    SPDY_CANCEL = 5,
    SPDY_INTERNAL_ERROR = 6,
    SPDY_FLOW_CONTROL_ERROR = 7,
    SPDY_STREAM_IN_USE = 8,
    SPDY_STREAM_ALREADY_CLOSED = 9,
    SPDY_FRAME_TOO_LARGE = 11,
};

/* GOAWAY status codes. */
enum { SPDY_GOAWAY_OK = 0, SPDY_GOAWAY_PROTOCOL_ERROR = 1, SPDY_GOAWAY_INTERNAL_ERROR = 2 };

/* SETTINGS ids used here. */
enum { SPDY_SETTINGS_MAX_CONCURRENT_STREAMS = 4, SPDY_SETTINGS_INITIAL_WINDOW_SIZE = 7 };

#define SPDY_DEFAULT_WINDOW 65536

/* The SPDY/3 header compression dictionary (1423 bytes). */
const uint8_t *spdy_dictionary(size_t *len);

/* One decoded frame; pointers refer into the input buffer. */
typedef struct spdy_frame {
    bool control;
    uint16_t version; /* control frames */
    uint16_t type;    /* control frames */
    uint8_t flags;
    uint32_t length;
    uint32_t stream_id;     /* data, SYN_*, RST, HEADERS, WINDOW_UPDATE */
    uint32_t assoc_id;      /* SYN_STREAM */
    uint8_t priority;       /* SYN_STREAM (3 bits) */
    uint32_t status;        /* RST_STREAM, GOAWAY */
    uint32_t delta;         /* WINDOW_UPDATE */
    uint32_t ping_id;       /* PING */
    uint32_t last_good;     /* GOAWAY */
    const uint8_t *payload; /* DATA payload, header block, or SETTINGS entries */
    uint32_t payload_len;
} spdy_frame;

enum { SPDY_NEED_MORE = 0, SPDY_FRAME = 1, SPDY_BAD = -1, SPDY_TOO_LARGE = -2 };

/* Decodes the frame at the start of buf. Returns SPDY_FRAME and sets *used,
 * SPDY_NEED_MORE, SPDY_TOO_LARGE (length above max_len) or SPDY_BAD (a
 * malformed control frame; *why says why). */
int spdy_frame_decode(const uint8_t *buf, size_t len, uint32_t max_len, spdy_frame *f, size_t *used,
                      const char **why);

/* SETTINGS entry i of a decoded SETTINGS frame; returns false past the end. */
bool spdy_settings_entry(const spdy_frame *f, uint32_t i, uint8_t *flags, uint32_t *id,
                         uint32_t *value);

/* A header name/value pair; a value may hold several values separated by NUL,
 * so lengths are explicit. */
typedef struct spdy_nv {
    char *name;
    size_t name_len;
    char *value;
    size_t value_len;
} spdy_nv;

typedef struct spdy_headers {
    spdy_nv *nv;
    size_t n;
} spdy_headers;

void spdy_headers_free(spdy_headers *h);
/* First value of header name (exact, names are lowercase on the wire) as a
 * NUL-terminated string, or NULL. */
const char *spdy_headers_get(const spdy_headers *h, const char *name);

/* Per-direction compression state. */
typedef struct spdy_zip {
    z_stream def, inf;
    bool def_ok, inf_ok;
    size_t max_block; /* decompressed header block limit */
} spdy_zip;

int spdy_zip_init(spdy_zip *z, size_t max_block);
void spdy_zip_free(spdy_zip *z);

/* Compresses a header block (lowercases nothing: callers pass lowercase
 * names) and appends it to out. */
int spdy_headers_compress(spdy_zip *z, const spdy_nv *nv, size_t n, sbuf *out);
/* Inflates and parses one header block. Names are checked to be lowercase and
 * unique; lengths are bounded. Returns 0 or -1 with *why. */
int spdy_headers_decompress(spdy_zip *z, const uint8_t *in, size_t len, spdy_headers *out,
                            const char **why);

/* Encoders: append one whole frame to out. Return 0 or -1 (out of memory). */
int spdy_put_data(sbuf *out, uint32_t stream_id, uint8_t flags, const void *data, size_t len);
int spdy_put_syn_stream(sbuf *out, spdy_zip *z, uint32_t stream_id, uint32_t assoc,
                        uint8_t priority, uint8_t flags, const spdy_nv *nv, size_t n);
int spdy_put_syn_reply(sbuf *out, spdy_zip *z, uint32_t stream_id, uint8_t flags, const spdy_nv *nv,
                       size_t n);
int spdy_put_rst(sbuf *out, uint32_t stream_id, uint32_t status);
int spdy_put_settings(sbuf *out, uint8_t flags, const uint32_t *ids, const uint32_t *values,
                      size_t n);
int spdy_put_ping(sbuf *out, uint32_t id);
int spdy_put_goaway(sbuf *out, uint32_t last_good, uint32_t status);
int spdy_put_window_update(sbuf *out, uint32_t stream_id, uint32_t delta);

#endif
