/* The pod cgroup (cgroupfs driver): the directory named by cgroup_parent
 * under every v1 hierarchy and under the v2 mount, so v1, hybrid and pure v2
 * hosts all work. Only directories cric created are removed again. */
#ifndef CRIC_POD_CGROUP_H
#define CRIC_POD_CGROUP_H

#include <stddef.h>
#include <sys/types.h>

#include "pod/pod.h"
#include "util/err.h"

#define CGROUP_MAX_MOUNTS 32

typedef struct cgroup_mounts {
    char *v1[CGROUP_MAX_MOUNTS];       /* mount points of v1 hierarchies */
    char *v1_ctrls[CGROUP_MAX_MOUNTS]; /* their controllers, "cpu,cpuacct" / "name=systemd" */
    size_t n_v1;
    char *v2; /* the cgroup2 mount point or NULL */
} cgroup_mounts;

/* Parses /proc/self/mountinfo text. */
int cgroup_parse_mountinfo(const char *text, cgroup_mounts *m, cric_err *err);
int cgroup_mounts_detect(cgroup_mounts *m, cric_err *err);
void cgroup_mounts_free(cgroup_mounts *m);

/* Validates cgroup_parent and turns it into a relative path "a/b/c". A
 * systemd slice name ("kubepods-burstable-pod1.slice") is expanded to its
 * cgroupfs path ("kubepods.slice/kubepods-burstable.slice/..."). */
int cgroup_parent_relpath(const char *parent, char *buf, size_t size, cric_err *err);

/* The directories of rel under each hierarchy (v1 first, then v2). */
int cgroup_dirs(const cgroup_mounts *m, const char *rel, char ***dirs, size_t *n, cric_err *err);

/* mkdir -p of rel under every hierarchy; *created lists the directories that
 * did not exist before, in creation order (caller frees the strv). */
int cgroup_create(const cgroup_mounts *m, const char *rel, char ***created, size_t *n,
                  cric_err *err);
/* What cgroup_create would make now: the directories that do not exist. */
int cgroup_missing(const cgroup_mounts *m, const char *rel, char ***missing, size_t *n,
                   cric_err *err);
/* Applies overhead + resources (either may be NULL). */
int cgroup_apply(const cgroup_mounts *m, const char *rel, const pod_resources *overhead,
                 const pod_resources *res, cric_err *err);
int cgroup_add_pid(const cgroup_mounts *m, const char *rel, pid_t pid, cric_err *err);
/* rmdir of the created directories, newest first; missing ones are fine. A
 * directory that still holds another cgroup (a second pod under a parent the
 * first one created) is not an error: it is left and, when shared is not
 * NULL, added to shared[*n_shared] (room for n entries), for a later
 * cgroup_sweep_shared. */
int cgroup_remove(char *const *created, size_t n, const char **shared, size_t *n_shared,
                  cric_err *err);
/* The directories listed in the file list_path (one per line, all under
 * /sys/fs/cgroup) plus add[0..n_add) are removed where nothing uses them any
 * more; the rest is written back (the file is removed when none is left).
 * Serialized by a lock on the file. */
int cgroup_sweep_shared(const char *list_path, const char *const *add, size_t n_add, cric_err *err);

/* cgroup v2 cpu.weight for v1 cpu.shares (as runc converts). */
unsigned long long cgroup_shares_to_weight(unsigned long long shares);

#endif
