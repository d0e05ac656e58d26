/* A generic gRPC server over HTTP/2 (nghttp2) on a unix socket, driven by a
 * libuv loop. It knows method paths and message bytes, never CRI types.
 *
 * Threading: all socket I/O happens on the loop thread. Each decoded request
 * runs its handler on a worker thread (libuv's pool, sized by the daemon) as a
 * plain blocking function; the handler sends zero or more messages with
 * rpc_call_send() and returns the final status. The loop writes the messages
 * and the trailers. Handlers flagged RPC_METHOD_INLINE run on the loop thread
 * instead (only for handlers that never block, e.g. Version).
 *
 * Long-lived server streams (event subscriptions) call rpc_call_detach(): the
 * handler may then return, the stream stays open, any thread may keep calling
 * rpc_call_send(), and rpc_call_finish() ends it.
 *
 * rpc_server_new, rpc_server_listen_unix, rpc_server_shutdown and
 * rpc_server_free are called on the loop thread, never from a handler.
 *
 * Wire behaviour: every request (unary or server-streaming) carries exactly
 * one message; none, two, or a stream that ends inside a message is INTERNAL
 * (as grpc-java and grpc-go answer). A request message over max_recv_msg_size
 * is RESOURCE_EXHAUSTED as soon as its length prefix arrives; a compressed
 * message or a grpc-encoding other than identity is UNIMPLEMENTED; an unknown
 * path is UNIMPLEMENTED naming it; a method other than POST gets HTTP 405, a
 * content-type other than application/grpc[+...|;...] HTTP 415 (both with
 * grpc-status INTERNAL); a malformed grpc-timeout is INTERNAL. Early errors use
 * a Trailers-Only response. */
#ifndef CRIC_RPC_SERVER_H
#define CRIC_RPC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "util/err.h"

/* gRPC status codes (grpc/doc/statuscodes.md). */
typedef enum {
    RPC_OK = 0,
    RPC_CANCELLED = 1,
    RPC_UNKNOWN = 2,
    RPC_INVALID_ARGUMENT = 3,
    RPC_DEADLINE_EXCEEDED = 4,
    RPC_NOT_FOUND = 5,
    RPC_ALREADY_EXISTS = 6,
    RPC_PERMISSION_DENIED = 7,
    RPC_RESOURCE_EXHAUSTED = 8,
    RPC_FAILED_PRECONDITION = 9,
    RPC_ABORTED = 10,
    RPC_OUT_OF_RANGE = 11,
    RPC_UNIMPLEMENTED = 12,
    RPC_INTERNAL = 13,
    RPC_UNAVAILABLE = 14,
    RPC_DATA_LOSS = 15,
    RPC_UNAUTHENTICATED = 16,
} rpc_code;

const char *rpc_code_name(rpc_code code);

typedef struct rpc_status {
    rpc_code code;
    char message[CRIC_ERR_MSG_MAX];
} rpc_status;

/* Fills status; returns the code (handy as a handler's last statement). */
rpc_code rpc_status_set(rpc_status *st, rpc_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef struct rpc_call rpc_call;
typedef struct rpc_server rpc_server;

/* Runs on a worker thread (or the loop thread for RPC_METHOD_INLINE). req is
 * the message payload (without the 5-byte gRPC prefix; never NULL, even when
 * req_len is 0) and is valid until the handler returns. status starts as OK
 * with an empty message. A unary handler returning OK must have sent exactly
 * one message (else the client gets INTERNAL). Returning with status->code !=
 * RPC_OK sends no further messages; a unary call then drops its message, a
 * stream keeps the ones already sent. */
typedef void (*rpc_handler_fn)(rpc_call *call, void *user, const uint8_t *req, size_t req_len,
                               rpc_status *status);

enum {
    RPC_METHOD_SERVER_STREAMING = 1 << 0,
    RPC_METHOD_INLINE = 1 << 1,
};

typedef struct rpc_method {
    const char *path; /* "/runtime.v1.RuntimeService/Version" */
    rpc_handler_fn handler;
    unsigned flags;
} rpc_method;

/* Start from rpc_server_opts_default(); zero sizes or counts are invalid. */
typedef struct rpc_server_opts {
    size_t max_recv_msg_size;        /* default 16 MiB, at most 512 MiB */
    size_t max_send_msg_size;        /* default 16 MiB */
    uint32_t max_concurrent_streams; /* per connection, default 1000 */
    uint32_t max_connections;        /* default 1024 */
    unsigned shutdown_grace_ms;      /* in-flight calls get this long on shutdown, default 5000 */
} rpc_server_opts;

void rpc_server_opts_default(rpc_server_opts *o);

/* methods must outlive the server. user is passed to every handler. opts may
 * be NULL for the defaults. Call on the loop thread: its id tells
 * rpc_call_send which callers must not block. */
int rpc_server_new(rpc_server **out, uv_loop_t *loop, const rpc_server_opts *opts,
                   const rpc_method *methods, size_t n_methods, void *user, cric_err *err);

/* Binds and listens on a unix socket; sets mode on the socket file. Refuses to
 * replace a path that another live server answers on (the caller holds a lock
 * file too; this is the second line of defence). A stale socket file is removed. */
int rpc_server_listen_unix(rpc_server *s, const char *path, unsigned mode, cric_err *err);

/* The same in two steps, so that a daemon can listen before it is ready to
 * serve: connections made meanwhile wait in the backlog (and their clients
 * in the HTTP/2 handshake) instead of being refused. A client refused on a
 * restart backs off (gRPC: 1 s, then 1.6 times longer each try), so it
 * would come back seconds after the daemon is serving. */
typedef struct rpc_listen_socket {
    int fd; /* bound and listening; -1 when none */
    char *path;
    dev_t dev;
    ino_t ino;
} rpc_listen_socket;

/* Binds and listens on path (rules of rpc_server_listen_unix). */
int rpc_listen_socket_open(const char *path, unsigned mode, rpc_listen_socket *out, cric_err *err);
/* The server takes the socket over (ls is left empty even on failure past
 * the hand-over) and accepts its waiting connections once the loop runs. */
int rpc_server_listen_socket(rpc_server *s, rpc_listen_socket *ls, cric_err *err);
/* Closes a socket no server took, removing its file. Empty ones are a no-op. */
void rpc_listen_socket_close(rpc_listen_socket *ls);

/* Stops accepting, unlinks the socket, sends GOAWAY, ends detached streams at
 * once (UNAVAILABLE; their on_cancel runs), lets running calls finish for up to
 * shutdown_grace_ms, then cancels the rest (UNAVAILABLE) and closes every
 * connection. done runs on the loop thread when everything is closed and every
 * handler has returned (a handler that ignores rpc_call_cancelled() delays
 * it); done may free the server. */
void rpc_server_shutdown(rpc_server *s, void (*done)(void *arg), void *arg);

/* Calls dispatched to a handler so far, and whether none is running now.
 * Loop thread only. */
uint64_t rpc_server_calls(const rpc_server *s);
bool rpc_server_idle(const rpc_server *s);

/* Frees the server; only after shutdown's done callback ran. */
void rpc_server_free(rpc_server *s);

/* ---- for handlers (thread-safe unless noted) ---- */

/* Queues one response message. Blocks the calling worker while the stream's
 * outbound queue is over its bound (4 MiB or 64 messages: back-pressure).
 * Returns -1 when the call is cancelled, past its deadline, or already ended,
 * or the message exceeds max_send_msg_size (then the call ends with
 * RESOURCE_EXHAUSTED), or a unary call sends a second message (INTERNAL).
 * On the loop thread (inline handlers, loop timers of detached streams) it
 * never blocks; a stream whose client stops reading then ends with
 * RESOURCE_EXHAUSTED once 16 MiB or 65536 messages are queued. */
int rpc_call_send(rpc_call *call, const uint8_t *msg, size_t len);

/* rpc_call_send without copying the message: buf was malloc'ed with
 * RPC_SEND_HEADROOM spare bytes before the len bytes of the message, which
 * the call uses for its own header. The call takes buf (frees it also when it
 * fails). For large responses built in place. */
#define RPC_SEND_HEADROOM 64
int rpc_call_send_owned(rpc_call *call, uint8_t *buf, size_t len);

/* True once the client cancelled, disconnected, or the deadline passed. */
bool rpc_call_cancelled(const rpc_call *call);

/* Milliseconds left before the deadline, or -1 when there is none. */
int64_t rpc_call_remaining_ms(const rpc_call *call);

/* Server streams only (ignored, with an error logged, for unary methods); call
 * from the handler before it returns. Keeps the stream open after the handler
 * returns (the returned status is then ignored). on_cancel (may be NULL) runs
 * once on the loop thread, after the handler returned, if the call ends before
 * rpc_call_finish (client gone, deadline, shutdown); after it runs,
 * rpc_call_send fails. The owner must eventually call rpc_call_finish exactly
 * once, also after on_cancel; if it may call rpc_call_finish from another
 * thread, it must itself serialise that with its on_cancel. rpc_call_finish's
 * status is dropped when the call has already ended. */
void rpc_call_detach(rpc_call *call, void (*on_cancel)(rpc_call *call, void *arg), void *arg);
void rpc_call_finish(rpc_call *call, const rpc_status *status);

/* The method path of the call, e.g. for log lines. */
const char *rpc_call_method(const rpc_call *call);

#endif
