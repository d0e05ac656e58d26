/* Starting a process inside a running container through cric-enter
 * (src/enter): for ExecSync (exec_sync.c) and for the streaming server's
 * interactive exec (ctr_exec_start below, with pipes or a terminal of the
 * container). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ctr/ctr_int.h"
#include "ctr/spec_internal.h"
#include "enter/plan.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

extern char **environ;

/* The cgroup.procs files of every hierarchy the container's init is in
 * (v1 controllers, named hierarchies, the v2 mount of a hybrid host). */
int ctr_cgroup_procs(ctr_service *s, pid_t pid, char ***out, size_t *n, cric_err *err)
{
    *out = NULL;
    *n = 0;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
    char *text = NULL;
    size_t len = 0;
    if (fs_read_file(path, 65536, &text, &len, err) < 0)
        return -1;
    char **v = calloc(CGROUP_MAX_MOUNTS + 1, sizeof(char *));
    if (!v) {
        free(text);
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    }
    int rc = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && rc == 0;
         line = strtok_r(NULL, "\n", &save)) {
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        const char *ctrls = c1 + 1, *rel = c2 + 1;
        if (rel[0] != '/' || strstr(rel, "/..") || strlen(rel) > 3000) {
            rc = cric_err_set(err, CRIC_ERR_INTERNAL, "pid %d: odd cgroup path %.200s", (int)pid,
                              rel);
            break;
        }
        const char *mnt = NULL;
        if (!*ctrls && strncmp(line, "0:", 2) == 0) {
            mnt = s->cg.v2;
        } else {
            for (size_t i = 0; i < s->cg.n_v1; i++)
                if (strcmp(s->cg.v1_ctrls[i], ctrls) == 0)
                    mnt = s->cg.v1[i];
        }
        if (!mnt || *n >= CGROUP_MAX_MOUNTS)
            continue; /* a hierarchy not mounted here cannot be joined either */
        if (asprintf(&v[*n], "%s%s/cgroup.procs", mnt, strcmp(rel, "/") ? rel : "") < 0) {
            v[*n] = NULL;
            rc = cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
            break;
        }
        (*n)++;
    }
    free(text);
    if (rc < 0) {
        cleanup_strvp(&v);
        *n = 0;
        return -1;
    }
    *out = v;
    return 0;
}

int ctr_enter_target(ctr_service *s, ctr_rec *r, pid_t init_pid, int *pidfd, char ***cg,
                     size_t *ncg, cric_err *err)
{
    *pidfd = -1;
    *cg = NULL;
    *ncg = 0;
    _cleanup_close_ int fd = (int)syscall(SYS_pidfd_open, init_pid, 0);
    if (fd < 0)
        return cric_err_set(err, CRIC_ERR_PRECONDITION, "container %s is not running", r->id);
    /* the pid is the init's while the container is running: checked after
     * the pidfd pins the process, so a recycled pid is never entered */
    pthread_mutex_lock(&s->mu);
    bool running = r->state == CTR_RUNNING && r->pid == init_pid;
    pthread_mutex_unlock(&s->mu);
    if (!running)
        return cric_err_set(err, CRIC_ERR_PRECONDITION, "container %s is not running", r->id);
    if (ctr_cgroup_procs(s, init_pid, cg, ncg, err) < 0)
        return cric_err_prefix(err, "container %s: exec", r->id);
    *pidfd = fd;
    fd = -1;
    return 0;
}

/* Starts cric-enter in its own process group with stdio[0..2] (-1:
 * /dev/null), the init's pidfd as fd 3, the report pipe as fd 4 and, for a
 * terminal, the console socket as fd 5. */
int ctr_enter_spawn(ctr_service *s, ctr_rec *r, pid_t init_pid, const char *plan, char *const *argv,
                    size_t argc, const int stdio[3], int report_w, int console, pid_t *pid,
                    cric_err *err)
{
    *pid = -1;
    _cleanup_close_ int pidfd = -1;
    char **cg = NULL;
    size_t ncg = 0;
    if (ctr_enter_target(s, r, init_pid, &pidfd, &cg, &ncg, err) < 0)
        return -1;
    _cleanup_close_ int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    const char **args = calloc(4 + ncg + argc + 1, sizeof(char *));
    char ncg_s[24];
    snprintf(ncg_s, sizeof(ncg_s), "%zu", ncg);
    int rc = 0;
    if (!args || null < 0) {
        rc = cric_err_errno(err, args ? errno : ENOMEM, "container %s: exec", r->id);
    } else {
        size_t k = 0;
        args[k++] = "cric-enter";
        args[k++] = plan;
        args[k++] = ncg_s;
        for (size_t i = 0; i < ncg; i++)
            args[k++] = cg[i];
        for (size_t i = 0; i < argc; i++)
            args[k++] = argv[i];
        args[k] = NULL;
        /* the descriptors go to 0..5: first lift them clear of that range */
        int hi[6] = {-1, -1, -1, -1, -1, -1};
        const int src[6] = {stdio[0] >= 0 ? stdio[0] : null,
                            stdio[1] >= 0 ? stdio[1] : null,
                            stdio[2] >= 0 ? stdio[2] : null,
                            pidfd,
                            report_w,
                            console};
        int nfd = console >= 0 ? 6 : 5;
        for (int i = 0; i < nfd && rc == 0; i++) {
            hi[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 10);
            if (hi[i] < 0)
                rc = cric_err_errno(err, errno, "container %s: exec: dup", r->id);
        }
        /* posix_spawn: the child shares the daemon's memory until it execs
         * (no copy of a large process's page tables per probe). It leaves
         * glibc's internal signals as they are; cric-enter resets every
         * disposition itself. */
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t at;
        posix_spawn_file_actions_init(&fa);
        posix_spawnattr_init(&at);
        sigset_t none, all;
        sigemptyset(&none);
        sigfillset(&all);
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                          POSIX_SPAWN_SETSIGDEF);
        posix_spawnattr_setpgroup(&at, 0);
        posix_spawnattr_setsigmask(&at, &none);
        posix_spawnattr_setsigdefault(&at, &all);
        for (int i = 0; i < nfd && rc == 0; i++)
            if (posix_spawn_file_actions_adddup2(&fa, hi[i], i) != 0)
                rc = cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
        if (rc == 0) {
            int e = posix_spawn(pid, s->enter_path, &fa, &at, (char *const *)args, environ);
            if (e != 0) {
                *pid = -1;
                rc = cric_err_errno(err, e, "container %s: exec: spawn %s", r->id, s->enter_path);
            }
        }
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&at);
        for (int i = 0; i < nfd; i++)
            if (hi[i] >= 0)
                close(hi[i]);
    }
    free(args);
    cleanup_strvp(&cg);
    return rc;
}

#define EXEC_ARGS_MAX 4096
#define EXEC_START_TIMEOUT_MS 10000

int ctr_exec_args_check(char *const *argv, size_t argc, cric_err *err)
{
    if (argc == 0 || argc > EXEC_ARGS_MAX)
        return cric_err_set(err, CRIC_ERR_INVALID, "cmd needs 1 to %d arguments", EXEC_ARGS_MAX);
    /* the same rules for cric-enter and the runtime (process.json: JSON strings) */
    for (size_t i = 0; i < argc; i++) {
        json_t *t = argv[i] ? json_string(argv[i]) : NULL;
        bool ok = t && (i > 0 || argv[i][0]) && strlen(argv[i]) <= SPEC_MAX_STRLEN;
        json_decref(t);
        if (!ok)
            return cric_err_set(err, CRIC_ERR_INVALID,
                                "exec: argument %zu empty, too long or not UTF-8", i);
    }
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The terminal master cric-enter's child sent on the console socket. */
static int recv_master(int sock)
{
    char byte;
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    ssize_t n;
    do
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
            c->cmsg_len == CMSG_LEN(sizeof(int))) {
            int fd;
            memcpy(&fd, CMSG_DATA(c), sizeof(int));
            return fd;
        }
    return -1;
}

/* Reads the report pipe until EOF (the command was exec'd: cric-enter's
 * child closes its end on execve) or the deadline; what it says is a setup
 * or exec failure. 0: started; -1: err filled. */
static int await_start(const ctr_rec *r, int report_r, cric_err *err)
{
    char msg[1024];
    size_t len = 0;
    int64_t deadline = now_ms() + EXEC_START_TIMEOUT_MS;
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return cric_err_set(err, CRIC_ERR_TIMEOUT,
                                "container %s: exec: the command did not start within %dms", r->id,
                                EXEC_START_TIMEOUT_MS);
        struct pollfd p = {.fd = report_r, .events = POLLIN};
        int pr = poll(&p, 1, (int)left);
        if (pr < 0 && errno != EINTR)
            return cric_err_errno(err, errno, "container %s: exec: poll", r->id);
        if (pr <= 0)
            continue;
        ssize_t n = read(report_r, msg + len, sizeof(msg) - 1 - len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n > 0 && len + (size_t)n < sizeof(msg) - 1) {
            len += (size_t)n;
            continue;
        }
        if (n > 0)
            len += (size_t)n; /* full: enough to name the failure */
        break;
    }
    if (len == 0)
        return 0;
    msg[len] = '\0';
    msg[strcspn(msg, "\n")] = '\0';
    if (strncmp(msg, "exec: ", 6) == 0) {
        /* "exec: <errno>: <command>: <reason>": as the runtimes word it */
        const char *m = strchr(msg + 6, ':');
        return cric_err_set(err, CRIC_ERR_INTERNAL, "container %s: exec failed:%s", r->id,
                            m ? m + 1 : msg + 5);
    }
    return cric_err_set(err, CRIC_ERR_INTERNAL, "container %s: exec: %s", r->id, msg);
}

int ctr_exec_start(ctr_service *s, const char *id, char *const *argv, size_t argc, bool tty,
                   bool want_stdin, ctr_exec_proc *out, const char **why, cric_err *err)
{
    out->pid = -1;
    out->pty_fd = out->stdin_fd = out->stdout_fd = out->stderr_fd = -1;
    *why = NULL;
    if (ctr_exec_args_check(argv, argc, err) < 0)
        return -1;
    ctr_rec *r = NULL;
    if (ctr_get(s, id, &r, err) < 0)
        return -1;
    pthread_mutex_lock(&s->mu);
    int st = r->state;
    pid_t init_pid = r->pid;
    pthread_mutex_unlock(&s->mu);
    int rc = -1;
    int in[2] = {-1, -1}, po[2] = {-1, -1}, pe[2] = {-1, -1}, rep[2] = {-1, -1};
    int cons[2] = {-1, -1};
    pid_t pid = -1;
    const char *plan = NULL;
    const struct enter_plan *parsed = NULL;
    if (st != CTR_RUNNING) {
        cric_err_set(err, CRIC_ERR_PRECONDITION, "container %s is not running", r->id);
        goto done;
    }
    int pl = ctr_exec_plan_get(s, r, &plan, &parsed, why, err);
    if (pl <= 0 || init_pid <= 0) {
        if (pl == 1)
            *why = "no init pid";
        rc = pl < 0 ? -1 : 0;
        goto done;
    }
    if (pipe2(rep, O_CLOEXEC) < 0 ||
        (tty ? socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cons) < 0
             : pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0 ||
                   (want_stdin && pipe2(in, O_CLOEXEC) < 0))) {
        cric_err_errno(err, errno, "container %s: exec: pipe", r->id);
        goto done;
    }
    const int stdio[3] = {in[0], po[1], pe[1]};
    if (ctr_enter_spawn(s, r, init_pid, plan, argv, argc, stdio, rep[1], cons[1], &pid, err) < 0)
        goto done;
    close(rep[1]);
    rep[1] = -1;
    if (cons[1] >= 0) {
        close(cons[1]);
        cons[1] = -1;
    }
    if (await_start(r, rep[0], err) < 0)
        goto done;
    if (tty) {
        out->pty_fd = recv_master(cons[0]);
        if (out->pty_fd < 0) {
            cric_err_set(err, CRIC_ERR_INTERNAL, "container %s: exec: no terminal from cric-enter",
                         r->id);
            goto done;
        }
    } else {
        out->stdin_fd = in[1];
        out->stdout_fd = po[0];
        out->stderr_fd = pe[0];
        in[1] = po[0] = pe[0] = -1;
    }
    out->pid = pid;
    pid = -1;
    rc = 1;
done:
    if (pid > 0) {
        kill(pid, SIGTERM); /* cric-enter kills its command, if one runs, and exits */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    int *fds[] = {in, po, pe, rep, cons};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
        for (int k = 0; k < 2; k++)
            if (fds[i][k] >= 0)
                close(fds[i][k]);
    ctr_rec_unref(s, r);
    return rc;
}

void ctr_exec_kill(pid_t pid)
{
    if (pid > 0)
        kill(pid, SIGTERM); /* cric-enter SIGKILLs the command and exits */
}
