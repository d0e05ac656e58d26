/* Layer unpacking (src/image/unpack.c): the input is a layer blob as a
 * registry serves it (plain tar, gzip or zstd). It is unpacked into an empty
 * directory "root" next to a directory "outside" holding one file; after each
 * input nothing may have appeared, changed or been linked outside the root,
 * and no device node other than a 0/0 whiteout may exist inside it (the
 * strictest image_pull.device_nodes policy, "none"). Needs
 * root (chown, mknod), like the daemon. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fuzz/fuzz_util.h"
#include "image/unpack.h"
#include "util/fs.h"

static char base[64];
static int base_fd = -1;
static struct stat sentinel_st;

static void cleanup_base(void)
{
    if (base_fd >= 0) {
        fs_rm_at(base_fd, "root");
        fs_rm_at(base_fd, "outside");
        close(base_fd);
        rmdir(base);
    }
}

static void setup(void)
{
    snprintf(base, sizeof(base), "/tmp/cric-fuzz-unpack-XXXXXX");
    FUZZ_CHECK(mkdtemp(base));
    base_fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    FUZZ_CHECK(base_fd >= 0);
    FUZZ_CHECK(mkdirat(base_fd, "outside", 0755) == 0);
    int fd = openat(base_fd, "outside/sentinel", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    FUZZ_CHECK(fd >= 0 && write(fd, "keep", 4) == 4);
    close(fd);
    FUZZ_CHECK(fstatat(base_fd, "outside/sentinel", &sentinel_st, 0) == 0);
    atexit(cleanup_base);
}

static size_t count_entries(int dfd)
{
    int fd = dup(dfd);
    DIR *d = fdopendir(fd);
    FUZZ_CHECK(d);
    rewinddir(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

/* Every inode inside: no device other than 0/0, no path that leaves. */
static void check_tree(int dfd, unsigned depth)
{
    FUZZ_CHECK(depth < 2100);
    int fd = dup(dfd);
    DIR *d = fdopendir(fd);
    FUZZ_CHECK(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        struct stat st;
        FUZZ_CHECK(fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0);
        if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
            FUZZ_CHECK(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
        if (S_ISREG(st.st_mode))
            FUZZ_CHECK(st.st_ino != sentinel_st.st_ino || st.st_dev != sentinel_st.st_dev);
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            FUZZ_CHECK(sub >= 0);
            check_tree(sub, depth + 1);
            close(sub);
        }
    }
    closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    if (base_fd < 0)
        setup();
    int in = memfd_create("layer", MFD_CLOEXEC);
    FUZZ_CHECK(in >= 0);
    FUZZ_CHECK(size == 0 || write(in, data, size) == (ssize_t)size);
    FUZZ_CHECK(lseek(in, 0, SEEK_SET) == 0);
    FUZZ_CHECK(mkdirat(base_fd, "root", 0755) == 0);
    int root = openat(base_fd, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    FUZZ_CHECK(root >= 0);

    unpack_stats st = {0};
    cric_err err = {0};
    /* A cap like the daemon's image_pull.max_layer_bytes, smaller. */
    unpack_limits lim = {
        .max_bytes = 64u << 20, .max_bytes_name = "fuzz cap", .devices = UNPACK_DEVICES_NONE};
    if (layer_unpack_fd(in, root, "fuzz", &lim, &st, &err) < 0)
        FUZZ_CHECK(err.msg[0]);
    else
        FUZZ_CHECK(strncmp(st.diff_id, "sha256:", 7) == 0);
    close(in);

    /* Nothing outside the root: base holds root and outside, outside holds
     * the untouched sentinel only. */
    FUZZ_CHECK(count_entries(base_fd) == 2);
    int out = openat(base_fd, "outside", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    FUZZ_CHECK(out >= 0);
    FUZZ_CHECK(count_entries(out) == 1);
    close(out);
    struct stat now;
    FUZZ_CHECK(fstatat(base_fd, "outside/sentinel", &now, AT_SYMLINK_NOFOLLOW) == 0);
    FUZZ_CHECK(S_ISREG(now.st_mode) && now.st_nlink == 1 && now.st_size == 4 &&
               now.st_ino == sentinel_st.st_ino && now.st_mode == sentinel_st.st_mode &&
               now.st_uid == sentinel_st.st_uid);
    check_tree(root, 0);
    close(root);
    FUZZ_CHECK(fs_rm_at(base_fd, "root") == 0);
    return 0;
}
