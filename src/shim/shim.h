/* cric-shim internals: one process per container, single-threaded, one poll
 * loop. Everything lives in struct shim (no other mutable globals). */
#ifndef CRIC_SHIM_SHIM_H
#define CRIC_SHIM_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <sys/types.h>

#include "crilog.h"
#include "protocol.h"

#define SHIM_STDIN_BUF_MAX (64u * 1024u)
#define SHIM_CAPTURE_MAX (16u * 1024u)
#define SHIM_DRAIN_MS 2000
#define SHIM_LOG_BATCH (64u * 1024u)

struct shim_opts {
    const char *id;
    const char *bundle;
    const char *state_dir; /* absolute; the shim's working directory */
    const char *runtime;
    const char *runtime_root;  /* NULL: the runtime's default */
    const char *log_path;      /* NULL: output goes to attach clients only */
    const char *memory_cgroup; /* NULL: no OOM detection */
    bool tty;
    bool stdin_open;
    bool stdin_once;
    int sync_fd;
    int runtime_fd; /* a sealed copy of the runtime to exec (util/sealed_exe.h); -1: none */
};

struct shim_obuf {
    uint8_t *buf;
    size_t off, len, cap;
};

struct shim_client {
    int fd;          /* the connection on shim.sock */
    bool attach;     /* an attach stream (else control requests) */
    bool raw;        /* fd attach: output goes to raw_out_fd, input from raw_in */
    bool stdin_done; /* fd attach: the client's stdin ended */
    uint8_t flags;   /* SHIM_ATTACH_STDIN|STDOUT|STDERR */
    struct shim_frame_reader *rd;
    struct shim_obuf out; /* unsent frames */
    int raw_in;           /* fd attach: stdin pipe (tty: the socketpair), else -1 */
    int raw_out_fd[2];    /* fd attach: stdout, stderr pipes (tty: [0] the socketpair) */
    struct shim_obuf raw_out[2];
};

/* Which client fd a pollfd entry stands for: kind 0 the connection, 1 raw
 * stdin, 2/3 raw stdout/stderr. */
struct shim_pollref {
    int client_fd;
    uint8_t kind;
};

enum shim_status { SHIM_CREATED, SHIM_RUNNING, SHIM_EXITED };

struct shim_reaped {
    pid_t pid;
    int status;
};

struct shim {
    struct shim_opts o;
    int sigfd;
    int listen_fd;
    int out_fd; /* container stdout read end, or the pty master */
    int err_fd; /* container stderr read end; -1 with a tty */
    int in_fd;  /* container stdin write end (the pty master with a tty); -1 closed */
    uint8_t *in_buf;
    size_t in_len;
    bool stdin_close_pending; /* close once in_buf is written */

    int log_fd;
    bool log_failing;
    char *wbuf; /* records batched for one write, SHIM_LOG_BATCH bytes */
    size_t wlen;
    struct crilog_stream lout, lerr;

    pid_t init_pid;
    enum shim_status status;
    int exit_status; /* wait status */
    bool init_exited;
    int64_t created_at, started_at, finished_at;
    uint64_t oom_base;

    struct shim_reaped early[16]; /* children reaped before the init pid was known */
    size_t n_early;

    struct shim_client clients[SHIM_MAX_CLIENTS];
    size_t n_clients;
};

int64_t shim_now_ns(void);

/* runtime.c: runs `runtime create`; on success s->init_pid, s->out_fd/err_fd/
 * in_fd are set. On failure msg holds the reason (runtime stderr included). */
int shim_runtime_create(struct shim *s, char *msg, size_t msgcap);

/* io.c */
void shim_close_stdin(struct shim *s);
void shim_write_stdin(struct shim *s);
bool shim_stdin_room(const struct shim *s);
int shim_log_open(struct shim *s, char *msg, size_t msgcap);
void shim_log_flush(struct shim *s);
void shim_output(struct shim *s, bool is_err, const char *data, size_t len);
void shim_reap(struct shim *s);
int shim_loop(struct shim *s);

/* clients.c */
void shim_clients_accept(struct shim *s);
void shim_clients_output(struct shim *s, bool is_err, const char *data, size_t len);
size_t shim_clients_pollfds(struct shim *s, struct pollfd *p, struct shim_pollref *ref);
void shim_clients_handle(struct shim *s, const struct pollfd *p, const struct shim_pollref *ref,
                         size_t n);
void shim_clients_finish(struct shim *s, int exit_code);

/* exitfile.c */
int shim_write_pidfile(const char *state_dir);
int shim_read_oom_count(const char *memory_cgroup, uint64_t *out);
int shim_write_exit(struct shim *s);

#endif
