/* rpc_testserver SOCKET: serves test methods on the rpc layer for
 * tests/integration/test_rpc.py. Requests and responses are raw bytes.
 *
 *   /test.Test/Echo       unary, inline: the request back
 *   /test.Test/EchoPool   unary on the thread pool: the request back
 *   /test.Test/Double     unary on the thread pool: the request twice, sent
 *                         with rpc_call_send_owned
 *   /test.Test/Sleep      unary: sleeps the ASCII milliseconds, returns "slept"
 *                         (stops early with CANCELLED when the call is cancelled)
 *   /test.Test/Stream     server stream: ASCII count N, sends "msg-0".."msg-<N-1>"
 *   /test.Test/Subscribe  server stream, detached: "event-<i>" every 10 ms from a
 *                         loop timer, until cancelled or ASCII count N (0: forever)
 *   /test.Test/Fail       returns the ASCII status code with a message holding
 *                         non-ASCII bytes and '%'
 *   /test.Test/Stats      "sleeping=<n> subscribers=<n>"
 *
 * Environment: RPC_TESTSERVER_GRACE_MS, RPC_TESTSERVER_MAX_CONNS,
 * RPC_TESTSERVER_MAX_MSG (receive and send limit, bytes). SIGTERM or SIGINT
 * shut the server down; the process then exits 0. */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "rpc/server.h"
#include "util/log.h"

#define FAIL_MESSAGE "failure 100% sûr: ☃ \"quoted\" tab\there"

typedef struct app {
    uv_loop_t *loop;
    rpc_server *srv;
    uv_signal_t sig_term, sig_int;
    atomic_int sleeping;
    int subscribers; /* loop thread only */
} app;

typedef struct subscription {
    app *app;
    rpc_call *call;
    uv_timer_t timer;
    unsigned sent, limit;
    bool finished;
} subscription;

/* Parses a non-negative decimal request; -1 if it is not one. */
static long parse_count(const uint8_t *req, size_t len, long max)
{
    if (len == 0 || len > 10)
        return len == 0 ? 0 : -1;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (req[i] < '0' || req[i] > '9')
            return -1;
        v = v * 10 + (req[i] - '0');
    }
    return v > max ? -1 : v;
}

static void echo(rpc_call *call, void *user, const uint8_t *req, size_t len, rpc_status *st)
{
    if (rpc_call_send(call, req, len) < 0)
        rpc_status_set(st, RPC_CANCELLED, "send failed");
}

static void twice(rpc_call *call, void *user, const uint8_t *req, size_t len, rpc_status *st)
{
    uint8_t *buf = malloc(RPC_SEND_HEADROOM + 2 * len + 1);
    if (!buf) {
        rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    if (len) {
        memcpy(buf + RPC_SEND_HEADROOM, req, len);
        memcpy(buf + RPC_SEND_HEADROOM + len, req, len);
    }
    if (rpc_call_send_owned(call, buf, 2 * len) < 0)
        rpc_status_set(st, RPC_CANCELLED, "send failed");
}

static void do_sleep(rpc_call *call, void *user, const uint8_t *req, size_t len, rpc_status *st)
{
    app *a = user;
    long ms = parse_count(req, len, 3600 * 1000);
    if (ms < 0) {
        rpc_status_set(st, RPC_INVALID_ARGUMENT, "Sleep wants ASCII milliseconds");
        return;
    }
    atomic_fetch_add(&a->sleeping, 1);
    uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000u;
    while (uv_hrtime() < end) {
        if (rpc_call_cancelled(call)) {
            atomic_fetch_sub(&a->sleeping, 1);
            rpc_status_set(st, RPC_CANCELLED, "sleep cancelled");
            return;
        }
        uv_sleep(5);
    }
    atomic_fetch_sub(&a->sleeping, 1);
    static const char slept[] = "slept";
    echo(call, user, (const uint8_t *)slept, sizeof(slept) - 1, st);
}

static void stream(rpc_call *call, void *user, const uint8_t *req, size_t len, rpc_status *st)
{
    long n = parse_count(req, len, 10 * 1000 * 1000);
    if (n < 0) {
        rpc_status_set(st, RPC_INVALID_ARGUMENT, "Stream wants an ASCII count");
        return;
    }
    for (long i = 0; i < n; i++) {
        char msg[32];
        int k = snprintf(msg, sizeof(msg), "msg-%ld", i);
        if (rpc_call_send(call, (const uint8_t *)msg, (size_t)k) < 0) {
            rpc_status_set(st, RPC_CANCELLED, "stream cancelled after %ld messages", i);
            return;
        }
    }
}

static void sub_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Ends the subscription exactly once (loop thread). */
static void sub_end(subscription *sub, rpc_code code, const char *why)
{
    if (sub->finished)
        return;
    sub->finished = true;
    sub->app->subscribers--;
    uv_timer_stop(&sub->timer);
    rpc_status st;
    rpc_status_set(&st, code, "%s", why);
    rpc_call_finish(sub->call, &st);
    uv_close((uv_handle_t *)&sub->timer, sub_closed);
}

static void sub_tick(uv_timer_t *t)
{
    subscription *sub = t->data;
    char msg[32];
    int k = snprintf(msg, sizeof(msg), "event-%u", sub->sent);
    if (rpc_call_send(sub->call, (const uint8_t *)msg, (size_t)k) < 0) {
        sub_end(sub, RPC_CANCELLED, "subscriber gone");
        return;
    }
    if (++sub->sent == sub->limit)
        sub_end(sub, RPC_OK, "");
}

static void sub_cancelled(rpc_call *call, void *arg)
{
    sub_end(arg, RPC_CANCELLED, "subscriber gone");
}

static void subscribe(rpc_call *call, void *user, const uint8_t *req, size_t len, rpc_status *st)
{
    app *a = user;
    long n = parse_count(req, len, 1000000);
    if (n < 0) {
        rpc_status_set(st, RPC_INVALID_ARGUMENT, "Subscribe wants an ASCII count");
        return;
    }
    subscription *sub = calloc(1, sizeof(*sub));
    if (!sub) {
        rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    sub->app = a;
    sub->call = call;
    sub->limit = (unsigned)n;
    uv_timer_init(a->loop, &sub->timer);
    sub->timer.data = sub;
    uv_timer_start(&sub->timer, sub_tick, 10, 10);
    a->subscribers++;
    rpc_call_detach(call, sub_cancelled, sub);
}

static void fail(rpc_call *call, void *user, const uint8_t *req, size_t len, rpc_status *st)
{
    long code = parse_count(req, len, 16);
    if (code <= 0) {
        rpc_status_set(st, RPC_INVALID_ARGUMENT, "Fail wants a code 1..16");
        return;
    }
    rpc_status_set(st, (rpc_code)code, "%s", FAIL_MESSAGE);
}

static void stats(rpc_call *call, void *user, const uint8_t *req, size_t len, rpc_status *st)
{
    app *a = user;
    char msg[64];
    int k = snprintf(msg, sizeof(msg), "sleeping=%d subscribers=%d", atomic_load(&a->sleeping),
                     a->subscribers);
    echo(call, user, (const uint8_t *)msg, (size_t)k, st);
}

static const rpc_method methods[] = {
    {"/test.Test/Echo", echo, RPC_METHOD_INLINE},
    {"/test.Test/EchoPool", echo, 0},
    {"/test.Test/Double", twice, 0},
    {"/test.Test/Sleep", do_sleep, 0},
    {"/test.Test/Stream", stream, RPC_METHOD_SERVER_STREAMING},
    {"/test.Test/Subscribe", subscribe, RPC_METHOD_SERVER_STREAMING | RPC_METHOD_INLINE},
    {"/test.Test/Fail", fail, 0},
    {"/test.Test/Stats", stats, RPC_METHOD_INLINE},
};

static void on_shutdown_done(void *arg)
{
    app *a = arg;
    uv_close((uv_handle_t *)&a->sig_term, NULL);
    uv_close((uv_handle_t *)&a->sig_int, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    app *a = h->data;
    uv_signal_stop(&a->sig_term);
    uv_signal_stop(&a->sig_int);
    rpc_server_shutdown(a->srv, on_shutdown_done, a);
}

static unsigned long env_ulong(const char *name, unsigned long def)
{
    const char *v = getenv(name);
    return v && *v ? strtoul(v, NULL, 10) : def;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s SOCKET\n", argv[0]);
        return 2;
    }
    setenv("UV_THREADPOOL_SIZE", "16", 0);
    signal(SIGPIPE, SIG_IGN);
    const char *lvl = getenv("RPC_TESTSERVER_LOG");
    log_level level = LOG_LVL_INFO;
    if (lvl)
        log_level_parse(lvl, &level);
    log_setup(level, LOG_FMT_TEXT);

    app a = {0};
    atomic_init(&a.sleeping, 0);
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0)
        return 1;
    a.loop = &loop;
    rpc_server_opts opts;
    rpc_server_opts_default(&opts);
    opts.shutdown_grace_ms = (unsigned)env_ulong("RPC_TESTSERVER_GRACE_MS", 5000);
    opts.max_connections = (uint32_t)env_ulong("RPC_TESTSERVER_MAX_CONNS", 1024);
    opts.max_recv_msg_size = env_ulong("RPC_TESTSERVER_MAX_MSG", opts.max_recv_msg_size);
    opts.max_send_msg_size = opts.max_recv_msg_size;
    cric_err err = {0};
    if (rpc_server_new(&a.srv, &loop, &opts, methods, sizeof(methods) / sizeof(methods[0]), &a,
                       &err) < 0) {
        fprintf(stderr, "rpc_testserver: %s\n", err.msg);
        return 1;
    }
    uv_signal_init(&loop, &a.sig_term);
    uv_signal_init(&loop, &a.sig_int);
    a.sig_term.data = a.sig_int.data = &a;
    uv_signal_start(&a.sig_term, on_signal, SIGTERM);
    uv_signal_start(&a.sig_int, on_signal, SIGINT);
    int rc = 0;
    if (rpc_server_listen_unix(a.srv, argv[1], 0660, &err) < 0) {
        fprintf(stderr, "rpc_testserver: %s\n", err.msg);
        uv_signal_stop(&a.sig_term);
        uv_signal_stop(&a.sig_int);
        rpc_server_shutdown(a.srv, on_shutdown_done, &a);
        rc = 1;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    rpc_server_free(a.srv);
    if (uv_loop_close(&loop) != 0) {
        fprintf(stderr, "rpc_testserver: loop still has handles\n");
        rc = 1;
    }
    return rc;
}
