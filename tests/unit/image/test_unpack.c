/* Layer unpacking against real tar streams built with libarchive: file
 * types, metadata, whiteouts and hostile entries (needs root, like cric). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "image/digest.h"
#include "image/unpack.h"

typedef struct ent {
    const char *path;
    mode_t type; /* AE_IF* */
    mode_t perm;
    const char *data;    /* regular files */
    const char *link;    /* symlink target */
    const char *hard;    /* hard link target */
    unsigned rmaj, rmin; /* devices */
    const char *xattr;   /* "name=value" */
} ent;

static char base[256];

static int setup(void **state)
{
    (void)state;
    snprintf(base, sizeof(base), "/tmp/cric-unpack-XXXXXX");
    assert_non_null(mkdtemp(base));
    char p[300];
    snprintf(p, sizeof(p), "%s/root", base);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/outside", base);
    assert_int_equal(mkdir(p, 0755), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
    return system(cmd) == 0 ? 0 : -1;
}

/* Writes entries as a tar stream (filter: "none", "gzip", "zstd") to a temp
 * file; returns a readable fd and the sha256 of the uncompressed tar. */
static int make_tar(const ent *ents, size_t n, const char *filter, char diff[DIGEST_STR_LEN + 1])
{
    size_t cap = 1 << 20, used = 0;
    char *buf = malloc(cap);
    for (int pass = 0; pass < 2; pass++) {
        struct archive *a = archive_write_new();
        archive_write_set_format_pax_restricted(a);
        const char *f = pass == 0 ? "none" : filter;
        if (strcmp(f, "gzip") == 0)
            archive_write_add_filter_gzip(a);
        else if (strcmp(f, "zstd") == 0)
            assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
        archive_write_set_bytes_in_last_block(a, 1);
        assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
        for (size_t i = 0; i < n; i++) {
            struct archive_entry *e = archive_entry_new();
            archive_entry_set_pathname(e, ents[i].path);
            archive_entry_set_uid(e, 1234);
            archive_entry_set_gid(e, 5678);
            archive_entry_set_mtime(e, 1577836800, 0);
            if (ents[i].hard) {
                archive_entry_set_filetype(e, AE_IFREG);
                archive_entry_set_hardlink(e, ents[i].hard);
            } else {
                archive_entry_set_filetype(e, ents[i].type);
                archive_entry_set_perm(e, ents[i].perm ? ents[i].perm : 0644);
            }
            if (ents[i].link)
                archive_entry_set_symlink(e, ents[i].link);
            if (ents[i].type == AE_IFCHR || ents[i].type == AE_IFBLK) {
                archive_entry_set_rdevmajor(e, ents[i].rmaj);
                archive_entry_set_rdevminor(e, ents[i].rmin);
            }
            if (ents[i].xattr) {
                char name[64];
                const char *eq = strchr(ents[i].xattr, '=');
                snprintf(name, sizeof(name), "%.*s", (int)(eq - ents[i].xattr), ents[i].xattr);
                archive_entry_xattr_add_entry(e, name, eq + 1, strlen(eq + 1));
            }
            size_t dl = ents[i].data ? strlen(ents[i].data) : 0;
            if (ents[i].type == AE_IFREG && !ents[i].hard)
                archive_entry_set_size(e, (la_int64_t)dl);
            assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
            if (dl)
                assert_int_equal(archive_write_data(a, ents[i].data, dl), (la_ssize_t)dl);
            archive_entry_free(e);
        }
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
        if (pass == 0)
            digest_buf(buf, used, diff);
    }
    char path[300];
    snprintf(path, sizeof(path), "%s/layer.tar", base);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, used, fp), used);
    fclose(fp);
    free(buf);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    unlink(path);
    return fd;
}

static int unpack_lim(const ent *ents, size_t n, const char *filter, const unpack_limits *lim,
                      unpack_stats *st, cric_err *err, char diff[DIGEST_STR_LEN + 1])
{
    int fd = make_tar(ents, n, filter, diff);
    char p[300];
    snprintf(p, sizeof(p), "%s/root", base);
    int root = open(p, O_RDONLY | O_DIRECTORY);
    int rc = layer_unpack_fd(fd, root, "test", lim, st, err);
    close(root);
    close(fd);
    return rc;
}

static int unpack(const ent *ents, size_t n, const char *filter, unpack_stats *st, cric_err *err,
                  char diff[DIGEST_STR_LEN + 1])
{
    return unpack_lim(ents, n, filter, NULL, st, err, diff);
}

static struct stat lst(const char *rel)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", base, rel);
    struct stat st;
    if (lstat(p, &st) < 0)
        fail_msg("lstat %s: %m", p);
    return st;
}

static bool exists(const char *rel)
{
    char p[512];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%s", base, rel);
    return lstat(p, &st) == 0;
}

static void all_types_and_metadata(void **state)
{
    (void)state;
    const char *filters[] = {"none", "gzip", "zstd"};
    for (size_t f = 0; f < 3; f++) {
        const ent ents[] = {
            {"./", AE_IFDIR, 0755, 0, 0, 0, 0, 0, 0},
            {"bin/", AE_IFDIR, 0755, 0, 0, 0, 0, 0, 0},
            {"bin/busybox", AE_IFREG, 04755, "ELF...", 0, 0, 0, 0, "user.test=yes"},
            {"bin/sh", AE_IFLNK, 0777, 0, "/bin/busybox", 0, 0, 0, 0},
            {"bin/ls", AE_IFREG, 0, 0, 0, "bin/busybox", 0, 0, 0},
            {"dev/wh", AE_IFCHR, 0666, 0, 0, 0, 0, 0, 0},
            {"run/fifo", AE_IFIFO, 0600, 0, 0, 0, 0, 0, 0},
            {"/abs/file", AE_IFREG, 0640, "x", 0, 0, 0, 0, 0},
        };
        unpack_stats st;
        cric_err err = {0};
        char diff[DIGEST_STR_LEN + 1];
        if (unpack(ents, sizeof(ents) / sizeof(ents[0]), filters[f], &st, &err, diff) < 0)
            fail_msg("%s: %s", filters[f], err.msg);
        assert_string_equal(st.diff_id, diff);
        struct stat s = lst("root/bin/busybox");
        assert_true(S_ISREG(s.st_mode));
        assert_int_equal(s.st_mode & 07777, 04755);
        assert_int_equal(s.st_uid, 1234);
        assert_int_equal(s.st_gid, 5678);
        assert_int_equal(s.st_size, 6);
        assert_int_equal(s.st_mtime, 1577836800);
        assert_int_equal(s.st_nlink, 2);
        char v[8] = "";
        char p[300];
        snprintf(p, sizeof(p), "%s/root/bin/busybox", base);
        assert_int_equal(lgetxattr(p, "user.test", v, sizeof(v)), 3);
        assert_memory_equal(v, "yes", 3);
        assert_true(S_ISLNK(lst("root/bin/sh").st_mode));
        assert_int_equal(lst("root/bin/ls").st_ino, s.st_ino);
        s = lst("root/dev/wh");
        assert_true(S_ISCHR(s.st_mode));
        assert_int_equal(s.st_rdev, makedev(0, 0));
        assert_true(S_ISFIFO(lst("root/run/fifo").st_mode));
        assert_true(exists("root/abs/file"));
        assert_int_equal(lst("root/bin").st_mtime, 1577836800); /* set after its entries */
        assert_true(st.bytes >= 7);
        assert_true(st.inodes >= 8);
        teardown(NULL);
        setup(NULL);
    }
}

static void whiteouts(void **state)
{
    (void)state;
    const ent ents[] = {
        {"etc/", AE_IFDIR, 0755, 0, 0, 0, 0, 0, 0},
        {"etc/.wh.passwd", AE_IFREG, 0644, 0, 0, 0, 0, 0, 0},
        {"var/lib/.wh..wh..opq", AE_IFREG, 0644, 0, 0, 0, 0, 0, 0},
        {"var/lib/keep", AE_IFREG, 0644, "k", 0, 0, 0, 0, 0},
        {".wh.top", AE_IFREG, 0644, 0, 0, 0, 0, 0, 0},
    };
    unpack_stats st;
    cric_err err = {0};
    char diff[DIGEST_STR_LEN + 1];
    if (unpack(ents, 5, "gzip", &st, &err, diff) < 0)
        fail_msg("%s", err.msg);
    struct stat s = lst("root/etc/passwd");
    assert_true(S_ISCHR(s.st_mode));
    assert_int_equal(s.st_rdev, makedev(0, 0));
    assert_true(S_ISCHR(lst("root/top").st_mode));
    assert_false(exists("root/etc/.wh.passwd"));
    assert_false(exists("root/var/lib/.wh..wh..opq"));
    char p[300], v[4] = "";
    snprintf(p, sizeof(p), "%s/root/var/lib", base);
    assert_int_equal(lgetxattr(p, "trusted.overlay.opaque", v, sizeof(v)), 1);
    assert_int_equal(v[0], 'y');
    assert_true(exists("root/var/lib/keep"));
}

static void expect_rejected(const ent *ents, size_t n, const char *needle)
{
    unpack_stats st;
    cric_err err = {0};
    char diff[DIGEST_STR_LEN + 1];
    assert_int_equal(unpack(ents, n, "gzip", &st, &err, diff), -1);
    if (needle && !strstr(err.msg, needle))
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
}

static void hostile_layers(void **state)
{
    (void)state;
    const ent dotdot[] = {{"a/../../outside/evil", AE_IFREG, 0644, "x", 0, 0, 0, 0, 0}};
    expect_rejected(dotdot, 1, "'..'");
    const ent hard_out[] = {{"h", AE_IFREG, 0, 0, 0, "/etc/passwd", 0, 0, 0}};
    expect_rejected(hard_out, 1, "hard link");
    const ent hard_dotdot[] = {{"h", AE_IFREG, 0, 0, 0, "../outside/x", 0, 0, 0}};
    expect_rejected(hard_dotdot, 1, "'..'");
    /* By default only the OCI default character devices are created. */
    const ent chr[] = {{"dev/mem", AE_IFCHR, 0666, 0, 0, 0, 1, 1, 0}};
    expect_rejected(chr, 1, "device node");
    assert_false(exists("root/dev/mem"));
    const ent chr_minor[] = {{"dev/x", AE_IFCHR, 0666, 0, 0, 0, 0, 5, 0}};
    expect_rejected(chr_minor, 1, "device node");
    const ent blk[] = {{"sda", AE_IFBLK, 0660, 0, 0, 0, 8, 0, 0}};
    expect_rejected(blk, 1, "device node");
    const ent blk0[] = {{"sdz", AE_IFBLK, 0660, 0, 0, 0, 0, 0, 0}};
    expect_rejected(blk0, 1, "device node");
    /* A symlink out of the root, then writes through it: they stay inside. */
    const ent sym[] = {
        {"esc", AE_IFLNK, 0777, 0, "../outside", 0, 0, 0, 0},
        {"esc/pwned", AE_IFREG, 0644, "x", 0, 0, 0, 0, 0},
        {"abs", AE_IFLNK, 0777, 0, "/", 0, 0, 0, 0},
        {"abs/pwned2", AE_IFREG, 0644, "x", 0, 0, 0, 0, 0},
        {"abs/tmp/pwned3", AE_IFREG, 0644, "x", 0, 0, 0, 0, 0},
    };
    unpack_stats st;
    cric_err err = {0};
    char diff[DIGEST_STR_LEN + 1];
    int rc = unpack(sym, 5, "gzip", &st, &err, diff);
    (void)rc; /* rejecting is fine too; escaping is not */
    assert_false(exists("outside/pwned"));
    assert_false(exists("pwned2"));
    assert_false(access("/pwned2", F_OK) == 0);
    assert_false(access("/tmp/pwned3", F_OK) == 0);
    /* Oversized names. */
    char longname[5000];
    memset(longname, 'a', sizeof(longname));
    longname[sizeof(longname) - 1] = '\0';
    const ent big[] = {{longname, AE_IFREG, 0644, "x", 0, 0, 0, 0, 0}};
    expect_rejected(big, 1, NULL);
    char longcomp[300];
    memset(longcomp, 'b', sizeof(longcomp));
    longcomp[299] = '\0';
    const ent comp[] = {{longcomp, AE_IFREG, 0644, "x", 0, 0, 0, 0, 0}};
    expect_rejected(comp, 1, "too long");
    const ent ovl[] = {{"d/", AE_IFDIR, 0755, 0, 0, 0, 0, 0, "trusted.overlay.opaque=y"}};
    assert_int_equal(unpack(ovl, 1, "none", &st, &err, diff), 0);
    char p[300], v[4];
    snprintf(p, sizeof(p), "%s/root/d", base);
    assert_true(lgetxattr(p, "trusted.overlay.opaque", v, sizeof(v)) < 0);
}

static dev_t rdev_of(const char *rel)
{
    struct stat s = lst(rel);
    return s.st_rdev;
}

static void device_policies(void **state)
{
    (void)state;
    const ent defaults[] = {
        {"dev", AE_IFDIR, 0755, 0, 0, 0, 0, 0, 0},
        {"dev/null", AE_IFCHR, 0666, 0, 0, 0, 1, 3, 0},
        {"dev/zero", AE_IFCHR, 0666, 0, 0, 0, 1, 5, 0},
        {"dev/full", AE_IFCHR, 0666, 0, 0, 0, 1, 7, 0},
        {"dev/random", AE_IFCHR, 0666, 0, 0, 0, 1, 8, 0},
        {"dev/urandom", AE_IFCHR, 0666, 0, 0, 0, 1, 9, 0},
        {"dev/tty", AE_IFCHR, 0666, 0, 0, 0, 5, 0, 0},
        {"dev/console", AE_IFCHR, 0600, 0, 0, 0, 5, 1, 0},
        {"dev/ptmx", AE_IFCHR, 0666, 0, 0, 0, 5, 2, 0},
    };
    unpack_stats st;
    cric_err err = {0};
    char diff[DIGEST_STR_LEN + 1];
    if (unpack(defaults, 9, "gzip", &st, &err, diff) < 0)
        fail_msg("%s", err.msg);
    assert_true(S_ISCHR(lst("root/dev/null").st_mode));
    assert_true(rdev_of("root/dev/null") == makedev(1, 3));
    assert_true(rdev_of("root/dev/ptmx") == makedev(5, 2));
    assert_int_equal(lst("root/dev/console").st_mode & 07777, 0600);

    /* "none": even /dev/null is refused, the whiteout form still works. */
    unpack_limits none = {.devices = UNPACK_DEVICES_NONE};
    const ent null_only[] = {{"n2", AE_IFCHR, 0666, 0, 0, 0, 1, 3, 0}};
    assert_int_equal(unpack_lim(null_only, 1, "gzip", &none, &st, &err, diff), -1);
    assert_non_null(strstr(err.msg, "image_pull.device_nodes"));
    assert_false(exists("root/n2"));
    const ent wh[] = {{"w2", AE_IFCHR, 0, 0, 0, 0, 0, 0, 0}};
    assert_int_equal(unpack_lim(wh, 1, "gzip", &none, &st, &err, diff), 0);

    /* "all": what containerd does, block devices included. */
    unpack_limits all = {.devices = UNPACK_DEVICES_ALL};
    const ent any[] = {{"sda", AE_IFBLK, 0660, 0, 0, 0, 8, 0, 0},
                       {"mem", AE_IFCHR, 0640, 0, 0, 0, 1, 1, 0}};
    if (unpack_lim(any, 2, "gzip", &all, &st, &err, diff) < 0)
        fail_msg("%s", err.msg);
    assert_true(S_ISBLK(lst("root/sda").st_mode));
    assert_true(rdev_of("root/sda") == makedev(8, 0));
    assert_true(rdev_of("root/mem") == makedev(1, 1));
}

static void garbage_is_rejected(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof(path), "%s/junk", base);
    FILE *fp = fopen(path, "w");
    for (int i = 0; i < 2000; i++)
        fputc("\x1f\x8b junk"[i % 7], fp);
    fclose(fp);
    int fd = open(path, O_RDONLY);
    snprintf(path, sizeof(path), "%s/root", base);
    int root = open(path, O_RDONLY | O_DIRECTORY);
    unpack_stats st;
    cric_err err = {0};
    assert_int_equal(layer_unpack_fd(fd, root, "junk", NULL, &st, &err), -1);
    close(fd);
    close(root);
}

/* The caps count the uncompressed tar stream: one layer alone, and the
 * layers of an image together through the shared total. */
static void size_caps(void **state)
{
    (void)state;
    static char big[256 * 1024];
    memset(big, 'z', sizeof(big) - 1);
    ent ents[] = {{"big", AE_IFREG, 0644, big, 0, 0, 0, 0, 0}};
    char diff[DIGEST_STR_LEN + 1], p[300];
    snprintf(p, sizeof(p), "%s/root", base);
    unpack_stats st;
    cric_err err = {0};

    int fd = make_tar(ents, 1, "gzip", diff);
    int root = open(p, O_RDONLY | O_DIRECTORY);
    unpack_limits one = {.max_bytes = 64 * 1024, .max_bytes_name = "max_layer"};
    assert_int_equal(layer_unpack_fd(fd, root, "capped", &one, &st, &err), -1);
    assert_int_equal(err.kind, CRIC_ERR_RESOURCE);
    assert_non_null(strstr(err.msg, "max_layer (65536 bytes)"));
    close(fd);
    close(root);

    atomic_uint_least64_t total = 0;
    unpack_limits all = {.max_bytes = 1 << 20,
                         .total = &total,
                         .max_total = 400 * 1024,
                         .max_total_name = "max_image"};
    for (int i = 0; i < 2; i++) {
        char sub[320];
        snprintf(sub, sizeof(sub), "%s/root/l%d", base, i);
        assert_int_equal(mkdir(sub, 0755), 0);
        fd = make_tar(ents, 1, "gzip", diff);
        root = open(sub, O_RDONLY | O_DIRECTORY);
        cric_err e2 = {0};
        int rc = layer_unpack_fd(fd, root, "layer", &all, &st, &e2);
        if (i == 0) {
            assert_int_equal(rc, 0);
            assert_string_equal(st.diff_id, diff);
        } else {
            assert_int_equal(rc, -1);
            assert_int_equal(e2.kind, CRIC_ERR_RESOURCE);
            assert_non_null(strstr(e2.msg, "max_image"));
        }
        close(fd);
        close(root);
    }
}

static void clean_paths(void **state)
{
    (void)state;
    char out[UNPACK_PATH_MAX + 1];
    cric_err err = {0};
    assert_int_equal(unpack_clean_path("./a//b/./c/", out, sizeof(out), &err), 0);
    assert_string_equal(out, "a/b/c");
    assert_int_equal(unpack_clean_path("/", out, sizeof(out), &err), 0);
    assert_string_equal(out, "");
    assert_int_equal(unpack_clean_path("/etc/passwd", out, sizeof(out), &err), 0);
    assert_string_equal(out, "etc/passwd");
    assert_int_equal(unpack_clean_path("a/..", out, sizeof(out), &err), -1);
    assert_int_equal(unpack_clean_path("..", out, sizeof(out), &err), -1);
    assert_int_equal(unpack_clean_path("a/..b", out, sizeof(out), &err), 0);
    assert_string_equal(out, "a/..b");
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "skipping: needs root\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(all_types_and_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(whiteouts, setup, teardown),
        cmocka_unit_test_setup_teardown(hostile_layers, setup, teardown),
        cmocka_unit_test_setup_teardown(device_policies, setup, teardown),
        cmocka_unit_test_setup_teardown(garbage_is_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(size_caps, setup, teardown),
        cmocka_unit_test(clean_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
