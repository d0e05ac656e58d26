#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "pod/etcfiles.h"

static void resolv_full(void **state)
{
    (void)state;
    const char *servers[] = {"10.96.0.10", "fd00::a"};
    const char *searches[] = {"default.svc.cluster.local", "svc.cluster.local"};
    const char *options[] = {"ndots:5", "edns0"};
    char *out = NULL;
    cric_err err = {0};
    assert_int_equal(etc_resolv_conf(servers, 2, searches, 2, options, 2, &out, &err), 0);
    assert_string_equal(out, "nameserver 10.96.0.10\nnameserver fd00::a\n"
                             "search default.svc.cluster.local svc.cluster.local\n"
                             "options ndots:5 edns0\n");
    free(out);
}

static void resolv_partial_and_empty(void **state)
{
    (void)state;
    const char *options[] = {"ndots:2"};
    char *out = NULL;
    cric_err err = {0};
    assert_int_equal(etc_resolv_conf(NULL, 0, NULL, 0, options, 1, &out, &err), 0);
    assert_string_equal(out, "options ndots:2\n");
    free(out);
    assert_int_equal(etc_resolv_conf(NULL, 0, NULL, 0, NULL, 0, &out, &err), 0);
    assert_string_equal(out, "");
    free(out);
}

static void resolv_rejects_bad_input(void **state)
{
    (void)state;
    char *out = NULL;
    cric_err err = {0};
    const char *bad_server[] = {"10.0.0.1\nnameserver 6.6.6.6"};
    assert_int_equal(etc_resolv_conf(bad_server, 1, NULL, 0, NULL, 0, &out, &err), -1);
    assert_int_equal(err.kind, CRIC_ERR_INVALID);
    const char *bad_search[] = {"a b"};
    assert_int_equal(etc_resolv_conf(NULL, 0, bad_search, 1, NULL, 0, &out, &err), -1);
    const char *bad_opt[] = {"ndots:5\nnameserver 1.1.1.1"};
    assert_int_equal(etc_resolv_conf(NULL, 0, NULL, 0, bad_opt, 1, &out, &err), -1);
    const char *many[ETC_MAX_DNS_SERVERS + 1];
    for (size_t i = 0; i < ETC_MAX_DNS_SERVERS + 1; i++)
        many[i] = "1.1.1.1";
    assert_int_equal(etc_resolv_conf(many, ETC_MAX_DNS_SERVERS + 1, NULL, 0, NULL, 0, &out, &err),
                     -1);
}

static void hosts_with_and_without_ip(void **state)
{
    (void)state;
    char *out = NULL;
    cric_err err = {0};
    assert_int_equal(etc_hosts("10.231.0.5", "web-0", &out, &err), 0);
    assert_non_null(strstr(out, "127.0.0.1\tlocalhost\n"));
    assert_non_null(strstr(out, "::1\tlocalhost ip6-localhost ip6-loopback\n"));
    const char *tail = "10.231.0.5\tweb-0\n";
    assert_string_equal(out + strlen(out) - strlen(tail), tail);
    free(out);
    assert_int_equal(etc_hosts("", "web-0", &out, &err), 0);
    assert_null(strstr(out, "web-0"));
    free(out);
}

static void hostnames(void **state)
{
    (void)state;
    cric_err err = {0};
    assert_int_equal(etc_hostname_valid("web-0.example", &err), 0);
    assert_int_equal(etc_hostname_valid("", &err), -1);
    assert_int_equal(etc_hostname_valid("a/b", &err), -1);
    assert_int_equal(etc_hostname_valid("with space", &err), -1);
    assert_int_equal(etc_hostname_valid(".", &err), -1);
    assert_int_equal(etc_hostname_valid("..", &err), -1);
    assert_int_equal(etc_hostname_valid("a..b", &err), -1);
    assert_int_equal(etc_hostname_valid(".a", &err), -1);
    assert_int_equal(etc_hostname_valid("a.", &err), -1);
    assert_int_equal(etc_hostname_valid("-a", &err), -1);
    assert_int_equal(etc_hostname_valid("a-.b", &err), -1);
    assert_int_equal(etc_hostname_valid("a", &err), 0);
    assert_int_equal(etc_hostname_valid("a-b.c-d.e", &err), 0);
    char longname[80];
    memset(longname, 'a', 65);
    longname[65] = '\0';
    assert_int_equal(etc_hostname_valid(longname, &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resolv_full),
        cmocka_unit_test(resolv_partial_and_empty),
        cmocka_unit_test(resolv_rejects_bad_input),
        cmocka_unit_test(hosts_with_and_without_ip),
        cmocka_unit_test(hostnames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
