/* CreateContainer: reserve the name, record the container as "creating",
 * hold the image, mount the rootfs, write the bundle and let cric-shim run
 * `runtime create`. Any failure undoes everything (ctr_destroy). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctr/ctr_int.h"
#include "image/image.h"
#include "pod/pod.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/ids.h"
#include "util/log.h"

#define _cleanup_(f) __attribute__((cleanup(f)))
#define NAME_MAX_LEN 253
#define LOG_PATH_MAX 2048

static void pod_info_freep(pod_info **p)
{
    if (*p)
        pod_info_free(*p);
}

static void image_info_freep(image_info **p)
{
    if (*p)
        image_info_free(*p);
}

int ctr_config_validate(const Runtime__V1__ContainerConfig *cfg, cric_err *err)
{
    if (!cfg)
        return cric_err_set(err, CRIC_ERR_INVALID, "CreateContainer: config is required");
    if (!cfg->metadata || !cfg->metadata->name || !cfg->metadata->name[0])
        return cric_err_set(err, CRIC_ERR_INVALID, "CreateContainer: metadata.name is required");
    const char *name = cfg->metadata->name;
    if (strlen(name) > NAME_MAX_LEN)
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "CreateContainer: metadata.name is longer than %d bytes", NAME_MAX_LEN);
    bool printable = true;
    for (const char *p = name; *p; p++)
        printable = printable && (unsigned char)*p >= 0x20 && *p != 0x7f;
    if (!printable || !name_is_safe_component(name, strlen(name), NAME_MAX_LEN))
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "CreateContainer: metadata.name \"%.80s\" must be printable, without "
                            "'/', and not \".\" or \"..\"",
                            name);
    if (!cfg->image || !cfg->image->image || !cfg->image->image[0])
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: image is required",
                            cfg->metadata->name);
    const char *lp = cfg->log_path ? cfg->log_path : "";
    if (strlen(lp) > LOG_PATH_MAX)
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: log_path is too long",
                            cfg->metadata->name);
    /* log_path is relative to the pod's log directory: no ".." component */
    for (const char *p = lp; *p;) {
        const char *slash = strchr(p, '/');
        size_t l = slash ? (size_t)(slash - p) : strlen(p);
        if (l == 2 && p[0] == '.' && p[1] == '.')
            return cric_err_set(err, CRIC_ERR_INVALID,
                                "container %s: log_path \"%.200s\" leaves the log directory",
                                cfg->metadata->name, lp);
        p += l;
        while (*p == '/')
            p++;
    }
    return 0;
}

/* s->mu held: a container (maybe still being created) of that pod with the
 * same name and attempt. */
static ctr_rec *find_name(ctr_service *s, const char *pod_id, const char *name, uint32_t attempt)
{
    for (size_t i = 0; i < s->n; i++) {
        ctr_rec *r = s->items[i];
        if (r->attempt == attempt && strcmp(r->pod_id, pod_id) == 0 && strcmp(r->name, name) == 0)
            return r;
    }
    return NULL;
}

static int copy_config(ctr_rec *r, const Runtime__V1__ContainerConfig *cfg, cric_err *err)
{
    size_t len = protobuf_c_message_get_packed_size(&cfg->base);
    r->config_bin = malloc(len ? len : 1);
    if (!r->config_bin)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    r->config_len = protobuf_c_message_pack(&cfg->base, r->config_bin);
    r->config = runtime__v1__container_config__unpack(NULL, r->config_len, r->config_bin);
    if (!r->config)
        return cric_err_set(err, CRIC_ERR_INTERNAL, "container %s: copy the config", r->id);
    return 0;
}

static void fill_sandbox(ctr_spec_sandbox *sb, const pod_info *p)
{
    memset(sb, 0, sizeof(*sb));
    sb->id = p->id;
    sb->name = p->name;
    sb->namespace_ = p->namespace_;
    sb->uid = p->uid;
    sb->netns_path = p->netns_path;
    sb->ipcns_path = p->ipcns_path;
    sb->utsns_path = p->utsns_path;
    sb->pidns_path = p->pidns_path;
    sb->pid_mode = p->pid_mode;
    sb->hostname = p->hostname;
    sb->hostname_path = p->hostname_path;
    sb->hosts_path = p->hosts_path;
    sb->resolv_path = p->resolv_path;
    sb->shm_path = p->shm_path;
    sb->cgroup_parent = p->cgroup_parent;
    sb->sysctl_keys = p->sysctl_keys;
    sb->sysctl_values = p->sysctl_values;
    sb->n_sysctls = p->n_sysctls;
    sb->privileged = p->privileged;
    sb->supplemental_groups = p->supplemental_groups;
    sb->n_supplemental_groups = p->n_supplemental_groups;
}

/* PID mode TARGET: the target container's pid namespace. */
static int target_pidns(ctr_service *s, const Runtime__V1__ContainerConfig *cfg, char *buf,
                        size_t size, cric_err *err)
{
    buf[0] = '\0';
    const Runtime__V1__LinuxContainerSecurityContext *sc =
        cfg->linux ? cfg->linux->security_context : NULL;
    if (!sc || !sc->namespace_options ||
        sc->namespace_options->pid != RUNTIME__V1__NAMESPACE_MODE__TARGET)
        return 0;
    ctr_rec *t = NULL;
    if (ctr_get(s, sc->namespace_options->target_id, &t, err) < 0)
        return cric_err_prefix(err, "container %s: PID namespace target: ", cfg->metadata->name);
    pthread_mutex_lock(&s->mu);
    int pid = t->state == CTR_RUNNING || t->state == CTR_CREATED ? t->pid : 0;
    pthread_mutex_unlock(&s->mu);
    ctr_rec_unref(s, t);
    if (pid <= 0)
        return cric_err_set(err, CRIC_ERR_PRECONDITION,
                            "container %s: PID namespace target %s is not running",
                            cfg->metadata->name, sc->namespace_options->target_id);
    snprintf(buf, size, "/proc/%d/ns/pid", pid);
    return 0;
}

static int write_bundle(ctr_service *s, ctr_rec *r, const pod_info *p, const image_info *img,
                        ctr_spec_extra *x, cric_err *err)
{
    char tpid[64];
    if (target_pidns(s, r->config, tpid, sizeof(tpid), err) < 0)
        return -1;
    ctr_spec_sandbox sb;
    fill_sandbox(&sb, p);
    char volumes[4200];
    snprintf(volumes, sizeof(volumes), "%s/volumes", r->wdir);
    ctr_spec_input in = {
        .cfg = r->config,
        .image_config = img->config,
        .image_name = r->image,
        .rootfs = r->rootfs,
        .container_id = r->id,
        .volumes_dir = volumes,
        .target_pidns_path = tpid,
        .sandbox = &sb,
        .host = &s->host,
    };
    json_t *spec = NULL;
    if (ctr_spec_build(&in, &spec, x, err) < 0)
        return -1;
    char *text = json_dumps(spec, JSON_COMPACT);
    json_decref(spec);
    if (!text)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    char path[4200];
    snprintf(path, sizeof(path), "%s/config.json", r->bundle);
    int rc = ctr_spec_create_dirs(x, r->rootfs, err);
    if (rc == 0)
        rc = fs_write_atomic(path, text, strlen(text), 0600, err);
    free(text);
    return rc;
}

static int make_log_path(ctr_rec *r, const pod_info *p, cric_err *err)
{
    const char *dir = p->log_directory ? p->log_directory : "";
    const char *rel = r->config->log_path ? r->config->log_path : "";
    if (!dir[0] || !rel[0]) {
        r->log_path = strdup("");
        return r->log_path ? 0 : cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    }
    if (asprintf(&r->log_path, "%s/%s", dir, rel) < 0) {
        r->log_path = NULL;
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    }
    char parent[4200];
    snprintf(parent, sizeof(parent), "%s", r->log_path);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent) {
        *slash = '\0';
        if (fs_mkdir_p(parent, 0755, err) < 0)
            return cric_err_prefix(err, "container %s: log directory: ", r->id);
    }
    return 0;
}

static int launch(ctr_service *s, ctr_rec *r, const ctr_spec_extra *x, pid_t *pid, cric_err *err)
{
    char memcg[4200] = "";
    if (s->memory_mount && x->cgroups_path)
        snprintf(memcg, sizeof(memcg), "%s%s%s", s->memory_mount,
                 x->cgroups_path[0] == '/' ? "" : "/", x->cgroups_path);
    struct shim_launch_opts o = {
        .shim_path = s->shim_path,
        .id = r->id,
        .bundle = r->bundle,
        .state_dir = r->bundle,
        .runtime_path = r->runtime,
        .runtime_root = r->runtime_root,
        .log_path = r->log_path[0] ? r->log_path : NULL,
        .memory_cgroup = memcg[0] ? memcg : NULL,
        .tty = r->config->tty,
        .stdin_open = r->config->stdin,
        .stdin_once = r->config->stdin_once,
    };
    o.runtime_fd = sealed_exes_fd(s->exes, r->runtime);
    o.has_runtime_fd = o.runtime_fd >= 0;
    return shim_launch(&o, pid, err);
}

/* Everything after the name is reserved and the row says "creating". */
static int create_steps(ctr_service *s, ctr_rec *r, const pod_info *p, cric_err *err)
{
    _cleanup_(image_info_freep) image_info *img = NULL;
    if (image_resolve(s->images, r->config->image->image, &img, err) < 0)
        return cric_err_prefix(err, "container %s: ", r->name);
    r->image_id = strdup(img->id);
    r->image_ref = strdup(img->n_repo_digests ? img->repo_digests[0] : img->id);
    if (!r->image_id || !r->image_ref)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    if (ctr_persist(s, r, err) < 0)
        return -1;
    if (image_hold(s->images, img->id, r->id, err) < 0)
        return cric_err_prefix(err, "container %s: ", r->id);
    if (fs_mkdir_p(r->bundle, 0700, err) < 0 || fs_mkdir_p(r->wdir, 0700, err) < 0)
        return cric_err_prefix(err, "container %s: ", r->id);
    if (ctr_rootfs_mount(r, img->layer_dirs, img->n_layers, err) < 0)
        return -1;
    ctr_spec_extra x;
    memset(&x, 0, sizeof(x));
    if (write_bundle(s, r, p, img, &x, err) < 0)
        return -1;
    r->stop_signal = x.stop_signal;
    r->uid = x.uid;
    r->gid = x.gid;
    if (x.n_additional_gids) {
        r->gids = malloc(x.n_additional_gids * sizeof(*r->gids));
        if (r->gids) {
            memcpy(r->gids, x.additional_gids, x.n_additional_gids * sizeof(*r->gids));
            r->n_gids = x.n_additional_gids;
        }
    }
    pid_t pid = 0;
    int rc = make_log_path(r, p, err);
    if (rc == 0)
        rc = launch(s, r, &x, &pid, err);
    ctr_spec_extra_free(&x);
    if (rc < 0)
        return -1;
    pthread_mutex_lock(&s->mu);
    r->pid = pid;
    r->state = CTR_CREATED;
    pthread_mutex_unlock(&s->mu);
    if (ctr_persist(s, r, err) < 0)
        return -1;
    return 0;
}

int ctr_create(ctr_service *s, const char *pod_id, const Runtime__V1__ContainerConfig *cfg,
               char id_out[65], cric_err *err)
{
    if (ctr_config_validate(cfg, err) < 0)
        return -1;
    _cleanup_(pod_info_freep) pod_info *p = NULL;
    if (pod_lookup(s->pods, pod_id, &p, err) < 0)
        return -1;
    if (!p->ready)
        return cric_err_set(err, CRIC_ERR_PRECONDITION,
                            "container %s: pod sandbox %s is not ready (stopped)",
                            cfg->metadata->name, p->id);
    const char *root = NULL;
    const char *runtime = ctr_runtime_for_handler(s, p->runtime_handler, &root);
    if (!runtime)
        return cric_err_set(err, CRIC_ERR_PRECONDITION,
                            "container %s: runtime handler \"%s\" of pod sandbox %s is not "
                            "configured",
                            cfg->metadata->name, p->runtime_handler, p->id);
    ctr_rec *r = ctr_rec_new(s);
    if (!r)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    if (id_random_hex(r->id) < 0) {
        ctr_rec_unref_locked(r);
        return cric_err_set(err, CRIC_ERR_INTERNAL, "container id: no randomness");
    }
    memcpy(r->pod_id, p->id, sizeof(r->pod_id));
    r->name = strdup(cfg->metadata->name);
    r->attempt = cfg->metadata->attempt;
    r->image = strdup(cfg->image->image);
    r->handler = strdup(p->runtime_handler);
    r->runtime = strdup(runtime);
    if (root)
        r->runtime_root = strdup(root);
    else if (asprintf(&r->runtime_root, "%s/runtime/%s", s->cfg->state, p->runtime_handler) < 0)
        r->runtime_root = NULL;
    if (asprintf(&r->bundle, "%s/%s", s->state_dir, r->id) < 0)
        r->bundle = NULL;
    if (asprintf(&r->rootfs, "%s/%s/rootfs", s->state_dir, r->id) < 0)
        r->rootfs = NULL;
    if (asprintf(&r->wdir, "%s/%s", s->root_dir, r->id) < 0)
        r->wdir = NULL;
    r->created_at = ctr_now_ns();
    if (!r->name || !r->image || !r->handler || !r->runtime || !r->runtime_root || !r->bundle ||
        !r->rootfs || !r->wdir) {
        ctr_rec_unref_locked(r);
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    }
    if (copy_config(r, cfg, err) < 0) {
        ctr_rec_unref_locked(r);
        return -1;
    }

    /* Reserve the name (hidden while creating). */
    pthread_mutex_lock(&s->mu);
    ctr_rec *dup = find_name(s, r->pod_id, r->name, r->attempt);
    if (dup) {
        cric_err_set(err, CRIC_ERR_EXISTS,
                     "container name \"%s\" (attempt %u) in pod sandbox %s is reserved for "
                     "container %s",
                     r->name, r->attempt, r->pod_id, dup->id);
        pthread_mutex_unlock(&s->mu);
        ctr_rec_unref_locked(r);
        return -1;
    }
    int rc = ctr_table_add(s, r, err);
    pthread_mutex_unlock(&s->mu);
    if (rc < 0) {
        ctr_rec_unref_locked(r);
        return -1;
    }

    pthread_mutex_lock(&r->op_mu);
    int rc2 = create_steps(s, r, p, err);
    if (rc2 == 0) {
        /* the pod may have been stopped meanwhile (its stop hook waits for
         * this create through the operation lock, or has already run) */
        pod_info *now = NULL;
        cric_err e = {0};
        if (pod_lookup(s->pods, r->pod_id, &now, &e) < 0 || !now->ready)
            rc2 = cric_err_set(err, CRIC_ERR_PRECONDITION,
                               "container %s: pod sandbox %s was stopped during the create",
                               r->name, r->pod_id);
        if (now)
            pod_info_free(now);
    }
    if (rc2 < 0) {
        log_warn("ctr", "container %s (%s) in pod %s: create failed: %s", r->id, r->name, r->pod_id,
                 err->msg);
        cric_err e = {0};
        if (ctr_destroy(s, r, &e) < 0)
            log_warn("ctr", "container %s: undo create: %s", r->id, e.msg);
        pthread_mutex_unlock(&r->op_mu);
        ctr_rec_unref(s, r);
        return -1;
    }
    pthread_mutex_unlock(&r->op_mu);
    ctr_watch_add(s, r);
    ctr_event(s, 0, r); /* CONTAINER_CREATED_EVENT */
    memcpy(id_out, r->id, 65);
    log_info("ctr", "container %s (%s) created in pod %s with %s", r->id, r->name, r->pod_id,
             r->handler);
    ctr_rec_unref(s, r);
    return 0;
}
