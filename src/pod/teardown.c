/* Undo of every sandbox step: idempotent, and driven by what is on disk
 * under the sandbox dir, so it also finishes work a crash interrupted. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pod/infra.h"
#include "pod/nspin.h"
#include "pod/service_int.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

/* ------------------------------------------------------------- teardown */

/* Each step is idempotent and driven by what is on disk under the sandbox
 * dir, so it also finishes work interrupted by a crash. */

typedef struct cni_cache {
    json_t *root; /* {"config", "runtimeConfig", "args", "netns", "ifname", "result"?} */
} cni_cache;

void pods_fill_runtime(const pod_service *s, const pod_info *p, json_t *cache, cni_runtime *rt)
{
    memset(rt, 0, sizeof(*rt));
    rt->bin_dirs = s->cfg->cni_bin_dirs;
    rt->n_bin_dirs = s->cfg->n_cni_bin_dirs;
    rt->container_id = p->id;
    rt->netns = json_string_value(json_object_get(cache, "netns"));
    rt->ifname = json_string_value(json_object_get(cache, "ifname"));
    rt->cni_args = json_string_value(json_object_get(cache, "args"));
    rt->runtime_config = json_object_get(cache, "runtimeConfig");
    rt->timeout_ms = s->cfg->cni_timeout_s ? (int)s->cfg->cni_timeout_s * 1000 : CNI_TIMEOUT_MS;
    if (!rt->netns)
        rt->netns = "";
    if (!rt->ifname)
        rt->ifname = "eth0";
}

static int net_down(pod_service *s, const pod_info *p, cric_err *err)
{
    char path[4096];
    pods_path(p, "cni.json", path, sizeof(path));
    if (access(path, F_OK) < 0)
        return 0;
    json_error_t jerr;
    json_t *cache = json_load_file(path, 0, &jerr);
    if (!cache) {
        log_warn("pod", "sandbox %.12s: unreadable CNI cache %s (%s); network state dropped", p->id,
                 path, jerr.text);
        unlink(path);
        return 0;
    }
    cni_runtime rt;
    pods_fill_runtime(s, p, cache, &rt);
    /* The netns pin may be gone already (crash); plugins must cope with that. */
    if (access(rt.netns, F_OK) < 0)
        rt.netns = "";
    json_t *result = json_object_get(cache, "result");
    int rc =
        cni_del(&rt, json_object_get(cache, "config"), json_is_object(result) ? result : NULL, err);
    json_decref(cache);
    if (rc < 0)
        return cric_err_prefix(err, "sandbox %.12s: network teardown: ", p->id);
    unlink(path);
    return 0;
}

static int infra_down(const pod_info *p, cric_err *err)
{
    int pid = 0;
    unsigned long long start = 0;
    if (pods_read_infra(p, &pid, &start) < 0)
        return 0;
    if (infra_kill(pid, start, err) < 0)
        return cric_err_prefix(err, "sandbox %.12s: ", p->id);
    char path[4200];
    pods_path(p, "infra", path, sizeof(path));
    unlink(path);
    return 0;
}

static int ns_down(const pod_info *p, cric_err *err)
{
    static const char *const names[] = {"ns/net", "ns/ipc", "ns/uts", "ns/pid"};
    int rc = 0;
    for (size_t i = 0; i < 4; i++) {
        char path[4096];
        pods_path(p, names[i], path, sizeof(path));
        cric_err one = {0};
        if (nspin_release(path, &one) < 0 && rc == 0)
            rc = -1, *err = one;
    }
    char path[4096];
    pods_path(p, "shm", path, sizeof(path));
    cric_err one = {0};
    if (nspin_unmount(path, &one) < 0 && rc == 0)
        rc = -1, *err = one;
    return rc < 0 ? cric_err_prefix(err, "sandbox %.12s: ", p->id) : 0;
}

/* A parent cgroup one pod created and another still sits under is handed
 * to this list and removed by whichever pod removal finds it unused. */
static int cgroup_down(const pod_service *s, const pod_info *p, cric_err *err)
{
    char path[4096];
    pods_path(p, "cgroups", path, sizeof(path));
    _cleanup_free_ char *text = NULL;
    size_t len;
    if (fs_read_file(path, 1u << 20, &text, &len, NULL) < 0)
        return 0;
    char *dirs[256];
    size_t n = 0;
    for (char *s = NULL, *l = strtok_r(text, "\n", &s); l && n < 256; l = strtok_r(NULL, "\n", &s))
        if (strncmp(l, "/sys/fs/cgroup/", 15) == 0 && !strstr(l, "/../"))
            dirs[n++] = l;
    const char *shared[256];
    size_t n_shared = 0;
    if (cgroup_remove(dirs, n, shared, &n_shared, err) < 0)
        return cric_err_prefix(err, "sandbox %.12s: ", p->id);
    char list[4096];
    snprintf(list, sizeof(list), "%s/cgroups-shared", s->cfg->state);
    if (cgroup_sweep_shared(list, shared, n_shared, err) < 0)
        return cric_err_prefix(err, "sandbox %.12s: ", p->id);
    unlink(path);
    return 0;
}

/* Everything but the cgroups and the directory: what Stop releases. */
int pods_release_runtime(pod_service *s, const pod_info *p, cric_err *err)
{
    int rc = 0;
    cric_err one = {0};
    if (net_down(s, p, &one) < 0)
        rc = -1, *err = one;
    if (infra_down(p, &one) < 0 && rc == 0)
        rc = -1, *err = one;
    if (ns_down(p, &one) < 0 && rc == 0)
        rc = -1, *err = one;
    return rc;
}

/* Everything: what Remove (and a failed Run) releases. */
int pods_release_all(pod_service *s, const pod_info *p, cric_err *err)
{
    if (pods_release_runtime(s, p, err) < 0)
        return -1;
    if (cgroup_down(s, p, err) < 0)
        return -1;
    cric_err one = {0};
    if (fs_rm_rf(p->sandbox_dir, &one) < 0) {
        *err = one;
        return cric_err_prefix(err, "sandbox %.12s: ", p->id);
    }
    return 0;
}
