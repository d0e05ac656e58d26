/* gRPC status codes: names, wire digits, the handler-facing setter and the
 * percent-encoding of grpc-message. */
#include "rpc/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const code_names[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

static const char *const code_digits[] = {"0", "1",  "2",  "3",  "4",  "5",  "6",  "7", "8",
                                          "9", "10", "11", "12", "13", "14", "15", "16"};

const char *rpc_code_name(rpc_code code)
{
    return rpc_code_valid((int)code) ? code_names[code] : "INVALID_CODE";
}

const char *rpc_code_digits(rpc_code code)
{
    return rpc_code_valid((int)code) ? code_digits[code] : code_digits[RPC_UNKNOWN];
}

/* Length of s without a trailing incomplete UTF-8 sequence, so that a message
 * cut by the buffer size stays valid UTF-8 when it was valid before. */
static size_t utf8_trim_partial(const char *s, size_t len)
{
    size_t i = len, cont = 0;
    while (i > 0 && cont < 3 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) {
        i--;
        cont++;
    }
    if (i == 0)
        return len;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t need;
    if ((lead & 0xE0) == 0xC0)
        need = 1;
    else if ((lead & 0xF0) == 0xE0)
        need = 2;
    else if ((lead & 0xF8) == 0xF0)
        need = 3;
    else
        return len; /* ASCII or not UTF-8 at all: leave it */
    return cont < need ? i - 1 : len;
}

rpc_code rpc_status_set(rpc_status *st, rpc_code code, const char *fmt, ...)
{
    st->code = code;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(st->message, sizeof(st->message), fmt, ap);
    va_end(ap);
    if (n < 0)
        st->message[0] = '\0';
    else if ((size_t)n >= sizeof(st->message))
        st->message[utf8_trim_partial(st->message, sizeof(st->message) - 1)] = '\0';
    return code;
}

size_t rpc_percent_encode(char *dst, size_t cap, const char *src, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)src[i];
        if (b >= 0x20 && b <= 0x7E && b != '%') {
            if (o + 1 >= cap)
                break;
            dst[o++] = (char)b;
        } else {
            if (o + 3 >= cap)
                break;
            dst[o++] = '%';
            dst[o++] = hex[b >> 4];
            dst[o++] = hex[b & 0x0F];
        }
    }
    dst[o] = '\0';
    return o;
}
