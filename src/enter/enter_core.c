/* The confinement steps of an exec into a running container (enter_core.h):
 * the plan's parser and what cric-enter and the daemon's direct ExecSync
 * path run in their children. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "enter/enter_core.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        enter_report(errfd, "setup: " __VA_ARGS__);                                                \
        _exit(ENTER_EXIT_SETUP);                                                                   \
    } while (0)

/* A failure before the command runs: one line on the report pipe. */
void enter_report(int fd, const char *fmt, ...)
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

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* A string record as a C string (copied; the record has no NUL). */
static int str_rec(const unsigned char *v, uint32_t len, char **out)
{
    *out = NULL;
    if (memchr(v, '\0', len))
        return -1;
    char *s = malloc((size_t)len + 1);
    if (!s)
        return -2;
    memcpy(s, v, len);
    s[len] = '\0';
    *out = s;
    return 0;
}

#define PFAIL(...)                                                                                 \
    do {                                                                                           \
        snprintf(msg, msg_size, __VA_ARGS__);                                                      \
        enter_plan_free(p);                                                                        \
        return -1;                                                                                 \
    } while (0)

int enter_plan_parse(const unsigned char *buf, size_t size, enter_plan *p, char *msg,
                     size_t msg_size)
{
    memset(p, 0, sizeof(*p));
    if (size < PLAN_MAGIC_LEN || memcmp(buf, PLAN_MAGIC, PLAN_MAGIC_LEN) != 0)
        PFAIL("exec plan: bad magic");
    size_t off = PLAN_MAGIC_LEN;
    while (off < size) {
        if (size - off < 5)
            PFAIL("exec plan: truncated record at %zu", off);
        unsigned char tag = buf[off];
        uint32_t len = le32(buf + off + 1);
        off += 5;
        if (len > size - off)
            PFAIL("exec plan: record '%c' longer than the file", tag);
        const unsigned char *v = buf + off;
        off += len;
        switch (tag) {
        case PLAN_NS:
            if (len != 8)
                PFAIL("exec plan: namespaces");
            p->ns = le64(v);
            break;
        case PLAN_UID:
        case PLAN_GID:
            if (len != 4)
                PFAIL("exec plan: uid/gid");
            *(tag == PLAN_UID ? &p->uid : &p->gid) = le32(v);
            break;
        case PLAN_GIDS:
            if (len % 4 || len / 4 > PLAN_MAX_GIDS)
                PFAIL("exec plan: groups");
            p->n_gids = len / 4;
            for (size_t i = 0; i < p->n_gids; i++)
                p->gids[i] = le32(v + 4 * i);
            break;
        case PLAN_CAPS:
            if (len != 40)
                PFAIL("exec plan: capabilities");
            p->has_caps = true;
            p->cap_bnd = le64(v);
            p->cap_eff = le64(v + 8);
            p->cap_prm = le64(v + 16);
            p->cap_inh = le64(v + 24);
            p->cap_amb = le64(v + 32);
            break;
        case PLAN_NNP:
            if (len != 1)
                PFAIL("exec plan: no_new_privs");
            p->nnp = v[0] != 0;
            break;
        case PLAN_RLIMIT:
            if (len != 20 || p->n_rl >= PLAN_MAX_RLIMITS)
                PFAIL("exec plan: rlimit");
            p->rl[p->n_rl].res = le32(v);
            p->rl[p->n_rl].soft = le64(v + 4);
            p->rl[p->n_rl].hard = le64(v + 12);
            p->n_rl++;
            break;
        case PLAN_OOM:
            if (len != 4)
                PFAIL("exec plan: oom_score_adj");
            p->has_oom = true;
            p->oom = (int32_t)le32(v);
            break;
        case PLAN_UMASK:
            if (len != 4)
                PFAIL("exec plan: umask");
            p->has_umask = true;
            p->umask = le32(v) & 07777;
            break;
        case PLAN_CWD:
        case PLAN_ENV: {
            char *str;
            int sr = str_rec(v, len, &str);
            if (sr < 0)
                PFAIL("%s", sr == -1 ? "exec plan: string with NUL" : "out of memory");
            if (tag == PLAN_CWD) {
                free(p->cwd);
                p->cwd = str;
                if (str[0] != '/')
                    PFAIL("exec plan: cwd not absolute");
            } else {
                char **env = p->n_env < PLAN_MAX_ENV && strchr(str, '=')
                                 ? realloc(p->env, (p->n_env + 2) * sizeof(char *))
                                 : NULL;
                if (!env) {
                    free(str);
                    PFAIL("exec plan: env");
                }
                p->env = env;
                p->env[p->n_env++] = str;
                p->env[p->n_env] = NULL;
            }
            break;
        }
        case PLAN_SECCOMP:
            if (len == 0 || len % sizeof(struct sock_filter) ||
                len / sizeof(struct sock_filter) > PLAN_MAX_BPF_INSNS)
                PFAIL("exec plan: seccomp program");
            free(p->bpf);
            p->n_bpf = len / sizeof(struct sock_filter);
            p->bpf = malloc(len);
            if (!p->bpf)
                PFAIL("out of memory");
            memcpy(p->bpf, v, len);
            break;
        case PLAN_SECFLAGS:
            if (len != 4)
                PFAIL("exec plan: seccomp flags");
            p->secflags = le32(v);
            break;
        default:
            PFAIL("exec plan: unknown record '%c'", tag);
        }
    }
    if (!p->env && !(p->env = calloc(1, sizeof(char *))))
        PFAIL("out of memory");
    return 0;
}

void enter_plan_free(enter_plan *p)
{
    if (p->env)
        for (size_t i = 0; i < p->n_env; i++)
            free(p->env[i]);
    free(p->env);
    free(p->cwd);
    free(p->bpf);
    memset(p, 0, sizeof(*p));
}

static void write_file(const char *path, const char *text, int errfd)
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

bool enter_cgroup_procs_ok(const char *p)
{
    size_t len = strlen(p);
    static const char suffix[] = "/cgroup.procs";
    return p[0] == '/' && len < 4096 && len > sizeof(suffix) &&
           strcmp(p + len - (sizeof(suffix) - 1), suffix) == 0 && !strstr(p, "/../") &&
           !strstr(p, "/./");
}

void enter_join(const enter_plan *p, char *const *cgroup_procs, size_t n_cgroups, int pidfd,
                int errfd)
{
    for (size_t i = 0; i < n_cgroups; i++) {
        if (!enter_cgroup_procs_ok(cgroup_procs[i]))
            FAIL("bad cgroup.procs path %s", cgroup_procs[i]);
        write_file(cgroup_procs[i], "0", errfd);
    }
    if (p->has_oom) {
        char v[16];
        snprintf(v, sizeof(v), "%d", (int)p->oom);
        write_file("/proc/self/oom_score_adj", v, errfd);
    }
    if (p->ns && setns(pidfd, (int)p->ns) < 0)
        FAIL("setns into the container: %s", strerror(errno));
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

static void load_seccomp(const enter_plan *p, int errfd)
{
    struct sock_fprog prog = {.len = (unsigned short)p->n_bpf, .filter = p->bpf};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->secflags, &prog) < 0) {
        enter_report(errfd, "setup: seccomp: %s", strerror(errno));
        _exit(ENTER_EXIT_SETUP);
    }
}

static void child_fail(int errfd, const char *what)
{
    enter_report(errfd, "setup: %s: %s", what, strerror(errno));
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
 * user's directory in the container's /etc/passwd, else "/". Read with
 * plain read(2) into the caller's buffer: this may run in a child sharing
 * its parent's memory. */
/* One /etc/passwd line (name:pw:uid:gid:gecos:dir:shell, modified in
 * place): true when it is uid's, with HOME set from its directory. */
static bool passwd_home(char *line, uint32_t uid, char *home, size_t size)
{
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
        return false;
    char *end;
    unsigned long u = strtoul(field[2], &end, 10);
    if (*end || u != uid)
        return false;
    if (field[5][0])
        snprintf(home, size, "HOME=%s", field[5]);
    return true;
}

void enter_home_of(const char *passwd, uint32_t uid, char *home, size_t size)
{
    snprintf(home, size, "HOME=/");
    int fd = open(passwd, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[8192];
    size_t have = 0;
    bool eof = false, skipping = false; /* skipping: the rest of an overlong line */
    for (;;) {
        char *nl = memchr(buf, '\n', have);
        if (!nl && !eof) {
            if (have == sizeof(buf)) {
                skipping = true;
                have = 0;
            }
            ssize_t n = read(fd, buf + have, sizeof(buf) - have);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                eof = true;
            else
                have += (size_t)n;
            continue;
        }
        if (!nl) { /* the last line, without a newline */
            if (!have || skipping || have == sizeof(buf))
                break;
            nl = buf + have;
        }
        *nl = '\0';
        size_t line_len = (size_t)(nl - buf) + 1;
        if (!skipping && passwd_home(buf, uid, home, size))
            break;
        skipping = false;
        if (line_len > have)
            break;
        memmove(buf, buf + line_len, have - line_len);
        have -= line_len;
    }
    close(fd);
}

/* A new terminal of the container (its devpts: the mount namespace is the
 * container's by now) as the controlling terminal and stdio; the master goes
 * to the daemon over the console socket, as an OCI runtime's console socket
 * would carry it. */
static void open_terminal(const enter_plan *p, int errfd)
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

_Noreturn void enter_exec_command(const enter_plan *p, char *const *argv, int errfd, bool terminal)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (terminal)
        open_terminal(p, errfd);
    /* the environment with HOME added where it lacks it, on our stack:
     * the plan stays untouched */
    char *env[PLAN_MAX_ENV + 2];
    char home[4096 + 8];
    bool has_home = false;
    for (size_t i = 0; i < p->n_env; i++) {
        env[i] = p->env[i];
        if (strncmp(p->env[i], "HOME=", 5) == 0)
            has_home = true;
    }
    size_t n_env = p->n_env;
    if (!has_home) {
        enter_home_of("/etc/passwd", p->uid, home, sizeof(home));
        env[n_env++] = home;
    }
    env[n_env] = NULL;

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
    int e = exec_command(argv, env);
    enter_report(errfd, "exec: %d: %s: %s", e, argv[0], strerror(e));
    _exit(e == ENOENT ? 127 : 126);
}

/* The signals whose disposition is not the default: SigIgn | SigCgt of
 * /proc/self/status (/proc/self/stat has them too, but cut to 31 bits), one
 * read instead of 62 rt_sigaction calls (on a paravirtualised host each
 * syscall costs ~1 us). Plain read and parsing: this may run in a child
 * sharing its parent's memory. */
bool enter_signals_not_default(uint64_t *mask)
{
    char buf[8192];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    close(fd);
    buf[have] = '\0';
    static const char *const names[2] = {"\nSigIgn:", "\nSigCgt:"};
    uint64_t v[2];
    for (int i = 0; i < 2; i++) {
        const char *p = strstr(buf, names[i]);
        if (!p)
            return false;
        p += strlen(names[i]);
        char *end;
        v[i] = strtoull(p, &end, 16);
        if (end == p || (*end != '\n' && *end != '\0'))
            return false;
    }
    *mask = v[0] | v[1];
    return true;
}

/* Every signal to its default (the daemon spawns us without resetting
 * glibc's internal ones): an ignored signal would stay ignored in the
 * command. Raw rt_sigaction, which takes every number. */
void enter_signals_default(void)
{
    struct {
        void *handler;
        unsigned long flags;
        void *restorer;
        uint64_t mask;
    } sa = {.handler = SIG_DFL};
    uint64_t set;
    if (!enter_signals_not_default(&set))
        set = ~(uint64_t)0;
    for (int sig = 1; sig <= 64; sig++)
        if (sig != SIGKILL && sig != SIGSTOP && (set >> (sig - 1) & 1))
            syscall(SYS_rt_sigaction, sig, &sa, NULL, sizeof(sa.mask));
}
