/* The daemon's side of cric-shim (src/shim): launch a shim for a container,
 * talk to it over its socket, and read what it leaves in the container's state
 * directory. Blocking calls, safe to use from any worker thread (no shared
 * state; every call opens its own connection). The wire protocol and the state
 * directory layout are documented in src/shim/protocol.h.
 *
 * Typical use by the container service:
 *   shim_launch(&opts, &init_pid, &err)      CreateContainer (runtime create)
 *   shim_mark_starting, `runtime start`      StartContainer
 *   shim_reopen_log                          ReopenContainerLog
 *   shim_attach_connect -> fd                Attach (the streaming server owns the fd)
 *   shim_check / shim_read_exit              Status, List, restart recovery
 *   `runtime delete`, remove the state dir   RemoveContainer
 * Errors are returned as -1 with err naming the container and the cause. */
#ifndef CRIC_CTR_SHIM_CLIENT_H
#define CRIC_CTR_SHIM_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

struct shim_launch_opts {
    const char *shim_path;     /* NULL: shim_default_path() */
    const char *id;            /* container id; also the runtime's container id */
    const char *bundle;        /* absolute; holds config.json */
    const char *state_dir;     /* absolute, existing; the shim's files go here */
    const char *runtime_path;  /* OCI runtime binary (absolute, or a name in PATH) */
    const char *runtime_root;  /* NULL or "": the runtime's default --root */
    const char *log_path;      /* absolute CRI log file; NULL: no log */
    const char *memory_cgroup; /* the container's memory cgroup directory for OOM
                                  detection: <memory v1 mount>/<cgroupsPath> on v1 and
                                  hybrid hosts, <v2 mount>/<cgroupsPath> on pure v2
                                  (mounts: cgroup_mounts_detect in src/pod/cgroup.h);
                                  NULL: OOM kills are not detected */
    bool tty;
    bool stdin_open;
    bool stdin_once;
    int timeout_ms; /* for the whole create; 0: 60 s. On timeout the shim is killed. */
    bool has_runtime_fd;
    int runtime_fd; /* a sealed copy of the runtime (util/sealed_exe.h) the shim execs */
};

/* Starts a detached shim that runs `runtime create`; returns once the
 * container is created (state CREATED) with its init pid, or fails with the
 * runtime's own error text ("container 3f2a: crun create: exit 1: ..."). */
int shim_launch(const struct shim_launch_opts *opts, pid_t *init_pid, cric_err *err);

/* What the shim records when the container's init has exited. Times are Unix
 * nanoseconds, 0 when unknown. exit_code is 128+signal after a signal. */
struct shim_exit {
    pid_t pid;
    int exit_code;
    int signal;
    bool oom_killed;
    int64_t created_at;
    int64_t started_at;
    int64_t finished_at;
};

/* Reads <state_dir>/exit. NOT_FOUND when the container has not exited (or its
 * shim died before writing it: see shim_check). */
int shim_read_exit(const char *state_dir, struct shim_exit *out, cric_err *err);

enum shim_liveness {
    SHIM_ALIVE,  /* the shim process runs (container created or running) */
    SHIM_EXITED, /* the container exited; the exit file is there */
    SHIM_LOST,   /* no live shim and no exit file (shim killed, or never started) */
};

/* Tells a live shim from a dead one after a daemon restart: the pid in
 * shim.pid must exist with the recorded start time (a recycled pid does not
 * match). *shim_pid (optional) gets the pid when known. */
enum shim_liveness shim_check(const char *state_dir, pid_t *shim_pid);
/* Waits until the shim process itself is gone (it writes the exit file
 * before its last flush). One still there after timeout_ms is killed, and
 * the answer is false. */
bool shim_wait_gone(const char *state_dir, int timeout_ms);

/* SIGKILL to a live shim's process group: the shim, the runtime it runs and
 * a container it is creating (a create that is being undone). */
void shim_kill_group(const char *state_dir);

/* Records the start time and marks the container running. Call it right
 * before `runtime start` (a container that exits at once would otherwise
 * race the call); when the start fails, disregard started_at. */
int shim_mark_starting(const char *state_dir, cric_err *err);

/* Reopens the CRI log file; PRECONDITION error when the container is not running. */
int shim_reopen_log(const char *state_dir, cric_err *err);

struct shim_state {
    pid_t init_pid;
    char status[16]; /* "created", "running" or "exited" */
    int64_t created_at;
    int64_t started_at;
};

int shim_query_state(const char *state_dir, struct shim_state *out, cric_err *err);

/* Sets the tty size (tty containers only; ignored otherwise). */
int shim_resize(const char *state_dir, unsigned rows, unsigned cols, cric_err *err);

/* Opens an attach stream and returns its fd (blocking, CLOEXEC); the caller
 * owns it. flags: SHIM_ATTACH_STDIN|STDOUT|STDERR from src/shim/protocol.h.
 * Read frames with shim_frame_feed(); write with the helpers below. */
int shim_attach_connect(const char *state_dir, unsigned flags, cric_err *err);
int shim_send_stdin(int fd, const void *data, size_t len, cric_err *err);
int shim_send_close_stdin(int fd, cric_err *err);
int shim_send_resize(int fd, unsigned rows, unsigned cols, cric_err *err);

/* fd attach, for the streaming server: plain fds it pumps itself. With a tty
 * pty_fd carries the output and takes the input (it is a socket, not a pty:
 * resize with shim_send_resize on ctl_fd); without one stdin_fd is writable,
 * stdout_fd/stderr_fd readable, each -1 unless requested. Output fds reach EOF
 * when the container has exited; closing stdin_fd ends this client's input
 * (and closes the container's stdin with stdin_once); closing ctl_fd detaches.
 * The caller owns every fd (shim_attach_fds_close closes what is left). */
struct shim_attach_fds {
    int ctl_fd;
    bool tty;
    int pty_fd;
    int stdin_fd, stdout_fd, stderr_fd;
};

int shim_attach_fds_open(const char *state_dir, unsigned flags, struct shim_attach_fds *out,
                         cric_err *err);
void shim_attach_fds_close(struct shim_attach_fds *a);

/* Watching for the exit: an fd that becomes readable when the container's
 * init has exited and the exit file is written (a SHIM_MSG_EXIT frame, then
 * EOF), or with EOF alone if the shim dies. Suits an event loop (one fd per
 * container); PRECONDITION when there is no live shim (see shim_check). */
int shim_watch_connect(const char *state_dir, cric_err *err);

/* Blocks until the container has exited (then fills *out) or timeout_ms
 * passes (TIMEOUT; timeout_ms < 0 waits forever). Returns at once when the
 * exit file is already there. NOT_FOUND when the shim is gone without one. */
int shim_wait_exit(const char *state_dir, int timeout_ms, struct shim_exit *out, cric_err *err);

/* The cric-shim binary: next to the running executable, else (build tree)
 * ../shim/cric-shim relative to it. */
int shim_default_path(char *out, size_t cap, cric_err *err);

#endif
