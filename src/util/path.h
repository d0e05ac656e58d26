/* Walking a slash-separated path one component at a time. */
#ifndef CRIC_UTIL_PATH_H
#define CRIC_UTIL_PATH_H

#include <stdbool.h>
#include <stddef.h>

/* Skips the slashes at *p and returns the next component (not terminated),
 * its length in *len, and advances *p past it; false at the end of the path.
 * Empty components ("a//b") are never returned. */
bool path_next(const char **p, const char **comp, size_t *len);

#endif
