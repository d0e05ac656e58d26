/* grpc_load: closed-loop unary gRPC load over a unix socket, for comparing CRI
 * endpoints (cric, containerd) on the same machine. Each client thread owns one
 * HTTP/2 connection and keeps one call in flight; latencies of every call are
 * recorded and summarised.
 *
 *   grpc_load SOCKET METHOD CLIENTS SECONDS [REQUEST_HEX]
 *   -> JSON: {"clients":N,"calls":N,"errors":N,"rate":calls/s,"p50_us":..,"p99_us":..}
 *
 * Each connection opens its receive windows to 16 MiB, where grpc-go (the
 * kubelet's client) and gRPC C-core get once their bandwidth estimators have
 * grown them: with HTTP/2's initial 64 KiB a large answer (ListContainers of
 * hundreds of containers) would wait for a window update every 32 KiB.
 */
#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define RECV_WINDOW (16 << 20)

typedef struct client {
    const char *sock, *method;
    const uint8_t *req;
    size_t req_len;
    double seconds;
    int fd;
    nghttp2_session *session;
    int done_stream;
    int grpc_status;
    size_t req_off;
    uint8_t frame[5 + 4096];
    size_t frame_len;
    uint64_t *lat_us;
    size_t n_lat, cap_lat;
    uint64_t errors;
} client;

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static ssize_t send_cb(nghttp2_session *s, const uint8_t *data, size_t len, int flags, void *u)
{
    client *c = u;
    ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
    if (n < 0)
        return errno == EAGAIN ? NGHTTP2_ERR_WOULDBLOCK : NGHTTP2_ERR_CALLBACK_FAILURE;
    return n;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *u)
{
    client *c = u;
    if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0)
        c->grpc_status = atoi((const char *)value);
    return 0;
}

static int on_close(nghttp2_session *s, int32_t id, uint32_t code, void *u)
{
    client *c = u;
    c->done_stream = id;
    return 0;
}

static ssize_t read_req(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len,
                        uint32_t *flags, nghttp2_data_source *src, void *u)
{
    client *c = u;
    size_t left = c->frame_len - c->req_off;
    size_t n = left < len ? left : len;
    memcpy(buf, c->frame + c->req_off, n);
    c->req_off += n;
    if (c->req_off == c->frame_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int connect_unix(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("connect");
        exit(1);
    }
    return fd;
}

static int pump(client *c)
{
    if (nghttp2_session_send(c->session) != 0)
        return -1;
    uint8_t buf[65536];
    ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
    if (n <= 0)
        return -1;
    if (nghttp2_session_mem_recv(c->session, buf, (size_t)n) < 0)
        return -1;
    return nghttp2_session_send(c->session) == 0 ? 0 : -1;
}

static void *run_client(void *arg)
{
    client *c = arg;
    c->fd = connect_unix(c->sock);
    nghttp2_session_callbacks *cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close);
    nghttp2_session_client_new(&c->session, cbs, c);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, RECV_WINDOW}};
    nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, settings, 1);
    nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, RECV_WINDOW);

    c->frame[0] = 0;
    c->frame[1] = (uint8_t)(c->req_len >> 24);
    c->frame[2] = (uint8_t)(c->req_len >> 16);
    c->frame[3] = (uint8_t)(c->req_len >> 8);
    c->frame[4] = (uint8_t)c->req_len;
    memcpy(c->frame + 5, c->req, c->req_len);
    c->frame_len = 5 + c->req_len;

    nghttp2_nv hdrs[] = {
#define NV(n, v) {(uint8_t *)n, (uint8_t *)v, sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}
        NV(":method", "POST"),       NV(":scheme", "http"),
        NV(":path", c->method),      NV(":authority", "localhost"),
        NV("content-type", "application/grpc"), NV("te", "trailers"),
    };
    uint64_t end = now_us() + (uint64_t)(c->seconds * 1e6);
    while (now_us() < end) {
        c->req_off = 0;
        c->done_stream = 0;
        c->grpc_status = -1;
        nghttp2_data_provider prd = {.read_callback = read_req};
        uint64_t t0 = now_us();
        int32_t id = nghttp2_submit_request(c->session, NULL, hdrs, 6, &prd, NULL);
        if (id < 0)
            break;
        while (c->done_stream != id)
            if (pump(c) < 0) {
                fprintf(stderr, "connection failed\n");
                return NULL;
            }
        uint64_t dt = now_us() - t0;
        if (c->grpc_status != 0)
            c->errors++;
        if (c->n_lat == c->cap_lat) {
            c->cap_lat = c->cap_lat ? c->cap_lat * 2 : 65536;
            c->lat_us = realloc(c->lat_us, c->cap_lat * sizeof(uint64_t));
        }
        c->lat_us[c->n_lat++] = dt;
    }
    nghttp2_session_del(c->session);
    close(c->fd);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: grpc_load SOCKET METHOD CLIENTS SECONDS [REQUEST_HEX]\n");
        return 2;
    }
    int n = atoi(argv[3]);
    double secs = atof(argv[4]);
    uint8_t req[4096];
    size_t req_len = 0;
    if (argc > 5)
        for (const char *h = argv[5]; h[0] && h[1] && req_len < sizeof(req); h += 2)
            sscanf(h, "%2hhx", &req[req_len++]);
    client *cs = calloc((size_t)n, sizeof(client));
    pthread_t *th = calloc((size_t)n, sizeof(pthread_t));
    uint64_t t0 = now_us();
    for (int i = 0; i < n; i++) {
        cs[i] = (client){.sock = argv[1], .method = argv[2], .req = req, .req_len = req_len,
                         .seconds = secs};
        pthread_create(&th[i], NULL, run_client, &cs[i]);
    }
    size_t total = 0;
    uint64_t errors = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        total += cs[i].n_lat;
        errors += cs[i].errors;
    }
    double elapsed = (double)(now_us() - t0) / 1e6;
    uint64_t *all = malloc((total ? total : 1) * sizeof(uint64_t));
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        memcpy(all + k, cs[i].lat_us, cs[i].n_lat * sizeof(uint64_t));
        k += cs[i].n_lat;
        free(cs[i].lat_us);
    }
    qsort(all, total, sizeof(uint64_t), cmp_u64);
    printf("{\"clients\":%d,\"calls\":%zu,\"errors\":%llu,\"rate\":%.0f,\"p50_us\":%llu,"
           "\"p99_us\":%llu}\n",
           n, total, (unsigned long long)errors, (double)total / elapsed,
           (unsigned long long)(total ? all[total / 2] : 0),
           (unsigned long long)(total ? all[total * 99 / 100] : 0));
    free(all);
    free(cs);
    free(th);
    return errors ? 1 : 0;
}
