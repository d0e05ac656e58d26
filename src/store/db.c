#include "store/db.h"

#include <stdlib.h>
#include <string.h>

int db_open(cric_db *db, const char *path, cric_err *err)
{
    memset(db, 0, sizeof(*db));
    int rc = sqlite3_open_v2(path, &db->conn,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX |
                                 SQLITE_OPEN_NOFOLLOW,
                             NULL);
    if (rc != SQLITE_OK) {
        cric_err_set(err, CRIC_ERR_INTERNAL, "database %s: open: %s", path,
                     db->conn ? sqlite3_errmsg(db->conn) : sqlite3_errstr(rc));
        sqlite3_close(db->conn);
        db->conn = NULL;
        return -1;
    }
    pthread_mutex_init(&db->tx_mu, NULL);
    db->path = strdup(path);
    sqlite3_busy_timeout(db->conn, 5000);
    /* Rows are read at start-up and written on every change, hardly ever read
     * back: SQLite's default 2 MB page cache only filled up with the pages of
     * rows that churning pods had left (daemon RSS crept up over 2000 pods).
     * The kernel's page cache serves the rare re-read. */
    if (db_exec(db,
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-256;",
                err) < 0) {
        db_close(db);
        return -1;
    }
    return 0;
}

void db_close(cric_db *db)
{
    if (db->conn) {
        sqlite3_close(db->conn);
        pthread_mutex_destroy(&db->tx_mu);
    }
    free(db->path);
    memset(db, 0, sizeof(*db));
}

int db_exec(cric_db *db, const char *sql, cric_err *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db->conn, sql, NULL, NULL, &msg) != SQLITE_OK) {
        cric_err_set(err, CRIC_ERR_INTERNAL, "database: %.40s...: %s", sql,
                     msg ? msg : "unknown error");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int db_tx_begin(cric_db *db, cric_err *err)
{
    pthread_mutex_lock(&db->tx_mu);
    if (db_exec(db, "BEGIN IMMEDIATE", err) < 0) {
        pthread_mutex_unlock(&db->tx_mu);
        return -1;
    }
    return 0;
}

int db_tx_end(cric_db *db, bool ok, cric_err *err)
{
    int rc = 0;
    if (ok) {
        rc = db_exec(db, "COMMIT", err);
        if (rc < 0)
            db_exec(db, "ROLLBACK", NULL);
    } else {
        db_exec(db, "ROLLBACK", NULL);
    }
    pthread_mutex_unlock(&db->tx_mu);
    return rc;
}

int db_prepare(cric_db *db, const char *sql, sqlite3_stmt **stmt, cric_err *err)
{
    if (sqlite3_prepare_v2(db->conn, sql, -1, stmt, NULL) != SQLITE_OK)
        return cric_err_set(err, CRIC_ERR_INTERNAL, "database: prepare %.40s: %s", sql,
                            sqlite3_errmsg(db->conn));
    return 0;
}

int db_step_done(cric_db *db, sqlite3_stmt *stmt, const char *what, cric_err *err)
{
    int rc = sqlite3_step(stmt);
    if (rc != SQLITE_DONE) {
        cric_errkind kind = rc == SQLITE_CONSTRAINT ? CRIC_ERR_EXISTS
                            : rc == SQLITE_FULL     ? CRIC_ERR_RESOURCE
                                                    : CRIC_ERR_INTERNAL;
        return cric_err_set(err, kind, "database: %s: %s", what, sqlite3_errmsg(db->conn));
    }
    return 0;
}
