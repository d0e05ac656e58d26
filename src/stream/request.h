/* What a streaming URL stands for: the validated parameters of one Exec,
 * Attach or PortForward call, kept until the client presents the token. */
#ifndef CRIC_STREAM_REQUEST_H
#define CRIC_STREAM_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { STREAM_EXEC = 0, STREAM_ATTACH, STREAM_PORTFORWARD } stream_kind;

typedef struct stream_request {
    stream_kind kind;
    char *id;   /* container id (exec, attach) or pod sandbox id (port-forward) */
    char **cmd; /* exec: NULL-terminated argv */
    size_t n_cmd;
    bool tty, stdin_, stdout_, stderr_;
    int32_t *ports; /* port-forward: requested ports (may be empty for SPDY) */
    size_t n_ports;
} stream_request;

/* Deep copy; returns NULL on out-of-memory. */
stream_request *stream_request_dup(const stream_request *r);
void stream_request_free(stream_request *r);
const char *stream_kind_name(stream_kind k);

#endif
