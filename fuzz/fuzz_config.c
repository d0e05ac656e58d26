/* The daemon's JSON configuration file (src/daemon/config.c): merge over
 * the defaults, validate, print back; a printed configuration must load and
 * validate again. */
#include <jansson.h>

#include "daemon/config.h"
#include "fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    cric_config cfg;
    config_defaults(&cfg);
    cric_err err = {0};
    if (config_merge_json(&cfg, (const char *)data, size, "fuzz", &err) < 0) {
        FUZZ_CHECK(err.msg[0]);
    } else if (config_validate(&cfg, &err) < 0) {
        FUZZ_CHECK(err.msg[0]);
    } else {
        json_t *j = config_to_json(&cfg);
        FUZZ_CHECK(j);
        char *text = json_dumps(j, JSON_COMPACT);
        FUZZ_CHECK(text);
        cric_config again;
        config_defaults(&again);
        cric_err e2 = {0};
        FUZZ_CHECK(config_merge_json(&again, text, strlen(text), "printed", &e2) == 0);
        FUZZ_CHECK(config_validate(&again, &e2) == 0);
        (void)config_find_handler(&again, again.default_runtime);
        config_free(&again);
        free(text);
        json_decref(j);
    }
    config_free(&cfg);
    return 0;
}
