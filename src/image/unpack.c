#include "image/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"
#define XATTR_MAX_TOTAL (1u << 20)
#define PAX_MAX_PATH UNPACK_PATH_MAX

static int openat2_in_root(int root, const char *path, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)flags | O_CLOEXEC,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
    };
    long fd;
    do
        fd = syscall(SYS_openat2, root, path, &how, sizeof(how));
    while (fd < 0 && errno == EAGAIN);
    return (int)fd;
}

int unpack_clean_path(const char *in, char *out, size_t outlen, cric_err *err)
{
    size_t o = 0;
    const char *p = in;
    out[0] = '\0';
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 1 && p[0] == '.') {
            p += n;
            continue;
        }
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return cric_err_set(err, CRIC_ERR_INVALID, "path \"%.200s\" has a '..' component", in);
        if (n > 255)
            return cric_err_set(err, CRIC_ERR_INVALID, "path \"%.200s...\": component too long",
                                in);
        if (o + n + 2 > outlen)
            return cric_err_set(err, CRIC_ERR_INVALID, "path \"%.200s...\" is too long", in);
        if (o)
            out[o++] = '/';
        memcpy(out + o, p, n);
        o += n;
        out[o] = '\0';
        p += n;
    }
    return 0;
}

/* Unpack state: the root, a cache of the last parent directory. */
typedef struct unpacker {
    int root;
    const char *what;
    char cur_dir[UNPACK_PATH_MAX + 1];
    int cur_fd; /* O_PATH fd of cur_dir, -1 when none */
    unpack_stats *st;
    digester *diff;
    struct archive *outer;
    const unpack_limits *lim;
    uint64_t seen; /* uncompressed bytes read */
    int over;      /* 1: over lim->max_bytes, 2: over lim->max_total */
    /* Directory times are set last: later entries change them. */
    struct dir_time {
        char *path;
        struct timespec t[2];
    } * dirs;
    size_t n_dirs, cap_dirs;
    char buf[64 * 1024];
} unpacker;

#define UNPACK_MAX_DIR_TIMES (1u << 20)

static void remember_dir_time(unpacker *u, const char *path, const struct timespec t[2])
{
    if (u->n_dirs == u->cap_dirs) {
        if (u->cap_dirs >= UNPACK_MAX_DIR_TIMES)
            return;
        size_t nc = u->cap_dirs ? u->cap_dirs * 2 : 64;
        struct dir_time *v = realloc(u->dirs, nc * sizeof(*v));
        if (!v)
            return;
        u->dirs = v;
        u->cap_dirs = nc;
    }
    char *copy = strdup(path);
    if (!copy)
        return;
    u->dirs[u->n_dirs].path = copy;
    u->dirs[u->n_dirs].t[0] = t[0];
    u->dirs[u->n_dirs].t[1] = t[1];
    u->n_dirs++;
}

static void apply_dir_times(unpacker *u)
{
    for (size_t i = u->n_dirs; i-- > 0;) {
        int fd = openat2_in_root(u->root, u->dirs[i].path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (fd >= 0) {
            futimens(fd, u->dirs[i].t);
            close(fd);
        }
    }
}

static void free_dir_times(unpacker *u)
{
    for (size_t i = 0; i < u->n_dirs; i++)
        free(u->dirs[i].path);
    free(u->dirs);
    u->dirs = NULL;
    u->n_dirs = u->cap_dirs = 0;
}

/* A device node in a layer is the host's device of that number for whoever
 * can reach the file: on the host under the layer store, and in a container
 * whose device cgroup lets it through (privileged ones). */
static bool device_allowed(const unpacker *u, unsigned type, unsigned long major,
                           unsigned long minor)
{
    if (type == AE_IFCHR && major == 0 && minor == 0)
        return true; /* overlayfs whiteout */
    unpack_device_policy policy = u->lim ? u->lim->devices : UNPACK_DEVICES_OCI_DEFAULTS;
    if (policy == UNPACK_DEVICES_ALL)
        return true;
    if (policy == UNPACK_DEVICES_NONE || type != AE_IFCHR)
        return false;
    static const struct {
        unsigned long major, minor;
    } oci_defaults[] = {{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 1}, {5, 2}};
    for (size_t i = 0; i < sizeof(oci_defaults) / sizeof(oci_defaults[0]); i++)
        if (oci_defaults[i].major == major && oci_defaults[i].minor == minor)
            return true;
    return false;
}

static int hostile(unpacker *u, cric_err *err, const char *fmt, const char *path, const char *why)
{
    return cric_err_set(err, CRIC_ERR_INVALID, "layer %s: rejected: %s \"%.300s\"%s%s", u->what,
                        fmt, path, why ? ": " : "", why ? why : "");
}

/* Opens (creating as needed) the directory dir (clean relative path) inside
 * the root, returning an O_PATH fd owned by the cache. */
static int parent_fd(unpacker *u, const char *dir, cric_err *err)
{
    if (u->cur_fd >= 0 && strcmp(u->cur_dir, dir) == 0)
        return u->cur_fd;
    if (u->cur_fd >= 0) {
        close(u->cur_fd);
        u->cur_fd = -1;
    }
    int fd = openat2_in_root(u->root, *dir ? dir : ".", O_PATH | O_DIRECTORY);
    if (fd < 0 && errno == ENOENT) {
        /* Create the missing components one by one. A component that is a
         * real directory is opened relative to its parent (O_NOFOLLOW), which
         * is the same as resolving the prefix in the root; only a symlink
         * (ENOTDIR with O_PATH|O_NOFOLLOW) sends the prefix through
         * openat2_in_root. Resolving every prefix from the root made a deep
         * path cost O(depth^2) lookups: seconds for one 10 KB entry. */
        char prefix[UNPACK_PATH_MAX + 1];
        size_t len = strlen(dir);
        int pfd = openat2_in_root(u->root, ".", O_PATH | O_DIRECTORY);
        for (size_t i = 0; pfd >= 0 && i <= len; i++) {
            if (dir[i] != '/' && dir[i] != '\0')
                continue;
            memcpy(prefix, dir, i);
            prefix[i] = '\0';
            const char *comp = strrchr(prefix, '/');
            comp = comp ? comp + 1 : prefix;
            int next = openat(pfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (next < 0 && errno == ENOENT) {
                if (mkdirat(pfd, comp, 0755) == 0) {
                    u->st->inodes++;
                } else if (errno != EEXIST) {
                    int e = errno;
                    close(pfd);
                    return cric_err_errno(err, e, "layer %s: mkdir %s", u->what, prefix);
                }
                next = openat(pfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            }
            if (next < 0 && errno == ENOTDIR)
                next = openat2_in_root(u->root, prefix, O_PATH | O_DIRECTORY);
            close(pfd);
            pfd = next;
        }
        fd = pfd;
    }
    if (fd < 0 && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP || errno == EXDEV))
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "layer %s: rejected: \"%.300s\" is not a directory inside the layer "
                            "(a symlink leading nowhere or out of it?)",
                            u->what, dir);
    if (fd < 0)
        return cric_err_errno(err, errno, "layer %s: open directory \"%.300s\"", u->what, dir);
    snprintf(u->cur_dir, sizeof(u->cur_dir), "%s", dir);
    u->cur_fd = fd;
    return fd;
}

static bool xattr_allowed(const char *name)
{
    if (strncmp(name, "trusted.overlay.", 16) == 0)
        return false;
    return strncmp(name, "user.", 5) == 0 || strncmp(name, "trusted.", 8) == 0 ||
           strcmp(name, "security.capability") == 0;
}

static int apply_xattrs(unpacker *u, struct archive_entry *e, int fd, const char *path,
                        cric_err *err)
{
    const char *name;
    const void *value;
    size_t size, total = 0;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
        total += size + strlen(name);
        if (total > XATTR_MAX_TOTAL)
            return hostile(u, err, "oversized xattrs on", path, NULL);
        if (!xattr_allowed(name))
            continue;
        if (fsetxattr(fd, name, value, size, 0) < 0 && errno != ENOTSUP)
            return cric_err_errno(err, errno, "layer %s: setxattr %s on %s", u->what, name, path);
    }
    return 0;
}

/* Makes room for a new entry called name in pfd: keeps an existing directory
 * when the new entry is one too, removes anything else. */
static int clear_slot(unpacker *u, int pfd, const char *name, bool new_is_dir, bool *kept_dir,
                      const char *path, cric_err *err)
{
    struct stat st;
    *kept_dir = false;
    if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return 0;
    if (new_is_dir && S_ISDIR(st.st_mode)) {
        *kept_dir = true;
        return 0;
    }
    if (fs_rm_at(pfd, name) < 0)
        return cric_err_errno(err, errno, "layer %s: replace %s", u->what, path);
    return 0;
}

static int write_file(unpacker *u, struct archive *ar, int fd, const char *path, cric_err *err)
{
    const void *block;
    size_t size;
    la_int64_t offset;
    for (;;) {
        int r = archive_read_data_block(ar, &block, &size, &offset);
        if (r == ARCHIVE_EOF)
            return 0;
        if (r < ARCHIVE_WARN)
            return cric_err_set(err, CRIC_ERR_INVALID, "layer %s: %s: %s", u->what, path,
                                archive_error_string(ar));
        const char *p = block;
        while (size > 0) {
            ssize_t w = pwrite(fd, p, size, offset);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                return cric_err_errno(err, errno, "layer %s: write %s", u->what, path);
            }
            p += w;
            size -= (size_t)w;
            offset += w;
        }
    }
}

static int do_entry(unpacker *u, struct archive *ar, struct archive_entry *e, cric_err *err)
{
    const char *raw = archive_entry_pathname(e);
    if (!raw)
        return hostile(u, err, "entry without a path", "", NULL);
    if (strlen(raw) > PAX_MAX_PATH)
        return hostile(u, err, "path too long", "", NULL);
    char path[UNPACK_PATH_MAX + 1];
    if (unpack_clean_path(raw, path, sizeof(path), err) < 0)
        return cric_err_prefix(err, "layer %s: rejected: ", u->what);

    char dir[UNPACK_PATH_MAX + 1];
    const char *name;
    char *slash = strrchr(path, '/');
    if (slash) {
        size_t dl = (size_t)(slash - path);
        memcpy(dir, path, dl);
        dir[dl] = '\0';
        name = slash + 1;
    } else {
        dir[0] = '\0';
        name = path;
    }
    mode_t type = archive_entry_filetype(e);
    const char *hardlink = archive_entry_hardlink(e);

    if (!*path) {
        /* The root itself: take its metadata only. */
        if (type == AE_IFDIR) {
            int rfd = openat2_in_root(u->root, ".", O_RDONLY | O_DIRECTORY);
            if (rfd < 0)
                return cric_err_errno(err, errno, "layer %s: open root", u->what);
            int rc = 0;
            if (fchown(rfd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0 ||
                fchmod(rfd, archive_entry_perm(e) & 07777) < 0)
                rc = cric_err_errno(err, errno, "layer %s: root metadata", u->what);
            close(rfd);
            return rc;
        }
        return 0;
    }

    int pfd = parent_fd(u, dir, err);
    if (pfd < 0)
        return -1;

    /* Whiteouts. */
    if (strncmp(name, WH_PREFIX, 4) == 0) {
        if (strcmp(name, WH_OPAQUE) == 0) {
            int dfd = openat2_in_root(u->root, *dir ? dir : ".", O_RDONLY | O_DIRECTORY);
            if (dfd < 0)
                return cric_err_errno(err, errno, "layer %s: opaque dir %s", u->what, dir);
            int rc = fsetxattr(dfd, "trusted.overlay.opaque", "y", 1, 0);
            int e2 = errno;
            close(dfd);
            if (rc < 0)
                return cric_err_errno(err, e2, "layer %s: mark %s opaque", u->what,
                                      *dir ? dir : "/");
            return 0;
        }
        if (strncmp(name, WH_PREFIX WH_PREFIX, 8) == 0)
            return 0; /* other aufs metadata */
        const char *target = name + 4;
        if (!*target || strcmp(target, ".") == 0 || strcmp(target, "..") == 0)
            return hostile(u, err, "bad whiteout", raw, NULL);
        bool kept;
        if (clear_slot(u, pfd, target, false, &kept, raw, err) < 0)
            return -1;
        if (mknodat(pfd, target, S_IFCHR | 0, makedev(0, 0)) < 0)
            return cric_err_errno(err, errno, "layer %s: whiteout %s", u->what, raw);
        u->st->inodes++;
        return 0;
    }

    uid_t uid = (uid_t)archive_entry_uid(e);
    gid_t gid = (gid_t)archive_entry_gid(e);
    mode_t perm = archive_entry_perm(e) & 07777;
    bool kept_dir = false;
    if (clear_slot(u, pfd, name, type == AE_IFDIR && !hardlink, &kept_dir, raw, err) < 0)
        return -1;

    if (hardlink) {
        char target[UNPACK_PATH_MAX + 1];
        if (strlen(hardlink) > PAX_MAX_PATH)
            return hostile(u, err, "hard link target too long for", raw, NULL);
        if (unpack_clean_path(hardlink, target, sizeof(target), err) < 0)
            return cric_err_prefix(err, "layer %s: rejected hard link %s: ", u->what, raw);
        int tfd = openat2_in_root(u->root, *target ? target : ".", O_PATH | O_NOFOLLOW);
        if (tfd < 0)
            return hostile(u, err, "hard link", raw, "target is not inside this layer");
        struct stat tst;
        int rc = 0;
        if (fstat(tfd, &tst) < 0 || S_ISDIR(tst.st_mode))
            rc = hostile(u, err, "hard link to a directory", raw, NULL);
        else if (linkat(tfd, "", pfd, name, AT_EMPTY_PATH) < 0)
            rc = cric_err_errno(err, errno, "layer %s: hard link %s", u->what, raw);
        close(tfd);
        return rc;
    }

    struct timespec times[2] = {
        {.tv_sec = archive_entry_atime(e), .tv_nsec = archive_entry_atime_nsec(e)},
        {.tv_sec = archive_entry_mtime(e), .tv_nsec = archive_entry_mtime_nsec(e)},
    };
    if (!archive_entry_atime_is_set(e))
        times[0] = times[1];

    switch (type) {
    case AE_IFREG: {
        _cleanup_close_ int fd =
            openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return cric_err_errno(err, errno, "layer %s: create %s", u->what, raw);
        if (write_file(u, ar, fd, raw, err) < 0)
            return -1;
        la_int64_t size = archive_entry_size(e);
        if (size > 0 && ftruncate(fd, size) < 0)
            return cric_err_errno(err, errno, "layer %s: truncate %s", u->what, raw);
        if (fchown(fd, uid, gid) < 0 || fchmod(fd, perm) < 0)
            return cric_err_errno(err, errno, "layer %s: chown/chmod %s", u->what, raw);
        if (apply_xattrs(u, e, fd, raw, err) < 0)
            return -1;
        futimens(fd, times);
        u->st->bytes += (uint64_t)(size > 0 ? size : 0);
        break;
    }
    case AE_IFDIR: {
        if (!kept_dir && mkdirat(pfd, name, 0700) < 0)
            return cric_err_errno(err, errno, "layer %s: mkdir %s", u->what, raw);
        _cleanup_close_ int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return cric_err_errno(err, errno, "layer %s: open %s", u->what, raw);
        if (fchown(fd, uid, gid) < 0 || fchmod(fd, perm) < 0)
            return cric_err_errno(err, errno, "layer %s: chown/chmod %s", u->what, raw);
        if (apply_xattrs(u, e, fd, raw, err) < 0)
            return -1;
        remember_dir_time(u, path, times);
        break;
    }
    case AE_IFLNK: {
        const char *target = archive_entry_symlink(e);
        if (!target || strlen(target) > PAX_MAX_PATH)
            return hostile(u, err, "symlink without a valid target", raw, NULL);
        if (symlinkat(target, pfd, name) < 0)
            return cric_err_errno(err, errno, "layer %s: symlink %s", u->what, raw);
        if (fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
            return cric_err_errno(err, errno, "layer %s: chown %s", u->what, raw);
        utimensat(pfd, name, times, AT_SYMLINK_NOFOLLOW);
        break;
    }
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO: {
        if (type != AE_IFIFO &&
            !device_allowed(u, type, archive_entry_rdevmajor(e), archive_entry_rdevminor(e)))
            return hostile(u, err, "device node", raw, "not allowed by image_pull.device_nodes");
        dev_t dev =
            type == AE_IFIFO ? 0 : makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
        if (mknodat(pfd, name, type | perm, dev) < 0)
            return cric_err_errno(err, errno, "layer %s: mknod %s", u->what, raw);
        /* Just created by us: not a symlink, so following is safe. */
        if (fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 ||
            fchmodat(pfd, name, perm, 0) < 0)
            return cric_err_errno(err, errno, "layer %s: chown/chmod %s", u->what, raw);
        utimensat(pfd, name, times, AT_SYMLINK_NOFOLLOW);
        break;
    }
    case AE_IFSOCK:
        return 0; /* sockets are not restored, like other runtimes */
    default:
        return hostile(u, err, "unknown entry type for", raw, NULL);
    }
    u->st->inodes++;
    return 0;
}

/* Counts n more uncompressed bytes against the caps; false once over one. */
static bool within_limits(unpacker *u, size_t n)
{
    u->seen += n;
    const unpack_limits *l = u->lim;
    if (!l)
        return true;
    if (l->max_bytes && u->seen > l->max_bytes)
        u->over = 1;
    if (!u->over && l->total && n &&
        atomic_fetch_add(l->total, (uint_least64_t)n) + n > l->max_total && l->max_total)
        u->over = 2;
    return u->over == 0;
}

static int over_limit(unpacker *u, cric_err *err)
{
    const unpack_limits *l = u->lim;
    bool layer = u->over == 1;
    return cric_err_set(err, CRIC_ERR_RESOURCE,
                        "layer %s: rejected: uncompressed size exceeds %s (%llu bytes)%s", u->what,
                        layer ? (l->max_bytes_name ? l->max_bytes_name : "the layer limit")
                              : (l->max_total_name ? l->max_total_name : "the image limit"),
                        (unsigned long long)(layer ? l->max_bytes : l->max_total),
                        layer ? "" : " for all layers of the image together");
}

/* Inner archive's read callback: decompressed bytes from the outer archive,
 * hashed on the way for the diff id. */
static la_ssize_t inner_read(struct archive *a, void *ud, const void **buf)
{
    unpacker *u = ud;
    la_ssize_t n = archive_read_data(u->outer, u->buf, sizeof(u->buf));
    if (n < 0) {
        archive_set_error(a, EIO, "decompress: %s", archive_error_string(u->outer));
        return -1;
    }
    if (!within_limits(u, (size_t)n)) {
        archive_set_error(a, EFBIG, "uncompressed size over the limit");
        return -1;
    }
    digester_update(u->diff, u->buf, (size_t)n);
    *buf = u->buf;
    return n;
}

static void archive_freep(struct archive **a)
{
    if (*a)
        archive_read_free(*a);
}
#define _cleanup_archive_ __attribute__((cleanup(archive_freep)))

int layer_unpack_fd(int in_fd, int root_fd, const char *what, const unpack_limits *lim,
                    unpack_stats *st, cric_err *err)
{
    memset(st, 0, sizeof(*st));
    _cleanup_free_ unpacker *u = calloc(1, sizeof(*u));
    _cleanup_digester_ digester *diff = digester_new();
    if (!u || !diff)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "layer %s: out of memory", what);
    u->root = root_fd;
    u->what = what;
    u->cur_fd = -1;
    u->st = st;
    u->diff = diff;
    u->lim = lim;

    _cleanup_archive_ struct archive *outer = archive_read_new();
    if (!outer)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "layer %s: out of memory", what);
    archive_read_support_filter_gzip(outer);
    archive_read_support_filter_zstd(outer);
    archive_read_support_format_raw(outer);
    archive_read_support_format_empty(outer);
    if (archive_read_open_fd(outer, in_fd, 128 * 1024) != ARCHIVE_OK)
        return cric_err_set(err, CRIC_ERR_INVALID, "layer %s: %s", what,
                            archive_error_string(outer));
    struct archive_entry *oe;
    int r = archive_read_next_header(outer, &oe);
    if (r == ARCHIVE_EOF) {
        digester_final(diff, st->diff_id);
        return 0; /* empty stream */
    }
    if (r != ARCHIVE_OK)
        return cric_err_set(err, CRIC_ERR_INVALID, "layer %s: %s", what,
                            archive_error_string(outer));
    u->outer = outer;

    _cleanup_archive_ struct archive *inner = archive_read_new();
    if (!inner)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "layer %s: out of memory", what);
    archive_read_support_format_tar(inner);
    archive_read_support_format_gnutar(inner);
    archive_read_support_format_empty(inner);
    if (archive_read_open(inner, u, NULL, inner_read, NULL) != ARCHIVE_OK)
        return cric_err_set(err, CRIC_ERR_INVALID, "layer %s: not a tar stream: %s", what,
                            archive_error_string(inner));
    int rc = 0;
    for (;;) {
        struct archive_entry *e;
        r = archive_read_next_header(inner, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            rc = u->over
                     ? over_limit(u, err)
                     : cric_err_set(err, CRIC_ERR_INVALID, "layer %s: rejected: bad tar stream: %s",
                                    what, archive_error_string(inner));
            break;
        }
        if (do_entry(u, inner, e, err) < 0) {
            if (u->over)
                over_limit(u, err);
            rc = -1;
            break;
        }
    }
    if (u->cur_fd >= 0)
        close(u->cur_fd);
    if (rc == 0)
        apply_dir_times(u);
    free_dir_times(u);
    if (rc < 0)
        return -1;
    /* Trailing padding belongs to the diff id too. */
    for (;;) {
        la_ssize_t n = archive_read_data(outer, u->buf, sizeof(u->buf));
        if (n < 0)
            return cric_err_set(err, CRIC_ERR_INVALID, "layer %s: decompress: %s", what,
                                archive_error_string(outer));
        if (n == 0)
            break;
        if (!within_limits(u, (size_t)n))
            return over_limit(u, err);
        digester_update(diff, u->buf, (size_t)n);
    }
    digester_final(diff, st->diff_id);
    return 0;
}
