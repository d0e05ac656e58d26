/* ctr_spec_create_dirs: creates the directories ctr_spec_build asked for.
 * Paths inside the rootfs are resolved with the rootfs as "/" (symlinks in
 * the image cannot lead outside it); host paths are created as given. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ctr/spec.h"
#include "util/cleanup.h"
#include "util/fs.h"

static int open_in_root(int rootfd, const char *rel)
{
    struct open_how how = {
        .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    if (!*rel)
        return dup(rootfd);
    return (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
}

static int mkdir_in_root(int rootfd, const char *rootfs, const char *rel, cric_err *err)
{
    char buf[PATH_MAX];
    size_t n = strlen(rel);
    if (n >= sizeof(buf))
        return cric_err_set(err, CRIC_ERR_INVALID, "rootfs %s: path too long", rootfs);
    memcpy(buf, rel, n + 1);
    /* buf[0..end) is the prefix resolved so far; walk one component at a time */
    size_t end = 0;
    while (end < n) {
        while (buf[end] == '/')
            end++;
        if (end >= n)
            break;
        size_t start = end;
        while (end < n && buf[end] != '/')
            end++;
        char saved = buf[end];
        buf[end] = '\0';
        if (strcmp(buf + start, "..") == 0 || strcmp(buf + start, ".") == 0) {
            buf[end] = saved;
            continue;
        }
        _cleanup_close_ int fd = open_in_root(rootfd, buf);
        if (fd < 0 && errno == ENOENT) {
            char c = buf[start > 0 ? start - 1 : 0];
            if (start > 0)
                buf[start - 1] = '\0';
            _cleanup_close_ int parent = open_in_root(rootfd, start > 0 ? buf : "");
            if (start > 0)
                buf[start - 1] = c;
            if (parent < 0)
                return cric_err_errno(err, errno, "rootfs %s: open parent of /%s", rootfs, buf);
            if (mkdirat(parent, buf + start, 0755) != 0 && errno != EEXIST)
                return cric_err_errno(err, errno, "rootfs %s: mkdir /%s", rootfs, buf);
            fd = open_in_root(rootfd, buf);
        }
        if (fd < 0)
            return cric_err_errno(err, errno, "rootfs %s: /%s", rootfs, buf);
        buf[end] = saved;
    }
    return 0;
}

int ctr_spec_create_dirs(const ctr_spec_extra *x, const char *rootfs, cric_err *err)
{
    _cleanup_close_ int rootfd = -1;
    for (size_t i = 0; i < x->n_mkdirs; i++) {
        const ctr_spec_dir *d = &x->mkdirs[i];
        if (!d->in_rootfs) {
            if (fs_mkdir_p(d->path, 0755, err))
                return -1;
            continue;
        }
        if (rootfd < 0) {
            rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (rootfd < 0)
                return cric_err_errno(err, errno, "rootfs %s", rootfs);
        }
        if (mkdir_in_root(rootfd, rootfs, d->path, err))
            return -1;
    }
    return 0;
}
