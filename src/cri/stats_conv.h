/* Domain statistics (src/stats) -> CRI stats messages, shared by the stats,
 * metrics and stream handlers. */
#ifndef CRIC_CRI_STATS_CONV_H
#define CRIC_CRI_STATS_CONV_H

#include "cri/cri.h"
#include "pod/pod.h"
#include "stats/stats.h"

Runtime__V1__UInt64Value *cri_u64(cri_arena *a, uint64_t v);
Runtime__V1__CpuUsage *cri_cpu_usage(cri_arena *a, const stats_usage *u);       /* NULL: none */
Runtime__V1__MemoryUsage *cri_memory_usage(cri_arena *a, const stats_usage *u); /* NULL: none */
Runtime__V1__SwapUsage *cri_swap_usage(cri_arena *a, const stats_usage *u);     /* NULL: none */
Runtime__V1__NetworkUsage *cri_network_usage(cri_arena *a, const stats_net *n);

/* Everything measured about one sandbox (pod cgroup, network namespace). */
typedef struct cri_pod_sample {
    bool has_usage, has_net;
    stats_usage usage;
    stats_net net;
} cri_pod_sample;

/* Reads the pod's cgroup (when it has a cgroup parent) and its network
 * namespace (unless it uses the host's); failures leave parts unset. */
void cri_pod_sample_read(cri_ctx *c, const pod_info *p, cri_pod_sample *out);

/* PodSandboxStats for one sandbox. */
Runtime__V1__PodSandboxStats *cri_pod_stats(cri_ctx *c, const pod_info *p);

/* The sandboxes a PodSandboxStatsFilter selects (NULL = all). */
int cri_pod_stats_list(cri_ctx *c, const Runtime__V1__PodSandboxStatsFilter *f,
                       Runtime__V1__PodSandboxStats ***out, size_t *n, rpc_status *st);

#endif
