#include "cri/container_conv.h"

static rpc_code impl_list_containers(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__ListContainersRequest *req = rq;
    Runtime__V1__ListContainersResponse *resp = rs;
    return cri_ctr_list(c, req->filter, &resp->containers, &resp->n_containers, st);
}

CRI_UNARY_HANDLER(list_containers, runtime__v1__list_containers_request,
                  runtime__v1__list_containers_response)

/* StreamContainers: the same listing, sent in chunks. */
#define STREAM_CHUNK 256

static rpc_code impl_stream_containers(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__StreamContainersRequest *req = rq;
    Runtime__V1__StreamContainersResponse *resp = rs;
    Runtime__V1__Container **items = NULL;
    size_t n = 0;
    rpc_code code = cri_ctr_list(c, req->filter, &items, &n, st);
    if (code != RPC_OK)
        return code;
    size_t off = 0;
    while (n - off > STREAM_CHUNK) {
        Runtime__V1__StreamContainersResponse chunk;
        runtime__v1__stream_containers_response__init(&chunk);
        chunk.containers = items + off;
        chunk.n_containers = STREAM_CHUNK;
        if (cri_send(c->call, &chunk.base, st) < 0)
            return st->code;
        off += STREAM_CHUNK;
    }
    resp->containers = items + off;
    resp->n_containers = n - off;
    return RPC_OK;
}

CRI_UNARY_HANDLER(stream_containers, runtime__v1__stream_containers_request,
                  runtime__v1__stream_containers_response)
