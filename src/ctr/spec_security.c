/* Security context: capabilities over the default set (containerd's rules:
 * add ALL, drop ALL, then individual adds, then individual drops), privileged
 * mode, no_new_privs, masked/readonly paths, seccomp and AppArmor. */
#include <string.h>

#include "ctr/spec_internal.h"
#include "util/cleanup.h"
#include "util/log.h"

static const char *const default_masked[] = {
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
};
static const char *const default_readonly[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static bool is_all(const char *s)
{
    return s && (strcasecmp(s, "ALL") == 0 || strcasecmp(s, "CAP_ALL") == 0);
}

static int cap_lookup(spec_ctx *c, const char *name, int *out, cric_err *err)
{
    *out = ctr_cap_from_name(name);
    if (*out < 0)
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: unknown capability \"%.64s\"",
                            c->cid, spec_str(name));
    return 0;
}

static json_t *capset_json(ctr_capset set)
{
    json_t *a = json_array();
    for (int i = 0; a && i <= CTR_CAP_MAX; i++)
        if (set & CTR_CAP_BIT(i))
            json_array_append_new(a, json_string(ctr_cap_name(i)));
    return a;
}

static int capabilities(spec_ctx *c, cric_err *err)
{
    const ctr_capset avail = c->in->host->cap_bounding;
    ctr_capset set = ctr_caps_default(), ambient = 0;
    if (c->privileged) {
        set = avail;
    } else if (c->sc && c->sc->capabilities) {
        const Runtime__V1__Capability *cp = c->sc->capabilities;
        for (size_t i = 0; i < cp->n_add_capabilities; i++)
            if (is_all(cp->add_capabilities[i]))
                set = avail;
        for (size_t i = 0; i < cp->n_drop_capabilities; i++)
            if (is_all(cp->drop_capabilities[i]))
                set = 0;
        int n;
        for (size_t i = 0; i < cp->n_add_capabilities; i++) {
            if (is_all(cp->add_capabilities[i]))
                continue;
            if (cap_lookup(c, cp->add_capabilities[i], &n, err))
                return -1;
            set |= CTR_CAP_BIT(n);
        }
        for (size_t i = 0; i < cp->n_add_ambient_capabilities; i++) {
            if (cap_lookup(c, cp->add_ambient_capabilities[i], &n, err))
                return -1;
            ambient |= CTR_CAP_BIT(n);
        }
        for (size_t i = 0; i < cp->n_drop_capabilities; i++) {
            if (is_all(cp->drop_capabilities[i]))
                continue;
            if (cap_lookup(c, cp->drop_capabilities[i], &n, err))
                return -1;
            set &= ~CTR_CAP_BIT(n);
            ambient &= ~CTR_CAP_BIT(n);
        }
        set |= ambient;
    }
    ctr_capset missing = (set | ambient) & ~avail;
    if (missing) {
        for (int i = 0; i <= CTR_CAP_MAX; i++)
            if (missing & CTR_CAP_BIT(i))
                log_warn("ctr",
                         "container %s: %s is not in cric's own bounding set; the container "
                         "cannot get it and runs without it",
                         c->cid, ctr_cap_name(i));
        set &= avail;
        ambient &= avail;
    }
    c->bounding = set;
    json_t *caps = json_pack("{s:o, s:o, s:o}", "bounding", capset_json(set), "effective",
                             capset_json(set), "permitted", capset_json(set));
    if (caps && ambient) {
        json_object_set_new(caps, "inheritable", capset_json(ambient));
        json_object_set_new(caps, "ambient", capset_json(ambient));
    }
    return spec_set(c->process, "capabilities", caps, err);
}

static int path_list(spec_ctx *c, const char *key, char **given, size_t n_given,
                     const char *const *defaults, size_t n_defaults, cric_err *err)
{
    if (c->privileged)
        return 0; /* nothing masked, nothing read-only */
    json_t *a = json_array();
    if (spec_set(c->linux, key, a, err))
        return -1;
    if (n_given > 0) {
        if (n_given > SPEC_MAX_MOUNTS)
            return cric_err_set(err, CRIC_ERR_INVALID, "container %s: too many %s", c->cid, key);
        for (size_t i = 0; i < n_given; i++) {
            char clean[SPEC_MAX_STRLEN + 1];
            if (spec_path_clean(given[i], clean) != 0)
                return cric_err_set(err, CRIC_ERR_INVALID,
                                    "container %s: %s entry \"%.128s\" is not an absolute path",
                                    c->cid, key, spec_str(given[i]));
            if (spec_append(a, json_string(clean), err))
                return -1;
        }
        return 0;
    }
    for (size_t i = 0; i < n_defaults; i++)
        if (spec_append(a, json_string(defaults[i]), err))
            return -1;
    return 0;
}

/* ---------------------------------------------------------------- seccomp */

typedef enum { SEC_NONE, SEC_DEFAULT, SEC_FILE } seccomp_kind;

static int seccomp_choose(spec_ctx *c, seccomp_kind *kind, const char **path, cric_err *err)
{
    *kind = SEC_NONE;
    *path = NULL;
    const Runtime__V1__LinuxContainerSecurityContext *sc = c->sc;
    if (!sc || c->privileged)
        return 0;
    if (sc->seccomp) {
        switch (sc->seccomp->profile_type) {
        case RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__RuntimeDefault:
            *kind = SEC_DEFAULT;
            return 0;
        case RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Unconfined:
            return 0;
        case RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost:
            *kind = SEC_FILE;
            *path = spec_str(sc->seccomp->localhost_ref);
            break;
        default:
            return cric_err_set(err, CRIC_ERR_INVALID,
                                "container %s: unknown seccomp profile type %d", c->cid,
                                (int)sc->seccomp->profile_type);
        }
    } else {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        const char *legacy = spec_str(sc->seccomp_profile_path);
#pragma GCC diagnostic pop
        if (!*legacy || strcmp(legacy, "unconfined") == 0)
            return 0;
        if (strcmp(legacy, "runtime/default") == 0 || strcmp(legacy, "docker/default") == 0) {
            *kind = SEC_DEFAULT;
            return 0;
        }
        if (strncmp(legacy, "localhost/", 10) != 0)
            return cric_err_set(err, CRIC_ERR_INVALID,
                                "container %s: unknown seccomp profile \"%.128s\"", c->cid, legacy);
        *kind = SEC_FILE;
        *path = legacy + 10;
    }
    if (**path != '/')
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "container %s: seccomp Localhost profile \"%.128s\" is not an "
                            "absolute path",
                            c->cid, *path);
    return 0;
}

static int seccomp(spec_ctx *c, cric_err *err)
{
    seccomp_kind kind;
    const char *path;
    if (seccomp_choose(c, &kind, &path, err))
        return -1;
    json_t *prof = NULL;
    if (kind == SEC_DEFAULT) {
        prof = seccomp_default_profile(c->bounding);
        if (!prof)
            return cric_err_set(err, CRIC_ERR_INTERNAL, "out of memory");
    } else if (kind == SEC_FILE) {
        if (seccomp_profile_load(path, c->bounding, &prof, err))
            return cric_err_prefix(err, "container %s: ", c->cid);
    } else {
        return 0;
    }
    return spec_set(c->linux, "seccomp", prof, err);
}

/* ---------------------------------------------------------------- apparmor */

static bool apparmor_name_ok(const char *s)
{
    size_t n = strnlen(s, 257);
    if (n == 0 || n > 256)
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x21 || *p == 0x7f)
            return false;
    return true;
}

static int apparmor(spec_ctx *c, cric_err *err)
{
    const Runtime__V1__LinuxContainerSecurityContext *sc = c->sc;
    if (!sc)
        return 0;
    const char *profile = NULL; /* NULL = none */
    const char *what = "";
    if (sc->apparmor) {
        switch (sc->apparmor->profile_type) {
        case RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__RuntimeDefault:
            what = "runtime/default";
            profile = c->in->apparmor_default_profile;
            break;
        case RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Unconfined:
            return 0;
        case RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost:
            what = profile = spec_str(sc->apparmor->localhost_ref);
            break;
        default:
            return cric_err_set(err, CRIC_ERR_INVALID,
                                "container %s: unknown apparmor profile type %d", c->cid,
                                (int)sc->apparmor->profile_type);
        }
    } else {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        const char *legacy = spec_str(sc->apparmor_profile);
#pragma GCC diagnostic pop
        if (!*legacy || strcmp(legacy, "unconfined") == 0)
            return 0;
        what = legacy;
        if (strcmp(legacy, "runtime/default") == 0)
            profile = c->in->apparmor_default_profile;
        else if (strncmp(legacy, "localhost/", 10) == 0)
            profile = legacy + 10;
        else
            return cric_err_set(err, CRIC_ERR_INVALID,
                                "container %s: unknown apparmor profile \"%.128s\"", c->cid,
                                legacy);
    }
    if (!c->in->host->apparmor) {
        log_info("ctr",
                 "container %s: AppArmor is not enabled on this host; profile %.128s ignored",
                 c->cid, what);
        return 0;
    }
    if (c->privileged || !profile || !*profile)
        return 0;
    if (!apparmor_name_ok(profile))
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: invalid apparmor profile name",
                            c->cid);
    return spec_set(c->process, "apparmorProfile", json_string(profile), err);
}

int spec_security(spec_ctx *c, cric_err *err)
{
    const Runtime__V1__LinuxContainerSecurityContext *sc = c->sc;
    if (capabilities(c, err))
        return -1;
    if (spec_set(c->process, "noNewPrivileges", json_boolean(sc && sc->no_new_privs), err))
        return -1;
    if (path_list(c, "maskedPaths", sc ? sc->masked_paths : NULL, sc ? sc->n_masked_paths : 0,
                  default_masked, ARRAY_LEN(default_masked), err) ||
        path_list(c, "readonlyPaths", sc ? sc->readonly_paths : NULL, sc ? sc->n_readonly_paths : 0,
                  default_readonly, ARRAY_LEN(default_readonly), err))
        return -1;
    if (seccomp(c, err) || apparmor(c, err))
        return -1;
    if (sc && sc->selinux_options &&
        (*spec_str(sc->selinux_options->type) || *spec_str(sc->selinux_options->level)))
        log_debug("ctr", "container %s: SELinux options ignored (SELinux is not supported)",
                  c->cid);
    return 0;
}
