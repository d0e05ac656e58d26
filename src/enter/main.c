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
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "enter/plan.h"

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
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

typedef struct plan {
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
    char *env[PLAN_MAX_ENV + 1];
    size_t n_env;
    struct sock_filter *bpf;
    size_t n_bpf;
    uint32_t secflags;
} plan;

/* A failure before the command runs: one line on the report pipe. */
static void report(int fd, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(buf) - 2)
        n = (int)sizeof(buf) - 2;
    buf[n++] = '\n';
    ssize_t w;
    do
        w = write(fd, buf, (size_t)n);
    while (w < 0 && errno == EINTR);
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        report(ENTER_FD_REPORT, "setup: " __VA_ARGS__);                                            \
        _exit(ENTER_EXIT_SETUP);                                                                   \
    } while (0)

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* A string record as a C string (copied; the record has no NUL). */
static char *str_rec(const unsigned char *v, uint32_t len)
{
    if (memchr(v, '\0', len))
        return NULL;
    char *s = malloc((size_t)len + 1);
    if (!s)
        FAIL("out of memory");
    memcpy(s, v, len);
    s[len] = '\0';
    return s;
}

static void plan_parse(const unsigned char *buf, size_t size, plan *p)
{
    memset(p, 0, sizeof(*p));
    if (size < PLAN_MAGIC_LEN || memcmp(buf, PLAN_MAGIC, PLAN_MAGIC_LEN) != 0)
        FAIL("exec plan: bad magic");
    size_t off = PLAN_MAGIC_LEN;
    while (off < size) {
        if (size - off < 5)
            FAIL("exec plan: truncated record at %zu", off);
        unsigned char tag = buf[off];
        uint32_t len = le32(buf + off + 1);
        off += 5;
        if (len > size - off)
            FAIL("exec plan: record '%c' longer than the file", tag);
        const unsigned char *v = buf + off;
        off += len;
        switch (tag) {
        case PLAN_NS:
            if (len != 8)
                FAIL("exec plan: namespaces");
            p->ns = le64(v);
            break;
        case PLAN_UID:
        case PLAN_GID:
            if (len != 4)
                FAIL("exec plan: uid/gid");
            *(tag == PLAN_UID ? &p->uid : &p->gid) = le32(v);
            break;
        case PLAN_GIDS:
            if (len % 4 || len / 4 > PLAN_MAX_GIDS)
                FAIL("exec plan: groups");
            p->n_gids = len / 4;
            for (size_t i = 0; i < p->n_gids; i++)
                p->gids[i] = le32(v + 4 * i);
            break;
        case PLAN_CAPS:
            if (len != 40)
                FAIL("exec plan: capabilities");
            p->has_caps = true;
            p->cap_bnd = le64(v);
            p->cap_eff = le64(v + 8);
            p->cap_prm = le64(v + 16);
            p->cap_inh = le64(v + 24);
            p->cap_amb = le64(v + 32);
            break;
        case PLAN_NNP:
            if (len != 1)
                FAIL("exec plan: no_new_privs");
            p->nnp = v[0] != 0;
            break;
        case PLAN_RLIMIT:
            if (len != 20 || p->n_rl >= PLAN_MAX_RLIMITS)
                FAIL("exec plan: rlimit");
            p->rl[p->n_rl].res = le32(v);
            p->rl[p->n_rl].soft = le64(v + 4);
            p->rl[p->n_rl].hard = le64(v + 12);
            p->n_rl++;
            break;
        case PLAN_OOM:
            if (len != 4)
                FAIL("exec plan: oom_score_adj");
            p->has_oom = true;
            p->oom = (int32_t)le32(v);
            break;
        case PLAN_UMASK:
            if (len != 4)
                FAIL("exec plan: umask");
            p->has_umask = true;
            p->umask = le32(v) & 07777;
            break;
        case PLAN_CWD:
        case PLAN_ENV: {
            char *str = str_rec(v, len);
            if (!str)
                FAIL("exec plan: string with NUL");
            if (tag == PLAN_CWD) {
                if (str[0] != '/')
                    FAIL("exec plan: cwd not absolute");
                p->cwd = str;
            } else {
                if (p->n_env >= PLAN_MAX_ENV || !strchr(str, '='))
                    FAIL("exec plan: env");
                p->env[p->n_env++] = str;
            }
            break;
        }
        case PLAN_SECCOMP:
            if (len == 0 || len % sizeof(struct sock_filter) ||
                len / sizeof(struct sock_filter) > PLAN_MAX_BPF_INSNS)
                FAIL("exec plan: seccomp program");
            p->n_bpf = len / sizeof(struct sock_filter);
            p->bpf = malloc(len);
            if (!p->bpf)
                FAIL("out of memory");
            memcpy(p->bpf, v, len);
            break;
        case PLAN_SECFLAGS:
            if (len != 4)
                FAIL("exec plan: seccomp flags");
            p->secflags = le32(v);
            break;
        default:
            FAIL("exec plan: unknown record '%c'", tag);
        }
    }
    p->env[p->n_env] = NULL;
}

static void plan_read(const char *path, plan *p)
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
    plan_parse(buf, size, p);
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        FAIL("open %s: %s", path, strerror(errno));
    size_t len = strlen(text);
    ssize_t n;
    do
        n = write(fd, text, len);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)len)
        FAIL("write %s: %s", path, n < 0 ? strerror(errno) : "short write");
    close(fd);
}

static bool cgroup_procs_ok(const char *p)
{
    size_t len = strlen(p);
    static const char suffix[] = "/cgroup.procs";
    return p[0] == '/' && len < 4096 && len > sizeof(suffix) &&
           strcmp(p + len - (sizeof(suffix) - 1), suffix) == 0 && !strstr(p, "/../") &&
           !strstr(p, "/./");
}

static int last_cap(void)
{
    int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
    char buf[16] = "";
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n > 0) {
            buf[n] = '\0';
            int v = atoi(buf);
            if (v > 0 && v < 64)
                return v;
        }
    }
    return CAP_LAST_CAP;
}

static void load_seccomp(const plan *p, int errfd)
{
    struct sock_fprog prog = {.len = (unsigned short)p->n_bpf, .filter = p->bpf};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->secflags, &prog) < 0) {
        report(errfd, "setup: seccomp: %s", strerror(errno));
        _exit(ENTER_EXIT_SETUP);
    }
}

static void child_fail(int errfd, const char *what)
{
    report(errfd, "setup: %s: %s", what, strerror(errno));
    _exit(ENTER_EXIT_SETUP);
}

/* execvp with the plan's PATH (not ours). Returns the errno to report. */
static int exec_command(char *const *argv, char *const *env)
{
    const char *cmd = argv[0];
    if (strchr(cmd, '/')) {
        execve(cmd, argv, env);
        return errno;
    }
    const char *path = DEFAULT_PATH;
    for (size_t i = 0; env[i]; i++)
        if (strncmp(env[i], "PATH=", 5) == 0)
            path = env[i] + 5;
    int saved = ENOENT;
    size_t clen = strlen(cmd);
    for (const char *s = path;; s++) {
        const char *e = strchrnul(s, ':');
        size_t dlen = (size_t)(e - s);
        char full[4096 + 256];
        if (dlen + clen + 2 <= sizeof(full)) {
            if (dlen) {
                memcpy(full, s, dlen);
                full[dlen] = '/';
                memcpy(full + dlen + 1, cmd, clen + 1);
            } else {
                memcpy(full, cmd, clen + 1);
            }
            execve(full, argv, env);
            if (errno == EACCES)
                saved = EACCES;
            else if (errno != ENOENT && errno != ENOTDIR)
                return errno;
        }
        if (!*e)
            break;
        s = e;
    }
    return saved;
}

/* HOME when the environment lacks it, as crun and runc set it: the
 * user's directory in the container's /etc/passwd, else "/". */
static void add_home(plan *p)
{
    for (size_t i = 0; i < p->n_env; i++)
        if (strncmp(p->env[i], "HOME=", 5) == 0)
            return;
    if (p->n_env >= PLAN_MAX_ENV)
        return;
    static char home[4096 + 8];
    strcpy(home, "HOME=/");
    FILE *f = fopen("/etc/passwd", "re");
    if (f) {
        char line[4096];
        while (fgets(line, sizeof(line), f)) {
            /* name:pw:uid:gid:gecos:dir:shell */
            char *field[7] = {0};
            char *s = line;
            size_t n = 0;
            for (; n < 7 && s; n++) {
                field[n] = s;
                s = strchr(s, ':');
                if (s)
                    *s++ = '\0';
            }
            if (n < 6 || !field[2][0])
                continue;
            char *end;
            unsigned long uid = strtoul(field[2], &end, 10);
            if (*end || uid != p->uid)
                continue;
            field[5][strcspn(field[5], "\n")] = '\0';
            if (field[5][0])
                snprintf(home, sizeof(home), "HOME=%s", field[5]);
            break;
        }
        fclose(f);
    }
    p->env[p->n_env++] = home;
    p->env[p->n_env] = NULL;
}

/* A new terminal of the container (its devpts: the mount namespace is the
 * container's by now) as the controlling terminal and stdio; the master goes
 * to the daemon over the console socket, as an OCI runtime's console socket
 * would carry it. */
static void open_terminal(const plan *p, int errfd)
{
    if (setsid() < 0)
        child_fail(errfd, "setsid");
    int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0)
        child_fail(errfd, "open the container's /dev/ptmx");
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
        child_fail(errfd, "unlock the terminal");
    int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    if (slave < 0)
        child_fail(errfd, "open the terminal's peer");
    if (ioctl(slave, TIOCSCTTY, 0) < 0)
        child_fail(errfd, "set the controlling terminal");
    if (fchown(slave, p->uid, (gid_t)-1) < 0 && errno != EPERM)
        child_fail(errfd, "chown the terminal");
    char byte = 0;
    char cbuf[CMSG_SPACE(sizeof(int))];
    memset(cbuf, 0, sizeof(cbuf));
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &master, sizeof(int));
    ssize_t n;
    do
        n = sendmsg(ENTER_FD_CONSOLE, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n != 1)
        child_fail(errfd, "send the terminal");
    close(master);
    close(ENTER_FD_CONSOLE);
    for (int fd = 0; fd < 3; fd++)
        if (dup2(slave, fd) < 0)
            child_fail(errfd, "terminal as stdio");
    if (slave > 2)
        close(slave);
}

typedef struct child_args {
    plan *p;
    char *const *argv;
    int errfd;
    bool terminal;
    struct fiber *fiber;
} child_args;

static void child(plan *p, char *const *argv, int errfd, bool terminal)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (terminal)
        open_terminal(p, errfd);
    add_home(p);

    for (size_t i = 0; i < p->n_rl; i++) {
        struct rlimit rl = {.rlim_cur = p->rl[i].soft, .rlim_max = p->rl[i].hard};
        if (setrlimit((int)p->rl[i].res, &rl) < 0)
            child_fail(errfd, "setrlimit");
    }
    if (p->has_umask)
        umask((mode_t)p->umask);
    if (p->bpf && !p->nnp)
        load_seccomp(p, errfd);

    if (p->has_caps) {
        int last = last_cap();
        for (int c = 0; c <= last; c++)
            if (!(p->cap_bnd & ((uint64_t)1 << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
                child_fail(errfd, "drop bounding capability");
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
            child_fail(errfd, "keep capabilities");
    }
    gid_t gids[PLAN_MAX_GIDS];
    for (size_t i = 0; i < p->n_gids; i++)
        gids[i] = (gid_t)p->gids[i];
    /* raw system calls: the child shares our memory, and glibc's wrappers
     * may consult process-wide thread state to broadcast the change */
    if (syscall(SYS_setgroups, p->n_gids, gids) < 0)
        child_fail(errfd, "setgroups");
    if (syscall(SYS_setresgid, p->gid, p->gid, p->gid) < 0)
        child_fail(errfd, "setresgid");
    if (syscall(SYS_setresuid, p->uid, p->uid, p->uid) < 0)
        child_fail(errfd, "setresuid");
    if (p->has_caps) {
        struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
        struct __user_cap_data_struct data[2];
        for (int i = 0; i < 2; i++) {
            data[i].effective = (uint32_t)(p->cap_eff >> (32 * i));
            data[i].permitted = (uint32_t)(p->cap_prm >> (32 * i));
            data[i].inheritable = (uint32_t)(p->cap_inh >> (32 * i));
        }
        if (syscall(SYS_capset, &hdr, data) < 0)
            child_fail(errfd, "capset");
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
            child_fail(errfd, "clear ambient capabilities");
        for (int c = 0; c < 64; c++)
            if ((p->cap_amb & ((uint64_t)1 << c)) &&
                prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
                child_fail(errfd, "raise ambient capability");
    }
    if (p->nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        child_fail(errfd, "no_new_privs");
    if (chdir(p->cwd ? p->cwd : "/") < 0)
        child_fail(errfd, "chdir to the working directory");
    /* cric-enter killed (by the daemon's last resort) takes the command along */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        child_fail(errfd, "parent death signal");
    if (p->bpf && p->nnp)
        load_seccomp(p, errfd);
    int e = exec_command(argv, p->env);
    report(errfd, "exec: %d: %s: %s", e, argv[0], strerror(e));
    _exit(e == ENOENT ? 127 : 126);
}

/* Sanitized builds: the child runs on a stack AddressSanitizer does not
 * know, so it is told of the switch (as for a fiber) both ways; otherwise it
 * warns on the child's _exit/execve, into the command's stderr. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
typedef struct fiber {
    void *fake_stack;
    const void *bottom;
    size_t size;
} fiber;
#define FIBER_TO_CHILD(f, stk, sz) __sanitizer_start_switch_fiber(&(f)->fake_stack, (stk), (sz))
#define FIBER_IN_CHILD(f) __sanitizer_finish_switch_fiber(NULL, &(f)->bottom, &(f)->size)
#define FIBER_BACK(f)                                                                              \
    do {                                                                                           \
        __sanitizer_start_switch_fiber(NULL, (f)->bottom, (f)->size);                              \
        __sanitizer_finish_switch_fiber((f)->fake_stack, NULL, NULL);                              \
    } while (0)
#else
typedef struct fiber {
    char unused;
} fiber;
#define FIBER_TO_CHILD(f, stk, sz) ((void)(f))
#define FIBER_IN_CHILD(f) ((void)(f))
#define FIBER_BACK(f) ((void)(f))
#endif

static int child_main(void *arg)
{
    child_args *a = arg;
    FIBER_IN_CHILD(a->fiber);
    close(ENTER_FD_REPORT);
    child(a->p, a->argv, a->errfd, a->terminal);
    return 127;
}

/* The child's stack: it runs on its own while sharing our memory; we are
 * suspended until it execs or exits, so nothing else touches it meanwhile. */
#if defined(__SANITIZE_ADDRESS__)
#define CHILD_STACK (4u << 20)
#else
#define CHILD_STACK (256u << 10)
#endif

/* Every signal to its default (the daemon spawns us without resetting
 * glibc's internal ones): an ignored signal would stay ignored in the
 * command. Raw rt_sigaction, which takes every number. */
static void signals_default(void)
{
    struct {
        void *handler;
        unsigned long flags;
        void *restorer;
        uint64_t mask;
    } sa = {.handler = SIG_DFL};
    for (int sig = 1; sig <= 64; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            syscall(SYS_rt_sigaction, sig, &sa, NULL, sizeof(sa.mask));
}

int main(int argc, char **argv)
{
    signals_default();
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

    plan p;
    plan_read(argv[1], &p);

    for (long i = 0; i < ncg; i++) {
        if (!cgroup_procs_ok(argv[3 + i]))
            FAIL("bad cgroup.procs path %s", argv[3 + i]);
        write_file(argv[3 + i], "0");
    }
    if (p.has_oom) {
        char v[16];
        snprintf(v, sizeof(v), "%d", (int)p.oom);
        write_file("/proc/self/oom_score_adj", v);
    }
    if (p.ns && setns(ENTER_FD_PIDFD, (int)p.ns) < 0)
        FAIL("setns into the container: %s", strerror(errno));
    close(ENTER_FD_PIDFD);

    struct stat cst;
    bool terminal = fstat(ENTER_FD_CONSOLE, &cst) == 0 && S_ISSOCK(cst.st_mode);

    int ep[2];
    if (pipe2(ep, O_CLOEXEC) < 0)
        FAIL("pipe: %s", strerror(errno));
    void *stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED)
        FAIL("child stack: %s", strerror(errno));
    fiber fb;
    child_args ca = {.p = &p, .argv = cmd, .errfd = ep[1], .terminal = terminal, .fiber = &fb};
    FIBER_TO_CHILD(&fb, stack, CHILD_STACK);
    /* ep[0] is close-on-exec: the child needs no close of its own, and the
     * ENTER_FD_REPORT it closes is its own descriptor table's (no CLONE_FILES) */
    pid_t pid =
        clone(child_main, (char *)stack + CHILD_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, &ca);
    if (pid < 0)
        FAIL("start the command: %s", strerror(errno));
    FIBER_BACK(&fb);
    munmap(stack, CHILD_STACK);
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
