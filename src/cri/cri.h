/* Shared plumbing for CRI handlers: decode the request, give the handler a
 * zeroed response and an arena for everything it allocates, encode and send
 * the response, free it all. Handlers translate and delegate, nothing else. */
#ifndef CRIC_CRI_CRI_H
#define CRIC_CRI_CRI_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "cri.pb-c.h"
#include "daemon/daemon.h"
#include "rpc/server.h"
#include "util/err.h"

/* A bump allocator that lives for one call: response fields point into it. */
typedef struct cri_arena cri_arena;
void *ar_alloc(cri_arena *a, size_t n); /* zeroed; aborts on out-of-memory */
char *ar_strdup(cri_arena *a, const char *s);
#define AR_NEW(a, T) ((T *)ar_alloc((a), sizeof(T)))
#define AR_ARRAY(a, T, n) ((T *)ar_alloc((a), sizeof(T) * ((n) ? (n) : 1)))

typedef struct cri_ctx {
    cric_daemon *d;
    rpc_call *call;
    cri_arena *arena;
} cri_ctx;

/* A handler body: req and resp are the generated message types. Returns the
 * gRPC code, with st filled for errors. */
typedef rpc_code (*cri_unary_impl)(cri_ctx *c, const void *req, void *resp, rpc_status *st);

void cri_run_unary(rpc_call *call, void *user, const uint8_t *buf, size_t len, rpc_status *st,
                   const ProtobufCMessageDescriptor *req_desc,
                   const ProtobufCMessageDescriptor *resp_desc, cri_unary_impl impl);

/* Declares the rpc_handler_fn cri_<name> that runs impl_<name> with the given
 * request and response types (lower-case protobuf-c prefixes). */
#define CRI_UNARY_HANDLER(name, req_prefix, resp_prefix)                                           \
    void cri_##name(rpc_call *call, void *user, const uint8_t *buf, size_t len, rpc_status *st)    \
    {                                                                                              \
        cri_run_unary(call, user, buf, len, st, &req_prefix##__descriptor,                         \
                      &resp_prefix##__descriptor, impl_##name);                                    \
    }

/* For handlers that build and send their response themselves
 * (rpc_call_send_owned): cri_run_unary with no response descriptor gives
 * impl a NULL resp and sends nothing when it returns RPC_OK. */
#define CRI_SELF_SENDING_HANDLER(name, req_prefix)                                                 \
    void cri_##name(rpc_call *call, void *user, const uint8_t *buf, size_t len, rpc_status *st)    \
    {                                                                                              \
        cri_run_unary(call, user, buf, len, st, &req_prefix##__descriptor, NULL, impl_##name);     \
    }

/* Encodes one message and queues it on the call (streams and unary alike). */
int cri_send(rpc_call *call, const ProtobufCMessage *msg, rpc_status *st);

/* The deliberate mapping from domain error kinds to gRPC codes. */
rpc_code cri_status_from_err(const cric_err *err, rpc_status *st);

/* For methods whose issue has not landed: UNIMPLEMENTED naming the method. */
void cri_unimplemented(rpc_call *call, void *user, const uint8_t *buf, size_t len, rpc_status *st);

#endif
