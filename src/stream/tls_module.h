/* Internal to src/stream: the interface between the streaming server and
 * its TLS module cric-tls.so (tls_openssl.c, OpenSSL on memory BIOs). The
 * daemon loads the module only when streaming.tls_cert is set, so a daemon
 * without TLS never maps libssl or libcrypto. */
#ifndef CRIC_STREAM_TLS_MODULE_H
#define CRIC_STREAM_TLS_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include "stream/conn.h"
#include "util/err.h"

#define CRIC_TLS_MODULE_ABI 1
#define CRIC_TLS_MODULE_SYMBOL "cric_tls_module"

/* What the module may call in the daemon. */
typedef struct tls_host {
    int (*write_raw)(sconn *c, uint8_t *data, size_t len); /* takes data (malloc'ed) */
    int (*reserve)(sbuf *b, size_t n);
    void (*info)(const char *msg); /* logged at info level */
} tls_host;

typedef struct tls_ops {
    int abi;
    void *(*ctx_new)(const char *cert, const char *key, cric_err *err); /* an SSL_CTX */
    void (*ctx_free)(void *ctx);
    void *(*conn_new)(void *ctx); /* an SSL in accept state on memory BIOs */
    int (*feed)(const tls_host *h, sconn *c, const uint8_t *raw, size_t len);
    int (*write)(const tls_host *h, sconn *c, const uint8_t *data, size_t len);
    void (*close_notify)(const tls_host *h, sconn *c);
    void (*conn_free)(void *ssl);
} tls_ops;

typedef const tls_ops *(*tls_module_fn)(void);

#endif
