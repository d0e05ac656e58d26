#include "pod/infra.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pod/proc_stat.h"
#include "pod/runproc.h"
#include "util/cleanup.h"
#include "util/fs.h"

int infra_find_binary(char **path, cric_err *err)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    char dir[PATH_MAX] = "";
    if (n > 0) {
        self[n] = '\0';
        snprintf(dir, sizeof(dir), "%s", dirname(self));
    }
    char cands[4][PATH_MAX + 64];
    snprintf(cands[0], sizeof(cands[0]), "%s/cric-pause", dir);
    snprintf(cands[1], sizeof(cands[1]), "%s/../pod/pause/cric-pause", dir);
    snprintf(cands[2], sizeof(cands[2]), "/usr/local/libexec/cric/cric-pause");
    snprintf(cands[3], sizeof(cands[3]), "/usr/libexec/cric/cric-pause");
    for (size_t i = 0; i < 4; i++) {
        char real[PATH_MAX];
        if ((i >= 2 || dir[0]) && realpath(cands[i], real) && access(real, X_OK) == 0) {
            *path = strdup(real);
            return *path ? 0 : cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
        }
    }
    return cric_err_set(err, CRIC_ERR_NOT_FOUND,
                        "cric-pause not found next to cric, in the build tree or in "
                        "/usr/local/libexec/cric, /usr/libexec/cric");
}

unsigned long long infra_start_time(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    _cleanup_free_ char *text = NULL;
    size_t len;
    if (pid <= 0 || fs_read_file(path, 4096, &text, &len, NULL) < 0)
        return 0;
    return proc_stat_start_time(text);
}

int infra_start(const char *binary, const char *record, const char *netns, const char *ipcns,
                const char *utsns, pid_t *pid, unsigned long long *start_time, cric_err *err)
{
    char *argv[10];
    size_t k = 0;
    argv[k++] = "cric-pause";
    argv[k++] = "--record";
    argv[k++] = (char *)record;
    if (netns && netns[0]) {
        argv[k++] = "--net";
        argv[k++] = (char *)netns;
    }
    if (ipcns && ipcns[0]) {
        argv[k++] = "--ipc";
        argv[k++] = (char *)ipcns;
    }
    if (utsns && utsns[0]) {
        argv[k++] = "--uts";
        argv[k++] = (char *)utsns;
    }
    argv[k] = NULL;
    char *envp[] = {NULL};
    spawn_result res;
    if (spawn_run(binary, argv, envp, NULL, 0, 10000, &res, err) < 0)
        return cric_err_prefix(err, "infra process: ");
    int rc = 0;
    long v = res.exit_code == 0 ? strtol(res.out, NULL, 10) : 0;
    int recorded = 0;
    if (v <= 0) {
        rc = cric_err_set(err, CRIC_ERR_INTERNAL, "infra process: %s exited %d: %.300s", binary,
                          res.exit_code, res.errout);
    } else if (infra_read_record(record, &recorded, start_time) < 0 || recorded != v) {
        rc = cric_err_set(err, CRIC_ERR_INTERNAL, "infra process %ld: record %s unreadable", v,
                          record);
    } else {
        *pid = (pid_t)v;
        if (infra_start_time(*pid) != *start_time)
            rc = cric_err_set(err, CRIC_ERR_INTERNAL, "infra process %ld died at once", v);
    }
    spawn_result_free(&res);
    return rc;
}

int infra_read_record(const char *path, int *pid, unsigned long long *start_time)
{
    _cleanup_free_ char *text = NULL;
    size_t len;
    if (fs_read_file(path, 256, &text, &len, NULL) < 0 ||
        sscanf(text, "%d %llu", pid, start_time) != 2 || *pid <= 0)
        return -1;
    return 0;
}

int infra_kill(pid_t pid, unsigned long long start_time, cric_err *err)
{
    if (pid <= 0)
        return 0;
    if (infra_start_time(pid) != start_time)
        return 0; /* gone, or the pid belongs to someone else now */
    if (kill(pid, SIGKILL) < 0 && errno != ESRCH)
        return cric_err_errno(err, errno, "infra process %d: kill", (int)pid);
    for (int i = 0; i < 200; i++) {
        if (infra_start_time(pid) != start_time)
            return 0;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return cric_err_set(err, CRIC_ERR_INTERNAL, "infra process %d: still alive after SIGKILL",
                        (int)pid);
}
