/* Reassembly of gRPC length-prefixed messages (see frame.h). */
#include "rpc/frame.h"

#include <stdlib.h>
#include <string.h>

/* First allocation for a message body; grows by doubling up to its length. */
#define RPC_FRAME_INITIAL_CAP (16u * 1024u)

void rpc_frame_reader_init(rpc_frame_reader *r, size_t max_len)
{
    memset(r, 0, sizeof(*r));
    r->max_len = max_len;
}

void rpc_frame_reader_reset(rpc_frame_reader *r)
{
    free(r->msg);
    r->msg = NULL;
    r->msg_cap = r->msg_have = r->msg_len = 0;
    r->prefix_have = 0;
    r->error = RPC_FRAME_OK;
}

bool rpc_frame_reader_partial(const rpc_frame_reader *r)
{
    return r->prefix_have > 0;
}

void rpc_frame_prefix(uint8_t out[RPC_FRAME_PREFIX_LEN], uint32_t len)
{
    out[0] = 0;
    out[1] = (uint8_t)(len >> 24);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
}

const char *rpc_frame_strerror(int result)
{
    switch (result) {
    case RPC_FRAME_OK:
        return "ok";
    case RPC_FRAME_TOO_LARGE:
        return "message larger than the limit";
    case RPC_FRAME_COMPRESSED:
        return "compressed message";
    case RPC_FRAME_BAD_FLAG:
        return "invalid message flag";
    case RPC_FRAME_NOMEM:
        return "out of memory";
    case RPC_FRAME_REJECTED:
        return "unexpected message";
    }
    return "unknown error";
}

static int fail(rpc_frame_reader *r, int err)
{
    free(r->msg);
    r->msg = NULL;
    r->msg_cap = 0;
    r->error = err;
    return err;
}

/* Called with the 5 prefix bytes complete: validates them. */
static int start_message(rpc_frame_reader *r)
{
    uint32_t len = (uint32_t)r->prefix[1] << 24 | (uint32_t)r->prefix[2] << 16 |
                   (uint32_t)r->prefix[3] << 8 | (uint32_t)r->prefix[4];
    r->msg_len = len;
    r->msg_have = 0;
    if (r->prefix[0] == 1)
        return fail(r, RPC_FRAME_COMPRESSED);
    if (r->prefix[0] != 0)
        return fail(r, RPC_FRAME_BAD_FLAG);
    if (len > r->max_len)
        return fail(r, RPC_FRAME_TOO_LARGE);
    return RPC_FRAME_OK;
}

static int grow(rpc_frame_reader *r, uint32_t need)
{
    if (need <= r->msg_cap)
        return 0;
    uint32_t cap = r->msg_cap ? r->msg_cap : RPC_FRAME_INITIAL_CAP;
    while (cap < need)
        cap = cap > UINT32_MAX / 2 ? UINT32_MAX : cap * 2;
    if (cap > r->msg_len)
        cap = r->msg_len;
    uint8_t *p = realloc(r->msg, cap);
    if (!p)
        return -1;
    r->msg = p;
    r->msg_cap = cap;
    return 0;
}

static int deliver(rpc_frame_reader *r, rpc_frame_msg_fn fn, void *arg)
{
    uint8_t *msg = r->msg;
    size_t len = r->msg_len;
    r->msg = NULL;
    r->msg_cap = r->msg_have = r->msg_len = 0;
    r->prefix_have = 0;
    if (fn(arg, msg, len) < 0)
        return fail(r, RPC_FRAME_REJECTED);
    return RPC_FRAME_OK;
}

/* Consumes up to len bytes of a prefix; validates it once complete. Returns the
 * number of bytes used or a negative rpc_frame_result. */
static int feed_prefix(rpc_frame_reader *r, const uint8_t *data, size_t len, size_t *used)
{
    size_t n = RPC_FRAME_PREFIX_LEN - r->prefix_have;
    if (n > len)
        n = len;
    memcpy(r->prefix + r->prefix_have, data, n);
    r->prefix_have = (uint8_t)(r->prefix_have + n);
    *used = n;
    if (r->prefix_have < RPC_FRAME_PREFIX_LEN)
        return RPC_FRAME_OK;
    return start_message(r);
}

int rpc_frame_feed(rpc_frame_reader *r, const uint8_t *data, size_t len, rpc_frame_msg_fn fn,
                   void *arg, size_t *kept)
{
    size_t copied = 0;
    int rc = r->error;
    while (rc == RPC_FRAME_OK && len > 0) {
        size_t n;
        if (r->prefix_have < RPC_FRAME_PREFIX_LEN) {
            rc = feed_prefix(r, data, len, &n);
            data += n;
            len -= n;
            if (rc == RPC_FRAME_OK && r->prefix_have == RPC_FRAME_PREFIX_LEN && r->msg_len == 0)
                rc = deliver(r, fn, arg);
            continue;
        }
        n = r->msg_len - r->msg_have;
        if (n > len)
            n = len;
        if (grow(r, r->msg_have + (uint32_t)n) < 0) {
            rc = fail(r, RPC_FRAME_NOMEM);
            break;
        }
        memcpy(r->msg + r->msg_have, data, n);
        r->msg_have += (uint32_t)n;
        copied += n;
        data += n;
        len -= n;
        if (r->msg_have == r->msg_len)
            rc = deliver(r, fn, arg);
    }
    if (kept)
        *kept = copied;
    return rc;
}
