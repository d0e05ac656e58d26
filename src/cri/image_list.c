#include "cri/image_conv.h"

static rpc_code impl_list_images(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__ListImagesRequest *req = rq;
    Runtime__V1__ListImagesResponse *resp = rs;
    cric_err err = {0};
    image_info **v = NULL;
    size_t n = 0;
    const char *filter = req->filter ? cri_image_spec_ref(req->filter->image) : "";
    if (image_list(c->d->images, filter, &v, &n, &err) < 0)
        return cri_status_from_err(&err, st);
    resp->images = AR_ARRAY(c->arena, Runtime__V1__Image *, n);
    for (size_t i = 0; i < n; i++)
        resp->images[i] = cri_image(c->arena, v[i]);
    resp->n_images = n;
    image_info_list_free(v, n);
    return RPC_OK;
}

CRI_UNARY_HANDLER(list_images, runtime__v1__list_images_request, runtime__v1__list_images_response)
