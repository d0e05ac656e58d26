/* The pod service's entry points: RunPodSandbox/Stop/Remove orchestration,
 * queries, and recovery after a restart. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "pod/infra.h"
#include "pod/nspin.h"
#include "pod/record.h"
#include "pod/service_int.h"
#include "store/sandbox_store.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/ids.h"
#include "util/log.h"

#define NSFS_MAGIC_NUMBER 0x6e736673

/* Shut-down waits for operations that outlive the RPC server's grace period. */
static void op_begin(pod_service *s)
{
    pthread_mutex_lock(&s->mu);
    s->inflight++;
    pthread_mutex_unlock(&s->mu);
}

static void op_end(pod_service *s)
{
    pthread_mutex_lock(&s->mu);
    if (--s->inflight == 0)
        pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
}

static int run_op(pod_service *s, const pod_config *c, char id_out[65], cric_err *err)
{
    const char *handler = NULL;
    if (pods_validate(s, c, &handler, err) < 0)
        return -1;
    char id[CRIC_ID_LEN + 1];
    if (id_random_hex(id) < 0)
        return cric_err_errno(err, errno, "sandbox id: getrandom");
    pod_info *info = pods_info_new(s, c, id, handler);
    sandbox *sb = info ? pods_sb_new(info) : NULL;
    if (!sb) {
        pod_info_free(info);
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    }
    sb->creating = true;
    sb->refs++; /* ours */
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n; i++) {
        const pod_info *o = s->items[i]->info;
        if (strcmp(o->name, info->name) == 0 && strcmp(o->namespace_, info->namespace_) == 0 &&
            strcmp(o->uid, info->uid) == 0 && o->attempt == info->attempt) {
            pthread_mutex_unlock(&s->mu);
            pods_sb_free(sb);
            return cric_err_set(err, CRIC_ERR_EXISTS,
                                "sandbox name %s_%s_%s_%u is in use by sandbox %.12s", c->name,
                                c->namespace_, c->uid ? c->uid : "", c->attempt, o->id);
        }
    }
    if (pods_table_add(s, sb) < 0) {
        pthread_mutex_unlock(&s->mu);
        pods_sb_free(sb);
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    }
    pthread_mutex_unlock(&s->mu);

    int rc = pods_run_steps(s, sb, c, err);
    if (rc < 0) {
        log_warn("pod", "RunPodSandbox %s/%s failed, undoing: %s", info->namespace_, info->name,
                 err->msg);
        cric_err uerr = {0};
        if (pods_release_all(s, info, &uerr) < 0 ||
            sandbox_store_delete(s->db, info->id, &uerr) < 0) {
            /* The sandbox dir stays; the next start finishes the undo. */
            log_error("pod", "sandbox %.12s: undo incomplete: %s", info->id, uerr.msg);
        }
    } else {
        memcpy(id_out, id, sizeof(id));
        log_info("pod", "sandbox %.12s (%s/%s) ready", id, info->namespace_, info->name);
    }
    if (rc == 0)
        pthread_mutex_lock(&sb->op_mu); /* its events come before any Stop's */
    pthread_mutex_lock(&s->mu);
    if (rc < 0)
        pods_table_del(s, sb);
    else
        sb->creating = false;
    pthread_mutex_unlock(&s->mu);
    if (rc == 0) {
        pods_event(s, 0, id); /* CONTAINER_CREATED_EVENT */
        pods_event(s, 1, id); /* CONTAINER_STARTED_EVENT */
        pthread_mutex_unlock(&sb->op_mu);
    }
    pods_sb_unref(s, sb);
    return rc;
}

/* ------------------------------------------------------------- stop/remove */

/* Stops the containers and releases the runtime resources. The new state is
 * written to the database when it changed and persist is set (Remove
 * deletes the row instead). */
static int stop_locked(pod_service *s, sandbox *sb, bool persist, cric_err *err)
{
    if (s->stop_all && s->stop_all(s->hook_ctx, sb->info->id, err) < 0)
        return cric_err_prefix(err, "sandbox %.12s: stop containers: ", sb->info->id);
    pthread_mutex_lock(&s->mu);
    bool changed = sb->info->ready || sb->info->n_ips > 0;
    bool was_ready = sb->info->ready;
    sb->info->ready = false;
    pthread_mutex_unlock(&s->mu);
    /* NOTREADY is recorded before anything is released: a daemon killed half
     * way through the release must not come back with a READY sandbox whose
     * network (or namespaces) is already gone. The release itself is driven
     * by what is on disk, so a later Stop or Remove finishes it. */
    if (was_ready && pods_persist(s, sb, err) < 0) {
        pods_set_ready(s, sb, true);
        return cric_err_prefix(err, "sandbox %.12s: stop: ", sb->info->id);
    }
    int rc = pods_release_runtime(s, sb->info, err);
    if (was_ready)
        pods_event(s, 2, sb->info->id); /* CONTAINER_STOPPED_EVENT: it is not ready any more */
    if (rc == 0) {
        pthread_mutex_lock(&s->mu);
        for (size_t i = 0; i < sb->info->n_ips; i++)
            free(sb->info->ips[i]);
        sb->info->n_ips = 0;
        pthread_mutex_unlock(&s->mu);
    }
    cric_err perr = {0};
    if (changed && persist && pods_persist(s, sb, &perr) < 0 && rc == 0) {
        *err = perr;
        rc = -1;
    }
    return rc;
}

static int stop_op(pod_service *s, const char *id, cric_err *err)
{
    sandbox *sb;
    if (pods_get(s, id, &sb, err) < 0)
        return err->kind == CRIC_ERR_NOT_FOUND ? (cric_err_clear(err), 0) : -1;
    pthread_mutex_lock(&sb->op_mu);
    int rc = sb->removed ? 0 : stop_locked(s, sb, true, err);
    pthread_mutex_unlock(&sb->op_mu);
    if (rc == 0)
        log_info("pod", "sandbox %.12s stopped", sb->info->id);
    pods_sb_unref(s, sb);
    return rc;
}

static int remove_op(pod_service *s, const char *id, cric_err *err)
{
    sandbox *sb;
    if (pods_get(s, id, &sb, err) < 0)
        return err->kind == CRIC_ERR_NOT_FOUND ? (cric_err_clear(err), 0) : -1;
    pthread_mutex_lock(&sb->op_mu);
    int rc = 0;
    if (!sb->removed) {
        rc = stop_locked(s, sb, false, err);
        if (rc == 0 && s->remove_all && s->remove_all(s->hook_ctx, sb->info->id, err) < 0)
            rc = cric_err_prefix(err, "sandbox %.12s: remove containers: ", sb->info->id);
        /* Recorded before the sandbox dir goes: a daemon killed half way
         * through finishes the removal at its next start instead of listing
         * a sandbox whose files are half gone. */
        if (rc == 0 && !sb->info->removing) {
            pthread_mutex_lock(&s->mu);
            sb->info->removing = true;
            pthread_mutex_unlock(&s->mu);
            if (pods_persist(s, sb, err) < 0) {
                pthread_mutex_lock(&s->mu);
                sb->info->removing = false;
                pthread_mutex_unlock(&s->mu);
                rc = cric_err_prefix(err, "sandbox %.12s: remove: ", sb->info->id);
            }
        }
        if (rc == 0)
            rc = pods_release_all(s, sb->info, err);
        if (rc == 0)
            rc = sandbox_store_delete(s->db, sb->info->id, err);
        cric_err perr = {0};
        if (rc < 0 && pods_persist(s, sb, &perr) < 0)
            log_warn("pod", "%s", perr.msg);
        if (rc == 0) {
            pthread_mutex_lock(&s->mu);
            sb->removed = true;
            pods_table_del(s, sb);
            pthread_mutex_unlock(&s->mu);
            log_info("pod", "sandbox %.12s removed", sb->info->id);
            pods_event(s, 3, sb->info->id); /* CONTAINER_DELETED_EVENT */
        }
    }
    pthread_mutex_unlock(&sb->op_mu);
    pods_sb_unref(s, sb);
    return rc;
}

int pod_run(pod_service *s, const pod_config *c, char id_out[65], cric_err *err)
{
    op_begin(s);
    int rc = run_op(s, c, id_out, err);
    op_end(s);
    return rc;
}

int pod_stop(pod_service *s, const char *id, cric_err *err)
{
    op_begin(s);
    int rc = stop_op(s, id, err);
    op_end(s);
    return rc;
}

int pod_remove(pod_service *s, const char *id, cric_err *err)
{
    op_begin(s);
    int rc = remove_op(s, id, err);
    op_end(s);
    return rc;
}

/* ------------------------------------------------------------- queries */

int pod_lookup(pod_service *s, const char *id, pod_info **out, cric_err *err)
{
    pthread_mutex_lock(&s->mu);
    sandbox *sb = NULL;
    int rc = pods_table_find(s, id, &sb, err);
    if (rc == 0) {
        pods_refresh(s, sb);
        *out = pod_info_dup(sb->info);
        if (!*out)
            rc = cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int pod_list(pod_service *s, const pod_filter *f, pod_info ***out, size_t *n, cric_err *err)
{
    *out = NULL;
    *n = 0;
    if (f && f->id && f->id[0] && !id_is_prefix(f->id))
        return 0; /* no sandbox has such an id */
    pthread_mutex_lock(&s->mu);
    pod_info **v = calloc(s->n + 1, sizeof(*v));
    size_t k = 0;
    int rc = v ? 0 : cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    for (size_t i = 0; rc == 0 && i < s->n; i++) {
        const pod_info *p = s->items[i]->info;
        if (s->items[i]->creating)
            continue;
        pods_refresh(s, s->items[i]);
        if (f && f->id && f->id[0] && strncmp(p->id, f->id, strlen(f->id)) != 0)
            continue;
        if (f && f->has_state && f->state != (p->ready ? POD_STATE_READY : POD_STATE_NOTREADY))
            continue;
        if (f &&
            !pod_labels_match(f->labels, f->n_labels, p->label_keys, p->label_values, p->n_labels))
            continue;
        v[k] = pod_info_dup(p);
        if (!v[k])
            rc = cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
        else
            k++;
    }
    pthread_mutex_unlock(&s->mu);
    if (rc < 0) {
        pod_info_list_free(v, k);
        return -1;
    }
    *out = v;
    *n = k;
    return 0;
}

char *pod_verbose_json(pod_service *s, const pod_info *p)
{
    json_t *ips = json_array();
    for (size_t i = 0; i < p->n_ips; i++)
        json_array_append_new(ips, json_string(p->ips[i]));
    char cni[4096];
    pods_path(p, "cni.json", cni, sizeof(cni));
    json_t *cache = json_load_file(cni, 0, NULL);
    json_t *j = json_pack(
        "{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:O?, s:s}", "sandboxDir",
        p->sandbox_dir, "pid", p->infra_pid, "netns", p->netns_path, "ipcns", p->ipcns_path,
        "utsns", p->utsns_path, "pidns", p->pidns_path, "hostname", p->hostname, "cgroupParent",
        p->cgroup_parent, "runtimeHandler", p->runtime_handler, "ips", ips, "shm", p->shm_path,
        "cniResult", json_object_get(cache, "result"), "logDirectory", p->log_directory);
    json_decref(cache);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return text;
}

void pod_service_set_container_hooks(pod_service *s, pod_containers_hook stop_all,
                                     pod_containers_hook remove_all, void *ctx)
{
    pthread_mutex_lock(&s->mu);
    s->stop_all = stop_all;
    s->remove_all = remove_all;
    s->hook_ctx = ctx;
    pthread_mutex_unlock(&s->mu);
}

void pod_service_set_event_hook(pod_service *s, pod_event_hook fn, void *ctx)
{
    pthread_mutex_lock(&s->mu);
    s->event_hook = fn;
    s->event_ctx = ctx;
    pthread_mutex_unlock(&s->mu);
}

void pods_event(pod_service *s, int type, const char *id)
{
    pthread_mutex_lock(&s->mu);
    pod_event_hook fn = s->event_hook;
    void *ctx = s->event_ctx;
    pthread_mutex_unlock(&s->mu);
    if (fn)
        fn(ctx, type, id);
}

/* ------------------------------------------------------------- start-up */

static bool is_nsfs(const char *path)
{
    struct statfs st;
    return path[0] && statfs(path, &st) == 0 && (unsigned long)st.f_type == NSFS_MAGIC_NUMBER;
}

/* A sandbox with its own network is READY only with the network up: the CNI
 * cache holds ADD's result from the end of a successful ADD until DEL. */
static bool network_up(const pod_info *p)
{
    if (p->net_mode != POD_NS_POD)
        return true;
    char path[4200];
    pods_path(p, "cni.json", path, sizeof(path));
    json_t *cache = json_load_file(path, 0, NULL);
    bool up = cache && json_is_object(json_object_get(cache, "result"));
    json_decref(cache);
    return up;
}

/* After a restart: is what the sandbox needs still there? */
static bool still_alive(const pod_info *p)
{
    if (p->netns_path[0] && !is_nsfs(p->netns_path))
        return false;
    if (!network_up(p))
        return false;
    if (p->ipcns_path[0] && !is_nsfs(p->ipcns_path))
        return false;
    if (p->pid_mode == POD_NS_POD) {
        int pid = 0;
        unsigned long long start = 0;
        if (pods_read_infra(p, &pid, &start) < 0 || infra_start_time(pid) != start)
            return false;
    }
    return true;
}

static int load_row(void *arg, const sandbox_row *row, cric_err *err)
{
    pod_service *s = arg;
    json_error_t jerr;
    json_t *j = json_loads(row->data, 0, &jerr);
    pod_info *p = j ? record_from_json(j) : NULL;
    json_decref(j);
    char expect[4200];
    if (p)
        snprintf(expect, sizeof(expect), "%s/%s", s->dir, p->id);
    if (!p || strcmp(p->id, row->id) != 0 || strcmp(p->sandbox_dir, expect) != 0) {
        log_error("pod", "sandbox %.12s: unreadable database record; dropping it", row->id);
        pod_info_free(p);
        return sandbox_store_delete(s->db, row->id, err);
    }
    if (p->removing) {
        cric_err rerr = {0};
        if (pods_release_all(s, p, &rerr) == 0 && sandbox_store_delete(s->db, p->id, &rerr) == 0) {
            log_info("pod", "sandbox %.12s: finished a removal interrupted by a restart", p->id);
            pod_info_free(p);
            return 0;
        }
        log_warn("pod", "sandbox %.12s: finishing an interrupted removal: %s", p->id, rerr.msg);
        p->ready = false; /* listed NOTREADY; the next RemovePodSandbox retries */
    }
    sandbox *sb = pods_sb_new(p);
    if (!sb) {
        pod_info_free(p);
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    }
    int pid;
    unsigned long long start;
    if (pods_read_infra(p, &pid, &start) == 0)
        sb->infra_start = start;
    if (p->ready && !still_alive(p)) {
        log_warn("pod", "sandbox %.12s: namespaces, network or infra process gone; now NOTREADY",
                 p->id);
        p->ready = false;
        cric_err perr = {0};
        if (pods_persist(s, sb, &perr) < 0)
            log_warn("pod", "%s", perr.msg);
    }
    if (pods_table_add(s, sb) < 0) {
        pods_sb_free(sb);
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    }
    return 0;
}

/* Sandbox dirs without a database row belong to a RunPodSandbox that the
 * daemon did not finish (killed, or its undo failed): undo them now. The dir
 * is created before anything else and deleted last, so it is the journal. */
static void clean_orphans(pod_service *s)
{
    _cleanup_closedir_ DIR *dir = opendir(s->dir);
    struct dirent *de;
    while (dir && (de = readdir(dir))) {
        if (!id_is_full(de->d_name))
            continue;
        sandbox *sb = NULL;
        cric_err err = {0};
        if (pods_table_find(s, de->d_name, &sb, &err) == 0)
            continue;
        pod_info p = {0};
        char path[4200];
        memcpy(p.id, de->d_name, CRIC_ID_LEN + 1);
        snprintf(path, sizeof(path), "%s/%s", s->dir, de->d_name);
        p.sandbox_dir = path;
        if (pods_release_all(s, &p, &err) < 0)
            log_error("pod", "sandbox %.12s: cleanup of an interrupted run: %s", p.id, err.msg);
        else
            log_info("pod", "sandbox %.12s: cleaned up an interrupted RunPodSandbox", p.id);
    }
}

int pod_service_new(pod_service **out, const cric_config *cfg, cric_db *db, cric_err *err)
{
    pod_service *s = calloc(1, sizeof(*s));
    if (!s)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    s->cfg = cfg;
    s->db = db;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    if (asprintf(&s->dir, "%s/sandboxes", cfg->state) < 0) {
        s->dir = NULL;
        pod_service_free(s);
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    }
    cric_err perr = {0};
    if (infra_find_binary(&s->pause_bin, &perr) < 0)
        log_warn("pod", "%s; pods with a shared PID namespace will fail", perr.msg);
    if (cgroup_mounts_detect(&s->cg, err) < 0 || nspin_private_mount(s->dir, err) < 0 ||
        sandbox_store_init(db, err) < 0 || sandbox_store_load(db, load_row, s, err) < 0) {
        cric_err_prefix(err, "pod service: ");
        pod_service_free(s);
        return -1;
    }
    clean_orphans(s);
    log_info("pod", "%zu sandboxes loaded; cgroups: %zu v1 hierarchies%s%s", s->n, s->cg.n_v1,
             s->cg.v2 ? ", v2 at " : "", s->cg.v2 ? s->cg.v2 : "");
    *out = s;
    return 0;
}

void pod_service_free(pod_service *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    if (s->inflight)
        log_info("pod", "waiting for %u sandbox operations to finish", s->inflight);
    while (s->inflight)
        pthread_cond_wait(&s->idle, &s->mu);
    pthread_mutex_unlock(&s->mu);
    if (s->n == 0 && s->dir)
        nspin_private_unmount(s->dir);
    for (size_t i = 0; i < s->n; i++)
        pods_sb_free(s->items[i]);
    free(s->items);
    free(s->dir);
    free(s->pause_bin);
    cgroup_mounts_free(&s->cg);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->idle);
    free(s);
}
