/* Internal to src/stream: TLS for the streaming server through the helper
 * process cric-tls (tls_proxy.c), so that the daemon maps no OpenSSL. The
 * helper owns the listening socket, terminates TLS and hands each client
 * over as a plain connected socket (stream_server_adopt). */
#ifndef CRIC_STREAM_TLS_H
#define CRIC_STREAM_TLS_H

#include <sys/socket.h>

#include "stream/conn.h"

typedef struct tls_proxy tls_proxy;

/* Binds and listens on addr, starts cric-tls with the certificate and key
 * and waits until it loaded them (a bad file is an error naming it). *port
 * receives the bound port. */
tls_proxy *tls_proxy_start(stream_server *s, const struct sockaddr *addr, const char *cert,
                           const char *key, int *port, cric_err *err);
/* Stops handing over clients and ends the helper; done(arg) runs once the
 * loop released everything. */
void tls_proxy_stop(tls_proxy *t, void (*done)(void *arg), void *arg);
void tls_proxy_free(tls_proxy *t);

#endif
