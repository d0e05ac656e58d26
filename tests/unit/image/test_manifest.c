#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "image/manifest.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"
#define D4 "sha256:4444444444444444444444444444444444444444444444444444444444444444"

static json_t *load(const char *s)
{
    json_t *j = json_loads(s, 0, NULL);
    assert_non_null(j);
    return j;
}

static void kinds(void **state)
{
    (void)state;
    manifest_kind k;
    cric_err err = {0};
    json_t *j = load("{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_LIST "\",\"manifests\":[]}");
    assert_int_equal(manifest_kind_of(NULL, j, &k, &err), 0);
    assert_int_equal(k, MANIFEST_KIND_INDEX);
    json_decref(j);
    j = load("{\"schemaVersion\":2,\"manifests\":[]}");
    assert_int_equal(manifest_kind_of(MT_OCI_INDEX, j, &k, &err), 0);
    assert_int_equal(k, MANIFEST_KIND_INDEX);
    json_decref(j);
    j = load("{\"schemaVersion\":2,\"config\":{}}");
    assert_int_equal(manifest_kind_of("application/json", j, &k, &err), 0);
    assert_int_equal(k, MANIFEST_KIND_IMAGE);
    json_decref(j);
    j = load("{\"schemaVersion\":1,\"mediaType\":"
             "\"application/vnd.docker.distribution.manifest.v1+prettyjws\"}");
    assert_int_equal(manifest_kind_of(NULL, j, &k, &err), -1);
    assert_int_equal(err.kind, CRIC_ERR_UNIMPLEMENTED);
    json_decref(j);
    j = load("{\"schemaVersion\":3,\"mediaType\":\"" MT_OCI_MANIFEST "\"}");
    assert_int_equal(manifest_kind_of(NULL, j, &k, &err), -1);
    json_decref(j);
}

static void parses_manifest(void **state)
{
    (void)state;
    json_t *j = load(
        "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_MANIFEST "\","
        "\"config\":{\"mediaType\":\"" MT_DOCKER_CONFIG "\",\"digest\":\"" D1 "\",\"size\":100},"
        "\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\","
        "\"digest\":\"" D2 "\",\"size\":5},"
        "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\",\"digest\":\"" D3
        "\",\"size\":7},"
        "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"" D4
        "\",\"size\":9}]}");
    oci_manifest m;
    cric_err err = {0};
    assert_int_equal(manifest_parse(j, &m, &err), 0);
    assert_string_equal(m.config.digest, D1);
    assert_int_equal(m.config.size, 100);
    assert_int_equal(m.n_layers, 3);
    assert_int_equal(m.layers[0].comp, LAYER_GZIP);
    assert_int_equal(m.layers[1].comp, LAYER_ZSTD);
    assert_int_equal(m.layers[2].comp, LAYER_TAR);
    assert_int_equal(m.layers[2].desc.size, 9);
    manifest_free(&m);
    json_decref(j);
}

static void rejects_bad_manifests(void **state)
{
    (void)state;
    const char *bad[] = {
        "{\"config\":{\"digest\":\"sha256:12\",\"size\":1},\"layers\":[]}",
        "{\"config\":{\"digest\":\"" D1 "\",\"size\":-1},\"layers\":[]}",
        "{\"config\":{\"digest\":\"" D1 "\",\"size\":1},\"layers\":{}}",
        "{\"config\":{\"digest\":\"" D1 "\",\"size\":1},\"layers\":[{\"mediaType\":\"text/x\","
        "\"digest\":\"" D2 "\",\"size\":1}]}",
        "{\"config\":{\"digest\":\"" D1 "\",\"size\":999999999},\"layers\":[]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = load(bad[i]);
        oci_manifest m;
        cric_err err = {0};
        assert_int_equal(manifest_parse(j, &m, &err), -1);
        assert_true(err.msg[0] != '\0');
        json_decref(j);
    }
}

static const char *INDEX =
    "{\"schemaVersion\":2,\"manifests\":["
    "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":1,"
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v6\"}},"
    "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":1,"
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v7\"}},"
    "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D3 "\",\"size\":1,"
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
    "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D4 "\",\"size\":1,"
    "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}}]}";

static void selects_platform(void **state)
{
    (void)state;
    json_t *j = load(INDEX);
    oci_desc d;
    cric_err err = {0};
    oci_platform p = {"linux", "amd64", ""};
    assert_int_equal(index_select(j, &p, &d, &err), 0);
    assert_string_equal(d.digest, D3);
    oci_platform arm7 = {"linux", "arm", "v7"};
    assert_int_equal(index_select(j, &arm7, &d, &err), 0);
    assert_string_equal(d.digest, D2);
    oci_platform arm64 = {"linux", "arm64", "v8"};
    assert_int_equal(index_select(j, &arm64, &d, &err), 0);
    assert_string_equal(d.digest, D4);
    oci_platform arm64nv = {"linux", "arm64", ""};
    assert_int_equal(index_select(j, &arm64nv, &d, &err), 0);
    assert_string_equal(d.digest, D4);
    oci_platform s390 = {"linux", "s390x", ""};
    assert_int_equal(index_select(j, &s390, &d, &err), -1);
    assert_int_equal(err.kind, CRIC_ERR_NOT_FOUND);
    assert_non_null(strstr(err.msg, "linux/amd64"));
    oci_platform win = {"windows", "amd64", ""};
    assert_int_equal(index_select(j, &win, &d, &err), -1);
    json_decref(j);

    oci_platform host;
    platform_host(&host);
    assert_string_equal(host.os, "linux");
    assert_true(host.arch[0] != '\0');
}

static void diff_ids(void **state)
{
    (void)state;
    json_t *j = load("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\",\"" D2 "\"]}}");
    char **ids;
    size_t n;
    cric_err err = {0};
    assert_int_equal(config_diff_ids(j, &ids, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(ids[1], D2);
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    json_decref(j);
    j = load("{\"rootfs\":{\"diff_ids\":[\"nope\"]}}");
    assert_int_equal(config_diff_ids(j, &ids, &n, &err), -1);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kinds),
        cmocka_unit_test(parses_manifest),
        cmocka_unit_test(rejects_bad_manifests),
        cmocka_unit_test(selects_platform),
        cmocka_unit_test(diff_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
