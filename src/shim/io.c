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

/* ---- container stdin ---- */

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
void shim_close_stdin(struct shim *s)
{
    s->stdin_close_pending = true;
    shim_write_stdin(s);
    if (s->in_len == 0)
        close_stdin_now(s);
}

/* Whether one more client read fits in the stdin buffer: a read completes at
 * most one partial frame plus what the read returns. Without an open stdin,
 * input is discarded, so there is always room. */
bool shim_stdin_room(const struct shim *s)
{
    if (s->in_fd < 0 || s->stdin_close_pending)
        return true;
    return s->in_len + SHIM_FRAME_MAX + 4096 <= SHIM_STDIN_BUF_MAX;
}

void shim_output(struct shim *s, bool is_err, const char *data, size_t len)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    crilog_feed(is_err ? &s->lerr : &s->lout, data, len, &now, log_sink, s);
    shim_log_flush(s);
    shim_clients_output(s, is_err, data, len);
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

void shim_write_stdin(struct shim *s)
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
    shim_write_exit(s);
    unlink(SHIM_SOCK_NAME);
    close(s->listen_fd);
    s->listen_fd = -1;

    int code = WIFEXITED(s->exit_status)     ? WEXITSTATUS(s->exit_status)
               : WIFSIGNALED(s->exit_status) ? 128 + WTERMSIG(s->exit_status)
                                             : 255;
    shim_clients_finish(s, code);
    /* The log is complete (written above) before anyone learns of the exit;
     * making it durable waits until the daemon's watcher has been told, so an
     * exit reaches GetContainerEvents without a disk flush in between. */
    if (s->log_fd >= 0) {
        fsync(s->log_fd);
        close(s->log_fd);
        s->log_fd = -1;
    }
    free(s->in_buf);
    s->in_buf = NULL;
}

int shim_loop(struct shim *s)
{
    /* pollfd layout: sig, listen, out, err, stdin, then the clients' fds */
    enum { FIXED = 5 };
    struct pollfd p[FIXED + SHIM_MAX_CLIENTS * 4];
    struct shim_pollref ref[SHIM_MAX_CLIENTS * 4];
    int64_t drain_deadline = 0;
    for (;;) {
        if (s->init_exited) {
            if (drain_deadline == 0)
                drain_deadline = shim_now_ns() + (int64_t)SHIM_DRAIN_MS * 1000000LL;
            if ((s->out_fd < 0 && s->err_fd < 0) || shim_now_ns() >= drain_deadline)
                break;
        }
        p[0] = (struct pollfd){s->sigfd, POLLIN, 0};
        p[1] = (struct pollfd){s->listen_fd, POLLIN, 0};
        p[2] = (struct pollfd){s->out_fd, POLLIN, 0};
        p[3] = (struct pollfd){s->err_fd, POLLIN, 0};
        p[4] = (struct pollfd){s->in_len > 0 ? s->in_fd : -1, POLLOUT, 0};
        size_t nc = shim_clients_pollfds(s, p + FIXED, ref);
        int r = poll(p, FIXED + nc, s->init_exited ? 50 : -1);
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
            shim_write_stdin(s);
        shim_clients_handle(s, p + FIXED, ref, nc);
        if (s->in_len > 0 && s->in_fd >= 0)
            shim_write_stdin(s);
        if (p[1].revents)
            shim_clients_accept(s);
    }
    finish(s);
    return 0;
}
