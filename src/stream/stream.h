/* The streaming server: Exec, Attach and PortForward hand out a URL on it;
 * kubectl/crictl (through the kubelet or directly) connect, upgrade to SPDY/3.1
 * or WebSocket and stream. The server runs on the daemon's libuv loop; what
 * actually runs or connects comes from a backend the daemon provides, so this
 * folder knows nothing of containers or pods.
 *
 * Threading: stream_server_new/start/shutdown/free run on the loop thread.
 * stream_server_url() may be called from any thread (RPC workers). Backend
 * calls exec_start, attach_open and portforward_netns run on libuv's worker
 * pool (they may block briefly); exec_kill and resize run on the loop thread
 * and must not block. */
#ifndef CRIC_STREAM_STREAM_H
#define CRIC_STREAM_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "daemon/config.h"
#include "stream/request.h"
#include "util/err.h"

/* A started process (exec) or an attachment (attach): the fds the server pumps.
 * With tty, stdio_fd is the pty master (read: output, write: input) and the
 * three pipes are -1; otherwise stdin_fd is writable and stdout_fd/stderr_fd
 * are readable, each -1 when that stream was not requested. The server owns
 * the fds once start returns and closes them. */
typedef struct stream_proc {
    stream_kind kind; /* set by the server: exec or attach */
    pid_t pid;        /* exec: our child whose exit is the command's exit; attach: 0 */
    int pty_fd;
    int stdin_fd, stdout_fd, stderr_fd;
    void *handle; /* backend data, given back to kill/resize/release */
} stream_proc;

typedef struct stream_backend {
    void *ctx;
    /* Exec and Attach RPC validation: the container exists and runs. 0 or -1. */
    int (*container_check)(void *ctx, const char *container_id, cric_err *err);
    /* Starts req->cmd in the container (req->kind == STREAM_EXEC) or attaches to
     * its stdio (STREAM_ATTACH). Fills out. */
    int (*start)(void *ctx, const stream_request *req, stream_proc *out, cric_err *err);
    /* Exec only: called when the client went away before the process ended;
     * must make it exit (the server still reaps pid). NULL: SIGKILL pid. */
    void (*exec_kill)(void *ctx, stream_proc *p);
    /* Terminal resize. NULL: TIOCSWINSZ on pty_fd. */
    int (*resize)(void *ctx, stream_proc *p, uint16_t width, uint16_t height);
    /* Releases handle once the session ended (after the fds were closed and,
     * for exec, after pid was reaped). May be NULL. */
    void (*release)(void *ctx, stream_proc *p);
    /* Port-forward: validation at RPC time and the sandbox's network namespace
     * path (caller frees; "" means the host network namespace). */
    int (*portforward_netns)(void *ctx, const char *pod_id, char **netns_path, cric_err *err);
} stream_backend;

typedef struct stream_server_opts {
    const char *address; /* listen address (IPv4 or IPv6 literal) */
    unsigned port;       /* 0 = random */
    unsigned token_ttl_s;
    const char *tls_cert, *tls_key;     /* "" = plain HTTP */
    unsigned max_sessions;              /* concurrent upgraded connections */
    unsigned idle_timeout_s;            /* no traffic on a session for this long ends it */
    unsigned stream_creation_timeout_s; /* SPDY: wait this long for the expected streams */
    unsigned request_timeout_s;         /* HTTP: the request head must arrive within this */
    size_t max_stream_buffer;           /* bytes buffered per stream and direction */
} stream_server_opts;

/* Defaults from the daemon config (address, port, ttl, TLS) plus built-in limits. */
void stream_server_opts_from_config(stream_server_opts *o, const cric_config *cfg);

typedef struct stream_server stream_server;

/* Binds and listens. The backend is copied. */
int stream_server_new(stream_server **out, uv_loop_t *loop, const stream_server_opts *opts,
                      const stream_backend *backend, cric_err *err);
/* Closes the listener and every session (processes of live execs are killed);
 * done runs on the loop when all handles are closed. */
void stream_server_shutdown(stream_server *s, void (*done)(void *arg), void *arg);
/* Frees after shutdown's done ran (or right away when never started). */
void stream_server_free(stream_server *s);

/* "http://127.0.0.1:41234" */
const char *stream_server_base_url(const stream_server *s);

/* Validates req against the backend, registers a single-use token and returns
 * the URL (caller frees). Thread-safe. */
int stream_server_url(stream_server *s, const stream_request *req, char **url, cric_err *err);

#endif
