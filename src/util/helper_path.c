#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/helper_path.h"

int helper_path_find(const char *name, const char *build_dir, char *out, size_t cap, cric_err *err)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return cric_err_errno(err, errno, "%s: resolve /proc/self/exe", name);
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return cric_err_set(err, CRIC_ERR_INTERNAL, "%s: odd executable path %s", name, exe);
    *slash = '\0';
    int w = snprintf(out, cap, "%s/%s", exe, name);
    if (w > 0 && (size_t)w < cap && access(out, X_OK) == 0)
        return 0;
    w = snprintf(out, cap, "%s/../%s/%s", exe, build_dir, name);
    if (w > 0 && (size_t)w < cap && access(out, X_OK) == 0)
        return 0;
    return cric_err_set(err, CRIC_ERR_NOT_FOUND, "%s not found next to %s", name, exe);
}
