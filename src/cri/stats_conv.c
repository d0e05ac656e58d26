#include "cri/stats_conv.h"

#include <string.h>

#include "cri/sandbox_conv.h"
#include "cri/stats_ctr.h"
#include "pod/cgroup.h"
#include "util/log.h"

#define DEFAULT_INTERFACE "eth0"

Runtime__V1__UInt64Value *cri_u64(cri_arena *a, uint64_t v)
{
    Runtime__V1__UInt64Value *o = AR_NEW(a, Runtime__V1__UInt64Value);
    runtime__v1__uint64_value__init(o);
    o->value = v;
    return o;
}

Runtime__V1__CpuUsage *cri_cpu_usage(cri_arena *a, const stats_usage *u)
{
    if (!u->cg.has_cpu)
        return NULL;
    Runtime__V1__CpuUsage *o = AR_NEW(a, Runtime__V1__CpuUsage);
    runtime__v1__cpu_usage__init(o);
    o->timestamp = u->cg.timestamp_ns;
    o->usage_core_nano_seconds = cri_u64(a, u->cg.cpu_usage_ns);
    if (u->has_rate)
        o->usage_nano_cores = cri_u64(a, u->nano_cores);
    return o;
}

Runtime__V1__MemoryUsage *cri_memory_usage(cri_arena *a, const stats_usage *u)
{
    const stats_cg_sample *s = &u->cg;
    if (!s->has_memory)
        return NULL;
    Runtime__V1__MemoryUsage *o = AR_NEW(a, Runtime__V1__MemoryUsage);
    runtime__v1__memory_usage__init(o);
    o->timestamp = s->timestamp_ns;
    o->working_set_bytes = cri_u64(a, s->mem_working_set);
    if (s->mem_limit != STATS_NO_LIMIT)
        o->available_bytes =
            cri_u64(a, s->mem_limit > s->mem_working_set ? s->mem_limit - s->mem_working_set : 0);
    o->usage_bytes = cri_u64(a, s->mem_usage);
    o->rss_bytes = cri_u64(a, s->mem_rss);
    o->page_faults = cri_u64(a, s->page_faults);
    o->major_page_faults = cri_u64(a, s->major_page_faults);
    return o;
}

Runtime__V1__SwapUsage *cri_swap_usage(cri_arena *a, const stats_usage *u)
{
    const stats_cg_sample *s = &u->cg;
    if (!s->has_swap)
        return NULL;
    Runtime__V1__SwapUsage *o = AR_NEW(a, Runtime__V1__SwapUsage);
    runtime__v1__swap_usage__init(o);
    o->timestamp = s->timestamp_ns;
    o->swap_usage_bytes = cri_u64(a, s->swap_usage);
    if (s->swap_limit != STATS_NO_LIMIT)
        o->swap_available_bytes =
            cri_u64(a, s->swap_limit > s->swap_usage ? s->swap_limit - s->swap_usage : 0);
    return o;
}

static Runtime__V1__NetworkInterfaceUsage *iface(cri_arena *a, const stats_netdev *d)
{
    Runtime__V1__NetworkInterfaceUsage *o = AR_NEW(a, Runtime__V1__NetworkInterfaceUsage);
    runtime__v1__network_interface_usage__init(o);
    o->name = ar_strdup(a, d->name);
    o->rx_bytes = cri_u64(a, d->rx_bytes);
    o->rx_errors = cri_u64(a, d->rx_errors);
    o->tx_bytes = cri_u64(a, d->tx_bytes);
    o->tx_errors = cri_u64(a, d->tx_errors);
    return o;
}

Runtime__V1__NetworkUsage *cri_network_usage(cri_arena *a, const stats_net *n)
{
    Runtime__V1__NetworkUsage *o = AR_NEW(a, Runtime__V1__NetworkUsage);
    runtime__v1__network_usage__init(o);
    o->timestamp = n->timestamp_ns;
    const stats_netdev *def = stats_netdev_default(n->ifs, n->n_ifs, DEFAULT_INTERFACE);
    if (def)
        o->default_interface = iface(a, def);
    o->interfaces = AR_ARRAY(a, Runtime__V1__NetworkInterfaceUsage *, n->n_ifs);
    for (size_t i = 0; i < n->n_ifs; i++)
        if (&n->ifs[i] != def)
            o->interfaces[o->n_interfaces++] = iface(a, &n->ifs[i]);
    return o;
}

void cri_pod_sample_read(cri_ctx *c, const pod_info *p, cri_pod_sample *out)
{
    memset(out, 0, sizeof(*out));
    cric_err err = {0};
    char rel[4096];
    if (p->cgroup_parent[0]) {
        if (cgroup_parent_relpath(p->cgroup_parent, rel, sizeof(rel), &err) == 0 &&
            stats_read_cgroup(c->d->stats, p->id, rel, &out->usage, &err) == 0)
            out->has_usage = true;
        else
            log_debug("stats", "sandbox %.12s: cgroup: %s", p->id, err.msg);
    }
    if (p->ready && p->netns_path[0]) {
        if (stats_read_netns(p->netns_path, &out->net, &err) == 0)
            out->has_net = true;
        else
            log_debug("stats", "sandbox %.12s: network: %s", p->id, err.msg);
    }
}

Runtime__V1__PodSandboxStats *cri_pod_stats(cri_ctx *c, const pod_info *p)
{
    cri_arena *a = c->arena;
    cri_pod_sample smp;
    cri_pod_sample_read(c, p, &smp);
    Runtime__V1__PodSandboxStats *o = AR_NEW(a, Runtime__V1__PodSandboxStats);
    runtime__v1__pod_sandbox_stats__init(o);
    Runtime__V1__PodSandboxAttributes *at = AR_NEW(a, Runtime__V1__PodSandboxAttributes);
    runtime__v1__pod_sandbox_attributes__init(at);
    at->id = ar_strdup(a, p->id);
    at->metadata = cri_pod_metadata(a, p);
    CRI_FILL_MAP(a, Runtime__V1__PodSandboxAttributes__LabelsEntry,
                 runtime__v1__pod_sandbox_attributes__labels_entry__init, p->label_keys,
                 p->label_values, p->n_labels, at->labels, at->n_labels);
    CRI_FILL_MAP(a, Runtime__V1__PodSandboxAttributes__AnnotationsEntry,
                 runtime__v1__pod_sandbox_attributes__annotations_entry__init, p->annotation_keys,
                 p->annotation_values, p->n_annotations, at->annotations, at->n_annotations);
    o->attributes = at;
    Runtime__V1__LinuxPodSandboxStats *lx = AR_NEW(a, Runtime__V1__LinuxPodSandboxStats);
    runtime__v1__linux_pod_sandbox_stats__init(lx);
    if (smp.has_usage) {
        lx->cpu = cri_cpu_usage(a, &smp.usage);
        lx->memory = cri_memory_usage(a, &smp.usage);
        if (smp.usage.cg.has_pids) {
            lx->process = AR_NEW(a, Runtime__V1__ProcessUsage);
            runtime__v1__process_usage__init(lx->process);
            lx->process->timestamp = smp.usage.cg.timestamp_ns;
            lx->process->process_count = cri_u64(a, smp.usage.cg.pids);
        }
    }
    if (smp.has_net)
        lx->network = cri_network_usage(a, &smp.net);
    lx->containers = cri_pod_container_stats(c, p->id, &lx->n_containers);
    o->linux = lx;
    return o;
}

int cri_pod_stats_list(cri_ctx *c, const Runtime__V1__PodSandboxStatsFilter *f,
                       Runtime__V1__PodSandboxStats ***out, size_t *n, rpc_status *st)
{
    pod_filter pf = {0};
    if (f) {
        pf.id = f->id;
        pf.labels = AR_ARRAY(c->arena, pod_kv, f->n_label_selector);
        for (size_t i = 0; i < f->n_label_selector; i++) {
            pf.labels[i].key = f->label_selector[i]->key ? f->label_selector[i]->key : "";
            pf.labels[i].value = f->label_selector[i]->value ? f->label_selector[i]->value : "";
        }
        pf.n_labels = f->n_label_selector;
    }
    pod_info **list = NULL;
    size_t np = 0;
    cric_err err = {0};
    if (pod_list(c->d->pods, &pf, &list, &np, &err) < 0)
        return cri_status_from_err(&err, st);
    *out = AR_ARRAY(c->arena, Runtime__V1__PodSandboxStats *, np);
    *n = 0;
    for (size_t i = 0; i < np; i++)
        if (list[i]->ready) /* the kubelet asks for running pods' stats */
            (*out)[(*n)++] = cri_pod_stats(c, list[i]);
    pod_info_list_free(list, np);
    return RPC_OK;
}
