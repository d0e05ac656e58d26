/* Base64 and SHA-1 against the RFC 4648 / FIPS 180 test vectors and the
 * WebSocket handshake example of RFC 6455. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/b64.h"

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void base64_vectors(void **state)
{
    (void)state;
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char out[16];
        assert_int_equal(b64_encode((const uint8_t *)plain[i], strlen(plain[i]), out),
                         strlen(enc[i]));
        assert_string_equal(out, enc[i]);
        uint8_t dec[16];
        long n = b64_decode(enc[i], strlen(enc[i]), dec);
        assert_int_equal(n, (long)strlen(plain[i]));
        assert_memory_equal(dec, plain[i], (size_t)n);
    }
    uint8_t dec[16];
    const char *bad[] = {"Zg=", "Z===", "Zg=a", "Zm9v!A==", "=Zm9", "Zg==Zg=="};
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(b64_decode(bad[i], strlen(bad[i]), dec), -1);
}

static void sha1_vectors(void **state)
{
    (void)state;
    uint8_t d[SHA1_LEN];
    char h[41];
    sha1("abc", 3, d);
    hex(d, SHA1_LEN, h);
    assert_string_equal(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
    sha1("", 0, d);
    hex(d, SHA1_LEN, h);
    assert_string_equal(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"; /* 56 bytes */
    sha1(m, strlen(m), d);
    hex(d, SHA1_LEN, h);
    assert_string_equal(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    char *a = malloc(1000000);
    memset(a, 'a', 1000000);
    sha1(a, 1000000, d);
    free(a);
    hex(d, SHA1_LEN, h);
    assert_string_equal(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

static void websocket_accept(void **state)
{
    (void)state;
    const char *in = "dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    uint8_t d[SHA1_LEN];
    sha1(in, strlen(in), d);
    char out[32];
    b64_encode(d, SHA1_LEN, out);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(base64_vectors),
        cmocka_unit_test(sha1_vectors),
        cmocka_unit_test(websocket_accept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
