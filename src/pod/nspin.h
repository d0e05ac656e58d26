/* Namespaces of a sandbox, created without a long-lived process: a short
 * thread unshares the wanted network/IPC/UTS namespaces, configures them
 * (hostname, loopback up) and bind-mounts /proc/thread-self/ns/<x>
 * onto files under the sandbox's ns/ dir, which keeps them alive. */
#ifndef CRIC_POD_NSPIN_H
#define CRIC_POD_NSPIN_H

#include <stdbool.h>
#include <stddef.h>

#include "pod/pod.h"
#include "util/err.h"

typedef struct nspin_request {
    const char *ns_dir; /* <sandbox>/ns, exists */
    bool net, ipc, uts;
    const char *hostname; /* set in the new UTS namespace */
} nspin_request;

/* Creates the namespaces and pins them as ns_dir/{net,ipc,uts}. On failure
 * nothing stays pinned. */
int nspin_create(const nspin_request *req, cric_err *err);
/* Writes sysctls (validated) from a short thread that joined the given
 * pinned namespaces ("" = stay in the host's). Run after the CNI ADD so that
 * keys naming the pod's interfaces (net.ipv4.conf.eth0.*) exist. */
int nspin_sysctls(const char *netns, const char *ipcns, const char *utsns, const pod_kv *kv,
                  size_t n, cric_err *err);
/* Pins /proc/<pid>/ns/<name> at path (e.g. the infra process's pid ns). */
int nspin_pin_proc(pid_t pid, const char *name, const char *path, cric_err *err);
/* Unmounts and deletes a pin; a missing or unmounted one is success. */
int nspin_release(const char *path, cric_err *err);

/* Makes dir a private bind mount of itself unless it is a mount point
 * already, so that pins below it never propagate to other mount namespaces. */
int nspin_private_mount(const char *dir, cric_err *err);
/* Undoes nspin_private_mount (at shut-down, when no sandbox is left). */
void nspin_private_unmount(const char *dir);

/* A tmpfs of size bytes at dir (mode 1777, nosuid, nodev, noexec). */
int nspin_mount_shm(const char *dir, unsigned long long size, cric_err *err);
/* Unmounts dir if something is mounted there. */
int nspin_unmount(const char *dir, cric_err *err);

#endif
