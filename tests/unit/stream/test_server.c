/* The streaming server end to end over loopback, against a test-only backend
 * that runs local processes (exec), a local process for attach, and sockets in
 * the host's or a test-made network namespace (port-forward). The daemon's
 * real backend is exercised by the integration tests. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "client.h"
#include "stream/stream.h"

#include "local_backend.h"

/* ---- fixture: the server on its own loop thread ---- */

typedef struct fx {
    uv_loop_t loop;
    uv_async_t stop;
    stream_server *srv;
    pthread_t thread;
    tbackend tb;
} fx;

static void on_down(void *arg)
{
    fx *f = arg;
    uv_close((uv_handle_t *)&f->stop, NULL);
}

static void on_stop(uv_async_t *a)
{
    fx *f = a->data;
    stream_server_shutdown(f->srv, on_down, f);
}

static void *loop_main(void *arg)
{
    fx *f = arg;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    return NULL;
}

static int setup(void **state)
{
    signal(SIGPIPE, SIG_IGN);
    fx *f = calloc(1, sizeof(*f));
    uv_loop_init(&f->loop);
    uv_async_init(&f->loop, &f->stop, on_stop);
    f->stop.data = f;
    stream_backend be = local_backend(&f->tb);
    stream_server_opts o;
    cric_config cfg = {.stream_address = "127.0.0.1",
                       .stream_port = 0,
                       .stream_token_ttl_s = 60,
                       .stream_tls_cert = "",
                       .stream_tls_key = ""};
    stream_server_opts_from_config(&o, &cfg);
    o.max_sessions = 8;
    cric_err err = {0};
    if (stream_server_new(&f->srv, &f->loop, &o, &be, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    pthread_create(&f->thread, NULL, loop_main, f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    uv_async_send(&f->stop);
    pthread_join(f->thread, NULL);
    stream_server_free(f->srv);
    assert_int_equal(uv_loop_close(&f->loop), 0); /* every handle closed */
    free(f);
    return 0;
}

__attribute__((noinline)) static char *url_for(fx *f, stream_kind kind, const char *id, char **cmd,
                                               size_t n, bool in, bool out, bool err_, bool tty)
{
    stream_request r = {.kind = kind,
                        .id = (char *)id,
                        .cmd = cmd,
                        .n_cmd = n,
                        .stdin_ = in,
                        .stdout_ = out,
                        .stderr_ = err_,
                        .tty = tty};
    char *url = NULL;
    cric_err err = {0};
    assert_int_equal(stream_server_url(f->srv, &r, &url, &err), 0);
    return url;
}

static const char *const V4[] = {"v4.channel.k8s.io", "v3.channel.k8s.io", NULL};

static char *str(tc_stream *s)
{
    sbuf_put_u8(&s->data, 0);
    s->data.len--;
    return (char *)sbuf_head(&s->data);
}

/* ---- exec ---- */

static void test_exec_exit_code(void **state)
{
    fx *f = *state;
    char *cmd[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
    char *url = url_for(f, STREAM_EXEC, "c1", cmd, 3, false, true, true, false);
    tclient c;
    assert_int_equal(tc_connect(&c, url, "SPDY/3.1", V4), 101);
    assert_non_null(strstr(c.head, "X-Stream-Protocol-Version: v4.channel.k8s.io"));
    uint32_t e = tc_open(&c, "error", NULL, NULL);
    uint32_t o = tc_open(&c, "stdout", NULL, NULL);
    uint32_t er = tc_open(&c, "stderr", NULL, NULL);
    assert_true(tc_until(&c, tc_all_fin, NULL, 10000));
    assert_string_equal(str(tc_stream_get(&c, o)), "out\n");
    assert_string_equal(str(tc_stream_get(&c, er)), "err\n");
    assert_string_equal(
        str(tc_stream_get(&c, e)),
        "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"command terminated with non-zero "
        "exit code: error executing command [sh -c echo out; echo err \\u003e\\u00262; exit 3], "
        "exit code 3\",\"reason\":\"NonZeroExitCode\",\"details\":{\"causes\":[{\"reason\":"
        "\"ExitCode\",\"message\":\"3\"}]}}");
    tc_close(&c);
    free(url);
}

static void test_exec_stdin_success(void **state)
{
    fx *f = *state;
    char *cmd[] = {"cat", NULL};
    char *url = url_for(f, STREAM_EXEC, "c1", cmd, 1, true, true, false, false);
    tclient c;
    assert_int_equal(tc_connect(&c, url, "SPDY/3.1", V4), 101);
    uint32_t e = tc_open(&c, "error", NULL, NULL);
    uint32_t in = tc_open(&c, "stdin", NULL, NULL);
    uint32_t o = tc_open(&c, "stdout", NULL, NULL);
    /* 300 KiB through cat: more than any single buffer */
    static char big[300 * 1024];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
    for (size_t off = 0; off < sizeof(big); off += 30000) {
        size_t n = sizeof(big) - off < 30000 ? sizeof(big) - off : 30000;
        tc_send(&c, in, big + off, n, off + n == sizeof(big));
    }
    tc_stream *os = tc_stream_get(&c, o), *es = tc_stream_get(&c, e);
    assert_true(tc_until(&c, tc_all_fin, NULL, 10000) || (os->fin && es->fin));
    assert_int_equal(sbuf_avail(&os->data), sizeof(big));
    assert_memory_equal(sbuf_head(&os->data), big, sizeof(big));
    assert_string_equal(str(es), "{\"metadata\":{},\"status\":\"Success\"}");
    tc_close(&c);
    free(url);
}

static void test_exec_tty_resize(void **state)
{
    fx *f = *state;
    char *cmd[] = {"sh", "-c", "sleep 0.5; stty size", NULL};
    char *url = url_for(f, STREAM_EXEC, "c1", cmd, 3, false, true, false, true);
    tclient c;
    assert_int_equal(tc_connect(&c, url, "SPDY/3.1", V4), 101);
    uint32_t e = tc_open(&c, "error", NULL, NULL);
    uint32_t o = tc_open(&c, "stdout", NULL, NULL);
    uint32_t r = tc_open(&c, "resize", NULL, NULL);
    const char *ev = "{\"Width\":100,\"Height\":40}\n";
    tc_send(&c, r, ev, strlen(ev), false);
    tc_stream *os = tc_stream_get(&c, o), *es = tc_stream_get(&c, e);
    tc_until(&c, tc_all_fin, NULL, 10000);
    assert_true(os->fin && es->fin);
    assert_non_null(strstr(str(os), "40 100"));
    assert_string_equal(str(es), "{\"metadata\":{},\"status\":\"Success\"}");
    tc_close(&c);
    free(url);
}

static void test_exec_v2_text_errors(void **state)
{
    fx *f = *state;
    char *cmd[] = {"false", NULL};
    char *url = url_for(f, STREAM_EXEC, "c1", cmd, 1, false, true, false, false);
    tclient c;
    static const char *const v2[] = {"v2.channel.k8s.io", NULL};
    assert_int_equal(tc_connect(&c, url, "SPDY/3.1", v2), 101);
    uint32_t e = tc_open(&c, "error", NULL, NULL);
    tc_open(&c, "stdout", NULL, NULL);
    assert_true(tc_until(&c, tc_all_fin, NULL, 10000));
    assert_string_equal(str(tc_stream_get(&c, e)),
                        "command terminated with non-zero exit code: error executing command "
                        "[false], exit code 1");
    tc_close(&c);
    free(url);
}

static void test_exec_start_failure(void **state)
{
    fx *f = *state;
    char *cmd[] = {"true", NULL};
    char *url = url_for(f, STREAM_EXEC, "broken", cmd, 1, false, true, false, false);
    tclient c;
    assert_int_equal(tc_connect(&c, url, "SPDY/3.1", V4), 101);
    uint32_t e = tc_open(&c, "error", NULL, NULL);
    tc_open(&c, "stdout", NULL, NULL);
    assert_true(tc_until(&c, tc_all_fin, NULL, 10000));
    assert_non_null(strstr(str(tc_stream_get(&c, e)),
                           "\"message\":\"Internal error occurred: error executing command in "
                           "container: container broken is not running\""));
    tc_close(&c);
    free(url);
}

static bool pid_gone(pid_t pid)
{
    for (int i = 0; i < 100; i++) {
        if (kill(pid, 0) < 0 && errno == ESRCH)
            return true;
        usleep(20000);
    }
    return false;
}

static bool has_pid(tclient *c, void *arg)
{
    return ((tbackend *)arg)->last_pid != 0;
}

static void test_exec_client_disconnect_kills(void **state)
{
    fx *f = *state;
    char *cmd[] = {"sleep", "100", NULL};
    f->tb.last_pid = 0;
    char *url = url_for(f, STREAM_EXEC, "c1", cmd, 2, true, true, false, false);
    tclient c;
    assert_int_equal(tc_connect(&c, url, "SPDY/3.1", V4), 101);
    tc_open(&c, "error", NULL, NULL);
    tc_open(&c, "stdin", NULL, NULL);
    tc_open(&c, "stdout", NULL, NULL);
    for (int i = 0; i < 300 && !has_pid(&c, &f->tb); i++)
        usleep(10000);
    usleep(100000);
    pid_t pid = f->tb.last_pid;
    assert_true(pid > 0);
    tc_close(&c);               /* mid-stream */
    assert_true(pid_gone(pid)); /* killed and reaped by the server */
    free(url);
}

static void test_attach(void **state)
{
    fx *f = *state;
    char *url = url_for(f, STREAM_ATTACH, "c1", NULL, 0, true, true, false, false);
    tclient c;
    assert_int_equal(tc_connect(&c, url, "SPDY/3.1", V4), 101);
    uint32_t e = tc_open(&c, "error", NULL, NULL);
    uint32_t in = tc_open(&c, "stdin", NULL, NULL);
    uint32_t o = tc_open(&c, "stdout", NULL, NULL);
    tc_send(&c, in, "more\n", 5, true);
    assert_true(tc_until(&c, tc_all_fin, NULL, 10000));
    assert_string_equal(str(tc_stream_get(&c, o)), "attached\nmore\n");
    assert_string_equal(str(tc_stream_get(&c, e)), "{\"metadata\":{},\"status\":\"Success\"}");
    tc_close(&c);
    free(url);
}

/* ---- bad input ---- */

static void test_bad_requests(void **state)
{
    fx *f = *state;
    char *cmd[] = {"true", NULL};
    char *url = url_for(f, STREAM_EXEC, "c1", cmd, 1, false, true, false, false);
    char resp[4096];
    const char *garbage = "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage\r\n\r\n";
    assert_true(tc_raw(url, garbage, strlen(garbage), resp, sizeof(resp)) > 0);
    assert_non_null(strstr(resp, "HTTP/1.1 400 Bad Request"));
    /* unknown protocol version: 403, token consumed */
    tclient c;
    static const char *const v9[] = {"v9.channel.k8s.io", NULL};
    assert_int_equal(tc_connect(&c, url, "SPDY/3.1", v9), 403);
    assert_non_null(strstr(c.head, "X-Accepted-Stream-Protocol-Versions: v4.channel.k8s.io"));
    assert_non_null(strstr(c.body, "unable to negotiate protocol"));
    tc_close(&c);
    /* reused token */
    assert_int_equal(tc_connect(&c, url, "SPDY/3.1", V4), 404);
    tc_close(&c);
    free(url);
    /* wrong path kind */
    char *url2 = url_for(f, STREAM_EXEC, "c1", cmd, 1, false, true, false, false);
    char other[256];
    snprintf(other, sizeof(other), "%s", url2);
    char *p = strstr(other, "/exec/");
    assert_non_null(p);
    memcpy(p, "/attach/", 8);
    snprintf(p + 8, sizeof(other) - (size_t)(p + 8 - other), "%s", strstr(url2, "/exec/") + 6);
    assert_int_equal(tc_connect(&c, other, "SPDY/3.1", V4), 404);
    tc_close(&c);
    /* no upgrade */
    char get[512];
    snprintf(get, sizeof(get), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", strstr(url2, "/exec/"));
    assert_true(tc_raw(url2, get, strlen(get), resp, sizeof(resp)) > 0);
    assert_non_null(strstr(resp, "HTTP/1.1 400"));
    free(url2);
    /* a SPDY session with garbage frames: GOAWAY, server keeps serving */
    char *url3 = url_for(f, STREAM_EXEC, "c1", cmd, 1, false, true, false, false);
    assert_int_equal(tc_connect(&c, url3, "SPDY/3.1", V4), 101);
    const char junk[] = "\x80\x03\x00\x01\x00\x00\x00\x0a\x00\x00\x00\x01\x00\x00\x00\x00\xff\xff";
    if (write(c.fd, junk, sizeof(junk) - 1) < 0)
        fail();
    struct {
        int dummy;
    } none;
    (void)none;
    tc_until(&c, tc_all_fin, NULL, 2000);
    assert_true(c.goaway || c.eof);
    tc_close(&c);
    free(url3);
}

/* ---- port-forward ---- */

typedef struct echo_srv {
    int lfd;
    pthread_t t;
    char netns[128];
    int port;
} echo_srv;

static void *echo_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        if (write(fd, buf, (size_t)n) != n)
            break;
    close(fd);
    return NULL;
}

/* One thread per connection: concurrent forwarded connections must not
 * wait for each other. */
static void *echo_main(void *arg)
{
    echo_srv *e = arg;
    for (;;) {
        int fd = accept(e->lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        pthread_t t;
        pthread_create(&t, NULL, echo_conn, (void *)(intptr_t)fd);
        pthread_detach(t);
    }
}

static void *echo_listen(void *arg)
{
    echo_srv *e = arg;
    if (e->netns[0]) {
        int ns = open(e->netns, O_RDONLY);
        if (ns < 0 || setns(ns, CLONE_NEWNET) < 0) {
            e->lfd = -1;
            return NULL;
        }
        close(ns);
        if (system("ip link set lo up") != 0) {
        } /* we are in the netns (this thread) */
    }
    e->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(e->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(e->lfd, (struct sockaddr *)&a, sizeof(a));
    listen(e->lfd, 16);
    socklen_t len = sizeof(a);
    getsockname(e->lfd, (struct sockaddr *)&a, &len);
    e->port = ntohs(a.sin_port);
    return NULL;
}

static bool streams_fin(tclient *c, void *arg)
{
    uint32_t *ids = arg;
    for (; *ids; ids++) {
        tc_stream *s = tc_stream_get(c, *ids);
        if (!s || !s->fin)
            return false;
    }
    return true;
}

static bool data_len_at_least(tclient *c, void *arg)
{
    uint32_t *a = arg;
    tc_stream *s = tc_stream_get(c, a[0]);
    return s && sbuf_avail(&s->data) >= a[1];
}

static void portforward_roundtrip(fx *f, echo_srv *e)
{
    int32_t ports[] = {(int32_t)e->port};
    stream_request r = {
        .kind = STREAM_PORTFORWARD, .id = (char *)"pod1", .ports = ports, .n_ports = 1};
    char *url = NULL;
    cric_err err = {0};
    assert_int_equal(stream_server_url(f->srv, &r, &url, &err), 0);
    tclient c;
    static const char *const pf[] = {"portforward.k8s.io", NULL};
    assert_int_equal(tc_connect(&c, url, "SPDY/3.1", pf), 101);
    char port[16];
    snprintf(port, sizeof(port), "%d", e->port);
    /* a closed port first: its error stream says so, the session lives on */
    uint32_t e0 = tc_open(&c, "error", "1", "0");
    uint32_t d0 = tc_open(&c, "data", "1", "0");
    uint32_t ids0[] = {e0, d0, 0};
    assert_true(tc_until(&c, streams_fin, ids0, 5000));
    assert_non_null(strstr(str(tc_stream_get(&c, e0)),
                           "error forwarding port 1 to pod pod1, uid : dial tcp 127.0.0.1:1"));
    /* two concurrent connections to the echo server */
    uint32_t e1 = tc_open(&c, "error", port, "1");
    tc_send(&c, e1, NULL, 0, true);
    uint32_t d1 = tc_open(&c, "data", port, "1");
    uint32_t e2 = tc_open(&c, "error", port, "2");
    uint32_t d2 = tc_open(&c, "data", port, "2");
    static char blob[1 << 20];
    for (size_t i = 0; i < sizeof(blob); i++)
        blob[i] = (char)(i * 7);
    for (size_t off = 0; off < sizeof(blob); off += 16384) {
        tc_send(&c, d1, blob + off, 16384, false);
        tc_send(&c, d2, "x", 1, false);
        tc_drain(&c); /* read while writing, as a real client does */
    }
    uint32_t want[] = {d1, sizeof(blob)};
    if (!tc_until(&c, data_len_at_least, want, 20000))
        fail_msg("echoed %zu of %zu bytes (d2 %zu, eof %d, goaway %d)",
                 sbuf_avail(&tc_stream_get(&c, d1)->data), sizeof(blob),
                 sbuf_avail(&tc_stream_get(&c, d2)->data), c.eof, c.goaway);
    tc_stream *s1 = tc_stream_get(&c, d1);
    assert_memory_equal(sbuf_head(&s1->data), blob, sizeof(blob));
    tc_send(&c, d1, NULL, 0, true);
    tc_send(&c, d2, NULL, 0, true);
    uint32_t ids[] = {e1, d1, d2, 0};
    assert_true(tc_until(&c, streams_fin, ids, 5000));
    assert_int_equal(sbuf_avail(&tc_stream_get(&c, d2)->data), sizeof(blob) / 16384);
    assert_int_equal(sbuf_avail(&tc_stream_get(&c, e1)->data), 0);
    (void)e2;
    tc_close(&c);
    free(url);
}

static void test_portforward_host(void **state)
{
    fx *f = *state;
    echo_srv e = {0};
    echo_listen(&e);
    pthread_create(&e.t, NULL, echo_main, &e);
    f->tb.netns[0] = '\0';
    portforward_roundtrip(f, &e);
    shutdown(e.lfd, SHUT_RDWR);
    close(e.lfd);
    pthread_join(e.t, NULL);
}

static void test_portforward_netns(void **state)
{
    fx *f = *state;
    if (system("ip netns delete cric-stream-ut >/dev/null 2>&1") != 0) {
    }
    if (geteuid() != 0 || system("ip netns add cric-stream-ut >/dev/null 2>&1") != 0) {
        skip();
        return;
    }
    echo_srv e = {0};
    snprintf(e.netns, sizeof(e.netns), "/run/netns/cric-stream-ut");
    pthread_t t;
    pthread_create(&t, NULL, echo_listen, &e);
    pthread_join(t, NULL);
    assert_true(e.lfd >= 0);
    pthread_create(&e.t, NULL, echo_main, &e);
    snprintf(f->tb.netns, sizeof(f->tb.netns), "%s", e.netns);
    /* The echo server listens on 127.0.0.1 inside the namespace only. */
    portforward_roundtrip(f, &e);
    shutdown(e.lfd, SHUT_RDWR);
    close(e.lfd);
    pthread_join(e.t, NULL);
    f->tb.netns[0] = '\0';
    if (system("ip netns delete cric-stream-ut") != 0) {
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exec_exit_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_stdin_success, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_tty_resize, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_v2_text_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_start_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_client_disconnect_kills, setup, teardown),
        cmocka_unit_test_setup_teardown(test_attach, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_portforward_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_portforward_netns, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
