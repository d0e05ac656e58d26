/* ctr_host_facts_detect: what the spec generator needs to know about the host. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctr/spec.h"
#include "util/cleanup.h"

static bool file_exists(const char *p)
{
    return access(p, F_OK) == 0;
}

static bool unified_has_controllers(const char *path)
{
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    char buf[512] = "";
    if (!f || !fgets(buf, sizeof(buf), f))
        return false;
    return strspn(buf, " \n") != strlen(buf);
}

void ctr_host_facts_detect(ctr_host_facts *out)
{
    memset(out, 0, sizeof(*out));
    out->cap_bounding = ctr_caps_default();
    if (file_exists("/sys/fs/cgroup/cgroup.controllers"))
        out->cgroup_layout = CTR_CGROUP_V2;
    else if (file_exists("/sys/fs/cgroup/unified/cgroup.controllers") &&
             unified_has_controllers("/sys/fs/cgroup/unified/cgroup.controllers"))
        out->cgroup_layout = CTR_CGROUP_HYBRID;
    else
        out->cgroup_layout = CTR_CGROUP_V1;
    if (out->cgroup_layout == CTR_CGROUP_V2)
        out->swap_limit = file_exists("/sys/fs/cgroup/memory.swap.max") ||
                          file_exists("/sys/fs/cgroup/init.scope/memory.swap.max") ||
                          file_exists("/sys/fs/cgroup/system.slice/memory.swap.max");
    else
        out->swap_limit = file_exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes");

    if (out->cgroup_layout == CTR_CGROUP_V2) {
        _cleanup_fclose_ FILE *cc = fopen("/sys/fs/cgroup/cgroup.controllers", "re");
        char buf[512] = "";
        if (cc && fgets(buf, sizeof(buf), cc))
            for (char *sv = NULL, *t = strtok_r(buf, " \n", &sv); t; t = strtok_r(NULL, " \n", &sv))
                out->hugetlb |= strcmp(t, "hugetlb") == 0;
    } else {
        out->hugetlb = file_exists("/sys/fs/cgroup/hugetlb/cgroup.procs");
    }

    _cleanup_fclose_ FILE *aa = fopen("/sys/module/apparmor/parameters/enabled", "re");
    char c = 0;
    out->apparmor = aa && fread(&c, 1, 1, aa) == 1 && c == 'Y';

    _cleanup_fclose_ FILE *st = fopen("/proc/self/status", "re");
    char line[256];
    while (st && fgets(line, sizeof(line), st)) {
        if (strncmp(line, "CapBnd:", 7) == 0) {
            unsigned long long v = strtoull(line + 7, NULL, 16);
            out->cap_bounding = v & ((CTR_CAP_BIT(CTR_CAP_MAX) << 1) - 1);
        }
    }
    _cleanup_fclose_ FILE *oom = fopen("/proc/self/oom_score_adj", "re");
    int v = 0;
    if (oom && fscanf(oom, "%d", &v) == 1 && v >= -1000 && v <= 1000)
        out->oom_score_adj_floor = v;
}
