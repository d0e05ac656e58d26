#include "cri/stream_url.h"

static rpc_code impl_attach(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__AttachRequest *req = rq;
    Runtime__V1__AttachResponse *resp = rs;
    stream_request r = {
        .kind = STREAM_ATTACH,
        .id = req->container_id,
        .tty = req->tty,
        .stdin_ = req->stdin,
        .stdout_ = req->stdout,
        .stderr_ = req->stderr,
    };
    return cri_stream_url(c, "Attach", &r, &resp->url, st);
}

CRI_UNARY_HANDLER(attach, runtime__v1__attach_request, runtime__v1__attach_response)
