/* Exec and attach sessions, and the fd pumps every session uses. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "stream/session.h"
#include "stream/status.h"
#include "util/log.h"

#define EXIT_GRACE_MS 2000
#define RESIZE_MAX 4096

static void session_check_done(session *s);

/* ---- lifetime ---- */

static void session_free(session *s)
{
    stream_server *srv = s->srv;
    for (session **pp = &srv->orphans; *pp; pp = &(*pp)->next_orphan)
        if (*pp == s) {
            *pp = s->next_orphan;
            break;
        }
    if ((s->started || s->proc.handle) && srv->be.release)
        srv->be.release(srv->be.ctx, &s->proc);
    stream_request_free(s->req);
    free(s);
    stream_server_maybe_done(srv);
}

void session_unref(session *s)
{
    if (--s->pending == 0 && s->gone)
        session_free(s);
}

static void on_closed_unref(uv_handle_t *h)
{
    session_unref(h->data);
}

/* ---- pumps ---- */

static void pump_cb(uv_poll_t *h, int status, int events);

pump *pump_new(session *s, int fd, schan *out, schan *in, bool sock, bool pty)
{
    pump *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->s = s;
    p->fd = fd;
    p->has_out = out != NULL;
    p->out = out;
    p->in = in;
    p->sock = sock;
    p->pty = pty;
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    if (uv_poll_init(s->srv->loop, &p->poll, fd) != 0) {
        free(p);
        return NULL;
    }
    p->poll.data = p;
    s->pending++;
    p->next = s->pumps;
    s->pumps = p;
    return p;
}

static void on_pump_closed(uv_handle_t *h)
{
    pump *p = h->data;
    session *s = p->s;
    close(p->fd);
    free(p->rbuf);
    for (pump **pp = &s->pumps; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    free(p);
    session_unref(s);
}

void pump_close(pump *p)
{
    if (p->closing)
        return;
    p->closing = true;
    p->rd_eof = p->wr_done = true;
    uv_poll_stop(&p->poll);
    uv_close((uv_handle_t *)&p->poll, on_pump_closed);
}

void pump_update(pump *p)
{
    if (p->closing)
        return;
    int want = 0;
    if (p->has_out && !p->rd_eof && (!p->out || chan_room(p->out) > 0))
        want |= UV_READABLE;
    if (p->in && !p->wr_done && sbuf_avail(&p->in->in) > 0)
        want |= UV_WRITABLE;
    if (want == p->events)
        return;
    p->events = want;
    if (want == 0)
        uv_poll_stop(&p->poll);
    else
        uv_poll_start(&p->poll, want, pump_cb);
}

/* The client will send nothing more for this fd: end the write side. */
static void pump_close_write(pump *p)
{
    if (p->wr_done)
        return;
    p->wr_done = true;
    if (p->sock)
        shutdown(p->fd, SHUT_WR);
    else if (!p->pty && !p->has_out)
        pump_close(p); /* a stdin pipe: closing it is the EOF */
}

void pump_try_write(pump *p)
{
    schan *in = p->in;
    while (!p->closing && in && !p->wr_done && sbuf_avail(&in->in) > 0) {
        ssize_t n = write(p->fd, sbuf_head(&in->in), sbuf_avail(&in->in));
        if (n > 0) {
            chan_consumed(in, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        /* EPIPE and friends: the reader is gone; drop what the client sends. */
        p->wr_done = true;
        chan_consumed(in, sbuf_avail(&in->in));
        if (!p->has_out && !p->sock && !p->pty)
            pump_close(p);
    }
    if (!p->closing && in && in->remote_fin && sbuf_avail(&in->in) == 0)
        pump_close_write(p);
    pump_update(p);
}

static void pump_out_eof(pump *p)
{
    p->rd_eof = true;
    session *s = p->s;
    if (s->req->kind == STREAM_PORTFORWARD) {
        if (p->out)
            chan_send(p->out, NULL, 0, true);
        pf_pump_done(s, p);
    } else if (!p->in) {
        pump_close(p);
    }
}

/* Reads what the fd has, up to READ_MAX and the channel's room, and sends it
 * as one write (several DATA frames or messages). */
#define READ_MAX (128u * 1024u)

static void pump_read(pump *p)
{
    if (!p->rbuf && !(p->rbuf = malloc(READ_MAX)))
        return;
    size_t room = p->out ? chan_room(p->out) : READ_MAX;
    if (room > READ_MAX)
        room = READ_MAX;
    if (room == 0)
        return;
    ssize_t n = read(p->fd, p->rbuf, room);
    if (n > 0) {
        if (p->out)
            chan_send(p->out, p->rbuf, (size_t)n, false);
        if (p->s->c)
            conn_touch(p->s->c);
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    /* 0 = EOF; EIO is a pty whose other side is closed. */
    pump_out_eof(p);
}

static void pump_cb(uv_poll_t *h, int status, int events)
{
    pump *p = h->data;
    session *s = p->s;
    if (status < 0) {
        if (!p->rd_eof && p->has_out)
            pump_out_eof(p);
        else
            pump_close(p);
    } else {
        if (events & (UV_READABLE | UV_DISCONNECT))
            pump_read(p);
        if (!p->closing && (events & UV_WRITABLE))
            pump_try_write(p);
    }
    if (!p->closing)
        pump_update(p);
    if (s->req->kind == STREAM_PORTFORWARD)
        return;
    session_check_done(s);
}

/* ---- process exit ---- */

static void on_pid_event(uv_poll_t *h, int status, int events)
{
    session *s = h->data;
    int ws = 0;
    pid_t r = waitpid(s->proc.pid, &ws, WNOHANG);
    if (r == 0 && status >= 0)
        return;
    if (r == s->proc.pid) {
        s->exit_code = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    } else {
        s->exit_code = -1;
    }
    s->exited = true;
    s->pid_watching = false;
    log_debug("stream", "%s: process %d reaped", s->req->id, (int)s->proc.pid);
    uv_poll_stop(&s->pid_poll);
    uv_close((uv_handle_t *)&s->pid_poll, on_closed_unref);
    close(s->pidfd);
    s->pidfd = -1;
    session_check_done(s);
}

static void on_grace(uv_timer_t *t)
{
    session *s = t->data;
    s->grace_expired = true;
    session_check_done(s);
}

static void watch_pid(session *s)
{
    s->pidfd = (int)syscall(SYS_pidfd_open, s->proc.pid, 0);
    if (s->pidfd < 0) {
        log_error("stream", "exec %s: pidfd_open(%d): %s; killing it", s->req->id, (int)s->proc.pid,
                  strerror(errno));
        kill(s->proc.pid, SIGKILL);
        waitpid(s->proc.pid, NULL, 0);
        s->exited = true;
        s->exit_code = -1;
        return;
    }
    uv_poll_init(s->srv->loop, &s->pid_poll, s->pidfd);
    s->pid_poll.data = s;
    s->pending++;
    s->pid_watching = true;
    uv_poll_start(&s->pid_poll, UV_READABLE, on_pid_event);
}

static void kill_proc(session *s)
{
    if (s->req->kind != STREAM_EXEC || !s->started || s->exited || s->proc.pid <= 0)
        return;
    if (s->srv->be.exec_kill)
        s->srv->be.exec_kill(s->srv->be.ctx, &s->proc);
    else
        kill(s->proc.pid, SIGKILL);
}

/* ---- ending ---- */

static schan *find_type(sconn *c, chan_type t)
{
    for (schan *ch = c->chans; ch; ch = ch->next)
        if (ch->type == t && !ch->reset)
            return ch;
    return NULL;
}

static void end_with(session *s, char *json_status, char *text_status)
{
    sconn *c = s->c;
    s->ended = true;
    if (c) {
        schan *err = find_type(c, CH_ERROR);
        if (err) {
            const char *msg = c->version >= 4 ? json_status : text_status;
            if (msg && msg[0])
                chan_send(err, msg, strlen(msg), false);
        }
        for (schan *ch = c->chans; ch; ch = ch->next)
            if (!ch->local_fin)
                chan_send(ch, NULL, 0, true);
        if (c->proto == P_SPDY)
            spdy_goodbye(c);
        else
            ws_goodbye(c);
    }
    free(json_status);
    free(text_status);
    for (pump *p = s->pumps; p; p = p->next)
        pump_close(p);
}

static void end_error(session *s, const char *what, const char *msg)
{
    size_t n = strlen(what) + strlen(msg) + 4;
    char *full = malloc(n);
    if (!full) {
        end_with(s, NULL, NULL);
        return;
    }
    snprintf(full, n, "%s: %s", what, msg);
    log_warn("stream", "%s %s: %s", stream_kind_name(s->req->kind), s->req->id, full);
    char *text = malloc(n + 32);
    if (text)
        snprintf(text, n + 32, "Internal error occurred: %s", full);
    end_with(s, k8s_status_internal(full), text);
    free(full);
}

static void session_check_done(session *s)
{
    if (s->gone || s->ended || !s->started)
        return;
    bool outputs_done = true;
    for (pump *p = s->pumps; p; p = p->next)
        if (p->has_out && !p->rd_eof)
            outputs_done = false;
    if (s->req->kind == STREAM_EXEC) {
        if (!s->exited)
            return;
        if (!outputs_done && !s->grace_expired) {
            if (!uv_is_active((uv_handle_t *)&s->grace))
                uv_timer_start(&s->grace, on_grace, EXIT_GRACE_MS, 0);
            return;
        }
        uv_timer_stop(&s->grace);
        log_info("stream", "exec %s: %s exited with %d", s->req->id, s->req->cmd[0], s->exit_code);
        if (s->exit_code == 0)
            end_with(s, k8s_status_success(), NULL);
        else
            end_with(s, k8s_status_exit_code(s->req->cmd, s->req->n_cmd, s->exit_code),
                     k8s_exit_message(s->req->cmd, s->req->n_cmd, s->exit_code));
        return;
    }
    /* attach: over when the container's output ends */
    bool any_out = false;
    for (pump *p = s->pumps; p; p = p->next)
        any_out |= p->has_out;
    if (any_out && outputs_done)
        end_with(s, k8s_status_success(), NULL);
}

/* ---- resize ---- */

static void apply_resize(session *s, uint16_t w, uint16_t h)
{
    if (!s->started || !s->req->tty)
        return;
    const stream_backend *be = &s->srv->be;
    if (be->resize) {
        be->resize(be->ctx, &s->proc, w, h);
    } else if (s->proc.pty_fd >= 0) {
        struct winsize ws = {.ws_row = h, .ws_col = w};
        ioctl(s->proc.pty_fd, TIOCSWINSZ, &ws);
    }
}

/* The resize stream carries JSON objects {"Width":80,"Height":24}, one after
 * another. Complete objects are applied; a partial one waits. */
static void handle_resize(session *s, schan *ch)
{
    for (;;) {
        const char *p = (const char *)sbuf_head(&ch->in);
        size_t n = sbuf_avail(&ch->in), i = 0;
        while (i < n && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t'))
            i++;
        if (i == n) {
            chan_consumed(ch, n);
            return;
        }
        if (p[i] != '{') {
            log_warn("stream", "%s: resize stream carries something other than JSON objects",
                     s->req->id);
            chan_consumed(ch, n);
            return;
        }
        size_t start = i;
        int depth = 0;
        bool in_str = false, esc = false, complete = false;
        for (; i < n; i++) {
            char c = p[i];
            if (in_str) {
                if (esc)
                    esc = false;
                else if (c == '\\')
                    esc = true;
                else if (c == '"')
                    in_str = false;
                continue;
            }
            if (c == '"')
                in_str = true;
            else if (c == '{')
                depth++;
            else if (c == '}' && --depth == 0) {
                complete = true;
                i++;
                break;
            }
        }
        if (!complete) {
            if (n > RESIZE_MAX)
                chan_consumed(ch, n);
            return;
        }
        json_error_t jerr;
        json_t *j = json_loadb(p + start, i - start, 0, &jerr);
        json_int_t w = -1, h = -1;
        if (j) {
            json_t *jw = json_object_get(j, "Width"), *jh = json_object_get(j, "Height");
            if (json_is_integer(jw) && json_is_integer(jh)) {
                w = json_integer_value(jw);
                h = json_integer_value(jh);
            }
            json_decref(j);
        }
        if (w >= 0 && w <= 65535 && h >= 0 && h <= 65535)
            apply_resize(s, (uint16_t)w, (uint16_t)h);
        else
            log_warn("stream", "%s: bad resize event", s->req->id);
        chan_consumed(ch, i);
    }
}

/* ---- starting ---- */

static void proc_init(stream_proc *p)
{
    memset(p, 0, sizeof(*p));
    p->pty_fd = p->stdin_fd = p->stdout_fd = p->stderr_fd = -1;
}

static void start_work(uv_work_t *w)
{
    session *s = w->data;
    const stream_backend *be = &s->srv->be;
    proc_init(&s->proc);
    if (!be->start)
        s->work_rc = cric_err_set(&s->work_err, CRIC_ERR_UNIMPLEMENTED,
                                  "streaming %s is not available", stream_kind_name(s->req->kind));
    else
        s->work_rc = be->start(be->ctx, s->req, &s->proc, &s->work_err);
    s->proc.kind = s->req->kind;
}

static void close_proc_fds(stream_proc *p)
{
    int *fds[] = {&p->pty_fd, &p->stdin_fd, &p->stdout_fd, &p->stderr_fd};
    for (size_t i = 0; i < 4; i++)
        if (*fds[i] >= 0) {
            close(*fds[i]);
            *fds[i] = -1;
        }
}

static void start_done(uv_work_t *w, int status)
{
    session *s = w->data;
    s->starting = false;
    log_debug("stream", "%s %s: started (rc %d)", stream_kind_name(s->req->kind), s->req->id,
              s->work_rc);
    if (s->work_rc < 0) {
        proc_init(&s->proc);
        if (!s->gone)
            end_error(s,
                      s->req->kind == STREAM_EXEC ? "error executing command in container"
                                                  : "error attaching to container",
                      s->work_err.msg);
        session_unref(s);
        return;
    }
    s->started = true;
    if (s->req->kind == STREAM_EXEC && s->proc.pid > 0)
        watch_pid(s);
    if (s->gone) {
        close_proc_fds(&s->proc);
        kill_proc(s);
        session_unref(s);
        return;
    }
    sconn *c = s->c;
    schan *in = s->req->stdin_ ? find_type(c, CH_STDIN) : NULL;
    schan *out = find_type(c, CH_STDOUT), *err = find_type(c, CH_STDERR);
    stream_proc *p = &s->proc;
    bool ok = true;
    if (p->pty_fd >= 0) {
        int fd = dup(p->pty_fd); /* the pump owns its copy; pty_fd stays for resizes */
        /* An attach tty is the shim's socketpair: the end of the client's
         * stdin is a half-close the shim sees, and it ends the attach. */
        bool sock = s->req->kind == STREAM_ATTACH;
        ok = fd >= 0 && pump_new(s, fd, out ? out : NULL, in, sock, true) != NULL;
        if (ok && !out)
            s->pumps->has_out = true; /* drain output nobody reads */
    } else {
        if (ok && p->stdout_fd >= 0) {
            ok = pump_new(s, p->stdout_fd, out, NULL, false, false) != NULL;
            if (ok)
                s->pumps->has_out = true;
            p->stdout_fd = -1;
        }
        if (ok && p->stderr_fd >= 0) {
            ok = pump_new(s, p->stderr_fd, err, NULL, false, false) != NULL;
            if (ok)
                s->pumps->has_out = true;
            p->stderr_fd = -1;
        }
        if (ok && p->stdin_fd >= 0) {
            ok = pump_new(s, p->stdin_fd, NULL, in, false, false) != NULL;
            p->stdin_fd = -1;
            if (ok && !in)
                pump_close(s->pumps);
        }
    }
    if (!ok) {
        end_error(s, "streaming", "out of memory setting up the stdio pumps");
        kill_proc(s);
        session_unref(s);
        return;
    }
    bool stdin_taken = false;
    for (pump *pp = s->pumps; pp; pp = pp->next)
        stdin_taken |= in && pp->in == in;
    if (in && !stdin_taken) {
        in->reset = true; /* no process stdin behind it: drop what the client sends */
        chan_consumed(in, sbuf_avail(&in->in));
    }
    for (pump *pp = s->pumps; pp; pp = pp->next)
        pump_try_write(pp); /* stdin that arrived early, and the initial poll */
    schan *rs = find_type(c, CH_RESIZE);
    if (rs && sbuf_avail(&rs->in))
        handle_resize(s, rs);
    session_check_done(s);
    session_unref(s);
}

static void start(session *s)
{
    if (s->starting || s->started || s->ended)
        return;
    s->starting = true;
    log_debug("stream", "%s %s: all streams there, starting", stream_kind_name(s->req->kind),
              s->req->id);
    s->work.data = s;
    s->pending++;
    if (uv_queue_work(s->srv->loop, &s->work, start_work, start_done) != 0) {
        s->pending--;
        s->starting = false;
        end_error(s, "streaming", "cannot queue the start");
    }
}

/* ---- events from the connection ---- */

static unsigned expected_streams(const sconn *c)
{
    const stream_request *r = c->req;
    unsigned n = 1 + r->stdin_ + r->stdout_ + r->stderr_;
    if (r->tty && c->version >= 3)
        n++;
    return n;
}

static unsigned count_streams(const sconn *c)
{
    unsigned n = 0;
    for (schan *ch = c->chans; ch; ch = ch->next)
        n++;
    return n;
}

bool session_expects_more_streams(sconn *c)
{
    session *s = c->sess;
    if (!s || c->proto != P_SPDY || c->req->kind == STREAM_PORTFORWARD)
        return false;
    return !s->starting && !s->started && !s->ended;
}

int session_open(sconn *c)
{
    session *s = calloc(1, sizeof(*s));
    if (!s)
        return -1;
    s->srv = c->srv;
    s->c = c;
    s->req = c->req;
    c->req = stream_request_dup(s->req);
    if (!c->req) {
        c->req = s->req;
        free(s);
        return -1;
    }
    s->pidfd = -1;
    proc_init(&s->proc);
    uv_timer_init(s->srv->loop, &s->grace);
    s->grace.data = s;
    s->pending = 1; /* the grace timer */
    c->sess = s;
    if (c->proto == P_WS) {
        if (s->req->kind == STREAM_PORTFORWARD) {
            pf_open_ws(s);
            return 0;
        }
        const stream_request *r = s->req;
        if (r->stdin_)
            conn_chan_add(c, CH_STDIN, CH_STDIN);
        if (r->stdout_)
            conn_chan_add(c, CH_STDOUT, CH_STDOUT);
        if (r->stderr_)
            conn_chan_add(c, CH_STDERR, CH_STDERR);
        conn_chan_add(c, CH_ERROR, CH_ERROR);
        if (r->tty)
            conn_chan_add(c, CH_RESIZE, CH_RESIZE);
        /* An empty message on the lowest writable channel tells the client the
         * session is established. */
        schan *first = find_type(c, r->stdout_ ? CH_STDOUT : r->stderr_ ? CH_STDERR : CH_ERROR);
        if (first)
            ws_send(c, first, NULL, 0, false);
        start(s);
    }
    return 0;
}

void session_chan_opened(sconn *c, schan *ch, const spdy_headers *h)
{
    session *s = c->sess;
    if (!s)
        return;
    if (s->req->kind == STREAM_PORTFORWARD) {
        pf_chan_opened(s, ch, h);
        return;
    }
    if (count_streams(c) >= expected_streams(c))
        start(s);
}

void session_chan_data(sconn *c, schan *ch)
{
    session *s = c->sess;
    if (!s)
        return;
    if (ch->type == CH_RESIZE) {
        if (s->started)
            handle_resize(s, ch);
        return;
    }
    for (pump *p = s->pumps; p; p = p->next)
        if (p->in == ch)
            pump_try_write(p);
}

void session_chan_fin(sconn *c, schan *ch)
{
    session *s = c->sess;
    if (!s)
        return;
    if (s->req->kind == STREAM_PORTFORWARD) {
        pf_chan_fin(s, ch);
        return;
    }
    for (pump *p = s->pumps; p; p = p->next)
        if (p->in == ch)
            pump_try_write(p);
}

void session_kick(sconn *c)
{
    session *s = c->sess;
    if (!s)
        return;
    for (pump *p = s->pumps; p; p = p->next)
        pump_update(p);
}

void session_conn_gone(sconn *c)
{
    session *s = c->sess;
    if (!s)
        return;
    c->sess = NULL;
    s->c = NULL;
    s->gone = true;
    for (pump *p = s->pumps; p; p = p->next) {
        p->out = NULL;
        p->in = NULL;
    }
    if (s->req->kind == STREAM_PORTFORWARD)
        pf_detach(s);
    if (!s->ended && s->started) {
        if (s->req->kind == STREAM_EXEC && !s->exited)
            log_info("stream", "exec %s: client went away, killing %s", s->req->id, s->req->cmd[0]);
        kill_proc(s);
    }
    for (pump *p = s->pumps, *next; p; p = next) {
        next = p->next;
        pump_close(p);
    }
    uv_timer_stop(&s->grace);
    uv_close((uv_handle_t *)&s->grace, on_closed_unref);
    if (s->proc.pty_fd >= 0) {
        close(s->proc.pty_fd);
        s->proc.pty_fd = -1;
    }
    /* Until the last handle closes (and a killed process is reaped) the
     * session is an orphan of the server. */
    s->next_orphan = s->srv->orphans;
    s->srv->orphans = s;
}
