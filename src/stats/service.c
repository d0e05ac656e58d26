#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stats/rate.h"
#include "stats/stats.h"
#include "util/log.h"

struct stats_service {
    stats_cg_layout layout;
    stats_rate_table *rates;
    stats_fs_cache *fs;
};

int stats_service_new(stats_service **out, char *const *v1_mounts, char *const *v1_ctrls,
                      size_t n_v1, const char *v2, cric_err *err)
{
    stats_service *s = calloc(1, sizeof(*s));
    if (!s)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    if (stats_cg_layout_init(&s->layout, v1_mounts, v1_ctrls, n_v1, v2, err) < 0) {
        free(s);
        return -1;
    }
    s->rates = stats_rate_new((int64_t)STATS_RATE_MIN_WINDOW_MS * 1000000);
    if (!s->rates) {
        stats_service_free(s);
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    }
    if (stats_fs_cache_new(&s->fs, STATS_FS_REFRESH_MS, err) < 0) {
        stats_service_free(s);
        return -1;
    }
    log_info("stats", "cgroup layout %s (cpuacct %s, memory %s, pids %s, v2 %s)",
             stats_cg_layout_name(&s->layout), s->layout.cpuacct ? s->layout.cpuacct : "-",
             s->layout.memory ? s->layout.memory : "-", s->layout.pids ? s->layout.pids : "-",
             s->layout.v2 ? s->layout.v2 : "-");
    *out = s;
    return 0;
}

void stats_service_free(stats_service *s)
{
    if (!s)
        return;
    stats_fs_cache_free(s->fs);
    stats_rate_free(s->rates);
    stats_cg_layout_free(&s->layout);
    free(s);
}

const stats_cg_layout *stats_layout(const stats_service *s)
{
    return &s->layout;
}

int stats_read_cgroup(stats_service *s, const char *key, const char *rel, stats_usage *out,
                      cric_err *err)
{
    memset(out, 0, sizeof(*out));
    if (stats_cg_read(&s->layout, rel, &out->cg, err) < 0)
        return -1;
    if (out->cg.has_cpu)
        out->has_rate = stats_rate_update(s->rates, key, out->cg.mono_ns, out->cg.cpu_usage_ns,
                                          &out->nano_cores);
    return 0;
}

int stats_read_netns(const char *netns_path, stats_net *out, cric_err *err)
{
    memset(out, 0, sizeof(*out));
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    out->timestamp_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    int n = stats_netdev_read_netns(netns_path, out->ifs, STATS_NETDEV_MAX, err);
    if (n < 0)
        return -1;
    out->n_ifs = (size_t)n;
    return 0;
}

int stats_read_fs(stats_service *s, const char *dir, stats_fs_usage *out, cric_err *err)
{
    return stats_fs_cache_get(s->fs, dir, out, err);
}

void stats_forget(stats_service *s, const char *key, const char *dir)
{
    if (key)
        stats_rate_forget(s->rates, key);
    if (dir)
        stats_fs_cache_forget(s->fs, dir);
}
