/* The daemon's half of the layer and content stores: pins of running pulls,
 * collection of unused layers and blobs, and the discarding of what a failed
 * pull unpacked. The unpacking itself happens in cric-pull (src/pullworker). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image/service.h"
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
        char key[IMGSTORE_ID_MAX];
        snprintf(key, sizeof(key), "sha256:%s", de->d_name);
        pthread_mutex_lock(&s->mu);
        used = used || kc_find(s->pins, s->n_pins, key);
        pthread_mutex_unlock(&s->mu);
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

void layers_collect(image_service *s)
{
    pthread_mutex_lock(&s->mu);
    char **unused = NULL;
    size_t n = 0;
    cric_err err = {0};
    if (image_store_unused_layers(s->db, &unused, &n, &err) < 0)
        log_warn("image", "layer collection: %s", err.msg);
    for (size_t i = 0; i < n; i++) {
        if (kc_find(s->pins, s->n_pins, unused[i]))
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
        if ((pin && pin->count > 1) || image_store_layer_known(s->db, chains[i]))
            continue;
        if (fs_rm_at(s->layers_fd, chains[i] + 7) == 0)
            log_debug("image", "discarded unrecorded layer %s", chains[i]);
    }
    pthread_mutex_unlock(&s->mu);
}
