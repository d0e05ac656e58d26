/* spec_driver: builds an OCI bundle's config.json with ctr_spec_build, for
 * the integration tests that run the result with crun and runc.
 *
 *   spec_driver --config CFG.pb --rootfs DIR --bundle DIR --id ID
 *               [--image-config IMG.json] [--sandbox SANDBOX.json] [--exec-cmd SCRIPT]
 *
 * CFG.pb is a serialized runtime.v1.ContainerConfig; IMG.json the "config"
 * object of an image config; SANDBOX.json the sandbox facts:
 *   {"id","name","namespace","uid","netns","ipcns","utsns","pidns","pid_mode",
 *    "hostname","hostname_path","hosts_path","resolv_path","shm_path",
 *    "cgroup_parent","privileged","sysctls":{..},"pids_limit","volumes_dir"}
 * Creates the directories the extras ask for, writes DIR/config.json and
 * prints the extras as JSON on stdout. Exit 1 with "KIND: message" on
 * stderr on failure. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cri.pb-c.h"
#include "ctr/spec.h"
#include "util/cleanup.h"
#include "util/fs.h"

static const char *sget(json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : "";
}

static int die(const cric_err *e)
{
    fprintf(stderr, "%s: %s\n", cric_errkind_name(e->kind), e->msg);
    return 1;
}

int main(int argc, char **argv)
{
    const char *cfg_path = NULL, *rootfs = NULL, *bundle = NULL, *id = NULL, *img_path = NULL,
               *sb_path = NULL, *exec_cmd = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--config") == 0)
            cfg_path = argv[i + 1];
        else if (strcmp(argv[i], "--rootfs") == 0)
            rootfs = argv[i + 1];
        else if (strcmp(argv[i], "--bundle") == 0)
            bundle = argv[i + 1];
        else if (strcmp(argv[i], "--id") == 0)
            id = argv[i + 1];
        else if (strcmp(argv[i], "--image-config") == 0)
            img_path = argv[i + 1];
        else if (strcmp(argv[i], "--sandbox") == 0)
            sb_path = argv[i + 1];
        else if (strcmp(argv[i], "--exec-cmd") == 0)
            exec_cmd = argv[i + 1];
    }
    if (!cfg_path || !rootfs || !bundle || !id) {
        fprintf(stderr, "usage: spec_driver --config CFG.pb --rootfs DIR --bundle DIR --id ID "
                        "[--image-config J] [--sandbox J]\n");
        return 2;
    }
    cric_err e = {0};
    _cleanup_free_ char *raw = NULL;
    size_t len = 0;
    if (fs_read_file(cfg_path, 1 << 20, &raw, &len, &e))
        return die(&e);
    Runtime__V1__ContainerConfig *cfg =
        runtime__v1__container_config__unpack(NULL, len, (const uint8_t *)raw);
    if (!cfg) {
        fprintf(stderr, "INVALID: cannot decode %s\n", cfg_path);
        return 1;
    }
    json_error_t jerr;
    json_t *img = NULL, *sbj = NULL;
    if (img_path && !(img = json_load_file(img_path, 0, &jerr))) {
        fprintf(stderr, "INVALID: %s: %s\n", img_path, jerr.text);
        return 1;
    }
    if (sb_path && !(sbj = json_load_file(sb_path, 0, &jerr))) {
        fprintf(stderr, "INVALID: %s: %s\n", sb_path, jerr.text);
        return 1;
    }
    if (!sbj)
        sbj = json_object();

    ctr_host_facts host;
    ctr_host_facts_detect(&host);

    const json_t *sys = json_object_get(sbj, "sysctls");
    size_t nsys = json_is_object(sys) ? json_object_size(sys) : 0;
    char **keys = calloc(nsys + 1, sizeof(char *)), **vals = calloc(nsys + 1, sizeof(char *));
    size_t k = 0;
    const char *key;
    json_t *val;
    if (nsys)
        json_object_foreach((json_t *)sys, key, val)
        {
            keys[k] = (char *)key;
            vals[k++] = (char *)json_string_value(val);
        }
    ctr_spec_sandbox sb = {
        .id = sget(sbj, "id"),
        .name = sget(sbj, "name"),
        .namespace_ = sget(sbj, "namespace"),
        .uid = sget(sbj, "uid"),
        .netns_path = sget(sbj, "netns"),
        .ipcns_path = sget(sbj, "ipcns"),
        .utsns_path = sget(sbj, "utsns"),
        .pidns_path = sget(sbj, "pidns"),
        .pid_mode = (int)json_integer_value(json_object_get(sbj, "pid_mode")),
        .hostname = sget(sbj, "hostname"),
        .hostname_path = sget(sbj, "hostname_path"),
        .hosts_path = sget(sbj, "hosts_path"),
        .resolv_path = sget(sbj, "resolv_path"),
        .shm_path = sget(sbj, "shm_path"),
        .cgroup_parent = sget(sbj, "cgroup_parent"),
        .sysctl_keys = keys,
        .sysctl_values = vals,
        .n_sysctls = nsys,
        .privileged = json_is_true(json_object_get(sbj, "privileged")),
    };
    ctr_spec_input in = {
        .cfg = cfg,
        .image_config = img,
        .image_name = "busybox:test",
        .rootfs = rootfs,
        .container_id = id,
        .volumes_dir = sget(sbj, "volumes_dir"),
        .sandbox = &sb,
        .host = &host,
        .pids_limit = json_integer_value(json_object_get(sbj, "pids_limit")),
    };
    json_t *spec = NULL;
    ctr_spec_extra x;
    int rc = ctr_spec_build(&in, &spec, &x, &e);
    if (rc == 0) {
        rc = ctr_spec_create_dirs(&x, rootfs, &e);
        _cleanup_free_ char *out = NULL;
        if (rc == 0 && asprintf(&out, "%s/config.json", bundle) >= 0)
            rc = json_dump_file(spec, out, JSON_INDENT(1)) == 0 ? 0 : -1;
        if (rc == 0 && exec_cmd) {
            /* BUNDLE/exec-process.json: /bin/sh -c EXEC_CMD as ExecSync would run it */
            char *ev[] = {"/bin/sh", "-c", (char *)exec_cmd};
            json_t *proc = NULL;
            _cleanup_free_ char *ep = NULL;
            rc = ctr_spec_exec_process(spec, ev, 3, false, &proc, &e);
            if (rc == 0 && asprintf(&ep, "%s/exec-process.json", bundle) >= 0)
                rc = json_dump_file(proc, ep, JSON_INDENT(1)) == 0 ? 0 : -1;
            json_decref(proc);
        }
        json_t *gids = json_array(), *dirs = json_array(), *vols = json_array();
        for (size_t i = 0; i < x.n_additional_gids; i++)
            json_array_append_new(gids, json_integer(x.additional_gids[i]));
        for (size_t i = 0; i < x.n_mkdirs; i++)
            json_array_append_new(dirs, json_string(x.mkdirs[i].path));
        for (size_t i = 0; i < x.n_image_volumes; i++)
            json_array_append_new(vols, json_string(x.image_volumes[i]));
        json_t *ex = json_pack("{s:I, s:I, s:o, s:i, s:s, s:o, s:o, s:b}", "uid", (json_int_t)x.uid,
                               "gid", (json_int_t)x.gid, "additional_gids", gids, "stop_signal",
                               x.stop_signal, "cgroups_path", x.cgroups_path, "mkdirs", dirs,
                               "image_volumes", vols, "privileged", x.privileged);
        json_dumpf(ex, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(ex);
        json_decref(spec);
        ctr_spec_extra_free(&x);
    }
    free(keys);
    free(vals);
    json_decref(img);
    json_decref(sbj);
    runtime__v1__container_config__free_unpacked(cfg, NULL);
    return rc == 0 ? 0 : die(&e);
}
