/* PodSandboxStats, ListPodSandboxStats, StreamPodSandboxStats. */
#include "cri/stats_conv.h"

static rpc_code impl_pod_sandbox_stats(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__PodSandboxStatsRequest *req = rq;
    Runtime__V1__PodSandboxStatsResponse *resp = rs;
    if (!req->pod_sandbox_id || !req->pod_sandbox_id[0])
        return rpc_status_set(st, RPC_INVALID_ARGUMENT, "PodSandboxStats: pod_sandbox_id is empty");
    pod_info *p = NULL;
    cric_err err = {0};
    if (pod_lookup(c->d->pods, req->pod_sandbox_id, &p, &err) < 0)
        return cri_status_from_err(&err, st);
    resp->stats = cri_pod_stats(c, p);
    pod_info_free(p);
    return RPC_OK;
}

CRI_UNARY_HANDLER(pod_sandbox_stats, runtime__v1__pod_sandbox_stats_request,
                  runtime__v1__pod_sandbox_stats_response)

static rpc_code impl_list_pod_sandbox_stats(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__ListPodSandboxStatsRequest *req = rq;
    Runtime__V1__ListPodSandboxStatsResponse *resp = rs;
    return cri_pod_stats_list(c, req->filter, &resp->stats, &resp->n_stats, st);
}

CRI_UNARY_HANDLER(list_pod_sandbox_stats, runtime__v1__list_pod_sandbox_stats_request,
                  runtime__v1__list_pod_sandbox_stats_response)

#define STREAM_CHUNK 64

static rpc_code impl_stream_pod_sandbox_stats(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__StreamPodSandboxStatsRequest *req = rq;
    Runtime__V1__StreamPodSandboxStatsResponse *resp = rs;
    Runtime__V1__PodSandboxStats **items = NULL;
    size_t n = 0;
    rpc_code code = cri_pod_stats_list(c, req->filter, &items, &n, st);
    if (code != RPC_OK)
        return code;
    size_t off = 0;
    while (n - off > STREAM_CHUNK) { /* the runner sends the last chunk */
        Runtime__V1__StreamPodSandboxStatsResponse chunk;
        runtime__v1__stream_pod_sandbox_stats_response__init(&chunk);
        chunk.pod_sandbox_stats = items + off;
        chunk.n_pod_sandbox_stats = STREAM_CHUNK;
        if (cri_send(c->call, &chunk.base, st) < 0)
            return st->code;
        off += STREAM_CHUNK;
    }
    resp->pod_sandbox_stats = items + off;
    resp->n_pod_sandbox_stats = n - off;
    return RPC_OK;
}

CRI_UNARY_HANDLER(stream_pod_sandbox_stats, runtime__v1__stream_pod_sandbox_stats_request,
                  runtime__v1__stream_pod_sandbox_stats_response)
