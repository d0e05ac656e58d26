#include <stdlib.h>
#include <unistd.h>

#include "ctr/shim_client.h"
#include "shim/protocol.h"
#include "stream/shimattach.h"

typedef struct attach_handle {
    int ctl_fd;
} attach_handle;

int shim_attach_start(const char *shim_state_dir, const stream_request *req, stream_proc *out,
                      cric_err *err)
{
    unsigned flags = 0; /* shim_attach_fds_open adds SHIM_ATTACH_FDS */
    if (req->stdin_)
        flags |= SHIM_ATTACH_STDIN;
    if (req->stdout_)
        flags |= SHIM_ATTACH_STDOUT;
    if (req->stderr_)
        flags |= SHIM_ATTACH_STDERR;
    attach_handle *h = malloc(sizeof(*h));
    if (!h)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "attach: out of memory");
    struct shim_attach_fds a;
    if (shim_attach_fds_open(shim_state_dir, flags, &a, err) < 0) {
        free(h);
        return cric_err_prefix(err, "container %s: ", req->id);
    }
    h->ctl_fd = a.ctl_fd;
    out->pid = 0;
    out->handle = h;
    if (a.tty) {
        out->pty_fd = a.pty_fd;
    } else {
        out->stdin_fd = a.stdin_fd;
        out->stdout_fd = a.stdout_fd;
        out->stderr_fd = a.stderr_fd;
    }
    return 0;
}

int shim_attach_resize(stream_proc *p, uint16_t width, uint16_t height)
{
    attach_handle *h = p->handle;
    cric_err err = {0};
    if (!h)
        return -1;
    return shim_send_resize(h->ctl_fd, height, width, &err);
}

void shim_attach_release(stream_proc *p)
{
    attach_handle *h = p->handle;
    if (!h)
        return;
    close(h->ctl_fd); /* detaches; the container keeps running */
    free(h);
    p->handle = NULL;
}
