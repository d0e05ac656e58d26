#include <stdlib.h>
#include <time.h>

#include "cri/sandbox_conv.h"

static Runtime__V1__NamespaceOption *ns_options(cri_arena *a, const pod_info *p)
{
    Runtime__V1__NamespaceOption *o = AR_NEW(a, Runtime__V1__NamespaceOption);
    runtime__v1__namespace_option__init(o);
    o->network = (Runtime__V1__NamespaceMode)p->net_mode;
    o->ipc = (Runtime__V1__NamespaceMode)p->ipc_mode;
    o->pid = (Runtime__V1__NamespaceMode)p->pid_mode;
    o->target_id = ar_strdup(a, p->target_id);
    return o;
}

static rpc_code impl_pod_sandbox_status(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__PodSandboxStatusRequest *req = rq;
    Runtime__V1__PodSandboxStatusResponse *resp = rs;
    cri_arena *a = c->arena;
    pod_info *p = NULL;
    cric_err err = {0};
    if (pod_lookup(c->d->pods, req->pod_sandbox_id, &p, &err) < 0)
        return cri_status_from_err(&err, st);
    Runtime__V1__PodSandboxStatus *s = AR_NEW(a, Runtime__V1__PodSandboxStatus);
    runtime__v1__pod_sandbox_status__init(s);
    s->id = ar_strdup(a, p->id);
    s->metadata = cri_pod_metadata(a, p);
    s->state = p->ready ? RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY
                        : RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
    s->created_at = p->created_at;
    s->network = AR_NEW(a, Runtime__V1__PodSandboxNetworkStatus);
    runtime__v1__pod_sandbox_network_status__init(s->network);
    s->network->ip = ar_strdup(a, p->n_ips ? p->ips[0] : "");
    if (p->n_ips > 1) {
        s->network->n_additional_ips = p->n_ips - 1;
        s->network->additional_ips = AR_ARRAY(a, Runtime__V1__PodIP *, p->n_ips - 1);
        for (size_t i = 1; i < p->n_ips; i++) {
            Runtime__V1__PodIP *ip = AR_NEW(a, Runtime__V1__PodIP);
            runtime__v1__pod_ip__init(ip);
            ip->ip = ar_strdup(a, p->ips[i]);
            s->network->additional_ips[i - 1] = ip;
        }
    }
    s->linux = AR_NEW(a, Runtime__V1__LinuxPodSandboxStatus);
    runtime__v1__linux_pod_sandbox_status__init(s->linux);
    s->linux->namespaces = AR_NEW(a, Runtime__V1__Namespace);
    runtime__v1__namespace__init(s->linux->namespaces);
    s->linux->namespaces->options = ns_options(a, p);
    CRI_FILL_MAP(a, Runtime__V1__PodSandboxStatus__LabelsEntry,
                 runtime__v1__pod_sandbox_status__labels_entry__init, p->label_keys,
                 p->label_values, p->n_labels, s->labels, s->n_labels);
    CRI_FILL_MAP(a, Runtime__V1__PodSandboxStatus__AnnotationsEntry,
                 runtime__v1__pod_sandbox_status__annotations_entry__init, p->annotation_keys,
                 p->annotation_values, p->n_annotations, s->annotations, s->n_annotations);
    s->runtime_handler = ar_strdup(a, p->runtime_handler);
    resp->status = s;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    resp->timestamp = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    if (req->verbose) {
        char *info = pod_verbose_json(c->d->pods, p);
        Runtime__V1__PodSandboxStatusResponse__InfoEntry *e =
            AR_NEW(a, Runtime__V1__PodSandboxStatusResponse__InfoEntry);
        runtime__v1__pod_sandbox_status_response__info_entry__init(e);
        e->key = "info";
        e->value = ar_strdup(a, info ? info : "{}");
        free(info);
        resp->n_info = 1;
        resp->info = AR_ARRAY(a, Runtime__V1__PodSandboxStatusResponse__InfoEntry *, 1);
        resp->info[0] = e;
    }
    pod_info_free(p);
    return RPC_OK;
}

CRI_UNARY_HANDLER(pod_sandbox_status, runtime__v1__pod_sandbox_status_request,
                  runtime__v1__pod_sandbox_status_response)
