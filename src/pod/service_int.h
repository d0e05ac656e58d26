/* Internals of the pod service shared by its source files: the sandbox
 * table (table.c), the setup steps of RunPodSandbox (sandbox_new.c, setup.c),
 * their idempotent undo (teardown.c) and the public entry points (service.c).
 * See pod.h for the locking rules. */
#ifndef CRIC_POD_SERVICE_INT_H
#define CRIC_POD_SERVICE_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "pod/cgroup.h"
#include "pod/cni.h"
#include "pod/pod.h"

#define SHM_DEFAULT_SIZE (64ull << 20)
#define CNI_TIMEOUT_MS 60000

typedef struct sandbox {
    pod_info *info;        /* mutable fields guarded by the table lock */
    pthread_mutex_t op_mu; /* serialises Stop/Remove of this sandbox */
    unsigned refs;         /* table lock */
    bool creating;         /* hidden until RunPodSandbox finishes */
    bool removed;
    unsigned long long infra_start; /* table lock; kernel start time of infra_pid */
} sandbox;

struct pod_service {
    const cric_config *cfg;
    cric_db *db;
    char *dir; /* <state>/sandboxes */
    char *pause_bin;
    cgroup_mounts cg;
    pthread_mutex_t mu;
    sandbox **items;
    size_t n, cap;
    pod_containers_hook stop_all, remove_all;
    void *hook_ctx;
    unsigned inflight;  /* Run/Stop/Remove calls running (mu); shut-down waits */
    pthread_cond_t idle; /* signalled when inflight drops to 0 */
    pod_event_hook event_hook; /* set once at start-up, before any RPC */
    void *event_ctx;
};

int64_t pods_now_ns(void);
double pods_mono_ms(void);

/* table.c: the sandbox table (callers hold s->mu where noted) */
sandbox *pods_sb_new(pod_info *info);
void pods_sb_free(sandbox *sb);
void pods_sb_unref(pod_service *s, sandbox *sb);
int pods_table_add(pod_service *s, sandbox *sb);                                   /* s->mu held */
void pods_table_del(pod_service *s, sandbox *sb);                                  /* s->mu held */
int pods_table_find(pod_service *s, const char *id, sandbox **out, cric_err *err); /* s->mu */
int pods_get(pod_service *s, const char *id, sandbox **out, cric_err *err);        /* +ref */
int pods_persist(pod_service *s, sandbox *sb, cric_err *err);
void pods_set_ready(pod_service *s, sandbox *sb, bool ready);
void pods_path(const pod_info *p, const char *name, char *buf, size_t size);
/* Atomic replace (temporary name + rename) without fsync: for state files. */
/* Reads <sandbox>/infra ("pid starttime"); -1 when there is none. */
int pods_read_infra(const pod_info *p, int *pid, unsigned long long *start);
/* s->mu held: a READY sandbox whose infra process died is NOTREADY (its
 * containers died with their PID namespace). */
void pods_refresh(pod_service *s, sandbox *sb);
int pods_write_state(const char *path, const char *text, mode_t mode, cric_err *err);

/* sandbox_new.c: validation and the new sandbox's snapshot */
int pods_validate(pod_service *s, const pod_config *c, const char **handler, cric_err *err);
pod_info *pods_info_new(pod_service *s, const pod_config *c, const char *id, const char *handler);

/* setup.c: every RunPodSandbox step after the sandbox is in the table */
int pods_run_steps(pod_service *s, sandbox *sb, const pod_config *c, cric_err *err);

/* teardown.c: idempotent undo driven by what is on disk */
void pods_fill_runtime(const pod_service *s, const pod_info *p, json_t *cache, cni_runtime *rt);
int pods_release_runtime(pod_service *s, const pod_info *p, cric_err *err); /* Stop */
int pods_release_all(pod_service *s, const pod_info *p, cric_err *err);     /* Remove */

/* Tells the event hook (if any); the sandbox's operation lock is held. */
void pods_event(pod_service *s, int type, const char *id);

#endif
