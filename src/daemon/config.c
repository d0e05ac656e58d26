#include "config.h"

#include <string.h>
#include <stdlib.h>

#include "util/cleanup.h"
#include "util/fs.h"

#define CONFIG_FILE_MAX (1u << 20)
#define CONFIG_STR_MAX 4096

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = xstrdup(v);
}

static void handler_clear(cric_runtime_handler *h)
{
    free(h->name);
    free(h->path);
    free(h->root);
    json_decref(h->options);
    memset(h, 0, sizeof(*h));
}

static void registry_clear(cric_registry *r)
{
    free(r->host);
    for (size_t i = 0; i < r->n_mirrors; i++)
        free(r->mirrors[i]);
    free(r->ca_file);
    memset(r, 0, sizeof(*r));
}

static void add_handler(cric_config *cfg, const char *name, const char *path)
{
    cric_runtime_handler *h = &cfg->handlers[cfg->n_handlers++];
    h->name = xstrdup(name);
    h->path = xstrdup(path);
    h->root = xstrdup("");
    h->options = json_object();
}

void config_defaults(cric_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->listen = xstrdup("/run/cric/cric.sock");
    cfg->root = xstrdup("/var/lib/cric");
    cfg->state = xstrdup("/run/cric");
    cfg->log_level = LOG_LVL_INFO;
    cfg->log_format = LOG_FMT_TEXT;
    cfg->grpc_max_recv_msg = 16u << 20;
    cfg->grpc_max_send_msg = 16u << 20;
    cfg->grpc_max_streams = 1000;
    cfg->workers = 64;
    cfg->shutdown_grace_ms = 5000;
    cfg->cni_conf_dir = xstrdup("/etc/cni/net.d");
    cfg->cni_bin_dirs[cfg->n_cni_bin_dirs++] = xstrdup("/usr/lib/cni");
    cfg->cni_bin_dirs[cfg->n_cni_bin_dirs++] = xstrdup("/opt/cni/bin");
    cfg->cni_timeout_s = 60;
    cfg->default_runtime = xstrdup("crun");
    add_handler(cfg, "crun", "/usr/bin/crun");
    add_handler(cfg, "runc", "/usr/bin/runc");
    cfg->pause_image = xstrdup("registry.k8s.io/pause:3.9");
    cfg->image_stall_timeout_s = 30;
    cfg->image_parallel_layers = 3;
    cfg->image_max_layer_bytes = 16ull << 30;
    cfg->image_max_image_bytes = 64ull << 30;
    cfg->image_helper = xstrdup("");
    cfg->image_device_nodes = xstrdup("oci-defaults");
    cfg->stream_address = xstrdup("127.0.0.1");
    cfg->stream_port = 0;
    cfg->stream_token_ttl_s = 60;
    cfg->stream_tls_cert = xstrdup("");
    cfg->stream_tls_key = xstrdup("");
    cfg->exec_fast_path = true;
}

void config_free(cric_config *cfg)
{
    free(cfg->listen);
    free(cfg->root);
    free(cfg->state);
    free(cfg->cni_conf_dir);
    for (size_t i = 0; i < cfg->n_cni_bin_dirs; i++)
        free(cfg->cni_bin_dirs[i]);
    free(cfg->default_runtime);
    for (size_t i = 0; i < cfg->n_handlers; i++)
        handler_clear(&cfg->handlers[i]);
    free(cfg->pause_image);
    free(cfg->image_helper);
    free(cfg->image_device_nodes);
    for (size_t i = 0; i < cfg->n_registries; i++)
        registry_clear(&cfg->registries[i]);
    free(cfg->stream_address);
    free(cfg->stream_tls_cert);
    free(cfg->stream_tls_key);
    memset(cfg, 0, sizeof(*cfg));
}

/* ---- typed getters: each names the key path in its error ---- */

static int get_string(json_t *v, const char *key, bool allow_empty, char **dst, cric_err *err)
{
    if (!json_is_string(v))
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: expected a string", key);
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    if (len > CONFIG_STR_MAX || strlen(s) != len)
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: string too long or contains NUL", key);
    if (!allow_empty && len == 0)
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: must not be empty", key);
    set_str(dst, s);
    return 0;
}

static int get_abs_path(json_t *v, const char *key, char **dst, cric_err *err)
{
    if (get_string(v, key, false, dst, err) < 0)
        return -1;
    if ((*dst)[0] != '/')
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: %s is not an absolute path", key, *dst);
    return 0;
}

static int get_uint(json_t *v, const char *key, uint64_t min, uint64_t max, uint64_t *out,
                    cric_err *err)
{
    if (!json_is_integer(v))
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: expected an integer", key);
    json_int_t i = json_integer_value(v);
    if (i < 0 || (uint64_t)i < min || (uint64_t)i > max)
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: %lld out of range [%llu, %llu]", key,
                            (long long)i, (unsigned long long)min, (unsigned long long)max);
    *out = (uint64_t)i;
    return 0;
}

static int get_bool(json_t *v, const char *key, bool *out, cric_err *err)
{
    if (!json_is_boolean(v))
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: expected true or false", key);
    *out = json_is_true(v);
    return 0;
}

static int expect_object(json_t *v, const char *key, cric_err *err)
{
    if (!json_is_object(v))
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: expected an object", key);
    return 0;
}

static int unknown_key(const char *section, const char *key, cric_err *err)
{
    return cric_err_set(err, CRIC_ERR_INVALID, "%s%s%s: unknown key", section,
                        section[0] ? "." : "", key);
}

static int merge_grpc(cric_config *cfg, json_t *obj, cric_err *err)
{
    if (expect_object(obj, "grpc", err) < 0)
        return -1;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        uint64_t u = 0;
        if (strcmp(k, "max_recv_message_size") == 0) {
            if (get_uint(v, "grpc.max_recv_message_size", 1024, 1u << 30, &u, err) < 0)
                return -1;
            cfg->grpc_max_recv_msg = u;
        } else if (strcmp(k, "max_send_message_size") == 0) {
            if (get_uint(v, "grpc.max_send_message_size", 1024, 1u << 30, &u, err) < 0)
                return -1;
            cfg->grpc_max_send_msg = u;
        } else if (strcmp(k, "max_concurrent_streams") == 0) {
            if (get_uint(v, "grpc.max_concurrent_streams", 1, 100000, &u, err) < 0)
                return -1;
            cfg->grpc_max_streams = (uint32_t)u;
        } else if (strcmp(k, "workers") == 0) {
            if (get_uint(v, "grpc.workers", 4, 1024, &u, err) < 0)
                return -1;
            cfg->workers = (unsigned)u;
        } else if (strcmp(k, "shutdown_grace_ms") == 0) {
            if (get_uint(v, "grpc.shutdown_grace_ms", 0, 600000, &u, err) < 0)
                return -1;
            cfg->shutdown_grace_ms = (unsigned)u;
        } else {
            return unknown_key("grpc", k, err);
        }
    }
    return 0;
}

static int merge_cni(cric_config *cfg, json_t *obj, cric_err *err)
{
    if (expect_object(obj, "cni", err) < 0)
        return -1;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        if (strcmp(k, "conf_dir") == 0) {
            if (get_abs_path(v, "cni.conf_dir", &cfg->cni_conf_dir, err) < 0)
                return -1;
        } else if (strcmp(k, "bin_dirs") == 0) {
            if (!json_is_array(v) || json_array_size(v) == 0 ||
                json_array_size(v) > CRIC_MAX_BIN_DIRS)
                return cric_err_set(err, CRIC_ERR_INVALID,
                                    "cni.bin_dirs: expected an array of 1..%d paths",
                                    CRIC_MAX_BIN_DIRS);
            for (size_t i = 0; i < cfg->n_cni_bin_dirs; i++)
                free(cfg->cni_bin_dirs[i]);
            cfg->n_cni_bin_dirs = 0;
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                char *p = NULL;
                if (get_abs_path(e, "cni.bin_dirs[]", &p, err) < 0) {
                    free(p);
                    return -1;
                }
                cfg->cni_bin_dirs[cfg->n_cni_bin_dirs++] = p;
            }
        } else if (strcmp(k, "timeout_seconds") == 0) {
            uint64_t u = 0;
            if (get_uint(v, "cni.timeout_seconds", 1, 3600, &u, err) < 0)
                return -1;
            cfg->cni_timeout_s = (unsigned)u;
        } else {
            return unknown_key("cni", k, err);
        }
    }
    return 0;
}

static bool handler_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static int merge_handler(cric_config *cfg, const char *name, json_t *obj, cric_err *err)
{
    if (!handler_name_ok(name))
        return cric_err_set(
            err, CRIC_ERR_INVALID,
            "runtimes.handlers: bad handler name \"%.64s\" (1-63 of [A-Za-z0-9._-])", name);
    if (!json_is_object(obj))
        return cric_err_set(err, CRIC_ERR_INVALID, "runtimes.handlers.%s: expected an object",
                            name);
    cric_runtime_handler *h = (cric_runtime_handler *)config_find_handler(cfg, name);
    if (!h) {
        if (cfg->n_handlers == CRIC_MAX_HANDLERS)
            return cric_err_set(err, CRIC_ERR_INVALID, "runtimes.handlers: more than %d handlers",
                                CRIC_MAX_HANDLERS);
        h = &cfg->handlers[cfg->n_handlers++];
        h->name = xstrdup(name);
        h->path = xstrdup("");
        h->root = xstrdup("");
        h->options = json_object();
    }
    const char *k;
    json_t *v;
    char key[128];
    json_object_foreach(obj, k, v)
    {
        snprintf(key, sizeof(key), "runtimes.handlers.%s.%s", name, k);
        if (strcmp(k, "path") == 0) {
            if (get_abs_path(v, key, &h->path, err) < 0)
                return -1;
        } else if (strcmp(k, "root") == 0) {
            if (get_string(v, key, true, &h->root, err) < 0)
                return -1;
            if (h->root[0] && h->root[0] != '/')
                return cric_err_set(err, CRIC_ERR_INVALID, "%s: not an absolute path", key);
        } else if (strcmp(k, "options") == 0) {
            if (expect_object(v, key, err) < 0)
                return -1;
            json_decref(h->options);
            h->options = json_deep_copy(v);
        } else {
            return cric_err_set(err, CRIC_ERR_INVALID, "%s: unknown key", key);
        }
    }
    if (!h->path[0])
        return cric_err_set(err, CRIC_ERR_INVALID, "runtimes.handlers.%s: path is required", name);
    return 0;
}

static int merge_runtimes(cric_config *cfg, json_t *obj, cric_err *err)
{
    if (expect_object(obj, "runtimes", err) < 0)
        return -1;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        if (strcmp(k, "default") == 0) {
            if (get_string(v, "runtimes.default", false, &cfg->default_runtime, err) < 0)
                return -1;
        } else if (strcmp(k, "handlers") == 0) {
            if (expect_object(v, "runtimes.handlers", err) < 0)
                return -1;
            const char *name;
            json_t *h;
            json_object_foreach(v, name, h)
            {
                if (merge_handler(cfg, name, h, err) < 0)
                    return -1;
            }
        } else {
            return unknown_key("runtimes", k, err);
        }
    }
    return 0;
}

static bool registry_host_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == ':' || c == '[' || c == ']' || c == '*'))
            return false;
    }
    return true;
}

static int merge_registry(cric_config *cfg, const char *host, json_t *obj, cric_err *err)
{
    if (!registry_host_ok(host))
        return cric_err_set(err, CRIC_ERR_INVALID, "registries: bad registry host \"%.64s\"", host);
    if (!json_is_object(obj))
        return cric_err_set(err, CRIC_ERR_INVALID, "registries.%s: expected an object", host);
    cric_registry *r = NULL;
    for (size_t i = 0; i < cfg->n_registries; i++)
        if (strcmp(cfg->registries[i].host, host) == 0)
            r = &cfg->registries[i];
    if (!r) {
        if (cfg->n_registries == CRIC_MAX_REGISTRIES)
            return cric_err_set(err, CRIC_ERR_INVALID, "registries: more than %d entries",
                                CRIC_MAX_REGISTRIES);
        r = &cfg->registries[cfg->n_registries++];
        r->host = xstrdup(host);
        r->ca_file = xstrdup("");
    }
    const char *k;
    json_t *v;
    char key[320];
    json_object_foreach(obj, k, v)
    {
        snprintf(key, sizeof(key), "registries.%s.%s", host, k);
        if (strcmp(k, "mirrors") == 0) {
            if (!json_is_array(v) || json_array_size(v) > CRIC_MAX_MIRRORS)
                return cric_err_set(err, CRIC_ERR_INVALID,
                                    "%s: expected an array of at most %d URLs", key,
                                    CRIC_MAX_MIRRORS);
            for (size_t i = 0; i < r->n_mirrors; i++)
                free(r->mirrors[i]);
            r->n_mirrors = 0;
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                char *m = NULL;
                if (get_string(e, key, false, &m, err) < 0)
                    return -1;
                r->mirrors[r->n_mirrors++] = m;
                if (strncmp(m, "http://", 7) != 0 && strncmp(m, "https://", 8) != 0)
                    return cric_err_set(err, CRIC_ERR_INVALID,
                                        "%s: %s must start with http:// or https://", key, m);
            }
        } else if (strcmp(k, "insecure") == 0) {
            if (get_bool(v, key, &r->insecure, err) < 0)
                return -1;
        } else if (strcmp(k, "ca_file") == 0) {
            if (get_string(v, key, true, &r->ca_file, err) < 0)
                return -1;
        } else {
            return cric_err_set(err, CRIC_ERR_INVALID, "%s: unknown key", key);
        }
    }
    return 0;
}

static int merge_image_pull(cric_config *cfg, json_t *obj, cric_err *err)
{
    if (expect_object(obj, "image_pull", err) < 0)
        return -1;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        uint64_t u = 0;
        if (strcmp(k, "stall_timeout_seconds") == 0) {
            if (get_uint(v, "image_pull.stall_timeout_seconds", 1, 3600, &u, err) < 0)
                return -1;
            cfg->image_stall_timeout_s = (unsigned)u;
        } else if (strcmp(k, "parallel_layers") == 0) {
            if (get_uint(v, "image_pull.parallel_layers", 1, 16, &u, err) < 0)
                return -1;
            cfg->image_parallel_layers = (unsigned)u;
        } else if (strcmp(k, "max_layer_bytes") == 0) {
            if (get_uint(v, "image_pull.max_layer_bytes", 4096, 1ull << 50, &u, err) < 0)
                return -1;
            cfg->image_max_layer_bytes = u;
        } else if (strcmp(k, "max_image_bytes") == 0) {
            if (get_uint(v, "image_pull.max_image_bytes", 4096, 1ull << 50, &u, err) < 0)
                return -1;
            cfg->image_max_image_bytes = u;
        } else if (strcmp(k, "device_nodes") == 0) {
            if (get_string(v, "image_pull.device_nodes", false, &cfg->image_device_nodes, err) < 0)
                return -1;
            if (strcmp(cfg->image_device_nodes, "oci-defaults") != 0 &&
                strcmp(cfg->image_device_nodes, "all") != 0 &&
                strcmp(cfg->image_device_nodes, "none") != 0)
                return cric_err_set(err, CRIC_ERR_INVALID,
                                    "image_pull.device_nodes: \"%.40s\" is not one of "
                                    "oci-defaults, all, none",
                                    cfg->image_device_nodes);
        } else if (strcmp(k, "helper") == 0) {
            if (get_string(v, "image_pull.helper", true, &cfg->image_helper, err) < 0)
                return -1;
            if (cfg->image_helper[0] && cfg->image_helper[0] != '/')
                return cric_err_set(err, CRIC_ERR_INVALID,
                                    "image_pull.helper: must be an absolute path");
        } else {
            return unknown_key("image_pull", k, err);
        }
    }
    return 0;
}

static int merge_streaming(cric_config *cfg, json_t *obj, cric_err *err)
{
    if (expect_object(obj, "streaming", err) < 0)
        return -1;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        uint64_t u = 0;
        if (strcmp(k, "address") == 0) {
            if (get_string(v, "streaming.address", false, &cfg->stream_address, err) < 0)
                return -1;
        } else if (strcmp(k, "port") == 0) {
            if (get_uint(v, "streaming.port", 0, 65535, &u, err) < 0)
                return -1;
            cfg->stream_port = (unsigned)u;
        } else if (strcmp(k, "token_ttl_seconds") == 0) {
            if (get_uint(v, "streaming.token_ttl_seconds", 1, 86400, &u, err) < 0)
                return -1;
            cfg->stream_token_ttl_s = (unsigned)u;
        } else if (strcmp(k, "tls_cert") == 0) {
            if (get_string(v, "streaming.tls_cert", true, &cfg->stream_tls_cert, err) < 0)
                return -1;
        } else if (strcmp(k, "tls_key") == 0) {
            if (get_string(v, "streaming.tls_key", true, &cfg->stream_tls_key, err) < 0)
                return -1;
        } else {
            return unknown_key("streaming", k, err);
        }
    }
    return 0;
}

int config_merge_json(cric_config *cfg, const char *text, size_t len, const char *source,
                      cric_err *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return cric_err_set(err, CRIC_ERR_INVALID, "config %s: line %d column %d: %s", source,
                            jerr.line, jerr.column, jerr.text);
    int rc = 0;
    if (!json_is_object(root)) {
        rc = cric_err_set(err, CRIC_ERR_INVALID, "top level: expected an object");
        goto out;
    }
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v)
    {
        if (strcmp(k, "listen") == 0)
            rc = get_abs_path(v, "listen", &cfg->listen, err);
        else if (strcmp(k, "root") == 0)
            rc = get_abs_path(v, "root", &cfg->root, err);
        else if (strcmp(k, "state") == 0)
            rc = get_abs_path(v, "state", &cfg->state, err);
        else if (strcmp(k, "log_level") == 0)
            rc = json_is_string(v) && log_level_parse(json_string_value(v), &cfg->log_level) == 0
                     ? 0
                     : cric_err_set(err, CRIC_ERR_INVALID,
                                    "log_level: expected debug, info, warn or error");
        else if (strcmp(k, "log_format") == 0)
            rc = json_is_string(v) && log_format_parse(json_string_value(v), &cfg->log_format) == 0
                     ? 0
                     : cric_err_set(err, CRIC_ERR_INVALID, "log_format: expected text or json");
        else if (strcmp(k, "grpc") == 0)
            rc = merge_grpc(cfg, v, err);
        else if (strcmp(k, "cni") == 0)
            rc = merge_cni(cfg, v, err);
        else if (strcmp(k, "runtimes") == 0)
            rc = merge_runtimes(cfg, v, err);
        else if (strcmp(k, "pause_image") == 0)
            rc = get_string(v, "pause_image", false, &cfg->pause_image, err);
        else if (strcmp(k, "registries") == 0) {
            rc = expect_object(v, "registries", err);
            const char *host;
            json_t *r;
            json_object_foreach(v, host, r)
            {
                if (rc == 0)
                    rc = merge_registry(cfg, host, r, err);
            }
        } else if (strcmp(k, "streaming") == 0)
            rc = merge_streaming(cfg, v, err);
        else if (strcmp(k, "image_pull") == 0)
            rc = merge_image_pull(cfg, v, err);
        else if (strcmp(k, "exec_fast_path") == 0)
            rc = get_bool(v, "exec_fast_path", &cfg->exec_fast_path, err);
        else
            rc = unknown_key("", k, err);
        if (rc < 0)
            break;
    }
    if (rc < 0)
        cric_err_prefix(err, "config %s: ", source);
out:
    json_decref(root);
    return rc;
}

int config_load_file(cric_config *cfg, const char *path, cric_err *err)
{
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    if (fs_read_file(path, CONFIG_FILE_MAX, &text, &len, err) < 0)
        return cric_err_prefix(err, "config: ");
    return config_merge_json(cfg, text, len, path, err);
}

const cric_runtime_handler *config_find_handler(const cric_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_handlers; i++)
        if (strcmp(cfg->handlers[i].name, name) == 0)
            return &cfg->handlers[i];
    return NULL;
}

int config_validate(const cric_config *cfg, cric_err *err)
{
    if (!config_find_handler(cfg, cfg->default_runtime))
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "config: runtimes.default \"%s\" is not a configured handler",
                            cfg->default_runtime);
    if (cfg->listen[0] != '/' || strlen(cfg->listen) >= 108)
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "config: listen %s must be an absolute path under 108 bytes",
                            cfg->listen);
    if ((cfg->stream_tls_cert[0] == '\0') != (cfg->stream_tls_key[0] == '\0'))
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "config: streaming.tls_cert and streaming.tls_key go together");
    return 0;
}

json_t *config_to_json(const cric_config *cfg)
{
    json_t *bins = json_array();
    for (size_t i = 0; i < cfg->n_cni_bin_dirs; i++)
        json_array_append_new(bins, json_string(cfg->cni_bin_dirs[i]));
    json_t *handlers = json_object();
    for (size_t i = 0; i < cfg->n_handlers; i++) {
        const cric_runtime_handler *h = &cfg->handlers[i];
        json_object_set_new(
            handlers, h->name,
            json_pack("{s:s, s:s, s:O}", "path", h->path, "root", h->root, "options", h->options));
    }
    json_t *regs = json_object();
    for (size_t i = 0; i < cfg->n_registries; i++) {
        const cric_registry *r = &cfg->registries[i];
        json_t *m = json_array();
        for (size_t j = 0; j < r->n_mirrors; j++)
            json_array_append_new(m, json_string(r->mirrors[j]));
        json_object_set_new(regs, r->host,
                            json_pack("{s:o, s:b, s:s}", "mirrors", m, "insecure", r->insecure,
                                      "ca_file", r->ca_file));
    }
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:s, s:s,"
        " s:{s:I, s:I, s:I, s:I, s:I},"
        " s:{s:s, s:o},"
        " s:{s:s, s:o},"
        " s:s, s:o,"
        " s:{s:s, s:I, s:I, s:s, s:s}}",
        "listen", cfg->listen, "root", cfg->root, "state", cfg->state, "log_level",
        log_level_name(cfg->log_level), "log_format",
        cfg->log_format == LOG_FMT_JSON ? "json" : "text", "grpc", "max_recv_message_size",
        (json_int_t)cfg->grpc_max_recv_msg, "max_send_message_size",
        (json_int_t)cfg->grpc_max_send_msg, "max_concurrent_streams",
        (json_int_t)cfg->grpc_max_streams, "workers", (json_int_t)cfg->workers, "shutdown_grace_ms",
        (json_int_t)cfg->shutdown_grace_ms, "cni", "conf_dir", cfg->cni_conf_dir, "bin_dirs", bins,
        "runtimes", "default", cfg->default_runtime, "handlers", handlers, "pause_image",
        cfg->pause_image, "registries", regs, "streaming", "address", cfg->stream_address, "port",
        (json_int_t)cfg->stream_port, "token_ttl_seconds", (json_int_t)cfg->stream_token_ttl_s,
        "tls_cert", cfg->stream_tls_cert, "tls_key", cfg->stream_tls_key);
    json_object_set_new(json_object_get(j, "cni"), "timeout_seconds",
                        json_integer((json_int_t)cfg->cni_timeout_s));
    json_object_set_new(j, "image_pull",
                        json_pack("{s:I, s:I, s:I, s:I, s:s, s:s}", "stall_timeout_seconds",
                                  (json_int_t)cfg->image_stall_timeout_s, "parallel_layers",
                                  (json_int_t)cfg->image_parallel_layers, "max_layer_bytes",
                                  (json_int_t)cfg->image_max_layer_bytes, "max_image_bytes",
                                  (json_int_t)cfg->image_max_image_bytes, "helper",
                                  cfg->image_helper, "device_nodes", cfg->image_device_nodes));
    json_object_set_new(j, "exec_fast_path", json_boolean(cfg->exec_fast_path));
    return j;
}
