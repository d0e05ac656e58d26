#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cri/pbcheck.h"

#define PATH_MAX_LEN 256

typedef struct walk {
    char path[PATH_MAX_LEN];
    char *why;
    size_t why_len;
} walk;

/* -1 at a malformed varint (the caller then stops: unpack accepted the
 * bytes, so this does not happen for a real request). */
static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return 0;
    }
    return -1;
}

static bool utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 1, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i <= k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        /* overlong forms, surrogates, beyond U+10FFFF */
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return false;
        i += k + 1;
    }
    return true;
}

static int fail(walk *w, const char *field, const char *what)
{
    snprintf(w->why, w->why_len, "%s%s%s: %s", w->path, w->path[0] ? "." : "", field, what);
    return -1;
}

static int check(walk *w, const ProtobufCMessageDescriptor *d, const uint8_t *p, const uint8_t *end)
{
    while (p < end) {
        uint64_t key;
        if (varint(&p, end, &key) < 0)
            return 0;
        unsigned wt = (unsigned)(key & 7);
        uint64_t num = key >> 3;
        uint64_t v;
        switch (wt) {
        case 0:
            if (varint(&p, end, &v) < 0)
                return 0;
            continue;
        case 1:
            if (end - p < 8)
                return 0;
            p += 8;
            continue;
        case 5:
            if (end - p < 4)
                return 0;
            p += 4;
            continue;
        case 2:
            break;
        default:
            return 0;
        }
        if (varint(&p, end, &v) < 0 || v > (uint64_t)(end - p))
            return 0;
        const uint8_t *val = p;
        p += v;
        const ProtobufCFieldDescriptor *f =
            num <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(d, (unsigned)num) : NULL;
        if (!f)
            continue;
        if (f->type == PROTOBUF_C_TYPE_STRING) {
            if (memchr(val, 0, v))
                return fail(w, f->name, "holds a NUL byte");
            if (!utf8_valid(val, v))
                return fail(w, f->name, "is not valid UTF-8");
        } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            size_t len = strlen(w->path);
            snprintf(w->path + len, sizeof(w->path) - len, "%s%s", len ? "." : "", f->name);
            if (check(w, f->descriptor, val, val + v) < 0)
                return -1;
            w->path[len] = '\0';
        }
    }
    return 0;
}

int cri_pb_check_strings(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
                         char *why, size_t why_len)
{
    walk w = {.why = why, .why_len = why_len};
    return check(&w, desc, buf, buf + len);
}
