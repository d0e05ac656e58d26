/* runtime_probe: reading the hybrid layout from a fake cgroup root, and which
 * runtimes need the unified mount emptied. (The mount itself is exercised by
 * tests/integration/test_shim.py on the real host.) */
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

#include "ctr/runtime_probe.h"
#include "util/fs.h"

static char root[64];

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/cric-probe-XXXXXX");
    return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return fs_rm_rf(root, NULL);
}

static void write_controllers(const char *text)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/unified", root);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/unified/cgroup.controllers", root);
    assert_int_equal(fs_write_atomic(path, text, strlen(text), 0644, NULL), 0);
}

static void test_not_hybrid(void **state)
{
    (void)state;
    char out[64] = "junk";
    cric_err err = {0};
    assert_int_equal(runtime_probe_unified_controllers(root, out, sizeof(out), &err), 0);
    assert_string_equal(out, "");
    /* nothing to fix: crun is fine as is */
    assert_int_equal(runtime_probe_prepare("/usr/bin/crun", root, &err), 0);
}

static void test_hybrid_empty_unified(void **state)
{
    (void)state;
    write_controllers("\n");
    char out[64];
    cric_err err = {0};
    assert_int_equal(runtime_probe_unified_controllers(root, out, sizeof(out), &err), 0);
    assert_string_equal(out, "");
    assert_int_equal(runtime_probe_prepare("crun", root, &err), 0);
}

static void test_hybrid_with_controllers(void **state)
{
    (void)state;
    write_controllers("hugetlb  misc\n");
    char out[64];
    cric_err err = {0};
    assert_int_equal(runtime_probe_unified_controllers(root, out, sizeof(out), &err), 0);
    assert_string_equal(out, "hugetlb misc");
    /* runc accepts the layout: nothing is mounted, no error */
    assert_int_equal(runtime_probe_prepare("/usr/sbin/runc", root, &err), 0);
    assert_true(runtime_probe_needs_pure_hybrid("/usr/bin/crun"));
    assert_false(runtime_probe_needs_pure_hybrid("/usr/sbin/runc"));
    assert_false(runtime_probe_needs_pure_hybrid("crun-wrapper"));
}

static void test_too_small_buffer(void **state)
{
    (void)state;
    write_controllers("hugetlb misc\n");
    char out[6];
    cric_err err = {0};
    assert_int_equal(runtime_probe_unified_controllers(root, out, sizeof(out), &err), -1);
    assert_int_equal(err.kind, CRIC_ERR_RESOURCE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_not_hybrid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hybrid_empty_unified, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hybrid_with_controllers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_small_buffer, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
