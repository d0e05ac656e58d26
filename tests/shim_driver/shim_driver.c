/* Test driver for src/ctr/shim_client and runtime_probe: one command per run,
 * used by tests/integration/test_shim.py in place of the daemon.
 *   shim_driver launch --id ID --bundle DIR --state DIR --runtime PATH [--shim PATH]
 *                      [--root DIR] [--log FILE] [--memcg DIR] [--tty] [--stdin]
 *                      [--stdin-once] [--timeout MS]        -> "pid N"
 *   shim_driver starting|reopen|state|exit|check STATE_DIR
 *   shim_driver resize STATE_DIR ROWS COLS
 *   shim_driver wait STATE_DIR TIMEOUT_MS
 *   shim_driver probe RUNTIME [FALLBACK]                      -> chosen runtime
 * Prints the error message and exits 1 on failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        const char *chosen = runtime_probe_choose(argv[2], argc > 3 ? argv[3] : NULL,
                                                  RUNTIME_PROBE_CGROUP_ROOT, &err);
        if (!chosen)
            return fail(&err);
        printf("%s\n", chosen);
        return 0;
    }
    return fprintf(stderr, "unknown command %s\n", cmd), 2;
}
