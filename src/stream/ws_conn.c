/* WebSocket (RFC 6455, framing by wslay) on an upgraded connection, with the
 * Kubernetes channel protocols: every message starts with its channel number
 * (binary: one byte; base64 protocols: one ASCII digit and base64 text).
 * v5.channel.k8s.io adds the close signal: channel 255 with the channel to
 * close as payload (the client's way to end stdin). */
#include <stdlib.h>
#include <string.h>

#include "stream/conn.h"
#include "stream/wschan.h"
#include "util/b64.h"
#include "util/log.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_MAX_MSG (4u << 20)
#define WS_CLOSE_SIGNAL 255

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                          void *user)
{
    sconn *c = user;
    size_t n = sbuf_avail(&c->in);
    if (n == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (n > len)
        n = len;
    memcpy(buf, sbuf_head(&c->in), n);
    sbuf_consume(&c->in, n);
    return (ssize_t)n;
}

static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                          void *user)
{
    sconn *c = user;
    if (sbuf_append(&c->ws_out, data, len) < 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static void ws_flush(sconn *c)
{
    if (!c->ws || c->closing)
        return;
    if (wslay_event_send(c->ws) != 0) {
        conn_abort(c, "websocket send failed");
        return;
    }
    conn_write_buf(c, &c->ws_out);
}

static void deliver(sconn *c, uint8_t channel, const uint8_t *data, size_t len)
{
    if (c->version >= 5 && channel == WS_CLOSE_SIGNAL) {
        if (len < 1)
            return;
        schan *ch = conn_chan_find(c, data[0]);
        if (ch && !ch->remote_fin) {
            ch->remote_fin = true;
            session_chan_fin(c, ch);
        }
        return;
    }
    schan *ch = conn_chan_find(c, channel);
    if (!ch || ch->remote_fin || ch->reset || len == 0)
        return;
    if (ch->type != CH_STDIN && ch->type != CH_RESIZE && ch->type != CH_PF_DATA)
        return;
    if (sbuf_append(&ch->in, data, len) < 0) {
        conn_abort(c, "out of memory");
        return;
    }
    session_chan_data(c, ch);
}

static void ws_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                      void *user)
{
    sconn *c = user;
    if (c->closing)
        return;
    conn_touch(c);
    if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
        c->ws_closed = true;
        return;
    }
    if (arg->opcode != WSLAY_BINARY_FRAME && arg->opcode != WSLAY_TEXT_FRAME)
        return;
    if (arg->msg_length == 0)
        return;
    uint8_t channel;
    sbuf data = {0};
    if (wschan_decode(c->ws_base64, arg->msg, arg->msg_length, &channel, &data) < 0) {
        log_warn("stream", "websocket: malformed channel message");
        sbuf_free(&data);
        return;
    }
    deliver(c, channel, sbuf_head(&data), sbuf_avail(&data));
    sbuf_free(&data);
}

int ws_start(sconn *c, const char *key)
{
    struct wslay_event_callbacks cb = {
        .recv_callback = ws_recv_cb,
        .send_callback = ws_send_cb,
        .on_msg_recv_callback = ws_msg_cb,
    };
    if (wslay_event_context_server_init(&c->ws, &cb, c) != 0)
        return -1;
    wslay_event_config_set_max_recv_msg_length(c->ws, WS_MAX_MSG);

    char concat[128];
    snprintf(concat, sizeof(concat), "%s%s", key, WS_GUID);
    uint8_t sha[SHA1_LEN];
    sha1(concat, strlen(concat), sha);
    char accept[64];
    b64_encode(sha, SHA1_LEN, accept);
    char resp[512];
    int n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
                     accept, c->protocol[0] ? "Sec-WebSocket-Protocol: " : "", c->protocol,
                     c->protocol[0] ? "\r\n" : "");
    return conn_write(c, resp, (size_t)n);
}

void ws_on_input(sconn *c)
{
    if (!c->ws || c->closing || c->finishing)
        return;
    if (wslay_event_recv(c->ws) != 0) {
        conn_abort(c, "websocket protocol error");
        return;
    }
    if (c->closing)
        return;
    ws_flush(c);
    if (c->closing)
        return;
    if (c->ws_closed) {
        /* The client closed: it is gone as far as the session is concerned. */
        if (c->sess)
            session_conn_gone(c);
        conn_finish(c);
    }
}

int ws_send(sconn *c, schan *ch, const void *data, size_t len, bool fin)
{
    if (ch->local_fin || ch->reset || c->closing || c->ws_closed)
        return 0;
    const uint8_t *p = data;
    do {
        size_t n = len > CHUNK_MAX ? CHUNK_MAX : len;
        sbuf msg = {0};
        if (wschan_encode(c->ws_base64, (uint8_t)ch->id, p, n, &msg) < 0) {
            sbuf_free(&msg);
            return -1;
        }
        struct wslay_event_msg m = {
            .opcode = c->ws_base64 ? WSLAY_TEXT_FRAME : WSLAY_BINARY_FRAME,
            .msg = sbuf_head(&msg),
            .msg_length = sbuf_avail(&msg),
        };
        int rc = wslay_event_queue_msg(c->ws, &m);
        sbuf_free(&msg);
        if (rc != 0)
            return -1;
        p += n;
        len -= n;
    } while (len > 0);
    if (fin)
        ch->local_fin = true;
    ws_flush(c);
    return 0;
}

void ws_goodbye(sconn *c)
{
    if (c->ws && !c->closing && !c->ws_closed) {
        wslay_event_queue_close(c->ws, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
        ws_flush(c);
    }
    conn_finish(c);
}

void ws_free(sconn *c)
{
    if (c->ws)
        wslay_event_context_free(c->ws);
    c->ws = NULL;
    sbuf_free(&c->ws_out);
}
