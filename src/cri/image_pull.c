#include <jansson.h>

#include "cri/image_conv.h"

static bool call_cancelled(void *call)
{
    return rpc_call_cancelled(call);
}

static rpc_code impl_pull_image(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__PullImageRequest *req = rq;
    Runtime__V1__PullImageResponse *resp = rs;
    cric_err err = {0};
    const char *ref = cri_image_spec_ref(req->image);
    if (!*ref) {
        cric_err_set(&err, CRIC_ERR_INVALID, "PullImage: image reference is empty");
        return cri_status_from_err(&err, st);
    }
    const char *handler = req->image ? req->image->runtime_handler : NULL;
    if (handler && *handler && !config_find_handler(&c->d->cfg, handler)) {
        cric_err_set(&err, CRIC_ERR_INVALID, "PullImage %.200s: unknown runtime handler %.100s",
                     ref, handler);
        return cri_status_from_err(&err, st);
    }
    image_auth auth = {0};
    if (req->auth) {
        auth.username = req->auth->username;
        auth.password = req->auth->password;
        auth.auth = req->auth->auth;
        auth.identity_token = req->auth->identity_token;
        auth.registry_token = req->auth->registry_token;
        auth.server_address = req->auth->server_address;
    }
    json_t *ann = json_object();
    for (size_t i = 0; req->image && i < req->image->n_annotations; i++)
        json_object_set_new(ann, req->image->annotations[i]->key,
                            json_string(req->image->annotations[i]->value));
    char id[80];
    int rc = image_pull(c->d->images, ref, &auth, ann, call_cancelled, c->call, id, &err);
    json_decref(ann);
    if (rc < 0)
        return cri_status_from_err(&err, st);
    resp->image_ref = ar_strdup(c->arena, id);
    return RPC_OK;
}

CRI_UNARY_HANDLER(pull_image, runtime__v1__pull_image_request, runtime__v1__pull_image_response)
