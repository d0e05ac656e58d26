/* Linux capability names <-> numbers, and sets of them as 64-bit masks. */
#ifndef CRIC_CTR_CAPS_H
#define CRIC_CTR_CAPS_H

#include <stdbool.h>
#include <stdint.h>

#define CTR_CAP_MAX 40 /* highest capability number this table knows (CAP_CHECKPOINT_RESTORE) */

typedef uint64_t ctr_capset;

#define CTR_CAP_BIT(n) ((ctr_capset)1 << (n))

enum {
    CTR_CAP_DAC_READ_SEARCH = 2,
    CTR_CAP_SYS_MODULE = 16,
    CTR_CAP_SYS_RAWIO = 17,
    CTR_CAP_SYS_CHROOT = 18,
    CTR_CAP_SYS_PTRACE = 19,
    CTR_CAP_SYS_PACCT = 20,
    CTR_CAP_SYS_ADMIN = 21,
    CTR_CAP_SYS_BOOT = 22,
    CTR_CAP_SYS_NICE = 23,
    CTR_CAP_SYS_TIME = 25,
    CTR_CAP_SYS_TTY_CONFIG = 26,
    CTR_CAP_SYSLOG = 34,
    CTR_CAP_PERFMON = 38,
    CTR_CAP_BPF = 39,
};

/* "CAP_CHOWN", "chown" or "CHOWN" -> 0; -1 when unknown. */
int ctr_cap_from_name(const char *name);
/* 0 -> "CAP_CHOWN"; NULL when out of range. */
const char *ctr_cap_name(int cap);
/* The default set of a container (containerd's and Docker's default). */
ctr_capset ctr_caps_default(void);

#endif
