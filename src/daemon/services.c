/* Start-up and shut-down order of the domain services. Each service gets the
 * config, the database and its own directories; the handlers reach them
 * through the daemon context. */
#include <stdio.h>

#include "daemon/daemon.h"
#include "ctr/ctr.h"
#include "image/image.h"
#include "pod/pod.h"
#include "util/log.h"

int daemon_services_start(cric_daemon *d, cric_err *err)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/cric.db", d->cfg.root);
    if (db_open(&d->db, path, err) < 0)
        return -1;
    /* Domain services start here, in dependency order: images, pods, containers. */
    if (image_service_new(&d->images, &d->cfg, &d->db, err) < 0) {
        daemon_services_stop(d);
        return -1;
    }
    if (pod_service_new(&d->pods, &d->cfg, &d->db, err) < 0) {
        daemon_services_stop(d);
        return -1;
    }
    if (daemon_stats_start(d, err) < 0) {
        daemon_services_stop(d);
        return -1;
    }
    if (ctr_service_new(&d->ctrs, &d->cfg, &d->db, d->images, d->pods, err) < 0) {
        daemon_services_stop(d);
        return -1;
    }
    daemon_stats_attach_ctrs(d);
    return 0;
}

void daemon_services_stop(cric_daemon *d)
{
    /* Domain services stop here, in reverse order. */
    ctr_service_free(d->ctrs);
    d->ctrs = NULL;
    pod_service_free(d->pods);
    d->pods = NULL;
    image_service_free(d->images);
    d->images = NULL;
    daemon_stats_stop(d); /* the bus outlives every producer */
    db_close(&d->db);
}
