#include "pod/nspin.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pod/sysctl.h"
#include "util/cleanup.h"
#include "util/fs.h"

static const char *const ns_names[] = {"net", "ipc", "uts"};

static int make_pin_file(const char *path, cric_err *err)
{
    int fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444);
    if (fd < 0)
        return cric_err_errno(err, errno, "namespace pin %s: create", path);
    close(fd);
    return 0;
}

int nspin_release(const char *path, cric_err *err)
{
    /* Several stacked mounts are possible after odd crashes: peel them all. */
    for (int i = 0; i < 8; i++) {
        if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0) {
            if (errno == EINVAL || errno == ENOENT)
                break;
            return cric_err_errno(err, errno, "namespace pin %s: unmount", path);
        }
    }
    if (unlink(path) < 0 && errno != ENOENT)
        return cric_err_errno(err, errno, "namespace pin %s: unlink", path);
    return 0;
}

static int bring_lo_up(cric_err *err)
{
    _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return cric_err_errno(err, errno, "loopback: socket");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
        return cric_err_errno(err, errno, "loopback: get flags");
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
        return cric_err_errno(err, errno, "loopback: set up");
    return 0;
}

static int write_sysctl(const char *key, const char *value, cric_err *err)
{
    char path[512];
    if (sysctl_proc_path(key, path, sizeof(path)) < 0)
        return cric_err_set(err, CRIC_ERR_INVALID, "sysctl %.80s: key too long", key);
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return cric_err_set(err, errno == ENOENT ? CRIC_ERR_INVALID : CRIC_ERR_INTERNAL,
                            "sysctl %.80s: %s", key, strerror(errno));
    size_t len = strlen(value);
    if (write(fd, value, len) != (ssize_t)len)
        return cric_err_set(err, errno == EINVAL ? CRIC_ERR_INVALID : CRIC_ERR_INTERNAL,
                            "sysctl %.80s=%.80s: %s", key, value, strerror(errno));
    return 0;
}

typedef struct ns_job {
    const nspin_request *req;
    cric_err err;
    int rc;
} ns_job;

/* Runs on its own thread: unshare only changes this thread's namespaces, and
 * the thread ends right after, so no other code ever runs inside them. */
static void *ns_thread(void *arg)
{
    ns_job *job = arg;
    const nspin_request *req = job->req;
    cric_err *err = &job->err;
    job->rc = -1;
    int flags = (req->net ? CLONE_NEWNET : 0) | (req->ipc ? CLONE_NEWIPC : 0) |
                (req->uts ? CLONE_NEWUTS : 0);
    if (unshare(flags) < 0) {
        cric_err_errno(err, errno, "unshare namespaces");
        return NULL;
    }
    if (req->uts && req->hostname && req->hostname[0] &&
        sethostname(req->hostname, strlen(req->hostname)) < 0) {
        cric_err_errno(err, errno, "sethostname %s", req->hostname);
        return NULL;
    }
    if (req->net && bring_lo_up(err) < 0)
        return NULL;
    bool want[3] = {req->net, req->ipc, req->uts};
    for (int i = 0; i < 3; i++) {
        if (!want[i])
            continue;
        char pin[4096], src[64];
        snprintf(pin, sizeof(pin), "%s/%s", req->ns_dir, ns_names[i]);
        snprintf(src, sizeof(src), "/proc/thread-self/ns/%s", ns_names[i]);
        if (make_pin_file(pin, err) < 0)
            return NULL;
        if (mount(src, pin, NULL, MS_BIND, NULL) < 0) {
            cric_err_errno(err, errno, "namespace pin %s: bind mount", pin);
            return NULL;
        }
    }
    job->rc = 0;
    return NULL;
}

int nspin_create(const nspin_request *req, cric_err *err)
{
    if (!req->net && !req->ipc && !req->uts)
        return 0;
    ns_job job = {.req = req};
    pthread_t t;
    int e = pthread_create(&t, NULL, ns_thread, &job);
    if (e != 0)
        return cric_err_errno(err, e, "namespaces: start thread");
    pthread_join(t, NULL);
    if (job.rc < 0) {
        *err = job.err;
        for (int i = 0; i < 3; i++) {
            char pin[4096];
            snprintf(pin, sizeof(pin), "%s/%s", req->ns_dir, ns_names[i]);
            nspin_release(pin, NULL);
        }
        return -1;
    }
    return 0;
}

typedef struct sysctl_job {
    const char *ns[3]; /* net, ipc, uts */
    const pod_kv *kv;
    size_t n;
    cric_err err;
    int rc;
} sysctl_job;

static void *sysctl_thread(void *arg)
{
    sysctl_job *job = arg;
    static const int types[3] = {CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS};
    job->rc = -1;
    for (int i = 0; i < 3; i++) {
        if (!job->ns[i] || !job->ns[i][0])
            continue;
        int fd = open(job->ns[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, types[i]) < 0) {
            cric_err_errno(&job->err, errno, "sysctls: join %s", job->ns[i]);
            if (fd >= 0)
                close(fd);
            return NULL;
        }
        close(fd);
    }
    for (size_t i = 0; i < job->n; i++)
        if (write_sysctl(job->kv[i].key, job->kv[i].value, &job->err) < 0)
            return NULL;
    job->rc = 0;
    return NULL;
}

int nspin_sysctls(const char *netns, const char *ipcns, const char *utsns, const pod_kv *kv,
                  size_t n, cric_err *err)
{
    if (n == 0)
        return 0;
    sysctl_job job = {.ns = {netns, ipcns, utsns}, .kv = kv, .n = n};
    pthread_t t;
    int e = pthread_create(&t, NULL, sysctl_thread, &job);
    if (e != 0)
        return cric_err_errno(err, e, "sysctls: start thread");
    pthread_join(t, NULL);
    if (job.rc < 0) {
        *err = job.err;
        return -1;
    }
    return 0;
}

int nspin_pin_proc(pid_t pid, const char *name, const char *path, cric_err *err)
{
    char src[64];
    snprintf(src, sizeof(src), "/proc/%d/ns/%s", (int)pid, name);
    if (make_pin_file(path, err) < 0)
        return -1;
    if (mount(src, path, NULL, MS_BIND, NULL) < 0) {
        int e = errno;
        unlink(path);
        return cric_err_errno(err, e, "namespace pin %s: bind mount %s", path, src);
    }
    return 0;
}

/* True when path is a mount point (its own mount id differs from its parent's). */
static bool is_mount_point(const char *path)
{
    struct stat a, b;
    char parent[4096];
    snprintf(parent, sizeof(parent), "%s/..", path);
    if (stat(path, &a) < 0 || stat(parent, &b) < 0)
        return false;
    if (a.st_dev != b.st_dev)
        return true;
    /* Same device: a bind mount of a dir onto itself. Check mountinfo. */
    _cleanup_free_ char *text = NULL;
    size_t len;
    if (fs_read_file("/proc/self/mountinfo", 4u << 20, &text, &len, NULL) < 0)
        return false;
    char needle[4200];
    snprintf(needle, sizeof(needle), " %s ", path);
    for (char *s = NULL, *l = strtok_r(text, "\n", &s); l; l = strtok_r(NULL, "\n", &s)) {
        /* field 5 is the mount point */
        char *p = l;
        for (int i = 0; i < 4 && p; i++) {
            p = strchr(p, ' ');
            if (p)
                p++;
        }
        if (p && strncmp(p - 1, needle, strlen(needle)) == 0)
            return true;
    }
    return false;
}

int nspin_private_mount(const char *dir, cric_err *err)
{
    if (fs_mkdir_p(dir, 0711, err) < 0)
        return -1;
    if (!is_mount_point(dir) && mount(dir, dir, NULL, MS_BIND | MS_REC, NULL) < 0)
        return cric_err_errno(err, errno, "%s: bind mount onto itself", dir);
    if (mount(NULL, dir, NULL, MS_PRIVATE, NULL) < 0)
        return cric_err_errno(err, errno, "%s: make private", dir);
    return 0;
}

void nspin_private_unmount(const char *dir)
{
    umount2(dir, MNT_DETACH);
}

int nspin_mount_shm(const char *dir, unsigned long long size, cric_err *err)
{
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return cric_err_errno(err, errno, "shm %s: mkdir", dir);
    char opts[64];
    snprintf(opts, sizeof(opts), "mode=1777,size=%llu", size);
    if (mount("shm", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0)
        return cric_err_errno(err, errno, "shm %s: mount tmpfs", dir);
    return 0;
}

int nspin_unmount(const char *dir, cric_err *err)
{
    for (int i = 0; i < 8; i++) {
        if (umount2(dir, MNT_DETACH | UMOUNT_NOFOLLOW) < 0) {
            if (errno == EINVAL || errno == ENOENT)
                return 0;
            return cric_err_errno(err, errno, "%s: unmount", dir);
        }
    }
    return 0;
}
