#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "util/ids.h"

static void random_ids_are_full_and_distinct(void **state)
{
    (void)state;
    char a[CRIC_ID_LEN + 1], b[CRIC_ID_LEN + 1];
    assert_int_equal(id_random_hex(a), 0);
    assert_int_equal(id_random_hex(b), 0);
    assert_true(id_is_full(a));
    assert_true(id_is_full(b));
    assert_string_not_equal(a, b);
}

static void prefixes(void **state)
{
    (void)state;
    assert_true(id_is_prefix("3f2a"));
    assert_false(id_is_prefix(""));
    assert_false(id_is_prefix("3F2A"));
    assert_false(id_is_prefix("../x"));
    assert_false(id_is_prefix(NULL));
    char longer[70];
    memset(longer, 'a', 65);
    longer[65] = 0;
    assert_false(id_is_prefix(longer));
    assert_false(id_is_full("abc"));
}

static void components(void **state)
{
    (void)state;
    assert_true(name_is_safe_component("pod-a", 5, 253));
    assert_false(name_is_safe_component("a/b", 3, 253));
    assert_false(name_is_safe_component("..", 2, 253));
    assert_false(name_is_safe_component(".", 1, 253));
    assert_false(name_is_safe_component("a\0b", 3, 253));
    assert_false(name_is_safe_component("", 0, 253));
    assert_false(name_is_safe_component("abcdef", 6, 5));
    assert_true(name_is_safe_component("..a", 3, 253));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_ids_are_full_and_distinct),
        cmocka_unit_test(prefixes),
        cmocka_unit_test(components),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
