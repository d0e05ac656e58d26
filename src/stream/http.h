/* HTTP/1.1 request-head parsing for the streaming server: the request line and
 * headers only (the upgrade requests carry no body). Bounded: a head larger
 * than the caller's limit or with too many headers is refused, and anything
 * that is not well-formed HTTP/1.x is an error, never a guess. */
#ifndef CRIC_STREAM_HTTP_H
#define CRIC_STREAM_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_HEADERS 64

typedef struct http_header {
    char *name;  /* as sent; compare case-insensitively */
    char *value; /* leading/trailing whitespace trimmed */
} http_header;

typedef struct http_req {
    char *head; /* owned copy of the head; the strings below point into it */
    char *method;
    char *target; /* request target as sent: "/exec/abc?x=1" */
    char *path;   /* target before '?' (separate copy inside head) */
    char *query;  /* after '?', or "" */
    int minor;    /* HTTP/1.<minor> */
    http_header headers[HTTP_MAX_HEADERS];
    size_t n_headers;
} http_req;

enum {
    HTTP_PARSE_ERROR = -1,     /* malformed: answer 400 */
    HTTP_PARSE_TOO_LARGE = -2, /* head above the limit or too many headers: 431 */
    HTTP_PARSE_NEED_MORE = 0,
    HTTP_PARSE_DONE = 1,
};

/* Parses buf[0..len) as a request head. On HTTP_PARSE_DONE fills req (free
 * with http_req_free) and *consumed (bytes of the head incl. the blank line).
 * max_head bounds the head size. On errors *why says what was wrong. */
int http_parse_request(const char *buf, size_t len, size_t max_head, http_req *req,
                       size_t *consumed, const char **why);
void http_req_free(http_req *req);

/* First header named name (case-insensitive), or NULL. */
const char *http_get(const http_req *req, const char *name);
/* True when any header named name has token among its comma-separated values
 * (case-insensitive), e.g. Connection: keep-alive, Upgrade. */
bool http_has_token(const http_req *req, const char *name, const char *token);
/* Calls fn for every comma-separated value of every header named name, in
 * order; stops early when fn returns true. Returns true if fn did. */
bool http_each_value(const http_req *req, const char *name,
                     bool (*fn)(const char *value, size_t len, void *arg), void *arg);

/* Looks up key in a query string ("a=1&port=80&port=81"): calls fn for each
 * percent-decoded value of key. Returns -1 on a malformed escape. */
int http_query_each(const char *query, const char *key, int (*fn)(const char *value, void *arg),
                    void *arg);

#endif
