/* enter_plan_parse (src/enter/enter_core.c): the plan the daemon writes for
 * each container, read by cric-enter and parsed once for the daemon's direct
 * ExecSync path. Every record, and the malformed plans it must refuse
 * without leaking (the suite runs under AddressSanitizer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <linux/filter.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "enter/enter_core.h"

typedef struct buf {
    unsigned char d[1 << 16];
    size_t n;
} buf;

static void raw(buf *b, const void *p, size_t n)
{
    assert_true(b->n + n <= sizeof(b->d));
    memcpy(b->d + b->n, p, n);
    b->n += n;
}

static void rec(buf *b, char tag, const void *v, uint32_t len)
{
    unsigned char h[5] = {(unsigned char)tag, (unsigned char)len, (unsigned char)(len >> 8),
                          (unsigned char)(len >> 16), (unsigned char)(len >> 24)};
    raw(b, h, 5);
    raw(b, v, len);
}

static void rec_u32(buf *b, char tag, uint32_t v)
{
    unsigned char le[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                           (unsigned char)(v >> 24)};
    rec(b, tag, le, 4);
}

static void start(buf *b)
{
    b->n = 0;
    raw(b, PLAN_MAGIC, PLAN_MAGIC_LEN);
}

static void test_every_record(void **state)
{
    (void)state;
    buf b;
    start(&b);
    uint64_t ns = CLONE_NEWPID | CLONE_NEWNS;
    rec(&b, PLAN_NS, &ns, 8); /* little-endian host */
    rec_u32(&b, PLAN_UID, 1000);
    rec_u32(&b, PLAN_GID, 2000);
    uint32_t gids[2] = {10, 20};
    rec(&b, PLAN_GIDS, gids, sizeof(gids));
    uint64_t caps[5] = {1, 2, 3, 4, 5};
    rec(&b, PLAN_CAPS, caps, sizeof(caps));
    rec(&b, PLAN_NNP, "\1", 1);
    unsigned char rl[20] = {7};
    rl[4] = 64;
    rl[12] = 128;
    rec(&b, PLAN_RLIMIT, rl, sizeof(rl));
    rec_u32(&b, PLAN_OOM, (uint32_t)-500);
    rec_u32(&b, PLAN_UMASK, 0027);
    rec(&b, PLAN_CWD, "/work", 5);
    rec(&b, PLAN_ENV, "A=1", 3);
    rec(&b, PLAN_ENV, "B=two", 5);
    struct sock_filter f[2] = {{0x20, 0, 0, 4}, {0x06, 0, 0, 0x7fff0000}};
    rec(&b, PLAN_SECCOMP, f, sizeof(f));
    rec_u32(&b, PLAN_SECFLAGS, 2);

    enter_plan p;
    char msg[256] = "";
    assert_int_equal(enter_plan_parse(b.d, b.n, &p, msg, sizeof(msg)), 0);
    assert_int_equal(p.ns, ns);
    assert_int_equal(p.uid, 1000);
    assert_int_equal(p.gid, 2000);
    assert_int_equal(p.n_gids, 2);
    assert_int_equal(p.gids[1], 20);
    assert_true(p.has_caps && p.cap_bnd == 1 && p.cap_amb == 5);
    assert_true(p.nnp);
    assert_int_equal(p.n_rl, 1);
    assert_true(p.rl[0].res == 7 && p.rl[0].soft == 64 && p.rl[0].hard == 128);
    assert_true(p.has_oom && p.oom == -500);
    assert_true(p.has_umask && p.umask == 0027);
    assert_string_equal(p.cwd, "/work");
    assert_int_equal(p.n_env, 2);
    assert_string_equal(p.env[0], "A=1");
    assert_string_equal(p.env[1], "B=two");
    assert_null(p.env[2]);
    assert_int_equal(p.n_bpf, 2);
    assert_int_equal(p.bpf[1].k, 0x7fff0000);
    assert_int_equal(p.secflags, 2);
    enter_plan_free(&p);
}

static void test_minimal_plan_has_an_empty_environment(void **state)
{
    (void)state;
    buf b;
    start(&b);
    enter_plan p;
    char msg[256];
    assert_int_equal(enter_plan_parse(b.d, b.n, &p, msg, sizeof(msg)), 0);
    assert_non_null(p.env);
    assert_null(p.env[0]);
    assert_null(p.cwd);
    assert_null(p.bpf);
    enter_plan_free(&p);
}

/* Each malformed plan is refused with a message; what was parsed before the
 * bad record is freed (ASan's leak check). */
static void refuse(buf *b, const char *want)
{
    enter_plan p;
    char msg[256] = "";
    assert_int_equal(enter_plan_parse(b->d, b->n, &p, msg, sizeof(msg)), -1);
    if (!strstr(msg, want))
        fail_msg("message '%s' lacks '%s'", msg, want);
}

static void test_refusals(void **state)
{
    (void)state;
    buf b;
    b.n = 0;
    raw(&b, "CRICPLAN0", 9);
    refuse(&b, "bad magic");

    start(&b);
    rec(&b, PLAN_ENV, "A=1", 3);
    raw(&b, "e\1\0", 3);
    refuse(&b, "truncated");

    start(&b);
    rec(&b, PLAN_CWD, "/x", 2);
    unsigned char h[5] = {PLAN_ENV, 0xff, 0xff, 0, 0};
    raw(&b, h, 5);
    refuse(&b, "longer than the file");

    start(&b);
    rec(&b, PLAN_ENV, "A=1", 3);
    rec(&b, PLAN_CWD, "relative", 8);
    refuse(&b, "cwd not absolute");

    start(&b);
    rec(&b, PLAN_ENV, "A=1", 3);
    rec(&b, PLAN_ENV, "NOEQUALS", 8);
    refuse(&b, "env");

    start(&b);
    rec(&b, PLAN_ENV, "A\0B=1", 5);
    refuse(&b, "string with NUL");

    start(&b);
    rec(&b, PLAN_SECCOMP, "1234567", 7);
    refuse(&b, "seccomp program");

    start(&b);
    rec(&b, PLAN_UID, "12", 2);
    refuse(&b, "uid/gid");

    start(&b);
    uint32_t many[PLAN_MAX_GIDS + 1] = {0};
    rec(&b, PLAN_GIDS, many, sizeof(many));
    refuse(&b, "groups");

    start(&b);
    rec(&b, 'Z', "", 0);
    refuse(&b, "unknown record 'Z'");
}

static void test_environment_cap(void **state)
{
    (void)state;
    static buf b;
    start(&b);
    for (int i = 0; i <= PLAN_MAX_ENV; i++)
        rec(&b, PLAN_ENV, "K=v", 3);
    refuse(&b, "env");
}

static void home_case(const char *text, uint32_t uid, const char *want)
{
    char path[] = "/tmp/cric-passwd-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char home[4200];
    enter_home_of(path, uid, home, sizeof(home));
    unlink(path);
    assert_string_equal(home, want);
}

/* HOME from the container's /etc/passwd (read without stdio: it runs in a
 * child sharing the daemon's memory) */
static void test_home(void **state)
{
    (void)state;
    home_case("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n", 1000,
              "HOME=/home/app");
    home_case("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh", 1000,
              "HOME=/home/app"); /* no final newline */
    home_case("root:x:0:0:root:/root:/bin/sh\n", 1000, "HOME=/");
    home_case("nobody:x:1000:1000:::/bin/sh\n", 1000, "HOME=/"); /* empty dir */
    home_case("bad:x:10x0:1::/bad:/bin/sh\nok:x:100:1::/ok:/bin/sh\n", 100, "HOME=/ok");
    home_case("", 0, "HOME=/");
    /* an overlong line, whose tail looks like an entry for the uid, is
     * skipped whole; the entry after it is found */
    static char big[40000];
    size_t n = 0;
    n += (size_t)snprintf(big + n, sizeof(big) - n, "long:x:5:5:");
    memset(big + n, 'g', 20000);
    n += 20000;
    n += (size_t)snprintf(big + n, sizeof(big) - n,
                          "\ntail:x:7:7::/wrong:/bin/sh\nx:x:7:7::/right:/bin/sh\n");
    /* make the tail of the long line itself look like uid 7's entry */
    memcpy(big + 11 + 20000 - 24, ":x:7:7::/tail-of-long:/", 23);
    home_case(big, 7, "HOME=/wrong");
    /* many lines crossing the buffer's boundary */
    n = 0;
    for (int i = 0; i < 600; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "u%d:x:%d:%d::/home/u%d:/bin/sh\n", i,
                              2000 + i, 2000 + i, i);
    home_case(big, 2599, "HOME=/home/u599");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_record),
        cmocka_unit_test(test_minimal_plan_has_an_empty_environment),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_environment_cap),
        cmocka_unit_test(test_home),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
