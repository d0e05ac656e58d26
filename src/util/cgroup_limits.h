/* Checks on cgroup limit values that arrive from callers (container and pod
 * resource updates), shared so both say the same thing about the same value. */
#ifndef CRIC_UTIL_CGROUP_LIMITS_H
#define CRIC_UTIL_CGROUP_LIMITS_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

/* "0-3,5": digits, ',' and '-' only, at most 1024 bytes; NULL or "" is fine. */
bool cgroup_cpuset_valid(const char *s);
/* A cgroup v2 file name as a `unified` key ("memory.high"; not "cgroup.*") and
 * a one-line value of at most 4096 bytes. */
bool cgroup_unified_entry_valid(const char *key, const char *value);
/* cpu shares/quota/period in the CRI's units (quota -1 = unlimited; 0 = unset).
 * what names the object in the message ("container 3f2a", "overhead"). */
int cgroup_cpu_check(const char *what, int64_t shares, int64_t quota, int64_t period,
                     cric_err *err);

#endif
