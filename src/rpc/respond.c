/* Responses: HEADERS, the DATA provider that drains a call's outbound queue,
 * and the grpc-status/grpc-message trailers (or one Trailers-Only HEADERS
 * frame when a call ends before any message). Loop thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/internal.h"
#include "rpc/status.h"
#include "util/log.h"

#define NV_STATIC(n, v)                                                                            \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1,                              \
            NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE                           \
    }

static nghttp2_nv nv_str(const char *name, const char *value, size_t vlen, uint8_t flags)
{
    return (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, strlen(name), vlen,
                        (uint8_t)(NGHTTP2_NV_FLAG_NO_COPY_NAME | flags)};
}

/* Appends grpc-status and (when non-empty) grpc-message; enc holds the
 * encoded message and must live until the submit call returns. */
static size_t status_fields(nghttp2_nv *nva, const rpc_status *st, char *enc, size_t enc_cap)
{
    size_t n = 0;
    const char *digits = rpc_code_digits(st->code);
    nva[n++] = nv_str("grpc-status", digits, strlen(digits), NGHTTP2_NV_FLAG_NO_COPY_VALUE);
    size_t mlen = strnlen(st->message, sizeof(st->message));
    if (mlen > 0) {
        size_t elen = rpc_percent_encode(enc, enc_cap, st->message, mlen);
        nva[n++] = nv_str("grpc-message", enc, elen, NGHTTP2_NV_FLAG_NO_INDEX);
    }
    return n;
}

static int submit_trailers(rpc_call *c)
{
    nghttp2_nv nva[2];
    char enc[RPC_MESSAGE_ENC_MAX];
    size_t n = status_fields(nva, &c->final, enc, sizeof(enc));
    c->trailers_sent = true;
    return nghttp2_submit_trailer(c->conn->session, c->stream_id, nva, n);
}

static int submit_trailers_only(rpc_call *c)
{
    nghttp2_nv nva[5];
    char enc[RPC_MESSAGE_ENC_MAX];
    char http[8];
    size_t n = 0;
    int hl = snprintf(http, sizeof(http), "%u", c->http_status);
    nva[n++] = nv_str(":status", http, (size_t)hl, 0);
    nva[n++] = (nghttp2_nv)NV_STATIC("content-type", "application/grpc");
    if (c->encoding_bad)
        nva[n++] = (nghttp2_nv)NV_STATIC("grpc-accept-encoding", "identity");
    n += status_fields(nva + n, &c->final, enc, sizeof(enc));
    c->response_started = true;
    c->trailers_sent = true;
    return nghttp2_submit_response(c->conn->session, c->stream_id, nva, n, NULL);
}

/* nghttp2 asks for up to length bytes of DATA for the stream. */
static ssize_t read_data(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                         uint32_t *data_flags, nghttp2_data_source *source, void *user)
{
    rpc_call *c = source->ptr;
    size_t n = 0;
    rpc_msg *done = NULL, **done_tail = &done;

    uv_mutex_lock(&c->mu);
    while (n < length && c->q_head) {
        rpc_msg *m = c->q_head;
        size_t k = m->len - m->off;
        if (k > length - n)
            k = length - n;
        memcpy(buf + n, m->data + m->off, k);
        m->off += k;
        n += k;
        if (m->off == m->len) {
            c->q_head = m->next;
            if (!c->q_head)
                c->q_tail = NULL;
            c->q_bytes -= m->len;
            c->q_count--;
            m->next = NULL;
            *done_tail = m;
            done_tail = &m->next;
        }
    }
    if (done && c->waiters)
        uv_cond_broadcast(&c->cv);
    bool eof = !c->q_head && c->finished;
    uv_mutex_unlock(&c->mu);

    while (done) {
        rpc_msg *next = done->next;
        free(done);
        done = next;
    }
    if (eof) {
        *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        if (submit_trailers(c) != 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        return (ssize_t)n;
    }
    if (n == 0) {
        c->data_deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

static int submit_headers(rpc_call *c)
{
    static const nghttp2_nv hdrs[] = {
        NV_STATIC(":status", "200"),
        NV_STATIC("content-type", "application/grpc"),
    };
    nghttp2_data_provider prd = {.source.ptr = c, .read_callback = read_data};
    c->response_started = true;
    return nghttp2_submit_response(c->conn->session, c->stream_id, hdrs, 2, &prd);
}

void rpc_respond_pump(rpc_call *c)
{
    rpc_conn *conn = c->conn;
    if (!conn || !conn->session || c->trailers_sent)
        return;
    uv_mutex_lock(&c->mu);
    bool have = c->q_head != NULL;
    bool fin = c->finished;
    bool detached = c->detached;
    uv_mutex_unlock(&c->mu);

    int rv;
    if (!c->response_started) {
        if (fin && !have)
            rv = submit_trailers_only(c);
        else if (have || fin || (detached && c->handler_returned))
            rv = submit_headers(c);
        else
            return;
    } else if (c->data_deferred && (have || fin)) {
        c->data_deferred = false;
        rv = nghttp2_session_resume_data(conn->session, c->stream_id);
    } else {
        return;
    }
    if (rv != 0) {
        log_warn(RPC_SUBSYS, "%s: stream %d: cannot respond: %s", rpc_call_method(c), c->stream_id,
                 nghttp2_strerror(rv));
        nghttp2_submit_rst_stream(conn->session, NGHTTP2_FLAG_NONE, c->stream_id,
                                  NGHTTP2_INTERNAL_ERROR);
    }
    rpc_conn_mark_dirty(conn);
}
