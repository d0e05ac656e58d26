/* The confinement steps of an exec into a running container, shared by
 * cric-enter (src/enter/main.c) and the daemon's direct ExecSync path
 * (src/ctr/enter_direct.c). Both run them in a process that exits on a
 * failure: the failing step writes one line to the report descriptor and
 * calls _exit (see plan.h for the lines and exit statuses).
 *
 * enter_join and enter_exec_command may run in a child that shares its
 * parent's memory (CLONE_VM|CLONE_VFORK, the parent suspended): they keep
 * no state in static storage and never modify the plan. */
#ifndef CRIC_ENTER_CORE_H
#define CRIC_ENTER_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "enter/plan.h"

typedef struct enter_plan {
    uint64_t ns;
    uint32_t uid, gid;
    uint32_t gids[PLAN_MAX_GIDS];
    size_t n_gids;
    uint64_t cap_bnd, cap_eff, cap_prm, cap_inh, cap_amb;
    bool has_caps;
    bool nnp;
    struct {
        uint32_t res;
        uint64_t soft, hard;
    } rl[PLAN_MAX_RLIMITS];
    size_t n_rl;
    bool has_oom, has_umask;
    int32_t oom;
    uint32_t umask;
    char *cwd;
    char **env; /* NULL-terminated, n_env entries */
    size_t n_env;
    struct sock_filter *bpf;
    size_t n_bpf;
    uint32_t secflags;
} enter_plan;

/* Parses a plan (plan.h). Returns 0, or -1 with a message in msg. The plan
 * owns its strings; enter_plan_free releases them. */
int enter_plan_parse(const unsigned char *buf, size_t size, enter_plan *p, char *msg,
                     size_t msg_size);
void enter_plan_free(enter_plan *p);

/* One line on the report descriptor. */
void enter_report(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "/…/cgroup.procs" without "." or ".." components. */
bool enter_cgroup_procs_ok(const char *path);

/* Joins the container: writes 0 to each cgroup.procs, sets oom_score_adj,
 * setns(pidfd, the plan's namespaces). Reports and exits 125 on failure. */
void enter_join(const enter_plan *p, char *const *cgroup_procs, size_t n_cgroups, int pidfd,
                int errfd);

/* In the process that becomes the command (a child of the one that joined:
 * a new PID namespace applies to children only): terminal (cric-enter's
 * interactive exec), rlimits, umask, seccomp, capabilities, ids,
 * no_new_privs, cwd and execve. Never returns. */
_Noreturn void enter_exec_command(const enter_plan *p, char *const *argv, int errfd, bool terminal);

/* "HOME=<dir>" of uid in a passwd file (read with read(2) into a stack
 * buffer), "HOME=/" when it has none, as crun and runc set it. */
void enter_home_of(const char *passwd, uint32_t uid, char *home, size_t size);

/* The signals (bit sig-1) this process ignores or catches, from
 * /proc/self/status; false when it cannot be read. */
bool enter_signals_not_default(uint64_t *mask);

/* Every signal back to its default disposition (raw rt_sigaction, which
 * takes every number, glibc's internal ones too): those
 * enter_signals_not_default names, or all when it cannot tell. */
void enter_signals_default(void);

#endif
