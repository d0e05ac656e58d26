/* The per-sandbox files containers bind over /etc/hostname, /etc/hosts and
 * /etc/resolv.conf. Generation is pure (unit-tested); the caller writes. */
#ifndef CRIC_POD_ETCFILES_H
#define CRIC_POD_ETCFILES_H

#include <stddef.h>

#include "util/err.h"

#define ETC_MAX_DNS_SERVERS 16
#define ETC_MAX_DNS_SEARCHES 32
#define ETC_MAX_DNS_OPTIONS 32

/* resolv.conf from DNSConfig. Servers must be IPv4/IPv6 literals, searches
 * domain names, options single tokens. *out is malloc'd. */
int etc_resolv_conf(const char *const *servers, size_t n_servers, const char *const *searches,
                    size_t n_searches, const char *const *options, size_t n_options, char **out,
                    cric_err *err);

/* /etc/hosts: the localhost entries and, when ip is non-empty, "ip\thostname". */
int etc_hosts(const char *ip, const char *hostname, char **out, cric_err *err);

/* A hostname usable with sethostname: 1..64 chars of [a-zA-Z0-9.-]. */
int etc_hostname_valid(const char *hostname, cric_err *err);

#endif
