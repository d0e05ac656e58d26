#include "cri/stream_url.h"

static rpc_code impl_port_forward(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__PortForwardRequest *req = rq;
    Runtime__V1__PortForwardResponse *resp = rs;
    stream_request r = {
        .kind = STREAM_PORTFORWARD,
        .id = req->pod_sandbox_id,
        .ports = req->port,
        .n_ports = req->n_port,
    };
    return cri_stream_url(c, "PortForward", &r, &resp->url, st);
}

CRI_UNARY_HANDLER(port_forward, runtime__v1__port_forward_request,
                  runtime__v1__port_forward_response)
