#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "pod/cni.h"

static void free_ips(char **ips, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ips[i]);
    free(ips);
}

static void parse(const char *text, char ***ips, size_t *n, int want_rc)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    cric_err err = {0};
    assert_int_equal(cni_result_ips(j, ips, n, &err), want_rc);
    json_decref(j);
}

/* What Debian's bridge plugin returns for 0.4.0: the bridge, the host veth
 * and the pod's eth0; only eth0's address is the pod's. */
static void result_040(void **state)
{
    (void)state;
    char **ips;
    size_t n;
    parse("{\"cniVersion\":\"0.4.0\",\"interfaces\":[{\"name\":\"cric-t0\",\"mac\":\"aa\"},"
          "{\"name\":\"veth1\",\"mac\":\"bb\"},{\"name\":\"eth0\",\"mac\":\"cc\",\"sandbox\":"
          "\"/run/x/ns/net\"}],\"ips\":[{\"version\":\"4\",\"interface\":2,\"address\":"
          "\"10.231.0.7/16\",\"gateway\":\"10.231.0.1\"}],\"routes\":[{\"dst\":\"0.0.0.0/0\"}],"
          "\"dns\":{}}",
          &ips, &n, 0);
    assert_int_equal(n, 1);
    assert_string_equal(ips[0], "10.231.0.7");
    free_ips(ips, n);
}

/* 1.0.0, dual stack with the IPv6 address listed first: IPv4 comes first. */
static void result_100_dual_stack(void **state)
{
    (void)state;
    char **ips;
    size_t n;
    parse("{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\",\"sandbox\":\"/x\"}],"
          "\"ips\":[{\"interface\":0,\"address\":\"fd00:231::5/64\"},{\"interface\":0,"
          "\"address\":\"10.231.0.5/16\"},{\"interface\":0,\"address\":\"10.231.0.5/16\"}]}",
          &ips, &n, 0);
    assert_int_equal(n, 2);
    assert_string_equal(ips[0], "10.231.0.5");
    assert_string_equal(ips[1], "fd00:231::5");
    free_ips(ips, n);
}

static void result_without_interfaces_and_legacy(void **state)
{
    (void)state;
    char **ips;
    size_t n;
    parse("{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"192.168.9.2/24\"}]}", &ips, &n, 0);
    assert_int_equal(n, 1);
    assert_string_equal(ips[0], "192.168.9.2");
    free_ips(ips, n);
    parse("{\"cniVersion\":\"0.2.0\",\"ip4\":{\"ip\":\"10.1.0.3/16\"}}", &ips, &n, 0);
    assert_int_equal(n, 1);
    assert_string_equal(ips[0], "10.1.0.3");
    free_ips(ips, n);
    parse("{\"cniVersion\":\"1.0.0\"}", &ips, &n, 0);
    assert_int_equal(n, 0);
    free_ips(ips, n);
}

static void result_malformed(void **state)
{
    (void)state;
    char **ips;
    size_t n;
    parse("{\"ips\":[{\"address\":\"not-an-ip/8\"}]}", &ips, &n, -1);
    parse("{\"ips\":[{\"gateway\":\"10.0.0.1\"}]}", &ips, &n, -1);
    parse("{\"ips\":{}}", &ips, &n, -1);
    parse("{\"interfaces\":[],\"ips\":[{\"interface\":3,\"address\":\"10.0.0.2/8\"}]}", &ips, &n,
          -1);
}

static void plugin_config(void **state)
{
    (void)state;
    json_t *list = json_loads(
        "{\"cniVersion\":\"1.0.0\",\"name\":\"net\",\"plugins\":[{\"type\":\"bridge\"},"
        "{\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true,\"bandwidth\":false}}]}",
        0, NULL);
    json_t *rc = json_loads("{\"portMappings\":[{\"hostPort\":8080}],\"bandwidth\":{}}", 0, NULL);
    json_t *prev = json_loads("{\"cniVersion\":\"1.0.0\",\"ips\":[]}", 0, NULL);
    json_t *c0 = cni_plugin_config(list, 0, NULL, rc);
    assert_string_equal(json_string_value(json_object_get(c0, "name")), "net");
    assert_string_equal(json_string_value(json_object_get(c0, "cniVersion")), "1.0.0");
    assert_null(json_object_get(c0, "prevResult"));
    assert_null(json_object_get(c0, "runtimeConfig"));
    json_t *c1 = cni_plugin_config(list, 1, prev, rc);
    assert_non_null(json_object_get(c1, "prevResult"));
    json_t *rt = json_object_get(c1, "runtimeConfig");
    assert_non_null(json_object_get(rt, "portMappings"));
    assert_null(json_object_get(rt, "bandwidth"));
    json_decref(c0);
    json_decref(c1);
    json_decref(list);
    json_decref(rc);
    json_decref(prev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(result_040),
        cmocka_unit_test(result_100_dual_stack),
        cmocka_unit_test(result_without_interfaces_and_legacy),
        cmocka_unit_test(result_malformed),
        cmocka_unit_test(plugin_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
