/* Pod sysctls: only namespaced ones, and only when the pod owns the
 * namespace they live in (net.* needs the pod's netns; kernel.shm*,
 * kernel.msg*, kernel.sem and fs.mqueue.* need the pod's IPC namespace;
 * kernel.domainname needs its UTS namespace). */
#ifndef CRIC_POD_SYSCTL_H
#define CRIC_POD_SYSCTL_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

typedef enum { SYSCTL_NS_NONE = 0, SYSCTL_NS_NET, SYSCTL_NS_IPC, SYSCTL_NS_UTS } sysctl_ns;

/* Which namespace a key belongs to (dots or slashes as separators). */
sysctl_ns sysctl_namespace(const char *key);

/* Validates key and value against the namespaces the pod owns. */
int sysctl_validate(const char *key, const char *value, bool own_net, bool own_ipc, bool own_uts,
                    cric_err *err);

/* "/proc/sys/" + key with '.' separators turned into '/' (a key that already
 * uses '/' keeps its dots, as in net/ipv4/conf/eth0.100/forwarding). */
int sysctl_proc_path(const char *key, char *buf, size_t size);

#endif
