/* Private structures of the rpc server, shared by its files:
 *   server.c  server object, options, wake-up queue, deadlines, shutdown
 *   listen.c  unix socket listener and accept
 *   conn.c    one client connection: nghttp2 session, reads, batched writes
 *   stream.c  nghttp2 callbacks: request validation, reassembly, dispatch
 *   respond.c response headers, DATA provider, trailers
 *   dispatch.c running handlers inline or on libuv's thread pool
 *   call.c    rpc_call lifetime and the handler-facing API
 *
 * Threads. The loop thread owns every uv handle, every nghttp2 session and
 * the fields marked "loop". Handler threads touch a call only through the
 * fields marked "mu" (under call->mu) and the atomics.
 *
 * Lifetime of an rpc_call: reference counted. References are held by
 *   - the HTTP/2 stream, from HEADERS until the stream closes or the
 *     connection goes (rpc_call_close);
 *   - a queued handler (uv_queue_work) until its after-work callback ran;
 *   - the owner of a detached stream, from rpc_call_detach to rpc_call_finish;
 *   - the server's wake-up queue while the call is on it.
 * Once the stream is gone ("closed", set under mu by the loop) nobody touches
 * the server through the call any more, so a handler that outlives its stream
 * or even the server only touches the call itself. */
#ifndef CRIC_RPC_INTERNAL_H
#define CRIC_RPC_INTERNAL_H

#include <nghttp2/nghttp2.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "rpc/deadline.h"
#include "rpc/frame.h"
#include "rpc/list.h"
#include "rpc/methods.h"
#include "rpc/server.h"

#define RPC_SUBSYS "rpc"

/* Outbound queue bound of one stream; a handler thread blocks above it. */
#define RPC_CALL_QUEUE_MAX_BYTES (4u * 1024u * 1024u)
#define RPC_CALL_QUEUE_MAX_MSGS 64u
/* Senders on the loop thread cannot block: above this the call fails with
 * RESOURCE_EXHAUSTED instead. Event bursts made in one loop callback are
 * many small messages, hence the large count. */
#define RPC_CALL_QUEUE_LOOP_MAX_BYTES (4u * RPC_CALL_QUEUE_MAX_BYTES)
#define RPC_CALL_QUEUE_LOOP_MAX_MSGS 65536u

/* Header bytes (names + values + 32 per field, as RFC 9113 counts them) a
 * request may carry; more resets the stream. */
#define RPC_MAX_HEADER_LIST 65536u
/* Per-stream receive window advertised in SETTINGS. */
#define RPC_STREAM_WINDOW (1u * 1024u * 1024u)
/* Bytes read from a socket at once. */
#define RPC_READ_BUF (64u * 1024u)
/* Output gathered from nghttp2 before it is written; a write buffer larger
 * than RPC_WBUF_KEEP is freed once written. */
#define RPC_WRITE_BATCH (256u * 1024u)
#define RPC_WBUF_KEEP (64u * 1024u)

typedef struct rpc_conn rpc_conn;

/* One outbound message: the 5-byte prefix and the payload, in the same block
 * as this header (data points into it: after the header, or into the
 * headroom of a buffer given to rpc_call_send_owned). */
typedef struct rpc_msg {
    struct rpc_msg *next;
    size_t len;    /* bytes at data */
    size_t off;    /* bytes already handed to nghttp2 (loop) */
    uint8_t *data; /* the prefix, then the payload */
    uint8_t inline_data[];
} rpc_msg;

struct rpc_call {
    atomic_uint refs;
    atomic_bool cancelled; /* client gone, deadline passed, shutdown, or failed */

    /* Set before the call is shared, then read-only. */
    rpc_server *srv;
    const rpc_method *method;
    uv_thread_t loop_thread;
    size_t max_send;
    uint64_t deadline_ns; /* uv_hrtime() clock; 0: none */
    uint64_t timeout_ms;

    /* loop */
    rpc_conn *conn; /* NULL once the stream is gone */
    rpc_list conn_link;
    int32_t stream_id;
    uint32_t header_bytes;
    unsigned http_status;
    rpc_dl_node dl;
    rpc_frame_reader rd;
    uint8_t *req;
    size_t req_len;
    unsigned n_req;
    size_t unconsumed; /* received DATA bytes not yet returned to the connection window */
    char encoding[32]; /* an unsupported grpc-encoding, for the error message */
    bool saw_post : 1;
    bool content_type_ok : 1;
    bool path_unknown : 1;
    bool encoding_bad : 1;
    bool timeout_bad : 1;
    bool has_timeout : 1;
    bool rejected : 1;         /* answered before dispatch; further DATA is dropped */
    bool dispatched : 1;       /* the handler was started */
    bool handler_returned : 1; /* (or never started) */
    bool in_inline : 1;        /* an inline handler is running now */
    bool response_started : 1; /* response HEADERS submitted */
    bool data_deferred : 1;    /* the DATA provider returned NGHTTP2_ERR_DEFERRED */
    bool trailers_sent : 1;    /* trailers (or a Trailers-Only response) submitted */
    bool cancel_notified : 1;  /* on_cancel ran */
    uv_work_t work;

    /* mu */
    uv_mutex_t mu;
    uv_cond_t cv; /* signalled when the queue drains or the call ends */
    unsigned waiters;
    rpc_msg *q_head, *q_tail;
    size_t q_bytes;
    unsigned q_count;
    unsigned n_sent; /* messages accepted by rpc_call_send */
    bool closed;     /* the stream is gone */
    bool finished;   /* final status decided; final is read-only from then on */
    bool detached;
    bool owner_done; /* rpc_call_finish ran */
    bool wake_queued;
    rpc_status final;
    void (*on_cancel)(rpc_call *call, void *arg);
    void *on_cancel_arg;
    struct rpc_call *wake_next; /* guarded by srv->wake_mu */
};

struct rpc_conn {
    rpc_server *srv;
    uv_pipe_t pipe;
    nghttp2_session *session;
    rpc_list srv_link;   /* server's connections */
    rpc_list dirty_link; /* server's connections waiting for a flush */
    rpc_list calls;      /* streams with a call */
    unsigned n_calls;
    bool closing;
    bool goaway_sent;
    bool writing; /* wreq in flight over wbuf[woff..wlen) */
    uv_write_t wreq;
    uint8_t *wbuf;
    size_t wlen, wcap;
};

struct rpc_server {
    uv_loop_t *loop;
    uv_thread_t loop_thread;
    rpc_server_opts opts;
    rpc_method_table methods;
    void *user;
    nghttp2_session_callbacks *cbs;
    nghttp2_option *ngopt;

    uv_pipe_t listener;
    bool listening;
    char *path; /* bound socket path */
    dev_t path_dev;
    ino_t path_ino;

    /* One read buffer for all connections: each read is consumed by
     * nghttp2 before the loop reads again. */
    uint8_t rbuf[RPC_READ_BUF];

    rpc_list conns;
    unsigned n_conns; /* accepted and not yet closed (close callback ran) */
    rpc_list dirty;
    unsigned works_inflight;
    uint64_t calls_dispatched;

    uv_async_t wake;
    uv_mutex_t wake_mu;
    rpc_call *wake_head; /* wake_mu */

    uv_check_t check;
    uv_timer_t dl_timer;
    rpc_dl_heap deadlines;
    uv_timer_t grace_timer;

    bool shutting_down;
    bool grace_over;
    bool finishing;
    unsigned handles_open;
    void (*done)(void *arg);
    void *done_arg;
};

/* ---- call.c ---- */
rpc_call *rpc_call_new(rpc_conn *conn, int32_t stream_id);
void rpc_call_ref(rpc_call *c);
void rpc_call_unref(rpc_call *c);
/* Any thread, c->mu held, !c->closed: puts c on the server's wake-up queue. */
void rpc_call_wake_locked(rpc_call *c);
/* Records the status a handler returned (any thread). Ignored for a detached
 * call or one whose status is already decided. */
void rpc_call_complete(rpc_call *c, const rpc_status *st);
/* loop: ends the call early with code (deadline, shutdown, bad request): the
 * status is sent if the stream still exists, queued messages not yet started
 * are dropped, handlers see rpc_call_cancelled(). */
void rpc_call_abort(rpc_call *c, rpc_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* loop: the stream is gone (closed by the peer or with its connection). */
void rpc_call_close(rpc_call *c);
/* loop: runs on_cancel of a detached call once it is due. */
void rpc_call_notify_cancel(rpc_call *c);
/* loop: frees the request and returns its bytes to the connection window. */
void rpc_call_release_request(rpc_call *c);
/* Drops queued messages not yet started; mu held. */
void rpc_call_drop_queue_locked(rpc_call *c);

/* ---- respond.c ---- */
/* loop: moves the response forward: submits HEADERS (or a Trailers-Only
 * response), resumes a deferred DATA provider, and marks the connection for a
 * flush. A no-op once the stream is gone. */
void rpc_respond_pump(rpc_call *c);

/* ---- stream.c ---- */
void rpc_stream_set_callbacks(nghttp2_session_callbacks *cbs);

/* ---- conn.c ---- */
void rpc_conn_accept(rpc_server *s);
void rpc_conn_mark_dirty(rpc_conn *conn);
void rpc_conn_flush(rpc_conn *conn);
void rpc_conn_close(rpc_conn *conn);
void rpc_conn_goaway(rpc_conn *conn);

/* ---- listen.c ---- */
void rpc_server_unlink_socket(rpc_server *s);

/* ---- server.c ---- */
void rpc_server_flush_dirty(rpc_server *s);
int rpc_server_deadline_add(rpc_server *s, rpc_call *c);
void rpc_server_deadline_remove(rpc_server *s, rpc_call *c);
void rpc_server_maybe_done(rpc_server *s);

/* ---- dispatch.c ---- */
/* loop: runs the handler of a complete request, inline or on the pool. */
void rpc_server_dispatch(rpc_call *c);

#endif
