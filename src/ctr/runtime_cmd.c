/* Short OCI runtime commands (start, kill, delete): one fork+exec, output
 * captured for the error message. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/signals.h"
#include "ctr/ctr_int.h"
#include "util/cleanup.h"

int ctr_spawn(const char *exe, const char *const *argv, int fd0, int fd1, int fd2, pid_t *pid,
              cric_err *err)
{
    /* fork, not posix_spawn: glibc's posix_spawn leaves its internal signals
     * (32, 33) ignored in the child, and an ignored signal stays ignored
     * across exec into the container's process. */
    *pid = fork();
    if (*pid < 0)
        return cric_err_errno(err, errno, "fork for %s", argv[0]);
    if (*pid == 0) {
        /* Only async-signal-safe calls between fork and exec. */
        int null = fd0 >= 0 ? fd0 : open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null < 0 || dup2(null, 0) < 0 || dup2(fd1, 1) < 0 || dup2(fd2, 2) < 0)
            _exit(127);
        signals_reset_all(); /* the daemon ignores SIGPIPE */
        if (exe)
            execv(exe, (char *const *)argv);
        else
            execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    return 0;
}

int ctr_runtime_run(const ctr_rec *r, const char *const *args, size_t nargs, cric_err *err)
{
    const char *argv[24];
    size_t n = 0;
    if (nargs > 16)
        return cric_err_set(err, CRIC_ERR_INTERNAL, "container %s: too many runtime args", r->id);
    argv[n++] = r->runtime;
    if (r->runtime_root && r->runtime_root[0]) {
        argv[n++] = "--root";
        argv[n++] = r->runtime_root;
    }
    for (size_t i = 0; i < nargs; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return cric_err_errno(err, errno, "container %s: pipe", r->id);
    char exe[64];
    int exe_fd = sealed_exes_fd(r->exes, r->runtime);
    if (exe_fd >= 0)
        sealed_exe_path(exe_fd, exe, sizeof(exe));
    pid_t pid;
    if (ctr_spawn(exe_fd >= 0 ? exe : NULL, argv, -1, p[1], p[1], &pid, err) < 0) {
        close(p[0]);
        close(p[1]);
        return cric_err_prefix(err, "container %s: ", r->id);
    }
    close(p[1]);
    char out[2048];
    size_t len = 0;
    for (;;) {
        ssize_t k = read(p[0], out + len, sizeof(out) - 1 - len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        len += (size_t)k;
        if (len == sizeof(out) - 1) { /* keep draining, keep the head */
            char sink[4096];
            while (read(p[0], sink, sizeof(sink)) > 0)
                ;
            break;
        }
    }
    close(p[0]);
    out[len] = '\0';
    while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r' || out[len - 1] == ' '))
        out[--len] = '\0';
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    const char *base = strrchr(r->runtime, '/');
    base = base ? base + 1 : r->runtime;
    return cric_err_set(err, CRIC_ERR_INTERNAL, "container %s: %s %s: exit %d: %s", r->id, base,
                        args[0], WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st),
                        out[0] ? out : "(no output)");
}
