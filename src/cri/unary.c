#include <stdlib.h>
#include <string.h>

#include "cri/arena.h"
#include "cri/cri.h"
#include "cri/pbcheck.h"

/* Responses up to this size are encoded on the stack. */
#define STACK_PACK_MAX 4096

int cri_send(rpc_call *call, const ProtobufCMessage *msg, rpc_status *st)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t stackbuf[STACK_PACK_MAX];
    uint8_t *buf = n <= sizeof(stackbuf) ? stackbuf : malloc(n);
    if (!buf) {
        rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "%s: response of %zu bytes: out of memory",
                       rpc_call_method(call), n);
        return -1;
    }
    protobuf_c_message_pack(msg, buf);
    int rc = rpc_call_send(call, buf, n);
    if (buf != stackbuf)
        free(buf);
    if (rc < 0)
        rpc_status_set(st, RPC_CANCELLED, "%s: call ended before the response was sent",
                       rpc_call_method(call));
    return rc;
}

void cri_run_unary(rpc_call *call, void *user, const uint8_t *buf, size_t len, rpc_status *st,
                   const ProtobufCMessageDescriptor *req_desc,
                   const ProtobufCMessageDescriptor *resp_desc, cri_unary_impl impl)
{
    ProtobufCMessage *req = protobuf_c_message_unpack(req_desc, NULL, len, buf);
    if (!req) {
        rpc_status_set(st, RPC_INVALID_ARGUMENT, "%s: malformed %s message", rpc_call_method(call),
                       req_desc->name);
        return;
    }
    char why[400];
    if (cri_pb_check_strings(req_desc, buf, len, why, sizeof(why)) < 0) {
        rpc_status_set(st, RPC_INVALID_ARGUMENT, "%s: %s", rpc_call_method(call), why);
        protobuf_c_message_free_unpacked(req, NULL);
        return;
    }
    cri_arena arena = {0};
    ProtobufCMessage *resp = NULL;
    if (resp_desc) {
        resp = ar_alloc(&arena, resp_desc->sizeof_message);
        protobuf_c_message_init(resp_desc, resp);
    }
    cri_ctx ctx = {.d = user, .call = call, .arena = &arena};
    st->code = RPC_OK;
    st->message[0] = '\0';
    rpc_code code = impl(&ctx, req, resp, st);
    if (code == RPC_OK && resp)
        cri_send(call, resp, st);
    else
        st->code = code;
    arena_release(&arena);
    protobuf_c_message_free_unpacked(req, NULL);
}

rpc_code cri_status_from_err(const cric_err *err, rpc_status *st)
{
    rpc_code code;
    switch (err->kind) {
    case CRIC_ERR_INVALID:
        code = RPC_INVALID_ARGUMENT;
        break;
    case CRIC_ERR_NOT_FOUND:
        code = RPC_NOT_FOUND;
        break;
    case CRIC_ERR_EXISTS:
        code = RPC_ALREADY_EXISTS;
        break;
    case CRIC_ERR_PRECONDITION:
        code = RPC_FAILED_PRECONDITION;
        break;
    case CRIC_ERR_UNAVAILABLE:
        code = RPC_UNAVAILABLE;
        break;
    case CRIC_ERR_TIMEOUT:
        code = RPC_DEADLINE_EXCEEDED;
        break;
    case CRIC_ERR_RESOURCE:
        code = RPC_RESOURCE_EXHAUSTED;
        break;
    case CRIC_ERR_UNIMPLEMENTED:
        code = RPC_UNIMPLEMENTED;
        break;
    case CRIC_ERR_CANCELLED:
        code = RPC_CANCELLED;
        break;
    case CRIC_ERR_PERMISSION:
        code = RPC_PERMISSION_DENIED;
        break;
    case CRIC_ERR_NONE:
    case CRIC_ERR_INTERNAL:
    default:
        code = RPC_INTERNAL;
        break;
    }
    return rpc_status_set(st, code, "%s", err->msg[0] ? err->msg : cric_errkind_name(err->kind));
}

void cri_unimplemented(rpc_call *call, void *user, const uint8_t *buf, size_t len, rpc_status *st)
{
    rpc_status_set(st, RPC_UNIMPLEMENTED, "%s is not implemented by cric yet",
                   rpc_call_method(call));
}
