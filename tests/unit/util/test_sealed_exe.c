/* util/sealed_exe.c: sealed copies of executables, what crun and runc check. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/sealed_exe.h"

static char dir[64];

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY);
    assert_true(in >= 0);
    struct stat st;
    assert_int_equal(fstat(in, &st), 0);
    char *buf = malloc((size_t)st.st_size);
    assert_int_equal(read(in, buf, (size_t)st.st_size), st.st_size);
    close(in);
    /* a new inode, as a package upgrade's rename gives */
    char tmp[128];
    snprintf(tmp, sizeof(tmp), "%s.tmp", to);
    write_file(tmp, buf, (size_t)st.st_size, 0755);
    assert_int_equal(rename(tmp, to), 0);
    free(buf);
}

static int run(int fd, const char *arg)
{
    char exe[64];
    sealed_exe_path(fd, exe, sizeof(exe));
    pid_t pid = fork();
    if (pid == 0) {
        execl(exe, "prog", arg, (char *)NULL);
        _exit(126);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void copies_are_sealed_runnable_and_refreshed(void **state)
{
    (void)state;
    char bin[128], script[128];
    snprintf(bin, sizeof(bin), "%s/prog", dir);
    snprintf(script, sizeof(script), "%s/script", dir);
    copy_file("/bin/true", bin);
    sealed_exes *c = sealed_exes_new();
    assert_non_null(c);

    int fd = sealed_exes_fd(c, bin);
    assert_true(fd >= 10);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    int seals = fcntl(fd, F_GET_SEALS);
    assert_int_equal(seals, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
    assert_int_equal(write(fd, "x", 1), -1); /* sealed: not even the owner writes */
    assert_int_equal(run(fd, NULL), 0);
    assert_int_equal(sealed_exes_fd(c, bin), fd); /* unchanged file: same copy */

    copy_file("/bin/false", bin); /* replaced on disk */
    int fd2 = sealed_exes_fd(c, bin);
    assert_true(fd2 >= 10 && fd2 != fd);
    assert_int_equal(run(fd2, NULL), 1);
    assert_int_equal(run(fd, NULL), 0); /* the older copy still works */

    /* no copy: a script (its interpreter needs the path), a relative path,
     * a file that is not executable, a missing one */
    write_file(script, "#!/bin/sh\nexit 0\n", 17, 0755);
    assert_int_equal(sealed_exes_fd(c, script), -1);
    assert_int_equal(sealed_exes_fd(c, "prog"), -1);
    chmod(bin, 0644);
    assert_int_equal(sealed_exes_fd(c, bin), -1);
    assert_int_equal(sealed_exes_fd(c, "/nonexistent/prog"), -1);
    sealed_exes_free(c);
    unlink(bin);
    unlink(script);
}

int main(void)
{
    snprintf(dir, sizeof(dir), "/tmp/cric-sealed-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(copies_are_sealed_runnable_and_refreshed),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rmdir(dir);
    return rc;
}
