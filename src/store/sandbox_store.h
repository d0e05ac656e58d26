/* Sandbox rows. The pod service owns their meaning; this module stores the
 * identity, state and creation time as columns and everything else as an
 * opaque JSON document. */
#ifndef CRIC_STORE_SANDBOX_STORE_H
#define CRIC_STORE_SANDBOX_STORE_H

#include <stdint.h>

#include "store/db.h"

typedef struct sandbox_row {
    const char *id; /* 64 hex */
    const char *name, *namespace_, *uid;
    uint32_t attempt;
    int state; /* pod service's state code */
    int64_t created_at;
    const char *data; /* JSON */
} sandbox_row;

int sandbox_store_init(cric_db *db, cric_err *err);
/* Inserts or replaces the row with that id. */
int sandbox_store_put(cric_db *db, const sandbox_row *row, cric_err *err);
/* Deletes the row; a missing row is success. */
int sandbox_store_delete(cric_db *db, const char *id, cric_err *err);
/* Calls cb for every row, oldest first; the row's strings live for the call. */
int sandbox_store_load(cric_db *db, int (*cb)(void *arg, const sandbox_row *row, cric_err *err),
                       void *arg, cric_err *err);

#endif
