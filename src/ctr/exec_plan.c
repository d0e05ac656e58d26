/* The ExecSync fast path's plan (src/enter/plan.h): the container's
 * config.json process (user, groups, capabilities, no_new_privs, rlimits,
 * oom_score_adj, umask, cwd, env), the namespaces to join and the seccomp
 * program the OCI runtime loaded, written once per container to
 * <bundle>/exec-plan for cric-enter.
 *
 * The fast path applies only where it gives exactly the runtime's
 * confinement; everything else keeps `<runtime> exec` (ctr_exec_plan_get
 * says why):
 * - seccomp: the program must be the runtime's own. crun keeps the BPF it
 *   compiled at create in <runtime root>/<id>/seccomp.bpf and `crun exec`
 *   loads that file; cric-enter loads the same bytes. runc compiles the
 *   profile again on every exec (libseccomp-golang plus its own ENOSYS
 *   stub) and stores nothing, so a runc container with a seccomp profile
 *   keeps `runc exec`; without a profile (privileged, Unconfined) it is fast.
 *   Seccomp notify (listenerPath, SCMP_ACT_NOTIFY) needs the runtime.
 * - AppArmor/SELinux labels need the LSM interfaces: runtime exec when the
 *   LSM is enabled (when AppArmor is disabled crun ignores the profile and so
 *   does the fast path; SELinux labels always go to the runtime).
 * - user namespaces (id mappings), personality, scheduler, I/O priority,
 *   exec CPU affinity and Intel RDT: runtime exec. cric sets none of them. */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ctr/caps.h"
#include "ctr/ctr_int.h"
#include "enter/enter_core.h"
#include "enter/plan.h"
#include "util/cleanup.h"
#include "util/fs.h"

typedef struct pbuf {
    unsigned char *data;
    size_t len, cap;
    bool oom;
} pbuf;

static void pb_raw(pbuf *b, const void *p, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *d = realloc(b->data, cap);
        if (!d) {
            b->oom = true;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static void pb_rec(pbuf *b, char tag, const void *v, size_t n)
{
    unsigned char h[5];
    h[0] = (unsigned char)tag;
    put32(h + 1, (uint32_t)n);
    pb_raw(b, h, 5);
    pb_raw(b, v, n);
}

static void pb_u32(pbuf *b, char tag, uint32_t v)
{
    unsigned char d[4];
    put32(d, v);
    pb_rec(b, tag, d, 4);
}

static void pb_u64(pbuf *b, char tag, uint64_t v)
{
    unsigned char d[8];
    put64(d, v);
    pb_rec(b, tag, d, 8);
}

static int ns_flag(const char *type)
{
    static const struct {
        const char *name;
        int flag;
    } map[] = {
        {"pid", CLONE_NEWPID},   {"network", CLONE_NEWNET}, {"mount", CLONE_NEWNS},
        {"ipc", CLONE_NEWIPC},   {"uts", CLONE_NEWUTS},     {"cgroup", CLONE_NEWCGROUP},
        {"time", CLONE_NEWTIME},
    };
    for (size_t i = 0; i < ARRAY_LEN(map); i++)
        if (strcmp(type, map[i].name) == 0)
            return map[i].flag;
    return 0;
}

static int rlimit_number(const char *name)
{
    static const struct {
        const char *name;
        int res;
    } map[] = {
        {"RLIMIT_CPU", RLIMIT_CPU},           {"RLIMIT_FSIZE", RLIMIT_FSIZE},
        {"RLIMIT_DATA", RLIMIT_DATA},         {"RLIMIT_STACK", RLIMIT_STACK},
        {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_RSS", RLIMIT_RSS},
        {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
        {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},   {"RLIMIT_AS", RLIMIT_AS},
        {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
        {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
        {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},     {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    };
    for (size_t i = 0; i < ARRAY_LEN(map); i++)
        if (strcmp(name, map[i].name) == 0)
            return map[i].res;
    return -1;
}

static bool lsm_enabled(const char *path)
{
    char buf[8] = "";
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    return n > 0 && buf[0] == 'Y';
}

static bool str_set(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v && *v;
}

static int caps_mask(const json_t *caps, const char *key, uint64_t *out, char *why, size_t wsz)
{
    *out = 0;
    const json_t *a = json_object_get(caps, key);
    size_t i;
    const json_t *v;
    json_array_foreach(a, i, v)
    {
        int n = ctr_cap_from_name(json_string_value(v));
        if (n < 0 || n > 63) {
            snprintf(why, wsz, "capability %.64s unknown to the fast path",
                     json_string_value(v) ? json_string_value(v) : "?");
            return -1;
        }
        *out |= (uint64_t)1 << n;
    }
    return 0;
}

static uint32_t seccomp_flags(const json_t *sec, char *why, size_t wsz, bool *ok)
{
    uint32_t f = 0;
    size_t i;
    const json_t *v;
    *ok = true;
    json_array_foreach(json_object_get(sec, "flags"), i, v)
    {
        const char *s = json_string_value(v);
        if (s && strcmp(s, "SECCOMP_FILTER_FLAG_TSYNC") == 0)
            f |= SECCOMP_FILTER_FLAG_TSYNC;
        else if (s && strcmp(s, "SECCOMP_FILTER_FLAG_LOG") == 0)
            f |= SECCOMP_FILTER_FLAG_LOG;
        else if (s && strcmp(s, "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0)
            f |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
        else {
            snprintf(why, wsz, "seccomp flag %.64s", s ? s : "?");
            *ok = false;
        }
    }
    return f;
}

static bool seccomp_notify(const json_t *sec)
{
    if (str_set(sec, "listenerPath") ||
        strcmp(json_string_value(json_object_get(sec, "defaultAction")) ?: "", "SCMP_ACT_NOTIFY") ==
            0)
        return true;
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(sec, "syscalls"), i, v)
    {
        const char *a = json_string_value(json_object_get(v, "action"));
        if (a && strcmp(a, "SCMP_ACT_NOTIFY") == 0)
            return true;
    }
    return false;
}

static bool runtime_is(const ctr_rec *r, const char *name)
{
    const char *base = strrchr(r->runtime, '/');
    base = base ? base + 1 : r->runtime;
    return strcmp(base, name) == 0;
}

/* Builds the plan from the spec. 1: built; 0: the fast path does not apply
 * (why says so); -1: error. */
static int plan_build(const ctr_rec *r, const json_t *spec, pbuf *b, char *why, size_t wsz,
                      cric_err *err)
{
    const json_t *proc = json_object_get(spec, "process");
    const json_t *linux_ = json_object_get(spec, "linux");
    if (!json_is_object(proc) || !json_is_object(linux_))
        return cric_err_set(err, CRIC_ERR_INTERNAL, "container %s: config.json lacks process",
                            r->id);
    static const char *const needs_runtime[] = {"selinuxLabel", "ioPriority", "scheduler",
                                                "execCPUAffinity"};
    for (size_t i = 0; i < ARRAY_LEN(needs_runtime); i++)
        if (json_object_get(proc, needs_runtime[i])) {
            snprintf(why, wsz, "process.%s", needs_runtime[i]);
            return 0;
        }
    if (str_set(proc, "apparmorProfile") &&
        lsm_enabled("/sys/module/apparmor/parameters/enabled")) {
        snprintf(why, wsz, "AppArmor profile");
        return 0;
    }
    static const char *const linux_needs[] = {"uidMappings", "gidMappings", "personality",
                                              "intelRdt"};
    for (size_t i = 0; i < ARRAY_LEN(linux_needs); i++)
        if (json_object_get(linux_, linux_needs[i])) {
            snprintf(why, wsz, "linux.%s", linux_needs[i]);
            return 0;
        }

    pb_raw(b, PLAN_MAGIC, PLAN_MAGIC_LEN);

    uint64_t ns = 0;
    size_t i;
    const json_t *v;
    json_array_foreach(json_object_get(linux_, "namespaces"), i, v)
    {
        const char *type = json_string_value(json_object_get(v, "type"));
        int f = type ? ns_flag(type) : 0;
        if (!f) {
            snprintf(why, wsz, "%.32s namespace", type ? type : "unnamed");
            return 0;
        }
        ns |= (uint64_t)f;
    }
    pb_u64(b, PLAN_NS, ns);

    const json_t *user = json_object_get(proc, "user");
    pb_u32(b, PLAN_UID, (uint32_t)json_integer_value(json_object_get(user, "uid")));
    pb_u32(b, PLAN_GID, (uint32_t)json_integer_value(json_object_get(user, "gid")));
    const json_t *ag = json_object_get(user, "additionalGids");
    if (json_array_size(ag) > PLAN_MAX_GIDS) {
        snprintf(why, wsz, "more than %d additional groups", PLAN_MAX_GIDS);
        return 0;
    }
    unsigned char gids[PLAN_MAX_GIDS * 4];
    json_array_foreach(ag, i, v) put32(gids + 4 * i, (uint32_t)json_integer_value(v));
    pb_rec(b, PLAN_GIDS, gids, 4 * json_array_size(ag));
    if (json_object_get(user, "umask"))
        pb_u32(b, PLAN_UMASK, (uint32_t)json_integer_value(json_object_get(user, "umask")));

    const json_t *caps = json_object_get(proc, "capabilities");
    if (caps) {
        static const char *const sets[] = {"bounding", "effective", "permitted", "inheritable",
                                           "ambient"};
        unsigned char d[40];
        for (size_t k = 0; k < 5; k++) {
            uint64_t m;
            if (caps_mask(caps, sets[k], &m, why, wsz) < 0)
                return 0;
            put64(d + 8 * k, m);
        }
        pb_rec(b, PLAN_CAPS, d, sizeof(d));
    }
    unsigned char nnp = json_is_true(json_object_get(proc, "noNewPrivileges")) ? 1 : 0;
    pb_rec(b, PLAN_NNP, &nnp, 1);

    json_array_foreach(json_object_get(proc, "rlimits"), i, v)
    {
        const char *type = json_string_value(json_object_get(v, "type"));
        int res = type ? rlimit_number(type) : -1;
        if (res < 0) {
            snprintf(why, wsz, "rlimit %.32s", type ? type : "?");
            return 0;
        }
        unsigned char d[20];
        put32(d, (uint32_t)res);
        put64(d + 4, (uint64_t)json_integer_value(json_object_get(v, "soft")));
        put64(d + 12, (uint64_t)json_integer_value(json_object_get(v, "hard")));
        pb_rec(b, PLAN_RLIMIT, d, sizeof(d));
    }
    const json_t *oom = json_object_get(proc, "oomScoreAdj");
    if (json_is_integer(oom))
        pb_u32(b, PLAN_OOM, (uint32_t)(int32_t)json_integer_value(oom));

    const char *cwd = json_string_value(json_object_get(proc, "cwd"));
    if (cwd)
        pb_rec(b, PLAN_CWD, cwd, strlen(cwd));
    json_array_foreach(json_object_get(proc, "env"), i, v)
    {
        const char *e = json_string_value(v);
        if (!e || !strchr(e, '=') || i >= PLAN_MAX_ENV) {
            snprintf(why, wsz, "environment entry %zu", i);
            return 0;
        }
        pb_rec(b, PLAN_ENV, e, strlen(e));
    }

    const json_t *sec = json_object_get(linux_, "seccomp");
    if (sec) {
        if (seccomp_notify(sec)) {
            snprintf(why, wsz, "seccomp notify");
            return 0;
        }
        bool ok;
        uint32_t flags = seccomp_flags(sec, why, wsz, &ok);
        if (!ok)
            return 0;
        if (!runtime_is(r, "crun")) {
            snprintf(why, wsz, "seccomp profile with %s (no stored program)", r->runtime);
            return 0;
        }
        char path[4300];
        snprintf(path, sizeof(path), "%s/%s/seccomp.bpf", r->runtime_root, r->id);
        char *bpf = NULL;
        size_t len = 0;
        cric_err e = {0};
        if (fs_read_file(path, 8u * PLAN_MAX_BPF_INSNS, &bpf, &len, &e) < 0) {
            snprintf(why, wsz, "no seccomp program at %.200s", path);
            return 0;
        }
        if (len == 0 || len % 8) {
            free(bpf);
            snprintf(why, wsz, "seccomp program %.200s has %zu bytes", path, len);
            return 0;
        }
        pb_rec(b, PLAN_SECCOMP, bpf, len);
        free(bpf);
        pb_u32(b, PLAN_SECFLAGS, flags);
    }
    if (b->oom)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    return 1;
}

int ctr_exec_plan_get(ctr_service *s, ctr_rec *r, const char **plan_path,
                      const struct enter_plan **plan, const char **why, cric_err *err)
{
    *plan_path = NULL;
    *plan = NULL;
    *why = NULL;
    if (!s->cfg->exec_fast_path) {
        *why = "exec_fast_path is off";
        return 0;
    }
    if (!s->enter_path[0]) {
        *why = "cric-enter not found";
        return 0;
    }
    pthread_mutex_lock(&r->spec_mu);
    int rc = 0;
    if (r->plan_state == 0) {
        if (ctr_spec_load_locked(r, err) < 0) {
            pthread_mutex_unlock(&r->spec_mu);
            return -1;
        }
        pbuf b = {0};
        char reason[256] = "";
        rc = plan_build(r, r->spec, &b, reason, sizeof(reason), err);
        if (rc == 1) {
            char path[4200];
            snprintf(path, sizeof(path), "%s/exec-plan", r->bundle);
            char msg[256];
            enter_plan *parsed = calloc(1, sizeof(*parsed));
            if (!parsed) {
                rc = cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
            } else if (enter_plan_parse(b.data, b.len, parsed, msg, sizeof(msg)) < 0) {
                free(parsed);
                rc = cric_err_set(err, CRIC_ERR_INTERNAL, "container %s: %s", r->id, msg);
            } else if (fs_write_atomic(path, b.data, b.len, 0600, err) < 0) {
                enter_plan_free(parsed);
                free(parsed);
                rc = -1;
            } else {
                r->plan_path = strdup(path);
                r->plan = parsed;
                r->plan_state = r->plan_path ? 1 : 0;
            }
        } else if (rc == 0) {
            r->plan_why = strdup(reason);
            r->plan_state = -1;
        }
        free(b.data);
    }
    if (r->plan_state == 1) {
        *plan_path = r->plan_path;
        *plan = r->plan;
        rc = 1;
    } else if (r->plan_state == -1) {
        *why = r->plan_why ? r->plan_why : "not applicable";
        rc = 0;
    }
    pthread_mutex_unlock(&r->spec_mu);
    return rc;
}
