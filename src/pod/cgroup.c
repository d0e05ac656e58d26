#include "pod/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <stdbool.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/path.h"

#define CG_PATH_MAX 4096

void cgroup_mounts_free(cgroup_mounts *m)
{
    for (size_t i = 0; i < m->n_v1; i++) {
        free(m->v1[i]);
        free(m->v1_ctrls[i]);
    }
    free(m->v2);
    memset(m, 0, sizeof(*m));
}

/* mountinfo escapes spaces etc. as \ooo. */
static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] && r[3]) {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

int cgroup_parse_mountinfo(const char *text, cgroup_mounts *m, cric_err *err)
{
    memset(m, 0, sizeof(*m));
    _cleanup_free_ char *copy = strdup(text);
    if (!copy)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        /* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
        char *f[8] = {0};
        char *s2 = NULL, *tok = strtok_r(line, " ", &s2);
        for (int i = 0; i < 5 && tok; i++, tok = strtok_r(NULL, " ", &s2))
            f[i] = tok;
        while (tok && strcmp(tok, "-") != 0)
            tok = strtok_r(NULL, " ", &s2);
        if (!tok || !f[4])
            continue;
        char *fstype = strtok_r(NULL, " ", &s2);
        char *source = strtok_r(NULL, " ", &s2);
        char *super = strtok_r(NULL, " ", &s2);
        (void)source;
        if (!fstype || strcmp(f[3], "/") != 0)
            continue;
        unescape(f[4]);
        if (strcmp(fstype, "cgroup2") == 0 && !m->v2) {
            m->v2 = strdup(f[4]);
        } else if (strcmp(fstype, "cgroup") == 0 && super && m->n_v1 < CGROUP_MAX_MOUNTS) {
            /* super options: rw,cpu,cpuacct -> "cpu,cpuacct" */
            char ctrls[256] = "";
            char *s3 = NULL;
            for (char *o = strtok_r(super, ",", &s3); o; o = strtok_r(NULL, ",", &s3)) {
                if (strcmp(o, "rw") == 0 || strcmp(o, "ro") == 0 || strchr(o, '=') != NULL) {
                    if (strncmp(o, "name=", 5) != 0)
                        continue;
                }
                if (strncmp(o, "release_agent", 13) == 0 || strcmp(o, "clone_children") == 0 ||
                    strcmp(o, "noprefix") == 0 || strcmp(o, "xattr") == 0)
                    continue;
                if (strlen(ctrls) + strlen(o) + 2 < sizeof(ctrls)) {
                    if (ctrls[0])
                        strcat(ctrls, ",");
                    strcat(ctrls, o);
                }
            }
            bool dup = false;
            for (size_t i = 0; i < m->n_v1; i++)
                dup = dup || strcmp(m->v1_ctrls[i], ctrls) == 0;
            if (dup || !ctrls[0])
                continue;
            m->v1[m->n_v1] = strdup(f[4]);
            m->v1_ctrls[m->n_v1] = strdup(ctrls);
            if (!m->v1[m->n_v1] || !m->v1_ctrls[m->n_v1]) {
                cgroup_mounts_free(m);
                return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
            }
            m->n_v1++;
        }
    }
    return 0;
}

int cgroup_mounts_detect(cgroup_mounts *m, cric_err *err)
{
    _cleanup_free_ char *text = NULL;
    size_t len;
    if (fs_read_file("/proc/self/mountinfo", 4u << 20, &text, &len, err) < 0)
        return -1;
    return cgroup_parse_mountinfo(text, m, err);
}

static bool valid_component(const char *s, size_t n)
{
    if (n == 0 || n > 255 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == 0x7f || c == '\\')
            return false;
    }
    return true;
}

int cgroup_parent_relpath(const char *parent, char *buf, size_t size, cric_err *err)
{
    size_t n = strlen(parent);
    if (n == 0 || n >= 1024 || n >= size)
        return cric_err_set(err, CRIC_ERR_INVALID, "cgroup_parent: bad length");
    size_t suf = strlen(".slice");
    if (!strchr(parent, '/') && n > suf && strcmp(parent + n - suf, ".slice") == 0) {
        /* systemd: a-b-c.slice lives in a.slice/a-b.slice/a-b-c.slice */
        if (!valid_component(parent, n) || strstr(parent, "--") || parent[0] == '-')
            return cric_err_set(err, CRIC_ERR_INVALID, "cgroup_parent %.80s: bad slice name",
                                parent);
        size_t base = n - suf, off = 0;
        buf[0] = '\0';
        for (size_t i = 0; i <= base; i++) {
            if (i != base && parent[i] != '-')
                continue;
            if (i == 0)
                continue;
            int w = snprintf(buf + off, size - off, "%s%.*s.slice", off ? "/" : "", (int)i, parent);
            if (w < 0 || (size_t)w >= size - off)
                return cric_err_set(err, CRIC_ERR_INVALID, "cgroup_parent: too long");
            off += (size_t)w;
        }
        if (strcmp(parent, "-.slice") == 0)
            buf[0] = '\0';
        return 0;
    }
    size_t off = 0, len;
    const char *p = parent, *c;
    while (path_next(&p, &c, &len)) {
        if (!valid_component(c, len))
            return cric_err_set(err, CRIC_ERR_INVALID,
                                "cgroup_parent %.80s: invalid path component", parent);
        if (off + len + 2 > size)
            return cric_err_set(err, CRIC_ERR_INVALID, "cgroup_parent: too long");
        if (off)
            buf[off++] = '/';
        memcpy(buf + off, c, len);
        off += len;
    }
    buf[off] = '\0';
    if (off == 0)
        return cric_err_set(err, CRIC_ERR_INVALID, "cgroup_parent %.80s: names the root cgroup",
                            parent);
    return 0;
}

int cgroup_dirs(const cgroup_mounts *m, const char *rel, char ***dirs, size_t *n, cric_err *err)
{
    char **v = calloc(m->n_v1 + 2, sizeof(char *));
    if (!v)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < m->n_v1 + 1; i++) {
        const char *mnt = i < m->n_v1 ? m->v1[i] : m->v2;
        if (!mnt)
            continue;
        if (asprintf(&v[k], "%s/%s", mnt, rel) < 0) {
            v[k] = NULL;
            cleanup_strvp(&v);
            return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
        }
        k++;
    }
    *dirs = v;
    *n = k;
    return 0;
}

static int write_file(const char *dir, const char *name, const char *value, cric_err *err)
{
    char path[CG_PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return cric_err_errno(err, errno, "cgroup %s: open", path);
    size_t len = strlen(value);
    if (write(fd, value, len) != (ssize_t)len)
        return cric_err_errno(err, errno, "cgroup %s: write %.80s", path, value);
    return 0;
}

/* A new v1 cpuset cgroup starts with empty cpus/mems; copy the parent's. */
static void cpuset_inherit(const char *dir)
{
    static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
    for (size_t i = 0; i < 2; i++) {
        char path[CG_PATH_MAX], ppath[CG_PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/%s", dir, files[i]) >= (int)sizeof(path) ||
            snprintf(ppath, sizeof(ppath), "%s/../%s", dir, files[i]) >= (int)sizeof(ppath))
            continue;
        _cleanup_free_ char *cur = NULL, *par = NULL;
        size_t len;
        if (fs_read_file(path, 4096, &cur, &len, NULL) < 0 || (len > 0 && cur[0] != '\n'))
            continue;
        if (fs_read_file(ppath, 4096, &par, &len, NULL) < 0)
            continue;
        write_file(dir, files[i], par, NULL);
    }
}

/* The directories of rel and its parents under every hierarchy that do not
 * exist: made (make) or only listed, in creation order. */
static int cgroup_walk(const cgroup_mounts *m, const char *rel, bool make, char ***created_out,
                       size_t *n_out, cric_err *err)
{
    _cleanup_strv_ char **dirs = NULL;
    size_t nd = 0;
    if (cgroup_dirs(m, rel, &dirs, &nd, err) < 0)
        return -1;
    size_t depth = 1;
    for (const char *p = rel; *p; p++)
        depth += *p == '/';
    char **created = calloc(nd * depth + 1, sizeof(char *));
    if (!created)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    size_t nc = 0;
    for (size_t i = 0; i < nd; i++) {
        bool is_cpuset = i < m->n_v1 && strstr(m->v1_ctrls[i], "cpuset") != NULL;
        size_t base = strlen(dirs[i]) - strlen(rel);
        char path[CG_PATH_MAX];
        snprintf(path, sizeof(path), "%s", dirs[i]);
        for (size_t k = base;; k++) {
            if (path[k] != '/' && path[k] != '\0')
                continue;
            char saved = path[k];
            path[k] = '\0';
            struct stat st;
            bool missing = make ? mkdir(path, 0755) == 0 : stat(path, &st) < 0 && errno == ENOENT;
            if (missing) {
                created[nc] = strdup(path);
                if (!created[nc]) {
                    cgroup_remove(created, nc, NULL, NULL, NULL);
                    cleanup_strvp(&created);
                    return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
                }
                nc++;
                if (make && is_cpuset)
                    cpuset_inherit(path);
            } else if (make && errno != EEXIST) {
                int e = errno;
                cgroup_remove(created, nc, NULL, NULL, NULL);
                cleanup_strvp(&created);
                return cric_err_errno(err, e, "cgroup %s: mkdir", path);
            }
            path[k] = saved;
            if (!saved)
                break;
        }
    }
    *created_out = created;
    *n_out = nc;
    return 0;
}

int cgroup_create(const cgroup_mounts *m, const char *rel, char ***created, size_t *n,
                  cric_err *err)
{
    return cgroup_walk(m, rel, true, created, n, err);
}

int cgroup_missing(const cgroup_mounts *m, const char *rel, char ***missing, size_t *n,
                   cric_err *err)
{
    return cgroup_walk(m, rel, false, missing, n, err);
}

static bool has_child_cgroup(const char *dir)
{
    _cleanup_closedir_ DIR *d = opendir(dir);
    if (!d)
        return false;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_type == DT_DIR && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            return true;
    return false;
}

int cgroup_remove(char *const *created, size_t n, const char **shared, size_t *n_shared,
                  cric_err *err)
{
    int rc = 0;
    for (size_t i = n; i-- > 0;) {
        int tries = 0;
        while (rmdir(created[i]) < 0) {
            if (errno == ENOENT)
                break;
            if (errno == EBUSY && has_child_cgroup(created[i])) {
                if (shared && n_shared)
                    shared[(*n_shared)++] = created[i];
                break;
            }
            /* Processes that were just killed can linger for a moment. */
            if (errno == EBUSY && ++tries < 50) {
                struct timespec ts = {0, 10 * 1000 * 1000};
                nanosleep(&ts, NULL);
                continue;
            }
            if (rc == 0)
                rc = cric_err_errno(err, errno, "cgroup %s: rmdir", created[i]);
            break;
        }
    }
    return rc;
}

static bool line_listed(const char *text, const char *line, size_t len)
{
    for (const char *k = text; (k = strstr(k, line)); k += len)
        if ((k == text || k[-1] == '\n') && k[len] == '\n')
            return true;
    return false;
}

/* Opens and locks the list file; a sweeper that emptied it unlinks it, so
 * the lock only counts on the inode still at the path. */
static int open_locked(const char *path, cric_err *err)
{
    for (;;) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            return cric_err_errno(err, errno, "%s: open", path);
        struct stat held, now;
        if (flock(fd, LOCK_EX) < 0 || fstat(fd, &held) < 0) {
            int e = errno;
            close(fd);
            return cric_err_errno(err, e, "%s: lock", path);
        }
        if (stat(path, &now) == 0 && now.st_ino == held.st_ino && now.st_dev == held.st_dev)
            return fd;
        close(fd);
    }
}

int cgroup_sweep_shared(const char *list_path, const char *const *add, size_t n_add, cric_err *err)
{
    _cleanup_close_ int fd = open_locked(list_path, err);
    if (fd < 0)
        return -1;
    /* The inode at the path is the locked one (open_locked). */
    _cleanup_free_ char *text = NULL;
    size_t got = 0;
    if (fs_read_file(list_path, 1 << 20, &text, &got, err) < 0)
        return -1;
    /* Still in use: rewritten to the file. */
    _cleanup_free_ char *keep = calloc(1, got + 2 + n_add * (CG_PATH_MAX + 1));
    if (!keep)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    size_t klen = 0;
    char *save = NULL;
    char *listed = strtok_r(text, "\n", &save);
    for (size_t i = 0; i < n_add || listed;) {
        const char *dir = i < n_add ? add[i++] : listed;
        if (dir == listed)
            listed = strtok_r(NULL, "\n", &save);
        size_t len = strlen(dir);
        /* Only what cric itself wrote here: cgroup directories, nothing odd. */
        if (strncmp(dir, "/sys/fs/cgroup/", 15) != 0 || strstr(dir, "/../") || len >= CG_PATH_MAX)
            continue;
        if (rmdir(dir) == 0 || errno == ENOENT)
            continue;
        if (line_listed(keep, dir, len))
            continue;
        memcpy(keep + klen, dir, len);
        klen += len;
        keep[klen++] = '\n';
        keep[klen] = '\0';
    }
    if (klen == 0) {
        unlink(list_path);
        return 0;
    }
    if (ftruncate(fd, 0) < 0 || pwrite(fd, keep, klen, 0) != (ssize_t)klen)
        return cric_err_errno(err, errno, "%s: write", list_path);
    return 0;
}

unsigned long long cgroup_shares_to_weight(unsigned long long shares)
{
    if (shares == 0)
        return 0;
    if (shares < 2)
        shares = 2;
    if (shares > 262144)
        shares = 262144;
    return 1 + ((shares - 2) * 9999) / 262142;
}

/* The v1 hierarchy directory holding ctrl, or NULL. */
static const char *v1_dir(const cgroup_mounts *m, char **dirs, const char *ctrl)
{
    for (size_t i = 0; i < m->n_v1; i++) {
        char list[300];
        snprintf(list, sizeof(list), ",%s,", m->v1_ctrls[i]);
        char want[64];
        snprintf(want, sizeof(want), ",%s,", ctrl);
        if (strstr(list, want))
            return dirs[i];
    }
    return NULL;
}

/* The v2 directory when ctrl is enabled there (or ctrl is NULL), else NULL. */
static const char *v2_dir(const cgroup_mounts *m, char **dirs, size_t nd, const char *ctrl)
{
    if (!m->v2)
        return NULL;
    const char *dir = dirs[nd - 1];
    if (!ctrl)
        return dir;
    char path[CG_PATH_MAX];
    snprintf(path, sizeof(path), "%s/cgroup.controllers", dir);
    _cleanup_free_ char *text = NULL;
    size_t len;
    if (fs_read_file(path, 4096, &text, &len, NULL) < 0)
        return NULL;
    for (char *s = NULL, *t = strtok_r(text, " \n", &s); t; t = strtok_r(NULL, " \n", &s))
        if (strcmp(t, ctrl) == 0)
            return dir;
    return NULL;
}

static int64_t sum(int64_t a, int64_t b)
{
    return a > 0 && b > 0 ? a + b : (a > 0 ? a : 0);
}

int cgroup_apply(const cgroup_mounts *m, const char *rel, const pod_resources *ov,
                 const pod_resources *res, cric_err *err)
{
    static const pod_resources none = {0};
    if (!ov)
        ov = &none;
    if (!res)
        res = &none;
    _cleanup_strv_ char **dirs = NULL;
    size_t nd = 0;
    if (cgroup_dirs(m, rel, &dirs, &nd, err) < 0)
        return -1;
    char v[64];
    const char *d;
    int64_t mem = sum(res->memory_limit, ov->memory_limit);
    if (mem > 0) {
        snprintf(v, sizeof(v), "%lld", (long long)mem);
        if ((d = v1_dir(m, dirs, "memory"))) {
            if (write_file(d, "memory.limit_in_bytes", v, err) < 0)
                return -1;
        } else if ((d = v2_dir(m, dirs, nd, "memory")) && write_file(d, "memory.max", v, err) < 0) {
            return -1;
        }
    }
    int64_t shares = res->cpu_shares + ov->cpu_shares;
    int64_t quota = sum(res->cpu_quota, ov->cpu_quota);
    int64_t period = res->cpu_period > 0 ? res->cpu_period : ov->cpu_period;
    if ((d = v1_dir(m, dirs, "cpu"))) {
        if (shares > 0) {
            snprintf(v, sizeof(v), "%lld", (long long)shares);
            if (write_file(d, "cpu.shares", v, err) < 0)
                return -1;
        }
        if (period > 0) {
            snprintf(v, sizeof(v), "%lld", (long long)period);
            if (write_file(d, "cpu.cfs_period_us", v, err) < 0)
                return -1;
        }
        if (quota > 0) {
            snprintf(v, sizeof(v), "%lld", (long long)quota);
            if (write_file(d, "cpu.cfs_quota_us", v, err) < 0)
                return -1;
        }
    } else if ((d = v2_dir(m, dirs, nd, "cpu"))) {
        if (shares > 0) {
            snprintf(v, sizeof(v), "%llu", cgroup_shares_to_weight((unsigned long long)shares));
            if (write_file(d, "cpu.weight", v, err) < 0)
                return -1;
        }
        if (quota > 0) {
            snprintf(v, sizeof(v), "%lld %lld", (long long)quota,
                     (long long)(period > 0 ? period : 100000));
            if (write_file(d, "cpu.max", v, err) < 0)
                return -1;
        }
    }
    const char *cpus = res->cpuset_cpus && res->cpuset_cpus[0] ? res->cpuset_cpus : NULL;
    const char *mems = res->cpuset_mems && res->cpuset_mems[0] ? res->cpuset_mems : NULL;
    if ((cpus || mems) &&
        ((d = v1_dir(m, dirs, "cpuset")) || (d = v2_dir(m, dirs, nd, "cpuset")))) {
        if (cpus && write_file(d, "cpuset.cpus", cpus, err) < 0)
            return -1;
        if (mems && write_file(d, "cpuset.mems", mems, err) < 0)
            return -1;
    }
    for (size_t i = 0; i < res->n_unified; i++) {
        const char *key = res->unified[i].key;
        bool ok = strlen(key) < 128 && strchr(key, '.') && key[0] != '.';
        for (const char *p = key; ok && *p; p++)
            ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_';
        if (!ok)
            return cric_err_set(err, CRIC_ERR_INVALID, "resources.unified: bad key %.80s", key);
        if (!(d = v2_dir(m, dirs, nd, NULL)))
            return cric_err_set(err, CRIC_ERR_INVALID,
                                "resources.unified %s: this host has no cgroup v2 mount", key);
        if (write_file(d, key, res->unified[i].value, err) < 0)
            return -1;
    }
    return 0;
}

int cgroup_add_pid(const cgroup_mounts *m, const char *rel, pid_t pid, cric_err *err)
{
    _cleanup_strv_ char **dirs = NULL;
    size_t nd = 0;
    if (cgroup_dirs(m, rel, &dirs, &nd, err) < 0)
        return -1;
    char v[32];
    snprintf(v, sizeof(v), "%d", (int)pid);
    for (size_t i = 0; i < nd; i++)
        if (write_file(dirs[i], "cgroup.procs", v, err) < 0)
            return -1;
    return 0;
}
