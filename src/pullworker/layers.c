/* The shared layer store: layers/<chain-hex>/{fs,stats}, each unpacked once
 * (concurrent pulls wait for the one doing it), collected when unused. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image/service.h"
#include "image/unpack.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/ids.h"
#include "util/log.h"

#define LAYER_ATTEMPTS 3

static key_count *kc_find(key_count *v, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].key, key) == 0)
            return &v[i];
    return NULL;
}

static void kc_add(key_count **v, size_t *n, size_t *cap, const char *key)
{
    key_count *k = kc_find(*v, *n, key);
    if (k) {
        k->count++;
        return;
    }
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        key_count *nv = realloc(*v, nc * sizeof(*nv));
        if (!nv)
            abort(); /* tiny allocation; out of memory here is fatal */
        *v = nv;
        *cap = nc;
    }
    snprintf((*v)[*n].key, sizeof((*v)[*n].key), "%s", key);
    (*v)[*n].count = 1;
    (*n)++;
}

static void kc_drop(key_count *v, size_t *n, const char *key)
{
    key_count *k = kc_find(v, *n, key);
    if (!k || --k->count > 0)
        return;
    *k = v[--(*n)];
}

void pins_add(image_service *s, char **chains, size_t n)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < n; i++)
        kc_add(&s->pins, &s->n_pins, &s->cap_pins, chains[i]);
    pthread_mutex_unlock(&s->mu);
}

void pins_drop(image_service *s, char **chains, size_t n)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < n; i++)
        kc_drop(s->pins, &s->n_pins, chains[i]);
    pthread_mutex_unlock(&s->mu);
}

int content_put(image_service *s, const char *digest, const void *data, size_t len, cric_err *err)
{
    char got[DIGEST_STR_LEN + 1];
    digest_buf(data, len, got);
    if (strcmp(got, digest) != 0)
        return cric_err_set(err, CRIC_ERR_INVALID, "content %s: digest mismatch (got %s)", digest,
                            got);
    char path[IMAGE_PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", s->content_dir, digest + 7);
    struct stat st;
    if (stat(path, &st) == 0 && (size_t)st.st_size == len)
        return 0;
    char rnd[CRIC_ID_LEN + 1];
    id_random_hex(rnd);
    char tmp[IMAGE_PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s/%.16s-%.16s", s->tmp_dir, digest + 7, rnd);
    _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return cric_err_errno(err, errno, "content %s: create %s", digest, tmp);
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int e = errno;
            unlink(tmp);
            return cric_err_errno(err, e, "content %s: write", digest);
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) < 0 || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return cric_err_errno(err, e, "content %s: commit", digest);
    }
    fs_fsync_dir(s->content_dir);
    return 0;
}

void content_collect(image_service *s)
{
    char **keep = NULL;
    size_t n = 0;
    cric_err err = {0};
    if (image_store_digests(s->db, &keep, &n, &err) < 0) {
        log_warn("image", "content collection: %s", err.msg);
        return;
    }
    DIR *d = opendir(s->content_dir);
    struct dirent *de;
    time_t now = time(NULL);
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.' || strlen(de->d_name) != 64)
            continue;
        bool used = false;
        for (size_t i = 0; i < n && !used; i++)
            used = strncmp(keep[i], "sha256:", 7) == 0 && strcmp(keep[i] + 7, de->d_name) == 0;
        struct stat st;
        if (used || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            now - st.st_mtime < 60)
            continue;
        if (unlinkat(dirfd(d), de->d_name, 0) == 0)
            log_debug("image", "removed unused blob sha256:%s", de->d_name);
    }
    if (d)
        closedir(d);
    image_store_strv_free(keep, n);
}

/* ------------------------------------------------------------ one layer */

typedef struct producer {
    layer_source_fn src;
    void *ud;
    const oci_desc *d;
    int fd;
    bool wrote;
    int rc;
    cric_err err;
} producer;

static void *produce_thread(void *arg)
{
    producer *p = arg;
    p->rc = p->src(p->ud, p->d, p->fd, &p->wrote, &p->err);
    shutdown(p->fd, SHUT_WR);
    close(p->fd);
    return NULL;
}

static int read_stats(image_service *s, const char *hex, image_layer_row *row)
{
    char path[IMAGE_PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s/stats", s->layers_dir, hex);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    unsigned long long b = 0, i = 0;
    char diff[DIGEST_STR_LEN + 2] = "";
    int n = fscanf(f, "%llu %llu %72s", &b, &i, diff);
    fclose(f);
    if (n < 2)
        return -1;
    row->bytes = b;
    row->inodes = i;
    return 0;
}

/* One attempt: unpack into a fresh temporary directory and rename it in. */
static int unpack_once(image_service *s, const oci_desc *d, const char *diff_id,
                       const char *chain_hex, layer_source_fn src, void *ud, image_layer_row *row,
                       bool *retryable, cric_err *err)
{
    *retryable = false;
    char rnd[CRIC_ID_LEN + 1];
    id_random_hex(rnd);
    char tmpname[128];
    snprintf(tmpname, sizeof(tmpname), ".tmp-%.16s-%.16s", chain_hex, rnd);
    if (mkdirat(s->layers_fd, tmpname, 0700) < 0)
        return cric_err_errno(err, errno, "layer %s: mkdir", d->digest);
    char fsrel[160];
    snprintf(fsrel, sizeof(fsrel), "%s/fs", tmpname);
    int rc = -1;
    _cleanup_close_ int rootfd = -1;
    int sv[2] = {-1, -1};
    if (mkdirat(s->layers_fd, fsrel, 0755) < 0 ||
        (rootfd = openat(s->layers_fd, fsrel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) <
            0) {
        cric_err_errno(err, errno, "layer %s: mkdir fs", d->digest);
        goto out;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        cric_err_errno(err, errno, "layer %s: socketpair", d->digest);
        goto out;
    }
    int bufsz = 1 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
    producer p = {.src = src, .ud = ud, .d = d, .fd = sv[1]};
    pthread_t th;
    if (pthread_create(&th, NULL, produce_thread, &p) != 0) {
        close(sv[0]);
        close(sv[1]);
        cric_err_set(err, CRIC_ERR_RESOURCE, "layer %s: cannot start a download thread", d->digest);
        goto out;
    }
    unpack_stats st;
    cric_err uerr = {0};
    int urc = layer_unpack_fd(sv[0], rootfd, d->digest, &st, &uerr);
    close(sv[0]); /* a producer still writing gets EPIPE */
    pthread_join(th, NULL);
    if (p.rc < 0) {
        /* A consumer that stopped early makes the producer fail: report why. */
        bool consumer_gone = urc < 0 && strstr(p.err.msg, "consumer");
        *err = consumer_gone ? uerr : p.err;
        *retryable = !consumer_gone &&
                     (p.err.kind == CRIC_ERR_UNAVAILABLE || p.err.kind == CRIC_ERR_TIMEOUT);
        goto out;
    }
    if (urc < 0) {
        *err = uerr;
        goto out;
    }
    if (strcmp(st.diff_id, diff_id) != 0) {
        cric_err_set(err, CRIC_ERR_INVALID,
                     "layer %s: uncompressed content %s does not match the config's diff id %s",
                     d->digest, st.diff_id, diff_id);
        goto out;
    }
    char stats[256];
    int sl = snprintf(stats, sizeof(stats), "%" PRIu64 " %" PRIu64 " %s\n", st.bytes, st.inodes,
                      st.diff_id);
    char statsrel[160];
    snprintf(statsrel, sizeof(statsrel), "%s/stats", tmpname);
    {
        _cleanup_close_ int sfd =
            openat(s->layers_fd, statsrel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (sfd < 0 || write(sfd, stats, (size_t)sl) != sl) {
            cric_err_errno(err, errno, "layer %s: write stats", d->digest);
            goto out;
        }
    }
    /* Content first, then the name: a crash never leaves a half layer visible. */
    if (syncfs(rootfd) < 0) {
        cric_err_errno(err, errno, "layer %s: syncfs", d->digest);
        goto out;
    }
    if (renameat(s->layers_fd, tmpname, s->layers_fd, chain_hex) < 0) {
        if (errno == ENOTEMPTY || errno == EEXIST) {
            rc = 0; /* someone else finished it first */
            read_stats(s, chain_hex, row);
            goto out;
        }
        cric_err_errno(err, errno, "layer %s: rename into place", d->digest);
        goto out;
    }
    fsync(s->layers_fd);
    row->bytes = st.bytes;
    row->inodes = st.inodes;
    rc = 0;
    tmpname[0] = '\0';
out:
    if (tmpname[0])
        fs_rm_at(s->layers_fd, tmpname);
    return rc;
}

int layer_ensure(image_service *s, const oci_desc *d, const char *diff_id, const char *chain_id,
                 layer_source_fn src, void *ud, image_layer_row *row, cric_err *err)
{
    const char *hex = chain_id + 7;
    snprintf(row->chain_id, sizeof(row->chain_id), "%s", chain_id);
    snprintf(row->diff_id, sizeof(row->diff_id), "%s", diff_id);
    row->bytes = row->inodes = 0;

    pthread_mutex_lock(&s->mu);
    while (kc_find(s->busy, s->n_busy, chain_id))
        pthread_cond_wait(&s->cond, &s->mu);
    struct stat st;
    if (fstatat(s->layers_fd, hex, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
        pthread_mutex_unlock(&s->mu);
        if (read_stats(s, hex, row) < 0)
            log_warn("image", "layer %s: stats missing", chain_id);
        log_debug("image", "layer %s already present", chain_id);
        return 0;
    }
    kc_add(&s->busy, &s->n_busy, &s->cap_busy, chain_id);
    pthread_mutex_unlock(&s->mu);

    int rc = -1;
    for (int attempt = 1; attempt <= LAYER_ATTEMPTS; attempt++) {
        bool retryable = false;
        rc = unpack_once(s, d, diff_id, hex, src, ud, row, &retryable, err);
        if (rc == 0 || !retryable || attempt == LAYER_ATTEMPTS)
            break;
        log_warn("image", "%s (attempt %d of %d, retrying)", err->msg, attempt, LAYER_ATTEMPTS);
        usleep(250000u * (unsigned)attempt);
    }

    pthread_mutex_lock(&s->mu);
    kc_drop(s->busy, &s->n_busy, chain_id);
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void layers_collect(image_service *s)
{
    pthread_mutex_lock(&s->mu);
    char **unused = NULL;
    size_t n = 0;
    cric_err err = {0};
    if (image_store_unused_layers(s->db, &unused, &n, &err) < 0)
        log_warn("image", "layer collection: %s", err.msg);
    for (size_t i = 0; i < n; i++) {
        if (kc_find(s->pins, s->n_pins, unused[i]) || kc_find(s->busy, s->n_busy, unused[i]))
            continue;
        if (image_store_layer_delete(s->db, unused[i], &err) < 0) {
            log_warn("image", "layer %s: %s", unused[i], err.msg);
            continue;
        }
        if (strlen(unused[i]) == DIGEST_STR_LEN && fs_rm_at(s->layers_fd, unused[i] + 7) < 0)
            log_warn("image", "layer %s: remove: %m", unused[i]);
        else
            log_debug("image", "removed unused layer %s", unused[i]);
    }
    image_store_strv_free(unused, n);
    pthread_mutex_unlock(&s->mu);
}

void layers_discard_unrecorded(image_service *s, char **chains, size_t n)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < n; i++) {
        key_count *pin = kc_find(s->pins, s->n_pins, chains[i]);
        if ((pin && pin->count > 1) || kc_find(s->busy, s->n_busy, chains[i]) ||
            image_store_layer_known(s->db, chains[i]))
            continue;
        if (fs_rm_at(s->layers_fd, chains[i] + 7) == 0)
            log_debug("image", "discarded unrecorded layer %s", chains[i]);
    }
    pthread_mutex_unlock(&s->mu);
}
