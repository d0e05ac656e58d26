#include "store/sandbox_store.h"

#include <string.h>

int sandbox_store_init(cric_db *db, cric_err *err)
{
    return db_exec(db,
                   "CREATE TABLE IF NOT EXISTS sandboxes ("
                   " id TEXT PRIMARY KEY,"
                   " name TEXT NOT NULL, namespace TEXT NOT NULL, uid TEXT NOT NULL,"
                   " attempt INTEGER NOT NULL, state INTEGER NOT NULL,"
                   " created_at INTEGER NOT NULL, data TEXT NOT NULL)",
                   err);
}

int sandbox_store_put(cric_db *db, const sandbox_row *r, cric_err *err)
{
    _cleanup_stmt_ sqlite3_stmt *st = NULL;
    if (db_prepare(db,
                   "INSERT OR REPLACE INTO sandboxes (id, name, namespace, uid, attempt, state, "
                   "created_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   &st, err) < 0)
        return -1;
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->namespace_, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->uid, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, r->attempt);
    sqlite3_bind_int(st, 6, r->state);
    sqlite3_bind_int64(st, 7, r->created_at);
    sqlite3_bind_text(st, 8, r->data, -1, SQLITE_STATIC);
    return db_step_done(db, st, "store sandbox", err);
}

int sandbox_store_delete(cric_db *db, const char *id, cric_err *err)
{
    _cleanup_stmt_ sqlite3_stmt *st = NULL;
    if (db_prepare(db, "DELETE FROM sandboxes WHERE id = ?", &st, err) < 0)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    return db_step_done(db, st, "delete sandbox", err);
}

static const char *col(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "";
}

int sandbox_store_load(cric_db *db, int (*cb)(void *arg, const sandbox_row *row, cric_err *err),
                       void *arg, cric_err *err)
{
    _cleanup_stmt_ sqlite3_stmt *st = NULL;
    if (db_prepare(db,
                   "SELECT id, name, namespace, uid, attempt, state, created_at, data "
                   "FROM sandboxes ORDER BY created_at",
                   &st, err) < 0)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sandbox_row r = {
            .id = col(st, 0),
            .name = col(st, 1),
            .namespace_ = col(st, 2),
            .uid = col(st, 3),
            .attempt = (uint32_t)sqlite3_column_int64(st, 4),
            .state = sqlite3_column_int(st, 5),
            .created_at = sqlite3_column_int64(st, 6),
            .data = col(st, 7),
        };
        if (cb(arg, &r, err) < 0)
            return -1;
    }
    if (rc != SQLITE_DONE)
        return cric_err_set(err, CRIC_ERR_INTERNAL, "database: load sandboxes: %s",
                            sqlite3_errmsg(db->conn));
    return 0;
}
