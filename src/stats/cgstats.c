#include "stats/cgstats.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"

#define CG_PATH_MAX 4096
#define CG_FILE_MAX 8192
/* v1 reports "unlimited" as a page-rounded LONG_MAX; anything above this is none. */
#define V1_UNLIMITED_MIN (1ull << 62)

static bool has_ctrl(const char *list, const char *want)
{
    size_t wl = strlen(want);
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == wl && strncmp(p, want, wl) == 0)
            return true;
        if (!comma)
            break;
        p = comma + 1;
    }
    return false;
}

int stats_cg_layout_init(stats_cg_layout *l, char *const *v1_mounts, char *const *v1_ctrls,
                         size_t n_v1, const char *v2, cric_err *err)
{
    memset(l, 0, sizeof(*l));
    for (size_t i = 0; i < n_v1; i++) {
        char **slot = has_ctrl(v1_ctrls[i], "cpuacct")  ? &l->cpuacct
                      : has_ctrl(v1_ctrls[i], "memory") ? &l->memory
                      : has_ctrl(v1_ctrls[i], "pids")   ? &l->pids
                                                        : NULL;
        if (slot && !*slot && !(*slot = strdup(v1_mounts[i])))
            goto oom;
    }
    if (v2 && !(l->v2 = strdup(v2)))
        goto oom;
    return 0;
oom:
    stats_cg_layout_free(l);
    return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
}

void stats_cg_layout_free(stats_cg_layout *l)
{
    free(l->cpuacct);
    free(l->memory);
    free(l->pids);
    free(l->v2);
    memset(l, 0, sizeof(*l));
}

const char *stats_cg_layout_name(const stats_cg_layout *l)
{
    bool v1 = l->cpuacct || l->memory || l->pids;
    return v1 && l->v2 ? "hybrid" : v1 ? "v1" : l->v2 ? "v2" : "none";
}

/* Reads a small cgroup file (relative to the directory dfd) into buf,
 * NUL-terminated; -1 when absent. cgroup files hand out their whole content
 * in one read, so a short read is the end (one syscall saved per file). */
static int read_at(int dfd, const char *file, char *buf, size_t size)
{
    _cleanup_close_ int fd = openat(dfd, file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off + 1 < size) {
        ssize_t r = read(fd, buf + off, size - 1 - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        off += (size_t)r;
        if (r == 0 || (size_t)r < size - 1 - (off - (size_t)r))
            break;
    }
    buf[off] = '\0';
    return 0;
}

/* The cgroup's directory under root (O_PATH: the files are opened from it, so
 * the long path is walked once per hierarchy, not once per file). */
static int open_dir(const char *root, const char *rel)
{
    char path[CG_PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/%s", root, rel);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -1;
    return open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

/* A file holding one number, or "max" (STATS_NO_LIMIT). */
static int read_u64(int dfd, const char *file, uint64_t *out)
{
    char buf[64];
    if (read_at(dfd, file, buf, sizeof(buf)) < 0)
        return -1;
    if (strncmp(buf, "max", 3) == 0) {
        *out = STATS_NO_LIMIT;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (errno || end == buf)
        return -1;
    *out = v;
    return 0;
}

int stats_kv_get(const char *text, const char *key, uint64_t *val)
{
    size_t kl = strlen(key);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, key, kl) == 0 && p[kl] == ' ') {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(p + kl + 1, &end, 10);
            if (errno || end == p + kl + 1)
                return -1;
            *val = v;
            return 0;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return -1;
}

/* One file of a hierarchy that is read alone: opened by its full path. */
static int read_u64_path(const char *root, const char *rel, const char *file, uint64_t *out)
{
    char path[CG_PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/%s/%s", root, rel, file);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -1;
    return read_u64(AT_FDCWD, path, out);
}

static bool dir_exists(const char *root, const char *rel)
{
    char path[CG_PATH_MAX];
    struct stat st;
    int n = snprintf(path, sizeof(path), "%s/%s", root, rel);
    return n > 0 && (size_t)n < sizeof(path) && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void read_cpu(const stats_cg_layout *l, const char *rel, int v2fd, stats_cg_sample *o)
{
    if (l->cpuacct) {
        o->has_cpu = read_u64_path(l->cpuacct, rel, "cpuacct.usage", &o->cpu_usage_ns) == 0;
        return;
    }
    char buf[CG_FILE_MAX];
    uint64_t usec;
    if (v2fd >= 0 && read_at(v2fd, "cpu.stat", buf, sizeof(buf)) == 0 &&
        stats_kv_get(buf, "usage_usec", &usec) == 0) {
        o->has_cpu = true;
        o->cpu_usage_ns = usec * 1000;
    }
}

static void finish_memory(stats_cg_sample *o)
{
    o->mem_working_set =
        o->mem_usage > o->mem_inactive_file ? o->mem_usage - o->mem_inactive_file : 0;
    o->has_memory = true;
}

static void read_memory_v1(int dfd, stats_cg_sample *o)
{
    char buf[CG_FILE_MAX];
    if (read_u64(dfd, "memory.usage_in_bytes", &o->mem_usage) < 0 ||
        read_at(dfd, "memory.stat", buf, sizeof(buf)) < 0)
        return;
    if (read_u64(dfd, "memory.limit_in_bytes", &o->mem_limit) < 0 ||
        o->mem_limit >= V1_UNLIMITED_MIN)
        o->mem_limit = STATS_NO_LIMIT;
    stats_kv_get(buf, "total_inactive_file", &o->mem_inactive_file);
    stats_kv_get(buf, "total_rss", &o->mem_rss);
    stats_kv_get(buf, "total_pgfault", &o->page_faults);
    stats_kv_get(buf, "total_pgmajfault", &o->major_page_faults);
    finish_memory(o);
    /* memsw counts memory + swap; present only with swap accounting. */
    uint64_t memsw, memsw_limit;
    if (read_u64(dfd, "memory.memsw.usage_in_bytes", &memsw) == 0) {
        o->has_swap = true;
        o->swap_usage = memsw > o->mem_usage ? memsw - o->mem_usage : 0;
        o->swap_limit = STATS_NO_LIMIT;
        if (o->mem_limit != STATS_NO_LIMIT &&
            read_u64(dfd, "memory.memsw.limit_in_bytes", &memsw_limit) == 0 &&
            memsw_limit < V1_UNLIMITED_MIN)
            o->swap_limit = memsw_limit > o->mem_limit ? memsw_limit - o->mem_limit : 0;
    }
}

static void read_memory_v2(int dfd, stats_cg_sample *o)
{
    char buf[CG_FILE_MAX];
    if (read_u64(dfd, "memory.current", &o->mem_usage) < 0 ||
        read_at(dfd, "memory.stat", buf, sizeof(buf)) < 0)
        return;
    if (read_u64(dfd, "memory.max", &o->mem_limit) < 0)
        o->mem_limit = STATS_NO_LIMIT;
    stats_kv_get(buf, "inactive_file", &o->mem_inactive_file);
    stats_kv_get(buf, "anon", &o->mem_rss);
    stats_kv_get(buf, "pgfault", &o->page_faults);
    stats_kv_get(buf, "pgmajfault", &o->major_page_faults);
    finish_memory(o);
    if (read_u64(dfd, "memory.swap.current", &o->swap_usage) == 0) {
        o->has_swap = true;
        if (read_u64(dfd, "memory.swap.max", &o->swap_limit) < 0)
            o->swap_limit = STATS_NO_LIMIT;
    }
}

int stats_cg_read(const stats_cg_layout *l, const char *rel, stats_cg_sample *o, cric_err *err)
{
    memset(o, 0, sizeof(*o));
    if (!rel[0] || strstr(rel, "..") || rel[0] == '/')
        return cric_err_set(err, CRIC_ERR_INVALID, "cgroup path \"%s\" is not a relative path",
                            rel);
    struct timespec rt, mt;
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &mt);
    o->timestamp_ns = (int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec;
    o->mono_ns = (int64_t)mt.tv_sec * 1000000000 + mt.tv_nsec;

    /* v2 supplies what no v1 hierarchy does (everything on a pure v2 host) */
    bool need_v2 = l->v2 && (!l->cpuacct || !l->memory || !l->pids);
    _cleanup_close_ int v2fd = need_v2 ? open_dir(l->v2, rel) : -1;
    read_cpu(l, rel, v2fd, o);
    if (l->memory) {
        _cleanup_close_ int dfd = open_dir(l->memory, rel);
        if (dfd >= 0)
            read_memory_v1(dfd, o);
    } else if (v2fd >= 0) {
        read_memory_v2(v2fd, o);
    }
    if (l->pids) {
        o->has_pids = read_u64_path(l->pids, rel, "pids.current", &o->pids) == 0;
    } else if (v2fd >= 0) {
        o->has_pids = read_u64(v2fd, "pids.current", &o->pids) == 0;
    }

    if (!o->has_cpu && !o->has_memory && !o->has_pids) {
        const char *roots[] = {l->cpuacct, l->memory, l->pids, l->v2};
        bool any = false;
        for (size_t i = 0; i < 4 && !any; i++)
            any = roots[i] && dir_exists(roots[i], rel);
        if (!any)
            return cric_err_set(err, CRIC_ERR_NOT_FOUND, "cgroup %s not found", rel);
    }
    return 0;
}
