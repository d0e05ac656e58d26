/* cric-tls.so: the streaming server's TLS (see tls_module.h). */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>

#include "stream/tls_module.h"

static void *ctx_new(const char *cert, const char *key, cric_err *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        cric_err_set(err, CRIC_ERR_INTERNAL, "streaming: TLS context: out of memory");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    char why[256] = "";
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        ERR_error_string_n(ERR_get_error(), why, sizeof(why));
        cric_err_set(err, CRIC_ERR_INVALID, "streaming.tls_cert %s: %s", cert, why);
    } else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        ERR_error_string_n(ERR_get_error(), why, sizeof(why));
        cric_err_set(err, CRIC_ERR_INVALID, "streaming.tls_key %s: %s", key, why);
    } else if (SSL_CTX_check_private_key(ctx) != 1) {
        cric_err_set(err, CRIC_ERR_INVALID,
                     "streaming.tls_key %s does not match the certificate %s", key, cert);
    } else {
        return ctx;
    }
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

static void ctx_free(void *ctx)
{
    SSL_CTX_free(ctx);
}

static void *conn_new(void *ctx)
{
    SSL *ssl = SSL_new(ctx);
    if (!ssl)
        return NULL;
    BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());
    if (!rbio || !wbio) {
        BIO_free(rbio);
        BIO_free(wbio);
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_bio(ssl, rbio, wbio);
    SSL_set_accept_state(ssl);
    return ssl;
}

/* Sends what OpenSSL produced (records, handshake messages, alerts). */
static int flush(const tls_host *h, sconn *c)
{
    BIO *wbio = SSL_get_wbio(c->ssl);
    size_t pending;
    while ((pending = BIO_ctrl_pending(wbio)) > 0) {
        uint8_t *buf = malloc(pending);
        if (!buf)
            return -1;
        int n = BIO_read(wbio, buf, (int)pending);
        if (n <= 0) {
            free(buf);
            return -1;
        }
        if (h->write_raw(c, buf, (size_t)n) < 0)
            return -1;
    }
    return 0;
}

static int feed(const tls_host *h, sconn *c, const uint8_t *raw, size_t len)
{
    if (len > 0 && BIO_write(SSL_get_rbio(c->ssl), raw, (int)len) != (int)len)
        return -1;
    for (;;) {
        if (h->reserve(&c->in, 16384) < 0)
            return -1;
        int n = SSL_read(c->ssl, c->in.data + c->in.len, (int)(c->in.cap - c->in.len));
        if (n > 0) {
            c->in.len += (size_t)n;
            continue;
        }
        int e = SSL_get_error(c->ssl, n);
        if (flush(h, c) < 0)
            return -1;
        if (e == SSL_ERROR_WANT_READ)
            return 0;
        if (e == SSL_ERROR_ZERO_RETURN)
            return 0; /* close_notify: the TCP EOF follows */
        char why[256] = "";
        ERR_error_string_n(ERR_peek_error(), why, sizeof(why));
        char msg[300];
        snprintf(msg, sizeof(msg), "TLS from client failed: %s", why[0] ? why : "protocol error");
        h->info(msg);
        ERR_clear_error();
        return -1;
    }
}

static int write_tls(const tls_host *h, sconn *c, const uint8_t *data, size_t len)
{
    if (len > 0 && SSL_write(c->ssl, data, (int)len) != (int)len) {
        ERR_clear_error();
        return -1;
    }
    return flush(h, c);
}

static void close_notify(const tls_host *h, sconn *c)
{
    if (c->ssl && SSL_is_init_finished(c->ssl)) {
        SSL_shutdown(c->ssl);
        flush(h, c);
    }
}

static void conn_free(void *ssl)
{
    SSL_free(ssl);
}

static const tls_ops OPS = {
    .abi = CRIC_TLS_MODULE_ABI,
    .ctx_new = ctx_new,
    .ctx_free = ctx_free,
    .conn_new = conn_new,
    .feed = feed,
    .write = write_tls,
    .close_notify = close_notify,
    .conn_free = conn_free,
};

const tls_ops *cric_tls_module(void);
const tls_ops *cric_tls_module(void)
{
    return &OPS;
}
