/* Image metadata and layer lifetime against a real SQLite file: references,
 * tag moves, id prefixes, holds keeping a removed image's layers, and layer
 * collection. */
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

#include "daemon/config.h"
#include "image/digest.h"
#include "image/image.h"
#include "store/image_store.h"

static char base[64];
static cric_config cfg;
static cric_db db;
static image_service *svc;

static int setup(void **state)
{
    (void)state;
    snprintf(base, sizeof(base), "/tmp/cric-imgstore-XXXXXX");
    assert_non_null(mkdtemp(base));
    memset(&cfg, 0, sizeof(cfg));
    cfg.root = base;
    cfg.pause_image = "registry.k8s.io/pause:3.9";
    char p[128];
    snprintf(p, sizeof(p), "%s/cric.db", base);
    cric_err err = {0};
    assert_int_equal(db_open(&db, p, &err), 0);
    assert_int_equal(image_service_new(&svc, &cfg, &db, &err), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    image_service_free(svc);
    db_close(&db);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
    return system(cmd) == 0 ? 0 : -1;
}

/* Records an image whose layers are fake directories on disk. */
static void put_image(const char *config, const char *tag, char **chains, size_t n,
                      char id[DIGEST_STR_LEN + 1])
{
    digest_buf(config, strlen(config), id);
    image_layer_row rows[4];
    for (size_t i = 0; i < n; i++) {
        memset(&rows[i], 0, sizeof(rows[i]));
        snprintf(rows[i].chain_id, sizeof(rows[i].chain_id), "%s", chains[i]);
        snprintf(rows[i].diff_id, sizeof(rows[i].diff_id), "%s", chains[i]);
        rows[i].bytes = 100;
        rows[i].inodes = 2;
        char p[256];
        snprintf(p, sizeof(p), "%s/layers/%s", base, chains[i] + 7);
        mkdir(p, 0700);
        strcat(p, "/fs");
        mkdir(p, 0755);
    }
    char *tags[1] = {(char *)tag};
    image_record rec = {.config_json = (char *)config,
                        .annotations_json = "{}",
                        .size = 1234,
                        .chain_ids = chains,
                        .n_layers = n,
                        .tags = tags,
                        .n_tags = tag ? 1 : 0};
    snprintf(rec.id, sizeof(rec.id), "%s", id);
    cric_err err = {0};
    assert_int_equal(image_store_put(&db, &rec, rows, n, &err), 0);
}

static bool layer_exists(const char *chain)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/layers/%s", base, chain + 7);
    return access(p, F_OK) == 0;
}

#define CHAIN(c)                                                                                   \
    "sha256:" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c  \
        c c c c c c c c c c c c c c c c c c c c c c

static void resolve_by_every_name(void **state)
{
    (void)state;
    char *chains[] = {CHAIN("a"), CHAIN("b")};
    char id[DIGEST_STR_LEN + 1];
    put_image("{\"config\":{\"User\":\"1001:5\",\"Env\":[\"A=1\"]}}",
              "docker.io/library/busybox:latest", chains, 2, id);
    const char *names[] = {"busybox", "docker.io/library/busybox:latest", "busybox:latest", id,
                           id + 7};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        image_info *info = NULL;
        cric_err err = {0};
        if (image_resolve(svc, names[i], &info, &err) < 0)
            fail_msg("%s: %s", names[i], err.msg);
        assert_string_equal(info->id, id);
        assert_int_equal(info->n_layers, 2);
        assert_non_null(strstr(info->layer_dirs[0], "/layers/aaaa"));
        assert_non_null(strstr(info->layer_dirs[1], "/fs"));
        assert_true(info->has_uid);
        assert_int_equal(info->uid, 1001);
        assert_non_null(json_object_get(info->config, "Env"));
        image_info_free(info);
    }
    char prefix[16];
    snprintf(prefix, sizeof(prefix), "%.12s", id + 7);
    image_info *info = NULL;
    cric_err err = {0};
    assert_int_equal(image_resolve(svc, prefix, &info, &err), 0);
    image_info_free(info);
    assert_int_equal(image_resolve(svc, "nothere", &info, &err), -1);
    assert_int_equal(err.kind, CRIC_ERR_NOT_FOUND);
    assert_int_equal(image_resolve(svc, "Bad_Ref", &info, &err), -1);
    assert_int_equal(err.kind, CRIC_ERR_INVALID);
}

static void tag_moves(void **state)
{
    (void)state;
    char *c1[] = {CHAIN("a")};
    char id1[DIGEST_STR_LEN + 1], id2[DIGEST_STR_LEN + 1];
    put_image("{\"v\":1}", "docker.io/library/x:1", c1, 1, id1);
    put_image("{\"v\":2}", "docker.io/library/x:1", c1, 1, id2);
    image_info *info = NULL;
    cric_err err = {0};
    assert_int_equal(image_resolve(svc, "x:1", &info, &err), 0);
    assert_string_equal(info->id, id2);
    image_info_free(info);
    assert_int_equal(image_resolve(svc, id1, &info, &err), 0);
    assert_int_equal(info->n_repo_tags, 0);
    image_info_free(info);
    image_info **v;
    size_t n;
    assert_int_equal(image_list(svc, NULL, &v, &n, &err), 0);
    assert_int_equal(n, 2);
    image_info_list_free(v, n);
    assert_int_equal(image_list(svc, "x:1", &v, &n, &err), 0);
    assert_int_equal(n, 1);
    image_info_list_free(v, n);
    assert_int_equal(image_list(svc, "x:2", &v, &n, &err), 0);
    assert_int_equal(n, 0);
    image_info_list_free(v, n);
}

static void holds_keep_layers_of_removed_images(void **state)
{
    (void)state;
    char *chains[] = {CHAIN("c"), CHAIN("d")};
    char *other[] = {CHAIN("c")};
    char id[DIGEST_STR_LEN + 1], id2[DIGEST_STR_LEN + 1];
    put_image("{\"img\":1}", "docker.io/library/held:1", chains, 2, id);
    put_image("{\"img\":2}", "docker.io/library/other:1", other, 1, id2);
    cric_err err = {0};
    assert_int_equal(image_hold(svc, id, "ctr1", &err), 0);
    assert_int_equal(image_hold(svc, id, "ctr1", &err), 0); /* idempotent */
    assert_int_equal(image_hold(svc, "held:1", "ctr2", &err), 0);
    assert_int_equal(image_hold(svc, "missing:1", "ctr3", &err), -1);
    assert_int_equal(err.kind, CRIC_ERR_NOT_FOUND);
    assert_int_equal(image_hold(svc, id, "../x", &err), -1);

    assert_int_equal(image_remove(svc, "held:1", &err), 0);
    image_info *info = NULL;
    assert_int_equal(image_resolve(svc, id, &info, &err), -1);
    assert_true(layer_exists(CHAIN("c")) && layer_exists(CHAIN("d")));
    assert_int_equal(image_release(svc, "ctr1", &err), 0);
    assert_true(layer_exists(CHAIN("d"))); /* ctr2 still holds it */
    assert_int_equal(image_release(svc, "ctr2", &err), 0);
    assert_false(layer_exists(CHAIN("d")));
    assert_true(layer_exists(CHAIN("c"))); /* the other image uses it */
    assert_int_equal(image_release(svc, "ctr2", &err), 0);
    assert_int_equal(image_remove(svc, id2, &err), 0);
    assert_false(layer_exists(CHAIN("c")));
    assert_int_equal(image_remove(svc, id2, &err), 0); /* absent: success */

    image_fs_usage u, c;
    assert_int_equal(image_fs_usage_get(svc, &u, &c, &err), 0);
    assert_int_equal(u.bytes, 0);
    assert_string_equal(u.mountpoint, c.mountpoint);
}

static void restart_cleans_strays(void **state)
{
    (void)state;
    char *chains[] = {CHAIN("e")};
    char id[DIGEST_STR_LEN + 1];
    put_image("{\"img\":3}", "docker.io/library/keep:1", chains, 1, id);
    char p[256];
    snprintf(p, sizeof(p), "%s/layers/.tmp-xyz", base);
    mkdir(p, 0700);
    snprintf(p, sizeof(p), "%s/layers/%.64s", base, CHAIN("f") + 7);
    mkdir(p, 0700);
    snprintf(p, sizeof(p), "%s/content/tmp/junk", base);
    FILE *f = fopen(p, "w");
    fclose(f);
    image_service_free(svc);
    cric_err err = {0};
    assert_int_equal(image_service_new(&svc, &cfg, &db, &err), 0);
    assert_true(layer_exists(CHAIN("e")));
    assert_false(layer_exists(CHAIN("f")));
    snprintf(p, sizeof(p), "%s/layers/.tmp-xyz", base);
    assert_int_not_equal(access(p, F_OK), 0);
    snprintf(p, sizeof(p), "%s/content/tmp/junk", base);
    assert_int_not_equal(access(p, F_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(resolve_by_every_name, setup, teardown),
        cmocka_unit_test_setup_teardown(tag_moves, setup, teardown),
        cmocka_unit_test_setup_teardown(holds_keep_layers_of_removed_images, setup, teardown),
        cmocka_unit_test_setup_teardown(restart_cleans_strays, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
