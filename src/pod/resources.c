/* UpdatePodSandboxResources: new limits for the pod cgroup. */
#include <pthread.h>
#include <string.h>

#include "pod/service_int.h"
#include "util/cgroup_limits.h"

static int validate(const char *what, const pod_resources *r, cric_err *err)
{
    if (!r)
        return 0;
    if (cgroup_cpu_check(what, r->cpu_shares, r->cpu_quota, r->cpu_period, err) < 0)
        return -1;
    if (r->memory_limit < 0)
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: negative memory value", what);
    if (!cgroup_cpuset_valid(r->cpuset_cpus) || !cgroup_cpuset_valid(r->cpuset_mems))
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: invalid cpuset", what);
    if (r->n_unified > 256)
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: too many unified resources", what);
    for (size_t i = 0; i < r->n_unified; i++)
        if (!cgroup_unified_entry_valid(r->unified[i].key, r->unified[i].value))
            return cric_err_set(err, CRIC_ERR_INVALID, "%s: invalid unified resource \"%.64s\"",
                                what, r->unified[i].key);
    return 0;
}

int pod_update_resources(pod_service *s, const char *id, const pod_resources *overhead,
                         const pod_resources *resources, cric_err *err)
{
    if (validate("overhead", overhead, err) < 0 || validate("resources", resources, err) < 0)
        return -1;
    sandbox *sb;
    if (pods_get(s, id, &sb, err) < 0)
        return -1;
    pthread_mutex_lock(&sb->op_mu);
    int rc = 0;
    char rel[4096];
    if (sb->removed) {
        rc = cric_err_set(err, CRIC_ERR_NOT_FOUND, "sandbox %.12s not found", sb->info->id);
    } else if (sb->info->cgroup_parent[0]) {
        rc = cgroup_parent_relpath(sb->info->cgroup_parent, rel, sizeof(rel), err);
        if (rc == 0)
            rc = cgroup_apply(&s->cg, rel, overhead, resources, err);
        if (rc < 0)
            cric_err_prefix(err, "sandbox %.12s: update resources: ", sb->info->id);
    }
    pthread_mutex_unlock(&sb->op_mu);
    pods_sb_unref(s, sb);
    return rc;
}
