#include "cri/cri.h"
#include "pod/pod.h"

static rpc_code impl_stop_pod_sandbox(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__StopPodSandboxRequest *req = rq;
    cric_err err = {0};
    if (pod_stop(c->d->pods, req->pod_sandbox_id, &err) < 0)
        return cri_status_from_err(&err, st);
    return RPC_OK;
}

CRI_UNARY_HANDLER(stop_pod_sandbox, runtime__v1__stop_pod_sandbox_request,
                  runtime__v1__stop_pod_sandbox_response)
