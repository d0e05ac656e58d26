/* The RuntimeDefault seccomp profile: an allowlist equivalent in effect to the
 * widely used Docker/containerd default. Everything not listed fails with
 * EPERM; syscalls that need a capability are allowed only when the container's
 * bounding set has it; clone may not create namespaces without CAP_SYS_ADMIN
 * and clone3 then fails with ENOSYS (so libc falls back to clone); socket may
 * not open AF_VSOCK; personality only takes the harmless personas. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "ctr/spec_internal.h"
#include "util/cleanup.h"

/* Arch groups a rule can be limited to (the host's native arch). */
enum {
    ARCH_X86 = 1u << 0,   /* x86_64 host (native, x32 and i386 syscalls) */
    ARCH_ARM = 1u << 1,   /* aarch64 or arm host */
    ARCH_OTHER = 1u << 2, /* anything else */
};

#if defined(__x86_64__) || defined(__i386__)
#define HOST_ARCH ARCH_X86
#elif defined(__aarch64__) || defined(__arm__)
#define HOST_ARCH ARCH_ARM
#else
#define HOST_ARCH ARCH_OTHER
#endif

#define NS_FLAGS_MASK                                                                              \
    0x7E020000ull /* CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET                     \
                   */
#define AF_VSOCK_NUM 40

/* Always allowed. */
static const char *const allow_always[] = {
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "cachestat",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_requeue",
    "futex_time64",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "getxattrat",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listxattr",
    "listxattrat",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "map_shadow_stack",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "mseal",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "_newselect",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "removexattrat",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setuid32",
    "setxattr",
    "setxattrat",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "uretprobe",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
    /* ptrace and process_vm_* are safe on kernels >= 4.8 (seccomp is
     * re-checked after a tracer changes the syscall) */
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    NULL,
};

/* Allowed on x86 hosts. */
static const char *const allow_x86[] = {"arch_prctl", "modify_ldt", NULL};
/* Allowed on arm hosts. */
static const char *const allow_arm[] = {
    "arm_fadvise64_64",
    "arm_sync_file_range",
    "sync_file_range2",
    "breakpoint",
    "cacheflush",
    "set_tls",
    NULL,
};

/* Allowed only with a capability. */
static const char *const need_sys_admin[] = {
    "bpf",           "clone",           "clone3",
    "fanotify_init", "fsconfig",        "fsmount",
    "fsopen",        "fspick",          "lookup_dcookie",
    "mount",         "mount_setattr",   "move_mount",
    "open_tree",     "perf_event_open", "quotactl",
    "quotactl_fd",   "setdomainname",   "sethostname",
    "setns",         "syslog",          "umount",
    "umount2",       "unshare",         NULL,
};
static const char *const need_dac_read_search[] = {"open_by_handle_at", NULL};
static const char *const need_sys_boot[] = {"reboot", NULL};
static const char *const need_sys_chroot[] = {"chroot", NULL};
static const char *const need_sys_module[] = {"delete_module", "init_module", "finit_module", NULL};
static const char *const need_sys_pacct[] = {"acct", NULL};
static const char *const need_sys_ptrace[] = {"kcmp", "pidfd_getfd", "process_madvise", NULL};
static const char *const need_sys_rawio[] = {"iopl", "ioperm", NULL};
static const char *const need_sys_time[] = {"settimeofday", "stime", "clock_settime",
                                            "clock_settime64", NULL};
static const char *const need_sys_tty_config[] = {"vhangup", NULL};
static const char *const need_sys_nice[] = {"get_mempolicy", "mbind", "set_mempolicy",
                                            "set_mempolicy_home_node", NULL};
static const char *const need_syslog[] = {"syslog", NULL};
static const char *const need_bpf[] = {"bpf", NULL};
static const char *const need_perfmon[] = {"perf_event_open", NULL};

static const struct {
    int cap;
    const char *const *names;
} cap_rules[] = {
    {CTR_CAP_SYS_ADMIN, need_sys_admin},
    {CTR_CAP_DAC_READ_SEARCH, need_dac_read_search},
    {CTR_CAP_SYS_BOOT, need_sys_boot},
    {CTR_CAP_SYS_CHROOT, need_sys_chroot},
    {CTR_CAP_SYS_MODULE, need_sys_module},
    {CTR_CAP_SYS_PACCT, need_sys_pacct},
    {CTR_CAP_SYS_PTRACE, need_sys_ptrace},
    {CTR_CAP_SYS_RAWIO, need_sys_rawio},
    {CTR_CAP_SYS_TIME, need_sys_time},
    {CTR_CAP_SYS_TTY_CONFIG, need_sys_tty_config},
    {CTR_CAP_SYS_NICE, need_sys_nice},
    {CTR_CAP_SYSLOG, need_syslog},
    {CTR_CAP_BPF, need_bpf},
    {CTR_CAP_PERFMON, need_perfmon},
};

/* personality(2) personas that are allowed: PER_LINUX, PER_LINUX32,
 * UNAME26, UNAME26|PER_LINUX32, and the query 0xffffffff. */
static const uint64_t personas[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffffull};

json_t *seccomp_host_arches(void)
{
#if defined(__x86_64__)
    return json_pack("[sss]", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32");
#elif defined(__i386__)
    return json_pack("[s]", "SCMP_ARCH_X86");
#elif defined(__aarch64__)
    return json_pack("[ss]", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM");
#elif defined(__arm__)
    return json_pack("[s]", "SCMP_ARCH_ARM");
#elif defined(__riscv) && __riscv_xlen == 64
    return json_pack("[s]", "SCMP_ARCH_RISCV64");
#elif defined(__s390x__)
    return json_pack("[ss]", "SCMP_ARCH_S390X", "SCMP_ARCH_S390");
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return json_pack("[s]", "SCMP_ARCH_PPC64LE");
#else
    return json_array();
#endif
}

static json_t *names_json(const char *const *names)
{
    json_t *a = json_array();
    for (size_t i = 0; a && names[i]; i++)
        json_array_append_new(a, json_string(names[i]));
    return a;
}

static json_t *rule(const char *const *names, const char *action, json_t *args)
{
    json_t *r = json_pack("{s:o, s:s}", "names", names_json(names), "action", action);
    if (r && args)
        json_object_set_new(r, "args", args);
    else if (args)
        json_decref(args);
    return r;
}

static json_t *arg(unsigned index, uint64_t value, uint64_t value2, const char *op)
{
    return json_pack("{s:i, s:I, s:I, s:s}", "index", (int)index, "value", (json_int_t)value,
                     "valueTwo", (json_int_t)value2, "op", op);
}

static int add(json_t *arr, json_t *v)
{
    return v ? json_array_append_new(arr, v) : -1;
}

json_t *seccomp_default_profile(ctr_capset caps)
{
    json_t *p =
        json_pack("{s:s, s:i, s:o, s:[]}", "defaultAction", "SCMP_ACT_ERRNO", "defaultErrnoRet",
                  EPERM, "architectures", seccomp_host_arches(), "syscalls");
    if (!p)
        return NULL;
    json_t *sys = json_object_get(p, "syscalls");
    int rc = add(sys, rule(allow_always, "SCMP_ACT_ALLOW", NULL));
    if (HOST_ARCH == ARCH_X86)
        rc |= add(sys, rule(allow_x86, "SCMP_ACT_ALLOW", NULL));
    if (HOST_ARCH == ARCH_ARM)
        rc |= add(sys, rule(allow_arm, "SCMP_ACT_ALLOW", NULL));

    static const char *const socket_name[] = {"socket", NULL};
    rc |= add(sys, rule(socket_name, "SCMP_ACT_ALLOW",
                        json_pack("[o]", arg(0, AF_VSOCK_NUM, 0, "SCMP_CMP_NE"))));
    static const char *const personality[] = {"personality", NULL};
    for (size_t i = 0; i < ARRAY_LEN(personas); i++)
        rc |= add(sys, rule(personality, "SCMP_ACT_ALLOW",
                            json_pack("[o]", arg(0, personas[i], 0, "SCMP_CMP_EQ"))));

    for (size_t i = 0; i < ARRAY_LEN(cap_rules); i++)
        if (caps & CTR_CAP_BIT(cap_rules[i].cap))
            rc |= add(sys, rule(cap_rules[i].names, "SCMP_ACT_ALLOW", NULL));

    if (!(caps & CTR_CAP_BIT(CTR_CAP_SYS_ADMIN))) {
        /* clone without namespace flags (flags are argument 0 here; s390
         * would need argument 1); clone3 hides its flags in memory, so make
         * libc fall back to clone. */
        static const char *const clone_name[] = {"clone", NULL};
        static const char *const clone3_name[] = {"clone3", NULL};
#if defined(__s390x__) || defined(__s390__)
        unsigned flags_arg = 1;
#else
        unsigned flags_arg = 0;
#endif
        rc |= add(sys,
                  rule(clone_name, "SCMP_ACT_ALLOW",
                       json_pack("[o]", arg(flags_arg, NS_FLAGS_MASK, 0, "SCMP_CMP_MASKED_EQ"))));
        json_t *c3 = rule(clone3_name, "SCMP_ACT_ERRNO", NULL);
        if (c3)
            json_object_set_new(c3, "errnoRet", json_integer(ENOSYS));
        rc |= add(sys, c3);
    }
    if (rc != 0) {
        json_decref(p);
        return NULL;
    }
    return p;
}
