/* The container side of stats, metrics and events (stats_ctr.c). */
#ifndef CRIC_CRI_STATS_CTR_H
#define CRIC_CRI_STATS_CTR_H

#include "cri/cri.h"
#include "ctr/ctr.h"
#include "stats/stats.h"

/* The statuses of the pod's containers, for a container event. */
void cri_event_container_statuses(cric_daemon *d, cri_arena *a, const char *pod_id,
                                  Runtime__V1__ContainerStatus ***out, size_t *n);

/* What was measured about one container. */
typedef struct cri_ctr_sample {
    bool has_usage, has_fs;
    stats_usage usage;
    stats_fs_usage fs;
} cri_ctr_sample;

/* Reads the container's cgroup (created or running containers only) and its
 * writable layer (cached); failures leave parts unset. */
void cri_ctr_sample_read(cri_ctx *c, const ctr_info *ci, cri_ctr_sample *out);

/* ContainerStats for one container. */
Runtime__V1__ContainerStats *cri_ctr_stats(cri_ctx *c, const ctr_info *ci);

/* The stats of the containers a filter selects (NULL = all). */
rpc_code cri_ctr_stats_list(cri_ctx *c, const Runtime__V1__ContainerStatsFilter *f,
                            Runtime__V1__ContainerStats ***out, size_t *n, rpc_status *st);

/* The running containers of one pod, for PodSandboxStats. */
Runtime__V1__ContainerStats **cri_pod_container_stats(cri_ctx *c, const char *pod_id, size_t *n);

#endif
