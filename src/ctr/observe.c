/* Lifecycle notifications, statistics targets and live resource updates of
 * containers (ctr_observe.h). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cgroup_limits.h"
#include "ctr/ctr_int.h"
#include "ctr/ctr_observe.h"
#include "ctr/spec_internal.h"
#include "pod/pod.h"
#include "util/fs.h"
#include "util/log.h"

/* ---------------------------------------------------------------- events */

void ctr_service_set_event_hook(ctr_service *s, ctr_event_hook fn, void *ctx)
{
    /* Once, at start-up, before any RPC. */
    pthread_mutex_init(&s->event_mu, NULL);
    pthread_mutex_lock(&s->mu);
    s->event_ctx = ctx;
    s->event_hook = fn;
    pthread_mutex_unlock(&s->mu);
}

/* Each type goes out at most once per container and never after a later one:
 * an exit the watcher sees before StartContainer returns still gives STARTED
 * before STOPPED. event_mu orders the publications of all containers. */
void ctr_event(ctr_service *s, int type, ctr_rec *r)
{
    pthread_mutex_lock(&s->mu);
    ctr_event_hook fn = s->event_hook;
    void *ctx = s->event_ctx;
    bool started = r->started_at != 0;
    pthread_mutex_unlock(&s->mu);
    if (!fn)
        return;
    pthread_mutex_lock(&s->event_mu);
    unsigned later = ~((1u << (type + 1)) - 1);
    if (!(r->events_sent & (1u << type)) && !(r->events_sent & later)) {
        if (type == 2 && started && !(r->events_sent & (1u << 1))) {
            fn(ctx, 1, r->id, r->pod_id);
            r->events_sent |= 1u << 1;
        }
        fn(ctx, type, r->id, r->pod_id);
        r->events_sent |= 1u << type;
    }
    pthread_mutex_unlock(&s->event_mu);
}

/* ---------------------------------------------------------------- stats */

int ctr_stats_target_get(ctr_service *s, const ctr_info *c, ctr_stats_target *out, cric_err *err)
{
    const ctr_rec *r = c->priv_;
    pod_info *p = NULL;
    if (pod_lookup(s->pods, r->pod_id, &p, err) < 0)
        return cric_err_prefix(err, "container %s: ", r->id);
    /* The same path the spec generator gives the runtime (spec_linux.c). */
    const char *parent = p->cgroup_parent[0] ? p->cgroup_parent : "/cric";
    char clean[SPEC_MAX_STRLEN + 1];
    int rc = 0;
    if (spec_path_clean(parent, clean) != 0) {
        rc = cric_err_set(err, CRIC_ERR_INVALID, "container %s: cgroup parent \"%.128s\"", r->id,
                          parent);
    } else {
        int n = snprintf(out->cgroup, sizeof(out->cgroup), "%s%s%s", clean + 1, clean[1] ? "/" : "",
                         r->id);
        int m = snprintf(out->upper_dir, sizeof(out->upper_dir), "%s/upper", r->wdir);
        if (n < 0 || (size_t)n >= sizeof(out->cgroup) || m < 0 ||
            (size_t)m >= sizeof(out->upper_dir))
            rc = cric_err_set(err, CRIC_ERR_INTERNAL, "container %s: path too long", r->id);
    }
    pod_info_free(p);
    return rc;
}

/* ---------------------------------------------------------------- update */

static int validate(const char *id, const Runtime__V1__LinuxContainerResources *r, cric_err *err)
{
    char what[96];
    snprintf(what, sizeof(what), "container %s", id);
    if (cgroup_cpu_check(what, r->cpu_shares, r->cpu_quota, r->cpu_period, err) < 0)
        return -1;
    if (r->memory_limit_in_bytes < 0 || r->memory_swap_limit_in_bytes < -1)
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: negative memory value", id);
    if (r->memory_limit_in_bytes > 0 && r->memory_limit_in_bytes < (4 << 20))
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: memory limit %lld is below 4 MiB",
                            id, (long long)r->memory_limit_in_bytes);
    if (r->memory_swap_limit_in_bytes > 0 && r->memory_limit_in_bytes > 0 &&
        r->memory_swap_limit_in_bytes < r->memory_limit_in_bytes)
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "container %s: memory_swap_limit_in_bytes below the memory limit", id);
    if (r->oom_score_adj < -1000 || r->oom_score_adj > 1000)
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "container %s: oom_score_adj %lld is outside [-1000, 1000]", id,
                            (long long)r->oom_score_adj);
    if (!cgroup_cpuset_valid(spec_str(r->cpuset_cpus)) ||
        !cgroup_cpuset_valid(spec_str(r->cpuset_mems)))
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: invalid cpuset", id);
    if (r->n_unified > 256 || r->n_hugepage_limits > 16)
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: too many resource entries", id);
    for (size_t i = 0; i < r->n_unified; i++) {
        const char *k = spec_str(r->unified[i]->key), *v = spec_str(r->unified[i]->value);
        if (!cgroup_unified_entry_valid(k, v))
            return cric_err_set(err, CRIC_ERR_INVALID,
                                "container %s: invalid unified resource \"%.64s\"", id, k);
    }
    return 0;
}

/* The OCI LinuxResources object `runtime update --resources` reads. */
static json_t *oci_resources(ctr_service *s, const char *id,
                             const Runtime__V1__LinuxContainerResources *r)
{
    json_t *o = json_object(), *cpu = json_object(), *mem = json_object();
    if (r->cpu_shares > 0)
        json_object_set_new(cpu, "shares", json_integer(r->cpu_shares));
    if (r->cpu_quota != 0)
        json_object_set_new(cpu, "quota", json_integer(r->cpu_quota));
    if (r->cpu_period > 0)
        json_object_set_new(cpu, "period", json_integer(r->cpu_period));
    if (spec_str(r->cpuset_cpus)[0])
        json_object_set_new(cpu, "cpus", json_string(r->cpuset_cpus));
    if (spec_str(r->cpuset_mems)[0])
        json_object_set_new(cpu, "mems", json_string(r->cpuset_mems));
    int64_t limit = r->memory_limit_in_bytes, swap = r->memory_swap_limit_in_bytes;
    if (limit > 0)
        json_object_set_new(mem, "limit", json_integer(limit));
    /* memory+swap, as at create: equal to the limit unless asked (spec_linux.c) */
    int64_t sw = swap != 0 ? swap : limit;
    if (sw != 0 && s->host.swap_limit)
        json_object_set_new(mem, "swap", json_integer(sw));
    json_object_set_new(o, "cpu", cpu);
    json_object_set_new(o, "memory", mem);
    if (r->n_unified > 0 && s->host.cgroup_layout == CTR_CGROUP_V2) {
        json_t *u = json_object();
        for (size_t i = 0; i < r->n_unified; i++)
            json_object_set_new(u, r->unified[i]->key, json_string(spec_str(r->unified[i]->value)));
        json_object_set_new(o, "unified", u);
    } else if (r->n_unified > 0) {
        log_warn("ctr", "container %s: %zu unified resources ignored: cgroups are not unified", id,
                 r->n_unified);
    }
    if (r->n_hugepage_limits > 0 && s->host.hugetlb) {
        json_t *hp = json_array();
        for (size_t i = 0; i < r->n_hugepage_limits; i++)
            json_array_append_new(hp, json_pack("{s:s, s:I}", "pageSize",
                                                spec_str(r->hugepage_limits[i]->page_size), "limit",
                                                (json_int_t)r->hugepage_limits[i]->limit));
        json_object_set_new(o, "hugepageLimits", hp);
    }
    return o;
}

/* A deep copy through the wire format. */
static Runtime__V1__LinuxContainerResources *
copy_resources(const Runtime__V1__LinuxContainerResources *r)
{
    size_t n = runtime__v1__linux_container_resources__get_packed_size(r);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return NULL;
    runtime__v1__linux_container_resources__pack(r, buf);
    Runtime__V1__LinuxContainerResources *c =
        runtime__v1__linux_container_resources__unpack(NULL, n, buf);
    free(buf);
    return c;
}

int ctr_resources_record(ctr_rec *r, const Runtime__V1__LinuxContainerResources *res)
{
    Runtime__V1__LinuxContainerResources *c = copy_resources(res);
    if (!c)
        return -1;
    Runtime__V1__LinuxContainerResources **v =
        realloc(r->res_history, (r->n_res_history + 1) * sizeof(*v));
    if (!v) {
        runtime__v1__linux_container_resources__free_unpacked(c, NULL);
        return -1;
    }
    v[r->n_res_history++] = c;
    r->res_history = v;
    return 0;
}

const Runtime__V1__LinuxContainerResources *ctr_resources_current(const ctr_rec *r)
{
    if (r->n_res_history)
        return r->res_history[r->n_res_history - 1];
    return r->config && r->config->linux ? r->config->linux->resources : NULL;
}

void ctr_resources_free(ctr_rec *r)
{
    for (size_t i = 0; i < r->n_res_history; i++)
        runtime__v1__linux_container_resources__free_unpacked(r->res_history[i], NULL);
    free(r->res_history);
    r->res_history = NULL;
    r->n_res_history = 0;
}

char *ctr_resources_hex(const ctr_rec *r)
{
    if (!r->n_res_history)
        return NULL;
    const Runtime__V1__LinuxContainerResources *cur = r->res_history[r->n_res_history - 1];
    size_t n = runtime__v1__linux_container_resources__get_packed_size(cur);
    uint8_t *buf = malloc(n ? n : 1);
    char *hex = malloc(2 * n + 1);
    if (!buf || !hex) {
        free(buf);
        free(hex);
        return NULL;
    }
    runtime__v1__linux_container_resources__pack(cur, buf);
    for (size_t i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", buf[i]);
    hex[2 * n] = '\0';
    free(buf);
    return hex;
}

int ctr_resources_from_hex(ctr_rec *r, const char *hex)
{
    size_t len = strlen(hex);
    if (len % 2 || len > 1 << 20)
        return -1;
    uint8_t *buf = malloc(len / 2 + 1);
    if (!buf)
        return -1;
    for (size_t i = 0; i < len / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
            free(buf);
            return -1;
        }
        buf[i] = (uint8_t)v;
    }
    Runtime__V1__LinuxContainerResources *c =
        runtime__v1__linux_container_resources__unpack(NULL, len / 2, buf);
    free(buf);
    if (!c)
        return -1;
    int rc = ctr_resources_record(r, c);
    runtime__v1__linux_container_resources__free_unpacked(c, NULL);
    return rc;
}

int ctr_update_resources(ctr_service *s, const char *id,
                         const Runtime__V1__LinuxContainerResources *res, cric_err *err)
{
    if (!res)
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: no linux resources given", id);
    ctr_rec *r = NULL;
    if (ctr_get(s, id, &r, err) < 0)
        return -1;
    int rc = validate(r->id, res, err);
    pthread_mutex_lock(&r->op_mu);
    pthread_mutex_lock(&s->mu);
    int st = r->state;
    bool removed = r->removed;
    pthread_mutex_unlock(&s->mu);
    if (rc == 0 && removed)
        rc = cric_err_set(err, CRIC_ERR_NOT_FOUND, "container %s not found", r->id);
    if (rc == 0 && (st == CTR_CREATED || st == CTR_RUNNING)) {
        json_t *o = oci_resources(s, r->id, res);
        char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        char path[4200];
        snprintf(path, sizeof(path), "%s/resources-update.json", r->bundle);
        if (!text)
            rc = cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
        else
            rc = fs_write_atomic(path, text, strlen(text), 0600, err);
        free(text);
        if (rc == 0) {
            const char *args[] = {"update", "--resources", path, r->id};
            rc = ctr_runtime_run(r, args, 4, err);
            unlink(path);
        }
        if (rc < 0)
            cric_err_prefix(err, "container %s: update resources: ", r->id);
    }
    if (rc == 0) {
        pthread_mutex_lock(&s->mu);
        if (ctr_resources_record(r, res) < 0)
            rc = cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
        pthread_mutex_unlock(&s->mu);
        if (rc == 0)
            rc = ctr_persist(s, r, err);
    }
    pthread_mutex_unlock(&r->op_mu);
    ctr_rec_unref(s, r);
    return rc;
}
