/* Pod sandboxes: the environment containers of one pod share (network, IPC
 * and UTS namespaces pinned by bind mounts, an optional shared PID namespace
 * held by the cric-pause infra process, hostname/hosts/resolv.conf files, a
 * sized /dev/shm, sysctls, the pod cgroup and the CNI network).
 *
 * Locking: every sandbox has an operation lock that serialises Run's final
 * step, Stop and Remove of that sandbox; the service has one table lock that
 * guards the set of sandboxes and their mutable fields and is only ever held
 * briefly (never across I/O, never while calling out). Lock order: sandbox
 * operation lock, then table lock. The container hooks are called with the
 * sandbox's operation lock held and no table lock: they may call pod_lookup
 * and pod_list (which take only the table lock) but must not call
 * pod_stop/pod_remove for the same sandbox. */
#ifndef CRIC_POD_POD_H
#define CRIC_POD_POD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/config.h"
#include "store/db.h"
#include "util/err.h"

typedef struct pod_service pod_service; /* struct pod_service in daemon.h: d->pods */

/* CRI NamespaceMode values. */
enum { POD_NS_POD = 0, POD_NS_CONTAINER = 1, POD_NS_NODE = 2, POD_NS_TARGET = 3 };
/* CRI PodSandboxState values. */
enum { POD_STATE_READY = 0, POD_STATE_NOTREADY = 1 };
/* CRI SecurityProfile.ProfileType values. */
enum { POD_SECCOMP_RUNTIME_DEFAULT = 0, POD_SECCOMP_UNCONFINED = 1, POD_SECCOMP_LOCALHOST = 2 };

typedef struct pod_kv {
    const char *key, *value;
} pod_kv;

typedef struct pod_port {
    int protocol; /* 0 tcp, 1 udp, 2 sctp (CRI Protocol) */
    int32_t container_port, host_port;
    const char *host_ip; /* "" = any */
} pod_port;

/* LinuxContainerResources; 0 / NULL means unset. */
typedef struct pod_resources {
    int64_t cpu_period, cpu_quota, cpu_shares, memory_limit;
    const char *cpuset_cpus, *cpuset_mems;
    pod_kv *unified;
    size_t n_unified;
} pod_resources;

/* A RunPodSandbox request in plain C: strings are borrowed from the caller
 * (the decoded protobuf) for the duration of pod_run. */
typedef struct pod_config {
    const char *name, *namespace_, *uid;
    uint32_t attempt;
    const char *hostname, *log_directory;
    const char **dns_servers, **dns_searches, **dns_options;
    size_t n_dns_servers, n_dns_searches, n_dns_options;
    bool has_dns;
    pod_port *ports;
    size_t n_ports;
    pod_kv *labels, *annotations, *sysctls;
    size_t n_labels, n_annotations, n_sysctls;
    const char *cgroup_parent;
    int net_mode, pid_mode, ipc_mode;
    const char *target_id;
    bool privileged, readonly_rootfs;
    bool has_run_as_user, has_run_as_group;
    int64_t run_as_user, run_as_group;
    int64_t *supplemental_groups;
    size_t n_supplemental_groups;
    int seccomp_type;
    const char *seccomp_ref;
    const pod_resources *overhead, *resources; /* NULL when not given */
    const char *runtime_handler;               /* "" = default */
    const char *pod_cidr; /* UpdateRuntimeConfig's CIDR(s), comma-separated; "" = none */
} pod_config;

typedef struct pod_info { /* a snapshot copy; caller frees with pod_info_free */
    char id[65];
    char *name, *namespace_, *uid;
    uint32_t attempt;
    bool ready;                       /* READY vs NOTREADY */
    bool removing;                    /* RemovePodSandbox began releasing it */
    int64_t created_at;               /* ns since the epoch */
    char *runtime_handler;            /* resolved handler name */
    int net_mode, ipc_mode, pid_mode; /* POD_NS_* */
    char *target_id;
    char *netns_path, *ipcns_path, *utsns_path; /* "" when the host's namespace is used */
    char *pidns_path; /* POD mode: pinned pid namespace of the infra process, else "" */
    int infra_pid;    /* POD pid mode: the infra process (host pid), else 0 */
    char *hostname, *hostname_path, *hosts_path, *resolv_path, *shm_path; /* shm "" = host IPC */
    char *cgroup_parent; /* as given (cgroupfs path) */
    char *log_directory;
    char *sandbox_dir; /* <state>/sandboxes/<id> */
    char **sysctl_keys, **sysctl_values;
    size_t n_sysctls;
    char **label_keys, **label_values;
    size_t n_labels;
    char **annotation_keys, **annotation_values;
    size_t n_annotations;
    char **ips; /* ips[0] is the primary pod IP; none for host network or once stopped */
    size_t n_ips;
    bool privileged, readonly_rootfs;
    bool has_run_as_user, has_run_as_group;
    int64_t run_as_user, run_as_group;
    int64_t *supplemental_groups;
    size_t n_supplemental_groups;
    int seccomp_type;
    char *seccomp_ref;
} pod_info;

int pod_service_new(pod_service **out, const cric_config *cfg, cric_db *db, cric_err *err);
void pod_service_free(pod_service *s);

/* RunPodSandbox: returns once the sandbox is ready; on failure everything done
 * so far is undone and err names the failed step. */
int pod_run(pod_service *s, const pod_config *cfg, char id_out[65], cric_err *err);
/* StopPodSandbox: idempotent; an unknown id is success. */
int pod_stop(pod_service *s, const char *id_or_prefix, cric_err *err);
/* RemovePodSandbox: stops if needed, then deletes everything; unknown id is success. */
int pod_remove(pod_service *s, const char *id_or_prefix, cric_err *err);

int pod_lookup(pod_service *s, const char *id_or_prefix, pod_info **out, cric_err *err);
void pod_info_free(pod_info *p);

typedef struct pod_filter {
    const char *id; /* full or prefix; NULL/"" = any */
    bool has_state;
    int state; /* POD_STATE_* */
    pod_kv *labels;
    size_t n_labels;
} pod_filter;
/* Snapshots of the matching sandboxes, oldest first; free with pod_info_list_free. */
int pod_list(pod_service *s, const pod_filter *f, pod_info ***out, size_t *n, cric_err *err);
void pod_info_list_free(pod_info **list, size_t n);
/* True when every selector pair is among the labels (exact match). */
bool pod_labels_match(const pod_kv *selector, size_t n_selector, char *const *keys,
                      char *const *values, size_t n_labels);

/* Verbose status info (JSON object text, caller frees). */
char *pod_verbose_json(pod_service *s, const pod_info *p);

/* StopPodSandbox/RemovePodSandbox stop/remove the pod's containers first through
 * these hooks, registered by the containers service at start-up. They run with
 * the sandbox's operation lock held and no table lock (see the top of this file). */
typedef int (*pod_containers_hook)(void *ctx, const char *pod_id, cric_err *err);
void pod_service_set_container_hooks(pod_service *s, pod_containers_hook stop_all,
                                     pod_containers_hook remove_all, void *ctx);

/* Sandbox lifecycle notifications for GetContainerEvents: type is the CRI
 * ContainerEventType (0 created, 1 started, 2 stopped, 3 deleted). Called after
 * the step succeeded, with the sandbox's operation lock held (so one sandbox's
 * events come in order) and no table lock: it may call pod_lookup. */
typedef void (*pod_event_hook)(void *ctx, int type, const char *pod_id);
void pod_service_set_event_hook(pod_service *s, pod_event_hook fn, void *ctx);

/* UpdatePodSandboxResources: writes overhead + resources (either may be NULL)
 * to the pod cgroup. A sandbox without a cgroup parent has nothing to update. */
int pod_update_resources(pod_service *s, const char *id_or_prefix, const pod_resources *overhead,
                         const pod_resources *resources, cric_err *err);

#endif
