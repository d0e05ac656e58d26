/* Network interface counters of a network namespace (/proc/net/dev as seen
 * from inside it). */
#ifndef CRIC_STATS_NETDEV_H
#define CRIC_STATS_NETDEV_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define STATS_IFNAME_MAX 16
#define STATS_NETDEV_MAX 64 /* interfaces reported per namespace */

typedef struct stats_netdev {
    char name[STATS_IFNAME_MAX];
    uint64_t rx_bytes, rx_errors, tx_bytes, tx_errors;
} stats_netdev;

/* Parses /proc/net/dev text into at most max entries; "lo" is skipped.
 * Returns the number of entries, or -1 on malformed text. */
int stats_netdev_parse(const char *text, stats_netdev *out, size_t max, cric_err *err);

/* Reads the counters inside the namespace pinned at netns_path (a short-lived
 * thread joins it with setns, so the caller's namespace never changes).
 * Returns the number of entries or -1. */
int stats_netdev_read_netns(const char *netns_path, stats_netdev *out, size_t max, cric_err *err);

/* The entry named name (e.g. "eth0"), else the first one, else NULL. */
const stats_netdev *stats_netdev_default(const stats_netdev *devs, size_t n, const char *name);

#endif
