/* The container service object: start-up, the in-memory table, lookups,
 * listing and the pod service's hooks. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ctr/ctr_int.h"
#include "ctr/runtime_probe.h"
#include "enter/enter_core.h"
#include "image/image.h"
#include "pod/pod.h"
#include "store/container_store.h"
#include "util/fs.h"
#include "util/helper_path.h"
#include "util/ids.h"
#include "util/log.h"

int64_t ctr_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ------------------------------------------------------------------ records */

ctr_rec *ctr_rec_new(ctr_service *s)
{
    ctr_rec *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->exes = s->exes;
    pthread_mutex_init(&r->op_mu, NULL);
    pthread_mutex_init(&r->spec_mu, NULL);
    r->refs = 1;
    r->state = CTR_CREATING;
    return r;
}

static void rec_free(ctr_rec *r)
{
    free(r->name);
    if (r->config)
        runtime__v1__container_config__free_unpacked(r->config, NULL);
    free(r->config_bin);
    free(r->image);
    free(r->image_id);
    free(r->image_ref);
    free(r->handler);
    free(r->runtime);
    free(r->runtime_root);
    free(r->log_path);
    free(r->bundle);
    free(r->rootfs);
    free(r->wdir);
    json_decref(r->spec);
    free(r->plan_path);
    free(r->plan_why);
    if (r->plan) {
        enter_plan_free(r->plan);
        free(r->plan);
    }
    free(r->gids);
    free(r->listed);
    ctr_resources_free(r);
    pthread_mutex_destroy(&r->op_mu);
    pthread_mutex_destroy(&r->spec_mu);
    free(r);
}

void ctr_rec_unref_locked(ctr_rec *r)
{
    if (r && --r->refs == 0)
        rec_free(r);
}

void ctr_rec_unref(ctr_service *s, ctr_rec *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&s->mu);
    bool last = --r->refs == 0;
    pthread_mutex_unlock(&s->mu);
    if (last)
        rec_free(r);
}

int ctr_table_add(ctr_service *s, ctr_rec *r, cric_err *err)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        ctr_rec **v = realloc(s->items, cap * sizeof(*v));
        if (!v)
            return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
        s->items = v;
        s->cap = cap;
    }
    s->items[s->n++] = r;
    r->refs++;
    return 0;
}

void ctr_table_del(ctr_service *s, ctr_rec *r)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->items[i] == r) {
            memmove(&s->items[i], &s->items[i + 1], (s->n - i - 1) * sizeof(*s->items));
            s->n--;
            r->removed = true;
            ctr_rec_unref_locked(r);
            return;
        }
}

/* s->mu held: the published container with that id or unique prefix. */
static int table_find(ctr_service *s, const char *id, ctr_rec **out, cric_err *err)
{
    if (!id || !id_is_prefix(id))
        return cric_err_set(err, CRIC_ERR_NOT_FOUND, "container \"%.80s\" not found", id ? id : "");
    size_t len = strlen(id);
    ctr_rec *found = NULL;
    for (size_t i = 0; i < s->n; i++) {
        ctr_rec *r = s->items[i];
        if (r->state == CTR_CREATING || strncmp(r->id, id, len) != 0)
            continue;
        if (len == 64) {
            found = r;
            break;
        }
        if (found)
            return cric_err_set(err, CRIC_ERR_INVALID, "container id prefix %s is ambiguous", id);
        found = r;
    }
    if (!found)
        return cric_err_set(err, CRIC_ERR_NOT_FOUND, "container %s not found", id);
    *out = found;
    return 0;
}

int ctr_get(ctr_service *s, const char *id, ctr_rec **out, cric_err *err)
{
    pthread_mutex_lock(&s->mu);
    int rc = table_find(s, id, out, err);
    if (rc == 0)
        (*out)->refs++;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void ctr_set_exited(ctr_service *s, ctr_rec *r, const struct shim_exit *ex, const char *message)
{
    pthread_mutex_lock(&s->mu);
    bool changed = r->state != CTR_EXITED && r->state != CTR_CREATING;
    if (changed) {
        r->state = CTR_EXITED;
        r->pid = 0;
        if (ex) {
            r->exit_code = ex->exit_code;
            if (ex->started_at && !r->started_at)
                r->started_at = ex->started_at;
            r->finished_at = ex->finished_at ? ex->finished_at : ctr_now_ns();
            snprintf(r->reason, sizeof(r->reason), "%s",
                     ex->oom_killed       ? "OOMKilled"
                     : ex->exit_code == 0 ? "Completed"
                                          : "Error");
        } else {
            r->exit_code = 255;
            r->finished_at = ctr_now_ns();
            snprintf(r->reason, sizeof(r->reason), "Error");
        }
        if (message)
            snprintf(r->message, sizeof(r->message), "%s", message);
    }
    pthread_mutex_unlock(&s->mu);
    if (changed) {
        ctr_event(s, 2, r); /* CONTAINER_STOPPED_EVENT, before the database write */
        cric_err err = {0};
        if (ctr_persist(s, r, &err) < 0)
            log_warn("ctr", "container %s: %s", r->id, err.msg);
        log_info("ctr", "container %s exited: code %d (%s)", r->id, r->exit_code, r->reason);
    }
}

const char *ctr_runtime_for_handler(ctr_service *s, const char *handler, const char **root)
{
    const cric_runtime_handler *h = config_find_handler(s->cfg, handler);
    if (!h)
        return NULL;
    *root = h->root && h->root[0] ? h->root : NULL;
    return h->path;
}

/* ------------------------------------------------------------------ snapshots */

/* kernel signal number -> CRI Signal enum value (0 when unknown) */
static int ctr_signal_to_cri(int sig)
{
    for (int i = 1; i <= 65; i++)
        if (ctr_signal_from_cri(i) == sig)
            return i;
    return 0;
}

/* o borrows r's strings: only while r is referenced or the table lock held */
static void fill_view(ctr_rec *r, ctr_info *o)
{
    memset(o, 0, sizeof(*o));
    memcpy(o->id, r->id, sizeof(o->id));
    memcpy(o->pod_id, r->pod_id, sizeof(o->pod_id));
    o->name = r->name;
    o->attempt = r->attempt;
    o->config = r->config;
    o->image = r->image;
    o->image_id = r->image_id;
    o->image_ref = r->image_ref;
    o->log_path = r->log_path ? r->log_path : "";
    o->runtime_handler = r->handler;
    o->state = r->state;
    o->created_at = r->created_at;
    o->started_at = r->started_at;
    o->finished_at = r->finished_at;
    o->exit_code = r->exit_code;
    memcpy(o->reason, r->reason, sizeof(o->reason));
    memcpy(o->message, r->message, sizeof(o->message));
    o->pid = r->pid;
    o->uid = r->uid;
    o->gid = r->gid;
    o->stop_signal = ctr_signal_to_cri(r->stop_signal);
    o->gids = r->gids;
    o->n_gids = r->n_gids;
    o->resources = ctr_resources_current(r);
}

static void fill_info(ctr_rec *r, ctr_info *o)
{
    fill_view(r, o);
    o->priv_ = r;
    r->refs++;
}

int ctr_lookup(ctr_service *s, const char *id, ctr_info *out, cric_err *err)
{
    pthread_mutex_lock(&s->mu);
    ctr_rec *r = NULL;
    int rc = table_find(s, id, &r, err);
    if (rc == 0)
        fill_info(r, out);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static bool labels_match(const ctr_rec *r, const ctr_filter *f)
{
    for (size_t i = 0; i < f->n_labels; i++) {
        bool ok = false;
        for (size_t j = 0; j < r->config->n_labels && !ok; j++)
            ok = strcmp(r->config->labels[j]->key, f->label_keys[i]) == 0 &&
                 strcmp(r->config->labels[j]->value, f->label_values[i]) == 0;
        if (!ok)
            return false;
    }
    return true;
}

typedef struct list_match {
    const ctr_filter *f;
    const char *id, *pod;
    size_t idlen, podlen;
} list_match;

static list_match list_match_of(const ctr_filter *f)
{
    list_match m = {.f = f};
    m.id = f && f->id ? f->id : "";
    m.pod = f && f->pod_id ? f->pod_id : "";
    m.idlen = strlen(m.id);
    m.podlen = strlen(m.pod);
    return m;
}

static bool list_matches(const ctr_rec *r, const list_match *m)
{
    if (r->state == CTR_CREATING)
        return false;
    if (m->idlen && strncmp(r->id, m->id, m->idlen) != 0)
        return false;
    if (m->podlen && strncmp(r->pod_id, m->pod, m->podlen) != 0)
        return false;
    if (m->f && m->f->has_state && r->state != m->f->state)
        return false;
    if (m->f && m->f->n_labels && !labels_match(r, m->f))
        return false;
    return true;
}

int ctr_list(ctr_service *s, const ctr_filter *f, ctr_info **out, size_t *n, cric_err *err)
{
    *out = NULL;
    *n = 0;
    list_match m = list_match_of(f);
    pthread_mutex_lock(&s->mu);
    ctr_info *v = calloc(s->n ? s->n : 1, sizeof(*v));
    if (!v) {
        pthread_mutex_unlock(&s->mu);
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        if (list_matches(s->items[i], &m))
            fill_info(s->items[i], &v[k++]);
    pthread_mutex_unlock(&s->mu);
    *out = v;
    *n = k;
    return 0;
}

/* s->mu held */
static int listed_fresh(ctr_rec *r, ctr_encode_fn enc, void *user)
{
    if (r->listed && r->listed_state == r->state)
        return 0;
    ctr_info view;
    fill_view(r, &view);
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (enc(&view, user, &bytes, &len) < 0)
        return -1;
    free(r->listed);
    r->listed = bytes;
    r->listed_len = len;
    r->listed_state = r->state;
    return 0;
}

int ctr_list_encoded(ctr_service *s, const ctr_filter *f, ctr_encode_fn enc, void *user,
                     size_t headroom, uint8_t **out, size_t *len, cric_err *err)
{
    *out = NULL;
    *len = 0;
    list_match m = list_match_of(f);
    pthread_mutex_lock(&s->mu);
    size_t total = 0;
    for (size_t i = 0; i < s->n; i++) {
        ctr_rec *r = s->items[i];
        if (!list_matches(r, &m))
            continue;
        if (listed_fresh(r, enc, user) < 0) {
            pthread_mutex_unlock(&s->mu);
            return cric_err_set(err, CRIC_ERR_RESOURCE,
                                "container %s: listing entry: out of memory", r->id);
        }
        total += r->listed_len;
    }
    uint8_t *buf = malloc(headroom + total + 1);
    if (!buf) {
        pthread_mutex_unlock(&s->mu);
        return cric_err_set(err, CRIC_ERR_RESOURCE, "listing of %zu bytes: out of memory", total);
    }
    uint8_t *p = buf + headroom;
    for (size_t i = 0; i < s->n; i++) {
        ctr_rec *r = s->items[i];
        if (!list_matches(r, &m))
            continue;
        memcpy(p, r->listed, r->listed_len);
        p += r->listed_len;
    }
    pthread_mutex_unlock(&s->mu);
    *out = buf;
    *len = total;
    return 0;
}

static void info_unref_all(ctr_service *s, ctr_info *v, size_t n)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < n; i++)
        ctr_rec_unref_locked(v[i].priv_);
    pthread_mutex_unlock(&s->mu);
}

/* ------------------------------------------------------------------ verbose */

char *ctr_verbose_json(ctr_service *s, const ctr_info *c)
{
    ctr_rec *r = c->priv_;
    json_t *o = json_object();
    json_object_set_new(o, "sandboxID", json_string(r->pod_id));
    json_object_set_new(o, "pid", json_integer(c->pid));
    json_object_set_new(o, "runtimeHandler", json_string(r->handler ? r->handler : ""));
    json_object_set_new(o, "runtimeType", json_string(r->runtime ? r->runtime : ""));
    json_object_set_new(o, "snapshotKey", json_string(r->id));
    json_object_set_new(o, "snapshotter", json_string("overlayfs"));
    json_object_set_new(o, "rootfs", json_string(r->rootfs));
    json_object_set_new(o, "bundle", json_string(r->bundle));
    char path[4200];
    snprintf(path, sizeof(path), "%s/config.json", r->bundle);
    json_error_t jerr;
    json_t *spec = json_load_file(path, 0, &jerr);
    json_object_set_new(o, "runtimeSpec", spec ? spec : json_object());
    (void)s;
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

/* ------------------------------------------------------------------ streaming */

int ctr_target_lookup(ctr_service *s, const char *id, ctr_target *t, cric_err *err)
{
    memset(t, 0, sizeof(*t));
    ctr_rec *r = NULL;
    if (ctr_get(s, id, &r, err) < 0)
        return -1;
    pthread_mutex_lock(&s->mu);
    t->state = r->state;
    pthread_mutex_unlock(&s->mu);
    memcpy(t->id, r->id, sizeof(t->id));
    snprintf(t->runtime, sizeof(t->runtime), "%s", r->runtime);
    snprintf(t->runtime_root, sizeof(t->runtime_root), "%s",
             r->runtime_root ? r->runtime_root : "");
    snprintf(t->config_path, sizeof(t->config_path), "%s/config.json", r->bundle);
    snprintf(t->shim_state, sizeof(t->shim_state), "%s", r->bundle);
    t->running = t->state == CTR_RUNNING;
    t->tty = r->config->tty;
    t->stdin_open = r->config->stdin;
    ctr_rec_unref(s, r);
    return 0;
}

/* ------------------------------------------------------------------ pod hooks */

static int for_pod(ctr_service *s, const char *pod_id, bool remove, cric_err *err)
{
    pthread_mutex_lock(&s->mu);
    ctr_rec **v = calloc(s->n ? s->n : 1, sizeof(*v));
    size_t k = 0;
    if (v)
        for (size_t i = 0; i < s->n; i++)
            if (strcmp(s->items[i]->pod_id, pod_id) == 0) { /* also while being created */
                v[k++] = s->items[i];
                s->items[i]->refs++;
            }
    pthread_mutex_unlock(&s->mu);
    if (!v)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < k; i++) {
        cric_err e = {0};
        int r = remove ? ctr_remove_rec(s, v[i], &e) : ctr_stop_rec(s, v[i], 0, &e);
        if (r < 0 && rc == 0) {
            rc = -1;
            if (err)
                *err = e;
        }
        ctr_rec_unref(s, v[i]);
    }
    free(v);
    return rc;
}

static int hook_stop_all(void *ctx, const char *pod_id, cric_err *err)
{
    return for_pod(ctx, pod_id, false, err);
}

static int hook_remove_all(void *ctx, const char *pod_id, cric_err *err)
{
    return for_pod(ctx, pod_id, true, err);
}

/* ------------------------------------------------------------------ start-up */

static void prepare_runtimes(ctr_service *s)
{
    for (size_t i = 0; i < s->cfg->n_handlers; i++) {
        const cric_runtime_handler *h = &s->cfg->handlers[i];
        cric_err e = {0};
        if (runtime_probe_prepare(h->path, RUNTIME_PROBE_CGROUP_ROOT, &e) < 0)
            log_warn("ctr", "runtime handler %s (%s) may not work on this host: %s", h->name,
                     h->path, e.msg);
        else
            log_info("ctr", "runtime handler %s (%s) is usable on this cgroup layout", h->name,
                     h->path);
    }
}

static void find_memory_mount(ctr_service *s)
{
    for (size_t i = 0; i < s->cg.n_v1; i++) {
        const char *c = s->cg.v1_ctrls[i];
        size_t len = strlen(c);
        for (const char *p = c; p && *p;) {
            const char *comma = strchr(p, ',');
            size_t l = comma ? (size_t)(comma - p) : strlen(p);
            if (l == 6 && strncmp(p, "memory", 6) == 0) {
                s->memory_mount = strdup(s->cg.v1[i]);
                return;
            }
            p = comma ? comma + 1 : NULL;
        }
        (void)len;
    }
    if (s->cg.v2 && s->host.cgroup_layout == CTR_CGROUP_V2)
        s->memory_mount = strdup(s->cg.v2);
}

/* cric-enter joins a container through a pidfd of its init (Linux 5.8+):
 * joining our own UTS namespace that way is a no-op that tells. */
static bool pidfd_setns_works(void)
{
    int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (fd < 0)
        return false;
    int rc = setns(fd, CLONE_NEWUTS);
    close(fd);
    return rc == 0;
}

int ctr_service_new(ctr_service **out, const cric_config *cfg, cric_db *db,
                    struct image_service *images, struct pod_service *pods, cric_err *err)
{
    ctr_service *s = calloc(1, sizeof(*s));
    if (!s)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    s->cfg = cfg;
    s->db = db;
    s->images = images;
    s->pods = pods;
    s->epfd = s->wake_fd = -1;
    s->own_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
    if (s->own_pidns < 0)
        log_warn("ctr", "ExecSync's direct path is off: open /proc/self/ns/pid: %s",
                 strerror(errno));
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->stacks_mu, NULL);
    s->exes = sealed_exes_new();
    pthread_mutex_init(&s->persist_mu, NULL);
    if (asprintf(&s->state_dir, "%s/containers", cfg->state) < 0 ||
        asprintf(&s->root_dir, "%s/containers", cfg->root) < 0 ||
        asprintf(&s->exec_dir, "%s/exec-sync", cfg->state) < 0) {
        ctr_service_free(s);
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    }
    /* The process files of ExecSync calls that a killed daemon had in flight:
     * nothing reads them any more. */
    cric_err rmerr = {0};
    if (fs_rm_rf(s->exec_dir, &rmerr) < 0)
        log_warn("ctr", "stale ExecSync files: %s", rmerr.msg);
    if (fs_mkdir_p(s->state_dir, 0711, err) < 0 || fs_mkdir_p(s->root_dir, 0711, err) < 0 ||
        fs_mkdir_p(s->exec_dir, 0700, err) < 0 ||
        shim_default_path(s->shim_path, sizeof(s->shim_path), err) < 0 ||
        container_store_init(db, err) < 0 || cgroup_mounts_detect(&s->cg, err) < 0) {
        ctr_service_free(s);
        return -1;
    }
    cric_err enter_err = {0};
    if (helper_path_find("cric-enter", "enter", s->enter_path, sizeof(s->enter_path), &enter_err) <
        0) {
        s->enter_path[0] = '\0';
        log_write(LOG_LVL_WARN, "ctr", "ExecSync runs the OCI runtime's exec: %s", enter_err.msg);
    } else if (!pidfd_setns_works()) {
        s->enter_path[0] = '\0';
        log_write(LOG_LVL_WARN, "ctr",
                  "ExecSync runs the OCI runtime's exec: this kernel cannot setns through a "
                  "pidfd (Linux 5.8+), which cric-enter needs");
    }
    prepare_runtimes(s);
    ctr_host_facts_detect(&s->host);
    find_memory_mount(s);
    if (ctr_watch_start(s, err) < 0 || ctr_load_all(s, err) < 0) {
        ctr_service_free(s);
        return -1;
    }
    pod_service_set_container_hooks(pods, hook_stop_all, hook_remove_all, s);
    log_info("ctr", "container service ready: %zu containers", s->n);
    *out = s;
    return 0;
}

void ctr_service_free(ctr_service *s)
{
    if (!s)
        return;
    if (s->pods)
        pod_service_set_container_hooks(s->pods, NULL, NULL, NULL);
    ctr_watch_stop(s);
    for (size_t i = 0; i < s->n; i++)
        ctr_rec_unref_locked(s->items[i]);
    free(s->items);
    cgroup_mounts_free(&s->cg);
    free(s->memory_mount);
    free(s->state_dir);
    free(s->root_dir);
    free(s->exec_dir);
    sealed_exes_free(s->exes);
    ctr_enter_direct_stacks_free(s);
    if (s->own_pidns >= 0)
        close(s->own_pidns);
    pthread_mutex_destroy(&s->stacks_mu);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->persist_mu);
    free(s);
}

void ctr_info_free(ctr_service *s, ctr_info *c)
{
    if (c && c->priv_) {
        ctr_rec_unref(s, c->priv_);
        c->priv_ = NULL;
    }
}

void ctr_info_list_free(ctr_service *s, ctr_info *v, size_t n)
{
    if (v)
        info_unref_all(s, v, n);
    free(v);
}
