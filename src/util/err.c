#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>

int cric_err_set(cric_err *err, cric_errkind kind, const char *fmt, ...)
{
    if (!err)
        return -1;
    err->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}

int cric_err_errno(cric_err *err, int errnum, const char *fmt, ...)
{
    if (!err)
        return -1;
    char head[CRIC_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof(head), fmt, ap);
    va_end(ap);
    char ebuf[128];
    const char *es = strerror_r(errnum, ebuf, sizeof(ebuf));
    err->kind = errnum == ENOSPC || errnum == EMFILE || errnum == ENFILE || errnum == ENOMEM
                    ? CRIC_ERR_RESOURCE
                    : CRIC_ERR_INTERNAL;
    snprintf(err->msg, sizeof(err->msg), "%.900s: %s", head, es);
    return -1;
}

int cric_err_prefix(cric_err *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char head[CRIC_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(head, sizeof(head), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    /* Shift the old message right to make room for the prefix; both may be cut. */
    size_t hlen = (size_t)n < sizeof(err->msg) - 1 ? (size_t)n : sizeof(err->msg) - 1;
    size_t olen = strnlen(err->msg, sizeof(err->msg) - 1);
    if (hlen + olen > sizeof(err->msg) - 1)
        olen = sizeof(err->msg) - 1 - hlen;
    memmove(err->msg + hlen, err->msg, olen);
    memcpy(err->msg, head, hlen);
    err->msg[hlen + olen] = '\0';
    if (err->kind == CRIC_ERR_NONE)
        err->kind = CRIC_ERR_INTERNAL;
    return -1;
}

void cric_err_clear(cric_err *err)
{
    if (err) {
        err->kind = CRIC_ERR_NONE;
        err->msg[0] = '\0';
    }
}

const char *cric_errkind_name(cric_errkind kind)
{
    switch (kind) {
    case CRIC_ERR_NONE: return "ok";
    case CRIC_ERR_INTERNAL: return "internal";
    case CRIC_ERR_INVALID: return "invalid";
    case CRIC_ERR_NOT_FOUND: return "not found";
    case CRIC_ERR_EXISTS: return "exists";
    case CRIC_ERR_PRECONDITION: return "precondition";
    case CRIC_ERR_UNAVAILABLE: return "unavailable";
    case CRIC_ERR_TIMEOUT: return "timeout";
    case CRIC_ERR_RESOURCE: return "resource";
    case CRIC_ERR_UNIMPLEMENTED: return "unimplemented";
    case CRIC_ERR_CANCELLED: return "cancelled";
    case CRIC_ERR_PERMISSION: return "permission";
    }
    return "unknown";
}
