/* What the stats, events and resource-update RPCs need from the container
 * service (observe.c): lifecycle notifications, where a container's
 * statistics live, and live resource updates through the OCI runtime. */
#ifndef CRIC_CTR_CTR_OBSERVE_H
#define CRIC_CTR_CTR_OBSERVE_H

#include "ctr/ctr.h"

/* Lifecycle notifications for GetContainerEvents: type is the CRI
 * ContainerEventType (0 created, 1 started, 2 stopped, 3 deleted). Called
 * after the step, with no table lock held (STOPPED also from the exit
 * watcher, as soon as it sees the shim's exit). */
typedef void (*ctr_event_hook)(void *ctx, int type, const char *ctr_id, const char *pod_id);
void ctr_service_set_event_hook(ctr_service *s, ctr_event_hook fn, void *ctx);

/* Where one container's statistics are read. */
typedef struct ctr_stats_target {
    char cgroup[4096];    /* cgroup path relative to the hierarchy roots */
    char upper_dir[4096]; /* writable layer (overlay upper directory) */
} ctr_stats_target;
int ctr_stats_target_get(ctr_service *s, const ctr_info *c, ctr_stats_target *out, cric_err *err);

/* UpdateContainerResources: validates (INVALID), applies to a created or
 * running container through `<runtime> update --resources`, and records the
 * new values so ContainerStatus.resources shows them (also after a restart).
 * An exited container only has them recorded. */
int ctr_update_resources(ctr_service *s, const char *id,
                         const Runtime__V1__LinuxContainerResources *res, cric_err *err);

#endif
