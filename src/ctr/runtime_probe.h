/* Makes the OCI runtime work on this host's cgroup layout.
 *
 * On a hybrid host (v1 controllers plus a cgroup2 mount at <root>/unified)
 * crun 1.8 refuses to run ("cgroups in hybrid mode not supported") as soon as
 * the unified mount holds a controller (here: hugetlb, which has no v1
 * mount). Mounting that controller's v1 hierarchy moves it off the unified
 * mount and crun accepts the layout. runc accepts it either way. */
#ifndef CRIC_CTR_RUNTIME_PROBE_H
#define CRIC_CTR_RUNTIME_PROBE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

#define RUNTIME_PROBE_CGROUP_ROOT "/sys/fs/cgroup"

/* Controllers that sit on the unified mount of a hybrid host, space-separated
 * in out ("" when none, or when the host is pure v1 or pure v2). */
int runtime_probe_unified_controllers(const char *cgroup_root, char *out, size_t cap,
                                      cric_err *err);

/* true when the runtime (by its binary's name) refuses a hybrid layout whose
 * unified mount holds controllers: crun. */
bool runtime_probe_needs_pure_hybrid(const char *runtime_path);

/* Checks that the runtime accepts the layout under cgroup_root and fixes it
 * when it does not, by mounting the v1 hierarchy of each controller on the
 * unified mount at <cgroup_root>/<controller> (each step is logged). Returns
 * 0 when the runtime can be used, -1 with the reason otherwise. */
int runtime_probe_prepare(const char *runtime_path, const char *cgroup_root, cric_err *err);

/* The runtime to use: preferred when runtime_probe_prepare accepts it, else
 * fallback (logged with the reason). NULL when neither works (err set). */
const char *runtime_probe_choose(const char *preferred, const char *fallback,
                                 const char *cgroup_root, cric_err *err);

#endif
