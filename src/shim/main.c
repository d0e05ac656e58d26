/* cric-shim: the per-container monitor. See protocol.h for the state
 * directory, the launch handshake and the socket protocol.
 *
 *   cric-shim --id ID --bundle DIR --state-dir DIR --runtime PATH
 *             [--runtime-root DIR] [--log-path FILE] [--memory-cgroup DIR]
 *             [--tty] [--stdin] [--stdin-once] [--sync-fd N]
 *
 * The process started by the caller detaches (setsid, fork) and exits at
 * once; the forked shim runs the runtime's create, reports on the sync fd,
 * then serves the container until its init exits. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "shim.h"
#include "util/cleanup.h"
#include "util/log.h"

static void usage(void)
{
    fprintf(stderr, "usage: cric-shim --id ID --bundle DIR --state-dir DIR --runtime PATH\n"
                    "         [--runtime-root DIR] [--log-path FILE] [--memory-cgroup DIR]\n"
                    "         [--tty] [--stdin] [--stdin-once] [--sync-fd N]\n");
}

static void sync_write(int fd, const char *msg)
{
    if (fd < 0)
        return;
    size_t len = strlen(msg);
    while (len > 0) {
        ssize_t n = write(fd, msg, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* the caller went away: nothing to report to */
        msg += n;
        len -= (size_t)n;
    }
}

static void sync_error(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sync_error(int fd, const char *fmt, ...)
{
    char buf[1024] = "error ";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + 6, sizeof(buf) - 6, fmt, ap);
    va_end(ap);
    log_error("shim", "%s", buf + 6);
    sync_write(fd, buf);
}

static bool abs_path_ok(const char *p)
{
    return p && p[0] == '/' && strlen(p) < 4000 && !strstr(p, "/../") &&
           strcmp(p + strlen(p) - (strlen(p) >= 3 ? 3 : 0), "/..") != 0;
}

static int parse_args(int argc, char **argv, struct shim_opts *o)
{
    enum {
        OPT_ID = 1,
        OPT_BUNDLE,
        OPT_STATE,
        OPT_RT,
        OPT_ROOT,
        OPT_LOG,
        OPT_MEMCG,
        OPT_TTY,
        OPT_STDIN,
        OPT_ONCE,
        OPT_SYNC,
        OPT_RTFD
    };
    static const struct option opts[] = {
        {"id", required_argument, NULL, OPT_ID},
        {"bundle", required_argument, NULL, OPT_BUNDLE},
        {"state-dir", required_argument, NULL, OPT_STATE},
        {"runtime", required_argument, NULL, OPT_RT},
        {"runtime-root", required_argument, NULL, OPT_ROOT},
        {"log-path", required_argument, NULL, OPT_LOG},
        {"memory-cgroup", required_argument, NULL, OPT_MEMCG},
        {"tty", no_argument, NULL, OPT_TTY},
        {"stdin", no_argument, NULL, OPT_STDIN},
        {"stdin-once", no_argument, NULL, OPT_ONCE},
        {"sync-fd", required_argument, NULL, OPT_SYNC},
        {"runtime-fd", required_argument, NULL, OPT_RTFD},
        {NULL, 0, NULL, 0},
    };
    *o = (struct shim_opts){.sync_fd = -1, .runtime_fd = -1};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case OPT_ID:
            o->id = optarg;
            break;
        case OPT_BUNDLE:
            o->bundle = optarg;
            break;
        case OPT_STATE:
            o->state_dir = optarg;
            break;
        case OPT_RT:
            o->runtime = optarg;
            break;
        case OPT_ROOT:
            o->runtime_root = optarg;
            break;
        case OPT_LOG:
            o->log_path = optarg;
            break;
        case OPT_MEMCG:
            o->memory_cgroup = optarg;
            break;
        case OPT_TTY:
            o->tty = true;
            break;
        case OPT_STDIN:
            o->stdin_open = true;
            break;
        case OPT_ONCE:
            o->stdin_once = true;
            break;
        case OPT_SYNC:
        case OPT_RTFD: {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 0 || v > 1 << 20)
                return -1;
            *(c == OPT_SYNC ? &o->sync_fd : &o->runtime_fd) = (int)v;
            break;
        }
        default:
            return -1;
        }
    }
    if (optind != argc || !o->id || !o->bundle || !o->state_dir || !o->runtime)
        return -1;
    if (!shim_id_valid(o->id))
        return -1;
    if (!abs_path_ok(o->bundle) || !abs_path_ok(o->state_dir) ||
        (o->log_path && !abs_path_ok(o->log_path)) ||
        (o->memory_cgroup && !abs_path_ok(o->memory_cgroup)) ||
        (o->runtime_root && *o->runtime_root && !abs_path_ok(o->runtime_root)))
        return -1;
    if (o->stdin_once && !o->stdin_open)
        o->stdin_once = false;
    return 0;
}

static int listen_socket(void)
{
    unlink(SHIM_SOCK_NAME);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, SHIM_SOCK_NAME, sizeof(SHIM_SOCK_NAME)); /* cwd is the state dir */
    mode_t old = umask(0077);
    int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (r < 0 || listen(fd, 16) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Own stdio: /dev/null in, shim.log out. Keeps the sync fd. */
static void setup_stdio(void)
{
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    int logfd = open(SHIM_LOG_NAME, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
    }
    dup2(logfd >= 0 ? logfd : null, 2);
    if (null > 2)
        close(null);
    if (logfd > 2)
        close(logfd);
}

int main(int argc, char **argv)
{
    struct shim s = {
        .sigfd = -1, .listen_fd = -1, .out_fd = -1, .err_fd = -1, .in_fd = -1, .log_fd = -1};
    if (parse_args(argc, argv, &s.o) < 0) {
        usage();
        return 2;
    }
    int sync_fd = s.o.sync_fd;
    if (sync_fd >= 0 && fcntl(sync_fd, F_SETFD, FD_CLOEXEC) < 0) {
        fprintf(stderr, "cric-shim: bad --sync-fd\n");
        return 2;
    }
    if (chdir(s.o.state_dir) < 0) {
        sync_error(sync_fd, "state dir %s: %s", s.o.state_dir, strerror(errno));
        return 1;
    }

    /* Detach: a new session, then fork so the launcher can exit and the shim
     * is reparented away from the daemon. The shim is not a session leader,
     * so it can never gain a controlling terminal. */
    if (setsid() < 0) {
        /* a process group leader (started from a shell) cannot: its child can */
        pid_t mid = fork();
        if (mid < 0) {
            sync_error(sync_fd, "fork: %s", strerror(errno));
            return 1;
        }
        if (mid > 0)
            _exit(0);
        if (setsid() < 0) {
            sync_error(sync_fd, "setsid: %s", strerror(errno));
            return 1;
        }
    }
    pid_t pid = fork();
    if (pid < 0) {
        sync_error(sync_fd, "fork: %s", strerror(errno));
        return 1;
    }
    if (pid > 0)
        _exit(0);

    setup_stdio();
    umask(0022);
    log_setup(LOG_LVL_INFO, LOG_FMT_TEXT);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
        sync_error(sync_fd, "subreaper: %s", strerror(errno));
        return 1;
    }
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    s.sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (s.sigfd < 0) {
        sync_error(sync_fd, "signalfd: %s", strerror(errno));
        return 1;
    }
    if (shim_write_pidfile(s.o.state_dir) < 0) {
        sync_error(sync_fd, "write %s/%s failed", s.o.state_dir, SHIM_PID_NAME);
        return 1;
    }
    unlink(SHIM_EXIT_NAME);
    s.listen_fd = listen_socket();
    if (s.listen_fd < 0) {
        sync_error(sync_fd, "listen %s/%s: %s", s.o.state_dir, SHIM_SOCK_NAME, strerror(errno));
        return 1;
    }
    crilog_stream_init(&s.lout, "stdout");
    crilog_stream_init(&s.lerr, "stderr");
    char msg[1000];
    if (shim_log_open(&s, msg, sizeof(msg)) < 0) {
        sync_error(sync_fd, "%s", msg);
        unlink(SHIM_SOCK_NAME);
        return 1;
    }
    /* Not for the container: closed when the runtime is exec'd, and after. */
    if (s.o.runtime_fd >= 0 && fcntl(s.o.runtime_fd, F_SETFD, FD_CLOEXEC) < 0)
        s.o.runtime_fd = -1;
    int created = shim_runtime_create(&s, msg, sizeof(msg));
    if (s.o.runtime_fd >= 0)
        close(s.o.runtime_fd);
    s.o.runtime_fd = -1;
    if (created < 0) {
        sync_error(sync_fd, "%s", msg);
        unlink(SHIM_SOCK_NAME);
        return 1;
    }
    s.created_at = shim_now_ns();
    s.status = SHIM_CREATED;
    if (s.o.memory_cgroup && shim_read_oom_count(s.o.memory_cgroup, &s.oom_base) < 0)
        log_warn("shim", "container %s: no oom_kill counter under %s", s.o.id, s.o.memory_cgroup);
    for (size_t i = 0; i < s.n_early; i++)
        if (s.early[i].pid == s.init_pid) {
            s.init_exited = true;
            s.exit_status = s.early[i].status;
            s.finished_at = s.created_at;
        }
    char ok[32];
    snprintf(ok, sizeof(ok), "ok %d\n", (int)s.init_pid);
    sync_write(sync_fd, ok);
    if (sync_fd >= 0)
        close(sync_fd);
    log_info("shim", "container %s: created, init pid %d", s.o.id, (int)s.init_pid);

    shim_reap(&s); /* an exit between create and now */
    int rc = shim_loop(&s);
    crilog_stream_free(&s.lout);
    crilog_stream_free(&s.lerr);
    return rc == 0 ? 0 : 1;
}
