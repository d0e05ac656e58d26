/* Method path lookup (see methods.h). */
#include "rpc/methods.h"

#include <stdlib.h>
#include <string.h>

/* FNV-1a. */
static uint32_t path_hash(const uint8_t *p, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

int rpc_method_table_init(rpc_method_table *t, const rpc_method *methods, size_t n, cric_err *err)
{
    t->slots = NULL;
    t->mask = 0;
    size_t cap = 8;
    while (cap < n * 2)
        cap *= 2;
    rpc_method_slot *slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "rpc: out of memory for the method table");
    for (size_t i = 0; i < n; i++) {
        const rpc_method *m = &methods[i];
        if (!m->path || m->path[0] != '/' || !m->handler) {
            free(slots);
            return cric_err_set(err, CRIC_ERR_INVALID, "rpc: method %zu (%s) is invalid", i,
                                m->path ? m->path : "(null)");
        }
        size_t len = strlen(m->path);
        uint32_t h = path_hash((const uint8_t *)m->path, len);
        size_t j = h & (cap - 1);
        while (slots[j].method) {
            if (slots[j].len == len && memcmp(slots[j].method->path, m->path, len) == 0) {
                free(slots);
                return cric_err_set(err, CRIC_ERR_INVALID, "rpc: method %s is registered twice",
                                    m->path);
            }
            j = (j + 1) & (cap - 1);
        }
        slots[j] = (rpc_method_slot){.method = m, .len = len, .hash = h};
    }
    t->slots = slots;
    t->mask = cap - 1;
    return 0;
}

void rpc_method_table_free(rpc_method_table *t)
{
    free(t->slots);
    t->slots = NULL;
}

const rpc_method *rpc_method_table_find(const rpc_method_table *t, const uint8_t *path, size_t len)
{
    if (!t->slots)
        return NULL;
    uint32_t h = path_hash(path, len);
    for (size_t j = h & t->mask;; j = (j + 1) & t->mask) {
        const rpc_method_slot *s = &t->slots[j];
        if (!s->method)
            return NULL;
        if (s->hash == h && s->len == len && memcmp(s->method->path, path, len) == 0)
            return s->method;
    }
}
