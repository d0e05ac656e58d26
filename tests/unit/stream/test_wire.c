/* The exit statuses on the error stream and the WebSocket channel framing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stream/status.h"
#include "stream/wschan.h"

static void test_status_json(void **state)
{
    char *s = k8s_status_success();
    assert_string_equal(s, "{\"metadata\":{},\"status\":\"Success\"}");
    free(s);
    char *argv[] = {"sh", "-c", "exit 3"};
    s = k8s_status_exit_code(argv, 3, 3);
    assert_string_equal(
        s, "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"command terminated with non-zero "
           "exit code: error executing command [sh -c exit 3], exit code 3\",\"reason\":"
           "\"NonZeroExitCode\",\"details\":{\"causes\":[{\"reason\":\"ExitCode\",\"message\":"
           "\"3\"}]}}");
    free(s);
    /* Go's encoding/json escapes <, >, & and quotes */
    char *argv2[] = {"sh", "-c", "echo \"x\" >&2; exit 1"};
    s = k8s_status_exit_code(argv2, 3, 1);
    assert_non_null(strstr(s, "[sh -c echo \\\"x\\\" \\u003e\\u00262; exit 1], exit code 1"));
    free(s);
    s = k8s_status_internal("container 3f: not running");
    assert_string_equal(s, "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"Internal error "
                           "occurred: container 3f: not running\",\"reason\":\"InternalError\","
                           "\"details\":{\"causes\":[{\"message\":\"container 3f: not running\"}]},"
                           "\"code\":500}");
    free(s);
    s = k8s_exit_message(argv, 3, 3);
    assert_string_equal(s, "command terminated with non-zero exit code: error executing command "
                           "[sh -c exit 3], exit code 3");
    free(s);
}

static void test_wschan(void **state)
{
    sbuf m = {0}, d = {0};
    uint8_t ch = 0;
    assert_int_equal(wschan_encode(false, 1, "out\n", 4, &m), 0);
    assert_int_equal(sbuf_avail(&m), 5);
    assert_memory_equal(sbuf_head(&m), "\x01out\n", 5);
    assert_int_equal(wschan_decode(false, sbuf_head(&m), sbuf_avail(&m), &ch, &d), 0);
    assert_int_equal(ch, 1);
    assert_memory_equal(sbuf_head(&d), "out\n", 4);
    sbuf_free(&m);
    sbuf_free(&d);

    /* base64: every padding length round-trips */
    const char *texts[] = {"", "a", "ab", "abc", "abcd"};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(wschan_encode(true, 2, texts[i], strlen(texts[i]), &m), 0);
        assert_int_equal(sbuf_head(&m)[0], '2');
        assert_int_equal(wschan_decode(true, sbuf_head(&m), sbuf_avail(&m), &ch, &d), 0);
        assert_int_equal(ch, 2);
        assert_int_equal(sbuf_avail(&d), strlen(texts[i]));
        if (texts[i][0])
            assert_memory_equal(sbuf_head(&d), texts[i], strlen(texts[i]));
        sbuf_free(&m);
        sbuf_free(&d);
    }
    assert_int_equal(wschan_encode(true, 1, "hi", 2, &m), 0);
    assert_memory_equal(sbuf_head(&m), "1aGk=", 5);
    sbuf_free(&m);
    /* malformed */
    assert_int_equal(wschan_decode(true, (const uint8_t *)"0abc", 4, &ch, &d), -1);
    assert_int_equal(wschan_decode(true, (const uint8_t *)"x", 1, &ch, &d), -1);
    assert_int_equal(wschan_decode(true, (const uint8_t *)"0a!c=", 5, &ch, &d), -1);
    assert_int_equal(wschan_decode(false, (const uint8_t *)"", 0, &ch, &d), -1);
    assert_int_equal(wschan_encode(true, 12, "x", 1, &m), -1);
    sbuf_free(&d);
    sbuf_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_json),
        cmocka_unit_test(test_wschan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
