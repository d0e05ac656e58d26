#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* cgroup_missing lists exactly what cgroup_create then makes (the sandbox
 * records it before the mkdirs), parents first; two plain directories stand
 * in for two hierarchies. */
static void missing_then_create(void **state)
{
    (void)state;
    char root[] = "/tmp/cric-cg-XXXXXX";
    assert_non_null(mkdtemp(root));
    char a[64], b[64], pre[96];
    snprintf(a, sizeof(a), "%s/a", root);
    snprintf(b, sizeof(b), "%s/b", root);
    snprintf(pre, sizeof(pre), "%s/a/pods", root);
    assert_int_equal(mkdir(a, 0755), 0);
    assert_int_equal(mkdir(b, 0755), 0);
    assert_int_equal(mkdir(pre, 0755), 0); /* the parent exists in one hierarchy */
    cgroup_mounts m = {0};
    m.v1[0] = a;
    m.v1_ctrls[0] = "memory";
    m.n_v1 = 1;
    m.v2 = b;
    cric_err err = {0};
    char **missing, **created;
    size_t nm, nc;
    assert_int_equal(cgroup_missing(&m, "pods/p1", &missing, &nm, &err), 0);
    assert_int_equal(nm, 3);
    char want[3][128];
    snprintf(want[0], sizeof(want[0]), "%s/pods/p1", a);
    snprintf(want[1], sizeof(want[1]), "%s/pods", b);
    snprintf(want[2], sizeof(want[2]), "%s/pods/p1", b);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(missing[i], want[i]);
    struct stat st;
    assert_int_equal(stat(want[0], &st), -1); /* listing made nothing */
    assert_int_equal(cgroup_create(&m, "pods/p1", &created, &nc, &err), 0);
    assert_int_equal(nc, nm);
    for (size_t i = 0; i < nc; i++)
        assert_string_equal(created[i], missing[i]);
    free_strv(missing, nm);
    assert_int_equal(cgroup_missing(&m, "pods/p1", &missing, &nm, &err), 0);
    assert_int_equal(nm, 0);
    free_strv(missing, nm);
    for (size_t i = nc; i-- > 0;)
        assert_int_equal(rmdir(created[i]), 0);
    free_strv(created, nc);
    assert_int_equal(rmdir(pre), 0);
    assert_int_equal(rmdir(a), 0);
    assert_int_equal(rmdir(b), 0);
    assert_int_equal(rmdir(root), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mountinfo_hybrid),    cmocka_unit_test(mountinfo_pure_v2),
        cmocka_unit_test(parent_paths),        cmocka_unit_test(weights),
        cmocka_unit_test(missing_then_create),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
