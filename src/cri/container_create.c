#include "cri/cri.h"
#include "ctr/ctr.h"

static rpc_code impl_create_container(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__CreateContainerRequest *req = rq;
    Runtime__V1__CreateContainerResponse *resp = rs;
    char id[65];
    cric_err err = {0};
    if (ctr_create(c->d->ctrs, req->pod_sandbox_id, req->config, id, &err) < 0)
        return cri_status_from_err(&err, st);
    resp->container_id = ar_strdup(c->arena, id);
    return RPC_OK;
}

CRI_UNARY_HANDLER(create_container, runtime__v1__create_container_request,
                  runtime__v1__create_container_response)
