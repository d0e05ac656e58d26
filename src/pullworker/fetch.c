/* PullImage: resolve the reference to one manifest for this platform, fetch
 * and verify the config, ensure every layer (bounded parallelism), then
 * record the image. */
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "image/reference.h"
#include "image/registry.h"
#include "image/service.h"
#include "util/cleanup.h"
#include "util/log.h"

#define PULL_PARALLEL_MAX 16

typedef struct layer_job {
    image_service *s;
    const image_commit *c;
    char **chains;
    char **diff_ids;
    image_layer_row *rows;
    size_t next;
    size_t n;
    bool failed;
    cric_err err;
    pthread_mutex_t mu;
} layer_job;

static void *layer_worker(void *arg)
{
    layer_job *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->mu);
        if (j->failed || j->next >= j->n) {
            pthread_mutex_unlock(&j->mu);
            return NULL;
        }
        size_t i = j->next++;
        pthread_mutex_unlock(&j->mu);
        cric_err err = {0};
        if (layer_ensure(j->s, &j->c->manifest->layers[i].desc, j->diff_ids[i], j->chains[i],
                         j->c->src, j->c->src_ud, &j->rows[i], &err) < 0) {
            pthread_mutex_lock(&j->mu);
            if (!j->failed) {
                j->failed = true;
                j->err = err;
            }
            pthread_mutex_unlock(&j->mu);
            return NULL;
        }
    }
}

int image_commit_layers(image_service *s, const image_commit *c, cric_err *err)
{
    json_error_t jerr;
    json_t *cfg = json_loadb(c->config_body, c->config_len, 0, &jerr);
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: image config %s: not a JSON object: %s",
                            c->what, c->config_digest, jerr.text);
    }
    char **diff_ids = NULL;
    size_t n_diff = 0;
    int rc = config_diff_ids(cfg, &diff_ids, &n_diff, err);
    json_decref(cfg);
    if (rc < 0)
        return cric_err_prefix(err, "%s: ", c->what);
    if (n_diff != c->manifest->n_layers) {
        image_store_strv_free(diff_ids, n_diff);
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "%s: manifest has %zu layers but the config lists %zu diff ids",
                            c->what, c->manifest->n_layers, n_diff);
    }
    size_t n = n_diff;
    char **chains = calloc(n + 1, sizeof(char *));
    image_layer_row *rows = calloc(n + 1, sizeof(*rows));
    if (!chains || !rows) {
        free(chains);
        free(rows);
        image_store_strv_free(diff_ids, n_diff);
        return cric_err_set(err, CRIC_ERR_RESOURCE, "%s: out of memory", c->what);
    }
    for (size_t i = 0; i < n; i++) {
        chains[i] = malloc(DIGEST_STR_LEN + 1);
        digest_chain(i ? chains[i - 1] : NULL, diff_ids[i], chains[i]);
    }
    pins_add(s, chains, n);

    layer_job job = {.s = s, .c = c, .chains = chains, .diff_ids = diff_ids, .rows = rows, .n = n};
    pthread_mutex_init(&job.mu, NULL);
    size_t par = s->cfg->image_parallel_layers ? s->cfg->image_parallel_layers : 3;
    if (par > PULL_PARALLEL_MAX)
        par = PULL_PARALLEL_MAX;
    size_t nthreads = n < par ? n : par;
    pthread_t th[PULL_PARALLEL_MAX];
    size_t started = 0;
    for (size_t i = 1; i < nthreads; i++)
        if (pthread_create(&th[started], NULL, layer_worker, &job) == 0)
            started++;
    layer_worker(&job); /* this thread works too */
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&job.mu);

    rc = 0;
    if (job.failed) {
        *err = job.err;
        rc = cric_err_prefix(err, "%s: ", c->what);
    }
    if (rc == 0) {
        uint64_t size = 0;
        for (size_t i = 0; i < n; i++)
            size += (uint64_t)c->manifest->layers[i].desc.size;
        size += c->config_len;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        image_record rec = {
            .config_json = (char *)c->config_body,
            .annotations_json = (char *)(c->annotations_json ? c->annotations_json : "{}"),
            .size = size,
            .created_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec,
            .chain_ids = chains,
            .n_layers = n,
            .tags = c->tags,
            .n_tags = c->n_tags,
            .digests = c->digests,
            .n_digests = c->n_digests,
        };
        snprintf(rec.id, sizeof(rec.id), "%s", c->config_digest);
        snprintf(rec.manifest_digest, sizeof(rec.manifest_digest), "%s",
                 c->manifest_digest ? c->manifest_digest : "");
        /* config_body is not NUL-terminated in general: store a copy. */
        _cleanup_free_ char *cfgcopy = strndup(c->config_body, c->config_len);
        rec.config_json = cfgcopy;
        rc = image_store_put(s->db, &rec, rows, n, err);
        if (rc < 0)
            cric_err_prefix(err, "%s: ", c->what);
    }
    if (rc < 0)
        layers_discard_unrecorded(s, chains, n);
    pins_drop(s, chains, n);
    image_store_strv_free(chains, n);
    image_store_strv_free(diff_ids, n_diff);
    free(rows);
    return rc;
}

/* ------------------------------------------------------------ registry pull */

static int registry_source(void *ud, const oci_desc *d, int out_fd, bool *wrote, cric_err *err)
{
    return reg_get_blob_fd(ud, d, out_fd, wrote, err);
}

static void reg_client_freep(reg_client **c)
{
    reg_client_free(*c);
}

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

static int pull(image_service *s, const char *refstr, const image_auth *auth,
                const json_t *annotations, image_cancel_fn cancelled, void *cancel_ud, char id[80],
                cric_err *err)
{
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
                       .stall_s =
                           s->cfg->image_stall_timeout_s ? s->cfg->image_stall_timeout_s : 30,
                       .request_s = 120,
                       .attempts = 3};
    __attribute__((cleanup(reg_client_freep))) reg_client *rc = NULL;
    if (reg_client_new(s->cfg, &ref, &ra, &to, &rc, err) < 0)
        return -1;
    if (cancelled)
        reg_client_set_cancel(rc, cancelled, cancel_ud);

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
    if (content_put(s, top_digest, body, len, err) < 0) {
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
        if (content_put(s, man_digest, body, len, err) < 0) {
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
        content_put(s, m.config.digest, config, (size_t)m.config.size, err) < 0) {
        manifest_free(&m);
        return -1;
    }

    char tag_ref[2 * REF_NAME_MAX + REF_TAG_MAX + 4],
        dig_ref[2 * REF_NAME_MAX + REF_DIGEST_MAX + 4];
    ref_tagged(&ref, tag_ref, sizeof(tag_ref));
    ref_with_digest(&ref, top_digest, dig_ref, sizeof(dig_ref));
    char *tags[1] = {tag_ref}, *digests[1] = {dig_ref};
    _cleanup_free_ char *ann = annotations ? json_dumps(annotations, JSON_COMPACT) : NULL;
    image_commit c = {
        .manifest_digest = man_digest,
        .config_digest = m.config.digest,
        .config_body = config,
        .config_len = (size_t)m.config.size,
        .manifest = &m,
        .tags = tags,
        .n_tags = tag_ref[0] && !ref.digest[0] ? 1 : 0, /* a digest wins over a tag */
        .digests = digests,
        .n_digests = 1,
        .annotations_json = ann,
        .src = registry_source,
        .src_ud = rc,
        .what = what,
    };
    r = image_commit_layers(s, &c, err);
    if (r == 0) {
        snprintf(id, 80, "%s", m.config.digest);
        log_info("image", "pulled %s as %s", what + 6, m.config.digest);
    }
    manifest_free(&m);
    return r;
}

int image_pull(image_service *s, const char *ref, const image_auth *auth, const json_t *annotations,
               image_cancel_fn cancelled, void *cancel_ud, char id[80], cric_err *err)
{
    if (pull(s, ref, auth, annotations, cancelled, cancel_ud, id, err) == 0)
        return 0;
    log_warn("image", "pull %.300s failed: %s", ref, err->msg);
    return -1;
}
