/* Sealed in-memory copies of executables (the OCI runtimes).
 *
 * crun and runc protect their binary from the containers they enter
 * (CVE-2019-5736) by re-running themselves from a read-only bind mount or a
 * sealed memfd copy, unless /proc/self/exe already is a sealed memfd. That
 * step is half the cost of a short runtime call (crun state: 8.2 ms, 4.2 ms
 * from a sealed copy). So cric keeps one sealed copy per runtime binary and
 * runs the runtime from it, which gives the same protection once. */
#ifndef CRIC_UTIL_SEALED_EXE_H
#define CRIC_UTIL_SEALED_EXE_H

#include <stddef.h>

typedef struct sealed_exes sealed_exes;

sealed_exes *sealed_exes_new(void);
void sealed_exes_free(sealed_exes *c);

/* A close-on-exec fd (10 or above) of a sealed copy of the ELF executable at path, owned
 * by c and open until sealed_exes_free; -1 when there is none (not an
 * absolute path, not ELF, over 64 MiB, no memfd): run the path then. A
 * binary replaced on disk (inode, size or mtime changed) gets a fresh copy;
 * older copies stay open, a call may be starting from one. Thread-safe. */
int sealed_exes_fd(sealed_exes *c, const char *path);

/* "/proc/self/fd/<fd>", for execve(). */
void sealed_exe_path(int fd, char *out, size_t cap);

#endif
