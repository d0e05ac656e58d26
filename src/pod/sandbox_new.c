/* RunPodSandbox input validation and the new sandbox's snapshot. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pod/etcfiles.h"
#include "pod/service_int.h"
#include "pod/sysctl.h"

#define NAME_MAX_LEN 253
#define MAX_KV 1024

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

/* "." and "..": path components that are no name. */
static bool dot_name(const char *s)
{
    return strcmp(s, ".") == 0 || strcmp(s, "..") == 0;
}

int pods_validate(pod_service *s, const pod_config *c, const char **handler, cric_err *err)
{
    if (!c->name || !c->name[0] || !c->namespace_ || !c->namespace_[0])
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "sandbox config: metadata name and namespace "
                            "are required");
    if (!printable_no(c->name, NAME_MAX_LEN, ";=,/") ||
        !printable_no(c->namespace_, NAME_MAX_LEN, ";=,/") ||
        !printable_no(c->uid ? c->uid : "", NAME_MAX_LEN, ";=,/") || dot_name(c->name) ||
        dot_name(c->namespace_) || dot_name(c->uid ? c->uid : ""))
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "sandbox %.80s/%.80s: metadata holds forbidden characters or is too "
                            "long",
                            c->namespace_, c->name);
    const char *h =
        c->runtime_handler && c->runtime_handler[0] ? c->runtime_handler : s->cfg->default_runtime;
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
        unsigned char addr[16];
        if (pm->host_ip && pm->host_ip[0] && inet_pton(AF_INET, pm->host_ip, addr) != 1 &&
            inet_pton(AF_INET6, pm->host_ip, addr) != 1)
            return cric_err_set(err, CRIC_ERR_INVALID, "port mapping: host_ip %.80s is not an IP",
                                pm->host_ip);
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
pod_info *pods_info_new(pod_service *s, const pod_config *c, const char *id, const char *handler)
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
    p->created_at = pods_now_ns();
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
        snprintf(host, sizeof(host), "%s", c->hostname && c->hostname[0] ? c->hostname : p->name);
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
