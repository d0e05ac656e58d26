#include "cri/cri.h"

/* cric manages cgroups itself through cgroupfs paths; it never talks to systemd. */
static rpc_code impl_runtime_config(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    Runtime__V1__RuntimeConfigResponse *resp = rs;
    resp->linux = AR_NEW(c->arena, Runtime__V1__LinuxRuntimeConfiguration);
    runtime__v1__linux_runtime_configuration__init(resp->linux);
    resp->linux->cgroup_driver = RUNTIME__V1__CGROUP_DRIVER__CGROUPFS;
    return RPC_OK;
}

CRI_UNARY_HANDLER(runtime_config, runtime__v1__runtime_config_request,
                  runtime__v1__runtime_config_response)
