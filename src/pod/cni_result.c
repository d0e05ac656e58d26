#include <arpa/inet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "pod/cni.h"

/* "10.1.2.3/16" -> "10.1.2.3" in buf; 4 or 6 for the family, 0 if invalid. */
static int addr_family(const char *cidr, char *buf, size_t size)
{
    const char *slash = strchr(cidr, '/');
    size_t n = slash ? (size_t)(slash - cidr) : strlen(cidr);
    if (n == 0 || n >= size)
        return 0;
    memcpy(buf, cidr, n);
    buf[n] = '\0';
    unsigned char raw[16];
    if (inet_pton(AF_INET, buf, raw) == 1)
        return 4;
    if (inet_pton(AF_INET6, buf, raw) == 1)
        return 6;
    return 0;
}

static bool contains(char **v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

/* Collects addresses of one family from the candidates. */
static int collect(const char **cands, const int *fams, size_t nc, int fam, char **v, size_t *n)
{
    for (size_t i = 0; i < nc; i++) {
        if (fams[i] != fam || contains(v, *n, cands[i]))
            continue;
        v[*n] = strdup(cands[i]);
        if (!v[*n])
            return -1;
        (*n)++;
    }
    return 0;
}

#define MAX_IPS 32

int cni_result_ips(json_t *result, char ***ips_out, size_t *n_out, cric_err *err)
{
    *ips_out = NULL;
    *n_out = 0;
    if (!json_is_object(result))
        return cric_err_set(err, CRIC_ERR_INVALID, "CNI result: not a JSON object");
    char bufs[MAX_IPS][64];
    const char *cands[MAX_IPS];
    int fams[MAX_IPS];
    size_t nc = 0;
    json_t *list = json_object_get(result, "ips");
    json_t *ifaces = json_object_get(result, "interfaces");
    if (list && !json_is_array(list))
        return cric_err_set(err, CRIC_ERR_INVALID, "CNI result: ips is not an array");
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *addr = json_string_value(json_object_get(e, "address"));
        if (!addr)
            return cric_err_set(err, CRIC_ERR_INVALID, "CNI result: ips[%zu] has no address", i);
        json_t *idx = json_object_get(e, "interface");
        if (json_is_integer(idx) && json_is_array(ifaces)) {
            json_int_t k = json_integer_value(idx);
            json_t *iface = k >= 0 ? json_array_get(ifaces, (size_t)k) : NULL;
            if (!iface)
                return cric_err_set(err, CRIC_ERR_INVALID,
                                    "CNI result: ips[%zu] names interface %lld, which is missing",
                                    i, (long long)k);
            const char *sandbox = json_string_value(json_object_get(iface, "sandbox"));
            if (!sandbox || !sandbox[0])
                continue; /* a host-side address (e.g. the bridge) */
        }
        if (nc == MAX_IPS)
            break;
        fams[nc] = addr_family(addr, bufs[nc], sizeof(bufs[nc]));
        if (!fams[nc])
            return cric_err_set(err, CRIC_ERR_INVALID, "CNI result: bad address %.80s", addr);
        cands[nc] = bufs[nc];
        nc++;
    }
    /* CNI 0.2.0: {"ip4": {"ip": "10.1.2.3/16"}, "ip6": {...}} */
    const char *legacy[2] = {"ip4", "ip6"};
    for (int l = 0; l < 2 && nc < MAX_IPS; l++) {
        const char *addr =
            json_string_value(json_object_get(json_object_get(result, legacy[l]), "ip"));
        if (!addr)
            continue;
        fams[nc] = addr_family(addr, bufs[nc], sizeof(bufs[nc]));
        if (!fams[nc])
            return cric_err_set(err, CRIC_ERR_INVALID, "CNI result: bad address %.80s", addr);
        cands[nc] = bufs[nc];
        nc++;
    }
    char **v = calloc(nc + 1, sizeof(char *));
    size_t n = 0;
    if (!v || collect(cands, fams, nc, 4, v, &n) < 0 || collect(cands, fams, nc, 6, v, &n) < 0) {
        for (size_t j = 0; v && j < n; j++)
            free(v[j]);
        free(v);
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    }
    *ips_out = v;
    *n_out = n;
    return 0;
}

json_t *cni_plugin_config(json_t *conflist, size_t i, json_t *prev_result, json_t *runtime_config)
{
    json_t *plugin = json_array_get(json_object_get(conflist, "plugins"), i);
    json_t *conf = json_deep_copy(plugin);
    if (!conf)
        return NULL;
    json_object_set(conf, "name", json_object_get(conflist, "name"));
    json_object_set(conf, "cniVersion", json_object_get(conflist, "cniVersion"));
    if (prev_result)
        json_object_set(conf, "prevResult", prev_result);
    json_t *caps = json_object_get(plugin, "capabilities");
    if (json_is_object(caps) && json_is_object(runtime_config)) {
        json_t *rc = json_object();
        const char *key;
        json_t *val;
        json_object_foreach(caps, key, val)
        {
            json_t *arg = json_object_get(runtime_config, key);
            if (json_is_true(val) && arg)
                json_object_set(rc, key, arg);
        }
        if (json_object_size(rc))
            json_object_set(conf, "runtimeConfig", rc);
        json_decref(rc);
    }
    return conf;
}
