/* Base64 (RFC 4648, standard alphabet, padded) and SHA-1 (FIPS 180-4) for
 * the WebSocket handshake and base64.channel.k8s.io: small enough to keep
 * the daemon free of libcrypto. */
#ifndef CRIC_UTIL_B64_H
#define CRIC_UTIL_B64_H

#include <stddef.h>
#include <stdint.h>

/* Writes 4 * ceil(len / 3) characters and a NUL; returns the characters. */
size_t b64_encode(const uint8_t *in, size_t len, char *out);
/* Decodes len characters (a multiple of 4, '=' only as padding at the end)
 * into out (room for len / 4 * 3); returns the bytes, -1 when malformed. */
long b64_decode(const char *in, size_t len, uint8_t *out);

#define SHA1_LEN 20
void sha1(const void *data, size_t len, uint8_t out[SHA1_LEN]);

#endif
