/* The streaming server's HTTP/1.1 request heads and query strings
 * (src/stream/http.c): the first bytes any client sends it. */
#include "fuzz/fuzz_util.h"
#include "stream/http.h"

static int count_value(const char *value, void *arg)
{
    FUZZ_CHECK(value);
    (*(size_t *)arg)++;
    return 0;
}

static bool any_value(const char *value, size_t len, void *arg)
{
    (*(size_t *)arg) += len;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    http_req req;
    size_t used = 0;
    const char *why = NULL;
    int rc = http_parse_request((const char *)data, size, 16384, &req, &used, &why);
    if (rc == HTTP_PARSE_DONE) {
        FUZZ_CHECK(used > 0 && used <= size && used <= 16384);
        FUZZ_CHECK(req.method && req.target && req.path && req.query);
        FUZZ_CHECK(req.n_headers <= HTTP_MAX_HEADERS);
        (void)http_get(&req, "upgrade");
        (void)http_has_token(&req, "connection", "upgrade");
        size_t total = 0;
        (void)http_each_value(&req, "sec-websocket-protocol", any_value, &total);
        static const char *const keys[] = {"port", "command", "input", "tty", "output", "error"};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            size_t n = 0;
            (void)http_query_each(req.query, keys[i], count_value, &n);
        }
        http_req_free(&req);
    } else if (rc < 0) {
        FUZZ_CHECK(why && why[0]);
    } else {
        FUZZ_CHECK(rc == HTTP_PARSE_NEED_MORE && size < 16384 + 4);
    }
    /* The same bytes as a bare query string. */
    char *q = fuzz_cstr(data, size);
    size_t n = 0;
    (void)http_query_each(q, "command", count_value, &n);
    free(q);
    return 0;
}
