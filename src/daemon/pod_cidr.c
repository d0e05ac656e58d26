#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "util/fs.h"

/* Accepts "a.b.c.d/n" or an IPv6 prefix, optionally several separated by ','
 * (dual-stack), as the kubelet sends them. */
static int validate_cidr_list(const char *s, cric_err *err)
{
    if (strlen(s) > 256)
        return cric_err_set(err, CRIC_ERR_INVALID, "pod CIDR: longer than 256 bytes");
    char buf[257];
    strcpy(buf, s);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *slash = strchr(tok, '/');
        if (!slash)
            return cric_err_set(err, CRIC_ERR_INVALID, "pod CIDR %s: missing /prefix", tok);
        *slash = '\0';
        char *end = NULL;
        long bits = strtol(slash + 1, &end, 10);
        unsigned char addr[16];
        bool v4 = inet_pton(AF_INET, tok, addr) == 1;
        bool v6 = !v4 && inet_pton(AF_INET6, tok, addr) == 1;
        if ((!v4 && !v6) || !end || *end || slash[1] == '\0' || bits < 0 || bits > (v4 ? 32 : 128))
            return cric_err_set(err, CRIC_ERR_INVALID, "pod CIDR %s/%s: not a valid prefix", tok,
                                slash + 1);
    }
    return 0;
}

int daemon_set_pod_cidr(cric_daemon *d, const char *cidr, cric_err *err)
{
    if (cidr[0] && validate_cidr_list(cidr, err) < 0)
        return -1;
    char path[4096];
    snprintf(path, sizeof(path), "%s/pod-cidr", d->cfg.state);
    pthread_mutex_lock(&d->mu);
    int rc = fs_write_atomic(path, cidr, strlen(cidr), 0644, err);
    if (rc == 0) {
        char *copy = strdup(cidr);
        if (copy) {
            free(d->pod_cidr);
            d->pod_cidr = copy;
        } else {
            rc = cric_err_set(err, CRIC_ERR_RESOURCE, "pod CIDR: out of memory");
        }
    }
    pthread_mutex_unlock(&d->mu);
    return rc;
}

char *daemon_pod_cidr(cric_daemon *d)
{
    pthread_mutex_lock(&d->mu);
    char *copy = strdup(d->pod_cidr ? d->pod_cidr : "");
    pthread_mutex_unlock(&d->mu);
    return copy;
}
