/* The gRPC request path as a client connection drives it: the input is the
 * byte stream a client writes after the HTTP/2 connection preface (frames:
 * SETTINGS, HEADERS with :path/content-type/grpc-timeout, DATA with gRPC
 * length prefixes, RST_STREAM, ...). It goes through a real rpc_server
 * (src/rpc: nghttp2 session, request validation, reassembly, dispatch on the
 * thread pool, responses, trailers) listening on a unix socket, with the CRI
 * method table of src/cri/methods.c. The handlers decode the request with
 * the method's protobuf-c descriptor and cric's string check and answer an
 * empty response, so every method path decodes for real. Each input is one
 * connection, fully closed (and every handler returned) before the next. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "cri.pb-c.h"
#include "cri/cri.h"
#include "cri/pbcheck.h"
#include "cri/service.h"
#include "fuzz/fuzz_util.h"
#include "rpc/internal.h"

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static uv_loop_t loop;
static rpc_server *srv;
static rpc_method *methods;
static size_t n_methods;
static char dir[64], sock_path[96];

static const ProtobufCMethodDescriptor *find_method(const char *path)
{
    static const ProtobufCServiceDescriptor *const svcs[] = {
        &runtime__v1__runtime_service__descriptor, &runtime__v1__image_service__descriptor};
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(svcs[i]->name);
        if (path[0] != '/' || strncmp(path + 1, svcs[i]->name, n) != 0 || path[n + 1] != '/')
            continue;
        for (unsigned j = 0; j < svcs[i]->n_methods; j++)
            if (strcmp(path + n + 2, svcs[i]->methods[j].name) == 0)
                return &svcs[i]->methods[j];
    }
    return NULL;
}

static void decode_handler(rpc_call *call, void *user, const uint8_t *req, size_t len,
                           rpc_status *st)
{
    const ProtobufCMethodDescriptor *md = find_method(rpc_call_method(call));
    FUZZ_CHECK(md); /* the table only holds CRI methods */
    ProtobufCMessage *m = protobuf_c_message_unpack(md->input, NULL, len, req);
    if (!m) {
        rpc_status_set(st, RPC_INVALID_ARGUMENT, "malformed %s", md->input->name);
        return;
    }
    char why[400];
    if (cri_pb_check_strings(md->input, req, len, why, sizeof(why)) < 0) {
        rpc_status_set(st, RPC_INVALID_ARGUMENT, "%s", why);
    } else {
        uint8_t store[1024];
        ProtobufCMessage *resp = (ProtobufCMessage *)store;
        FUZZ_CHECK(md->output->sizeof_message <= sizeof(store));
        protobuf_c_message_init(md->output, resp);
        cri_send(call, resp, st);
    }
    protobuf_c_message_free_unpacked(m, NULL);
}

static void shutdown_done(void *arg)
{
    *(int *)arg = 1;
}

static void teardown(void)
{
    int done = 0;
    rpc_server_shutdown(srv, shutdown_done, &done);
    while (!done)
        uv_run(&loop, UV_RUN_ONCE);
    rpc_server_free(srv);
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
    free(methods);
    rmdir(dir);
}

static void setup(void)
{
    FUZZ_CHECK(uv_loop_init(&loop) == 0);
    size_t n;
    const rpc_method *real = cri_methods(&n);
    methods = calloc(n, sizeof(*methods));
    FUZZ_CHECK(methods);
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(find_method(real[i].path));
        methods[i] = (rpc_method){real[i].path, decode_handler, real[i].flags};
    }
    n_methods = n;
    rpc_server_opts o;
    rpc_server_opts_default(&o);
    o.max_recv_msg_size = 1u << 20;
    o.max_concurrent_streams = 100;
    o.shutdown_grace_ms = 100;
    cric_err err = {0};
    FUZZ_CHECK(rpc_server_new(&srv, &loop, &o, methods, n_methods, NULL, &err) == 0);
    snprintf(dir, sizeof(dir), "/tmp/cric-fuzz-rpc-XXXXXX");
    FUZZ_CHECK(mkdtemp(dir));
    snprintf(sock_path, sizeof(sock_path), "%s/s.sock", dir);
    FUZZ_CHECK(rpc_server_listen_unix(srv, sock_path, 0600, &err) == 0);
    atexit(teardown);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    if (!srv)
        setup();
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    FUZZ_CHECK(fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
    FUZZ_CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);

    size_t total = sizeof(preface) - 1 + size, sent = 0;
    uint8_t *out = malloc(total ? total : 1);
    FUZZ_CHECK(out);
    memcpy(out, preface, sizeof(preface) - 1);
    if (size)
        memcpy(out + sizeof(preface) - 1, data, size);
    bool wr_open = true, eof = false;
    uint64_t start = uv_hrtime();
    while (!eof || srv->n_conns > 0 || srv->works_inflight > 0) {
        struct pollfd p[2] = {
            {.fd = fd, .events = (short)(eof ? 0 : POLLIN) | (wr_open ? POLLOUT : 0)},
            {.fd = uv_backend_fd(&loop), .events = POLLIN},
        };
        poll(p, 2, 5);
        if (wr_open && sent < total) {
            ssize_t w = send(fd, out + sent, total - sent, MSG_NOSIGNAL);
            if (w > 0)
                sent += (size_t)w;
            else if (w < 0 && errno != EAGAIN)
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
        /* A connection the server keeps open after the client finished
         * writing would be a hang: libFuzzer's -timeout reports it. */
        if (uv_hrtime() - start > 20ull * 1000 * 1000 * 1000)
            abort();
    }
    free(out);
    close(fd);
    return 0;
}
