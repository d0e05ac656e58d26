/* The pod service: the sandbox table, RunPodSandbox/Stop/Remove orchestration,
 * persistence and recovery after a restart. The steps themselves live in
 * their own modules (nspin, cgroup, cni, infra, etcfiles, sysctl). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "pod/cgroup.h"
#include "pod/cni.h"
#include "pod/cni_conf.h"
#include "pod/etcfiles.h"
#include "pod/infra.h"
#include "pod/nspin.h"
#include "pod/pod.h"
#include "pod/record.h"
#include "pod/sysctl.h"
#include "store/sandbox_store.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/ids.h"
#include "util/log.h"

#define SHM_DEFAULT_SIZE (64ull << 20)
#define CNI_TIMEOUT_MS 60000
#define NSFS_MAGIC_NUMBER 0x6e736673
#define NAME_MAX_LEN 253
#define MAX_KV 1024

typedef struct sandbox {
    pod_info *info;        /* mutable fields guarded by the table lock */
    pthread_mutex_t op_mu; /* serialises Stop/Remove of this sandbox */
    unsigned refs;         /* table lock */
    bool creating;         /* hidden until RunPodSandbox finishes */
    bool removed;
} sandbox;

struct pod_service {
    const cric_config *cfg;
    cric_db *db;
    char *dir; /* <state>/sandboxes */
    char *pause_bin;
    cgroup_mounts cg;
    pthread_mutex_t mu;
    sandbox **items;
    size_t n, cap;
    pod_containers_hook stop_all, remove_all;
    void *hook_ctx;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------------ table */

static sandbox *sb_new(pod_info *info)
{
    sandbox *sb = calloc(1, sizeof(*sb));
    if (!sb)
        return NULL;
    sb->info = info;
    sb->refs = 1; /* the table's */
    pthread_mutex_init(&sb->op_mu, NULL);
    return sb;
}

static void sb_free(sandbox *sb)
{
    pod_info_free(sb->info);
    pthread_mutex_destroy(&sb->op_mu);
    free(sb);
}

static void sb_unref(pod_service *s, sandbox *sb)
{
    pthread_mutex_lock(&s->mu);
    bool last = --sb->refs == 0;
    pthread_mutex_unlock(&s->mu);
    if (last)
        sb_free(sb);
}

/* Table lock held. */
static int table_add(pod_service *s, sandbox *sb)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        sandbox **items = realloc(s->items, cap * sizeof(*items));
        if (!items)
            return -1;
        s->items = items;
        s->cap = cap;
    }
    s->items[s->n++] = sb;
    return 0;
}

/* Table lock held; drops the table's reference (caller holds another). */
static void table_del(pod_service *s, sandbox *sb)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->items[i] == sb) {
            memmove(&s->items[i], &s->items[i + 1], (s->n - i - 1) * sizeof(*s->items));
            s->n--;
            sb->refs--;
            return;
        }
    }
}

/* Table lock held. Finds one visible sandbox by full id or unique prefix. */
static int table_find(pod_service *s, const char *id, sandbox **out, cric_err *err)
{
    if (!id_is_prefix(id))
        return cric_err_set(err, CRIC_ERR_INVALID, "sandbox id %.80s: not a hex id or prefix",
                            id ? id : "");
    size_t len = strlen(id);
    sandbox *found = NULL;
    for (size_t i = 0; i < s->n; i++) {
        sandbox *sb = s->items[i];
        if (sb->creating || strncmp(sb->info->id, id, len) != 0)
            continue;
        if (len == CRIC_ID_LEN) {
            found = sb;
            break;
        }
        if (found)
            return cric_err_set(err, CRIC_ERR_INVALID,
                                "sandbox id prefix %s is ambiguous (%.12s, %.12s, ...)", id,
                                found->info->id, sb->info->id);
        found = sb;
    }
    if (!found)
        return cric_err_set(err, CRIC_ERR_NOT_FOUND, "sandbox %s not found", id);
    *out = found;
    return 0;
}

/* Takes a reference on the sandbox named by id. */
static int get_sandbox(pod_service *s, const char *id, sandbox **out, cric_err *err)
{
    pthread_mutex_lock(&s->mu);
    int rc = table_find(s, id, out, err);
    if (rc == 0)
        (*out)->refs++;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ------------------------------------------------------------ persistence */

/* Writes the sandbox row (the info is read under the table lock). */
static int persist(pod_service *s, sandbox *sb, bool creating, cric_err *err)
{
    pthread_mutex_lock(&s->mu);
    json_t *j = record_to_json(sb->info);
    bool ready = sb->info->ready;
    pthread_mutex_unlock(&s->mu);
    if (!j)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    json_object_set_new(j, "creating", json_boolean(creating));
    char *data = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!data)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    const pod_info *p = sb->info;
    sandbox_row row = {.id = p->id,
                       .name = p->name,
                       .namespace_ = p->namespace_,
                       .uid = p->uid,
                       .attempt = p->attempt,
                       .state = ready ? POD_STATE_READY : POD_STATE_NOTREADY,
                       .created_at = p->created_at,
                       .data = data};
    int rc = sandbox_store_put(s->db, &row, err);
    free(data);
    return rc;
}

static void set_ready(pod_service *s, sandbox *sb, bool ready)
{
    pthread_mutex_lock(&s->mu);
    sb->info->ready = ready;
    pthread_mutex_unlock(&s->mu);
}

/* ------------------------------------------------------------- paths */

static void sb_path(const pod_info *p, const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", p->sandbox_dir, name);
}

/* ------------------------------------------------------------- teardown */

/* Each step is idempotent and driven by what is on disk under the sandbox
 * dir, so it also finishes work interrupted by a crash. */

typedef struct cni_cache {
    json_t *root; /* {"config", "runtimeConfig", "args", "netns", "ifname", "result"?} */
} cni_cache;

static void fill_runtime(const pod_service *s, const pod_info *p, json_t *cache, cni_runtime *rt)
{
    memset(rt, 0, sizeof(*rt));
    rt->bin_dirs = s->cfg->cni_bin_dirs;
    rt->n_bin_dirs = s->cfg->n_cni_bin_dirs;
    rt->container_id = p->id;
    rt->netns = json_string_value(json_object_get(cache, "netns"));
    rt->ifname = json_string_value(json_object_get(cache, "ifname"));
    rt->cni_args = json_string_value(json_object_get(cache, "args"));
    rt->runtime_config = json_object_get(cache, "runtimeConfig");
    rt->timeout_ms = CNI_TIMEOUT_MS;
    if (!rt->netns)
        rt->netns = "";
    if (!rt->ifname)
        rt->ifname = "eth0";
}

static int net_down(pod_service *s, const pod_info *p, cric_err *err)
{
    char path[4096];
    sb_path(p, "cni.json", path, sizeof(path));
    if (access(path, F_OK) < 0)
        return 0;
    json_error_t jerr;
    json_t *cache = json_load_file(path, 0, &jerr);
    if (!cache) {
        log_warn("pod", "sandbox %.12s: unreadable CNI cache %s (%s); network state dropped",
                 p->id, path, jerr.text);
        unlink(path);
        return 0;
    }
    cni_runtime rt;
    fill_runtime(s, p, cache, &rt);
    /* The netns pin may be gone already (crash); plugins must cope with that. */
    if (access(rt.netns, F_OK) < 0)
        rt.netns = "";
    json_t *result = json_object_get(cache, "result");
    int rc = cni_del(&rt, json_object_get(cache, "config"), json_is_object(result) ? result : NULL,
                     err);
    json_decref(cache);
    if (rc < 0)
        return cric_err_prefix(err, "sandbox %.12s: network teardown", p->id);
    unlink(path);
    return 0;
}

static int infra_down(const pod_info *p, cric_err *err)
{
    char path[4096];
    sb_path(p, "infra", path, sizeof(path));
    _cleanup_free_ char *text = NULL;
    size_t len;
    if (fs_read_file(path, 256, &text, &len, NULL) < 0)
        return 0;
    int pid = 0;
    unsigned long long start = 0;
    if (sscanf(text, "%d %llu", &pid, &start) == 2 && infra_kill(pid, start, err) < 0)
        return cric_err_prefix(err, "sandbox %.12s", p->id);
    unlink(path);
    return 0;
}

static int ns_down(const pod_info *p, cric_err *err)
{
    static const char *const names[] = {"ns/net", "ns/ipc", "ns/uts", "ns/pid"};
    int rc = 0;
    for (size_t i = 0; i < 4; i++) {
        char path[4096];
        sb_path(p, names[i], path, sizeof(path));
        cric_err one = {0};
        if (nspin_release(path, &one) < 0 && rc == 0)
            rc = -1, *err = one;
    }
    char path[4096];
    sb_path(p, "shm", path, sizeof(path));
    cric_err one = {0};
    if (nspin_unmount(path, &one) < 0 && rc == 0)
        rc = -1, *err = one;
    return rc < 0 ? cric_err_prefix(err, "sandbox %.12s", p->id) : 0;
}

static int cgroup_down(const pod_info *p, cric_err *err)
{
    char path[4096];
    sb_path(p, "cgroups", path, sizeof(path));
    _cleanup_free_ char *text = NULL;
    size_t len;
    if (fs_read_file(path, 1u << 20, &text, &len, NULL) < 0)
        return 0;
    char *dirs[256];
    size_t n = 0;
    for (char *s = NULL, *l = strtok_r(text, "\n", &s); l && n < 256;
         l = strtok_r(NULL, "\n", &s))
        if (strncmp(l, "/sys/fs/cgroup/", 15) == 0 && !strstr(l, "/../"))
            dirs[n++] = l;
    if (cgroup_remove(dirs, n, err) < 0)
        return cric_err_prefix(err, "sandbox %.12s", p->id);
    unlink(path);
    return 0;
}

/* Everything but the cgroups and the directory: what Stop releases. */
static int release_runtime(pod_service *s, const pod_info *p, cric_err *err)
{
    int rc = 0;
    cric_err one = {0};
    if (net_down(s, p, &one) < 0)
        rc = -1, *err = one;
    if (infra_down(p, &one) < 0 && rc == 0)
        rc = -1, *err = one;
    if (ns_down(p, &one) < 0 && rc == 0)
        rc = -1, *err = one;
    return rc;
}

/* Everything: what Remove (and a failed Run) releases. */
static int release_all(pod_service *s, const pod_info *p, cric_err *err)
{
    if (release_runtime(s, p, err) < 0)
        return -1;
    if (cgroup_down(p, err) < 0)
        return -1;
    cric_err one = {0};
    if (fs_rm_rf(p->sandbox_dir, &one) < 0) {
        *err = one;
        return cric_err_prefix(err, "sandbox %.12s", p->id);
    }
    return 0;
}

/* ------------------------------------------------------------- run */

static char *xstrdup_or(const char *s, const char *dflt, bool *ok)
{
    char *r = strdup(s && s[0] ? s : (dflt ? dflt : ""));
    if (!r)
        *ok = false;
    return r;
}

static bool printable_no(const char *s, size_t max, const char *forbidden)
{
    size_t n = strlen(s);
    if (n > max)
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f || strchr(forbidden, *p))
            return false;
    return true;
}

static int validate(pod_service *s, const pod_config *c, const char **handler, cric_err *err)
{
    if (!c->name || !c->name[0] || !c->namespace_ || !c->namespace_[0])
        return cric_err_set(err, CRIC_ERR_INVALID, "sandbox config: metadata name and namespace "
                                                   "are required");
    if (!printable_no(c->name, NAME_MAX_LEN, ";=,/") ||
        !printable_no(c->namespace_, NAME_MAX_LEN, ";=,/") ||
        !printable_no(c->uid ? c->uid : "", NAME_MAX_LEN, ";=,/"))
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "sandbox %.80s/%.80s: metadata holds forbidden characters or is too "
                            "long",
                            c->namespace_, c->name);
    const char *h = c->runtime_handler && c->runtime_handler[0] ? c->runtime_handler
                                                                 : s->cfg->default_runtime;
    bool known = false;
    for (size_t i = 0; i < s->cfg->n_handlers && !known; i++)
        known = strcmp(s->cfg->handlers[i].name, h) == 0;
    if (!known)
        return cric_err_set(err, CRIC_ERR_INVALID, "runtime handler %.80s is not configured", h);
    *handler = h;
    if (c->net_mode == POD_NS_TARGET || c->ipc_mode == POD_NS_TARGET ||
        c->pid_mode == POD_NS_TARGET)
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "sandbox %.80s: namespace mode TARGET applies to containers only",
                            c->name);
    if (c->net_mode < 0 || c->net_mode > 3 || c->ipc_mode < 0 || c->ipc_mode > 3 ||
        c->pid_mode < 0 || c->pid_mode > 3)
        return cric_err_set(err, CRIC_ERR_INVALID, "sandbox %.80s: unknown namespace mode",
                            c->name);
    if (c->hostname && c->hostname[0] && etc_hostname_valid(c->hostname, err) < 0)
        return -1;
    if (c->log_directory && c->log_directory[0] &&
        (c->log_directory[0] != '/' || strlen(c->log_directory) > 4000))
        return cric_err_set(err, CRIC_ERR_INVALID, "log_directory %.80s: not an absolute path",
                            c->log_directory);
    if (c->n_labels > MAX_KV || c->n_annotations > MAX_KV || c->n_sysctls > MAX_KV ||
        c->n_ports > MAX_KV)
        return cric_err_set(err, CRIC_ERR_INVALID, "sandbox %.80s: too many entries", c->name);
    bool own_net = c->net_mode != POD_NS_NODE, own_ipc = c->ipc_mode != POD_NS_NODE;
    for (size_t i = 0; i < c->n_sysctls; i++)
        if (sysctl_validate(c->sysctls[i].key, c->sysctls[i].value, own_net, own_ipc, own_net,
                            err) < 0)
            return -1;
    for (size_t i = 0; i < c->n_ports; i++) {
        const pod_port *pm = &c->ports[i];
        if (pm->container_port <= 0 || pm->container_port > 65535 || pm->host_port < 0 ||
            pm->host_port > 65535 || pm->protocol < 0 || pm->protocol > 2)
            return cric_err_set(err, CRIC_ERR_INVALID, "port mapping %d->%d: out of range",
                                pm->host_port, pm->container_port);
        if (pm->host_ip && pm->host_ip[0] && !printable_no(pm->host_ip, 64, " "))
            return cric_err_set(err, CRIC_ERR_INVALID, "port mapping: bad host_ip");
    }
    if (c->cgroup_parent && c->cgroup_parent[0]) {
        char rel[1024];
        if (cgroup_parent_relpath(c->cgroup_parent, rel, sizeof(rel), err) < 0)
            return -1;
    }
    if (c->pid_mode == POD_NS_POD && !s->pause_bin)
        return cric_err_set(err, CRIC_ERR_UNAVAILABLE,
                            "sandbox %.80s: shared PID namespace needs cric-pause, which was "
                            "not found next to cric",
                            c->name);
    return 0;
}

static int kv_copy(const pod_kv *kv, size_t n, char ***keys, char ***vals, size_t *count)
{
    *keys = calloc(n + 1, sizeof(char *));
    *vals = calloc(n + 1, sizeof(char *));
    *count = 0;
    if (!*keys || !*vals)
        return -1;
    for (size_t i = 0; i < n; i++) {
        (*keys)[i] = strdup(kv[i].key);
        (*vals)[i] = strdup(kv[i].value);
        *count = i + 1;
        if (!(*keys)[i] || !(*vals)[i])
            return -1;
    }
    return 0;
}

/* The snapshot of a new sandbox from its config. */
static pod_info *info_new(pod_service *s, const pod_config *c, const char *id,
                          const char *handler)
{
    pod_info *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    bool ok = true;
    memcpy(p->id, id, 65);
    p->name = xstrdup_or(c->name, "", &ok);
    p->namespace_ = xstrdup_or(c->namespace_, "", &ok);
    p->uid = xstrdup_or(c->uid, "", &ok);
    p->attempt = c->attempt;
    p->created_at = now_ns();
    p->runtime_handler = xstrdup_or(handler, "", &ok);
    p->net_mode = c->net_mode == POD_NS_NODE ? POD_NS_NODE : POD_NS_POD;
    p->ipc_mode = c->ipc_mode == POD_NS_NODE ? POD_NS_NODE : POD_NS_POD;
    p->pid_mode = c->pid_mode;
    p->target_id = xstrdup_or(c->target_id, "", &ok);
    char dir[4096], path[4200];
    snprintf(dir, sizeof(dir), "%s/%s", s->dir, id);
    p->sandbox_dir = xstrdup_or(dir, "", &ok);
    bool own_net = p->net_mode == POD_NS_POD, own_ipc = p->ipc_mode == POD_NS_POD;
    snprintf(path, sizeof(path), "%s/ns/net", dir);
    p->netns_path = xstrdup_or(own_net ? path : "", "", &ok);
    snprintf(path, sizeof(path), "%s/ns/uts", dir);
    p->utsns_path = xstrdup_or(own_net ? path : "", "", &ok);
    snprintf(path, sizeof(path), "%s/ns/ipc", dir);
    p->ipcns_path = xstrdup_or(own_ipc ? path : "", "", &ok);
    snprintf(path, sizeof(path), "%s/ns/pid", dir);
    p->pidns_path = xstrdup_or(p->pid_mode == POD_NS_POD ? path : "", "", &ok);
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    if (own_net)
        snprintf(host, sizeof(host), "%s",
                 c->hostname && c->hostname[0] ? c->hostname : p->name);
    if (own_net && etc_hostname_valid(host, NULL) < 0)
        snprintf(host, sizeof(host), "%.12s", id);
    p->hostname = xstrdup_or(host, "", &ok);
    snprintf(path, sizeof(path), "%s/hostname", dir);
    p->hostname_path = xstrdup_or(path, "", &ok);
    snprintf(path, sizeof(path), "%s/hosts", dir);
    p->hosts_path = xstrdup_or(path, "", &ok);
    snprintf(path, sizeof(path), "%s/resolv.conf", dir);
    p->resolv_path = xstrdup_or(path, "", &ok);
    snprintf(path, sizeof(path), "%s/shm", dir);
    p->shm_path = xstrdup_or(own_ipc ? path : "", "", &ok);
    p->cgroup_parent = xstrdup_or(c->cgroup_parent, "", &ok);
    p->log_directory = xstrdup_or(c->log_directory, "", &ok);
    if (kv_copy(c->sysctls, c->n_sysctls, &p->sysctl_keys, &p->sysctl_values, &p->n_sysctls) ||
        kv_copy(c->labels, c->n_labels, &p->label_keys, &p->label_values, &p->n_labels) ||
        kv_copy(c->annotations, c->n_annotations, &p->annotation_keys, &p->annotation_values,
                &p->n_annotations))
        ok = false;
    p->ips = calloc(1, sizeof(char *));
    p->privileged = c->privileged;
    p->readonly_rootfs = c->readonly_rootfs;
    p->has_run_as_user = c->has_run_as_user;
    p->has_run_as_group = c->has_run_as_group;
    p->run_as_user = c->run_as_user;
    p->run_as_group = c->run_as_group;
    p->supplemental_groups = calloc(c->n_supplemental_groups + 1, sizeof(int64_t));
    if (p->supplemental_groups && c->n_supplemental_groups) {
        memcpy(p->supplemental_groups, c->supplemental_groups,
               c->n_supplemental_groups * sizeof(int64_t));
        p->n_supplemental_groups = c->n_supplemental_groups;
    }
    p->seccomp_type = c->seccomp_type;
    p->seccomp_ref = xstrdup_or(c->seccomp_ref, "", &ok);
    if (!ok || !p->ips || !p->supplemental_groups) {
        pod_info_free(p);
        return NULL;
    }
    return p;
}

static const char *proto_name(int p)
{
    return p == 1 ? "udp" : p == 2 ? "sctp" : "tcp";
}

/* Kubernetes quantity ("10M", "1Gi", "500k") in bits per second. */
static int parse_bandwidth(const char *q, long long *out)
{
    char *end = NULL;
    double v = strtod(q, &end);
    if (!end || end == q || v <= 0)
        return -1;
    static const struct {
        const char *suf;
        double mul;
    } sufs[] = {{"", 1},     {"k", 1e3},         {"M", 1e6},         {"G", 1e9},
                {"T", 1e12}, {"Ki", 1024.0},     {"Mi", 1048576.0},  {"Gi", 1073741824.0},
                {"Ti", 1099511627776.0}};
    for (size_t i = 0; i < ARRAY_LEN(sufs); i++) {
        if (strcmp(end, sufs[i].suf) == 0) {
            double r = v * sufs[i].mul;
            if (r > 9e15)
                return -1;
            *out = (long long)r;
            return 0;
        }
    }
    return -1;
}

static json_t *runtime_config(const pod_config *c, cric_err *err)
{
    json_t *rc = json_object();
    json_t *ports = json_array();
    for (size_t i = 0; i < c->n_ports; i++) {
        const pod_port *pm = &c->ports[i];
        if (pm->host_port <= 0)
            continue;
        json_t *e = json_pack("{s:i, s:i, s:s}", "hostPort", pm->host_port, "containerPort",
                              pm->container_port, "protocol", proto_name(pm->protocol));
        if (pm->host_ip && pm->host_ip[0])
            json_object_set_new(e, "hostIP", json_string(pm->host_ip));
        json_array_append_new(ports, e);
    }
    json_object_set_new(rc, "portMappings", ports);
    long long in = 0, out = 0;
    for (size_t i = 0; i < c->n_annotations; i++) {
        const char *k = c->annotations[i].key, *v = c->annotations[i].value;
        long long *dst = strcmp(k, "kubernetes.io/ingress-bandwidth") == 0  ? &in
                         : strcmp(k, "kubernetes.io/egress-bandwidth") == 0 ? &out
                                                                             : NULL;
        if (dst && parse_bandwidth(v, dst) < 0) {
            json_decref(rc);
            cric_err_set(err, CRIC_ERR_INVALID, "annotation %s: bad quantity %.40s", k, v);
            return NULL;
        }
    }
    if (in || out) {
        json_t *bw = json_object();
        if (in) {
            json_object_set_new(bw, "ingressRate", json_integer(in));
            json_object_set_new(bw, "ingressBurst", json_integer(2147483647));
        }
        if (out) {
            json_object_set_new(bw, "egressRate", json_integer(out));
            json_object_set_new(bw, "egressBurst", json_integer(2147483647));
        }
        json_object_set_new(rc, "bandwidth", bw);
    }
    return rc;
}

static int net_up(pod_service *s, sandbox *sb, const pod_config *c, cric_err *err)
{
    pod_info *p = sb->info;
    json_t *conflist = NULL;
    _cleanup_free_ char *conf_path = NULL;
    if (cni_conf_load(s->cfg->cni_conf_dir, &conflist, &conf_path, err) < 0)
        return cric_err_set(err, CRIC_ERR_PRECONDITION,
                            "sandbox %.12s: network not ready: %.900s", p->id, err->msg);
    json_t *rcfg = runtime_config(c, err);
    if (!rcfg) {
        json_decref(conflist);
        return -1;
    }
    _cleanup_free_ char *args = NULL;
    if (asprintf(&args,
                 "IgnoreUnknown=1;K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s;"
                 "K8S_POD_INFRA_CONTAINER_ID=%s;K8S_POD_UID=%s",
                 p->namespace_, p->name, p->id, p->uid) < 0)
        args = NULL;
    json_t *cache = json_pack("{s:o, s:o, s:s?, s:s, s:s}", "config", conflist, "runtimeConfig",
                              rcfg, "args", args, "netns", p->netns_path, "ifname", "eth0");
    if (!cache || !args) {
        json_decref(cache);
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    }
    char path[4096];
    sb_path(p, "cni.json", path, sizeof(path));
    /* The cache is written before ADD so that a crash mid-ADD still gets a DEL. */
    _cleanup_free_ char *text = json_dumps(cache, JSON_COMPACT);
    if (!text || fs_write_atomic(path, text, strlen(text), 0600, err) < 0) {
        json_decref(cache);
        return cric_err_prefix(err, "sandbox %.12s: CNI cache", p->id);
    }
    cni_runtime rt;
    fill_runtime(s, p, cache, &rt);
    json_t *result = NULL;
    double t0 = mono_ms();
    if (cni_add(&rt, conflist, &result, err) < 0) {
        cric_err_prefix(err, "sandbox %.12s: network setup (%s)", p->id, conf_path);
        json_decref(cache);
        return -1; /* the caller's teardown runs DEL from the cache */
    }
    log_debug("pod", "sandbox %.12s: CNI ADD took %.1f ms", p->id, mono_ms() - t0);
    char **ips = NULL;
    size_t n_ips = 0;
    if (cni_result_ips(result, &ips, &n_ips, err) < 0) {
        json_decref(result);
        json_decref(cache);
        return cric_err_prefix(err, "sandbox %.12s: network setup (%s)", p->id, conf_path);
    }
    json_object_set_new(cache, "result", result);
    free(text);
    text = json_dumps(cache, JSON_COMPACT);
    json_decref(cache);
    int rc = text ? fs_write_atomic(path, text, strlen(text), 0600, err)
                  : cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < p->n_ips; i++)
        free(p->ips[i]);
    free(p->ips);
    p->ips = ips;
    p->n_ips = n_ips;
    pthread_mutex_unlock(&s->mu);
    return rc < 0 ? cric_err_prefix(err, "sandbox %.12s: CNI cache", p->id) : 0;
}

static int write_text(const pod_info *p, const char *name, const char *text, cric_err *err)
{
    char path[4096];
    sb_path(p, name, path, sizeof(path));
    if (fs_write_atomic(path, text, strlen(text), 0644, err) < 0)
        return cric_err_prefix(err, "sandbox %.12s", p->id);
    return 0;
}

static int copy_host_file(const pod_info *p, const char *src, const char *name, cric_err *err)
{
    _cleanup_free_ char *text = NULL;
    size_t len;
    if (fs_read_file(src, 1u << 20, &text, &len, NULL) < 0) {
        free(text);
        text = strdup("");
        if (!text)
            return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    }
    return write_text(p, name, text, err);
}

static int files_up(const pod_info *p, const pod_config *c, cric_err *err)
{
    _cleanup_free_ char *hn = NULL;
    if (asprintf(&hn, "%s\n", p->hostname) < 0)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    if (write_text(p, "hostname", hn, err) < 0)
        return -1;
    if (p->net_mode == POD_NS_NODE) {
        if (copy_host_file(p, "/etc/hosts", "hosts", err) < 0)
            return -1;
    } else {
        _cleanup_free_ char *hosts = NULL;
        if (etc_hosts(p->n_ips ? p->ips[0] : "", p->hostname, &hosts, err) < 0 ||
            write_text(p, "hosts", hosts, err) < 0)
            return -1;
    }
    if (c->has_dns) {
        _cleanup_free_ char *resolv = NULL;
        if (etc_resolv_conf(c->dns_servers, c->n_dns_servers, c->dns_searches, c->n_dns_searches,
                            c->dns_options, c->n_dns_options, &resolv, err) < 0 ||
            write_text(p, "resolv.conf", resolv, err) < 0)
            return -1;
        return 0;
    }
    return copy_host_file(p, "/etc/resolv.conf", "resolv.conf", err);
}

static int cgroup_up(pod_service *s, const pod_info *p, const pod_config *c, cric_err *err)
{
    if (!p->cgroup_parent[0])
        return 0;
    char rel[1024];
    if (cgroup_parent_relpath(p->cgroup_parent, rel, sizeof(rel), err) < 0)
        return -1;
    char **created = NULL;
    size_t n = 0;
    if (cgroup_create(&s->cg, rel, &created, &n, err) < 0)
        return cric_err_prefix(err, "sandbox %.12s", p->id);
    /* Record what we created before anything else can fail. */
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(created[i]) + 1;
    _cleanup_free_ char *text = calloc(1, len);
    int rc = 0;
    if (!text) {
        rc = cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    } else {
        for (size_t i = 0; i < n; i++) {
            strcat(text, created[i]);
            strcat(text, "\n");
        }
        rc = write_text(p, "cgroups", text, err);
    }
    if (rc < 0)
        cgroup_remove(created, n, NULL);
    cleanup_strvp(&created);
    if (rc < 0)
        return -1;
    if (cgroup_apply(&s->cg, rel, c->overhead, c->resources, err) < 0)
        return cric_err_prefix(err, "sandbox %.12s: pod resources", p->id);
    return 0;
}

static int infra_up(pod_service *s, sandbox *sb, cric_err *err)
{
    pod_info *p = sb->info;
    if (p->pid_mode != POD_NS_POD)
        return 0;
    pid_t pid;
    unsigned long long start;
    if (infra_start(s->pause_bin, p->netns_path, p->ipcns_path, p->utsns_path, &pid, &start,
                    err) < 0)
        return cric_err_prefix(err, "sandbox %.12s", p->id);
    char text[64];
    snprintf(text, sizeof(text), "%d %llu\n", (int)pid, start);
    if (write_text(p, "infra", text, err) < 0) {
        infra_kill(pid, start, NULL);
        return -1;
    }
    pthread_mutex_lock(&s->mu);
    p->infra_pid = pid;
    pthread_mutex_unlock(&s->mu);
    if (nspin_pin_proc(pid, "pid", p->pidns_path, err) < 0)
        return cric_err_prefix(err, "sandbox %.12s", p->id);
    if (p->cgroup_parent[0]) {
        char rel[1024];
        if (cgroup_parent_relpath(p->cgroup_parent, rel, sizeof(rel), err) < 0 ||
            cgroup_add_pid(&s->cg, rel, pid, err) < 0)
            return cric_err_prefix(err, "sandbox %.12s: infra process", p->id);
    }
    return 0;
}

/* Every step of RunPodSandbox after the sandbox is in the table. */
static int run_steps(pod_service *s, sandbox *sb, const pod_config *c, cric_err *err)
{
    pod_info *p = sb->info;
    double t0 = mono_ms();
    if (persist(s, sb, true, err) < 0)
        return -1;
    char ns_dir[4096];
    sb_path(p, "ns", ns_dir, sizeof(ns_dir));
    if (fs_mkdir_p(ns_dir, 0711, err) < 0)
        return cric_err_prefix(err, "sandbox %.12s", p->id);
    bool own_net = p->net_mode == POD_NS_POD, own_ipc = p->ipc_mode == POD_NS_POD;
    nspin_request req = {.ns_dir = ns_dir,
                         .net = own_net,
                         .ipc = own_ipc,
                         .uts = own_net,
                         .hostname = p->hostname,
                         .sysctls = c->sysctls,
                         .n_sysctls = c->n_sysctls};
    if (nspin_create(&req, err) < 0)
        return cric_err_prefix(err, "sandbox %.12s: namespaces", p->id);
    if (own_ipc && nspin_mount_shm(p->shm_path, SHM_DEFAULT_SIZE, err) < 0)
        return cric_err_prefix(err, "sandbox %.12s", p->id);
    double t1 = mono_ms();
    if (cgroup_up(s, p, c, err) < 0)
        return -1;
    if (infra_up(s, sb, err) < 0)
        return -1;
    double t2 = mono_ms();
    if (own_net && net_up(s, sb, c, err) < 0)
        return -1;
    double t3 = mono_ms();
    if (files_up(p, c, err) < 0)
        return -1;
    set_ready(s, sb, true);
    if (persist(s, sb, false, err) < 0) {
        set_ready(s, sb, false);
        return -1;
    }
    log_debug("pod", "sandbox %.12s: namespaces %.1f ms, cgroup+infra %.1f ms, network %.1f ms, "
                     "files+db %.1f ms",
              p->id, t1 - t0, t2 - t1, t3 - t2, mono_ms() - t3);
    return 0;
}

int pod_run(pod_service *s, const pod_config *c, char id_out[65], cric_err *err)
{
    const char *handler = NULL;
    if (validate(s, c, &handler, err) < 0)
        return -1;
    char id[CRIC_ID_LEN + 1];
    if (id_random_hex(id) < 0)
        return cric_err_errno(err, errno, "sandbox id: getrandom");
    pod_info *info = info_new(s, c, id, handler);
    sandbox *sb = info ? sb_new(info) : NULL;
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
            sb_free(sb);
            return cric_err_set(err, CRIC_ERR_EXISTS,
                                "sandbox name %s_%s_%s_%u is in use by sandbox %.12s",
                                c->name, c->namespace_, c->uid ? c->uid : "", c->attempt, o->id);
        }
    }
    if (table_add(s, sb) < 0) {
        pthread_mutex_unlock(&s->mu);
        sb_free(sb);
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    }
    pthread_mutex_unlock(&s->mu);

    int rc = run_steps(s, sb, c, err);
    if (rc < 0) {
        log_warn("pod", "RunPodSandbox %s/%s failed, undoing: %s", info->namespace_, info->name,
                 err->msg);
        cric_err uerr = {0};
        if (release_all(s, info, &uerr) < 0 ||
            sandbox_store_delete(s->db, info->id, &uerr) < 0) {
            /* Keep the row (marked creating) so the next start retries. */
            log_error("pod", "sandbox %.12s: undo incomplete: %s", info->id, uerr.msg);
        }
    } else {
        memcpy(id_out, id, sizeof(id));
        log_info("pod", "sandbox %.12s (%s/%s) ready", id, info->namespace_, info->name);
    }
    pthread_mutex_lock(&s->mu);
    if (rc < 0)
        table_del(s, sb);
    else
        sb->creating = false;
    pthread_mutex_unlock(&s->mu);
    sb_unref(s, sb);
    return rc;
}

/* ------------------------------------------------------------- stop/remove */

static int stop_locked(pod_service *s, sandbox *sb, cric_err *err)
{
    if (s->stop_all && s->stop_all(s->hook_ctx, sb->info->id, err) < 0)
        return cric_err_prefix(err, "sandbox %.12s: stop containers", sb->info->id);
    bool was_ready = sb->info->ready;
    set_ready(s, sb, false);
    int rc = release_runtime(s, sb->info, err);
    pthread_mutex_lock(&s->mu);
    if (rc == 0) {
        for (size_t i = 0; i < sb->info->n_ips; i++)
            free(sb->info->ips[i]);
        sb->info->n_ips = 0;
    }
    pthread_mutex_unlock(&s->mu);
    cric_err perr = {0};
    if ((was_ready || rc == 0) && persist(s, sb, false, &perr) < 0 && rc == 0) {
        *err = perr;
        rc = -1;
    }
    return rc;
}

int pod_stop(pod_service *s, const char *id, cric_err *err)
{
    sandbox *sb;
    if (get_sandbox(s, id, &sb, err) < 0)
        return err->kind == CRIC_ERR_NOT_FOUND ? (cric_err_clear(err), 0) : -1;
    pthread_mutex_lock(&sb->op_mu);
    int rc = sb->removed ? 0 : stop_locked(s, sb, err);
    pthread_mutex_unlock(&sb->op_mu);
    if (rc == 0)
        log_info("pod", "sandbox %.12s stopped", sb->info->id);
    sb_unref(s, sb);
    return rc;
}

int pod_remove(pod_service *s, const char *id, cric_err *err)
{
    sandbox *sb;
    if (get_sandbox(s, id, &sb, err) < 0)
        return err->kind == CRIC_ERR_NOT_FOUND ? (cric_err_clear(err), 0) : -1;
    pthread_mutex_lock(&sb->op_mu);
    int rc = 0;
    if (!sb->removed) {
        rc = stop_locked(s, sb, err);
        if (rc == 0 && s->remove_all && s->remove_all(s->hook_ctx, sb->info->id, err) < 0)
            rc = cric_err_prefix(err, "sandbox %.12s: remove containers", sb->info->id);
        if (rc == 0)
            rc = release_all(s, sb->info, err);
        if (rc == 0)
            rc = sandbox_store_delete(s->db, sb->info->id, err);
        if (rc == 0) {
            pthread_mutex_lock(&s->mu);
            sb->removed = true;
            table_del(s, sb);
            pthread_mutex_unlock(&s->mu);
            log_info("pod", "sandbox %.12s removed", sb->info->id);
        }
    }
    pthread_mutex_unlock(&sb->op_mu);
    sb_unref(s, sb);
    return rc;
}

/* ------------------------------------------------------------- queries */

int pod_lookup(pod_service *s, const char *id, pod_info **out, cric_err *err)
{
    pthread_mutex_lock(&s->mu);
    sandbox *sb = NULL;
    int rc = table_find(s, id, &sb, err);
    if (rc == 0) {
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
        if (f && f->id && f->id[0] && strncmp(p->id, f->id, strlen(f->id)) != 0)
            continue;
        if (f && f->has_state && f->state != (p->ready ? POD_STATE_READY : POD_STATE_NOTREADY))
            continue;
        if (f && !pod_labels_match(f->labels, f->n_labels, p->label_keys, p->label_values,
                                   p->n_labels))
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
    sb_path(p, "cni.json", cni, sizeof(cni));
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

/* ------------------------------------------------------------- start-up */

static bool is_nsfs(const char *path)
{
    struct statfs st;
    return path[0] && statfs(path, &st) == 0 && (unsigned long)st.f_type == NSFS_MAGIC_NUMBER;
}

/* After a restart: is what the sandbox needs still there? */
static bool still_alive(const pod_info *p)
{
    if (p->netns_path[0] && !is_nsfs(p->netns_path))
        return false;
    if (p->ipcns_path[0] && !is_nsfs(p->ipcns_path))
        return false;
    if (p->pid_mode == POD_NS_POD) {
        char path[4096];
        sb_path(p, "infra", path, sizeof(path));
        _cleanup_free_ char *text = NULL;
        size_t len;
        int pid = 0;
        unsigned long long start = 0;
        if (fs_read_file(path, 256, &text, &len, NULL) < 0 ||
            sscanf(text, "%d %llu", &pid, &start) != 2 || infra_start_time(pid) != start)
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
    bool creating = json_is_true(json_object_get(j, "creating"));
    json_decref(j);
    char expect[4200];
    if (p)
        snprintf(expect, sizeof(expect), "%s/%s", s->dir, p->id);
    if (!p || strcmp(p->id, row->id) != 0 || strcmp(p->sandbox_dir, expect) != 0) {
        log_error("pod", "sandbox %.12s: unreadable database record; dropping it", row->id);
        pod_info_free(p);
        return sandbox_store_delete(s->db, row->id, err);
    }
    if (creating) {
        /* The daemon died inside RunPodSandbox: finish the undo. */
        cric_err uerr = {0};
        if (release_all(s, p, &uerr) < 0)
            log_error("pod", "sandbox %.12s: cleanup of an interrupted run: %s", p->id,
                      uerr.msg);
        else if (sandbox_store_delete(s->db, p->id, &uerr) < 0)
            log_error("pod", "%s", uerr.msg);
        else
            log_info("pod", "sandbox %.12s: cleaned up an interrupted RunPodSandbox", p->id);
        pod_info_free(p);
        return 0;
    }
    sandbox *sb = sb_new(p);
    if (!sb) {
        pod_info_free(p);
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    }
    if (p->ready && !still_alive(p)) {
        log_warn("pod", "sandbox %.12s: namespaces or infra process gone; now NOTREADY", p->id);
        p->ready = false;
        cric_err perr = {0};
        if (persist(s, sb, false, &perr) < 0)
            log_warn("pod", "%s", perr.msg);
    }
    if (table_add(s, sb) < 0) {
        sb_free(sb);
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    }
    return 0;
}

int pod_service_new(pod_service **out, const cric_config *cfg, cric_db *db, cric_err *err)
{
    pod_service *s = calloc(1, sizeof(*s));
    if (!s)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    s->cfg = cfg;
    s->db = db;
    pthread_mutex_init(&s->mu, NULL);
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
        cric_err_prefix(err, "pod service");
        pod_service_free(s);
        return -1;
    }
    log_info("pod", "%zu sandboxes loaded; cgroups: %zu v1 hierarchies%s%s", s->n, s->cg.n_v1,
             s->cg.v2 ? ", v2 at " : "", s->cg.v2 ? s->cg.v2 : "");
    *out = s;
    return 0;
}

void pod_service_free(pod_service *s)
{
    if (!s)
        return;
    if (s->n == 0 && s->dir)
        nspin_private_unmount(s->dir);
    for (size_t i = 0; i < s->n; i++)
        sb_free(s->items[i]);
    free(s->items);
    free(s->dir);
    free(s->pause_bin);
    cgroup_mounts_free(&s->cg);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
