#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "pod/record.h"

/* The database document round-trips every field containers rely on. */
static void roundtrip(void **state)
{
    (void)state;
    char *lk[] = {"app"}, *lv[] = {"web"}, *sk[] = {"net.ipv4.ip_forward"}, *sv[] = {"1"};
    char *ips[] = {"10.231.0.9", "fd00::9"};
    int64_t groups[] = {5, 6};
    pod_info p = {.name = "web-0",
                  .namespace_ = "ns",
                  .uid = "u-1",
                  .attempt = 3,
                  .ready = true,
                  .created_at = 1700000000123456789,
                  .runtime_handler = "runc",
                  .net_mode = POD_NS_POD,
                  .ipc_mode = POD_NS_NODE,
                  .pid_mode = POD_NS_POD,
                  .target_id = "",
                  .netns_path = "/run/x/ns/net",
                  .ipcns_path = "",
                  .utsns_path = "/run/x/ns/uts",
                  .pidns_path = "/run/x/ns/pid",
                  .infra_pid = 4242,
                  .hostname = "web-0",
                  .hostname_path = "/run/x/hostname",
                  .hosts_path = "/run/x/hosts",
                  .resolv_path = "/run/x/resolv.conf",
                  .shm_path = "",
                  .cgroup_parent = "/kubepods/pod1",
                  .log_directory = "/var/log/pods/x",
                  .sandbox_dir = "/run/x",
                  .sysctl_keys = sk,
                  .sysctl_values = sv,
                  .n_sysctls = 1,
                  .label_keys = lk,
                  .label_values = lv,
                  .n_labels = 1,
                  .annotation_keys = NULL,
                  .annotation_values = NULL,
                  .n_annotations = 0,
                  .ips = ips,
                  .n_ips = 2,
                  .privileged = true,
                  .has_run_as_user = true,
                  .run_as_user = 1000,
                  .supplemental_groups = groups,
                  .n_supplemental_groups = 2,
                  .seccomp_type = POD_SECCOMP_LOCALHOST,
                  .seccomp_ref = "/profiles/x.json"};
    memset(p.id, 'a', 64);
    p.id[64] = '\0';
    pod_info *c = pod_info_dup(&p);
    assert_non_null(c);
    assert_string_equal(c->id, p.id);
    assert_string_equal(c->name, "web-0");
    assert_int_equal(c->attempt, 3);
    assert_true(c->ready);
    assert_false(c->removing);
    assert_true(c->created_at == p.created_at);
    assert_int_equal(c->ipc_mode, POD_NS_NODE);
    assert_string_equal(c->pidns_path, "/run/x/ns/pid");
    assert_int_equal(c->infra_pid, 4242);
    assert_string_equal(c->sysctl_keys[0], "net.ipv4.ip_forward");
    assert_string_equal(c->label_values[0], "web");
    assert_int_equal(c->n_annotations, 0);
    assert_int_equal(c->n_ips, 2);
    p.removing = true; /* the removal mark survives a round trip */
    pod_info *m = pod_info_dup(&p);
    assert_non_null(m);
    assert_true(m->removing);
    pod_info_free(m);
    assert_string_equal(c->ips[1], "fd00::9");
    assert_true(c->privileged && c->has_run_as_user && !c->has_run_as_group);
    assert_true(c->run_as_user == 1000);
    assert_int_equal(c->n_supplemental_groups, 2);
    assert_true(c->supplemental_groups[1] == 6);
    assert_string_equal(c->seccomp_ref, "/profiles/x.json");
    pod_info_free(c);
}

static void rejects_bad_documents(void **state)
{
    (void)state;
    json_t *j = json_pack("{s:s}", "id", "../../etc");
    assert_null(record_from_json(j));
    json_decref(j);
    assert_null(record_from_json(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(roundtrip),
        cmocka_unit_test(rejects_bad_documents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
