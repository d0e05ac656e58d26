/* The daemon's configuration: defaults, then the JSON config file, then the
 * command-line flags. Every key is validated; unknown keys are errors so a typo
 * never silently falls back to a default. */
#ifndef CRIC_DAEMON_CONFIG_H
#define CRIC_DAEMON_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/log.h"

#define CRIC_MAX_BIN_DIRS 8
#define CRIC_MAX_HANDLERS 16
#define CRIC_MAX_REGISTRIES 64
#define CRIC_MAX_MIRRORS 8

typedef struct cric_runtime_handler {
    char *name;
    char *path;      /* OCI runtime binary */
    char *root;      /* --root for the runtime; empty = runtime default under state */
    json_t *options; /* free-form, passed to the runtime layer */
} cric_runtime_handler;

typedef struct cric_registry {
    char *host; /* "docker.io", "registry.k8s.io", "localhost:5000" */
    char *mirrors[CRIC_MAX_MIRRORS];
    size_t n_mirrors;
    bool insecure; /* plain HTTP, or TLS without verification */
    char *ca_file;
} cric_registry;

typedef struct cric_config {
    char *listen;
    char *root;
    char *state;
    log_level log_level;
    log_format log_format;

    size_t grpc_max_recv_msg;
    size_t grpc_max_send_msg;
    uint32_t grpc_max_streams;
    unsigned workers; /* libuv thread pool size */
    unsigned shutdown_grace_ms;

    char *cni_conf_dir;
    char *cni_bin_dirs[CRIC_MAX_BIN_DIRS];
    size_t n_cni_bin_dirs;
    unsigned cni_timeout_s; /* one plugin call (ADD, DEL, ...) */

    char *default_runtime;
    cric_runtime_handler handlers[CRIC_MAX_HANDLERS];
    size_t n_handlers;

    char *pause_image;
    unsigned image_stall_timeout_s; /* a registry transfer with no progress this long fails */
    unsigned image_parallel_layers; /* layers downloaded and unpacked at once per pull */
    uint64_t image_max_layer_bytes; /* uncompressed size cap of one layer */
    uint64_t image_max_image_bytes; /* uncompressed size cap of all layers of one image */
    char *image_helper;             /* cric-pull; "" = next to the daemon's executable */
    char *image_device_nodes;       /* "oci-defaults", "all" or "none" (image/unpack.h) */
    cric_registry registries[CRIC_MAX_REGISTRIES];
    size_t n_registries;

    char *stream_address;
    unsigned stream_port;
    unsigned stream_token_ttl_s;
    char *stream_tls_cert;
    char *stream_tls_key;

    bool exec_fast_path; /* ExecSync enters the container with cric-enter */
} cric_config;

void config_defaults(cric_config *cfg);
/* Merges a JSON document over cfg. source names it in error messages. */
int config_merge_json(cric_config *cfg, const char *text, size_t len, const char *source,
                      cric_err *err);
int config_load_file(cric_config *cfg, const char *path, cric_err *err);
int config_validate(const cric_config *cfg, cric_err *err);
/* The effective configuration as a JSON object (caller decrefs). */
json_t *config_to_json(const cric_config *cfg);
void config_free(cric_config *cfg);

const cric_runtime_handler *config_find_handler(const cric_config *cfg, const char *name);

#endif
