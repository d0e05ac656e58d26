#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

static int dial(const char *url, char *path, size_t path_size)
{
    int port = 0;
    char host[64];
    if (sscanf(url, "http://%63[^:]:%d%1023s", host, &port, path) != 3)
        return -1;
    (void)path_size;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void write_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

int tc_raw(const char *url, const char *bytes, size_t len, char *resp, size_t resp_size)
{
    char path[1024];
    int fd = dial(url, path, sizeof(path));
    if (fd < 0)
        return -1;
    write_all(fd, bytes, len);
    size_t got = 0;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    while (got + 1 < resp_size && poll(&pfd, 1, 5000) > 0) {
        ssize_t n = read(fd, resp + got, resp_size - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    resp[got] = '\0';
    close(fd);
    return (int)got;
}

int tc_connect(tclient *c, const char *url, const char *upgrade, const char *const *protocols)
{
    memset(c, 0, sizeof(*c));
    c->next_id = 1;
    char path[1024];
    c->fd = dial(url, path, sizeof(path));
    if (c->fd < 0)
        return -1;
    spdy_zip_init(&c->zip, 1 << 20);
    char req[2048];
    int n = snprintf(req, sizeof(req),
                     "POST %s HTTP/1.1\r\nHost: test\r\nConnection: Upgrade\r\nUpgrade: %s\r\n",
                     path, upgrade);
    for (const char *const *p = protocols; p && *p; p++)
        n += snprintf(req + n, sizeof(req) - (size_t)n, "X-Stream-Protocol-Version: %s\r\n", *p);
    n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
    write_all(c->fd, req, (size_t)n);
    /* read the head */
    size_t got = 0;
    char *end = NULL;
    while (!end && got + 1 < sizeof(c->head)) {
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        if (poll(&pfd, 1, 5000) <= 0)
            return -1;
        ssize_t r = read(c->fd, c->head + got, sizeof(c->head) - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        c->head[got] = '\0';
        end = strstr(c->head, "\r\n\r\n");
    }
    if (!end)
        return -1;
    size_t head_len = (size_t)(end - c->head) + 4;
    sbuf_append(&c->in, c->head + head_len, got - head_len);
    c->head[head_len] = '\0';
    if (sscanf(c->head, "HTTP/1.1 %d", &c->status) != 1)
        return -1;
    if (c->status != 101) {
        /* body until close */
        size_t bl = sbuf_avail(&c->in);
        memcpy(c->body, sbuf_head(&c->in), bl < sizeof(c->body) ? bl : sizeof(c->body) - 1);
        while (bl + 1 < sizeof(c->body)) {
            ssize_t r = read(c->fd, c->body + bl, sizeof(c->body) - 1 - bl);
            if (r <= 0)
                break;
            bl += (size_t)r;
        }
        c->body[bl] = '\0';
    }
    return c->status;
}

tc_stream *tc_stream_get(tclient *c, uint32_t id)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->streams[i].id == id)
            return &c->streams[i];
    return NULL;
}

uint32_t tc_open(tclient *c, const char *type, const char *port, const char *request_id)
{
    spdy_nv nv[3];
    size_t n = 0;
    nv[n++] = (spdy_nv){(char *)"streamtype", 10, (char *)type, strlen(type)};
    if (port)
        nv[n++] = (spdy_nv){(char *)"port", 4, (char *)port, strlen(port)};
    if (request_id)
        nv[n++] = (spdy_nv){(char *)"requestid", 9, (char *)request_id, strlen(request_id)};
    uint32_t id = c->next_id;
    c->next_id += 2;
    sbuf b = {0};
    spdy_put_syn_stream(&b, &c->zip, id, 0, 0, 0, nv, n);
    write_all(c->fd, sbuf_head(&b), sbuf_avail(&b));
    sbuf_free(&b);
    tc_stream *s = &c->streams[c->n++];
    memset(s, 0, sizeof(*s));
    s->id = id;
    return id;
}

void tc_send(tclient *c, uint32_t id, const void *data, size_t len, bool fin)
{
    sbuf b = {0};
    spdy_put_data(&b, id, fin ? SPDY_FLAG_FIN : 0, data, len);
    write_all(c->fd, sbuf_head(&b), sbuf_avail(&b));
    sbuf_free(&b);
}

static void on_frame(tclient *c, const spdy_frame *f)
{
    const char *why;
    if (!f->control) {
        tc_stream *s = tc_stream_get(c, f->stream_id);
        if (!s)
            return;
        sbuf_append(&s->data, f->payload, f->payload_len);
        if (f->flags & SPDY_FLAG_FIN)
            s->fin = true;
        return;
    }
    tc_stream *s = tc_stream_get(c, f->stream_id);
    switch (f->type) {
    case SPDY_SYN_REPLY:
    case SPDY_HEADERS: {
        spdy_headers h;
        if (spdy_headers_decompress(&c->zip, f->payload, f->payload_len, &h, &why) == 0)
            spdy_headers_free(&h);
        if (s) {
            s->replied = true;
            if (f->flags & SPDY_FLAG_FIN)
                s->fin = true;
        }
        break;
    }
    case SPDY_RST_STREAM:
        if (s)
            s->reset = s->fin = true;
        break;
    case SPDY_GOAWAY:
        c->goaway = true;
        break;
    default:
        break;
    }
}

static long ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool tc_until(tclient *c, bool (*pred)(tclient *, void *), void *arg, int timeout_ms)
{
    long deadline = ms_now() + timeout_ms;
    for (;;) {
        for (;;) {
            spdy_frame f;
            size_t used;
            const char *why;
            int rc =
                spdy_frame_decode(sbuf_head(&c->in), sbuf_avail(&c->in), 1 << 24, &f, &used, &why);
            if (rc != SPDY_FRAME)
                break;
            on_frame(c, &f);
            sbuf_consume(&c->in, used);
        }
        if (pred(c, arg))
            return true;
        if (c->eof)
            return false;
        long left = deadline - ms_now();
        if (left <= 0)
            return false;
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        if (poll(&pfd, 1, (int)left) <= 0)
            return false;
        sbuf_reserve(&c->in, 65536);
        ssize_t n = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
        if (n <= 0)
            c->eof = true;
        else
            c->in.len += (size_t)n;
    }
}

void tc_drain(tclient *c)
{
    for (;;) {
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        if (c->eof || poll(&pfd, 1, 0) <= 0)
            break;
        sbuf_reserve(&c->in, 65536);
        ssize_t n = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
        if (n <= 0) {
            c->eof = true;
            break;
        }
        c->in.len += (size_t)n;
    }
    for (;;) {
        spdy_frame f;
        size_t used;
        const char *why;
        if (spdy_frame_decode(sbuf_head(&c->in), sbuf_avail(&c->in), 1 << 24, &f, &used, &why) !=
            SPDY_FRAME)
            break;
        on_frame(c, &f);
        sbuf_consume(&c->in, used);
    }
}

bool tc_all_fin(tclient *c, void *arg)
{
    for (size_t i = 0; i < c->n; i++)
        if (!c->streams[i].fin)
            return false;
    return c->n > 0;
}

void tc_close(tclient *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    for (size_t i = 0; i < c->n; i++)
        sbuf_free(&c->streams[i].data);
    sbuf_free(&c->in);
    spdy_zip_free(&c->zip);
}
