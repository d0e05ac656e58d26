#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "stats/fsusage.h"

static void write_bytes(const char *dir, const char *name, size_t n)
{
    char path[8400];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fputc('x', f);
    fclose(f);
}

static void walk(void **state)
{
    (void)state;
    char *root = tmpdir();
    char sub[4096];
    snprintf(sub, sizeof(sub), "%s/a/b", root);
    mkdirs(sub);
    write_bytes(root, "f1", 1 << 20);
    write_bytes(sub, "f2", 4096);
    char link[4096];
    snprintf(link, sizeof(link), "%s/sym", root);
    assert_int_equal(symlink("/etc", link), 0);
    stats_fs_usage u;
    cric_err err = {0};
    assert_int_equal(stats_fs_walk(root, &u, &err), 0);
    /* root, a, b, f1, f2, sym */
    assert_int_equal(u.inodes_used, 6);
    assert_true(u.used_bytes >= (1 << 20) + 4096);
    assert_true(u.used_bytes < (1 << 20) + 1024 * 1024);
    assert_int_equal(stats_fs_walk("/nonexistent/x", &u, &err), -1);
    assert_int_equal(err.kind, CRIC_ERR_NOT_FOUND);
    rmtree(root);
    free(root);
}

/* The cache answers from memory and refreshes in the background. */
static void cache(void **state)
{
    (void)state;
    char *root = tmpdir();
    write_bytes(root, "f1", 8192);
    stats_fs_cache *c;
    cric_err err = {0};
    assert_int_equal(stats_fs_cache_new(&c, 50, &err), 0);
    stats_fs_usage u1, u2;
    assert_int_equal(stats_fs_cache_get(c, root, &u1, &err), 0);
    assert_int_equal(u1.inodes_used, 2);
    write_bytes(root, "f2", 8192);
    /* Within the refresh interval: the cached value. */
    assert_int_equal(stats_fs_cache_get(c, root, &u2, &err), 0);
    assert_int_equal(u2.inodes_used, 2);
    assert_int_equal(u2.timestamp_ns, u1.timestamp_ns);
    /* After it: this call queues a refresh, a later one sees it. */
    usleep(80 * 1000);
    assert_int_equal(stats_fs_cache_get(c, root, &u2, &err), 0);
    int tries = 0;
    do {
        usleep(10 * 1000);
        assert_int_equal(stats_fs_cache_get(c, root, &u2, &err), 0);
    } while (u2.inodes_used != 3 && ++tries < 200);
    assert_int_equal(u2.inodes_used, 3);
    stats_fs_cache_forget(c, root);
    stats_fs_cache_forget(c, "/never/seen");
    assert_int_equal(stats_fs_cache_get(c, "/nonexistent/y", &u2, &err), -1);
    stats_fs_cache_free(c);
    rmtree(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(walk),
        cmocka_unit_test(cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
