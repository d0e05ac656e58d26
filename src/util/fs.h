/* File-system helpers. Writes are atomic (temporary name, fsync, rename,
 * directory fsync) so a crash leaves either the old or the new content. */
#ifndef CRIC_UTIL_FS_H
#define CRIC_UTIL_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

int fs_mkdir_p(const char *path, mode_t mode, cric_err *err);
int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, cric_err *err);
/* Reads a whole regular file of at most max bytes (anything else, e.g. a FIFO
 * or a device, is INVALID and never blocks); *out is NUL-terminated, caller frees. */
int fs_read_file(const char *path, size_t max, char **out, size_t *len, cric_err *err);
/* Removes path recursively without following symlinks or crossing mount points.
 * A missing path is success. */
int fs_rm_rf(const char *path, cric_err *err);
/* Removes name under dirfd recursively without following symlinks; absent is success. */
int fs_rm_at(int dirfd, const char *name);
int fs_fsync_dir(const char *dir);

#endif
