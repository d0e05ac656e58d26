/* The container side of stats and events: per-container stats and statuses
 * of one pod (stats_ctr.c). */
#ifndef CRIC_CRI_STATS_CTR_H
#define CRIC_CRI_STATS_CTR_H

#include "cri/cri.h"

/* The statuses of the pod's containers, for a container event. */
void cri_event_container_statuses(cric_daemon *d, cri_arena *a, const char *pod_id,
                                  Runtime__V1__ContainerStatus ***out, size_t *n);

#endif
