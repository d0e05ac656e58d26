/* Cgroup statistics readers (cgroupfs driver) for v1, hybrid and v2 hosts.
 *
 * The layout is detected once (stats_cg_layout_init from the mount table):
 * each resource (cpu accounting, memory, pids) is read from the v1 hierarchy
 * that carries its controller when there is one, else from the v2 mount. A
 * cgroup is named by its path relative to the hierarchy roots ("a/b/<id>").
 * Pure file reading: no state, thread-safe. */
#ifndef CRIC_STATS_CGSTATS_H
#define CRIC_STATS_CGSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

typedef struct stats_cg_layout {
    char *cpuacct; /* v1 mount point carrying cpuacct, or NULL (then v2 cpu.stat) */
    char *memory;  /* v1 memory mount, or NULL */
    char *pids;    /* v1 pids mount, or NULL */
    char *v2;      /* cgroup2 mount, or NULL */
} stats_cg_layout;

/* From the v1 mount points with their controller lists ("cpu,cpuacct") and the
 * v2 mount (NULL when none). */
int stats_cg_layout_init(stats_cg_layout *l, char *const *v1_mounts, char *const *v1_ctrls,
                         size_t n_v1, const char *v2, cric_err *err);
void stats_cg_layout_free(stats_cg_layout *l);
/* "v1", "hybrid", "v2" or "none". */
const char *stats_cg_layout_name(const stats_cg_layout *l);

#define STATS_NO_LIMIT UINT64_MAX

typedef struct stats_cg_sample {
    int64_t timestamp_ns; /* CLOCK_REALTIME when read */
    int64_t mono_ns;      /* CLOCK_MONOTONIC when read (for rates) */
    bool has_cpu;
    uint64_t cpu_usage_ns; /* cumulative */
    bool has_memory;
    uint64_t mem_usage, mem_limit; /* limit STATS_NO_LIMIT when unlimited */
    uint64_t mem_working_set, mem_rss, mem_inactive_file;
    uint64_t page_faults, major_page_faults;
    bool has_swap;
    uint64_t swap_usage, swap_limit; /* limit STATS_NO_LIMIT when unlimited */
    bool has_pids;
    uint64_t pids;
} stats_cg_sample;

/* Reads every resource that is accounted for the cgroup rel. A cgroup that
 * exists nowhere is NOT_FOUND; missing single files leave their has_* false. */
int stats_cg_read(const stats_cg_layout *l, const char *rel, stats_cg_sample *out, cric_err *err);

/* Parsing helpers (exposed for tests). "key value" lines: returns 0 and sets
 * *val when key is present, -1 otherwise. */
int stats_kv_get(const char *text, const char *key, uint64_t *val);

#endif
