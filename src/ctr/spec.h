/* OCI runtime spec (config.json) generation for one CRI container.
 *
 * ctr_spec_build turns a CRI ContainerConfig, the facts of its sandbox, the
 * image's config and the container's rootfs into an OCI runtime spec the way
 * the kubelet expects from containerd: command/args merged with the image's
 * Entrypoint/Cmd, env, working dir, user and groups resolved in the image's
 * /etc/passwd and /etc/group (read without leaving the rootfs), mounts,
 * devices, namespaces joined by path, resources, cgroupsPath, capabilities,
 * privileged mode, masked/readonly paths, seccomp (RuntimeDefault, Localhost,
 * Unconfined), AppArmor, sysctls and the io.kubernetes.cri.* annotations.
 *
 * It creates nothing on disk: directories that must exist before the OCI
 * runtime's create (missing bind-mount sources, image volume dirs) are
 * returned in ctr_spec_extra for the caller to create. Pure apart from
 * reading the rootfs, stat(2) of device nodes and bind sources, and
 * Localhost seccomp profile files. Thread-safe (no global state).
 *
 * Typical use in CreateContainer (after the rootfs is mounted):
 *   ctr_host_facts host;            // once, at service start, after any
 *   ctr_host_facts_detect(&host);   // cgroup fix-up (hugetlb v1 for crun)
 *   ctr_spec_input in = {.cfg = req->config, .image_config = cfg_obj, ...};
 *   json_t *spec; ctr_spec_extra x;
 *   if (ctr_spec_build(&in, &spec, &x, err) || ctr_spec_create_dirs(&x, rootfs, err)) ...
 *   write json_dumps(spec) to <bundle>/config.json atomically; keep x.uid/x.gid/
 *   x.additional_gids (ContainerStatus.user), x.stop_signal (StopContainer),
 *   x.cgroups_path (stats); ExecSync: ctr_spec_exec_process(spec, argv, ...).
 * Errors name the container id and the field at fault. */
#ifndef CRIC_CTR_SPEC_H
#define CRIC_CTR_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cri.pb-c.h"
#include "ctr/caps.h"
#include "util/err.h"

typedef enum {
    CTR_CGROUP_V1 = 1,     /* legacy: only v1 hierarchies */
    CTR_CGROUP_HYBRID = 2, /* v1 controllers plus a v2 mount at /sys/fs/cgroup/unified */
    CTR_CGROUP_V2 = 3,     /* unified */
} ctr_cgroup_layout;

/* Facts about the host the daemon detects once (ctr_host_facts_detect) and
 * passes to every ctr_spec_build. */
typedef struct ctr_host_facts {
    ctr_cgroup_layout cgroup_layout;
    bool swap_limit; /* memory.memsw (v1) / memory.swap.max (v2) exists */
    bool apparmor;   /* /sys/module/apparmor/parameters/enabled is "Y" */
    bool hugetlb;    /* the runtime can set hugetlb limits: a v1 hugetlb hierarchy (v1/hybrid)
                        or hugetlb in cgroup.controllers (v2); detect after any cgroup layout
                        fix-up such as mounting the hugetlb v1 hierarchy */
    ctr_capset cap_bounding; /* the daemon's bounding set: what "ALL"/privileged can grant */
    int oom_score_adj_floor; /* the daemon's own oom_score_adj: lower values need
                                CAP_SYS_RESOURCE, so requests are clamped to it */
} ctr_host_facts;

/* Reads /proc/self/status, /proc/self/oom_score_adj, /sys/fs/cgroup and
 * /sys/module/apparmor. Never fails on a missing file (defaults: v1, no swap
 * accounting, no AppArmor, the default capability set, floor 0). */
void ctr_host_facts_detect(ctr_host_facts *out);

/* The sandbox the container joins (strings borrowed; NULL is treated as ""). */
typedef struct ctr_spec_sandbox {
    const char *id;                      /* 64-hex sandbox id */
    const char *name, *namespace_, *uid; /* pod metadata, for annotations */
    const char *netns_path;              /* "" = host network namespace */
    const char *ipcns_path;              /* "" = host IPC namespace */
    const char *utsns_path;              /* "" = host UTS namespace (no hostname set) */
    const char *pidns_path;              /* pod's shared PID namespace; "" = none */
    int pid_mode;                        /* the pod's CRI NamespaceMode for PID (NODE = host) */
    const char *hostname;                /* the pod's hostname; "" = the node's */
    const char *hostname_path, *hosts_path, *resolv_path; /* "" = not mounted */
    const char *shm_path;                                 /* "" = the host's /dev/shm (host IPC) */
    const char *cgroup_parent;                            /* cgroupfs path; "" = "/cric" */
    char *const *sysctl_keys;                             /* pod sysctls, n_sysctls each */
    char *const *sysctl_values;
    size_t n_sysctls;
    bool privileged;                    /* the pod allows privileged containers */
    const int64_t *supplemental_groups; /* the pod's, merged after the container's */
    size_t n_supplemental_groups;
} ctr_spec_sandbox;

typedef struct ctr_spec_input {
    const Runtime__V1__ContainerConfig *cfg; /* required */
    const json_t *image_config;      /* the "config" object of the OCI image config; NULL = empty */
    const char *image_name;          /* annotation io.kubernetes.cri.image-name ("" if unknown) */
    const char *rootfs;              /* absolute path of the prepared rootfs (root.path) */
    const char *container_id;        /* 64-hex id */
    const char *volumes_dir;         /* host dir under which image volumes get one empty dir each;
                                        NULL/"" = the volume paths are created inside the rootfs */
    const char *target_pidns_path;   /* PID mode TARGET: the target container's pid ns path */
    const ctr_spec_sandbox *sandbox; /* required */
    const ctr_host_facts *host;      /* required */
    int64_t pids_limit;              /* linux.resources.pids.limit; 0 = none */
    const char *apparmor_default_profile; /* loaded profile used for RuntimeDefault;
                                             NULL/"" = RuntimeDefault sets none */
    const char *mountinfo_path;           /* NULL = /proc/self/mountinfo (tests point elsewhere) */
} ctr_spec_input;

/* A directory the caller must create (mode 0755, with parents) before the
 * OCI runtime create. */
typedef struct ctr_spec_dir {
    char *path;
    bool in_rootfs; /* path is relative to the rootfs (resolve it inside, never follow
                       symlinks out); false = absolute host path */
} ctr_spec_dir;

typedef struct ctr_spec_extra {
    uint32_t uid, gid;         /* resolved user of the first process */
    uint32_t *additional_gids; /* primary gid first, then /etc/group, then configured */
    size_t n_additional_gids;
    int stop_signal;      /* kernel signal number: config, else image StopSignal, else SIGTERM */
    char *cgroups_path;   /* as written to linux.cgroupsPath */
    ctr_spec_dir *mkdirs; /* directories to create before create */
    size_t n_mkdirs;
    char **image_volumes; /* container paths of image volumes backed by empty dirs */
    size_t n_image_volumes;
    bool privileged;
} ctr_spec_extra;

/* Builds the spec. On success *spec is a new reference the caller owns and
 * *out_extras is filled (free with ctr_spec_extra_free). On failure -1, err
 * set (INVALID for bad input, NOT_FOUND for an unknown user/group or device,
 * PRECONDITION for privileged without a privileged sandbox), nothing to free. */
int ctr_spec_build(const ctr_spec_input *in, json_t **spec, ctr_spec_extra *out_extras,
                   cric_err *err);

void ctr_spec_extra_free(ctr_spec_extra *x);

/* Creates x->mkdirs (mode 0755, with parents): host paths as given, rootfs
 * paths resolved with rootfs as "/" so no symlink in the image can lead the
 * creation outside it. Existing directories are fine. */
int ctr_spec_create_dirs(const ctr_spec_extra *x, const char *rootfs, cric_err *err);

/* The process object for `runc/crun exec --process` (or an exec fast path):
 * the container's process (env, cwd, user and groups, capabilities,
 * noNewPrivileges, apparmorProfile, oomScoreAdj, rlimits) with argv as args
 * and terminal = tty. The container's seccomp filter, namespaces and cgroup
 * come from the container itself. *out is a new reference. */
int ctr_spec_exec_process(const json_t *spec, char *const *argv, size_t argc, bool tty,
                          json_t **out, cric_err *err);

/* CRI Signal enum value -> kernel signal number; 0 for SIGNAL_RUNTIME_DEFAULT,
 * -1 when unknown. */
int ctr_signal_from_cri(int cri_signal);
/* "SIGTERM", "TERM", "15", "SIGRTMIN+3" -> number; -1 when invalid. */
int ctr_signal_parse(const char *s);

#endif
