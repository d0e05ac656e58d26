#include "cri/stats_ctr.h"

#include <string.h>

#include "cri/container_conv.h"
#include "cri/sandbox_conv.h"
#include "cri/stats_conv.h"
#include "ctr/ctr_observe.h"
#include "util/log.h"

void cri_event_container_statuses(cric_daemon *d, cri_arena *a, const char *pod_id,
                                  Runtime__V1__ContainerStatus ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!d->ctrs || !pod_id[0])
        return;
    ctr_filter f = {.pod_id = pod_id};
    ctr_info *v = NULL;
    size_t nv = 0;
    cric_err err = {0};
    if (ctr_list(d->ctrs, &f, &v, &nv, &err) < 0)
        return;
    *out = AR_ARRAY(a, Runtime__V1__ContainerStatus *, nv);
    for (size_t i = 0; i < nv; i++)
        if (strcmp(v[i].pod_id, pod_id) == 0) /* the filter matches prefixes */
            (*out)[(*n)++] = cri_ctr_status(a, &v[i]);
    ctr_info_list_free(d->ctrs, v, nv);
}

void cri_ctr_sample_read(cri_ctx *c, const ctr_info *ci, cri_ctr_sample *out)
{
    memset(out, 0, sizeof(*out));
    ctr_stats_target t;
    cric_err err = {0};
    if (ctr_stats_target_get(c->d->ctrs, ci, &t, &err) < 0) {
        log_debug("stats", "container %.12s: %s", ci->id, err.msg);
        return;
    }
    if (ci->state == CTR_CREATED || ci->state == CTR_RUNNING) {
        if (stats_read_cgroup(c->d->stats, ci->id, t.cgroup, &out->usage, &err) == 0)
            out->has_usage = true;
        else
            log_debug("stats", "container %.12s: cgroup: %s", ci->id, err.msg);
    }
    if (stats_read_fs(c->d->stats, t.upper_dir, &out->fs, &err) == 0)
        out->has_fs = true;
    else
        log_debug("stats", "container %.12s: writable layer: %s", ci->id, err.msg);
}

Runtime__V1__ContainerStats *cri_ctr_stats(cri_ctx *c, const ctr_info *ci)
{
    cri_arena *a = c->arena;
    cri_ctr_sample smp;
    cri_ctr_sample_read(c, ci, &smp);
    Runtime__V1__ContainerStats *o = AR_NEW(a, Runtime__V1__ContainerStats);
    runtime__v1__container_stats__init(o);
    Runtime__V1__ContainerAttributes *at = AR_NEW(a, Runtime__V1__ContainerAttributes);
    runtime__v1__container_attributes__init(at);
    at->id = ar_strdup(a, ci->id);
    at->metadata = AR_NEW(a, Runtime__V1__ContainerMetadata);
    runtime__v1__container_metadata__init(at->metadata);
    at->metadata->name = ar_strdup(a, ci->name ? ci->name : "");
    at->metadata->attempt = ci->attempt;
    const Runtime__V1__ContainerConfig *cfg = ci->config;
    at->labels = AR_ARRAY(a, Runtime__V1__ContainerAttributes__LabelsEntry *, cfg->n_labels);
    for (size_t i = 0; i < cfg->n_labels; i++) {
        Runtime__V1__ContainerAttributes__LabelsEntry *e =
            AR_NEW(a, Runtime__V1__ContainerAttributes__LabelsEntry);
        runtime__v1__container_attributes__labels_entry__init(e);
        e->key = ar_strdup(a, cfg->labels[i]->key ? cfg->labels[i]->key : "");
        e->value = ar_strdup(a, cfg->labels[i]->value ? cfg->labels[i]->value : "");
        at->labels[at->n_labels++] = e;
    }
    at->annotations =
        AR_ARRAY(a, Runtime__V1__ContainerAttributes__AnnotationsEntry *, cfg->n_annotations);
    for (size_t i = 0; i < cfg->n_annotations; i++) {
        Runtime__V1__ContainerAttributes__AnnotationsEntry *e =
            AR_NEW(a, Runtime__V1__ContainerAttributes__AnnotationsEntry);
        runtime__v1__container_attributes__annotations_entry__init(e);
        e->key = ar_strdup(a, cfg->annotations[i]->key ? cfg->annotations[i]->key : "");
        e->value = ar_strdup(a, cfg->annotations[i]->value ? cfg->annotations[i]->value : "");
        at->annotations[at->n_annotations++] = e;
    }
    o->attributes = at;
    if (smp.has_usage) {
        o->cpu = cri_cpu_usage(a, &smp.usage);
        o->memory = cri_memory_usage(a, &smp.usage);
        o->swap = cri_swap_usage(a, &smp.usage);
    }
    if (smp.has_fs) {
        Runtime__V1__FilesystemUsage *fs = AR_NEW(a, Runtime__V1__FilesystemUsage);
        runtime__v1__filesystem_usage__init(fs);
        fs->timestamp = smp.fs.timestamp_ns;
        fs->fs_id = AR_NEW(a, Runtime__V1__FilesystemIdentifier);
        runtime__v1__filesystem_identifier__init(fs->fs_id);
        fs->fs_id->mountpoint = ar_strdup(a, c->d->cfg.root);
        fs->used_bytes = cri_u64(a, smp.fs.used_bytes);
        fs->inodes_used = cri_u64(a, smp.fs.inodes_used);
        o->writable_layer = fs;
    }
    return o;
}

rpc_code cri_ctr_stats_list(cri_ctx *c, const Runtime__V1__ContainerStatsFilter *in,
                            Runtime__V1__ContainerStats ***out, size_t *n, rpc_status *st)
{
    ctr_filter f = {0};
    char **keys = NULL, **vals = NULL;
    if (in) {
        f.id = in->id;
        f.pod_id = in->pod_sandbox_id;
        keys = AR_ARRAY(c->arena, char *, in->n_label_selector);
        vals = AR_ARRAY(c->arena, char *, in->n_label_selector);
        for (size_t i = 0; i < in->n_label_selector; i++) {
            keys[i] = in->label_selector[i]->key ? in->label_selector[i]->key : "";
            vals[i] = in->label_selector[i]->value ? in->label_selector[i]->value : "";
        }
        f.label_keys = keys;
        f.label_values = vals;
        f.n_labels = in->n_label_selector;
    }
    ctr_info *v = NULL;
    size_t nv = 0;
    cric_err err = {0};
    if (ctr_list(c->d->ctrs, &f, &v, &nv, &err) < 0)
        return cri_status_from_err(&err, st);
    *out = AR_ARRAY(c->arena, Runtime__V1__ContainerStats *, nv);
    *n = 0;
    for (size_t i = 0; i < nv; i++)
        (*out)[(*n)++] = cri_ctr_stats(c, &v[i]);
    ctr_info_list_free(c->d->ctrs, v, nv);
    return RPC_OK;
}

Runtime__V1__ContainerStats **cri_pod_container_stats(cri_ctx *c, const char *pod_id, size_t *n)
{
    *n = 0;
    if (!c->d->ctrs)
        return NULL;
    ctr_filter f = {.pod_id = pod_id, .has_state = true, .state = CTR_RUNNING};
    ctr_info *v = NULL;
    size_t nv = 0;
    cric_err err = {0};
    if (ctr_list(c->d->ctrs, &f, &v, &nv, &err) < 0)
        return NULL;
    Runtime__V1__ContainerStats **out = AR_ARRAY(c->arena, Runtime__V1__ContainerStats *, nv);
    for (size_t i = 0; i < nv; i++)
        if (strcmp(v[i].pod_id, pod_id) == 0)
            out[(*n)++] = cri_ctr_stats(c, &v[i]);
    ctr_info_list_free(c->d->ctrs, v, nv);
    return out;
}
