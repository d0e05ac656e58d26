/* The metadata database: one SQLite file in WAL mode under the root dir. Each
 * domain owns its tables (created by its own *_store.c at start-up); this
 * module opens the file, serialises write transactions and wraps errors.
 * Plain structs in, rows out: no protobuf, no libuv here. */
#ifndef CRIC_STORE_DB_H
#define CRIC_STORE_DB_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>

#include "util/err.h"

typedef struct cric_db {
    sqlite3 *conn;
    /* SQLite is opened in serialized mode; this mutex additionally keeps a
     * multi-statement transaction from interleaving with other threads. */
    pthread_mutex_t tx_mu;
    char *path;
} cric_db;

/* Opens (creating) path with WAL, synchronous=FULL, foreign keys on. */
int db_open(cric_db *db, const char *path, cric_err *err);
void db_close(cric_db *db);

/* Runs one or more statements without results (schema, pragmas). */
int db_exec(cric_db *db, const char *sql, cric_err *err);

/* BEGIN IMMEDIATE ... COMMIT under tx_mu. db_tx_end commits when ok is true,
 * else rolls back; it always releases the mutex. */
int db_tx_begin(cric_db *db, cric_err *err);
int db_tx_end(cric_db *db, bool ok, cric_err *err);

/* Prepares a statement; on failure fills err naming the SQL's first words. */
int db_prepare(cric_db *db, const char *sql, sqlite3_stmt **stmt, cric_err *err);

/* Steps a statement that returns no rows to completion (SQLITE_DONE). */
int db_step_done(cric_db *db, sqlite3_stmt *stmt, const char *what, cric_err *err);

static inline void db_finalizep(sqlite3_stmt **s)
{
    if (*s)
        sqlite3_finalize(*s);
}
#define _cleanup_stmt_ __attribute__((cleanup(db_finalizep)))

#endif
