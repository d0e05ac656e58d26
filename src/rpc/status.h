/* Wire form of a gRPC status: the grpc-status digits and the
 * percent-encoded grpc-message (grpc/doc/PROTOCOL-HTTP2.md). */
#ifndef CRIC_RPC_STATUS_H
#define CRIC_RPC_STATUS_H

#include <stddef.h>

#include "rpc/server.h"

/* Largest output of rpc_percent_encode() for a status message, NUL included. */
#define RPC_MESSAGE_ENC_MAX (3 * CRIC_ERR_MSG_MAX + 1)

/* True for the 17 codes defined by gRPC. */
static inline int rpc_code_valid(int code)
{
    return code >= RPC_OK && code <= RPC_UNAUTHENTICATED;
}

/* The decimal grpc-status value ("0".."16"); "2" (UNKNOWN) for an invalid code. */
const char *rpc_code_digits(rpc_code code);

/* Percent-encodes len bytes of src as gRPC requires for grpc-message: bytes
 * outside 0x20..0x7e, and '%' itself, become "%XX" (upper-case hex). Writes at
 * most cap - 1 characters and a NUL (cap > 0), never splitting an escape, and
 * returns the number of characters written. */
size_t rpc_percent_encode(char *dst, size_t cap, const char *src, size_t len);

#endif
