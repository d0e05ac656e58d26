/* Write-through persistence of container records (src/store/container_store.c)
 * and loading them back at start-up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctr/ctr_int.h"
#include "store/container_store.h"
#include "util/ids.h"
#include "util/log.h"

static json_t *str_or_null(const char *s)
{
    return json_string(s ? s : "");
}

/* s->mu held: the mutable and derived fields as JSON text. */
static char *record_data(const ctr_rec *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "image", str_or_null(r->image));
    json_object_set_new(o, "image_id", str_or_null(r->image_id));
    json_object_set_new(o, "image_ref", str_or_null(r->image_ref));
    json_object_set_new(o, "handler", str_or_null(r->handler));
    json_object_set_new(o, "runtime", str_or_null(r->runtime));
    json_object_set_new(o, "runtime_root", str_or_null(r->runtime_root));
    json_object_set_new(o, "log_path", str_or_null(r->log_path));
    json_object_set_new(o, "bundle", str_or_null(r->bundle));
    json_object_set_new(o, "wdir", str_or_null(r->wdir));
    json_object_set_new(o, "stop_signal", json_integer(r->stop_signal));
    json_object_set_new(o, "uid", json_integer(r->uid));
    json_object_set_new(o, "gid", json_integer(r->gid));
    json_t *gids = json_array();
    for (size_t i = 0; i < r->n_gids; i++)
        json_array_append_new(gids, json_integer(r->gids[i]));
    json_object_set_new(o, "gids", gids);
    json_object_set_new(o, "started_at", json_integer(r->started_at));
    json_object_set_new(o, "finished_at", json_integer(r->finished_at));
    json_object_set_new(o, "exit_code", json_integer(r->exit_code));
    json_object_set_new(o, "reason", json_string(r->reason));
    json_object_set_new(o, "message", json_string(r->message));
    if (r->removing)
        json_object_set_new(o, "removing", json_true());
    char *res = ctr_resources_hex(r);
    if (res)
        json_object_set_new(o, "resources", json_string(res));
    free(res);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

int ctr_persist(ctr_service *s, ctr_rec *r, cric_err *err)
{
    pthread_mutex_lock(&s->persist_mu);
    pthread_mutex_lock(&s->mu);
    bool removed = r->removed;
    int state = r->state;
    char *data = removed ? NULL : record_data(r);
    pthread_mutex_unlock(&s->mu);
    int rc = 0;
    if (!removed) {
        if (!data) {
            rc = cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
        } else {
            container_row row = {
                .id = r->id,
                .pod_id = r->pod_id,
                .name = r->name,
                .attempt = r->attempt,
                .state = state,
                .created_at = r->created_at,
                .config = r->config_bin,
                .config_len = r->config_len,
                .data = data,
            };
            rc = container_store_put(s->db, &row, err);
            if (rc < 0)
                cric_err_prefix(err, "container %s: ", r->id);
        }
    }
    pthread_mutex_unlock(&s->persist_mu);
    free(data);
    return rc;
}

int ctr_unpersist(ctr_service *s, ctr_rec *r, cric_err *err)
{
    pthread_mutex_lock(&s->persist_mu);
    int rc = container_store_delete(s->db, r->id, err);
    pthread_mutex_unlock(&s->persist_mu);
    return rc;
}

static char *jstr(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return strdup(v ? v : "");
}

static int64_t jint(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static int load_row(void *arg, const container_row *row, cric_err *err)
{
    ctr_service *s = arg;
    (void)err;
    if (!id_is_full(row->id) || !id_is_full(row->pod_id)) {
        log_warn("ctr", "database: skipping a container row with a bad id");
        return 0;
    }
    json_error_t jerr;
    json_t *o = json_loads(row->data, 0, &jerr);
    ctr_rec *r = ctr_rec_new(s);
    if (!o || !r) {
        log_warn("ctr", "container %s: unreadable database row; dropped", row->id);
        json_decref(o);
        free(r);
        cric_err e = {0};
        container_store_delete(s->db, row->id, &e);
        return 0;
    }
    memcpy(r->id, row->id, 65);
    memcpy(r->pod_id, row->pod_id, 65);
    r->name = strdup(row->name);
    r->attempt = row->attempt;
    r->state = row->state;
    r->created_at = row->created_at;
    r->config_len = row->config_len;
    r->config_bin = malloc(row->config_len ? row->config_len : 1);
    if (r->config_bin && row->config_len)
        memcpy(r->config_bin, row->config, row->config_len);
    r->config = runtime__v1__container_config__unpack(NULL, row->config_len, row->config);
    r->image = jstr(o, "image");
    r->image_id = jstr(o, "image_id");
    r->image_ref = jstr(o, "image_ref");
    r->handler = jstr(o, "handler");
    r->runtime = jstr(o, "runtime");
    r->runtime_root = jstr(o, "runtime_root");
    r->log_path = jstr(o, "log_path");
    r->bundle = jstr(o, "bundle");
    r->wdir = jstr(o, "wdir");
    r->stop_signal = (int)jint(o, "stop_signal");
    r->uid = (uint32_t)jint(o, "uid");
    r->gid = (uint32_t)jint(o, "gid");
    json_t *gids = json_object_get(o, "gids");
    size_t ng = json_is_array(gids) ? json_array_size(gids) : 0;
    if (ng && ng <= 65536 && (r->gids = calloc(ng, sizeof(*r->gids)))) {
        for (size_t i = 0; i < ng; i++)
            r->gids[i] = (uint32_t)json_integer_value(json_array_get(gids, i));
        r->n_gids = ng;
    }
    r->started_at = jint(o, "started_at");
    r->finished_at = jint(o, "finished_at");
    r->exit_code = (int)jint(o, "exit_code");
    snprintf(r->reason, sizeof(r->reason), "%s",
             json_string_value(json_object_get(o, "reason"))
                 ? json_string_value(json_object_get(o, "reason"))
                 : "");
    snprintf(r->message, sizeof(r->message), "%s",
             json_string_value(json_object_get(o, "message"))
                 ? json_string_value(json_object_get(o, "message"))
                 : "");
    r->removing = json_is_true(json_object_get(o, "removing"));
    const char *res = json_string_value(json_object_get(o, "resources"));
    if (res && ctr_resources_from_hex(r, res) < 0)
        log_warn("ctr", "container %s: recorded resources unreadable; dropped", row->id);
    json_decref(o);
    if (r->bundle && r->bundle[0] && asprintf(&r->rootfs, "%s/rootfs", r->bundle) < 0)
        r->rootfs = NULL;
    if (!r->name || !r->config || !r->config_bin || !r->rootfs || !r->bundle[0] || !r->wdir[0] ||
        !r->runtime) {
        log_warn("ctr", "container %s: incomplete database row; dropped", row->id);
        ctr_rec_unref_locked(r);
        cric_err e = {0};
        container_store_delete(s->db, row->id, &e);
        return 0;
    }
    ctr_recover_one(s, r); /* consumes r's reference: published or destroyed */
    return 0;
}

int ctr_load_all(ctr_service *s, cric_err *err)
{
    return container_store_load(s->db, load_row, s, err);
}
