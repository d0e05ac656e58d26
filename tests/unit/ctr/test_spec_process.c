/* Spec generator: process args/env/cwd/terminal, user and groups, stop
 * signal, hostname, annotations, root. */
#include <signal.h>

#include "spec_fixture.h"

static char *argv1[] = {"/bin/sh", "-c"};
static char *args1[] = {"echo hi"};

static void args_merge(void **state)
{
    fx *f = *state;
    char buf[256];
    /* nothing given: Entrypoint + Cmd */
    fx_build_ok(f);
    assert_string_equal(jjoin(f->spec, "process.args", buf, sizeof(buf)), "/bin/ep cmd1 cmd2");
    /* command replaces Entrypoint and drops Cmd */
    f->cfg.command = argv1;
    f->cfg.n_command = 1;
    fx_build_ok(f);
    assert_string_equal(jjoin(f->spec, "process.args", buf, sizeof(buf)), "/bin/sh");
    /* command + args */
    f->cfg.n_command = 2;
    f->cfg.args = args1;
    f->cfg.n_args = 1;
    fx_build_ok(f);
    assert_string_equal(jjoin(f->spec, "process.args", buf, sizeof(buf)), "/bin/sh -c echo hi");
    /* args only: Entrypoint + args (Cmd replaced) */
    f->cfg.n_command = 0;
    fx_build_ok(f);
    assert_string_equal(jjoin(f->spec, "process.args", buf, sizeof(buf)), "/bin/ep echo hi");
    /* Entrypoint [""] counts as none */
    json_object_set_new(f->image, "Entrypoint", json_pack("[s]", ""));
    f->cfg.n_args = 0;
    fx_build_ok(f);
    assert_string_equal(jjoin(f->spec, "process.args", buf, sizeof(buf)), "cmd1 cmd2");
    /* neither command nor image command */
    json_object_del(f->image, "Entrypoint");
    json_object_del(f->image, "Cmd");
    fx_build_fails(f, CRIC_ERR_INVALID);
    /* no image config at all, command given */
    f->in.image_config = NULL;
    f->cfg.n_command = 1;
    fx_build_ok(f);
    assert_string_equal(jjoin(f->spec, "process.args", buf, sizeof(buf)), "/bin/sh");
    /* malformed image Cmd */
    f->in.image_config = f->image;
    f->cfg.n_command = 0;
    json_object_set_new(f->image, "Cmd", json_pack("[i]", 3));
    fx_build_fails(f, CRIC_ERR_INVALID);
}

static void env_merge(void **state)
{
    fx *f = *state;
    Runtime__V1__KeyValue kv1 = RUNTIME__V1__KEY_VALUE__INIT, kv2 = RUNTIME__V1__KEY_VALUE__INIT;
    kv1.key = "IMG";
    kv1.value = (ProtobufCBinaryData){3, (uint8_t *)"two"};
    kv2.key = "NEW";
    kv2.value = (ProtobufCBinaryData){0, NULL};
    Runtime__V1__KeyValue *kvs[] = {&kv1, &kv2};
    f->cfg.envs = kvs;
    f->cfg.n_envs = 2;
    f->cfg.tty = true;
    fx_build_ok(f);
    assert_true(jhas(f->spec, "process.env", "PATH=/bin:/usr/bin")); /* the image's PATH wins */
    assert_true(jhas(f->spec, "process.env", "IMG=two"));
    assert_false(jhas(f->spec, "process.env", "IMG=1"));
    assert_true(jhas(f->spec, "process.env", "NEW="));
    assert_true(jhas(f->spec, "process.env", "HOSTNAME=pod1-host"));
    assert_true(jhas(f->spec, "process.env", "TERM=xterm"));
    assert_true(json_is_true(jget(f->spec, "process.terminal")));
    size_t n = json_array_size(jget(f->spec, "process.env"));
    assert_int_equal(n, 5);
    /* default PATH without an image PATH */
    json_object_set_new(f->image, "Env", json_array());
    f->cfg.tty = false;
    fx_build_ok(f);
    assert_true(jhas(f->spec, "process.env",
                     "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
    assert_false(jhas(f->spec, "process.env", "TERM=xterm"));
    /* invalid names and values */
    kv2.key = "BAD=NAME";
    fx_build_fails(f, CRIC_ERR_INVALID);
    kv2.key = "";
    fx_build_fails(f, CRIC_ERR_INVALID);
    kv2.key = "OK";
    kv2.value = (ProtobufCBinaryData){3, (uint8_t *)"a\0b"};
    fx_build_fails(f, CRIC_ERR_INVALID);
}

static void working_dir(void **state)
{
    fx *f = *state;
    fx_build_ok(f);
    assert_string_equal(jstr(f->spec, "process.cwd"), "/");
    json_object_set_new(f->image, "WorkingDir", json_string("/srv/app/"));
    fx_build_ok(f);
    assert_string_equal(jstr(f->spec, "process.cwd"), "/srv/app");
    f->cfg.working_dir = "/work//dir";
    fx_build_ok(f);
    assert_string_equal(jstr(f->spec, "process.cwd"), "/work/dir");
    f->cfg.working_dir = "relative";
    fx_build_fails(f, CRIC_ERR_INVALID);
}

static void expect_user(fx *f, long long uid, long long gid, const char *gids)
{
    fx_build_ok(f);
    assert_int_equal(jint(f->spec, "process.user.uid"), uid);
    assert_int_equal(jint(f->spec, "process.user.gid"), gid);
    assert_int_equal(f->extra.uid, uid);
    assert_int_equal(f->extra.gid, gid);
    char buf[256] = "";
    json_t *a = jget(f->spec, "process.user.additionalGids");
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        size_t l = strlen(buf);
        snprintf(buf + l, sizeof(buf) - l, "%s%lld", i ? "," : "", json_integer_value(v));
    }
    assert_string_equal(buf, gids);
    assert_int_equal(f->extra.n_additional_gids, json_array_size(a));
}

static void user_default_and_image(void **state)
{
    fx *f = *state;
    expect_user(f, 0, 0, "0,10"); /* root, member of wheel */
    json_object_set_new(f->image, "User", json_string("alice"));
    expect_user(f, 1000, 1000, "1000,10,44");
    json_object_set_new(f->image, "User", json_string("33"));
    expect_user(f, 33, 33, "33,44"); /* www-data listed in video (with a space) */
    json_object_set_new(f->image, "User", json_string("4242"));
    expect_user(f, 4242, 0, "0"); /* unknown uid: gid 0 */
    json_object_set_new(f->image, "User", json_string("1:10"));
    expect_user(f, 1, 10, "10");
    json_object_set_new(f->image, "User", json_string("www-data:users"));
    expect_user(f, 33, 100, "100,44");
    json_object_set_new(f->image, "User", json_string("alice:5000"));
    expect_user(f, 1000, 5000, "5000,10,44");
    json_object_set_new(f->image, "User", json_string("nobody:nogroup"));
    expect_user(f, 65534, 65534, "65534");
    json_object_set_new(f->image, "User", json_string("ghost"));
    fx_build_fails(f, CRIC_ERR_NOT_FOUND);
    json_object_set_new(f->image, "User", json_string("alice:ghosts"));
    fx_build_fails(f, CRIC_ERR_NOT_FOUND);
    json_object_set_new(f->image, "User", json_string(":10"));
    fx_build_fails(f, CRIC_ERR_INVALID);
    json_object_set_new(f->image, "User", json_string("broken"));
    fx_build_fails(f, CRIC_ERR_NOT_FOUND); /* its uid is not a number: skipped */
}

static void user_from_cri(void **state)
{
    fx *f = *state;
    json_object_set_new(f->image, "User", json_string("alice"));
    Runtime__V1__Int64Value uid = RUNTIME__V1__INT64_VALUE__INIT,
                            gid = RUNTIME__V1__INT64_VALUE__INIT;
    uid.value = 33;
    f->sc.run_as_user = &uid;
    expect_user(f, 33, 33, "33,44"); /* run_as_user wins over the image's USER */
    gid.value = 7;
    f->sc.run_as_group = &gid;
    expect_user(f, 33, 7, "7,44");
    int64_t sup[] = {500, 7, 501};
    f->sc.supplemental_groups = sup;
    f->sc.n_supplemental_groups = 3;
    expect_user(f, 33, 7, "7,44,500,501");
    f->sc.supplemental_groups_policy = RUNTIME__V1__SUPPLEMENTAL_GROUPS_POLICY__Strict;
    expect_user(f, 33, 7, "7,500,501");
    f->sc.supplemental_groups_policy = RUNTIME__V1__SUPPLEMENTAL_GROUPS_POLICY__Merge;
    f->sc.n_supplemental_groups = 0;
    /* pod-level groups merged after */
    int64_t podsup[] = {900};
    f->sb.supplemental_groups = podsup;
    f->sb.n_supplemental_groups = 1;
    expect_user(f, 33, 7, "7,44,900");
    f->sb.n_supplemental_groups = 0;
    /* run_as_username */
    f->sc.run_as_user = NULL;
    f->sc.run_as_username = "alice";
    expect_user(f, 1000, 7, "7,10,44");
    f->sc.run_as_group = NULL;
    expect_user(f, 1000, 1000, "1000,10,44");
    f->sc.run_as_username = "nosuchuser";
    fx_build_fails(f, CRIC_ERR_NOT_FOUND);
    /* exclusive / incomplete / out of range */
    f->sc.run_as_username = "alice";
    f->sc.run_as_user = &uid;
    fx_build_fails(f, CRIC_ERR_INVALID);
    f->sc.run_as_username = "";
    f->sc.run_as_user = NULL;
    f->sc.run_as_group = &gid;
    fx_build_fails(f, CRIC_ERR_INVALID);
    f->sc.run_as_group = NULL;
    uid.value = -1;
    f->sc.run_as_user = &uid;
    fx_build_fails(f, CRIC_ERR_INVALID);
    uid.value = 4294967296LL;
    fx_build_fails(f, CRIC_ERR_INVALID);
}

/* /etc/passwd as a symlink to a file outside the rootfs: never read. */
static void passwd_symlink_outside(void **state)
{
    fx *f = *state;
    char outside[256], link[256], p[256];
    snprintf(outside, sizeof(outside), "%s/host-passwd", f->dir);
    fx_write(outside, "mallory:x:4444:4444::/:/bin/sh\n");
    snprintf(link, sizeof(link), "%s/etc/passwd", f->rootfs);
    unlink(link);
    assert_int_equal(symlink(outside, link), 0); /* absolute: resolves inside the rootfs */
    json_object_set_new(f->image, "User", json_string("mallory"));
    fx_build_fails(f, CRIC_ERR_NOT_FOUND);
    unlink(link);
    assert_int_equal(symlink("../../host-passwd", link), 0); /* relative, climbing out */
    fx_build_fails(f, CRIC_ERR_NOT_FOUND);
    /* a symlink that stays inside the rootfs is fine */
    unlink(link);
    snprintf(p, sizeof(p), "%s/etc/passwd.real", f->rootfs);
    fx_write(p, "bob:x:77:78::/:/bin/sh\n");
    assert_int_equal(symlink("/etc/passwd.real", link), 0);
    json_object_set_new(f->image, "User", json_string("bob"));
    expect_user(f, 77, 78, "78");
    /* a numeric uid still works without a usable passwd */
    unlink(link);
    assert_int_equal(symlink(outside, link), 0);
    json_object_set_new(f->image, "User", json_string("4444"));
    expect_user(f, 4444, 0, "0");
    /* /etc/group through a directory symlink pointing out */
    char etc[256], hostetc[128];
    snprintf(hostetc, sizeof(hostetc), "%s/hostetc", f->dir);
    mkdir(hostetc, 0755);
    snprintf(p, sizeof(p), "%s/group", hostetc);
    fx_write(p, "evil:x:6666:root\n");
    snprintf(etc, sizeof(etc), "%s/etc", f->rootfs);
    snprintf(p, sizeof(p), "%s/etc/group", f->rootfs);
    unlink(p);
    unlink(link);
    unlink(outside);
    snprintf(p, sizeof(p), "%s/etc/passwd.real", f->rootfs);
    unlink(p);
    assert_int_equal(rmdir(etc), 0);
    assert_int_equal(symlink(hostetc, etc), 0);
    json_object_set_new(f->image, "User", json_string("0:evil"));
    fx_build_fails(f, CRIC_ERR_NOT_FOUND);
}

static void passwd_too_large(void **state)
{
    fx *f = *state;
    char p[256];
    snprintf(p, sizeof(p), "%s/etc/passwd", f->rootfs);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    assert_int_equal(ftruncate(fileno(fp), (5 << 20)), 0);
    fclose(fp);
    fx_build_fails(f, CRIC_ERR_RESOURCE);
    /* missing files: uid 0 without groups */
    unlink(p);
    snprintf(p, sizeof(p), "%s/etc/group", f->rootfs);
    unlink(p);
    expect_user(f, 0, 0, "0");
}

static void stop_signal(void **state)
{
    fx *f = *state;
    fx_build_ok(f);
    assert_int_equal(f->extra.stop_signal, SIGTERM);
    json_object_set_new(f->image, "StopSignal", json_string("SIGQUIT"));
    fx_build_ok(f);
    assert_int_equal(f->extra.stop_signal, SIGQUIT);
    json_object_set_new(f->image, "StopSignal", json_string("9"));
    fx_build_ok(f);
    assert_int_equal(f->extra.stop_signal, SIGKILL);
    json_object_set_new(f->image, "StopSignal", json_string("SIGRTMIN+3"));
    fx_build_ok(f);
    assert_int_equal(f->extra.stop_signal, 37);
    json_object_set_new(f->image, "StopSignal", json_string("SIGNOPE"));
    fx_build_fails(f, CRIC_ERR_INVALID);
    f->cfg.stop_signal = RUNTIME__V1__SIGNAL__SIGNAL_SIGUSR1; /* the config wins */
    fx_build_ok(f);
    assert_int_equal(f->extra.stop_signal, SIGUSR1);
    assert_int_equal(ctr_signal_from_cri(RUNTIME__V1__SIGNAL__SIGNAL_SIGRTMAX), 64);
    assert_int_equal(ctr_signal_from_cri(RUNTIME__V1__SIGNAL__SIGNAL_SIGRTMIN), 34);
    assert_int_equal(ctr_signal_from_cri(RUNTIME__V1__SIGNAL__SIGNAL_SIGKILL), SIGKILL);
    assert_int_equal(ctr_signal_from_cri(99), -1);
    assert_int_equal(ctr_signal_parse("term"), SIGTERM);
    assert_int_equal(ctr_signal_parse("RTMAX-1"), 63);
    assert_int_equal(ctr_signal_parse("65"), -1);
}

static void root_hostname_annotations(void **state)
{
    fx *f = *state;
    fx_build_ok(f);
    assert_string_equal(jstr(f->spec, "ociVersion"), "1.0.2");
    assert_string_equal(jstr(f->spec, "root.path"), f->rootfs);
    assert_false(json_is_true(jget(f->spec, "root.readonly")));
    assert_string_equal(jstr(f->spec, "hostname"), "pod1-host");
    json_t *a = json_object_get(f->spec, "annotations");
    assert_string_equal(json_string_value(json_object_get(a, "io.kubernetes.cri.container-type")),
                        "container");
    assert_string_equal(json_string_value(json_object_get(a, "io.kubernetes.cri.sandbox-id")),
                        SANDBOX_ID);
    assert_string_equal(json_string_value(json_object_get(a, "io.kubernetes.cri.container-name")),
                        "c1");
    assert_string_equal(json_string_value(json_object_get(a, "io.kubernetes.cri.image-name")),
                        "docker.io/library/busybox:latest");
    assert_string_equal(
        json_string_value(json_object_get(a, "io.kubernetes.cri.sandbox-namespace")), "default");
    f->sc.readonly_rootfs = true;
    f->sb.utsns_path = ""; /* host UTS: no hostname in the spec */
    fx_build_ok(f);
    assert_true(json_is_true(jget(f->spec, "root.readonly")));
    assert_null(jget(f->spec, "hostname"));
    /* bad input */
    f->in.rootfs = "relative/rootfs";
    fx_build_fails(f, CRIC_ERR_INVALID);
    f->in.rootfs = f->rootfs;
    f->in.container_id = "../x";
    fx_build_fails(f, CRIC_ERR_INVALID);
}

static void exec_process(void **state)
{
    fx *f = *state;
    json_object_set_new(f->image, "User", json_string("alice"));
    f->sc.no_new_privs = true;
    fx_build_ok(f);
    char *argv[] = {"/bin/ls", "-l"};
    json_t *p = NULL;
    cric_err e = {0};
    assert_int_equal(ctr_spec_exec_process(f->spec, argv, 2, true, &p, &e), 0);
    char buf[128];
    assert_string_equal(jjoin(p, "args", buf, sizeof(buf)), "/bin/ls -l");
    assert_true(json_is_true(json_object_get(p, "terminal")));
    assert_int_equal(jint(p, "user.uid"), 1000);
    assert_true(json_is_true(json_object_get(p, "noNewPrivileges")));
    assert_true(json_equal(json_object_get(p, "env"), jget(f->spec, "process.env")));
    assert_true(
        json_equal(json_object_get(p, "capabilities"), jget(f->spec, "process.capabilities")));
    /* the container's own process is untouched */
    assert_string_equal(jjoin(f->spec, "process.args", buf, sizeof(buf)), "/bin/ep cmd1 cmd2");
    json_decref(p);
    assert_int_equal(ctr_spec_exec_process(f->spec, argv, 0, false, &p, &e), -1);
    char *empty[] = {""};
    assert_int_equal(ctr_spec_exec_process(f->spec, empty, 1, false, &p, &e), -1);
    assert_int_equal(e.kind, CRIC_ERR_INVALID);
}

static void invalid_utf8(void **state)
{
    fx *f = *state;
    char *argv[] = {"/bin/echo", "\xff\xfe"};
    f->cfg.command = argv;
    f->cfg.n_command = 2;
    fx_build_fails(f, CRIC_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(args_merge, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(env_merge, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(working_dir, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(user_default_and_image, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(user_from_cri, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(passwd_symlink_outside, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(passwd_too_large, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(stop_signal, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(root_hostname_annotations, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(exec_process, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(invalid_utf8, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
