/* Exec through an OCI runtime (crun, runc): `<runtime> [--root R] exec
 * --process P --pid-file F [--console-socket S] <id>` with the process of the
 * container's config.json (env, user, cwd, capabilities, ...) and the given
 * argv. With tty the runtime hands the pty master over the console socket;
 * otherwise the process gets pipes. The runtime stays in the foreground, so
 * its exit status is the command's. A backend's start/kill/release call these;
 * they block briefly (run them on a worker thread). */
#ifndef CRIC_STREAM_OCIEXEC_H
#define CRIC_STREAM_OCIEXEC_H

#include <stdbool.h>
#include <stddef.h>

#include "stream/stream.h"

typedef struct oci_exec_opts {
    const char *runtime;      /* path of the runtime binary */
    const char *runtime_root; /* --root; NULL or "" = the runtime's default */
    const char *container_id;
    const char *config_path; /* the bundle's config.json */
    char *const *argv;
    size_t argc;
    bool tty, want_stdin;
    const char *work_dir;      /* short directory for process.json and the console socket */
    unsigned start_timeout_ms; /* tty: wait this long for the console; 0 = 10 s */
    /* tty: runc hands out the terminal only when it detaches, so for it (and
     * whenever this is set) the runtime runs in the foreground on a pty of
     * ours and proxies to the container's; resizes reach it as SIGWINCH. */
    bool tty_via_own_pty;
} oci_exec_opts;

/* Starts the exec: out->pid is the runtime process (wait for it), fds per
 * stream.h. Errors name the container and the runtime's own message. */
int oci_exec_start(const oci_exec_opts *o, stream_proc *out, cric_err *err);
/* Kills the exec'd process (from the pid file) and the runtime process. */
void oci_exec_kill(stream_proc *p);
/* Removes the temporary files and frees the handle. */
void oci_exec_release(stream_proc *p);

#endif
