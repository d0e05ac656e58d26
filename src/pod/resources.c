/* UpdatePodSandboxResources: new limits for the pod cgroup. */
#include <pthread.h>
#include <string.h>

#include "pod/service_int.h"

static bool cpuset_ok(const char *s)
{
    if (!s)
        return true;
    if (strlen(s) > 1024)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || *p == ',' || *p == '-'))
            return false;
    return true;
}

static bool unified_key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > 255 || !strchr(k, '.') || strncmp(k, "cgroup.", 7) == 0)
        return false;
    for (const char *p = k; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_'))
            return false;
    return true;
}

static int validate(const char *what, const pod_resources *r, cric_err *err)
{
    if (!r)
        return 0;
    if (r->cpu_period < 0 || r->cpu_quota < -1 || r->cpu_shares < 0 || r->memory_limit < 0)
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: negative cpu or memory value", what);
    if (r->cpu_period > 0 && (r->cpu_period < 1000 || r->cpu_period > 1000000))
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "%s: cpu_period %lld is outside [1000, 1000000] us", what,
                            (long long)r->cpu_period);
    if (r->cpu_quota > 0 && r->cpu_quota < 1000)
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: cpu_quota %lld is below 1000 us", what,
                            (long long)r->cpu_quota);
    if (r->cpu_shares > 262144)
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: cpu_shares %lld is above 262144", what,
                            (long long)r->cpu_shares);
    if (!cpuset_ok(r->cpuset_cpus) || !cpuset_ok(r->cpuset_mems))
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: invalid cpuset", what);
    if (r->n_unified > 256)
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: too many unified resources", what);
    for (size_t i = 0; i < r->n_unified; i++)
        if (!unified_key_ok(r->unified[i].key) || strlen(r->unified[i].value) > 4096 ||
            strchr(r->unified[i].value, '\n'))
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
            cric_err_prefix(err, "sandbox %.12s: update resources", sb->info->id);
    }
    pthread_mutex_unlock(&sb->op_mu);
    pods_sb_unref(s, sb);
    return rc;
}
