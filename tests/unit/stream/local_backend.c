#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "local_backend.h"

int local_be_check(void *ctx, const char *id, cric_err *err)
{
    if (strcmp(id, "missing") == 0)
        return cric_err_set(err, CRIC_ERR_NOT_FOUND, "container %s not found", id);
    return 0;
}

static int spawn(char *const argv[], bool tty, stream_proc *out, cric_err *err)
{
    int in[2] = {-1, -1}, o[2] = {-1, -1}, e[2] = {-1, -1}, master = -1;
    char slave[128] = "";
    if (tty) {
        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 ||
            ptsname_r(master, slave, sizeof(slave)) != 0)
            return cric_err_errno(err, errno, "openpt");
    } else if (pipe2(in, O_CLOEXEC) < 0 || pipe2(o, O_CLOEXEC) < 0 || pipe2(e, O_CLOEXEC) < 0) {
        return cric_err_errno(err, errno, "pipe");
    }
    pid_t pid = fork();
    if (pid == 0) {
        if (tty) {
            setsid();
            int s = open(slave, O_RDWR);
            ioctl(s, TIOCSCTTY, 0);
            dup2(s, 0);
            dup2(s, 1);
            dup2(s, 2);
        } else {
            dup2(in[0], 0);
            dup2(o[1], 1);
            dup2(e[1], 2);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    out->pid = pid;
    if (tty) {
        out->pty_fd = master;
    } else {
        close(in[0]);
        close(o[1]);
        close(e[1]);
        out->stdin_fd = in[1];
        out->stdout_fd = o[0];
        out->stderr_fd = e[0];
    }
    return 0;
}

int local_be_start(void *ctx, const stream_request *req, stream_proc *out, cric_err *err)
{
    tbackend *tb = ctx;
    if (strcmp(req->id, "broken") == 0)
        return cric_err_set(err, CRIC_ERR_PRECONDITION, "container %s is not running", req->id);
    if (req->kind == STREAM_ATTACH) {
        char *argv[] = {"sh", "-c", "echo attached; cat", NULL};
        int rc = spawn(argv, req->tty, out, err);
        /* attach has no process to wait for: the test backend reaps it itself */
        out->handle = (void *)(intptr_t)out->pid;
        out->pid = 0;
        return rc;
    }
    int rc = spawn(req->cmd, req->tty, out, err);
    tb->last_pid = out->pid;
    if (!req->stdout_ && out->stdout_fd >= 0) {
        close(out->stdout_fd);
        out->stdout_fd = -1;
    }
    if (!req->stderr_ && out->stderr_fd >= 0) {
        close(out->stderr_fd);
        out->stderr_fd = -1;
    }
    return rc;
}

void local_be_release(void *ctx, stream_proc *p)
{
    pid_t pid = (pid_t)(intptr_t)p->handle;
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
}

int local_be_netns(void *ctx, const char *pod, char **path, cric_err *err)
{
    tbackend *tb = ctx;
    if (strcmp(pod, "missing") == 0)
        return cric_err_set(err, CRIC_ERR_NOT_FOUND, "pod sandbox %s not found", pod);
    *path = strdup(tb->netns);
    return 0;
}
