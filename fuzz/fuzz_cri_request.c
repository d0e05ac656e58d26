/* Every CRI request type as the handlers receive it: the first byte picks a
 * method of RuntimeService or ImageService (api/cri.proto), the rest is the
 * request message. Decoding is protobuf-c's plus cric's string check
 * (src/cri/pbcheck.c); then the input validation the domain code runs before
 * it touches anything: RunPodSandbox's sandbox config (src/pod), CreateContainer's
 * config and the OCI spec built from it (src/ctr, against a fake rootfs),
 * image references (src/image), ids (src/util). */
#include <jansson.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cri.pb-c.h"
#include "cri/arena.h"
#include "cri/image_conv.h"
#include "cri/pbcheck.h"
#include "cri/sandbox_conv.h"
#include "ctr/ctr.h"
#include "ctr/spec.h"
#include "daemon/config.h"
#include "fuzz/fuzz_util.h"
#include "image/reference.h"
#include "pod/service_int.h"
#include "util/fs.h"
#include "util/ids.h"

#define SANDBOX_ID "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define CTR_ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char dir[64], rootfs[128];
static cric_config cfg;
static ctr_host_facts host;
static json_t *image_config;

static void cleanup(void)
{
    cric_err e = {0};
    fs_rm_rf(dir, &e);
    json_decref(image_config);
    config_free(&cfg);
}

static void put(const char *rel, const char *text)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", rootfs, rel);
    cric_err e = {0};
    FUZZ_CHECK(fs_write_atomic(p, text, strlen(text), 0644, &e) == 0);
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/cric-fuzz-cri-XXXXXX");
    FUZZ_CHECK(mkdtemp(dir));
    snprintf(rootfs, sizeof(rootfs), "%s/rootfs", dir);
    char p[200];
    snprintf(p, sizeof(p), "%s/etc", rootfs);
    cric_err e = {0};
    FUZZ_CHECK(fs_mkdir_p(p, 0755, &e) == 0);
    put("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n");
    put("etc/group", "root:x:0:\nwheel:x:10:root,alice\nalice:x:1000:alice\n");
    config_defaults(&cfg);
    host = (ctr_host_facts){.cgroup_layout = CTR_CGROUP_HYBRID,
                            .swap_limit = true,
                            .hugetlb = true,
                            .cap_bounding = (CTR_CAP_BIT(CTR_CAP_MAX) << 1) - 1,
                            .oom_score_adj_floor = -500};
    image_config = json_pack("{s:[s], s:[s], s:[s], s:s, s:{s:{}}}", "Entrypoint", "/bin/sh", "Cmd",
                             "-c", "Env", "PATH=/bin", "User", "alice", "Volumes", "/data", "");
    FUZZ_CHECK(image_config);
    atexit(cleanup);
}

static void check_id(const char *id)
{
    if (id && id[0] && !id_is_prefix(id))
        FUZZ_CHECK(strlen(id) > 64 || strspn(id, "0123456789abcdef") != strlen(id));
}

static void check_image(const Runtime__V1__ImageSpec *spec)
{
    const char *ref = cri_image_spec_ref(spec);
    image_ref r;
    cric_err err = {0};
    if (ref[0] && ref_parse(ref, &r, &err) < 0)
        FUZZ_CHECK(err.msg[0]);
}

static void run_pod_sandbox(const Runtime__V1__RunPodSandboxRequest *req)
{
    if (!req->config)
        return;
    cri_arena arena = {0};
    pod_config pc;
    cri_pod_config(&arena, req, &pc);
    pc.pod_cidr = "";
    pod_service svc = {.cfg = &cfg, .pause_bin = "/nonexistent/cric-pause"};
    const char *handler = NULL;
    cric_err err = {0};
    if (pods_validate(&svc, &pc, &handler, &err) < 0)
        FUZZ_CHECK(err.msg[0]);
    else
        FUZZ_CHECK(handler && config_find_handler(&cfg, handler));
    arena_release(&arena);
}

static void create_container(const Runtime__V1__CreateContainerRequest *req)
{
    check_id(req->pod_sandbox_id);
    cric_err err = {0};
    if (ctr_config_validate(req->config, &err) < 0) {
        FUZZ_CHECK(err.msg[0]);
        return;
    }
    check_image(req->config->image);
    ctr_spec_sandbox sb = {
        .id = SANDBOX_ID,
        .name = "pod",
        .namespace_ = "default",
        .uid = "uid",
        .netns_path = "/run/cric/sb/net",
        .ipcns_path = "/run/cric/sb/ipc",
        .utsns_path = "/run/cric/sb/uts",
        .pidns_path = "",
        .pid_mode = RUNTIME__V1__NAMESPACE_MODE__CONTAINER,
        .hostname = "pod",
        .hostname_path = "/run/cric/sb/hostname",
        .hosts_path = "/run/cric/sb/hosts",
        .resolv_path = "/run/cric/sb/resolv.conf",
        .shm_path = "/run/cric/sb/shm",
        .cgroup_parent = "/kubepods/pod",
    };
    char volumes[200];
    snprintf(volumes, sizeof(volumes), "%s/volumes", dir);
    ctr_spec_input in = {
        .cfg = req->config,
        .image_config = image_config,
        .image_name = "busybox",
        .rootfs = rootfs,
        .container_id = CTR_ID,
        .volumes_dir = volumes,
        .sandbox = &sb,
        .host = &host,
    };
    json_t *spec = NULL;
    ctr_spec_extra x;
    if (ctr_spec_build(&in, &spec, &x, &err) < 0) {
        FUZZ_CHECK(err.msg[0] && !spec);
        return;
    }
    /* Directories the caller would create: host ones under the volumes dir
     * or absolute, rootfs ones relative and never with a ".." component. */
    for (size_t i = 0; i < x.n_mkdirs; i++) {
        const char *p = x.mkdirs[i].path;
        FUZZ_CHECK(p);
        if (x.mkdirs[i].in_rootfs)
            for (const char *c = p; (c = strstr(c, "..")); c += 2)
                FUZZ_CHECK(!((c == p || c[-1] == '/') && (c[2] == '/' || c[2] == '\0')));
    }
    char *text = json_dumps(spec, JSON_COMPACT);
    FUZZ_CHECK(text);
    free(text);
    char *argv[] = {"sh", "-c", "true"};
    json_t *proc = NULL;
    if (ctr_spec_exec_process(spec, argv, 3, false, &proc, &err) == 0)
        json_decref(proc);
    json_decref(spec);
    ctr_spec_extra_free(&x);
}

static void validate(const ProtobufCMessageDescriptor *d, const ProtobufCMessage *m)
{
    if (d == &runtime__v1__run_pod_sandbox_request__descriptor) {
        run_pod_sandbox((const void *)m);
    } else if (d == &runtime__v1__create_container_request__descriptor) {
        create_container((const void *)m);
    } else if (d == &runtime__v1__pull_image_request__descriptor) {
        check_image(((const Runtime__V1__PullImageRequest *)m)->image);
    } else if (d == &runtime__v1__image_status_request__descriptor) {
        check_image(((const Runtime__V1__ImageStatusRequest *)m)->image);
    } else if (d == &runtime__v1__remove_image_request__descriptor) {
        check_image(((const Runtime__V1__RemoveImageRequest *)m)->image);
    }
    /* Every top-level string field named *_id is an id or a prefix. */
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        size_t n = strlen(f->name);
        if (f->type == PROTOBUF_C_TYPE_STRING && f->label != PROTOBUF_C_LABEL_REPEATED && n > 3 &&
            strcmp(f->name + n - 3, "_id") == 0)
            check_id(*(char *const *)((const char *)m + f->offset));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    if (!dir[0])
        setup();
    if (size < 1)
        return 0;
    const ProtobufCServiceDescriptor *svc = data[0] & 0x80
                                                ? &runtime__v1__image_service__descriptor
                                                : &runtime__v1__runtime_service__descriptor;
    const ProtobufCMethodDescriptor *md = &svc->methods[(data[0] & 0x7f) % svc->n_methods];
    const ProtobufCMessageDescriptor *d = md->input;
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, size - 1, data + 1);
    if (!m)
        return 0;
    char why[400];
    if (cri_pb_check_strings(d, data + 1, size - 1, why, sizeof(why)) < 0)
        FUZZ_CHECK(why[0]);
    else
        validate(d, m);
    /* What decoded encodes again. */
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n ? n : 1);
    FUZZ_CHECK(buf && protobuf_c_message_pack(m, buf) == n);
    free(buf);
    protobuf_c_message_free_unpacked(m, NULL);
    return 0;
}
