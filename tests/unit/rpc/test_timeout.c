/* grpc-timeout header parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rpc/timeout.h"

static int parse(const char *s, uint64_t *ms)
{
    return rpc_timeout_parse(s, strlen(s), ms);
}

static void test_units(void **state)
{
    uint64_t ms = 0;
    assert_int_equal(parse("1H", &ms), 0);
    assert_int_equal(ms, 3600000);
    assert_int_equal(parse("2M", &ms), 0);
    assert_int_equal(ms, 120000);
    assert_int_equal(parse("3S", &ms), 0);
    assert_int_equal(ms, 3000);
    assert_int_equal(parse("200m", &ms), 0);
    assert_int_equal(ms, 200);
    assert_int_equal(parse("1500u", &ms), 0);
    assert_int_equal(ms, 2); /* rounded up */
    assert_int_equal(parse("1000u", &ms), 0);
    assert_int_equal(ms, 1);
    assert_int_equal(parse("1n", &ms), 0);
    assert_int_equal(ms, 1);
    assert_int_equal(parse("999999n", &ms), 0);
    assert_int_equal(ms, 1);
    assert_int_equal(parse("1000001n", &ms), 0);
    assert_int_equal(ms, 2);
    assert_int_equal(parse("0S", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(parse("00000007m", &ms), 0);
    assert_int_equal(ms, 7);
}

/* Eight digits of hours still fit in 64 bits; nine digits are refused. */
static void test_limits(void **state)
{
    uint64_t ms = 0;
    assert_int_equal(parse("99999999H", &ms), 0);
    assert_true(ms == 99999999ull * 3600000ull);
    assert_int_equal(parse("99999999n", &ms), 0);
    assert_int_equal(ms, 100);
    assert_int_equal(parse("999999999H", &ms), -1);
    assert_int_equal(parse("100000000m", &ms), -1);
    assert_int_equal(parse("18446744073709551617S", &ms), -1);
}

static void test_invalid(void **state)
{
    uint64_t ms = 42;
    const char *bad[] = {"",    "S",   "m",   "10",   "10s",   "10h", "10x", "-1S", "+1S",
                         " 1S", "1S ", "1 S", "1.5S", "0x10m", "1SS", "S1",  "1\0S"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse(bad[i], &ms), -1);
    assert_int_equal(ms, 42); /* untouched on failure */
    /* an embedded NUL, with the length given */
    assert_int_equal(rpc_timeout_parse("1\0S", 3, &ms), -1);
    /* not NUL-terminated: only len bytes are read */
    assert_int_equal(rpc_timeout_parse("5S999", 2, &ms), 0);
    assert_int_equal(ms, 5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
