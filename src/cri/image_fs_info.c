#include <time.h>

#include "cri/image_conv.h"

static Runtime__V1__UInt64Value *u64(cri_arena *a, uint64_t v)
{
    Runtime__V1__UInt64Value *x = AR_NEW(a, Runtime__V1__UInt64Value);
    runtime__v1__uint64_value__init(x);
    x->value = v;
    return x;
}

static Runtime__V1__FilesystemUsage *usage(cri_arena *a, const image_fs_usage *u)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    Runtime__V1__FilesystemUsage *fs = AR_NEW(a, Runtime__V1__FilesystemUsage);
    runtime__v1__filesystem_usage__init(fs);
    fs->timestamp = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    fs->fs_id = AR_NEW(a, Runtime__V1__FilesystemIdentifier);
    runtime__v1__filesystem_identifier__init(fs->fs_id);
    fs->fs_id->mountpoint = ar_strdup(a, u->mountpoint);
    fs->used_bytes = u64(a, u->bytes);
    fs->inodes_used = u64(a, u->inodes);
    return fs;
}

static rpc_code impl_image_fs_info(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    Runtime__V1__ImageFsInfoResponse *resp = rs;
    cri_arena *a = c->arena;
    cric_err err = {0};
    image_fs_usage img, ctr;
    if (image_fs_usage_get(c->d->images, &img, &ctr, &err) < 0)
        return cri_status_from_err(&err, st);
    resp->image_filesystems = AR_ARRAY(a, Runtime__V1__FilesystemUsage *, 1);
    resp->image_filesystems[0] = usage(a, &img);
    resp->n_image_filesystems = 1;
    resp->container_filesystems = AR_ARRAY(a, Runtime__V1__FilesystemUsage *, 1);
    resp->container_filesystems[0] = usage(a, &ctr);
    resp->n_container_filesystems = 1;
    return RPC_OK;
}

CRI_UNARY_HANDLER(image_fs_info, runtime__v1__image_fs_info_request,
                  runtime__v1__image_fs_info_response)
