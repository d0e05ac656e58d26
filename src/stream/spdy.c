#include <stdlib.h>
#include <string.h>

#include "stream/spdy.h"

/* ---- frames ---- */

int spdy_frame_decode(const uint8_t *buf, size_t len, uint32_t max_len, spdy_frame *f, size_t *used,
                      const char **why)
{
    *why = "";
    if (len < SPDY_HEADER_LEN)
        return SPDY_NEED_MORE;
    memset(f, 0, sizeof(*f));
    uint32_t w0 = rd_u32(buf), w1 = rd_u32(buf + 4);
    f->control = (w0 & 0x80000000u) != 0;
    f->flags = (uint8_t)(w1 >> 24);
    f->length = w1 & 0xffffff;
    if (f->length > max_len)
        return *why = "frame too large", SPDY_TOO_LARGE;
    if (len < SPDY_HEADER_LEN + (size_t)f->length)
        return SPDY_NEED_MORE;
    *used = SPDY_HEADER_LEN + f->length;
    const uint8_t *p = buf + SPDY_HEADER_LEN;
    if (!f->control) {
        f->stream_id = w0 & 0x7fffffff;
        f->payload = p;
        f->payload_len = f->length;
        if (f->stream_id == 0)
            return *why = "data frame for stream 0", SPDY_BAD;
        return SPDY_FRAME;
    }
    f->version = (uint16_t)((w0 >> 16) & 0x7fff);
    f->type = (uint16_t)(w0 & 0xffff);
    if (f->version != SPDY_VERSION)
        return *why = "unsupported SPDY version", SPDY_BAD;
    switch (f->type) {
    case SPDY_SYN_STREAM:
        if (f->length < 10)
            return *why = "short SYN_STREAM", SPDY_BAD;
        f->stream_id = rd_u32(p) & 0x7fffffff;
        f->assoc_id = rd_u32(p + 4) & 0x7fffffff;
        f->priority = p[8] >> 5;
        f->payload = p + 10;
        f->payload_len = f->length - 10;
        if (f->stream_id == 0)
            return *why = "SYN_STREAM for stream 0", SPDY_BAD;
        break;
    case SPDY_SYN_REPLY:
    case SPDY_HEADERS:
        if (f->length < 4)
            return *why = "short SYN_REPLY/HEADERS", SPDY_BAD;
        f->stream_id = rd_u32(p) & 0x7fffffff;
        f->payload = p + 4;
        f->payload_len = f->length - 4;
        if (f->stream_id == 0)
            return *why = "SYN_REPLY/HEADERS for stream 0", SPDY_BAD;
        break;
    case SPDY_RST_STREAM:
        if (f->length != 8)
            return *why = "RST_STREAM of wrong length", SPDY_BAD;
        f->stream_id = rd_u32(p) & 0x7fffffff;
        f->status = rd_u32(p + 4);
        if (f->stream_id == 0 || f->status == 0)
            return *why = "RST_STREAM for stream 0 or with status 0", SPDY_BAD;
        break;
    case SPDY_SETTINGS: {
        if (f->length < 4)
            return *why = "short SETTINGS", SPDY_BAD;
        uint32_t n = rd_u32(p);
        if ((uint64_t)n * 8 + 4 != f->length)
            return *why = "SETTINGS count does not match its length", SPDY_BAD;
        f->payload = p + 4;
        f->payload_len = f->length - 4;
        break;
    }
    case SPDY_PING:
        if (f->length != 4)
            return *why = "PING of wrong length", SPDY_BAD;
        f->ping_id = rd_u32(p);
        break;
    case SPDY_GOAWAY:
        if (f->length != 8)
            return *why = "GOAWAY of wrong length", SPDY_BAD;
        f->last_good = rd_u32(p) & 0x7fffffff;
        f->status = rd_u32(p + 4);
        break;
    case SPDY_WINDOW_UPDATE:
        if (f->length != 8)
            return *why = "WINDOW_UPDATE of wrong length", SPDY_BAD;
        f->stream_id = rd_u32(p) & 0x7fffffff;
        f->delta = rd_u32(p + 4) & 0x7fffffff;
        if (f->delta == 0)
            return *why = "WINDOW_UPDATE with delta 0", SPDY_BAD;
        break;
    default:
        /* Unknown control frames are ignored by the receiver (spec 2.2.1). */
        f->payload = p;
        f->payload_len = f->length;
        break;
    }
    return SPDY_FRAME;
}

bool spdy_settings_entry(const spdy_frame *f, uint32_t i, uint8_t *flags, uint32_t *id,
                         uint32_t *value)
{
    if ((uint64_t)i * 8 + 8 > f->payload_len)
        return false;
    const uint8_t *p = f->payload + (size_t)i * 8;
    uint32_t w = rd_u32(p);
    *flags = (uint8_t)(w >> 24);
    *id = w & 0xffffff;
    *value = rd_u32(p + 4);
    return true;
}

static int put_control_header(sbuf *out, uint16_t type, uint8_t flags, uint32_t length)
{
    if (length > SPDY_MAX_FRAME_LEN)
        return -1;
    if (sbuf_put_u32(out, 0x80000000u | (uint32_t)SPDY_VERSION << 16 | type) < 0)
        return -1;
    return sbuf_put_u32(out, (uint32_t)flags << 24 | length);
}

int spdy_put_data(sbuf *out, uint32_t stream_id, uint8_t flags, const void *data, size_t len)
{
    if (len > SPDY_MAX_FRAME_LEN)
        return -1;
    if (sbuf_reserve(out, SPDY_HEADER_LEN + len) < 0)
        return -1;
    sbuf_put_u32(out, stream_id & 0x7fffffff);
    sbuf_put_u32(out, (uint32_t)flags << 24 | (uint32_t)len);
    return sbuf_append(out, data, len);
}

int spdy_put_rst(sbuf *out, uint32_t stream_id, uint32_t status)
{
    if (put_control_header(out, SPDY_RST_STREAM, 0, 8) < 0 || sbuf_put_u32(out, stream_id) < 0)
        return -1;
    return sbuf_put_u32(out, status);
}

int spdy_put_settings(sbuf *out, uint8_t flags, const uint32_t *ids, const uint32_t *values,
                      size_t n)
{
    if (put_control_header(out, SPDY_SETTINGS, flags, (uint32_t)(4 + 8 * n)) < 0 ||
        sbuf_put_u32(out, (uint32_t)n) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (sbuf_put_u32(out, ids[i] & 0xffffff) < 0 || sbuf_put_u32(out, values[i]) < 0)
            return -1;
    return 0;
}

int spdy_put_ping(sbuf *out, uint32_t id)
{
    if (put_control_header(out, SPDY_PING, 0, 4) < 0)
        return -1;
    return sbuf_put_u32(out, id);
}

int spdy_put_goaway(sbuf *out, uint32_t last_good, uint32_t status)
{
    if (put_control_header(out, SPDY_GOAWAY, 0, 8) < 0 || sbuf_put_u32(out, last_good) < 0)
        return -1;
    return sbuf_put_u32(out, status);
}

int spdy_put_window_update(sbuf *out, uint32_t stream_id, uint32_t delta)
{
    if (put_control_header(out, SPDY_WINDOW_UPDATE, 0, 8) < 0 ||
        sbuf_put_u32(out, stream_id & 0x7fffffff) < 0)
        return -1;
    return sbuf_put_u32(out, delta & 0x7fffffff);
}

int spdy_put_syn_stream(sbuf *out, spdy_zip *z, uint32_t stream_id, uint32_t assoc,
                        uint8_t priority, uint8_t flags, const spdy_nv *nv, size_t n)
{
    sbuf block = {0};
    if (spdy_headers_compress(z, nv, n, &block) < 0) {
        sbuf_free(&block);
        return -1;
    }
    int rc = -1;
    if (put_control_header(out, SPDY_SYN_STREAM, flags, (uint32_t)(10 + sbuf_avail(&block))) == 0 &&
        sbuf_put_u32(out, stream_id & 0x7fffffff) == 0 &&
        sbuf_put_u32(out, assoc & 0x7fffffff) == 0 &&
        sbuf_put_u8(out, (uint8_t)(priority << 5)) == 0 && sbuf_put_u8(out, 0) == 0 &&
        sbuf_append(out, sbuf_head(&block), sbuf_avail(&block)) == 0)
        rc = 0;
    sbuf_free(&block);
    return rc;
}

int spdy_put_syn_reply(sbuf *out, spdy_zip *z, uint32_t stream_id, uint8_t flags, const spdy_nv *nv,
                       size_t n)
{
    sbuf block = {0};
    if (spdy_headers_compress(z, nv, n, &block) < 0) {
        sbuf_free(&block);
        return -1;
    }
    int rc = -1;
    if (put_control_header(out, SPDY_SYN_REPLY, flags, (uint32_t)(4 + sbuf_avail(&block))) == 0 &&
        sbuf_put_u32(out, stream_id & 0x7fffffff) == 0 &&
        sbuf_append(out, sbuf_head(&block), sbuf_avail(&block)) == 0)
        rc = 0;
    sbuf_free(&block);
    return rc;
}

/* ---- header blocks ---- */

int spdy_zip_init(spdy_zip *z, size_t max_block)
{
    memset(z, 0, sizeof(*z));
    z->max_block = max_block;
    size_t dlen;
    const uint8_t *dict = spdy_dictionary(&dlen);
    if (deflateInit(&z->def, Z_DEFAULT_COMPRESSION) != Z_OK)
        return -1;
    z->def_ok = true;
    if (deflateSetDictionary(&z->def, dict, (uInt)dlen) != Z_OK) {
        spdy_zip_free(z);
        return -1;
    }
    if (inflateInit(&z->inf) != Z_OK) {
        spdy_zip_free(z);
        return -1;
    }
    z->inf_ok = true;
    return 0;
}

void spdy_zip_free(spdy_zip *z)
{
    if (z->def_ok)
        deflateEnd(&z->def);
    if (z->inf_ok)
        inflateEnd(&z->inf);
    z->def_ok = z->inf_ok = false;
}

int spdy_headers_compress(spdy_zip *z, const spdy_nv *nv, size_t n, sbuf *out)
{
    sbuf raw = {0};
    int rc = sbuf_put_u32(&raw, (uint32_t)n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = sbuf_put_u32(&raw, (uint32_t)nv[i].name_len);
        if (rc == 0)
            rc = sbuf_append(&raw, nv[i].name, nv[i].name_len);
        if (rc == 0)
            rc = sbuf_put_u32(&raw, (uint32_t)nv[i].value_len);
        if (rc == 0)
            rc = sbuf_append(&raw, nv[i].value, nv[i].value_len);
    }
    if (rc < 0) {
        sbuf_free(&raw);
        return -1;
    }
    z->def.next_in = raw.data + raw.off;
    z->def.avail_in = (uInt)sbuf_avail(&raw);
    do {
        if (sbuf_reserve(out, 1024) < 0) {
            sbuf_free(&raw);
            return -1;
        }
        z->def.next_out = out->data + out->len;
        z->def.avail_out = (uInt)(out->cap - out->len);
        int zr = deflate(&z->def, Z_SYNC_FLUSH);
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            sbuf_free(&raw);
            return -1;
        }
        out->len = out->cap - z->def.avail_out;
    } while (z->def.avail_out == 0 || z->def.avail_in > 0);
    sbuf_free(&raw);
    return 0;
}

void spdy_headers_free(spdy_headers *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->nv[i].name);
        free(h->nv[i].value);
    }
    free(h->nv);
    h->nv = NULL;
    h->n = 0;
}

const char *spdy_headers_get(const spdy_headers *h, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < h->n; i++)
        if (h->nv[i].name_len == len && memcmp(h->nv[i].name, name, len) == 0)
            return h->nv[i].value; /* NUL-terminated at the first value's end */
    return NULL;
}

static int inflate_block(spdy_zip *z, const uint8_t *in, size_t len, sbuf *raw, const char **why)
{
    z->inf.next_in = (Bytef *)in;
    z->inf.avail_in = (uInt)len;
    for (;;) {
        if (sbuf_avail(raw) > z->max_block)
            return *why = "header block too large", -1;
        if (sbuf_reserve(raw, 4096) < 0)
            return *why = "out of memory", -1;
        z->inf.next_out = raw->data + raw->len;
        size_t room = raw->cap - raw->len;
        if (room > z->max_block - sbuf_avail(raw) + 1)
            room = z->max_block - sbuf_avail(raw) + 1;
        z->inf.avail_out = (uInt)room;
        int zr = inflate(&z->inf, Z_SYNC_FLUSH);
        if (zr == Z_NEED_DICT) {
            size_t dlen;
            const uint8_t *dict = spdy_dictionary(&dlen);
            if (inflateSetDictionary(&z->inf, dict, (uInt)dlen) != Z_OK)
                return *why = "header block needs an unknown dictionary", -1;
            continue;
        }
        raw->len += room - z->inf.avail_out;
        if (zr == Z_BUF_ERROR && z->inf.avail_in > 0 && room == z->inf.avail_out)
            return *why = "header block does not inflate", -1;
        if (zr != Z_OK && zr != Z_BUF_ERROR)
            return *why = "header block does not inflate", -1;
        if (z->inf.avail_in == 0 && z->inf.avail_out > 0)
            break;
    }
    if (sbuf_avail(raw) > z->max_block)
        return *why = "header block too large", -1;
    return 0;
}

int spdy_headers_decompress(spdy_zip *z, const uint8_t *in, size_t len, spdy_headers *out,
                            const char **why)
{
    *why = "";
    memset(out, 0, sizeof(*out));
    sbuf raw = {0};
    if (inflate_block(z, in, len, &raw, why) < 0) {
        sbuf_free(&raw);
        return -1;
    }
    const uint8_t *p = sbuf_head(&raw);
    size_t left = sbuf_avail(&raw);
    int rc = -1;
    if (left < 4) {
        *why = "header block without a count";
        goto out;
    }
    uint32_t n = rd_u32(p);
    p += 4;
    left -= 4;
    if (n > 256) {
        *why = "too many headers";
        goto out;
    }
    out->nv = calloc(n ? n : 1, sizeof(spdy_nv));
    if (!out->nv) {
        *why = "out of memory";
        goto out;
    }
    for (uint32_t i = 0; i < n; i++) {
        spdy_nv *nv = &out->nv[i];
        out->n = i + 1; /* counted before its strings exist, so a failure frees them */
        for (int part = 0; part < 2; part++) {
            if (left < 4) {
                *why = "truncated header block";
                goto out;
            }
            uint32_t l = rd_u32(p);
            p += 4;
            left -= 4;
            if (l > left) {
                *why = "truncated header block";
                goto out;
            }
            char *s = malloc((size_t)l + 1);
            if (!s) {
                *why = "out of memory";
                goto out;
            }
            memcpy(s, p, l);
            s[l] = '\0';
            p += l;
            left -= l;
            if (part == 0) {
                nv->name = s;
                nv->name_len = l;
            } else {
                nv->value = s;
                nv->value_len = l;
            }
        }
        if (nv->name_len == 0) {
            *why = "empty header name";
            goto out;
        }
        for (size_t k = 0; k < nv->name_len; k++) {
            unsigned char c = (unsigned char)nv->name[k];
            if (c >= 'A' && c <= 'Z') {
                *why = "header name not in lowercase";
                goto out;
            }
            if (c == 0) {
                *why = "NUL in header name";
                goto out;
            }
        }
        for (uint32_t j = 0; j < i; j++)
            if (out->nv[j].name_len == nv->name_len &&
                memcmp(out->nv[j].name, nv->name, nv->name_len) == 0) {
                *why = "duplicate header name";
                goto out;
            }
    }
    if (left != 0) {
        *why = "trailing bytes after header block";
        goto out;
    }
    rc = 0;
out:
    sbuf_free(&raw);
    if (rc < 0)
        spdy_headers_free(out);
    return rc;
}
