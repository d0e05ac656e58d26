/* Internals shared by the image service's modules (not for other folders). */
#ifndef CRIC_IMAGE_SERVICE_H
#define CRIC_IMAGE_SERVICE_H

#include <pthread.h>

#include "image/digest.h" /* DIGEST_STR_LEN only: digests are computed in cric-pull */
#include "image/image.h"
#include "image/reference.h"
#include "store/image_store.h"

#define IMAGE_PATH_MAX 4096
#define IMAGE_DIR_MAX 2048 /* the service's own directories */

typedef struct key_count {
    char key[IMGSTORE_ID_MAX];
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

    pthread_mutex_t mu; /* pins, layer collection */
    pthread_cond_t cond;
    key_count *pins; /* layers and blobs an unfinished pull relies on */
    size_t n_pins, cap_pins;

    /* Cached usage of <root>/containers (walking it is not free). */
    pthread_mutex_t usage_mu;
    int64_t usage_at_ms;
    uint64_t ctr_bytes, ctr_inodes;
};

/* image_service_new without the start-up cleanup (for tools that run beside
 * a daemon, like `cric image import`). */
int image_service_open(image_service **out, const cric_config *cfg, cric_db *db, bool cleanup,
                       cric_err *err);

void pins_add(image_service *s, char **chains, size_t n);
void pins_drop(image_service *s, char **chains, size_t n);

/* Runs one cric-pull job (a JSON object with "op" and its fields; "job" and
 * "config" are added here): pins what the helper announces, records each
 * image it finishes (with annotations_json, may be NULL), kills it when
 * cancelled(ud) turns true, and cleans up after it however it ends. ids (may
 * be NULL) receives the recorded image ids. what names the job in errors. */
int helper_run(image_service *s, json_t *job, const char *what, const char *annotations_json,
               image_cancel_fn cancelled, void *cancel_ud, char ***ids, size_t *n_ids,
               cric_err *err);

/* After a failed pull: deletes the layer directories it unpacked that no
 * image records and no other pull relies on. Caller still holds its pins. */
void layers_discard_unrecorded(image_service *s, char **chains, size_t n);

/* Deletes blobs under content/sha256 no image refers to and no pull has
 * pinned (sparing files younger than a minute: a pull may be about to
 * announce them). */
void content_collect(image_service *s);

/* Deletes layers no image or holder uses (and no pull has pinned). */
void layers_collect(image_service *s);

#endif
