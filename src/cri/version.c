#include "cri/cri.h"

/* The kubelet checks `version` (the CRI wire version) and runtime_api_version. */
static rpc_code impl_version(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    Runtime__V1__VersionResponse *resp = rs;
    resp->version = "0.1.0";
    resp->runtime_name = "cric";
    resp->runtime_version = CRIC_VERSION;
    resp->runtime_api_version = "v1";
    return RPC_OK;
}

CRI_UNARY_HANDLER(version, runtime__v1__version_request, runtime__v1__version_response)
