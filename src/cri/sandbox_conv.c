#include <string.h>

#include "cri/sandbox_conv.h"

Runtime__V1__PodSandboxMetadata *cri_pod_metadata(cri_arena *a, const pod_info *p)
{
    Runtime__V1__PodSandboxMetadata *m = AR_NEW(a, Runtime__V1__PodSandboxMetadata);
    runtime__v1__pod_sandbox_metadata__init(m);
    m->name = ar_strdup(a, p->name);
    m->uid = ar_strdup(a, p->uid);
    m->namespace_ = ar_strdup(a, p->namespace_);
    m->attempt = p->attempt;
    return m;
}

Runtime__V1__PodSandbox *cri_pod_summary(cri_arena *a, const pod_info *p)
{
    Runtime__V1__PodSandbox *s = AR_NEW(a, Runtime__V1__PodSandbox);
    runtime__v1__pod_sandbox__init(s);
    s->id = ar_strdup(a, p->id);
    s->metadata = cri_pod_metadata(a, p);
    s->state = p->ready ? RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY
                        : RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
    s->created_at = p->created_at;
    CRI_FILL_MAP(a, Runtime__V1__PodSandbox__LabelsEntry,
                 runtime__v1__pod_sandbox__labels_entry__init, p->label_keys, p->label_values,
                 p->n_labels, s->labels, s->n_labels);
    CRI_FILL_MAP(a, Runtime__V1__PodSandbox__AnnotationsEntry,
                 runtime__v1__pod_sandbox__annotations_entry__init, p->annotation_keys,
                 p->annotation_values, p->n_annotations, s->annotations, s->n_annotations);
    s->runtime_handler = ar_strdup(a, p->runtime_handler);
    return s;
}

void cri_pod_filter(cri_arena *a, const Runtime__V1__PodSandboxFilter *in, pod_filter *out)
{
    memset(out, 0, sizeof(*out));
    if (!in)
        return;
    out->id = in->id;
    if (in->state) {
        out->has_state = true;
        out->state = in->state->state == RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY
                         ? POD_STATE_READY
                         : POD_STATE_NOTREADY;
    }
    out->labels = AR_ARRAY(a, pod_kv, in->n_label_selector);
    for (size_t i = 0; i < in->n_label_selector; i++) {
        out->labels[i].key = in->label_selector[i]->key;
        out->labels[i].value = in->label_selector[i]->value;
    }
    out->n_labels = in->n_label_selector;
}

rpc_code cri_pod_list(cri_ctx *c, const Runtime__V1__PodSandboxFilter *filter,
                      Runtime__V1__PodSandbox ***items, size_t *n, rpc_status *st)
{
    pod_filter f;
    cri_pod_filter(c->arena, filter, &f);
    pod_info **list = NULL;
    size_t count = 0;
    cric_err err = {0};
    if (pod_list(c->d->pods, &f, &list, &count, &err) < 0)
        return cri_status_from_err(&err, st);
    *items = AR_ARRAY(c->arena, Runtime__V1__PodSandbox *, count);
    for (size_t i = 0; i < count; i++)
        (*items)[i] = cri_pod_summary(c->arena, list[i]);
    *n = count;
    pod_info_list_free(list, count);
    return RPC_OK;
}

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

Runtime__V1__PodSandboxStatus *cri_pod_status(cri_arena *a, const pod_info *p)
{
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
    return s;
}
