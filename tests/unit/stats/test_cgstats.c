#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "helpers.h"
#include "stats/cgstats.h"

static const char *v1_memory_stat = "cache 1000\nrss 2000\ninactive_file 10\n"
                                    "total_cache 8388608\ntotal_rss 52428800\n"
                                    "total_inactive_file 4194304\ntotal_pgfault 1234\n"
                                    "total_pgmajfault 7\n";

static void v1_tree(void **state)
{
    (void)state;
    char *root = tmpdir();
    char cpu[1024], mem[1024], pids[1024], m[4096], c[4096], p[4096];
    snprintf(cpu, sizeof(cpu), "%s/cpu,cpuacct", root);
    snprintf(mem, sizeof(mem), "%s/memory", root);
    snprintf(pids, sizeof(pids), "%s/pids", root);
    snprintf(c, sizeof(c), "%s/kubepods/pod1/ctr", cpu);
    snprintf(m, sizeof(m), "%s/kubepods/pod1/ctr", mem);
    snprintf(p, sizeof(p), "%s/kubepods/pod1/ctr", pids);
    mkdirs(c);
    mkdirs(m);
    mkdirs(p);
    put(c, "cpuacct.usage", "123456789\n");
    put(m, "memory.usage_in_bytes", "67108864\n");
    put(m, "memory.limit_in_bytes", "104857600\n");
    put(m, "memory.stat", v1_memory_stat);
    put(m, "memory.memsw.usage_in_bytes", "68157440\n");
    put(m, "memory.memsw.limit_in_bytes", "9223372036854771712\n");
    put(p, "pids.current", "3\n");

    char *mounts[] = {cpu, mem, pids, "/nonexistent/systemd"};
    char *ctrls[] = {"cpu,cpuacct", "memory", "pids", "name=systemd"};
    stats_cg_layout l;
    cric_err err = {0};
    assert_int_equal(stats_cg_layout_init(&l, mounts, ctrls, 4, NULL, &err), 0);
    assert_string_equal(stats_cg_layout_name(&l), "v1");
    stats_cg_sample s;
    assert_int_equal(stats_cg_read(&l, "kubepods/pod1/ctr", &s, &err), 0);
    assert_true(s.has_cpu);
    assert_int_equal(s.cpu_usage_ns, 123456789);
    assert_true(s.has_memory);
    assert_int_equal(s.mem_usage, 67108864);
    assert_int_equal(s.mem_limit, 104857600);
    assert_int_equal(s.mem_working_set, 67108864 - 4194304);
    assert_int_equal(s.mem_rss, 52428800);
    assert_int_equal(s.page_faults, 1234);
    assert_int_equal(s.major_page_faults, 7);
    assert_true(s.has_swap);
    assert_int_equal(s.swap_usage, 68157440 - 67108864);
    assert_int_equal(s.swap_limit, STATS_NO_LIMIT);
    assert_true(s.has_pids);
    assert_int_equal(s.pids, 3);
    assert_true(s.timestamp_ns > 0);

    /* The v1 "unlimited" value is no limit; inactive above usage clamps to 0. */
    put(m, "memory.limit_in_bytes", "9223372036854771712\n");
    put(m, "memory.usage_in_bytes", "1000\n");
    assert_int_equal(stats_cg_read(&l, "kubepods/pod1/ctr", &s, &err), 0);
    assert_int_equal(s.mem_limit, STATS_NO_LIMIT);
    assert_int_equal(s.mem_working_set, 0);

    /* Missing everywhere: NOT_FOUND; hostile paths: INVALID. */
    assert_int_equal(stats_cg_read(&l, "kubepods/nope", &s, &err), -1);
    assert_int_equal(err.kind, CRIC_ERR_NOT_FOUND);
    assert_int_equal(stats_cg_read(&l, "../etc", &s, &err), -1);
    assert_int_equal(err.kind, CRIC_ERR_INVALID);
    assert_int_equal(stats_cg_read(&l, "/abs", &s, &err), -1);
    assert_int_equal(err.kind, CRIC_ERR_INVALID);
    stats_cg_layout_free(&l);
    rmtree(root);
    free(root);
}

static void v2_tree(void **state)
{
    (void)state;
    char *root = tmpdir();
    char d[4096];
    snprintf(d, sizeof(d), "%s/kubepods/pod2/ctr", root);
    mkdirs(d);
    put(d, "cpu.stat", "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n");
    put(d, "memory.current", "20971520\n");
    put(d, "memory.max", "max\n");
    put(d, "memory.stat",
        "anon 10485760\nanon_thp 0\nfile 8388608\ninactive_anon 0\nactive_anon 10485760\n"
        "inactive_file 2097152\nactive_file 6291456\npgfault 4321\npgmajfault 12\n");
    put(d, "memory.swap.current", "4096\n");
    put(d, "memory.swap.max", "1048576\n");
    put(d, "pids.current", "5\n");

    stats_cg_layout l;
    cric_err err = {0};
    assert_int_equal(stats_cg_layout_init(&l, NULL, NULL, 0, root, &err), 0);
    assert_string_equal(stats_cg_layout_name(&l), "v2");
    stats_cg_sample s;
    assert_int_equal(stats_cg_read(&l, "kubepods/pod2/ctr", &s, &err), 0);
    assert_true(s.has_cpu);
    assert_int_equal(s.cpu_usage_ns, 2500000000ull);
    assert_true(s.has_memory);
    assert_int_equal(s.mem_usage, 20971520);
    assert_int_equal(s.mem_limit, STATS_NO_LIMIT);
    assert_int_equal(s.mem_working_set, 20971520 - 2097152);
    assert_int_equal(s.mem_rss, 10485760);
    assert_int_equal(s.page_faults, 4321);
    assert_int_equal(s.major_page_faults, 12);
    assert_true(s.has_swap);
    assert_int_equal(s.swap_usage, 4096);
    assert_int_equal(s.swap_limit, 1048576);
    assert_int_equal(s.pids, 5);
    stats_cg_layout_free(&l);
    rmtree(root);
    free(root);
}

/* Hybrid: v1 controllers win; v2 (hugetlb only here) supplies nothing else. */
static void hybrid_tree(void **state)
{
    (void)state;
    char *root = tmpdir();
    char cpu[1024], unified[1024], c[4096], u[4096];
    snprintf(cpu, sizeof(cpu), "%s/cpuacct", root);
    snprintf(unified, sizeof(unified), "%s/unified", root);
    snprintf(c, sizeof(c), "%s/pod3", cpu);
    snprintf(u, sizeof(u), "%s/pod3", unified);
    mkdirs(c);
    mkdirs(u);
    put(c, "cpuacct.usage", "42\n");
    put(u, "cpu.stat", "usage_usec 999\n");
    char *mounts[] = {cpu};
    char *ctrls[] = {"cpuacct"};
    stats_cg_layout l;
    cric_err err = {0};
    assert_int_equal(stats_cg_layout_init(&l, mounts, ctrls, 1, unified, &err), 0);
    assert_string_equal(stats_cg_layout_name(&l), "hybrid");
    stats_cg_sample s;
    assert_int_equal(stats_cg_read(&l, "pod3", &s, &err), 0);
    assert_int_equal(s.cpu_usage_ns, 42);
    assert_false(s.has_memory); /* no memory.current in the v2 tree */
    stats_cg_layout_free(&l);
    rmtree(root);
    free(root);
}

static void kv_parse(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_int_equal(stats_kv_get("anon_thp 5\nanon 7\n", "anon", &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(stats_kv_get("total_inactive_file 3\ninactive_file 9", "inactive_file", &v),
                     0);
    assert_int_equal(v, 9);
    assert_int_equal(stats_kv_get("a 1\n", "b", &v), -1);
    assert_int_equal(stats_kv_get("a x\n", "a", &v), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(v1_tree),
        cmocka_unit_test(v2_tree),
        cmocka_unit_test(hybrid_tree),
        cmocka_unit_test(kv_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
