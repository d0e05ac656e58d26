#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "stream/http.h"

static int parse(const char *s, http_req *r, size_t *used, const char **why)
{
    return http_parse_request(s, strlen(s), 16384, r, used, why);
}

static void test_upgrade_request(void **state)
{
    const char *s = "POST /exec/0123?x=1&port=80 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n"
                    "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                    "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n"
                    "X-Stream-Protocol-Version: v3.channel.k8s.io, v2.channel.k8s.io\r\n\r\nSPDY";
    http_req r;
    size_t used = 0;
    const char *why;
    assert_int_equal(parse(s, &r, &used, &why), HTTP_PARSE_DONE);
    assert_int_equal(used, strlen(s) - 4);
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.path, "/exec/0123");
    assert_string_equal(r.query, "x=1&port=80");
    assert_int_equal(r.minor, 1);
    assert_string_equal(http_get(&r, "upgrade"), "SPDY/3.1");
    assert_true(http_has_token(&r, "connection", "upgrade"));
    assert_true(http_has_token(&r, "X-Stream-Protocol-Version", "v2.channel.k8s.io"));
    assert_false(http_has_token(&r, "X-Stream-Protocol-Version", "v5.channel.k8s.io"));
    http_req_free(&r);
}

/* Binary bytes after the head (a client that sends its first SPDY frame
 * right behind the upgrade request) are not part of it (found by
 * fuzz/fuzz_stream_server: such a head was refused as holding control
 * characters). */
static void test_binary_after_head(void **state)
{
    static const char s[] = "POST /attach/t HTTP/1.1\r\nHost: x\r\n\r\n\x80\x03\x00\x01\x00";
    http_req r;
    size_t used = 0;
    const char *why;
    assert_int_equal(http_parse_request(s, sizeof(s) - 1, 16384, &r, &used, &why), HTTP_PARSE_DONE);
    assert_int_equal(used, sizeof(s) - 1 - 5);
    assert_string_equal(r.path, "/attach/t");
    http_req_free(&r);
    /* ... while a control character inside the head still is an error. */
    static const char bad[] = "POST /attach/t HTTP/1.1\r\nHost: \x01x\r\n\r\n";
    assert_int_equal(http_parse_request(bad, sizeof(bad) - 1, 16384, &r, &used, &why),
                     HTTP_PARSE_ERROR);
    assert_string_equal(why, "control character in request head");
}

static void test_need_more(void **state)
{
    http_req r;
    size_t used;
    const char *why;
    assert_int_equal(parse("GET /exec/x HTTP/1.1\r\nHost: a\r\n", &r, &used, &why),
                     HTTP_PARSE_NEED_MORE);
    assert_int_equal(parse("GET /ex", &r, &used, &why), HTTP_PARSE_NEED_MORE);
}

static void test_garbage(void **state)
{
    static const char *bad[] = {
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", /* a TLS hello */
        "GET\r\n\r\n",
        "GET /x\r\n\r\n",
        "GET x HTTP/1.1\r\n\r\n",
        "GET /x HTTP/2.0\r\n\r\n",
        "GET /x HTTP/1.1\r\nNo colon here\r\n\r\n",
        "GET /x HTTP/1.1\r\n : empty name\r\n\r\n",
        "GET /x HTTP/1.1\r\nBad Name: v\r\n\r\n",
        "GET /x HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
        "GET /x y HTTP/1.1\r\n\r\n",
        "GET /x\nHost: y\n\n",
        "GET /\x7f HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        http_req r;
        size_t used;
        const char *why = NULL;
        int rc = parse(bad[i], &r, &used, &why);
        if (rc != HTTP_PARSE_ERROR)
            fail_msg("case %zu parsed as %d", i, rc);
        assert_non_null(why);
        assert_true(why[0] != '\0');
    }
}

static void test_limits(void **state)
{
    char big[20000];
    strcpy(big, "GET /x HTTP/1.1\r\n");
    size_t n = strlen(big);
    while (n < sizeof(big) - 100)
        n += (size_t)sprintf(big + n, "X-A: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    http_req r;
    size_t used;
    const char *why;
    assert_int_equal(http_parse_request(big, n, 16384, &r, &used, &why), HTTP_PARSE_TOO_LARGE);
    /* 65 headers in a small head */
    char many[4096];
    n = (size_t)sprintf(many, "GET /x HTTP/1.1\r\n");
    for (int i = 0; i < 65; i++)
        n += (size_t)sprintf(many + n, "H%d: v\r\n", i);
    n += (size_t)sprintf(many + n, "\r\n");
    assert_int_equal(http_parse_request(many, n, 16384, &r, &used, &why), HTTP_PARSE_TOO_LARGE);
}

static int collect(const char *v, void *arg)
{
    char *out = arg;
    strcat(out, v);
    strcat(out, "|");
    return 0;
}

static void test_query(void **state)
{
    char out[128] = "";
    assert_int_equal(http_query_each("a=1&port=80,81&port=%39%30&b&port=", "port", collect, out),
                     0);
    assert_string_equal(out, "80,81|90||");
    out[0] = '\0';
    assert_int_equal(http_query_each("port=%zz", "port", collect, out), -1);
    assert_int_equal(http_query_each("port=%4", "port", collect, out), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upgrade_request), cmocka_unit_test(test_binary_after_head),
        cmocka_unit_test(test_need_more),       cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_limits),          cmocka_unit_test(test_query),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
