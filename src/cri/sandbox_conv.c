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
