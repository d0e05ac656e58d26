#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"

static int merge(cric_config *cfg, const char *json, cric_err *err)
{
    return config_merge_json(cfg, json, strlen(json), "test", err);
}

static void defaults_are_sane(void **state)
{
    (void)state;
    cric_config cfg;
    config_defaults(&cfg);
    cric_err err = {0};
    assert_int_equal(config_validate(&cfg, &err), 0);
    assert_string_equal(cfg.listen, "/run/cric/cric.sock");
    assert_string_equal(cfg.root, "/var/lib/cric");
    assert_string_equal(cfg.state, "/run/cric");
    assert_int_equal(cfg.grpc_max_recv_msg, 16u << 20);
    assert_string_equal(cfg.default_runtime, "crun");
    assert_non_null(config_find_handler(&cfg, "runc"));
    assert_true(cfg.exec_fast_path);
    config_free(&cfg);
}

static void merges_every_section(void **state)
{
    (void)state;
    cric_config cfg;
    config_defaults(&cfg);
    cric_err err = {0};
    const char *doc = "{\"listen\":\"/tmp/x.sock\",\"root\":\"/tmp/r\",\"log_level\":\"debug\","
                      "\"log_format\":\"json\","
                      "\"grpc\":{\"max_recv_message_size\":2048,\"workers\":8},"
                      "\"cni\":{\"conf_dir\":\"/tmp/cni\",\"bin_dirs\":[\"/a\",\"/b\",\"/c\"],"
                      "\"timeout_seconds\":7},"
                      "\"runtimes\":{\"default\":\"kata\",\"handlers\":{\"kata\":{\"path\":"
                      "\"/usr/bin/kata\",\"options\":{\"x\":1}}}},"
                      "\"registries\":{\"docker.io\":{\"mirrors\":[\"http://localhost:5000\"],"
                      "\"insecure\":true}},"
                      "\"streaming\":{\"port\":10010,\"token_ttl_seconds\":5},"
                      "\"exec_fast_path\":false}";
    assert_int_equal(merge(&cfg, doc, &err), 0);
    assert_int_equal(config_validate(&cfg, &err), 0);
    assert_string_equal(cfg.listen, "/tmp/x.sock");
    assert_int_equal(cfg.log_level, LOG_LVL_DEBUG);
    assert_int_equal(cfg.log_format, LOG_FMT_JSON);
    assert_int_equal(cfg.grpc_max_recv_msg, 2048);
    assert_int_equal(cfg.workers, 8);
    assert_int_equal(cfg.n_cni_bin_dirs, 3);
    assert_string_equal(cfg.cni_bin_dirs[2], "/c");
    assert_int_equal(cfg.cni_timeout_s, 7);
    assert_int_equal(cfg.n_handlers, 3);
    assert_string_equal(config_find_handler(&cfg, "kata")->path, "/usr/bin/kata");
    assert_int_equal(cfg.n_registries, 1);
    assert_true(cfg.registries[0].insecure);
    assert_string_equal(cfg.registries[0].mirrors[0], "http://localhost:5000");
    assert_int_equal(cfg.stream_port, 10010);
    assert_false(cfg.exec_fast_path);

    json_t *j = config_to_json(&cfg);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "listen")), "/tmp/x.sock");
    /* The printed config reads back to the same thing. */
    char *text = json_dumps(j, 0);
    cric_config again;
    config_defaults(&again);
    assert_int_equal(merge(&again, text, &err), 0);
    assert_int_equal(again.grpc_max_recv_msg, 2048);
    assert_int_equal(again.n_handlers, 3);
    assert_false(again.exec_fast_path);
    assert_int_equal(again.cni_timeout_s, 7);
    free(text);
    json_decref(j);
    config_free(&again);
    config_free(&cfg);
}

static void rejects_bad_input(void **state)
{
    (void)state;
    static const struct {
        const char *doc, *needle;
    } cases[] = {
        {"{\"nope\":1}", "nope: unknown key"},
        {"{\"grpc\":{\"bogus\":1}}", "grpc.bogus: unknown key"},
        {"{\"listen\":\"relative.sock\"}", "not an absolute path"},
        {"{\"listen\":5}", "expected a string"},
        {"{\"grpc\":{\"max_recv_message_size\":-1}}", "out of range"},
        {"{\"grpc\":{\"workers\":100000}}", "out of range"},
        {"{\"log_level\":\"loud\"}", "log_level"},
        {"[1,2]", "expected an object"},
        {"{\"root\":\"/a\",\"root\":\"/b\"}", "duplicate"},
        {"{\"runtimes\":{\"handlers\":{\"../x\":{\"path\":\"/x\"}}}}", "bad handler name"},
        {"{\"runtimes\":{\"handlers\":{\"x\":{}}}}", "path is required"},
        {"{\"registries\":{\"docker.io\":{\"mirrors\":[\"ftp://x\"]}}}", "http://"},
        {"{\"cni\":{\"bin_dirs\":[]}}", "cni.bin_dirs"},
        {"{\"cni\":{\"timeout_seconds\":0}}", "cni.timeout_seconds"},
        {"{not json", "line 1"},
        {"{\"exec_fast_path\":1}", "exec_fast_path: expected true or false"},
        {"{\"image_pull\":{\"device_nodes\":\"some\"}}", "not one of oci-defaults, all, none"},
        {"{\"image_pull\":{\"device_nodes\":\"\"}}", "image_pull.device_nodes"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cric_config cfg;
        config_defaults(&cfg);
        cric_err err = {0};
        assert_int_equal(merge(&cfg, cases[i].doc, &err), -1);
        assert_int_equal(err.kind, CRIC_ERR_INVALID);
        if (!strstr(err.msg, cases[i].needle))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, cases[i].needle);
        config_free(&cfg);
    }
}

static void validate_catches_cross_field_errors(void **state)
{
    (void)state;
    cric_config cfg;
    config_defaults(&cfg);
    cric_err err = {0};
    assert_int_equal(merge(&cfg, "{\"runtimes\":{\"default\":\"missing\"}}", &err), 0);
    assert_int_equal(config_validate(&cfg, &err), -1);
    assert_non_null(strstr(err.msg, "missing"));
    config_free(&cfg);

    config_defaults(&cfg);
    assert_int_equal(merge(&cfg, "{\"streaming\":{\"tls_cert\":\"/c.pem\"}}", &err), 0);
    assert_int_equal(config_validate(&cfg, &err), -1);
    config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_are_sane),
        cmocka_unit_test(merges_every_section),
        cmocka_unit_test(rejects_bad_input),
        cmocka_unit_test(validate_catches_cross_field_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
