/* ExecSync's command started by the daemon itself, without exec'ing
 * cric-enter: on this kind of host a process image costs more than the rest
 * of a probe (cric-enter's exec, page faults and exit were a third of a
 * probe's CPU). The steps are cric-enter's own (src/enter/enter_core.c):
 *
 *   daemon thread --setns(pid)--clone(VM|VFORK)--> command --setns(pid back)
 *
 * - the calling thread enters the container's PID namespace for its
 *   children only (the kernel keeps that per thread), so the one child it
 *   clones is born there and no second process is needed to get into it
 *   (on this kind of host a process costs ~0.25 ms, a probe ~4 ms); the
 *   thread returns to our own namespace right after the clone;
 * - the child shares our memory (no page tables copied) and runs while this
 *   thread is suspended, so it may use the thread's libc state; it resets
 *   every signal disposition, takes the stdio, closes every other descriptor
 *   but the two it uses, joins the container's cgroups and its other
 *   namespaces, applies the plan's credentials and execs the command, in a
 *   process group of its own.
 * Where the child could block for long, cric-enter (own process, killable
 * at the deadline) is used instead: a frozen container (joining its freezer
 * cgroup would freeze the child and hold this thread), a cpuset that
 * migrates memory (it would move the daemon's pages), a time namespace
 * (setns wants a process of its own). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
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
    fiber fb;
} direct_args;

static int run_command(void *arg)
{
    direct_args *a = arg;
    FIBER_IN_CHILD(&a->fb);
    enter_signals_default();
    for (int fd = 0; fd < 3; fd++) {
        int rc = a->stdio[fd] == fd ? fcntl(fd, F_SETFD, 0) : dup2(a->stdio[fd], fd);
        if (rc < 0) {
            enter_report(a->report, "setup: stdio: %s", strerror(errno));
            _exit(ENTER_EXIT_SETUP);
        }
    }
    /* nothing of the daemon's reaches the command: all but the two we use
     * go (both are close-on-exec) */
    int lo = a->pidfd < a->report ? a->pidfd : a->report;
    int hi = a->pidfd < a->report ? a->report : a->pidfd;
    if (lo > 3)
        syscall(SYS_close_range, 3, lo - 1, 0);
    if (hi > lo + 1)
        syscall(SYS_close_range, lo + 1, hi - 1, 0);
    syscall(SYS_close_range, hi + 1, ~0U, 0);
    /* born in the container's PID namespace already */
    enter_plan rest = *a->plan;
    rest.ns &= ~(uint64_t)CLONE_NEWPID;
    enter_join(&rest, a->cgroups, a->n_cgroups, a->pidfd, a->report);
    setpgid(0, 0);
    enter_exec_command(a->plan, a->argv, a->report, false);
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

/* Why the child could block here, or NULL. Only the hierarchies that can
 * freeze or migrate memory are read. */
static const char *child_could_block(const ctr_service *s, char *const *cg, size_t ncg)
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

#define STACKS_SIZE ((size_t)ENTER_CHILD_STACK)

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
                     char *const *argv, size_t argc, const int stdio[3], int report_w, pid_t *pid,
                     const char **why, cric_err *err)
{
    *pid = -1;
    *why = NULL;
    if (plan->ns & CLONE_NEWTIME) {
        *why = "a time namespace";
        return 0;
    }
    if (s->own_pidns < 0) {
        *why = "our own PID namespace is not open";
        return 0;
    }
    _cleanup_close_ int pidfd = -1;
    char **cg = NULL;
    size_t ncg = 0;
    if (ctr_enter_target(s, r, init_pid, &pidfd, &cg, &ncg, err) < 0)
        return -1;
    if ((*why = child_could_block(s, cg, ncg)) != NULL) {
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
                     .argv = args};
    for (int i = 0; i < 3; i++)
        a.stdio[i] = stdio[i] >= 0 ? stdio[i] : null;
    bool pid_ns = plan->ns & CLONE_NEWPID;
    if (pid_ns && setns(pidfd, CLONE_NEWPID) < 0) {
        rc = cric_err_errno(err, errno, "container %s: exec: enter its PID namespace", r->id);
        goto out;
    }
    /* the child starts with every signal blocked: it runs our code with our
     * handlers installed until it has reset them */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    FIBER_TO_CHILD(&a.fb, stack, STACKS_SIZE);
    pid_t child = clone(run_command, stack + STACKS_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
    int clone_err = errno;
    if (child < 0)
        FIBER_IN_CHILD(&a.fb); /* it never ran: switch back from where we are */
    FIBER_BACK(&a.fb);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid_ns && setns(s->own_pidns, CLONE_NEWPID) < 0) {
        /* every later child of this thread would start in the container:
         * never go on like that (our own namespace is always enterable) */
        log_error("ctr", "container %s: exec: back to our PID namespace: %s", r->id,
                  strerror(errno));
        abort();
    }
    if (child < 0) {
        rc = cric_err_errno(err, clone_err, "container %s: exec: clone", r->id);
        goto out;
    }
    /* the child has exec'd the command or exited: a setup failure is on the
     * report pipe, read with the command's output */
    *pid = child;
    rc = 1;
out:
    if (stack)
        stack_put(s, stack);
    free(args);
    cleanup_strvp(&cg);
    return rc;
}
