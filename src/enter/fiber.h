/* A child started with CLONE_VM on a stack of its own (cric-enter's command
 * process, the daemon's direct ExecSync children). Sanitized builds tell
 * AddressSanitizer of each switch, as for a fiber, both ways: otherwise it
 * warns on the child's _exit/execve, into the command's stderr, and would
 * check the parent against the child's stack afterwards. */
#ifndef CRIC_ENTER_FIBER_H
#define CRIC_ENTER_FIBER_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
typedef struct fiber {
    void *fake_stack;
    const void *bottom;
    size_t size;
} fiber;
#define FIBER_TO_CHILD(f, stk, sz) __sanitizer_start_switch_fiber(&(f)->fake_stack, (stk), (sz))
#define FIBER_IN_CHILD(f) __sanitizer_finish_switch_fiber(NULL, &(f)->bottom, &(f)->size)
#define FIBER_BACK(f)                                                                              \
    do {                                                                                           \
        __sanitizer_start_switch_fiber(NULL, (f)->bottom, (f)->size);                              \
        __sanitizer_finish_switch_fiber((f)->fake_stack, NULL, NULL);                              \
    } while (0)
/* A child that execs or exits leaves its frames' redzones poisoned, and the
 * next mapping at that address would inherit them */
#define FIBER_STACK_CLEAN(stk, sz) __asan_unpoison_memory_region((stk), (sz))
#define ENTER_CHILD_STACK (4u << 20)
#else
typedef struct fiber {
    char unused;
} fiber;
#define FIBER_TO_CHILD(f, stk, sz) ((void)(f))
#define FIBER_IN_CHILD(f) ((void)(f))
#define FIBER_BACK(f) ((void)(f))
#define FIBER_STACK_CLEAN(stk, sz) ((void)(stk), (void)(sz))
/* enter_exec_command keeps ~50 KiB on it (environment, paths, passwd) */
#define ENTER_CHILD_STACK (256u << 10)
#endif

#endif
