/* Internal to src/stream: optional TLS for the streaming server. The
 * OpenSSL code is the module cric-tls.so (tls_module.h), loaded by
 * tls_ctx_new; the socket I/O stays with libuv. */
#ifndef CRIC_STREAM_TLS_H
#define CRIC_STREAM_TLS_H

#include "stream/conn.h"

typedef struct tls_ctx tls_ctx;

/* Loads the module and makes a server context from PEM files (TLS 1.2 or
 * newer). */
tls_ctx *tls_ctx_new(const char *cert, const char *key, cric_err *err);
void tls_ctx_free(tls_ctx *t);
int tls_conn_init(sconn *c, tls_ctx *t);
/* Decrypts raw bytes from the socket into c->in; handshake replies are
 * written. -1 when the peer's TLS is broken. */
int tls_feed(sconn *c, const uint8_t *raw, size_t len);
/* Encrypts and writes plaintext. */
int tls_write(sconn *c, const uint8_t *data, size_t len);
void tls_close_notify(sconn *c);
void tls_conn_free(sconn *c);

#endif
