#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "image/digest.h"

#define EMPTY "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define ABC "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static void known_vectors(void **state)
{
    (void)state;
    char out[DIGEST_STR_LEN + 1];
    digest_buf("", 0, out);
    assert_string_equal(out, EMPTY);
    digest_buf("abc", 3, out);
    assert_string_equal(out, ABC);
}

static void streaming_equals_one_shot(void **state)
{
    (void)state;
    digester *d = digester_new();
    assert_non_null(d);
    digester_update(d, "a", 1);
    digester_update(d, "", 0);
    digester_update(d, "bc", 2);
    char out[DIGEST_STR_LEN + 1];
    digester_final(d, out);
    digester_free(d);
    assert_string_equal(out, ABC);
}

static void chain_ids(void **state)
{
    (void)state;
    char c0[DIGEST_STR_LEN + 1], c1[DIGEST_STR_LEN + 1], want[DIGEST_STR_LEN + 1];
    digest_chain(NULL, ABC, c0);
    assert_string_equal(c0, ABC);
    digest_chain(c0, EMPTY, c1);
    const char *joined = ABC " " EMPTY;
    digest_buf(joined, strlen(joined), want);
    assert_string_equal(c1, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_vectors),
        cmocka_unit_test(streaming_equals_one_shot),
        cmocka_unit_test(chain_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
