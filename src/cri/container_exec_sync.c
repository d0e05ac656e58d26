#include <string.h>

#include "cri/cri.h"
#include "ctr/ctr.h"

static rpc_code impl_exec_sync(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__ExecSyncRequest *req = rq;
    Runtime__V1__ExecSyncResponse *resp = rs;
    ctr_exec_result r;
    cric_err err = {0};
    if (ctr_exec_sync(c->d->ctrs, req->container_id, req->cmd, req->n_cmd, req->timeout, &r, &err) <
        0)
        return cri_status_from_err(&err, st);
    resp->stdout.data = ar_alloc(c->arena, r.out_len + 1);
    memcpy(resp->stdout.data, r.out, r.out_len);
    resp->stdout.len = r.out_len;
    resp->stderr.data = ar_alloc(c->arena, r.err_len + 1);
    memcpy(resp->stderr.data, r.err, r.err_len);
    resp->stderr.len = r.err_len;
    resp->exit_code = r.exit_code;
    ctr_exec_result_free(&r);
    return RPC_OK;
}

CRI_UNARY_HANDLER(exec_sync, runtime__v1__exec_sync_request, runtime__v1__exec_sync_response)
