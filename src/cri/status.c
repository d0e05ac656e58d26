#include <jansson.h>
#include <stdlib.h>

#include "cri/arena.h"
#include "cri/cri.h"
#include "pod/cni_conf.h"

static Runtime__V1__RuntimeCondition *condition(cri_arena *a, const char *type, bool ok,
                                                const char *reason, const char *message)
{
    Runtime__V1__RuntimeCondition *cond = AR_NEW(a, Runtime__V1__RuntimeCondition);
    runtime__v1__runtime_condition__init(cond);
    cond->type = (char *)type;
    cond->status = ok;
    cond->reason = ar_strdup(a, reason);
    cond->message = ar_strdup(a, message);
    return cond;
}

static Runtime__V1__StatusResponse__InfoEntry *info_entry(cri_arena *a, const char *key,
                                                          json_t *value)
{
    Runtime__V1__StatusResponse__InfoEntry *e = AR_NEW(a, Runtime__V1__StatusResponse__InfoEntry);
    runtime__v1__status_response__info_entry__init(e);
    e->key = (char *)key;
    char *s = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    e->value = ar_strdup(a, s ? s : "null");
    free(s);
    json_decref(value);
    return e;
}

static Runtime__V1__RuntimeHandler *handler_entry(cri_arena *a, const char *name)
{
    Runtime__V1__RuntimeHandler *h = AR_NEW(a, Runtime__V1__RuntimeHandler);
    runtime__v1__runtime_handler__init(h);
    h->name = ar_strdup(a, name);
    h->features = AR_NEW(a, Runtime__V1__RuntimeHandlerFeatures);
    runtime__v1__runtime_handler_features__init(h->features);
    return h;
}

static rpc_code impl_status(cri_ctx *c, const void *rq, void *rs, rpc_status *st)
{
    const Runtime__V1__StatusRequest *req = rq;
    Runtime__V1__StatusResponse *resp = rs;
    cri_arena *a = c->arena;
    const cric_config *cfg = &c->d->cfg;

    char *cni_path = NULL;
    cric_err cni_err = {0};
    bool net_ready = cni_conf_pick(cfg->cni_conf_dir, &cni_path, &cni_err) == 0;

    resp->status = AR_NEW(a, Runtime__V1__RuntimeStatus);
    runtime__v1__runtime_status__init(resp->status);
    resp->status->n_conditions = 2;
    resp->status->conditions = AR_ARRAY(a, Runtime__V1__RuntimeCondition *, 2);
    resp->status->conditions[0] = condition(a, "RuntimeReady", true, "", "");
    resp->status->conditions[1] =
        net_ready ? condition(a, "NetworkReady", true, "", "")
                  : condition(a, "NetworkReady", false, "NetworkPluginNotReady", cni_err.msg);

    /* One entry per configured handler plus "" for the default one. */
    resp->n_runtime_handlers = cfg->n_handlers + 1;
    resp->runtime_handlers = AR_ARRAY(a, Runtime__V1__RuntimeHandler *, cfg->n_handlers + 1);
    resp->runtime_handlers[0] = handler_entry(a, "");
    for (size_t i = 0; i < cfg->n_handlers; i++)
        resp->runtime_handlers[i + 1] = handler_entry(a, cfg->handlers[i].name);

    if (req->verbose) {
        char *cidr = daemon_pod_cidr(c->d);
        resp->n_info = 4;
        resp->info = AR_ARRAY(a, Runtime__V1__StatusResponse__InfoEntry *, 4);
        resp->info[0] = info_entry(a, "config", config_to_json(cfg));
        resp->info[1] = info_entry(a, "podCIDR", json_string(cidr ? cidr : ""));
        resp->info[2] = info_entry(
            a, "cniconfig",
            json_pack("{s:s, s:s?}", "confDir", cfg->cni_conf_dir, "networkConfig", cni_path));
        free(cidr);
        /* The handlers with what they support (the same list as runtime_handlers). */
        json_t *hl = json_array();
        for (size_t i = 0; i < resp->n_runtime_handlers; i++) {
            const Runtime__V1__RuntimeHandler *h = resp->runtime_handlers[i];
            const cric_runtime_handler *ch = i ? &cfg->handlers[i - 1] : NULL;
            json_array_append_new(hl, json_pack("{s:s, s:s, s:s, s:{s:b, s:b}}", "name", h->name,
                                                "path", ch && ch->path ? ch->path : "", "root",
                                                ch && ch->root ? ch->root : "", "features",
                                                "recursiveReadOnlyMounts",
                                                h->features->recursive_read_only_mounts,
                                                "userNamespaces", h->features->user_namespaces));
        }
        resp->info[3] = info_entry(a, "runtimeHandlers", hl);
    }
    free(cni_path);
    return RPC_OK;
}

CRI_UNARY_HANDLER(status, runtime__v1__status_request, runtime__v1__status_response)
