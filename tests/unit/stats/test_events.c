/* The event bus on a real libuv loop: order, fan-out, a sink that cannot keep
 * up is dropped with RESOURCE_EXHAUSTED, cancelled subscribers get nothing,
 * publishers on other threads never block. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats/events.h"

typedef struct sink_state {
    char got[64][80];
    int n;
    int limit; /* send fails after this many */
    int ended_code;
    int ended;
} sink_state;

static int t_send(void *arg, const uint8_t *msg, size_t len)
{
    sink_state *s = arg;
    if (s->n >= s->limit)
        return -1;
    snprintf(s->got[s->n++], sizeof(s->got[0]), "%.*s", (int)len, (const char *)msg);
    return 0;
}

static void t_end(void *arg, int code, const char *message)
{
    sink_state *s = arg;
    s->ended++;
    s->ended_code = code;
    assert_non_null(strstr(message, "slow"));
}

static int t_render(void *ctx, event_type type, const char *cid, const char *pod, int64_t at,
                    uint8_t **buf, size_t *len)
{
    int *renders = ctx;
    (*renders)++;
    char tmp[80];
    int n = snprintf(tmp, sizeof(tmp), "%d:%s:%s", (int)type, cid, pod);
    *buf = malloc((size_t)n);
    memcpy(*buf, tmp, (size_t)n);
    *len = (size_t)n;
    assert_true(at > 0);
    return 0;
}

static void noop(uv_idle_t *h)
{
    (void)h;
}

/* The bus's handle never keeps a loop alive (the daemon's server does): an
 * idle handle stands in for it here. */
static void run_until(uv_loop_t *loop, sink_state *s, int n)
{
    uv_idle_t idle;
    uv_idle_init(loop, &idle);
    uv_idle_start(&idle, noop);
    for (int i = 0; i < 100000 && s->n < n; i++)
        uv_run(loop, UV_RUN_NOWAIT);
    uv_close((uv_handle_t *)&idle, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

static void order_fanout_and_overflow(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    event_bus *b;
    cric_err err = {0};
    assert_int_equal(event_bus_new(&b, &err), 0);
    int renders = 0;
    event_bus_set_renderer(b, t_render, &renders);
    /* Nobody listens: nothing is rendered. */
    events_publish(b, EVENT_CREATED, "c0", "p0");
    assert_int_equal(renders, 0);

    sink_state a = {.limit = 100}, slow = {.limit = 2};
    event_sink sa = {t_send, t_end, &a}, ss = {t_send, t_end, &slow};
    event_sub *suba, *subs;
    assert_int_equal(event_bus_subscribe(b, &loop, &sa, &suba, &err), 0);
    assert_int_equal(event_bus_subscribe(b, &loop, &ss, &subs, &err), 0);
    assert_int_equal(event_bus_subscribers(b), 2);
    for (int i = 0; i < 4; i++) {
        char id[8];
        snprintf(id, sizeof(id), "c%d", i);
        events_publish(b, (event_type)i, id, "p1");
    }
    assert_int_equal(renders, 4); /* once per event, not per subscriber */
    run_until(&loop, &a, 4);
    assert_int_equal(a.n, 4);
    assert_string_equal(a.got[0], "0:c0:p1");
    assert_string_equal(a.got[3], "3:c3:p1");
    /* The slow one took two, then was dropped and told why. */
    assert_int_equal(slow.n, 2);
    assert_int_equal(slow.ended, 1);
    assert_int_equal(slow.ended_code, 8);
    assert_int_equal(event_bus_subscribers(b), 1);
    assert_int_equal(a.ended, 0);

    /* A cancelled subscriber gets nothing more. */
    event_sub_cancel(suba);
    assert_int_equal(event_bus_subscribers(b), 0);
    events_publish(b, EVENT_STOPPED, "c9", "p1");
    run_until(&loop, &a, 5);
    assert_int_equal(a.n, 4);
    event_bus_free(b);
    assert_int_equal(uv_loop_close(&loop), 0);
}

typedef struct pub_arg {
    event_bus *b;
    int base;
} pub_arg;

static void *publisher(void *arg)
{
    pub_arg *p = arg;
    for (int i = 0; i < 20; i++) {
        char id[16];
        snprintf(id, sizeof(id), "t%d-%02d", p->base, i);
        events_publish(p->b, EVENT_STARTED, id, "");
    }
    return NULL;
}

/* Two publisher threads: each one's events arrive in its own order. */
static void threads_keep_their_order(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    event_bus *b;
    cric_err err = {0};
    assert_int_equal(event_bus_new(&b, &err), 0);
    int renders = 0;
    event_bus_set_renderer(b, t_render, &renders);
    sink_state a = {.limit = 64};
    event_sink sa = {t_send, t_end, &a};
    event_sub *sub;
    assert_int_equal(event_bus_subscribe(b, &loop, &sa, &sub, &err), 0);
    pthread_t t1, t2;
    pub_arg p1 = {b, 1}, p2 = {b, 2};
    pthread_create(&t1, NULL, publisher, &p1);
    pthread_create(&t2, NULL, publisher, &p2);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    run_until(&loop, &a, 40);
    assert_int_equal(a.n, 40);
    int last1 = -1, last2 = -1;
    for (int i = 0; i < a.n; i++) {
        int base, seq;
        assert_int_equal(sscanf(a.got[i], "1:t%d-%d:", &base, &seq), 2);
        int *last = base == 1 ? &last1 : &last2;
        assert_true(seq == *last + 1);
        *last = seq;
    }
    event_sub_cancel(sub);
    event_bus_free(b);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(order_fanout_and_overflow),
        cmocka_unit_test(threads_keep_their_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
