/* gRPC length-prefixed messages: a 1-byte compressed flag, a 4-byte big-endian
 * length, then the payload. The reader reassembles messages from DATA chunks
 * cut at arbitrary places and checks each prefix before buffering anything. */
#ifndef CRIC_RPC_FRAME_H
#define CRIC_RPC_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RPC_FRAME_PREFIX_LEN 5

typedef enum {
    RPC_FRAME_OK = 0,
    RPC_FRAME_TOO_LARGE = -1,  /* the announced length is over the limit */
    RPC_FRAME_COMPRESSED = -2, /* compressed flag set: no codec is supported */
    RPC_FRAME_BAD_FLAG = -3,   /* flag byte neither 0 nor 1 */
    RPC_FRAME_NOMEM = -4,
    RPC_FRAME_REJECTED = -5, /* the message callback refused a message */
} rpc_frame_result;

/* Receives a complete message. Ownership of msg (malloc'ed; NULL when len is 0)
 * passes to the callback. Returns 0, or -1 to stop the reader (it then fails
 * with RPC_FRAME_REJECTED). */
typedef int (*rpc_frame_msg_fn)(void *arg, uint8_t *msg, size_t len);

typedef struct rpc_frame_reader {
    size_t max_len;
    uint8_t prefix[RPC_FRAME_PREFIX_LEN];
    uint8_t prefix_have;
    uint32_t msg_len;  /* announced length of the current message */
    uint32_t msg_have; /* payload bytes received of it */
    uint32_t msg_cap;
    uint8_t *msg;
    int error; /* sticky rpc_frame_result */
} rpc_frame_reader;

void rpc_frame_reader_init(rpc_frame_reader *r, size_t max_len);
/* Frees a partially received message; the reader can be reused afterwards. */
void rpc_frame_reader_reset(rpc_frame_reader *r);

/* Feeds len bytes. Calls fn for each message completed. Returns RPC_FRAME_OK or
 * a (sticky) negative rpc_frame_result. *kept (may be NULL) is set to the
 * number of input bytes that were copied into message buffers, for flow-control
 * accounting. The buffer of a message grows with the bytes that arrive, so a
 * large announced length alone does not allocate. */
int rpc_frame_feed(rpc_frame_reader *r, const uint8_t *data, size_t len, rpc_frame_msg_fn fn,
                   void *arg, size_t *kept);

/* True while a message (or its prefix) is partially received. */
bool rpc_frame_reader_partial(const rpc_frame_reader *r);

/* Writes the prefix of an uncompressed message of len bytes. */
void rpc_frame_prefix(uint8_t out[RPC_FRAME_PREFIX_LEN], uint32_t len);

const char *rpc_frame_strerror(int result);

#endif
