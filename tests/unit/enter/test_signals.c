/* enter_signals_not_default and enter_signals_default (src/enter/enter_core.c):
 * the exec paths reset only the signals /proc/self/stat names as ignored or
 * caught, so that list must be complete, whatever the process is called. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "enter/enter_core.h"

static void on_signal(int sig)
{
    (void)sig;
}

static void set(int sig, void (*handler)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = handler;
    assert_int_equal(sigaction(sig, &sa, NULL), 0);
}

static bool bit(uint64_t mask, int sig)
{
    return mask >> (sig - 1) & 1;
}

/* a name with spaces and a ')' must not shift the fields */
static void rename_self(void)
{
    assert_int_equal(prctl(PR_SET_NAME, "x) 1 2 (y", 0, 0, 0), 0);
}

/* Runs fn in a child (each test changes dispositions) and expects exit 0. */
static void in_child(int (*fn)(void))
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        rename_self();
        _exit(fn());
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static int names_ignored_and_caught(void)
{
    set(SIGUSR1, on_signal);
    set(SIGUSR2, SIG_IGN);
    set(SIGRTMIN + 5, on_signal);
    set(SIGHUP, SIG_DFL);
    uint64_t m = 0;
    bool ok = enter_signals_not_default(&m);
    return ok && bit(m, SIGUSR1) && bit(m, SIGUSR2) && bit(m, SIGRTMIN + 5) && !bit(m, SIGHUP) &&
                   !bit(m, SIGKILL)
               ? 0
               : 1;
}

static int default_resets_every_one(void)
{
    int sigs[] = {SIGINT, SIGTERM, SIGPIPE, SIGCHLD, SIGUSR2, SIGRTMIN, SIGRTMAX};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        set(sigs[i], i % 2 ? SIG_IGN : on_signal);
    enter_signals_default();
    uint64_t m = ~(uint64_t)0;
    if (!enter_signals_not_default(&m) || m != 0)
        return 1;
    for (int sig = 1; sig < 65; sig++) {
        struct sigaction old;
        if (sigaction(sig, NULL, &old) == 0 && old.sa_handler != SIG_DFL)
            return 2;
    }
    return 0;
}

static void test_names_ignored_and_caught(void **state)
{
    (void)state;
    in_child(names_ignored_and_caught);
}

static void test_default_resets_every_one(void **state)
{
    (void)state;
    in_child(default_resets_every_one);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_ignored_and_caught),
        cmocka_unit_test(test_default_resets_every_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
