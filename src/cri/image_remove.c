#include "cri/image_conv.h"

static rpc_code impl_remove_image(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__RemoveImageRequest *req = rq;
    cric_err err = {0};
    if (image_remove(c->d->images, cri_image_spec_ref(req->image), &err) < 0)
        return cri_status_from_err(&err, st);
    return RPC_OK;
}

CRI_UNARY_HANDLER(remove_image, runtime__v1__remove_image_request,
                  runtime__v1__remove_image_response)
