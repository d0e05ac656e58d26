/* Deadline min-heap (see deadline.h). */
#include "rpc/deadline.h"

#include <stdlib.h>

void rpc_dl_heap_init(rpc_dl_heap *h)
{
    h->v = NULL;
    h->n = h->cap = 0;
}

void rpc_dl_heap_free(rpc_dl_heap *h)
{
    for (size_t i = 0; i < h->n; i++)
        h->v[i]->idx = RPC_DL_NONE;
    free(h->v);
    rpc_dl_heap_init(h);
}

static void place(rpc_dl_heap *h, size_t i, rpc_dl_node *n)
{
    h->v[i] = n;
    n->idx = i;
}

static void sift_up(rpc_dl_heap *h, size_t i)
{
    rpc_dl_node *n = h->v[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->v[parent]->when <= n->when)
            break;
        place(h, i, h->v[parent]);
        i = parent;
    }
    place(h, i, n);
}

static void sift_down(rpc_dl_heap *h, size_t i)
{
    rpc_dl_node *n = h->v[i];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        uint64_t best = n->when;
        if (l < h->n && h->v[l]->when < best) {
            m = l;
            best = h->v[l]->when;
        }
        if (r < h->n && h->v[r]->when < best)
            m = r;
        if (m == i)
            break;
        place(h, i, h->v[m]);
        i = m;
    }
    place(h, i, n);
}

int rpc_dl_push(rpc_dl_heap *h, rpc_dl_node *node)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        rpc_dl_node **v = realloc(h->v, cap * sizeof(*v));
        if (!v)
            return -1;
        h->v = v;
        h->cap = cap;
    }
    place(h, h->n++, node);
    sift_up(h, node->idx);
    return 0;
}

void rpc_dl_remove(rpc_dl_heap *h, rpc_dl_node *node)
{
    size_t i = node->idx;
    if (i == RPC_DL_NONE || i >= h->n || h->v[i] != node)
        return;
    node->idx = RPC_DL_NONE;
    rpc_dl_node *last = h->v[--h->n];
    if (last == node)
        return;
    place(h, i, last);
    if (i > 0 && h->v[(i - 1) / 2]->when > last->when)
        sift_up(h, i);
    else
        sift_down(h, i);
}

rpc_dl_node *rpc_dl_peek(const rpc_dl_heap *h)
{
    return h->n ? h->v[0] : NULL;
}
