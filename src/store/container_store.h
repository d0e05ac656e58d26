/* Container rows. The container service owns their meaning; this module
 * stores identity, state and creation time as columns, the CRI
 * ContainerConfig as an opaque blob (packed protobuf, decoded by the service)
 * and everything else as a JSON document. */
#ifndef CRIC_STORE_CONTAINER_STORE_H
#define CRIC_STORE_CONTAINER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

typedef struct container_row {
    const char *id;     /* 64 hex */
    const char *pod_id; /* 64 hex */
    const char *name;
    uint32_t attempt;
    int state; /* container service's state code */
    int64_t created_at;
    const void *config; /* opaque blob */
    size_t config_len;
    const char *data; /* JSON */
} container_row;

int container_store_init(cric_db *db, cric_err *err);
/* Inserts or replaces the row with that id. */
int container_store_put(cric_db *db, const container_row *row, cric_err *err);
/* Deletes the row; a missing row is success. */
int container_store_delete(cric_db *db, const char *id, cric_err *err);
/* Calls cb for every row, oldest first; the row's memory lives for the call. */
int container_store_load(cric_db *db, int (*cb)(void *arg, const container_row *row, cric_err *err),
                         void *arg, cric_err *err);

#endif
