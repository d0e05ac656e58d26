#include "runtime_probe.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

int runtime_probe_unified_controllers(const char *cgroup_root, char *out, size_t cap, cric_err *err)
{
    if (cap == 0)
        return cric_err_set(err, CRIC_ERR_INVALID, "cgroup probe: no room");
    out[0] = '\0';
    char path[4096];
    snprintf(path, sizeof(path), "%s/unified/cgroup.controllers", cgroup_root);
    _cleanup_free_ char *text = NULL;
    if (fs_read_file(path, 4096, &text, NULL, err) < 0) {
        if (err && err->kind == CRIC_ERR_NOT_FOUND) {
            cric_err_clear(err);
            return 0; /* not hybrid */
        }
        return -1;
    }
    /* normalise whitespace to single spaces */
    size_t o = 0;
    for (char *tok = strtok(text, " \t\n"); tok; tok = strtok(NULL, " \t\n")) {
        size_t l = strlen(tok);
        if (o + l + 2 > cap)
            return cric_err_set(err, CRIC_ERR_RESOURCE, "%s: too long", path);
        if (o)
            out[o++] = ' ';
        memcpy(out + o, tok, l);
        o += l;
    }
    out[o] = '\0';
    return 0;
}

bool runtime_probe_needs_pure_hybrid(const char *runtime_path)
{
    const char *b = strrchr(runtime_path, '/');
    b = b ? b + 1 : runtime_path;
    return strcmp(b, "crun") == 0;
}

static bool safe_controller(const char *c)
{
    if (!*c || strlen(c) > 32)
        return false;
    for (; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
            return false;
    return true;
}

int runtime_probe_prepare(const char *runtime_path, const char *cgroup_root, cric_err *err)
{
    if (!runtime_probe_needs_pure_hybrid(runtime_path))
        return 0;
    char ctrls[512];
    if (runtime_probe_unified_controllers(cgroup_root, ctrls, sizeof(ctrls), err) < 0)
        return cric_err_prefix(err, "runtime %s: ", runtime_path);
    if (!ctrls[0])
        return 0;
    log_info("ctr",
             "runtime %s: hybrid cgroups with controllers on %s/unified (%s): "
             "mounting their v1 hierarchies so that it accepts the layout",
             runtime_path, cgroup_root, ctrls);
    char list[512];
    snprintf(list, sizeof(list), "%s", ctrls);
    char *save = NULL;
    for (char *c = strtok_r(list, " ", &save); c; c = strtok_r(NULL, " ", &save)) {
        if (!safe_controller(c))
            return cric_err_set(err, CRIC_ERR_INTERNAL, "runtime %s: odd controller name '%s'",
                                runtime_path, c);
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s/%s", cgroup_root, c);
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
            return cric_err_errno(err, errno, "runtime %s: mkdir %s", runtime_path, dir);
        if (mount("cgroup", dir, "cgroup", MS_NOSUID | MS_NODEV | MS_NOEXEC, c) < 0) {
            int e = errno;
            rmdir(dir);
            return cric_err_errno(err, e, "runtime %s: mount the %s v1 hierarchy at %s",
                                  runtime_path, c, dir);
        }
        log_info("ctr", "runtime %s: mounted the %s cgroup v1 hierarchy at %s", runtime_path, c,
                 dir);
    }
    if (runtime_probe_unified_controllers(cgroup_root, ctrls, sizeof(ctrls), err) < 0)
        return cric_err_prefix(err, "runtime %s: ", runtime_path);
    if (ctrls[0])
        return cric_err_set(err, CRIC_ERR_PRECONDITION,
                            "runtime %s: %s/unified still holds controllers (%s): hybrid layout "
                            "not supported by this runtime",
                            runtime_path, cgroup_root, ctrls);
    log_info("ctr", "runtime %s: cgroup layout fixed", runtime_path);
    return 0;
}

const char *runtime_probe_choose(const char *preferred, const char *fallback,
                                 const char *cgroup_root, cric_err *err)
{
    cric_err why;
    cric_err_clear(&why);
    if (runtime_probe_prepare(preferred, cgroup_root, &why) == 0)
        return preferred;
    if (fallback && runtime_probe_prepare(fallback, cgroup_root, err) == 0) {
        log_warn("ctr", "%s; falling back to %s", why.msg, fallback);
        return fallback;
    }
    if (!fallback && err)
        *err = why;
    return NULL;
}
