#include "cri/cri.h"
#include "ctr/ctr.h"

static rpc_code impl_start_container(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__StartContainerRequest *req = rq;
    (void)rs;
    cric_err err = {0};
    if (ctr_start(c->d->ctrs, req->container_id, &err) < 0)
        return cri_status_from_err(&err, st);
    return RPC_OK;
}

CRI_UNARY_HANDLER(start_container, runtime__v1__start_container_request,
                  runtime__v1__start_container_response)
