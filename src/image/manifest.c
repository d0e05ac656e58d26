#include "image/manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "image/reference.h"

static const char *jstr(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

bool media_type_is_layer(const char *mt, layer_compression *comp)
{
    static const struct {
        const char *mt;
        layer_compression comp;
    } known[] = {
        {"application/vnd.oci.image.layer.v1.tar", LAYER_TAR},
        {"application/vnd.oci.image.layer.v1.tar+gzip", LAYER_GZIP},
        {"application/vnd.oci.image.layer.v1.tar+zstd", LAYER_ZSTD},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar", LAYER_TAR},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", LAYER_GZIP},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", LAYER_ZSTD},
        {"application/vnd.docker.image.rootfs.diff.tar.gzip", LAYER_GZIP},
        {"application/vnd.docker.image.rootfs.diff.tar", LAYER_TAR},
        {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", LAYER_GZIP},
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(mt, known[i].mt) == 0) {
            if (comp)
                *comp = known[i].comp;
            return true;
        }
    return false;
}

int manifest_kind_of(const char *content_type, const json_t *doc, manifest_kind *kind,
                     cric_err *err)
{
    if (!json_is_object(doc))
        return cric_err_set(err, CRIC_ERR_INVALID, "manifest: not a JSON object");
    const char *mt = jstr(doc, "mediaType");
    if (!mt || !*mt) {
        mt = content_type;
        if (mt && (strncmp(mt, "application/json", 16) == 0 || strncmp(mt, "text/plain", 10) == 0))
            mt = NULL;
    }
    if (!mt || !*mt) {
        /* OCI allows omitting mediaType: decide by shape. */
        if (json_is_array(json_object_get(doc, "manifests")))
            mt = MT_OCI_INDEX;
        else if (json_is_object(json_object_get(doc, "config")))
            mt = MT_OCI_MANIFEST;
        else
            return cric_err_set(err, CRIC_ERR_INVALID, "manifest: no mediaType");
    }
    if (strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0)
        *kind = MANIFEST_KIND_INDEX;
    else if (strcmp(mt, MT_OCI_MANIFEST) == 0 || strcmp(mt, MT_DOCKER_MANIFEST) == 0)
        *kind = MANIFEST_KIND_IMAGE;
    else if (strstr(mt, "manifest.v1"))
        return cric_err_set(err, CRIC_ERR_UNIMPLEMENTED,
                            "manifest: Docker schema 1 (%.100s) is not supported", mt);
    else
        return cric_err_set(err, CRIC_ERR_INVALID, "manifest: unsupported media type %.100s", mt);
    json_t *sv = json_object_get(doc, "schemaVersion");
    if (sv && (!json_is_integer(sv) || json_integer_value(sv) != 2))
        return cric_err_set(err, CRIC_ERR_INVALID, "manifest: schemaVersion must be 2");
    return 0;
}

static int parse_desc(const json_t *o, oci_desc *d, const char *what, cric_err *err)
{
    if (!json_is_object(o))
        return cric_err_set(err, CRIC_ERR_INVALID, "manifest: %s: not an object", what);
    const char *mt = jstr(o, "mediaType");
    const char *dg = jstr(o, "digest");
    json_t *sz = json_object_get(o, "size");
    if (!dg || !digest_is_valid(dg))
        return cric_err_set(err, CRIC_ERR_INVALID, "manifest: %s: missing or unsupported digest",
                            what);
    if (!json_is_integer(sz) || json_integer_value(sz) < 0)
        return cric_err_set(err, CRIC_ERR_INVALID, "manifest: %s %s: bad size", what, dg);
    snprintf(d->media_type, sizeof(d->media_type), "%s", mt ? mt : "");
    snprintf(d->digest, sizeof(d->digest), "%s", dg);
    d->size = json_integer_value(sz);
    return 0;
}

int manifest_parse(const json_t *doc, oci_manifest *out, cric_err *err)
{
    memset(out, 0, sizeof(*out));
    if (parse_desc(json_object_get(doc, "config"), &out->config, "config", err) < 0)
        return -1;
    if (out->config.size > CONFIG_MAX_BYTES)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "manifest: config of %lld bytes is too large",
                            (long long)out->config.size);
    const json_t *layers = json_object_get(doc, "layers");
    if (!json_is_array(layers))
        return cric_err_set(err, CRIC_ERR_INVALID, "manifest: layers: not an array");
    size_t n = json_array_size(layers);
    if (n > MANIFEST_MAX_LAYERS)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "manifest: %zu layers (at most %d)", n,
                            MANIFEST_MAX_LAYERS);
    out->layers = calloc(n ? n : 1, sizeof(*out->layers));
    if (!out->layers)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "manifest: out of memory");
    for (size_t i = 0; i < n; i++) {
        oci_layer *l = &out->layers[i];
        char what[48];
        snprintf(what, sizeof(what), "layer %zu", i);
        if (parse_desc(json_array_get(layers, i), &l->desc, what, err) < 0) {
            manifest_free(out);
            return -1;
        }
        out->n_layers++;
        if (!media_type_is_layer(l->desc.media_type, &l->comp)) {
            cric_err_set(err, CRIC_ERR_UNIMPLEMENTED,
                         "manifest: layer %s: unsupported media type %s", l->desc.digest,
                         l->desc.media_type[0] ? l->desc.media_type : "(none)");
            manifest_free(out);
            return -1;
        }
    }
    return 0;
}

void manifest_free(oci_manifest *m)
{
    free(m->layers);
    m->layers = NULL;
    m->n_layers = 0;
}

static const char *norm_arch(const char *a, const char **variant)
{
    if (strcmp(a, "x86_64") == 0 || strcmp(a, "x86-64") == 0)
        return "amd64";
    if (strcmp(a, "aarch64") == 0) {
        if (variant)
            *variant = "v8";
        return "arm64";
    }
    if (strcmp(a, "armhf") == 0 || strcmp(a, "armv7l") == 0) {
        if (variant)
            *variant = "v7";
        return "arm";
    }
    if (strcmp(a, "armel") == 0 || strcmp(a, "armv6l") == 0) {
        if (variant)
            *variant = "v6";
        return "arm";
    }
    if (strcmp(a, "i386") == 0 || strcmp(a, "i686") == 0)
        return "386";
    return a;
}

void platform_host(oci_platform *p)
{
    struct utsname u;
    memset(p, 0, sizeof(*p));
    snprintf(p->os, sizeof(p->os), "linux");
    if (uname(&u) < 0) {
        snprintf(p->arch, sizeof(p->arch), "amd64");
        return;
    }
    const char *variant = "";
    const char *arch = norm_arch(u.machine, &variant);
    snprintf(p->arch, sizeof(p->arch), "%s", arch);
    snprintf(p->variant, sizeof(p->variant), "%s", variant);
}

/* 0 = no match, higher is better. */
static int platform_score(const oci_platform *want, const char *os, const char *arch,
                          const char *variant)
{
    if (!os || !arch || strcmp(os, want->os) != 0)
        return 0;
    const char *v_norm = NULL;
    const char *a = norm_arch(arch, &v_norm);
    if (strcmp(a, want->arch) != 0)
        return 0;
    const char *v = variant && *variant ? variant : "";
    if (strcmp(v, want->variant) == 0)
        return 4;
    if (!*v)
        return 3;
    if (strcmp(a, "arm64") == 0 && strcmp(v, "v8") == 0 && !*want->variant)
        return 3;
    /* Older arm variants run on newer cores (v6 on v7, v5 on v6). */
    if (strcmp(a, "arm") == 0 && v[0] == 'v' && want->variant[0] == 'v' &&
        atoi(v + 1) < atoi(want->variant + 1))
        return 1 + (atoi(v + 1) > 5);
    return 0;
}

int index_select(const json_t *doc, const oci_platform *want, oci_desc *out, cric_err *err)
{
    const json_t *ms = json_object_get(doc, "manifests");
    if (!json_is_array(ms))
        return cric_err_set(err, CRIC_ERR_INVALID, "index: manifests: not an array");
    int best = 0;
    char seen[256] = "";
    size_t seen_len = 0;
    for (size_t i = 0; i < json_array_size(ms); i++) {
        const json_t *m = json_array_get(ms, i);
        const json_t *p = json_object_get(m, "platform");
        const char *os = jstr(p, "os"), *arch = jstr(p, "architecture"),
                   *variant = jstr(p, "variant");
        if (os && arch && seen_len < sizeof(seen) - 1) {
            int w = snprintf(seen + seen_len, sizeof(seen) - seen_len, "%s%s/%s%s%s",
                             seen_len ? ", " : "", os, arch, variant ? "/" : "",
                             variant ? variant : "");
            if (w > 0)
                seen_len =
                    seen_len + (size_t)w >= sizeof(seen) ? sizeof(seen) - 1 : seen_len + (size_t)w;
        }
        int score = platform_score(want, os, arch, variant);
        if (score <= best)
            continue;
        oci_desc d;
        char what[48];
        snprintf(what, sizeof(what), "index entry %zu", i);
        if (parse_desc(m, &d, what, err) < 0)
            return -1;
        if (d.media_type[0] && strcmp(d.media_type, MT_OCI_MANIFEST) != 0 &&
            strcmp(d.media_type, MT_DOCKER_MANIFEST) != 0)
            continue;
        best = score;
        *out = d;
    }
    if (!best)
        return cric_err_set(err, CRIC_ERR_NOT_FOUND,
                            "no manifest for platform %s/%s%s%s in index (has: %s)", want->os,
                            want->arch, want->variant[0] ? "/" : "", want->variant,
                            seen[0] ? seen : "none");
    return 0;
}

int config_diff_ids(const json_t *cfg, char ***diff_ids, size_t *n, cric_err *err)
{
    *diff_ids = NULL;
    *n = 0;
    const json_t *rootfs = json_object_get(cfg, "rootfs");
    const json_t *ids = json_object_get(rootfs, "diff_ids");
    if (!json_is_array(ids))
        return cric_err_set(err, CRIC_ERR_INVALID, "image config: rootfs.diff_ids: not an array");
    size_t count = json_array_size(ids);
    if (count > MANIFEST_MAX_LAYERS)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "image config: too many diff_ids");
    char **v = calloc(count + 1, sizeof(char *));
    if (!v)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "image config: out of memory");
    for (size_t i = 0; i < count; i++) {
        const json_t *e = json_array_get(ids, i);
        if (!json_is_string(e) || !digest_is_valid(json_string_value(e))) {
            for (size_t j = 0; j < i; j++)
                free(v[j]);
            free(v);
            return cric_err_set(err, CRIC_ERR_INVALID, "image config: diff_id %zu: bad digest", i);
        }
        v[i] = strdup(json_string_value(e));
    }
    *diff_ids = v;
    *n = count;
    return 0;
}
