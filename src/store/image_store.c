#include "store/image_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *SCHEMA =
    "CREATE TABLE IF NOT EXISTS images ("
    "  id TEXT PRIMARY KEY, manifest_digest TEXT NOT NULL, config TEXT NOT NULL,"
    "  annotations TEXT NOT NULL, size INTEGER NOT NULL, created_ns INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS image_refs ("
    "  ref TEXT PRIMARY KEY, image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,"
    "  kind INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS image_refs_by_image ON image_refs(image_id);"
    "CREATE TABLE IF NOT EXISTS layers ("
    "  chain_id TEXT PRIMARY KEY, diff_id TEXT NOT NULL, bytes INTEGER NOT NULL,"
    "  inodes INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS image_layers ("
    "  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE, idx INTEGER NOT NULL,"
    "  chain_id TEXT NOT NULL REFERENCES layers(chain_id), PRIMARY KEY(image_id, idx));"
    "CREATE INDEX IF NOT EXISTS image_layers_by_chain ON image_layers(chain_id);"
    "CREATE TABLE IF NOT EXISTS layer_holds ("
    "  holder TEXT NOT NULL, chain_id TEXT NOT NULL REFERENCES layers(chain_id),"
    "  PRIMARY KEY(holder, chain_id));"
    "CREATE INDEX IF NOT EXISTS layer_holds_by_chain ON layer_holds(chain_id);"
    "CREATE TABLE IF NOT EXISTS image_blobs ("
    "  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE, digest TEXT NOT NULL,"
    "  PRIMARY KEY(image_id, digest));";

enum { REF_TAG = 0, REF_DIGEST = 1 };

int image_store_init(cric_db *db, cric_err *err)
{
    return db_exec(db, SCHEMA, err);
}

void image_store_strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int bind_text(sqlite3_stmt *s, int i, const char *v)
{
    return sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
}

static int put_locked(cric_db *db, const image_record *rec, const image_layer_row *layers,
                      size_t n_layers, cric_err *err)
{
    _cleanup_stmt_ sqlite3_stmt *li = NULL, *im = NULL, *del = NULL, *il = NULL, *rf = NULL,
                                *bl = NULL;
    if (db_prepare(db,
                   "INSERT OR IGNORE INTO layers(chain_id, diff_id, bytes, inodes) "
                   "VALUES(?,?,?,?)",
                   &li, err) < 0 ||
        db_prepare(db,
                   "INSERT INTO images(id, manifest_digest, config, annotations, size, created_ns) "
                   "VALUES(?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
                   "manifest_digest=excluded.manifest_digest, annotations=excluded.annotations",
                   &im, err) < 0 ||
        db_prepare(db, "DELETE FROM image_layers WHERE image_id=?", &del, err) < 0 ||
        db_prepare(db, "INSERT INTO image_layers(image_id, idx, chain_id) VALUES(?,?,?)", &il,
                   err) < 0 ||
        db_prepare(db, "INSERT OR REPLACE INTO image_refs(ref, image_id, kind) VALUES(?,?,?)", &rf,
                   err) < 0 ||
        db_prepare(db, "INSERT OR IGNORE INTO image_blobs(image_id, digest) VALUES(?,?)", &bl,
                   err) < 0)
        return -1;
    for (size_t i = 0; i < n_layers; i++) {
        sqlite3_reset(li);
        bind_text(li, 1, layers[i].chain_id);
        bind_text(li, 2, layers[i].diff_id);
        sqlite3_bind_int64(li, 3, (sqlite3_int64)layers[i].bytes);
        sqlite3_bind_int64(li, 4, (sqlite3_int64)layers[i].inodes);
        if (db_step_done(db, li, "insert layer", err) < 0)
            return -1;
    }
    bind_text(im, 1, rec->id);
    bind_text(im, 2, rec->manifest_digest);
    bind_text(im, 3, rec->config_json ? rec->config_json : "{}");
    bind_text(im, 4, rec->annotations_json ? rec->annotations_json : "{}");
    sqlite3_bind_int64(im, 5, (sqlite3_int64)rec->size);
    sqlite3_bind_int64(im, 6, rec->created_ns);
    if (db_step_done(db, im, "insert image", err) < 0)
        return -1;
    bind_text(del, 1, rec->id);
    if (db_step_done(db, del, "replace image layers", err) < 0)
        return -1;
    for (size_t i = 0; i < rec->n_layers; i++) {
        sqlite3_reset(il);
        bind_text(il, 1, rec->id);
        sqlite3_bind_int64(il, 2, (sqlite3_int64)i);
        bind_text(il, 3, rec->chain_ids[i]);
        if (db_step_done(db, il, "insert image layer", err) < 0)
            return -1;
    }
    for (size_t i = 0; i < rec->n_blobs; i++) {
        sqlite3_reset(bl);
        bind_text(bl, 1, rec->id);
        bind_text(bl, 2, rec->blobs[i]);
        if (db_step_done(db, bl, "insert image blob", err) < 0)
            return -1;
    }
    for (int kind = 0; kind < 2; kind++) {
        char **v = kind == REF_TAG ? rec->tags : rec->digests;
        size_t n = kind == REF_TAG ? rec->n_tags : rec->n_digests;
        for (size_t i = 0; i < n; i++) {
            sqlite3_reset(rf);
            bind_text(rf, 1, v[i]);
            bind_text(rf, 2, rec->id);
            sqlite3_bind_int(rf, 3, kind);
            if (db_step_done(db, rf, "insert image reference", err) < 0)
                return -1;
        }
    }
    return 0;
}

int image_store_put(cric_db *db, const image_record *rec, const image_layer_row *layers,
                    size_t n_layers, cric_err *err)
{
    if (db_tx_begin(db, err) < 0)
        return -1;
    int rc = put_locked(db, rec, layers, n_layers, err);
    if (db_tx_end(db, rc == 0, rc == 0 ? err : NULL) < 0)
        return -1;
    return rc;
}

/* Single reads take the transaction mutex too, so that they never see
 * another thread's uncommitted transaction on the shared connection. */
#define READ_LOCK(db) pthread_mutex_lock(&(db)->tx_mu)
#define READ_UNLOCK(db) pthread_mutex_unlock(&(db)->tx_mu)

int image_store_lookup_ref(cric_db *db, const char *ref, char id[IMGSTORE_ID_MAX], cric_err *err)
{
    READ_LOCK(db);
    int rc;
    {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        rc = db_prepare(db, "SELECT image_id FROM image_refs WHERE ref=?", &s, err);
        if (rc == 0) {
            bind_text(s, 1, ref);
            int r = sqlite3_step(s);
            if (r == SQLITE_ROW)
                snprintf(id, IMGSTORE_ID_MAX, "%s", (const char *)sqlite3_column_text(s, 0));
            else if (r == SQLITE_DONE)
                rc = cric_err_set(err, CRIC_ERR_NOT_FOUND, "image %.300s not found", ref);
            else
                rc = cric_err_set(err, CRIC_ERR_INTERNAL, "database: lookup %.300s: %s", ref,
                                  sqlite3_errmsg(db->conn));
        }
    }
    READ_UNLOCK(db);
    return rc;
}

/* Runs a one-column query into a string vector. */
static int query_strv(cric_db *db, const char *sql, const char *arg, char ***out, size_t *n,
                      cric_err *err)
{
    *out = NULL;
    *n = 0;
    _cleanup_stmt_ sqlite3_stmt *s = NULL;
    if (db_prepare(db, sql, &s, err) < 0)
        return -1;
    if (arg)
        bind_text(s, 1, arg);
    size_t cap = 0;
    char **v = NULL;
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n + 1 >= cap) {
            cap = cap ? cap * 2 : 8;
            char **nv = realloc(v, cap * sizeof(char *));
            if (!nv) {
                image_store_strv_free(v, *n);
                *n = 0;
                return cric_err_set(err, CRIC_ERR_RESOURCE, "database: out of memory");
            }
            v = nv;
        }
        v[(*n)++] = strdup((const char *)sqlite3_column_text(s, 0));
    }
    if (r != SQLITE_DONE) {
        image_store_strv_free(v, *n);
        *n = 0;
        return cric_err_set(err, CRIC_ERR_INTERNAL, "database: %.40s: %s", sql,
                            sqlite3_errmsg(db->conn));
    }
    *out = v;
    return 0;
}

int image_store_ids(cric_db *db, const char *prefix, char ***ids, size_t *n, cric_err *err)
{
    char like[IMGSTORE_ID_MAX + 2];
    snprintf(like, sizeof(like), "%s%%", prefix ? prefix : "");
    READ_LOCK(db);
    int rc = query_strv(db, "SELECT id FROM images WHERE id LIKE ? ORDER BY created_ns", like, ids,
                        n, err);
    READ_UNLOCK(db);
    return rc;
}

static int get_locked(cric_db *db, const char *id, image_record **out, cric_err *err)
{
    _cleanup_stmt_ sqlite3_stmt *s = NULL;
    if (db_prepare(db,
                   "SELECT manifest_digest, config, annotations, size, created_ns FROM images "
                   "WHERE id=?",
                   &s, err) < 0)
        return -1;
    bind_text(s, 1, id);
    int r = sqlite3_step(s);
    if (r == SQLITE_DONE)
        return cric_err_set(err, CRIC_ERR_NOT_FOUND, "image %.100s not found", id);
    if (r != SQLITE_ROW)
        return cric_err_set(err, CRIC_ERR_INTERNAL, "database: image %.100s: %s", id,
                            sqlite3_errmsg(db->conn));
    image_record *rec = calloc(1, sizeof(*rec));
    if (!rec)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "database: out of memory");
    snprintf(rec->id, sizeof(rec->id), "%s", id);
    snprintf(rec->manifest_digest, sizeof(rec->manifest_digest), "%s",
             (const char *)sqlite3_column_text(s, 0));
    rec->config_json = strdup((const char *)sqlite3_column_text(s, 1));
    rec->annotations_json = strdup((const char *)sqlite3_column_text(s, 2));
    rec->size = (uint64_t)sqlite3_column_int64(s, 3);
    rec->created_ns = sqlite3_column_int64(s, 4);
    if (query_strv(db, "SELECT chain_id FROM image_layers WHERE image_id=? ORDER BY idx", id,
                   &rec->chain_ids, &rec->n_layers, err) < 0 ||
        query_strv(db, "SELECT ref FROM image_refs WHERE image_id=? AND kind=0 ORDER BY ref", id,
                   &rec->tags, &rec->n_tags, err) < 0 ||
        query_strv(db, "SELECT ref FROM image_refs WHERE image_id=? AND kind=1 ORDER BY ref", id,
                   &rec->digests, &rec->n_digests, err) < 0) {
        image_record_free(rec);
        return -1;
    }
    *out = rec;
    return 0;
}

int image_store_get(cric_db *db, const char *id, image_record **out, cric_err *err)
{
    READ_LOCK(db);
    int rc = get_locked(db, id, out, err);
    READ_UNLOCK(db);
    return rc;
}

void image_record_free(image_record *r)
{
    if (!r)
        return;
    free(r->config_json);
    free(r->annotations_json);
    image_store_strv_free(r->chain_ids, r->n_layers);
    image_store_strv_free(r->tags, r->n_tags);
    image_store_strv_free(r->digests, r->n_digests);
    free(r);
}

static int exec1(cric_db *db, const char *sql, const char *a, const char *b, const char *what,
                 cric_err *err)
{
    _cleanup_stmt_ sqlite3_stmt *s = NULL;
    if (db_prepare(db, sql, &s, err) < 0)
        return -1;
    bind_text(s, 1, a);
    if (b)
        bind_text(s, 2, b);
    return db_step_done(db, s, what, err);
}

int image_store_delete(cric_db *db, const char *id, cric_err *err)
{
    if (db_tx_begin(db, err) < 0)
        return -1;
    int rc = exec1(db, "DELETE FROM image_refs WHERE image_id=?", id, NULL, "delete refs", err);
    if (rc == 0)
        rc = exec1(db, "DELETE FROM image_layers WHERE image_id=?", id, NULL, "delete layers", err);
    if (rc == 0)
        rc = exec1(db, "DELETE FROM image_blobs WHERE image_id=?", id, NULL, "delete blobs", err);
    if (rc == 0)
        rc = exec1(db, "DELETE FROM images WHERE id=?", id, NULL, "delete image", err);
    if (db_tx_end(db, rc == 0, rc == 0 ? err : NULL) < 0)
        return -1;
    return rc;
}

int image_store_unused_layers(cric_db *db, char ***chain_ids, size_t *n, cric_err *err)
{
    READ_LOCK(db);
    int rc = query_strv(db,
                        "SELECT chain_id FROM layers WHERE chain_id NOT IN "
                        "(SELECT chain_id FROM image_layers) AND chain_id NOT IN "
                        "(SELECT chain_id FROM layer_holds)",
                        NULL, chain_ids, n, err);
    READ_UNLOCK(db);
    return rc;
}

int image_store_layer_delete(cric_db *db, const char *chain_id, cric_err *err)
{
    if (db_tx_begin(db, err) < 0)
        return -1;
    int rc = exec1(db,
                   "DELETE FROM layers WHERE chain_id=? AND chain_id NOT IN "
                   "(SELECT chain_id FROM image_layers) AND chain_id NOT IN "
                   "(SELECT chain_id FROM layer_holds)",
                   chain_id, NULL, "delete layer", err);
    if (db_tx_end(db, rc == 0, rc == 0 ? err : NULL) < 0)
        return -1;
    return rc;
}

bool image_store_layer_known(cric_db *db, const char *chain_id)
{
    READ_LOCK(db);
    bool found = false;
    {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        if (db_prepare(db, "SELECT 1 FROM layers WHERE chain_id=?", &s, NULL) == 0) {
            bind_text(s, 1, chain_id);
            found = sqlite3_step(s) == SQLITE_ROW;
        }
    }
    READ_UNLOCK(db);
    return found;
}

int image_store_digests(cric_db *db, char ***digests, size_t *n, cric_err *err)
{
    READ_LOCK(db);
    int rc = query_strv(db,
                        "SELECT id FROM images UNION SELECT manifest_digest FROM images "
                        "UNION SELECT substr(ref, instr(ref, '@') + 1) FROM image_refs "
                        "WHERE kind = 1 UNION SELECT digest FROM image_blobs",
                        NULL, digests, n, err);
    READ_UNLOCK(db);
    return rc;
}

int image_store_layers(cric_db *db, char ***chain_ids, size_t *n, cric_err *err)
{
    READ_LOCK(db);
    int rc = query_strv(db, "SELECT chain_id FROM layers", NULL, chain_ids, n, err);
    READ_UNLOCK(db);
    return rc;
}

int image_store_usage(cric_db *db, uint64_t *bytes, uint64_t *inodes, cric_err *err)
{
    READ_LOCK(db);
    int rc = 0;
    {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        rc = db_prepare(db, "SELECT COALESCE(SUM(bytes),0), COALESCE(SUM(inodes),0) FROM layers",
                        &s, err);
        if (rc == 0 && sqlite3_step(s) == SQLITE_ROW) {
            *bytes = (uint64_t)sqlite3_column_int64(s, 0);
            *inodes = (uint64_t)sqlite3_column_int64(s, 1);
        }
    }
    READ_UNLOCK(db);
    return rc;
}

int image_store_hold(cric_db *db, const char *image_id, const char *holder, cric_err *err)
{
    if (db_tx_begin(db, err) < 0)
        return -1;
    int rc = 0;
    {
        _cleanup_stmt_ sqlite3_stmt *s = NULL;
        rc = db_prepare(db, "SELECT 1 FROM images WHERE id=?", &s, err);
        if (rc == 0) {
            bind_text(s, 1, image_id);
            if (sqlite3_step(s) != SQLITE_ROW)
                rc = cric_err_set(err, CRIC_ERR_NOT_FOUND, "image %.100s not found", image_id);
        }
    }
    if (rc == 0)
        rc = exec1(db,
                   "INSERT OR IGNORE INTO layer_holds(holder, chain_id) "
                   "SELECT ?, chain_id FROM image_layers WHERE image_id=?",
                   holder, image_id, "hold layers", err);
    if (db_tx_end(db, rc == 0, rc == 0 ? err : NULL) < 0)
        return -1;
    return rc;
}

int image_store_release(cric_db *db, const char *holder, cric_err *err)
{
    if (db_tx_begin(db, err) < 0)
        return -1;
    int rc = exec1(db, "DELETE FROM layer_holds WHERE holder=?", holder, NULL, "release", err);
    if (db_tx_end(db, rc == 0, rc == 0 ? err : NULL) < 0)
        return -1;
    return rc;
}
