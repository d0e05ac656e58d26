/* Running handlers: RPC_METHOD_INLINE ones on the loop thread at once, the
 * others on libuv's thread pool; a handler's return is turned into the
 * response on the loop thread. */
#include "rpc/internal.h"
#include "util/log.h"

static void run_handler(rpc_call *c, rpc_status *st)
{
    static const uint8_t empty[1];
    st->code = RPC_OK;
    st->message[0] = '\0';
    c->method->handler(c, c->srv->user, c->req ? c->req : empty, c->req_len, st);
}

/* loop: the handler returned (its status is recorded already). */
static void handler_done(rpc_call *c)
{
    c->handler_returned = true;
    rpc_call_release_request(c);
    rpc_call_notify_cancel(c);
    rpc_respond_pump(c);
}

static void work_run(uv_work_t *w)
{
    rpc_call *c = rpc_container_of(w, rpc_call, work);
    rpc_status st;
    run_handler(c, &st);
    rpc_call_complete(c, &st);
}

static void work_done(uv_work_t *w, int status)
{
    rpc_call *c = rpc_container_of(w, rpc_call, work);
    rpc_server *s = c->srv;
    s->works_inflight--;
    handler_done(c);
    rpc_call_unref(c);
    rpc_server_maybe_done(s);
}

void rpc_server_dispatch(rpc_call *c)
{
    c->dispatched = true;
    c->srv->calls_dispatched++;
    if (c->method->flags & RPC_METHOD_INLINE) {
        rpc_status st;
        c->in_inline = true;
        run_handler(c, &st);
        c->in_inline = false;
        rpc_call_complete(c, &st);
        handler_done(c);
        return;
    }
    rpc_server *s = c->srv;
    rpc_call_ref(c);
    s->works_inflight++;
    int r = uv_queue_work(s->loop, &c->work, work_run, work_done);
    if (r < 0) {
        s->works_inflight--;
        rpc_call_unref(c);
        c->dispatched = false;
        rpc_call_abort(c, RPC_UNAVAILABLE, "cannot run handler: %s", uv_strerror(r));
    }
}
