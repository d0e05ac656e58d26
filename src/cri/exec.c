#include <stdlib.h>

#include "cri/cri.h"
#include "stream/stream.h"

static rpc_code impl_exec(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__ExecRequest *req = rq;
    Runtime__V1__ExecResponse *resp = rs;
    cric_err err = {0};
    if (!c->d->stream)
        return rpc_status_set(st, RPC_UNAVAILABLE, "Exec: the streaming server is not running");
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
    char *url = NULL;
    if (stream_server_url(c->d->stream, &r, &url, &err) < 0)
        return cri_status_from_err(&err, st);
    resp->url = ar_strdup(c->arena, url);
    free(url);
    return RPC_OK;
}

CRI_UNARY_HANDLER(exec, runtime__v1__exec_request, runtime__v1__exec_response)
