/* linux.*: namespaces (the sandbox's joined by path, a new mount namespace,
 * the PID mode), cgroupsPath, resources, devices and sysctls. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "ctr/spec_internal.h"
#include "util/cleanup.h"
#include "util/log.h"

/* ---------------------------------------------------------------- namespaces */

static int ns_add(json_t *arr, const char *type, const char *path, cric_err *err)
{
    json_t *o = json_pack("{s:s}", "type", type);
    if (o && path && *path)
        json_object_set_new(o, "path", json_string(path));
    return spec_append(arr, o, err);
}

static int ns_path_ok(spec_ctx *c, const char *what, const char *p, cric_err *err)
{
    if (p && *p && (p[0] != '/' || !spec_str_ok(p, SPEC_MAX_STRLEN)))
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "container %s: %s path \"%.128s\" is not absolute", c->cid, what, p);
    return 0;
}

int spec_namespaces(spec_ctx *c, cric_err *err)
{
    const ctr_spec_sandbox *sb = c->sb;
    if (ns_path_ok(c, "netns", sb->netns_path, err) ||
        ns_path_ok(c, "ipcns", sb->ipcns_path, err) ||
        ns_path_ok(c, "utsns", sb->utsns_path, err) ||
        ns_path_ok(c, "pidns", sb->pidns_path, err) ||
        ns_path_ok(c, "target pidns", c->in->target_pidns_path, err))
        return -1;
    json_t *ns = json_array();
    if (spec_set(c->linux, "namespaces", ns, err))
        return -1;
    int mode = RUNTIME__V1__NAMESPACE_MODE__POD; /* the CRI default when unset */
    if (c->sc && c->sc->namespace_options)
        mode = c->sc->namespace_options->pid;
    switch (mode) {
    case RUNTIME__V1__NAMESPACE_MODE__POD:
        if (*spec_str(sb->pidns_path)) {
            if (ns_add(ns, "pid", sb->pidns_path, err))
                return -1;
        } else if (sb->pid_mode == RUNTIME__V1__NAMESPACE_MODE__NODE) {
            /* the pod uses the host's PID namespace */
        } else {
            log_debug("ctr", "container %s: pod has no shared PID namespace; a private one is used",
                      c->cid);
            if (ns_add(ns, "pid", NULL, err))
                return -1;
        }
        break;
    case RUNTIME__V1__NAMESPACE_MODE__CONTAINER:
        if (ns_add(ns, "pid", NULL, err))
            return -1;
        break;
    case RUNTIME__V1__NAMESPACE_MODE__NODE:
        if (sb->pid_mode != RUNTIME__V1__NAMESPACE_MODE__NODE && !c->privileged && !sb->privileged)
            log_debug("ctr", "container %s: host PID namespace", c->cid);
        break;
    case RUNTIME__V1__NAMESPACE_MODE__TARGET:
        if (!*spec_str(c->in->target_pidns_path))
            return cric_err_set(err, CRIC_ERR_INVALID,
                                "container %s: PID namespace mode TARGET without a target "
                                "container",
                                c->cid);
        if (ns_add(ns, "pid", c->in->target_pidns_path, err))
            return -1;
        break;
    default:
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: unknown PID namespace mode %d",
                            c->cid, mode);
    }
    if ((*spec_str(sb->netns_path) && ns_add(ns, "network", sb->netns_path, err)) ||
        (*spec_str(sb->ipcns_path) && ns_add(ns, "ipc", sb->ipcns_path, err)) ||
        (*spec_str(sb->utsns_path) && ns_add(ns, "uts", sb->utsns_path, err)) ||
        ns_add(ns, "mount", NULL, err))
        return -1;
    if (c->in->host->cgroup_layout == CTR_CGROUP_V2 && !c->privileged &&
        ns_add(ns, "cgroup", NULL, err))
        return -1;
    return 0;
}

/* ---------------------------------------------------------------- resources */

static int cgroups_path(spec_ctx *c, cric_err *err)
{
    const char *parent = spec_str(c->sb->cgroup_parent);
    if (!*parent)
        parent = "/cric";
    char clean[SPEC_MAX_STRLEN + 1];
    if (spec_path_clean(parent, clean) != 0 || strstr(parent, "/..") || strchr(parent, ':'))
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "container %s: cgroup parent \"%.128s\" is not an absolute cgroupfs "
                            "path",
                            c->cid, parent);
    char *p = NULL;
    if (asprintf(&p, "%s/%s", strcmp(clean, "/") == 0 ? "" : clean, c->cid) < 0)
        return cric_err_set(err, CRIC_ERR_INTERNAL, "out of memory");
    c->extra->cgroups_path = p;
    return spec_set(c->linux, "cgroupsPath", json_string(p), err);
}

static bool cpuset_ok(const char *s)
{
    if (strlen(s) > 1024)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || *p == ',' || *p == '-'))
            return false;
    return true;
}

/* "2MB", "1GB", "64KB" (base 1024) -> canonical form for the OCI spec. */
static bool hugepage_size_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 3 || n > 16)
        return false;
    size_t digits = 0;
    while (s[digits] >= '0' && s[digits] <= '9')
        digits++;
    if (digits == 0 || s[0] == '0')
        return false;
    const char *u = s + digits;
    return strcmp(u, "KB") == 0 || strcmp(u, "MB") == 0 || strcmp(u, "GB") == 0 ||
           strcmp(u, "TB") == 0 || strcmp(u, "PB") == 0;
}

static bool unified_key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > 255 || !strchr(k, '.') || strchr(k, '/'))
        return false;
    if (strncmp(k, "cgroup.", 7) == 0)
        return false; /* cgroup.procs etc. belong to the runtime */
    for (const char *p = k; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_'))
            return false;
    return true;
}

int spec_resources(spec_ctx *c, cric_err *err)
{
    if (cgroups_path(c, err))
        return -1;
    json_t *res = json_object_get(c->linux, "resources");
    if (!res) {
        res = json_object();
        if (spec_set(c->linux, "resources", res, err))
            return -1;
    }
    const Runtime__V1__LinuxContainerResources *r = c->res;
    int floor = c->in->host->oom_score_adj_floor;
    int64_t oom = r ? r->oom_score_adj : 0;
    if (oom < -1000 || oom > 1000)
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "container %s: oom_score_adj %lld is outside [-1000, 1000]", c->cid,
                            (long long)oom);
    if (oom < floor) {
        log_debug("ctr", "container %s: oom_score_adj %lld raised to cric's own %d", c->cid,
                  (long long)oom, floor);
        oom = floor;
    }
    if (spec_set(c->process, "oomScoreAdj", json_integer(oom), err))
        return -1;
    if (c->in->pids_limit > 0 &&
        spec_set(res, "pids", json_pack("{s:I}", "limit", (json_int_t)c->in->pids_limit), err))
        return -1;
    if (!r)
        return 0;

    json_t *cpu = json_object();
    if (spec_set(res, "cpu", cpu, err))
        return -1;
    if (r->cpu_shares < 0 || r->cpu_quota < -1 || r->cpu_period < 0)
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: negative cpu resources", c->cid);
    if (r->cpu_shares > 0 && spec_set(cpu, "shares", json_integer(r->cpu_shares), err))
        return -1;
    if (r->cpu_quota != 0 && spec_set(cpu, "quota", json_integer(r->cpu_quota), err))
        return -1;
    if (r->cpu_period > 0 && spec_set(cpu, "period", json_integer(r->cpu_period), err))
        return -1;
    const char *cpus = spec_str(r->cpuset_cpus), *mems = spec_str(r->cpuset_mems);
    if (!cpuset_ok(cpus) || !cpuset_ok(mems))
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "container %s: invalid cpuset \"%.64s\"/\"%.64s\"", c->cid, cpus, mems);
    if (*cpus && spec_set(cpu, "cpus", json_string(cpus), err))
        return -1;
    if (*mems && spec_set(cpu, "mems", json_string(mems), err))
        return -1;

    int64_t limit = r->memory_limit_in_bytes, swap = r->memory_swap_limit_in_bytes;
    if (limit < 0 || swap < -1)
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: negative memory limit", c->cid);
    if (limit > 0 || swap != 0) {
        json_t *mem = json_object();
        if (spec_set(res, "memory", mem, err))
            return -1;
        if (limit > 0 && spec_set(mem, "limit", json_integer(limit), err))
            return -1;
        /* The swap value is memory+swap. Equal to the limit by default: no
         * swapping unless asked, and only where the kernel accounts swap. */
        int64_t sw = swap != 0 ? swap : limit;
        if (swap > 0 && limit > 0 && swap < limit)
            return cric_err_set(err, CRIC_ERR_INVALID,
                                "container %s: memory_swap_limit_in_bytes below the memory limit",
                                c->cid);
        if (sw != 0 && c->in->host->swap_limit && spec_set(mem, "swap", json_integer(sw), err))
            return -1;
    }

    if (r->n_hugepage_limits > 0 && !c->in->host->hugetlb) {
        /* the kubelet sends a (0) limit for every page size the node has */
        log_warn("ctr",
                 "container %s: %zu hugepage limits not applied: no hugetlb cgroup controller "
                 "the OCI runtime can use on this host",
                 c->cid, r->n_hugepage_limits);
    } else if (r->n_hugepage_limits > 0) {
        if (r->n_hugepage_limits > 16)
            return cric_err_set(err, CRIC_ERR_INVALID, "container %s: too many hugepage limits",
                                c->cid);
        json_t *hp = json_array();
        if (spec_set(res, "hugepageLimits", hp, err))
            return -1;
        for (size_t i = 0; i < r->n_hugepage_limits; i++) {
            const Runtime__V1__HugepageLimit *h = r->hugepage_limits[i];
            if (!hugepage_size_ok(spec_str(h->page_size)))
                return cric_err_set(err, CRIC_ERR_INVALID,
                                    "container %s: invalid hugepage size \"%.16s\"", c->cid,
                                    spec_str(h->page_size));
            if (spec_append(hp,
                            json_pack("{s:s, s:I}", "pageSize", h->page_size, "limit",
                                      (json_int_t)h->limit),
                            err))
                return -1;
        }
    }

    if (r->n_unified > 0) {
        if (c->in->host->cgroup_layout != CTR_CGROUP_V2) {
            log_warn("ctr",
                     "container %s: %zu unified (cgroup v2) resources ignored: this host's "
                     "cgroups are not unified",
                     c->cid, r->n_unified);
        } else {
            json_t *u = json_object();
            if (spec_set(res, "unified", u, err))
                return -1;
            for (size_t i = 0; i < r->n_unified && i < 256; i++) {
                const char *k = spec_str(r->unified[i]->key), *v = spec_str(r->unified[i]->value);
                if (!unified_key_ok(k) || strlen(v) > 4096 || strchr(v, '\n'))
                    return cric_err_set(err, CRIC_ERR_INVALID,
                                        "container %s: invalid unified resource \"%.64s\"", c->cid,
                                        k);
                if (spec_set(u, k, json_string(v), err))
                    return -1;
            }
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- devices */

typedef struct dev_state {
    spec_ctx *c;
    json_t *devices, *rules;
    size_t count;
} dev_state;

static int dev_add(dev_state *d, const char *ctr_path, const struct stat *st, const char *perms,
                   cric_err *err)
{
    if (++d->count > SPEC_MAX_DEVICES)
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: more than %d devices", d->c->cid,
                            SPEC_MAX_DEVICES);
    const char *type = S_ISCHR(st->st_mode) ? "c" : "b";
    json_int_t maj = major(st->st_rdev), min = minor(st->st_rdev);
    json_t *dev = json_pack("{s:s, s:s, s:I, s:I, s:i, s:I, s:I}", "path", ctr_path, "type", type,
                            "major", maj, "minor", min, "fileMode", (int)(st->st_mode & 07777),
                            "uid", (json_int_t)st->st_uid, "gid", (json_int_t)st->st_gid);
    if (spec_append(d->devices, dev, err))
        return -1;
    if (d->rules && spec_append(d->rules,
                                json_pack("{s:b, s:s, s:I, s:I, s:s}", "allow", 1, "type", type,
                                          "major", maj, "minor", min, "access", perms),
                                err))
        return -1;
    return 0;
}

/* A device node, or every device below a directory (recursively; symlinks
 * in the tree are not followed). */
static int dev_walk(dev_state *d, const char *host, const char *ctr, const char *perms, int depth,
                    bool top, cric_err *err)
{
    struct stat st;
    if ((top ? stat(host, &st) : lstat(host, &st)) != 0) {
        if (top)
            return cric_err_set(err, errno == ENOENT ? CRIC_ERR_NOT_FOUND : CRIC_ERR_INVALID,
                                "container %s: device %s: %s", d->c->cid, host, strerror(errno));
        return 0;
    }
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
        return dev_add(d, ctr, &st, perms, err);
    if (!S_ISDIR(st.st_mode)) {
        if (top)
            return cric_err_set(err, CRIC_ERR_INVALID, "container %s: %s is not a device",
                                d->c->cid, host);
        return 0;
    }
    if (depth > 8)
        return 0;
    _cleanup_closedir_ DIR *dir = opendir(host);
    if (!dir)
        return top ? cric_err_errno(err, errno, "container %s: device dir %s", d->c->cid, host) : 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (top && depth == 0 && d->rules == NULL) {
            /* the host's /dev for privileged containers: skip what the
             * runtime mounts itself and the host's own pseudo dirs */
            static const char *const skip[] = {"pts",  "shm",         "fd",    "mqueue",
                                               ".lxc", ".lxd-mounts", ".udev", "console"};
            bool s = false;
            for (size_t i = 0; i < ARRAY_LEN(skip); i++)
                s |= strcmp(e->d_name, skip[i]) == 0;
            if (s)
                continue;
        }
        _cleanup_free_ char *h = NULL, *cp = NULL;
        if (asprintf(&h, "%s/%s", host, e->d_name) < 0 ||
            asprintf(&cp, "%s/%s", strcmp(ctr, "/") == 0 ? "" : ctr, e->d_name) < 0)
            return cric_err_set(err, CRIC_ERR_INTERNAL, "out of memory");
        if (strlen(h) > SPEC_MAX_STRLEN || strlen(cp) > SPEC_MAX_STRLEN)
            continue;
        if (dev_walk(d, h, cp, perms, depth + 1, false, err))
            return -1;
    }
    return 0;
}

static bool perms_ok(const char *p)
{
    if (!*p || strlen(p) > 3)
        return false;
    for (const char *q = p; *q; q++)
        if (*q != 'r' && *q != 'w' && *q != 'm')
            return false;
    return true;
}

int spec_devices(spec_ctx *c, cric_err *err)
{
    json_t *res = json_object();
    if (spec_set(c->linux, "resources", res, err))
        return -1;
    json_t *rules = json_array(), *devices = json_array();
    if (spec_set(res, "devices", rules, err) || spec_set(c->linux, "devices", devices, err))
        return -1;
    dev_state d = {.c = c, .devices = devices, .rules = rules};
    if (c->privileged) {
        /* every host device, all access */
        if (spec_append(rules, json_pack("{s:b, s:s}", "allow", 1, "access", "rwm"), err))
            return -1;
        d.rules = NULL;
        if (dev_walk(&d, "/dev", "/dev", "rwm", 0, true, err))
            return -1;
        d.rules = rules;
    } else if (spec_append(rules, json_pack("{s:b, s:s}", "allow", 0, "access", "rwm"), err)) {
        return -1;
    }
    if (c->cfg->n_devices > SPEC_MAX_DEVICES)
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: too many devices", c->cid);
    for (size_t i = 0; i < c->cfg->n_devices; i++) {
        const Runtime__V1__Device *dv = c->cfg->devices[i];
        char host[SPEC_MAX_STRLEN + 1], ctr[SPEC_MAX_STRLEN + 1];
        const char *perms = *spec_str(dv->permissions) ? dv->permissions : "rwm";
        if (spec_path_clean(dv->host_path, host) != 0)
            return cric_err_set(err, CRIC_ERR_INVALID,
                                "container %s: device host path \"%.128s\" is not absolute", c->cid,
                                spec_str(dv->host_path));
        if (spec_path_clean(*spec_str(dv->container_path) ? dv->container_path : host, ctr) != 0)
            return cric_err_set(err, CRIC_ERR_INVALID,
                                "container %s: device container path \"%.128s\" is not absolute",
                                c->cid, spec_str(dv->container_path));
        if (!perms_ok(perms))
            return cric_err_set(err, CRIC_ERR_INVALID,
                                "container %s: device %s: invalid permissions \"%.8s\"", c->cid,
                                host, perms);
        /* privileged: the device may already be there from /dev; keep one entry */
        if (c->privileged) {
            size_t k;
            json_t *e;
            bool dup = false;
            json_array_foreach(devices, k, e) dup |=
                strcmp(json_string_value(json_object_get(e, "path")), ctr) == 0;
            if (dup)
                continue;
        }
        if (dev_walk(&d, host, ctr, perms, 0, true, err))
            return -1;
    }
    if (c->cfg->n_cdi_devices > 0)
        return cric_err_set(err, CRIC_ERR_UNIMPLEMENTED,
                            "container %s: CDI devices are not supported", c->cid);
    return 0;
}

/* ---------------------------------------------------------------- sysctls */

static bool sysctl_name_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > 255 || k[0] == '.' || k[0] == '/' || strstr(k, ".."))
        return false;
    for (const char *p = k; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-' || *p == '/'))
            return false;
    return true;
}

int spec_sysctls(spec_ctx *c, cric_err *err)
{
    const ctr_spec_sandbox *sb = c->sb;
    if (sb->n_sysctls == 0)
        return 0;
    if (sb->n_sysctls > 256)
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: too many sysctls", c->cid);
    json_t *s = json_object();
    if (spec_set(c->linux, "sysctl", s, err))
        return -1;
    for (size_t i = 0; i < sb->n_sysctls; i++) {
        const char *k = spec_str(sb->sysctl_keys[i]), *v = spec_str(sb->sysctl_values[i]);
        if (!sysctl_name_ok(k) || strlen(v) > 4096)
            return cric_err_set(err, CRIC_ERR_INVALID, "container %s: invalid sysctl \"%.64s\"",
                                c->cid, k);
        bool ipc = strncmp(k, "kernel.shm", 10) == 0 || strncmp(k, "kernel.msg", 10) == 0 ||
                   strcmp(k, "kernel.sem") == 0 || strncmp(k, "fs.mqueue.", 10) == 0;
        bool net = strncmp(k, "net.", 4) == 0;
        bool uts = strcmp(k, "kernel.hostname") == 0 || strcmp(k, "kernel.domainname") == 0;
        if ((ipc && !*spec_str(sb->ipcns_path)) || (net && !*spec_str(sb->netns_path)) ||
            (uts && !*spec_str(sb->utsns_path)))
            return cric_err_set(err, CRIC_ERR_INVALID,
                                "container %s: sysctl %s would change the host: the pod uses "
                                "the host's namespace",
                                c->cid, k);
        if (!ipc && !net && !uts)
            return cric_err_set(err, CRIC_ERR_INVALID, "container %s: sysctl %s is not namespaced",
                                c->cid, k);
        if (spec_set(s, k, json_string(v), err))
            return -1;
    }
    return 0;
}
