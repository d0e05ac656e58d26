#include "image/registry.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/log.h"

#define TOKEN_MAX_BYTES (1u << 20)
#define ERRBODY_MAX 512
#define AUTH_HDR_MAX 8192

typedef struct endpoint {
    char base[640]; /* "https://host:port/v2" (no trailing slash) */
    char host[300]; /* for messages */
    bool plain_http;
    bool verify;
    bool http_fallback; /* insecure: https without verification, then http */
    const char *ca_file;
    bool upstream;
    bool dead;
    char *auth_header; /* "Authorization: ..." once known */
} endpoint;

struct reg_client {
    char repo[REF_NAME_MAX + 1];
    char name[2 * REF_NAME_MAX + 2];
    char *username, *password, *identity_token, *registry_token;
    char cred_host[300]; /* "" = credentials for every endpoint */
    char domain[REF_NAME_MAX + 1];
    reg_timeouts to;
    endpoint eps[CRIC_MAX_MIRRORS + 1];
    size_t n_eps;
    pthread_mutex_t mu; /* endpoint dead flags and auth headers */
    CURLSH *share;
    pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
    bool (*cancelled)(void *ud);
    void *cancel_ud;
};

static bool creds_for(const reg_client *c, const endpoint *ep);

void reg_client_set_cancel(reg_client *c, bool (*cancelled)(void *ud), void *ud)
{
    c->cancelled = cancelled;
    c->cancel_ud = ud;
}

/* "https://index.docker.io/v1/" -> "docker.io"; "host:5000/x" -> "host:5000". */
static void normalise_host(const char *in, char *out, size_t n)
{
    const char *p = strstr(in, "://");
    p = p ? p + 3 : in;
    size_t l = strcspn(p, "/");
    snprintf(out, n, "%.*s", (int)l, p);
    if (strcmp(out, "index.docker.io") == 0 || strcmp(out, "registry-1.docker.io") == 0)
        snprintf(out, n, "docker.io");
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void registry_global_init(void)
{
    pthread_once(&curl_once, curl_init_once);
}

bool registry_host_is_local(const char *host)
{
    char h[300];
    snprintf(h, sizeof(h), "%s", host);
    if (h[0] == '[') {
        return strncmp(h, "[::1]", 5) == 0;
    }
    char *colon = strchr(h, ':');
    if (colon)
        *colon = '\0';
    if (strcmp(h, "localhost") == 0)
        return true;
    if (strncmp(h, "127.", 4) == 0) {
        int a, b, c, d;
        char extra;
        return sscanf(h, "%d.%d.%d.%d%c", &a, &b, &c, &d, &extra) == 4;
    }
    return false;
}

static const cric_registry *find_registry(const cric_config *cfg, const char *host)
{
    const cric_registry *wild = NULL;
    for (size_t i = 0; cfg && i < cfg->n_registries; i++) {
        if (strcmp(cfg->registries[i].host, host) == 0)
            return &cfg->registries[i];
        if (strcmp(cfg->registries[i].host, "*") == 0)
            wild = &cfg->registries[i];
    }
    return wild;
}

/* Fills ep from a URL "scheme://host[:port][/path]". */
static int endpoint_from_url(endpoint *ep, const cric_config *cfg, const char *url, cric_err *err)
{
    bool https = strncmp(url, "https://", 8) == 0;
    if (!https && strncmp(url, "http://", 7) != 0)
        return cric_err_set(err, CRIC_ERR_INVALID, "registry mirror %.200s: not an http(s) URL",
                            url);
    const char *hp = url + (https ? 8 : 7);
    size_t hl = strcspn(hp, "/");
    if (hl == 0 || hl >= sizeof(ep->host))
        return cric_err_set(err, CRIC_ERR_INVALID, "registry mirror %.200s: bad host", url);
    memcpy(ep->host, hp, hl);
    ep->host[hl] = '\0';
    const char *path = hp + hl;
    size_t pl = strlen(path);
    while (pl > 0 && path[pl - 1] == '/')
        pl--;
    /* Like containerd: no path means the API root /v2; a path is the API
     * root as given ("http://mirror/v2/docker" serves docker/<repo>). */
    char host[sizeof(ep->host)];
    memcpy(host, ep->host, sizeof(host));
    int n = snprintf(ep->base, sizeof(ep->base), "%s://%s%.*s", https ? "https" : "http", host,
                     pl ? (int)pl : 3, pl ? path : "/v2");
    if (n < 0 || (size_t)n >= sizeof(ep->base))
        return cric_err_set(err, CRIC_ERR_INVALID, "registry mirror %.200s: URL too long", url);
    ep->plain_http = !https;
    const cric_registry *r = find_registry(cfg, ep->host);
    ep->verify = !(r && r->insecure);
    ep->ca_file = r && r->ca_file && r->ca_file[0] ? r->ca_file : NULL;
    return 0;
}

int reg_client_new(const cric_config *cfg, const image_ref *ref, const reg_auth *auth,
                   const reg_timeouts *to, reg_client **out, cric_err *err)
{
    registry_global_init();
    reg_client *c = calloc(1, sizeof(*c));
    if (!c)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "registry client: out of memory");
    snprintf(c->repo, sizeof(c->repo), "%s", ref->path);
    snprintf(c->name, sizeof(c->name), "%s/%s", ref->domain, ref->path);
    if (auth) {
        c->username = auth->username && *auth->username ? strdup(auth->username) : NULL;
        c->password = auth->password ? strdup(auth->password) : NULL;
        c->identity_token =
            auth->identity_token && *auth->identity_token ? strdup(auth->identity_token) : NULL;
        c->registry_token =
            auth->registry_token && *auth->registry_token ? strdup(auth->registry_token) : NULL;
    }
    snprintf(c->domain, sizeof(c->domain), "%s", ref->domain);
    if (auth && auth->server_address && *auth->server_address)
        normalise_host(auth->server_address, c->cred_host, sizeof(c->cred_host));
    c->to = *to;
    if (c->to.attempts == 0)
        c->to.attempts = 1;
    pthread_mutex_init(&c->mu, NULL);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->share_mu[i], NULL);

    const cric_registry *r = find_registry(cfg, ref->domain);
    for (size_t i = 0; r && i < r->n_mirrors; i++) {
        if (endpoint_from_url(&c->eps[c->n_eps], cfg, r->mirrors[i], err) < 0) {
            reg_client_free(c);
            return -1;
        }
        c->n_eps++;
    }
    endpoint *up = &c->eps[c->n_eps++];
    const char *host = strcmp(ref->domain, "docker.io") == 0 ? "registry-1.docker.io" : ref->domain;
    snprintf(up->host, sizeof(up->host), "%s", ref->domain);
    up->upstream = true;
    const cric_registry *own = NULL;
    for (size_t i = 0; cfg && i < cfg->n_registries; i++)
        if (strcmp(cfg->registries[i].host, ref->domain) == 0)
            own = &cfg->registries[i];
    up->ca_file = own && own->ca_file && own->ca_file[0] ? own->ca_file : NULL;
    if (own && own->insecure) {
        up->verify = false;
        up->http_fallback = true;
    } else if (registry_host_is_local(ref->domain) && !up->ca_file) {
        up->plain_http = true;
    } else {
        up->verify = true;
    }
    snprintf(up->base, sizeof(up->base), "%s://%s/v2", up->plain_http ? "http" : "https", host);
    if (c->registry_token) {
        for (size_t i = 0; i < c->n_eps; i++) {
            if (!creds_for(c, &c->eps[i]))
                continue;
            char *h = malloc(AUTH_HDR_MAX);
            snprintf(h, AUTH_HDR_MAX, "Authorization: Bearer %s", c->registry_token);
            c->eps[i].auth_header = h;
        }
    }
    *out = c;
    return 0;
}

/* Whether the caller's credentials may be sent to ep (AuthConfig's
 * server_address names the registry they belong to). */
static bool creds_for(const reg_client *c, const endpoint *ep)
{
    if (!c->cred_host[0])
        return true;
    char h[300];
    normalise_host(ep->upstream ? c->domain : ep->host, h, sizeof(h));
    return strcmp(h, c->cred_host) == 0;
}

void reg_client_free(reg_client *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_eps; i++)
        free(c->eps[i].auth_header);
    if (c->share)
        curl_share_cleanup(c->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->share_mu[i]);
    pthread_mutex_destroy(&c->mu);
    free(c->username);
    if (c->password) {
        explicit_bzero(c->password, strlen(c->password));
        free(c->password);
    }
    free(c->identity_token);
    free(c->registry_token);
    free(c);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
    reg_client *c = ud;
    pthread_mutex_lock(&c->share_mu[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    reg_client *c = ud;
    pthread_mutex_unlock(&c->share_mu[data]);
}

static CURLSH *client_share(reg_client *c)
{
    pthread_mutex_lock(&c->mu);
    if (!c->share) {
        c->share = curl_share_init();
        if (c->share) {
            curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
            curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
            curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
            curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
            curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
            curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
        }
    }
    pthread_mutex_unlock(&c->mu);
    return c->share;
}

/* ------------------------------------------------------------ one transfer */

typedef struct xfer {
    CURL *h;
    /* sink: memory or fd */
    char *mem;
    size_t mem_len, mem_cap, mem_max;
    int fd;
    int tee_fd; /* a second copy (the content store), -1 when none */
    bool wrote;
    int write_errno;
    int tee_errno;
    bool too_big;
    digester *dg;
    uint64_t got;
    int64_t expect; /* -1: unknown */
    /* response */
    char content_type[128];
    char www_auth[1024];
    char errbody[ERRBODY_MAX + 1];
    size_t errlen;
    /* stall detection and cancellation */
    reg_client *client;
    bool cancelled;
    unsigned stall_s;
    curl_off_t last_now;
    int64_t last_progress_ms;
    bool stalled;
} xfer;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Fails a transfer that received no byte for stall_s seconds. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    xfer *x = ud;
    if (x->client && x->client->cancelled && x->client->cancelled(x->client->cancel_ud)) {
        x->cancelled = true;
        return 1;
    }
    int64_t now = mono_ms();
    if (x->last_progress_ms == 0 || dlnow != x->last_now) {
        x->last_now = dlnow;
        x->last_progress_ms = now;
        return 0;
    }
    if (x->stall_s && now - x->last_progress_ms > (int64_t)x->stall_s * 1000) {
        x->stalled = true;
        return 1;
    }
    return 0;
}

static void xfer_reset(xfer *x)
{
    x->mem_len = 0;
    x->got = 0;
    x->too_big = false;
    x->write_errno = 0;
    x->tee_errno = 0;
    x->content_type[0] = x->www_auth[0] = x->errbody[0] = '\0';
    x->errlen = 0;
    x->last_now = 0;
    x->last_progress_ms = 0;
    x->stalled = false;
    x->cancelled = false;
    if (x->dg) {
        digester_free(x->dg);
        x->dg = digester_new();
    }
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t len = size * n;
    if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        x->content_type[0] = x->www_auth[0] = '\0';
        return len;
    }
    const char *colon = memchr(buf, ':', len);
    if (!colon)
        return len;
    size_t kl = (size_t)(colon - buf);
    const char *v = colon + 1;
    size_t vl = len - kl - 1;
    while (vl && (*v == ' ' || *v == '\t'))
        v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
        vl--;
    char *dst = NULL;
    size_t cap = 0;
    if (kl == 12 && strncasecmp(buf, "content-type", 12) == 0)
        dst = x->content_type, cap = sizeof(x->content_type);
    else if (kl == 16 && strncasecmp(buf, "www-authenticate", 16) == 0)
        dst = x->www_auth, cap = sizeof(x->www_auth);
    if (dst) {
        if (vl >= cap)
            vl = cap - 1;
        memcpy(dst, v, vl);
        dst[vl] = '\0';
    }
    return len;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == ENOTSOCK)
            w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static size_t on_data(char *buf, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    size_t len = size * n;
    long code = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
    if (code != 200) {
        size_t room = ERRBODY_MAX - x->errlen;
        size_t take = len < room ? len : room;
        memcpy(x->errbody + x->errlen, buf, take);
        x->errlen += take;
        x->errbody[x->errlen] = '\0';
        return len;
    }
    if (x->expect >= 0 && x->got + len > (uint64_t)x->expect) {
        x->too_big = true;
        return 0;
    }
    x->got += len;
    if (x->dg)
        digester_update(x->dg, buf, len);
    if (x->fd >= 0) {
        x->wrote = true;
        if (write_all(x->fd, buf, len) < 0) {
            x->write_errno = errno;
            return 0;
        }
        if (x->tee_fd >= 0 && write_all(x->tee_fd, buf, len) < 0) {
            x->tee_errno = errno;
            return 0;
        }
        return len;
    }
    if (x->mem_len + len > x->mem_max) {
        x->too_big = true;
        return 0;
    }
    if (x->mem_len + len + 1 > x->mem_cap) {
        size_t cap = x->mem_cap ? x->mem_cap : 4096;
        while (cap < x->mem_len + len + 1)
            cap *= 2;
        char *m = realloc(x->mem, cap);
        if (!m) {
            x->too_big = true;
            return 0;
        }
        x->mem = m;
        x->mem_cap = cap;
    }
    memcpy(x->mem + x->mem_len, buf, len);
    x->mem_len += len;
    x->mem[x->mem_len] = '\0';
    return len;
}

static void curl_cleanupp(CURL **h)
{
    if (*h)
        curl_easy_cleanup(*h);
}
#define _cleanup_curl_ __attribute__((cleanup(curl_cleanupp)))

static void slist_freep(struct curl_slist **l)
{
    if (*l)
        curl_slist_free_all(*l);
}
#define _cleanup_slist_ __attribute__((cleanup(slist_freep)))

static void setup_tls(CURL *h, const endpoint *ep)
{
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, ep->verify ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, ep->verify ? 2L : 0L);
    if (ep->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, ep->ca_file);
}

static void setup_common(reg_client *c, CURL *h, bool bounded, char *errbuf)
{
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)c->to.connect_s);
    if (bounded && c->to.request_s)
        curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)c->to.request_s);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "cric/" CRIC_VERSION);
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    CURLSH *sh = client_share(c);
    if (sh)
        curl_easy_setopt(h, CURLOPT_SHARE, sh);
}

/* ------------------------------------------------------------ auth */

/* Extracts key="value" (or key=value) from a challenge's parameters. */
static bool challenge_param(const char *ch, const char *key, char *out, size_t outlen)
{
    size_t kl = strlen(key);
    const char *p = ch;
    while ((p = strcasestr(p, key))) {
        bool boundary = p == ch || p[-1] == ' ' || p[-1] == ',';
        if (!boundary || p[kl] != '=') {
            p += kl;
            continue;
        }
        p += kl + 1;
        size_t n;
        if (*p == '"') {
            p++;
            n = strcspn(p, "\"");
        } else {
            n = strcspn(p, ", ");
        }
        if (n >= outlen)
            return false;
        memcpy(out, p, n);
        out[n] = '\0';
        return true;
    }
    return false;
}

static char *base64(const char *in)
{
    size_t n = strlen(in);
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)n);
    return out;
}

static int fetch_token(reg_client *c, const endpoint *ep, const char *challenge, char **token,
                       cric_err *err)
{
    char realm[1024], service[512] = "", scope[1024];
    if (!challenge_param(challenge, "realm", realm, sizeof(realm)))
        return cric_err_set(err, CRIC_ERR_UNAVAILABLE,
                            "registry %s: Bearer challenge without a realm", ep->host);
    if (strncmp(realm, "https://", 8) != 0 && strncmp(realm, "http://", 7) != 0)
        return cric_err_set(err, CRIC_ERR_UNAVAILABLE,
                            "registry %s: token realm %.200s is not http(s)", ep->host, realm);
    challenge_param(challenge, "service", service, sizeof(service));
    if (!challenge_param(challenge, "scope", scope, sizeof(scope)))
        snprintf(scope, sizeof(scope), "repository:%s:pull", c->repo);

    _cleanup_curl_ CURL *h = curl_easy_init();
    if (!h)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "registry: curl init failed");
    char *es = curl_easy_escape(h, service, 0), *esc = curl_easy_escape(h, scope, 0);
    size_t ulen = strlen(realm) + strlen(es) + strlen(esc) + 32;
    _cleanup_free_ char *url = malloc(ulen);
    _cleanup_free_ char *form = NULL;
    bool mine = creds_for(c, ep);
    const char *user = mine ? c->username : NULL;
    if (mine && c->identity_token) {
        char *rt = curl_easy_escape(h, c->identity_token, 0);
        size_t fl = strlen(es) + strlen(esc) + strlen(rt) + 96;
        form = malloc(fl);
        snprintf(form, fl,
                 "grant_type=refresh_token&client_id=cric&service=%s&scope=%s&refresh_token=%s", es,
                 esc, rt);
        curl_free(rt);
        snprintf(url, ulen, "%s", realm);
    } else {
        snprintf(url, ulen, "%s%cservice=%s&scope=%s", realm, strchr(realm, '?') ? '&' : '?', es,
                 esc);
    }
    curl_free(es);
    curl_free(esc);

    char errbuf[CURL_ERROR_SIZE] = "";
    xfer x = {.h = h, .fd = -1, .tee_fd = -1, .expect = -1, .mem_max = TOKEN_MAX_BYTES};
    setup_common(c, h, true, errbuf);
    setup_tls(h, ep);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    if (form)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
    else if (user) {
        curl_easy_setopt(h, CURLOPT_USERNAME, user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, c->password ? c->password : "");
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    }
    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (rc != CURLE_OK) {
        free(x.mem);
        return cric_err_set(err, CRIC_ERR_UNAVAILABLE, "registry %s: token server %.200s: %s",
                            ep->host, realm, errbuf[0] ? errbuf : curl_easy_strerror(rc));
    }
    if (code == 401 || code == 403) {
        free(x.mem);
        return cric_err_set(err, CRIC_ERR_PERMISSION,
                            "registry %s: authentication failed%s%s: token server answered %ld",
                            ep->host, user ? " for user " : "", user ? user : "", code);
    }
    if (code != 200) {
        free(x.mem);
        return cric_err_set(err, CRIC_ERR_UNAVAILABLE, "registry %s: token server answered %ld",
                            ep->host, code);
    }
    json_t *doc = x.mem ? json_loadb(x.mem, x.mem_len, 0, NULL) : NULL;
    free(x.mem);
    const char *tok = json_string_value(json_object_get(doc, "token"));
    if (!tok || !*tok)
        tok = json_string_value(json_object_get(doc, "access_token"));
    if (!tok || !*tok || strlen(tok) > AUTH_HDR_MAX - 32) {
        json_decref(doc);
        return cric_err_set(err, CRIC_ERR_UNAVAILABLE, "registry %s: token server sent no token",
                            ep->host);
    }
    *token = strdup(tok);
    json_decref(doc);
    return 0;
}

/* After a 401: works out the Authorization header for ep from the challenge. */
static int authenticate(reg_client *c, endpoint *ep, const char *challenge, cric_err *err)
{
    char *hdr = malloc(AUTH_HDR_MAX);
    if (!hdr)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "registry: out of memory");
    if (strncasecmp(challenge, "Bearer", 6) == 0) {
        char *tok = NULL;
        if (fetch_token(c, ep, challenge + 6, &tok, err) < 0) {
            free(hdr);
            return -1;
        }
        snprintf(hdr, AUTH_HDR_MAX, "Authorization: Bearer %s", tok);
        explicit_bzero(tok, strlen(tok));
        free(tok);
    } else if (strncasecmp(challenge, "Basic", 5) == 0) {
        if (!c->username || !creds_for(c, ep)) {
            free(hdr);
            return cric_err_set(err, CRIC_ERR_PERMISSION,
                                "registry %s: authentication required (Basic) and no credentials "
                                "were given",
                                ep->host);
        }
        size_t n = strlen(c->username) + (c->password ? strlen(c->password) : 0) + 2;
        _cleanup_free_ char *up = malloc(n);
        snprintf(up, n, "%s:%s", c->username, c->password ? c->password : "");
        _cleanup_free_ char *b = base64(up);
        explicit_bzero(up, n - 1);
        if (!b || strlen(b) > AUTH_HDR_MAX - 32) {
            free(hdr);
            return cric_err_set(err, CRIC_ERR_INVALID, "registry %s: credentials too long",
                                ep->host);
        }
        snprintf(hdr, AUTH_HDR_MAX, "Authorization: Basic %s", b);
    } else {
        free(hdr);
        return cric_err_set(err, CRIC_ERR_PERMISSION,
                            "registry %s: unsupported authentication scheme \"%.40s\"", ep->host,
                            challenge);
    }
    pthread_mutex_lock(&c->mu);
    free(ep->auth_header);
    ep->auth_header = hdr;
    pthread_mutex_unlock(&c->mu);
    return 0;
}

/* ------------------------------------------------------------ requests */

static bool transient_curl(CURLcode rc)
{
    return rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR ||
           rc == CURLE_PARTIAL_FILE || rc == CURLE_GOT_NOTHING || rc == CURLE_HTTP2 ||
           rc == CURLE_HTTP2_STREAM;
}

static bool connect_failure(CURLcode rc)
{
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
           rc == CURLE_COULDNT_RESOLVE_PROXY;
}

static bool tls_failure(CURLcode rc)
{
    return rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION ||
           rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CERTPROBLEM ||
           rc == CURLE_SSL_CIPHER || rc == CURLE_SSL_ISSUER_ERROR ||
           rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH;
}

static void backoff(unsigned attempt)
{
    struct timespec ts = {0, 250L * 1000 * 1000};
    for (unsigned i = 0; i < attempt; i++) {
        ts.tv_nsec *= 4;
        while (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
    }
    nanosleep(&ts, NULL);
}

static const char *what_kind(const char *path)
{
    return strstr(path, "/manifests/") ? "manifest" : "blob";
}

/* GETs base + path from each endpoint in turn until one answers 200. */
static int request(reg_client *c, const char *path, const char *accept, xfer *x, bool bounded,
                   cric_err *err)
{
    cric_err last = {0};
    cric_err_set(&last, CRIC_ERR_UNAVAILABLE, "%s: no registry endpoint left to try", c->name);
    char earlier[CRIC_ERR_MSG_MAX] = "";
    cric_errkind earlier_kind = CRIC_ERR_NONE;
    for (size_t i = 0; i < c->n_eps; i++) {
        endpoint *ep = &c->eps[i];
        pthread_mutex_lock(&c->mu);
        bool dead = ep->dead;
        pthread_mutex_unlock(&c->mu);
        if (dead)
            continue;
        bool use_http = ep->plain_http;
        bool authed_retry = false;
        unsigned attempt = 0;
        for (;;) {
            if (x->wrote) {
                /* The consumer already has bytes: only the caller can restart. */
                goto out;
            }
            xfer_reset(x);
            _cleanup_curl_ CURL *h = curl_easy_init();
            if (!h)
                return cric_err_set(err, CRIC_ERR_RESOURCE, "registry: curl init failed");
            x->h = h;
            char url[2048];
            snprintf(url, sizeof(url), "%s%s%s", use_http && !ep->plain_http ? "http" : "",
                     use_http && !ep->plain_http ? strstr(ep->base, "://") : ep->base, path);
            char errbuf[CURL_ERROR_SIZE] = "";
            setup_common(c, h, bounded, errbuf);
            setup_tls(h, ep);
            curl_easy_setopt(h, CURLOPT_URL, url);
            curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
            curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
            curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
            curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
            x->stall_s = c->to.stall_s;
            x->client = c;
            curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
            curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
            curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
            _cleanup_slist_ struct curl_slist *hdrs = NULL;
            if (accept) {
                char a[512];
                snprintf(a, sizeof(a), "Accept: %s", accept);
                hdrs = curl_slist_append(hdrs, a);
            }
            pthread_mutex_lock(&c->mu);
            if (ep->auth_header)
                hdrs = curl_slist_append(hdrs, ep->auth_header);
            pthread_mutex_unlock(&c->mu);
            if (hdrs)
                curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
            CURLcode rc = curl_easy_perform(h);
            long code = 0;
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
            const char *cerr = errbuf[0] ? errbuf : curl_easy_strerror(rc);

            if (rc == CURLE_ABORTED_BY_CALLBACK && x->cancelled)
                return cric_err_set(err, CRIC_ERR_CANCELLED, "%s: pull cancelled by the caller",
                                    c->name);
            if (rc == CURLE_WRITE_ERROR && x->too_big)
                return cric_err_set(err, CRIC_ERR_INVALID,
                                    "%s: %s from %s is larger than expected (%lld bytes)", c->name,
                                    what_kind(path), ep->host, (long long)x->expect);
            if (rc == CURLE_WRITE_ERROR && x->tee_errno)
                return cric_err_errno(err, x->tee_errno, "%s: %s from %s: content store", c->name,
                                      what_kind(path), ep->host);
            if (rc == CURLE_WRITE_ERROR && x->write_errno)
                return cric_err_errno(err, x->write_errno, "%s: %s from %s: consumer", c->name,
                                      what_kind(path), ep->host);
            if (rc != CURLE_OK) {
                if (!use_http && ep->http_fallback &&
                    (tls_failure(rc) || connect_failure(rc) || rc == CURLE_GOT_NOTHING)) {
                    use_http = true;
                    continue;
                }
                if (connect_failure(rc)) {
                    cric_err_set(&last, CRIC_ERR_UNAVAILABLE, "%s: registry %s unreachable: %s",
                                 c->name, ep->host, cerr);
                    pthread_mutex_lock(&c->mu);
                    ep->dead = true;
                    pthread_mutex_unlock(&c->mu);
                    break;
                }
                if (tls_failure(rc)) {
                    cric_err_set(&last, CRIC_ERR_UNAVAILABLE, "%s: registry %s: TLS: %s", c->name,
                                 ep->host, cerr);
                    break;
                }
                if (rc == CURLE_ABORTED_BY_CALLBACK && x->stalled)
                    cric_err_set(&last, CRIC_ERR_TIMEOUT,
                                 "%s: registry %s: transfer stalled: no data for %u s", c->name,
                                 ep->host, c->to.stall_s);
                else if (rc == CURLE_OPERATION_TIMEDOUT)
                    cric_err_set(&last, CRIC_ERR_TIMEOUT,
                                 "%s: registry %s: transfer stalled or timed out: %s", c->name,
                                 ep->host, cerr);
                else
                    cric_err_set(&last, CRIC_ERR_UNAVAILABLE, "%s: registry %s: %s", c->name,
                                 ep->host, cerr);
                if ((transient_curl(rc) || x->stalled) && ++attempt < c->to.attempts && !x->wrote) {
                    backoff(attempt - 1);
                    continue;
                }
                break;
            }
            if (code == 200)
                return 0;
            if (code == 401) {
                if (!authed_retry && x->www_auth[0]) {
                    authed_retry = true;
                    cric_err aerr = {0};
                    if (authenticate(c, ep, x->www_auth, &aerr) == 0)
                        continue;
                    last = aerr;
                    cric_err_prefix(&last, "%s: ", c->name);
                } else {
                    cric_err_set(
                        &last, CRIC_ERR_PERMISSION, "%s: registry %s: unauthorized%s%s (401)",
                        c->name, ep->host,
                        c->username && creds_for(c, ep) ? ": credentials rejected for user " : "",
                        c->username && creds_for(c, ep) ? c->username : "");
                }
                break;
            }
            if (code == 404) {
                cric_err_set(&last, CRIC_ERR_NOT_FOUND, "%s: %s not found on registry %s", c->name,
                             what_kind(path), ep->host);
                break;
            }
            if (code == 403) {
                cric_err_set(&last, CRIC_ERR_PERMISSION, "%s: registry %s: access denied (403)",
                             c->name, ep->host);
                break;
            }
            cric_err_set(&last, CRIC_ERR_UNAVAILABLE, "%s: registry %s answered %ld: %.200s",
                         c->name, ep->host, code, x->errbody);
            if ((code == 429 || code >= 500) && ++attempt < c->to.attempts) {
                backoff(attempt - 1);
                continue;
            }
            break;
        }
        if (!ep->upstream)
            log_warn("image", "mirror failed, trying the next endpoint: %s", last.msg);
        if (i + 1 < c->n_eps) {
            /* Keep what this endpoint said: the final message names every answer. */
            if (last.kind == CRIC_ERR_NOT_FOUND || last.kind == CRIC_ERR_PERMISSION)
                earlier_kind = last.kind;
            size_t el = strlen(earlier), ml = strlen(last.msg);
            if (el + ml + 3 < sizeof(earlier)) {
                if (el)
                    memcpy(earlier + el, "; ", 2), el += 2;
                memcpy(earlier + el, last.msg, ml + 1);
            }
        }
    }
out:
    *err = last;
    if (earlier[0] && !x->wrote) {
        if (err->kind == CRIC_ERR_UNAVAILABLE && earlier_kind != CRIC_ERR_NONE)
            err->kind = earlier_kind;
        cric_err_prefix(err, "%.600s; then ", earlier);
    }
    return -1;
}

int reg_get_manifest(reg_client *c, const char *reference, char **body, size_t *len,
                     char content_type[128], char digest[DIGEST_STR_LEN + 1], cric_err *err)
{
    char path[REF_NAME_MAX + REF_TAG_MAX + 96];
    snprintf(path, sizeof(path), "/%s/manifests/%s", c->repo, reference);
    xfer x = {.fd = -1, .tee_fd = -1, .expect = -1, .mem_max = MANIFEST_MAX_BYTES};
    const char *accept =
        MT_OCI_INDEX ", " MT_DOCKER_LIST ", " MT_OCI_MANIFEST ", " MT_DOCKER_MANIFEST;
    if (request(c, path, accept, &x, true, err) < 0) {
        free(x.mem);
        return -1;
    }
    if (!x.mem) {
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: empty manifest for %s", c->name, reference);
    }
    digest_buf(x.mem, x.mem_len, digest);
    if (strncmp(reference, "sha256:", 7) == 0 && strcmp(reference, digest) != 0) {
        free(x.mem);
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "%s: manifest digest mismatch: asked for %s, got %s", c->name,
                            reference, digest);
    }
    snprintf(content_type, 128, "%s", x.content_type);
    char *semi = strchr(content_type, ';');
    if (semi)
        *semi = '\0';
    *body = x.mem;
    *len = x.mem_len;
    return 0;
}

static int verify_blob(reg_client *c, const oci_desc *d, xfer *x, cric_err *err)
{
    char got[DIGEST_STR_LEN + 1];
    digester_final(x->dg, got);
    if ((int64_t)x->got != d->size)
        return cric_err_set(err, CRIC_ERR_INVALID,
                            "%s: blob %s: size mismatch: expected %lld bytes, got %llu", c->name,
                            d->digest, (long long)d->size, (unsigned long long)x->got);
    if (strcmp(got, d->digest) != 0)
        return cric_err_set(err, CRIC_ERR_INVALID, "%s: blob %s: digest mismatch (got %s)", c->name,
                            d->digest, got);
    return 0;
}

int reg_get_blob_mem(reg_client *c, const oci_desc *d, size_t max, char **body, cric_err *err)
{
    if (d->size < 0 || (uint64_t)d->size > max)
        return cric_err_set(err, CRIC_ERR_RESOURCE, "%s: blob %s: %lld bytes exceeds %zu", c->name,
                            d->digest, (long long)d->size, max);
    char path[REF_NAME_MAX + 128];
    snprintf(path, sizeof(path), "/%s/blobs/%s", c->repo, d->digest);
    xfer x = {.fd = -1, .tee_fd = -1, .expect = d->size, .mem_max = max, .dg = digester_new()};
    int rc = request(c, path, NULL, &x, true, err);
    if (rc == 0)
        rc = verify_blob(c, d, &x, err);
    digester_free(x.dg);
    if (rc < 0) {
        free(x.mem);
        return -1;
    }
    *body = x.mem ? x.mem : strdup("");
    return 0;
}

int reg_get_blob_fd(reg_client *c, const oci_desc *d, int out_fd, int tee_fd, bool *wrote,
                    cric_err *err)
{
    char path[REF_NAME_MAX + 128];
    snprintf(path, sizeof(path), "/%s/blobs/%s", c->repo, d->digest);
    xfer x = {.fd = out_fd, .tee_fd = tee_fd, .expect = d->size, .dg = digester_new()};
    int rc = request(c, path, NULL, &x, false, err);
    if (rc == 0)
        rc = verify_blob(c, d, &x, err);
    digester_free(x.dg);
    *wrote = x.wrote;
    return rc;
}
