#include "pod/cni.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pod/runproc.h"
#include "util/cleanup.h"
#include "util/ids.h"
#include "util/log.h"

static int find_plugin(const cni_runtime *rt, const char *type, char *path, size_t size,
                       cric_err *err)
{
    if (!name_is_safe_component(type, strlen(type), 128))
        return cric_err_set(err, CRIC_ERR_INVALID, "CNI plugin type %.80s: not a file name", type);
    for (size_t i = 0; i < rt->n_bin_dirs; i++) {
        snprintf(path, size, "%s/%s", rt->bin_dirs[i], type);
        if (access(path, X_OK) == 0)
            return 0;
    }
    return cric_err_set(err, CRIC_ERR_UNAVAILABLE, "CNI plugin %s: not found in the bin dirs",
                        type);
}

/* One plugin call; on ADD success *result is its parsed stdout. */
static int exec_plugin(const cni_runtime *rt, const char *command, json_t *conf, json_t **result,
                       cric_err *err)
{
    const char *type = json_string_value(json_object_get(conf, "type"));
    if (!type)
        return cric_err_set(err, CRIC_ERR_INVALID, "CNI config: a plugin has no type");
    char path[4096];
    if (find_plugin(rt, type, path, sizeof(path), err) < 0)
        return -1;
    _cleanup_free_ char *in = json_dumps(conf, JSON_COMPACT);
    if (!in)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "CNI plugin %s: out of memory", type);
    char cni_path[4096] = "";
    size_t off = 0;
    for (size_t i = 0; i < rt->n_bin_dirs && off < sizeof(cni_path); i++)
        off += (size_t)snprintf(cni_path + off, sizeof(cni_path) - off, "%s%s", i ? ":" : "",
                                rt->bin_dirs[i]);
    char e_cmd[64], e_id[128], e_netns[4200], e_if[64], e_path[4200];
    _cleanup_free_ char *e_args = NULL;
    snprintf(e_cmd, sizeof(e_cmd), "CNI_COMMAND=%s", command);
    snprintf(e_id, sizeof(e_id), "CNI_CONTAINERID=%s", rt->container_id);
    snprintf(e_netns, sizeof(e_netns), "CNI_NETNS=%s", rt->netns);
    snprintf(e_if, sizeof(e_if), "CNI_IFNAME=%s", rt->ifname);
    snprintf(e_path, sizeof(e_path), "CNI_PATH=%s", cni_path);
    if (asprintf(&e_args, "CNI_ARGS=%s", rt->cni_args ? rt->cni_args : "") < 0)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "CNI plugin %s: out of memory", type);
    char *envp[] = {e_cmd,
                    e_id,
                    e_netns,
                    e_if,
                    e_path,
                    e_args,
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    NULL};
    char *argv[] = {(char *)type, NULL};
    spawn_result res;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (spawn_run(path, argv, envp, in, strlen(in), rt->timeout_ms, &res, err) < 0)
        return cric_err_prefix(err, "CNI %s %s: ", command, type);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    log_debug("pod", "sandbox %.12s: CNI %s %s: exit %d in %.1f ms", rt->container_id, command,
              type, res.exit_code, (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
    int rc = 0;
    if (res.exit_code != 0) {
        /* The spec's error object on stdout: {"code", "msg", "details"}. */
        json_t *e = json_loadb(res.out, res.out_len, 0, NULL);
        const char *msg = json_string_value(json_object_get(e, "msg"));
        const char *details = json_string_value(json_object_get(e, "details"));
        if (res.exit_code < 0)
            rc = cric_err_set(err, CRIC_ERR_UNAVAILABLE, "CNI %s %s: killed by signal %d", command,
                              type, res.signal);
        else
            rc = cric_err_set(
                err, CRIC_ERR_UNAVAILABLE, "CNI %s %s: exit %d: %.300s%s%.200s%s%.200s", command,
                type, res.exit_code, msg ? msg : (res.out_len ? res.out : ""), details ? ": " : "",
                details ? details : "", res.err_len ? " stderr: " : "", res.errout);
        json_decref(e);
    } else if (result) {
        json_error_t jerr;
        *result = json_loadb(res.out, res.out_len, 0, &jerr);
        if (!json_is_object(*result)) {
            json_decref(*result);
            *result = NULL;
            rc = cric_err_set(err, CRIC_ERR_UNAVAILABLE, "CNI %s %s: result is not JSON: %s",
                              command, type, jerr.text);
        }
    }
    spawn_result_free(&res);
    return rc;
}

int cni_add(const cni_runtime *rt, json_t *conflist, json_t **result, cric_err *err)
{
    json_t *plugins = json_object_get(conflist, "plugins");
    size_t n = json_array_size(plugins);
    if (n == 0)
        return cric_err_set(err, CRIC_ERR_INVALID, "CNI config: no plugins");
    json_t *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        json_t *conf = cni_plugin_config(conflist, i, prev, rt->runtime_config);
        if (!conf) {
            json_decref(prev);
            return cric_err_set(err, CRIC_ERR_RESOURCE, "CNI config: out of memory");
        }
        json_t *res = NULL;
        int rc = exec_plugin(rt, "ADD", conf, &res, err);
        json_decref(conf);
        if (rc < 0) {
            json_decref(prev);
            return -1;
        }
        json_decref(prev);
        prev = res;
    }
    *result = prev;
    return 0;
}

int cni_del(const cni_runtime *rt, json_t *conflist, json_t *prev_result, cric_err *err)
{
    json_t *plugins = json_object_get(conflist, "plugins");
    size_t n = json_array_size(plugins);
    int rc = 0;
    for (size_t i = n; i-- > 0;) {
        json_t *conf = cni_plugin_config(conflist, i, prev_result, rt->runtime_config);
        if (!conf)
            return cric_err_set(err, CRIC_ERR_RESOURCE, "CNI config: out of memory");
        cric_err one = {0};
        if (exec_plugin(rt, "DEL", conf, NULL, &one) < 0) {
            log_warn("pod", "sandbox %.12s: %s", rt->container_id, one.msg);
            if (rc == 0) {
                *err = one;
                rc = -1;
            }
        }
        json_decref(conf);
    }
    return rc;
}
