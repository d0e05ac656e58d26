/* Object identifiers and names that arrive from callers. */
#ifndef CRIC_UTIL_IDS_H
#define CRIC_UTIL_IDS_H

#include <stdbool.h>
#include <stddef.h>

#define CRIC_ID_LEN 64

/* 64 lowercase hex characters from the kernel's random source. */
int id_random_hex(char out[CRIC_ID_LEN + 1]);
/* A full id: exactly 64 lowercase hex characters. */
bool id_is_full(const char *s);
/* A prefix an RPC may accept: 1..64 lowercase hex characters. */
bool id_is_prefix(const char *s);
/* A name safe to use as one path component: 1..maxlen bytes, no '/', no NUL
 * (the length is given separately so embedded NULs are seen), not "." or "..". */
bool name_is_safe_component(const char *s, size_t len, size_t maxlen);

#endif
