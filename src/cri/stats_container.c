/* ContainerStats, ListContainerStats, StreamContainerStats. */
#include "cri/stats_ctr.h"
#include "ctr/ctr_observe.h"

static rpc_code impl_container_stats(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__ContainerStatsRequest *req = rq;
    Runtime__V1__ContainerStatsResponse *resp = rs;
    if (!req->container_id || !req->container_id[0])
        return rpc_status_set(st, RPC_INVALID_ARGUMENT, "ContainerStats: container_id is empty");
    ctr_info ci;
    cric_err err = {0};
    if (ctr_lookup(c->d->ctrs, req->container_id, &ci, &err) < 0)
        return cri_status_from_err(&err, st);
    resp->stats = cri_ctr_stats(c, &ci);
    ctr_info_free(c->d->ctrs, &ci);
    return RPC_OK;
}

CRI_UNARY_HANDLER(container_stats, runtime__v1__container_stats_request,
                  runtime__v1__container_stats_response)

static rpc_code impl_list_container_stats(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__ListContainerStatsRequest *req = rq;
    Runtime__V1__ListContainerStatsResponse *resp = rs;
    return cri_ctr_stats_list(c, req->filter, &resp->stats, &resp->n_stats, st);
}

CRI_UNARY_HANDLER(list_container_stats, runtime__v1__list_container_stats_request,
                  runtime__v1__list_container_stats_response)

#define STREAM_CHUNK 128

static rpc_code impl_stream_container_stats(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__StreamContainerStatsRequest *req = rq;
    Runtime__V1__StreamContainerStatsResponse *resp = rs;
    Runtime__V1__ContainerStats **items = NULL;
    size_t n = 0;
    rpc_code code = cri_ctr_stats_list(c, req->filter, &items, &n, st);
    if (code != RPC_OK)
        return code;
    size_t off = 0;
    while (n - off > STREAM_CHUNK) {
        Runtime__V1__StreamContainerStatsResponse chunk;
        runtime__v1__stream_container_stats_response__init(&chunk);
        chunk.container_stats = items + off;
        chunk.n_container_stats = STREAM_CHUNK;
        if (cri_send(c->call, &chunk.base, st) < 0)
            return st->code;
        off += STREAM_CHUNK;
    }
    resp->container_stats = items + off;
    resp->n_container_stats = n - off;
    return RPC_OK;
}

CRI_UNARY_HANDLER(stream_container_stats, runtime__v1__stream_container_stats_request,
                  runtime__v1__stream_container_stats_response)

/* UpdateContainerResources: validation, the runtime's update and the record
 * live in the container service (ctr_observe.h). */
static rpc_code impl_update_container_resources(cri_ctx *c, const void *rq, void *rs,
                                                rpc_status *st)
{
    const Runtime__V1__UpdateContainerResourcesRequest *req = rq;
    if (!req->container_id || !req->container_id[0])
        return rpc_status_set(st, RPC_INVALID_ARGUMENT,
                              "UpdateContainerResources: container_id is empty");
    cric_err err = {0};
    if (ctr_update_resources(c->d->ctrs, req->container_id, req->linux, &err) < 0)
        return cri_status_from_err(&err, st);
    return RPC_OK;
}

CRI_UNARY_HANDLER(update_container_resources, runtime__v1__update_container_resources_request,
                  runtime__v1__update_container_resources_response)
