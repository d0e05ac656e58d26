#include "ctr/caps.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const char *const cap_names[CTR_CAP_MAX + 1] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

int ctr_cap_from_name(const char *name)
{
    if (!name)
        return -1;
    const char *bare = strncasecmp(name, "CAP_", 4) == 0 ? name + 4 : name;
    if (!*bare)
        return -1;
    for (int i = 0; i <= CTR_CAP_MAX; i++)
        if (strcasecmp(cap_names[i] + 4, bare) == 0)
            return i;
    return -1;
}

const char *ctr_cap_name(int cap)
{
    if (cap < 0 || cap > CTR_CAP_MAX)
        return NULL;
    return cap_names[cap];
}

ctr_capset ctr_caps_default(void)
{
    static const char *const defaults[] = {
        "CHOWN",   "DAC_OVERRIDE", "FSETID",           "FOWNER",
        "MKNOD",   "NET_RAW",      "SETGID",           "SETUID",
        "SETFCAP", "SETPCAP",      "NET_BIND_SERVICE", "SYS_CHROOT",
        "KILL",    "AUDIT_WRITE",
    };
    ctr_capset set = 0;
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
        set |= CTR_CAP_BIT(ctr_cap_from_name(defaults[i]));
    return set;
}
