#include "cri/image_conv.h"

/* ListImages and StreamImages share this: the filtered images. */
static rpc_code list(cri_ctx *c, const Runtime__V1__ImageFilter *filter,
                     Runtime__V1__Image ***items, size_t *n, rpc_status *st)
{
    cric_err err = {0};
    image_info **v = NULL;
    size_t count = 0;
    const char *ref = filter ? cri_image_spec_ref(filter->image) : "";
    if (image_list(c->d->images, ref, &v, &count, &err) < 0)
        return cri_status_from_err(&err, st);
    *items = AR_ARRAY(c->arena, Runtime__V1__Image *, count);
    for (size_t i = 0; i < count; i++)
        (*items)[i] = cri_image(c->arena, v[i]);
    *n = count;
    image_info_list_free(v, count);
    return RPC_OK;
}

static rpc_code impl_list_images(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__ListImagesRequest *req = rq;
    Runtime__V1__ListImagesResponse *resp = rs;
    return list(c, req->filter, &resp->images, &resp->n_images, st);
}

CRI_UNARY_HANDLER(list_images, runtime__v1__list_images_request, runtime__v1__list_images_response)

#define STREAM_CHUNK 256

static rpc_code impl_stream_images(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__StreamImagesRequest *req = rq;
    Runtime__V1__StreamImagesResponse *resp = rs;
    Runtime__V1__Image **items = NULL;
    size_t n = 0;
    rpc_code code = list(c, req->filter, &items, &n, st);
    if (code != RPC_OK)
        return code;
    /* All chunks but the last are sent here; the runner sends resp itself. */
    size_t off = 0;
    while (n - off > STREAM_CHUNK) {
        Runtime__V1__StreamImagesResponse chunk;
        runtime__v1__stream_images_response__init(&chunk);
        chunk.images = items + off;
        chunk.n_images = STREAM_CHUNK;
        if (cri_send(c->call, &chunk.base, st) < 0)
            return st->code;
        off += STREAM_CHUNK;
    }
    resp->images = items + off;
    resp->n_images = n - off;
    return RPC_OK;
}

CRI_UNARY_HANDLER(stream_images, runtime__v1__stream_images_request,
                  runtime__v1__stream_images_response)
