#include "pod/etcfiles.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing string; on allocation failure the buffer is dropped and ok false. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool bad;
} sbuf;

static void sb_add(sbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->bad)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 256) + n;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->bad = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
}

static int sb_finish(sbuf *b, char **out, cric_err *err)
{
    if (b->bad || !b->p) {
        free(b->p);
        return cric_err_set(err, CRIC_ERR_RESOURCE, "out of memory");
    }
    *out = b->p;
    return 0;
}

static bool is_ip(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static bool is_domain(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_'))
            return false;
    }
    return true;
}

static bool is_token(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == '#' || *p == ';')
            return false;
    return true;
}

int etc_resolv_conf(const char *const *servers, size_t n_servers, const char *const *searches,
                    size_t n_searches, const char *const *options, size_t n_options, char **out,
                    cric_err *err)
{
    if (n_servers > ETC_MAX_DNS_SERVERS || n_searches > ETC_MAX_DNS_SEARCHES ||
        n_options > ETC_MAX_DNS_OPTIONS)
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "dns_config: too many entries (at most %d servers, %d searches, "
                            "%d options)",
                            ETC_MAX_DNS_SERVERS, ETC_MAX_DNS_SEARCHES, ETC_MAX_DNS_OPTIONS);
    for (size_t i = 0; i < n_servers; i++)
        if (!is_ip(servers[i]))
            return cric_err_set(err, CRIC_ERR_INVALID, "dns_config: server %.80s is not an IP",
                                servers[i]);
    for (size_t i = 0; i < n_searches; i++)
        if (!is_domain(searches[i]))
            return cric_err_set(err, CRIC_ERR_INVALID,
                                "dns_config: search %.80s is not a domain name", searches[i]);
    for (size_t i = 0; i < n_options; i++)
        if (!is_token(options[i]))
            return cric_err_set(err, CRIC_ERR_INVALID, "dns_config: bad option %.80s", options[i]);
    sbuf b = {0};
    sb_add(&b, "");
    for (size_t i = 0; i < n_servers; i++) {
        sb_add(&b, "nameserver ");
        sb_add(&b, servers[i]);
        sb_add(&b, "\n");
    }
    if (n_searches) {
        sb_add(&b, "search");
        for (size_t i = 0; i < n_searches; i++) {
            sb_add(&b, " ");
            sb_add(&b, searches[i]);
        }
        sb_add(&b, "\n");
    }
    if (n_options) {
        sb_add(&b, "options");
        for (size_t i = 0; i < n_options; i++) {
            sb_add(&b, " ");
            sb_add(&b, options[i]);
        }
        sb_add(&b, "\n");
    }
    return sb_finish(&b, out, err);
}

int etc_hosts(const char *ip, const char *hostname, char **out, cric_err *err)
{
    sbuf b = {0};
    sb_add(&b, "# Kubernetes-managed hosts file (written by cric).\n"
               "127.0.0.1\tlocalhost\n"
               "::1\tlocalhost ip6-localhost ip6-loopback\n"
               "fe00::0\tip6-localnet\n"
               "fe00::0\tip6-mcastprefix\n"
               "fe00::1\tip6-allnodes\n"
               "fe00::2\tip6-allrouters\n");
    if (ip && ip[0] && hostname && hostname[0]) {
        sb_add(&b, ip);
        sb_add(&b, "\t");
        sb_add(&b, hostname);
        sb_add(&b, "\n");
    }
    return sb_finish(&b, out, err);
}

int etc_hostname_valid(const char *hostname, cric_err *err)
{
    size_t n = strlen(hostname);
    if (n == 0 || n > 64)
        return cric_err_set(err, CRIC_ERR_INVALID, "hostname: must be 1..64 characters");
    for (const char *p = hostname; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.'))
            return cric_err_set(err, CRIC_ERR_INVALID, "hostname %.80s: invalid character",
                                hostname);
    }
    /* RFC 1123 labels: none empty (no leading, trailing or double dot, so
     * never "." or ".."), none starting or ending with '-'. */
    for (const char *l = hostname;;) {
        size_t len = strcspn(l, ".");
        if (len == 0 || l[0] == '-' || l[len - 1] == '-')
            return cric_err_set(err, CRIC_ERR_INVALID,
                                "hostname %.80s: labels must be non-empty and not start or end "
                                "with '-'",
                                hostname);
        if (!l[len])
            break;
        l += len + 1;
    }
    return 0;
}
