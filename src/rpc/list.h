/* Intrusive circular doubly linked list for the rpc server's loop-thread
 * bookkeeping (connections of a server, calls of a connection, connections
 * waiting for a flush). Not thread-safe; the owner provides locking. */
#ifndef CRIC_RPC_LIST_H
#define CRIC_RPC_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct rpc_list {
    struct rpc_list *prev, *next;
} rpc_list;

#define rpc_container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* An initialised node points to itself: "not on any list". */
static inline void rpc_list_init(rpc_list *l)
{
    l->prev = l->next = l;
}

static inline bool rpc_list_empty(const rpc_list *l)
{
    return l->next == l;
}

static inline void rpc_list_add_tail(rpc_list *head, rpc_list *n)
{
    n->prev = head->prev;
    n->next = head;
    head->prev->next = n;
    head->prev = n;
}

/* Unlinks n (a no-op for a node that is on no list) and re-initialises it. */
static inline void rpc_list_del(rpc_list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    rpc_list_init(n);
}

#endif
