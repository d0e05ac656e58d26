#include "util/cgroup_limits.h"

#include <string.h>

bool cgroup_cpuset_valid(const char *s)
{
    if (!s)
        return true;
    if (strlen(s) > 1024)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || *p == ',' || *p == '-'))
            return false;
    return true;
}

bool cgroup_unified_entry_valid(const char *key, const char *value)
{
    size_t n = strlen(key);
    if (n == 0 || n > 255 || !strchr(key, '.') || strncmp(key, "cgroup.", 7) == 0)
        return false;
    for (const char *p = key; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_'))
            return false;
    return strlen(value) <= 4096 && !strchr(value, '\n');
}

int cgroup_cpu_check(const char *what, int64_t shares, int64_t quota, int64_t period, cric_err *err)
{
    if (shares < 0 || quota < -1 || period < 0)
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: negative cpu value", what);
    if (period > 0 && (period < 1000 || period > 1000000))
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "%s: cpu_period %lld is outside [1000, 1000000] us", what,
                            (long long)period);
    if (quota > 0 && quota < 1000)
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: cpu_quota %lld is below 1000 us", what,
                            (long long)quota);
    if (shares > 262144)
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: cpu_shares %lld is above 262144", what,
                            (long long)shares);
    return 0;
}
