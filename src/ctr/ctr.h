/* The container service: CRI containers inside pod sandboxes, tying the
 * image service (layers, holds), the pod service (namespaces, cgroup parent,
 * runtime handler), the OCI spec generator (spec.h) and cric-shim
 * (shim_client.h) together.
 *
 * On disk:
 *   <root>/containers/<id>/{upper,work,volumes}  writable layer, image volumes
 *   <state>/containers/<id>/                     bundle (config.json) and the
 *                                                shim's state dir (shim.pid,
 *                                                shim.sock, exit, ...)
 *   <state>/containers/<id>/rootfs               the overlayfs mount
 * The database row (src/store/container_store.c) is written first with state
 * "creating", so a crash half way through Create is cleaned up at start-up.
 *
 * Locking: one table lock (brief, never across I/O) guards the set of
 * containers and their mutable fields; every container has an operation lock
 * that serialises Start/Stop/Remove of that container. Different containers
 * proceed in parallel. An exit is noticed by a watcher thread (one socket per
 * live shim) so Status and List never touch the disk.
 *
 * For the streaming server (exec/attach): ctr_target_lookup below gives the
 * runtime binary, its --root, the bundle's config.json and the shim state
 * directory of a container. */
#ifndef CRIC_CTR_CTR_H
#define CRIC_CTR_CTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cri.pb-c.h"
#include "daemon/config.h"
#include "store/db.h"
#include "util/err.h"

struct image_service;
struct pod_service;
typedef struct ctr_service ctr_service; /* struct ctr_service in daemon.h: d->ctrs */

/* CRI ContainerState values. */
enum { CTR_CREATED = 0, CTR_RUNNING = 1, CTR_EXITED = 2, CTR_UNKNOWN = 3 };

/* Loads the containers from the database, reconnects to their shims (exits
 * that happened meanwhile are read from the exit files), cleans up half-made
 * ones, makes the runtimes usable on this host's cgroup layout and registers
 * the stop/remove hooks with the pod service. */
int ctr_service_new(ctr_service **out, const cric_config *cfg, cric_db *db,
                    struct image_service *images, struct pod_service *pods, cric_err *err);
void ctr_service_free(ctr_service *s);

/* The checks CreateContainer makes before anything else: metadata name,
 * image, log_path (relative to the pod's log directory, never leaving it). */
int ctr_config_validate(const Runtime__V1__ContainerConfig *cfg, cric_err *err);
/* CreateContainer. cfg is the request's config (copied). */
int ctr_create(ctr_service *s, const char *pod_id, const Runtime__V1__ContainerConfig *cfg,
               char id_out[65], cric_err *err);
int ctr_start(ctr_service *s, const char *id, cric_err *err);
/* timeout_s: grace period in seconds (<= 0: kill at once). Missing or exited
 * containers are success. */
int ctr_stop(ctr_service *s, const char *id, int64_t timeout_s, cric_err *err);
/* Stops (kill) if needed, then deletes everything; a missing id is success. */
int ctr_remove(ctr_service *s, const char *id, cric_err *err);
int ctr_reopen_log(ctr_service *s, const char *id, cric_err *err);

/* A snapshot of one container. Strings and config are borrowed from the
 * container's record and stay valid until ctr_info_free / ctr_info_list_free. */
typedef struct ctr_info {
    char id[65], pod_id[65];
    const char *name;
    uint32_t attempt;
    const Runtime__V1__ContainerConfig *config; /* as created */
    const char *image;     /* the user's reference (ContainerConfig.image.image) */
    const char *image_id;  /* "sha256:<hex>" */
    const char *image_ref; /* repo digest when known, else the image id */
    const char *log_path;  /* absolute; "" when the container has no log */
    const char *runtime_handler;
    int state;                                   /* CTR_* */
    int64_t created_at, started_at, finished_at; /* ns */
    int exit_code;
    char reason[32];
    char message[256];
    int pid; /* init pid while created/running, else 0 */
    uint32_t uid, gid;
    int stop_signal;      /* CRI Signal enum value of the signal StopContainer sends first */
    const uint32_t *gids; /* all groups of the first process, primary first */
    size_t n_gids;
    /* current limits: the last UpdateContainerResources, else as created (NULL = none) */
    const Runtime__V1__LinuxContainerResources *resources;
    void *priv_;
} ctr_info;

int ctr_lookup(ctr_service *s, const char *id_or_prefix, ctr_info *out, cric_err *err);
void ctr_info_free(ctr_service *s, ctr_info *c);

typedef struct ctr_filter {
    const char *id;     /* full or prefix; NULL/"" = any */
    const char *pod_id; /* full or prefix; NULL/"" = any */
    bool has_state;
    int state;
    char *const *label_keys, *const *label_values; /* all must match */
    size_t n_labels;
} ctr_filter;
int ctr_list(ctr_service *s, const ctr_filter *f, ctr_info **out, size_t *n, cric_err *err);
void ctr_info_list_free(ctr_service *s, ctr_info *v, size_t n);

/* The listing as one buffer of per-container encodings made by the caller's
 * enc (given a view of the record; it runs under the table lock and must not
 * call into the service): each record keeps its encoding until its state
 * changes, so relisting an unchanged container is a copy. *out is malloc'ed
 * with headroom spare bytes before the *len bytes of the concatenated
 * encodings, in table order; the caller frees it. enc returns -1 when out of
 * memory. */
typedef int (*ctr_encode_fn)(const ctr_info *c, void *user, uint8_t **bytes, size_t *len);
int ctr_list_encoded(ctr_service *s, const ctr_filter *f, ctr_encode_fn enc, void *user,
                     size_t headroom, uint8_t **out, size_t *len, cric_err *err);

/* Verbose status info: {"pid":N,"sandboxID":..,"runtimeSpec":{..},...}; caller frees. */
char *ctr_verbose_json(ctr_service *s, const ctr_info *c);

/* ExecSync. timeout_s 0 = none; on timeout the process is killed and TIMEOUT
 * returned ("command ... timed out"). The command's own failure (including a
 * missing binary) is an exit code, not an error. */
typedef struct ctr_exec_result {
    char *out, *err; /* caller frees; each capped at CTR_EXEC_OUTPUT_MAX */
    size_t out_len, err_len;
    int exit_code;
} ctr_exec_result;
#define CTR_EXEC_OUTPUT_MAX (16u << 20)
int ctr_exec_sync(ctr_service *s, const char *id, char *const *argv, size_t argc, int64_t timeout_s,
                  ctr_exec_result *out, cric_err *err);
void ctr_exec_result_free(ctr_exec_result *r);

/* An interactive exec (the streaming server's) started through cric-enter. */
typedef struct ctr_exec_proc {
    pid_t pid;  /* cric-enter: wait for it, its exit status is the command's */
    int pty_fd; /* tty: the master of a terminal of the container */
    int stdin_fd, stdout_fd, stderr_fd; /* otherwise pipes; stdin only when wanted */
} ctr_exec_proc;

/* Starts argv in the running container the way ExecSync's fast path does,
 * with a new terminal of the container (tty) or pipes. 1: started, and the
 * command was exec'd; 0: the fast path does not apply to this container
 * (*why says why: use the OCI runtime's exec); -1: error (a command that
 * cannot be exec'd is one, with the reason). Blocks briefly. */
int ctr_exec_start(ctr_service *s, const char *id, char *const *argv, size_t argc, bool tty,
                   bool want_stdin, ctr_exec_proc *out, const char **why, cric_err *err);
/* Makes a started exec end: cric-enter kills its command and exits. */
void ctr_exec_kill(pid_t pid);

/* For the streaming server (exec, attach): what it needs to reach a
 * container. Paths are copied into the struct. */
typedef struct ctr_target {
    char id[65];
    char runtime[4096];      /* OCI runtime binary of the container's handler */
    char runtime_root[4096]; /* its --root */
    char config_path[4096];  /* the bundle's config.json */
    char shim_state[4096];   /* the cric-shim state directory */
    int state;               /* CTR_* */
    bool running;
    bool tty, stdin_open;
} ctr_target;
int ctr_target_lookup(ctr_service *s, const char *id_or_prefix, ctr_target *out, cric_err *err);

#endif
