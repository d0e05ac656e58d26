/* The container's root file system: overlayfs over the image's shared layer
 * directories (read-only lower layers, top layer first) with the container's
 * own upper and work directories under <root>/containers/<id>. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctr/ctr_int.h"
#include "util/fs.h"
#include "util/log.h"

#define MOUNT_DATA_MAX 4000 /* the kernel copies one page of mount data */

int ctr_rootfs_mount(const ctr_rec *r, char *const *layer_dirs, size_t n_layers, cric_err *err)
{
    if (n_layers == 0)
        return cric_err_set(err, CRIC_ERR_INVALID, "container %s: image %s has no layers", r->id,
                            r->image_id);
    char upper[4200], work[4200];
    snprintf(upper, sizeof(upper), "%s/upper", r->wdir);
    snprintf(work, sizeof(work), "%s/work", r->wdir);
    if (fs_mkdir_p(upper, 0755, err) < 0 || fs_mkdir_p(work, 0700, err) < 0 ||
        fs_mkdir_p(r->rootfs, 0755, err) < 0)
        return cric_err_prefix(err, "container %s: ", r->id);
    char data[MOUNT_DATA_MAX + 1];
    size_t len = 0;
    int n = snprintf(data, sizeof(data), "lowerdir=");
    len = (size_t)n;
    for (size_t i = n_layers; i-- > 0;) {
        const char *d = layer_dirs[i];
        if (strchr(d, ':') || strchr(d, ','))
            return cric_err_set(err, CRIC_ERR_INTERNAL,
                                "container %s: layer path %s cannot be given to overlayfs", r->id,
                                d);
        n = snprintf(data + len, sizeof(data) - len, "%s%s", i == n_layers - 1 ? "" : ":", d);
        if (n < 0 || (size_t)n >= sizeof(data) - len)
            return cric_err_set(err, CRIC_ERR_RESOURCE,
                                "container %s: %zu image layers do not fit in overlayfs's mount "
                                "options",
                                r->id, n_layers);
        len += (size_t)n;
    }
    n = snprintf(data + len, sizeof(data) - len, ",upperdir=%s,workdir=%s", upper, work);
    if (n < 0 || (size_t)n >= sizeof(data) - len)
        return cric_err_set(err, CRIC_ERR_RESOURCE,
                            "container %s: overlayfs mount options too long", r->id);
    if (mount("overlay", r->rootfs, "overlay", 0, data) < 0)
        return cric_err_errno(err, errno, "container %s: mount overlayfs at %s", r->id, r->rootfs);
    return 0;
}

int ctr_rootfs_unmount(const ctr_rec *r, cric_err *err)
{
    for (int i = 0; i < 16; i++) {
        if (umount2(r->rootfs, MNT_DETACH | UMOUNT_NOFOLLOW) < 0) {
            if (errno == EINVAL || errno == ENOENT)
                return 0; /* not a mount point (any more) */
            return cric_err_errno(err, errno, "container %s: unmount %s", r->id, r->rootfs);
        }
    }
    return 0;
}
