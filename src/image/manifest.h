/* OCI / Docker schema 2 manifests, image indexes and manifest lists, image
 * configs: parsing, validation and platform selection. Pure functions. */
#ifndef CRIC_IMAGE_MANIFEST_H
#define CRIC_IMAGE_MANIFEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/digest.h"
#include "util/err.h"

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"

#define MANIFEST_MAX_BYTES (4u << 20)
#define CONFIG_MAX_BYTES (8u << 20)
#define MANIFEST_MAX_LAYERS 256

typedef enum { MANIFEST_KIND_IMAGE = 1, MANIFEST_KIND_INDEX = 2 } manifest_kind;
typedef enum { LAYER_TAR = 0, LAYER_GZIP, LAYER_ZSTD } layer_compression;

typedef struct oci_platform {
    char os[32];
    char arch[32];
    char variant[16];
} oci_platform;

typedef struct oci_desc {
    char media_type[128];
    char digest[DIGEST_STR_LEN + 1];
    int64_t size;
} oci_desc;

typedef struct oci_layer {
    oci_desc desc;
    layer_compression comp;
} oci_layer;

typedef struct oci_manifest {
    oci_desc config;
    oci_layer *layers;
    size_t n_layers;
} oci_manifest;

/* Parses a manifest or index document. content_type is the HTTP
 * Content-Type (may be NULL or empty; the mediaType field decides then). */
int manifest_kind_of(const char *content_type, const json_t *doc, manifest_kind *kind,
                     cric_err *err);
int manifest_parse(const json_t *doc, oci_manifest *out, cric_err *err);
void manifest_free(oci_manifest *m);

/* The host's platform (linux, GOARCH-style architecture, variant). */
void platform_host(oci_platform *p);
/* Picks the index entry that best matches want; NOT_FOUND lists what exists. */
int index_select(const json_t *doc, const oci_platform *want, oci_desc *out, cric_err *err);

/* From an image config: diff ids (caller frees each and the array) */
int config_diff_ids(const json_t *cfg, char ***diff_ids, size_t *n, cric_err *err);

bool media_type_is_layer(const char *mt, layer_compression *comp);

#endif
