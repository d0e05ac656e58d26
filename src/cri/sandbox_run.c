#include <stdlib.h>
#include <string.h>

#include "cri/cri.h"
#include "cri/sandbox_conv.h"
#include "pod/pod.h"

static pod_kv *kv_array(cri_arena *a, size_t n)
{
    return AR_ARRAY(a, pod_kv, n);
}

#define KV_FROM_MAP(a, src, n_src, dst, n_dst)                                                     \
    do {                                                                                           \
        (dst) = kv_array((a), (n_src));                                                            \
        for (size_t i_ = 0; i_ < (n_src); i_++) {                                                  \
            (dst)[i_].key = (src)[i_]->key ? (src)[i_]->key : "";                                  \
            (dst)[i_].value = (src)[i_]->value ? (src)[i_]->value : "";                            \
        }                                                                                          \
        (n_dst) = (n_src);                                                                         \
    } while (0)

const pod_resources *cri_pod_resources(cri_arena *a, const Runtime__V1__LinuxContainerResources *r)
{
    if (!r)
        return NULL;
    pod_resources *o = AR_NEW(a, pod_resources);
    o->cpu_period = r->cpu_period;
    o->cpu_quota = r->cpu_quota;
    o->cpu_shares = r->cpu_shares;
    o->memory_limit = r->memory_limit_in_bytes;
    o->cpuset_cpus = r->cpuset_cpus;
    o->cpuset_mems = r->cpuset_mems;
    KV_FROM_MAP(a, r->unified, r->n_unified, o->unified, o->n_unified);
    return o;
}

void cri_pod_config(cri_arena *a, const Runtime__V1__RunPodSandboxRequest *req, pod_config *pc)
{
    const Runtime__V1__PodSandboxConfig *cfg = req->config;
    memset(pc, 0, sizeof(*pc));
    pc->runtime_handler = req->runtime_handler;
    const Runtime__V1__PodSandboxMetadata *md = cfg->metadata;
    if (md) {
        pc->name = md->name;
        pc->namespace_ = md->namespace_;
        pc->uid = md->uid;
        pc->attempt = md->attempt;
    }
    pc->hostname = cfg->hostname;
    pc->log_directory = cfg->log_directory;
    if (cfg->dns_config) {
        const Runtime__V1__DNSConfig *dns = cfg->dns_config;
        pc->dns_servers = (const char **)dns->servers;
        pc->n_dns_servers = dns->n_servers;
        pc->dns_searches = (const char **)dns->searches;
        pc->n_dns_searches = dns->n_searches;
        pc->dns_options = (const char **)dns->options;
        pc->n_dns_options = dns->n_options;
        pc->has_dns = dns->n_servers || dns->n_searches || dns->n_options;
    }
    pc->ports = AR_ARRAY(a, pod_port, cfg->n_port_mappings);
    for (size_t i = 0; i < cfg->n_port_mappings; i++) {
        const Runtime__V1__PortMapping *pm = cfg->port_mappings[i];
        pc->ports[i].protocol = (int)pm->protocol;
        pc->ports[i].container_port = pm->container_port;
        pc->ports[i].host_port = pm->host_port;
        pc->ports[i].host_ip = pm->host_ip;
    }
    pc->n_ports = cfg->n_port_mappings;
    KV_FROM_MAP(a, cfg->labels, cfg->n_labels, pc->labels, pc->n_labels);
    KV_FROM_MAP(a, cfg->annotations, cfg->n_annotations, pc->annotations, pc->n_annotations);
    /* CRI defaults: network and IPC POD; PID CONTAINER unless set (kubelet
     * always sets it; an unset NamespaceOption reads as POD). */
    pc->net_mode = POD_NS_POD;
    pc->ipc_mode = POD_NS_POD;
    pc->pid_mode = POD_NS_CONTAINER;
    pc->target_id = "";
    pc->seccomp_ref = "";
    const Runtime__V1__LinuxPodSandboxConfig *lx = cfg->linux;
    if (!lx)
        return;
    pc->cgroup_parent = lx->cgroup_parent;
    KV_FROM_MAP(a, lx->sysctls, lx->n_sysctls, pc->sysctls, pc->n_sysctls);
    pc->overhead = cri_pod_resources(a, lx->overhead);
    pc->resources = cri_pod_resources(a, lx->resources);
    const Runtime__V1__LinuxSandboxSecurityContext *sc = lx->security_context;
    if (!sc)
        return;
    if (sc->namespace_options) {
        pc->net_mode = (int)sc->namespace_options->network;
        pc->ipc_mode = (int)sc->namespace_options->ipc;
        pc->pid_mode = (int)sc->namespace_options->pid;
        pc->target_id = sc->namespace_options->target_id;
    }
    pc->privileged = sc->privileged;
    pc->readonly_rootfs = sc->readonly_rootfs;
    if (sc->run_as_user) {
        pc->has_run_as_user = true;
        pc->run_as_user = sc->run_as_user->value;
    }
    if (sc->run_as_group) {
        pc->has_run_as_group = true;
        pc->run_as_group = sc->run_as_group->value;
    }
    pc->supplemental_groups = sc->supplemental_groups;
    pc->n_supplemental_groups = sc->n_supplemental_groups;
    if (sc->seccomp) {
        pc->seccomp_type = (int)sc->seccomp->profile_type;
        pc->seccomp_ref = sc->seccomp->localhost_ref;
    }
}

static rpc_code impl_run_pod_sandbox(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__RunPodSandboxRequest *req = rq;
    Runtime__V1__RunPodSandboxResponse *resp = rs;
    if (!req->config)
        return rpc_status_set(st, RPC_INVALID_ARGUMENT, "RunPodSandbox: config is required");
    if (req->config->linux && req->config->linux->security_context &&
        req->config->linux->security_context->namespace_options &&
        req->config->linux->security_context->namespace_options->userns_options &&
        req->config->linux->security_context->namespace_options->userns_options->mode !=
            RUNTIME__V1__NAMESPACE_MODE__NODE)
        return rpc_status_set(st, RPC_UNIMPLEMENTED,
                              "RunPodSandbox: user namespaces are not supported by cric yet");
    pod_config pc;
    cri_pod_config(c->arena, req, &pc);
    char *cidr = daemon_pod_cidr(c->d);
    pc.pod_cidr = cidr ? ar_strdup(c->arena, cidr) : "";
    free(cidr);
    char id[65];
    cric_err err = {0};
    if (pod_run(c->d->pods, &pc, id, &err) < 0)
        return cri_status_from_err(&err, st);
    resp->pod_sandbox_id = ar_strdup(c->arena, id);
    return RPC_OK;
}

CRI_UNARY_HANDLER(run_pod_sandbox, runtime__v1__run_pod_sandbox_request,
                  runtime__v1__run_pod_sandbox_response)
