/* The streaming server's HTTP side: listen, accept, read one request head,
 * redeem the token, negotiate SPDY/3.1 or WebSocket and hand the connection
 * to the protocol and session code. Also the connection's write queue and
 * its orderly or abrupt end. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "stream/conn.h"
#include "stream/tls.h"
#include "util/log.h"

#define MAX_HEAD 16384
#define GRACEFUL_CLOSE_MS 5000

uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void stream_server_opts_from_config(stream_server_opts *o, const cric_config *cfg)
{
    memset(o, 0, sizeof(*o));
    o->address = cfg->stream_address;
    o->port = cfg->stream_port;
    o->token_ttl_s = cfg->stream_token_ttl_s;
    o->tls_cert = cfg->stream_tls_cert;
    o->tls_key = cfg->stream_tls_key;
    o->max_sessions = 256;
    o->idle_timeout_s = 4 * 3600; /* the kubelet's default streaming idle timeout */
    o->stream_creation_timeout_s = 30;
    o->request_timeout_s = 10;
    o->max_stream_buffer = 256 * 1024;
}

/* ---- connection list and lifetime ---- */

void stream_server_maybe_done(stream_server *s)
{
    if (s->closing && !s->listening && !s->conns && !s->orphans && s->done) {
        void (*done)(void *) = s->done;
        s->done = NULL;
        done(s->done_arg);
    }
}

static void conn_free(sconn *c)
{
    stream_server *s = c->srv;
    for (sconn **pp = &s->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    s->n_conns--;
    if (c->counted)
        s->n_sessions--;
    while (c->chans)
        conn_chan_remove(c, c->chans);
    if (c->zip_ok)
        spdy_zip_free(&c->zip);
    ws_free(c);
    sbuf_free(&c->in);
    stream_request_free(c->req);
    free(c);
    stream_server_maybe_done(s);
}

static void on_handle_closed(uv_handle_t *h)
{
    sconn *c = h->data;
    if (--c->handles == 0)
        conn_free(c);
}

void conn_abort(sconn *c, const char *why)
{
    if (c->closing)
        return;
    c->closing = true;
    if (why && why[0])
        log_debug("stream", "connection closed: %s", why);
    if (c->sess)
        session_conn_gone(c);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

void conn_touch(sconn *c)
{
    c->last_active = now_ms();
}

/* ---- channels ---- */

schan *conn_chan_find(sconn *c, uint32_t id)
{
    for (schan *ch = c->chans; ch; ch = ch->next)
        if (ch->id == id)
            return ch;
    return NULL;
}

schan *conn_chan_add(sconn *c, uint32_t id, chan_type type)
{
    schan *ch = calloc(1, sizeof(*ch));
    if (!ch)
        return NULL;
    ch->c = c;
    ch->id = id;
    ch->type = type;
    ch->send_window = c->initial_window;
    ch->next = c->chans;
    c->chans = ch;
    return ch;
}

void conn_chan_remove(sconn *c, schan *ch)
{
    for (schan **pp = &c->chans; *pp; pp = &(*pp)->next)
        if (*pp == ch) {
            *pp = ch->next;
            break;
        }
    sbuf_free(&ch->in);
    free(ch);
}

/* ---- writing ---- */

typedef struct wreq {
    uv_write_t req;
    sconn *c;
    uint8_t *data;
    size_t len;
} wreq;

static void on_shutdown(uv_shutdown_t *req, int status)
{
    free(req);
}

static void maybe_shutdown(sconn *c)
{
    if (c->finishing && c->out_pending == 0 && !c->closing) {
        uv_shutdown_t *req = calloc(1, sizeof(*req));
        if (!req || uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
            free(req);
            conn_abort(c, "shutdown failed");
        }
        c->finishing = false; /* the shutdown is issued once */
        c->last_active = now_ms();
    }
}

static void on_written(uv_write_t *req, int status)
{
    wreq *w = (wreq *)req;
    sconn *c = w->c;
    size_t before = c->out_pending;
    c->out_pending -= w->len;
    free(w->data);
    free(w);
    if (status < 0) {
        conn_abort(c, "write failed");
        return;
    }
    if (c->closing)
        return;
    if (before > CONN_OUT_LOW && c->out_pending <= CONN_OUT_LOW && c->sess)
        session_kick(c);
    maybe_shutdown(c);
}

/* Bytes to the socket as they are (TLS records, or plain HTTP). */
int conn_write_raw(sconn *c, uint8_t *data, size_t len)
{
    if (c->closing) {
        free(data);
        return -1;
    }
    wreq *w = calloc(1, sizeof(*w));
    if (!w) {
        free(data);
        return -1;
    }
    w->c = c;
    w->data = data;
    w->len = len;
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
        free(data);
        free(w);
        conn_abort(c, "write failed");
        return -1;
    }
    c->out_pending += len;
    return 0;
}

static int write_owned(sconn *c, uint8_t *data, size_t len)
{
    return conn_write_raw(c, data, len);
}

int conn_write(sconn *c, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    uint8_t *copy = malloc(len);
    if (!copy)
        return -1;
    memcpy(copy, data, len);
    return write_owned(c, copy, len);
}

int conn_write_buf(sconn *c, sbuf *b)
{
    size_t len;
    uint8_t *data = sbuf_steal(b, &len);
    if (len == 0) {
        free(data);
        return 0;
    }
    return write_owned(c, data, len);
}

void conn_finish(sconn *c)
{
    if (c->closing)
        return;
    c->finishing = true;
    c->done = true;
    conn_touch(c);
    maybe_shutdown(c);
}

/* ---- reading ---- */

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    sconn *c = h->data;
    sbuf *b = &c->in;
    if (sbuf_reserve(b, 65536) < 0) {
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    buf->base = (char *)b->data + b->len;
    buf->len = b->cap - b->len;
}

static bool buffers_full(sconn *c)
{
    for (schan *ch = c->chans; ch; ch = ch->next)
        if (sbuf_avail(&ch->in) >= c->srv->opts.max_stream_buffer)
            return true;
    return false;
}

void conn_check_read(sconn *c)
{
    if (c->closing || !c->read_paused || buffers_full(c))
        return;
    c->read_paused = false;
    /* Everything read so far was processed before the pause (frames are
     * handled as they arrive), so resuming the socket is enough; processing
     * here would re-enter the session from inside its own callbacks. */
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void pause_if_full(sconn *c)
{
    if (!c->closing && !c->read_paused && buffers_full(c)) {
        c->read_paused = true;
        uv_read_stop((uv_stream_t *)&c->tcp);
    }
}

static void http_reply(sconn *c, int code, const char *reason, const char *extra_headers,
                       const char *body)
{
    char head[1024];
    size_t blen = strlen(body);
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\n%sConnection: close\r\n\r\n",
                     code, reason, blen + 1, extra_headers ? extra_headers : "");
    sbuf b = {0};
    sbuf_append(&b, head, (size_t)n);
    sbuf_append(&b, body, blen);
    sbuf_append(&b, "\n", 1);
    conn_write_buf(c, &b);
    sbuf_free(&b);
    sbuf_consume(&c->in, sbuf_avail(&c->in));
    conn_finish(c);
}

static bool first_value(const char *value, size_t len, void *arg)
{
    return true;
}

typedef struct negotiate {
    const char *const *server; /* supported, NULL-terminated */
    const char *chosen;
    char offered[512];
    size_t off_len;
} negotiate;

static bool negotiate_one(const char *value, size_t len, void *arg)
{
    negotiate *n = arg;
    if (n->off_len + len + 2 < sizeof(n->offered)) {
        if (n->off_len)
            n->offered[n->off_len++] = ' ';
        memcpy(n->offered + n->off_len, value, len);
        n->off_len += len;
        n->offered[n->off_len] = '\0';
    }
    for (const char *const *s = n->server; *s; s++)
        if (strlen(*s) == len && strncmp(*s, value, len) == 0) {
            n->chosen = *s;
            return true;
        }
    return false;
}

static const char *const spdy_exec_protocols[] = {"v4.channel.k8s.io", "v3.channel.k8s.io",
                                                  "v2.channel.k8s.io", "channel.k8s.io", NULL};
static const char *const spdy_pf_protocols[] = {"portforward.k8s.io", NULL};
static const char *const ws_exec_protocols[] = {"v5.channel.k8s.io",        "v4.channel.k8s.io",
                                                "v4.base64.channel.k8s.io", "channel.k8s.io",
                                                "base64.channel.k8s.io",    NULL};
static const char *const ws_pf_protocols[] = {"v4.channel.k8s.io", "v4.base64.channel.k8s.io",
                                              NULL};

static int protocol_version(const char *p)
{
    if (strncmp(p, "v5.", 3) == 0)
        return 5;
    if (strncmp(p, "v4.", 3) == 0)
        return 4;
    if (strncmp(p, "v3.", 3) == 0)
        return 3;
    if (strncmp(p, "v2.", 3) == 0)
        return 2;
    return 1;
}

static void join_list(const char *const *list, char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    for (const char *const *s = list; *s; s++)
        n += (size_t)snprintf(out + n, n < size ? size - n : 0, "%s%s", n ? " " : "", *s);
}

static int upgrade_spdy(sconn *c, const http_req *req)
{
    bool pf = c->req->kind == STREAM_PORTFORWARD;
    negotiate n = {.server = pf ? spdy_pf_protocols : spdy_exec_protocols};
    bool offered = http_each_value(req, "X-Stream-Protocol-Version", first_value, NULL);
    if (offered && !http_each_value(req, "X-Stream-Protocol-Version", negotiate_one, &n)) {
        char server[256], extra[512], body[1024];
        join_list(n.server, server, sizeof(server));
        size_t e = 0;
        extra[0] = '\0';
        for (const char *const *s = n.server; *s; s++)
            e += (size_t)snprintf(extra + e, sizeof(extra) - e,
                                  "X-Accepted-Stream-Protocol-Versions: %s\r\n", *s);
        snprintf(body, sizeof(body),
                 "unable to upgrade: unable to negotiate protocol: client supports [%s], "
                 "server accepts [%s]",
                 n.offered, server);
        http_reply(c, 403, "Forbidden", extra, body);
        return -1;
    }
    c->protocol = n.chosen ? n.chosen : "";
    c->version = pf ? 0 : (n.chosen ? protocol_version(n.chosen) : 1);
    if (spdy_zip_init(&c->zip, 64 * 1024) < 0) {
        http_reply(c, 500, "Internal Server Error", NULL, "out of memory");
        return -1;
    }
    c->zip_ok = true;
    c->initial_window = SPDY_DEFAULT_WINDOW;
    char resp[512];
    int len = snprintf(resp, sizeof(resp),
                       "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                       "Upgrade: SPDY/3.1\r\n%s%s%s\r\n",
                       c->protocol[0] ? "X-Stream-Protocol-Version: " : "", c->protocol,
                       c->protocol[0] ? "\r\n" : "");
    conn_write(c, resp, (size_t)len);
    c->proto = P_SPDY;
    return 0;
}

static int upgrade_ws(sconn *c, const http_req *req)
{
    bool pf = c->req->kind == STREAM_PORTFORWARD;
    const char *key = http_get(req, "Sec-WebSocket-Key");
    const char *version = http_get(req, "Sec-WebSocket-Version");
    if (!key || strlen(key) != 24 || !version || strcmp(version, "13") != 0) {
        http_reply(c, 400, "Bad Request", "Sec-WebSocket-Version: 13\r\n",
                   "websocket upgrade needs Sec-WebSocket-Key and Sec-WebSocket-Version 13");
        return -1;
    }
    negotiate n = {.server = pf ? ws_pf_protocols : ws_exec_protocols};
    bool offered = http_each_value(req, "Sec-WebSocket-Protocol", first_value, NULL);
    if (offered && !http_each_value(req, "Sec-WebSocket-Protocol", negotiate_one, &n)) {
        char server[256], body[1024];
        join_list(n.server, server, sizeof(server));
        snprintf(body, sizeof(body),
                 "unable to upgrade: requested websocket protocols [%s] are not supported; "
                 "server accepts [%s]",
                 n.offered, server);
        http_reply(c, 403, "Forbidden", NULL, body);
        return -1;
    }
    c->protocol = n.chosen ? n.chosen : "";
    c->version = n.chosen ? protocol_version(n.chosen) : 1;
    c->ws_base64 = strstr(c->protocol, "base64") != NULL;
    if (ws_start(c, key) < 0) {
        http_reply(c, 500, "Internal Server Error", NULL, "websocket setup failed");
        return -1;
    }
    c->proto = P_WS;
    return 0;
}

static int parse_port(const char *value, void *arg)
{
    stream_request *r = arg;
    const char *p = value;
    while (*p) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(p, &end, 10);
        if (end == p || errno || v < 1 || v > 65535 || (*end && *end != ','))
            return -1;
        if (r->n_ports >= 64)
            return -1;
        int32_t *np = realloc(r->ports, (r->n_ports + 1) * sizeof(int32_t));
        if (!np)
            return -1;
        r->ports = np;
        r->ports[r->n_ports++] = (int32_t)v;
        p = *end ? end + 1 : end;
    }
    return 0;
}

static void handle_request(sconn *c, http_req *req)
{
    stream_server *s = c->srv;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0) {
        http_reply(c, 405, "Method Not Allowed", "Allow: GET, POST\r\n",
                   "streaming endpoints take GET or POST");
        return;
    }
    stream_kind kind;
    const char *token;
    if (strncmp(req->path, "/exec/", 6) == 0) {
        kind = STREAM_EXEC;
        token = req->path + 6;
    } else if (strncmp(req->path, "/attach/", 8) == 0) {
        kind = STREAM_ATTACH;
        token = req->path + 8;
    } else if (strncmp(req->path, "/portforward/", 13) == 0) {
        kind = STREAM_PORTFORWARD;
        token = req->path + 13;
    } else {
        http_reply(c, 404, "Not Found", NULL, "not found");
        return;
    }
    const char *upgrade = http_get(req, "Upgrade");
    bool is_ws = upgrade && http_has_token(req, "Upgrade", "websocket");
    bool is_spdy = upgrade && strcasecmp(upgrade, "SPDY/3.1") == 0;
    if (s->n_sessions >= s->opts.max_sessions) {
        http_reply(c, 503, "Service Unavailable", "Retry-After: 1\r\n",
                   "too many streaming sessions");
        return;
    }
    /* The token is redeemed before the upgrade is checked, as the kubelet does:
     * a URL works once, whatever the request made of it. */
    c->req = token_take(s->tokens, token, kind, now_ms());
    if (!c->req) {
        log_info("stream", "%s request with an unknown, used or expired token",
                 stream_kind_name(kind));
        http_reply(c, 404, "Not Found", NULL, "unknown, used or expired streaming token");
        return;
    }
    if ((!is_ws && !is_spdy) || !http_has_token(req, "Connection", "upgrade")) {
        http_reply(c, 400, "Bad Request", NULL,
                   "streaming needs an upgrade to SPDY/3.1 or websocket "
                   "(Connection: Upgrade, Upgrade: SPDY/3.1|websocket)");
        return;
    }
    if (kind == STREAM_PORTFORWARD && is_ws && c->req->n_ports == 0 &&
        http_query_each(req->query, "port", parse_port, c->req) < 0) {
        http_reply(c, 400, "Bad Request", NULL, "bad port query parameter");
        return;
    }
    if (kind == STREAM_PORTFORWARD && is_ws && c->req->n_ports == 0) {
        http_reply(c, 400, "Bad Request", NULL, "query parameter \"port\" is required");
        return;
    }
    int rc = is_ws ? upgrade_ws(c, req) : upgrade_spdy(c, req);
    if (rc < 0)
        return;
    c->counted = true;
    s->n_sessions++;
    conn_touch(c);
    log_info("stream", "%s %s upgraded to %s (%s)", stream_kind_name(kind), c->req->id,
             is_ws ? "websocket" : "SPDY/3.1", c->protocol[0] ? c->protocol : "no subprotocol");
    if (session_open(c) < 0) {
        conn_abort(c, "session setup failed");
        return;
    }
    if (sbuf_avail(&c->in) > 0) {
        if (c->proto == P_SPDY)
            spdy_on_input(c);
        else
            ws_on_input(c);
    }
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    sconn *c = stream->data;
    if (nread == UV_ENOBUFS) {
        conn_abort(c, "out of memory");
        return;
    }
    if (nread < 0) {
        conn_abort(c, nread == UV_EOF ? "client closed" : uv_strerror((int)nread));
        return;
    }
    if (nread == 0)
        return;
    c->in.len += (size_t)nread;
    if (c->closing || sbuf_avail(&c->in) == 0)
        return;
    conn_touch(c);
    if (c->finishing || (c->proto == P_HTTP && c->req)) {
        /* After the response or goodbye: discard until the client closes. */
        sbuf_consume(&c->in, sbuf_avail(&c->in));
        return;
    }
    switch (c->proto) {
    case P_HTTP: {
        http_req req;
        size_t used = 0;
        const char *why;
        int rc = http_parse_request((const char *)sbuf_head(&c->in), sbuf_avail(&c->in), MAX_HEAD,
                                    &req, &used, &why);
        if (rc == HTTP_PARSE_NEED_MORE)
            return;
        if (rc == HTTP_PARSE_TOO_LARGE) {
            http_reply(c, 431, "Request Header Fields Too Large", NULL, why);
            return;
        }
        if (rc == HTTP_PARSE_ERROR) {
            log_debug("stream", "bad HTTP request: %s", why);
            char body[256];
            snprintf(body, sizeof(body), "malformed request: %s", why);
            http_reply(c, 400, "Bad Request", NULL, body);
            return;
        }
        sbuf_consume(&c->in, used);
        handle_request(c, &req);
        http_req_free(&req);
        break;
    }
    case P_SPDY:
        spdy_on_input(c);
        break;
    case P_WS:
        ws_on_input(c);
        break;
    }
    if (!c->closing)
        pause_if_full(c);
}

static void on_tick(uv_timer_t *t)
{
    sconn *c = t->data;
    stream_server *s = c->srv;
    uint64_t now = now_ms();
    uint64_t quiet = now - c->last_active;
    if (c->proto == P_HTTP && !c->req && quiet > (uint64_t)s->opts.request_timeout_s * 1000) {
        conn_abort(c, "request head timed out");
    } else if ((c->finishing || c->out_pending == 0) && c->proto == P_HTTP && c->req &&
               quiet > GRACEFUL_CLOSE_MS) {
        conn_abort(c, "response sent");
    } else if (c->proto != P_HTTP && session_expects_more_streams(c) &&
               quiet > (uint64_t)s->opts.stream_creation_timeout_s * 1000) {
        log_warn("stream", "%s %s: timed out waiting for the client to create streams",
                 stream_kind_name(c->req->kind), c->req->id);
        conn_abort(c, "stream creation timed out");
    } else if (c->proto != P_HTTP && quiet > (uint64_t)s->opts.idle_timeout_s * 1000) {
        log_info("stream", "%s %s: idle for %us, closing", stream_kind_name(c->req->kind),
                 c->req->id, s->opts.idle_timeout_s);
        conn_abort(c, "idle timeout");
    } else if (c->proto != P_HTTP && (c->done || !c->sess) && quiet > GRACEFUL_CLOSE_MS) {
        conn_abort(c, "session over");
    }
}

static sconn *conn_new(stream_server *s)
{
    sconn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->srv = s;
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    c->handles = 2;
    uv_timer_init(s->loop, &c->timer);
    c->timer.data = c;
    c->next = s->conns;
    s->conns = c;
    s->n_conns++;
    return c;
}

static void conn_begin(sconn *c)
{
    conn_touch(c);
    uv_timer_start(&c->timer, on_tick, 1000, 1000);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_connection(uv_stream_t *server, int status)
{
    stream_server *s = server->data;
    if (status < 0 || s->closing)
        return;
    sconn *c = conn_new(s);
    if (!c)
        return;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
        s->n_conns > 4 * s->opts.max_sessions + 64) {
        conn_abort(c, "accept refused");
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    conn_begin(c);
}

void stream_server_adopt(stream_server *s, int fd)
{
    if (s->closing) {
        close(fd);
        return;
    }
    sconn *c = conn_new(s);
    if (!c) {
        close(fd);
        return;
    }
    if (uv_tcp_open(&c->tcp, fd) != 0) {
        close(fd);
        conn_abort(c, "adopt refused");
        return;
    }
    if (s->n_conns > 4 * s->opts.max_sessions + 64) {
        conn_abort(c, "accept refused");
        return;
    }
    conn_begin(c);
}

/* ---- server ---- */

int stream_server_new(stream_server **out, uv_loop_t *loop, const stream_server_opts *opts,
                      const stream_backend *backend, cric_err *err)
{
    stream_server *s = calloc(1, sizeof(*s));
    if (!s)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "streaming: out of memory");
    s->loop = loop;
    s->opts = *opts;
    s->address = strdup(opts->address ? opts->address : "127.0.0.1");
    s->opts.address = s->address;
    s->opts.tls_cert = s->opts.tls_key = "";
    s->be = *backend;
    s->tokens = token_store_new(4096);
    if (!s->address || !s->tokens) {
        stream_server_free(s);
        return cric_err_set(err, CRIC_ERR_RESOURCE, "streaming: out of memory");
    }
    struct sockaddr_storage ss;
    bool v6 = strchr(s->address, ':') != NULL;
    int rc = v6 ? uv_ip6_addr(s->address, (int)opts->port, (struct sockaddr_in6 *)&ss)
                : uv_ip4_addr(s->address, (int)opts->port, (struct sockaddr_in *)&ss);
    if (rc != 0) {
        stream_server_free(s);
        return cric_err_set(err, CRIC_ERR_INVALID, "streaming.address %s: not an IP address",
                            opts->address);
    }
    if (opts->tls_cert && opts->tls_cert[0]) {
        /* TLS: the helper cric-tls accepts and decrypts, and hands each
         * connection over as a plain socket (tls.c). */
        int port = 0;
        s->tls = tls_proxy_start(s, (struct sockaddr *)&ss, opts->tls_cert,
                                 opts->tls_key ? opts->tls_key : "", &port, err);
        if (!s->tls) {
            s->closing = true;
            *out = s;
            return -1;
        }
        snprintf(s->base_url, sizeof(s->base_url), v6 ? "https://[%s]:%d" : "https://%s:%d",
                 s->address, port);
        log_info("stream", "streaming server listening on %s (TLS by cric-tls)", s->base_url);
        *out = s;
        return 0;
    }
    uv_tcp_init(loop, &s->tcp);
    s->tcp.data = s;
    s->listening = true;
    rc = uv_tcp_bind(&s->tcp, (struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->tcp, 128, on_connection);
    if (rc != 0) {
        cric_err_set(err, CRIC_ERR_UNAVAILABLE, "streaming: listen on %s port %u: %s", s->address,
                     opts->port, uv_strerror(rc));
        s->closing = true;
        uv_close((uv_handle_t *)&s->tcp, NULL);
        /* The handle closes on the next loop iteration; the caller runs the
         * loop before exiting, and s must outlive that. */
        s->listening = false;
        *out = s;
        return -1;
    }
    struct sockaddr_storage bound;
    int blen = sizeof(bound);
    uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&bound, &blen);
    int port = ntohs(v6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                        : ((struct sockaddr_in *)&bound)->sin_port);
    const char *scheme = "http";
    snprintf(s->base_url, sizeof(s->base_url), v6 ? "%s://[%s]:%d" : "%s://%s:%d", scheme,
             s->address, port);
    log_info("stream", "streaming server listening on %s", s->base_url);
    *out = s;
    return 0;
}

static void on_listener_closed(uv_handle_t *h)
{
    stream_server *s = h->data;
    s->listening = false;
    stream_server_maybe_done(s);
}

static void on_tls_closed(void *arg)
{
    stream_server *s = arg;
    s->listening = false;
    stream_server_maybe_done(s);
}

void stream_server_shutdown(stream_server *s, void (*done)(void *arg), void *arg)
{
    s->done = done;
    s->done_arg = arg;
    if (s->closing) {
        stream_server_maybe_done(s);
        return;
    }
    s->closing = true;
    if (s->listening)
        uv_close((uv_handle_t *)&s->tcp, on_listener_closed);
    if (s->tls) {
        s->listening = true; /* until the control socket's handle is closed */
        tls_proxy_stop(s->tls, on_tls_closed, s);
    }
    for (sconn *c = s->conns; c; c = c->next)
        conn_abort(c, "server shutting down");
    stream_server_maybe_done(s);
}

void stream_server_free(stream_server *s)
{
    if (!s)
        return;
    token_store_free(s->tokens);
    tls_proxy_free(s->tls);
    free(s->address);
    free(s);
}

const char *stream_server_base_url(const stream_server *s)
{
    return s->base_url;
}

static int validate(stream_server *s, const stream_request *req, cric_err *err)
{
    const char *what = req->kind == STREAM_PORTFORWARD ? "pod sandbox id" : "container id";
    if (!req->id || !req->id[0])
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: %s is empty", stream_kind_name(req->kind),
                            what);
    if (strlen(req->id) > 128 || strchr(req->id, '/'))
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: %s %.64s... is malformed",
                            stream_kind_name(req->kind), what, req->id);
    if (req->kind == STREAM_PORTFORWARD) {
        if (req->n_ports > 64)
            return cric_err_set(err, CRIC_ERR_INVALID, "port-forward %s: %zu ports (at most 64)",
                                req->id, req->n_ports);
        for (size_t i = 0; i < req->n_ports; i++)
            if (req->ports[i] < 1 || req->ports[i] > 65535)
                return cric_err_set(err, CRIC_ERR_INVALID,
                                    "port-forward %s: port %d is out of range", req->id,
                                    (int)req->ports[i]);
        char *netns = NULL;
        if (!s->be.portforward_netns)
            return cric_err_set(err, CRIC_ERR_UNIMPLEMENTED, "port-forward is not available");
        if (s->be.portforward_netns(s->be.ctx, req->id, &netns, err) < 0)
            return -1;
        free(netns);
        return 0;
    }
    if (req->tty && req->stderr_)
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "%s %s: tty and stderr cannot both be set (a terminal merges stderr "
                            "into stdout)",
                            stream_kind_name(req->kind), req->id);
    if (req->kind == STREAM_EXEC) {
        if (!req->stdout_ && !req->stderr_)
            return cric_err_set(err, CRIC_ERR_INVALID,
                                "exec %s: one of stdout or stderr must be set", req->id);
        if (req->n_cmd == 0 || !req->cmd[0][0])
            return cric_err_set(err, CRIC_ERR_INVALID, "exec %s: cmd is empty", req->id);
        size_t total = 0;
        for (size_t i = 0; i < req->n_cmd; i++)
            total += strlen(req->cmd[i]) + 1;
        if (req->n_cmd > 4096 || total > 1024 * 1024)
            return cric_err_set(err, CRIC_ERR_INVALID, "exec %s: command too long", req->id);
    } else if (!req->stdin_ && !req->stdout_ && !req->stderr_) {
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "attach %s: one of stdin, stdout or stderr must be set", req->id);
    }
    if (!s->be.container_check)
        return cric_err_set(err, CRIC_ERR_UNIMPLEMENTED, "%s is not available",
                            stream_kind_name(req->kind));
    return s->be.container_check(s->be.ctx, req->id, err);
}

int stream_server_url(stream_server *s, const stream_request *req, char **url, cric_err *err)
{
    if (validate(s, req, err) < 0)
        return -1;
    stream_request *copy = stream_request_dup(req);
    if (!copy)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "streaming: out of memory");
    char token[STREAM_TOKEN_LEN + 1];
    if (token_put(s->tokens, copy, now_ms(), (uint64_t)s->opts.token_ttl_s * 1000, token, err) < 0)
        return -1;
    size_t n = strlen(s->base_url) + 64;
    *url = malloc(n);
    if (!*url)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "streaming: out of memory");
    snprintf(*url, n, "%s/%s/%s", s->base_url, stream_kind_name(req->kind), token);
    return 0;
}
