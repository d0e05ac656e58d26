/* The grpc-timeout request header: 1 to 8 ASCII digits and a unit, one of
 * H (hours), M (minutes), S (seconds), m (milliseconds), u (microseconds),
 * n (nanoseconds). */
#ifndef CRIC_RPC_TIMEOUT_H
#define CRIC_RPC_TIMEOUT_H

#include <stddef.h>
#include <stdint.h>

/* Parses len bytes of s into milliseconds, rounding sub-millisecond values up
 * (so "1n" is 1 ms and only a zero value is 0 ms). The largest value,
 * "99999999H", fits in 64 bits. Returns 0, or -1 for anything malformed
 * (empty, a sign, spaces, more than 8 digits, an unknown unit). */
int rpc_timeout_parse(const char *s, size_t len, uint64_t *ms);

#endif
