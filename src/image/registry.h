/* Registry client (OCI distribution API v2 over libcurl). One client serves
 * one repository for one pull and is safe to use from several threads.
 * Endpoints: the host's configured mirrors in order, then the host itself
 * (docker.io -> registry-1.docker.io). localhost and 127.0.0.0/8 speak plain
 * HTTP by default; hosts marked insecure use TLS without verification and
 * fall back to HTTP. Auth: WWW-Authenticate Bearer token flow and Basic. */
#ifndef CRIC_IMAGE_REGISTRY_H
#define CRIC_IMAGE_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/config.h"
#include "image/manifest.h"
#include "image/reference.h"
#include "util/err.h"

typedef struct reg_auth {
    const char *username;
    const char *password;
    const char *identity_token; /* OAuth2 refresh token */
    const char *registry_token; /* bearer token used as is */
    const char *server_address; /* when set, the credentials go to this registry only */
} reg_auth;

typedef struct reg_timeouts {
    unsigned connect_s; /* connection set-up */
    unsigned stall_s;   /* a transfer with no byte for this long fails */
    unsigned request_s; /* whole request (manifests, tokens); 0 = none */
    unsigned attempts;  /* per endpoint, for transient failures */
} reg_timeouts;

typedef struct reg_client reg_client;

/* Initialises libcurl once per process (lazily: an idle daemon never pays). */
void registry_global_init(void);

int reg_client_new(const cric_config *cfg, const image_ref *ref, const reg_auth *auth,
                   const reg_timeouts *to, reg_client **out, cric_err *err);
void reg_client_free(reg_client *c);
/* Transfers poll cancelled(ud) and stop with CANCELLED once it is true. */
void reg_client_set_cancel(reg_client *c, bool (*cancelled)(void *ud), void *ud);

/* Fetches the manifest (tag or digest) into *body (caller frees), its
 * Content-Type and its digest (sha256 of the body). A digest reference is
 * verified against the body. */
int reg_get_manifest(reg_client *c, const char *reference, char **body, size_t *len,
                     char content_type[128], char digest[DIGEST_STR_LEN + 1], cric_err *err);
/* Fetches a small blob (config) into memory, verified against d. */
int reg_get_blob_mem(reg_client *c, const oci_desc *d, size_t max, char **body, cric_err *err);
/* Streams a blob into out_fd (a socket or a file) and, when tee_fd >= 0,
 * into tee_fd too, verifying digest and size on the way. *wrote tells whether
 * any byte went out (then the caller must restart its consumers to retry). */
int reg_get_blob_fd(reg_client *c, const oci_desc *d, int out_fd, int tee_fd, bool *wrote,
                    cric_err *err);

/* Whether the host is served over plain HTTP by default (localhost, 127/8, ::1). */
bool registry_host_is_local(const char *host);

#endif
