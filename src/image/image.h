/* The image service: pulls images from registries into the content store and
 * the shared layer store (through the cric-pull helper, see service.h and
 * src/pullworker), records them in the database and answers lookups (by
 * reference, id or id prefix), listing, removal, holds and usage.
 *
 * On disk, under <root>:
 *   content/sha256/<hex>     verified blobs: manifests, configs, compressed layers
 *   content/tmp/             in-flight downloads (cleaned at start and after each helper)
 *   layers/<chain-hex>/fs    one unpacked layer (overlayfs whiteouts), shared
 *   layers/<chain-hex>/stats bytes and inodes of the layer
 *   layers/.tmp-*            in-flight unpacks (cleaned at start and after each helper)
 *   layers.lock              one OFD lock byte per chain: a layer is unpacked once
 * A layer directory appears by rename only once its content is complete and
 * verified; an image appears in the database only once all its layers exist. */
#ifndef CRIC_IMAGE_IMAGE_H
#define CRIC_IMAGE_IMAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/config.h"
#include "store/db.h"
#include "util/err.h"

typedef struct image_service image_service; /* struct image_service in daemon.h */

int image_service_new(image_service **out, const cric_config *cfg, cric_db *db, cric_err *err);
void image_service_free(image_service *s);

typedef struct image_info {
    char id[80]; /* "sha256:<hex>" of the config */
    char **repo_tags;
    size_t n_repo_tags;
    char **repo_digests;
    size_t n_repo_digests;
    char **layer_dirs; /* absolute dirs of unpacked layers, lowest first (overlay lowerdir
                          order is the reverse) */
    size_t n_layers;
    json_t *config; /* the image config's "config" object (Env, Cmd, Entrypoint, User,
                       WorkingDir, StopSignal, Volumes, ExposedPorts, Labels); may be empty */
    uint64_t size;

    /* Beyond what containers need: */
    json_t *image_config; /* the whole image config document */
    json_t *annotations;  /* ImageSpec annotations recorded at pull (object) */
    char manifest_digest[80];
    bool has_uid; /* User is numeric: uid holds it; else username (maybe "") */
    int64_t uid;
    char *username;
    bool pinned; /* the configured pause image */
} image_info;

/* by full or short reference, "sha256:<id>", id, or unique id prefix; NOT_FOUND when absent */
int image_resolve(image_service *s, const char *ref, image_info **out, cric_err *err);
void image_info_free(image_info *info);

/* Pin the image's layers for a container (holder = container id) so RemoveImage never
   takes a container's rootfs away; idempotent; persisted. */
int image_hold(image_service *s, const char *image_id, const char *holder, cric_err *err);
int image_release(image_service *s, const char *holder, cric_err *err);

/* Registry credentials as the CRI AuthConfig carries them (any may be NULL). */
typedef struct image_auth {
    const char *username;
    const char *password;
    const char *auth; /* base64 "user:password" */
    const char *identity_token;
    const char *registry_token;
    const char *server_address; /* when set, the credentials are for this registry only */
} image_auth;

/* Pulls ref (normalised) and records it; id receives the image id. Two pulls
 * of the same layers share the work. annotations (a JSON object or NULL) are
 * recorded with the image. */
typedef bool (*image_cancel_fn)(void *ud);
/* cancelled (may be NULL) is polled during transfers: once it returns true
 * the pull stops with CANCELLED (a caller that went away). */
int image_pull(image_service *s, const char *ref, const image_auth *auth, const json_t *annotations,
               image_cancel_fn cancelled, void *cancel_ud, char id[80], cric_err *err);

/* All images, or the one filter names (none when it names nothing). */
int image_list(image_service *s, const char *filter, image_info ***out, size_t *n, cric_err *err);
void image_info_list_free(image_info **v, size_t n);

/* Removes the image ref names with all its tags; absent is success. Layers
 * no image and no holder uses are deleted. */
int image_remove(image_service *s, const char *ref, cric_err *err);

typedef struct image_fs_usage {
    char mountpoint[4096];
    uint64_t bytes;
    uint64_t inodes;
} image_fs_usage;
/* Usage of the image store (content + layers) and of the containers'
 * writable layers (<root>/containers, walked at most every few seconds).
 * Both live under <root>, so both report it as their mountpoint (the kubelet
 * then sees one filesystem, not a split image filesystem). */
int image_fs_usage_get(image_service *s, image_fs_usage *images, image_fs_usage *containers,
                       cric_err *err);

/* Loads an OCI image layout or a `docker save` archive (a tar file, possibly
 * compressed, or an unpacked directory); ids receives the image ids. */
int image_import(image_service *s, const char *path, char ***ids, size_t *n, cric_err *err);

/* `cric image import FILE`: opens the database under cfg->root beside a
 * possibly running daemon and imports FILE; prints the image ids. Exit code. */
int image_import_cli(const cric_config *cfg, const char *path);

#endif
