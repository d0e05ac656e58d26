/* Image metadata tables (owned by the image service): images, their
 * references (tags and digests), their layer chains, the unpacked layers and
 * the holds containers place on layers. Plain structs in, rows out. */
#ifndef CRIC_STORE_IMAGE_STORE_H
#define CRIC_STORE_IMAGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/db.h"
#include "util/err.h"

#define IMGSTORE_ID_MAX 80

typedef struct image_layer_row {
    char chain_id[IMGSTORE_ID_MAX];
    char diff_id[IMGSTORE_ID_MAX];
    uint64_t bytes;
    uint64_t inodes;
} image_layer_row;

typedef struct image_record {
    char id[IMGSTORE_ID_MAX];              /* sha256 of the config */
    char manifest_digest[IMGSTORE_ID_MAX]; /* as pulled ("" for imports without one) */
    char *config_json;                     /* the whole image config */
    char *annotations_json;                /* ImageSpec annotations, a JSON object */
    uint64_t size;
    int64_t created_ns;
    char **chain_ids; /* lowest first */
    size_t n_layers;
    char **tags; /* "docker.io/library/busybox:latest" */
    size_t n_tags;
    char **digests; /* "docker.io/library/busybox@sha256:..." */
    size_t n_digests;
    char **blobs; /* compressed layer blobs kept under content/sha256 (put only) */
    size_t n_blobs;
} image_record;

int image_store_init(cric_db *db, cric_err *err);

/* Records an image with its layers and references in one transaction. A tag
 * that named another image moves to this one. */
int image_store_put(cric_db *db, const image_record *rec, const image_layer_row *layers,
                    size_t n_layers, cric_err *err);

/* The image id a reference (tag or digest) names; NOT_FOUND when none. */
int image_store_lookup_ref(cric_db *db, const char *ref, char id[IMGSTORE_ID_MAX], cric_err *err);
/* Ids starting with prefix ("sha256:<hex prefix>"); at most max are returned. */
int image_store_ids(cric_db *db, const char *prefix, char ***ids, size_t *n, cric_err *err);
/* NOT_FOUND when absent. */
int image_store_get(cric_db *db, const char *id, image_record **out, cric_err *err);
void image_record_free(image_record *r);

/* Deletes the image and its references (layers stay until collected). */
int image_store_delete(cric_db *db, const char *id, cric_err *err);

/* Layers referenced by no image and no hold. */
int image_store_unused_layers(cric_db *db, char ***chain_ids, size_t *n, cric_err *err);
int image_store_layer_delete(cric_db *db, const char *chain_id, cric_err *err);
bool image_store_layer_known(cric_db *db, const char *chain_id);
/* Every digest an image still refers to: ids (configs), manifest digests,
 * the digests of repo digests and the layer blobs. */
int image_store_digests(cric_db *db, char ***digests, size_t *n, cric_err *err);
/* Every recorded layer (start-up cleanup). */
int image_store_layers(cric_db *db, char ***chain_ids, size_t *n, cric_err *err);
int image_store_usage(cric_db *db, uint64_t *bytes, uint64_t *inodes, cric_err *err);

/* Holds: holder (a container id) pins the image's layers. Idempotent. */
int image_store_hold(cric_db *db, const char *image_id, const char *holder, cric_err *err);
int image_store_release(cric_db *db, const char *holder, cric_err *err);

void image_store_strv_free(char **v, size_t n);

#endif
