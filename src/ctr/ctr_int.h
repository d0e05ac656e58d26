/* Internals of the container service shared by its source files: the record
 * and table (service.c), persistence (persist.c), the exit watcher
 * (watch.c), the rootfs (rootfs.c), OCI runtime commands (runtime_cmd.c),
 * create (create.c), start/stop/remove (lifecycle.c), ExecSync
 * (exec_sync.c) and start-up recovery (recover.c). See ctr.h for locking. */
#ifndef CRIC_CTR_CTR_INT_H
#define CRIC_CTR_CTR_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ctr/ctr.h"
#include "ctr/ctr_observe.h"
#include "ctr/shim_client.h"
#include "ctr/spec.h"
#include "pod/cgroup.h"
#include "util/sealed_exe.h"

typedef struct ctr_rec {
    /* immutable once published */
    char id[65], pod_id[65];
    char *name;
    uint32_t attempt;
    Runtime__V1__ContainerConfig *config; /* unpacked copy */
    uint8_t *config_bin;                  /* packed, for the database */
    size_t config_len;
    char *image, *image_id, *image_ref;
    char *handler, *runtime, *runtime_root;
    sealed_exes *exes; /* the service's; runtime calls start from a sealed copy */
    char *log_path;
    char *bundle; /* <state>/containers/<id>: also the shim's state dir */
    char *rootfs; /* <bundle>/rootfs */
    char *wdir;   /* <root>/containers/<id> */
    int stop_signal;
    uint32_t uid, gid;
    uint32_t *gids; /* primary first, then /etc/group and configured groups */
    size_t n_gids;
    int64_t created_at;

    /* table lock */
    int state; /* CTR_* or CTR_CREATING while hidden */
    int64_t started_at, finished_at;
    int exit_code;
    char reason[32];
    char message[256];
    int pid;
    bool removed;
    bool removing; /* recorded before a removal tears anything down: a start
                    * after a crash finishes the removal */
    bool watched;
    /* UpdateContainerResources (observe.c): every version, the last one is
     * current; kept until the record goes so snapshots may borrow them */
    Runtime__V1__LinuxContainerResources **res_history;
    size_t n_res_history;
    unsigned events_sent; /* observe.c: bit per event type, under event_mu */
    unsigned refs;
    /* ctr_list_encoded: the caller's encoding of the listing entry, made in
     * state listed_state (table lock) */
    uint8_t *listed;
    size_t listed_len;
    int listed_state;

    pthread_mutex_t op_mu; /* Start/Stop/Remove of this container */
    pthread_mutex_t spec_mu;
    json_t *spec; /* config.json, loaded on first ExecSync (spec_mu) */
    /* ExecSync fast path (exec_plan.c, spec_mu): 0 not decided, 1 plan_path
     * written, -1 not applicable (plan_why) */
    int plan_state;
    char *plan_path, *plan_why;
    struct enter_plan *plan; /* the same plan parsed, for enter_direct.c */
} ctr_rec;

#define CTR_CREATING 100 /* persisted before anything is made on disk */

struct ctr_service {
    const cric_config *cfg;
    cric_db *db;
    struct image_service *images;
    struct pod_service *pods;
    char *state_dir; /* <state>/containers */
    char *root_dir;  /* <root>/containers */
    char *exec_dir;  /* <state>/exec-sync */
    char shim_path[4096];
    char enter_path[4096]; /* cric-enter; "" when not found (ExecSync uses the runtime) */
    ctr_host_facts host;
    cgroup_mounts cg;
    char *memory_mount; /* v1 memory hierarchy or the v2 mount; NULL = none */
    sealed_exes *exes;  /* sealed copies of the runtime binaries (util/sealed_exe.h) */

    pthread_mutex_t mu; /* the table and records' mutable fields */
    ctr_rec **items;
    size_t n, cap;

    pthread_mutex_t persist_mu; /* orders the database writes */

    /* enter_direct.c: child stacks kept for the next ExecSync (a fresh
     * mapping costs page faults and its unmapping a TLB shootdown) */
    pthread_mutex_t stacks_mu;
    void *stacks[8];
    size_t n_stacks;
    int own_pidns; /* our PID namespace: where a direct exec's thread returns */

    /* watch.c */
    int epfd, wake_fd;
    struct watch_item *watch_items;
    pthread_t watch_thread;
    bool watch_running;

    /* observe.c: lifecycle notifications, in order per container */
    ctr_event_hook event_hook;
    void *event_ctx;
    pthread_mutex_t event_mu; /* initialised by ctr_service_set_event_hook */
};

int64_t ctr_now_ns(void);

/* service.c */
ctr_rec *ctr_rec_new(ctr_service *s);
void ctr_rec_unref(ctr_service *s, ctr_rec *r);               /* takes s->mu */
void ctr_rec_unref_locked(ctr_rec *r);                        /* s->mu held */
int ctr_table_add(ctr_service *s, ctr_rec *r, cric_err *err); /* s->mu held */
void ctr_table_del(ctr_service *s, ctr_rec *r);               /* s->mu held */
/* Finds a published container by id or unique prefix and takes a ref. */
int ctr_get(ctr_service *s, const char *id, ctr_rec **out, cric_err *err);
/* Marks the container exited with what the shim recorded (or lost). s->mu not held. */
void ctr_set_exited(ctr_service *s, ctr_rec *r, const struct shim_exit *ex, const char *message);
const char *ctr_runtime_for_handler(ctr_service *s, const char *handler, const char **root);

/* persist.c */
int ctr_persist(ctr_service *s, ctr_rec *r, cric_err *err);
int ctr_unpersist(ctr_service *s, ctr_rec *r, cric_err *err);
int ctr_load_all(ctr_service *s, cric_err *err);

/* watch.c */
int ctr_watch_start(ctr_service *s, cric_err *err);
void ctr_watch_stop(ctr_service *s);
/* Watches a live shim for the container's exit (takes a ref). */
void ctr_watch_add(ctr_service *s, ctr_rec *r);

/* rootfs.c */
int ctr_rootfs_mount(const ctr_rec *r, char *const *layer_dirs, size_t n_layers, cric_err *err);
int ctr_rootfs_unmount(const ctr_rec *r, cric_err *err);

/* runtime_cmd.c: fork+exec with stdio (fd0 < 0: /dev/null), default signal
 * dispositions and an empty mask (the daemon's other fds are close-on-exec). */
/* Runs argv (argv[0] looked up in PATH), or the executable exe with argv
 * when exe is not NULL. */
int ctr_spawn(const char *exe, const char *const *argv, int fd0, int fd1, int fd2, pid_t *pid,
              cric_err *err);
/* runtime_cmd.c: runs `<runtime> [--root R] args...`, stderr in the error. */
int ctr_runtime_run(const ctr_rec *r, const char *const *args, size_t nargs, cric_err *err);

/* exec_sync.c: loads r->spec if not yet loaded; r->spec_mu held. */
int ctr_spec_load_locked(ctr_rec *r, cric_err *err);

/* exec_plan.c: the fast path's plan for r. 1: *plan_path and the parsed
 * *plan (owned by r, never modified); 0: runtime exec, *why says why; -1:
 * error. */
struct enter_plan;
int ctr_exec_plan_get(ctr_service *s, ctr_rec *r, const char **plan_path,
                      const struct enter_plan **plan, const char **why, cric_err *err);

/* enter_spawn.c: cric-enter with stdio[0..2] (-1: /dev/null), the report
 * pipe and, for a terminal, the console socket (-1: none). */
int ctr_enter_spawn(ctr_service *s, ctr_rec *r, pid_t init_pid, const char *plan, char *const *argv,
                    size_t argc, const int stdio[3], int report_w, int console, pid_t *pid,
                    cric_err *err);
/* enter_direct.c: ExecSync's command started by the daemon itself, without
 * cric-enter's exec (same steps, src/enter/enter_core.h); stdio as for
 * ctr_enter_spawn; report_w: the report pipe's write end (a setup or exec
 * failure of the command is reported there, as by cric-enter). 1: started,
 * *pid is the command, our child, in a process group of its own; 0: not
 * applicable here (*why), use cric-enter; -1: error. */
int ctr_enter_direct(ctr_service *s, ctr_rec *r, pid_t init_pid, const struct enter_plan *plan,
                     char *const *argv, size_t argc, const int stdio[3], int report_w, pid_t *pid,
                     const char **why, cric_err *err);
/* enter_direct.c: unmaps the kept child stacks. */
void ctr_enter_direct_stacks_free(ctr_service *s);
/* enter_spawn.c: what both exec paths start from: a pidfd pinning the
 * running container's init (PRECONDITION when it is not running) and the
 * cgroup.procs of its hierarchies (a NULL-terminated list: cleanup_strvp). */
int ctr_enter_target(ctr_service *s, ctr_rec *r, pid_t init_pid, int *pidfd, char ***cg,
                     size_t *ncg, cric_err *err);
/* enter_spawn.c: the cgroup.procs of every hierarchy pid is in (a
 * NULL-terminated list: cleanup_strvp). */
int ctr_cgroup_procs(ctr_service *s, pid_t pid, char ***out, size_t *n, cric_err *err);
/* enter_spawn.c: 1 to 4096 arguments, the first not empty, each a UTF-8
 * string of bounded length (both exec paths write them as JSON). */
int ctr_exec_args_check(char *const *argv, size_t argc, cric_err *err);

/* lifecycle.c */
int ctr_kill_wait(ctr_service *s, ctr_rec *r, int64_t timeout_s, cric_err *err);
/* Stop/Remove of a record (ctr_stop/ctr_remove after the lookup); both take
 * the operation lock, so they wait for a create in progress. */
int ctr_stop_rec(ctr_service *s, ctr_rec *r, int64_t timeout_s, cric_err *err);
int ctr_remove_rec(ctr_service *s, ctr_rec *r, cric_err *err);
/* Deletes everything of a container (runtime state, mounts, dirs, hold, row). */
int ctr_destroy(ctr_service *s, ctr_rec *r, cric_err *err);

/* observe.c */
/* Publishes a lifecycle event (0 created, 1 started, 2 stopped, 3 deleted)
 * once per container and in order; no table lock held. */
void ctr_event(ctr_service *s, int type, ctr_rec *r);
int ctr_resources_record(ctr_rec *r, const Runtime__V1__LinuxContainerResources *res);
const Runtime__V1__LinuxContainerResources *ctr_resources_current(const ctr_rec *r);
void ctr_resources_free(ctr_rec *r);
char *ctr_resources_hex(const ctr_rec *r); /* NULL when never updated */
int ctr_resources_from_hex(ctr_rec *r, const char *hex);

/* recover.c */
int ctr_recover_one(ctr_service *s, ctr_rec *r);

#endif
