/* The helper's pull: resolve the reference to one manifest for this
 * platform, fetch and verify the config, then commit the image (layers
 * downloaded and unpacked in parallel, see layers.c). */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/reference.h"
#include "image/registry.h"
#include "pullworker/worker.h"
#include "util/cleanup.h"
#include "util/log.h"

/* ------------------------------------------------------------ registry pull */

static int registry_source(void *ud, const oci_desc *d, int out_fd, int tee_fd, bool *wrote,
                           cric_err *err)
{
    return reg_get_blob_fd(ud, d, out_fd, tee_fd, wrote, err);
}

static void reg_client_freep(reg_client **c)
{
    reg_client_free(*c);
}

typedef struct image_auth_in {
    const char *username, *password, *auth, *identity_token, *registry_token, *server_address;
} image_auth_in;

/* Splits a base64 "user:password" into owned strings. */
static int decode_auth(const char *b64, char **user, char **pass, cric_err *err)
{
    size_t n = strlen(b64);
    if (n > 8192)
        return cric_err_set(err, CRIC_ERR_INVALID, "auth: too long");
    _cleanup_free_ unsigned char *out = malloc(n + 4);
    int len = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n);
    if (len < 0)
        return cric_err_set(err, CRIC_ERR_INVALID, "auth: not valid base64");
    while (len > 0 && out[len - 1] == '\0')
        len--; /* padding */
    out[len] = '\0';
    char *colon = strchr((char *)out, ':');
    if (!colon)
        return cric_err_set(err, CRIC_ERR_INVALID, "auth: expected base64 of user:password");
    *colon = '\0';
    *user = strdup((char *)out);
    *pass = strdup(colon + 1);
    explicit_bzero(out, (size_t)len);
    return 0;
}

static const char *jstr(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v && *v ? v : NULL;
}

int worker_pull(worker *w, const json_t *job, cric_err *err)
{
    const char *refstr = jstr(job, "ref");
    if (!refstr)
        return cric_err_set(err, CRIC_ERR_INVALID, "pull: the job names no image");
    const json_t *ja = json_object_get(job, "auth");
    image_auth_in a = {
        .username = jstr(ja, "username"),
        .password = jstr(ja, "password"),
        .auth = jstr(ja, "auth"),
        .identity_token = jstr(ja, "identity_token"),
        .registry_token = jstr(ja, "registry_token"),
        .server_address = jstr(ja, "server_address"),
    };
    const image_auth_in *auth = ja ? &a : NULL;
    image_ref ref;
    if (ref_parse(refstr, &ref, err) < 0)
        return -1;
    _cleanup_free_ char *user = NULL, *pass = NULL;
    reg_auth ra = {0};
    if (auth) {
        ra.username = auth->username;
        ra.password = auth->password;
        ra.identity_token = auth->identity_token;
        ra.registry_token = auth->registry_token;
        ra.server_address = auth->server_address;
        if ((!ra.username || !*ra.username) && auth->auth && *auth->auth) {
            if (decode_auth(auth->auth, &user, &pass, err) < 0)
                return cric_err_prefix(err, "pull %s: ", refstr);
            ra.username = user;
            ra.password = pass;
        }
    }
    reg_timeouts to = {.connect_s = 15,
                       .stall_s = w->cfg.image_stall_timeout_s ? w->cfg.image_stall_timeout_s : 30,
                       .request_s = 120,
                       .attempts = 3};
    __attribute__((cleanup(reg_client_freep))) reg_client *rc = NULL;
    if (reg_client_new(&w->cfg, &ref, &ra, &to, &rc, err) < 0)
        return -1;

    char repo[REF_NAME_MAX + 1];
    ref_repo(&ref, repo, sizeof(repo));
    char what[REF_NAME_MAX + REF_TAG_MAX + REF_DIGEST_MAX + 16];
    snprintf(what, sizeof(what), "image %s%s%s%s%s", repo, ref.tag[0] ? ":" : "", ref.tag,
             ref.digest[0] ? "@" : "", ref.digest);
    log_info("image", "pulling %s", what + 6);

    /* Top-level manifest: by digest when given (then verified), else by tag. */
    _cleanup_free_ char *body = NULL;
    size_t len = 0;
    char ctype[128], top_digest[DIGEST_STR_LEN + 1];
    if (reg_get_manifest(rc, ref.digest[0] ? ref.digest : ref.tag, &body, &len, ctype, top_digest,
                         err) < 0)
        return -1;
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, 0, &jerr);
    manifest_kind kind;
    if (manifest_kind_of(ctype, doc, &kind, err) < 0) {
        json_decref(doc);
        return cric_err_prefix(err, "%s: ", what);
    }
    char man_digest[DIGEST_STR_LEN + 1];
    snprintf(man_digest, sizeof(man_digest), "%s", top_digest);
    if (content_put(w, top_digest, body, len, err) < 0) {
        json_decref(doc);
        return cric_err_prefix(err, "%s: ", what);
    }
    if (kind == MANIFEST_KIND_INDEX) {
        oci_platform plat;
        platform_host(&plat);
        oci_desc chosen;
        int r = index_select(doc, &plat, &chosen, err);
        json_decref(doc);
        doc = NULL;
        if (r < 0)
            return cric_err_prefix(err, "%s: ", what);
        free(body);
        body = NULL;
        if (reg_get_manifest(rc, chosen.digest, &body, &len, ctype, man_digest, err) < 0)
            return -1;
        doc = json_loadb(body, len, 0, &jerr);
        if (manifest_kind_of(ctype, doc, &kind, err) < 0) {
            json_decref(doc);
            return cric_err_prefix(err, "%s: ", what);
        }
        if (kind != MANIFEST_KIND_IMAGE) {
            json_decref(doc);
            return cric_err_set(err, CRIC_ERR_INVALID,
                                "%s: index entry %s is not an image manifest", what, chosen.digest);
        }
        if (content_put(w, man_digest, body, len, err) < 0) {
            json_decref(doc);
            return cric_err_prefix(err, "%s: ", what);
        }
    }
    oci_manifest m;
    int r = manifest_parse(doc, &m, err);
    json_decref(doc);
    if (r < 0)
        return cric_err_prefix(err, "%s: ", what);

    _cleanup_free_ char *config = NULL;
    if (reg_get_blob_mem(rc, &m.config, CONFIG_MAX_BYTES, &config, err) < 0 ||
        content_put(w, m.config.digest, config, (size_t)m.config.size, err) < 0) {
        manifest_free(&m);
        return -1;
    }

    char tag_ref[2 * REF_NAME_MAX + REF_TAG_MAX + 4],
        dig_ref[2 * REF_NAME_MAX + REF_DIGEST_MAX + 4];
    ref_tagged(&ref, tag_ref, sizeof(tag_ref));
    ref_with_digest(&ref, top_digest, dig_ref, sizeof(dig_ref));
    worker_image img = {
        .what = what,
        .manifest_digest = man_digest,
        .config_digest = m.config.digest,
        .config_body = config,
        .config_len = (size_t)m.config.size,
        .manifest = &m,
        .tag = tag_ref[0] && !ref.digest[0] ? tag_ref : "", /* a digest wins over a tag */
        .digest = dig_ref,
        .src = registry_source,
        .src_ud = rc,
    };
    r = worker_commit_image(w, &img, err);
    if (r == 0)
        log_info("image", "pulled %s as %s", what + 6, m.config.digest);
    manifest_free(&m);
    return r;
}
