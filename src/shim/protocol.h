/* The cric-shim wire protocol, shared by the shim and the daemon's client
 * (src/ctr/shim_client.c). Header-only so that neither side links the other.
 *
 * State directory (given to the shim with --state-dir, one per container):
 *   shim.pid   "<pid> <starttime>\n" of the shim (starttime = field 22 of
 *              /proc/<pid>/stat), written atomically before the runtime runs;
 *              lets the daemon find the shim again and tell a live shim from a
 *              recycled pid.
 *   shim.sock  the shim's unix stream socket (control and attach).
 *   init.pid   the container init pid, written by the runtime (--pid-file).
 *   exit       written atomically (temp + fsync + rename) once the init has
 *              exited and its output is drained: a JSON object
 *              {"pid":N,"exit_code":N,"signal":N,"oom_killed":true|false,
 *               "created_at":NS,"started_at":NS,"finished_at":NS}
 *              exit_code is 128+signal when the init was killed by a signal;
 *              times are Unix nanoseconds (0 = never).
 *   shim.log   the shim's own diagnostics.
 *   console.sock  (tty only, transient) the runtime's --console-socket.
 *
 * Launch handshake: the caller passes a pipe's write end as --sync-fd. The
 * shim writes exactly one message and closes it: "ok <init pid>\n" after a
 * successful `runtime create`, or "error <text>" (the text names the cause,
 * with the runtime's stderr). EOF without a message means the shim died.
 *
 * Signals: the shim ignores SIGPIPE and SIGHUP and has no other signal
 * interface; a shim that is killed leaves its container running without a
 * monitor (shim_check() then says SHIM_LOST: no exit record will come, the
 * daemon has to stop the container through the runtime). The shim and the
 * processes it starts (the runtime, and a container without a tty) share one
 * process group, which shim_launch kills as a whole when create times out.
 *
 * Frames on shim.sock, both directions:
 *   u8 type | u32 payload length, big endian | payload (<= SHIM_FRAME_MAX)
 * A connection first sends either SHIM_MSG_CONTROL frames (request/response,
 * any number) or one SHIM_MSG_ATTACH frame, which turns it into an attach
 * stream: the shim then sends SHIM_MSG_STDOUT/SHIM_MSG_STDERR frames with the
 * container's output produced from then on, and SHIM_MSG_EXIT (payload: the
 * exit code as decimal text) before it closes; the client may send
 * SHIM_MSG_STDIN, SHIM_MSG_CLOSE_STDIN and SHIM_MSG_RESIZE. A client whose
 * unsent output exceeds SHIM_CLIENT_BUF_MAX is dropped so that a slow reader
 * never blocks the container.
 *
 * fd attach: an SHIM_MSG_ATTACH whose flags include SHIM_ATTACH_FDS is
 * answered by a SHIM_MSG_RESULT "ok" ("ok tty" with a tty) frame carrying file descriptors
 * (SCM_RIGHTS) in place of framed output: without a tty one pipe end per
 * requested stream, in the order stdin (write end), stdout, stderr (read
 * ends); with a tty one stream socket that carries the output and takes the
 * input (the pty's role). The connection stays open for SHIM_MSG_RESIZE and
 * SHIM_MSG_CLOSE_STDIN and gets SHIM_MSG_EXIT; closing it detaches. Closing
 * the stdin pipe ends this client's input (and closes the container's stdin
 * with stdin_once); output pipes get EOF when the container has exited.
 *
 * Control requests (payload = command text), answered by one SHIM_MSG_RESULT
 * frame whose payload is "ok" [" " detail] or "error <message>":
 *   "starting"    sent by the daemon right before `runtime start`: the shim
 *                 records started_at and the container counts as running
 *                 (sent before, not after, so that a container that exits at
 *                 once cannot race it; when start fails the daemon ignores it).
 *   "reopen-log"  reopen the CRI log file (after rotation); error unless the
 *                 container is running.
 *   "state"       "ok <pid> <status> <created_at> <started_at>" where status is
 *                 created|running|exited.
 * SHIM_MSG_RESIZE is also accepted on a control connection.
 */
#ifndef CRIC_SHIM_PROTOCOL_H
#define CRIC_SHIM_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SHIM_SOCK_NAME "shim.sock"
#define SHIM_PID_NAME "shim.pid"
#define SHIM_INIT_PID_NAME "init.pid"
#define SHIM_EXIT_NAME "exit"
#define SHIM_LOG_NAME "shim.log"
#define SHIM_CONSOLE_NAME "console.sock"

#define SHIM_FRAME_HDR 5
#define SHIM_FRAME_MAX (32u * 1024u)
#define SHIM_CLIENT_BUF_MAX (1024u * 1024u)
#define SHIM_MAX_CLIENTS 64

enum shim_msg_type {
    /* client -> shim */
    SHIM_MSG_ATTACH = 0x01,      /* payload: 1 byte of SHIM_ATTACH_* flags */
    SHIM_MSG_STDIN = 0x02,       /* payload: bytes for the container's stdin */
    SHIM_MSG_CLOSE_STDIN = 0x03, /* no payload */
    SHIM_MSG_RESIZE = 0x04,      /* payload: u16 rows, u16 cols, big endian */
    SHIM_MSG_CONTROL = 0x10,     /* payload: command text */
    /* shim -> client */
    SHIM_MSG_STDOUT = 0x81,
    SHIM_MSG_STDERR = 0x82,
    SHIM_MSG_EXIT = 0x83,   /* payload: exit code, decimal text */
    SHIM_MSG_RESULT = 0x90, /* payload: "ok..." or "error <message>" */
};

enum shim_attach_flags {
    SHIM_ATTACH_STDIN = 1,
    SHIM_ATTACH_STDOUT = 2,
    SHIM_ATTACH_STDERR = 4,
    SHIM_ATTACH_FDS = 8, /* fd attach, see above */
};

/* A container id as the shim and the OCI runtimes accept it: 1..128 of
 * [A-Za-z0-9_.+-], starting with a letter or digit (never an option). */
static inline int shim_id_valid(const char *id)
{
    size_t n = 0;
    for (const char *p = id; *p; p++, n++) {
        char c = *p;
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (n == 0 || (c != '_' && c != '.' && c != '+' && c != '-')))
            return 0;
    }
    return n > 0 && n <= 128;
}

static inline void shim_frame_header(uint8_t hdr[SHIM_FRAME_HDR], uint8_t type, uint32_t len)
{
    hdr[0] = type;
    hdr[1] = (uint8_t)(len >> 24);
    hdr[2] = (uint8_t)(len >> 16);
    hdr[3] = (uint8_t)(len >> 8);
    hdr[4] = (uint8_t)len;
}

/* Incremental frame decoder: feed bytes as they arrive, take whole frames. */
struct shim_frame_reader {
    uint8_t hdr[SHIM_FRAME_HDR];
    size_t hdr_len;
    uint8_t type;
    uint32_t len;
    uint32_t have;
    uint8_t payload[SHIM_FRAME_MAX];
};

enum shim_frame_status {
    SHIM_FRAME_MORE = 0,  /* need more bytes */
    SHIM_FRAME_READY = 1, /* r->type/r->len/r->payload hold a frame */
    SHIM_FRAME_BAD = -1,  /* payload length over SHIM_FRAME_MAX */
};

static inline void shim_frame_reader_init(struct shim_frame_reader *r)
{
    r->hdr_len = 0;
    r->have = 0;
    r->len = 0;
    r->type = 0;
}

/* Consumes bytes from *data (advancing it and *len) until one frame is ready or
 * the input is used up. After SHIM_FRAME_READY the caller handles the frame and
 * calls again with the remaining input; the reader resets itself. */
static inline int shim_frame_feed(struct shim_frame_reader *r, const uint8_t **data, size_t *len)
{
    if (r->hdr_len == SHIM_FRAME_HDR && r->have == r->len)
        shim_frame_reader_init(r); /* previous frame was taken */
    while (r->hdr_len<SHIM_FRAME_HDR && * len> 0) {
        r->hdr[r->hdr_len++] = **data;
        (*data)++;
        (*len)--;
        if (r->hdr_len == SHIM_FRAME_HDR) {
            r->type = r->hdr[0];
            r->len = ((uint32_t)r->hdr[1] << 24) | ((uint32_t)r->hdr[2] << 16) |
                     ((uint32_t)r->hdr[3] << 8) | r->hdr[4];
            if (r->len > SHIM_FRAME_MAX)
                return SHIM_FRAME_BAD;
        }
    }
    if (r->hdr_len < SHIM_FRAME_HDR)
        return SHIM_FRAME_MORE;
    size_t want = r->len - r->have;
    size_t take = want < *len ? want : *len;
    if (take) {
        memcpy(r->payload + r->have, *data, take);
        r->have += (uint32_t)take;
        *data += take;
        *len -= take;
    }
    return r->have == r->len ? SHIM_FRAME_READY : SHIM_FRAME_MORE;
}

#endif
