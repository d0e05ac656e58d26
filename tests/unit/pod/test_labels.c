#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pod/pod.h"

static void selectors(void **state)
{
    (void)state;
    char *keys[] = {"app", "tier", "empty"};
    char *vals[] = {"web", "front", ""};
    pod_kv one[] = {{"app", "web"}};
    pod_kv two[] = {{"tier", "front"}, {"app", "web"}};
    pod_kv wrong[] = {{"app", "db"}};
    pod_kv missing[] = {{"app", "web"}, {"zone", "a"}};
    pod_kv empty_value[] = {{"empty", ""}};
    assert_true(pod_labels_match(NULL, 0, keys, vals, 3));
    assert_true(pod_labels_match(one, 1, keys, vals, 3));
    assert_true(pod_labels_match(two, 2, keys, vals, 3));
    assert_false(pod_labels_match(wrong, 1, keys, vals, 3));
    assert_false(pod_labels_match(missing, 2, keys, vals, 3));
    assert_true(pod_labels_match(empty_value, 1, keys, vals, 3));
    assert_false(pod_labels_match(one, 1, NULL, NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(selectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
