/* Spec generator: capabilities, privileged, no_new_privs, masked/readonly
 * paths, seccomp (RuntimeDefault, Localhost, Unconfined, legacy path),
 * AppArmor. */
#include "spec_fixture.h"

static size_t caps_n(fx *f, const char *set)
{
    char p[64];
    snprintf(p, sizeof(p), "process.capabilities.%s", set);
    return json_array_size(jget(f->spec, p));
}

static void capabilities(void **state)
{
    fx *f = *state;
    fx_build_ok(f);
    const char *defaults[] = {
        "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
        "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
        "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
        "CAP_KILL",    "CAP_AUDIT_WRITE"};
    for (size_t i = 0; i < ARRAY_LEN(defaults); i++) {
        assert_true(jhas(f->spec, "process.capabilities.bounding", defaults[i]));
        assert_true(jhas(f->spec, "process.capabilities.effective", defaults[i]));
        assert_true(jhas(f->spec, "process.capabilities.permitted", defaults[i]));
    }
    assert_int_equal(caps_n(f, "bounding"), ARRAY_LEN(defaults));
    assert_null(jget(f->spec, "process.capabilities.ambient"));

    Runtime__V1__Capability cp = RUNTIME__V1__CAPABILITY__INIT;
    char *add[] = {"SYS_ADMIN", "CAP_NET_ADMIN", "sys_time"};
    char *drop[] = {"CHOWN", "CAP_KILL"};
    cp.add_capabilities = add;
    cp.n_add_capabilities = 3;
    cp.drop_capabilities = drop;
    cp.n_drop_capabilities = 2;
    f->sc.capabilities = &cp;
    fx_build_ok(f);
    assert_true(jhas(f->spec, "process.capabilities.bounding", "CAP_SYS_ADMIN"));
    assert_true(jhas(f->spec, "process.capabilities.effective", "CAP_NET_ADMIN"));
    assert_true(jhas(f->spec, "process.capabilities.permitted", "CAP_SYS_TIME"));
    assert_false(jhas(f->spec, "process.capabilities.bounding", "CAP_CHOWN"));
    assert_false(jhas(f->spec, "process.capabilities.bounding", "CAP_KILL"));
    assert_int_equal(caps_n(f, "bounding"), ARRAY_LEN(defaults) + 3 - 2);

    /* drop ALL then add one */
    char *all[] = {"ALL"};
    char *one[] = {"NET_BIND_SERVICE"};
    cp.drop_capabilities = all;
    cp.n_drop_capabilities = 1;
    cp.add_capabilities = one;
    cp.n_add_capabilities = 1;
    fx_build_ok(f);
    assert_int_equal(caps_n(f, "bounding"), 1);
    assert_true(jhas(f->spec, "process.capabilities.bounding", "CAP_NET_BIND_SERVICE"));

    /* add ALL, drop one: everything the daemon has but that one */
    cp.add_capabilities = all;
    cp.drop_capabilities = drop;
    cp.n_drop_capabilities = 1;
    fx_build_ok(f);
    assert_int_equal(caps_n(f, "bounding"), CTR_CAP_MAX + 1 - 2); /* minus SYS_RESOURCE, CHOWN */
    assert_false(jhas(f->spec, "process.capabilities.bounding", "CAP_CHOWN"));
    assert_false(jhas(f->spec, "process.capabilities.bounding", "CAP_SYS_RESOURCE"));
    assert_true(jhas(f->spec, "process.capabilities.bounding", "CAP_SYS_ADMIN"));

    /* a capability the daemon lacks is left out (with a warning) */
    char *res[] = {"SYS_RESOURCE"};
    cp.add_capabilities = res;
    cp.n_drop_capabilities = 0;
    fx_build_ok(f);
    assert_false(jhas(f->spec, "process.capabilities.bounding", "CAP_SYS_RESOURCE"));

    /* ambient: in every set */
    char *amb[] = {"NET_ADMIN"};
    cp.n_add_capabilities = 0;
    cp.add_ambient_capabilities = amb;
    cp.n_add_ambient_capabilities = 1;
    fx_build_ok(f);
    assert_true(jhas(f->spec, "process.capabilities.ambient", "CAP_NET_ADMIN"));
    assert_true(jhas(f->spec, "process.capabilities.inheritable", "CAP_NET_ADMIN"));
    assert_true(jhas(f->spec, "process.capabilities.bounding", "CAP_NET_ADMIN"));

    /* unknown names */
    char *bogus[] = {"CAP_FLY"};
    cp.add_capabilities = bogus;
    cp.n_add_capabilities = 1;
    fx_build_fails(f, CRIC_ERR_INVALID);

    assert_int_equal(ctr_cap_from_name("cap_sys_admin"), 21);
    assert_int_equal(ctr_cap_from_name("CAP_"), -1);
    assert_string_equal(ctr_cap_name(40), "CAP_CHECKPOINT_RESTORE");
}

static void masked_and_readonly(void **state)
{
    fx *f = *state;
    fx_build_ok(f);
    assert_true(jhas(f->spec, "linux.maskedPaths", "/proc/kcore"));
    assert_true(jhas(f->spec, "linux.maskedPaths", "/sys/firmware"));
    assert_true(jhas(f->spec, "linux.readonlyPaths", "/proc/sys"));
    assert_true(jhas(f->spec, "linux.readonlyPaths", "/proc/sysrq-trigger"));
    assert_false(json_is_true(jget(f->spec, "process.noNewPrivileges")));
    char *masked[] = {"/proc/foo/"};
    char *ro[] = {"/proc/bar", "/sys/x"};
    f->sc.masked_paths = masked;
    f->sc.n_masked_paths = 1;
    f->sc.readonly_paths = ro;
    f->sc.n_readonly_paths = 2;
    f->sc.no_new_privs = true;
    fx_build_ok(f);
    assert_int_equal(json_array_size(jget(f->spec, "linux.maskedPaths")), 1);
    assert_true(jhas(f->spec, "linux.maskedPaths", "/proc/foo"));
    assert_int_equal(json_array_size(jget(f->spec, "linux.readonlyPaths")), 2);
    assert_true(json_is_true(jget(f->spec, "process.noNewPrivileges")));
    masked[0] = "proc/relative";
    fx_build_fails(f, CRIC_ERR_INVALID);
}

static void privileged(void **state)
{
    fx *f = *state;
    f->sc.privileged = true;
    fx_build_fails(f, CRIC_ERR_PRECONDITION); /* the sandbox is not privileged */
    f->sb.privileged = true;
    Runtime__V1__SecurityProfile sp = RUNTIME__V1__SECURITY_PROFILE__INIT;
    f->sc.seccomp = &sp;
    fx_build_ok(f);
    assert_true(f->extra.privileged);
    assert_int_equal(caps_n(f, "bounding"), CTR_CAP_MAX); /* all the daemon has */
    assert_null(jget(f->spec, "linux.maskedPaths"));
    assert_null(jget(f->spec, "linux.readonlyPaths"));
    assert_null(jget(f->spec, "linux.seccomp"));
    assert_true(jhas(jmount(f->spec, "/sys"), "options", "rw"));
    assert_true(jhas(jmount(f->spec, "/sys/fs/cgroup"), "options", "rw"));
    json_t *r0 = jget(f->spec, "linux.resources.devices.0");
    assert_true(json_is_true(json_object_get(r0, "allow")));
    assert_null(json_object_get(r0, "type"));
    /* the host's devices, e.g. /dev/null, but not /dev/pts/... */
    bool null_found = false;
    size_t i;
    json_t *d;
    json_array_foreach(jget(f->spec, "linux.devices"), i, d)
    {
        const char *p = jstr(d, "path");
        null_found |= strcmp(p, "/dev/null") == 0;
        assert_false(strncmp(p, "/dev/pts/", 9) == 0);
    }
    assert_true(null_found);
}

static bool rule_names_has(json_t *prof, const char *name, const char *action, bool with_args)
{
    size_t i, k;
    json_t *r, *n;
    json_array_foreach(json_object_get(prof, "syscalls"), i, r)
    {
        if (strcmp(jstr(r, "action"), action) != 0)
            continue;
        if ((json_object_get(r, "args") != NULL) != with_args)
            continue;
        json_array_foreach(json_object_get(r, "names"), k,
                           n) if (strcmp(json_string_value(n), name) == 0) return true;
    }
    return false;
}

static void seccomp_default(void **state)
{
    fx *f = *state;
    fx_build_ok(f);
    assert_null(jget(f->spec, "linux.seccomp")); /* nothing asked: unconfined */
    Runtime__V1__SecurityProfile sp = RUNTIME__V1__SECURITY_PROFILE__INIT;
    f->sc.seccomp = &sp; /* RuntimeDefault */
    fx_build_ok(f);
    json_t *p = jget(f->spec, "linux.seccomp");
    assert_non_null(p);
    assert_string_equal(jstr(p, "defaultAction"), "SCMP_ACT_ERRNO");
    assert_int_equal(jint(p, "defaultErrnoRet"), 1);
#if defined(__x86_64__)
    assert_string_equal(jstr(p, "architectures.0"), "SCMP_ARCH_X86_64");
    assert_true(jhas(p, "architectures", "SCMP_ARCH_X86"));
    assert_true(jhas(p, "architectures", "SCMP_ARCH_X32"));
    assert_true(rule_names_has(p, "arch_prctl", "SCMP_ACT_ALLOW", false));
#endif
    assert_true(rule_names_has(p, "read", "SCMP_ACT_ALLOW", false));
    assert_true(rule_names_has(p, "execve", "SCMP_ACT_ALLOW", false));
    assert_false(rule_names_has(p, "unshare", "SCMP_ACT_ALLOW", false));
    assert_false(rule_names_has(p, "sethostname", "SCMP_ACT_ALLOW", false));
    assert_false(rule_names_has(p, "mount", "SCMP_ACT_ALLOW", false));
    assert_false(rule_names_has(p, "reboot", "SCMP_ACT_ALLOW", false));
    assert_true(rule_names_has(p, "chroot", "SCMP_ACT_ALLOW", false)); /* SYS_CHROOT default */
    assert_true(rule_names_has(p, "clone", "SCMP_ACT_ALLOW", true));
    assert_false(rule_names_has(p, "clone", "SCMP_ACT_ALLOW", false));
    assert_true(rule_names_has(p, "clone3", "SCMP_ACT_ERRNO", false));
    assert_true(rule_names_has(p, "socket", "SCMP_ACT_ALLOW", true));
    assert_false(rule_names_has(p, "socket", "SCMP_ACT_ALLOW", false));
    assert_true(rule_names_has(p, "personality", "SCMP_ACT_ALLOW", true));
    /* the clone mask and the clone3 errno */
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(p, "syscalls"), i, r)
    {
        const char *n0 = jstr(r, "names.0");
        if (strcmp(n0, "clone") == 0) {
            assert_int_equal(jint(r, "args.0.value"), 0x7E020000);
            assert_string_equal(jstr(r, "args.0.op"), "SCMP_CMP_MASKED_EQ");
        }
        if (strcmp(n0, "clone3") == 0)
            assert_int_equal(jint(r, "errnoRet"), 38);
        if (strcmp(n0, "socket") == 0) {
            assert_int_equal(jint(r, "args.0.value"), 40);
            assert_string_equal(jstr(r, "args.0.op"), "SCMP_CMP_NE");
        }
    }
    /* with CAP_SYS_ADMIN: namespaces and mount allowed, no clone filter */
    Runtime__V1__Capability cp = RUNTIME__V1__CAPABILITY__INIT;
    char *add[] = {"SYS_ADMIN", "SYS_BOOT"};
    cp.add_capabilities = add;
    cp.n_add_capabilities = 2;
    f->sc.capabilities = &cp;
    fx_build_ok(f);
    p = jget(f->spec, "linux.seccomp");
    assert_true(rule_names_has(p, "unshare", "SCMP_ACT_ALLOW", false));
    assert_true(rule_names_has(p, "mount", "SCMP_ACT_ALLOW", false));
    assert_true(rule_names_has(p, "clone", "SCMP_ACT_ALLOW", false));
    assert_true(rule_names_has(p, "reboot", "SCMP_ACT_ALLOW", false));
    assert_false(rule_names_has(p, "clone3", "SCMP_ACT_ERRNO", false));
    /* Unconfined */
    sp.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Unconfined;
    fx_build_ok(f);
    assert_null(jget(f->spec, "linux.seccomp"));
}

static void seccomp_localhost(void **state)
{
    fx *f = *state;
    char path[256], big[256];
    snprintf(path, sizeof(path), "%s/profile.json", f->dir);
    /* Docker form: archMap, includes/excludes */
    fx_write(path,
             "{\"defaultAction\":\"SCMP_ACT_ALLOW\","
             "\"archMap\":[{\"architecture\":\"SCMP_ARCH_X86_64\"}],"
             "\"syscalls\":["
             "{\"names\":[\"mkdir\",\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13},"
             "{\"name\":\"chmod\",\"action\":\"SCMP_ACT_ERRNO\","
             "\"includes\":{\"caps\":[\"CAP_SYS_ADMIN\"]}},"
             "{\"names\":[\"chown\"],\"action\":\"SCMP_ACT_ERRNO\","
             "\"excludes\":{\"caps\":[\"CAP_SYS_ADMIN\"]},"
             "\"args\":[{\"index\":1,\"value\":0,\"op\":\"SCMP_CMP_EQ\"}]}"
             "]}");
    Runtime__V1__SecurityProfile sp = RUNTIME__V1__SECURITY_PROFILE__INIT;
    sp.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost;
    sp.localhost_ref = path;
    f->sc.seccomp = &sp;
    fx_build_ok(f);
    json_t *p = jget(f->spec, "linux.seccomp");
    assert_string_equal(jstr(p, "defaultAction"), "SCMP_ACT_ALLOW");
    assert_non_null(jget(p, "architectures"));
    assert_null(jget(p, "archMap"));
    assert_int_equal(json_array_size(jget(p, "syscalls")), 2); /* chmod needs SYS_ADMIN */
    assert_string_equal(jstr(p, "syscalls.0.names.1"), "mkdirat");
    assert_int_equal(jint(p, "syscalls.0.errnoRet"), 13);
    assert_string_equal(jstr(p, "syscalls.1.names.0"), "chown");
    assert_int_equal(jint(p, "syscalls.1.args.0.index"), 1);
    assert_null(jget(p, "syscalls.1.excludes"));
    /* legacy seccomp_profile_path */
    f->sc.seccomp = NULL;
    char legacy[300];
    snprintf(legacy, sizeof(legacy), "localhost/%s", path);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    f->sc.seccomp_profile_path = legacy;
    fx_build_ok(f);
    assert_string_equal(jstr(f->spec, "linux.seccomp.defaultAction"), "SCMP_ACT_ALLOW");
    f->sc.seccomp_profile_path = "runtime/default";
    fx_build_ok(f);
    assert_string_equal(jstr(f->spec, "linux.seccomp.defaultAction"), "SCMP_ACT_ERRNO");
    f->sc.seccomp_profile_path = "unconfined";
    fx_build_ok(f);
    assert_null(jget(f->spec, "linux.seccomp"));
    f->sc.seccomp_profile_path = "bogus/x";
    fx_build_fails(f, CRIC_ERR_INVALID);
    f->sc.seccomp_profile_path = "";
#pragma GCC diagnostic pop
    f->sc.seccomp = &sp;
    /* relative, missing, invalid, too big */
    sp.localhost_ref = "profile.json";
    fx_build_fails(f, CRIC_ERR_INVALID);
    sp.localhost_ref = "/nonexistent/profile.json";
    fx_build_fails(f, CRIC_ERR_NOT_FOUND);
    sp.localhost_ref = path;
    fx_write(path, "{\"defaultAction\":\"SCMP_ACT_EXPLODE\"}");
    fx_build_fails(f, CRIC_ERR_INVALID);
    fx_write(
        path,
        "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"action\":\"SCMP_ACT_ALLOW\"}]}");
    fx_build_fails(f, CRIC_ERR_INVALID);
    fx_write(path,
             "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\"],"
             "\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":9,\"op\":\"SCMP_CMP_EQ\"}]}]}");
    fx_build_fails(f, CRIC_ERR_INVALID);
    fx_write(path, "not json");
    fx_build_fails(f, CRIC_ERR_INVALID);
    snprintf(big, sizeof(big), "%s/big.json", f->dir);
    FILE *fp = fopen(big, "w");
    assert_int_equal(ftruncate(fileno(fp), 2 << 20), 0);
    fclose(fp);
    sp.localhost_ref = big;
    fx_build_fails(f, CRIC_ERR_RESOURCE);
}

static void apparmor(void **state)
{
    fx *f = *state;
    Runtime__V1__SecurityProfile ap = RUNTIME__V1__SECURITY_PROFILE__INIT;
    ap.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost;
    ap.localhost_ref = "my-profile";
    f->sc.apparmor = &ap;
    fx_build_ok(f); /* AppArmor disabled on the host: ignored */
    assert_null(jget(f->spec, "process.apparmorProfile"));
    f->host.apparmor = true;
    fx_build_ok(f);
    assert_string_equal(jstr(f->spec, "process.apparmorProfile"), "my-profile");
    ap.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__RuntimeDefault;
    fx_build_ok(f);
    assert_null(jget(f->spec, "process.apparmorProfile")); /* no default profile configured */
    f->in.apparmor_default_profile = "cric-default";
    fx_build_ok(f);
    assert_string_equal(jstr(f->spec, "process.apparmorProfile"), "cric-default");
    ap.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Unconfined;
    fx_build_ok(f);
    assert_null(jget(f->spec, "process.apparmorProfile"));
    f->sc.apparmor = NULL;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    f->sc.apparmor_profile = "localhost/legacy-prof";
    fx_build_ok(f);
    assert_string_equal(jstr(f->spec, "process.apparmorProfile"), "legacy-prof");
    f->sc.apparmor_profile = "localhost/bad name";
    fx_build_fails(f, CRIC_ERR_INVALID);
    f->sc.apparmor_profile = "";
#pragma GCC diagnostic pop
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(capabilities, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(masked_and_readonly, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(privileged, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(seccomp_default, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(seccomp_localhost, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(apparmor, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
