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
#include "image/service.h"
#include "image/unpack.h"
#include "util/cleanup.h"
#include "util/ids.h"
#include "util/log.h"

#define IMPORT_MAX_IMAGES 256

typedef struct import_src {
    int dirfd;
    /* docker save: digest -> relative path of each layer */
    char **digests;
    char **paths;
    size_t n;
} import_src;

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

/* Streams a file into out_fd, verifying digest and size on the way. */
static int stream_file(int fd, const oci_desc *d, int out_fd, bool *wrote, cric_err *err)
{
    _cleanup_digester_ digester *dg = digester_new();
    if (!dg)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "import: out of memory");
    char buf[128 * 1024];
    int64_t total = 0;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return cric_err_errno(err, errno, "import: read layer %s", d->digest);
        if (r == 0)
            break;
        total += r;
        if (total > d->size)
            return cric_err_set(err, CRIC_ERR_INVALID, "import: layer %s larger than %lld bytes",
                                d->digest, (long long)d->size);
        digester_update(dg, buf, (size_t)r);
        *wrote = true;
        const char *p = buf;
        while (r > 0) {
            ssize_t w = write(out_fd, p, (size_t)r);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return cric_err_errno(err, errno, "import: layer %s: consumer", d->digest);
            p += w;
            r -= w;
        }
    }
    char got[DIGEST_STR_LEN + 1];
    digester_final(dg, got);
    if (total != d->size || strcmp(got, d->digest) != 0)
        return cric_err_set(err, CRIC_ERR_INVALID, "import: layer %s: digest or size mismatch",
                            d->digest);
    return 0;
}

static int import_source(void *ud, const oci_desc *d, int out_fd, bool *wrote, cric_err *err)
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
    return stream_file(fd, d, out_fd, wrote, err);
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

static int add_id(char ***ids, size_t *n, const char *id)
{
    char **v = realloc(*ids, (*n + 2) * sizeof(char *));
    if (!v)
        return -1;
    v[*n] = strdup(id);
    v[*n + 1] = NULL;
    *ids = v;
    (*n)++;
    return 0;
}

/* Commits one image from a parsed manifest. */
static int commit_one(image_service *s, import_src *src, const oci_manifest *m,
                      const char *manifest_digest, const char *name, const char *what,
                      char **ids_out[], size_t *n_ids, cric_err *err)
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
    if (content_put(s, m->config.digest, config, clen, err) < 0)
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
    char *tags[1] = {tag}, *digests[1] = {dig};
    image_commit c = {
        .manifest_digest = manifest_digest,
        .config_digest = m->config.digest,
        .config_body = config,
        .config_len = clen,
        .manifest = m,
        .tags = tags,
        .n_tags = tag[0] ? 1 : 0,
        .digests = digests,
        .n_digests = dig[0] ? 1 : 0,
        .annotations_json = "{}",
        .src = import_source,
        .src_ud = src,
        .what = what,
    };
    if (image_commit_layers(s, &c, err) < 0)
        return -1;
    log_info("image", "imported %s as %s", named ? tag : "(unnamed)", m->config.digest);
    return add_id(ids_out, n_ids, m->config.digest) < 0
               ? cric_err_set(err, CRIC_ERR_RESOURCE, "import: out of memory")
               : 0;
}

static int import_oci(image_service *s, import_src *src, char ***ids, size_t *n, cric_err *err)
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
            rc = commit_one(s, src, &m, top, name, what, ids, n, err);
            manifest_free(&m);
        } else if (rc == 0) {
            rc = -1;
        }
        json_decref(doc);
    }
    json_decref(idx);
    return rc;
}

static int import_docker(image_service *s, import_src *src, char ***ids, size_t *n, cric_err *err)
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
            rc = commit_one(s, src, &m, "", first, what, ids, n, err);
        /* Further tags of the same image. */
        for (size_t t = 1; rc == 0 && t < nt; t++) {
            const char *tn = json_string_value(json_array_get(tags, t));
            if (tn) {
                (*n)--;
                free((*ids)[*n]);
                rc = commit_one(s, src, &m, "", tn, what, ids, n, err);
            }
        }
        image_store_strv_free(src->digests, src->n);
        image_store_strv_free(src->paths, src->n);
        src->digests = src->paths = NULL;
        src->n = 0;
        manifest_free(&m);
    }
    json_decref(list);
    return rc;
}

int image_import(image_service *s, const char *path, char ***ids, size_t *n, cric_err *err)
{
    *ids = NULL;
    *n = 0;
    struct stat st;
    if (stat(path, &st) < 0)
        return cric_err_errno(err, errno, "import %.300s", path);
    char tmp[IMAGE_PATH_MAX] = "";
    _cleanup_close_ int dirfd = -1;
    if (S_ISDIR(st.st_mode)) {
        dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    } else {
        char rnd[CRIC_ID_LEN + 1];
        id_random_hex(rnd);
        snprintf(tmp, sizeof(tmp), "%s/import-%.16s", s->tmp_dir, rnd);
        if (mkdir(tmp, 0700) < 0)
            return cric_err_errno(err, errno, "import: mkdir %s", tmp);
        dirfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int in = open(path, O_RDONLY | O_CLOEXEC);
        unpack_stats us;
        if (in < 0 || dirfd < 0) {
            cric_err_errno(err, errno, "import: open %.300s", path);
        } else if (layer_unpack_fd(in, dirfd, path, &us, err) == 0) {
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
        rc = import_oci(s, &src, ids, n, err);
    else if (fstatat(dirfd, "manifest.json", &x, 0) == 0)
        rc = import_docker(s, &src, ids, n, err);
    else
        rc = cric_err_set(err, CRIC_ERR_INVALID,
                          "import %.300s: neither an OCI layout (index.json) nor a docker save "
                          "archive (manifest.json)",
                          path);
    if (tmp[0])
        fs_rm_at(AT_FDCWD, tmp);
    if (rc < 0) {
        image_store_strv_free(*ids, *n);
        *ids = NULL;
        *n = 0;
    }
    return rc;
}

int image_import_cli(const cric_config *cfg, const char *path)
{
    cric_err err = {0};
    char dbpath[IMAGE_PATH_MAX];
    snprintf(dbpath, sizeof(dbpath), "%s/cric.db", cfg->root);
    cric_db db;
    image_service *s = NULL;
    if (mkdir(cfg->root, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "cric: image import: mkdir %s: %s\n", cfg->root, strerror(errno));
        return 1;
    }
    if (db_open(&db, dbpath, &err) < 0) {
        fprintf(stderr, "cric: image import: %s\n", err.msg);
        return 1;
    }
    int rc = 1;
    char **ids = NULL;
    size_t n = 0;
    if (image_service_open(&s, cfg, &db, false, &err) == 0 &&
        image_import(s, path, &ids, &n, &err) == 0) {
        for (size_t i = 0; i < n; i++)
            printf("%s\n", ids[i]);
        rc = 0;
    } else {
        fprintf(stderr, "cric: image import: %s\n", err.msg);
    }
    image_store_strv_free(ids, n);
    image_service_free(s);
    db_close(&db);
    return rc;
}
