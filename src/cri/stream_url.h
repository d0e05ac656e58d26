/* Exec, Attach and PortForward all answer with a URL on the streaming server;
 * this mints it (validation happens in the streaming server) into the call's
 * arena. */
#ifndef CRIC_CRI_STREAM_URL_H
#define CRIC_CRI_STREAM_URL_H

#include "cri/cri.h"
#include "stream/stream.h"

rpc_code cri_stream_url(cri_ctx *c, const char *method, const stream_request *r, char **url,
                        rpc_status *st);

#endif
