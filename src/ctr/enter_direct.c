/* ExecSync's command started by the daemon itself, without exec'ing
 * cric-enter: on this kind of host a process image costs more than the rest
 * of a probe (cric-enter's exec, page faults and exit were a third of a
 * probe's CPU). The steps are cric-enter's own (src/enter/enter_core.c):
 *
 *   daemon thread --clone(VM|VFORK)--> joiner --clone(VM|VFORK|PARENT)--> command
 *
 * - the joiner shares our memory (no page tables copied) and runs while this
 *   thread is suspended, so it may use the thread's libc state; it resets
 *   every signal disposition, takes the stdio, marks every other descriptor
 *   close-on-exec, joins the container's cgroups and namespaces and starts
 *   the command (a new PID namespace applies to children only);
 * - the command is our child (CLONE_PARENT), in a process group of its own;
 *   it applies the plan's credentials and execs; the joiner exits.
 * Where the joiner could block for long, cric-enter (own process, killable
 * at the deadline) is used instead: a frozen container (joining its freezer
 * cgroup would freeze the joiner and hold this thread), a cpuset that
 * migrates memory (it would move the daemon's pages), a time namespace
 * (setns wants a process of its own). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctr/ctr_int.h"
#include "enter/enter_core.h"
#include "enter/fiber.h"
#include "util/cleanup.h"
#include "util/log.h"

typedef struct direct_args {
    const enter_plan *plan;
    char *const *cgroups;
    size_t n_cgroups;
    int pidfd;
    int stdio[3];
    int report;
    char *const *argv;
    char *stack_cmd; /* the command's stack: the lower half of the mapping */
    fiber fb_join, fb_cmd;
    pid_t cmd_pid;
} direct_args;

static int run_command(void *arg)
{
    direct_args *a = arg;
    FIBER_IN_CHILD(&a->fb_cmd);
    setpgid(0, 0);
    enter_exec_command(a->plan, a->argv, a->report, false);
}

static int run_joiner(void *arg)
{
    direct_args *a = arg;
    FIBER_IN_CHILD(&a->fb_join);
    enter_signals_default();
    for (int fd = 0; fd < 3; fd++) {
        int rc = a->stdio[fd] == fd ? fcntl(fd, F_SETFD, 0) : dup2(a->stdio[fd], fd);
        if (rc < 0) {
            enter_report(a->report, "setup: stdio: %s", strerror(errno));
            _exit(ENTER_EXIT_SETUP);
        }
    }
    /* nothing of the daemon's reaches the command, and the command's clone
     * copies no descriptor table of hundreds: all but the two we use go */
    int lo = a->pidfd < a->report ? a->pidfd : a->report;
    int hi = a->pidfd < a->report ? a->report : a->pidfd;
    if (lo > 3)
        syscall(SYS_close_range, 3, lo - 1, 0);
    if (hi > lo + 1)
        syscall(SYS_close_range, lo + 1, hi - 1, 0);
    syscall(SYS_close_range, hi + 1, ~0U, 0);
    enter_join(a->plan, a->cgroups, a->n_cgroups, a->pidfd, a->report);
    FIBER_TO_CHILD(&a->fb_cmd, a->stack_cmd, ENTER_CHILD_STACK);
    pid_t pid = clone(run_command, a->stack_cmd + ENTER_CHILD_STACK,
                      CLONE_VM | CLONE_VFORK | CLONE_PARENT | SIGCHLD, a);
    if (pid < 0) {
        enter_report(a->report, "setup: start the command: %s", strerror(errno));
        _exit(ENTER_EXIT_SETUP);
    }
    FIBER_BACK(&a->fb_cmd);
    a->cmd_pid = pid;
    _exit(0);
}

/* A small control file of one of the container's cgroups, next to its
 * cgroup.procs; "" when absent. */
static void cgroup_file(const char *procs, const char *name, char *out, size_t size)
{
    out[0] = '\0';
    const char *slash = strrchr(procs, '/');
    char path[4200];
    if (!slash || (size_t)snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - procs), procs,
                                   name) >= sizeof(path))
        return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, out, size - 1);
    close(fd);
    out[n > 0 ? n : 0] = '\0';
}

static bool under(const char *path, const char *mount)
{
    size_t n = mount ? strlen(mount) : 0;
    return n && strncmp(path, mount, n) == 0 && path[n] == '/';
}

static bool has_controller(const char *ctrls, const char *name)
{
    size_t n = strlen(name);
    for (const char *c = ctrls; c && *c;) {
        const char *e = strchrnul(c, ',');
        if ((size_t)(e - c) == n && strncmp(c, name, n) == 0)
            return true;
        c = *e ? e + 1 : e;
    }
    return false;
}

/* Why the joiner could block here, or NULL. Only the hierarchies that can
 * freeze or migrate memory are read. */
static const char *joiner_could_block(const ctr_service *s, char *const *cg, size_t ncg)
{
    char v[64];
    for (size_t i = 0; i < ncg; i++) {
        if (under(cg[i], s->cg.v2)) {
            cgroup_file(cg[i], "cgroup.freeze", v, sizeof(v));
            if (v[0] == '1')
                return "the container's cgroup is frozen";
            continue;
        }
        for (size_t k = 0; k < s->cg.n_v1; k++) {
            if (!under(cg[i], s->cg.v1[k]))
                continue;
            if (has_controller(s->cg.v1_ctrls[k], "freezer")) {
                cgroup_file(cg[i], "freezer.state", v, sizeof(v));
                if (v[0] && strncmp(v, "THAWED", 6) != 0)
                    return "the container's freezer cgroup is frozen";
            }
            if (has_controller(s->cg.v1_ctrls[k], "cpuset")) {
                cgroup_file(cg[i], "cpuset.memory_migrate", v, sizeof(v));
                if (v[0] == '1')
                    return "the container's cpuset migrates memory";
            }
            break;
        }
    }
    return NULL;
}

#define STACKS_SIZE (2 * (size_t)ENTER_CHILD_STACK)

static char *stack_get(ctr_service *s)
{
    void *st = NULL;
    pthread_mutex_lock(&s->stacks_mu);
    if (s->n_stacks)
        st = s->stacks[--s->n_stacks];
    pthread_mutex_unlock(&s->stacks_mu);
    if (!st) {
        st = mmap(NULL, STACKS_SIZE, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (st == MAP_FAILED)
            return NULL;
    }
    return st;
}

static void stack_put(ctr_service *s, char *st)
{
    FIBER_STACK_CLEAN(st, STACKS_SIZE);
    pthread_mutex_lock(&s->stacks_mu);
    bool kept = s->n_stacks < ARRAY_LEN(s->stacks);
    if (kept)
        s->stacks[s->n_stacks++] = st;
    pthread_mutex_unlock(&s->stacks_mu);
    if (!kept)
        munmap(st, STACKS_SIZE);
}

void ctr_enter_direct_stacks_free(ctr_service *s)
{
    for (size_t i = 0; i < s->n_stacks; i++)
        munmap(s->stacks[i], STACKS_SIZE);
    s->n_stacks = 0;
}

int ctr_enter_direct(ctr_service *s, ctr_rec *r, pid_t init_pid, const enter_plan *plan,
                     char *const *argv, size_t argc, const int stdio[3], int report_w, int report_r,
                     pid_t *pid, const char **why, cric_err *err)
{
    *pid = -1;
    *why = NULL;
    if (plan->ns & CLONE_NEWTIME) {
        *why = "a time namespace";
        return 0;
    }
    _cleanup_close_ int pidfd = -1;
    char **cg = NULL;
    size_t ncg = 0;
    if (ctr_enter_target(s, r, init_pid, &pidfd, &cg, &ncg, err) < 0)
        return -1;
    if ((*why = joiner_could_block(s, cg, ncg)) != NULL) {
        cleanup_strvp(&cg);
        return 0;
    }
    int rc = 0;
    _cleanup_close_ int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    char **args = calloc(argc + 1, sizeof(char *));
    char *stack = NULL;
    if (!args || null < 0) {
        rc = cric_err_errno(err, args ? errno : ENOMEM, "container %s: exec", r->id);
        goto out;
    }
    memcpy(args, argv, argc * sizeof(char *));
    stack = stack_get(s);
    if (!stack) {
        rc = cric_err_errno(err, errno, "container %s: exec: stack", r->id);
        goto out;
    }
    direct_args a = {.plan = plan,
                     .cgroups = cg,
                     .n_cgroups = ncg,
                     .pidfd = pidfd,
                     .report = report_w,
                     .argv = args,
                     .stack_cmd = stack,
                     .cmd_pid = -1};
    for (int i = 0; i < 3; i++)
        a.stdio[i] = stdio[i] >= 0 ? stdio[i] : null;
    /* the joiner starts with every signal blocked: it runs our code with our
     * handlers installed until it has reset them */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    FIBER_TO_CHILD(&a.fb_join, stack + ENTER_CHILD_STACK, ENTER_CHILD_STACK);
    pid_t joiner = clone(run_joiner, stack + STACKS_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
    int clone_err = errno;
    if (joiner < 0)
        FIBER_IN_CHILD(&a.fb_join); /* it never ran: switch back from where we are */
    FIBER_BACK(&a.fb_join);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (joiner < 0) {
        rc = cric_err_errno(err, clone_err, "container %s: exec: clone", r->id);
        goto out;
    }
    int status = 0;
    while (waitpid(joiner, &status, __WALL) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && a.cmd_pid > 0) {
        *pid = a.cmd_pid;
        rc = 1;
        goto out;
    }
    /* the joiner's report, or how it ended */
    char msg[600];
    struct pollfd pfd = {.fd = report_r, .events = POLLIN};
    ssize_t n = poll(&pfd, 1, 0) == 1 ? read(report_r, msg, sizeof(msg) - 1) : 0;
    msg[n > 0 ? n : 0] = '\0';
    msg[strcspn(msg, "\n")] = '\0';
    if (msg[0])
        rc = cric_err_set(err, CRIC_ERR_INTERNAL, "container %s: exec: %s", r->id, msg);
    else
        rc = cric_err_set(err, CRIC_ERR_INTERNAL, "container %s: exec: joiner status 0x%x", r->id,
                          (unsigned)status);
out:
    if (stack)
        stack_put(s, stack);
    free(args);
    cleanup_strvp(&cg);
    return rc;
}
