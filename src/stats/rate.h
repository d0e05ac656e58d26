/* CPU usage rates (usage_nano_cores) between successive samples of the same
 * container or pod, kept per key. Thread-safe. */
#ifndef CRIC_STATS_RATE_H
#define CRIC_STATS_RATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct stats_rate_table stats_rate_table;

/* min_window_ns: a sample closer than this to the stored one does not replace
 * it and gets the last computed rate (two callers a few ms apart would
 * otherwise see a noisy rate). */
stats_rate_table *stats_rate_new(int64_t min_window_ns);
void stats_rate_free(stats_rate_table *t);

/* Records the cumulative CPU time cpu_ns at monotonic time mono_ns for key.
 * Returns true with *nano_cores set when a rate is known (from the second
 * sample on). A counter that went backwards (cgroup re-created) restarts. */
bool stats_rate_update(stats_rate_table *t, const char *key, int64_t mono_ns, uint64_t cpu_ns,
                       uint64_t *nano_cores);
void stats_rate_forget(stats_rate_table *t, const char *key);
size_t stats_rate_count(stats_rate_table *t);

#endif
