/* Attach through cric-shim's fd attach (src/ctr/shim_client.h): the shim
 * hands over plain fds for the container's stdio (pipes, or one socket in the
 * pty's role with a tty), which the session pumps like an exec's; resizes go
 * over the attach connection, closing it detaches. Blocking: call on a worker
 * thread. */
#ifndef CRIC_STREAM_SHIMATTACH_H
#define CRIC_STREAM_SHIMATTACH_H

#include <stdint.h>

#include "stream/stream.h"

int shim_attach_start(const char *shim_state_dir, const stream_request *req, stream_proc *out,
                      cric_err *err);
int shim_attach_resize(stream_proc *p, uint16_t width, uint16_t height);
void shim_attach_release(stream_proc *p);

#endif
