/* Runs a helper program to completion: stdin from a buffer, stdout and
 * stderr captured (each capped), a deadline after which it is killed. Uses
 * posix_spawn (vfork-like, safe in the threaded daemon); the child inherits
 * no descriptor but its three pipes. */
#ifndef CRIC_POD_RUNPROC_H
#define CRIC_POD_RUNPROC_H

#include <stddef.h>

#include "util/err.h"

#define SPAWN_OUT_MAX (4u << 20)

typedef struct spawn_result {
    int exit_code; /* -1 when killed by a signal */
    int signal;
    char *out, *errout; /* NUL-terminated, caller frees */
    size_t out_len, err_len;
} spawn_result;

/* Returns -1 only when the program could not be run or the deadline passed
 * (CRIC_ERR_TIMEOUT); a non-zero exit is reported in res. */
int spawn_run(const char *path, char *const argv[], char *const envp[], const char *in,
              size_t in_len, int timeout_ms, spawn_result *res, cric_err *err);
void spawn_result_free(spawn_result *res);

#endif
