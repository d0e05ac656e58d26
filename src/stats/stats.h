/* The stats service (d->stats): the cgroup layout detected once at start-up,
 * the previous CPU sample of every container and pod (for usage_nano_cores),
 * and the cached writable-layer usage. Thread-safe. */
#ifndef CRIC_STATS_STATS_H
#define CRIC_STATS_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stats/cgstats.h"
#include "stats/fsusage.h"
#include "stats/netdev.h"
#include "util/err.h"

typedef struct stats_service stats_service; /* struct stats_service in daemon.h: d->stats */

#define STATS_RATE_MIN_WINDOW_MS 100 /* samples closer than this reuse the last rate */
#define STATS_FS_REFRESH_MS 10000    /* writable layer walks at most this often */

/* v1 mounts with their controller lists and the v2 mount (NULL when none), as
 * the pod service's cgroup_mounts_detect found them. */
int stats_service_new(stats_service **out, char *const *v1_mounts, char *const *v1_ctrls,
                      size_t n_v1, const char *v2, cric_err *err);
void stats_service_free(stats_service *s);
const stats_cg_layout *stats_layout(const stats_service *s);

/* CPU, memory, swap and process count of one cgroup. */
typedef struct stats_usage {
    stats_cg_sample cg;
    bool has_rate;
    uint64_t nano_cores; /* average over the window since the previous sample of key */
} stats_usage;

/* Reads the cgroup rel (relative to the hierarchy roots) and computes the CPU
 * rate against the previous sample kept under key (a container or pod id). */
int stats_read_cgroup(stats_service *s, const char *key, const char *rel, stats_usage *out,
                      cric_err *err);

typedef struct stats_net {
    int64_t timestamp_ns;
    stats_netdev ifs[STATS_NETDEV_MAX];
    size_t n_ifs;
} stats_net;

/* Interface counters inside the network namespace pinned at netns_path. */
int stats_read_netns(const char *netns_path, stats_net *out, cric_err *err);

/* The cached usage of a writable layer directory (see fsusage.h). */
int stats_read_fs(stats_service *s, const char *dir, stats_fs_usage *out, cric_err *err);

/* Forgets what is kept for key (and dir, when not NULL): call on removal. */
void stats_forget(stats_service *s, const char *key, const char *dir);

#endif
