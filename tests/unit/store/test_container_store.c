#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/container_store.h"

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define POD "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

typedef struct seen {
    char ids[4][65];
    int states[4];
    size_t config_len[4];
    char config[4][16];
    char data[4][64];
    size_t n;
} seen;

static int collect(void *arg, const container_row *r, cric_err *err)
{
    (void)err;
    seen *s = arg;
    if (s->n == 4)
        return -1;
    snprintf(s->ids[s->n], 65, "%s", r->id);
    s->states[s->n] = r->state;
    s->config_len[s->n] = r->config_len;
    if (r->config_len)
        memcpy(s->config[s->n], r->config, r->config_len < 16 ? r->config_len : 16);
    snprintf(s->data[s->n], 64, "%s", r->data);
    s->n++;
    return 0;
}

/* Put, replace, delete and load back, with a binary config blob. */
static void roundtrip(void **state)
{
    (void)state;
    char dir[] = "/tmp/cric-store-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/t.db", dir);
    cric_db db;
    cric_err err = {0};
    assert_int_equal(db_open(&db, path, &err), 0);
    assert_int_equal(container_store_init(&db, &err), 0);
    assert_int_equal(container_store_init(&db, &err), 0); /* idempotent */
    const char blob[] = {1, 0, 2, 0, 3};
    container_row a = {.id = ID_A,
                       .pod_id = POD,
                       .name = "web",
                       .attempt = 1,
                       .state = 100,
                       .created_at = 2,
                       .config = blob,
                       .config_len = sizeof(blob),
                       .data = "{\"x\":1}"};
    container_row b = {.id = ID_B,
                       .pod_id = POD,
                       .name = "db",
                       .attempt = 0,
                       .state = 0,
                       .created_at = 1,
                       .config = "",
                       .config_len = 0,
                       .data = "{}"};
    assert_int_equal(container_store_put(&db, &a, &err), 0);
    assert_int_equal(container_store_put(&db, &b, &err), 0);
    a.state = 1;
    a.data = "{\"x\":2}";
    assert_int_equal(container_store_put(&db, &a, &err), 0);
    seen s = {0};
    assert_int_equal(container_store_load(&db, collect, &s, &err), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.ids[0], ID_B); /* oldest first */
    assert_string_equal(s.ids[1], ID_A);
    assert_int_equal(s.states[1], 1);
    assert_int_equal(s.config_len[1], sizeof(blob));
    assert_memory_equal(s.config[1], blob, sizeof(blob));
    assert_string_equal(s.data[1], "{\"x\":2}");
    assert_int_equal(s.config_len[0], 0);
    assert_int_equal(container_store_delete(&db, ID_B, &err), 0);
    assert_int_equal(container_store_delete(&db, ID_B, &err), 0); /* missing is fine */
    memset(&s, 0, sizeof(s));
    assert_int_equal(container_store_load(&db, collect, &s, &err), 0);
    assert_int_equal(s.n, 1);
    db_close(&db);
    unlink(path);
    char wal[300];
    snprintf(wal, sizeof(wal), "%s-wal", path);
    unlink(wal);
    snprintf(wal, sizeof(wal), "%s-shm", path);
    unlink(wal);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(roundtrip)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
