#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "util/err.h"

static void set_and_prefix(void **state)
{
    (void)state;
    cric_err e = {0};
    assert_int_equal(cric_err_set(&e, CRIC_ERR_NOT_FOUND, "id %s", "3f2a"), -1);
    assert_int_equal(e.kind, CRIC_ERR_NOT_FOUND);
    cric_err_prefix(&e, "container %s: ", "abc");
    assert_string_equal(e.msg, "container abc: id 3f2a");
    assert_int_equal(e.kind, CRIC_ERR_NOT_FOUND);
}

static void errno_kind(void **state)
{
    (void)state;
    cric_err e = {0};
    cric_err_errno(&e, ENOSPC, "write %s", "x");
    assert_int_equal(e.kind, CRIC_ERR_RESOURCE);
    assert_non_null(strstr(e.msg, "write x: "));
    cric_err_errno(&e, EACCES, "open");
    assert_int_equal(e.kind, CRIC_ERR_INTERNAL);
}

static void long_message_truncates(void **state)
{
    (void)state;
    cric_err e = {0};
    char big[4000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    cric_err_set(&e, CRIC_ERR_INVALID, "%s", big);
    assert_int_equal(strlen(e.msg), CRIC_ERR_MSG_MAX - 1);
    cric_err_prefix(&e, "p: ");
    assert_int_equal(strlen(e.msg), CRIC_ERR_MSG_MAX - 1);
    assert_memory_equal(e.msg, "p: aaa", 6);
    assert_int_equal(cric_err_set(NULL, CRIC_ERR_INVALID, "x"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(set_and_prefix),
        cmocka_unit_test(errno_kind),
        cmocka_unit_test(long_message_truncates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
