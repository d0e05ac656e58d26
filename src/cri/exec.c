#include "cri/stream_url.h"

static rpc_code impl_exec(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__ExecRequest *req = rq;
    Runtime__V1__ExecResponse *resp = rs;
    stream_request r = {
        .kind = STREAM_EXEC,
        .id = req->container_id,
        .cmd = req->cmd,
        .n_cmd = req->n_cmd,
        .tty = req->tty,
        .stdin_ = req->stdin,
        .stdout_ = req->stdout,
        .stderr_ = req->stderr,
    };
    return cri_stream_url(c, "Exec", &r, &resp->url, st);
}

CRI_UNARY_HANDLER(exec, runtime__v1__exec_request, runtime__v1__exec_response)
