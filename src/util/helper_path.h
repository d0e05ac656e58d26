/* Where cric's helper programs (cric-shim, cric-enter, cric-pull, cric-tls)
 * are: next to the running executable once installed, or in their own
 * folder of the build tree. */
#ifndef CRIC_UTIL_HELPER_PATH_H
#define CRIC_UTIL_HELPER_PATH_H

#include <stddef.h>

#include "err.h"

/* Fills out with <exe dir>/<name> or <exe dir>/../<build_dir>/<name>, the
 * first that is executable. A helper found nowhere is CRIC_ERR_NOT_FOUND. */
int helper_path_find(const char *name, const char *build_dir, char *out, size_t cap, cric_err *err);

#endif
