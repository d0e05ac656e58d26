#include "pod/cni_conf.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/fs.h"

#define CNI_CONF_MAX (1u << 20)
#define CNI_CONF_FILES_MAX 256

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A conflist needs a name and a non-empty plugins array of objects with a
 * type; a single .conf needs a name and a type. */
static int conf_valid(const char *path, bool is_list, cric_err *err)
{
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    if (fs_read_file(path, CNI_CONF_MAX, &text, &len, err) < 0)
        return -1;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    if (!root)
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: line %d: %s", path, jerr.line, jerr.text);
    int rc = 0;
    json_t *name = json_object_get(root, "name");
    if (!json_is_string(name) || json_string_length(name) == 0) {
        rc = cric_err_set(err, CRIC_ERR_INVALID, "%s: no network name", path);
    } else if (is_list) {
        json_t *plugins = json_object_get(root, "plugins");
        if (!json_is_array(plugins) || json_array_size(plugins) == 0)
            rc = cric_err_set(err, CRIC_ERR_INVALID, "%s: no plugins", path);
        size_t i;
        json_t *p;
        json_array_foreach(plugins, i, p)
        {
            if (rc == 0 && !json_is_string(json_object_get(p, "type")))
                rc = cric_err_set(err, CRIC_ERR_INVALID, "%s: plugin %zu has no type", path, i);
        }
    } else if (!json_is_string(json_object_get(root, "type"))) {
        rc = cric_err_set(err, CRIC_ERR_INVALID, "%s: no plugin type", path);
    }
    json_decref(root);
    return rc;
}

int cni_conf_pick(const char *conf_dir, char **path, cric_err *err)
{
    _cleanup_closedir_ DIR *dir = opendir(conf_dir);
    if (!dir)
        return cric_err_set(err, CRIC_ERR_NOT_FOUND, "no CNI network config: %s: %s", conf_dir,
                            strerror(errno));
    char *names[CNI_CONF_FILES_MAX];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(dir)) && n < CNI_CONF_FILES_MAX) {
        if (de->d_name[0] == '.')
            continue;
        if (has_suffix(de->d_name, ".conflist") || has_suffix(de->d_name, ".conf") ||
            has_suffix(de->d_name, ".json")) {
            names[n] = strdup(de->d_name);
            if (names[n])
                n++;
        }
    }
    qsort(names, n, sizeof(names[0]), cmp_str);
    int rc = cric_err_set(err, CRIC_ERR_NOT_FOUND, "no CNI network config found in %s", conf_dir);
    char last_problem[CRIC_ERR_MSG_MAX] = "";
    for (size_t i = 0; i < n; i++) {
        char full[4096];
        snprintf(full, sizeof(full), "%s/%s", conf_dir, names[i]);
        cric_err perr = {0};
        if (rc < 0 && conf_valid(full, has_suffix(names[i], ".conflist"), &perr) == 0) {
            *path = strdup(full);
            rc = *path ? 0 : cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
        } else if (rc < 0) {
            snprintf(last_problem, sizeof(last_problem), "%s", perr.msg);
        }
        free(names[i]);
    }
    if (rc < 0 && last_problem[0])
        cric_err_set(err, CRIC_ERR_NOT_FOUND, "no valid CNI network config in %s (%.900s)",
                     conf_dir, last_problem);
    return rc;
}

int cni_conf_load(const char *conf_dir, json_t **list, char **path_out, cric_err *err)
{
    _cleanup_free_ char *path = NULL;
    if (cni_conf_pick(conf_dir, &path, err) < 0)
        return -1;
    _cleanup_free_ char *text = NULL;
    size_t len = 0;
    if (fs_read_file(path, CNI_CONF_MAX, &text, &len, err) < 0)
        return -1;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    if (!root)
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: line %d: %s", path, jerr.line, jerr.text);
    if (!json_is_array(json_object_get(root, "plugins"))) {
        json_t *version = json_object_get(root, "cniVersion");
        json_t *wrapped = json_pack("{s:O?, s:O, s:[O]}", "cniVersion", version, "name",
                                    json_object_get(root, "name"), "plugins", root);
        json_decref(root);
        if (!wrapped)
            return cric_err_set(err, CRIC_ERR_INVALID, "%s: cannot convert to a list", path);
        root = wrapped;
    }
    if (!json_is_string(json_object_get(root, "cniVersion")))
        json_object_set_new(root, "cniVersion", json_string("0.4.0"));
    *list = root;
    if (path_out)
        *path_out = TAKE_PTR(path);
    return 0;
}
