/* The image service's life cycle and lookups: start-up cleanup, resolve,
 * list, remove, holds and usage. Pulls live in pull.c, layers in layer_store.c. */
#include "image/image.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image/reference.h"
#include "image/service.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/ids.h"
#include "util/log.h"

/* Removes what a crash can leave behind: temporary downloads and unpacks,
 * and layer directories the database does not know (renamed in, but the
 * pull died before recording its image). */
static void startup_cleanup(image_service *s)
{
    _cleanup_closedir_ DIR *tmp = opendir(s->tmp_dir);
    struct dirent *de;
    while (tmp && (de = readdir(tmp))) {
        if (de->d_name[0] == '.')
            continue;
        unlinkat(dirfd(tmp), de->d_name, 0);
        log_info("image", "removed stray temporary file %s/%s", s->tmp_dir, de->d_name);
    }
    int fd = dup(s->layers_fd);
    _cleanup_closedir_ DIR *ld = fd >= 0 ? fdopendir(fd) : NULL;
    if (!ld && fd >= 0)
        close(fd);
    while (ld && (de = readdir(ld))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char chain[DIGEST_STR_LEN + 8];
        snprintf(chain, sizeof(chain), "sha256:%.64s", de->d_name);
        bool keep = strlen(de->d_name) == 64 && id_is_full(de->d_name) &&
                    image_store_layer_known(s->db, chain);
        if (keep)
            continue;
        if (fs_rm_at(s->layers_fd, de->d_name) < 0)
            log_warn("image", "cannot remove stray layer dir %s: %m", de->d_name);
        else
            log_info("image", "removed stray layer dir %s/%s", s->layers_dir, de->d_name);
    }
    layers_collect(s);
    content_collect(s);
}

int image_service_new(image_service **out, const cric_config *cfg, cric_db *db, cric_err *err)
{
    return image_service_open(out, cfg, db, true, err);
}

int image_service_open(image_service **out, const cric_config *cfg, cric_db *db, bool cleanup,
                       cric_err *err)
{
    image_service *s = calloc(1, sizeof(*s));
    if (!s)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "image service: out of memory");
    s->cfg = cfg;
    s->db = db;
    s->layers_fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cond, NULL);
    pthread_mutex_init(&s->usage_mu, NULL);
    if (strlen(cfg->root) > IMAGE_DIR_MAX - 64) {
        image_service_free(s);
        return cric_err_set(err, CRIC_ERR_INVALID, "image service: root path too long");
    }
    snprintf(s->root, sizeof(s->root), "%s", cfg->root);
    snprintf(s->content_dir, sizeof(s->content_dir), "%s/content/sha256", cfg->root);
    snprintf(s->tmp_dir, sizeof(s->tmp_dir), "%s/content/tmp", cfg->root);
    snprintf(s->layers_dir, sizeof(s->layers_dir), "%s/layers", cfg->root);
    snprintf(s->containers_dir, sizeof(s->containers_dir), "%s/containers", cfg->root);
    if (fs_mkdir_p(s->content_dir, 0700, err) < 0 || fs_mkdir_p(s->tmp_dir, 0700, err) < 0 ||
        fs_mkdir_p(s->layers_dir, 0700, err) < 0 || image_store_init(db, err) < 0) {
        image_service_free(s);
        return cric_err_prefix(err, "image service: ");
    }
    s->layers_fd = open(s->layers_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (s->layers_fd < 0) {
        cric_err_errno(err, errno, "image service: open %s", s->layers_dir);
        image_service_free(s);
        return -1;
    }
    if (cleanup)
        startup_cleanup(s);
    *out = s;
    return 0;
}

void image_service_free(image_service *s)
{
    if (!s)
        return;
    if (s->layers_fd >= 0)
        close(s->layers_fd);
    free(s->pins);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->usage_mu);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* ------------------------------------------------------------ lookups */

static bool is_hex(const char *p)
{
    for (; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* Finds the image id for ref; NOT_FOUND (with a clear message) when none. */
static int resolve_id(image_service *s, const char *ref, char id[IMGSTORE_ID_MAX], cric_err *err)
{
    if (!ref || !*ref)
        return cric_err_set(err, CRIC_ERR_INVALID, "image reference is empty");
    const char *hex = strncmp(ref, "sha256:", 7) == 0 ? ref + 7 : ref;
    if (strlen(hex) <= 64 && *hex && is_hex(hex)) {
        char prefix[IMGSTORE_ID_MAX];
        snprintf(prefix, sizeof(prefix), "sha256:%s", hex);
        char **ids = NULL;
        size_t n = 0;
        if (image_store_ids(s->db, prefix, &ids, &n, err) < 0)
            return -1;
        if (n == 1)
            snprintf(id, IMGSTORE_ID_MAX, "%s", ids[0]);
        image_store_strv_free(ids, n);
        if (n == 1)
            return 0;
        if (n > 1)
            return cric_err_set(err, CRIC_ERR_INVALID, "image id prefix %.80s is ambiguous", ref);
        if (hex != ref || strlen(hex) == 64)
            return cric_err_set(err, CRIC_ERR_NOT_FOUND, "image %.100s not found", ref);
    }
    image_ref r;
    if (ref_parse(ref, &r, err) < 0)
        return -1;
    char full[REF_NAME_MAX + REF_TAG_MAX + REF_DIGEST_MAX + 4];
    if (r.digest[0]) {
        ref_with_digest(&r, r.digest, full, sizeof(full));
        if (image_store_lookup_ref(s->db, full, id, err) == 0)
            return 0;
        /* Pulled by tag but asked by the digest of its manifest (from an index). */
        char **ids = NULL;
        size_t n = 0;
        if (image_store_ids(s->db, "sha256:", &ids, &n, err) < 0)
            return -1;
        bool found = false;
        for (size_t i = 0; i < n && !found; i++) {
            image_record *rec = NULL;
            if (image_store_get(s->db, ids[i], &rec, NULL) == 0) {
                char repo[REF_NAME_MAX + 1];
                ref_repo(&r, repo, sizeof(repo));
                size_t rl = strlen(repo);
                if (strcmp(rec->manifest_digest, r.digest) == 0) {
                    for (size_t j = 0; j < rec->n_tags + rec->n_digests && !found; j++) {
                        const char *x =
                            j < rec->n_tags ? rec->tags[j] : rec->digests[j - rec->n_tags];
                        if (strncmp(x, repo, rl) == 0 && (x[rl] == ':' || x[rl] == '@'))
                            found = true;
                    }
                }
                if (found)
                    snprintf(id, IMGSTORE_ID_MAX, "%s", ids[i]);
                image_record_free(rec);
            }
        }
        image_store_strv_free(ids, n);
        if (found)
            return 0;
        return cric_err_set(err, CRIC_ERR_NOT_FOUND, "image %.300s not found", ref);
    }
    ref_tagged(&r, full, sizeof(full));
    return image_store_lookup_ref(s->db, full, id, err);
}

static json_t *load_json(const char *text, bool object)
{
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    if (object && !json_is_object(j)) {
        json_decref(j);
        j = json_object();
    }
    return j;
}

static char **strv_dup(char **v, size_t n)
{
    char **out = calloc(n + 1, sizeof(char *));
    for (size_t i = 0; out && i < n; i++)
        out[i] = strdup(v[i]);
    return out;
}

static void parse_user(image_info *info)
{
    const char *user = json_string_value(json_object_get(info->config, "User"));
    if (!user)
        user = "";
    char u[256];
    snprintf(u, sizeof(u), "%s", user);
    char *colon = strchr(u, ':');
    if (colon)
        *colon = '\0';
    char *end = NULL;
    errno = 0;
    long long v = *u ? strtoll(u, &end, 10) : -1;
    if (*u && end && !*end && errno == 0 && v >= 0) {
        info->has_uid = true;
        info->uid = v;
        info->username = strdup("");
    } else {
        info->username = strdup(u);
    }
}

static int info_from_id(image_service *s, const char *id, const char *pause_id, image_info **out,
                        cric_err *err)
{
    image_record *rec = NULL;
    if (image_store_get(s->db, id, &rec, err) < 0)
        return -1;
    image_info *info = calloc(1, sizeof(*info));
    if (!info) {
        image_record_free(rec);
        return cric_err_set(err, CRIC_ERR_RESOURCE, "image %s: out of memory", id);
    }
    snprintf(info->id, sizeof(info->id), "%s", rec->id);
    snprintf(info->manifest_digest, sizeof(info->manifest_digest), "%s", rec->manifest_digest);
    info->repo_tags = strv_dup(rec->tags, rec->n_tags);
    info->n_repo_tags = rec->n_tags;
    info->repo_digests = strv_dup(rec->digests, rec->n_digests);
    info->n_repo_digests = rec->n_digests;
    info->layer_dirs = calloc(rec->n_layers + 1, sizeof(char *));
    for (size_t i = 0; info->layer_dirs && i < rec->n_layers; i++) {
        size_t n = strlen(s->layers_dir) + 80;
        info->layer_dirs[i] = malloc(n);
        snprintf(info->layer_dirs[i], n, "%s/%s/fs", s->layers_dir, rec->chain_ids[i] + 7);
    }
    info->n_layers = rec->n_layers;
    info->image_config = load_json(rec->config_json, true);
    json_t *c = json_object_get(info->image_config, "config");
    info->config = json_is_object(c) ? json_incref(c) : json_object();
    info->annotations = load_json(rec->annotations_json, true);
    info->size = rec->size;
    info->pinned = pause_id && strcmp(pause_id, rec->id) == 0;
    parse_user(info);
    image_record_free(rec);
    *out = info;
    return 0;
}

static void pause_id_of(image_service *s, char id[IMGSTORE_ID_MAX])
{
    id[0] = '\0';
    if (s->cfg->pause_image && *s->cfg->pause_image &&
        resolve_id(s, s->cfg->pause_image, id, NULL) < 0)
        id[0] = '\0';
}

int image_resolve(image_service *s, const char *ref, image_info **out, cric_err *err)
{
    char id[IMGSTORE_ID_MAX], pause[IMGSTORE_ID_MAX];
    if (resolve_id(s, ref, id, err) < 0)
        return -1;
    pause_id_of(s, pause);
    return info_from_id(s, id, pause, out, err);
}

void image_info_free(image_info *info)
{
    if (!info)
        return;
    image_store_strv_free(info->repo_tags, info->n_repo_tags);
    image_store_strv_free(info->repo_digests, info->n_repo_digests);
    image_store_strv_free(info->layer_dirs, info->n_layers);
    json_decref(info->config);
    json_decref(info->image_config);
    json_decref(info->annotations);
    free(info->username);
    free(info);
}

int image_list(image_service *s, const char *filter, image_info ***out, size_t *n, cric_err *err)
{
    *out = NULL;
    *n = 0;
    char pause[IMGSTORE_ID_MAX];
    pause_id_of(s, pause);
    char **ids = NULL;
    size_t n_ids = 0;
    if (filter && *filter) {
        char id[IMGSTORE_ID_MAX];
        cric_err e = {0};
        if (resolve_id(s, filter, id, &e) < 0) {
            if (e.kind == CRIC_ERR_NOT_FOUND)
                return 0;
            *err = e;
            return -1;
        }
        ids = calloc(2, sizeof(char *));
        ids[0] = strdup(id);
        n_ids = 1;
    } else if (image_store_ids(s->db, "sha256:", &ids, &n_ids, err) < 0) {
        return -1;
    }
    image_info **v = calloc(n_ids + 1, sizeof(*v));
    size_t k = 0;
    for (size_t i = 0; v && i < n_ids; i++) {
        cric_err e = {0};
        if (info_from_id(s, ids[i], pause, &v[k], &e) == 0)
            k++; /* an image removed meanwhile is simply not listed */
    }
    image_store_strv_free(ids, n_ids);
    if (!v)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "list images: out of memory");
    *out = v;
    *n = k;
    return 0;
}

void image_info_list_free(image_info **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        image_info_free(v[i]);
    free(v);
}

int image_remove(image_service *s, const char *ref, cric_err *err)
{
    char id[IMGSTORE_ID_MAX];
    cric_err e = {0};
    if (resolve_id(s, ref, id, &e) < 0) {
        if (e.kind == CRIC_ERR_NOT_FOUND)
            return 0;
        *err = e;
        return -1;
    }
    if (image_store_delete(s->db, id, err) < 0)
        return cric_err_prefix(err, "remove image %s: ", id);
    log_info("image", "removed image %s (%s)", id, ref);
    layers_collect(s);
    content_collect(s);
    return 0;
}

int image_hold(image_service *s, const char *image_id, const char *holder, cric_err *err)
{
    if (!holder || !name_is_safe_component(holder, strlen(holder), 128))
        return cric_err_set(err, CRIC_ERR_INVALID, "image hold: bad holder id");
    char id[IMGSTORE_ID_MAX];
    if (resolve_id(s, image_id, id, err) < 0)
        return -1;
    return image_store_hold(s->db, id, holder, err);
}

int image_release(image_service *s, const char *holder, cric_err *err)
{
    if (image_store_release(s->db, holder, err) < 0)
        return -1;
    layers_collect(s);
    return 0;
}

#define USAGE_CACHE_MS 5000
#define USAGE_MAX_DEPTH 256

/* Sums blocks and inodes below dirfd/name without following symlinks or
 * crossing into other filesystems. */
static void du_at(int at, const char *name, dev_t dev, int depth, uint64_t *bytes, uint64_t *inodes)
{
    struct stat st;
    if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_dev != dev)
        return;
    *bytes += (uint64_t)st.st_blocks * 512;
    (*inodes)++;
    if (!S_ISDIR(st.st_mode) || depth > USAGE_MAX_DEPTH)
        return;
    int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            du_at(dirfd(d), de->d_name, dev, depth + 1, bytes, inodes);
    closedir(d);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int image_fs_usage_get(image_service *s, image_fs_usage *out, image_fs_usage *ctr, cric_err *err)
{
    memset(out, 0, sizeof(*out));
    memset(ctr, 0, sizeof(*ctr));
    snprintf(out->mountpoint, sizeof(out->mountpoint), "%s", s->root);
    snprintf(ctr->mountpoint, sizeof(ctr->mountpoint), "%s", s->root);
    pthread_mutex_lock(&s->usage_mu);
    if (s->usage_at_ms == 0 || now_ms() - s->usage_at_ms > USAGE_CACHE_MS) {
        uint64_t b = 0, i = 0;
        struct stat rst;
        if (stat(s->root, &rst) == 0)
            du_at(AT_FDCWD, s->containers_dir, rst.st_dev, 0, &b, &i);
        s->ctr_bytes = b;
        s->ctr_inodes = i;
        s->usage_at_ms = now_ms();
    }
    ctr->bytes = s->ctr_bytes;
    ctr->inodes = s->ctr_inodes;
    pthread_mutex_unlock(&s->usage_mu);
    if (image_store_usage(s->db, &out->bytes, &out->inodes, err) < 0)
        return -1;
    _cleanup_closedir_ DIR *d = opendir(s->content_dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        struct stat st;
        if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        out->bytes += (uint64_t)st.st_blocks * 512;
        out->inodes++;
    }
    return 0;
}
