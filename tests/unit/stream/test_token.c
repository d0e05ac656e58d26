#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stream/token.h"

static stream_request *req(stream_kind k, const char *id)
{
    char *argv[] = {"sh", "-c", "exit 3"};
    stream_request r = {.kind = k, .id = (char *)id, .cmd = argv, .n_cmd = 3, .stdout_ = true};
    return stream_request_dup(&r);
}

static void test_single_use(void **state)
{
    token_store *ts = token_store_new(16);
    char tok[STREAM_TOKEN_LEN + 1];
    cric_err err = {0};
    assert_int_equal(token_put(ts, req(STREAM_EXEC, "abc"), 1000, 60000, tok, &err), 0);
    assert_int_equal(strlen(tok), STREAM_TOKEN_LEN);
    /* wrong kind: refused, and the token stays valid */
    assert_null(token_take(ts, tok, STREAM_ATTACH, 1001));
    stream_request *r = token_take(ts, tok, STREAM_EXEC, 1002);
    assert_non_null(r);
    assert_string_equal(r->id, "abc");
    assert_int_equal(r->n_cmd, 3);
    assert_string_equal(r->cmd[2], "exit 3");
    assert_null(r->cmd[3]);
    stream_request_free(r);
    /* reused */
    assert_null(token_take(ts, tok, STREAM_EXEC, 1003));
    /* unknown / malformed */
    assert_null(token_take(ts, "00000000000000000000000000000000", STREAM_EXEC, 1003));
    assert_null(token_take(ts, "short", STREAM_EXEC, 1003));
    assert_null(token_take(ts, NULL, STREAM_EXEC, 1003));
    token_store_free(ts);
}

static void test_expiry(void **state)
{
    token_store *ts = token_store_new(16);
    char a[STREAM_TOKEN_LEN + 1], b[STREAM_TOKEN_LEN + 1];
    cric_err err = {0};
    assert_int_equal(token_put(ts, req(STREAM_EXEC, "a"), 0, 60000, a, &err), 0);
    assert_int_equal(token_put(ts, req(STREAM_PORTFORWARD, "b"), 0, 60000, b, &err), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(token_sweep(ts, 59999), 2);
    assert_null(token_take(ts, a, STREAM_EXEC, 60000)); /* expired exactly at ttl */
    assert_int_equal(token_sweep(ts, 60001), 0);
    assert_null(token_take(ts, b, STREAM_PORTFORWARD, 60001));
    token_store_free(ts);
}

static void test_cap(void **state)
{
    token_store *ts = token_store_new(3);
    char t[STREAM_TOKEN_LEN + 1];
    cric_err err = {0};
    for (int i = 0; i < 3; i++)
        assert_int_equal(token_put(ts, req(STREAM_EXEC, "x"), 0, 1000, t, &err), 0);
    assert_int_equal(token_put(ts, req(STREAM_EXEC, "x"), 0, 1000, t, &err), -1);
    assert_int_equal(err.kind, CRIC_ERR_RESOURCE);
    /* expired ones make room again */
    assert_int_equal(token_put(ts, req(STREAM_EXEC, "x"), 2000, 1000, t, &err), 0);
    token_store_free(ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_use),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
