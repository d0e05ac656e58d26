/* Test driver for src/ctr/shim_client and runtime_probe: one command per run,
 * used by tests/integration/test_shim.py in place of the daemon.
 *   shim_driver launch --id ID --bundle DIR --state DIR --runtime PATH [--shim PATH]
 *                      [--root DIR] [--log FILE] [--memcg DIR] [--tty] [--stdin]
 *                      [--stdin-once] [--timeout MS]        -> "pid N"
 *   shim_driver starting|reopen|state|exit|check STATE_DIR
 *   shim_driver resize STATE_DIR ROWS COLS
 *   shim_driver wait STATE_DIR TIMEOUT_MS
 *   shim_driver attachfds STATE_DIR FLAGS [ROWS COLS]   pumps stdin/stdout/stderr
 *   shim_driver probe RUNTIME [FALLBACK [CGROUP_ROOT]]        -> chosen runtime
 * Prints the error message and exits 1 on failure. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctr/runtime_probe.h"
#include "ctr/shim_client.h"
#include "util/log.h"

static int fail(const cric_err *err)
{
    printf("%s: %s\n", cric_errkind_name(err->kind), err->msg);
    return 1;
}

static int launch(int argc, char **argv)
{
    struct shim_launch_opts o = {0};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--tty")) {
            o.tty = true;
        } else if (!strcmp(a, "--stdin")) {
            o.stdin_open = true;
        } else if (!strcmp(a, "--stdin-once")) {
            o.stdin_once = true;
        } else if (v) {
            i++;
            if (!strcmp(a, "--id"))
                o.id = v;
            else if (!strcmp(a, "--bundle"))
                o.bundle = v;
            else if (!strcmp(a, "--state"))
                o.state_dir = v;
            else if (!strcmp(a, "--runtime"))
                o.runtime_path = v;
            else if (!strcmp(a, "--shim"))
                o.shim_path = v;
            else if (!strcmp(a, "--root"))
                o.runtime_root = v;
            else if (!strcmp(a, "--log"))
                o.log_path = v;
            else if (!strcmp(a, "--memcg"))
                o.memory_cgroup = v;
            else if (!strcmp(a, "--timeout"))
                o.timeout_ms = atoi(v);
            else
                return fprintf(stderr, "unknown option %s\n", a), 2;
        } else {
            return fprintf(stderr, "bad option %s\n", a), 2;
        }
    }
    cric_err err = {0};
    pid_t pid;
    if (shim_launch(&o, &pid, &err) < 0)
        return fail(&err);
    printf("pid %d\n", (int)pid);
    return 0;
}

static void put_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* fd attach: pumps our stdin -> container, container -> our stdout/stderr
 * until the container's output ends. */
static int attach_fds(const char *dir, unsigned flags, int rows, int cols)
{
    cric_err err = {0};
    struct shim_attach_fds a;
    if (shim_attach_fds_open(dir, flags, &a, &err) < 0)
        return fail(&err);
    if (rows > 0 && shim_send_resize(a.ctl_fd, (unsigned)rows, (unsigned)cols, &err) < 0)
        return fail(&err);
    int in_to = a.tty ? a.pty_fd : a.stdin_fd;
    int src_in = in_to >= 0 ? 0 : -1;
    int out_from = a.tty ? a.pty_fd : a.stdout_fd;
    int err_from = a.stderr_fd;
    while (out_from >= 0 || err_from >= 0) {
        struct pollfd p[3] = {{src_in, POLLIN, 0}, {out_from, POLLIN, 0}, {err_from, POLLIN, 0}};
        if (poll(p, 3, -1) < 0)
            break;
        char buf[4096];
        if (p[0].revents) {
            ssize_t n = read(0, buf, sizeof(buf));
            if (n > 0) {
                put_all(in_to, buf, (size_t)n);
            } else {
                src_in = -1;
                if (!a.tty) { /* our stdin ended: so does our input to the container */
                    close(a.stdin_fd);
                    a.stdin_fd = -1;
                }
            }
        }
        for (int k = 1; k < 3; k++) {
            if (!p[k].revents)
                continue;
            int *fd = k == 1 ? &out_from : &err_from;
            ssize_t n = read(*fd, buf, sizeof(buf));
            if (n > 0)
                put_all(k == 1 ? 1 : 2, buf, (size_t)n);
            else
                *fd = -1;
        }
    }
    shim_attach_fds_close(&a);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return fprintf(stderr, "usage: see shim_driver.c\n"), 2;
    const char *cmd = argv[1], *dir = argv[2];
    cric_err err = {0};
    if (!strcmp(cmd, "launch"))
        return launch(argc, argv);
    if (!strcmp(cmd, "starting"))
        return shim_mark_starting(dir, &err) < 0 ? fail(&err) : (puts("ok"), 0);
    if (!strcmp(cmd, "reopen"))
        return shim_reopen_log(dir, &err) < 0 ? fail(&err) : (puts("ok"), 0);
    if (!strcmp(cmd, "resize") && argc == 5)
        return shim_resize(dir, (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]), &err) < 0
                   ? fail(&err)
                   : (puts("ok"), 0);
    if (!strcmp(cmd, "state")) {
        struct shim_state st;
        if (shim_query_state(dir, &st, &err) < 0)
            return fail(&err);
        printf("pid %d status %s created %lld started %lld\n", (int)st.init_pid, st.status,
               (long long)st.created_at, (long long)st.started_at);
        return 0;
    }
    if (!strcmp(cmd, "exit")) {
        struct shim_exit e;
        if (shim_read_exit(dir, &e, &err) < 0)
            return fail(&err);
        printf("pid %d exit_code %d signal %d oom_killed %d created %lld started %lld finished "
               "%lld\n",
               (int)e.pid, e.exit_code, e.signal, e.oom_killed, (long long)e.created_at,
               (long long)e.started_at, (long long)e.finished_at);
        return 0;
    }
    if (!strcmp(cmd, "wait") && argc == 4) {
        struct shim_exit e;
        if (shim_wait_exit(dir, atoi(argv[3]), &e, &err) < 0)
            return fail(&err);
        printf("exit_code %d signal %d oom_killed %d\n", e.exit_code, e.signal, e.oom_killed);
        return 0;
    }
    if (!strcmp(cmd, "attachfds") && (argc == 4 || argc == 6))
        return attach_fds(dir, (unsigned)atoi(argv[3]), argc == 6 ? atoi(argv[4]) : 0,
                          argc == 6 ? atoi(argv[5]) : 0);
    if (!strcmp(cmd, "check")) {
        pid_t pid = 0;
        enum shim_liveness l = shim_check(dir, &pid);
        printf("%s %d\n",
               l == SHIM_ALIVE    ? "alive"
               : l == SHIM_EXITED ? "exited"
                                  : "lost",
               (int)pid);
        return 0;
    }
    if (!strcmp(cmd, "probe")) {
        const char *chosen =
            runtime_probe_choose(argv[2], argc > 3 && *argv[3] ? argv[3] : NULL,
                                 argc > 4 ? argv[4] : RUNTIME_PROBE_CGROUP_ROOT, &err);
        if (!chosen)
            return fail(&err);
        printf("%s\n", chosen);
        return 0;
    }
    return fprintf(stderr, "unknown command %s\n", cmd), 2;
}
