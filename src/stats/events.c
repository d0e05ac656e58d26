#include "stats/events.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"

#define GRPC_RESOURCE_EXHAUSTED 8
#define PENDING_MAX 65536 /* events waiting for the loop; beyond this the oldest go */

typedef struct pending_event {
    uint8_t *buf;
    size_t len;
    struct pending_event *next;
} pending_event;

struct event_sub {
    event_bus *bus;
    event_sink sink;
    struct event_sub *prev, *next;
};

struct event_bus {
    /* publishers */
    pthread_mutex_t mu;
    event_render_fn render;
    void *render_ctx;
    pending_event *head, *tail;
    size_t n_pending;
    bool async_ready; /* set once on the loop thread, read under mu */
    atomic_size_t n_subs;
    /* loop thread only */
    uv_async_t async;
    uv_loop_t *loop;
    event_sub *subs;
};

int event_bus_new(event_bus **out, cric_err *err)
{
    event_bus *b = calloc(1, sizeof(*b));
    if (!b)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    pthread_mutex_init(&b->mu, NULL);
    atomic_init(&b->n_subs, 0);
    *out = b;
    return 0;
}

void event_bus_set_renderer(event_bus *b, event_render_fn fn, void *ctx)
{
    pthread_mutex_lock(&b->mu);
    b->render = fn;
    b->render_ctx = ctx;
    pthread_mutex_unlock(&b->mu);
}

static void drop_sub(event_sub *s)
{
    event_bus *b = s->bus;
    if (s->prev)
        s->prev->next = s->next;
    else
        b->subs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    atomic_fetch_sub(&b->n_subs, 1);
    free(s);
}

static pending_event *take_pending(event_bus *b)
{
    pthread_mutex_lock(&b->mu);
    pending_event *list = b->head;
    b->head = b->tail = NULL;
    b->n_pending = 0;
    pthread_mutex_unlock(&b->mu);
    return list;
}

static void deliver(uv_async_t *h)
{
    event_bus *b = h->data;
    pending_event *list = take_pending(b);
    while (list) {
        pending_event *ev = list;
        list = ev->next;
        for (event_sub *s = b->subs, *next; s; s = next) {
            next = s->next;
            if (s->sink.send(s->sink.arg, ev->buf, ev->len) < 0) {
                event_sink sink = s->sink;
                drop_sub(s);
                log_warn("stats", "event subscriber dropped: it does not keep up");
                sink.end(sink.arg, GRPC_RESOURCE_EXHAUSTED,
                         "event subscriber too slow: its queue is full");
            }
        }
        free(ev->buf);
        free(ev);
    }
}

void events_publish(event_bus *b, event_type type, const char *container_id, const char *pod_id)
{
    if (!b || atomic_load(&b->n_subs) == 0)
        return;
    pthread_mutex_lock(&b->mu);
    event_render_fn render = b->render;
    void *ctx = b->render_ctx;
    pthread_mutex_unlock(&b->mu);
    if (!render)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t at = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    pending_event *ev = calloc(1, sizeof(*ev));
    if (!ev || render(ctx, type, container_id, pod_id ? pod_id : "", at, &ev->buf, &ev->len) < 0) {
        log_warn("stats", "event %d for %.12s dropped: cannot render it", (int)type, container_id);
        free(ev);
        return;
    }
    pthread_mutex_lock(&b->mu);
    if (b->n_pending >= PENDING_MAX) { /* the loop is stuck: keep the newest */
        pending_event *old = b->head;
        b->head = old->next;
        if (!b->head)
            b->tail = NULL;
        b->n_pending--;
        free(old->buf);
        free(old);
    }
    if (b->tail)
        b->tail->next = ev;
    else
        b->head = ev;
    b->tail = ev;
    b->n_pending++;
    bool wake = b->async_ready;
    /* uv_async_send while holding mu: event_bus_free closes the handle only
     * after clearing async_ready under mu. */
    if (wake)
        uv_async_send(&b->async);
    pthread_mutex_unlock(&b->mu);
}

int event_bus_subscribe(event_bus *b, uv_loop_t *loop, const event_sink *sink, event_sub **out,
                        cric_err *err)
{
    if (!b->loop) {
        if (uv_async_init(loop, &b->async, deliver) != 0)
            return cric_err_set(err, CRIC_ERR_INTERNAL, "event bus: uv_async_init failed");
        b->async.data = b;
        uv_unref((uv_handle_t *)&b->async); /* never keeps the loop alive by itself */
        b->loop = loop;
        pthread_mutex_lock(&b->mu);
        b->async_ready = true;
        pthread_mutex_unlock(&b->mu);
    }
    event_sub *s = calloc(1, sizeof(*s));
    if (!s)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    s->bus = b;
    s->sink = *sink;
    s->next = b->subs;
    if (b->subs)
        b->subs->prev = s;
    b->subs = s;
    atomic_fetch_add(&b->n_subs, 1);
    *out = s;
    return 0;
}

void event_sub_cancel(event_sub *sub)
{
    if (sub)
        drop_sub(sub);
}

size_t event_bus_subscribers(event_bus *b)
{
    return atomic_load(&b->n_subs);
}

void event_bus_free(event_bus *b)
{
    if (!b)
        return;
    /* The RPC server's shutdown cancelled every stream (event_sub_cancel)
     * before this runs; anything left has no live stream to tell. */
    while (b->subs)
        drop_sub(b->subs);
    pthread_mutex_lock(&b->mu);
    bool had_loop = b->async_ready;
    b->async_ready = false;
    pthread_mutex_unlock(&b->mu);
    if (had_loop) {
        uv_close((uv_handle_t *)&b->async, NULL);
        uv_run(b->loop, UV_RUN_NOWAIT); /* runs the close */
    }
    for (pending_event *ev = take_pending(b), *next; ev; ev = next) {
        next = ev->next;
        free(ev->buf);
        free(ev);
    }
    pthread_mutex_destroy(&b->mu);
    free(b);
}
