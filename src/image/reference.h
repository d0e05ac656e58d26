/* Image references: Docker-compatible parsing and normalisation.
 * "busybox" -> docker.io/library/busybox:latest; "name@sha256:<hex>";
 * "name:tag@sha256:<hex>" keeps both. Pure functions, no I/O. */
#ifndef CRIC_IMAGE_REFERENCE_H
#define CRIC_IMAGE_REFERENCE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

#define REF_NAME_MAX 255
#define REF_TAG_MAX 128
#define REF_DIGEST_MAX 71 /* "sha256:" + 64 hex */

typedef struct image_ref {
    char domain[REF_NAME_MAX + 1]; /* "docker.io", "localhost:5000" */
    char path[REF_NAME_MAX + 1];   /* "library/busybox" */
    char tag[REF_TAG_MAX + 1];     /* "" when the reference has only a digest */
    char digest[REF_DIGEST_MAX + 1];
} image_ref;

/* Parses and normalises s. A reference with neither tag nor digest gets
 * "latest". Fills err (INVALID) naming the reference and the problem. */
int ref_parse(const char *s, image_ref *out, cric_err *err);

/* "docker.io/library/busybox" */
int ref_repo(const image_ref *r, char *buf, size_t n);
/* "docker.io/library/busybox:latest" ("" when the reference has no tag). */
int ref_tagged(const image_ref *r, char *buf, size_t n);
/* "docker.io/library/busybox@sha256:..." with the given digest. */
int ref_with_digest(const image_ref *r, const char *digest, char *buf, size_t n);

/* "sha256:" followed by exactly 64 lowercase hex characters. */
bool digest_is_valid(const char *s);

#endif
