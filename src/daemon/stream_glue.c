/* The streaming server's backend: what exec, attach and port-forward reach in
 * the rest of the daemon. Port-forward resolves the sandbox's network
 * namespace through the pod service. Exec runs through the OCI runtime
 * (src/stream/ociexec.c) and attach through the shim's fd attach
 * (src/stream/shimattach.c), for a container the container service resolves
 * (ctr_target_lookup). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "ctr/ctr.h"
#include "daemon/daemon.h"
#include "pod/pod.h"
#include "stream/ociexec.h"
#include "stream/shimattach.h"
#include "stream/stream.h"
#include "util/fs.h"
#include "util/log.h"

/* The container service resolves an id (or unique prefix) to the runtime,
 * its root, the bundle and the shim state directory (ctr_target_lookup). */
static int resolve_container(cric_daemon *d, const char *id, ctr_target *t, cric_err *err)
{
    if (!d->ctrs)
        return cric_err_set(err, CRIC_ERR_UNAVAILABLE, "container %s: no container service", id);
    return ctr_target_lookup(d->ctrs, id, t, err);
}

static int container_check(void *ctx, const char *container_id, cric_err *err)
{
    ctr_target t = {0};
    if (resolve_container(ctx, container_id, &t, err) < 0)
        return -1;
    if (!t.running)
        return cric_err_set(err, CRIC_ERR_PRECONDITION, "container %s is not running",
                            container_id);
    return 0;
}

static int start(void *ctx, const stream_request *req, stream_proc *out, cric_err *err)
{
    cric_daemon *d = ctx;
    ctr_target t = {0};
    if (resolve_container(d, req->id, &t, err) < 0)
        return -1;
    if (!t.running)
        return cric_err_set(err, CRIC_ERR_PRECONDITION, "container %s is not running", req->id);
    if (req->kind == STREAM_ATTACH) {
        /* The container's stdin exists only when it was created with one. */
        stream_request r = *req;
        r.stdin_ = req->stdin_ && t.stdin_open;
        return shim_attach_start(t.shim_state, &r, out, err);
    }
    char work[4200];
    snprintf(work, sizeof(work), "%s/exec", d->cfg.state);
    if (fs_mkdir_p(work, 0700, err) < 0)
        return -1;
    oci_exec_opts o = {
        .runtime = t.runtime,
        .runtime_root = t.runtime_root,
        .container_id = t.id,
        .config_path = t.config_path,
        .argv = req->cmd,
        .argc = req->n_cmd,
        .tty = req->tty,
        .want_stdin = req->stdin_,
        .work_dir = work,
    };
    return oci_exec_start(&o, out, err);
}

static void exec_kill(void *ctx, stream_proc *p)
{
    oci_exec_kill(p);
}

static int resize(void *ctx, stream_proc *p, uint16_t width, uint16_t height)
{
    if (p->kind == STREAM_ATTACH)
        return shim_attach_resize(p, width, height);
    struct winsize ws = {.ws_row = height, .ws_col = width};
    return p->pty_fd >= 0 ? ioctl(p->pty_fd, TIOCSWINSZ, &ws) : 0;
}

static void release(void *ctx, stream_proc *p)
{
    if (p->kind == STREAM_ATTACH)
        shim_attach_release(p);
    else
        oci_exec_release(p);
}

static int portforward_netns(void *ctx, const char *pod_id, char **netns_path, cric_err *err)
{
    cric_daemon *d = ctx;
    if (!d->pods)
        return cric_err_set(err, CRIC_ERR_UNAVAILABLE, "pod sandbox %s: no pod service", pod_id);
    pod_info *info = NULL;
    if (pod_lookup(d->pods, pod_id, &info, err) < 0)
        return -1;
    int rc = 0;
    if (!info->ready) {
        rc = cric_err_set(err, CRIC_ERR_PRECONDITION, "pod sandbox %s is not ready", info->id);
    } else {
        *netns_path = strdup(info->netns_path ? info->netns_path : "");
        if (!*netns_path)
            rc = cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    }
    pod_info_free(info);
    return rc;
}

int daemon_stream_start(cric_daemon *d, cric_err *err)
{
    stream_server_opts o;
    stream_server_opts_from_config(&o, &d->cfg);
    stream_backend be = {
        .ctx = d,
        .container_check = container_check,
        .start = start,
        .exec_kill = exec_kill,
        .resize = resize,
        .release = release,
        .portforward_netns = portforward_netns,
    };
    if (stream_server_new(&d->stream, &d->loop, &o, &be, err) < 0) {
        /* the server object may exist with its listener closing: keep it for free */
        return -1;
    }
    return 0;
}

static void on_stream_down(void *arg)
{
    (void)arg;
}

void daemon_stream_shutdown(cric_daemon *d)
{
    if (d->stream)
        stream_server_shutdown(d->stream, on_stream_down, d);
}

void daemon_stream_free(cric_daemon *d)
{
    stream_server_free(d->stream);
    d->stream = NULL;
}
