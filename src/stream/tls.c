/* The daemon's side of the TLS module: finds cric-tls.so next to the
 * executable (or in the build tree's src/stream), loads it and forwards. */
#include "stream/tls.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream/tls_module.h"
#include "util/log.h"

struct tls_ctx {
    void *dl;
    const tls_ops *ops;
    void *ssl_ctx;
    tls_host host;
};

/* server.c: writes bytes to the socket as they are. */
int conn_write_raw(sconn *c, uint8_t *data, size_t len);

static void host_log(const char *msg)
{
    log_info("stream", "%s", msg);
}

static int module_path(char *out, size_t cap, cric_err *err)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return cric_err_errno(err, errno, "streaming TLS: resolve /proc/self/exe");
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return cric_err_set(err, CRIC_ERR_INTERNAL, "streaming TLS: odd executable path %s", exe);
    *slash = '\0';
    static const char *const rel[] = {"cric-tls.so", "../stream/cric-tls.so"};
    for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
        int w = snprintf(out, cap, "%s/%s", exe, rel[i]);
        if (w > 0 && (size_t)w < cap && access(out, R_OK) == 0)
            return 0;
    }
    return cric_err_set(err, CRIC_ERR_INTERNAL,
                        "streaming TLS: the module cric-tls.so is not next to %s", exe);
}

tls_ctx *tls_ctx_new(const char *cert, const char *key, cric_err *err)
{
    char path[PATH_MAX];
    if (module_path(path, sizeof(path), err) < 0)
        return NULL;
    tls_ctx *t = calloc(1, sizeof(*t));
    if (!t) {
        cric_err_set(err, CRIC_ERR_RESOURCE, "streaming TLS: out of memory");
        return NULL;
    }
    t->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    tls_module_fn fn = t->dl ? (tls_module_fn)dlsym(t->dl, CRIC_TLS_MODULE_SYMBOL) : NULL;
    t->ops = fn ? fn() : NULL;
    if (!t->ops || t->ops->abi != CRIC_TLS_MODULE_ABI) {
        const char *why = dlerror();
        cric_err_set(err, CRIC_ERR_INTERNAL, "streaming TLS: load %s: %s", path,
                     why ? why : "not a cric TLS module of this version");
        tls_ctx_free(t);
        return NULL;
    }
    t->host.write_raw = conn_write_raw;
    t->host.reserve = sbuf_reserve;
    t->host.info = host_log;
    t->ssl_ctx = t->ops->ctx_new(cert, key, err);
    if (!t->ssl_ctx) {
        tls_ctx_free(t);
        return NULL;
    }
    log_info("stream", "TLS module %s loaded", path);
    return t;
}

void tls_ctx_free(tls_ctx *t)
{
    if (!t)
        return;
    if (t->ssl_ctx)
        t->ops->ctx_free(t->ssl_ctx);
    /* The module stays mapped: OpenSSL keeps process-wide state that it
     * releases at exit, not at dlclose. */
    free(t);
}

int tls_conn_init(sconn *c, tls_ctx *t)
{
    c->ssl = t->ops->conn_new(t->ssl_ctx);
    return c->ssl ? 0 : -1;
}

int tls_feed(sconn *c, const uint8_t *raw, size_t len)
{
    const tls_ctx *t = c->srv->tls;
    return t->ops->feed(&t->host, c, raw, len);
}

int tls_write(sconn *c, const uint8_t *data, size_t len)
{
    const tls_ctx *t = c->srv->tls;
    return t->ops->write(&t->host, c, data, len);
}

void tls_close_notify(sconn *c)
{
    const tls_ctx *t = c->srv->tls;
    if (t && c->ssl)
        t->ops->close_notify(&t->host, c);
}

void tls_conn_free(sconn *c)
{
    const tls_ctx *t = c->srv->tls;
    if (t && c->ssl)
        t->ops->conn_free(c->ssl);
    c->ssl = NULL;
    sbuf_free(&c->raw);
}
