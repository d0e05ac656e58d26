#include "shim_client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shim/protocol.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/helper_path.h"

extern char **environ;

#define CONTROL_TIMEOUT_MS 10000

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool abs_ok(const char *p)
{
    return p && p[0] == '/' && strlen(p) < 4000 && !strstr(p, "/../");
}

int shim_default_path(char *out, size_t cap, cric_err *err)
{
    return helper_path_find("cric-shim", "shim", out, cap, err);
}

/* ---- launch ---- */

/* After a create timeout: the shim and what it started (the runtime, a half
 * created container) share the shim's process group. */
void shim_kill_group(const char *state_dir)
{
    pid_t pid = 0;
    if (shim_check(state_dir, &pid) != SHIM_ALIVE || pid <= 0)
        return;
    pid_t pg = getpgid(pid);
    if (pg > 1 && pg != getpgrp())
        killpg(pg, SIGKILL);
    else
        kill(pid, SIGKILL);
}

static int read_sync(int fd, char *buf, size_t cap, int timeout_ms, bool *timed_out)
{
    size_t len = 0;
    int64_t deadline = mono_ms() + timeout_ms;
    *timed_out = false;
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0) {
            *timed_out = true;
            break;
        }
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            continue;
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == cap - 1)
            break;
    }
    buf[len] = '\0';
    return (int)len;
}

int shim_launch(const struct shim_launch_opts *o, pid_t *init_pid, cric_err *err)
{
    const char *id = o->id ? o->id : "";
    if (!o->id || !shim_id_valid(o->id))
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: bad id", id);
    if (!abs_ok(o->bundle) || !abs_ok(o->state_dir) || !o->runtime_path || !*o->runtime_path ||
        (o->log_path && !abs_ok(o->log_path)) || (o->memory_cgroup && !abs_ok(o->memory_cgroup)))
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "container %s: shim launch: paths must be absolute", id);
    char shim[PATH_MAX];
    if (o->shim_path) {
        snprintf(shim, sizeof(shim), "%s", o->shim_path);
    } else if (shim_default_path(shim, sizeof(shim), err) < 0) {
        return cric_err_prefix(err, "container %s: ", id);
    }

    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return cric_err_errno(err, errno, "container %s: shim sync pipe", id);
    _cleanup_close_ int rfd = p[0];
    _cleanup_close_ int wfd = p[1];
    if (wfd < 10) { /* keep it clear of the fd number it gets in the shim */
        int hi = fcntl(wfd, F_DUPFD_CLOEXEC, 10);
        if (hi < 0)
            return cric_err_errno(err, errno, "container %s: shim sync pipe", id);
        close(wfd);
        wfd = hi;
    }

    const char *argv[32];
    int a = 0;
    argv[a++] = shim;
    argv[a++] = "--id";
    argv[a++] = o->id;
    argv[a++] = "--bundle";
    argv[a++] = o->bundle;
    argv[a++] = "--state-dir";
    argv[a++] = o->state_dir;
    argv[a++] = "--runtime";
    argv[a++] = o->runtime_path;
    if (o->runtime_root && *o->runtime_root) {
        argv[a++] = "--runtime-root";
        argv[a++] = o->runtime_root;
    }
    if (o->log_path) {
        argv[a++] = "--log-path";
        argv[a++] = o->log_path;
    }
    if (o->memory_cgroup) {
        argv[a++] = "--memory-cgroup";
        argv[a++] = o->memory_cgroup;
    }
    if (o->tty)
        argv[a++] = "--tty";
    if (o->stdin_open)
        argv[a++] = "--stdin";
    if (o->stdin_once)
        argv[a++] = "--stdin-once";
    argv[a++] = "--sync-fd";
    argv[a++] = "3";
    if (o->has_runtime_fd) {
        argv[a++] = "--runtime-fd";
        argv[a++] = "4";
    }
    argv[a] = NULL;

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, wfd, 3);
    if (o->has_runtime_fd)
        posix_spawn_file_actions_adddup2(&fa, o->runtime_fd, 4);
    posix_spawn_file_actions_addclosefrom_np(&fa, o->has_runtime_fd ? 5 : 4);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t launcher;
    int rc = posix_spawn(&launcher, shim, &fa, &attr, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0)
        return cric_err_errno(err, rc, "container %s: spawn %s", id, shim);
    close(TAKE_FD(wfd));

    /* the launcher forks the shim and exits at once */
    int st = 0;
    while (waitpid(launcher, &st, 0) < 0 && errno == EINTR) {
    }

    char msg[CRIC_ERR_MSG_MAX];
    bool timed_out;
    int timeout = o->timeout_ms > 0 ? o->timeout_ms : 60000;
    int n = read_sync(rfd, msg, sizeof(msg), timeout, &timed_out);
    if (timed_out) {
        shim_kill_group(o->state_dir);
        return cric_err_set(err, CRIC_ERR_TIMEOUT,
                            "container %s: %s create did not finish within %d ms", id,
                            o->runtime_path, timeout);
    }
    if (n <= 0)
        return cric_err_set(err, CRIC_ERR_INTERNAL,
                            "container %s: shim exited without reporting (launcher status %d, "
                            "see %s/%s)",
                            id, st, o->state_dir, SHIM_LOG_NAME);
    if (strncmp(msg, "ok ", 3) == 0) {
        long v = strtol(msg + 3, NULL, 10);
        if (v <= 0 || v > INT_MAX)
            return cric_err_set(err, CRIC_ERR_INTERNAL, "container %s: shim sent a bad pid", id);
        *init_pid = (pid_t)v;
        return 0;
    }
    if (strncmp(msg, "error ", 6) == 0)
        return cric_err_set(err, CRIC_ERR_INTERNAL, "container %s: %s", id, msg + 6);
    return cric_err_set(err, CRIC_ERR_INTERNAL, "container %s: shim sent an unexpected reply", id);
}

/* ---- state files ---- */

static int json_int(const char *doc, const char *key, int64_t *out)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(doc, pat);
    if (!p)
        return -1;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    if (strncmp(p, "true", 4) == 0) {
        *out = 1;
        return 0;
    }
    if (strncmp(p, "false", 5) == 0) {
        *out = 0;
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (end == p || errno)
        return -1;
    *out = v;
    return 0;
}

int shim_read_exit(const char *state_dir, struct shim_exit *out, cric_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", state_dir, SHIM_EXIT_NAME);
    _cleanup_free_ char *doc = NULL;
    if (fs_read_file(path, 4096, &doc, NULL, err) < 0)
        return -1;
    int64_t pid, code, sig, oom, c, s, f;
    if (json_int(doc, "pid", &pid) < 0 || json_int(doc, "exit_code", &code) < 0 ||
        json_int(doc, "signal", &sig) < 0 || json_int(doc, "oom_killed", &oom) < 0 ||
        json_int(doc, "created_at", &c) < 0 || json_int(doc, "started_at", &s) < 0 ||
        json_int(doc, "finished_at", &f) < 0)
        return cric_err_set(err, CRIC_ERR_INTERNAL, "%s: malformed exit record", path);
    *out = (struct shim_exit){.pid = (pid_t)pid,
                              .exit_code = (int)code,
                              .signal = (int)sig,
                              .oom_killed = oom != 0,
                              .created_at = c,
                              .started_at = s,
                              .finished_at = f};
    return 0;
}

static bool exit_file_exists(const char *state_dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", state_dir, SHIM_EXIT_NAME);
    return access(path, F_OK) == 0;
}

static bool pid_matches(pid_t pid, unsigned long long starttime)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return false;
    if (p[2] == 'Z' || p[2] == 'X') /* zombie: gone as far as we care */
        return false;
    /* p is at ')'; the n-th space after it precedes field n+2 */
    for (int field = 3; field <= 22; field++) {
        p = strchr(p + 1, ' ');
        if (!p)
            return false;
    }
    return strtoull(p + 1, NULL, 10) == starttime;
}

/* Polls until the process is gone; the pidfd (when there is one) makes it
 * a wait instead of a sleep loop. */
static bool wait_pid_gone(int pidfd, pid_t pid, unsigned long long st, int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    for (;;) {
        if (!pid_matches(pid, st))
            return true;
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return false;
        if (pidfd >= 0) {
            /* readable once the process has exited (a zombie counts) */
            struct pollfd p = {pidfd, POLLIN, 0};
            if (poll(&p, 1, (int)left) > 0)
                return true;
        } else {
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
}

bool shim_wait_gone(const char *state_dir, int timeout_ms)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", state_dir, SHIM_PID_NAME);
    _cleanup_free_ char *doc = NULL;
    long pid = 0;
    unsigned long long st = 0;
    if (fs_read_file(path, 128, &doc, NULL, NULL) < 0 || sscanf(doc, "%ld %llu", &pid, &st) != 2 ||
        pid <= 0 || pid > INT_MAX)
        return true;
    /* Taken before the start time is compared: the pidfd cannot name a
     * process that reused the number afterwards. */
    _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
    if (wait_pid_gone(pidfd, (pid_t)pid, st, timeout_ms))
        return true;
    if (pidfd >= 0)
        syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
    else if (pid_matches((pid_t)pid, st))
        kill((pid_t)pid, SIGKILL);
    wait_pid_gone(pidfd, (pid_t)pid, st, 1000);
    return false;
}

enum shim_liveness shim_check(const char *state_dir, pid_t *shim_pid)
{
    if (exit_file_exists(state_dir))
        return SHIM_EXITED;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", state_dir, SHIM_PID_NAME);
    _cleanup_free_ char *doc = NULL;
    if (fs_read_file(path, 128, &doc, NULL, NULL) < 0)
        return exit_file_exists(state_dir) ? SHIM_EXITED : SHIM_LOST;
    long pid = 0;
    unsigned long long st = 0;
    if (sscanf(doc, "%ld %llu", &pid, &st) != 2 || pid <= 0 || pid > INT_MAX)
        return SHIM_LOST;
    if (shim_pid)
        *shim_pid = (pid_t)pid;
    if (pid_matches((pid_t)pid, st))
        return SHIM_ALIVE;
    /* it may have written the exit file and exited just now */
    return exit_file_exists(state_dir) ? SHIM_EXITED : SHIM_LOST;
}

/* ---- socket ---- */

static int shim_connect(const char *state_dir, cric_err *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    _cleanup_close_ int dirfd = -1;
    int w = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", state_dir, SHIM_SOCK_NAME);
    if (w < 0 || (size_t)w >= sizeof(sa.sun_path)) {
        /* too long for sockaddr_un: go through the directory's fd */
        dirfd = open(state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
            return cric_err_errno(err, errno, "open %s", state_dir);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dirfd, SHIM_SOCK_NAME);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return cric_err_errno(err, errno, "shim socket");
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        if (e == ENOENT || e == ECONNREFUSED)
            return cric_err_set(err, CRIC_ERR_PRECONDITION, "container is not running (no shim)");
        return cric_err_errno(err, e, "connect %s/%s", state_dir, SHIM_SOCK_NAME);
    }
    struct timeval tv = {CONTROL_TIMEOUT_MS / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

static int send_all(int fd, const void *data, size_t len, cric_err *err)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return cric_err_errno(err, n < 0 ? errno : EPIPE, "shim: send");
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int send_frame(int fd, uint8_t type, const void *data, size_t len, cric_err *err)
{
    if (len > SHIM_FRAME_MAX)
        return cric_err_set(err, CRIC_ERR_INVALID, "shim: frame of %zu bytes too large", len);
    uint8_t hdr[SHIM_FRAME_HDR];
    shim_frame_header(hdr, type, (uint32_t)len);
    if (send_all(fd, hdr, sizeof(hdr), err) < 0)
        return -1;
    return len ? send_all(fd, data, len, err) : 0;
}

/* One control request; reply gets the text after "ok" (may be empty). */
static int control(const char *state_dir, const char *cmd, char *reply, size_t cap, cric_err *err)
{
    _cleanup_close_ int fd = shim_connect(state_dir, err);
    if (fd < 0)
        return -1;
    if (send_frame(fd, SHIM_MSG_CONTROL, cmd, strlen(cmd), err) < 0)
        return -1;
    _cleanup_free_ struct shim_frame_reader *r = malloc(sizeof(*r));
    if (!r)
        return cric_err_errno(err, ENOMEM, "shim: %s", cmd);
    shim_frame_reader_init(r);
    for (;;) {
        uint8_t buf[512];
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return cric_err_set(err, CRIC_ERR_TIMEOUT, "shim: %s: no reply", cmd);
        if (n < 0)
            return cric_err_errno(err, errno, "shim: %s", cmd);
        if (n == 0)
            return cric_err_set(err, CRIC_ERR_PRECONDITION,
                                "shim: %s: connection closed (container exiting)", cmd);
        const uint8_t *p = buf;
        size_t len = (size_t)n;
        while (len > 0) {
            int st = shim_frame_feed(r, &p, &len);
            if (st == SHIM_FRAME_BAD)
                return cric_err_set(err, CRIC_ERR_INTERNAL, "shim: %s: bad frame", cmd);
            if (st != SHIM_FRAME_READY || r->type != SHIM_MSG_RESULT)
                continue;
            char text[SHIM_FRAME_MAX + 1];
            memcpy(text, r->payload, r->len);
            text[r->len] = '\0';
            if (strncmp(text, "ok", 2) == 0) {
                if (reply && cap > 0) {
                    const char *d = text[2] == ' ' ? text + 3 : "";
                    size_t l = strnlen(d, cap - 1);
                    memcpy(reply, d, l);
                    reply[l] = '\0';
                }
                return 0;
            }
            if (strcmp(text, "error container is not running") == 0)
                return cric_err_set(err, CRIC_ERR_PRECONDITION, "container is not running");
            return cric_err_set(err, CRIC_ERR_INTERNAL, "shim: %s: %s", cmd,
                                strncmp(text, "error ", 6) == 0 ? text + 6 : text);
        }
    }
}

int shim_mark_starting(const char *state_dir, cric_err *err)
{
    return control(state_dir, "starting", NULL, 0, err);
}

int shim_reopen_log(const char *state_dir, cric_err *err)
{
    return control(state_dir, "reopen-log", NULL, 0, err);
}

int shim_query_state(const char *state_dir, struct shim_state *out, cric_err *err)
{
    char reply[256];
    if (control(state_dir, "state", reply, sizeof(reply), err) < 0)
        return -1;
    int pid;
    long long c, s;
    char status[16];
    if (sscanf(reply, "%d %15s %lld %lld", &pid, status, &c, &s) != 4)
        return cric_err_set(err, CRIC_ERR_INTERNAL, "shim: state: bad reply '%s'", reply);
    out->init_pid = pid;
    snprintf(out->status, sizeof(out->status), "%s", status);
    out->created_at = c;
    out->started_at = s;
    return 0;
}

int shim_send_resize(int fd, unsigned rows, unsigned cols, cric_err *err)
{
    if (rows > 0xffff || cols > 0xffff)
        return cric_err_set(err, CRIC_ERR_INVALID, "resize: %ux%u out of range", rows, cols);
    uint8_t p[4] = {(uint8_t)(rows >> 8), (uint8_t)rows, (uint8_t)(cols >> 8), (uint8_t)cols};
    return send_frame(fd, SHIM_MSG_RESIZE, p, sizeof(p), err);
}

int shim_resize(const char *state_dir, unsigned rows, unsigned cols, cric_err *err)
{
    _cleanup_close_ int fd = shim_connect(state_dir, err);
    if (fd < 0)
        return -1;
    return shim_send_resize(fd, rows, cols, err);
}

int shim_attach_connect(const char *state_dir, unsigned flags, cric_err *err)
{
    if (flags == 0 || flags > 7)
        return cric_err_set(err, CRIC_ERR_INVALID, "attach: bad flags %u", flags);
    _cleanup_close_ int fd = shim_connect(state_dir, err);
    if (fd < 0)
        return -1;
    uint8_t f = (uint8_t)flags;
    if (send_frame(fd, SHIM_MSG_ATTACH, &f, 1, err) < 0)
        return -1;
    /* streams block for as long as the caller wants */
    struct timeval tv = {0, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return TAKE_FD(fd);
}

void shim_attach_fds_close(struct shim_attach_fds *a)
{
    int *fds[] = {&a->ctl_fd, &a->pty_fd, &a->stdin_fd, &a->stdout_fd, &a->stderr_fd};
    for (size_t i = 0; i < ARRAY_LEN(fds); i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
}

int shim_attach_fds_open(const char *state_dir, unsigned flags, struct shim_attach_fds *out,
                         cric_err *err)
{
    *out = (struct shim_attach_fds){-1, false, -1, -1, -1, -1};
    if (flags == 0 || flags > 7)
        return cric_err_set(err, CRIC_ERR_INVALID, "attach: bad flags %u", flags);
    _cleanup_close_ int fd = shim_connect(state_dir, err);
    if (fd < 0)
        return -1;
    uint8_t f = (uint8_t)(flags | SHIM_ATTACH_FDS);
    if (send_frame(fd, SHIM_MSG_ATTACH, &f, 1, err) < 0)
        return -1;
    /* the reply: one small frame with the fds attached */
    uint8_t buf[64];
    size_t have = 0;
    int got[3], ngot = 0;
    while (have < SHIM_FRAME_HDR ||
           have < SHIM_FRAME_HDR + ((size_t)buf[3] << 8 | (size_t)buf[4])) {
        union {
            struct cmsghdr h;
            char c[CMSG_SPACE(sizeof(int) * 3)];
        } ctl;
        struct iovec iov = {.iov_base = buf + have, .iov_len = sizeof(buf) - have};
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = ctl.c,
                             .msg_controllen = sizeof(ctl.c)};
        ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); n >= 0 && c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            int tmp[3];
            memcpy(tmp, CMSG_DATA(c), (k > 3 ? 3 : k) * sizeof(int));
            for (size_t i = 0; i < k && i < 3; i++) {
                if (ngot < 3)
                    got[ngot++] = tmp[i];
                else
                    close(tmp[i]);
            }
        }
        if (n <= 0) {
            for (int i = 0; i < ngot; i++)
                close(got[i]);
            if (n == 0)
                return cric_err_set(err, CRIC_ERR_PRECONDITION,
                                    "attach: the shim refused (container exiting?)");
            return cric_err_errno(err, errno, "attach: receive fds");
        }
        have += (size_t)n;
        if (have >= sizeof(buf))
            break;
    }
    size_t plen = (size_t)buf[3] << 8 | (size_t)buf[4];
    bool tty =
        buf[0] == SHIM_MSG_RESULT && plen == 6 && memcmp(buf + SHIM_FRAME_HDR, "ok tty", 6) == 0;
    bool ok = buf[0] == SHIM_MSG_RESULT &&
              (tty || (plen == 2 && memcmp(buf + SHIM_FRAME_HDR, "ok", 2) == 0));
    int want = tty ? 1
                   : !!(flags & SHIM_ATTACH_STDIN) + !!(flags & SHIM_ATTACH_STDOUT) +
                         !!(flags & SHIM_ATTACH_STDERR);
    if (!ok || ngot != want) {
        for (int i = 0; i < ngot; i++)
            close(got[i]);
        return cric_err_set(err, CRIC_ERR_INTERNAL, "attach: unexpected reply from the shim");
    }
    out->tty = tty;
    int k = 0;
    if (tty) {
        out->pty_fd = got[k++];
    } else {
        if (flags & SHIM_ATTACH_STDIN)
            out->stdin_fd = got[k++];
        if (flags & SHIM_ATTACH_STDOUT)
            out->stdout_fd = got[k++];
        if (flags & SHIM_ATTACH_STDERR)
            out->stderr_fd = got[k++];
    }
    struct timeval tv = {0, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    out->ctl_fd = TAKE_FD(fd);
    return 0;
}

int shim_watch_connect(const char *state_dir, cric_err *err)
{
    _cleanup_close_ int fd = shim_connect(state_dir, err);
    if (fd < 0)
        return -1;
    uint8_t f = 0; /* attached for nothing but the exit */
    if (send_frame(fd, SHIM_MSG_ATTACH, &f, 1, err) < 0)
        return -1;
    return TAKE_FD(fd);
}

int shim_wait_exit(const char *state_dir, int timeout_ms, struct shim_exit *out, cric_err *err)
{
    if (exit_file_exists(state_dir))
        return shim_read_exit(state_dir, out, err);
    cric_err cerr;
    _cleanup_close_ int fd = shim_watch_connect(state_dir, &cerr);
    if (fd < 0) {
        if (exit_file_exists(state_dir))
            return shim_read_exit(state_dir, out, err);
        if (err)
            *err = cerr;
        if (err && cerr.kind == CRIC_ERR_PRECONDITION)
            cric_err_set(err, CRIC_ERR_NOT_FOUND, "%s: no live shim and no exit record", state_dir);
        return -1;
    }
    int64_t deadline = timeout_ms < 0 ? 0 : mono_ms() + timeout_ms;
    for (;;) {
        int wait = -1;
        if (timeout_ms >= 0) {
            int64_t left = deadline - mono_ms();
            if (left <= 0)
                return cric_err_set(err, CRIC_ERR_TIMEOUT,
                                    "%s: container still running after %d ms", state_dir,
                                    timeout_ms);
            wait = (int)left;
        }
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, wait);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return cric_err_errno(err, errno, "%s: wait", state_dir);
        if (r == 0)
            continue;
        uint8_t buf[256];
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        /* any byte is the EXIT frame (nothing else is sent to a watcher), EOF
         * means the shim is gone: either way the exit file decides */
        break;
    }
    if (exit_file_exists(state_dir))
        return shim_read_exit(state_dir, out, err);
    return cric_err_set(err, CRIC_ERR_NOT_FOUND, "%s: shim died without an exit record", state_dir);
}

int shim_send_stdin(int fd, const void *data, size_t len, cric_err *err)
{
    const char *p = data;
    while (len > 0) {
        size_t n = len < SHIM_FRAME_MAX ? len : SHIM_FRAME_MAX;
        if (send_frame(fd, SHIM_MSG_STDIN, p, n, err) < 0)
            return -1;
        p += n;
        len -= n;
    }
    return 0;
}

int shim_send_close_stdin(int fd, cric_err *err)
{
    return send_frame(fd, SHIM_MSG_CLOSE_STDIN, NULL, 0, err);
}
