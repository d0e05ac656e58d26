/* The helper's half of committing an image: blobs into content/sha256, each
 * missing layer unpacked once into layers/<chain-hex> (bounded parallelism),
 * and the conversation with the daemon that pins and records.
 *
 * Two helpers (two pulls) never unpack the same chain at once: each layer is
 * unpacked under an OFD write lock on one byte of <root>/layers.lock chosen
 * by the chain id; the kernel drops the lock when a helper dies. The second
 * helper then finds the layer present and skips it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/unpack.h"
#include "pullworker/worker.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/ids.h"
#include "util/log.h"

#define LAYER_ATTEMPTS 3
#define PARALLEL_MAX 16

int content_put(worker *w, const char *digest, const void *data, size_t len, cric_err *err)
{
    char got[DIGEST_STR_LEN + 1];
    digest_buf(data, len, got);
    if (strcmp(got, digest) != 0)
        return cric_err_set(err, CRIC_ERR_INVALID, "content %s: digest mismatch (got %s)", digest,
                            got);
    char path[WORKER_PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", w->content_dir, digest + 7);
    struct stat st;
    if (stat(path, &st) == 0 && (size_t)st.st_size == len)
        return 0;
    char tmp[WORKER_PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s/%s-%.16s", w->tmp_dir, w->job, digest + 7);
    _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return cric_err_errno(err, errno, "content %s: create %s", digest, tmp);
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            unlink(tmp);
            return cric_err_errno(err, e, "content %s: write", digest);
        }
        p += n;
        left -= (size_t)n;
    }
    if (fsync(fd) < 0 || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return cric_err_errno(err, e, "content %s: commit", digest);
    }
    fs_fsync_dir(w->content_dir);
    return 0;
}

/* ------------------------------------------------------------ one layer */

typedef struct producer {
    layer_source_fn src;
    void *ud;
    const oci_desc *d;
    int fd;
    int tee_fd;
    bool wrote;
    int rc;
    cric_err err;
} producer;

static void *produce_thread(void *arg)
{
    producer *p = arg;
    p->rc = p->src(p->ud, p->d, p->fd, p->tee_fd, &p->wrote, &p->err);
    shutdown(p->fd, SHUT_WR);
    close(p->fd);
    return NULL;
}

/* A blob already in the content store: streamed and verified again. */
static int local_source(void *ud, const oci_desc *d, int out_fd, int tee_fd, bool *wrote,
                        cric_err *err)
{
    (void)tee_fd;
    int fd = *(int *)ud;
    if (lseek(fd, 0, SEEK_SET) < 0)
        return cric_err_errno(err, errno, "content %s: seek", d->digest);
    return blob_stream_fd(fd, d, out_fd, -1, wrote, err);
}

int blob_stream_fd(int fd, const oci_desc *d, int out_fd, int tee_fd, bool *wrote, cric_err *err)
{
    _cleanup_digester_ digester *dg = digester_new();
    if (!dg)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "blob %s: out of memory", d->digest);
    char buf[128 * 1024];
    int64_t total = 0;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return cric_err_errno(err, errno, "blob %s: read", d->digest);
        if (r == 0)
            break;
        total += r;
        if (total > d->size)
            return cric_err_set(err, CRIC_ERR_INVALID, "blob %s: larger than %lld bytes", d->digest,
                                (long long)d->size);
        digester_update(dg, buf, (size_t)r);
        *wrote = true;
        int outs[2] = {out_fd, tee_fd};
        for (int k = 0; k < 2; k++) {
            const char *p = buf;
            ssize_t left = r;
            while (outs[k] >= 0 && left > 0) {
                ssize_t n = write(outs[k], p, (size_t)left);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n < 0)
                    return cric_err_errno(err, errno, "blob %s: %s", d->digest,
                                          k == 0 ? "consumer" : "content store");
                p += n;
                left -= n;
            }
        }
    }
    char got[DIGEST_STR_LEN + 1];
    digester_final(dg, got);
    if (total != d->size || strcmp(got, d->digest) != 0)
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "blob %s: digest or size mismatch (got %s, %lld bytes)", d->digest, got,
                            (long long)total);
    return 0;
}

static int read_stats(worker *w, const char *hex, uint64_t *bytes, uint64_t *inodes)
{
    char path[WORKER_PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s/stats", w->layers_dir, hex);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    unsigned long long b = 0, i = 0;
    int n = fscanf(f, "%llu %llu", &b, &i);
    fclose(f);
    if (n < 2)
        return -1;
    *bytes = b;
    *inodes = i;
    return 0;
}

typedef struct layer_out {
    uint64_t bytes, inodes;
} layer_out;

/* One attempt: unpack into a fresh temporary directory (keeping the
 * compressed blob when it came from src) and rename both into place. */
static int unpack_once(worker *w, const oci_desc *d, const char *diff_id, const char *chain_hex,
                       layer_source_fn src, void *ud, layer_out *out, bool *retryable,
                       cric_err *err)
{
    *retryable = false;
    char tmpname[128], blob_tmp[WORKER_PATH_MAX] = "", blob_path[WORKER_PATH_MAX];
    snprintf(tmpname, sizeof(tmpname), ".tmp-%s-%.16s", w->job, chain_hex);
    snprintf(blob_path, sizeof(blob_path), "%s/%s", w->content_dir, d->digest + 7);
    fs_rm_at(w->layers_fd, tmpname); /* an earlier attempt's */
    if (mkdirat(w->layers_fd, tmpname, 0700) < 0)
        return cric_err_errno(err, errno, "layer %s: mkdir", d->digest);
    char fsrel[160];
    snprintf(fsrel, sizeof(fsrel), "%s/fs", tmpname);
    int rc = -1;
    _cleanup_close_ int rootfd = -1, blob_fd = -1, tee_fd = -1;
    int local_fd = -1;
    int sv[2] = {-1, -1};
    if (mkdirat(w->layers_fd, fsrel, 0755) < 0 ||
        (rootfd = openat(w->layers_fd, fsrel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) <
            0) {
        cric_err_errno(err, errno, "layer %s: mkdir fs", d->digest);
        goto out;
    }
    /* The compressed blob: from the content store when it is there already,
     * else downloaded into a temporary file beside the unpack. */
    struct stat bst;
    blob_fd = open(blob_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (blob_fd >= 0 &&
        (fstat(blob_fd, &bst) < 0 || !S_ISREG(bst.st_mode) || bst.st_size != d->size)) {
        close(blob_fd);
        blob_fd = -1;
    }
    if (blob_fd >= 0) {
        local_fd = blob_fd;
        src = local_source;
        ud = &local_fd;
    } else {
        /* Per chain: a manifest may list one blob twice (two threads). */
        snprintf(blob_tmp, sizeof(blob_tmp), "%s/%s-%.16s-%.16s", w->tmp_dir, w->job, chain_hex,
                 d->digest + 7);
        tee_fd = open(blob_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (tee_fd < 0) {
            cric_err_errno(err, errno, "layer %s: create %s", d->digest, blob_tmp);
            blob_tmp[0] = '\0';
            goto out;
        }
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        cric_err_errno(err, errno, "layer %s: socketpair", d->digest);
        goto out;
    }
    int bufsz = 1 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
    producer p = {.src = src, .ud = ud, .d = d, .fd = sv[1], .tee_fd = tee_fd};
    pthread_t th;
    if (pthread_create(&th, NULL, produce_thread, &p) != 0) {
        close(sv[0]);
        close(sv[1]);
        cric_err_set(err, CRIC_ERR_RESOURCE, "layer %s: cannot start a download thread", d->digest);
        goto out;
    }
    unpack_limits lim = {.max_bytes = w->max_layer_bytes,
                         .max_bytes_name = "image_pull.max_layer_bytes",
                         .total = &w->image_bytes,
                         .max_total = w->max_image_bytes,
                         .max_total_name = "image_pull.max_image_bytes",
                         .devices = w->devices};
    unpack_stats st;
    cric_err uerr = {0};
    int urc = layer_unpack_fd(sv[0], rootfd, d->digest, &lim, &st, &uerr);
    close(sv[0]); /* a producer still writing gets EPIPE */
    pthread_join(th, NULL);
    if (p.rc < 0) {
        /* A consumer that stopped early makes the producer fail: report why. */
        bool consumer_gone = urc < 0 && strstr(p.err.msg, "consumer");
        *err = consumer_gone ? uerr : p.err;
        *retryable = !consumer_gone &&
                     (p.err.kind == CRIC_ERR_UNAVAILABLE || p.err.kind == CRIC_ERR_TIMEOUT);
        if (local_fd >= 0 && !consumer_gone) {
            /* A damaged local copy: drop it and fetch the blob again. */
            unlink(blob_path);
            *retryable = true;
        }
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
            openat(w->layers_fd, statsrel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (sfd < 0 || write(sfd, stats, (size_t)sl) != sl) {
            cric_err_errno(err, errno, "layer %s: write stats", d->digest);
            goto out;
        }
    }
    /* Content first, then the names: a crash never leaves a half layer or
     * blob visible. One syncfs covers the layer and the blob (same root). */
    if (syncfs(rootfd) < 0 || (tee_fd >= 0 && fsync(tee_fd) < 0)) {
        cric_err_errno(err, errno, "layer %s: sync", d->digest);
        goto out;
    }
    if (blob_tmp[0]) {
        if (rename(blob_tmp, blob_path) < 0) {
            cric_err_errno(err, errno, "layer %s: rename blob into place", d->digest);
            goto out;
        }
        blob_tmp[0] = '\0';
        fs_fsync_dir(w->content_dir);
    }
    if (renameat(w->layers_fd, tmpname, w->layers_fd, chain_hex) < 0) {
        cric_err_errno(err, errno, "layer %s: rename into place", d->digest);
        goto out;
    }
    fsync(w->layers_fd);
    out->bytes = st.bytes;
    out->inodes = st.inodes;
    rc = 0;
    tmpname[0] = '\0';
out:
    if (tmpname[0])
        fs_rm_at(w->layers_fd, tmpname);
    if (blob_tmp[0])
        unlink(blob_tmp);
    return rc;
}

/* Holds the byte of layers.lock that stands for chain_hex (OFD lock: per open
 * file, so that threads of this helper exclude each other too). */
static int lock_chain(worker *w, const char *chain_hex, cric_err *err)
{
    int fd = open(w->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return cric_err_errno(err, errno, "layer lock %s", w->lock_path);
    unsigned long long slot =
        strtoull((char[9]){chain_hex[0], chain_hex[1], chain_hex[2], chain_hex[3], chain_hex[4],
                           chain_hex[5], chain_hex[6], chain_hex[7], 0},
                 NULL, 16);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = (off_t)slot, .l_len = 1};
    while (fcntl(fd, F_OFD_SETLKW, &fl) < 0) {
        if (errno == EINTR)
            continue;
        int e = errno;
        close(fd);
        return cric_err_errno(err, e, "layer lock %s", w->lock_path);
    }
    return fd; /* closing it unlocks */
}

static int layer_ensure(worker *w, const oci_desc *d, const char *diff_id, const char *chain_id,
                        layer_source_fn src, void *ud, layer_out *out, cric_err *err)
{
    const char *hex = chain_id + 7;
    _cleanup_close_ int lock = lock_chain(w, hex, err);
    if (lock < 0)
        return -1;
    struct stat st;
    if (fstatat(w->layers_fd, hex, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
        if (read_stats(w, hex, &out->bytes, &out->inodes) < 0)
            log_warn("image", "layer %s: stats missing", chain_id);
        log_debug("image", "layer %s already present", chain_id);
        return 0;
    }
    int rc = -1;
    for (int attempt = 1; attempt <= LAYER_ATTEMPTS; attempt++) {
        bool retryable = false;
        rc = unpack_once(w, d, diff_id, hex, src, ud, out, &retryable, err);
        if (rc == 0 || !retryable || attempt == LAYER_ATTEMPTS)
            break;
        log_warn("image", "%s (attempt %d of %d, retrying)", err->msg, attempt, LAYER_ATTEMPTS);
        usleep(250000u * (unsigned)attempt);
    }
    return rc;
}

/* ------------------------------------------------------------ one image */

typedef struct layer_job {
    worker *w;
    const worker_image *img;
    char **chains;
    char **diff_ids;
    layer_out *outs;
    size_t next;
    size_t n;
    bool failed;
    cric_err err;
    pthread_mutex_t mu;
} layer_job;

static void *layer_thread(void *arg)
{
    layer_job *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->mu);
        if (j->failed || j->next >= j->n) {
            pthread_mutex_unlock(&j->mu);
            return NULL;
        }
        size_t i = j->next++;
        pthread_mutex_unlock(&j->mu);
        cric_err err = {0};
        if (layer_ensure(j->w, &j->img->manifest->layers[i].desc, j->diff_ids[i], j->chains[i],
                         j->img->src, j->img->src_ud, &j->outs[i], &err) < 0) {
            pthread_mutex_lock(&j->mu);
            if (!j->failed) {
                j->failed = true;
                j->err = err;
            }
            pthread_mutex_unlock(&j->mu);
            return NULL;
        }
    }
}

static json_t *strv_json(char **v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static int ensure_all(worker *w, const worker_image *img, char **chains, char **diff_ids, size_t n,
                      cric_err *err)
{
    layer_out *outs = calloc(n + 1, sizeof(*outs));
    if (!outs)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "%s: out of memory", img->what);
    atomic_store(&w->image_bytes, 0);
    layer_job job = {
        .w = w, .img = img, .chains = chains, .diff_ids = diff_ids, .outs = outs, .n = n};
    pthread_mutex_init(&job.mu, NULL);
    size_t par = w->cfg.image_parallel_layers ? w->cfg.image_parallel_layers : 3;
    if (par > PARALLEL_MAX)
        par = PARALLEL_MAX;
    size_t nthreads = n < par ? n : par;
    pthread_t th[PARALLEL_MAX];
    size_t started = 0;
    for (size_t i = 1; i < nthreads; i++)
        if (pthread_create(&th[started], NULL, layer_thread, &job) == 0)
            started++;
    layer_thread(&job); /* this thread works too */
    for (size_t i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&job.mu);
    if (job.failed) {
        free(outs);
        *err = job.err;
        return cric_err_prefix(err, "%s: ", img->what);
    }
    json_t *layers = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(layers, json_pack("{s:s, s:s, s:I, s:I}", "chain", chains[i], "diff",
                                                diff_ids[i], "bytes", (json_int_t)outs[i].bytes,
                                                "inodes", (json_int_t)outs[i].inodes));
    free(outs);
    if (worker_send(w, json_pack("{s:o}", "layers", layers), err) < 0 ||
        worker_expect(w, "recorded", err) < 0)
        return cric_err_prefix(err, "%s: ", img->what);
    return 0;
}

int worker_commit_image(worker *w, const worker_image *img, cric_err *err)
{
    json_error_t jerr;
    json_t *cfg = json_loadb(img->config_body, img->config_len, 0, &jerr);
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: image config %s: not a JSON object: %s",
                            img->what, img->config_digest, jerr.text);
    }
    char **diff_ids = NULL;
    size_t n = 0;
    int rc = config_diff_ids(cfg, &diff_ids, &n, err);
    json_decref(cfg);
    if (rc < 0)
        return cric_err_prefix(err, "%s: ", img->what);
    char **chains = calloc(n + 1, sizeof(char *));
    json_t *blobs = json_array();
    rc = 0;
    if (n != img->manifest->n_layers)
        rc = cric_err_set(err, CRIC_ERR_INVALID,
                          "%s: manifest has %zu layers but the config lists %zu diff ids",
                          img->what, img->manifest->n_layers, n);
    else if (!chains)
        rc = cric_err_set(err, CRIC_ERR_RESOURCE, "%s: out of memory", img->what);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        chains[i] = malloc(DIGEST_STR_LEN + 1);
        if (!chains[i]) {
            rc = cric_err_set(err, CRIC_ERR_RESOURCE, "%s: out of memory", img->what);
            break;
        }
        digest_chain(i ? chains[i - 1] : NULL, diff_ids[i], chains[i]);
        json_array_append_new(blobs, json_string(img->manifest->layers[i].desc.digest));
    }
    if (rc == 0) {
        uint64_t size = img->config_len;
        for (size_t i = 0; i < n; i++)
            size += (uint64_t)img->manifest->layers[i].desc.size;
        json_t *msg = json_pack("{s:{s:s, s:s, s:s, s:s%, s:o, s:o, s:I, s:s, s:s}}", "image",
                                "what", img->what, "id", img->config_digest, "manifest_digest",
                                img->manifest_digest ? img->manifest_digest : "", "config",
                                img->config_body, img->config_len, "chains", strv_json(chains, n),
                                "blobs", json_incref(blobs), "size", (json_int_t)size, "tag",
                                img->tag ? img->tag : "", "digest", img->digest ? img->digest : "");
        if (!msg)
            rc = cric_err_set(err, CRIC_ERR_INVALID, "%s: image config is not valid UTF-8",
                              img->what);
        else if (worker_send(w, msg, err) < 0 || worker_expect(w, "go", err) < 0)
            rc = cric_err_prefix(err, "%s: ", img->what);
        else
            rc = ensure_all(w, img, chains, diff_ids, n, err);
    }
    json_decref(blobs);
    for (size_t i = 0; chains && i < n; i++)
        free(chains[i]);
    free(chains);
    for (size_t i = 0; i < n; i++)
        free(diff_ids[i]);
    free(diff_ids);
    return rc;
}
