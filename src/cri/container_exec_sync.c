#include <string.h>

#include "cri/cri.h"
#include "ctr/ctr.h"

/* Room for the protobuf framing around stdout and stderr: two tags and
 * length varints, the exit code. */
#define EXEC_SYNC_FRAMING 64

/* Each stream is capped at CTR_EXEC_OUTPUT_MAX, but together they must fit
 * the largest message the server sends (the kubelet's limit is the same
 * 16 MiB): the beginnings are kept, each stream getting at least half of
 * what fits when both are large. */
static void fit_output(size_t max_msg, size_t *out_len, size_t *err_len)
{
    size_t budget = max_msg > EXEC_SYNC_FRAMING ? max_msg - EXEC_SYNC_FRAMING : 0;
    if (*out_len + *err_len <= budget)
        return;
    size_t half = budget / 2;
    if (*out_len <= half) {
        *err_len = budget - *out_len;
    } else if (*err_len <= half) {
        *out_len = budget - *err_len;
    } else {
        *out_len = half;
        *err_len = budget - half;
    }
}

static rpc_code impl_exec_sync(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__ExecSyncRequest *req = rq;
    Runtime__V1__ExecSyncResponse *resp = rs;
    ctr_exec_result r;
    cric_err err = {0};
    if (ctr_exec_sync(c->d->ctrs, req->container_id, req->cmd, req->n_cmd, req->timeout, &r, &err) <
        0)
        return cri_status_from_err(&err, st);
    fit_output(c->d->cfg.grpc_max_send_msg, &r.out_len, &r.err_len);
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
