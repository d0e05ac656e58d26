/* CNI plugin execution (CNI spec 1.0: ADD/DEL of a network config list, one
 * plugin after another, each getting the previous result as prevResult) and
 * result parsing (0.3.x/0.4.0/1.0.0 "ips", 0.2.0 "ip4"/"ip6"). */
#ifndef CRIC_POD_CNI_H
#define CRIC_POD_CNI_H

#include <jansson.h>
#include <stddef.h>

#include "util/err.h"

typedef struct cni_runtime {
    char *const *bin_dirs;
    size_t n_bin_dirs;
    const char *container_id, *netns, *ifname;
    const char *cni_args;   /* "IgnoreUnknown=1;K8S_POD_NAMESPACE=...;..." */
    json_t *runtime_config; /* capability args by name, e.g. portMappings; may be NULL */
    int timeout_ms;         /* per plugin call */
} cni_runtime;

/* ADD through every plugin of the list; *result is the last plugin's result.
 * On failure the caller should run cni_del for the whole list. */
int cni_add(const cni_runtime *rt, json_t *conflist, json_t **result, cric_err *err);
/* DEL through the plugins in reverse order (prev_result may be NULL). Every
 * plugin is called even if one fails; the first error is returned. */
int cni_del(const cni_runtime *rt, json_t *conflist, json_t *prev_result, cric_err *err);

/* The sandbox's IP addresses (without prefix length) from a result: IPv4 ones
 * first, then IPv6, each at most once; only addresses of interfaces inside
 * the sandbox when the result says which interface an address is on. */
int cni_result_ips(json_t *result, char ***ips, size_t *n, cric_err *err);

/* The config object passed to plugin i of list: the plugin's own keys plus
 * name, cniVersion, prevResult (when non-NULL) and runtimeConfig (the
 * capability args the plugin declares). New reference. */
json_t *cni_plugin_config(json_t *conflist, size_t i, json_t *prev_result, json_t *runtime_config);

#endif
