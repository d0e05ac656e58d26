/* The streaming server's backend: what exec, attach and port-forward reach in
 * the rest of the daemon. Port-forward resolves the sandbox's network
 * namespace through the pod service. Exec and attach need the container
 * service (OCI runtime exec, the shim's attach socket); until it is wired in
 * they answer UNIMPLEMENTED at RPC time. */
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "pod/pod.h"
#include "stream/stream.h"
#include "util/log.h"

static int container_check(void *ctx, const char *container_id, cric_err *err)
{
    cric_daemon *d = ctx;
    if (!d->ctrs)
        return cric_err_set(err, CRIC_ERR_UNIMPLEMENTED,
                            "container %s: exec and attach need the container service, which "
                            "cric does not have yet",
                            container_id);
    return cric_err_set(err, CRIC_ERR_UNIMPLEMENTED,
                        "container %s: exec and attach are not wired to the container service yet",
                        container_id);
}

static int start(void *ctx, const stream_request *req, stream_proc *out, cric_err *err)
{
    return cric_err_set(err, CRIC_ERR_UNIMPLEMENTED, "container %s: %s is not implemented yet",
                        req->id, stream_kind_name(req->kind));
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
