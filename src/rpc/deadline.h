/* A binary min-heap of deadlines. Nodes are embedded in their owners (a call)
 * and know their position, so removal is O(log n). Loop thread only. */
#ifndef CRIC_RPC_DEADLINE_H
#define CRIC_RPC_DEADLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RPC_DL_NONE SIZE_MAX

typedef struct rpc_dl_node {
    uint64_t when; /* uv_hrtime() clock, nanoseconds */
    size_t idx;    /* RPC_DL_NONE while not in a heap */
} rpc_dl_node;

typedef struct rpc_dl_heap {
    rpc_dl_node **v;
    size_t n, cap;
} rpc_dl_heap;

static inline void rpc_dl_node_init(rpc_dl_node *n)
{
    n->when = 0;
    n->idx = RPC_DL_NONE;
}

static inline bool rpc_dl_node_queued(const rpc_dl_node *n)
{
    return n->idx != RPC_DL_NONE;
}

void rpc_dl_heap_init(rpc_dl_heap *h);
void rpc_dl_heap_free(rpc_dl_heap *h);
/* Adds node (not yet queued) with node->when set. Returns 0 or -1 (no memory). */
int rpc_dl_push(rpc_dl_heap *h, rpc_dl_node *node);
/* Removes a queued node; a node that is not queued is ignored. */
void rpc_dl_remove(rpc_dl_heap *h, rpc_dl_node *node);
/* The earliest node or NULL. */
rpc_dl_node *rpc_dl_peek(const rpc_dl_heap *h);

#endif
