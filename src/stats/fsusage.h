/* Disk usage of a directory tree (a container's writable layer), cached: a
 * full walk happens at most once per refresh interval per directory and, once
 * a first value exists, only on a background thread; callers always get the
 * last value at once. */
#ifndef CRIC_STATS_FSUSAGE_H
#define CRIC_STATS_FSUSAGE_H

#include <stdint.h>

#include "util/err.h"

typedef struct stats_fs_usage {
    uint64_t used_bytes; /* allocated blocks; a hard-linked file split between its names */
    uint64_t inodes_used;
    int64_t timestamp_ns; /* CLOCK_REALTIME of the walk */
} stats_fs_usage;

/* One walk, synchronously; stays on dir's file system, never follows links. */
int stats_fs_walk(const char *dir, stats_fs_usage *out, cric_err *err);

typedef struct stats_fs_cache stats_fs_cache;

/* refresh_ms: how old a value may get before a background walk refreshes it. */
int stats_fs_cache_new(stats_fs_cache **out, unsigned refresh_ms, cric_err *err);
/* Stops the refresher thread and frees everything. */
void stats_fs_cache_free(stats_fs_cache *c);

/* The cached usage of dir. The first call for a directory walks it once
 * synchronously; later calls return the cached value and queue a background
 * refresh when it is older than refresh_ms. */
int stats_fs_cache_get(stats_fs_cache *c, const char *dir, stats_fs_usage *out, cric_err *err);
/* Drops the entry (the directory is going away). */
void stats_fs_cache_forget(stats_fs_cache *c, const char *dir);

#endif
