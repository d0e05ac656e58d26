#include "cri/cri.h"

static rpc_code impl_update_runtime_config(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__UpdateRuntimeConfigRequest *req = rq;
    /* The kubelet sends an empty request at start-up; nothing to change then. */
    if (!req->runtime_config || !req->runtime_config->network_config)
        return RPC_OK;
    cric_err err = {0};
    if (daemon_set_pod_cidr(c->d, req->runtime_config->network_config->pod_cidr, &err) < 0)
        return cri_status_from_err(&err, st);
    return RPC_OK;
}

CRI_UNARY_HANDLER(update_runtime_config, runtime__v1__update_runtime_config_request,
                  runtime__v1__update_runtime_config_response)
