/* The server object: options, the method table, the wake-up queue that
 * brings handler output to the loop, call deadlines, and shutdown. */
#include <stdlib.h>
#include <string.h>

#include "rpc/internal.h"
#include "util/log.h"

/* Largest max_recv_msg_size: twice it must fit in an HTTP/2 window. */
#define RPC_MAX_RECV_LIMIT (512u * 1024u * 1024u)

void rpc_server_opts_default(rpc_server_opts *o)
{
    o->max_recv_msg_size = 16u * 1024u * 1024u;
    o->max_send_msg_size = 16u * 1024u * 1024u;
    o->max_concurrent_streams = 1000;
    o->max_connections = 1024;
    o->shutdown_grace_ms = 5000;
}

static int check_opts(const rpc_server_opts *o, cric_err *err)
{
    if (o->max_recv_msg_size == 0 || o->max_recv_msg_size > RPC_MAX_RECV_LIMIT)
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "rpc: max_recv_msg_size %zu must be 1 to %u bytes",
                            o->max_recv_msg_size, RPC_MAX_RECV_LIMIT);
    if (o->max_send_msg_size == 0 || o->max_send_msg_size > UINT32_MAX)
        return cric_err_set(err, CRIC_ERR_INVALID, "rpc: max_send_msg_size %zu is out of range",
                            o->max_send_msg_size);
    if (o->max_concurrent_streams == 0 || o->max_connections == 0)
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "rpc: max_concurrent_streams and max_connections must be positive");
    return 0;
}

/* Handler output arrived: push each woken call's response forward. */
static void on_wake(uv_async_t *a)
{
    rpc_server *s = a->data;
    uv_mutex_lock(&s->wake_mu);
    rpc_call *c = s->wake_head;
    s->wake_head = NULL;
    uv_mutex_unlock(&s->wake_mu);
    while (c) {
        rpc_call *next = c->wake_next;
        uv_mutex_lock(&c->mu);
        c->wake_queued = false;
        uv_mutex_unlock(&c->mu);
        rpc_respond_pump(c);
        rpc_call_unref(c);
        c = next;
    }
}

void rpc_server_flush_dirty(rpc_server *s)
{
    while (!rpc_list_empty(&s->dirty)) {
        rpc_list *l = s->dirty.next;
        rpc_list_del(l);
        rpc_conn_flush(rpc_container_of(l, rpc_conn, dirty_link));
    }
}

/* After the I/O phase of each loop iteration: write what this iteration's
 * callbacks produced, one batch per connection. */
static void on_check(uv_check_t *h)
{
    rpc_server_flush_dirty(h->data);
}

static void on_deadline(uv_timer_t *t);

static void deadline_rearm(rpc_server *s)
{
    rpc_dl_node *n = rpc_dl_peek(&s->deadlines);
    if (!n) {
        uv_timer_stop(&s->dl_timer);
        return;
    }
    uint64_t now = uv_hrtime();
    uint64_t ms = n->when > now ? (n->when - now + 999999u) / 1000000u : 0;
    uv_timer_start(&s->dl_timer, on_deadline, ms, 0);
}

static void on_deadline(uv_timer_t *t)
{
    rpc_server *s = t->data;
    uint64_t now = uv_hrtime();
    rpc_dl_node *n;
    while ((n = rpc_dl_peek(&s->deadlines)) && n->when <= now) {
        rpc_dl_remove(&s->deadlines, n);
        rpc_call *c = rpc_container_of(n, rpc_call, dl);
        rpc_call_abort(c, RPC_DEADLINE_EXCEEDED, "deadline of %llu ms exceeded",
                       (unsigned long long)c->timeout_ms);
    }
    deadline_rearm(s);
    rpc_server_flush_dirty(s);
}

int rpc_server_deadline_add(rpc_server *s, rpc_call *c)
{
    c->dl.when = c->deadline_ns;
    if (rpc_dl_push(&s->deadlines, &c->dl) < 0)
        return -1;
    if (rpc_dl_peek(&s->deadlines) == &c->dl)
        deadline_rearm(s);
    return 0;
}

void rpc_server_deadline_remove(rpc_server *s, rpc_call *c)
{
    rpc_dl_remove(&s->deadlines, &c->dl);
}

int rpc_server_new(rpc_server **out, uv_loop_t *loop, const rpc_server_opts *opts,
                   const rpc_method *methods, size_t n_methods, void *user, cric_err *err)
{
    rpc_server_opts o;
    if (opts)
        o = *opts;
    else
        rpc_server_opts_default(&o);
    if (check_opts(&o, err) < 0)
        return -1;
    rpc_server *s = calloc(1, sizeof(*s));
    if (!s)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "rpc: out of memory");
    s->loop = loop;
    s->loop_thread = uv_thread_self();
    s->opts = o;
    s->user = user;
    rpc_list_init(&s->conns);
    rpc_list_init(&s->dirty);
    rpc_dl_heap_init(&s->deadlines);
    if (rpc_method_table_init(&s->methods, methods, n_methods, err) < 0) {
        free(s);
        return -1;
    }
    if (nghttp2_session_callbacks_new(&s->cbs) != 0 || nghttp2_option_new(&s->ngopt) != 0 ||
        uv_mutex_init(&s->wake_mu) != 0) {
        nghttp2_session_callbacks_del(s->cbs);
        nghttp2_option_del(s->ngopt);
        rpc_method_table_free(&s->methods);
        free(s);
        return cric_err_set(err, CRIC_ERR_RESOURCE, "rpc: out of memory");
    }
    rpc_stream_set_callbacks(s->cbs);
    nghttp2_option_set_no_auto_window_update(s->ngopt, 1);
    nghttp2_option_set_no_closed_streams(s->ngopt, 1);
    /* Go gRPC clients before 1.52 (the kubelet and crictl of many releases)
     * send the unix socket path as :authority ("/run/cric/cric.sock"); nghttp2's
     * RFC 9113 checks reset such streams before any callback can intervene.
     * gRPC servers accept it, so cric turns those checks off and validates the
     * request itself in stream.c (:method POST, :path, content-type, te). */
    nghttp2_option_set_no_http_messaging(s->ngopt, 1);

    int r = uv_async_init(loop, &s->wake, on_wake);
    if (r < 0) {
        uv_mutex_destroy(&s->wake_mu);
        nghttp2_session_callbacks_del(s->cbs);
        nghttp2_option_del(s->ngopt);
        rpc_method_table_free(&s->methods);
        free(s);
        return cric_err_set(err, CRIC_ERR_RESOURCE, "rpc: async handle: %s", uv_strerror(r));
    }
    s->wake.data = s;
    uv_unref((uv_handle_t *)&s->wake);
    uv_pipe_init(loop, &s->listener, 0);
    s->listener.data = s;
    uv_check_init(loop, &s->check);
    s->check.data = s;
    uv_check_start(&s->check, on_check);
    uv_unref((uv_handle_t *)&s->check);
    uv_timer_init(loop, &s->dl_timer);
    s->dl_timer.data = s;
    uv_unref((uv_handle_t *)&s->dl_timer);
    uv_timer_init(loop, &s->grace_timer);
    s->grace_timer.data = s;
    *out = s;
    return 0;
}

static void finish(rpc_server *s)
{
    /* Calls still on the wake-up queue are all closed by now. */
    rpc_call *c = s->wake_head;
    s->wake_head = NULL;
    while (c) {
        rpc_call *next = c->wake_next;
        rpc_call_unref(c);
        c = next;
    }
    log_info(RPC_SUBSYS, "server stopped");
    if (s->done)
        s->done(s->done_arg);
}

static void on_handle_closed(uv_handle_t *h)
{
    rpc_server *s = h->data;
    if (--s->handles_open == 0 && s->finishing)
        finish(s);
}

void rpc_server_maybe_done(rpc_server *s)
{
    if (!s->shutting_down || s->finishing || s->n_conns > 0 || s->works_inflight > 0)
        return;
    s->finishing = true;
    uv_handle_t *handles[] = {(uv_handle_t *)&s->wake, (uv_handle_t *)&s->check,
                              (uv_handle_t *)&s->dl_timer, (uv_handle_t *)&s->grace_timer};
    for (size_t i = 0; i < sizeof(handles) / sizeof(handles[0]); i++) {
        s->handles_open++;
        uv_close(handles[i], on_handle_closed);
    }
}

/* Cancels what the grace period did not let finish and drops every
 * connection (after one last attempt to write the statuses). */
static void grace_over(rpc_server *s)
{
    s->grace_over = true;
    unsigned cancelled = 0;
    for (rpc_list *l = s->conns.next, *ln; l != &s->conns; l = ln) {
        ln = l->next;
        rpc_conn *conn = rpc_container_of(l, rpc_conn, srv_link);
        if (conn->closing)
            continue;
        for (rpc_list *k = conn->calls.next, *kn; k != &conn->calls; k = kn) {
            kn = k->next;
            rpc_call_abort(rpc_container_of(k, rpc_call, conn_link), RPC_UNAVAILABLE,
                           "server is shutting down");
            cancelled++;
        }
        rpc_conn_flush(conn);
        rpc_conn_close(conn);
    }
    if (cancelled)
        log_warn(RPC_SUBSYS, "shutdown: cancelled %u calls after the grace period", cancelled);
}

static void on_grace(uv_timer_t *t)
{
    grace_over(t->data);
}

void rpc_server_shutdown(rpc_server *s, void (*done)(void *arg), void *arg)
{
    if (s->shutting_down) {
        log_warn(RPC_SUBSYS, "rpc_server_shutdown called twice");
        return;
    }
    s->shutting_down = true;
    s->done = done;
    s->done_arg = arg;
    log_info(RPC_SUBSYS, "shutting down: %u connections, %u handlers running", s->n_conns,
             s->works_inflight);
    rpc_server_unlink_socket(s);
    s->handles_open++;
    uv_close((uv_handle_t *)&s->listener, on_handle_closed);

    /* Event streams never end by themselves: end them now. Running handlers
     * get the grace period. */
    for (rpc_list *l = s->conns.next; l != &s->conns; l = l->next) {
        rpc_conn *conn = rpc_container_of(l, rpc_conn, srv_link);
        for (rpc_list *k = conn->calls.next, *kn; k != &conn->calls; k = kn) {
            kn = k->next;
            rpc_call *c = rpc_container_of(k, rpc_call, conn_link);
            uv_mutex_lock(&c->mu);
            bool detached = c->detached;
            uv_mutex_unlock(&c->mu);
            if (detached && c->handler_returned)
                rpc_call_abort(c, RPC_UNAVAILABLE, "server is shutting down");
        }
    }
    for (rpc_list *l = s->conns.next; l != &s->conns; l = l->next)
        rpc_conn_goaway(rpc_container_of(l, rpc_conn, srv_link));

    if (s->opts.shutdown_grace_ms == 0)
        grace_over(s);
    else
        uv_timer_start(&s->grace_timer, on_grace, s->opts.shutdown_grace_ms, 0);
    rpc_server_maybe_done(s);
}

void rpc_server_free(rpc_server *s)
{
    if (!s)
        return;
    if (!s->finishing || s->handles_open) {
        log_error(RPC_SUBSYS, "rpc_server_free before shutdown finished; leaking the server");
        return;
    }
    rpc_dl_heap_free(&s->deadlines);
    rpc_method_table_free(&s->methods);
    nghttp2_session_callbacks_del(s->cbs);
    nghttp2_option_del(s->ngopt);
    uv_mutex_destroy(&s->wake_mu);
    free(s->path);
    free(s);
}

uint64_t rpc_server_calls(const rpc_server *s)
{
    return s->calls_dispatched;
}

bool rpc_server_idle(const rpc_server *s)
{
    return s->works_inflight == 0;
}
