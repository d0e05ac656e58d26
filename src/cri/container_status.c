#include <stdlib.h>

#include "cri/container_conv.h"

static rpc_code impl_container_status(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__ContainerStatusRequest *req = rq;
    Runtime__V1__ContainerStatusResponse *resp = rs;
    cri_arena *a = c->arena;
    ctr_info info;
    cric_err err = {0};
    if (ctr_lookup(c->d->ctrs, req->container_id, &info, &err) < 0)
        return cri_status_from_err(&err, st);
    resp->status = cri_ctr_status(a, &info);
    if (req->verbose) {
        char *text = ctr_verbose_json(c->d->ctrs, &info);
        Runtime__V1__ContainerStatusResponse__InfoEntry *e =
            AR_NEW(a, Runtime__V1__ContainerStatusResponse__InfoEntry);
        runtime__v1__container_status_response__info_entry__init(e);
        e->key = "info";
        e->value = ar_strdup(a, text ? text : "{}");
        free(text);
        resp->n_info = 1;
        resp->info = AR_ARRAY(a, Runtime__V1__ContainerStatusResponse__InfoEntry *, 1);
        resp->info[0] = e;
    }
    ctr_info_free(c->d->ctrs, &info);
    return RPC_OK;
}

CRI_UNARY_HANDLER(container_status, runtime__v1__container_status_request,
                  runtime__v1__container_status_response)
