#include "cri/container_conv.h"

#include <stdlib.h>

/* A ListContainersResponse is its entries, each field 1 (containers) with
 * its length: the service keeps each container's entry encoded until its
 * state changes, so the kubelet's relist every second copies bytes instead
 * of building and encoding 500 messages. */
#define CONTAINERS_FIELD_TAG ((1u << 3) | 2u) /* field 1, length-delimited */

static size_t put_varint(uint8_t *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

static int encode_entry(const ctr_info *info, void *user, uint8_t **bytes, size_t *len)
{
    Runtime__V1__Container *o = cri_ctr_summary(user, info);
    size_t n = runtime__v1__container__get_packed_size(o);
    uint8_t *b = malloc(1 + 10 + n);
    if (!b)
        return -1;
    size_t k = 0;
    b[k++] = CONTAINERS_FIELD_TAG;
    k += put_varint(b + k, n);
    runtime__v1__container__pack(o, b + k);
    *bytes = b;
    *len = k + n;
    return 0;
}

static rpc_code impl_list_containers(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    (void)rs;
    const Runtime__V1__ListContainersRequest *req = rq;
    ctr_filter f;
    cri_ctr_filter(c->arena, req->filter, &f);
    uint8_t *buf = NULL;
    size_t len = 0;
    cric_err err = {0};
    if (ctr_list_encoded(c->d->ctrs, &f, encode_entry, c->arena, RPC_SEND_HEADROOM, &buf, &len,
                         &err) < 0)
        return cri_status_from_err(&err, st);
    if (rpc_call_send_owned(c->call, buf, len) < 0)
        return rpc_status_set(st, RPC_CANCELLED, "%s: call ended before the response was sent",
                              rpc_call_method(c->call));
    return RPC_OK;
}

CRI_SELF_SENDING_HANDLER(list_containers, runtime__v1__list_containers_request)

/* StreamContainers: the same listing, sent in chunks. */
#define STREAM_CHUNK 256

static rpc_code impl_stream_containers(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__StreamContainersRequest *req = rq;
    Runtime__V1__StreamContainersResponse *resp = rs;
    Runtime__V1__Container **items = NULL;
    size_t n = 0;
    rpc_code code = cri_ctr_list(c, req->filter, &items, &n, st);
    if (code != RPC_OK)
        return code;
    size_t off = 0;
    while (n - off > STREAM_CHUNK) {
        Runtime__V1__StreamContainersResponse chunk;
        runtime__v1__stream_containers_response__init(&chunk);
        chunk.containers = items + off;
        chunk.n_containers = STREAM_CHUNK;
        if (cri_send(c->call, &chunk.base, st) < 0)
            return st->code;
        off += STREAM_CHUNK;
    }
    resp->containers = items + off;
    resp->n_containers = n - off;
    return RPC_OK;
}

CRI_UNARY_HANDLER(stream_containers, runtime__v1__stream_containers_request,
                  runtime__v1__stream_containers_response)
