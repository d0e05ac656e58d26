#include "pod/sysctl.h"

#include <stdio.h>
#include <string.h>

#define SYSCTL_KEY_MAX 256
#define SYSCTL_VALUE_MAX 4096

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The key with '/' separators, in buf. */
static void normalise(const char *key, char *buf, size_t size)
{
    bool slashes = strchr(key, '/') != NULL;
    size_t i = 0;
    for (; key[i] && i + 1 < size; i++)
        buf[i] = (!slashes && key[i] == '.') ? '/' : key[i];
    buf[i] = '\0';
}

sysctl_ns sysctl_namespace(const char *key)
{
    char k[SYSCTL_KEY_MAX + 1];
    normalise(key, k, sizeof(k));
    if (starts(k, "net/"))
        return SYSCTL_NS_NET;
    if (starts(k, "fs/mqueue/") || starts(k, "kernel/shm") || starts(k, "kernel/msg") ||
        strcmp(k, "kernel/sem") == 0)
        return SYSCTL_NS_IPC;
    if (strcmp(k, "kernel/domainname") == 0 || strcmp(k, "kernel/hostname") == 0)
        return SYSCTL_NS_UTS;
    return SYSCTL_NS_NONE;
}

int sysctl_validate(const char *key, const char *value, bool own_net, bool own_ipc, bool own_uts,
                    cric_err *err)
{
    size_t n = strlen(key);
    if (n == 0 || n > SYSCTL_KEY_MAX)
        return cric_err_set(err, CRIC_ERR_INVALID, "sysctl %.80s: bad key length", key);
    for (size_t i = 0; i < n; i++) {
        char c = key[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.' || c == '/'))
            return cric_err_set(err, CRIC_ERR_INVALID, "sysctl %.80s: invalid character", key);
    }
    if (key[0] == '.' || key[0] == '/' || strstr(key, "..") || strstr(key, "//") ||
        strstr(key, "/.") || strstr(key, "./") || key[n - 1] == '.' || key[n - 1] == '/')
        return cric_err_set(err, CRIC_ERR_INVALID, "sysctl %.80s: malformed key", key);
    if (strlen(value) > SYSCTL_VALUE_MAX || strpbrk(value, "\n"))
        return cric_err_set(err, CRIC_ERR_INVALID, "sysctl %.80s: bad value", key);
    switch (sysctl_namespace(key)) {
    case SYSCTL_NS_NET:
        if (!own_net)
            return cric_err_set(err, CRIC_ERR_INVALID,
                                "sysctl %.80s: needs the pod's own network namespace "
                                "(not allowed with host network)",
                                key);
        return 0;
    case SYSCTL_NS_IPC:
        if (!own_ipc)
            return cric_err_set(err, CRIC_ERR_INVALID,
                                "sysctl %.80s: needs the pod's own IPC namespace "
                                "(not allowed with host IPC)",
                                key);
        return 0;
    case SYSCTL_NS_UTS:
        if (!own_uts)
            return cric_err_set(err, CRIC_ERR_INVALID,
                                "sysctl %.80s: needs the pod's own UTS namespace", key);
        return 0;
    case SYSCTL_NS_NONE:
    default:
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "sysctl %.80s: not namespaced; a pod may not set it", key);
    }
}

int sysctl_proc_path(const char *key, char *buf, size_t size)
{
    char k[SYSCTL_KEY_MAX + 1];
    normalise(key, k, sizeof(k));
    int n = snprintf(buf, size, "/proc/sys/%s", k);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}
