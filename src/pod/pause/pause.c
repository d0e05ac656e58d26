/* cric-pause: the infra process of a pod that shares one PID namespace.
 *
 *   cric-pause --record PATH [--net PATH] [--ipc PATH] [--uts PATH]
 *
 * Joins the given namespaces, starts a new session and PID namespace and
 * forks its pid 1 there; the launcher writes "<host pid> <start time>" of
 * that process to the record file (atomically), prints the pid on stdout and
 * exits, so pid 1 is reparented away from cric and survives daemon restarts.
 * Pid 1 waits for the launcher's word that the record is written and exits
 * without it: a pid 1 that nothing on disk names cannot outlive a daemon
 * killed while it was starting. Pid 1 reaps every orphan of the pod and exits
 * on SIGTERM or SIGINT. Links only libc. */

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../proc_stat.h"

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

static unsigned long long start_time_of(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return proc_stat_start_time(buf);
}

static int write_record(const char *path, pid_t pid)
{
    unsigned long long start = start_time_of(pid);
    char tmp[4200];
    if (!start || snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    char text[64];
    int len = snprintf(text, sizeof(text), "%d %llu\n", (int)pid, start);
    int ok = write(fd, text, (size_t)len) == len;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int run_init(int go)
{
    char word;
    if (read(go, &word, 1) != 1)
        _exit(1); /* the launcher died or could not write the record */
    close(go);
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
    const char *record = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--record") == 0) {
            record = argv[i + 1];
            continue;
        }
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
    if (argc % 2 == 0 || !record) {
        fprintf(stderr, "usage: cric-pause --record PATH [--net PATH] [--ipc PATH] [--uts PATH]\n");
        return 2;
    }
    setsid();
    if (unshare(CLONE_NEWPID) < 0) {
        fprintf(stderr, "cric-pause: unshare pid namespace: %m\n");
        return 1;
    }
    int go[2];
    if (pipe2(go, O_CLOEXEC) < 0) {
        fprintf(stderr, "cric-pause: pipe: %m\n");
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "cric-pause: fork: %m\n");
        return 1;
    }
    if (pid == 0) {
        close(go[1]);
        return run_init(go[0]);
    }
    close(go[0]);
    if (write_record(record, pid) < 0) {
        fprintf(stderr, "cric-pause: record %s: %m\n", record);
        return 1; /* pid 1 reads end-of-file and exits */
    }
    if (write(go[1], "g", 1) != 1) {
        fprintf(stderr, "cric-pause: start pid 1: %m\n");
        return 1;
    }
    printf("%d\n", (int)pid);
    return fflush(stdout) == 0 ? 0 : 1;
}
