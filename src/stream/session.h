/* Internal to src/stream: a session pumps bytes between a connection's
 * channels and file descriptors (a process's stdio, a pty, a socket in the
 * pod). It outlives its connection while a killed process is being reaped. */
#ifndef CRIC_STREAM_SESSION_H
#define CRIC_STREAM_SESSION_H

#include "stream/conn.h"

typedef struct pump {
    session *s;
    int fd;
    uv_poll_t poll;
    int events;   /* what poll watches now */
    bool closing; /* uv_close issued */
    bool has_out; /* fd -> client */
    schan *out;   /* NULL when the client is gone: output is drained and dropped */
    schan *in;    /* client -> fd */
    bool rd_eof, wr_done;
    bool sock, pty;
    uint8_t *rbuf; /* read buffer, allocated on first use */
    struct pump *next;
} pump;

struct pfpair {
    session *s;
    char *request_id;
    int port;
    schan *data, *err;
    pump *pump;
    bool connecting, failed;
    int fd;
    char msg[1100];
    uv_work_t work;
    pfpair *next;
};

struct session {
    stream_server *srv;
    sconn *c; /* NULL once the client is gone */
    stream_request *req;
    stream_proc proc;
    bool starting, started, ended;
    uv_work_t work;
    int work_rc;
    cric_err work_err;
    int pidfd;
    uv_poll_t pid_poll;
    bool pid_watching, exited;
    int exit_code;
    uv_timer_t grace;
    bool grace_init, grace_expired;
    pump *pumps;
    int pending; /* open uv handles and queued work */
    bool gone;
    pfpair *pairs;
    session *next_orphan;
};

/* session.c */
pump *pump_new(session *s, int fd, schan *out, schan *in, bool sock, bool pty);
void pump_update(pump *p);
void pump_close(pump *p);
void pump_try_write(pump *p);
void session_unref(session *s);

/* portfwd.c */
void pf_open_ws(session *s);
void pf_chan_opened(session *s, schan *ch, const spdy_headers *h);
void pf_pump_done(session *s, pump *p); /* the pump of a pair finished */
void pf_chan_fin(session *s, schan *ch);
void pf_detach(session *s); /* client gone */

#endif
