#include "stats/netdev.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"

#define NETDEV_TEXT_MAX (64 * 1024)

int stats_netdev_parse(const char *text, stats_netdev *out, size_t max, cric_err *err)
{
    size_t n = 0;
    int line_no = 0;
    for (const char *p = text; p && *p; line_no++) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        const char *line = p;
        p = nl ? nl + 1 : NULL;
        if (line_no < 2 || len == 0) /* two header lines */
            continue;
        char buf[512];
        if (len >= sizeof(buf))
            return cric_err_set(err, CRIC_ERR_INTERNAL, "/proc/net/dev: line %d too long",
                                line_no + 1);
        memcpy(buf, line, len);
        buf[len] = '\0';
        char *colon = strchr(buf, ':');
        if (!colon)
            return cric_err_set(err, CRIC_ERR_INTERNAL, "/proc/net/dev: line %d has no ':'",
                                line_no + 1);
        *colon = '\0';
        char *name = buf;
        while (*name == ' ')
            name++;
        if (!*name || strlen(name) >= STATS_IFNAME_MAX)
            return cric_err_set(err, CRIC_ERR_INTERNAL, "/proc/net/dev: bad interface name");
        unsigned long long v[16];
        int got = sscanf(colon + 1,
                         "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu "
                         "%llu %llu",
                         &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9],
                         &v[10], &v[11], &v[12], &v[13], &v[14], &v[15]);
        if (got != 16)
            return cric_err_set(err, CRIC_ERR_INTERNAL,
                                "/proc/net/dev: interface %s has %d fields, want 16", name, got);
        if (strcmp(name, "lo") == 0 || n == max)
            continue;
        stats_netdev *d = &out[n++];
        memset(d, 0, sizeof(*d));
        memcpy(d->name, name, strlen(name) + 1);
        /* receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes
         * packets errs ... */
        d->rx_bytes = v[0];
        d->rx_errors = v[2];
        d->tx_bytes = v[8];
        d->tx_errors = v[10];
    }
    return (int)n;
}

const stats_netdev *stats_netdev_default(const stats_netdev *devs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(devs[i].name, name) == 0)
            return &devs[i];
    return n ? &devs[0] : NULL;
}

struct netns_job {
    const char *path;
    char *text;
    cric_err err;
    int rc;
};

/* Runs in its own thread: joins the namespace (only this thread's), reads the
 * per-thread view of /proc/net/dev, and exits with the thread. */
static void *netns_reader(void *arg)
{
    struct netns_job *j = arg;
    j->rc = -1;
    _cleanup_close_ int ns = open(j->path, O_RDONLY | O_CLOEXEC);
    if (ns < 0) {
        int e = errno;
        cric_err_set(&j->err, e == ENOENT ? CRIC_ERR_NOT_FOUND : CRIC_ERR_INTERNAL,
                     "network namespace %s: %s", j->path, strerror(e));
        return NULL;
    }
    if (setns(ns, CLONE_NEWNET) < 0) {
        cric_err_errno(&j->err, errno, "network namespace %s: setns", j->path);
        return NULL;
    }
    _cleanup_close_ int fd = open("/proc/thread-self/net/dev", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cric_err_errno(&j->err, errno, "network namespace %s: open /proc/net/dev", j->path);
        return NULL;
    }
    char *buf = malloc(NETDEV_TEXT_MAX);
    if (!buf) {
        cric_err_set(&j->err, CRIC_ERR_RESOURCE, "out of memory");
        return NULL;
    }
    size_t off = 0;
    for (;;) {
        ssize_t r = read(fd, buf + off, NETDEV_TEXT_MAX - 1 - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            cric_err_errno(&j->err, errno, "network namespace %s: read /proc/net/dev", j->path);
            free(buf);
            return NULL;
        }
        if (r == 0 || off + (size_t)r >= NETDEV_TEXT_MAX - 1) {
            off += (size_t)r;
            break;
        }
        off += (size_t)r;
    }
    buf[off] = '\0';
    j->text = buf;
    j->rc = 0;
    return NULL;
}

int stats_netdev_read_netns(const char *netns_path, stats_netdev *out, size_t max, cric_err *err)
{
    if (!netns_path || netns_path[0] != '/')
        return cric_err_set(err, CRIC_ERR_INVALID, "network namespace path \"%s\" is not absolute",
                            netns_path ? netns_path : "");
    struct netns_job job = {.path = netns_path};
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 128 * 1024);
    int e = pthread_create(&t, &attr, netns_reader, &job);
    pthread_attr_destroy(&attr);
    if (e)
        return cric_err_errno(err, e, "network namespace %s: thread", netns_path);
    pthread_join(t, NULL);
    if (job.rc < 0) {
        *err = job.err;
        return -1;
    }
    int n = stats_netdev_parse(job.text, out, max, err);
    free(job.text);
    return n;
}
