/* cric-enter: starts one process inside a running container, with the
 * confinement the OCI runtime's `exec` gives it, without running the OCI
 * runtime (crun exec costs ~50 ms of CPU; this costs well under 1 ms).
 *
 * Order (the same as crun's and runc's exec):
 *   1. join the container's cgroups (write 0 to each cgroup.procs given; the
 *      daemon names the directories its init is in) and set oom_score_adj;
 *   2. setns(pidfd of the container's init, every namespace of the spec);
 *   3. start the command's process (a new PID namespace applies to children
 *      only) with CLONE_VM|CLONE_VFORK, so no copy of our page tables is made
 *      and torn down again and no copy-on-write fault follows; the child:
 *      rlimits, umask, seccomp when no_new_privs is off (it needs
 *      CAP_SYS_ADMIN, so before the capabilities drop), bounding set,
 *      setgroups/setresgid/setresuid keeping capabilities, capset
 *      (effective, permitted, inheritable), ambient set, no_new_privs,
 *      chdir(cwd), seccomp when no_new_privs is on (last, as unprivileged),
 *      execve with the plan's environment ($PATH searched like execvp).
 * The parent waits for the command and exits with its status, so the daemon
 * sees one process. Links libc only and is static, like cric-shim. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "enter/enter_core.h"
#include "enter/fiber.h"

#if defined(__SANITIZE_ADDRESS__)
/* Sanitized test builds: LeakSanitizer's exit-time check clones a tracer,
 * which cannot work once this process has joined another PID namespace for
 * its children (it spins forever). Leaks of a process that execs or exits
 * right away do not matter; memory errors are still caught. The default
 * options lose to an ASAN_OPTIONS the daemon passes on (the test suite sets
 * detect_leaks=1), so the check is also turned off where nothing overrides it. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "detect_leaks=0";
}
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
    return 1;
}
#endif

#define MAX_CGROUPS 32
#define MAX_ARGS 4096

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        enter_report(ENTER_FD_REPORT, "setup: " __VA_ARGS__);                                      \
        _exit(ENTER_EXIT_SETUP);                                                                   \
    } while (0)

static void plan_read(const char *path, enter_plan *p)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        FAIL("open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        (uint64_t)st.st_size > PLAN_MAX_SIZE)
        FAIL("%s: not a plan file", path);
    size_t size = (size_t)st.st_size;
    unsigned char *buf = malloc(size);
    if (!buf)
        FAIL("out of memory");
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            FAIL("read %s: %s", path, n < 0 ? strerror(errno) : "short file");
        got += (size_t)n;
    }
    close(fd);
    char msg[256];
    if (enter_plan_parse(buf, size, p, msg, sizeof(msg)) < 0)
        FAIL("%s", msg);
    free(buf);
}

typedef struct child_args {
    const enter_plan *p;
    char *const *argv;
    int errfd;
    bool terminal;
    fiber *fiber;
} child_args;

static int child_main(void *arg)
{
    child_args *a = arg;
    FIBER_IN_CHILD(a->fiber);
    close(ENTER_FD_REPORT);
    enter_exec_command(a->p, a->argv, a->errfd, a->terminal);
}

int main(int argc, char **argv)
{
    enter_signals_default();
    /* SIGTERM (the daemon's timeout) and SIGCHLD are taken with sigwaitinfo */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);

    if (argc < 4)
        FAIL("usage: cric-enter PLAN NCG CGROUP_PROCS... CMD ARGS...");
    char *end;
    errno = 0;
    long ncg = strtol(argv[2], &end, 10);
    if (errno || *end || ncg < 0 || ncg > MAX_CGROUPS || argc < 4 + ncg ||
        argc - 3 - ncg > MAX_ARGS)
        FAIL("bad arguments");
    char **cmd = argv + 3 + ncg;

    enter_plan p;
    plan_read(argv[1], &p);
    enter_join(&p, argv + 3, (size_t)ncg, ENTER_FD_PIDFD, ENTER_FD_REPORT);
    close(ENTER_FD_PIDFD);

    struct stat cst;
    bool terminal = fstat(ENTER_FD_CONSOLE, &cst) == 0 && S_ISSOCK(cst.st_mode);

    int ep[2];
    if (pipe2(ep, O_CLOEXEC) < 0)
        FAIL("pipe: %s", strerror(errno));
    void *stack = mmap(NULL, ENTER_CHILD_STACK, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED)
        FAIL("child stack: %s", strerror(errno));
    fiber fb;
    child_args ca = {.p = &p, .argv = cmd, .errfd = ep[1], .terminal = terminal, .fiber = &fb};
    FIBER_TO_CHILD(&fb, stack, ENTER_CHILD_STACK);
    /* ep[0] is close-on-exec: the child needs no close of its own, and the
     * ENTER_FD_REPORT it closes is its own descriptor table's (no CLONE_FILES) */
    pid_t pid =
        clone(child_main, (char *)stack + ENTER_CHILD_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, &ca);
    if (pid < 0)
        FAIL("start the command: %s", strerror(errno));
    FIBER_BACK(&fb);
    FIBER_STACK_CLEAN(stack, ENTER_CHILD_STACK);
    munmap(stack, ENTER_CHILD_STACK);
    close(ep[1]);
    if (terminal)
        close(ENTER_FD_CONSOLE);
    /* Relay the child's setup/exec report (EOF once execve succeeded). */
    char buf[1024];
    for (;;) {
        ssize_t n = read(ep[0], buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        ssize_t w;
        do
            w = write(ENTER_FD_REPORT, buf, (size_t)n);
        while (w < 0 && errno == EINTR);
    }
    close(ep[0]);
    close(ENTER_FD_REPORT);

    for (;;) {
        int status;
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            if (WIFEXITED(status))
                return WEXITSTATUS(status);
            return 128 + WTERMSIG(status);
        }
        siginfo_t si;
        int s = sigwaitinfo(&set, &si);
        if (s == SIGTERM)
            kill(pid, SIGKILL);
    }
}
