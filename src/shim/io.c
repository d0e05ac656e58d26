/* The shim's poll loop: container output -> CRI log + attach clients, attach
 * input -> container stdin, control commands, child reaping. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "shim.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

/* ---- CRI log file ---- */

int shim_log_open(struct shim *s, char *msg, size_t msgcap)
{
    if (!s->o.log_path)
        return 0;
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", s->o.log_path);
    cric_err err;
    if (fs_mkdir_p(dirname(dir), 0755, &err) < 0) {
        snprintf(msg, msgcap, "log directory: %s", err.msg);
        return -1;
    }
    int fd = open(s->o.log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
    if (fd < 0) {
        snprintf(msg, msgcap, "open log %s: %s", s->o.log_path, strerror(errno));
        return -1;
    }
    if (s->log_fd >= 0) {
        shim_log_flush(s);
        close(s->log_fd);
    }
    s->log_fd = fd;
    s->log_failing = false;
    return 0;
}

/* Writes the batched records. On a failure (ENOSPC, EIO) the rest is dropped
 * and a record cut short is cut back out of the file (records never contain
 * '\n', so the last complete one ends at the last '\n' written): the
 * container never blocks on its log and the file never holds a torn record. */
void shim_log_flush(struct shim *s)
{
    size_t off = 0;
    while (s->log_fd >= 0 && off < s->wlen) {
        ssize_t w = write(s->log_fd, s->wbuf + off, s->wlen - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int e = errno;
            size_t keep = off;
            while (keep > 0 && s->wbuf[keep - 1] != '\n')
                keep--;
            if (keep < off) {
                off_t endpos = lseek(s->log_fd, 0, SEEK_CUR);
                off_t cut = (off_t)(off - keep);
                if (endpos >= cut && ftruncate(s->log_fd, endpos - cut) < 0)
                    log_warn("shim", "container %s: truncate torn log record: %s", s->o.id,
                             strerror(errno));
            }
            if (!s->log_failing)
                log_warn("shim", "container %s: write log %s: %s (dropping output)", s->o.id,
                         s->o.log_path, strerror(e));
            s->log_failing = true;
            s->wlen = 0;
            return;
        }
        off += (size_t)w;
    }
    if (s->wlen > 0 && s->log_fd >= 0 && s->log_failing) {
        log_info("shim", "container %s: log writable again", s->o.id);
        s->log_failing = false;
    }
    s->wlen = 0;
}

/* crilog sink: appends one record to the batch written once per read. */
static void log_sink(void *opaque, const struct iovec *iov, int n)
{
    struct shim *s = opaque;
    if (s->log_fd < 0)
        return;
    size_t need = 1;
    for (int i = 0; i < n; i++)
        need += iov[i].iov_len;
    if (!s->wbuf) {
        s->wbuf = malloc(SHIM_LOG_BATCH);
        if (!s->wbuf)
            return;
    }
    if (s->wlen + need > SHIM_LOG_BATCH)
        shim_log_flush(s);
    if (need > SHIM_LOG_BATCH)
        return; /* cannot happen: a record is at most CRILOG_MAX_LINE plus a header */
    for (int i = 0; i < n; i++) {
        memcpy(s->wbuf + s->wlen, iov[i].iov_base, iov[i].iov_len);
        s->wlen += iov[i].iov_len;
    }
    s->wbuf[s->wlen++] = '\n';
}

/* ---- clients ---- */

static void client_drop(struct shim *s, size_t i);

/* Queues a frame; false when the client is over its buffer bound. */
static bool client_queue(struct shim_client *c, uint8_t type, const void *data, size_t len)
{
    size_t need = SHIM_FRAME_HDR + len;
    if (c->out_len + need > SHIM_CLIENT_BUF_MAX)
        return false;
    if (c->out_off > 0 && c->out_off + c->out_len + need > c->out_cap) {
        memmove(c->out, c->out + c->out_off, c->out_len);
        c->out_off = 0;
    }
    if (c->out_off + c->out_len + need > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + need)
            cap *= 2;
        uint8_t *nb = realloc(c->out, cap);
        if (!nb)
            return false;
        c->out = nb;
        c->out_cap = cap;
    }
    uint8_t *p = c->out + c->out_off + c->out_len;
    shim_frame_header(p, type, (uint32_t)len);
    if (len)
        memcpy(p + SHIM_FRAME_HDR, data, len);
    c->out_len += need;
    return true;
}

/* Writes what it can; false when the peer is gone. */
static bool client_flush(struct shim_client *c)
{
    while (c->out_len > 0) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (n <= 0)
            return false;
        c->out_off += (size_t)n;
        c->out_len -= (size_t)n;
    }
    c->out_off = 0;
    if (c->out_cap > 64 * 1024) { /* give back a burst's memory */
        free(c->out);
        c->out = NULL;
        c->out_cap = 0;
    }
    return true;
}

static void write_stdin(struct shim *s);

static void close_stdin_now(struct shim *s)
{
    s->stdin_close_pending = false;
    if (s->in_fd < 0)
        return;
    if (s->o.tty) {
        char eof = 4; /* VEOF: the pty stays, the reader sees end of input */
        ssize_t r = write(s->in_fd, &eof, 1);
        (void)r;
    } else {
        close(s->in_fd);
    }
    s->in_fd = -1;
    free(s->in_buf);
    s->in_buf = NULL;
    s->in_len = 0;
}

/* Closes the container's stdin once what clients sent has been written. */
static void close_stdin(struct shim *s)
{
    s->stdin_close_pending = true;
    write_stdin(s);
    if (s->in_len == 0)
        close_stdin_now(s);
}

static void client_drop(struct shim *s, size_t i)
{
    struct shim_client *c = &s->clients[i];
    bool had_stdin = c->attach && (c->flags & SHIM_ATTACH_STDIN);
    close(c->fd);
    free(c->out);
    free(c->rd);
    s->clients[i] = s->clients[--s->n_clients];
    if (had_stdin && s->o.stdin_once) {
        log_info("shim", "container %s: stdin_once: first attach ended, closing stdin", s->o.id);
        close_stdin(s);
    }
}

void shim_output(struct shim *s, bool is_err, const char *data, size_t len)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    crilog_feed(is_err ? &s->lerr : &s->lout, data, len, &now, log_sink, s);
    shim_log_flush(s);
    uint8_t want = is_err ? SHIM_ATTACH_STDERR : SHIM_ATTACH_STDOUT;
    for (size_t i = 0; i < s->n_clients;) {
        struct shim_client *c = &s->clients[i];
        if (!c->attach || !(c->flags & want)) {
            i++;
            continue;
        }
        bool ok = true;
        for (size_t off = 0; ok && off < len; off += SHIM_FRAME_MAX) {
            size_t n = len - off < SHIM_FRAME_MAX ? len - off : SHIM_FRAME_MAX;
            ok = client_queue(c, is_err ? SHIM_MSG_STDERR : SHIM_MSG_STDOUT, data + off, n);
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
    client_queue(c, SHIM_MSG_RESULT, reply, strlen(reply));
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

/* Handles one frame; false drops the client. */
static bool client_frame(struct shim *s, struct shim_client *c)
{
    struct shim_frame_reader *r = c->rd;
    switch (r->type) {
    case SHIM_MSG_ATTACH:
        if (c->attach || r->len != 1)
            return false;
        c->attach = true;
        c->flags = r->payload[0] & (SHIM_ATTACH_STDIN | SHIM_ATTACH_STDOUT | SHIM_ATTACH_STDERR);
        if ((c->flags & SHIM_ATTACH_STDIN) && !s->o.stdin_open)
            c->flags &= (uint8_t)~SHIM_ATTACH_STDIN;
        return true;
    case SHIM_MSG_STDIN:
        if (!c->attach || !(c->flags & SHIM_ATTACH_STDIN))
            return true; /* ignored: not attached for stdin */
        if (s->in_fd < 0 || s->stdin_close_pending)
            return true;
        if (!s->in_buf) {
            s->in_buf = malloc(SHIM_STDIN_BUF_MAX);
            if (!s->in_buf)
                return true;
        }
        if (s->in_len + r->len > SHIM_STDIN_BUF_MAX) { /* reads are gated by stdin_room() */
            log_warn("shim", "container %s: stdin buffer full, input dropped", s->o.id);
            return true;
        }
        memcpy(s->in_buf + s->in_len, r->payload, r->len);
        s->in_len += r->len;
        return true;
    case SHIM_MSG_CLOSE_STDIN:
        if (c->attach && (c->flags & SHIM_ATTACH_STDIN))
            close_stdin(s);
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
    /* leave room for a whole frame in the stdin buffer */
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
    return client_flush(c);
}

static void accept_clients(struct shim *s)
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
        s->clients[s->n_clients++] = (struct shim_client){.fd = fd};
    }
}

/* ---- children ---- */

static void init_exited(struct shim *s, int status)
{
    if (s->init_exited)
        return;
    s->init_exited = true;
    s->exit_status = status;
    s->finished_at = shim_now_ns();
}

void shim_reap(struct shim *s)
{
    struct signalfd_siginfo si;
    while (read(s->sigfd, &si, sizeof(si)) > 0) {
    }
    int st;
    pid_t r;
    while ((r = waitpid(-1, &st, WNOHANG)) > 0) {
        if (r == s->init_pid)
            init_exited(s, st);
    }
}

/* ---- output ---- */

static void read_output(struct shim *s, bool is_err)
{
    int *fd = is_err ? &s->err_fd : &s->out_fd;
    char buf[16384];
    for (int rounds = 0; rounds < 8; rounds++) {
        ssize_t n = read(*fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) { /* EOF, or EIO from a pty whose other side is closed */
            if (s->o.tty && !is_err) {
                s->in_fd = -1; /* the same fd */
                free(s->in_buf);
                s->in_buf = NULL;
                s->in_len = 0;
            }
            close(*fd);
            *fd = -1;
            return;
        }
        shim_output(s, is_err, buf, (size_t)n);
    }
}

static void write_stdin(struct shim *s)
{
    while (s->in_len > 0 && s->in_fd >= 0) {
        ssize_t n = write(s->in_fd, s->in_buf, s->in_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) { /* EPIPE: the container closed its stdin */
            if (!s->o.tty)
                close(s->in_fd);
            s->in_fd = -1;
            s->in_len = 0;
            s->stdin_close_pending = false;
            free(s->in_buf);
            s->in_buf = NULL;
            return;
        }
        memmove(s->in_buf, s->in_buf + n, s->in_len - (size_t)n);
        s->in_len -= (size_t)n;
    }
    if (s->in_len == 0 && s->in_buf) {
        free(s->in_buf);
        s->in_buf = NULL;
    }
    if (s->in_len == 0 && s->stdin_close_pending)
        close_stdin_now(s);
}

static void finish(struct shim *s)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    crilog_flush(&s->lout, &now, log_sink, s);
    crilog_flush(&s->lerr, &now, log_sink, s);
    shim_log_flush(s);
    free(s->wbuf);
    s->wbuf = NULL;
    if (s->log_fd >= 0) {
        fsync(s->log_fd);
        close(s->log_fd);
        s->log_fd = -1;
    }
    shim_write_exit(s);
    unlink(SHIM_SOCK_NAME);
    close(s->listen_fd);
    s->listen_fd = -1;

    char code[16];
    int c = WIFEXITED(s->exit_status)     ? WEXITSTATUS(s->exit_status)
            : WIFSIGNALED(s->exit_status) ? 128 + WTERMSIG(s->exit_status)
                                          : 255;
    int n = snprintf(code, sizeof(code), "%d", c);
    for (size_t i = 0; i < s->n_clients; i++)
        if (s->clients[i].attach)
            client_queue(&s->clients[i], SHIM_MSG_EXIT, code, (size_t)n);
    /* give attached clients a moment to take the rest */
    int64_t deadline = shim_now_ns() + 1000000000LL;
    while (s->n_clients > 0 && shim_now_ns() < deadline) {
        struct pollfd p[SHIM_MAX_CLIENTS];
        for (size_t i = s->n_clients; i-- > 0;) {
            if (s->clients[i].out_len == 0) {
                client_drop(s, i);
            }
        }
        if (s->n_clients == 0)
            break;
        for (size_t i = 0; i < s->n_clients; i++)
            p[i] = (struct pollfd){s->clients[i].fd, POLLOUT, 0};
        if (poll(p, s->n_clients, 100) < 0 && errno != EINTR)
            break;
        for (size_t i = s->n_clients; i-- > 0;) {
            if (p[i].revents && !client_flush(&s->clients[i]))
                client_drop(s, i);
        }
    }
    while (s->n_clients > 0)
        client_drop(s, s->n_clients - 1);
    free(s->in_buf);
    s->in_buf = NULL;
}

/* Whether one more client read fits in the stdin buffer: a read completes at
 * most one partial frame plus what the read returns. Without an open stdin,
 * input is discarded, so there is always room. */
static bool stdin_room(const struct shim *s)
{
    if (s->in_fd < 0 || s->stdin_close_pending)
        return true;
    return s->in_len + SHIM_FRAME_MAX + 4096 <= SHIM_STDIN_BUF_MAX;
}

int shim_loop(struct shim *s)
{
    /* pollfd layout: sig, listen, out, err, stdin, clients... */
    struct pollfd p[5 + SHIM_MAX_CLIENTS];
    int64_t drain_deadline = 0;
    for (;;) {
        if (s->init_exited) {
            if (drain_deadline == 0)
                drain_deadline = shim_now_ns() + (int64_t)SHIM_DRAIN_MS * 1000000LL;
            if ((s->out_fd < 0 && s->err_fd < 0) || shim_now_ns() >= drain_deadline)
                break;
        }
        bool in_room = stdin_room(s);
        p[0] = (struct pollfd){s->sigfd, POLLIN, 0};
        p[1] = (struct pollfd){s->listen_fd, POLLIN, 0};
        p[2] = (struct pollfd){s->out_fd, POLLIN, 0};
        p[3] = (struct pollfd){s->err_fd, POLLIN, 0};
        p[4] = (struct pollfd){s->in_len > 0 ? s->in_fd : -1, POLLOUT, 0};
        size_t nc = s->n_clients;
        for (size_t i = 0; i < nc; i++) {
            short ev = (short)(s->clients[i].out_len ? POLLOUT : 0);
            if (in_room || !s->clients[i].attach)
                ev |= POLLIN;
            /* an attach client waiting for stdin room is not polled at all:
             * its hang-up would otherwise be reported on every round */
            p[5 + i] = (struct pollfd){ev ? s->clients[i].fd : -1, ev, 0};
        }
        int timeout = -1;
        if (s->init_exited)
            timeout = 50;
        int r = poll(p, 5 + nc, timeout);
        if (r < 0 && errno != EINTR) {
            log_error("shim", "poll: %s", strerror(errno));
            return -1;
        }
        if (r <= 0)
            continue;
        if (p[0].revents)
            shim_reap(s);
        if (p[2].revents && s->out_fd >= 0)
            read_output(s, false);
        if (p[3].revents && s->err_fd >= 0)
            read_output(s, true);
        if (p[4].revents && s->in_fd >= 0)
            write_stdin(s);
        /* clients: walk backwards so drops (swap with last) stay safe */
        for (size_t i = nc; i-- > 0;) {
            if (i >= s->n_clients || s->clients[i].fd != p[5 + i].fd)
                continue;
            short ev = p[5 + i].revents;
            if (!ev)
                continue;
            bool ok = true;
            /* room is checked again: other clients' input may have used it */
            if ((ev & (POLLIN | POLLHUP | POLLERR)) && (!s->clients[i].attach || stdin_room(s)))
                ok = client_read(s, &s->clients[i]);
            else if (ev & (POLLHUP | POLLERR))
                ok = false;
            if (ok && (ev & POLLOUT))
                ok = client_flush(&s->clients[i]);
            if (!ok)
                client_drop(s, i);
        }
        if (s->in_len > 0 && s->in_fd >= 0)
            write_stdin(s);
        if (p[1].revents)
            accept_clients(s);
    }
    finish(s);
    return 0;
}
