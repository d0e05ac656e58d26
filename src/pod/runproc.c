#include "pod/runproc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_pair(int p[2])
{
    for (int i = 0; i < 2; i++)
        if (p[i] >= 0) {
            close(p[i]);
            p[i] = -1;
        }
}

static void cleanup_pipes(int (*pipes)[3][2])
{
    for (int i = 0; i < 3; i++)
        close_pair((*pipes)[i]);
}

static int append(char **buf, size_t *len, const char *data, size_t n)
{
    size_t room = *len < SPAWN_OUT_MAX ? SPAWN_OUT_MAX - *len : 0;
    if (n > room)
        n = room; /* the rest is dropped: output is capped */
    char *p = realloc(*buf, *len + n + 1);
    if (!p)
        return -1;
    if (n)
        memcpy(p + *len, data, n);
    *len += n;
    p[*len] = '\0';
    *buf = p;
    return 0;
}

void spawn_result_free(spawn_result *res)
{
    free(res->out);
    free(res->errout);
    res->out = res->errout = NULL;
}

int spawn_run(const char *path, char *const argv[], char *const envp[], const char *in,
              size_t in_len, int timeout_ms, spawn_result *res, cric_err *err)
{
    memset(res, 0, sizeof(*res));
    __attribute__((cleanup(cleanup_pipes))) int pipes[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
    for (int i = 0; i < 3; i++)
        if (pipe2(pipes[i], O_CLOEXEC) < 0)
            return cric_err_errno(err, errno, "%s: pipe", path);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipes[0][0], 0);
    posix_spawn_file_actions_adddup2(&fa, pipes[1][1], 1);
    posix_spawn_file_actions_adddup2(&fa, pipes[2][1], 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int rc = posix_spawn(&pid, path, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0)
        return cric_err_errno(err, rc, "exec %s", path);
    close(pipes[0][0]);
    pipes[0][0] = -1;
    close(pipes[1][1]);
    pipes[1][1] = -1;
    close(pipes[2][1]);
    pipes[2][1] = -1;
    if (in_len == 0)
        close_pair(pipes[0]);
    else
        fcntl(pipes[0][1], F_SETFL, O_NONBLOCK);

    int64_t deadline = now_ms() + timeout_ms;
    size_t written = 0;
    bool timed_out = false, oom = false;
    while (pipes[0][1] >= 0 || pipes[1][0] >= 0 || pipes[2][0] >= 0) {
        struct pollfd pfd[3] = {
            {pipes[0][1], POLLOUT, 0}, {pipes[1][0], POLLIN, 0}, {pipes[2][0], POLLIN, 0}};
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        int n = poll(pfd, 3, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        if (pfd[0].revents) {
            ssize_t w = write(pipes[0][1], in + written, in_len - written);
            if (w > 0)
                written += (size_t)w;
            if (w < 0 && errno != EAGAIN && errno != EINTR)
                close_pair(pipes[0]); /* EPIPE: the plugin did not read it all */
            else if (written == in_len)
                close_pair(pipes[0]);
        }
        for (int k = 1; k < 3; k++) {
            if (!pfd[k].revents)
                continue;
            char buf[16384];
            ssize_t r = read(pipes[k][0], buf, sizeof(buf));
            if (r > 0) {
                if (k == 1 ? append(&res->out, &res->out_len, buf, (size_t)r)
                           : append(&res->errout, &res->err_len, buf, (size_t)r))
                    oom = true;
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                close_pair(pipes[k]);
            }
        }
    }
    if (timed_out)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!res->out)
        append(&res->out, &res->out_len, "", 0);
    if (!res->errout)
        append(&res->errout, &res->err_len, "", 0);
    if (timed_out) {
        spawn_result_free(res);
        return cric_err_set(err, CRIC_ERR_TIMEOUT, "%s: no answer within %d ms, killed", path,
                            timeout_ms);
    }
    if (oom || !res->out || !res->errout) {
        spawn_result_free(res);
        return cric_err_set(err, CRIC_ERR_RESOURCE, "%s: out of memory reading its output", path);
    }
    if (WIFEXITED(status)) {
        res->exit_code = WEXITSTATUS(status);
    } else {
        res->exit_code = -1;
        res->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    }
    return 0;
}
