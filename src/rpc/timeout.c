/* grpc-timeout parsing (see timeout.h). */
#include "rpc/timeout.h"

#define RPC_TIMEOUT_MAX_DIGITS 8

int rpc_timeout_parse(const char *s, size_t len, uint64_t *ms)
{
    if (len < 2 || len > RPC_TIMEOUT_MAX_DIGITS + 1)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    switch (s[len - 1]) {
    case 'H':
        *ms = v * 3600000u;
        break;
    case 'M':
        *ms = v * 60000u;
        break;
    case 'S':
        *ms = v * 1000u;
        break;
    case 'm':
        *ms = v;
        break;
    case 'u':
        *ms = (v + 999u) / 1000u;
        break;
    case 'n':
        *ms = (v + 999999u) / 1000000u;
        break;
    default:
        return -1;
    }
    return 0;
}
