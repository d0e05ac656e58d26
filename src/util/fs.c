#include "fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ftw.h>

#include "cleanup.h"

int fs_mkdir_p(const char *path, mode_t mode, cric_err *err)
{
    size_t len = strlen(path);
    if (len == 0 || len >= 4096)
        return cric_err_set(err, CRIC_ERR_INVALID, "mkdir %s: bad path length", path);
    char buf[4096];
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
            return cric_err_errno(err, errno, "mkdir %s", buf);
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
        return cric_err_errno(err, errno, "mkdir %s", buf);
    return 0;
}

int fs_fsync_dir(const char *dir)
{
    _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    return fsync(fd);
}

int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, cric_err *err)
{
    size_t plen = strlen(path);
    if (plen == 0 || plen > 4000)
        return cric_err_set(err, CRIC_ERR_INVALID, "write %s: bad path length", path);
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
    _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return cric_err_errno(err, errno, "write %s: create temporary", path);
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            unlink(tmp);
            return cric_err_errno(err, e, "write %s", path);
        }
        p += n;
        left -= (size_t)n;
    }
    if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
        int e = errno;
        unlink(tmp);
        return cric_err_errno(err, e, "write %s: fsync", path);
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return cric_err_errno(err, e, "write %s: rename", path);
    }
    char dir[4096];
    memcpy(dir, path, plen + 1);
    fs_fsync_dir(dirname(dir));
    return 0;
}

int fs_read_file(const char *path, size_t max, char **out, size_t *len, cric_err *err)
{
    /* O_NONBLOCK: a FIFO named by a caller must not block the open. */
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        cric_err_errno(err, e, "read %s", path);
        if (err && e == ENOENT)
            err->kind = CRIC_ERR_NOT_FOUND;
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0)
        return cric_err_errno(err, errno, "read %s", path);
    if (!S_ISREG(st.st_mode))
        return cric_err_set(err, CRIC_ERR_INVALID, "read %s: not a regular file", path);
    size_t cap = 4096, used = 0;
    _cleanup_free_ char *buf = malloc(cap + 1);
    if (!buf)
        return cric_err_errno(err, ENOMEM, "read %s", path);
    for (;;) {
        if (used == cap) {
            if (cap >= max + 1)
                break;
            cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb)
                return cric_err_errno(err, ENOMEM, "read %s", path);
            buf = nb;
        }
        ssize_t n = read(fd, buf + used, cap - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return cric_err_errno(err, errno, "read %s", path);
        if (n == 0)
            break;
        used += (size_t)n;
    }
    if (used > max)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "read %s: larger than %zu bytes", path, max);
    buf[used] = '\0';
    if (len)
        *len = used;
    *out = TAKE_PTR(buf);
    return 0;
}

static int rm_one(const char *fpath, const struct stat *sb, int typeflag, struct FTW *ftwbuf)
{
    (void)sb;
    (void)ftwbuf;
    int r = typeflag == FTW_DP ? rmdir(fpath) : unlink(fpath);
    if (r < 0 && errno != ENOENT)
        return errno;
    return 0;
}

int fs_rm_rf(const char *path, cric_err *err)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        return cric_err_errno(err, errno, "remove %s", path);
    }
    if (!S_ISDIR(st.st_mode)) {
        if (unlink(path) < 0 && errno != ENOENT)
            return cric_err_errno(err, errno, "remove %s", path);
        return 0;
    }
    int r = nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    if (r != 0)
        return cric_err_errno(err, r > 0 ? r : errno, "remove %s", path);
    return 0;
}

int fs_rm_at(int dirfd, const char *name)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -1 : 0;
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -1;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (fs_rm_at(fd, de->d_name) < 0)
            rc = -1;
    }
    closedir(d);
    if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        rc = -1;
    return rc;
}
