/* Layer unpacking (libarchive): a tar stream (plain, gzip or zstd) is written
 * into an empty layer directory. Every path is resolved inside the layer root
 * (openat2 RESOLVE_IN_ROOT for parents, O_NOFOLLOW and *at() calls for the last
 * component); entries with ".." components, oversized names or headers are
 * rejected as hostile. OCI whiteouts become overlayfs whiteouts: ".wh.NAME" a
 * 0/0 character device, ".wh..wh..opq" the trusted.overlay.opaque=y xattr. */
#ifndef CRIC_IMAGE_UNPACK_H
#define CRIC_IMAGE_UNPACK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "image/digest.h"
#include "util/err.h"

#define UNPACK_PATH_MAX 4096

typedef struct unpack_stats {
    uint64_t bytes;                   /* regular file bytes written */
    uint64_t inodes;                  /* entries created */
    char diff_id[DIGEST_STR_LEN + 1]; /* sha256 of the uncompressed tar stream */
} unpack_stats;

/* Caps on the uncompressed (tar) stream, against decompression bombs. A
 * stream over a cap fails with CRIC_ERR_RESOURCE naming the cap. */
/* Which device nodes a layer may create. The 0/0 character device (an
 * overlayfs whiteout) and FIFOs are always allowed. */
typedef enum unpack_device_policy {
    /* Character devices with the numbers of the OCI runtime spec's default
     * devices (null, zero, full, random, urandom, tty, console, ptmx): images
     * ship these in /dev and the container gets them anyway. */
    UNPACK_DEVICES_OCI_DEFAULTS = 0,
    UNPACK_DEVICES_ALL,  /* any device node, as containerd and CRI-O create */
    UNPACK_DEVICES_NONE, /* no device node at all */
} unpack_device_policy;

typedef struct unpack_limits {
    uint64_t max_bytes;           /* this stream; 0 = no cap */
    const char *max_bytes_name;   /* the setting, for the message */
    atomic_uint_least64_t *total; /* shared by the layers of one image; may be NULL */
    uint64_t max_total;           /* cap on *total; 0 = no cap */
    const char *max_total_name;
    unpack_device_policy devices;
} unpack_limits;

/* Reads the (compressed or plain) layer from in_fd until EOF and unpacks it
 * into root_fd, an empty directory. what names the layer in errors. lim may
 * be NULL (no caps, OCI default device nodes only). */
int layer_unpack_fd(int in_fd, int root_fd, const char *what, const unpack_limits *lim,
                    unpack_stats *st, cric_err *err);

/* Resolves rel (a tar path) to a clean relative path: strips leading "/" and
 * "./", drops "." components and duplicate slashes; fails on ".." components,
 * empty components over 255 bytes or a result over UNPACK_PATH_MAX. An empty
 * result means the root itself. Exposed for unit tests. */
int unpack_clean_path(const char *in, char *out, size_t outlen, cric_err *err);

#endif
