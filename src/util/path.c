#include <string.h>

#include "util/path.h"

bool path_next(const char **p, const char **comp, size_t *len)
{
    const char *s = *p;
    while (*s == '/')
        s++;
    if (!*s) {
        *p = s;
        return false;
    }
    const char *e = strchr(s, '/');
    *comp = s;
    *len = e ? (size_t)(e - s) : strlen(s);
    *p = s + *len;
    return true;
}
