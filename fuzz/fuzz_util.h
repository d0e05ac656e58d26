/* Helpers shared by the fuzz targets (test code only). */
#ifndef CRIC_FUZZ_UTIL_H
#define CRIC_FUZZ_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* A NUL-terminated copy of the input (embedded NULs end the string early,
 * as they would for a C caller). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Keeps the daemon's log quiet: the targets report errors by design. */
static inline void fuzz_quiet(void)
{
    static int done;
    if (!done) {
        log_setup(getenv("FUZZ_VERBOSE") ? LOG_LVL_DEBUG : LOG_LVL_ERROR, LOG_FMT_TEXT);
        done = 1;
    }
}

/* abort() so both libFuzzer and the replay tests report the failed check. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

#endif
