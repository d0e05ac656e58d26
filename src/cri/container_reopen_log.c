#include "cri/cri.h"
#include "ctr/ctr.h"

static rpc_code impl_reopen_container_log(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__ReopenContainerLogRequest *req = rq;
    (void)rs;
    cric_err err = {0};
    if (ctr_reopen_log(c->d->ctrs, req->container_id, &err) < 0)
        return cri_status_from_err(&err, st);
    return RPC_OK;
}

CRI_UNARY_HANDLER(reopen_container_log, runtime__v1__reopen_container_log_request,
                  runtime__v1__reopen_container_log_response)
