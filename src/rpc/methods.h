/* The dispatch table: method path -> rpc_method, an open-addressing hash table
 * built once at server creation and read-only afterwards. */
#ifndef CRIC_RPC_METHODS_H
#define CRIC_RPC_METHODS_H

#include <stddef.h>
#include <stdint.h>

#include "rpc/server.h"

typedef struct rpc_method_slot {
    const rpc_method *method; /* NULL: empty slot */
    size_t len;
    uint32_t hash;
} rpc_method_slot;

typedef struct rpc_method_table {
    rpc_method_slot *slots;
    size_t mask; /* slot count - 1 (a power of two) */
} rpc_method_table;

/* Fails (CRIC_ERR_INVALID) on a NULL handler, a path that does not start with
 * '/', or a duplicate path. */
int rpc_method_table_init(rpc_method_table *t, const rpc_method *methods, size_t n, cric_err *err);
void rpc_method_table_free(rpc_method_table *t);
/* path need not be NUL-terminated. */
const rpc_method *rpc_method_table_find(const rpc_method_table *t, const uint8_t *path, size_t len);

#endif
