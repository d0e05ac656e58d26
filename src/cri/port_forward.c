#include <stdlib.h>

#include "cri/cri.h"
#include "stream/stream.h"

static rpc_code impl_port_forward(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__PortForwardRequest *req = rq;
    Runtime__V1__PortForwardResponse *resp = rs;
    cric_err err = {0};
    if (!c->d->stream)
        return rpc_status_set(st, RPC_UNAVAILABLE,
                              "PortForward: the streaming server is not running");
    stream_request r = {
        .kind = STREAM_PORTFORWARD,
        .id = req->pod_sandbox_id,
        .ports = req->port,
        .n_ports = req->n_port,
    };
    char *url = NULL;
    if (stream_server_url(c->d->stream, &r, &url, &err) < 0)
        return cri_status_from_err(&err, st);
    resp->url = ar_strdup(c->arena, url);
    free(url);
    return RPC_OK;
}

CRI_UNARY_HANDLER(port_forward, runtime__v1__port_forward_request,
                  runtime__v1__port_forward_response)
