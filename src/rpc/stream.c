/* nghttp2 session callbacks for one connection: a request's headers are
 * validated as they arrive, its DATA is reassembled into one gRPC message,
 * and at END_STREAM the call is dispatched. Every error becomes a gRPC status
 * on that stream; nothing a client sends ends the connection except what
 * nghttp2 itself treats as a connection error. Loop thread only. */
#include <stdio.h>
#include <string.h>

#include "rpc/internal.h"
#include "rpc/timeout.h"
#include "util/log.h"

/* A grpc-timeout beyond this (about ten years) means "no deadline". */
#define RPC_MAX_TIMEOUT_MS (10ull * 365 * 24 * 3600 * 1000)

static bool name_is(const uint8_t *name, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    return len == n && memcmp(name, lit, n) == 0;
}

static rpc_call *stream_call(nghttp2_session *session, int32_t stream_id)
{
    return nghttp2_session_get_stream_user_data(session, stream_id);
}

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user)
{
    rpc_conn *conn = user;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    rpc_call *c = rpc_call_new(conn, frame->hd.stream_id);
    if (!c)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    if (nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, c) != 0) {
        rpc_call_close(c);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    return 0;
}

static void header_path(rpc_call *c, const uint8_t *value, size_t len)
{
    c->method = rpc_method_table_find(&c->srv->methods, value, len);
    if (c->method)
        return;
    c->path_unknown = true;
    rpc_status_set(&c->final, RPC_UNIMPLEMENTED, "unknown method %.*s",
                   (int)(len > 256 ? 256 : len), (const char *)value);
}

static void header_content_type(rpc_call *c, const uint8_t *v, size_t len)
{
    static const char grpc[] = "application/grpc";
    size_t n = sizeof(grpc) - 1;
    c->content_type_ok =
        len >= n && memcmp(v, grpc, n) == 0 && (len == n || v[n] == '+' || v[n] == ';');
}

static void header_encoding(rpc_call *c, const uint8_t *v, size_t len)
{
    if (name_is(v, len, "identity"))
        return;
    c->encoding_bad = true;
    size_t n = len < sizeof(c->encoding) - 1 ? len : sizeof(c->encoding) - 1;
    memcpy(c->encoding, v, n);
    c->encoding[n] = '\0';
}

static void header_timeout(rpc_call *c, const uint8_t *v, size_t len)
{
    uint64_t ms;
    if (rpc_timeout_parse((const char *)v, len, &ms) < 0) {
        c->timeout_bad = true;
        return;
    }
    c->timeout_ms = ms;
    c->has_timeout = true;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
    if (frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    rpc_call *c = stream_call(session, frame->hd.stream_id);
    if (!c)
        return 0;
    size_t add = namelen + valuelen + 32;
    if (add > RPC_MAX_HEADER_LIST - c->header_bytes) {
        log_debug(RPC_SUBSYS, "stream %d: header list over %u bytes, reset", frame->hd.stream_id,
                  RPC_MAX_HEADER_LIST);
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    c->header_bytes += (uint32_t)add;
    if (frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0; /* request trailers: ignored */
    if (name_is(name, namelen, ":method"))
        c->saw_post = name_is(value, valuelen, "POST");
    else if (name_is(name, namelen, ":path"))
        header_path(c, value, valuelen);
    else if (name_is(name, namelen, "content-type"))
        header_content_type(c, value, valuelen);
    else if (name_is(name, namelen, "grpc-encoding"))
        header_encoding(c, value, valuelen);
    else if (name_is(name, namelen, "grpc-timeout"))
        header_timeout(c, value, valuelen);
    return 0;
}

static void reject(rpc_call *c, unsigned http_status, rpc_code code, const char *what)
{
    c->http_status = http_status;
    rpc_call_abort(c, code, "%s", what);
}

/* The request HEADERS are complete: decide whether the call can run. */
static void headers_done(rpc_call *c)
{
    if (!c->saw_post) {
        reject(c, 405, RPC_INTERNAL, "gRPC requires the POST method");
    } else if (!c->content_type_ok) {
        reject(c, 415, RPC_INTERNAL, "gRPC requires content-type application/grpc");
    } else if (!c->method) {
        char what[sizeof(c->final.message)];
        if (c->path_unknown)
            memcpy(what, c->final.message, sizeof(what));
        else
            snprintf(what, sizeof(what), "request has no :path");
        rpc_call_abort(c, RPC_UNIMPLEMENTED, "%s", what);
    } else if (c->encoding_bad) {
        rpc_call_abort(c, RPC_UNIMPLEMENTED,
                       "grpc-encoding %s is not supported, only identity (no compression)",
                       c->encoding);
    } else if (c->timeout_bad) {
        rpc_call_abort(c, RPC_INTERNAL, "malformed grpc-timeout header");
    } else if (c->has_timeout && c->timeout_ms <= RPC_MAX_TIMEOUT_MS) {
        c->deadline_ns = uv_hrtime() + c->timeout_ms * 1000000u;
        if (rpc_server_deadline_add(c->srv, c) < 0)
            rpc_call_abort(c, RPC_RESOURCE_EXHAUSTED, "out of memory for the call deadline");
    }
}

/* The client half-closed the stream: the request is complete. Unary and
 * server-streaming methods both take exactly one message; anything else is
 * INTERNAL, as the reference implementations answer. */
static void request_done(rpc_call *c)
{
    if (c->rejected || c->dispatched)
        return;
    if (rpc_frame_reader_partial(&c->rd))
        rpc_call_abort(c, RPC_INTERNAL, "request ended inside a message (%u of %u bytes)",
                       c->rd.msg_have, c->rd.msg_len);
    else if (c->n_req == 0)
        rpc_call_abort(c, RPC_INTERNAL, "request has no message; %s takes exactly one",
                       c->method->path);
    else if (c->deadline_ns && uv_hrtime() >= c->deadline_ns)
        rpc_call_abort(c, RPC_DEADLINE_EXCEEDED, "deadline of %llu ms exceeded",
                       (unsigned long long)c->timeout_ms);
    else
        rpc_server_dispatch(c);
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user)
{
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
        return 0;
    rpc_call *c = stream_call(session, frame->hd.stream_id);
    if (!c)
        return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
        headers_done(c);
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
        request_done(c);
    return 0;
}

static int on_message(void *arg, uint8_t *msg, size_t len)
{
    rpc_call *c = arg;
    if (++c->n_req > 1) {
        free(msg);
        return -1;
    }
    c->req = msg;
    c->req_len = len;
    return 0;
}

static void frame_error(rpc_call *c, int err)
{
    switch (err) {
    case RPC_FRAME_TOO_LARGE:
        rpc_call_abort(c, RPC_RESOURCE_EXHAUSTED,
                       "request message of %u bytes exceeds the limit of %zu bytes", c->rd.msg_len,
                       c->rd.max_len);
        break;
    case RPC_FRAME_COMPRESSED:
        rpc_call_abort(c, RPC_UNIMPLEMENTED,
                       "compressed messages are not supported, only identity (no compression)");
        break;
    case RPC_FRAME_BAD_FLAG:
        rpc_call_abort(c, RPC_INTERNAL, "invalid message flag 0x%02x", c->rd.prefix[0]);
        break;
    case RPC_FRAME_REJECTED:
        rpc_call_abort(c, RPC_INTERNAL, "request has more than one message; %s takes exactly one",
                       c->method->path);
        break;
    default:
        rpc_call_abort(c, RPC_RESOURCE_EXHAUSTED, "request message: %s", rpc_frame_strerror(err));
    }
}

static int on_data_chunk_recv(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                              const uint8_t *data, size_t len, void *user)
{
    rpc_call *c = stream_call(session, stream_id);
    if (!c || c->rejected || c->dispatched) {
        nghttp2_session_consume(session, stream_id, len);
        return 0;
    }
    size_t kept = 0;
    int rc = rpc_frame_feed(&c->rd, data, len, on_message, c, &kept);
    /* The stream window refills at once; the connection window only when the
     * buffered request is released, which bounds what one connection can
     * make the server hold. */
    nghttp2_session_consume_stream(session, stream_id, len);
    if (len > kept)
        nghttp2_session_consume_connection(session, len - kept);
    c->unconsumed += kept;
    if (rc < 0)
        frame_error(c, rc);
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *user)
{
    rpc_conn *conn = user;
    rpc_call *c = stream_call(session, stream_id);
    if (c) {
        if (error_code != NGHTTP2_NO_ERROR)
            log_debug(RPC_SUBSYS, "%s: stream %d reset: %s", rpc_call_method(c), stream_id,
                      nghttp2_http2_strerror(error_code));
        rpc_call_close(c);
    }
    rpc_conn_mark_dirty(conn);
    return 0;
}

/* After our END_STREAM, a client still sending (an early error, a deadline)
 * is told to stop, as RFC 9113 section 8.1 suggests. */
static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *user)
{
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
        nghttp2_session_get_stream_remote_close(session, frame->hd.stream_id) == 0)
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                  NGHTTP2_NO_ERROR);
    return 0;
}

void rpc_stream_set_callbacks(nghttp2_session_callbacks *cbs)
{
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
}
