/* Manifests, image indexes and image configs (src/image/manifest.c) as a
 * registry or an OCI layout would serve them. The first byte picks the HTTP
 * Content-Type that comes with the document, the rest is the body. */
#include <jansson.h>

#include "fuzz/fuzz_util.h"
#include "image/manifest.h"

static const char *const ctypes[] = {
    "",
    MT_OCI_INDEX,
    MT_OCI_MANIFEST,
    MT_DOCKER_LIST,
    MT_DOCKER_MANIFEST,
    "application/json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "text/html",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    if (size < 1 || size > MANIFEST_MAX_BYTES)
        return 0;
    const char *ctype = ctypes[data[0] % (sizeof(ctypes) / sizeof(ctypes[0]))];
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)data + 1, size - 1, 0, &jerr);
    cric_err err = {0};
    manifest_kind kind;
    if (manifest_kind_of(ctype, doc, &kind, &err) < 0) {
        FUZZ_CHECK(err.msg[0]);
    } else if (kind == MANIFEST_KIND_INDEX) {
        oci_platform plats[3];
        platform_host(&plats[0]);
        plats[1] = (oci_platform){.os = "linux", .arch = "arm", .variant = "v7"};
        plats[2] = (oci_platform){.os = "windows", .arch = "amd64"};
        for (size_t i = 0; i < 3; i++) {
            oci_desc d;
            cric_err e = {0};
            if (index_select(doc, &plats[i], &d, &e) < 0)
                FUZZ_CHECK(e.msg[0]);
            else
                FUZZ_CHECK(d.digest[0] && d.size >= 0);
        }
    } else {
        oci_manifest m;
        if (manifest_parse(doc, &m, &err) < 0) {
            FUZZ_CHECK(err.msg[0]);
        } else {
            FUZZ_CHECK(m.n_layers <= MANIFEST_MAX_LAYERS);
            for (size_t i = 0; i < m.n_layers; i++) {
                layer_compression c;
                FUZZ_CHECK(media_type_is_layer(m.layers[i].desc.media_type, &c));
                FUZZ_CHECK(m.layers[i].desc.size >= 0);
            }
            manifest_free(&m);
        }
    }
    /* The same document read as an image config. */
    if (json_is_object(doc)) {
        char **ids = NULL;
        size_t n = 0;
        cric_err e = {0};
        if (config_diff_ids(doc, &ids, &n, &e) < 0) {
            FUZZ_CHECK(e.msg[0]);
        } else {
            for (size_t i = 0; i < n; i++)
                free(ids[i]);
            free(ids);
        }
    }
    json_decref(doc);
    return 0;
}
