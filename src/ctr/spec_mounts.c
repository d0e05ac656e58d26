/* mounts: the default set (/proc, /dev, /dev/pts, /dev/mqueue, /sys,
 * /sys/fs/cgroup, /dev/shm), the sandbox's /etc/hostname, /etc/hosts,
 * /etc/resolv.conf and /dev/shm, the CRI mounts (bind with propagation,
 * readonly) and the image's volumes as empty dirs. A CRI mount replaces any
 * other mount at the same destination; a /dev mount replaces everything
 * under /dev. Extra mounts are ordered parents first. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ctr/spec_internal.h"
#include "util/cleanup.h"
#include "util/log.h"

typedef struct mnt {
    char dest[SPEC_MAX_STRLEN + 1];
    json_t *json;
    size_t order;
} mnt;

typedef struct mnt_list {
    mnt *v;
    size_t n;
} mnt_list;

static void mnt_list_free(mnt_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        json_decref(l->v[i].json);
    free(l->v);
}

static int mnt_add(mnt_list *l, const char *dest, json_t *m, cric_err *err)
{
    if (!m)
        return cric_err_set(err, CRIC_ERR_INTERNAL, "out of memory");
    if (l->n >= SPEC_MAX_MOUNTS) {
        json_decref(m);
        return cric_err_set(err, CRIC_ERR_INVALID, "more than %d mounts", SPEC_MAX_MOUNTS);
    }
    mnt *n = realloc(l->v, (l->n + 1) * sizeof(*n));
    if (!n) {
        json_decref(m);
        return cric_err_set(err, CRIC_ERR_INTERNAL, "out of memory");
    }
    l->v = n;
    snprintf(l->v[l->n].dest, sizeof(l->v[l->n].dest), "%s", dest);
    l->v[l->n].json = m;
    l->v[l->n].order = l->n;
    l->n++;
    return 0;
}

static bool mnt_has(const mnt_list *l, const char *dest)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].dest, dest) == 0)
            return true;
    return false;
}

static size_t depth(const char *p)
{
    if (strcmp(p, "/") == 0)
        return 0;
    size_t d = 0;
    for (; *p; p++)
        d += *p == '/';
    return d;
}

static int mnt_cmp(const void *a, const void *b)
{
    const mnt *x = a, *y = b;
    size_t dx = depth(x->dest), dy = depth(y->dest);
    if (dx != dy)
        return dx < dy ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static json_t *bind_json(const char *dest, const char *src, const char *prop, bool ro)
{
    return json_pack("{s:s, s:s, s:s, s:[sss]}", "destination", dest, "type", "bind", "source", src,
                     "options", "rbind", prop, ro ? "ro" : "rw");
}

/* ---------------------------------------------------------------- propagation */

enum { PROP_SHARED = 1, PROP_SLAVE = 2 };

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape_octal(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

int spec_mount_propagation(const char *mountinfo, const char *path, int *flags, char *mp,
                           size_t mp_len)
{
    _cleanup_fclose_ FILE *f = fopen(mountinfo, "re");
    if (!f)
        return -1;
    _cleanup_free_ char *line = NULL;
    size_t cap = 0, best = 0;
    bool found = false;
    *flags = 0;
    while (getline(&line, &cap, f) > 0) {
        char *save = NULL, *fld[6];
        size_t n = 0;
        char *t = strtok_r(line, " \n", &save);
        for (; t && n < 6; t = strtok_r(NULL, " \n", &save))
            fld[n++] = t;
        if (n < 6)
            continue;
        char *point = fld[4];
        unescape_octal(point);
        size_t pl = strlen(point);
        bool under = strcmp(point, "/") == 0 ||
                     (strncmp(path, point, pl) == 0 && (path[pl] == '/' || path[pl] == '\0'));
        if (!under || pl < best)
            continue;
        /* a later line at the same point is mounted on top: it wins */
        best = pl;
        found = true;
        snprintf(mp, mp_len, "%s", point);
        int fl = 0;
        for (char *o = t; o && strcmp(o, "-") != 0; o = strtok_r(NULL, " \n", &save)) {
            if (strncmp(o, "shared:", 7) == 0)
                fl |= PROP_SHARED;
            else if (strncmp(o, "master:", 7) == 0)
                fl |= PROP_SLAVE;
        }
        *flags = fl;
    }
    return found ? 0 : -1;
}

/* containerd's rule: a bidirectional source must sit on a shared mount, a
 * host-to-container one on a shared or slave mount, or the propagation the
 * pod asked for silently would not happen. */
static int check_source_propagation(spec_ctx *c, const char *dest, const char *src,
                                    bool need_shared, cric_err *err)
{
    char probe[SPEC_MAX_STRLEN + 1];
    snprintf(probe, sizeof(probe), "%s", src);
    struct stat st;
    while (stat(probe, &st) != 0 && strcmp(probe, "/") != 0) {
        char *slash = strrchr(probe, '/');
        if (slash == probe)
            slash[1] = '\0';
        else
            *slash = '\0';
    }
    char real[SPEC_MAX_STRLEN + 2]; /* >= PATH_MAX */
    if (!realpath(probe, real))
        snprintf(real, sizeof(real), "%s", probe);
    int fl;
    char mp[SPEC_MAX_STRLEN + 1] = "";
    const char *mi = c->in->mountinfo_path ? c->in->mountinfo_path : "/proc/self/mountinfo";
    if (spec_mount_propagation(mi, real, &fl, mp, sizeof(mp)) != 0)
        return 0; /* cannot tell: let the runtime try */
    if (need_shared ? !(fl & PROP_SHARED) : !(fl & (PROP_SHARED | PROP_SLAVE)))
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "container %s: mount %s: host path %s is on mount %s, which is not "
                            "%s (needed for %s propagation)",
                            c->cid, dest, src, mp, need_shared ? "shared" : "shared or slave",
                            need_shared ? "bidirectional" : "host-to-container");
    return 0;
}

/* ---------------------------------------------------------------- CRI mounts */

static bool mount_option_ok(const char *o)
{
    static const char *const ok[] = {"nosuid",   "nodev",       "noexec",     "suid",
                                     "dev",      "exec",        "noatime",    "nodiratime",
                                     "relatime", "strictatime", "norelatime", "nostrictatime"};
    for (size_t i = 0; i < ARRAY_LEN(ok); i++)
        if (strcmp(o, ok[i]) == 0)
            return true;
    return false;
}

static int cri_mount(spec_ctx *c, const Runtime__V1__Mount *m, size_t i, mnt_list *l,
                     const char **rootfs_prop, cric_err *err)
{
    char dest[SPEC_MAX_STRLEN + 1];
    if (spec_path_clean(m->container_path, dest) != 0)
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "container %s: mount %zu: container path \"%.128s\" is not absolute",
                            c->cid, i, spec_str(m->container_path));
    if (strcmp(dest, "/") == 0)
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: mount %zu: cannot mount over /",
                            c->cid, i);
    if (m->image && *spec_str(m->image->image))
        return cric_err_set(err, CRIC_ERR_UNIMPLEMENTED,
                            "container %s: mount %s: image volume sources are not supported",
                            c->cid, dest);
    if (m->n_uidmappings || m->n_gidmappings)
        return cric_err_set(err, CRIC_ERR_UNIMPLEMENTED,
                            "container %s: mount %s: id-mapped mounts are not supported", c->cid,
                            dest);
    if (m->recursive_read_only)
        return cric_err_set(err, CRIC_ERR_UNIMPLEMENTED,
                            "container %s: mount %s: recursive read-only mounts are not supported",
                            c->cid, dest);
    char src[SPEC_MAX_STRLEN + 1];
    if (spec_path_clean(m->host_path, src) != 0)
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "container %s: mount %s: host path \"%.128s\" is not absolute", c->cid,
                            dest, spec_str(m->host_path));
    if (mnt_has(l, dest))
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: duplicate mount point %s", c->cid,
                            dest);
    /* Symlinks in the host path are followed; a missing path becomes a
     * directory (the caller creates it, as the kubelet expects). */
    char real[PATH_MAX];
    struct stat st;
    if (stat(src, &st) == 0) {
        if (realpath(src, real) && strlen(real) <= SPEC_MAX_STRLEN)
            snprintf(src, sizeof(src), "%s", real);
    } else if (errno == ENOENT) {
        if (spec_extra_add_mkdir(c->extra, src, false, err))
            return -1;
    } else {
        return cric_err_errno(err, errno, "container %s: mount %s: stat %s", c->cid, dest, src);
    }
    const char *prop;
    switch (m->propagation) {
    case RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_PRIVATE:
        prop = "rprivate";
        break;
    case RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER:
        prop = "rslave";
        if (check_source_propagation(c, dest, src, false, err))
            return -1;
        if (strcmp(*rootfs_prop, "rshared") != 0)
            *rootfs_prop = "rslave";
        break;
    case RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL:
        prop = "rshared";
        if (check_source_propagation(c, dest, src, true, err))
            return -1;
        *rootfs_prop = "rshared";
        break;
    default:
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: mount %s: unknown propagation %d",
                            c->cid, dest, (int)m->propagation);
    }
    json_t *j = bind_json(dest, src, prop, m->readonly);
    if (j && m->n_mount_options) {
        json_t *opts = json_object_get(j, "options");
        for (size_t k = 0; k < m->n_mount_options; k++) {
            if (k >= 16 || !mount_option_ok(spec_str(m->mount_options[k]))) {
                json_decref(j);
                return cric_err_set(err, CRIC_ERR_INVALID,
                                    "container %s: mount %s: unsupported option \"%.32s\"", c->cid,
                                    dest, spec_str(m->mount_options[k]));
            }
            json_array_append_new(opts, json_string(m->mount_options[k]));
        }
    }
    return mnt_add(l, dest, j, err);
}

/* ---------------------------------------------------------------- sandbox files */

static int sandbox_mount(spec_ctx *c, mnt_list *l, const char *dest, const char *src, bool ro,
                         cric_err *err)
{
    if (!*spec_str(src) || mnt_has(l, dest))
        return 0;
    if (src[0] != '/' || !spec_str_ok(src, SPEC_MAX_STRLEN))
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: sandbox path for %s not absolute",
                            c->cid, dest);
    return mnt_add(l, dest, bind_json(dest, src, "rprivate", ro), err);
}

/* ---------------------------------------------------------------- image volumes */

static int image_volumes(spec_ctx *c, mnt_list *l, cric_err *err)
{
    const json_t *vols =
        c->in->image_config ? json_object_get(c->in->image_config, "Volumes") : NULL;
    if (!json_is_object(vols))
        return 0;
    if (json_object_size(vols) > 256)
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: image has too many volumes",
                            c->cid);
    const char *vdir = spec_str(c->in->volumes_dir);
    const char *key;
    const json_t *v;
    size_t idx = 0;
    json_object_foreach((json_t *)vols, key, v)
    {
        char dest[SPEC_MAX_STRLEN + 1];
        if (spec_path_clean(key, dest) != 0 || strcmp(dest, "/") == 0) {
            log_warn("ctr", "container %s: image volume \"%.128s\" ignored: not an absolute path",
                     c->cid, key);
            continue;
        }
        if (mnt_has(l, dest))
            continue; /* a CRI mount provides it */
        char **nv = realloc(c->extra->image_volumes, (c->extra->n_image_volumes + 1) * sizeof(*nv));
        if (!nv)
            return cric_err_set(err, CRIC_ERR_INTERNAL, "out of memory");
        c->extra->image_volumes = nv;
        if (!(nv[c->extra->n_image_volumes] = strdup(dest)))
            return cric_err_set(err, CRIC_ERR_INTERNAL, "out of memory");
        c->extra->n_image_volumes++;
        if (*vdir) {
            _cleanup_free_ char *src = NULL;
            if (asprintf(&src, "%s/%zu", vdir, idx++) < 0)
                return cric_err_set(err, CRIC_ERR_INTERNAL, "out of memory");
            if (spec_extra_add_mkdir(c->extra, src, false, err) ||
                mnt_add(l, dest, bind_json(dest, src, "rprivate", false), err))
                return -1;
        } else if (spec_extra_add_mkdir(c->extra, dest + 1, true, err)) {
            return -1;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- defaults */

static int default_mounts(spec_ctx *c, json_t *out, const mnt_list *l, cric_err *err)
{
    const bool priv = c->privileged;
    json_t *defs = json_pack(
        "["
        "{s:s, s:s, s:s, s:[sss]},"
        "{s:s, s:s, s:s, s:[ssss]},"
        "{s:s, s:s, s:s, s:[ssssss]},"
        "{s:s, s:s, s:s, s:[sssss]},"
        "{s:s, s:s, s:s, s:[sss]},"
        "{s:s, s:s, s:s, s:[ssss]},"
        "{s:s, s:s, s:s, s:[sssss]}"
        "]",
        "destination", "/proc", "type", "proc", "source", "proc", "options", "nosuid", "noexec",
        "nodev", "destination", "/dev", "type", "tmpfs", "source", "tmpfs", "options", "nosuid",
        "strictatime", "mode=755", "size=65536k", "destination", "/dev/pts", "type", "devpts",
        "source", "devpts", "options", "nosuid", "noexec", "newinstance", "ptmxmode=0666",
        "mode=0620", "gid=5", "destination", "/dev/shm", "type", "tmpfs", "source", "shm",
        "options", "nosuid", "noexec", "nodev", "mode=1777", "size=65536k", "destination",
        "/dev/mqueue", "type", "mqueue", "source", "mqueue", "options", "nosuid", "noexec", "nodev",
        "destination", "/sys", "type", "sysfs", "source", "sysfs", "options", "nosuid", "noexec",
        "nodev", priv ? "rw" : "ro", "destination", "/sys/fs/cgroup", "type", "cgroup", "source",
        "cgroup", "options", "nosuid", "noexec", "nodev", "relatime", priv ? "rw" : "ro");
    if (!defs)
        return cric_err_set(err, CRIC_ERR_INTERNAL, "out of memory");
    bool dev_given = mnt_has(l, "/dev");
    size_t i;
    json_t *m;
    int rc = 0;
    json_array_foreach(defs, i, m)
    {
        const char *d = json_string_value(json_object_get(m, "destination"));
        if (mnt_has(l, d) || (dev_given && strncmp(d, "/dev/", 5) == 0))
            continue;
        if (json_array_append(out, m) != 0)
            rc = cric_err_set(err, CRIC_ERR_INTERNAL, "out of memory");
    }
    json_decref(defs);
    return rc;
}

int spec_mounts(spec_ctx *c, cric_err *err)
{
    mnt_list l = {0};
    const char *rootfs_prop = "";
    const Runtime__V1__ContainerConfig *cfg = c->cfg;
    int rc = 0;
    if (cfg->n_mounts > SPEC_MAX_MOUNTS)
        rc = cric_err_set(err, CRIC_ERR_INVALID, "container %s: too many mounts", c->cid);
    for (size_t i = 0; rc == 0 && i < cfg->n_mounts; i++)
        rc = cri_mount(c, cfg->mounts[i], i, &l, &rootfs_prop, err);
    bool ro = c->sc && c->sc->readonly_rootfs;
    const ctr_spec_sandbox *sb = c->sb;
    if (rc == 0)
        rc = sandbox_mount(c, &l, "/etc/hostname", sb->hostname_path, ro, err);
    if (rc == 0)
        rc = sandbox_mount(c, &l, "/etc/hosts", sb->hosts_path, ro, err);
    if (rc == 0)
        rc = sandbox_mount(c, &l, "/etc/resolv.conf", sb->resolv_path, ro, err);
    if (rc == 0)
        rc = sandbox_mount(c, &l, "/dev/shm", *spec_str(sb->shm_path) ? sb->shm_path : "/dev/shm",
                           false, err);
    if (rc == 0)
        rc = image_volumes(c, &l, err);
    json_t *mounts = NULL;
    if (rc == 0) {
        mounts = json_array();
        rc = spec_set(c->spec, "mounts", mounts, err);
    }
    if (rc == 0)
        rc = default_mounts(c, mounts, &l, err);
    if (rc == 0) {
        qsort(l.v, l.n, sizeof(*l.v), mnt_cmp);
        for (size_t i = 0; rc == 0 && i < l.n; i++) {
            rc = spec_append(mounts, l.v[i].json, err);
            l.v[i].json = NULL;
        }
    }
    if (rc == 0 && *rootfs_prop)
        rc = spec_set(c->linux, "rootfsPropagation", json_string(rootfs_prop), err);
    mnt_list_free(&l);
    return rc;
}
