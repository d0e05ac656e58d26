#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "stats/rate.h"

#define MS 1000000ll

static void rate(void **state)
{
    (void)state;
    stats_rate_table *t = stats_rate_new(100 * MS);
    uint64_t r = 0;
    /* First sample: no rate yet. */
    assert_false(stats_rate_update(t, "a", 1000 * MS, 0, &r));
    /* One full core over one second. */
    assert_true(stats_rate_update(t, "a", 2000 * MS, 1000000000ull, &r));
    assert_int_equal(r, 1000000000ull);
    /* Too close to the last sample: the last rate, sample not stored. */
    assert_true(stats_rate_update(t, "a", 2010 * MS, 1000000000ull, &r));
    assert_int_equal(r, 1000000000ull);
    /* Half a core over the next second (measured from 2000 ms). */
    assert_true(stats_rate_update(t, "a", 3000 * MS, 1500000000ull, &r));
    assert_int_equal(r, 500000000ull);
    /* Keys are independent. */
    assert_false(stats_rate_update(t, "b", 3000 * MS, 5, &r));
    assert_int_equal(stats_rate_count(t), 2);
    /* Counter went backwards (cgroup re-created): start over. */
    assert_false(stats_rate_update(t, "a", 4000 * MS, 10, &r));
    assert_true(stats_rate_update(t, "a", 4500 * MS, 10 + 250000000ull, &r));
    assert_int_equal(r, 500000000ull);
    stats_rate_forget(t, "a");
    stats_rate_forget(t, "missing");
    assert_int_equal(stats_rate_count(t), 1);
    assert_false(stats_rate_update(t, "a", 5000 * MS, 1, &r));
    stats_rate_free(t);
}

static void many_keys(void **state)
{
    (void)state;
    stats_rate_table *t = stats_rate_new(0);
    char key[32];
    uint64_t r;
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        stats_rate_update(t, key, i, (uint64_t)i, &r);
    }
    assert_int_equal(stats_rate_count(t), 1000);
    stats_rate_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rate),
        cmocka_unit_test(many_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
