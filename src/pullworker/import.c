/* Offline import: an OCI image layout (index.json + blobs/) or a `docker
 * save` archive (manifest.json + configs + layer tars). A tar file is first
 * unpacked (with the hostile-input-safe layer unpacker) into a temporary
 * directory under content/tmp; then every blob is read inside that root,
 * verified and committed like a pull. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "image/reference.h"
#include "image/unpack.h"
#include "pullworker/worker.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

#define IMPORT_MAX_IMAGES 256

typedef struct import_src {
    int dirfd;
    /* docker save: digest -> relative path of each layer */
    char **digests;
    char **paths;
    size_t n;
} import_src;

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static int open_in(int dirfd, const char *rel)
{
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC,
                           .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
    return (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
}

/* Reads a whole (small) file inside the root; verifies digest when given. */
static int read_rel(int dirfd, const char *rel, size_t max, const char *digest, char **out,
                    size_t *len, cric_err *err)
{
    _cleanup_close_ int fd = open_in(dirfd, rel);
    if (fd < 0)
        return cric_err_errno(err, errno, "import: open %.300s", rel);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > max)
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "import: %.300s: not a file of at most %zu bytes", rel, max);
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "import: out of memory");
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r <= 0) {
            free(buf);
            return cric_err_errno(err, r < 0 ? errno : EIO, "import: read %.300s", rel);
        }
        got += (size_t)r;
    }
    buf[got] = '\0';
    if (digest) {
        char d[DIGEST_STR_LEN + 1];
        digest_buf(buf, got, d);
        if (strcmp(d, digest) != 0) {
            free(buf);
            return cric_err_set(err, CRIC_ERR_INVALID, "import: %.300s: digest mismatch (want %s)",
                                rel, digest);
        }
    }
    *out = buf;
    *len = got;
    return 0;
}

static void blob_path(const char *digest, char out[96])
{
    snprintf(out, 96, "blobs/sha256/%.64s", digest + 7);
}

static int import_source(void *ud, const oci_desc *d, int out_fd, int tee_fd, bool *wrote,
                         cric_err *err)
{
    import_src *src = ud;
    char rel[96];
    const char *path = NULL;
    for (size_t i = 0; i < src->n; i++)
        if (strcmp(src->digests[i], d->digest) == 0)
            path = src->paths[i];
    if (!path) {
        blob_path(d->digest, rel);
        path = rel;
    }
    _cleanup_close_ int fd = open_in(src->dirfd, path);
    if (fd < 0)
        return cric_err_errno(err, errno, "import: open layer %.300s", path);
    return blob_stream_fd(fd, d, out_fd, tee_fd, wrote, err);
}

/* Digest and size of a file inside the root. */
static int hash_rel(int dirfd, const char *rel, oci_desc *d, cric_err *err)
{
    _cleanup_close_ int fd = open_in(dirfd, rel);
    if (fd < 0)
        return cric_err_errno(err, errno, "import: open %.300s", rel);
    _cleanup_digester_ digester *dg = digester_new();
    char buf[128 * 1024];
    int64_t total = 0;
    ssize_t r;
    while ((r = read(fd, buf, sizeof(buf))) > 0) {
        digester_update(dg, buf, (size_t)r);
        total += r;
    }
    if (r < 0)
        return cric_err_errno(err, errno, "import: read %.300s", rel);
    digester_final(dg, d->digest);
    d->size = total;
    return 0;
}

/* Commits one image from a parsed manifest. */
static int commit_one(worker *w, import_src *src, const oci_manifest *m,
                      const char *manifest_digest, const char *name, const char *what,
                      cric_err *err)
{
    _cleanup_free_ char *config = NULL;
    size_t clen = 0;
    char rel[96];
    const char *cpath = NULL;
    for (size_t i = 0; i < src->n; i++)
        if (strcmp(src->digests[i], m->config.digest) == 0)
            cpath = src->paths[i];
    if (!cpath) {
        blob_path(m->config.digest, rel);
        cpath = rel;
    }
    if (read_rel(src->dirfd, cpath, CONFIG_MAX_BYTES, m->config.digest, &config, &clen, err) < 0)
        return -1;
    if (content_put(w, m->config.digest, config, clen, err) < 0)
        return -1;
    char tag[2 * REF_NAME_MAX + REF_TAG_MAX + 4] = "",
                                              dig[2 * REF_NAME_MAX + REF_DIGEST_MAX + 4] = "";
    image_ref ref;
    bool named = name && *name && ref_parse(name, &ref, NULL) == 0;
    if (named) {
        ref_tagged(&ref, tag, sizeof(tag));
        if (manifest_digest && *manifest_digest)
            ref_with_digest(&ref, manifest_digest, dig, sizeof(dig));
    }
    worker_image img = {
        .what = what,
        .manifest_digest = manifest_digest,
        .config_digest = m->config.digest,
        .config_body = config,
        .config_len = clen,
        .manifest = m,
        .tag = tag,
        .digest = dig,
        .src = import_source,
        .src_ud = src,
    };
    if (worker_commit_image(w, &img, err) < 0)
        return -1;
    log_info("image", "imported %s as %s", named ? tag : "(unnamed)", m->config.digest);
    return 0;
}

static int import_oci(worker *w, import_src *src, cric_err *err)
{
    _cleanup_free_ char *body = NULL;
    size_t len;
    if (read_rel(src->dirfd, "index.json", MANIFEST_MAX_BYTES, NULL, &body, &len, err) < 0)
        return -1;
    json_t *idx = json_loadb(body, len, 0, NULL);
    json_t *ms = json_object_get(idx, "manifests");
    if (!json_is_array(ms) || json_array_size(ms) > IMPORT_MAX_IMAGES) {
        json_decref(idx);
        return cric_err_set(err, CRIC_ERR_INVALID, "import: index.json: bad manifests list");
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < json_array_size(ms); i++) {
        json_t *e = json_array_get(ms, i);
        json_t *ann = json_object_get(e, "annotations");
        const char *name = json_string_value(json_object_get(ann, "io.containerd.image.name"));
        if (!name)
            name = json_string_value(json_object_get(ann, "org.opencontainers.image.ref.name"));
        const char *top = json_string_value(json_object_get(e, "digest"));
        if (!top || !digest_is_valid(top)) {
            rc = cric_err_set(err, CRIC_ERR_INVALID, "import: index.json entry %zu: bad digest", i);
            break;
        }
        char digest[DIGEST_STR_LEN + 1], what[128];
        snprintf(digest, sizeof(digest), "%s", top);
        snprintf(what, sizeof(what), "import %.100s", name ? name : top);
        json_t *doc = NULL;
        for (int depth = 0; depth < 3; depth++) {
            char rel[96];
            blob_path(digest, rel);
            _cleanup_free_ char *mb = NULL;
            size_t ml;
            if (read_rel(src->dirfd, rel, MANIFEST_MAX_BYTES, digest, &mb, &ml, err) < 0) {
                rc = -1;
                break;
            }
            doc = json_loadb(mb, ml, 0, NULL);
            manifest_kind kind;
            if (manifest_kind_of(NULL, doc, &kind, err) < 0) {
                rc = -1;
                break;
            }
            if (kind == MANIFEST_KIND_IMAGE)
                break;
            oci_platform plat;
            platform_host(&plat);
            oci_desc d;
            if (index_select(doc, &plat, &d, err) < 0) {
                rc = -1;
                break;
            }
            snprintf(digest, sizeof(digest), "%s", d.digest);
            json_decref(doc);
            doc = NULL;
        }
        if (rc == 0 && !doc)
            rc = cric_err_set(err, CRIC_ERR_INVALID, "import: %s: nested indexes", top);
        oci_manifest m;
        if (rc == 0 && manifest_parse(doc, &m, err) == 0) {
            rc = commit_one(w, src, &m, top, name, what, err);
            manifest_free(&m);
        } else if (rc == 0) {
            rc = -1;
        }
        json_decref(doc);
    }
    json_decref(idx);
    return rc;
}

static int import_docker(worker *w, import_src *src, cric_err *err)
{
    _cleanup_free_ char *body = NULL;
    size_t len;
    if (read_rel(src->dirfd, "manifest.json", MANIFEST_MAX_BYTES, NULL, &body, &len, err) < 0)
        return -1;
    json_t *list = json_loadb(body, len, 0, NULL);
    if (!json_is_array(list) || json_array_size(list) > IMPORT_MAX_IMAGES) {
        json_decref(list);
        return cric_err_set(err, CRIC_ERR_INVALID, "import: manifest.json: not a list of images");
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < json_array_size(list); i++) {
        json_t *e = json_array_get(list, i);
        const char *cfg = json_string_value(json_object_get(e, "Config"));
        json_t *layers = json_object_get(e, "Layers");
        json_t *tags = json_object_get(e, "RepoTags");
        if (!cfg || !json_is_array(layers) || json_array_size(layers) > MANIFEST_MAX_LAYERS) {
            rc = cric_err_set(err, CRIC_ERR_INVALID, "import: manifest.json entry %zu: bad", i);
            break;
        }
        size_t nl = json_array_size(layers);
        oci_manifest m = {0};
        m.layers = calloc(nl + 1, sizeof(*m.layers));
        m.n_layers = nl;
        src->n = 0;
        src->digests = calloc(nl + 2, sizeof(char *));
        src->paths = calloc(nl + 2, sizeof(char *));
        if (!m.layers || !src->digests || !src->paths) {
            rc = cric_err_set(err, CRIC_ERR_RESOURCE, "import: out of memory");
        }
        if (rc == 0 && hash_rel(src->dirfd, cfg, &m.config, err) < 0)
            rc = -1;
        if (rc == 0) {
            src->digests[src->n] = strdup(m.config.digest);
            src->paths[src->n++] = strdup(cfg);
        }
        for (size_t j = 0; rc == 0 && j < nl; j++) {
            const char *lp = json_string_value(json_array_get(layers, j));
            if (!lp) {
                rc = cric_err_set(err, CRIC_ERR_INVALID, "import: layer %zu: not a path", j);
                break;
            }
            if (hash_rel(src->dirfd, lp, &m.layers[j].desc, err) < 0) {
                rc = -1;
                break;
            }
            snprintf(m.layers[j].desc.media_type, sizeof(m.layers[j].desc.media_type),
                     "application/vnd.docker.image.rootfs.diff.tar");
            src->digests[src->n] = strdup(m.layers[j].desc.digest);
            src->paths[src->n++] = strdup(lp);
        }
        size_t nt = json_array_size(tags);
        char what[128];
        const char *first = nt ? json_string_value(json_array_get(tags, 0)) : NULL;
        snprintf(what, sizeof(what), "import %.100s", first ? first : cfg);
        if (rc == 0)
            rc = commit_one(w, src, &m, "", first, what, err);
        /* Further tags of the same image. */
        for (size_t t = 1; rc == 0 && t < nt; t++) {
            const char *tn = json_string_value(json_array_get(tags, t));
            if (tn)
                rc = commit_one(w, src, &m, "", tn, what, err);
        }
        strv_free(src->digests, src->n);
        strv_free(src->paths, src->n);
        src->digests = src->paths = NULL;
        src->n = 0;
        manifest_free(&m);
    }
    json_decref(list);
    return rc;
}

int worker_import(worker *w, const json_t *job, cric_err *err)
{
    const char *path = json_string_value(json_object_get(job, "path"));
    if (!path || !*path)
        return cric_err_set(err, CRIC_ERR_INVALID, "import: the job names no file");
    struct stat st;
    if (stat(path, &st) < 0)
        return cric_err_errno(err, errno, "import %.300s", path);
    char tmp[WORKER_PATH_MAX] = "";
    _cleanup_close_ int dirfd = -1;
    if (S_ISDIR(st.st_mode)) {
        dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } else {
        snprintf(tmp, sizeof(tmp), "%s/%s-import", w->tmp_dir, w->job);
        if (mkdir(tmp, 0700) < 0)
            return cric_err_errno(err, errno, "import: mkdir %s", tmp);
        dirfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int in = open(path, O_RDONLY | O_CLOEXEC);
        unpack_stats us;
        /* The archive as a whole counts against the image cap. */
        unpack_limits lim = {.max_bytes = w->max_image_bytes,
                             .max_bytes_name = "image_pull.max_image_bytes",
                             .devices = UNPACK_DEVICES_NONE};
        if (in < 0 || dirfd < 0) {
            cric_err_errno(err, errno, "import: open %.300s", path);
        } else if (layer_unpack_fd(in, dirfd, path, &lim, &us, err) == 0) {
            goto unpacked;
        }
        fs_rm_at(AT_FDCWD, tmp);
        return -1;
    }
unpacked:
    if (dirfd < 0)
        return cric_err_errno(err, errno, "import: open %.300s", path);
    import_src src = {.dirfd = dirfd};
    struct stat x;
    int rc;
    if (fstatat(dirfd, "index.json", &x, 0) == 0)
        rc = import_oci(w, &src, err);
    else if (fstatat(dirfd, "manifest.json", &x, 0) == 0)
        rc = import_docker(w, &src, err);
    else
        rc = cric_err_set(err, CRIC_ERR_INVALID,
                          "import %.300s: neither an OCI layout (index.json) nor a docker save "
                          "archive (manifest.json)",
                          path);
    if (tmp[0])
        fs_rm_at(AT_FDCWD, tmp);
    return rc;
}
