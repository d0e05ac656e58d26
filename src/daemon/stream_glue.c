/* The streaming server's backend: what exec, attach and port-forward reach in
 * the rest of the daemon. Port-forward resolves the sandbox's network
 * namespace through the pod service. Exec enters the container through
 * cric-enter (ctr_exec_start, the same path as ExecSync's) or, where that
 * does not apply, runs through the OCI runtime (src/stream/ociexec.c); attach
 * goes through the shim's fd attach (src/stream/shimattach.c), for a
 * container the container service resolves (ctr_target_lookup). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

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

/* An exec's backend data: cric-enter's (nothing to keep) or the runtime's. */
typedef struct exec_handle {
    bool entered;
    void *oci; /* ociexec's handle */
} exec_handle;

static int oci_start(cric_daemon *d, const ctr_target *t, const stream_request *req,
                     stream_proc *out, cric_err *err);

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
    exec_handle *h = calloc(1, sizeof(*h));
    if (!h)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "exec: out of memory");
    ctr_exec_proc ep;
    const char *why = NULL;
    int rc =
        ctr_exec_start(d->ctrs, t.id, req->cmd, req->n_cmd, req->tty, req->stdin_, &ep, &why, err);
    if (rc != 0) {
        if (rc < 0) {
            free(h);
            return -1;
        }
        h->entered = true;
        out->pid = ep.pid;
        out->pty_fd = ep.pty_fd;
        out->stdin_fd = ep.stdin_fd;
        out->stdout_fd = ep.stdout_fd;
        out->stderr_fd = ep.stderr_fd;
        out->handle = h;
        return 0;
    }
    log_debug("stream", "exec %.12s: through %s exec: %s", t.id, t.runtime, why ? why : "");
    if (oci_start(d, &t, req, out, err) < 0) {
        free(h);
        return -1;
    }
    h->oci = out->handle;
    out->handle = h;
    return 0;
}

/* The OCI runtime's exec, where cric-enter does not apply. */
static int oci_start(cric_daemon *d, const ctr_target *t, const stream_request *req,
                     stream_proc *out, cric_err *err)
{
    char work[4200];
    snprintf(work, sizeof(work), "%s/exec", d->cfg.state);
    if (fs_mkdir_p(work, 0700, err) < 0)
        return -1;
    oci_exec_opts o = {
        .runtime = t->runtime,
        .runtime_root = t->runtime_root,
        .container_id = t->id,
        .config_path = t->config_path,
        .argv = req->cmd,
        .argc = req->n_cmd,
        .tty = req->tty,
        .want_stdin = req->stdin_,
        .work_dir = work,
    };
    return oci_exec_start(&o, out, err);
}

/* Runs oci_exec_* on the runtime's handle inside ours. */
static void with_oci(stream_proc *p, void (*fn)(stream_proc *))
{
    exec_handle *h = p->handle;
    p->handle = h->oci;
    fn(p);
    h->oci = p->handle;
    p->handle = h;
}

static void exec_kill(void *ctx, stream_proc *p)
{
    (void)ctx;
    exec_handle *h = p->handle;
    if (h && h->entered)
        ctr_exec_kill(p->pid);
    else if (h)
        with_oci(p, oci_exec_kill);
    else if (p->pid > 0)
        kill(p->pid, SIGKILL);
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
    if (p->kind == STREAM_ATTACH) {
        shim_attach_release(p);
        return;
    }
    exec_handle *h = p->handle;
    if (!h)
        return;
    if (!h->entered)
        with_oci(p, oci_exec_release);
    free(h);
    p->handle = NULL;
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
