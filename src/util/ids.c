#include "ids.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

int id_random_hex(char out[CRIC_ID_LEN + 1])
{
    unsigned char raw[CRIC_ID_LEN / 2];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        got += (size_t)n;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[CRIC_ID_LEN] = '\0';
    return 0;
}

static bool all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

bool id_is_full(const char *s)
{
    return s && strlen(s) == CRIC_ID_LEN && all_hex(s, CRIC_ID_LEN);
}

bool id_is_prefix(const char *s)
{
    if (!s)
        return false;
    size_t n = strlen(s);
    return n >= 1 && n <= CRIC_ID_LEN && all_hex(s, n);
}

bool name_is_safe_component(const char *s, size_t len, size_t maxlen)
{
    if (!s || len == 0 || len > maxlen)
        return false;
    if (memchr(s, '\0', len) || memchr(s, '/', len))
        return false;
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    return true;
}
