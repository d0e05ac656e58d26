/* One client connection: an nghttp2 server session fed from a uv_pipe_t.
 * Output is gathered from nghttp2_session_mem_send into one buffer and written
 * with a single write (uv_try_write, else one uv_write in flight); while a
 * write is pending the connection stops reading, so a client that does not
 * read cannot make the server do more work. Loop thread only. */
#include <stdlib.h>
#include <string.h>

#include "rpc/internal.h"
#include "util/cleanup.h"
#include "util/log.h"

static void on_closed(uv_handle_t *h)
{
    rpc_conn *conn = h->data;
    rpc_server *s = conn->srv;
    rpc_list_del(&conn->srv_link);
    rpc_list_del(&conn->dirty_link);
    s->n_conns--;
    free(conn->wbuf);
    free(conn);
    rpc_server_maybe_done(s);
}

void rpc_conn_close(rpc_conn *conn)
{
    if (conn->closing)
        return;
    conn->closing = true;
    rpc_list_del(&conn->dirty_link);
    while (!rpc_list_empty(&conn->calls))
        rpc_call_close(rpc_container_of(conn->calls.next, rpc_call, conn_link));
    if (conn->session) {
        nghttp2_session_del(conn->session);
        conn->session = NULL;
    }
    log_debug(RPC_SUBSYS, "connection closed");
    uv_close((uv_handle_t *)&conn->pipe, on_closed);
}

void rpc_conn_mark_dirty(rpc_conn *conn)
{
    if (!conn->closing && rpc_list_empty(&conn->dirty_link))
        rpc_list_add_tail(&conn->srv->dirty, &conn->dirty_link);
}

static int wbuf_append(rpc_conn *conn, const uint8_t *p, size_t n)
{
    if (n > conn->wcap - conn->wlen) {
        size_t cap = conn->wcap ? conn->wcap * 2 : 16384;
        while (cap < conn->wlen + n)
            cap *= 2;
        uint8_t *b = realloc(conn->wbuf, cap);
        if (!b)
            return -1;
        conn->wbuf = b;
        conn->wcap = cap;
    }
    memcpy(conn->wbuf + conn->wlen, p, n);
    conn->wlen += n;
    return 0;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

static void on_written(uv_write_t *req, int status)
{
    rpc_conn *conn = req->data;
    conn->writing = false;
    conn->wlen = 0;
    if (conn->closing)
        return;
    if (status < 0) {
        log_debug(RPC_SUBSYS, "connection write: %s", uv_strerror(status));
        rpc_conn_close(conn);
        return;
    }
    uv_read_start((uv_stream_t *)&conn->pipe, on_alloc, on_read);
    rpc_conn_flush(conn);
}

/* Gathers pending frames; returns -1 when the connection had to be closed. */
static int gather(rpc_conn *conn)
{
    while (conn->wlen < RPC_WRITE_BATCH) {
        const uint8_t *p;
        ssize_t n = nghttp2_session_mem_send(conn->session, &p);
        if (n < 0) {
            log_info(RPC_SUBSYS, "dropping connection: %s", nghttp2_strerror((int)n));
            rpc_conn_close(conn);
            return -1;
        }
        if (n == 0)
            break;
        if (wbuf_append(conn, p, (size_t)n) < 0) {
            log_error(RPC_SUBSYS, "dropping connection: out of memory for output");
            rpc_conn_close(conn);
            return -1;
        }
    }
    return 0;
}

void rpc_conn_flush(rpc_conn *conn)
{
    if (conn->closing || conn->writing)
        return;
    for (;;) {
        if (gather(conn) < 0)
            return;
        if (conn->wlen == 0)
            break;
        uv_buf_t b = uv_buf_init((char *)conn->wbuf, (unsigned)conn->wlen);
        int r = uv_try_write((uv_stream_t *)&conn->pipe, &b, 1);
        if (r == UV_EAGAIN)
            r = 0;
        if (r < 0) {
            log_debug(RPC_SUBSYS, "connection write: %s", uv_strerror(r));
            rpc_conn_close(conn);
            return;
        }
        if ((size_t)r < conn->wlen) {
            b = uv_buf_init((char *)conn->wbuf + r, (unsigned)(conn->wlen - (size_t)r));
            conn->wreq.data = conn;
            r = uv_write(&conn->wreq, (uv_stream_t *)&conn->pipe, &b, 1, on_written);
            if (r < 0) {
                log_debug(RPC_SUBSYS, "connection write: %s", uv_strerror(r));
                rpc_conn_close(conn);
                return;
            }
            conn->writing = true;
            uv_read_stop((uv_stream_t *)&conn->pipe);
            return;
        }
        conn->wlen = 0;
    }
    if (conn->wcap > RPC_WBUF_KEEP) {
        free(conn->wbuf); /* an idle connection keeps only a small buffer */
        conn->wbuf = NULL;
        conn->wcap = 0;
    }
    if (!nghttp2_session_want_read(conn->session) && !nghttp2_session_want_write(conn->session)) {
        rpc_conn_close(conn);
        return;
    }
    if (conn->goaway_sent && conn->n_calls == 0)
        rpc_conn_close(conn);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    rpc_conn *conn = h->data;
    *buf = uv_buf_init((char *)conn->srv->rbuf, sizeof(conn->srv->rbuf));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    rpc_conn *conn = stream->data;
    if (nread == 0 || conn->closing)
        return;
    if (nread < 0) {
        if (nread != UV_EOF)
            log_debug(RPC_SUBSYS, "connection read: %s", uv_strerror((int)nread));
        rpc_conn_close(conn);
        return;
    }
    ssize_t r = nghttp2_session_mem_recv(conn->session, (const uint8_t *)buf->base, (size_t)nread);
    if (r < 0) {
        log_info(RPC_SUBSYS, "dropping connection: %s", nghttp2_strerror((int)r));
        rpc_conn_close(conn);
        return;
    }
    rpc_conn_flush(conn);
}

void rpc_conn_goaway(rpc_conn *conn)
{
    if (conn->closing || conn->goaway_sent)
        return;
    conn->goaway_sent = true;
    nghttp2_submit_goaway(conn->session, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(conn->session), NGHTTP2_NO_ERROR,
                          NULL, 0);
    rpc_conn_flush(conn);
}

/* The connection window bounds the request bytes one connection can make the
 * server hold; it must take at least one message of the largest size. */
static int32_t conn_window(const rpc_server *s)
{
    uint64_t w = (uint64_t)s->opts.max_recv_msg_size * 2 + RPC_STREAM_WINDOW;
    return w > NGHTTP2_MAX_WINDOW_SIZE ? NGHTTP2_MAX_WINDOW_SIZE : (int32_t)w;
}

static int start_session(rpc_conn *conn)
{
    rpc_server *s = conn->srv;
    int rv = nghttp2_session_server_new2(&conn->session, s->cbs, conn, s->ngopt);
    if (rv != 0)
        return rv;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, s->opts.max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, RPC_STREAM_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, RPC_MAX_HEADER_LIST},
    };
    rv = nghttp2_submit_settings(conn->session, NGHTTP2_FLAG_NONE, iv, ARRAY_LEN(iv));
    if (rv == 0)
        rv = nghttp2_session_set_local_window_size(conn->session, NGHTTP2_FLAG_NONE, 0,
                                                   conn_window(s));
    return rv;
}

void rpc_conn_accept(rpc_server *s)
{
    rpc_conn *conn = calloc(1, sizeof(*conn));
    if (!conn) {
        log_error(RPC_SUBSYS, "out of memory for a connection");
        return;
    }
    conn->srv = s;
    rpc_list_init(&conn->dirty_link);
    rpc_list_init(&conn->calls);
    uv_pipe_init(s->loop, &conn->pipe, 0);
    conn->pipe.data = conn;
    rpc_list_add_tail(&s->conns, &conn->srv_link);
    s->n_conns++;
    int r = uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)&conn->pipe);
    if (r < 0) {
        log_warn(RPC_SUBSYS, "accept: %s", uv_strerror(r));
        rpc_conn_close(conn);
        return;
    }
    if (s->shutting_down || s->n_conns > s->opts.max_connections) {
        log_warn(RPC_SUBSYS, "refusing connection: %u open, the limit is %u", s->n_conns - 1,
                 s->opts.max_connections);
        rpc_conn_close(conn);
        return;
    }
    r = start_session(conn);
    if (r != 0) {
        log_error(RPC_SUBSYS, "connection setup: %s", nghttp2_strerror(r));
        rpc_conn_close(conn);
        return;
    }
    r = uv_read_start((uv_stream_t *)&conn->pipe, on_alloc, on_read);
    if (r < 0) {
        log_warn(RPC_SUBSYS, "connection read: %s", uv_strerror(r));
        rpc_conn_close(conn);
        return;
    }
    log_debug(RPC_SUBSYS, "connection accepted (%u open)", s->n_conns);
    rpc_conn_flush(conn);
}
