/* The method dispatch table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rpc/methods.h"

static void handler(rpc_call *call, void *user, const uint8_t *req, size_t len, rpc_status *st) {}

static const uint8_t *u8(const char *s)
{
    return (const uint8_t *)s;
}

static void test_find(void **state)
{
    static const rpc_method m[] = {
        {"/runtime.v1.RuntimeService/Version", handler, RPC_METHOD_INLINE},
        {"/runtime.v1.RuntimeService/RunPodSandbox", handler, 0},
        {"/runtime.v1.ImageService/PullImage", handler, 0},
    };
    rpc_method_table t;
    cric_err err = {0};
    assert_int_equal(rpc_method_table_init(&t, m, 3, &err), 0);
    for (size_t i = 0; i < 3; i++)
        assert_ptr_equal(rpc_method_table_find(&t, u8(m[i].path), strlen(m[i].path)), &m[i]);
    const char *v = "/runtime.v1.RuntimeService/VersionXYZ";
    assert_null(rpc_method_table_find(&t, u8(v), strlen(v)));
    /* a prefix of the path, given by length, is not the method */
    assert_null(rpc_method_table_find(&t, u8(v), strlen(v) - 4));
    assert_ptr_equal(rpc_method_table_find(&t, u8(v), strlen(v) - 3), &m[0]);
    assert_null(rpc_method_table_find(&t, u8(""), 0));
    rpc_method_table_free(&t);
}

static void test_many(void **state)
{
    enum { N = 300 };
    static char paths[N][32];
    static rpc_method m[N];
    for (int i = 0; i < N; i++) {
        snprintf(paths[i], sizeof(paths[i]), "/svc.S/M%d", i);
        m[i] = (rpc_method){paths[i], handler, 0};
    }
    rpc_method_table t;
    assert_int_equal(rpc_method_table_init(&t, m, N, NULL), 0);
    for (int i = 0; i < N; i++)
        assert_ptr_equal(rpc_method_table_find(&t, u8(paths[i]), strlen(paths[i])), &m[i]);
    assert_null(rpc_method_table_find(&t, u8("/svc.S/M300"), 11));
    rpc_method_table_free(&t);
}

static void test_invalid(void **state)
{
    rpc_method_table t;
    cric_err err = {0};
    const rpc_method dup[] = {{"/a/B", handler, 0}, {"/a/B", handler, 0}};
    assert_int_equal(rpc_method_table_init(&t, dup, 2, &err), -1);
    assert_int_equal(err.kind, CRIC_ERR_INVALID);
    assert_non_null(strstr(err.msg, "twice"));
    const rpc_method noslash[] = {{"a/B", handler, 0}};
    assert_int_equal(rpc_method_table_init(&t, noslash, 1, &err), -1);
    const rpc_method nohandler[] = {{"/a/B", NULL, 0}};
    assert_int_equal(rpc_method_table_init(&t, nohandler, 1, &err), -1);
    assert_int_equal(rpc_method_table_init(&t, NULL, 0, &err), 0);
    assert_null(rpc_method_table_find(&t, u8("/a/B"), 4));
    rpc_method_table_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_many),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
