#include "cri/sandbox_conv.h"

static rpc_code impl_list_pod_sandbox(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__ListPodSandboxRequest *req = rq;
    Runtime__V1__ListPodSandboxResponse *resp = rs;
    return cri_pod_list(c, req->filter, &resp->items, &resp->n_items, st);
}

CRI_UNARY_HANDLER(list_pod_sandbox, runtime__v1__list_pod_sandbox_request,
                  runtime__v1__list_pod_sandbox_response)

/* StreamPodSandboxes: the same listing, sent in chunks. */
#define STREAM_CHUNK 256

static rpc_code impl_stream_pod_sandboxes(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__StreamPodSandboxesRequest *req = rq;
    Runtime__V1__StreamPodSandboxesResponse *resp = rs;
    Runtime__V1__PodSandbox **items = NULL;
    size_t n = 0;
    rpc_code code = cri_pod_list(c, req->filter, &items, &n, st);
    if (code != RPC_OK)
        return code;
    /* All chunks but the last are sent here; the runner sends resp itself. */
    size_t off = 0;
    while (n - off > STREAM_CHUNK) {
        Runtime__V1__StreamPodSandboxesResponse chunk;
        runtime__v1__stream_pod_sandboxes_response__init(&chunk);
        chunk.pod_sandboxes = items + off;
        chunk.n_pod_sandboxes = STREAM_CHUNK;
        if (cri_send(c->call, &chunk.base, st) < 0)
            return st->code;
        off += STREAM_CHUNK;
    }
    resp->pod_sandboxes = items + off;
    resp->n_pod_sandboxes = n - off;
    return RPC_OK;
}

CRI_UNARY_HANDLER(stream_pod_sandboxes, runtime__v1__stream_pod_sandboxes_request,
                  runtime__v1__stream_pod_sandboxes_response)
