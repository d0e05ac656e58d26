#include "stats/fsusage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/log.h"

#define WALK_DEPTH_MAX 256
#define FS_CACHE_MAX 4096 /* entries; the oldest-used is dropped beyond this */

static int64_t now_ns(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct walk {
    dev_t dev;
    stats_fs_usage *u;
};

static void count(struct walk *w, const struct stat *st)
{
    w->u->inodes_used++;
    /* A file with several hard links is shared: each name carries its share. */
    if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
        w->u->used_bytes += (uint64_t)st->st_blocks * 512 / st->st_nlink;
        return;
    }
    w->u->used_bytes += (uint64_t)st->st_blocks * 512;
}

/* Takes ownership of dfd. */
static void walk_dir(struct walk *w, int dfd, int depth)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue; /* vanished meanwhile */
        if (st.st_dev != w->dev)
            continue; /* a mount point: another file system */
        count(w, &st);
        if (S_ISDIR(st.st_mode) && depth < WALK_DEPTH_MAX) {
            int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                walk_dir(w, sub, depth + 1);
        }
    }
    closedir(d);
}

int stats_fs_walk(const char *dir, stats_fs_usage *out, cric_err *err)
{
    memset(out, 0, sizeof(*out));
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return cric_err_set(err, e == ENOENT ? CRIC_ERR_NOT_FOUND : CRIC_ERR_INTERNAL,
                            "directory %s: %s", dir, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return cric_err_errno(err, e, "directory %s: stat", dir);
    }
    out->timestamp_ns = now_ns(CLOCK_REALTIME);
    struct walk w = {.dev = st.st_dev, .u = out};
    count(&w, &st);
    walk_dir(&w, fd, 0);
    return 0;
}

/* ------------------------------------------------------------- cache */

typedef struct fs_entry {
    char *dir;
    stats_fs_usage u;
    int64_t walked_mono; /* when u was computed */
    int64_t used_mono;   /* last get */
    bool queued;
    struct fs_entry *next;
} fs_entry;

struct stats_fs_cache {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool stop;
    unsigned refresh_ms;
    fs_entry *entries;
    size_t n;
};

static fs_entry *find(stats_fs_cache *c, const char *dir)
{
    for (fs_entry *e = c->entries; e; e = e->next)
        if (strcmp(e->dir, dir) == 0)
            return e;
    return NULL;
}

static void entry_free(fs_entry *e)
{
    free(e->dir);
    free(e);
}

static void *refresher(void *arg)
{
    stats_fs_cache *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        fs_entry *job = NULL;
        for (fs_entry *e = c->entries; e; e = e->next)
            if (e->queued) {
                job = e;
                break;
            }
        if (!job) {
            pthread_cond_wait(&c->cv, &c->mu);
            continue;
        }
        char *dir = strdup(job->dir);
        if (!dir) {
            job->queued = false;
            continue;
        }
        pthread_mutex_unlock(&c->mu);
        stats_fs_usage u;
        cric_err err = {0};
        int rc = stats_fs_walk(dir, &u, &err);
        pthread_mutex_lock(&c->mu);
        fs_entry *e = find(c, dir); /* may have been forgotten meanwhile */
        if (e) {
            e->queued = false;
            e->walked_mono = now_ns(CLOCK_MONOTONIC);
            if (rc == 0)
                e->u = u;
        }
        if (rc < 0)
            log_debug("stats", "fs usage %s: %s", dir, err.msg);
        free(dir);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int stats_fs_cache_new(stats_fs_cache **out, unsigned refresh_ms, cric_err *err)
{
    stats_fs_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->refresh_ms = refresh_ms;
    int e = pthread_create(&c->thread, NULL, refresher, c);
    if (e) {
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        free(c);
        return cric_err_errno(err, e, "fs usage refresher thread");
    }
    *out = c;
    return 0;
}

void stats_fs_cache_free(stats_fs_cache *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stop = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    while (c->entries) {
        fs_entry *e = c->entries;
        c->entries = e->next;
        entry_free(e);
    }
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static void drop_lru(stats_fs_cache *c)
{
    fs_entry **victim = NULL;
    for (fs_entry **pp = &c->entries; *pp; pp = &(*pp)->next)
        if (!(*pp)->queued && (!victim || (*pp)->used_mono < (*victim)->used_mono))
            victim = pp;
    if (victim) {
        fs_entry *e = *victim;
        *victim = e->next;
        entry_free(e);
        c->n--;
    }
}

int stats_fs_cache_get(stats_fs_cache *c, const char *dir, stats_fs_usage *out, cric_err *err)
{
    int64_t now = now_ns(CLOCK_MONOTONIC);
    pthread_mutex_lock(&c->mu);
    fs_entry *e = find(c, dir);
    if (e) {
        e->used_mono = now;
        *out = e->u;
        if (!e->queued && now - e->walked_mono > (int64_t)c->refresh_ms * 1000000) {
            e->queued = true;
            pthread_cond_signal(&c->cv);
        }
        pthread_mutex_unlock(&c->mu);
        return 0;
    }
    pthread_mutex_unlock(&c->mu);

    stats_fs_usage u;
    if (stats_fs_walk(dir, &u, err) < 0)
        return -1;
    *out = u;
    fs_entry *ne = calloc(1, sizeof(*ne));
    if (!ne || !(ne->dir = strdup(dir))) {
        free(ne);
        return 0; /* the value is right; it just is not cached */
    }
    ne->u = u;
    ne->walked_mono = ne->used_mono = now_ns(CLOCK_MONOTONIC);
    pthread_mutex_lock(&c->mu);
    if (find(c, dir)) { /* another caller won the race */
        pthread_mutex_unlock(&c->mu);
        entry_free(ne);
        return 0;
    }
    if (c->n >= FS_CACHE_MAX)
        drop_lru(c);
    ne->next = c->entries;
    c->entries = ne;
    c->n++;
    pthread_mutex_unlock(&c->mu);
    return 0;
}

void stats_fs_cache_forget(stats_fs_cache *c, const char *dir)
{
    pthread_mutex_lock(&c->mu);
    for (fs_entry **pp = &c->entries; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->dir, dir) == 0) {
            fs_entry *e = *pp; /* a running walk finds it gone and drops its result */
            *pp = e->next;
            entry_free(e);
            c->n--;
            break;
        }
    }
    pthread_mutex_unlock(&c->mu);
}
