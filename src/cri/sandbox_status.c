#include <stdlib.h>
#include <time.h>

#include "cri/sandbox_conv.h"

static rpc_code impl_pod_sandbox_status(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__PodSandboxStatusRequest *req = rq;
    Runtime__V1__PodSandboxStatusResponse *resp = rs;
    cri_arena *a = c->arena;
    pod_info *p = NULL;
    cric_err err = {0};
    if (pod_lookup(c->d->pods, req->pod_sandbox_id, &p, &err) < 0)
        return cri_status_from_err(&err, st);
    Runtime__V1__PodSandboxStatus *s = cri_pod_status(a, p);
    resp->status = s;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    resp->timestamp = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    if (req->verbose) {
        char *info = pod_verbose_json(c->d->pods, p);
        Runtime__V1__PodSandboxStatusResponse__InfoEntry *e =
            AR_NEW(a, Runtime__V1__PodSandboxStatusResponse__InfoEntry);
        runtime__v1__pod_sandbox_status_response__info_entry__init(e);
        e->key = "info";
        e->value = ar_strdup(a, info ? info : "{}");
        free(info);
        resp->n_info = 1;
        resp->info = AR_ARRAY(a, Runtime__V1__PodSandboxStatusResponse__InfoEntry *, 1);
        resp->info[0] = e;
    }
    pod_info_free(p);
    return RPC_OK;
}

CRI_UNARY_HANDLER(pod_sandbox_status, runtime__v1__pod_sandbox_status_request,
                  runtime__v1__pod_sandbox_status_response)
