#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "stream/token.h"

typedef struct token_entry {
    char token[STREAM_TOKEN_LEN + 1];
    uint64_t expires_ms;
    stream_request *req;
    struct token_entry *next;
} token_entry;

struct token_store {
    pthread_mutex_t mu;
    token_entry *head;
    size_t n, max;
};

token_store *token_store_new(size_t max)
{
    token_store *ts = calloc(1, sizeof(*ts));
    if (!ts)
        return NULL;
    pthread_mutex_init(&ts->mu, NULL);
    ts->max = max;
    return ts;
}

void token_store_free(token_store *ts)
{
    if (!ts)
        return;
    for (token_entry *e = ts->head, *next; e; e = next) {
        next = e->next;
        stream_request_free(e->req);
        free(e);
    }
    pthread_mutex_destroy(&ts->mu);
    free(ts);
}

/* Caller holds mu. */
static void sweep_locked(token_store *ts, uint64_t now_ms)
{
    token_entry **pp = &ts->head;
    while (*pp) {
        token_entry *e = *pp;
        if (e->expires_ms <= now_ms) {
            *pp = e->next;
            stream_request_free(e->req);
            free(e);
            ts->n--;
        } else {
            pp = &e->next;
        }
    }
}

size_t token_sweep(token_store *ts, uint64_t now_ms)
{
    pthread_mutex_lock(&ts->mu);
    sweep_locked(ts, now_ms);
    size_t n = ts->n;
    pthread_mutex_unlock(&ts->mu);
    return n;
}

int token_put(token_store *ts, stream_request *req, uint64_t now_ms, uint64_t ttl_ms,
              char out[STREAM_TOKEN_LEN + 1], cric_err *err)
{
    uint8_t rnd[STREAM_TOKEN_LEN / 2];
    size_t got = 0;
    while (got < sizeof(rnd)) {
        ssize_t n = getrandom(rnd + got, sizeof(rnd) - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            stream_request_free(req);
            return cric_err_errno(err, errno, "streaming token: getrandom");
        }
        got += (size_t)n;
    }
    token_entry *e = calloc(1, sizeof(*e));
    if (!e) {
        stream_request_free(req);
        return cric_err_set(err, CRIC_ERR_RESOURCE, "streaming token: out of memory");
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof(rnd); i++) {
        e->token[2 * i] = hex[rnd[i] >> 4];
        e->token[2 * i + 1] = hex[rnd[i] & 15];
    }
    e->token[STREAM_TOKEN_LEN] = '\0';
    e->expires_ms = now_ms + ttl_ms;
    e->req = req;
    pthread_mutex_lock(&ts->mu);
    sweep_locked(ts, now_ms);
    if (ts->n >= ts->max) {
        pthread_mutex_unlock(&ts->mu);
        stream_request_free(req);
        free(e);
        return cric_err_set(err, CRIC_ERR_RESOURCE,
                            "streaming: %zu stream URLs are outstanding already (limit)", ts->max);
    }
    e->next = ts->head;
    ts->head = e;
    ts->n++;
    pthread_mutex_unlock(&ts->mu);
    memcpy(out, e->token, STREAM_TOKEN_LEN + 1);
    return 0;
}

stream_request *token_take(token_store *ts, const char *token, stream_kind kind, uint64_t now_ms)
{
    if (!token || strlen(token) != STREAM_TOKEN_LEN)
        return NULL;
    stream_request *req = NULL;
    pthread_mutex_lock(&ts->mu);
    sweep_locked(ts, now_ms);
    for (token_entry **pp = &ts->head; *pp; pp = &(*pp)->next) {
        token_entry *e = *pp;
        if (strcmp(e->token, token) != 0)
            continue;
        if (e->req->kind == kind) {
            *pp = e->next;
            req = e->req;
            free(e);
            ts->n--;
        }
        break;
    }
    pthread_mutex_unlock(&ts->mu);
    return req;
}
