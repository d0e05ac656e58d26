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

#include "util/fs.h"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/cric-fs-test.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    cric_err e = {0};
    return fs_rm_rf(tmpdir, &e);
}

static void atomic_write_and_read(void **state)
{
    (void)state;
    char path[300], sub[200];
    snprintf(sub, sizeof(sub), "%s/a/b/c", tmpdir);
    cric_err e = {0};
    assert_int_equal(fs_mkdir_p(sub, 0755, &e), 0);
    assert_int_equal(fs_mkdir_p(sub, 0755, &e), 0);
    snprintf(path, sizeof(path), "%s/file", sub);
    assert_int_equal(fs_write_atomic(path, "hello", 5, 0640, &e), 0);
    assert_int_equal(fs_write_atomic(path, "world!", 6, 0640, &e), 0);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(fs_read_file(path, 100, &data, &len, &e), 0);
    assert_int_equal(len, 6);
    assert_string_equal(data, "world!");
    free(data);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    /* over the cap */
    assert_int_equal(fs_read_file(path, 3, &data, &len, &e), -1);
    assert_int_equal(e.kind, CRIC_ERR_RESOURCE);
    /* missing */
    snprintf(path, sizeof(path), "%s/missing", tmpdir);
    assert_int_equal(fs_read_file(path, 3, &data, &len, &e), -1);
    assert_int_equal(e.kind, CRIC_ERR_NOT_FOUND);
}

static void rm_rf_does_not_follow_symlinks(void **state)
{
    (void)state;
    char outside[200], tree[200], link[300], keep[300];
    cric_err e = {0};
    snprintf(outside, sizeof(outside), "%s/outside", tmpdir);
    snprintf(tree, sizeof(tree), "%s/tree/d", tmpdir);
    assert_int_equal(fs_mkdir_p(outside, 0755, &e), 0);
    assert_int_equal(fs_mkdir_p(tree, 0755, &e), 0);
    snprintf(keep, sizeof(keep), "%s/keep", outside);
    assert_int_equal(fs_write_atomic(keep, "x", 1, 0644, &e), 0);
    snprintf(link, sizeof(link), "%s/tree/d/link", tmpdir);
    assert_int_equal(symlink(outside, link), 0);
    snprintf(tree, sizeof(tree), "%s/tree", tmpdir);
    assert_int_equal(fs_rm_rf(tree, &e), 0);
    assert_int_equal(access(tree, F_OK), -1);
    assert_int_equal(access(keep, F_OK), 0);
    assert_int_equal(fs_rm_rf(tree, &e), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(atomic_write_and_read),
        cmocka_unit_test(rm_rf_does_not_follow_symlinks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
