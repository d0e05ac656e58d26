#include "cri/container_conv.h"

#include <string.h>

static Runtime__V1__ContainerMetadata *metadata(cri_arena *a, const ctr_info *c)
{
    Runtime__V1__ContainerMetadata *m = AR_NEW(a, Runtime__V1__ContainerMetadata);
    runtime__v1__container_metadata__init(m);
    m->name = ar_strdup(a, c->name);
    m->attempt = c->attempt;
    return m;
}

static Runtime__V1__ImageSpec *image_spec(cri_arena *a, const ctr_info *c)
{
    Runtime__V1__ImageSpec *i = AR_NEW(a, Runtime__V1__ImageSpec);
    runtime__v1__image_spec__init(i);
    i->image = ar_strdup(a, c->image);
    i->user_specified_image = ar_strdup(a, c->image);
    i->runtime_handler = ar_strdup(a, c->runtime_handler ? c->runtime_handler : "");
    return i;
}

/* Map fields share the {key, value} layout; copy entries of type T. */
#define COPY_MAP(a, T, init, src, n_src, dst, n_dst)                                               \
    do {                                                                                           \
        (dst) = AR_ARRAY((a), T *, (n_src));                                                       \
        for (size_t i_ = 0; i_ < (n_src); i_++) {                                                  \
            T *e_ = AR_NEW((a), T);                                                                \
            init(e_);                                                                              \
            e_->key = ar_strdup((a), (src)[i_]->key);                                              \
            e_->value = ar_strdup((a), (src)[i_]->value);                                          \
            (dst)[i_] = e_;                                                                        \
        }                                                                                          \
        (n_dst) = (n_src);                                                                         \
    } while (0)

Runtime__V1__Container *cri_ctr_summary(cri_arena *a, const ctr_info *c)
{
    Runtime__V1__Container *o = AR_NEW(a, Runtime__V1__Container);
    runtime__v1__container__init(o);
    o->id = ar_strdup(a, c->id);
    o->pod_sandbox_id = ar_strdup(a, c->pod_id);
    o->metadata = metadata(a, c);
    o->image = image_spec(a, c);
    o->image_ref = ar_strdup(a, c->image_id);
    o->image_id = o->image_ref;
    o->state = (Runtime__V1__ContainerState)c->state;
    o->created_at = c->created_at;
    COPY_MAP(a, Runtime__V1__Container__LabelsEntry, runtime__v1__container__labels_entry__init,
             c->config->labels, c->config->n_labels, o->labels, o->n_labels);
    COPY_MAP(a, Runtime__V1__Container__AnnotationsEntry,
             runtime__v1__container__annotations_entry__init, c->config->annotations,
             c->config->n_annotations, o->annotations, o->n_annotations);
    return o;
}

static Runtime__V1__ContainerResources *resources(cri_arena *a, const ctr_info *c)
{
    const Runtime__V1__LinuxContainerResources *in = c->resources;
    if (!in)
        return NULL;
    Runtime__V1__ContainerResources *r = AR_NEW(a, Runtime__V1__ContainerResources);
    runtime__v1__container_resources__init(r);
    Runtime__V1__LinuxContainerResources *l = AR_NEW(a, Runtime__V1__LinuxContainerResources);
    runtime__v1__linux_container_resources__init(l);
    l->cpu_period = in->cpu_period;
    l->cpu_quota = in->cpu_quota;
    l->cpu_shares = in->cpu_shares;
    l->memory_limit_in_bytes = in->memory_limit_in_bytes;
    l->oom_score_adj = in->oom_score_adj;
    l->cpuset_cpus = ar_strdup(a, in->cpuset_cpus ? in->cpuset_cpus : "");
    l->cpuset_mems = ar_strdup(a, in->cpuset_mems ? in->cpuset_mems : "");
    l->memory_swap_limit_in_bytes = in->memory_swap_limit_in_bytes;
    COPY_MAP(a, Runtime__V1__LinuxContainerResources__UnifiedEntry,
             runtime__v1__linux_container_resources__unified_entry__init, in->unified,
             in->n_unified, l->unified, l->n_unified);
    r->linux = l;
    return r;
}

Runtime__V1__ContainerStatus *cri_ctr_status(cri_arena *a, const ctr_info *c)
{
    Runtime__V1__ContainerStatus *s = AR_NEW(a, Runtime__V1__ContainerStatus);
    runtime__v1__container_status__init(s);
    s->id = ar_strdup(a, c->id);
    s->metadata = metadata(a, c);
    s->state = (Runtime__V1__ContainerState)c->state;
    s->created_at = c->created_at;
    s->started_at = c->started_at;
    s->finished_at = c->finished_at;
    s->exit_code = c->exit_code;
    s->image = image_spec(a, c);
    s->image_ref = ar_strdup(a, c->image_ref);
    s->image_id = ar_strdup(a, c->image_id);
    s->reason = ar_strdup(a, c->reason);
    s->message = ar_strdup(a, c->message);
    COPY_MAP(a, Runtime__V1__ContainerStatus__LabelsEntry,
             runtime__v1__container_status__labels_entry__init, c->config->labels,
             c->config->n_labels, s->labels, s->n_labels);
    COPY_MAP(a, Runtime__V1__ContainerStatus__AnnotationsEntry,
             runtime__v1__container_status__annotations_entry__init, c->config->annotations,
             c->config->n_annotations, s->annotations, s->n_annotations);
    s->mounts = AR_ARRAY(a, Runtime__V1__Mount *, c->config->n_mounts);
    for (size_t i = 0; i < c->config->n_mounts; i++) {
        const Runtime__V1__Mount *in = c->config->mounts[i];
        Runtime__V1__Mount *m = AR_NEW(a, Runtime__V1__Mount);
        runtime__v1__mount__init(m);
        m->container_path = ar_strdup(a, in->container_path ? in->container_path : "");
        m->host_path = ar_strdup(a, in->host_path ? in->host_path : "");
        m->readonly = in->readonly;
        m->selinux_relabel = in->selinux_relabel;
        m->propagation = in->propagation;
        m->recursive_read_only = in->recursive_read_only;
        s->mounts[i] = m;
    }
    s->n_mounts = c->config->n_mounts;
    s->log_path = ar_strdup(a, c->log_path);
    s->stop_signal = (Runtime__V1__Signal)c->stop_signal;
    s->resources = resources(a, c);
    s->user = AR_NEW(a, Runtime__V1__ContainerUser);
    runtime__v1__container_user__init(s->user);
    s->user->linux = AR_NEW(a, Runtime__V1__LinuxContainerUser);
    runtime__v1__linux_container_user__init(s->user->linux);
    s->user->linux->uid = c->uid;
    s->user->linux->gid = c->gid;
    s->user->linux->supplemental_groups = AR_ARRAY(a, int64_t, c->n_gids);
    for (size_t i = 0; i < c->n_gids; i++)
        s->user->linux->supplemental_groups[i] = c->gids[i];
    s->user->linux->n_supplemental_groups = c->n_gids;
    return s;
}

void cri_ctr_filter(cri_arena *a, const Runtime__V1__ContainerFilter *in, ctr_filter *f)
{
    memset(f, 0, sizeof(*f));
    if (!in)
        return;
    f->id = in->id;
    f->pod_id = in->pod_sandbox_id;
    if (in->state) {
        f->has_state = true;
        f->state = (int)in->state->state;
    }
    char **keys = AR_ARRAY(a, char *, in->n_label_selector);
    char **vals = AR_ARRAY(a, char *, in->n_label_selector);
    for (size_t i = 0; i < in->n_label_selector; i++) {
        keys[i] = in->label_selector[i]->key;
        vals[i] = in->label_selector[i]->value;
    }
    f->label_keys = keys;
    f->label_values = vals;
    f->n_labels = in->n_label_selector;
}

rpc_code cri_ctr_list(cri_ctx *c, const Runtime__V1__ContainerFilter *in,
                      Runtime__V1__Container ***items, size_t *n, rpc_status *st)
{
    ctr_filter f;
    cri_ctr_filter(c->arena, in, &f);
    ctr_info *list = NULL;
    size_t count = 0;
    cric_err err = {0};
    if (ctr_list(c->d->ctrs, &f, &list, &count, &err) < 0)
        return cri_status_from_err(&err, st);
    *items = AR_ARRAY(c->arena, Runtime__V1__Container *, count);
    for (size_t i = 0; i < count; i++)
        (*items)[i] = cri_ctr_summary(c->arena, &list[i]);
    *n = count;
    ctr_info_list_free(c->d->ctrs, list, count);
    return RPC_OK;
}
