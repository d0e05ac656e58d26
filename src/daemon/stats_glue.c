/* Starts the stats service on the detected cgroup layout and the event bus,
 * and routes the pod service's lifecycle notifications to the bus. */
#include <stdio.h>
#include <string.h>

#include "ctr/ctr_observe.h"
#include "daemon/daemon.h"
#include "pod/cgroup.h"
#include "pod/pod.h"
#include "stats/events.h"
#include "stats/stats.h"
#include "util/log.h"

static void pod_event(void *ctx, int type, const char *pod_id)
{
    cric_daemon *d = ctx;
    /* containerd's convention: sandbox events carry the sandbox id as container_id. */
    events_publish(d->events, (event_type)type, pod_id, pod_id);
    if (type == EVENT_DELETED)
        stats_forget(d->stats, pod_id, NULL); /* its CPU rate sample */
}

int daemon_stats_start(cric_daemon *d, cric_err *err)
{
    cgroup_mounts m;
    cric_err cerr = {0};
    if (cgroup_mounts_detect(&m, &cerr) < 0) {
        log_warn("stats", "no cgroup statistics: %s", cerr.msg);
        memset(&m, 0, sizeof(m));
    }
    int rc = stats_service_new(&d->stats, m.v1, m.v1_ctrls, m.n_v1, m.v2, err);
    cgroup_mounts_free(&m);
    if (rc < 0)
        return -1;
    if (event_bus_new(&d->events, err) < 0)
        return -1;
    if (d->pods)
        pod_service_set_event_hook(d->pods, pod_event, d);
    return 0;
}

static void ctr_event(void *ctx, int type, const char *ctr_id, const char *pod_id)
{
    cric_daemon *d = ctx;
    events_publish(d->events, (event_type)type, ctr_id, pod_id);
    if (type == EVENT_DELETED) { /* its CPU rate sample and cached writable-layer usage */
        char upper[4200];
        snprintf(upper, sizeof(upper), "%s/containers/%s/upper", d->cfg.root, ctr_id);
        stats_forget(d->stats, ctr_id, upper);
    }
}

void daemon_stats_attach_ctrs(cric_daemon *d)
{
    if (d->ctrs)
        ctr_service_set_event_hook(d->ctrs, ctr_event, d);
}

void daemon_stats_stop(cric_daemon *d)
{
    event_bus_free(d->events);
    d->events = NULL;
    stats_service_free(d->stats);
    d->stats = NULL;
}
