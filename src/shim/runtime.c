/* `runtime create`: stdio pipes (or a pty received over the console socket),
 * the runtime's exit status and its stderr for the error message. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shim.h"
#include "util/cleanup.h"
#include "util/sealed_exe.h"
#include "util/log.h"

struct capture {
    char buf[SHIM_CAPTURE_MAX];
    size_t len;
};

/* Receives one fd sent with SCM_RIGHTS; -1 on failure. */
static int recv_fd(int sock)
{
    char data[256];
    struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int) * 4)];
    } ctl;
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = ctl.buf,
                         .msg_controllen = sizeof(ctl.buf)};
    ssize_t n;
    do {
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    int fd = -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int fds[4];
        memcpy(fds, CMSG_DATA(c),
               nfds * sizeof(int) > sizeof(fds) ? sizeof(fds) : nfds * sizeof(int));
        for (size_t i = 0; i < nfds && i < 4; i++) {
            if (fd < 0)
                fd = fds[i];
            else
                close(fds[i]);
        }
    }
    return fd;
}

static int listen_console(const char *state_dir, char *path, size_t cap)
{
    unlink(SHIM_CONSOLE_NAME);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, SHIM_CONSOLE_NAME, sizeof(SHIM_CONSOLE_NAME)); /* relative to cwd */
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 2) < 0) {
        close(fd);
        return -1;
    }
    /* The runtime may change directory (runc enters the bundle): give it an
     * absolute path, through /proc when the state path is too long. */
    if (strlen(state_dir) + sizeof(SHIM_CONSOLE_NAME) + 1 < sizeof(sa.sun_path))
        snprintf(path, cap, "%s/%s", state_dir, SHIM_CONSOLE_NAME);
    else
        snprintf(path, cap, "/proc/%d/cwd/%s", (int)getpid(), SHIM_CONSOLE_NAME);
    return fd;
}

static void drain_into(int *fd, struct capture *c)
{
    char buf[4096];
    for (;;) {
        ssize_t n = read(*fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            close(*fd);
            *fd = -1;
            return;
        }
        size_t room = sizeof(c->buf) - c->len;
        size_t take = (size_t)n < room ? (size_t)n : room;
        memcpy(c->buf + c->len, buf, take);
        c->len += take;
    }
}

/* The runtime's stderr as one trimmed line of text: the tail end, where the
 * runtime states its final error. */
static void stderr_text(const struct capture *c, char *out, size_t cap)
{
    size_t end = c->len;
    while (end > 0 && (c->buf[end - 1] == '\n' || c->buf[end - 1] == ' ' ||
                       c->buf[end - 1] == '\r' || c->buf[end - 1] == '\t'))
        end--;
    size_t max = 700;
    size_t start = end > max ? end - max : 0;
    size_t o = 0;
    for (size_t i = start; i < end && o + 2 < cap; i++) {
        char ch = c->buf[i];
        out[o++] = (ch == '\n') ? ' ' : ((unsigned char)ch < 0x20 ? '?' : ch);
    }
    out[o] = '\0';
    if (o == 0)
        snprintf(out, cap, "(no output)");
}

static int read_init_pid(pid_t *pid)
{
    char buf[32];
    _cleanup_close_ int fd = open(SHIM_INIT_PID_NAME, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *end;
    long v = strtol(buf, &end, 10);
    if (v <= 0 || v > INT_MAX)
        return -1;
    *pid = (pid_t)v;
    return 0;
}

static void child_exec(const struct shim *s, int in, int out, int err, const char *console)
{
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    char pidfile[4096];
    snprintf(pidfile, sizeof(pidfile), "%s/%s", s->o.state_dir, SHIM_INIT_PID_NAME);
    const char *argv[16];
    int a = 0;
    argv[a++] = s->o.runtime;
    if (s->o.runtime_root && *s->o.runtime_root) {
        argv[a++] = "--root";
        argv[a++] = s->o.runtime_root;
    }
    argv[a++] = "create";
    argv[a++] = "--bundle";
    argv[a++] = s->o.bundle;
    argv[a++] = "--pid-file";
    argv[a++] = pidfile;
    if (console) {
        argv[a++] = "--console-socket";
        argv[a++] = console;
    }
    argv[a++] = s->o.id;
    argv[a] = NULL;
    if (s->o.runtime_fd >= 0) {
        char exe[64];
        sealed_exe_path(s->o.runtime_fd, exe, sizeof(exe));
        execv(exe, (char *const *)argv);
    }
    execvp(argv[0], (char *const *)argv);
    dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static const char *base_name(const char *p)
{
    const char *b = strrchr(p, '/');
    return b ? b + 1 : p;
}

int shim_runtime_create(struct shim *s, char *msg, size_t msgcap)
{
    _cleanup_close_ int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) {
        snprintf(msg, msgcap, "open /dev/null: %s", strerror(errno));
        return -1;
    }
    int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    _cleanup_close_ int console_fd = -1;
    char console[256] = "";
    if (s->o.tty) {
        console_fd = listen_console(s->o.state_dir, console, sizeof(console));
        if (console_fd < 0) {
            snprintf(msg, msgcap, "console socket: %s", strerror(errno));
            return -1;
        }
    } else {
        if (s->o.stdin_open && pipe2(in_pipe, O_CLOEXEC) < 0)
            goto pipe_fail;
        if (pipe2(out_pipe, O_CLOEXEC) < 0)
            goto pipe_fail;
    }
    if (pipe2(err_pipe, O_CLOEXEC) < 0)
        goto pipe_fail;

    unlink(SHIM_INIT_PID_NAME);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(msg, msgcap, "fork: %s", strerror(errno));
        goto fail;
    }
    if (pid == 0) {
        int in = in_pipe[0] >= 0 ? in_pipe[0] : devnull;
        int out = out_pipe[1] >= 0 ? out_pipe[1] : devnull;
        child_exec(s, in, out, err_pipe[1], s->o.tty ? console : NULL);
    }
    /* parent: keep the read ends and the stdin write end */
    if (in_pipe[0] >= 0)
        close(TAKE_FD(in_pipe[0]));
    if (out_pipe[1] >= 0)
        close(TAKE_FD(out_pipe[1]));
    close(TAKE_FD(err_pipe[1]));
    if (out_pipe[0] >= 0)
        fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
    fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);

    struct capture *cout = calloc(1, sizeof(*cout)), *cerr = calloc(1, sizeof(*cerr));
    int status = 0, pty = -1;
    bool done = false;
    while (!done) {
        struct pollfd p[4] = {{s->sigfd, POLLIN, 0},
                              {out_pipe[0], POLLIN, 0},
                              {err_pipe[0], POLLIN, 0},
                              {pty < 0 ? console_fd : -1, POLLIN, 0}};
        if (poll(p, 4, -1) < 0 && errno != EINTR) {
            snprintf(msg, msgcap, "poll: %s", strerror(errno));
            kill(pid, SIGKILL);
            status = 127 << 8;
            break;
        }
        if (p[1].revents && cout)
            drain_into(&out_pipe[0], cout);
        if (p[2].revents && cerr)
            drain_into(&err_pipe[0], cerr);
        if (p[3].revents) {
            int c = accept4(console_fd, NULL, NULL, SOCK_CLOEXEC);
            if (c >= 0) {
                pty = recv_fd(c);
                close(c);
            }
        }
        if (p[0].revents) {
            struct signalfd_siginfo si;
            while (read(s->sigfd, &si, sizeof(si)) > 0) {
            }
            int st;
            pid_t r;
            while ((r = waitpid(-1, &st, WNOHANG)) > 0) {
                if (r == pid) {
                    status = st;
                    done = true;
                } else if (s->n_early < ARRAY_LEN(s->early)) {
                    s->early[s->n_early++] = (struct shim_reaped){r, st};
                }
            }
        }
    }
    /* what the runtime wrote before it exited */
    if (err_pipe[0] >= 0 && cerr)
        drain_into(&err_pipe[0], cerr);
    if (out_pipe[0] >= 0 && cout)
        drain_into(&out_pipe[0], cout);
    if (s->o.tty && pty < 0 && console_fd >= 0) {
        int c = accept4(console_fd, NULL, NULL, SOCK_CLOEXEC);
        if (c >= 0) {
            pty = recv_fd(c);
            close(c);
        }
    }
    if (console_fd >= 0)
        unlink(SHIM_CONSOLE_NAME);

    const char *rt = base_name(s->o.runtime);
    int rc = -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char text[800];
        /* without a tty the runtime's errors arrive on the container's
         * stderr pipe: no container process ran, so it is all the runtime's */
        if (cerr)
            stderr_text(cerr, text, sizeof(text));
        else
            snprintf(text, sizeof(text), "(stderr lost: out of memory)");
        if (WIFEXITED(status))
            snprintf(msg, msgcap, "%s create: exit %d: %s", rt, WEXITSTATUS(status), text);
        else
            snprintf(msg, msgcap, "%s create: killed by signal %d: %s", rt,
                     WIFSIGNALED(status) ? WTERMSIG(status) : 0, text);
    } else if (read_init_pid(&s->init_pid) < 0) {
        snprintf(msg, msgcap, "%s create: no pid in %s/%s", rt, s->o.state_dir, SHIM_INIT_PID_NAME);
    } else if (s->o.tty && pty < 0) {
        snprintf(msg, msgcap, "%s create: no console received on the console socket", rt);
    } else {
        rc = 0;
    }
    if (rc == 0) {
        if (s->o.tty) {
            fcntl(pty, F_SETFL, O_NONBLOCK);
            s->out_fd = pty;
            s->in_fd = s->o.stdin_open ? pty : -1;
            s->err_fd = -1;
            if (err_pipe[0] >= 0)
                close(TAKE_FD(err_pipe[0]));
            pty = -1;
        } else {
            s->out_fd = TAKE_FD(out_pipe[0]);
            s->err_fd = TAKE_FD(err_pipe[0]);
            if (in_pipe[1] >= 0) {
                fcntl(in_pipe[1], F_SETFL, O_NONBLOCK);
                s->in_fd = TAKE_FD(in_pipe[1]);
            }
        }
    }
    /* Output the runtime produced on success (warnings) is the container's. */
    if (rc == 0 && cout && cout->len)
        shim_output(s, false, cout->buf, cout->len);
    if (rc == 0 && cerr && cerr->len)
        shim_output(s, !s->o.tty, cerr->buf, cerr->len);
    free(cout);
    free(cerr);
    if (pty >= 0)
        close(pty);
    for (int i = 0; i < 2; i++) {
        if (in_pipe[i] >= 0)
            close(in_pipe[i]);
        if (out_pipe[i] >= 0)
            close(out_pipe[i]);
        if (err_pipe[i] >= 0)
            close(err_pipe[i]);
    }
    return rc;

pipe_fail:
    snprintf(msg, msgcap, "pipe: %s", strerror(errno));
fail:
    for (int i = 0; i < 2; i++) {
        if (in_pipe[i] >= 0)
            close(in_pipe[i]);
        if (out_pipe[i] >= 0)
            close(out_pipe[i]);
        if (err_pipe[i] >= 0)
            close(err_pipe[i]);
    }
    return -1;
}
