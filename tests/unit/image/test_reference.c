#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "image/reference.h"

#define DG "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void check(const char *in, const char *domain, const char *path, const char *tag,
                  const char *digest)
{
    image_ref r;
    cric_err err = {0};
    int rc = ref_parse(in, &r, &err);
    if (rc != 0)
        fail_msg("%s: %s", in, err.msg);
    assert_string_equal(r.domain, domain);
    assert_string_equal(r.path, path);
    assert_string_equal(r.tag, tag);
    assert_string_equal(r.digest, digest);
}

static void bad(const char *in, const char *needle)
{
    image_ref r;
    cric_err err = {0};
    if (ref_parse(in, &r, &err) == 0)
        fail_msg("%s parsed", in);
    assert_int_equal(err.kind, CRIC_ERR_INVALID);
    if (needle && !strstr(err.msg, needle))
        fail_msg("%s: message \"%s\" lacks \"%s\"", in, err.msg, needle);
}

static void normalises_docker_hub(void **state)
{
    (void)state;
    check("busybox", "docker.io", "library/busybox", "latest", "");
    check("busybox:1.28", "docker.io", "library/busybox", "1.28", "");
    check("docker.io/busybox", "docker.io", "library/busybox", "latest", "");
    check("index.docker.io/library/busybox:1", "docker.io", "library/busybox", "1", "");
    check("user/app", "docker.io", "user/app", "latest", "");
    check("library/busybox@" DG, "docker.io", "library/busybox", "", DG);
}

static void other_registries(void **state)
{
    (void)state;
    check("registry.k8s.io/pause:3.9", "registry.k8s.io", "pause", "3.9", "");
    check("localhost/app", "localhost", "app", "latest", "");
    check("localhost:5000/a/b/c:v1", "localhost:5000", "a/b/c", "v1", "");
    check("127.0.0.1:5000/x@" DG, "127.0.0.1:5000", "x", "", DG);
    check("gcr.io/x/y:t@" DG, "gcr.io", "x/y", "t", DG);
    check("[::1]:5000/x", "[::1]:5000", "x", "latest", "");
    check("Host/x", "Host", "x", "latest", "");
    check("a/b-c__d.e_f/g---h:T_a.g-1", "docker.io", "a/b-c__d.e_f/g---h", "T_a.g-1", "");
}

static void rejects_malformed(void **state)
{
    (void)state;
    bad("", "empty");
    bad("Busybox", "lowercase");
    bad("docker.io/Library/busybox", "lowercase");
    bad("busybox:", "tag");
    bad("busybox:-x", "tag");
    bad("busybox@sha256:abc", "sha256");
    bad("busybox@md5:0123", "unsupported digest");
    bad("busybox@" DG "@" DG, "'@'");
    bad("a//b", "component");
    bad("a/b_", "component");
    bad("-a", "component");
    bad("a..b", "component");
    bad("host:port/x", "registry host");
    bad("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "image id");
    char longtag[200];
    memset(longtag, 'a', sizeof(longtag));
    memcpy(longtag, "x:", 2);
    longtag[199] = '\0';
    bad(longtag, "tag");
    char longname[300];
    memset(longname, 'a', sizeof(longname));
    longname[299] = '\0';
    bad(longname, NULL);
}

static void formats(void **state)
{
    (void)state;
    image_ref r;
    assert_int_equal(ref_parse("busybox", &r, NULL), 0);
    char buf[600];
    assert_int_equal(ref_tagged(&r, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "docker.io/library/busybox:latest");
    assert_int_equal(ref_with_digest(&r, DG, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "docker.io/library/busybox@" DG);
    assert_int_equal(ref_repo(&r, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "docker.io/library/busybox");
    assert_int_equal(ref_tagged(&r, buf, 10), -1);
    assert_true(digest_is_valid(DG));
    assert_false(digest_is_valid("sha256:0123"));
    assert_false(digest_is_valid(DG "0"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(normalises_docker_hub),
        cmocka_unit_test(other_registries),
        cmocka_unit_test(rejects_malformed),
        cmocka_unit_test(formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
