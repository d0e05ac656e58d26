/* Localhost seccomp profiles: a JSON file in the OCI form (linux.seccomp) or
 * the Docker form (archMap, "name"/"names", includes/excludes by caps and
 * arches), validated and converted to the OCI form for this host. */
#include <errno.h>
#include <string.h>
#include <sys/utsname.h>

#include "ctr/spec_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define MAX_RULES 4096
#define MAX_NAMES 4096

static const char *const actions[] = {
    "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",        "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",          "SCMP_ACT_NOTIFY",
};
static const char *const ops[] = {
    "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",        "SCMP_CMP_EQ",
    "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
};
static const char *const flags[] = {
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
};

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* The Go arch name (as Docker profiles write them in includes/excludes). */
static const char *host_goarch(void)
{
#if defined(__x86_64__)
    return "amd64";
#elif defined(__i386__)
    return "386";
#elif defined(__aarch64__)
    return "arm64";
#elif defined(__arm__)
    return "arm";
#elif defined(__s390x__)
    return "s390x";
#elif defined(__powerpc64__)
    return "ppc64le";
#elif defined(__riscv)
    return "riscv64";
#else
    return "unknown";
#endif
}

static bool kernel_at_least(const char *want)
{
    struct utsname u;
    if (uname(&u) != 0)
        return false;
    int a = 0, b = 0, x = 0, y = 0;
    if (sscanf(want, "%d.%d", &a, &b) < 1 || sscanf(u.release, "%d.%d", &x, &y) < 1)
        return false;
    return x > a || (x == a && y >= b);
}

/* Evaluates a Docker "includes"/"excludes" filter: true when it matches. */
static int filter_matches(const json_t *f, ctr_capset caps, bool include, bool *out, cric_err *err)
{
    *out = include; /* an empty include matches; an empty exclude excludes nothing */
    if (!f || json_is_null(f))
        return 0;
    if (!json_is_object(f))
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "seccomp profile: includes/excludes not an object");
    const json_t *v;
    size_t i;
    bool any = false, all = true;
    const json_t *a = json_object_get(f, "arches");
    if (json_is_array(a) && json_array_size(a) > 0) {
        bool hit = false;
        json_array_foreach(a, i, v) if (json_is_string(v) && strcmp(json_string_value(v),
                                                                    host_goarch()) == 0) hit = true;
        any |= hit;
        all &= hit;
    }
    const json_t *cp = json_object_get(f, "caps");
    if (json_is_array(cp) && json_array_size(cp) > 0) {
        bool hit_all = true, hit_any = false;
        json_array_foreach(cp, i, v)
        {
            int n = json_is_string(v) ? ctr_cap_from_name(json_string_value(v)) : -1;
            bool has = n >= 0 && (caps & CTR_CAP_BIT(n));
            hit_all &= has;
            hit_any |= has;
        }
        /* includes: all listed caps needed; excludes: any listed cap excludes */
        any |= hit_any;
        all &= hit_all;
    }
    const json_t *mk = json_object_get(f, "minKernel");
    if (json_is_string(mk) && *json_string_value(mk)) {
        bool ok = kernel_at_least(json_string_value(mk));
        any |= ok;
        all &= ok;
    }
    *out = include ? all : any;
    return 0;
}

static int convert_args(const json_t *args, json_t **out, cric_err *err)
{
    *out = NULL;
    if (!args || json_is_null(args))
        return 0;
    if (!json_is_array(args) || json_array_size(args) > 6)
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "seccomp profile: args must be an array of at most 6");
    json_t *o = json_array();
    size_t i;
    const json_t *a;
    json_array_foreach(args, i, a)
    {
        const json_t *idx = json_object_get(a, "index"), *val = json_object_get(a, "value"),
                     *v2 = json_object_get(a, "valueTwo"), *op = json_object_get(a, "op");
        if (!json_is_integer(idx) || json_integer_value(idx) < 0 || json_integer_value(idx) > 5 ||
            (val && !json_is_integer(val)) || (v2 && !json_is_integer(v2)) || !json_is_string(op) ||
            !in_list(json_string_value(op), ops, ARRAY_LEN(ops))) {
            json_decref(o);
            return cric_err_set(err, CRIC_ERR_INVALID, "seccomp profile: invalid argument rule");
        }
        json_t *n = json_pack("{s:O, s:I, s:I, s:O}", "index", idx, "value",
                              val ? json_integer_value(val) : 0, "valueTwo",
                              v2 ? json_integer_value(v2) : 0, "op", op);
        if (spec_append(o, n, err)) {
            json_decref(o);
            return -1;
        }
    }
    *out = o;
    return 0;
}

static int convert_rule(const json_t *r, ctr_capset caps, json_t *out_rules, cric_err *err)
{
    if (!json_is_object(r))
        return cric_err_set(err, CRIC_ERR_INVALID, "seccomp profile: syscall rule not an object");
    bool inc, exc;
    if (filter_matches(json_object_get(r, "includes"), caps, true, &inc, err) ||
        filter_matches(json_object_get(r, "excludes"), caps, false, &exc, err))
        return -1;
    if (!inc || exc)
        return 0;
    const json_t *action = json_object_get(r, "action");
    if (!json_is_string(action) || !in_list(json_string_value(action), actions, ARRAY_LEN(actions)))
        return cric_err_set(err, CRIC_ERR_INVALID, "seccomp profile: unknown action");
    json_t *names = json_array();
    json_t *rule = json_pack("{s:o, s:O}", "names", names, "action", action);
    if (!rule)
        return cric_err_set(err, CRIC_ERR_INTERNAL, "out of memory");
    const json_t *nm = json_object_get(r, "names"), *one = json_object_get(r, "name");
    size_t i;
    const json_t *v;
    if (json_is_array(nm) && json_array_size(nm) <= MAX_NAMES) {
        json_array_foreach(nm, i, v)
        {
            if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 64) {
                json_decref(rule);
                return cric_err_set(err, CRIC_ERR_INVALID, "seccomp profile: invalid syscall name");
            }
            json_array_append(names, (json_t *)v);
        }
    }
    if (json_is_string(one) && json_string_length(one) > 0 && json_string_length(one) <= 64)
        json_array_append(names, (json_t *)one);
    if (json_array_size(names) == 0) {
        json_decref(rule);
        return cric_err_set(err, CRIC_ERR_INVALID, "seccomp profile: a syscall rule has no names");
    }
    const json_t *eret = json_object_get(r, "errnoRet");
    if (eret) {
        if (!json_is_integer(eret) || json_integer_value(eret) < 0 ||
            json_integer_value(eret) > 4095) {
            json_decref(rule);
            return cric_err_set(err, CRIC_ERR_INVALID, "seccomp profile: invalid errnoRet");
        }
        json_object_set(rule, "errnoRet", (json_t *)eret);
    }
    json_t *args;
    if (convert_args(json_object_get(r, "args"), &args, err)) {
        json_decref(rule);
        return -1;
    }
    if (args)
        json_object_set_new(rule, "args", args);
    return spec_append(out_rules, rule, err);
}

int seccomp_profile_convert(const json_t *in, ctr_capset caps, json_t **out, cric_err *err)
{
    *out = NULL;
    if (!json_is_object(in))
        return cric_err_set(err, CRIC_ERR_INVALID, "seccomp profile: not a JSON object");
    const json_t *da = json_object_get(in, "defaultAction");
    if (!json_is_string(da) || !in_list(json_string_value(da), actions, ARRAY_LEN(actions)))
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "seccomp profile: missing or unknown defaultAction");
    json_t *p = json_pack("{s:O}", "defaultAction", da);
    if (!p)
        return cric_err_set(err, CRIC_ERR_INTERNAL, "out of memory");
    const json_t *der = json_object_get(in, "defaultErrnoRet");
    if (der) {
        if (!json_is_integer(der) || json_integer_value(der) < 0 ||
            json_integer_value(der) > 4095) {
            json_decref(p);
            return cric_err_set(err, CRIC_ERR_INVALID, "seccomp profile: invalid defaultErrnoRet");
        }
        json_object_set(p, "defaultErrnoRet", (json_t *)der);
    }
    /* Architectures: OCI "architectures" as given, or Docker "archMap" -> this host's. */
    const json_t *arches = json_object_get(in, "architectures");
    const json_t *archmap = json_object_get(in, "archMap");
    size_t i;
    const json_t *v;
    if (json_is_array(arches) && json_array_size(arches) > 0) {
        json_array_foreach(arches, i, v) if (!json_is_string(v) ||
                                             strncmp(json_string_value(v), "SCMP_ARCH_", 10) != 0)
        {
            json_decref(p);
            return cric_err_set(err, CRIC_ERR_INVALID, "seccomp profile: invalid architecture");
        }
        json_object_set(p, "architectures", (json_t *)arches);
    } else if (json_is_array(archmap) && json_array_size(archmap) > 0) {
        json_object_set_new(p, "architectures", seccomp_host_arches());
    }
    const json_t *fl = json_object_get(in, "flags");
    if (json_is_array(fl)) {
        json_array_foreach(fl, i, v) if (!json_is_string(v) ||
                                         !in_list(json_string_value(v), flags, ARRAY_LEN(flags)))
        {
            json_decref(p);
            return cric_err_set(err, CRIC_ERR_INVALID, "seccomp profile: unknown flag");
        }
        json_object_set(p, "flags", (json_t *)fl);
    }
    if (json_object_get(in, "listenerPath")) {
        json_decref(p);
        return cric_err_set(
            err, CRIC_ERR_INVALID,
            "seccomp profile: listenerPath (SCMP_ACT_NOTIFY agents) is not supported");
    }
    const json_t *sys = json_object_get(in, "syscalls");
    if (sys && !json_is_null(sys)) {
        if (!json_is_array(sys) || json_array_size(sys) > MAX_RULES) {
            json_decref(p);
            return cric_err_set(err, CRIC_ERR_INVALID, "seccomp profile: syscalls is not an array");
        }
        json_t *rules = json_array();
        json_object_set_new(p, "syscalls", rules);
        json_array_foreach(sys, i, v) if (convert_rule(v, caps, rules, err))
        {
            json_decref(p);
            return -1;
        }
    }
    *out = p;
    return 0;
}

int seccomp_profile_load(const char *path, ctr_capset caps, json_t **out, cric_err *err)
{
    *out = NULL;
    _cleanup_free_ char *buf = NULL;
    size_t len = 0;
    if (fs_read_file(path, SPEC_SECCOMP_FILE_MAX, &buf, &len, err))
        return cric_err_prefix(err, "seccomp profile %s: ", path);
    json_error_t jerr;
    json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return cric_err_set(err, CRIC_ERR_INVALID, "seccomp profile %s: invalid JSON: %s (line %d)",
                            path, jerr.text, jerr.line);
    int rc = seccomp_profile_convert(j, caps, out, err);
    json_decref(j);
    if (rc)
        return cric_err_prefix(err, "%s: ", path);
    return 0;
}
