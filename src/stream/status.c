#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/buf.h"
#include "stream/status.h"

/* A JSON string the way Go's encoding/json writes it: HTML-sensitive <, >, &
 * and U+2028/U+2029 escaped as \u00XX, control characters as \n, \r, \t or
 * \u00XX, invalid UTF-8 as U+FFFD. */
static void put_json_string(sbuf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    sbuf_put_u8(b, '"');
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned char c = *p;
        if (c < 0x80) {
            if (c == '"' || c == '\\') {
                char e[2] = {'\\', (char)c};
                sbuf_append(b, e, 2);
            } else if (c == '\n') {
                sbuf_append(b, "\\n", 2);
            } else if (c == '\r') {
                sbuf_append(b, "\\r", 2);
            } else if (c == '\t') {
                sbuf_append(b, "\\t", 2);
            } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                sbuf_append(b, e, 6);
            } else {
                sbuf_put_u8(b, c);
            }
            p++;
            continue;
        }
        /* Validate one UTF-8 sequence. */
        size_t n = c >= 0xf0 && c < 0xf5 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
        if (c >= 0xf5)
            n = 0;
        bool ok = n > 0;
        for (size_t i = 1; ok && i < n; i++)
            if ((p[i] & 0xc0) != 0x80)
                ok = false;
        if (ok && n == 3 && p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
            sbuf_append(b, p[2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
            p += 3;
            continue;
        }
        if (!ok) {
            sbuf_append(b, "\xef\xbf\xbd", 3);
            p++;
            continue;
        }
        sbuf_append(b, p, n);
        p += n;
    }
    sbuf_put_u8(b, '"');
}

static char *finish(sbuf *b)
{
    sbuf_put_u8(b, '\0');
    size_t len;
    return (char *)sbuf_steal(b, &len);
}

char *k8s_status_success(void)
{
    return strdup("{\"metadata\":{},\"status\":\"Success\"}");
}

char *k8s_exit_message(char *const *argv, size_t argc, int code)
{
    /* Go's %v of the exit error: "error executing command [a b c], exit code N". */
    sbuf b = {0};
    const char *pre = "command terminated with non-zero exit code: error executing command [";
    sbuf_append(&b, pre, strlen(pre));
    for (size_t i = 0; i < argc; i++) {
        if (i)
            sbuf_put_u8(&b, ' ');
        sbuf_append(&b, argv[i], strlen(argv[i]));
    }
    char tail[64];
    int n = snprintf(tail, sizeof(tail), "], exit code %d", code);
    sbuf_append(&b, tail, (size_t)n);
    return finish(&b);
}

char *k8s_status_exit_code(char *const *argv, size_t argc, int code)
{
    char *msg = k8s_exit_message(argv, argc, code);
    if (!msg)
        return NULL;
    sbuf b = {0};
    const char *a = "{\"metadata\":{},\"status\":\"Failure\",\"message\":";
    sbuf_append(&b, a, strlen(a));
    put_json_string(&b, msg);
    char tail[128];
    int n = snprintf(tail, sizeof(tail),
                     ",\"reason\":\"NonZeroExitCode\",\"details\":{\"causes\":[{\"reason\":"
                     "\"ExitCode\",\"message\":\"%d\"}]}}",
                     code);
    sbuf_append(&b, tail, (size_t)n);
    free(msg);
    return finish(&b);
}

char *k8s_status_internal(const char *msg)
{
    sbuf b = {0};
    const char *a = "{\"metadata\":{},\"status\":\"Failure\",\"message\":";
    sbuf_append(&b, a, strlen(a));
    size_t len = strlen(msg) + 32;
    char *full = malloc(len);
    if (!full) {
        sbuf_free(&b);
        return NULL;
    }
    snprintf(full, len, "Internal error occurred: %s", msg);
    put_json_string(&b, full);
    free(full);
    const char *r = ",\"reason\":\"InternalError\",\"details\":{\"causes\":[{\"message\":";
    sbuf_append(&b, r, strlen(r));
    put_json_string(&b, msg);
    const char *t = "}]},\"code\":500}";
    sbuf_append(&b, t, strlen(t));
    return finish(&b);
}
