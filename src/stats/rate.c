#include "stats/rate.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 256
#define RATE_MAX_ENTRIES 16384 /* beyond this the longest-unused entry goes */

typedef struct rate_entry {
    char *key;
    int64_t mono_ns;
    uint64_t cpu_ns;
    bool has_rate;
    uint64_t rate;
    struct rate_entry *next;
} rate_entry;

struct stats_rate_table {
    pthread_mutex_t mu;
    int64_t min_window_ns;
    rate_entry *b[BUCKETS];
    size_t n;
};

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % BUCKETS;
}

stats_rate_table *stats_rate_new(int64_t min_window_ns)
{
    stats_rate_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    pthread_mutex_init(&t->mu, NULL);
    t->min_window_ns = min_window_ns;
    return t;
}

void stats_rate_free(stats_rate_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < BUCKETS; i++)
        while (t->b[i]) {
            rate_entry *e = t->b[i];
            t->b[i] = e->next;
            free(e->key);
            free(e);
        }
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static void drop_oldest(stats_rate_table *t)
{
    rate_entry **victim = NULL;
    for (size_t i = 0; i < BUCKETS; i++)
        for (rate_entry **pp = &t->b[i]; *pp; pp = &(*pp)->next)
            if (!victim || (*pp)->mono_ns < (*victim)->mono_ns)
                victim = pp;
    if (victim) {
        rate_entry *e = *victim;
        *victim = e->next;
        free(e->key);
        free(e);
        t->n--;
    }
}

bool stats_rate_update(stats_rate_table *t, const char *key, int64_t mono_ns, uint64_t cpu_ns,
                       uint64_t *nano_cores)
{
    unsigned h = hash(key);
    pthread_mutex_lock(&t->mu);
    rate_entry *e = t->b[h];
    while (e && strcmp(e->key, key) != 0)
        e = e->next;
    if (!e) {
        if (t->n >= RATE_MAX_ENTRIES)
            drop_oldest(t);
        e = calloc(1, sizeof(*e));
        if (e && !(e->key = strdup(key))) {
            free(e);
            e = NULL;
        }
        if (e) {
            e->mono_ns = mono_ns;
            e->cpu_ns = cpu_ns;
            e->next = t->b[h];
            t->b[h] = e;
            t->n++;
        }
        pthread_mutex_unlock(&t->mu);
        return false;
    }
    if (cpu_ns < e->cpu_ns || mono_ns < e->mono_ns) { /* restarted counter */
        e->mono_ns = mono_ns;
        e->cpu_ns = cpu_ns;
        e->has_rate = false;
    } else if (mono_ns - e->mono_ns >= t->min_window_ns && mono_ns > e->mono_ns) {
        long double r =
            (long double)(cpu_ns - e->cpu_ns) * 1e9L / (long double)(mono_ns - e->mono_ns);
        e->rate = (uint64_t)r;
        e->has_rate = true;
        e->mono_ns = mono_ns;
        e->cpu_ns = cpu_ns;
    }
    bool has = e->has_rate;
    if (has)
        *nano_cores = e->rate;
    pthread_mutex_unlock(&t->mu);
    return has;
}

void stats_rate_forget(stats_rate_table *t, const char *key)
{
    pthread_mutex_lock(&t->mu);
    for (rate_entry **pp = &t->b[hash(key)]; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->key, key) == 0) {
            rate_entry *e = *pp;
            *pp = e->next;
            free(e->key);
            free(e);
            t->n--;
            break;
        }
    }
    pthread_mutex_unlock(&t->mu);
}

size_t stats_rate_count(stats_rate_table *t)
{
    pthread_mutex_lock(&t->mu);
    size_t n = t->n;
    pthread_mutex_unlock(&t->mu);
    return n;
}
