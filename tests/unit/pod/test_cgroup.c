#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "pod/cgroup.h"

static const char *hybrid =
    "22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw\n"
    "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
    "33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children\n"
    "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup "
    "rw,xattr,release_agent=/x,name=systemd\n"
    "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n"
    "90 30 0:34 /sub /mnt/bound rw - cgroup cgroup rw,memory\n";

static void mountinfo_hybrid(void **state)
{
    (void)state;
    cgroup_mounts m;
    cric_err err = {0};
    assert_int_equal(cgroup_parse_mountinfo(hybrid, &m, &err), 0);
    assert_int_equal(m.n_v1, 4);
    assert_string_equal(m.v1[0], "/sys/fs/cgroup/cpu,cpuacct");
    assert_string_equal(m.v1_ctrls[0], "cpu,cpuacct");
    assert_string_equal(m.v1_ctrls[1], "cpuset");
    assert_string_equal(m.v1_ctrls[3], "name=systemd");
    assert_string_equal(m.v2, "/sys/fs/cgroup/unified");
    char **dirs;
    size_t n;
    assert_int_equal(cgroup_dirs(&m, "kubepods/pod1", &dirs, &n, &err), 0);
    assert_int_equal(n, 5);
    assert_string_equal(dirs[0], "/sys/fs/cgroup/cpu,cpuacct/kubepods/pod1");
    assert_string_equal(dirs[4], "/sys/fs/cgroup/unified/kubepods/pod1");
    for (size_t i = 0; i < n; i++)
        free(dirs[i]);
    free(dirs);
    cgroup_mounts_free(&m);
}

static void mountinfo_pure_v2(void **state)
{
    (void)state;
    cgroup_mounts m;
    cric_err err = {0};
    assert_int_equal(
        cgroup_parse_mountinfo("35 24 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", &m, &err),
        0);
    assert_int_equal(m.n_v1, 0);
    assert_string_equal(m.v2, "/sys/fs/cgroup");
    cgroup_mounts_free(&m);
}

static void parent_paths(void **state)
{
    (void)state;
    char buf[512];
    cric_err err = {0};
    assert_int_equal(cgroup_parent_relpath("/kubepods/burstable/pod123", buf, sizeof(buf), &err),
                     0);
    assert_string_equal(buf, "kubepods/burstable/pod123");
    assert_int_equal(cgroup_parent_relpath("kubepods//besteffort/", buf, sizeof(buf), &err), 0);
    assert_string_equal(buf, "kubepods/besteffort");
    assert_int_equal(
        cgroup_parent_relpath("kubepods-burstable-pod12_3.slice", buf, sizeof(buf), &err), 0);
    assert_string_equal(buf,
                        "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod12_3.slice");
    assert_int_equal(cgroup_parent_relpath("/kubepods/../../etc", buf, sizeof(buf), &err), -1);
    assert_int_equal(err.kind, CRIC_ERR_INVALID);
    assert_int_equal(cgroup_parent_relpath("/", buf, sizeof(buf), &err), -1);
    assert_int_equal(cgroup_parent_relpath("", buf, sizeof(buf), &err), -1);
    assert_int_equal(cgroup_parent_relpath("/a/./b", buf, sizeof(buf), &err), -1);
    assert_int_equal(cgroup_parent_relpath("/a/b c", buf, sizeof(buf), &err), -1);
}

static void weights(void **state)
{
    (void)state;
    assert_int_equal(cgroup_shares_to_weight(2), 1);
    assert_int_equal(cgroup_shares_to_weight(1024), 39);
    assert_int_equal(cgroup_shares_to_weight(262144), 10000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mountinfo_hybrid),
        cmocka_unit_test(mountinfo_pure_v2),
        cmocka_unit_test(parent_paths),
        cmocka_unit_test(weights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
