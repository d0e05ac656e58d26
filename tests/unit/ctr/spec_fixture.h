/* Shared fixture of the spec generator tests: a tiny fake rootfs with
 * /etc/passwd and /etc/group, a sandbox, fixed host facts, and helpers to
 * build a ContainerConfig and query the produced JSON. */
#ifndef CRIC_TEST_SPEC_FIXTURE_H
#define CRIC_TEST_SPEC_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctr/spec.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define TEST_ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SANDBOX_ID "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static const char fx_passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
                                "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
                                "# a comment\n"
                                "www-data:x:33:33:www-data:/var/www:/bin/false\n"
                                "alice:x:1000:1000::/home/alice:/bin/sh\n"
                                "broken:x:notanumber:1:::\n"
                                "nobody:x:65534:65534:nobody:/home:/bin/false\n";
static const char fx_group[] = "root:x:0:\n"
                               "daemon:x:1:\n"
                               "wheel:x:10:root,alice\n"
                               "www-data:x:33:\n"
                               "alice:x:1000:alice\n"
                               "video:x:44:alice, www-data\n"
                               "users:x:100:\n"
                               "nogroup:x:65534:\n";

typedef struct fx {
    char dir[64];
    char rootfs[128];
    ctr_host_facts host;
    ctr_spec_sandbox sb;
    ctr_spec_input in;
    Runtime__V1__ContainerConfig cfg;
    Runtime__V1__ContainerMetadata meta;
    Runtime__V1__LinuxContainerConfig linux;
    Runtime__V1__LinuxContainerSecurityContext sc;
    Runtime__V1__LinuxContainerResources res;
    json_t *image;
    json_t *spec;
    ctr_spec_extra extra;
    cric_err err;
} fx;

static inline void fx_write(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

static inline int fx_setup(void **state)
{
    fx *f = calloc(1, sizeof(*f));
    strcpy(f->dir, "/tmp/cric-spec-test.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->rootfs, sizeof(f->rootfs), "%s/rootfs", f->dir);
    char p[256];
    snprintf(p, sizeof(p), "%s/etc", f->rootfs);
    cric_err e = {0};
    if (fs_mkdir_p(p, 0755, &e))
        return -1;
    snprintf(p, sizeof(p), "%s/etc/passwd", f->rootfs);
    fx_write(p, fx_passwd);
    snprintf(p, sizeof(p), "%s/etc/group", f->rootfs);
    fx_write(p, fx_group);

    f->host.cgroup_layout = CTR_CGROUP_HYBRID;
    f->host.swap_limit = true;
    f->host.apparmor = false;
    f->host.hugetlb = true;
    f->host.cap_bounding = (CTR_CAP_BIT(CTR_CAP_MAX) << 1) - 1;
    f->host.cap_bounding &= ~CTR_CAP_BIT(24); /* like this machine: no CAP_SYS_RESOURCE */
    f->host.oom_score_adj_floor = -500;

    f->sb = (ctr_spec_sandbox){
        .id = SANDBOX_ID,
        .name = "pod1",
        .namespace_ = "default",
        .uid = "uid-1",
        .netns_path = "/run/cric/sb/net",
        .ipcns_path = "/run/cric/sb/ipc",
        .utsns_path = "/run/cric/sb/uts",
        .pidns_path = "",
        .pid_mode = RUNTIME__V1__NAMESPACE_MODE__CONTAINER,
        .hostname = "pod1-host",
        .hostname_path = "/run/cric/sb/hostname",
        .hosts_path = "/run/cric/sb/hosts",
        .resolv_path = "/run/cric/sb/resolv.conf",
        .shm_path = "/run/cric/sb/shm",
        .cgroup_parent = "/kubepods/pod1",
    };
    runtime__v1__container_config__init(&f->cfg);
    runtime__v1__container_metadata__init(&f->meta);
    runtime__v1__linux_container_config__init(&f->linux);
    runtime__v1__linux_container_security_context__init(&f->sc);
    runtime__v1__linux_container_resources__init(&f->res);
    f->meta.name = "c1";
    f->cfg.metadata = &f->meta;
    f->cfg.linux = &f->linux;
    f->linux.security_context = &f->sc;
    f->linux.resources = &f->res;
    f->image = json_pack("{s:[s], s:[s,s], s:[s,s]}", "Entrypoint", "/bin/ep", "Cmd", "cmd1",
                         "cmd2", "Env", "PATH=/bin:/usr/bin", "IMG=1");

    f->in = (ctr_spec_input){
        .cfg = &f->cfg,
        .image_config = f->image,
        .image_name = "docker.io/library/busybox:latest",
        .rootfs = f->rootfs,
        .container_id = TEST_ID,
        .sandbox = &f->sb,
        .host = &f->host,
    };
    *state = f;
    return 0;
}

static inline int fx_teardown(void **state)
{
    fx *f = *state;
    json_decref(f->spec);
    json_decref(f->image);
    ctr_spec_extra_free(&f->extra);
    cric_err e = {0};
    fs_rm_rf(f->dir, &e);
    free(f);
    return 0;
}

/* Builds; returns the rc. The previous spec/extras are released. */
static inline int fx_build(fx *f)
{
    json_decref(f->spec);
    f->spec = NULL;
    ctr_spec_extra_free(&f->extra);
    memset(&f->err, 0, sizeof(f->err));
    int rc = ctr_spec_build(&f->in, &f->spec, &f->extra, &f->err);
    if (rc != 0)
        assert_null(f->spec);
    return rc;
}

static inline void fx_build_ok(fx *f)
{
    int rc = fx_build(f);
    if (rc != 0)
        fail_msg("ctr_spec_build: %s", f->err.msg);
}

static inline void fx_build_fails(fx *f, cric_errkind kind)
{
    int rc = fx_build(f);
    if (rc == 0)
        fail_msg("ctr_spec_build succeeded, expected an error");
    if (f->err.kind != kind)
        fail_msg("error kind %s, expected %s: %s", cric_errkind_name(f->err.kind),
                 cric_errkind_name(kind), f->err.msg);
}

/* Gets a nested value by a path like "process.user.uid" (array index as a number). */
static inline json_t *jget(json_t *root, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *cur = root;
    char *save = NULL;
    for (char *k = strtok_r(buf, ".", &save); k && cur; k = strtok_r(NULL, ".", &save)) {
        if (json_is_array(cur))
            cur = json_array_get(cur, (size_t)atoi(k));
        else
            cur = json_object_get(cur, k);
    }
    return cur;
}

static inline const char *jstr(json_t *root, const char *path)
{
    json_t *v = jget(root, path);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static inline long long jint(json_t *root, const char *path)
{
    json_t *v = jget(root, path);
    if (!json_is_integer(v))
        fail_msg("%s is not an integer", path);
    return json_integer_value(v);
}

/* True when the string array at path contains s. */
static inline bool jhas(json_t *root, const char *path, const char *s)
{
    json_t *a = jget(root, path);
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) if (json_is_string(v) &&
                                    strcmp(json_string_value(v), s) == 0) return true;
    return false;
}

/* The args as one space-joined string. */
static inline char *jjoin(json_t *root, const char *path, char *buf, size_t n)
{
    buf[0] = '\0';
    json_t *a = jget(root, path);
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        size_t l = strlen(buf);
        snprintf(buf + l, n - l, "%s%s", i ? " " : "", json_string_value(v));
    }
    return buf;
}

/* The mount with this destination, or NULL. */
static inline json_t *jmount(json_t *spec, const char *dest)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(spec, "mounts"), i, m)
    {
        if (strcmp(json_string_value(json_object_get(m, "destination")), dest) == 0)
            return m;
    }
    return NULL;
}

static inline size_t jmount_count(json_t *spec, const char *dest)
{
    size_t i, n = 0;
    json_t *m;
    json_array_foreach(json_object_get(spec, "mounts"), i, m)
    {
        n += strcmp(json_string_value(json_object_get(m, "destination")), dest) == 0;
    }
    return n;
}

#endif
