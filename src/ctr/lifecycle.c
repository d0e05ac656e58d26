/* StartContainer, StopContainer, RemoveContainer, ReopenContainerLog and the
 * teardown they share. Each runs under the container's operation lock. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "ctr/ctr_int.h"
#include "image/image.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

#define KILL_WAIT_MS 30000

static int get_state(ctr_service *s, ctr_rec *r)
{
    pthread_mutex_lock(&s->mu);
    int st = r->state;
    pthread_mutex_unlock(&s->mu);
    return st;
}

static const char *state_name(int st)
{
    switch (st) {
    case CTR_CREATED:
        return "created";
    case CTR_RUNNING:
        return "running";
    case CTR_EXITED:
        return "exited";
    default:
        return "unknown";
    }
}

int ctr_start(ctr_service *s, const char *id, cric_err *err)
{
    ctr_rec *r = NULL;
    if (ctr_get(s, id, &r, err) < 0)
        return -1;
    pthread_mutex_lock(&r->op_mu);
    int rc = 0;
    int st = get_state(s, r);
    if (r->removed) {
        rc = cric_err_set(err, CRIC_ERR_NOT_FOUND, "container %s not found", r->id);
    } else if (st != CTR_CREATED) {
        rc = cric_err_set(err, CRIC_ERR_PRECONDITION,
                          "container %s is %s: only a created container can be started", r->id,
                          state_name(st));
    } else if (shim_mark_starting(r->bundle, err) < 0) {
        rc = -1;
    } else {
        const char *args[] = {"start", r->id};
        rc = ctr_runtime_run(r, args, 2, err);
        if (rc < 0) {
            /* the runtime refused: the container will not run; make it exited */
            cric_err e = {0};
            const char *kargs[] = {"kill", r->id, "9"};
            ctr_runtime_run(r, kargs, 3, &e);
            struct shim_exit ex;
            if (shim_wait_exit(r->bundle, 5000, &ex, &e) == 0) {
                ex.exit_code = ex.exit_code ? ex.exit_code : 128;
                ctr_set_exited(s, r, &ex, err->msg);
            } else {
                ctr_set_exited(s, r, NULL, err->msg);
            }
        } else {
            struct shim_state ss;
            cric_err e = {0};
            int64_t started = shim_query_state(r->bundle, &ss, &e) == 0 && ss.started_at
                                  ? ss.started_at
                                  : ctr_now_ns();
            pthread_mutex_lock(&s->mu);
            if (r->state == CTR_CREATED)
                r->state = CTR_RUNNING;
            if (!r->started_at)
                r->started_at = started;
            pthread_mutex_unlock(&s->mu);
            if (ctr_persist(s, r, &e) < 0)
                log_warn("ctr", "%s", e.msg);
            log_info("ctr", "container %s started", r->id);
            ctr_event(s, 1, r); /* CONTAINER_STARTED_EVENT */
        }
    }
    pthread_mutex_unlock(&r->op_mu);
    ctr_rec_unref(s, r);
    return rc;
}

static int runtime_kill(ctr_rec *r, int sig, cric_err *err)
{
    char num[16];
    snprintf(num, sizeof(num), "%d", sig);
    const char *args[] = {"kill", r->id, num};
    return ctr_runtime_run(r, args, 3, err);
}

/* Signals the container (stop signal, SIGKILL after timeout_s) and waits for
 * its exit, which is then recorded. Op lock held. */
int ctr_kill_wait(ctr_service *s, ctr_rec *r, int64_t timeout_s, cric_err *err)
{
    struct shim_exit ex;
    cric_err e = {0};
    int st = get_state(s, r);
    bool graceful = timeout_s > 0 && st == CTR_RUNNING;
    int sig = graceful ? (r->stop_signal > 0 ? r->stop_signal : SIGTERM) : SIGKILL;
    if (shim_check(r->bundle, NULL) == SHIM_ALIVE) {
        if (runtime_kill(r, sig, &e) < 0)
            log_debug("ctr", "%s", e.msg); /* it may have exited meanwhile */
        int wait_ms =
            graceful ? (int)(timeout_s > 86400 ? 86400000 : timeout_s * 1000) : KILL_WAIT_MS;
        int rc = shim_wait_exit(r->bundle, wait_ms, &ex, &e);
        if (rc < 0 && e.kind == CRIC_ERR_TIMEOUT && graceful) {
            log_info("ctr", "container %s: still running %llds after signal %d: SIGKILL", r->id,
                     (long long)timeout_s, sig);
            if (runtime_kill(r, SIGKILL, &e) < 0)
                log_debug("ctr", "%s", e.msg);
            rc = shim_wait_exit(r->bundle, KILL_WAIT_MS, &ex, &e);
        }
        if (rc < 0 && e.kind == CRIC_ERR_TIMEOUT) {
            return cric_err_set(err, CRIC_ERR_TIMEOUT,
                                "container %s: did not exit within %ds of SIGKILL", r->id,
                                KILL_WAIT_MS / 1000);
        }
        if (rc == 0) {
            ctr_set_exited(s, r, &ex, NULL);
            return 0;
        }
    }
    if (shim_read_exit(r->bundle, &ex, &e) == 0)
        ctr_set_exited(s, r, &ex, NULL);
    else
        ctr_set_exited(s, r, NULL, "the container's monitor (cric-shim) is gone");
    return 0;
}

int ctr_stop(ctr_service *s, const char *id, int64_t timeout_s, cric_err *err)
{
    ctr_rec *r = NULL;
    cric_err e = {0};
    if (ctr_get(s, id, &r, &e) < 0) {
        if (e.kind == CRIC_ERR_NOT_FOUND)
            return 0;
        if (err)
            *err = e;
        return -1;
    }
    int rc = ctr_stop_rec(s, r, timeout_s, err);
    ctr_rec_unref(s, r);
    return rc;
}

int ctr_stop_rec(ctr_service *s, ctr_rec *r, int64_t timeout_s, cric_err *err)
{
    pthread_mutex_lock(&r->op_mu); /* also waits for a create in progress */
    int rc = 0;
    int st = get_state(s, r);
    if (!r->removed && (st == CTR_CREATED || st == CTR_RUNNING))
        rc = ctr_kill_wait(s, r, timeout_s, err);
    pthread_mutex_unlock(&r->op_mu);
    return rc;
}

/* The runtime's delete --force. A container it does not know is gone
 * already; any other failure (a cgroup still busy with processes that are
 * being killed) is retried for about a second and then reported: the
 * container stays listed, so that a later RemoveContainer finishes the job
 * instead of leaving the runtime's state and cgroup behind. */
static int runtime_delete(ctr_rec *r, cric_err *err)
{
    for (unsigned attempt = 0;; attempt++) {
        const char *args[] = {"delete", "--force", r->id};
        cric_err e = {0};
        if (ctr_runtime_run(r, args, 3, &e) == 0 || strstr(e.msg, "not exist") ||
            strstr(e.msg, "not found") || strstr(e.msg, "No such"))
            return 0;
        if (attempt == 4) {
            *err = e;
            return -1;
        }
        log_debug("ctr", "%s (retrying)", e.msg);
        struct timespec ts = {0, (long)(60u << attempt) * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* The container's cgroupsPath from its config.json; NULL when there is none
 * or it is not a clean absolute path. Caller frees. */
static char *spec_cgroups_path(const ctr_rec *r)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/config.json", r->bundle);
    json_error_t jerr;
    json_t *spec = json_load_file(path, 0, &jerr);
    const char *cg =
        json_string_value(json_object_get(json_object_get(spec, "linux"), "cgroupsPath"));
    char *out = cg && cg[0] == '/' && strlen(cg) < 3000 && !strstr(cg, "/..") &&
                        !strstr(cg, "/./") && strcmp(cg, "/") != 0
                    ? strdup(cg)
                    : NULL;
    json_decref(spec);
    return out;
}

/* Kills what is left in one cgroup directory and removes it; false when it
 * stays (still busy after about a second). */
static bool cgroup_dir_gone(const char *dir)
{
    for (int attempt = 0; attempt < 50; attempt++) {
        if (rmdir(dir) == 0 || errno == ENOENT)
            return true;
        if (errno != EBUSY)
            return false;
        char procs[3200];
        snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
        FILE *f = fopen(procs, "re");
        int pid;
        while (f && fscanf(f, "%d", &pid) == 1)
            if (pid > 0)
                kill(pid, SIGKILL);
        if (f)
            fclose(f);
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

/* A create cut short (its shim or the daemon killed while the runtime ran)
 * can leave the container's cgroup made but unknown to the runtime, so
 * `runtime delete` says the container does not exist and leaves it: the
 * pod's cgroup parent then cannot be removed either. After the delete, the
 * container's own cgroup directories must be gone in every hierarchy. */
static void remove_cgroup_leftovers(ctr_service *s, const ctr_rec *r)
{
    _cleanup_free_ char *cg = spec_cgroups_path(r);
    _cleanup_strv_ char **dirs = NULL;
    size_t n = 0;
    if (!cg || cgroup_dirs(&s->cg, cg + 1, &dirs, &n, NULL) < 0)
        return;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(dirs[i], &st) < 0)
            continue;
        if (cgroup_dir_gone(dirs[i]))
            log_info("ctr", "container %s: removed the cgroup %s the runtime did not know", r->id,
                     dirs[i]);
        else
            log_warn("ctr", "container %s: cgroup %s: cannot remove: %s", r->id, dirs[i],
                     strerror(errno));
    }
}

int ctr_destroy(ctr_service *s, ctr_rec *r, cric_err *err)
{
    cric_err e = {0};
    int rc = 0;
    /* A published container is marked first: a daemon killed half way
     * through leaves a row that the next start finishes removing, never a
     * listed container whose bundle or writable layer is half gone. (A row
     * still "creating" is removed at start-up anyway.) */
    pthread_mutex_lock(&s->mu);
    bool mark = r->state != CTR_CREATING && !r->removing;
    if (mark)
        r->removing = true;
    pthread_mutex_unlock(&s->mu);
    if (mark && ctr_persist(s, r, &e) < 0) {
        pthread_mutex_lock(&s->mu);
        r->removing = false;
        pthread_mutex_unlock(&s->mu);
        if (err)
            *err = e;
        return cric_err_prefix(err, "container %s: remove: ", r->id);
    }
    /* the runtime's state (also for a container whose create half failed) */
    if (r->runtime && r->bundle) {
        /* A create being undone (failed, or cut by a crash and found at
         * start-up): its shim may still be running the runtime's create and
         * would otherwise go on to serve a container nobody lists. */
        if (r->state == CTR_CREATING)
            shim_kill_group(r->bundle);
        if (runtime_delete(r, &e) < 0) {
            if (err)
                *err = e;
            return cric_err_prefix(err, "container %s: remove: ", r->id);
        }
        struct shim_exit ex;
        if (shim_check(r->bundle, NULL) == SHIM_ALIVE)
            shim_wait_exit(r->bundle, 5000, &ex, &e);
        /* Removed means no process of the container's is left, its monitor
         * included. One that hangs in its last flush is not waited for. */
        if (!shim_wait_gone(r->bundle, 5000))
            log_warn("ctr", "container %s: its monitor did not exit after the container; killed",
                     r->id);
        remove_cgroup_leftovers(s, r);
    }
    if (r->rootfs && ctr_rootfs_unmount(r, &e) < 0) {
        rc = -1;
        if (err)
            *err = e;
    }
    if (rc == 0 && r->bundle && fs_rm_rf(r->bundle, &e) < 0) {
        rc = -1;
        if (err)
            *err = e;
    }
    if (rc == 0 && r->wdir && fs_rm_rf(r->wdir, &e) < 0) {
        rc = -1;
        if (err)
            *err = e;
    }
    if (rc < 0)
        return cric_err_prefix(err, "container %s: remove: ", r->id);
    if (image_release(s->images, r->id, &e) < 0)
        log_warn("ctr", "container %s: release image: %s", r->id, e.msg);
    /* removed first: a late write of the record (the exit watcher) is then
     * skipped and cannot bring the row back after the delete */
    pthread_mutex_lock(&s->mu);
    bool was_removed = r->removed;
    r->removed = true;
    pthread_mutex_unlock(&s->mu);
    if (ctr_unpersist(s, r, &e) < 0) {
        pthread_mutex_lock(&s->mu);
        r->removed = was_removed;
        pthread_mutex_unlock(&s->mu);
        if (err)
            *err = e;
        return -1;
    }
    pthread_mutex_lock(&s->mu);
    ctr_table_del(s, r); /* no-op when it is not in the table */
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int ctr_remove(ctr_service *s, const char *id, cric_err *err)
{
    ctr_rec *r = NULL;
    cric_err e = {0};
    if (ctr_get(s, id, &r, &e) < 0) {
        if (e.kind == CRIC_ERR_NOT_FOUND)
            return 0;
        if (err)
            *err = e;
        return -1;
    }
    int rc = ctr_remove_rec(s, r, err);
    ctr_rec_unref(s, r);
    return rc;
}

int ctr_remove_rec(ctr_service *s, ctr_rec *r, cric_err *err)
{
    pthread_mutex_lock(&r->op_mu); /* also waits for a create in progress */
    int rc = 0;
    if (!r->removed) {
        int st = get_state(s, r);
        if (st == CTR_CREATED || st == CTR_RUNNING)
            rc = ctr_kill_wait(s, r, 0, err);
        if (rc == 0)
            rc = ctr_destroy(s, r, err);
        if (rc == 0) {
            log_info("ctr", "container %s removed", r->id);
            ctr_event(s, 3, r); /* CONTAINER_DELETED_EVENT */
        }
    }
    pthread_mutex_unlock(&r->op_mu);
    return rc;
}

int ctr_reopen_log(ctr_service *s, const char *id, cric_err *err)
{
    ctr_rec *r = NULL;
    if (ctr_get(s, id, &r, err) < 0)
        return -1;
    int rc = 0;
    int st = get_state(s, r);
    if (st != CTR_RUNNING)
        rc = cric_err_set(err, CRIC_ERR_PRECONDITION,
                          "container %s is %s: its log can only be reopened while it runs", r->id,
                          state_name(st));
    else if (shim_reopen_log(r->bundle, err) < 0)
        rc = cric_err_prefix(err, "container %s: reopen log: ", r->id);
    ctr_rec_unref(s, r);
    return rc;
}
