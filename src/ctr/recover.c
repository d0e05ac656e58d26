/* Start-up recovery of one container loaded from the database: half-made
 * containers are removed; created/running ones are matched with their shim
 * (still alive: watch it; exited meanwhile: record the real exit; shim gone
 * without a record: exited with an error). */
#include <stdio.h>
#include <string.h>

#include "ctr/ctr_int.h"
#include "util/log.h"

/* A StartContainer cut by a crash may have ended before `runtime start` ran,
 * leaving the init process waiting to be released while the shim already says
 * running. Running the start again finishes it; when the first one did run,
 * the runtime refuses (the container is no longer "created"), which is fine. */
static void finish_start(ctr_rec *r)
{
    const char *args[] = {"start", r->id};
    cric_err e = {0};
    if (ctr_runtime_run(r, args, 2, &e) == 0)
        log_info("ctr", "container %s (%s): finished a start interrupted by a restart", r->id,
                 r->name);
    else
        log_debug("ctr", "container %s: start after a restart: %s", r->id, e.msg);
}

int ctr_recover_one(ctr_service *s, ctr_rec *r)
{
    cric_err err = {0};
    if (r->state == CTR_CREATING || r->removing) {
        log_info("ctr", "container %s (%s): %s by an earlier run; removing it", r->id, r->name,
                 r->removing ? "removal begun" : "half-made");
        if (ctr_destroy(s, r, &err) < 0)
            log_warn("ctr", "container %s: %s", r->id, err.msg);
        ctr_rec_unref_locked(r);
        return 0;
    }
    pthread_mutex_lock(&s->mu);
    int rc = ctr_table_add(s, r, &err);
    pthread_mutex_unlock(&s->mu);
    ctr_rec_unref_locked(r); /* the table holds it now (or nobody) */
    if (rc < 0) {
        log_error("ctr", "container %s: %s", r->id, err.msg);
        return -1;
    }
    if (r->state == CTR_EXITED)
        return 0;
    struct shim_exit ex;
    switch (shim_check(r->bundle, NULL)) {
    case SHIM_ALIVE: {
        struct shim_state ss;
        bool start_cut = false;
        if (shim_query_state(r->bundle, &ss, &err) == 0) {
            pthread_mutex_lock(&s->mu);
            r->pid = ss.init_pid;
            if (strcmp(ss.status, "running") == 0) {
                /* recorded CREATED, but the shim was told "starting": the
                 * daemon was killed during StartContainer */
                start_cut = r->state == CTR_CREATED;
                r->state = CTR_RUNNING;
            }
            if (ss.started_at)
                r->started_at = ss.started_at;
            pthread_mutex_unlock(&s->mu);
        }
        if (start_cut)
            finish_start(r);
        log_info("ctr", "container %s (%s): reconnected to its shim (%s)", r->id, r->name,
                 r->state == CTR_RUNNING ? "running" : "created");
        ctr_persist(s, r, &err);
        ctr_watch_add(s, r);
        break;
    }
    case SHIM_EXITED:
        if (shim_read_exit(r->bundle, &ex, &err) == 0) {
            ctr_set_exited(s, r, &ex, NULL);
            break;
        }
        /* fall through */
    case SHIM_LOST:
        if (shim_read_exit(r->bundle, &ex, &err) == 0)
            ctr_set_exited(s, r, &ex, NULL);
        else
            ctr_set_exited(s, r, NULL, "the container's monitor (cric-shim) was lost");
        break;
    }
    return 0;
}
