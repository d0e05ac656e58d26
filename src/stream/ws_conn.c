/* WebSocket (RFC 6455, framing in wsframe.c) on an upgraded connection, with the
 * Kubernetes channel protocols: every message starts with its channel number
 * (binary: one byte; base64 protocols: one ASCII digit and base64 text).
 * v5.channel.k8s.io adds the close signal: channel 255 with the channel to
 * close as payload (the client's way to end stdin). */
#include <stdlib.h>
#include <string.h>

#include "stream/conn.h"
#include "stream/wschan.h"
#include "stream/wsframe.h"
#include "util/b64.h"
#include "util/log.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_MAX_MSG (4u << 20)
#define WS_CLOSE_SIGNAL 255

static void ws_flush(sconn *c)
{
    if (!c->ws || c->closing || sbuf_avail(&c->ws_out) == 0)
        return;
    conn_write_buf(c, &c->ws_out);
}

static void queue_close(sconn *c, uint16_t code)
{
    if (c->ws_close_sent)
        return;
    uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    c->ws_close_sent = true;
    if (wsframe_put(&c->ws_out, WS_OP_CLOSE, p, 2) < 0)
        conn_abort(c, "out of memory");
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

/* A whole data message. */
static void on_message(sconn *c, const uint8_t *msg, size_t len)
{
    if (len == 0)
        return;
    uint8_t channel;
    sbuf data = {0};
    if (wschan_decode(c->ws_base64, msg, len, &channel, &data) < 0) {
        log_warn("stream", "websocket: malformed channel message");
        sbuf_free(&data);
        return;
    }
    deliver(c, channel, sbuf_head(&data), sbuf_avail(&data));
    sbuf_free(&data);
}

/* One complete, unmasked frame. -1: the connection is to be dropped. */
static int on_frame(sconn *c, const wsframe *f, const uint8_t *p)
{
    size_t len = (size_t)f->len;
    switch (f->opcode) {
    case WS_OP_PING:
        return wsframe_put(&c->ws_out, WS_OP_PONG, p, len);
    case WS_OP_PONG:
        return 0;
    case WS_OP_CLOSE:
        c->ws_closed = true;
        queue_close(c, len >= 2 ? (uint16_t)(p[0] << 8 | p[1]) : WS_CLOSE_NORMAL);
        return 0;
    case WS_OP_CONT:
        if (!c->ws_msg_op)
            return -1; /* nothing to continue */
        if (sbuf_avail(&c->ws_msg) + len > WS_MAX_MSG) {
            queue_close(c, WS_CLOSE_TOO_BIG);
            c->ws_closed = true;
            return 0;
        }
        if (sbuf_append(&c->ws_msg, p, len) < 0)
            return -1;
        if (f->fin) {
            on_message(c, sbuf_head(&c->ws_msg), sbuf_avail(&c->ws_msg));
            sbuf_free(&c->ws_msg);
            c->ws_msg_op = 0;
        }
        return 0;
    default: /* text or binary */
        if (c->ws_msg_op)
            return -1; /* a new message inside a fragmented one */
        if (f->fin) {
            on_message(c, p, len);
            return 0;
        }
        c->ws_msg_op = f->opcode;
        return sbuf_append(&c->ws_msg, p, len);
    }
}

int ws_start(sconn *c, const char *key)
{
    c->ws = true;
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
    while (!c->ws_closed) {
        wsframe f;
        size_t n = sbuf_avail(&c->in);
        int r = wsframe_header(sbuf_head(&c->in), n, WS_MAX_MSG, &f);
        if (r < 0) {
            conn_abort(c, "websocket protocol error");
            return;
        }
        if (r == 0 || n - f.header < f.len)
            break; /* the rest of the frame is still on its way */
        uint8_t *p = (uint8_t *)sbuf_head(&c->in) + f.header;
        wsframe_unmask(&f, p, (size_t)f.len, 0);
        conn_touch(c);
        int rc = on_frame(c, &f, p);
        if (c->closing)
            return;
        sbuf_consume(&c->in, f.header + (size_t)f.len);
        if (rc < 0) {
            conn_abort(c, "websocket protocol error");
            return;
        }
    }
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
    /* An empty message may come as NULL, 0: no pointer arithmetic on NULL. */
    const uint8_t *p = data ? data : (const void *)"";
    do {
        size_t n = len > CHUNK_MAX ? CHUNK_MAX : len;
        sbuf msg = {0};
        if (wschan_encode(c->ws_base64, (uint8_t)ch->id, p, n, &msg) < 0) {
            sbuf_free(&msg);
            return -1;
        }
        int rc = wsframe_put(&c->ws_out, c->ws_base64 ? WS_OP_TEXT : WS_OP_BINARY, sbuf_head(&msg),
                             sbuf_avail(&msg));
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
        queue_close(c, WS_CLOSE_NORMAL);
        ws_flush(c);
    }
    conn_finish(c);
}

void ws_free(sconn *c)
{
    c->ws = false;
    sbuf_free(&c->ws_out);
    sbuf_free(&c->ws_msg);
}
