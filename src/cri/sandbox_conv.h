/* Shared protobuf <-> pod-domain translation for the sandbox handlers. */
#ifndef CRIC_CRI_SANDBOX_CONV_H
#define CRIC_CRI_SANDBOX_CONV_H

#include "cri/cri.h"
#include "pod/pod.h"

/* Fills a map field (repeated XxxEntry {key, value}) from parallel string
 * arrays, copying into the arena. */
#define CRI_FILL_MAP(a, T, init, keys, vals, n, field, n_field)                                    \
    do {                                                                                           \
        (field) = AR_ARRAY((a), T *, (n));                                                         \
        for (size_t i_ = 0; i_ < (n); i_++) {                                                      \
            T *e_ = AR_NEW((a), T);                                                                \
            init(e_);                                                                              \
            e_->key = ar_strdup((a), (keys)[i_]);                                                  \
            e_->value = ar_strdup((a), (vals)[i_]);                                                \
            (field)[i_] = e_;                                                                      \
        }                                                                                          \
        (n_field) = (n);                                                                           \
    } while (0)

Runtime__V1__PodSandboxMetadata *cri_pod_metadata(cri_arena *a, const pod_info *p);
Runtime__V1__PodSandbox *cri_pod_summary(cri_arena *a, const pod_info *p);
/* RunPodSandboxRequest (with a config) -> pod_config (borrowed strings). */
void cri_pod_config(cri_arena *a, const Runtime__V1__RunPodSandboxRequest *req, pod_config *pc);
/* LinuxContainerResources -> pod_resources (NULL stays NULL; borrowed strings). */
const pod_resources *cri_pod_resources(cri_arena *a, const Runtime__V1__LinuxContainerResources *r);
/* The PodSandboxStatus message (PodSandboxStatus, container events). */
Runtime__V1__PodSandboxStatus *cri_pod_status(cri_arena *a, const pod_info *p);
/* Translates a (possibly NULL) filter; borrowed strings. */
void cri_pod_filter(cri_arena *a, const Runtime__V1__PodSandboxFilter *in, pod_filter *out);
/* ListPodSandbox and StreamPodSandboxes share this: the filtered summaries. */
rpc_code cri_pod_list(cri_ctx *c, const Runtime__V1__PodSandboxFilter *filter,
                      Runtime__V1__PodSandbox ***items, size_t *n, rpc_status *st);

#endif
