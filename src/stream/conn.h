/* Internal to src/stream: one client connection (HTTP, then SPDY or
 * WebSocket), its logical channels, and the session (exec, attach or
 * port-forward) that pumps bytes between the channels and file descriptors.
 * Everything here runs on the loop thread. */
#ifndef CRIC_STREAM_CONN_H
#define CRIC_STREAM_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "stream/buf.h"
#include "stream/http.h"
#include "stream/spdy.h"
#include "stream/stream.h"
#include "stream/token.h"

typedef struct sconn sconn;
typedef struct session session;
typedef struct pfpair pfpair;

typedef enum {
    CH_STDIN = 0,
    CH_STDOUT = 1,
    CH_STDERR = 2,
    CH_ERROR = 3,
    CH_RESIZE = 4,
    CH_PF_DATA = 5,
    CH_PF_ERROR = 6,
} chan_type;

/* A logical channel: a SPDY stream or a WebSocket channel number. */
typedef struct schan {
    sconn *c;
    uint32_t id;
    chan_type type;
    bool remote_fin;        /* the client sends no more */
    bool local_fin;         /* we send no more */
    bool reset;             /* gone (RST_STREAM); data for it is dropped */
    sbuf in;                /* client bytes not yet written to the fd */
    int64_t send_window;    /* SPDY flow control (when the peer uses it) */
    uint32_t recv_consumed; /* SPDY: consumed bytes not yet acknowledged */
    pfpair *pf;
    struct schan *next;
} schan;

typedef enum { P_HTTP = 0, P_SPDY, P_WS } conn_proto;

struct stream_server {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    bool listening, closing;
    stream_server_opts opts;
    char *address, *tls_cert, *tls_key;
    stream_backend be;
    token_store *tokens;
    struct tls_proxy *tls; /* NULL: plain HTTP */
    char base_url[128];
    sconn *conns;
    unsigned n_conns, n_sessions;
    session *orphans; /* sessions whose client left, still reaping */
    void (*done)(void *arg);
    void *done_arg;
};

struct sconn {
    stream_server *srv;
    uv_tcp_t tcp;
    uv_timer_t timer;
    conn_proto proto;
    int handles;        /* open uv handles (tcp, timer) */
    bool closing;       /* uv_close issued */
    bool finishing;     /* graceful end: output queued, then shutdown */
    bool done;          /* the session said goodbye: close once the client had time */
    bool read_paused;   /* back-pressure: a channel buffer is full */
    bool counted;       /* counts against max_sessions */
    sbuf in;            /* bytes read (decrypted) and not yet parsed */
    size_t out_pending; /* bytes in uv_write not yet written */
    uint64_t last_active;
    stream_request *req;
    const char *protocol; /* negotiated subprotocol ("" = none) */
    int version;          /* remotecommand protocol: 1..5 */
    bool ws_base64;
    /* SPDY */
    spdy_zip zip;
    bool zip_ok;
    uint32_t last_stream_id;
    bool peer_flow; /* the peer sent WINDOW_UPDATE/SETTINGS: honour stream windows */
    bool conn_flow; /* ... and a connection-level (SPDY/3.1) WINDOW_UPDATE */
    int64_t initial_window, conn_send_window;
    uint32_t conn_consumed;
    bool client_goaway;
    bool goaway_sent;
    /* WebSocket */
    bool ws;            /* upgraded */
    bool ws_close_sent; /* our close frame is queued */
    uint8_t ws_msg_op;  /* opcode of the fragmented message being joined; 0 = none */
    sbuf ws_msg;        /* its payload so far */
    sbuf ws_out;        /* frames to send, handed to conn_write_buf */
    bool ws_closed;     /* the client sent a close frame or went away */
    schan *chans;
    session *sess;
    sconn *next;
};

/* Output queue bounds for the connection (back-pressure on fd reads). */
#define CONN_OUT_HIGH (1u << 20)
#define CONN_OUT_LOW (256u << 10)
/* Largest DATA frame / WS message we emit, and read chunk from an fd. */
#define CHUNK_MAX (128u * 1024u)

/* server.c */
void stream_server_maybe_done(stream_server *s);
int conn_write(sconn *c, const void *data, size_t len); /* copies; 0 or -1 */
int conn_write_buf(sconn *c, sbuf *b);                  /* takes the bytes */
void conn_abort(sconn *c, const char *why);             /* close now */
void conn_finish(sconn *c); /* protocol goodbye queued: shut down once flushed */
void conn_touch(sconn *c);
void conn_check_read(sconn *c); /* resume reading when buffers drained */
schan *conn_chan_find(sconn *c, uint32_t id);
schan *conn_chan_add(sconn *c, uint32_t id, chan_type type);
void conn_chan_remove(sconn *c, schan *ch);
uint64_t now_ms(void);

/* spdy_conn.c */
void spdy_on_input(sconn *c);
int spdy_send(sconn *c, schan *ch, const void *data, size_t len, bool fin);
void spdy_goodbye(sconn *c);
void spdy_consumed(sconn *c, schan *ch, size_t n);

/* server.c: takes a connected plain socket (from the TLS helper) as a client. */
void stream_server_adopt(stream_server *s, int fd);

/* ws_conn.c */
int ws_start(sconn *c, const char *key);
void ws_on_input(sconn *c);
int ws_send(sconn *c, schan *ch, const void *data, size_t len, bool fin);
void ws_goodbye(sconn *c);
void ws_free(sconn *c);

/* Transport-neutral helpers over the two above. */
int chan_send(schan *ch, const void *data, size_t len, bool fin);
size_t chan_room(schan *ch);             /* bytes we may send now */
void chan_consumed(schan *ch, size_t n); /* n bytes of ch->in were written out */

/* session.c: exec and attach; portfwd.c: port-forward. */
int session_open(sconn *c);                                           /* after the upgrade */
void session_chan_opened(sconn *c, schan *ch, const spdy_headers *h); /* SPDY stream */
void session_chan_data(sconn *c, schan *ch);                          /* new bytes in ch->in */
void session_chan_fin(sconn *c, schan *ch); /* remote half-close or reset */
void session_kick(sconn *c);                /* room to send again */
void session_conn_gone(sconn *c);           /* client went away */
bool session_expects_more_streams(sconn *c);

#endif
