#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stream/ociexec.h"
#include "util/signals.h"
#include "util/cleanup.h"

typedef struct oci_handle {
    char process_path[256], pid_path[256], sock_path[108];
    int keep_fd; /* tty: the runtime's stderr, drained by nobody, closed at release */
    pid_t runtime_pid;
} oci_handle;

static int make_names(oci_handle *h, const char *dir, cric_err *err)
{
    unsigned char r[8];
    if (getrandom(r, sizeof(r), 0) != sizeof(r))
        return cric_err_errno(err, errno, "exec: getrandom");
    char tag[17];
    for (int i = 0; i < 8; i++)
        snprintf(tag + 2 * i, 3, "%02x", r[i]);
    int a = snprintf(h->process_path, sizeof(h->process_path), "%s/exec-%s.json", dir, tag);
    int b = snprintf(h->pid_path, sizeof(h->pid_path), "%s/exec-%s.pid", dir, tag);
    int c = snprintf(h->sock_path, sizeof(h->sock_path), "%s/exec-%s.sock", dir, tag);
    if (a >= (int)sizeof(h->process_path) || b >= (int)sizeof(h->pid_path) ||
        c >= (int)sizeof(h->sock_path))
        return cric_err_set(err, CRIC_ERR_INTERNAL, "exec: work directory %s is too long", dir);
    return 0;
}

/* The container's process with our args and terminal setting. */
static int write_process(const oci_exec_opts *o, const char *path, cric_err *err)
{
    json_error_t jerr;
    json_t *cfg = json_load_file(o->config_path, 0, &jerr);
    if (!cfg)
        return cric_err_set(err, CRIC_ERR_INTERNAL, "container %s: read %s: %s", o->container_id,
                            o->config_path, jerr.text);
    json_t *proc = json_deep_copy(json_object_get(cfg, "process"));
    json_decref(cfg);
    if (!json_is_object(proc)) {
        json_decref(proc);
        return cric_err_set(err, CRIC_ERR_INTERNAL, "container %s: %s has no process",
                            o->container_id, o->config_path);
    }
    json_t *args = json_array();
    for (size_t i = 0; i < o->argc; i++)
        json_array_append_new(args, json_string(o->argv[i]));
    json_object_set_new(proc, "args", args);
    json_object_set_new(proc, "terminal", json_boolean(o->tty));
    json_object_del(proc, "consoleSize");
    int rc = json_dump_file(proc, path, JSON_COMPACT);
    json_decref(proc);
    if (rc < 0)
        return cric_err_errno(err, errno, "container %s: write %s", o->container_id, path);
    chmod(path, 0600);
    return 0;
}

static int recv_fd(int sock)
{
    char buf[256];
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    ssize_t n;
    do
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int fd;
            memcpy(&fd, CMSG_DATA(c), sizeof(int));
            return fd;
        }
    errno = EPROTO;
    return -1;
}

static void read_some(int fd, char *buf, size_t size, size_t *len)
{
    while (*len + 1 < size) {
        ssize_t n = read(fd, buf + *len, size - 1 - *len);
        if (n <= 0)
            break;
        *len += (size_t)n;
    }
    buf[*len] = '\0';
}

static long ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool wants_own_pty(const oci_exec_opts *o)
{
    const char *base = strrchr(o->runtime, '/');
    base = base ? base + 1 : o->runtime;
    return o->tty_via_own_pty || strcmp(base, "runc") == 0;
}

/* The runtime in the foreground with our pty as its controlling terminal. */
static int start_on_own_pty(const oci_exec_opts *o, oci_handle *h, stream_proc *out, cric_err *err)
{
    char *argv[16];
    size_t n = 0;
    argv[n++] = (char *)o->runtime;
    if (o->runtime_root && o->runtime_root[0]) {
        argv[n++] = "--root";
        argv[n++] = (char *)o->runtime_root;
    }
    argv[n++] = "exec";
    argv[n++] = "--tty";
    argv[n++] = "--process";
    argv[n++] = h->process_path;
    argv[n++] = "--pid-file";
    argv[n++] = h->pid_path;
    argv[n++] = (char *)o->container_id;
    argv[n] = NULL;
    char slave[128];
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 ||
        ptsname_r(master, slave, sizeof(slave)) != 0) {
        int e = errno;
        if (master >= 0)
            close(master);
        return cric_err_errno(err, e, "container %s: exec: allocate a pty", o->container_id);
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(master);
        return cric_err_errno(err, e, "container %s: exec: fork", o->container_id);
    }
    if (pid == 0) {
        setsid();
        int s = open(slave, O_RDWR);
        if (s < 0 || ioctl(s, TIOCSCTTY, 0) < 0)
            _exit(127);
        if (dup2(s, 0) < 0 || dup2(s, 1) < 0 || dup2(s, 2) < 0)
            _exit(127);
        /* The daemon ignores SIGPIPE; an ignored signal would stay ignored
         * across exec into the runtime and the user's process. */
        signals_reset_all();
        execv(o->runtime, argv);
        _exit(127);
    }
    h->runtime_pid = pid;
    out->pid = pid;
    out->pty_fd = master;
    out->handle = h;
    return 0;
}

int oci_exec_start(const oci_exec_opts *o, stream_proc *out, cric_err *err)
{
    oci_handle *h = calloc(1, sizeof(*h));
    if (!h)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "exec: out of memory");
    h->keep_fd = -1;
    int in[2] = {-1, -1}, po[2] = {-1, -1}, pe[2] = {-1, -1};
    _cleanup_close_ int lsock = -1;
    _cleanup_close_ int devnull = -1;
    char *argv[16];
    int rc = -1;
    if (access(o->runtime, X_OK) < 0) {
        cric_err_errno(err, errno, "container %s: exec: OCI runtime %s", o->container_id,
                       o->runtime);
        goto fail;
    }
    if (make_names(h, o->work_dir, err) < 0 || write_process(o, h->process_path, err) < 0)
        goto fail;
    if (o->tty && wants_own_pty(o)) {
        if (start_on_own_pty(o, h, out, err) == 0)
            return 0;
        goto fail;
    }
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (pipe2(pe, O_CLOEXEC) < 0 || devnull < 0 ||
        (!o->tty && (pipe2(po, O_CLOEXEC) < 0 || (o->want_stdin && pipe2(in, O_CLOEXEC) < 0)))) {
        cric_err_errno(err, errno, "container %s: exec: pipe", o->container_id);
        goto fail;
    }
    if (o->tty) {
        lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", h->sock_path);
        if (lsock < 0 || bind(lsock, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            listen(lsock, 1) < 0) {
            cric_err_errno(err, errno, "container %s: exec: console socket %s", o->container_id,
                           h->sock_path);
            goto fail;
        }
    }
    size_t n = 0;
    argv[n++] = (char *)o->runtime;
    if (o->runtime_root && o->runtime_root[0]) {
        argv[n++] = "--root";
        argv[n++] = (char *)o->runtime_root;
    }
    argv[n++] = "exec";
    argv[n++] = "--process";
    argv[n++] = h->process_path;
    argv[n++] = "--pid-file";
    argv[n++] = h->pid_path;
    if (o->tty) {
        argv[n++] = "--tty"; /* runc checks the flag, not process.terminal */
        argv[n++] = "--console-socket";
        argv[n++] = h->sock_path;
    }
    argv[n++] = (char *)o->container_id;
    argv[n] = NULL;
    int fd0 = o->tty ? devnull : (o->want_stdin ? in[0] : devnull);
    int fd1 = o->tty ? devnull : po[1];
    int fd2 = pe[1];
    pid_t pid = fork();
    if (pid < 0) {
        cric_err_errno(err, errno, "container %s: exec: fork", o->container_id);
        goto fail;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls between fork and exec. */
        if (dup2(fd0, 0) < 0 || dup2(fd1, 1) < 0 || dup2(fd2, 2) < 0)
            _exit(127);
        /* The daemon ignores SIGPIPE; an ignored signal would stay ignored
         * across exec into the runtime and the user's process. */
        signals_reset_all();
        execv(o->runtime, argv);
        _exit(127);
    }
    h->runtime_pid = pid;
    close(pe[1]);
    pe[1] = -1;
    if (po[1] >= 0) {
        close(po[1]);
        po[1] = -1;
    }
    if (in[0] >= 0) {
        close(in[0]);
        in[0] = -1;
    }
    out->pid = pid;
    out->handle = h;
    if (!o->tty) {
        out->stdin_fd = in[1];
        out->stdout_fd = po[0];
        out->stderr_fd = pe[0];
        return 0;
    }
    /* tty: wait for the console master, or for the runtime to fail. */
    long deadline = ms_now() + (o->start_timeout_ms ? o->start_timeout_ms : 10000);
    char msg[2048];
    size_t mlen = 0;
    msg[0] = '\0';
    for (;;) {
        long left = deadline - ms_now();
        if (left <= 0) {
            cric_err_set(err, CRIC_ERR_TIMEOUT,
                         "container %s: exec: %s did not hand over a terminal within %ums",
                         o->container_id, o->runtime,
                         o->start_timeout_ms ? o->start_timeout_ms : 10000);
            break;
        }
        struct pollfd pf[2] = {{.fd = lsock, .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
        int pr = poll(pf, 2, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pf[0].revents & POLLIN) {
            int conn = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
            int master = conn >= 0 ? recv_fd(conn) : -1;
            if (conn >= 0)
                close(conn);
            if (master < 0) {
                cric_err_errno(err, errno, "container %s: exec: receive the terminal",
                               o->container_id);
                break;
            }
            out->pty_fd = master;
            h->keep_fd = pe[0];
            unlink(h->sock_path);
            return 0;
        }
        if (pf[1].revents & (POLLIN | POLLHUP)) {
            size_t before = mlen;
            read_some(pe[0], msg, sizeof(msg), &mlen);
            if (mlen == before) { /* EOF: the runtime exited without a console */
                int ws = 0;
                waitpid(pid, &ws, 0);
                out->pid = 0;
                h->runtime_pid = 0;
                while (mlen > 0 && (msg[mlen - 1] == '\n' || msg[mlen - 1] == '\r'))
                    msg[--mlen] = '\0';
                cric_err_set(err, CRIC_ERR_INTERNAL, "container %s: %s exec: exit %d: %s",
                             o->container_id, o->runtime, WIFEXITED(ws) ? WEXITSTATUS(ws) : -1,
                             msg[0] ? msg : "(no output)");
                if (strstr(msg, "not running") || strstr(msg, "does not exist") ||
                    strstr(msg, "stopped"))
                    err->kind = CRIC_ERR_PRECONDITION;
                break;
            }
        }
    }
    if (out->pid > 0) {
        kill(out->pid, SIGKILL);
        waitpid(out->pid, NULL, 0);
        out->pid = 0;
    }
    out->handle = NULL;
fail:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (po[i] >= 0)
            close(po[i]);
        if (pe[i] >= 0)
            close(pe[i]);
    }
    stream_proc tmp = {.handle = h};
    oci_exec_release(&tmp);
    return rc;
}

void oci_exec_kill(stream_proc *p)
{
    oci_handle *h = p->handle;
    if (h) {
        char buf[32] = "";
        int fd = open(h->pid_path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t n = read(fd, buf, sizeof(buf) - 1);
            close(fd);
            buf[n > 0 ? n : 0] = '\0';
            long pid = strtol(buf, NULL, 10);
            /* The runtime exits with its process, after cleaning up. */
            if (pid > 1 && kill((pid_t)pid, SIGKILL) == 0)
                return;
        }
    }
    if (p->pid > 0)
        kill(p->pid, SIGKILL);
}

void oci_exec_release(stream_proc *p)
{
    oci_handle *h = p->handle;
    if (!h)
        return;
    unlink(h->process_path);
    unlink(h->pid_path);
    unlink(h->sock_path);
    if (h->keep_fd >= 0)
        close(h->keep_fd);
    free(h);
    p->handle = NULL;
}
