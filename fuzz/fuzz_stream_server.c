/* The streaming server as a client drives it (src/stream: HTTP/1.1 upgrade,
 * SPDY/3.1 and WebSocket connections, channel demultiplexing, sessions): a
 * real stream_server on 127.0.0.1 with a backend whose "attach" is a pair of
 * pipes (or a socketpair for tty), so no process runs. Per input a fresh
 * single-use token is minted; the first byte picks the protocol and the
 * attach flags, the harness sends the matching upgrade request with that
 * token, then the rest of the input as the client's bytes after the upgrade
 * (SPDY frames or masked WebSocket frames). Each input is one connection,
 * fully closed (session ended, fds released) before the next. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "fuzz/fuzz_util.h"
#include "stream/conn.h"
#include "stream/stream.h"

typedef struct attach_fds {
    int keep[3]; /* our ends, closed on release */
} attach_fds;

static uv_loop_t loop;
static stream_server *srv;
static unsigned port;
static int released_pending; /* starts minus releases (loop and worker threads) */
static uv_mutex_t mu;

static int be_check(void *ctx, const char *id, cric_err *err)
{
    return 0;
}

static int be_start(void *ctx, const stream_request *req, stream_proc *out, cric_err *err)
{
    if (req->kind != STREAM_ATTACH)
        return cric_err_set(err, CRIC_ERR_UNIMPLEMENTED, "fuzz backend: attach only");
    attach_fds *a = calloc(1, sizeof(*a));
    FUZZ_CHECK(a);
    a->keep[0] = a->keep[1] = a->keep[2] = -1;
    out->pid = 0;
    out->pty_fd = out->stdin_fd = out->stdout_fd = out->stderr_fd = -1;
    if (req->tty) {
        int sp[2];
        FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
        FUZZ_CHECK(write(sp[1], "tty$ ", 5) == 5);
        shutdown(sp[1], SHUT_WR);
        out->pty_fd = sp[0];
        a->keep[0] = sp[1];
    } else {
        if (req->stdin_) {
            int p[2];
            FUZZ_CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
            out->stdin_fd = p[1];
            a->keep[0] = p[0];
        }
        if (req->stdout_) {
            int p[2];
            FUZZ_CHECK(pipe2(p, O_CLOEXEC) == 0);
            FUZZ_CHECK(write(p[1], "attached\n", 9) == 9);
            close(p[1]);
            out->stdout_fd = p[0];
        }
        if (req->stderr_) {
            int p[2];
            FUZZ_CHECK(pipe2(p, O_CLOEXEC) == 0);
            close(p[1]);
            out->stderr_fd = p[0];
        }
    }
    out->handle = a;
    uv_mutex_lock(&mu);
    released_pending++;
    uv_mutex_unlock(&mu);
    return 0;
}

static int be_resize(void *ctx, stream_proc *p, uint16_t w, uint16_t h)
{
    return 0;
}

static void be_release(void *ctx, stream_proc *p)
{
    attach_fds *a = p->handle;
    if (!a)
        return;
    for (int i = 0; i < 3; i++)
        if (a->keep[i] >= 0)
            close(a->keep[i]);
    free(a);
    p->handle = NULL;
    uv_mutex_lock(&mu);
    released_pending--;
    uv_mutex_unlock(&mu);
}

static int be_netns(void *ctx, const char *pod, char **path, cric_err *err)
{
    return cric_err_set(err, CRIC_ERR_UNIMPLEMENTED, "fuzz backend: no port-forward");
}

static void shutdown_done(void *arg)
{
    *(int *)arg = 1;
}

static void teardown(void)
{
    int done = 0;
    stream_server_shutdown(srv, shutdown_done, &done);
    while (!done)
        uv_run(&loop, UV_RUN_ONCE);
    stream_server_free(srv);
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
}

static void setup(void)
{
    FUZZ_CHECK(uv_loop_init(&loop) == 0);
    uv_mutex_init(&mu);
    stream_server_opts o = {
        .address = "127.0.0.1",
        .token_ttl_s = 60,
        .tls_cert = "",
        .tls_key = "",
        .max_sessions = 8,
        .idle_timeout_s = 2,
        .stream_creation_timeout_s = 1,
        .request_timeout_s = 1,
        .max_stream_buffer = 64 * 1024,
    };
    stream_backend be = {.container_check = be_check,
                         .start = be_start,
                         .resize = be_resize,
                         .release = be_release,
                         .portforward_netns = be_netns};
    cric_err err = {0};
    FUZZ_CHECK(stream_server_new(&srv, &loop, &o, &be, &err) == 0);
    const char *base = stream_server_base_url(srv);
    const char *colon = strrchr(base, ':');
    FUZZ_CHECK(colon);
    port = (unsigned)atoi(colon + 1);
    atexit(teardown);
}

static const char *const protos[] = {"SPDY", "v5.channel.k8s.io", "base64.channel.k8s.io",
                                     "v4.channel.k8s.io"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    if (!srv)
        setup();
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    stream_request req = {.kind = STREAM_ATTACH,
                          .id = "c0ffee",
                          .tty = sel & 0x08,
                          .stdin_ = sel & 0x10,
                          .stdout_ = sel & 0x20,
                          .stderr_ = (sel & 0x40) && !(sel & 0x08)};
    if (!req.stdin_ && !req.stdout_ && !req.stderr_)
        req.stdout_ = true;
    char *url = NULL;
    cric_err err = {0};
    FUZZ_CHECK(stream_server_url(srv, &req, &url, &err) == 0);
    const char *path = strstr(url, "/attach/");
    FUZZ_CHECK(path);
    const char *proto = protos[sel & 3];
    char head[1024];
    int hl;
    if ((sel & 3) == 0)
        hl = snprintf(head, sizeof(head),
                      "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
                      "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n"
                      "X-Stream-Protocol-Version: channel.k8s.io\r\n\r\n",
                      path);
    else
        hl = snprintf(head, sizeof(head),
                      "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
                      "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Protocol: %s\r\n\r\n",
                      path, proto);
    free(url);
    FUZZ_CHECK(hl > 0 && (size_t)hl < sizeof(head));

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    FUZZ_CHECK(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    FUZZ_CHECK(rc == 0 || errno == EINPROGRESS);

    size_t total = (size_t)hl + size - 1, sent = 0;
    uint8_t *out = malloc(total);
    FUZZ_CHECK(out);
    memcpy(out, head, (size_t)hl);
    memcpy(out + hl, data + 1, size - 1);
    bool wr_open = true, eof = false;
    uint64_t start = uv_hrtime();
    for (;;) {
        uv_mutex_lock(&mu);
        int pending = released_pending;
        uv_mutex_unlock(&mu);
        if (eof && srv->n_conns == 0 && !srv->conns && !srv->orphans && pending == 0)
            break;
        struct pollfd p[2] = {
            {.fd = fd, .events = (short)(eof ? 0 : POLLIN) | (wr_open ? POLLOUT : 0)},
            {.fd = uv_backend_fd(&loop), .events = POLLIN},
        };
        poll(p, 2, 5);
        if (wr_open && sent < total) {
            ssize_t w = send(fd, out + sent, total - sent, MSG_NOSIGNAL);
            if (w > 0)
                sent += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EINPROGRESS)
                sent = total;
        }
        if (wr_open && sent == total) {
            shutdown(fd, SHUT_WR);
            wr_open = false;
        }
        if (!eof) {
            uint8_t buf[65536];
            ssize_t r = recv(fd, buf, sizeof(buf), 0);
            if (r == 0 || (r < 0 && errno != EAGAIN))
                eof = true;
        }
        uv_run(&loop, UV_RUN_NOWAIT);
        /* Every timeout of the server is at most 2 s here: a connection or
         * session still open long after is a hang. */
        if (uv_hrtime() - start > 20ull * 1000 * 1000 * 1000)
            abort();
    }
    free(out);
    close(fd);
    return 0;
}
