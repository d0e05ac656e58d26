/* UpdatePodSandboxResources (the pod cgroup). */
#include "cri/sandbox_conv.h"

static rpc_code impl_update_pod_sandbox_resources(cri_ctx *c, const void *rq, void *rs,
                                                  rpc_status *st)
{
    const Runtime__V1__UpdatePodSandboxResourcesRequest *req = rq;
    if (!req->pod_sandbox_id || !req->pod_sandbox_id[0])
        return rpc_status_set(st, RPC_INVALID_ARGUMENT,
                              "UpdatePodSandboxResources: pod_sandbox_id is empty");
    cric_err err = {0};
    if (pod_update_resources(c->d->pods, req->pod_sandbox_id,
                             cri_pod_resources(c->arena, req->overhead),
                             cri_pod_resources(c->arena, req->resources), &err) < 0)
        return cri_status_from_err(&err, st);
    return RPC_OK;
}

CRI_UNARY_HANDLER(update_pod_sandbox_resources, runtime__v1__update_pod_sandbox_resources_request,
                  runtime__v1__update_pod_sandbox_resources_response)
