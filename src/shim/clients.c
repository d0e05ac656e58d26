/* Clients of shim.sock: control requests, framed attach streams and fd attach
 * (raw pipes or a socketpair handed over with SCM_RIGHTS). Every client has
 * bounded output buffers; one that cannot keep up is dropped. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "shim.h"
#include "util/cleanup.h"
#include "util/log.h"

/* ---- bounded output buffers ---- */

static bool obuf_put(struct shim_obuf *b, const void *a, size_t alen, const void *d, size_t dlen)
{
    size_t need = alen + dlen;
    if (b->len + need > SHIM_CLIENT_BUF_MAX)
        return false;
    if (b->off > 0 && b->off + b->len + need > b->cap) {
        memmove(b->buf, b->buf + b->off, b->len);
        b->off = 0;
    }
    if (b->off + b->len + need > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + need)
            cap *= 2;
        uint8_t *nb = realloc(b->buf, cap);
        if (!nb)
            return false;
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->off + b->len, a, alen);
    if (dlen)
        memcpy(b->buf + b->off + b->len + alen, d, dlen);
    b->len += need;
    return true;
}

/* Writes what it can; false when the peer is gone. */
static bool obuf_flush(struct shim_obuf *b, int fd)
{
    while (b->len > 0) {
        ssize_t n = write(fd, b->buf + b->off, b->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (n <= 0)
            return false;
        b->off += (size_t)n;
        b->len -= (size_t)n;
    }
    b->off = 0;
    if (b->cap > 64 * 1024) { /* give back a burst's memory */
        free(b->buf);
        b->buf = NULL;
        b->cap = 0;
    }
    return true;
}

static bool queue_frame(struct shim_client *c, uint8_t type, const void *data, size_t len)
{
    uint8_t hdr[SHIM_FRAME_HDR];
    shim_frame_header(hdr, type, (uint32_t)len);
    return obuf_put(&c->out, hdr, sizeof(hdr), data, len);
}

static bool client_pending(const struct shim_client *c)
{
    return c->out.len || c->raw_out[0].len || c->raw_out[1].len;
}

static bool client_flush(struct shim_client *c)
{
    if (!obuf_flush(&c->out, c->fd))
        return false;
    for (int k = 0; k < 2; k++)
        if (c->raw_out_fd[k] >= 0 && !obuf_flush(&c->raw_out[k], c->raw_out_fd[k]))
            return false;
    return true;
}

static void client_drop(struct shim *s, size_t i)
{
    struct shim_client *c = &s->clients[i];
    bool had_stdin = c->attach && (c->flags & SHIM_ATTACH_STDIN) && !c->stdin_done;
    close(c->fd);
    for (int k = 0; k < 2; k++) {
        if (c->raw_out_fd[k] >= 0 && c->raw_out_fd[k] != c->raw_in)
            close(c->raw_out_fd[k]);
        free(c->raw_out[k].buf);
    }
    if (c->raw_in >= 0)
        close(c->raw_in);
    free(c->out.buf);
    free(c->rd);
    s->clients[i] = s->clients[--s->n_clients];
    if (had_stdin && s->o.stdin_once) {
        log_info("shim", "container %s: stdin_once: first attach ended, closing stdin", s->o.id);
        shim_close_stdin(s);
    }
}

/* ---- output fan-out ---- */

void shim_clients_output(struct shim *s, bool is_err, const char *data, size_t len)
{
    uint8_t want = is_err ? SHIM_ATTACH_STDERR : SHIM_ATTACH_STDOUT;
    for (size_t i = 0; i < s->n_clients;) {
        struct shim_client *c = &s->clients[i];
        if (!c->attach || !(c->flags & want)) {
            i++;
            continue;
        }
        bool ok = true;
        if (c->raw) {
            int k = (is_err && !s->o.tty) ? 1 : 0;
            ok = obuf_put(&c->raw_out[k], data, len, NULL, 0);
        } else {
            for (size_t off = 0; ok && off < len; off += SHIM_FRAME_MAX) {
                size_t n = len - off < SHIM_FRAME_MAX ? len - off : SHIM_FRAME_MAX;
                ok = queue_frame(c, is_err ? SHIM_MSG_STDERR : SHIM_MSG_STDOUT, data + off, n);
            }
        }
        if (ok)
            ok = client_flush(c);
        if (!ok) {
            log_warn("shim", "container %s: dropping attach client (slow or gone)", s->o.id);
            client_drop(s, i);
            continue;
        }
        i++;
    }
}

/* ---- control and attach requests ---- */

static const char *status_name(enum shim_status st)
{
    return st == SHIM_CREATED ? "created" : st == SHIM_RUNNING ? "running" : "exited";
}

static void control(struct shim *s, struct shim_client *c, const char *cmd)
{
    char reply[256];
    if (strcmp(cmd, "starting") == 0) {
        if (s->status == SHIM_CREATED) {
            s->started_at = shim_now_ns();
            s->status = SHIM_RUNNING;
        } else if (s->started_at == 0) {
            s->started_at = shim_now_ns();
        }
        snprintf(reply, sizeof(reply), "ok");
    } else if (strcmp(cmd, "reopen-log") == 0) {
        char msg[200];
        if (s->status != SHIM_RUNNING || s->init_exited)
            snprintf(reply, sizeof(reply), "error container is not running");
        else if (!s->o.log_path)
            snprintf(reply, sizeof(reply), "error container has no log path");
        else if (shim_log_open(s, msg, sizeof(msg)) < 0)
            snprintf(reply, sizeof(reply), "error %s", msg);
        else
            snprintf(reply, sizeof(reply), "ok");
    } else if (strcmp(cmd, "state") == 0) {
        snprintf(reply, sizeof(reply), "ok %d %s %lld %lld", (int)s->init_pid,
                 status_name(s->init_exited ? SHIM_EXITED : s->status), (long long)s->created_at,
                 (long long)s->started_at);
    } else {
        snprintf(reply, sizeof(reply), "error unknown command");
    }
    queue_frame(c, SHIM_MSG_RESULT, reply, strlen(reply));
}

static void resize(struct shim *s, const uint8_t *p, uint32_t len)
{
    if (!s->o.tty || len != 4 || s->out_fd < 0)
        return;
    struct winsize ws = {.ws_row = (unsigned short)((p[0] << 8) | p[1]),
                         .ws_col = (unsigned short)((p[2] << 8) | p[3])};
    if (ioctl(s->out_fd, TIOCSWINSZ, &ws) < 0)
        log_warn("shim", "container %s: resize: %s", s->o.id, strerror(errno));
}

/* fd attach: creates the client's pipes (a socketpair with a tty) and sends
 * their far ends with the "ok" result. */
static bool attach_fds(struct shim *s, struct shim_client *c)
{
    if (c->out.len > 0)
        return false; /* the fds must travel with the first reply */
    int give[3], ngive = 0;
    bool ok = true;
    if (s->o.tty) {
        int sp[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
            return false;
        fcntl(sp[0], F_SETFL, O_NONBLOCK);
        c->raw_in = sp[0];
        c->raw_out_fd[0] = sp[0];
        give[ngive++] = sp[1];
    } else {
        static const uint8_t order[3] = {SHIM_ATTACH_STDIN, SHIM_ATTACH_STDOUT, SHIM_ATTACH_STDERR};
        for (int k = 0; k < 3 && ok; k++) {
            if (!(c->flags & order[k]))
                continue;
            int p[2];
            if (pipe2(p, O_CLOEXEC) < 0) {
                ok = false;
                break;
            }
            int mine = k == 0 ? p[0] : p[1], theirs = k == 0 ? p[1] : p[0];
            fcntl(mine, F_SETFL, O_NONBLOCK);
            if (k == 0)
                c->raw_in = mine;
            else
                c->raw_out_fd[k - 1] = mine;
            give[ngive++] = theirs;
        }
    }
    if (ok) {
        const char *res = s->o.tty ? "ok tty" : "ok";
        size_t rl = strlen(res);
        uint8_t frame[SHIM_FRAME_HDR + 8];
        shim_frame_header(frame, SHIM_MSG_RESULT, (uint32_t)rl);
        memcpy(frame + SHIM_FRAME_HDR, res, rl);
        struct iovec iov = {.iov_base = frame, .iov_len = SHIM_FRAME_HDR + rl};
        union {
            struct cmsghdr h;
            char buf[CMSG_SPACE(sizeof(int) * 3)];
        } ctl;
        memset(&ctl, 0, sizeof(ctl));
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        if (ngive > 0) {
            msg.msg_control = ctl.buf;
            msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)ngive);
            struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
            cm->cmsg_level = SOL_SOCKET;
            cm->cmsg_type = SCM_RIGHTS;
            cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)ngive);
            memcpy(CMSG_DATA(cm), give, sizeof(int) * (size_t)ngive);
        }
        ssize_t n;
        do {
            n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        } while (n < 0 && errno == EINTR);
        ok = n == (ssize_t)(SHIM_FRAME_HDR + rl);
    }
    for (int k = 0; k < ngive; k++)
        close(give[k]);
    c->raw = true;
    return ok;
}

/* Handles one frame; false drops the client. */
static bool client_frame(struct shim *s, struct shim_client *c)
{
    struct shim_frame_reader *r = c->rd;
    switch (r->type) {
    case SHIM_MSG_ATTACH: {
        if (c->attach || r->len != 1)
            return false;
        uint8_t f = r->payload[0];
        c->attach = true;
        c->flags = f & (SHIM_ATTACH_STDIN | SHIM_ATTACH_STDOUT | SHIM_ATTACH_STDERR);
        if ((c->flags & SHIM_ATTACH_STDIN) && !s->o.stdin_open)
            c->flags &= (uint8_t)~SHIM_ATTACH_STDIN;
        if (s->o.tty)
            c->flags &= (uint8_t)~SHIM_ATTACH_STDERR; /* a tty has one output stream */
        return (f & SHIM_ATTACH_FDS) ? attach_fds(s, c) : true;
    }
    case SHIM_MSG_STDIN:
        if (!c->attach || c->raw || !(c->flags & SHIM_ATTACH_STDIN))
            return true; /* ignored: not attached for stdin */
        if (s->in_fd < 0 || s->stdin_close_pending)
            return true;
        if (!s->in_buf) {
            s->in_buf = malloc(SHIM_STDIN_BUF_MAX);
            if (!s->in_buf)
                return true;
        }
        if (s->in_len + r->len > SHIM_STDIN_BUF_MAX) { /* reads are gated by stdin_room */
            log_warn("shim", "container %s: stdin buffer full, input dropped", s->o.id);
            return true;
        }
        memcpy(s->in_buf + s->in_len, r->payload, r->len);
        s->in_len += r->len;
        return true;
    case SHIM_MSG_CLOSE_STDIN:
        if (c->attach && (c->flags & SHIM_ATTACH_STDIN))
            shim_close_stdin(s);
        return true;
    case SHIM_MSG_RESIZE:
        resize(s, r->payload, r->len);
        return true;
    case SHIM_MSG_CONTROL: {
        char cmd[64];
        if (c->attach || r->len == 0 || r->len >= sizeof(cmd))
            return false;
        memcpy(cmd, r->payload, r->len);
        cmd[r->len] = '\0';
        control(s, c, cmd);
        return true;
    }
    default:
        return false;
    }
}

static bool client_read(struct shim *s, struct shim_client *c)
{
    uint8_t buf[4096];
    ssize_t n;
    do {
        n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK;
    if (n == 0)
        return false;
    if (!c->rd) {
        c->rd = malloc(sizeof(*c->rd));
        if (!c->rd)
            return false;
        shim_frame_reader_init(c->rd);
    }
    const uint8_t *p = buf;
    size_t len = (size_t)n;
    while (len > 0) {
        int st = shim_frame_feed(c->rd, &p, &len);
        if (st == SHIM_FRAME_BAD)
            return false;
        if (st == SHIM_FRAME_READY && !client_frame(s, c))
            return false;
    }
    return obuf_flush(&c->out, c->fd);
}

/* Raw stdin of an fd-attached client. False drops the client. */
static bool client_read_raw(struct shim *s, struct shim_client *c)
{
    uint8_t buf[4096];
    ssize_t n;
    do {
        n = read(c->raw_in, buf, sizeof(buf));
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return true;
    if (n <= 0) {
        /* The client's stdin ended. As with containerd and the kubelet: with
         * stdin_once and no tty the container's stdin closes and the client
         * stays attached for the output; otherwise the attach ends here (the
         * socketpair of a tty attach is half-closed or gone), and dropping
         * the client applies stdin_once for the tty case. */
        if (s->o.tty || !(c->flags & SHIM_ATTACH_STDIN) || !s->o.stdin_once)
            return false;
        close(c->raw_in);
        c->raw_in = -1;
        if (!c->stdin_done) {
            c->stdin_done = true;
            shim_close_stdin(s);
        }
        return true;
    }
    if (!(c->flags & SHIM_ATTACH_STDIN) || s->in_fd < 0 || s->stdin_close_pending)
        return true; /* discarded */
    if (!s->in_buf) {
        s->in_buf = malloc(SHIM_STDIN_BUF_MAX);
        if (!s->in_buf)
            return true;
    }
    size_t take = (size_t)n;
    if (s->in_len + take > SHIM_STDIN_BUF_MAX) { /* gated by stdin_room: cannot happen */
        log_warn("shim", "container %s: stdin buffer full, input dropped", s->o.id);
        take = SHIM_STDIN_BUF_MAX - s->in_len;
    }
    memcpy(s->in_buf + s->in_len, buf, take);
    s->in_len += take;
    return true;
}

void shim_clients_accept(struct shim *s)
{
    for (;;) {
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
            return;
        if (s->n_clients == SHIM_MAX_CLIENTS) {
            log_warn("shim", "container %s: too many clients", s->o.id);
            close(fd);
            continue;
        }
        s->clients[s->n_clients++] =
            (struct shim_client){.fd = fd, .raw_in = -1, .raw_out_fd = {-1, -1}};
    }
}

/* ---- polling ---- */

size_t shim_clients_pollfds(struct shim *s, struct pollfd *p, struct shim_pollref *ref)
{
    bool room = shim_stdin_room(s);
    size_t n = 0;
    for (size_t i = 0; i < s->n_clients; i++) {
        struct shim_client *c = &s->clients[i];
        /* an attach client waiting for stdin room is not polled for input:
         * its hang-up would otherwise be reported on every round */
        short ev = (short)(c->out.len ? POLLOUT : 0);
        if (room || !c->attach || c->raw)
            ev |= POLLIN;
        p[n] = (struct pollfd){ev ? c->fd : -1, ev, 0};
        ref[n++] = (struct shim_pollref){c->fd, 0};
        if (c->raw_in >= 0 && room) {
            p[n] = (struct pollfd){c->raw_in, POLLIN, 0};
            ref[n++] = (struct shim_pollref){c->fd, 1};
        }
        for (int k = 0; k < 2; k++) {
            if (c->raw_out_fd[k] >= 0 && c->raw_out[k].len) {
                p[n] = (struct pollfd){c->raw_out_fd[k], POLLOUT, 0};
                ref[n++] = (struct shim_pollref){c->fd, (uint8_t)(2 + k)};
            }
        }
    }
    return n;
}

static size_t find_client(const struct shim *s, int fd)
{
    for (size_t i = 0; i < s->n_clients; i++)
        if (s->clients[i].fd == fd)
            return i;
    return SIZE_MAX;
}

void shim_clients_handle(struct shim *s, const struct pollfd *p, const struct shim_pollref *ref,
                         size_t n)
{
    for (size_t j = 0; j < n; j++) {
        short ev = p[j].revents;
        if (!ev)
            continue;
        size_t i = find_client(s, ref[j].client_fd); /* earlier drops move clients */
        if (i == SIZE_MAX)
            continue;
        struct shim_client *c = &s->clients[i];
        bool ok = true;
        switch (ref[j].kind) {
        case 0:
            /* room is checked again: other clients' input may have used it */
            if ((ev & (POLLIN | POLLHUP | POLLERR)) && (!c->attach || c->raw || shim_stdin_room(s)))
                ok = client_read(s, c);
            else if (ev & (POLLHUP | POLLERR))
                ok = false;
            if (ok && (ev & POLLOUT))
                ok = obuf_flush(&c->out, c->fd);
            break;
        case 1:
            if (c->raw_in >= 0 && shim_stdin_room(s))
                ok = client_read_raw(s, c);
            break;
        default:
            ok = obuf_flush(&c->raw_out[ref[j].kind - 2], c->raw_out_fd[ref[j].kind - 2]);
        }
        if (!ok)
            client_drop(s, i);
    }
}

/* ---- the end ---- */

void shim_clients_finish(struct shim *s, int exit_code)
{
    char code[16];
    int n = snprintf(code, sizeof(code), "%d", exit_code);
    for (size_t i = 0; i < s->n_clients; i++)
        if (s->clients[i].attach)
            queue_frame(&s->clients[i], SHIM_MSG_EXIT, code, (size_t)n);
    /* give attached clients a moment to take the rest */
    int64_t deadline = shim_now_ns() + 1000000000LL;
    while (s->n_clients > 0 && shim_now_ns() < deadline) {
        for (size_t i = s->n_clients; i-- > 0;) {
            if (!client_flush(&s->clients[i]) || !client_pending(&s->clients[i]))
                client_drop(s, i);
        }
        if (s->n_clients == 0)
            break;
        struct pollfd p[SHIM_MAX_CLIENTS * 3];
        size_t np = 0;
        for (size_t i = 0; i < s->n_clients; i++) {
            struct shim_client *c = &s->clients[i];
            if (c->out.len)
                p[np++] = (struct pollfd){c->fd, POLLOUT, 0};
            for (int k = 0; k < 2; k++)
                if (c->raw_out[k].len)
                    p[np++] = (struct pollfd){c->raw_out_fd[k], POLLOUT, 0};
        }
        if (poll(p, np, 100) < 0 && errno != EINTR)
            break;
    }
    while (s->n_clients > 0)
        client_drop(s, s->n_clients - 1);
}
