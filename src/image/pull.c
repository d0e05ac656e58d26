/* PullImage and `cric image import`: the transfer runs in cric-pull (see
 * helper.c); here the job is built and the outcome reported. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image/service.h"
#include "util/cleanup.h"
#include "util/log.h"

static void set_cred(json_t *o, const char *key, const char *v)
{
    if (v && *v)
        json_object_set_new(o, key, json_string(v));
}

int image_pull(image_service *s, const char *ref, const image_auth *auth, const json_t *annotations,
               image_cancel_fn cancelled, void *cancel_ud, char id[80], cric_err *err)
{
    image_ref r;
    if (ref_parse(ref, &r, err) < 0) {
        log_warn("image", "pull %.300s failed: %s", ref, err->msg);
        return -1;
    }
    json_t *job = json_pack("{s:s, s:s}", "op", "pull", "ref", ref);
    if (!job)
        return cric_err_set(err, CRIC_ERR_INVALID, "pull %.300s: reference is not valid UTF-8",
                            ref);
    if (auth) {
        json_t *a = json_object();
        set_cred(a, "username", auth->username);
        set_cred(a, "password", auth->password);
        set_cred(a, "auth", auth->auth);
        set_cred(a, "identity_token", auth->identity_token);
        set_cred(a, "registry_token", auth->registry_token);
        set_cred(a, "server_address", auth->server_address);
        json_object_set_new(job, "auth", a);
    }
    _cleanup_free_ char *ann = annotations ? json_dumps(annotations, JSON_COMPACT) : NULL;
    char what[600];
    snprintf(what, sizeof(what), "pull %.500s", ref);
    char **ids = NULL;
    size_t n = 0;
    int rc = helper_run(s, job, what, ann, cancelled, cancel_ud, &ids, &n, err);
    json_decref(job); /* credentials: jansson frees them (not wiped, like the request) */
    if (rc == 0 && n != 1) {
        rc = cric_err_set(err, CRIC_ERR_INTERNAL, "%s: cric-pull recorded %zu images", what, n);
    }
    if (rc == 0)
        snprintf(id, 80, "%s", ids[0]);
    image_store_strv_free(ids, n);
    if (rc < 0)
        log_warn("image", "pull %.300s failed: %s", ref, err->msg);
    return rc;
}

int image_import(image_service *s, const char *path, char ***ids, size_t *n, cric_err *err)
{
    *ids = NULL;
    *n = 0;
    struct stat st;
    if (stat(path, &st) < 0)
        return cric_err_errno(err, errno, "import %.300s", path);
    json_t *job = json_pack("{s:s, s:s}", "op", "import", "path", path);
    if (!job)
        return cric_err_set(err, CRIC_ERR_INVALID, "import: path is not valid UTF-8");
    char what[600];
    snprintf(what, sizeof(what), "import %.500s", path);
    int rc = helper_run(s, job, what, "{}", NULL, NULL, ids, n, err);
    json_decref(job);
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
