#include <stdlib.h>

#include "cri/stream_url.h"

rpc_code cri_stream_url(cri_ctx *c, const char *method, const stream_request *r, char **url,
                        rpc_status *st)
{
    if (!c->d->stream)
        return rpc_status_set(st, RPC_UNAVAILABLE, "%s: the streaming server is not running",
                              method);
    cric_err err = {0};
    char *minted = NULL;
    if (stream_server_url(c->d->stream, r, &minted, &err) < 0)
        return cri_status_from_err(&err, st);
    *url = ar_strdup(c->arena, minted);
    free(minted);
    return RPC_OK;
}
