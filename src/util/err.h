/* Error reporting: functions return 0 or -1 and fill a cric_err whose message
 * names the object and the cause. The kind is translated to a gRPC code only at
 * the RPC boundary (src/cri). */
#ifndef CRIC_UTIL_ERR_H
#define CRIC_UTIL_ERR_H

#include <stddef.h>

typedef enum {
    CRIC_ERR_NONE = 0,
    CRIC_ERR_INTERNAL,
    CRIC_ERR_INVALID,       /* bad input from a caller */
    CRIC_ERR_NOT_FOUND,     /* the named object does not exist */
    CRIC_ERR_EXISTS,        /* the object (or its name) exists already */
    CRIC_ERR_PRECONDITION,  /* the object is in the wrong state */
    CRIC_ERR_UNAVAILABLE,   /* a dependency (registry, plugin) is unreachable */
    CRIC_ERR_TIMEOUT,       /* a deadline passed */
    CRIC_ERR_RESOURCE,      /* a size or count limit was hit */
    CRIC_ERR_UNIMPLEMENTED, /* not supported (yet) */
    CRIC_ERR_CANCELLED,     /* the caller went away */
    CRIC_ERR_PERMISSION,    /* refused by policy or credentials */
} cric_errkind;

#define CRIC_ERR_MSG_MAX 1024

typedef struct cric_err {
    cric_errkind kind;
    char msg[CRIC_ERR_MSG_MAX];
} cric_err;

/* Sets kind and message; always returns -1 so callers can `return cric_err_set(...)`.
 * err may be NULL. */
int cric_err_set(cric_err *err, cric_errkind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like cric_err_set with CRIC_ERR_INTERNAL and ": strerror(errnum)" appended. */
int cric_err_errno(cric_err *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends context ("container 3f2a: ") to an error already set; keeps the kind.
 * Returns -1. */
int cric_err_prefix(cric_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void cric_err_clear(cric_err *err);

const char *cric_errkind_name(cric_errkind kind);

#endif
