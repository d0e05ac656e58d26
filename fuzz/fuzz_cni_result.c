/* CNI plugin results (src/pod/cni_result.c) as a plugin prints them on
 * stdout, and the per-plugin config built from a conflist with that result
 * as prevResult (src/pod/cni.c), which is what the next plugin receives. */
#include <jansson.h>

#include "fuzz/fuzz_util.h"
#include "pod/cni.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    json_error_t jerr;
    json_t *res = json_loadb((const char *)data, size, 0, &jerr);
    if (!res)
        return 0;
    char **ips = NULL;
    size_t n = 0;
    cric_err err = {0};
    if (cni_result_ips(res, &ips, &n, &err) < 0) {
        FUZZ_CHECK(err.msg[0]);
    } else {
        for (size_t i = 0; i < n; i++) {
            FUZZ_CHECK(ips[i] && ips[i][0] && !strchr(ips[i], '/'));
            free(ips[i]);
        }
        free(ips);
    }
    /* A conflist read from disk goes through the same builder. */
    json_t *plugins = json_object_get(res, "plugins");
    if (json_is_array(plugins)) {
        for (size_t i = 0; i < json_array_size(plugins) && i < 8; i++) {
            json_t *c = cni_plugin_config(res, i, res, NULL);
            json_decref(c);
        }
    }
    json_decref(res);
    return 0;
}
