/* The start time of a process from the text of /proc/<pid>/stat. Header-only:
 * cric-pause, which links only libc, reads it as the daemon does. */
#ifndef CRIC_POD_PROC_STAT_H
#define CRIC_POD_PROC_STAT_H

#include <stdlib.h>
#include <string.h>

/* Field 22 (clock ticks since boot); 0 when the text is malformed or the
 * process is a zombie. */
static inline unsigned long long proc_stat_start_time(const char *text)
{
    const char *p = strrchr(text, ')'); /* the command name may hold spaces and ')' */
    if (!p || !p[1] || !p[2])
        return 0;
    p += 2;
    if (*p == 'Z' || *p == 'X')
        return 0;
    for (int field = 3; field < 22 && p; field++) {
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    return p ? strtoull(p, NULL, 10) : 0;
}

#endif
