/* Port-forward sessions: every forwarded connection is a pair of channels
 * (data and error) for one port; each pair gets its own TCP connection made
 * inside the pod's network namespace by a short-lived thread (setns affects
 * only the calling thread). A port nobody listens on is reported on the pair's
 * error channel; the session and its other pairs carry on. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stream/session.h"
#include "util/log.h"

#define MAX_PAIRS 1024

/* ---- connecting inside the pod ---- */

typedef struct dial_job {
    const char *netns; /* "" = the daemon's own namespace */
    int port;
    int fd;
    char msg[400];
} dial_job;

static int dial_one(int family, int port, int *err_out)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err_out = errno;
        return -1;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*a);
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        a->sin6_addr = in6addr_loopback;
        len = sizeof(*a);
    }
    int rc;
    do
        rc = connect(fd, (struct sockaddr *)&ss, len);
    while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        *err_out = errno;
        close(fd);
        return -1;
    }
    return fd;
}

static void *dial_thread(void *arg)
{
    dial_job *j = arg;
    j->fd = -1;
    if (j->netns[0]) {
        int nsfd = open(j->netns, O_RDONLY | O_CLOEXEC);
        if (nsfd < 0) {
            snprintf(j->msg, sizeof(j->msg), "open network namespace %s: %s", j->netns,
                     strerror(errno));
            return NULL;
        }
        if (setns(nsfd, CLONE_NEWNET) < 0) {
            snprintf(j->msg, sizeof(j->msg), "enter network namespace %s: %s", j->netns,
                     strerror(errno));
            close(nsfd);
            return NULL;
        }
        close(nsfd);
    }
    /* localhost: IPv4 first, then IPv6, like a dial of "localhost:port". */
    int e4 = 0, e6 = 0;
    j->fd = dial_one(AF_INET, j->port, &e4);
    if (j->fd < 0)
        j->fd = dial_one(AF_INET6, j->port, &e6);
    if (j->fd < 0)
        snprintf(j->msg, sizeof(j->msg), "dial tcp 127.0.0.1:%d: connect: %s (and [::1]:%d: %s)",
                 j->port, strerror(e4), j->port, strerror(e6));
    return NULL;
}

static void dial_work(uv_work_t *w)
{
    pfpair *pr = w->data;
    session *s = pr->s;
    const stream_backend *be = &s->srv->be;
    pr->fd = -1;
    char *netns = NULL;
    cric_err err = {0};
    if (!be->portforward_netns) {
        snprintf(pr->msg, sizeof(pr->msg), "port-forward is not available");
        return;
    }
    if (be->portforward_netns(be->ctx, s->req->id, &netns, &err) < 0) {
        snprintf(pr->msg, sizeof(pr->msg), "%s", err.msg);
        return;
    }
    dial_job j = {.netns = netns ? netns : "", .port = pr->port};
    pthread_t t;
    /* A dedicated thread: setns(CLONE_NEWNET) must not leak into the pool. */
    int rc = pthread_create(&t, NULL, dial_thread, &j);
    if (rc != 0) {
        snprintf(pr->msg, sizeof(pr->msg), "start the connect thread: %s", strerror(rc));
    } else {
        pthread_join(t, NULL);
        pr->fd = j.fd;
        if (j.fd < 0)
            snprintf(pr->msg, sizeof(pr->msg), "%s", j.msg);
    }
    free(netns);
}

/* ---- pairs ---- */

static void pair_free(session *s, pfpair *pr)
{
    for (pfpair **pp = &s->pairs; *pp; pp = &(*pp)->next)
        if (*pp == pr) {
            *pp = pr->next;
            break;
        }
    if (pr->data)
        pr->data->pf = NULL;
    if (pr->err)
        pr->err->pf = NULL;
    free(pr->request_id);
    free(pr);
}

static bool chan_closed(schan *ch)
{
    return !ch || ((ch->local_fin || ch->reset) && (ch->remote_fin || ch->reset));
}

/* Drops a pair (and, on SPDY, its channels) once nothing refers to it.
 * Returns true when pr was freed. */
static bool pair_gc(session *s, pfpair *pr)
{
    if (pr->connecting || pr->pump)
        return false;
    if (!pr->failed && (!pr->data || !pr->err))
        return false; /* still waiting for its second stream */
    sconn *c = s->c;
    if (c && c->proto == P_SPDY) {
        if (!chan_closed(pr->data) || !chan_closed(pr->err))
            return false;
        if (pr->data)
            conn_chan_remove(c, pr->data);
        if (pr->err)
            conn_chan_remove(c, pr->err);
        pr->data = pr->err = NULL;
    } else if (c) {
        return false; /* WebSocket channels live as long as the connection */
    }
    pair_free(s, pr);
    return true;
}

/* Nothing will read this channel's data any more: drop it as it comes. */
static void drop_input(schan *ch)
{
    ch->reset = true;
    chan_consumed(ch, sbuf_avail(&ch->in));
}

static void fail_pair(session *s, pfpair *pr, const char *why)
{
    pr->failed = true;
    char msg[1400];
    snprintf(msg, sizeof(msg), "error forwarding port %d to pod %s, uid : %s", pr->port, s->req->id,
             why);
    log_info("stream", "%s", msg);
    if (pr->err) {
        chan_send(pr->err, msg, strlen(msg), true);
    }
    if (pr->data && s->c && s->c->proto == P_SPDY)
        chan_send(pr->data, NULL, 0, true);
    else if (pr->data)
        drop_input(pr->data);
}

static void dial_done(uv_work_t *w, int status)
{
    pfpair *pr = w->data;
    session *s = pr->s;
    pr->connecting = false;
    if (s->gone) {
        if (pr->fd >= 0)
            close(pr->fd);
        pair_free(s, pr);
        session_unref(s);
        return;
    }
    if (pr->fd < 0) {
        fail_pair(s, pr, pr->msg);
    } else {
        pr->pump = pump_new(s, pr->fd, pr->data, pr->data, true, false);
        if (!pr->pump) {
            close(pr->fd);
            fail_pair(s, pr, "out of memory");
        } else {
            pump_try_write(pr->pump);
        }
    }
    pair_gc(s, pr);
    session_unref(s);
}

static void connect_pair(session *s, pfpair *pr)
{
    pr->connecting = true;
    pr->work.data = pr;
    s->pending++;
    if (uv_queue_work(s->srv->loop, &pr->work, dial_work, dial_done) != 0) {
        s->pending--;
        pr->connecting = false;
        fail_pair(s, pr, "cannot queue the connect");
    }
}

static pfpair *pair_new(session *s, const char *request_id, int port)
{
    size_t n = 0;
    for (pfpair *p = s->pairs; p; p = p->next)
        n++;
    if (n >= MAX_PAIRS)
        return NULL;
    pfpair *pr = calloc(1, sizeof(*pr));
    if (!pr)
        return NULL;
    pr->s = s;
    pr->port = port;
    pr->fd = -1;
    pr->request_id = strdup(request_id ? request_id : "");
    if (!pr->request_id) {
        free(pr);
        return NULL;
    }
    pr->next = s->pairs;
    s->pairs = pr;
    return pr;
}

void pf_open_ws(session *s)
{
    sconn *c = s->c;
    for (size_t i = 0; i < s->req->n_ports; i++) {
        int port = s->req->ports[i];
        pfpair *pr = pair_new(s, "", port);
        if (!pr)
            break;
        pr->data = conn_chan_add(c, (uint32_t)(2 * i), CH_PF_DATA);
        pr->err = conn_chan_add(c, (uint32_t)(2 * i + 1), CH_PF_ERROR);
        if (!pr->data || !pr->err)
            break;
        pr->data->pf = pr->err->pf = pr;
        /* Each channel starts with its port, little-endian. */
        uint8_t le[2] = {(uint8_t)(port & 0xff), (uint8_t)(port >> 8)};
        ws_send(c, pr->data, le, 2, false);
        ws_send(c, pr->err, le, 2, false);
        connect_pair(s, pr);
    }
}

void pf_chan_opened(session *s, schan *ch, const spdy_headers *h)
{
    const char *port_s = spdy_headers_get(h, "port");
    const char *rid = spdy_headers_get(h, "requestid");
    char fallback[32];
    if (!rid || !rid[0]) {
        /* Old clients: streams of one request have consecutive odd ids, error first. */
        snprintf(fallback, sizeof(fallback), "%u", ch->type == CH_PF_ERROR ? ch->id : ch->id - 2);
        rid = fallback;
    }
    char *end = NULL;
    long port = port_s ? strtol(port_s, &end, 10) : -1;
    bool port_ok = port_s && end && *end == '\0' && port >= 1 && port <= 65535;
    pfpair *pr = NULL;
    for (pfpair *p = s->pairs; p; p = p->next)
        if (strcmp(p->request_id, rid) == 0 && !p->failed && !p->pump && !p->connecting) {
            pr = p;
            break;
        }
    if (!pr) {
        pr = pair_new(s, rid, port_ok ? (int)port : 0);
        if (!pr) {
            ch->reset = ch->local_fin = ch->remote_fin = true;
            sbuf b = {0};
            spdy_put_rst(&b, ch->id, SPDY_REFUSED_STREAM);
            conn_write_buf(s->c, &b);
            sbuf_free(&b);
            return;
        }
    }
    if (ch->type == CH_PF_DATA && !pr->data)
        pr->data = ch;
    else if (ch->type == CH_PF_ERROR && !pr->err)
        pr->err = ch;
    else {
        ch->reset = ch->local_fin = ch->remote_fin = true;
        return;
    }
    ch->pf = pr;
    if (!port_ok) {
        if (pr->data && pr->err) {
            char why[128];
            snprintf(why, sizeof(why), "invalid port header %s", port_s ? port_s : "(missing)");
            fail_pair(s, pr, why);
            pair_gc(s, pr);
        }
        return;
    }
    if (pr->data && pr->err && !pr->failed)
        connect_pair(s, pr);
}

/* Closes a pair's socket once both directions are finished; then the pair
 * may go too (returns true when pr was freed). */
static bool pair_check_pump(session *s, pfpair *pr)
{
    pump *p = pr->pump;
    if (!p || !p->rd_eof)
        return false;
    /* WebSocket channels have no half-close: the pod's EOF ends the pair. */
    bool ws = s->c && s->c->proto == P_WS;
    if (!ws && !p->wr_done && pr->data && !pr->data->remote_fin && !pr->data->reset)
        return false;
    pr->pump = NULL;
    pump_close(p);
    if (ws && pr->data)
        drop_input(pr->data);
    return pair_gc(s, pr);
}

void pf_chan_fin(session *s, schan *ch)
{
    pfpair *pr = ch->pf;
    if (!pr)
        return;
    if (pr->pump && ch == pr->data)
        pump_try_write(pr->pump);
    if (!pair_check_pump(s, pr))
        pair_gc(s, pr);
}

void pf_pump_done(session *s, pump *p)
{
    for (pfpair *pr = s->pairs; pr; pr = pr->next) {
        if (pr->pump != p)
            continue;
        /* The pod closed its side: finish the error channel too; the socket
         * closes once the client is done sending as well. */
        if (pr->err && !pr->err->local_fin)
            chan_send(pr->err, NULL, 0, true);
        pair_check_pump(s, pr);
        return;
    }
}

void pf_detach(session *s)
{
    for (pfpair *pr = s->pairs, *next; pr; pr = next) {
        next = pr->next;
        pr->data = pr->err = NULL;
        pr->pump = NULL; /* session_conn_gone closes every pump */
        if (!pr->connecting)
            pair_free(s, pr);
    }
}
