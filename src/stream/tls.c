/* The daemon's side of cric-tls (see tls.h and tls_proxy.c). */
#include "stream/tls.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/helper_path.h"
#include "util/log.h"

extern char **environ;

#define START_TIMEOUT_MS 20000

struct tls_proxy {
    stream_server *srv;
    pid_t pid;
    int ctl; /* unix socket to the helper: clients arrive here */
    uv_poll_t poll;
    bool polling;
    void (*done)(void *arg);
    void *done_arg;
};

static int helper_path(char *out, size_t cap, cric_err *err)
{
    if (helper_path_find("cric-tls", "stream", out, cap, err) < 0) {
        err->kind = CRIC_ERR_INTERNAL;
        return cric_err_prefix(err, "streaming TLS: ");
    }
    return 0;
}

static int listen_on(const struct sockaddr *addr, const stream_server *s, int *port, cric_err *err)
{
    bool v6 = addr->sa_family == AF_INET6;
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    socklen_t len = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, addr, len) < 0 || listen(fd, 128) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return cric_err_set(err, CRIC_ERR_UNAVAILABLE, "streaming: listen on %s port %u: %s",
                            s->address, s->opts.port, strerror(e));
    }
    struct sockaddr_storage b;
    socklen_t bl = sizeof(b);
    getsockname(fd, (struct sockaddr *)&b, &bl);
    *port =
        ntohs(v6 ? ((struct sockaddr_in6 *)&b)->sin6_port : ((struct sockaddr_in *)&b)->sin_port);
    return fd;
}

/* A client (or several) from the helper. */
static void on_ctl(uv_poll_t *h, int status, int events)
{
    tls_proxy *t = h->data;
    for (;;) {
        char byte;
        struct iovec iov = {.iov_base = &byte, .iov_len = 1};
        union {
            char buf[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } u;
        struct msghdr m = {.msg_iov = &iov,
                           .msg_iovlen = 1,
                           .msg_control = u.buf,
                           .msg_controllen = sizeof(u.buf)};
        ssize_t n = recvmsg(t->ctl, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        int fd = -1;
        struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&m) : NULL;
        if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
            c->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(&fd, CMSG_DATA(c), sizeof(int));
        if (n <= 0) {
            log_error("stream",
                      "the TLS helper cric-tls (pid %d) went away: https streaming "
                      "is unavailable until the daemon restarts",
                      (int)t->pid);
            uv_poll_stop(&t->poll);
            return;
        }
        if (fd >= 0)
            stream_server_adopt(t->srv, fd);
    }
}

tls_proxy *tls_proxy_start(stream_server *s, const struct sockaddr *addr, const char *cert,
                           const char *key, int *port, cric_err *err)
{
    char path[PATH_MAX];
    if (helper_path(path, sizeof(path), err) < 0)
        return NULL;
    int lfd = listen_on(addr, s, port, err);
    if (lfd < 0)
        return NULL;
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
        close(lfd);
        cric_err_errno(err, errno, "streaming TLS: socketpair");
        return NULL;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, lfd, 3);
    posix_spawn_file_actions_adddup2(&fa, sp[1], 4);
    posix_spawnattr_init(&at);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    log_level lvl;
    log_format fmt;
    log_current(&lvl, &fmt);
    char *argv[] = {"cric-tls",
                    (char *)cert,
                    (char *)key,
                    (char *)log_level_name(lvl),
                    fmt == LOG_FMT_JSON ? "json" : "text",
                    NULL};
    pid_t pid = -1;
    int se = posix_spawn(&pid, path, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(lfd);
    close(sp[1]);
    if (se != 0) {
        close(sp[0]);
        cric_err_errno(err, se, "streaming TLS: start %s", path);
        return NULL;
    }
    /* Its first line: "ok" or "error <why>". */
    char line[1024];
    size_t got = 0;
    while (got < sizeof(line) - 1 && !memchr(line, '\n', got)) {
        struct pollfd pf = {.fd = sp[0], .events = POLLIN};
        int pr = poll(&pf, 1, START_TIMEOUT_MS);
        if (pr < 0 && errno == EINTR)
            continue;
        ssize_t n = pr > 0 ? read(sp[0], line + got, sizeof(line) - 1 - got) : 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    line[got] = '\0';
    char *nl = strchr(line, '\n');
    if (nl)
        *nl = '\0';
    if (strcmp(line, "ok") != 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(sp[0]);
        if (strncmp(line, "error ", 6) == 0)
            cric_err_set(err, CRIC_ERR_INVALID, "%s", line + 6);
        else
            cric_err_set(err, CRIC_ERR_INTERNAL, "streaming TLS: %s did not start", path);
        return NULL;
    }
    tls_proxy *t = calloc(1, sizeof(*t));
    if (!t) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(sp[0]);
        cric_err_set(err, CRIC_ERR_RESOURCE, "streaming TLS: out of memory");
        return NULL;
    }
    t->srv = s;
    t->pid = pid;
    t->ctl = sp[0];
    uv_poll_init(s->loop, &t->poll, t->ctl);
    t->poll.data = t;
    uv_poll_start(&t->poll, UV_READABLE | UV_DISCONNECT, on_ctl);
    t->polling = true;
    return t;
}

static void on_poll_closed(uv_handle_t *h)
{
    tls_proxy *t = h->data;
    t->polling = false;
    if (t->done)
        t->done(t->done_arg);
}

void tls_proxy_stop(tls_proxy *t, void (*done)(void *arg), void *arg)
{
    t->done = done;
    t->done_arg = arg;
    if (t->pid > 0) {
        kill(t->pid, SIGTERM);
        waitpid(t->pid, NULL, 0);
        t->pid = -1;
    }
    if (t->polling && !uv_is_closing((uv_handle_t *)&t->poll))
        uv_close((uv_handle_t *)&t->poll, on_poll_closed);
    else if (done)
        done(arg);
}

void tls_proxy_free(tls_proxy *t)
{
    if (!t)
        return;
    if (t->pid > 0) {
        kill(t->pid, SIGKILL);
        waitpid(t->pid, NULL, 0);
    }
    if (t->ctl >= 0)
        close(t->ctl);
    free(t);
}
