/* Image references (src/image/reference.c) and the id/name checks of
 * src/util/ids.c: parse, then the normalised forms must parse back to the
 * same reference; failures must explain themselves. */
#include "fuzz/fuzz_util.h"
#include "image/reference.h"
#include "util/ids.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    char *s = fuzz_cstr(data, size);
    (void)id_is_full(s);
    (void)id_is_prefix(s);
    (void)name_is_safe_component((const char *)data, size, 253);
    (void)digest_is_valid(s);

    image_ref r;
    cric_err err = {0};
    if (ref_parse(s, &r, &err) < 0) {
        FUZZ_CHECK(err.msg[0] != '\0');
        free(s);
        return 0;
    }
    FUZZ_CHECK(r.domain[0] && r.path[0] && (r.tag[0] || r.digest[0]));
    FUZZ_CHECK(!r.digest[0] || digest_is_valid(r.digest));
    char repo[2 * REF_NAME_MAX + 2], tagged[2 * REF_NAME_MAX + REF_TAG_MAX + 4],
        dig[2 * REF_NAME_MAX + REF_DIGEST_MAX + 4];
    FUZZ_CHECK(ref_repo(&r, repo, sizeof(repo)) >= 0);
    if (r.tag[0]) {
        FUZZ_CHECK(ref_tagged(&r, tagged, sizeof(tagged)) >= 0);
        image_ref again;
        cric_err e2 = {0};
        FUZZ_CHECK(ref_parse(tagged, &again, &e2) == 0);
        FUZZ_CHECK(strcmp(again.domain, r.domain) == 0 && strcmp(again.path, r.path) == 0 &&
                   strcmp(again.tag, r.tag) == 0 && again.digest[0] == '\0');
    }
    if (r.digest[0]) {
        FUZZ_CHECK(ref_with_digest(&r, r.digest, dig, sizeof(dig)) >= 0);
        image_ref again;
        cric_err e2 = {0};
        FUZZ_CHECK(ref_parse(dig, &again, &e2) == 0);
        FUZZ_CHECK(strcmp(again.domain, r.domain) == 0 && strcmp(again.path, r.path) == 0 &&
                   strcmp(again.digest, r.digest) == 0);
    }
    free(s);
    return 0;
}
