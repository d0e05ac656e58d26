#include "util/sealed_exe.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"

#define SEALED_EXE_MAX (64 << 20)
#define SEALED_EXE_COPIES 32
/* what crun's and runc's is_self_cloned() require */
#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

struct sealed_copy {
    char *path;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    int fd;
    bool current; /* the copy handed out for path */
};

struct sealed_exes {
    pthread_mutex_t mu;
    struct sealed_copy copies[SEALED_EXE_COPIES];
    size_t n;
};

sealed_exes *sealed_exes_new(void)
{
    sealed_exes *c = calloc(1, sizeof(*c));
    if (c)
        pthread_mutex_init(&c->mu, NULL);
    return c;
}

void sealed_exes_free(sealed_exes *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->copies[i].path);
        close(c->copies[i].fd);
    }
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static bool same_file(const struct sealed_copy *k, const struct stat *st)
{
    return k->dev == st->st_dev && k->ino == st->st_ino && k->size == st->st_size &&
           k->mtime.tv_sec == st->st_mtim.tv_sec && k->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* A sealed memfd holding the file's bytes, or -1. */
static int copy_sealed(int src, const struct stat *st)
{
    char magic[4];
    if (pread(src, magic, sizeof(magic), 0) != (ssize_t)sizeof(magic) ||
        memcmp(magic, "\177ELF", 4) != 0)
        return -1; /* a script needs its path: the interpreter opens it */
    int fd = memfd_create("cric-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -1;
    off_t off = 0;
    while (off < st->st_size) {
        ssize_t n = sendfile(fd, src, &off, (size_t)(st->st_size - off));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return -1;
        }
    }
    if (fchmod(fd, 0555) < 0 || fcntl(fd, F_ADD_SEALS, SEALS) < 0) {
        close(fd);
        return -1;
    }
    /* Clear of the low numbers a child's stdio and sync fds are moved to. */
    int high = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    close(fd);
    return high;
}

int sealed_exes_fd(sealed_exes *c, const char *path)
{
    if (!c || !path || path[0] != '/')
        return -1;
    _cleanup_close_ int src = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (src < 0 || fstat(src, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 4 ||
        st.st_size > SEALED_EXE_MAX || !(st.st_mode & S_IXUSR))
        return -1;
    pthread_mutex_lock(&c->mu);
    int fd = -1;
    struct sealed_copy *cur = NULL;
    for (size_t i = 0; i < c->n; i++)
        if (c->copies[i].current && strcmp(c->copies[i].path, path) == 0)
            cur = &c->copies[i];
    if (cur && same_file(cur, &st)) {
        fd = cur->fd;
    } else if (c->n < SEALED_EXE_COPIES) {
        /* The stat above and the copy read the same open file: a rename
         * onto path in between is seen on the next call. */
        int copy = copy_sealed(src, &st);
        char *p = copy >= 0 ? strdup(path) : NULL;
        if (p) {
            if (cur)
                cur->current = false;
            c->copies[c->n++] = (struct sealed_copy){.path = p,
                                                     .dev = st.st_dev,
                                                     .ino = st.st_ino,
                                                     .size = st.st_size,
                                                     .mtime = st.st_mtim,
                                                     .fd = copy,
                                                     .current = true};
            fd = copy;
        } else if (copy >= 0) {
            close(copy);
        }
    }
    pthread_mutex_unlock(&c->mu);
    return fd;
}

void sealed_exe_path(int fd, char *out, size_t cap)
{
    snprintf(out, cap, "/proc/self/fd/%d", fd);
}
