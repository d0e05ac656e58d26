#include "crilog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void crilog_stream_init(struct crilog_stream *s, const char *name)
{
    s->name = name;
    s->pending = NULL;
    s->len = 0;
}

void crilog_stream_free(struct crilog_stream *s)
{
    free(s->pending);
    s->pending = NULL;
    s->len = 0;
}

size_t crilog_timestamp(const struct timespec *ts, char *out)
{
    struct tm tm;
    time_t sec = ts->tv_sec;
    gmtime_r(&sec, &tm);
    size_t n = strftime(out, CRILOG_TS_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
    long ns = ts->tv_nsec;
    if (ns > 0 && ns < 1000000000L) {
        char frac[16];
        snprintf(frac, sizeof(frac), "%09ld", ns);
        size_t fl = 9;
        while (fl > 0 && frac[fl - 1] == '0')
            fl--;
        out[n++] = '.';
        memcpy(out + n, frac, fl);
        n += fl;
    }
    out[n++] = 'Z';
    out[n] = '\0';
    return n;
}

/* One record from up to two content pieces. */
static void emit(struct crilog_stream *s, const char *ts, char tag, const char *a, size_t alen,
                 const char *b, size_t blen, crilog_sink sink, void *opaque)
{
    char hdr[CRILOG_TS_MAX + 16];
    int hl = snprintf(hdr, sizeof(hdr), "%s %s %c ", ts, s->name, tag);
    struct iovec iov[3];
    int n = 0;
    iov[n].iov_base = hdr;
    iov[n++].iov_len = (size_t)hl;
    if (alen) {
        iov[n].iov_base = (void *)a;
        iov[n++].iov_len = alen;
    }
    if (blen) {
        iov[n].iov_base = (void *)b;
        iov[n++].iov_len = blen;
    }
    sink(opaque, iov, n);
}

/* Writes a complete line (pending + seg) as P pieces of CRILOG_MAX_LINE and
 * one F piece; seg excludes the line terminator. */
static void emit_line(struct crilog_stream *s, const char *ts, const char *seg, size_t slen,
                      crilog_sink sink, void *opaque)
{
    if (slen == 0 && s->len > 0 && s->pending[s->len - 1] == '\r')
        s->len--; /* "\r\n" split across reads */
    else if (slen > 0 && seg[slen - 1] == '\r')
        slen--;
    /* pending never exceeds CRILOG_MAX_LINE + 1 (a held '\r'); it is flushed
     * first, topped up from seg, as one P record when the line is longer. */
    while (s->len + slen > CRILOG_MAX_LINE) {
        size_t from_pending = s->len < CRILOG_MAX_LINE ? s->len : CRILOG_MAX_LINE;
        size_t from_seg = CRILOG_MAX_LINE - from_pending;
        emit(s, ts, 'P', s->pending, from_pending, seg, from_seg, sink, opaque);
        if (from_pending < s->len)
            memmove(s->pending, s->pending + from_pending, s->len - from_pending);
        s->len -= from_pending;
        seg += from_seg;
        slen -= from_seg;
    }
    emit(s, ts, 'F', s->pending, s->len, seg, slen, sink, opaque);
    s->len = 0;
}

/* Emits P records while more than a full record is pending; holds back a
 * final lone '\r' because it may be the start of "\r\n". */
static void drain_pending(struct crilog_stream *s, const char *ts, crilog_sink sink, void *opaque)
{
    while (s->len > CRILOG_MAX_LINE) {
        if (s->len == CRILOG_MAX_LINE + 1 && s->pending[CRILOG_MAX_LINE] == '\r')
            return;
        emit(s, ts, 'P', s->pending, CRILOG_MAX_LINE, NULL, 0, sink, opaque);
        memmove(s->pending, s->pending + CRILOG_MAX_LINE, s->len - CRILOG_MAX_LINE);
        s->len -= CRILOG_MAX_LINE;
    }
}

int crilog_feed(struct crilog_stream *s, const char *data, size_t len, const struct timespec *now,
                crilog_sink sink, void *opaque)
{
    char ts[CRILOG_TS_MAX];
    crilog_timestamp(now, ts);
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        if (nl) {
            size_t seg = (size_t)(nl - data);
            emit_line(s, ts, data, seg, sink, opaque);
            data = nl + 1;
            len -= seg + 1;
            continue;
        }
        /* No newline: keep as the partial line, in bounded steps. */
        if (!s->pending) {
            s->pending = malloc(CRILOG_MAX_LINE + 1);
            if (!s->pending) {
                while (len > 0) {
                    size_t n = len < CRILOG_MAX_LINE ? len : CRILOG_MAX_LINE;
                    emit(s, ts, 'P', data, n, NULL, 0, sink, opaque);
                    data += n;
                    len -= n;
                }
                return -1;
            }
        }
        size_t room = CRILOG_MAX_LINE + 1 - s->len;
        size_t take = len < room ? len : room;
        memcpy(s->pending + s->len, data, take);
        s->len += take;
        data += take;
        len -= take;
        drain_pending(s, ts, sink, opaque);
        if (take == 0) {
            /* only a held '\r' and a full record: the '\r' is content */
            emit(s, ts, 'P', s->pending, CRILOG_MAX_LINE, NULL, 0, sink, opaque);
            memmove(s->pending, s->pending + CRILOG_MAX_LINE, s->len - CRILOG_MAX_LINE);
            s->len -= CRILOG_MAX_LINE;
        }
    }
    if (s->len == 0 && s->pending) {
        free(s->pending); /* idle shims keep no line buffer */
        s->pending = NULL;
    }
    return 0;
}

void crilog_flush(struct crilog_stream *s, const struct timespec *now, crilog_sink sink,
                  void *opaque)
{
    char ts[CRILOG_TS_MAX];
    crilog_timestamp(now, ts);
    size_t off = 0;
    while (off < s->len) {
        size_t n = s->len - off < CRILOG_MAX_LINE ? s->len - off : CRILOG_MAX_LINE;
        emit(s, ts, 'P', s->pending + off, n, NULL, 0, sink, opaque);
        off += n;
    }
    crilog_stream_free(s);
}
