/* CRI log formatting: kubelet/containerd-compatible records, 16 KiB splits,
 * partial lines, "\r\n", stream separation, timestamps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "shim/crilog.h"

struct out {
    char *buf;
    size_t len;
    int records;
};

static void sink(void *opaque, const struct iovec *iov, int n)
{
    struct out *o = opaque;
    size_t add = 1;
    for (int i = 0; i < n; i++)
        add += iov[i].iov_len;
    o->buf = realloc(o->buf, o->len + add + 1);
    for (int i = 0; i < n; i++) {
        memcpy(o->buf + o->len, iov[i].iov_base, iov[i].iov_len);
        o->len += iov[i].iov_len;
    }
    o->buf[o->len++] = '\n';
    o->buf[o->len] = '\0';
    o->records++;
}

static const struct timespec T = {.tv_sec = 1700000000, .tv_nsec = 123456000};
#define TS "2023-11-14T22:13:20.123456Z"

static void test_timestamp(void **state)
{
    (void)state;
    char b[CRILOG_TS_MAX];
    crilog_timestamp(&T, b);
    assert_string_equal(b, TS);
    struct timespec z = {1700000000, 0};
    crilog_timestamp(&z, b);
    assert_string_equal(b, "2023-11-14T22:13:20Z");
    struct timespec one = {1700000000, 1};
    crilog_timestamp(&one, b);
    assert_string_equal(b, "2023-11-14T22:13:20.000000001Z");
    struct timespec full = {1700000000, 999999999};
    crilog_timestamp(&full, b);
    assert_string_equal(b, "2023-11-14T22:13:20.999999999Z");
}

static void test_simple_lines(void **state)
{
    (void)state;
    struct out o = {0};
    struct crilog_stream s;
    crilog_stream_init(&s, "stdout");
    crilog_feed(&s, "a\nbc\n\n", 6, &T, sink, &o);
    assert_string_equal(o.buf, TS " stdout F a\n" TS " stdout F bc\n" TS " stdout F \n");
    assert_null(s.pending); /* nothing buffered when idle */
    crilog_flush(&s, &T, sink, &o);
    assert_int_equal(o.records, 3);
    free(o.buf);
}

static void test_partial_across_feeds_and_eof(void **state)
{
    (void)state;
    struct out o = {0};
    struct crilog_stream s;
    crilog_stream_init(&s, "stdout");
    crilog_feed(&s, "hel", 3, &T, sink, &o);
    assert_int_equal(o.records, 0);
    crilog_feed(&s, "lo\nwor", 6, &T, sink, &o);
    assert_string_equal(o.buf, TS " stdout F hello\n");
    crilog_flush(&s, &T, sink, &o); /* unterminated at EOF: P, like containerd */
    assert_string_equal(o.buf, TS " stdout F hello\n" TS " stdout P wor\n");
    free(o.buf);
}

static void test_crlf(void **state)
{
    (void)state;
    struct out o = {0};
    struct crilog_stream s;
    crilog_stream_init(&s, "stdout");
    crilog_feed(&s, "a\r\nb\r", 5, &T, sink, &o);
    crilog_feed(&s, "\nc\rd\n", 5, &T, sink, &o);
    assert_string_equal(o.buf, TS " stdout F a\n" TS " stdout F b\n" TS " stdout F c\rd\n");
    crilog_stream_free(&s);
    free(o.buf);
}

/* Parses records and checks each piece's tag and length. */
static void expect_pieces(const struct out *o, const char *tags, const size_t *lens)
{
    const char *p = o->buf;
    size_t n = strlen(tags);
    for (size_t i = 0; i < n; i++) {
        const char *sp = strchr(p, ' ');
        assert_non_null(sp);
        sp = strchr(sp + 1, ' ');
        assert_non_null(sp);
        assert_int_equal(sp[1], tags[i]);
        const char *content = sp + 3;
        const char *nl = memchr(content, '\n', o->len - (size_t)(content - o->buf));
        assert_non_null(nl);
        assert_int_equal((size_t)(nl - content), lens[i]);
        p = nl + 1;
    }
    assert_int_equal((size_t)(p - o->buf), o->len);
}

static char *filled(size_t n, char c)
{
    char *b = malloc(n + 2);
    memset(b, c, n);
    b[n] = '\0';
    return b;
}

static void test_exact_16k_line_is_one_record(void **state)
{
    (void)state;
    struct out o = {0};
    struct crilog_stream s;
    crilog_stream_init(&s, "stdout");
    char *b = filled(CRILOG_MAX_LINE, 'x');
    b[CRILOG_MAX_LINE] = '\n';
    crilog_feed(&s, b, CRILOG_MAX_LINE + 1, &T, sink, &o);
    size_t lens[] = {CRILOG_MAX_LINE};
    expect_pieces(&o, "F", lens);
    free(b);
    free(o.buf);
}

static void test_16k_plus_one(void **state)
{
    (void)state;
    struct out o = {0};
    struct crilog_stream s;
    crilog_stream_init(&s, "stdout");
    char *b = filled(CRILOG_MAX_LINE + 1, 'x');
    b[CRILOG_MAX_LINE + 1] = '\n';
    crilog_feed(&s, b, CRILOG_MAX_LINE + 2, &T, sink, &o);
    size_t lens[] = {CRILOG_MAX_LINE, 1};
    expect_pieces(&o, "PF", lens);
    free(b);
    free(o.buf);
}

static void test_16k_then_crlf_split(void **state)
{
    (void)state;
    /* containerd never puts the '\r' of "\r\n" in a P record */
    struct out o = {0};
    struct crilog_stream s;
    crilog_stream_init(&s, "stdout");
    char *b = filled(CRILOG_MAX_LINE, 'x');
    crilog_feed(&s, b, CRILOG_MAX_LINE, &T, sink, &o);
    crilog_feed(&s, "\r", 1, &T, sink, &o);
    assert_int_equal(o.records, 0);
    crilog_feed(&s, "\n", 1, &T, sink, &o);
    size_t lens[] = {CRILOG_MAX_LINE};
    expect_pieces(&o, "F", lens);
    /* a lone '\r' after a full record is content */
    free(o.buf);
    o = (struct out){0};
    crilog_feed(&s, b, CRILOG_MAX_LINE, &T, sink, &o);
    crilog_feed(&s, "\ry\n", 3, &T, sink, &o);
    size_t lens2[] = {CRILOG_MAX_LINE, 2};
    expect_pieces(&o, "PF", lens2);
    free(b);
    free(o.buf);
}

static void test_40k_without_newline(void **state)
{
    (void)state;
    struct out o = {0};
    struct crilog_stream s;
    crilog_stream_init(&s, "stdout");
    char *b = filled(40 * 1024, 'a');
    /* in odd-sized pieces, as reads deliver it */
    size_t off = 0, step = 3000;
    while (off < 40 * 1024) {
        size_t n = 40 * 1024 - off < step ? 40 * 1024 - off : step;
        crilog_feed(&s, b + off, n, &T, sink, &o);
        off += n;
    }
    assert_int_equal(o.records, 2);
    crilog_flush(&s, &T, sink, &o);
    size_t lens[] = {CRILOG_MAX_LINE, CRILOG_MAX_LINE, 8 * 1024};
    expect_pieces(&o, "PPP", lens);
    free(b);
    free(o.buf);
}

static void test_long_line_with_newline(void **state)
{
    (void)state;
    struct out o = {0};
    struct crilog_stream s;
    crilog_stream_init(&s, "stdout");
    size_t n = 2 * CRILOG_MAX_LINE + 100;
    char *b = filled(n, 'q');
    b[n] = '\n';
    crilog_feed(&s, b, 10, &T, sink, &o);
    crilog_feed(&s, b + 10, n + 1 - 10, &T, sink, &o);
    size_t lens[] = {CRILOG_MAX_LINE, CRILOG_MAX_LINE, 100};
    expect_pieces(&o, "PPF", lens);
    /* content is intact */
    assert_int_equal(strstr(o.buf, " P ")[3], 'q');
    free(b);
    free(o.buf);
}

static void test_stdout_stderr_interleaved(void **state)
{
    (void)state;
    struct out o = {0};
    struct crilog_stream out, err;
    crilog_stream_init(&out, "stdout");
    crilog_stream_init(&err, "stderr");
    crilog_feed(&out, "o1 part", 7, &T, sink, &o);
    crilog_feed(&err, "e1\ne2 part", 10, &T, sink, &o);
    crilog_feed(&out, "ial\n", 4, &T, sink, &o);
    crilog_feed(&err, "ial\n", 4, &T, sink, &o);
    assert_string_equal(o.buf, TS " stderr F e1\n" TS " stdout F o1 partial\n" TS
                                  " stderr F e2 partial\n");
    crilog_stream_free(&out);
    crilog_stream_free(&err);
    free(o.buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timestamp),
        cmocka_unit_test(test_simple_lines),
        cmocka_unit_test(test_partial_across_feeds_and_eof),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test(test_exact_16k_line_is_one_record),
        cmocka_unit_test(test_16k_plus_one),
        cmocka_unit_test(test_16k_then_crlf_split),
        cmocka_unit_test(test_40k_without_newline),
        cmocka_unit_test(test_long_line_with_newline),
        cmocka_unit_test(test_stdout_stderr_interleaved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
