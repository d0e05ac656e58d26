/* Status code names and grpc-message percent-encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rpc/status.h"

static void test_names(void **state)
{
    assert_string_equal(rpc_code_name(RPC_OK), "OK");
    assert_string_equal(rpc_code_name(RPC_CANCELLED), "CANCELLED");
    assert_string_equal(rpc_code_name(RPC_INVALID_ARGUMENT), "INVALID_ARGUMENT");
    assert_string_equal(rpc_code_name(RPC_DEADLINE_EXCEEDED), "DEADLINE_EXCEEDED");
    assert_string_equal(rpc_code_name(RPC_RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED");
    assert_string_equal(rpc_code_name(RPC_FAILED_PRECONDITION), "FAILED_PRECONDITION");
    assert_string_equal(rpc_code_name(RPC_UNIMPLEMENTED), "UNIMPLEMENTED");
    assert_string_equal(rpc_code_name(RPC_UNAUTHENTICATED), "UNAUTHENTICATED");
    assert_string_equal(rpc_code_name((rpc_code)17), "INVALID_CODE");
    assert_string_equal(rpc_code_name((rpc_code)-1), "INVALID_CODE");
}

static void test_digits(void **state)
{
    assert_string_equal(rpc_code_digits(RPC_OK), "0");
    assert_string_equal(rpc_code_digits(RPC_NOT_FOUND), "5");
    assert_string_equal(rpc_code_digits(RPC_UNAUTHENTICATED), "16");
    assert_string_equal(rpc_code_digits((rpc_code)99), "2");
}

static void test_status_set(void **state)
{
    rpc_status st;
    assert_int_equal(rpc_status_set(&st, RPC_NOT_FOUND, "pod %s not found", "abc"), RPC_NOT_FOUND);
    assert_int_equal(st.code, RPC_NOT_FOUND);
    assert_string_equal(st.message, "pod abc not found");
}

/* A message cut at the buffer size does not end in half a UTF-8 character. */
static void test_status_set_truncates_utf8(void **state)
{
    char big[2 * CRIC_ERR_MSG_MAX];
    size_t n = 0;
    /* 1022 ASCII bytes, then a 3-byte snowman that cannot fit */
    memset(big, 'a', CRIC_ERR_MSG_MAX - 2);
    n = CRIC_ERR_MSG_MAX - 2;
    memcpy(big + n, "\xe2\x98\x83zzz", 7);
    n += 7;
    big[n] = '\0';
    rpc_status st;
    rpc_status_set(&st, RPC_INTERNAL, "%s", big);
    assert_int_equal(strlen(st.message), CRIC_ERR_MSG_MAX - 2);
}

static void test_percent_encode(void **state)
{
    char out[64];
    assert_int_equal(rpc_percent_encode(out, sizeof(out), "plain text", 10), 10);
    assert_string_equal(out, "plain text");

    const char *in = "100% sûr\n";
    rpc_percent_encode(out, sizeof(out), in, strlen(in));
    assert_string_equal(out, "100%25 s%C3%BBr%0A");

    /* ~ (0x7e) and space (0x20) stay; DEL (0x7f) and 0x1f do not */
    rpc_percent_encode(out, sizeof(out), "~ \x7f\x1f", 4);
    assert_string_equal(out, "~ %7F%1F");

    /* embedded NUL is encoded too (length given) */
    rpc_percent_encode(out, sizeof(out), "a\0b", 3);
    assert_string_equal(out, "a%00b");
}

static void test_percent_encode_truncation(void **state)
{
    char out[6];
    /* "ab%25" = 5 chars fits; the next escape would not */
    assert_int_equal(rpc_percent_encode(out, sizeof(out), "ab%%", 4), 5);
    assert_string_equal(out, "ab%25");
    char small[4];
    /* an escape needs 3 chars + NUL: "%25" fits exactly */
    assert_int_equal(rpc_percent_encode(small, sizeof(small), "%x", 2), 3);
    assert_string_equal(small, "%25");
    char tiny[3];
    assert_int_equal(rpc_percent_encode(tiny, sizeof(tiny), "%", 1), 0);
    assert_string_equal(tiny, "");
    char one[1];
    assert_int_equal(rpc_percent_encode(one, sizeof(one), "abc", 3), 0);
    assert_string_equal(one, "");
}

/* Worst case: every byte escaped; RPC_MESSAGE_ENC_MAX holds it. */
static void test_percent_encode_worst_case(void **state)
{
    char msg[CRIC_ERR_MSG_MAX - 1];
    memset(msg, 0xff, sizeof(msg));
    char out[RPC_MESSAGE_ENC_MAX];
    assert_int_equal(rpc_percent_encode(out, sizeof(out), msg, sizeof(msg)), 3 * sizeof(msg));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_digits),
        cmocka_unit_test(test_status_set),
        cmocka_unit_test(test_status_set_truncates_utf8),
        cmocka_unit_test(test_percent_encode),
        cmocka_unit_test(test_percent_encode_truncation),
        cmocka_unit_test(test_percent_encode_worst_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
