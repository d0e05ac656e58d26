/* rpc_call: reference counting, the outbound message queue, cancellation, and
 * the handler-facing API of server.h. See internal.h for who holds which
 * reference and which fields each thread may touch. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/internal.h"
#include "rpc/status.h"
#include "util/log.h"

rpc_call *rpc_call_new(rpc_conn *conn, int32_t stream_id)
{
    rpc_server *s = conn->srv;
    rpc_call *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    if (uv_mutex_init(&c->mu) != 0) {
        free(c);
        return NULL;
    }
    if (uv_cond_init(&c->cv) != 0) {
        uv_mutex_destroy(&c->mu);
        free(c);
        return NULL;
    }
    atomic_init(&c->refs, 1); /* the stream's */
    atomic_init(&c->cancelled, false);
    c->srv = s;
    c->loop_thread = s->loop_thread;
    c->max_send = s->opts.max_send_msg_size;
    c->conn = conn;
    c->stream_id = stream_id;
    c->http_status = 200;
    rpc_dl_node_init(&c->dl);
    rpc_frame_reader_init(&c->rd, s->opts.max_recv_msg_size);
    rpc_list_add_tail(&conn->calls, &c->conn_link);
    conn->n_calls++;
    return c;
}

void rpc_call_ref(rpc_call *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

static void free_msgs(rpc_msg *m)
{
    while (m) {
        rpc_msg *next = m->next;
        free(m);
        m = next;
    }
}

void rpc_call_unref(rpc_call *c)
{
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
        return;
    free_msgs(c->q_head);
    free(c->req);
    rpc_frame_reader_reset(&c->rd);
    uv_cond_destroy(&c->cv);
    uv_mutex_destroy(&c->mu);
    free(c);
}

void rpc_call_wake_locked(rpc_call *c)
{
    if (c->wake_queued)
        return;
    rpc_server *s = c->srv;
    c->wake_queued = true;
    rpc_call_ref(c);
    uv_mutex_lock(&s->wake_mu);
    c->wake_next = s->wake_head;
    s->wake_head = c;
    uv_mutex_unlock(&s->wake_mu);
    /* Still under c->mu: the server cannot go away before the loop has
     * closed this call, which takes c->mu. */
    uv_async_send(&s->wake);
}

void rpc_call_drop_queue_locked(rpc_call *c)
{
    rpc_msg *keep = c->q_head && c->q_head->off > 0 ? c->q_head : NULL;
    rpc_msg *drop = keep ? keep->next : c->q_head;
    if (keep) {
        keep->next = NULL;
        c->q_tail = keep;
        c->q_bytes = keep->len;
        c->q_count = 1;
    } else {
        c->q_head = c->q_tail = NULL;
        c->q_bytes = 0;
        c->q_count = 0;
    }
    free_msgs(drop);
    if (c->waiters)
        uv_cond_broadcast(&c->cv);
}

static void status_copy(rpc_status *dst, const rpc_status *src, const char *method)
{
    if (!rpc_code_valid((int)src->code)) {
        rpc_status_set(dst, RPC_UNKNOWN, "%s: handler returned invalid status code %d: %.900s",
                       method, (int)src->code, src->message);
        return;
    }
    dst->code = src->code;
    size_t n = strnlen(src->message, sizeof(src->message) - 1);
    memcpy(dst->message, src->message, n);
    dst->message[n] = '\0';
}

/* mu held: decides the final status unless already decided; wakes the loop.
 * Used for failures found by rpc_call_send on any thread. */
static void fail_locked(rpc_call *c, rpc_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail_locked(rpc_call *c, rpc_code code, const char *fmt, ...)
{
    if (c->finished || c->closed)
        return;
    va_list ap;
    va_start(ap, fmt);
    c->final.code = code;
    vsnprintf(c->final.message, sizeof(c->final.message), fmt, ap);
    va_end(ap);
    c->finished = true;
    atomic_store(&c->cancelled, true);
    rpc_call_drop_queue_locked(c);
    uv_cond_broadcast(&c->cv);
    rpc_call_wake_locked(c);
}

static bool deadline_passed(const rpc_call *c)
{
    return c->deadline_ns && uv_hrtime() >= c->deadline_ns;
}

/* mu held: a result that comes after the deadline is dropped; the client
 * gets DEADLINE_EXCEEDED even if the loop's timer has not fired yet. */
static bool expire_locked(rpc_call *c)
{
    if (!deadline_passed(c))
        return false;
    rpc_status_set(&c->final, RPC_DEADLINE_EXCEEDED, "deadline of %llu ms exceeded",
                   (unsigned long long)c->timeout_ms);
    c->finished = true;
    atomic_store(&c->cancelled, true);
    rpc_call_drop_queue_locked(c);
    uv_cond_broadcast(&c->cv);
    return true;
}

static bool over_bound(const rpc_call *c, size_t add, size_t max_bytes, unsigned max_msgs)
{
    return c->q_count > 0 && (c->q_count >= max_msgs || c->q_bytes + add > max_bytes);
}

static int fail_too_large(rpc_call *c, size_t len)
{
    uv_mutex_lock(&c->mu);
    fail_locked(c, RPC_RESOURCE_EXHAUSTED,
                "%s: response message of %zu bytes exceeds the limit of %zu bytes", c->method->path,
                len, c->max_send);
    uv_mutex_unlock(&c->mu);
    return -1;
}

/* Queues m (prefix written) and takes it. */
static int queue_msg(rpc_call *c, rpc_msg *m)
{
    const char *path = c->method->path;
    uv_thread_t self = uv_thread_self();
    bool on_loop = uv_thread_equal(&self, &c->loop_thread);
    bool streaming = c->method->flags & RPC_METHOD_SERVER_STREAMING;

    uv_mutex_lock(&c->mu);
    /* Only streams can be over the bound: a unary call holds one message. */
    if (streaming && !on_loop) {
        while (!c->closed && !c->finished &&
               over_bound(c, m->len, RPC_CALL_QUEUE_MAX_BYTES, RPC_CALL_QUEUE_MAX_MSGS)) {
            c->waiters++;
            uv_cond_wait(&c->cv, &c->mu);
            c->waiters--;
        }
    }
    int rc = -1;
    if (c->closed || c->finished) {
        /* cancelled, past the deadline, or already ended */
    } else if (expire_locked(c)) {
        rpc_call_wake_locked(c);
    } else if (!streaming && c->n_sent > 0) {
        fail_locked(c, RPC_INTERNAL, "%s: unary handler sent more than one response", path);
    } else if (on_loop &&
               over_bound(c, m->len, RPC_CALL_QUEUE_LOOP_MAX_BYTES, RPC_CALL_QUEUE_LOOP_MAX_MSGS)) {
        fail_locked(c, RPC_RESOURCE_EXHAUSTED,
                    "%s: client does not read the stream (%zu bytes in %u messages queued)", path,
                    c->q_bytes, c->q_count);
    } else {
        if (c->q_tail)
            c->q_tail->next = m;
        else
            c->q_head = m;
        c->q_tail = m;
        c->q_bytes += m->len;
        c->q_count++;
        c->n_sent++;
        m = NULL;
        rc = 0;
        /* A unary response and the messages of a running inline handler are
         * sent when the handler returns; only streams need the loop now. */
        if (streaming && !(on_loop && c->in_inline))
            rpc_call_wake_locked(c);
    }
    uv_mutex_unlock(&c->mu);
    free(m);
    return rc;
}

int rpc_call_send(rpc_call *c, const uint8_t *msg, size_t len)
{
    if (len > c->max_send || len > UINT32_MAX)
        return fail_too_large(c, len);
    rpc_msg *m = malloc(sizeof(*m) + RPC_FRAME_PREFIX_LEN + len);
    if (!m) {
        uv_mutex_lock(&c->mu);
        fail_locked(c, RPC_RESOURCE_EXHAUSTED, "%s: out of memory for a response of %zu bytes",
                    c->method->path, len);
        uv_mutex_unlock(&c->mu);
        return -1;
    }
    m->next = NULL;
    m->len = RPC_FRAME_PREFIX_LEN + len;
    m->off = 0;
    m->data = m->inline_data;
    rpc_frame_prefix(m->data, (uint32_t)len);
    if (len)
        memcpy(m->data + RPC_FRAME_PREFIX_LEN, msg, len);
    return queue_msg(c, m);
}

_Static_assert(RPC_SEND_HEADROOM >= sizeof(rpc_msg) + RPC_FRAME_PREFIX_LEN,
               "RPC_SEND_HEADROOM holds the message header and the gRPC prefix");

int rpc_call_send_owned(rpc_call *c, uint8_t *buf, size_t len)
{
    if (len > c->max_send || len > UINT32_MAX) {
        free(buf);
        return fail_too_large(c, len);
    }
    rpc_msg *m = (rpc_msg *)(void *)buf; /* malloc'ed: aligned for the header */
    m->next = NULL;
    m->len = RPC_FRAME_PREFIX_LEN + len;
    m->off = 0;
    m->data = buf + RPC_SEND_HEADROOM - RPC_FRAME_PREFIX_LEN;
    rpc_frame_prefix(m->data, (uint32_t)len);
    return queue_msg(c, m);
}

bool rpc_call_cancelled(const rpc_call *c)
{
    return atomic_load(&c->cancelled) || deadline_passed(c);
}

int64_t rpc_call_remaining_ms(const rpc_call *c)
{
    if (!c->deadline_ns)
        return -1;
    uint64_t now = uv_hrtime();
    return now >= c->deadline_ns ? 0 : (int64_t)((c->deadline_ns - now) / 1000000u);
}

const char *rpc_call_method(const rpc_call *c)
{
    return c->method ? c->method->path : "";
}

void rpc_call_detach(rpc_call *c, void (*on_cancel)(rpc_call *call, void *arg), void *arg)
{
    if (!(c->method->flags & RPC_METHOD_SERVER_STREAMING)) {
        log_error(RPC_SUBSYS, "%s: rpc_call_detach on a unary method ignored", c->method->path);
        return;
    }
    uv_mutex_lock(&c->mu);
    bool again = c->detached;
    if (!again) {
        c->detached = true;
        c->on_cancel = on_cancel;
        c->on_cancel_arg = arg;
        rpc_call_ref(c); /* the owner's, until rpc_call_finish */
    }
    uv_mutex_unlock(&c->mu);
    if (again)
        log_error(RPC_SUBSYS, "%s: rpc_call_detach called twice", c->method->path);
}

void rpc_call_finish(rpc_call *c, const rpc_status *st)
{
    uv_mutex_lock(&c->mu);
    bool misuse = !c->detached || c->owner_done;
    if (!misuse) {
        c->owner_done = true;
        if (!c->finished && !c->closed && expire_locked(c)) {
            rpc_call_wake_locked(c);
        } else if (!c->finished && !c->closed) {
            status_copy(&c->final, st, c->method->path);
            c->finished = true;
            uv_cond_broadcast(&c->cv);
            rpc_call_wake_locked(c);
        }
    }
    uv_mutex_unlock(&c->mu);
    if (misuse) {
        log_error(RPC_SUBSYS, "%s: rpc_call_finish on a call that is not detached or finished",
                  c->method->path);
        return;
    }
    rpc_call_unref(c);
}

void rpc_call_complete(rpc_call *c, const rpc_status *st)
{
    uv_mutex_lock(&c->mu);
    if (!c->detached && !c->finished && !c->closed && !expire_locked(c)) {
        bool streaming = c->method->flags & RPC_METHOD_SERVER_STREAMING;
        if (st->code == RPC_OK && !streaming && c->n_sent == 0)
            rpc_status_set(&c->final, RPC_INTERNAL, "%s: handler returned OK without a response",
                           c->method->path);
        else
            status_copy(&c->final, st, c->method->path);
        /* An error ends a unary call without its message; a stream keeps
         * the messages it sent before the error. */
        if (c->final.code != RPC_OK && !streaming)
            rpc_call_drop_queue_locked(c);
        c->finished = true;
    }
    uv_mutex_unlock(&c->mu);
}

void rpc_call_release_request(rpc_call *c)
{
    free(c->req);
    c->req = NULL;
    c->req_len = 0;
    rpc_frame_reader_reset(&c->rd);
    if (c->unconsumed && c->conn && c->conn->session)
        nghttp2_session_consume_connection(c->conn->session, c->unconsumed);
    c->unconsumed = 0;
}

void rpc_call_notify_cancel(rpc_call *c)
{
    if (c->cancel_notified || !c->handler_returned)
        return;
    uv_mutex_lock(&c->mu);
    bool due =
        c->detached && !c->owner_done && c->on_cancel && (c->closed || atomic_load(&c->cancelled));
    uv_mutex_unlock(&c->mu);
    if (!due)
        return;
    c->cancel_notified = true;
    c->on_cancel(c, c->on_cancel_arg);
}

void rpc_call_abort(rpc_call *c, rpc_code code, const char *fmt, ...)
{
    uv_mutex_lock(&c->mu);
    if (!c->finished && !c->closed) {
        va_list ap;
        va_start(ap, fmt);
        c->final.code = code;
        vsnprintf(c->final.message, sizeof(c->final.message), fmt, ap);
        va_end(ap);
        c->finished = true;
        rpc_call_drop_queue_locked(c);
    }
    atomic_store(&c->cancelled, true);
    uv_cond_broadcast(&c->cv);
    uv_mutex_unlock(&c->mu);
    if (!c->dispatched) {
        c->rejected = true;
        c->handler_returned = true;
        rpc_call_release_request(c);
    }
    rpc_call_notify_cancel(c);
    rpc_respond_pump(c);
}

void rpc_call_close(rpc_call *c)
{
    rpc_conn *conn = c->conn;
    if (!conn)
        return;
    uv_mutex_lock(&c->mu);
    c->closed = true;
    if (!c->finished)
        atomic_store(&c->cancelled, true);
    free_msgs(c->q_head);
    c->q_head = c->q_tail = NULL;
    c->q_bytes = 0;
    c->q_count = 0;
    uv_cond_broadcast(&c->cv);
    uv_mutex_unlock(&c->mu);

    rpc_server_deadline_remove(c->srv, c);
    if (c->dispatched && !c->handler_returned) {
        /* The handler still reads the request: keep it, but give the bytes
         * back to the connection now. */
        if (c->unconsumed && conn->session)
            nghttp2_session_consume_connection(conn->session, c->unconsumed);
        c->unconsumed = 0;
        rpc_frame_reader_reset(&c->rd);
    } else {
        rpc_call_release_request(c);
    }
    rpc_list_del(&c->conn_link);
    conn->n_calls--;
    c->conn = NULL;
    rpc_call_notify_cancel(c);
    rpc_call_unref(c);
}
