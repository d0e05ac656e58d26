#include "store/container_store.h"

#include <string.h>

int container_store_init(cric_db *db, cric_err *err)
{
    return db_exec(db,
                   "CREATE TABLE IF NOT EXISTS containers ("
                   " id TEXT PRIMARY KEY, pod_id TEXT NOT NULL,"
                   " name TEXT NOT NULL, attempt INTEGER NOT NULL, state INTEGER NOT NULL,"
                   " created_at INTEGER NOT NULL, config BLOB NOT NULL, data TEXT NOT NULL)",
                   err);
}

int container_store_put(cric_db *db, const container_row *r, cric_err *err)
{
    _cleanup_stmt_ sqlite3_stmt *st = NULL;
    if (db_prepare(db,
                   "INSERT OR REPLACE INTO containers (id, pod_id, name, attempt, state, "
                   "created_at, config, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   &st, err) < 0)
        return -1;
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->pod_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, r->attempt);
    sqlite3_bind_int(st, 5, r->state);
    sqlite3_bind_int64(st, 6, r->created_at);
    sqlite3_bind_blob(st, 7, r->config_len ? r->config : "", (int)r->config_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, r->data, -1, SQLITE_STATIC);
    return db_step_done(db, st, "store container", err);
}

int container_store_delete(cric_db *db, const char *id, cric_err *err)
{
    _cleanup_stmt_ sqlite3_stmt *st = NULL;
    if (db_prepare(db, "DELETE FROM containers WHERE id = ?", &st, err) < 0)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    return db_step_done(db, st, "delete container", err);
}

static const char *col(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "";
}

int container_store_load(cric_db *db, int (*cb)(void *arg, const container_row *row, cric_err *err),
                         void *arg, cric_err *err)
{
    _cleanup_stmt_ sqlite3_stmt *st = NULL;
    if (db_prepare(db,
                   "SELECT id, pod_id, name, attempt, state, created_at, config, data "
                   "FROM containers ORDER BY created_at",
                   &st, err) < 0)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        container_row r = {
            .id = col(st, 0),
            .pod_id = col(st, 1),
            .name = col(st, 2),
            .attempt = (uint32_t)sqlite3_column_int64(st, 3),
            .state = sqlite3_column_int(st, 4),
            .created_at = sqlite3_column_int64(st, 5),
            .config = sqlite3_column_blob(st, 6),
            .config_len = (size_t)sqlite3_column_bytes(st, 6),
            .data = col(st, 7),
        };
        if (cb(arg, &r, err) < 0)
            return -1;
    }
    if (rc != SQLITE_DONE)
        return cric_err_set(err, CRIC_ERR_INTERNAL, "database: load containers: %s",
                            sqlite3_errmsg(db->conn));
    return 0;
}
