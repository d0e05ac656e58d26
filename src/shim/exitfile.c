/* The shim's small state files: shim.pid and the exit record (hand-written
 * JSON; the shim links no JSON library). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

int64_t shim_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Field 22 of /proc/self/stat: start time in clock ticks since boot. */
static int self_starttime(unsigned long long *out)
{
    char buf[1024];
    _cleanup_close_ int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    /* after ")" come fields 3.. ; starttime is field 22 */
    for (int field = 3; field < 22; field++) {
        p = strchr(p + 1, ' ');
        if (!p)
            return -1;
    }
    *out = strtoull(p + 1, NULL, 10);
    return 0;
}

int shim_write_pidfile(const char *state_dir)
{
    unsigned long long st = 0;
    if (self_starttime(&st) < 0)
        return -1;
    char buf[64];
    int n = snprintf(buf, sizeof(buf), "%d %llu\n", (int)getpid(), st);
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", state_dir, SHIM_PID_NAME);
    cric_err err;
    if (fs_write_atomic(path, buf, (size_t)n, 0644, &err) < 0) {
        log_error("shim", "%s", err.msg);
        return -1;
    }
    return 0;
}

int shim_read_oom_count(const char *memory_cgroup, uint64_t *out)
{
    static const char *const files[] = {"memory.events", "memory.oom_control"};
    for (size_t i = 0; i < ARRAY_LEN(files); i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", memory_cgroup, files[i]);
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
            continue;
        char line[256];
        while (fgets(line, sizeof(line), f)) {
            if (strncmp(line, "oom_kill ", 9) == 0) {
                *out = strtoull(line + 9, NULL, 10);
                return 0;
            }
        }
    }
    return -1;
}

int shim_write_exit(struct shim *s)
{
    int code = 0, sig = 0;
    if (WIFEXITED(s->exit_status)) {
        code = WEXITSTATUS(s->exit_status);
    } else if (WIFSIGNALED(s->exit_status)) {
        sig = WTERMSIG(s->exit_status);
        code = 128 + sig;
    }
    bool oom = false;
    uint64_t count = 0;
    if (s->o.memory_cgroup && shim_read_oom_count(s->o.memory_cgroup, &count) == 0)
        oom = count > s->oom_base;
    char buf[512];
    int n = snprintf(buf, sizeof(buf),
                     "{\"pid\":%d,\"exit_code\":%d,\"signal\":%d,\"oom_killed\":%s,"
                     "\"created_at\":%" PRId64 ",\"started_at\":%" PRId64
                     ",\"finished_at\":%" PRId64 "}\n",
                     (int)s->init_pid, code, sig, oom ? "true" : "false", s->created_at,
                     s->started_at, s->finished_at);
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", s->o.state_dir, SHIM_EXIT_NAME);
    cric_err err;
    if (fs_write_atomic(path, buf, (size_t)n, 0644, &err) < 0) {
        log_error("shim", "container %s: %s", s->o.id, err.msg);
        return -1;
    }
    log_info("shim", "container %s: init %d exited: code %d signal %d oom %d", s->o.id,
             (int)s->init_pid, code, sig, oom);
    return 0;
}
