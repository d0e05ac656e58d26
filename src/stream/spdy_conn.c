/* SPDY/3.1 on an upgraded connection: frames in, channels and session
 * events out; DATA frames and flow control for what the session sends.
 *
 * Flow control: we advertise the default 64 KiB windows and acknowledge
 * consumed bytes with WINDOW_UPDATE (per stream and, SPDY/3.1, for the
 * connection). For sending we honour the peer's windows once the peer shows
 * it does flow control (it sent a WINDOW_UPDATE or SETTINGS_INITIAL_WINDOW_SIZE);
 * Go's spdystream (kubectl, the kubelet, the API server) never does, and then
 * the connection's bounded write queue is the only limit. */
#include <stdlib.h>
#include <string.h>

#include "stream/conn.h"
#include "util/log.h"

#define MAX_IN_FRAME (1u << 20)
#define WINDOW_ACK_AT 32768

static void protocol_error(sconn *c, const char *why)
{
    log_warn("stream", "SPDY protocol error from client: %s", why);
    sbuf b = {0};
    spdy_put_goaway(&b, c->last_stream_id, SPDY_GOAWAY_PROTOCOL_ERROR);
    conn_write_buf(c, &b);
    sbuf_free(&b);
    c->goaway_sent = true;
    sbuf_consume(&c->in, sbuf_avail(&c->in));
    if (c->sess)
        session_conn_gone(c);
    conn_finish(c);
}

static void send_rst(sconn *c, uint32_t id, uint32_t status)
{
    sbuf b = {0};
    spdy_put_rst(&b, id, status);
    conn_write_buf(c, &b);
    sbuf_free(&b);
}

static chan_type type_of(const char *t)
{
    if (!t)
        return (chan_type)-1;
    if (strcmp(t, "stdin") == 0)
        return CH_STDIN;
    if (strcmp(t, "stdout") == 0)
        return CH_STDOUT;
    if (strcmp(t, "stderr") == 0)
        return CH_STDERR;
    if (strcmp(t, "error") == 0)
        return CH_ERROR;
    if (strcmp(t, "resize") == 0)
        return CH_RESIZE;
    if (strcmp(t, "data") == 0)
        return CH_PF_DATA;
    return (chan_type)-1;
}

static void on_syn_stream(sconn *c, const spdy_frame *f)
{
    spdy_headers h;
    const char *why;
    /* Always inflate: the zlib stream spans every header block. */
    if (spdy_headers_decompress(&c->zip, f->payload, f->payload_len, &h, &why) < 0) {
        protocol_error(c, why);
        return;
    }
    if (f->stream_id % 2 == 0 || f->stream_id <= c->last_stream_id) {
        spdy_headers_free(&h);
        protocol_error(c, "SYN_STREAM with a non-increasing or even stream id");
        return;
    }
    c->last_stream_id = f->stream_id;
    if (c->goaway_sent || c->finishing || !c->sess) {
        spdy_headers_free(&h);
        send_rst(c, f->stream_id, SPDY_REFUSED_STREAM);
        return;
    }
    const char *st = spdy_headers_get(&h, "streamtype");
    chan_type type = type_of(st);
    if (st && strcmp(st, "error") == 0)
        type = c->req->kind == STREAM_PORTFORWARD ? CH_PF_ERROR : CH_ERROR;
    bool pf = c->req->kind == STREAM_PORTFORWARD;
    bool ok =
        (int)type >= 0 && (pf ? (type == CH_PF_DATA || type == CH_PF_ERROR) : (type <= CH_RESIZE));
    if (!ok) {
        log_warn("stream", "%s %s: unexpected stream type %s", stream_kind_name(c->req->kind),
                 c->req->id, st ? st : "(none)");
        spdy_headers_free(&h);
        send_rst(c, f->stream_id, SPDY_REFUSED_STREAM);
        return;
    }
    schan *ch = conn_chan_add(c, f->stream_id, type);
    if (!ch) {
        spdy_headers_free(&h);
        send_rst(c, f->stream_id, SPDY_INTERNAL_ERROR);
        return;
    }
    if (f->flags & SPDY_FLAG_FIN)
        ch->remote_fin = true;
    if (f->flags & SPDY_FLAG_UNIDIRECTIONAL)
        ch->local_fin = true;
    sbuf b = {0};
    if (spdy_put_syn_reply(&b, &c->zip, f->stream_id, 0, NULL, 0) == 0)
        conn_write_buf(c, &b);
    sbuf_free(&b);
    session_chan_opened(c, ch, &h);
    spdy_headers_free(&h);
}

static void on_data(sconn *c, const spdy_frame *f)
{
    schan *ch = conn_chan_find(c, f->stream_id);
    if (!ch) {
        if (f->stream_id > c->last_stream_id || f->stream_id % 2 == 0)
            send_rst(c, f->stream_id, SPDY_INVALID_STREAM);
        return;
    }
    if (ch->remote_fin) {
        if (!ch->reset)
            send_rst(c, f->stream_id, SPDY_STREAM_ALREADY_CLOSED);
        return;
    }
    bool wants = ch->type == CH_STDIN || ch->type == CH_RESIZE || ch->type == CH_PF_DATA;
    if (f->payload_len > 0) {
        if (wants && !ch->reset) {
            if (sbuf_append(&ch->in, f->payload, f->payload_len) < 0) {
                conn_abort(c, "out of memory");
                return;
            }
        } else {
            spdy_consumed(c, ch, f->payload_len);
        }
    }
    bool fin = (f->flags & SPDY_FLAG_FIN) != 0;
    if (fin)
        ch->remote_fin = true;
    if (f->payload_len > 0 && wants && !ch->reset)
        session_chan_data(c, ch);
    if (fin && !c->closing)
        session_chan_fin(c, ch);
}

static void on_settings(sconn *c, const spdy_frame *f)
{
    uint8_t flags;
    uint32_t id, value;
    for (uint32_t i = 0; spdy_settings_entry(f, i, &flags, &id, &value); i++) {
        if (id == SPDY_SETTINGS_INITIAL_WINDOW_SIZE && value <= 0x7fffffff) {
            int64_t delta = (int64_t)value - c->initial_window;
            c->initial_window = value;
            c->peer_flow = true;
            for (schan *ch = c->chans; ch; ch = ch->next)
                ch->send_window += delta;
        }
    }
    session_kick(c);
}

void spdy_on_input(sconn *c)
{
    while (!c->closing && !c->finishing && !c->read_paused) {
        spdy_frame f;
        size_t used = 0;
        const char *why;
        int rc =
            spdy_frame_decode(sbuf_head(&c->in), sbuf_avail(&c->in), MAX_IN_FRAME, &f, &used, &why);
        if (rc == SPDY_NEED_MORE)
            return;
        if (rc < 0) {
            protocol_error(c, why);
            return;
        }
        if (!f.control) {
            on_data(c, &f);
        } else {
            switch (f.type) {
            case SPDY_SYN_STREAM:
                on_syn_stream(c, &f);
                break;
            case SPDY_SYN_REPLY:
            case SPDY_HEADERS: {
                spdy_headers h;
                if (spdy_headers_decompress(&c->zip, f.payload, f.payload_len, &h, &why) < 0) {
                    protocol_error(c, why);
                    return;
                }
                spdy_headers_free(&h);
                schan *ch = conn_chan_find(c, f.stream_id);
                if (ch && (f.flags & SPDY_FLAG_FIN) && !ch->remote_fin) {
                    ch->remote_fin = true;
                    session_chan_fin(c, ch);
                }
                break;
            }
            case SPDY_RST_STREAM: {
                schan *ch = conn_chan_find(c, f.stream_id);
                if (ch && !ch->reset) {
                    ch->reset = ch->remote_fin = ch->local_fin = true;
                    session_chan_fin(c, ch);
                }
                break;
            }
            case SPDY_SETTINGS:
                on_settings(c, &f);
                break;
            case SPDY_PING:
                if (f.ping_id % 2 == 1) {
                    sbuf b = {0};
                    spdy_put_ping(&b, f.ping_id);
                    conn_write_buf(c, &b);
                    sbuf_free(&b);
                }
                break;
            case SPDY_GOAWAY:
                c->client_goaway = true;
                break;
            case SPDY_WINDOW_UPDATE:
                c->peer_flow = true;
                if (f.stream_id == 0) {
                    if (!c->conn_flow) {
                        c->conn_flow = true;
                        c->conn_send_window = SPDY_DEFAULT_WINDOW;
                    }
                    c->conn_send_window += f.delta;
                } else {
                    schan *ch = conn_chan_find(c, f.stream_id);
                    if (ch)
                        ch->send_window += f.delta;
                }
                session_kick(c);
                break;
            default:
                break; /* unknown control frames are ignored */
            }
        }
        if (c->closing)
            return;
        sbuf_consume(&c->in, used);
    }
}

int spdy_send(sconn *c, schan *ch, const void *data, size_t len, bool fin)
{
    if (ch->local_fin || ch->reset || c->closing)
        return 0;
    sbuf b = {0};
    /* An empty message may come as NULL, 0: no pointer arithmetic on NULL. */
    const uint8_t *p = data ? data : (const void *)"";
    do {
        size_t n = len > CHUNK_MAX ? CHUNK_MAX : len;
        bool last = n == len;
        if (spdy_put_data(&b, ch->id, last && fin ? SPDY_FLAG_FIN : 0, p, n) < 0) {
            sbuf_free(&b);
            return -1;
        }
        p += n;
        len -= n;
        ch->send_window -= (int64_t)n;
        c->conn_send_window -= (int64_t)n;
    } while (len > 0);
    if (fin)
        ch->local_fin = true;
    int rc = conn_write_buf(c, &b);
    sbuf_free(&b);
    return rc;
}

void spdy_consumed(sconn *c, schan *ch, size_t n)
{
    if (c->closing || c->goaway_sent)
        return;
    sbuf b = {0};
    ch->recv_consumed += (uint32_t)n;
    c->conn_consumed += (uint32_t)n;
    if (ch->recv_consumed >= WINDOW_ACK_AT && !ch->remote_fin) {
        spdy_put_window_update(&b, ch->id, ch->recv_consumed);
        ch->recv_consumed = 0;
    }
    if (c->conn_consumed >= WINDOW_ACK_AT) {
        spdy_put_window_update(&b, 0, c->conn_consumed);
        c->conn_consumed = 0;
    }
    conn_write_buf(c, &b);
    sbuf_free(&b);
}

void spdy_goodbye(sconn *c)
{
    if (!c->goaway_sent && !c->closing) {
        sbuf b = {0};
        spdy_put_goaway(&b, c->last_stream_id, SPDY_GOAWAY_OK);
        conn_write_buf(c, &b);
        sbuf_free(&b);
        c->goaway_sent = true;
    }
    conn_finish(c);
}

/* ---- transport-neutral channel helpers ---- */

int chan_send(schan *ch, const void *data, size_t len, bool fin)
{
    sconn *c = ch->c;
    if (c->proto == P_SPDY)
        return spdy_send(c, ch, data, len, fin);
    return ws_send(c, ch, data, len, fin);
}

size_t chan_room(schan *ch)
{
    sconn *c = ch->c;
    if (c->closing)
        return 0;
    if (ch->reset || ch->local_fin)
        return CHUNK_MAX; /* output is dropped: never block the fd on it */
    if (c->out_pending >= CONN_OUT_HIGH)
        return 0;
    int64_t room = (int64_t)(CONN_OUT_HIGH - c->out_pending);
    if (c->proto == P_SPDY && c->peer_flow && ch->send_window < room)
        room = ch->send_window;
    if (c->proto == P_SPDY && c->conn_flow && c->conn_send_window < room)
        room = c->conn_send_window;
    return room > 0 ? (size_t)room : 0;
}

void chan_consumed(schan *ch, size_t n)
{
    sconn *c = ch->c;
    sbuf_consume(&ch->in, n);
    if (c->proto == P_SPDY)
        spdy_consumed(c, ch, n);
    if (c->read_paused)
        conn_check_read(c);
}
