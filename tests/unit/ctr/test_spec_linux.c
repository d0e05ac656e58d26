/* Spec generator: mounts, image volumes, devices, namespaces, cgroupsPath,
 * resources, sysctls. */
#include <sys/sysmacros.h>

#include "spec_fixture.h"

#include "ctr/spec_internal.h"

static void default_and_sandbox_mounts(void **state)
{
    fx *f = *state;
    fx_build_ok(f);
    const char *defaults[] = {"/proc", "/dev", "/dev/pts", "/dev/mqueue", "/sys", "/sys/fs/cgroup"};
    for (size_t i = 0; i < ARRAY_LEN(defaults); i++)
        assert_non_null(jmount(f->spec, defaults[i]));
    assert_true(jhas(jmount(f->spec, "/sys"), "options", "ro"));
    assert_true(jhas(jmount(f->spec, "/sys/fs/cgroup"), "options", "ro"));
    assert_string_equal(jstr(jmount(f->spec, "/sys/fs/cgroup"), "type"), "cgroup");
    assert_string_equal(jstr(jmount(f->spec, "/dev"), "type"), "tmpfs");
    /* the sandbox's files and shm replace the default tmpfs /dev/shm */
    assert_int_equal(jmount_count(f->spec, "/dev/shm"), 1);
    assert_string_equal(jstr(jmount(f->spec, "/dev/shm"), "source"), "/run/cric/sb/shm");
    assert_string_equal(jstr(jmount(f->spec, "/etc/hosts"), "source"), "/run/cric/sb/hosts");
    assert_string_equal(jstr(jmount(f->spec, "/etc/hostname"), "source"), "/run/cric/sb/hostname");
    json_t *rc = jmount(f->spec, "/etc/resolv.conf");
    assert_string_equal(jstr(rc, "source"), "/run/cric/sb/resolv.conf");
    assert_string_equal(jstr(rc, "type"), "bind");
    assert_true(jhas(rc, "options", "rbind"));
    assert_true(jhas(rc, "options", "rprivate"));
    assert_true(jhas(rc, "options", "rw"));
    /* readonly rootfs: the etc files are read-only too, shm stays writable */
    f->sc.readonly_rootfs = true;
    fx_build_ok(f);
    assert_true(jhas(jmount(f->spec, "/etc/hosts"), "options", "ro"));
    assert_true(jhas(jmount(f->spec, "/dev/shm"), "options", "rw"));
    /* host IPC: the host's /dev/shm; missing sandbox files are not mounted */
    f->sb.shm_path = "";
    f->sb.hostname_path = "";
    fx_build_ok(f);
    assert_string_equal(jstr(jmount(f->spec, "/dev/shm"), "source"), "/dev/shm");
    assert_null(jmount(f->spec, "/etc/hostname"));
    assert_null(jget(f->spec, "linux.rootfsPropagation"));
}

static void cri_mounts(void **state)
{
    fx *f = *state;
    char existing[256], missing[256], link[256];
    snprintf(existing, sizeof(existing), "%s/data", f->dir);
    mkdir(existing, 0755);
    snprintf(missing, sizeof(missing), "%s/not/yet", f->dir);
    snprintf(link, sizeof(link), "%s/datalink", f->dir);
    assert_int_equal(symlink(existing, link), 0);
    Runtime__V1__Mount m1 = RUNTIME__V1__MOUNT__INIT, m2 = RUNTIME__V1__MOUNT__INIT,
                       m3 = RUNTIME__V1__MOUNT__INIT, m4 = RUNTIME__V1__MOUNT__INIT;
    m1.container_path = "/data/sub";
    m1.host_path = link;
    m1.readonly = true;
    m1.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER;
    m2.container_path = "/data";
    m2.host_path = missing;
    m3.container_path = "/etc/hosts"; /* replaces the sandbox's */
    m3.host_path = existing;
    m4.container_path = "/dev/termination-log";
    m4.host_path = existing;
    char *opts[] = {"noexec", "nosuid"};
    m4.mount_options = opts;
    m4.n_mount_options = 2;
    Runtime__V1__Mount *ms[] = {&m1, &m2, &m3, &m4};
    f->cfg.mounts = ms;
    f->cfg.n_mounts = 4;
    /* the sources' mount as shared: a fake mountinfo */
    char mi[256], line[512];
    snprintf(mi, sizeof(mi), "%s/mountinfo", f->dir);
    snprintf(line, sizeof(line),
             "1 0 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
             "2 1 0:5 / %s rw shared:7 - tmpfs tmpfs rw\n",
             f->dir);
    fx_write(mi, line);
    f->in.mountinfo_path = mi;
    fx_build_ok(f);
    json_t *j1 = jmount(f->spec, "/data/sub");
    assert_string_equal(jstr(j1, "source"), existing); /* symlink followed */
    assert_true(jhas(j1, "options", "rslave"));
    assert_true(jhas(j1, "options", "ro"));
    assert_string_equal(jstr(f->spec, "linux.rootfsPropagation"), "rslave");
    json_t *j2 = jmount(f->spec, "/data");
    assert_string_equal(jstr(j2, "source"), missing);
    assert_true(jhas(j2, "options", "rprivate"));
    assert_true(jhas(j2, "options", "rw"));
    /* the missing host path is reported for creation */
    assert_int_equal(f->extra.n_mkdirs, 1);
    assert_string_equal(f->extra.mkdirs[0].path, missing);
    assert_false(f->extra.mkdirs[0].in_rootfs);
    assert_int_equal(jmount_count(f->spec, "/etc/hosts"), 1);
    assert_string_equal(jstr(jmount(f->spec, "/etc/hosts"), "source"), existing);
    assert_true(jhas(jmount(f->spec, "/dev/termination-log"), "options", "noexec"));
    /* parents before children: /data comes before /data/sub */
    json_t *mounts = json_object_get(f->spec, "mounts");
    size_t i, pd = 99, ps = 99;
    json_t *m;
    json_array_foreach(mounts, i, m)
    {
        const char *d = json_string_value(json_object_get(m, "destination"));
        if (strcmp(d, "/data") == 0)
            pd = i;
        if (strcmp(d, "/data/sub") == 0)
            ps = i;
    }
    assert_true(pd < ps);
    /* bidirectional: rshared everywhere */
    m2.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL;
    fx_build_ok(f);
    assert_true(jhas(jmount(f->spec, "/data"), "options", "rshared"));
    assert_string_equal(jstr(f->spec, "linux.rootfsPropagation"), "rshared");
    /* a slave source is enough for host-to-container, not for bidirectional;
     * a private one for neither */
    snprintf(line, sizeof(line),
             "1 0 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
             "2 1 0:5 / %s rw master:7 - tmpfs tmpfs rw\n",
             f->dir);
    fx_write(mi, line);
    fx_build_fails(f, CRIC_ERR_INVALID);
    assert_non_null(strstr(f->err.msg, "not shared"));
    m2.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_PRIVATE;
    fx_build_ok(f);
    snprintf(line, sizeof(line),
             "1 0 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
             "2 1 0:5 / %s rw - tmpfs tmpfs rw\n",
             f->dir);
    fx_write(mi, line);
    fx_build_fails(f, CRIC_ERR_INVALID);
    m1.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_PRIVATE;
    fx_build_ok(f);
    /* a CRI /dev/shm replaces the sandbox's; a /dev mount removes the defaults under /dev */
    m3.container_path = "/dev";
    fx_build_ok(f);
    assert_int_equal(jmount_count(f->spec, "/dev"), 1);
    assert_string_equal(jstr(jmount(f->spec, "/dev"), "type"), "bind");
    assert_null(jmount(f->spec, "/dev/pts"));
    assert_null(jmount(f->spec, "/dev/mqueue"));
    /* invalid */
    m3.container_path = "relative";
    fx_build_fails(f, CRIC_ERR_INVALID);
    m3.container_path = "/a/..";
    fx_build_fails(f, CRIC_ERR_INVALID);
    m3.container_path = "/data"; /* duplicate */
    fx_build_fails(f, CRIC_ERR_INVALID);
    m3.container_path = "/x";
    m3.host_path = "";
    fx_build_fails(f, CRIC_ERR_INVALID);
    m3.host_path = existing;
    char *bad[] = {"suid,dev"};
    m3.mount_options = bad;
    m3.n_mount_options = 1;
    fx_build_fails(f, CRIC_ERR_INVALID);
    m3.n_mount_options = 0;
    m3.propagation = 7;
    fx_build_fails(f, CRIC_ERR_INVALID);
    m3.propagation = 0;
    m3.recursive_read_only = true;
    fx_build_fails(f, CRIC_ERR_UNIMPLEMENTED);
}

static void mountinfo_parse(void **state)
{
    fx *f = *state;
    char mi[256], mp[256];
    snprintf(mi, sizeof(mi), "%s/mountinfo", f->dir);
    fx_write(mi, "1 0 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n"
                 "2 1 0:5 / /a\\040b rw master:3 - tmpfs tmpfs rw\n"
                 "3 1 0:6 / /a rw - tmpfs tmpfs rw\n"
                 "4 3 0:7 / /a rw shared:9 master:2 - tmpfs tmpfs rw\n");
    int fl = -1;
    assert_int_equal(spec_mount_propagation(mi, "/a b/c", &fl, mp, sizeof(mp)), 0);
    assert_string_equal(mp, "/a b");
    assert_int_equal(fl, 2);
    assert_int_equal(spec_mount_propagation(mi, "/a", &fl, mp, sizeof(mp)), 0);
    assert_int_equal(fl, 3); /* the later mount on /a is on top */
    assert_int_equal(spec_mount_propagation(mi, "/ab", &fl, mp, sizeof(mp)), 0);
    assert_string_equal(mp, "/");
    assert_int_equal(fl, 1);
    assert_int_equal(spec_mount_propagation("/nonexistent", "/", &fl, mp, sizeof(mp)), -1);
}

static void image_volumes(void **state)
{
    fx *f = *state;
    json_object_set_new(f->image, "Volumes",
                        json_pack("{s:{}, s:{}, s:{}}", "/var/lib/data", "/cache/", "relative"));
    fx_build_ok(f);
    /* without a volumes dir: created inside the rootfs, no mount */
    assert_int_equal(f->extra.n_image_volumes, 2);
    assert_string_equal(f->extra.image_volumes[0], "/var/lib/data");
    assert_string_equal(f->extra.image_volumes[1], "/cache");
    assert_int_equal(f->extra.n_mkdirs, 2);
    assert_true(f->extra.mkdirs[0].in_rootfs);
    assert_string_equal(f->extra.mkdirs[0].path, "var/lib/data");
    assert_null(jmount(f->spec, "/var/lib/data"));
    /* with a volumes dir: one empty host dir each, bind-mounted rw */
    f->in.volumes_dir = "/var/lib/cric/containers/x/volumes";
    Runtime__V1__Mount m = RUNTIME__V1__MOUNT__INIT;
    m.container_path = "/cache";
    m.host_path = f->dir;
    Runtime__V1__Mount *ms[] = {&m};
    f->cfg.mounts = ms;
    f->cfg.n_mounts = 1;
    fx_build_ok(f);
    assert_int_equal(f->extra.n_image_volumes, 1); /* /cache comes from the CRI mount */
    json_t *v = jmount(f->spec, "/var/lib/data");
    assert_non_null(v);
    assert_string_equal(jstr(v, "source"), "/var/lib/cric/containers/x/volumes/0");
    assert_true(jhas(v, "options", "rw"));
    assert_int_equal(f->extra.n_mkdirs, 1);
    assert_false(f->extra.mkdirs[0].in_rootfs);
    assert_string_equal(jstr(jmount(f->spec, "/cache"), "source"), f->dir);
}

/* Image volume dirs are created inside the rootfs, through the image's own
 * symlinks but never outside the rootfs. */
static void create_dirs_in_rootfs(void **state)
{
    fx *f = *state;
    char p[512], outside[256];
    snprintf(p, sizeof(p), "%s/run", f->rootfs);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/var", f->rootfs);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/var/run", f->rootfs);
    assert_int_equal(symlink("../run", p), 0);
    snprintf(outside, sizeof(outside), "%s/outside", f->dir);
    mkdir(outside, 0755);
    snprintf(p, sizeof(p), "%s/escape", f->rootfs);
    assert_int_equal(symlink(outside, p), 0); /* absolute: means <rootfs><outside> */
    snprintf(p, sizeof(p), "%s/up", f->rootfs);
    assert_int_equal(symlink("../../..", p), 0);

    json_object_set_new(f->image, "Volumes",
                        json_pack("{s:{}, s:{}}", "/var/run/sock/dir", "/a/b"));
    fx_build_ok(f);
    cric_err e = {0};
    assert_int_equal(ctr_spec_create_dirs(&f->extra, f->rootfs, &e), 0);
    struct stat st;
    snprintf(p, sizeof(p), "%s/run/sock/dir", f->rootfs);
    assert_int_equal(stat(p, &st), 0);
    snprintf(p, sizeof(p), "%s/a/b", f->rootfs);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(ctr_spec_create_dirs(&f->extra, f->rootfs, &e), 0); /* idempotent */

    /* an absolute symlink resolves inside the rootfs: nothing appears outside */
    json_object_set_new(f->image, "Volumes", json_pack("{s:{}}", "/escape/vol"));
    fx_build_ok(f);
    (void)ctr_spec_create_dirs(&f->extra, f->rootfs, &e);
    snprintf(p, sizeof(p), "%s/vol", outside);
    assert_int_not_equal(stat(p, &st), 0);
    /* climbing out with .. stays at the rootfs's / */
    json_object_set_new(f->image, "Volumes", json_pack("{s:{}}", "/up/tmp/vol2"));
    fx_build_ok(f);
    assert_int_equal(ctr_spec_create_dirs(&f->extra, f->rootfs, &e), 0);
    snprintf(p, sizeof(p), "%s/tmp/vol2", f->rootfs);
    assert_int_equal(stat(p, &st), 0);
    assert_int_not_equal(stat("/tmp/vol2", &st), 0);
}

static void devices(void **state)
{
    fx *f = *state;
    fx_build_ok(f);
    assert_int_equal(json_array_size(jget(f->spec, "linux.devices")), 0);
    json_t *r0 = jget(f->spec, "linux.resources.devices.0");
    assert_false(json_is_true(json_object_get(r0, "allow")));
    assert_string_equal(jstr(r0, "access"), "rwm");
    Runtime__V1__Device d = RUNTIME__V1__DEVICE__INIT;
    d.host_path = "/dev/null";
    d.container_path = "/dev/mynull";
    d.permissions = "rw";
    Runtime__V1__Device *ds[] = {&d};
    f->cfg.devices = ds;
    f->cfg.n_devices = 1;
    fx_build_ok(f);
    json_t *dev = jget(f->spec, "linux.devices.0");
    assert_string_equal(jstr(dev, "path"), "/dev/mynull");
    assert_string_equal(jstr(dev, "type"), "c");
    assert_int_equal(jint(dev, "major"), 1);
    assert_int_equal(jint(dev, "minor"), 3);
    json_t *rule = jget(f->spec, "linux.resources.devices.1");
    assert_true(json_is_true(json_object_get(rule, "allow")));
    assert_string_equal(jstr(rule, "access"), "rw");
    assert_int_equal(jint(rule, "major"), 1);
    /* container path defaults to the host path; permissions to rwm */
    d.container_path = "";
    d.permissions = "";
    fx_build_ok(f);
    assert_string_equal(jstr(f->spec, "linux.devices.0.path"), "/dev/null");
    assert_string_equal(jstr(f->spec, "linux.resources.devices.1.access"), "rwm");
    d.permissions = "rwx";
    fx_build_fails(f, CRIC_ERR_INVALID);
    d.permissions = "r";
    d.host_path = "/dev/does-not-exist";
    fx_build_fails(f, CRIC_ERR_NOT_FOUND);
    d.host_path = "/etc/passwd";
    fx_build_fails(f, CRIC_ERR_INVALID);
}

static bool has_ns(json_t *spec, const char *type, const char *path)
{
    size_t i;
    json_t *n;
    json_array_foreach(jget(spec, "linux.namespaces"), i, n)
    {
        if (strcmp(jstr(n, "type"), type) != 0)
            continue;
        const char *p = jstr(n, "path");
        if (!path)
            return p == NULL;
        return p && strcmp(p, path) == 0;
    }
    return false;
}

static void namespaces(void **state)
{
    fx *f = *state;
    Runtime__V1__NamespaceOption no = RUNTIME__V1__NAMESPACE_OPTION__INIT;
    f->sc.namespace_options = &no;
    no.pid = RUNTIME__V1__NAMESPACE_MODE__CONTAINER;
    fx_build_ok(f);
    assert_true(has_ns(f->spec, "network", "/run/cric/sb/net"));
    assert_true(has_ns(f->spec, "ipc", "/run/cric/sb/ipc"));
    assert_true(has_ns(f->spec, "uts", "/run/cric/sb/uts"));
    assert_true(has_ns(f->spec, "mount", NULL));
    assert_true(has_ns(f->spec, "pid", NULL));
    assert_false(has_ns(f->spec, "cgroup", NULL)); /* hybrid */
    /* POD: the pod's pid namespace */
    no.pid = RUNTIME__V1__NAMESPACE_MODE__POD;
    f->sb.pidns_path = "/proc/1234/ns/pid";
    fx_build_ok(f);
    assert_true(has_ns(f->spec, "pid", "/proc/1234/ns/pid"));
    /* NODE: no pid namespace entry at all */
    no.pid = RUNTIME__V1__NAMESPACE_MODE__NODE;
    fx_build_ok(f);
    size_t n = json_array_size(jget(f->spec, "linux.namespaces"));
    assert_int_equal(n, 4);
    /* TARGET */
    no.pid = RUNTIME__V1__NAMESPACE_MODE__TARGET;
    fx_build_fails(f, CRIC_ERR_INVALID);
    f->in.target_pidns_path = "/proc/99/ns/pid";
    fx_build_ok(f);
    assert_true(has_ns(f->spec, "pid", "/proc/99/ns/pid"));
    /* host network/ipc/uts: no entries; v2: a private cgroup namespace */
    f->sb.netns_path = f->sb.ipcns_path = f->sb.utsns_path = "";
    f->host.cgroup_layout = CTR_CGROUP_V2;
    fx_build_ok(f);
    assert_false(has_ns(f->spec, "network", NULL));
    assert_false(has_ns(f->spec, "ipc", NULL));
    assert_true(has_ns(f->spec, "cgroup", NULL));
    f->sb.netns_path = "relative/path";
    fx_build_fails(f, CRIC_ERR_INVALID);
}

static void resources(void **state)
{
    fx *f = *state;
    fx_build_ok(f);
    assert_string_equal(jstr(f->spec, "linux.cgroupsPath"), "/kubepods/pod1/" TEST_ID);
    assert_string_equal(f->extra.cgroups_path, "/kubepods/pod1/" TEST_ID);
    assert_int_equal(jint(f->spec, "process.oomScoreAdj"), 0);
    assert_null(jget(f->spec, "linux.resources.memory"));
    f->res.cpu_shares = 512;
    f->res.cpu_quota = 50000;
    f->res.cpu_period = 100000;
    f->res.cpuset_cpus = "0-1";
    f->res.cpuset_mems = "0";
    f->res.memory_limit_in_bytes = 64 << 20;
    f->res.oom_score_adj = -900; /* below the daemon's floor: clamped */
    Runtime__V1__HugepageLimit hp = RUNTIME__V1__HUGEPAGE_LIMIT__INIT;
    hp.page_size = "2MB";
    hp.limit = 4 << 21;
    Runtime__V1__HugepageLimit *hps[] = {&hp};
    f->res.hugepage_limits = hps;
    f->res.n_hugepage_limits = 1;
    Runtime__V1__LinuxContainerResources__UnifiedEntry ue =
        RUNTIME__V1__LINUX_CONTAINER_RESOURCES__UNIFIED_ENTRY__INIT;
    ue.key = "memory.high";
    ue.value = "1000000";
    Runtime__V1__LinuxContainerResources__UnifiedEntry *ues[] = {&ue};
    f->res.unified = ues;
    f->res.n_unified = 1;
    f->in.pids_limit = 1024;
    fx_build_ok(f);
    assert_int_equal(jint(f->spec, "linux.resources.cpu.shares"), 512);
    assert_int_equal(jint(f->spec, "linux.resources.cpu.quota"), 50000);
    assert_int_equal(jint(f->spec, "linux.resources.cpu.period"), 100000);
    assert_string_equal(jstr(f->spec, "linux.resources.cpu.cpus"), "0-1");
    assert_string_equal(jstr(f->spec, "linux.resources.cpu.mems"), "0");
    assert_int_equal(jint(f->spec, "linux.resources.memory.limit"), 64 << 20);
    assert_int_equal(jint(f->spec, "linux.resources.memory.swap"), 64 << 20);
    assert_int_equal(jint(f->spec, "process.oomScoreAdj"), -500);
    assert_string_equal(jstr(f->spec, "linux.resources.hugepageLimits.0.pageSize"), "2MB");
    assert_int_equal(jint(f->spec, "linux.resources.hugepageLimits.0.limit"), 4 << 21);
    assert_int_equal(jint(f->spec, "linux.resources.pids.limit"), 1024);
    assert_null(jget(f->spec, "linux.resources.unified")); /* not on hybrid */
    f->host.hugetlb = false; /* no usable hugetlb controller: limits left out */
    fx_build_ok(f);
    assert_null(jget(f->spec, "linux.resources.hugepageLimits"));
    f->host.hugetlb = true;
    f->host.cgroup_layout = CTR_CGROUP_V2;
    f->host.swap_limit = false;
    f->res.memory_swap_limit_in_bytes = 128 << 20;
    f->res.oom_score_adj = 800;
    fx_build_ok(f);
    assert_string_equal(
        json_string_value(json_object_get(jget(f->spec, "linux.resources.unified"), "memory.high")),
        "1000000");
    assert_null(jget(f->spec, "linux.resources.memory.swap")); /* no swap accounting */
    assert_int_equal(jint(f->spec, "process.oomScoreAdj"), 800);
    f->host.swap_limit = true;
    fx_build_ok(f);
    assert_int_equal(jint(f->spec, "linux.resources.memory.swap"), 128 << 20);
    /* invalid values */
    ue.key = "cgroup.procs";
    fx_build_fails(f, CRIC_ERR_INVALID);
    ue.key = "memory.high";
    hp.page_size = "2XB";
    fx_build_fails(f, CRIC_ERR_INVALID);
    hp.page_size = "1GB";
    f->res.cpuset_cpus = "0;rm";
    fx_build_fails(f, CRIC_ERR_INVALID);
    f->res.cpuset_cpus = "";
    f->res.oom_score_adj = 1001;
    fx_build_fails(f, CRIC_ERR_INVALID);
    f->res.oom_score_adj = 0;
    f->res.memory_swap_limit_in_bytes = 1 << 20; /* below the limit */
    fx_build_fails(f, CRIC_ERR_INVALID);
    f->res.memory_swap_limit_in_bytes = 0;
    /* cgroup parents */
    f->sb.cgroup_parent = "";
    fx_build_ok(f);
    assert_string_equal(jstr(f->spec, "linux.cgroupsPath"), "/cric/" TEST_ID);
    f->sb.cgroup_parent = "/a/../../etc";
    fx_build_fails(f, CRIC_ERR_INVALID);
    f->sb.cgroup_parent = "kubepods.slice:cri:x";
    fx_build_fails(f, CRIC_ERR_INVALID);
}

static void sysctls(void **state)
{
    fx *f = *state;
    char *keys[] = {"net.ipv4.ip_forward", "kernel.shm_rmid_forced"};
    char *vals[] = {"1", "1"};
    f->sb.sysctl_keys = keys;
    f->sb.sysctl_values = vals;
    f->sb.n_sysctls = 2;
    fx_build_ok(f);
    assert_string_equal(
        json_string_value(json_object_get(jget(f->spec, "linux.sysctl"), "net.ipv4.ip_forward")),
        "1");
    f->sb.netns_path = ""; /* host network: net.* would change the host */
    fx_build_fails(f, CRIC_ERR_INVALID);
    f->sb.netns_path = "/run/netns/x";
    keys[1] = "vm.swappiness"; /* not namespaced */
    fx_build_fails(f, CRIC_ERR_INVALID);
    keys[1] = "../../etc";
    fx_build_fails(f, CRIC_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(default_and_sandbox_mounts, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(cri_mounts, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(mountinfo_parse, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(image_volumes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(create_dirs_in_rootfs, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(devices, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(namespaces, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(resources, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(sysctls, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
