#include "pod/record.h"

#include <stdlib.h>
#include <string.h>

#include "util/ids.h"

static json_t *strv_json(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *kv_json(char *const *k, char *const *v, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, k[i], json_string(v[i]));
    return o;
}

json_t *record_to_json(const pod_info *p)
{
    json_t *groups = json_array();
    for (size_t i = 0; i < p->n_supplemental_groups; i++)
        json_array_append_new(groups, json_integer(p->supplemental_groups[i]));
    json_t *j = json_object();
#define S(k, v) json_object_set_new(j, k, json_string((v) ? (v) : ""))
#define I(k, v) json_object_set_new(j, k, json_integer((json_int_t)(v)))
#define B(k, v) json_object_set_new(j, k, json_boolean(v))
    S("id", p->id);
    S("name", p->name);
    S("namespace", p->namespace_);
    S("uid", p->uid);
    I("attempt", p->attempt);
    B("ready", p->ready);
    if (p->removing)
        B("removing", true);
    I("created_at", p->created_at);
    S("runtime_handler", p->runtime_handler);
    I("net_mode", p->net_mode);
    I("ipc_mode", p->ipc_mode);
    I("pid_mode", p->pid_mode);
    S("target_id", p->target_id);
    S("netns_path", p->netns_path);
    S("ipcns_path", p->ipcns_path);
    S("utsns_path", p->utsns_path);
    S("pidns_path", p->pidns_path);
    I("infra_pid", p->infra_pid);
    S("hostname", p->hostname);
    S("hostname_path", p->hostname_path);
    S("hosts_path", p->hosts_path);
    S("resolv_path", p->resolv_path);
    S("shm_path", p->shm_path);
    S("cgroup_parent", p->cgroup_parent);
    S("log_directory", p->log_directory);
    S("sandbox_dir", p->sandbox_dir);
    json_object_set_new(j, "sysctls", kv_json(p->sysctl_keys, p->sysctl_values, p->n_sysctls));
    json_object_set_new(j, "labels", kv_json(p->label_keys, p->label_values, p->n_labels));
    json_object_set_new(j, "annotations",
                        kv_json(p->annotation_keys, p->annotation_values, p->n_annotations));
    json_object_set_new(j, "ips", strv_json(p->ips, p->n_ips));
    B("privileged", p->privileged);
    B("readonly_rootfs", p->readonly_rootfs);
    B("has_run_as_user", p->has_run_as_user);
    B("has_run_as_group", p->has_run_as_group);
    I("run_as_user", p->run_as_user);
    I("run_as_group", p->run_as_group);
    json_object_set_new(j, "supplemental_groups", groups);
    I("seccomp_type", p->seccomp_type);
    S("seccomp_ref", p->seccomp_ref);
#undef S
#undef I
#undef B
    return j;
}

static char *gs(json_t *j, const char *k, bool *ok)
{
    const char *s = json_string_value(json_object_get(j, k));
    char *r = strdup(s ? s : "");
    if (!s || !r)
        *ok = false;
    return r;
}

static int64_t gi(json_t *j, const char *k)
{
    return (int64_t)json_integer_value(json_object_get(j, k));
}

static void kv_load(json_t *o, char ***keys, char ***vals, size_t *n, bool *ok)
{
    size_t cnt = json_object_size(o);
    *keys = calloc(cnt + 1, sizeof(char *));
    *vals = calloc(cnt + 1, sizeof(char *));
    *n = 0;
    if (!*keys || !*vals) {
        *ok = false;
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        (*keys)[*n] = strdup(k);
        (*vals)[*n] = strdup(json_string_value(v) ? json_string_value(v) : "");
        (*n)++;
        if (!(*keys)[*n - 1] || !(*vals)[*n - 1])
            *ok = false;
    }
}

pod_info *record_from_json(json_t *j)
{
    if (!json_is_object(j))
        return NULL;
    pod_info *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    bool ok = true;
    const char *id = json_string_value(json_object_get(j, "id"));
    if (!id_is_full(id)) {
        free(p);
        return NULL;
    }
    memcpy(p->id, id, 65);
    p->name = gs(j, "name", &ok);
    p->namespace_ = gs(j, "namespace", &ok);
    p->uid = gs(j, "uid", &ok);
    p->attempt = (uint32_t)gi(j, "attempt");
    p->ready = json_is_true(json_object_get(j, "ready"));
    p->removing = json_is_true(json_object_get(j, "removing"));
    p->created_at = gi(j, "created_at");
    p->runtime_handler = gs(j, "runtime_handler", &ok);
    p->net_mode = (int)gi(j, "net_mode");
    p->ipc_mode = (int)gi(j, "ipc_mode");
    p->pid_mode = (int)gi(j, "pid_mode");
    p->target_id = gs(j, "target_id", &ok);
    p->netns_path = gs(j, "netns_path", &ok);
    p->ipcns_path = gs(j, "ipcns_path", &ok);
    p->utsns_path = gs(j, "utsns_path", &ok);
    p->pidns_path = gs(j, "pidns_path", &ok);
    p->infra_pid = (int)gi(j, "infra_pid");
    p->hostname = gs(j, "hostname", &ok);
    p->hostname_path = gs(j, "hostname_path", &ok);
    p->hosts_path = gs(j, "hosts_path", &ok);
    p->resolv_path = gs(j, "resolv_path", &ok);
    p->shm_path = gs(j, "shm_path", &ok);
    p->cgroup_parent = gs(j, "cgroup_parent", &ok);
    p->log_directory = gs(j, "log_directory", &ok);
    p->sandbox_dir = gs(j, "sandbox_dir", &ok);
    kv_load(json_object_get(j, "sysctls"), &p->sysctl_keys, &p->sysctl_values, &p->n_sysctls, &ok);
    kv_load(json_object_get(j, "labels"), &p->label_keys, &p->label_values, &p->n_labels, &ok);
    kv_load(json_object_get(j, "annotations"), &p->annotation_keys, &p->annotation_values,
            &p->n_annotations, &ok);
    json_t *ips = json_object_get(j, "ips");
    p->ips = calloc(json_array_size(ips) + 1, sizeof(char *));
    if (!p->ips)
        ok = false;
    size_t i;
    json_t *e;
    json_array_foreach(ips, i, e)
    {
        if (!p->ips || !json_is_string(e))
            continue;
        p->ips[p->n_ips] = strdup(json_string_value(e));
        if (p->ips[p->n_ips])
            p->n_ips++;
        else
            ok = false;
    }
    p->privileged = json_is_true(json_object_get(j, "privileged"));
    p->readonly_rootfs = json_is_true(json_object_get(j, "readonly_rootfs"));
    p->has_run_as_user = json_is_true(json_object_get(j, "has_run_as_user"));
    p->has_run_as_group = json_is_true(json_object_get(j, "has_run_as_group"));
    p->run_as_user = gi(j, "run_as_user");
    p->run_as_group = gi(j, "run_as_group");
    json_t *groups = json_object_get(j, "supplemental_groups");
    p->supplemental_groups = calloc(json_array_size(groups) + 1, sizeof(int64_t));
    if (!p->supplemental_groups)
        ok = false;
    json_array_foreach(groups, i, e)
    {
        if (p->supplemental_groups)
            p->supplemental_groups[p->n_supplemental_groups++] = json_integer_value(e);
    }
    p->seccomp_type = (int)gi(j, "seccomp_type");
    p->seccomp_ref = gs(j, "seccomp_ref", &ok);
    if (!ok) {
        pod_info_free(p);
        return NULL;
    }
    return p;
}

pod_info *pod_info_dup(const pod_info *p)
{
    json_t *j = record_to_json(p);
    pod_info *c = j ? record_from_json(j) : NULL;
    json_decref(j);
    return c;
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

void pod_info_free(pod_info *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->namespace_);
    free(p->uid);
    free(p->runtime_handler);
    free(p->target_id);
    free(p->netns_path);
    free(p->ipcns_path);
    free(p->utsns_path);
    free(p->pidns_path);
    free(p->hostname);
    free(p->hostname_path);
    free(p->hosts_path);
    free(p->resolv_path);
    free(p->shm_path);
    free(p->cgroup_parent);
    free(p->log_directory);
    free(p->sandbox_dir);
    strv_free(p->sysctl_keys, p->n_sysctls);
    strv_free(p->sysctl_values, p->n_sysctls);
    strv_free(p->label_keys, p->n_labels);
    strv_free(p->label_values, p->n_labels);
    strv_free(p->annotation_keys, p->n_annotations);
    strv_free(p->annotation_values, p->n_annotations);
    strv_free(p->ips, p->n_ips);
    free(p->supplemental_groups);
    free(p->seccomp_ref);
    free(p);
}

void pod_info_list_free(pod_info **list, size_t n)
{
    for (size_t i = 0; list && i < n; i++)
        pod_info_free(list[i]);
    free(list);
}

bool pod_labels_match(const pod_kv *selector, size_t n_selector, char *const *keys,
                      char *const *values, size_t n_labels)
{
    for (size_t i = 0; i < n_selector; i++) {
        bool found = false;
        for (size_t k = 0; k < n_labels && !found; k++)
            found =
                strcmp(selector[i].key, keys[k]) == 0 && strcmp(selector[i].value, values[k]) == 0;
        if (!found)
            return false;
    }
    return true;
}
