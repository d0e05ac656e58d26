#include <jansson.h>
#include <stdlib.h>

#include "cri/image_conv.h"

static rpc_code impl_image_status(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__ImageStatusRequest *req = rq;
    Runtime__V1__ImageStatusResponse *resp = rs;
    cric_err err = {0};
    image_info *info = NULL;
    if (image_resolve(c->d->images, cri_image_spec_ref(req->image), &info, &err) < 0) {
        if (err.kind == CRIC_ERR_NOT_FOUND)
            return RPC_OK; /* an absent image is an empty answer, not an error */
        return cri_status_from_err(&err, st);
    }
    resp->image = cri_image(c->arena, info);
    if (req->verbose) {
        json_t *j = json_pack("{s:s, s:s, s:O, s:O}", "id", info->id, "manifestDigest",
                              info->manifest_digest, "imageSpec", info->image_config, "annotations",
                              info->annotations);
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        Runtime__V1__ImageStatusResponse__InfoEntry *e =
            AR_NEW(c->arena, Runtime__V1__ImageStatusResponse__InfoEntry);
        runtime__v1__image_status_response__info_entry__init(e);
        e->key = "info";
        e->value = ar_strdup(c->arena, s ? s : "{}");
        free(s);
        resp->info = AR_ARRAY(c->arena, Runtime__V1__ImageStatusResponse__InfoEntry *, 1);
        resp->info[0] = e;
        resp->n_info = 1;
    }
    image_info_free(info);
    return RPC_OK;
}

CRI_UNARY_HANDLER(image_status, runtime__v1__image_status_request,
                  runtime__v1__image_status_response)
