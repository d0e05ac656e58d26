/* ListMetricDescriptors, ListPodSandboxMetrics and StreamPodSandboxMetrics:
 * cAdvisor-named metric families (what the kubelet's CRI metrics source
 * expects), label keys first, then one sample per label set. */
#include <string.h>

#include "cri/stats_conv.h"
#include "cri/stats_ctr.h"

enum { L_BASE, L_IFACE, L_DEVICE };

static const struct family {
    const char *name, *help;
    int labels;
    Runtime__V1__MetricType type;
} families[] = {
    {"container_cpu_usage_seconds_total", "Cumulative CPU time consumed in seconds.", L_BASE,
     RUNTIME__V1__METRIC_TYPE__COUNTER},
    {"container_memory_working_set_bytes", "Current working set in bytes.", L_BASE,
     RUNTIME__V1__METRIC_TYPE__GAUGE},
    {"container_memory_usage_bytes", "Current memory usage in bytes, including all memory.", L_BASE,
     RUNTIME__V1__METRIC_TYPE__GAUGE},
    {"container_memory_rss", "Size of RSS in bytes.", L_BASE, RUNTIME__V1__METRIC_TYPE__GAUGE},
    {"container_memory_swap", "Container swap usage in bytes.", L_BASE,
     RUNTIME__V1__METRIC_TYPE__GAUGE},
    {"container_spec_memory_limit_bytes", "Memory limit for the container.", L_BASE,
     RUNTIME__V1__METRIC_TYPE__GAUGE},
    {"container_processes", "Number of processes running inside the container.", L_BASE,
     RUNTIME__V1__METRIC_TYPE__GAUGE},
    {"container_network_receive_bytes_total", "Cumulative count of bytes received.", L_IFACE,
     RUNTIME__V1__METRIC_TYPE__COUNTER},
    {"container_network_receive_errors_total",
     "Cumulative count of errors encountered while receiving.", L_IFACE,
     RUNTIME__V1__METRIC_TYPE__COUNTER},
    {"container_network_transmit_bytes_total", "Cumulative count of bytes transmitted.", L_IFACE,
     RUNTIME__V1__METRIC_TYPE__COUNTER},
    {"container_network_transmit_errors_total",
     "Cumulative count of errors encountered while transmitting.", L_IFACE,
     RUNTIME__V1__METRIC_TYPE__COUNTER},
    {"container_fs_usage_bytes",
     "Number of bytes that are consumed by the container on this "
     "filesystem.",
     L_DEVICE, RUNTIME__V1__METRIC_TYPE__GAUGE},
    {"container_fs_inodes_total", "Number of inodes used by the container on this filesystem.",
     L_DEVICE, RUNTIME__V1__METRIC_TYPE__GAUGE},
};
#define N_FAMILIES (sizeof(families) / sizeof(families[0]))

static char *base_keys[] = {"id", "name", "image"};
static char *iface_keys[] = {"id", "name", "image", "interface"};
static char *device_keys[] = {"id", "name", "image", "device"};

static rpc_code impl_list_metric_descriptors(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    Runtime__V1__ListMetricDescriptorsResponse *resp = rs;
    cri_arena *a = c->arena;
    resp->descriptors = AR_ARRAY(a, Runtime__V1__MetricDescriptor *, N_FAMILIES);
    for (size_t i = 0; i < N_FAMILIES; i++) {
        Runtime__V1__MetricDescriptor *m = AR_NEW(a, Runtime__V1__MetricDescriptor);
        runtime__v1__metric_descriptor__init(m);
        m->name = (char *)families[i].name;
        m->help = (char *)families[i].help;
        m->label_keys = families[i].labels == L_IFACE    ? iface_keys
                        : families[i].labels == L_DEVICE ? device_keys
                                                         : base_keys;
        m->n_label_keys = families[i].labels == L_BASE ? 3 : 4;
        resp->descriptors[i] = m;
    }
    resp->n_descriptors = N_FAMILIES;
    return RPC_OK;
}

CRI_UNARY_HANDLER(list_metric_descriptors, runtime__v1__list_metric_descriptors_request,
                  runtime__v1__list_metric_descriptors_response)

/* A growing list of samples. */
typedef struct metric_list {
    Runtime__V1__Metric **v;
    size_t n, cap;
} metric_list;

static void add(cri_arena *a, metric_list *l, const char *name, Runtime__V1__MetricType type,
                const char *id, const char *cname, const char *image, const char *extra,
                uint64_t value)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        Runtime__V1__Metric **v = AR_ARRAY(a, Runtime__V1__Metric *, cap);
        if (l->n)
            memcpy(v, l->v, l->n * sizeof(*v));
        l->v = v;
        l->cap = cap;
    }
    Runtime__V1__Metric *m = AR_NEW(a, Runtime__V1__Metric);
    runtime__v1__metric__init(m);
    m->name = (char *)name;
    m->metric_type = type;
    m->n_label_values = extra ? 4 : 3;
    m->label_values = AR_ARRAY(a, char *, 4);
    m->label_values[0] = ar_strdup(a, id);
    m->label_values[1] = ar_strdup(a, cname);
    m->label_values[2] = ar_strdup(a, image);
    if (extra)
        m->label_values[3] = ar_strdup(a, extra);
    m->value = cri_u64(a, value);
    l->v[l->n++] = m;
}

#define G RUNTIME__V1__METRIC_TYPE__GAUGE
#define C RUNTIME__V1__METRIC_TYPE__COUNTER

static void usage_metrics(cri_arena *a, metric_list *l, const char *id, const char *name,
                          const char *image, const stats_usage *u)
{
    const stats_cg_sample *s = &u->cg;
    if (s->has_cpu)
        add(a, l, "container_cpu_usage_seconds_total", C, id, name, image, NULL,
            s->cpu_usage_ns / 1000000000ull);
    if (s->has_memory) {
        add(a, l, "container_memory_working_set_bytes", G, id, name, image, NULL,
            s->mem_working_set);
        add(a, l, "container_memory_usage_bytes", G, id, name, image, NULL, s->mem_usage);
        add(a, l, "container_memory_rss", G, id, name, image, NULL, s->mem_rss);
        if (s->mem_limit != STATS_NO_LIMIT)
            add(a, l, "container_spec_memory_limit_bytes", G, id, name, image, NULL, s->mem_limit);
    }
    if (s->has_swap)
        add(a, l, "container_memory_swap", G, id, name, image, NULL, s->swap_usage);
    if (s->has_pids)
        add(a, l, "container_processes", G, id, name, image, NULL, s->pids);
}

static void net_metrics(cri_arena *a, metric_list *l, const char *id, const stats_net *n)
{
    for (size_t i = 0; i < n->n_ifs; i++) {
        const stats_netdev *d = &n->ifs[i];
        add(a, l, "container_network_receive_bytes_total", C, id, "", "", d->name, d->rx_bytes);
        add(a, l, "container_network_receive_errors_total", C, id, "", "", d->name, d->rx_errors);
        add(a, l, "container_network_transmit_bytes_total", C, id, "", "", d->name, d->tx_bytes);
        add(a, l, "container_network_transmit_errors_total", C, id, "", "", d->name, d->tx_errors);
    }
}

static Runtime__V1__PodSandboxMetrics *pod_metrics(cri_ctx *c, const pod_info *p)
{
    cri_arena *a = c->arena;
    cri_pod_sample smp;
    cri_pod_sample_read(c, p, &smp);
    metric_list l = {0};
    if (smp.has_usage)
        usage_metrics(a, &l, p->id, "", "", &smp.usage);
    if (smp.has_net)
        net_metrics(a, &l, p->id, &smp.net);
    Runtime__V1__PodSandboxMetrics *m = AR_NEW(a, Runtime__V1__PodSandboxMetrics);
    runtime__v1__pod_sandbox_metrics__init(m);
    m->pod_sandbox_id = ar_strdup(a, p->id);
    m->metrics = l.v;
    m->n_metrics = l.n;

    ctr_filter f = {.pod_id = p->id, .has_state = true, .state = CTR_RUNNING};
    ctr_info *v = NULL;
    size_t nv = 0;
    cric_err err = {0};
    if (c->d->ctrs && ctr_list(c->d->ctrs, &f, &v, &nv, &err) == 0) {
        m->container_metrics = AR_ARRAY(a, Runtime__V1__ContainerMetrics *, nv);
        for (size_t i = 0; i < nv; i++) {
            if (strcmp(v[i].pod_id, p->id) != 0)
                continue;
            cri_ctr_sample cs;
            cri_ctr_sample_read(c, &v[i], &cs);
            metric_list cl = {0};
            const char *name = v[i].name ? v[i].name : "";
            const char *image = v[i].image ? v[i].image : "";
            if (cs.has_usage)
                usage_metrics(a, &cl, v[i].id, name, image, &cs.usage);
            if (cs.has_fs) {
                add(a, &cl, "container_fs_usage_bytes", G, v[i].id, name, image, c->d->cfg.root,
                    cs.fs.used_bytes);
                add(a, &cl, "container_fs_inodes_total", G, v[i].id, name, image, c->d->cfg.root,
                    cs.fs.inodes_used);
            }
            Runtime__V1__ContainerMetrics *cm = AR_NEW(a, Runtime__V1__ContainerMetrics);
            runtime__v1__container_metrics__init(cm);
            cm->container_id = ar_strdup(a, v[i].id);
            cm->metrics = cl.v;
            cm->n_metrics = cl.n;
            m->container_metrics[m->n_container_metrics++] = cm;
        }
        ctr_info_list_free(c->d->ctrs, v, nv);
    }
    return m;
}

static rpc_code collect(cri_ctx *c, Runtime__V1__PodSandboxMetrics ***out, size_t *n,
                        rpc_status *st)
{
    pod_filter pf = {0};
    pod_info **list = NULL;
    size_t np = 0;
    cric_err err = {0};
    if (pod_list(c->d->pods, &pf, &list, &np, &err) < 0)
        return cri_status_from_err(&err, st);
    *out = AR_ARRAY(c->arena, Runtime__V1__PodSandboxMetrics *, np);
    *n = 0;
    for (size_t i = 0; i < np; i++)
        if (list[i]->ready)
            (*out)[(*n)++] = pod_metrics(c, list[i]);
    pod_info_list_free(list, np);
    return RPC_OK;
}

static rpc_code impl_list_pod_sandbox_metrics(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    Runtime__V1__ListPodSandboxMetricsResponse *resp = rs;
    return collect(c, &resp->pod_metrics, &resp->n_pod_metrics, st);
}

CRI_UNARY_HANDLER(list_pod_sandbox_metrics, runtime__v1__list_pod_sandbox_metrics_request,
                  runtime__v1__list_pod_sandbox_metrics_response)

#define STREAM_CHUNK 64

static rpc_code impl_stream_pod_sandbox_metrics(cri_ctx *c, const void *rq, void *rs,
                                                rpc_status *st)
{
    Runtime__V1__StreamPodSandboxMetricsResponse *resp = rs;
    Runtime__V1__PodSandboxMetrics **items = NULL;
    size_t n = 0;
    rpc_code code = collect(c, &items, &n, st);
    if (code != RPC_OK)
        return code;
    size_t off = 0;
    while (n - off > STREAM_CHUNK) {
        Runtime__V1__StreamPodSandboxMetricsResponse chunk;
        runtime__v1__stream_pod_sandbox_metrics_response__init(&chunk);
        chunk.pod_sandbox_metrics = items + off;
        chunk.n_pod_sandbox_metrics = STREAM_CHUNK;
        if (cri_send(c->call, &chunk.base, st) < 0)
            return st->code;
        off += STREAM_CHUNK;
    }
    resp->pod_sandbox_metrics = items + off;
    resp->n_pod_sandbox_metrics = n - off;
    return RPC_OK;
}

CRI_UNARY_HANDLER(stream_pod_sandbox_metrics, runtime__v1__stream_pod_sandbox_metrics_request,
                  runtime__v1__stream_pod_sandbox_metrics_response)
