/* process.user: the CRI user (run_as_username / run_as_user / run_as_group)
 * or the image's USER ("uid", "name", "uid:gid", "name:group", mixes),
 * resolved in the image's /etc/passwd and /etc/group, which are read without
 * ever leaving the rootfs; supplemental groups: the primary gid, the groups
 * of /etc/group listing the user, the configured groups. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ctr/spec_internal.h"
#include "util/cleanup.h"

#define ID_MAX 4294967294ull /* (uint32_t)-1 means "no id" to the kernel */

/* Walks rel component by component below rootfs with O_NOFOLLOW: the
 * fallback where openat2 is missing; any symlink is refused. */
static int open_nofollow_walk(int rootfd, const char *rel)
{
    char buf[PATH_MAX];
    if (strlen(rel) >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(buf, rel);
    int dir = dup(rootfd);
    if (dir < 0)
        return -1;
    char *save = NULL;
    char *comp = strtok_r(buf, "/", &save);
    while (comp) {
        char *next = strtok_r(NULL, "/", &save);
        if (strcmp(comp, "..") == 0) {
            close(dir);
            errno = EXDEV;
            return -1;
        }
        int fd =
            openat(dir, comp, (next ? O_DIRECTORY | O_PATH : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC);
        int saved = errno;
        close(dir);
        if (fd < 0) {
            errno = saved == ELOOP ? EXDEV : saved;
            return -1;
        }
        dir = fd;
        comp = next;
    }
    return dir;
}

int spec_rootfs_read(const char *rootfs, const char *rel, size_t max, char **out, cric_err *err)
{
    *out = NULL;
    _cleanup_close_ int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return cric_err_errno(err, errno, "rootfs %s", rootfs);
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
    };
    _cleanup_close_ int fd = (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
    if (fd < 0 && (errno == ENOSYS || errno == EPERM))
        fd = open_nofollow_walk(rootfd, rel);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == EXDEV || errno == ELOOP)
            return 0; /* absent (or only reachable by leaving the rootfs): no file */
        return cric_err_errno(err, errno, "rootfs %s: open %s", rootfs, rel);
    }
    struct stat st;
    if (fstat(fd, &st) != 0)
        return cric_err_errno(err, errno, "rootfs %s: stat %s", rootfs, rel);
    if (!S_ISREG(st.st_mode))
        return 0; /* a fifo or device is not a passwd file */
    if ((size_t)st.st_size > max)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "rootfs %s: /%s is larger than %zu bytes",
                            rootfs, rel, max);
    /* sized by fstat (allocating the cap every time costs far more than the read) */
    size_t cap = (size_t)st.st_size + 1;
    _cleanup_free_ char *buf = malloc(cap + 1);
    if (!buf)
        return cric_err_set(err, CRIC_ERR_INTERNAL, "out of memory");
    size_t len = 0;
    for (;;) {
        if (len == cap) {
            if (cap > max)
                return cric_err_set(err, CRIC_ERR_RESOURCE,
                                    "rootfs %s: /%s is larger than %zu bytes", rootfs, rel, max);
            cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb)
                return cric_err_set(err, CRIC_ERR_INTERNAL, "out of memory");
            buf = nb;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return cric_err_errno(err, errno, "rootfs %s: read %s", rootfs, rel);
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len > max)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "rootfs %s: /%s is larger than %zu bytes",
                            rootfs, rel, max);
    buf[len] = '\0';
    *out = TAKE_PTR(buf);
    return 0;
}

/* ---------------------------------------------------------------- parsing */

static bool parse_id(const char *s, uint32_t *out)
{
    if (!s || !*s || strlen(s) > 10)
        return false;
    unsigned long long v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (v > ID_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* Splits line into at most n ':'-separated fields (in place); returns the count. */
static size_t split_fields(char *line, char **f, size_t n)
{
    size_t k = 0;
    f[k++] = line;
    for (char *p = line; *p && k < n; p++)
        if (*p == ':') {
            *p = '\0';
            f[k++] = p + 1;
        }
    return k;
}

/* The next entry of a passwd/group style file held in a writable buffer:
 * its fields in f (at most n), their count as the result, 0 at the end.
 * Comment lines and NIS compat entries ('+', '-') are skipped. */
static size_t next_entry(char **cursor, char **f, size_t n)
{
    char *line;
    while ((line = strsep(cursor, "\n")) != NULL) {
        if (line[0] == '\0' || line[0] == '#' || line[0] == '+' || line[0] == '-')
            continue;
        return split_fields(line, f, n);
    }
    return 0;
}

typedef struct passwd_ent {
    char name[256];
    uint32_t uid, gid;
} passwd_ent;

/* Finds the first /etc/passwd entry with the name (name != NULL) or uid. */
static bool passwd_find(const char *content, const char *name, uint32_t uid, passwd_ent *out)
{
    _cleanup_free_ char *copy = content ? strdup(content) : NULL;
    char *cursor = copy, *f[7];
    size_t k;
    while ((k = next_entry(&cursor, f, 7)) > 0) {
        uint32_t u, g;
        if (k < 4 || !parse_id(f[2], &u) || !parse_id(f[3], &g))
            continue;
        if (!(name ? strcmp(f[0], name) == 0 : u == uid) || strlen(f[0]) >= sizeof(out->name))
            continue;
        strcpy(out->name, f[0]);
        out->uid = u;
        out->gid = g;
        return true;
    }
    return false;
}

static bool group_find(const char *content, const char *name, uint32_t *gid)
{
    _cleanup_free_ char *copy = content ? strdup(content) : NULL;
    char *cursor = copy, *f[4];
    size_t k;
    while ((k = next_entry(&cursor, f, 4)) > 0)
        if (k >= 3 && strcmp(f[0], name) == 0 && parse_id(f[2], gid))
            return true;
    return false;
}

typedef struct gid_list {
    uint32_t *v;
    size_t n;
} gid_list;

static int gids_add(gid_list *l, uint32_t g, cric_err *err)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i] == g)
            return 0;
    if (l->n >= SPEC_MAX_GROUPS)
        return cric_err_set(err, CRIC_ERR_INVALID, "more than %d supplemental groups",
                            SPEC_MAX_GROUPS);
    uint32_t *n = realloc(l->v, (l->n + 1) * sizeof(*n));
    if (!n)
        return cric_err_set(err, CRIC_ERR_INTERNAL, "out of memory");
    l->v = n;
    l->v[l->n++] = g;
    return 0;
}

/* The groups of /etc/group that list username as a member (not the group
 * named after the user: that one is the primary group). */
static int group_members(const char *content, const char *username, gid_list *l, cric_err *err)
{
    if (!content || !*username)
        return 0;
    _cleanup_free_ char *copy = strdup(content);
    if (!copy)
        return cric_err_set(err, CRIC_ERR_INTERNAL, "out of memory");
    char *cursor = copy, *f[4];
    size_t k;
    while ((k = next_entry(&cursor, f, 4)) > 0) {
        uint32_t g;
        if (k < 4 || !parse_id(f[2], &g) || strcmp(f[0], username) == 0)
            continue;
        char *msave = NULL;
        for (char *m = strtok_r(f[3], ",", &msave); m; m = strtok_r(NULL, ",", &msave)) {
            while (*m == ' ')
                m++;
            if (strcmp(m, username) == 0) {
                if (gids_add(l, g, err))
                    return -1;
                break;
            }
        }
    }
    return 0;
}

static int check_id(const Runtime__V1__Int64Value *v, const char *what, const char *cid,
                    cric_err *err)
{
    if (v->value < 0 || (unsigned long long)v->value > ID_MAX)
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: %s %lld is out of range", cid,
                            what, (long long)v->value);
    return 0;
}

int spec_user(spec_ctx *c, cric_err *err)
{
    const Runtime__V1__LinuxContainerSecurityContext *sc = c->sc;
    const char *username = sc ? spec_str(sc->run_as_username) : "";
    const Runtime__V1__Int64Value *ruid = sc ? sc->run_as_user : NULL;
    const Runtime__V1__Int64Value *rgid = sc ? sc->run_as_group : NULL;
    if (*username && ruid)
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "container %s: run_as_user and run_as_username are exclusive", c->cid);
    if (rgid && !*username && !ruid)
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "container %s: run_as_group is set without run_as_user or "
                            "run_as_username",
                            c->cid);
    if ((ruid && check_id(ruid, "run_as_user", c->cid, err)) ||
        (rgid && check_id(rgid, "run_as_group", c->cid, err)))
        return -1;
    if (strlen(username) > 255)
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: run_as_username too long",
                            c->cid);

    /* The user string: CRI first, then the image's USER. */
    char userstr[600] = "";
    const char *source = "run_as_user";
    if (*username)
        snprintf(userstr, sizeof(userstr), "%s", username), source = "run_as_username";
    else if (ruid)
        snprintf(userstr, sizeof(userstr), "%lld", (long long)ruid->value);
    if (*userstr && rgid) {
        size_t l = strlen(userstr);
        snprintf(userstr + l, sizeof(userstr) - l, ":%lld", (long long)rgid->value);
    }
    if (!*userstr && c->in->image_config) {
        const json_t *u = json_object_get(c->in->image_config, "User");
        if (json_is_string(u)) {
            if (json_string_length(u) >= sizeof(userstr))
                return cric_err_set(err, CRIC_ERR_INVALID, "image USER is too long");
            snprintf(userstr, sizeof(userstr), "%s", json_string_value(u));
            source = "image USER";
        }
    }

    _cleanup_free_ char *passwd = NULL;
    _cleanup_free_ char *group = NULL;
    if (spec_rootfs_read(c->in->rootfs, "etc/passwd", SPEC_ETC_FILE_MAX, &passwd, err) ||
        spec_rootfs_read(c->in->rootfs, "etc/group", SPEC_ETC_FILE_MAX, &group, err))
        return cric_err_prefix(err, "container %s: ", c->cid);

    uint32_t uid = 0, gid = 0;
    char name[256] = ""; /* the user's name for /etc/group membership, "" = unknown */
    if (*userstr) {
        char *colon = strchr(userstr, ':');
        const char *grp = NULL;
        if (colon) {
            *colon = '\0';
            grp = colon + 1;
        }
        const char *usr = userstr;
        passwd_ent pe;
        if (!*usr)
            return cric_err_set(err, CRIC_ERR_INVALID, "container %s: %s \"%s\" has no user",
                                c->cid, source, userstr);
        if (parse_id(usr, &uid)) {
            if (passwd_find(passwd, NULL, uid, &pe)) {
                gid = pe.gid;
                snprintf(name, sizeof(name), "%s", pe.name);
            }
        } else {
            if (!passwd_find(passwd, usr, 0, &pe))
                return cric_err_set(err, CRIC_ERR_NOT_FOUND,
                                    "container %s: %s: user \"%s\" not found in the image's "
                                    "/etc/passwd",
                                    c->cid, source, usr);
            uid = pe.uid;
            gid = pe.gid;
            snprintf(name, sizeof(name), "%s", pe.name);
        }
        if (grp) {
            if (!*grp)
                return cric_err_set(err, CRIC_ERR_INVALID, "container %s: %s: empty group", c->cid,
                                    source);
            if (!parse_id(grp, &gid) && !group_find(group, grp, &gid))
                return cric_err_set(err, CRIC_ERR_NOT_FOUND,
                                    "container %s: %s: group \"%s\" not found in the image's "
                                    "/etc/group",
                                    c->cid, source, grp);
        }
    } else {
        passwd_ent pe;
        if (passwd_find(passwd, NULL, 0, &pe))
            snprintf(name, sizeof(name), "%s", pe.name);
    }

    gid_list l = {0};
    int rc = gids_add(&l, gid, err);
    bool strict =
        sc && sc->supplemental_groups_policy == RUNTIME__V1__SUPPLEMENTAL_GROUPS_POLICY__Strict;
    if (rc == 0 && !strict)
        rc = group_members(group, name, &l, err);
    if (rc == 0 && sc) {
        if (sc->n_supplemental_groups > SPEC_MAX_GROUPS)
            rc = cric_err_set(err, CRIC_ERR_INVALID, "container %s: too many supplemental groups",
                              c->cid);
        for (size_t i = 0; rc == 0 && i < sc->n_supplemental_groups; i++) {
            int64_t g = sc->supplemental_groups[i];
            if (g < 0 || (unsigned long long)g > ID_MAX)
                rc = cric_err_set(err, CRIC_ERR_INVALID,
                                  "container %s: supplemental group %lld out of range", c->cid,
                                  (long long)g);
            else
                rc = gids_add(&l, (uint32_t)g, err);
        }
    }
    for (size_t i = 0; rc == 0 && i < c->sb->n_supplemental_groups; i++) {
        int64_t g = c->sb->supplemental_groups[i];
        if (g >= 0 && (unsigned long long)g <= ID_MAX)
            rc = gids_add(&l, (uint32_t)g, err);
    }
    if (rc != 0) {
        free(l.v);
        return -1;
    }
    c->extra->uid = uid;
    c->extra->gid = gid;
    c->extra->additional_gids = l.v;
    c->extra->n_additional_gids = l.n;

    json_t *gids = json_array();
    for (size_t i = 0; gids && i < l.n; i++)
        if (spec_append(gids, json_integer(l.v[i]), err)) {
            json_decref(gids);
            return -1;
        }
    json_t *user = json_pack("{s:I, s:I, s:o}", "uid", (json_int_t)uid, "gid", (json_int_t)gid,
                             "additionalGids", gids);
    return spec_set(c->process, "user", user, err);
}
