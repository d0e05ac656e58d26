/* Internals shared by the image service's modules (not for other folders). */
#ifndef CRIC_IMAGE_SERVICE_H
#define CRIC_IMAGE_SERVICE_H

#include <pthread.h>

#include "image/digest.h"
#include "image/image.h"
#include "image/manifest.h"
#include "store/image_store.h"

#define IMAGE_PATH_MAX 4096
#define IMAGE_DIR_MAX 2048 /* the service's own directories */

typedef struct key_count {
    char key[DIGEST_STR_LEN + 1];
    int count;
} key_count;

struct image_service {
    const cric_config *cfg;
    cric_db *db;
    char root[IMAGE_DIR_MAX];
    char content_dir[IMAGE_DIR_MAX];    /* <root>/content/sha256 */
    char tmp_dir[IMAGE_DIR_MAX];        /* <root>/content/tmp */
    char layers_dir[IMAGE_DIR_MAX];     /* <root>/layers */
    char containers_dir[IMAGE_DIR_MAX]; /* <root>/containers (usage only) */
    int layers_fd;

    pthread_mutex_t mu; /* pins, busy, layer collection */
    pthread_cond_t cond;
    key_count *pins; /* layers an unfinished pull relies on */
    size_t n_pins, cap_pins;
    key_count *busy; /* layers being unpacked right now (count unused) */
    size_t n_busy, cap_busy;

    /* Cached usage of <root>/containers (walking it is not free). */
    pthread_mutex_t usage_mu;
    int64_t usage_at_ms;
    uint64_t ctr_bytes, ctr_inodes;
};

/* image_service_new without the start-up cleanup (for tools that run beside
 * a daemon, like `cric image import`). */
int image_service_open(image_service **out, const cric_config *cfg, cric_db *db, bool cleanup,
                       cric_err *err);

/* Produces a layer's compressed bytes into out_fd, verifying digest and size.
 * *wrote: some bytes reached out_fd. Retryable failures are UNAVAILABLE or
 * TIMEOUT. */
typedef int (*layer_source_fn)(void *ud, const oci_desc *d, int out_fd, bool *wrote, cric_err *err);

/* Makes sure layers/<chain>/ exists, unpacking it from src when not; waits
 * when another pull is unpacking the same chain. Caller holds a pin on chain. */
int layer_ensure(image_service *s, const oci_desc *d, const char *diff_id, const char *chain_id,
                 layer_source_fn src, void *ud, image_layer_row *row, cric_err *err);

void pins_add(image_service *s, char **chains, size_t n);
void pins_drop(image_service *s, char **chains, size_t n);

/* Stores a small verified blob under content/sha256. */
int content_put(image_service *s, const char *digest, const void *data, size_t len, cric_err *err);

/* Common tail of pull and import: chain ids from the config, layers ensured
 * (in parallel, bounded), the record committed. tags/digests are full refs. */
typedef struct image_commit {
    const char *manifest_digest;
    const char *config_digest;
    const char *config_body;
    size_t config_len;
    const oci_manifest *manifest;
    char **tags;
    size_t n_tags;
    char **digests;
    size_t n_digests;
    const char *annotations_json;
    layer_source_fn src;
    void *src_ud;
    const char *what; /* reference for messages */
} image_commit;
int image_commit_layers(image_service *s, const image_commit *c, cric_err *err);

/* After a failed pull: deletes the layer directories it unpacked that no
 * image records and no other pull relies on. Caller still holds its pins. */
void layers_discard_unrecorded(image_service *s, char **chains, size_t n);

/* Deletes manifests and configs under content/sha256 no image refers to
 * (sparing files younger than a minute: a pull may be about to record them). */
void content_collect(image_service *s);

/* Deletes layers no image or holder uses (and no pull has pinned). */
void layers_collect(image_service *s);

#endif
