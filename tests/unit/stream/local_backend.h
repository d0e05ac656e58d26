/* A test-only streaming backend: exec runs the command as a local process
 * (pipes or a pty), attach runs a local "sh -c 'echo attached; cat'",
 * port-forward dials in the namespace at tb->netns ("" = the host's). Used by
 * the unit tests and by stream_testserver; never by the daemon. */
#ifndef TEST_STREAM_LOCAL_BACKEND_H
#define TEST_STREAM_LOCAL_BACKEND_H

#include <sys/types.h>

#include "stream/stream.h"

typedef struct tbackend {
    pid_t last_pid;
    char netns[128];
} tbackend;

int local_be_check(void *ctx, const char *id, cric_err *err);
int local_be_start(void *ctx, const stream_request *req, stream_proc *out, cric_err *err);
void local_be_release(void *ctx, stream_proc *p);
int local_be_netns(void *ctx, const char *pod, char **path, cric_err *err);

static inline stream_backend local_backend(tbackend *tb)
{
    stream_backend be = {.ctx = tb,
                         .container_check = local_be_check,
                         .start = local_be_start,
                         .release = local_be_release,
                         .portforward_netns = local_be_netns};
    return be;
}

#endif
