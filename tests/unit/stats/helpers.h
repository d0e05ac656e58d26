/* Fake cgroup trees in a temporary directory. */
#ifndef TEST_STATS_HELPERS_H
#define TEST_STATS_HELPERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static inline void mkdirs(const char *path)
{
    char buf[8400];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    mkdir(buf, 0755);
}

static inline void put(const char *dir, const char *name, const char *text)
{
    char path[8400];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fputs(text, f);
    fclose(f);
}

static inline char *tmpdir(void)
{
    char *t = strdup("/tmp/cric-stats-test.XXXXXX");
    if (!t || !mkdtemp(t))
        abort();
    return t;
}

static inline void rmtree(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        abort();
}

#endif
