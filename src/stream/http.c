#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "stream/http.h"

static bool is_tchar(unsigned char c)
{
    return isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static char *find_head_end(const char *buf, size_t len)
{
    for (size_t i = 0; i + 3 < len; i++)
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n')
            return (char *)buf + i;
    return NULL;
}

static char *trim(char *s, char *end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *end = '\0';
    return s;
}

static int parse_request_line(http_req *req, char *line, const char **why)
{
    char *sp1 = strchr(line, ' ');
    if (!sp1)
        return *why = "request line without a target", HTTP_PARSE_ERROR;
    *sp1 = '\0';
    char *target = sp1 + 1;
    char *sp2 = strchr(target, ' ');
    if (!sp2)
        return *why = "request line without a version", HTTP_PARSE_ERROR;
    *sp2 = '\0';
    char *version = sp2 + 1;
    if (line[0] == '\0' || strlen(line) > 16)
        return *why = "bad method", HTTP_PARSE_ERROR;
    for (char *p = line; *p; p++)
        if (!is_tchar((unsigned char)*p))
            return *why = "bad method", HTTP_PARSE_ERROR;
    if (target[0] != '/')
        return *why = "request target is not an absolute path", HTTP_PARSE_ERROR;
    for (char *p = target; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return *why = "bad character in request target", HTTP_PARSE_ERROR;
    if (strncmp(version, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)version[7]) ||
        version[8] != '\0')
        return *why = "not an HTTP/1.x request", HTTP_PARSE_ERROR;
    req->method = line;
    req->target = target;
    req->minor = version[7] - '0';
    return 0;
}

int http_parse_request(const char *buf, size_t len, size_t max_head, http_req *req,
                       size_t *consumed, const char **why)
{
    static const char *none = "";
    *why = none;
    memset(req, 0, sizeof(*req));
    /* Tolerate nothing before the request line except what RFC 9112 allows:
     * we do not even skip leading CRLFs; a client must start cleanly. */
    size_t scan = len < max_head ? len : max_head;
    char *end = find_head_end(buf, scan);
    /* Only the head itself: what a client sends after it (a SPDY or
     * WebSocket frame) is binary. */
    size_t check = end ? (size_t)(end - buf) + 4 : scan;
    for (size_t i = 0; i < check; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == 0 || (c < 0x20 && c != '\r' && c != '\n' && c != '\t') || c == 0x7f)
            return *why = "control character in request head", HTTP_PARSE_ERROR;
    }
    if (!end) {
        if (len >= max_head)
            return *why = "request head too large", HTTP_PARSE_TOO_LARGE;
        /* A first line that cannot be HTTP fails fast instead of waiting. */
        const char *nl = memchr(buf, '\n', len);
        if (nl && (nl == buf || nl[-1] != '\r'))
            return *why = "bare LF in request line", HTTP_PARSE_ERROR;
        return HTTP_PARSE_NEED_MORE;
    }
    size_t head_len = (size_t)(end - buf) + 4;
    size_t target_room = head_len + 1;
    req->head = malloc(head_len + 1 + target_room);
    if (!req->head)
        return *why = "out of memory", HTTP_PARSE_TOO_LARGE;
    memcpy(req->head, buf, head_len - 2);
    req->head[head_len - 2] = '\0';
    char *p = req->head;
    char *lines_end = req->head + head_len - 2;
    int line_no = 0;
    while (p < lines_end) {
        char *eol = strstr(p, "\r\n");
        if (!eol) {
            http_req_free(req);
            return *why = "header line without CRLF", HTTP_PARSE_ERROR;
        }
        *eol = '\0';
        if (memchr(p, '\n', (size_t)(eol - p)) || memchr(p, '\r', (size_t)(eol - p))) {
            http_req_free(req);
            return *why = "bare CR or LF in request head", HTTP_PARSE_ERROR;
        }
        if (line_no == 0) {
            if (parse_request_line(req, p, why) < 0) {
                http_req_free(req);
                return HTTP_PARSE_ERROR;
            }
        } else {
            if (*p == ' ' || *p == '\t') {
                http_req_free(req);
                return *why = "obsolete header line folding", HTTP_PARSE_ERROR;
            }
            char *colon = strchr(p, ':');
            if (!colon || colon == p) {
                http_req_free(req);
                return *why = "header line without a name", HTTP_PARSE_ERROR;
            }
            for (char *q = p; q < colon; q++)
                if (!is_tchar((unsigned char)*q)) {
                    http_req_free(req);
                    return *why = "bad character in header name", HTTP_PARSE_ERROR;
                }
            if (req->n_headers == HTTP_MAX_HEADERS) {
                http_req_free(req);
                return *why = "too many headers", HTTP_PARSE_TOO_LARGE;
            }
            *colon = '\0';
            http_header *h = &req->headers[req->n_headers++];
            h->name = p;
            h->value = trim(colon + 1, eol);
        }
        line_no++;
        p = eol + 2;
    }
    if (!req->method) {
        http_req_free(req);
        return *why = "empty request", HTTP_PARSE_ERROR;
    }
    /* path and query: a second copy of the target, split at '?'. */
    char *copy = req->head + head_len + 1;
    strcpy(copy, req->target);
    char *q = strchr(copy, '?');
    if (q) {
        *q = '\0';
        req->query = q + 1;
    } else {
        req->query = copy + strlen(copy); /* "" */
    }
    req->path = copy;
    *consumed = head_len;
    return HTTP_PARSE_DONE;
}

void http_req_free(http_req *req)
{
    free(req->head);
    memset(req, 0, sizeof(*req));
}

const char *http_get(const http_req *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

bool http_each_value(const http_req *req, const char *name,
                     bool (*fn)(const char *value, size_t len, void *arg), void *arg)
{
    for (size_t i = 0; i < req->n_headers; i++) {
        if (strcasecmp(req->headers[i].name, name) != 0)
            continue;
        const char *s = req->headers[i].value;
        while (*s) {
            while (*s == ' ' || *s == '\t' || *s == ',')
                s++;
            const char *e = s;
            while (*e && *e != ',')
                e++;
            const char *t = e;
            while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
                t--;
            if (t > s && fn(s, (size_t)(t - s), arg))
                return true;
            s = e;
        }
    }
    return false;
}

static bool token_eq(const char *value, size_t len, void *arg)
{
    const char *token = arg;
    return strlen(token) == len && strncasecmp(value, token, len) == 0;
}

bool http_has_token(const http_req *req, const char *name, const char *token)
{
    return http_each_value(req, name, token_eq, (void *)token);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int http_query_each(const char *query, const char *key, int (*fn)(const char *value, void *arg),
                    void *arg)
{
    size_t klen = strlen(key);
    const char *s = query;
    while (*s) {
        const char *e = strchr(s, '&');
        if (!e)
            e = s + strlen(s);
        const char *eq = memchr(s, '=', (size_t)(e - s));
        const char *kend = eq ? eq : e;
        if ((size_t)(kend - s) == klen && strncmp(s, key, klen) == 0) {
            const char *v = eq ? eq + 1 : e;
            size_t vlen = (size_t)(e - v);
            char *out = malloc(vlen + 1);
            if (!out)
                return -1;
            size_t n = 0;
            for (size_t i = 0; i < vlen; i++) {
                if (v[i] == '%') {
                    if (i + 2 >= vlen) {
                        free(out);
                        return -1;
                    }
                    int a = hexval(v[i + 1]), b = hexval(v[i + 2]);
                    if (a < 0 || b < 0) {
                        free(out);
                        return -1;
                    }
                    out[n++] = (char)(a << 4 | b);
                    i += 2;
                } else if (v[i] == '+') {
                    out[n++] = ' ';
                } else {
                    out[n++] = v[i];
                }
            }
            out[n] = '\0';
            int rc = fn(out, arg);
            free(out);
            if (rc < 0)
                return -1;
        }
        s = *e ? e + 1 : e;
    }
    return 0;
}
