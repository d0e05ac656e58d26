/* The exec plan: what cric-enter applies to a process it starts inside a
 * running container. The daemon writes it once per container (from the
 * container's config.json process and the OCI runtime's seccomp program,
 * src/ctr/exec_plan.c); cric-enter reads it on every exec (src/enter/main.c).
 *
 * Format: "CRICPLAN1" then records of one tag byte, a little-endian u32
 * length and that many bytes. Numbers are little-endian. Unknown tags are an
 * error (a plan from another version is rewritten by the daemon, never
 * half-applied). */
#ifndef CRIC_ENTER_PLAN_H
#define CRIC_ENTER_PLAN_H

#define PLAN_MAGIC "CRICPLAN1"
#define PLAN_MAGIC_LEN 9
#define PLAN_MAX_SIZE (4u << 20) /* whole file */
#define PLAN_MAX_ENV 4096
#define PLAN_MAX_GIDS 256
#define PLAN_MAX_RLIMITS 32
#define PLAN_MAX_BPF_INSNS 65536 /* kernel limit: BPF_MAXINSNS is 4096 per filter */

enum plan_tag {
    PLAN_NS = 'n',      /* u64: CLONE_NEW* flags of the namespaces to join */
    PLAN_UID = 'u',     /* u32 */
    PLAN_GID = 'g',     /* u32 */
    PLAN_GIDS = 'G',    /* u32 array: supplementary groups */
    PLAN_CAPS = 'c',    /* 5 x u64: bounding, effective, permitted, inheritable, ambient */
    PLAN_NNP = 'p',     /* u8: no_new_privs */
    PLAN_RLIMIT = 'r',  /* u32 resource, u64 soft, u64 hard (repeated) */
    PLAN_OOM = 'o',     /* i32 oom_score_adj (absent: inherited) */
    PLAN_UMASK = 'm',   /* u32 (absent: inherited) */
    PLAN_CWD = 'w',     /* string (absolute) */
    PLAN_ENV = 'e',     /* string "K=V" (repeated, in order) */
    PLAN_SECCOMP = 's', /* struct sock_filter array (absent: no filter) */
    PLAN_SECFLAGS = 'S' /* u32: seccomp(2) SECCOMP_FILTER_FLAG_* */
};

/* cric-enter's command line and descriptors:
 *   cric-enter PLAN NCG CGROUP_PROCS_1 .. CGROUP_PROCS_NCG ARGV0 ARGS...
 *   fd 0/1/2: the process's stdio; fd 3: pidfd of the container's init;
 *   fd 4: report pipe; fd 5, when it is a socket: the console socket (the
 *   command gets a new terminal of the container as its controlling
 *   terminal and stdio, and the master is sent on fd 5 with SCM_RIGHTS). A failure before the
 * command runs is written to the report pipe as one line "setup: <message>" (exit status 125) or
 *   "exec: <errno>: <message>" when execve of the command failed (exit status
 *   127 for ENOENT, 126 otherwise). Otherwise the exit status is the
 *   command's, or 128 + signal. SIGTERM to cric-enter kills the command with
 *   SIGKILL, reaps it and exits 128 + SIGKILL. */
#define ENTER_FD_PIDFD 3
#define ENTER_FD_REPORT 4
#define ENTER_FD_CONSOLE 5
#define ENTER_EXIT_SETUP 125

#endif
