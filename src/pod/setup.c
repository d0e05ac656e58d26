/* The steps of RunPodSandbox: namespaces, shm, cgroup, infra process,
 * CNI network, /etc files; the caller undoes them on failure. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pod/cni_conf.h"
#include "pod/etcfiles.h"
#include "pod/infra.h"
#include "pod/nspin.h"
#include "pod/service_int.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

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
    } sufs[] = {{"", 1},           {"k", 1e3},           {"M", 1e6},
                {"G", 1e9},        {"T", 1e12},          {"Ki", 1024.0},
                {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0}};
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
    /* The node's pod CIDR(s) for IPAM plugins that declare ipRanges:
     * [[{"subnet": a}], [{"subnet": b}]] (one range set per family). */
    if (c->pod_cidr && c->pod_cidr[0]) {
        json_t *sets = json_array();
        char buf[512];
        snprintf(buf, sizeof(buf), "%s", c->pod_cidr);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
            json_array_append_new(sets, json_pack("[{s:s}]", "subnet", t));
        json_object_set_new(rc, "ipRanges", sets);
    }
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
    cric_err cerr = {0};
    if (cni_conf_load(s->cfg->cni_conf_dir, &conflist, &conf_path, &cerr) < 0)
        return cric_err_set(err, CRIC_ERR_PRECONDITION, "sandbox %.12s: network not ready: %.900s",
                            p->id, cerr.msg);
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
    pods_path(p, "cni.json", path, sizeof(path));
    /* The cache is written before ADD so that a crash mid-ADD still gets a DEL. */
    _cleanup_free_ char *text = json_dumps(cache, JSON_COMPACT);
    if (!text || pods_write_state(path, text, 0600, err) < 0) {
        json_decref(cache);
        return cric_err_prefix(err, "sandbox %.12s: CNI cache: ", p->id);
    }
    cni_runtime rt;
    pods_fill_runtime(s, p, cache, &rt);
    json_t *result = NULL;
    double t0 = pods_mono_ms();
    if (cni_add(&rt, conflist, &result, err) < 0) {
        cric_err_prefix(err, "sandbox %.12s: network setup (%s): ", p->id, conf_path);
        json_decref(cache);
        return -1; /* the caller's teardown runs DEL from the cache */
    }
    log_debug("pod", "sandbox %.12s: CNI ADD took %.1f ms", p->id, pods_mono_ms() - t0);
    char **ips = NULL;
    size_t n_ips = 0;
    if (cni_result_ips(result, &ips, &n_ips, err) < 0) {
        json_decref(result);
        json_decref(cache);
        return cric_err_prefix(err, "sandbox %.12s: network setup (%s): ", p->id, conf_path);
    }
    json_object_set_new(cache, "result", result);
    free(text);
    text = json_dumps(cache, JSON_COMPACT);
    json_decref(cache);
    int rc = text ? pods_write_state(path, text, 0600, err)
                  : cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < p->n_ips; i++)
        free(p->ips[i]);
    free(p->ips);
    p->ips = ips;
    p->n_ips = n_ips;
    pthread_mutex_unlock(&s->mu);
    return rc < 0 ? cric_err_prefix(err, "sandbox %.12s: CNI cache: ", p->id) : 0;
}

static int write_text(const pod_info *p, const char *name, const char *text, cric_err *err)
{
    char path[4096];
    pods_path(p, name, path, sizeof(path));
    if (pods_write_state(path, text, 0644, err) < 0)
        return cric_err_prefix(err, "sandbox %.12s: ", p->id);
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

/* The "cgroups" record lists what a removal of this sandbox takes away. */
static int record_cgroups(const pod_info *p, char **dirs, size_t n, cric_err *err)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(dirs[i]) + 1;
    _cleanup_free_ char *text = calloc(1, len);
    if (!text)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    for (size_t i = 0; i < n; i++) {
        strcat(text, dirs[i]);
        strcat(text, "\n");
    }
    return write_text(p, "cgroups", text, err);
}

static int cgroup_up(pod_service *s, const pod_info *p, const pod_config *c, cric_err *err)
{
    if (!p->cgroup_parent[0])
        return 0;
    char rel[1024];
    if (cgroup_parent_relpath(p->cgroup_parent, rel, sizeof(rel), err) < 0)
        return -1;
    /* What is about to be made is recorded first: a daemon killed between
     * the mkdirs and the record left directories nobody knew of (found by
     * the kill -9 harness). A directory another pod makes in between is
     * shared, and removed by the last removal that finds it unused. */
    char **created = NULL;
    size_t n = 0;
    if (cgroup_missing(&s->cg, rel, &created, &n, err) < 0)
        return cric_err_prefix(err, "sandbox %.12s: ", p->id);
    int rc = n ? record_cgroups(p, created, n, err) : 0;
    cleanup_strvp(&created);
    if (rc < 0)
        return -1;
    if (cgroup_create(&s->cg, rel, &created, &n, err) < 0)
        return cric_err_prefix(err, "sandbox %.12s: ", p->id);
    /* then exactly what was made */
    rc = record_cgroups(p, created, n, err);
    if (rc < 0)
        cgroup_remove(created, n, NULL, NULL, NULL);
    cleanup_strvp(&created);
    if (rc < 0)
        return -1;
    if (cgroup_apply(&s->cg, rel, c->overhead, c->resources, err) < 0)
        return cric_err_prefix(err, "sandbox %.12s: pod resources: ", p->id);
    return 0;
}

static int infra_up(pod_service *s, sandbox *sb, cric_err *err)
{
    pod_info *p = sb->info;
    if (p->pid_mode != POD_NS_POD)
        return 0;
    pid_t pid;
    unsigned long long start;
    char record[4096];
    pods_path(p, "infra", record, sizeof(record));
    if (infra_start(s->pause_bin, record, p->netns_path, p->ipcns_path, p->utsns_path, &pid, &start,
                    err) < 0)
        return cric_err_prefix(err, "sandbox %.12s: ", p->id);
    pthread_mutex_lock(&s->mu);
    p->infra_pid = pid;
    sb->infra_start = start;
    pthread_mutex_unlock(&s->mu);
    if (nspin_pin_proc(pid, "pid", p->pidns_path, err) < 0)
        return cric_err_prefix(err, "sandbox %.12s: ", p->id);
    if (p->cgroup_parent[0]) {
        char rel[1024];
        if (cgroup_parent_relpath(p->cgroup_parent, rel, sizeof(rel), err) < 0 ||
            cgroup_add_pid(&s->cg, rel, pid, err) < 0)
            return cric_err_prefix(err, "sandbox %.12s: infra process: ", p->id);
    }
    return 0;
}

/* Every step of RunPodSandbox after the sandbox is in the table. */
int pods_run_steps(pod_service *s, sandbox *sb, const pod_config *c, cric_err *err)
{
    pod_info *p = sb->info;
    double t0 = pods_mono_ms();
    /* The sandbox dir comes first: it is what recovery looks for. */
    char ns_dir[4096];
    pods_path(p, "ns", ns_dir, sizeof(ns_dir));
    if (fs_mkdir_p(ns_dir, 0711, err) < 0)
        return cric_err_prefix(err, "sandbox %.12s: ", p->id);
    bool own_net = p->net_mode == POD_NS_POD, own_ipc = p->ipc_mode == POD_NS_POD;
    nspin_request req = {
        .ns_dir = ns_dir, .net = own_net, .ipc = own_ipc, .uts = own_net, .hostname = p->hostname};
    if (nspin_create(&req, err) < 0)
        return cric_err_prefix(err, "sandbox %.12s: namespaces: ", p->id);
    if (own_ipc && nspin_mount_shm(p->shm_path, SHM_DEFAULT_SIZE, err) < 0)
        return cric_err_prefix(err, "sandbox %.12s: ", p->id);
    double t1 = pods_mono_ms();
    if (cgroup_up(s, p, c, err) < 0)
        return -1;
    if (infra_up(s, sb, err) < 0)
        return -1;
    double t2 = pods_mono_ms();
    if (own_net && net_up(s, sb, c, err) < 0)
        return -1;
    if (nspin_sysctls(p->netns_path, p->ipcns_path, p->utsns_path, c->sysctls, c->n_sysctls, err) <
        0)
        return cric_err_prefix(err, "sandbox %.12s: ", p->id);
    double t3 = pods_mono_ms();
    if (files_up(p, c, err) < 0)
        return -1;
    pods_set_ready(s, sb, true);
    if (pods_persist(s, sb, err) < 0) {
        pods_set_ready(s, sb, false);
        return -1;
    }
    log_debug("pod",
              "sandbox %.12s: namespaces %.1f ms, cgroup+infra %.1f ms, network %.1f ms, "
              "files+db %.1f ms",
              p->id, t1 - t0, t2 - t1, t3 - t2, pods_mono_ms() - t3);
    return 0;
}
