#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "stats/netdev.h"

static const char *sample =
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
    "drop fifo colls carrier compressed\n"
    "    lo:    1000      10    0    0    0     0          0         0     1000      10    0    "
    "0    0     0       0          0\n"
    "  eth0: 5242880    4000    3    1    0     0          0         0   104857     900    2    "
    "0    0     0       0          0\n"
    "  net1:      70       1    0    0    0     0          0         0       80       1    0    "
    "0    0     0       0          0\n";

static void parse(void **state)
{
    (void)state;
    stats_netdev d[4];
    cric_err err = {0};
    int n = stats_netdev_parse(sample, d, 4, &err);
    assert_int_equal(n, 2);
    assert_string_equal(d[0].name, "eth0");
    assert_int_equal(d[0].rx_bytes, 5242880);
    assert_int_equal(d[0].rx_errors, 3);
    assert_int_equal(d[0].tx_bytes, 104857);
    assert_int_equal(d[0].tx_errors, 2);
    assert_string_equal(d[1].name, "net1");
    assert_ptr_equal(stats_netdev_default(d, 2, "eth0"), &d[0]);
    assert_ptr_equal(stats_netdev_default(d, 2, "eth9"), &d[0]);
    assert_null(stats_netdev_default(d, 0, "eth0"));
    /* Capped at max. */
    assert_int_equal(stats_netdev_parse(sample, d, 1, &err), 1);
}

static void malformed(void **state)
{
    (void)state;
    stats_netdev d[4];
    cric_err err = {0};
    assert_int_equal(stats_netdev_parse("h1\nh2\n eth0 1 2 3\n", d, 4, &err), -1);
    assert_int_equal(stats_netdev_parse("h1\nh2\n eth0: 1 2 3\n", d, 4, &err), -1);
    assert_non_null(strstr(err.msg, "eth0"));
    assert_int_equal(stats_netdev_parse("h1\nh2\n", d, 4, &err), 0);
}

/* Our own namespace through the netns path: at least parses. */
static void read_self(void **state)
{
    (void)state;
    stats_netdev d[64];
    cric_err err = {0};
    assert_true(stats_netdev_read_netns("/proc/self/ns/net", d, 64, &err) >= 0);
    assert_int_equal(stats_netdev_read_netns("/nonexistent/ns", d, 64, &err), -1);
    assert_int_equal(err.kind, CRIC_ERR_NOT_FOUND);
    assert_int_equal(stats_netdev_read_netns("relative", d, 64, &err), -1);
    assert_int_equal(err.kind, CRIC_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse),
        cmocka_unit_test(malformed),
        cmocka_unit_test(read_self),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
