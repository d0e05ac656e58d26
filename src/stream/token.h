/* Single-use, expiring tokens that stand for a stream_request. Tokens are 32
 * hex characters from the kernel's random source. Thread-safe: URLs are made
 * on RPC worker threads and redeemed on the loop thread. Time is passed in
 * (monotonic milliseconds) so tests control it. */
#ifndef CRIC_STREAM_TOKEN_H
#define CRIC_STREAM_TOKEN_H

#include <stdint.h>

#include "stream/request.h"
#include "util/err.h"

#define STREAM_TOKEN_LEN 32

typedef struct token_store token_store;

/* max: the most tokens outstanding at once (a flood of RPCs cannot grow memory). */
token_store *token_store_new(size_t max);
void token_store_free(token_store *ts);

/* Takes ownership of req (freed on failure too). */
int token_put(token_store *ts, stream_request *req, uint64_t now_ms, uint64_t ttl_ms,
              char out[STREAM_TOKEN_LEN + 1], cric_err *err);
/* Redeems a token for a request of the given kind: returns the request (caller
 * frees) and forgets the token, or NULL when the token is unknown, used,
 * expired or for another kind. */
stream_request *token_take(token_store *ts, const char *token, stream_kind kind, uint64_t now_ms);
/* Drops expired tokens; returns how many remain. */
size_t token_sweep(token_store *ts, uint64_t now_ms);

#endif
