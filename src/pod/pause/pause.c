/* cric-pause: the infra process of a pod that shares one PID namespace.
 *
 *   cric-pause [--net PATH] [--ipc PATH] [--uts PATH]
 *
 * Joins the given namespaces, starts a new session and PID namespace and
 * forks its pid 1 there; the launcher prints that process's host pid on
 * stdout and exits, so pid 1 is reparented away from cric and survives
 * daemon restarts. Pid 1 reaps every orphan of the pod and exits on SIGTERM
 * or SIGINT. Links only libc. */

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static int join(const char *path, int nstype)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, nstype) < 0) {
        fprintf(stderr, "cric-pause: join %s: %m\n", path);
        return -1;
    }
    close(fd);
    return 0;
}

static int run_init(void)
{
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        if (null > 2)
            close(null);
    }
    prctl(PR_SET_NAME, "cric-pause", 0, 0, 0);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    for (;;) {
        int sig = sigwaitinfo(&set, NULL);
        if (sig == SIGTERM || sig == SIGINT)
            return 0;
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
    }
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        int type = strcmp(argv[i], "--net") == 0   ? CLONE_NEWNET
                   : strcmp(argv[i], "--ipc") == 0 ? CLONE_NEWIPC
                   : strcmp(argv[i], "--uts") == 0 ? CLONE_NEWUTS
                                                   : -1;
        if (type < 0) {
            fprintf(stderr, "cric-pause: unknown option %s\n", argv[i]);
            return 2;
        }
        if (join(argv[i + 1], type) < 0)
            return 1;
    }
    if (argc % 2 == 0) {
        fprintf(stderr, "usage: cric-pause [--net PATH] [--ipc PATH] [--uts PATH]\n");
        return 2;
    }
    setsid();
    if (unshare(CLONE_NEWPID) < 0) {
        fprintf(stderr, "cric-pause: unshare pid namespace: %m\n");
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "cric-pause: fork: %m\n");
        return 1;
    }
    if (pid == 0)
        return run_init();
    printf("%d\n", (int)pid);
    return fflush(stdout) == 0 ? 0 : 1;
}
