/* Shared protobuf <-> container-domain translation for the container handlers. */
#ifndef CRIC_CRI_CONTAINER_CONV_H
#define CRIC_CRI_CONTAINER_CONV_H

#include "cri/cri.h"
#include "ctr/ctr.h"

/* Copies (into the arena) of one container's listing and status. */
Runtime__V1__Container *cri_ctr_summary(cri_arena *a, const ctr_info *c);
Runtime__V1__ContainerStatus *cri_ctr_status(cri_arena *a, const ctr_info *c);
/* The domain filter of a CRI one (label arrays in the arena, strings borrowed
 * from in). */
void cri_ctr_filter(cri_arena *a, const Runtime__V1__ContainerFilter *in, ctr_filter *f);
/* StreamContainers: the filtered summaries. */
rpc_code cri_ctr_list(cri_ctx *c, const Runtime__V1__ContainerFilter *filter,
                      Runtime__V1__Container ***items, size_t *n, rpc_status *st);

#endif
