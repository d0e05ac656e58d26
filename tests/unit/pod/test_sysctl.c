#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "pod/sysctl.h"

static void namespaces(void **state)
{
    (void)state;
    assert_int_equal(sysctl_namespace("net.ipv4.ip_forward"), SYSCTL_NS_NET);
    assert_int_equal(sysctl_namespace("net/ipv4/conf/eth0.100/forwarding"), SYSCTL_NS_NET);
    assert_int_equal(sysctl_namespace("kernel.shmmax"), SYSCTL_NS_IPC);
    assert_int_equal(sysctl_namespace("kernel.shm_rmid_forced"), SYSCTL_NS_IPC);
    assert_int_equal(sysctl_namespace("kernel.msgmax"), SYSCTL_NS_IPC);
    assert_int_equal(sysctl_namespace("kernel.sem"), SYSCTL_NS_IPC);
    assert_int_equal(sysctl_namespace("fs.mqueue.msg_max"), SYSCTL_NS_IPC);
    assert_int_equal(sysctl_namespace("kernel.domainname"), SYSCTL_NS_UTS);
    assert_int_equal(sysctl_namespace("kernel.panic"), SYSCTL_NS_NONE);
    assert_int_equal(sysctl_namespace("vm.swappiness"), SYSCTL_NS_NONE);
    assert_int_equal(sysctl_namespace("kernel.semx"), SYSCTL_NS_NONE);
}

static void validation(void **state)
{
    (void)state;
    cric_err err = {0};
    assert_int_equal(
        sysctl_validate("net.ipv4.ip_unprivileged_port_start", "0", true, true, true, &err), 0);
    assert_int_equal(
        sysctl_validate("net.ipv4.ip_unprivileged_port_start", "0", false, true, true, &err), -1);
    assert_int_equal(err.kind, CRIC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "network namespace"));
    assert_int_equal(sysctl_validate("kernel.shmmax", "1000", true, true, true, &err), 0);
    assert_int_equal(sysctl_validate("kernel.shmmax", "1000", true, false, true, &err), -1);
    assert_non_null(strstr(err.msg, "IPC"));
    assert_int_equal(sysctl_validate("fs.mqueue.msg_max", "20", true, false, true, &err), -1);
    assert_int_equal(sysctl_validate("kernel.panic", "1", true, true, true, &err), -1);
    assert_int_equal(sysctl_validate("net.ipv4/../../x", "1", true, true, true, &err), -1);
    assert_int_equal(sysctl_validate("net..ipv4", "1", true, true, true, &err), -1);
    assert_int_equal(sysctl_validate("", "1", true, true, true, &err), -1);
    assert_int_equal(sysctl_validate("net.ipv4.x", "1\n2", true, true, true, &err), -1);
}

static void paths(void **state)
{
    (void)state;
    char buf[256];
    assert_int_equal(sysctl_proc_path("net.ipv4.ip_forward", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "/proc/sys/net/ipv4/ip_forward");
    assert_int_equal(sysctl_proc_path("net/ipv4/conf/eth0.100/forwarding", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "/proc/sys/net/ipv4/conf/eth0.100/forwarding");
    assert_int_equal(sysctl_proc_path("net.ipv4.ip_forward", buf, 8), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(namespaces),
        cmocka_unit_test(validation),
        cmocka_unit_test(paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
