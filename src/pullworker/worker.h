/* cric-pull: the image transfer helper. The daemon starts one per pull or
 * import and hands it the job as one JSON document on stdin (credentials
 * travel only there: never argv, environment or logs). The helper does the
 * registry traffic (libcurl), digest checks and layer unpacking (libarchive)
 * and writes blobs and layer directories under the daemon's root; the daemon
 * keeps the database, pins and holds. Conversation (one JSON object per line):
 *
 *   helper -> daemon  {"image": {...}}           an image's chain ids, config, names
 *   daemon -> helper  {"go": true}               its layers are pinned: ensure them
 *   helper -> daemon  {"layers": [...]}          every layer exists now
 *   daemon -> helper  {"recorded": true}         the image is in the database
 *   helper -> daemon  {"done": true}             exit 0
 *                     {"error": {"kind", "msg"}} exit 1
 *   daemon -> helper  {"abort": "why"}           give up (the helper exits 1)
 *
 * Temporary names carry the job id (layers/.tmp-<job>-*, content/tmp/<job>-*)
 * so that the daemon can remove whatever a killed helper left. */
#ifndef CRIC_PULLWORKER_WORKER_H
#define CRIC_PULLWORKER_WORKER_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon/config.h"
#include "image/digest.h"
#include "image/manifest.h"
#include "image/unpack.h"
#include "util/err.h"

#define WORKER_PATH_MAX 4096
#define WORKER_DIR_MAX 2048
#define WORKER_JOB_MAX (1u << 20) /* the job document */

typedef struct worker {
    cric_config cfg;
    char job[17]; /* job id: 16 hex digits */
    char root[WORKER_DIR_MAX];
    char content_dir[WORKER_DIR_MAX]; /* <root>/content/sha256 */
    char tmp_dir[WORKER_DIR_MAX];     /* <root>/content/tmp */
    char layers_dir[WORKER_DIR_MAX];  /* <root>/layers */
    int layers_fd;
    int content_fd;
    char lock_path[WORKER_PATH_MAX]; /* <root>/layers.lock: one byte range per chain */
    uint64_t max_layer_bytes;        /* uncompressed, per layer */
    uint64_t max_image_bytes;        /* uncompressed, all layers of one image */
    unpack_device_policy devices;    /* image_pull.device_nodes */
    atomic_uint_least64_t image_bytes;
    pthread_mutex_t out_mu;
} worker;

/* Sends one message (a JSON object, stolen) to the daemon. */
int worker_send(worker *w, json_t *msg, cric_err *err);
/* Waits for the daemon's answer; want is "go" or "recorded". An "abort" or a
 * closed pipe is an error. */
int worker_expect(worker *w, const char *want, cric_err *err);

/* Produces a layer's compressed bytes into out_fd, verifying digest and size;
 * also into tee_fd when it is >= 0. *wrote: some bytes went out (the
 * consumers must be restarted for a retry). Retryable failures are
 * UNAVAILABLE or TIMEOUT. */
typedef int (*layer_source_fn)(void *ud, const oci_desc *d, int out_fd, int tee_fd, bool *wrote,
                               cric_err *err);

/* Streams the blob in fd into out_fd (and tee_fd when >= 0), verifying
 * digest and size. A layer_source_fn's work for files. */
int blob_stream_fd(int fd, const oci_desc *d, int out_fd, int tee_fd, bool *wrote, cric_err *err);

/* Stores a small verified blob under content/sha256. */
int content_put(worker *w, const char *digest, const void *data, size_t len, cric_err *err);

/* One image to hand to the daemon: its layers are ensured through src. */
typedef struct worker_image {
    const char *what; /* "image docker.io/library/x:1" for messages */
    const char *manifest_digest;
    const char *config_digest;
    const char *config_body;
    size_t config_len;
    const oci_manifest *manifest;
    const char *tag;    /* full reference or "" */
    const char *digest; /* full reference with @digest or "" */
    layer_source_fn src;
    void *src_ud;
} worker_image;

/* Tells the daemon about the image, waits until it pinned the chains,
 * ensures every layer (bounded parallelism; a layer that exists is skipped),
 * reports them and waits until the daemon recorded the image. */
int worker_commit_image(worker *w, const worker_image *img, cric_err *err);

/* The jobs. */
int worker_pull(worker *w, const json_t *job, cric_err *err);
int worker_import(worker *w, const json_t *job, cric_err *err);

#endif
