#include "image/reference.h"

#include <stdio.h>
#include <string.h>

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_hex_lower(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool digest_is_valid(const char *s)
{
    if (strncmp(s, "sha256:", 7) != 0)
        return false;
    s += 7;
    for (int i = 0; i < 64; i++)
        if (!is_hex_lower(s[i]))
            return false;
    return s[64] == '\0';
}

/* One path component: alnum runs joined by '.', '_', '__' or one or more '-'. */
static bool path_component_ok(const char *s, size_t n)
{
    if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n;) {
        if (is_lower_alnum(s[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && !is_lower_alnum(s[j]))
            j++;
        size_t len = j - i;
        const char *sep = s + i;
        bool ok = (len == 1 && (sep[0] == '.' || sep[0] == '_')) ||
                  (len == 2 && sep[0] == '_' && sep[1] == '_');
        if (!ok) {
            ok = true;
            for (size_t k = 0; k < len; k++)
                if (sep[k] != '-')
                    ok = false;
        }
        if (!ok)
            return false;
        i = j;
    }
    return true;
}

/* host[:port] with DNS-style labels, or [ipv6][:port]. */
static bool domain_ok(const char *s, size_t n)
{
    size_t i = 0;
    if (n == 0)
        return false;
    if (s[0] == '[') {
        while (i < n && s[i] != ']') {
            char c = s[i];
            if (i > 0 && !(is_hex_lower(c) || (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
                return false;
            i++;
        }
        if (i == n)
            return false;
        i++;
    } else {
        size_t label = 0;
        for (; i < n && s[i] != ':'; i++) {
            char c = s[i];
            if (c == '.') {
                if (label == 0 || s[i - 1] == '-')
                    return false;
                label = 0;
            } else if (is_alnum(c) || (c == '-' && label > 0)) {
                label++;
            } else {
                return false;
            }
        }
        if (label == 0 || s[i - 1] == '-')
            return false;
    }
    if (i < n) {
        if (s[i] != ':' || i + 1 == n)
            return false;
        for (i++; i < n; i++)
            if (s[i] < '0' || s[i] > '9')
                return false;
    }
    return true;
}

static bool tag_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > REF_TAG_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool word = is_alnum(c) || c == '_';
        if (!(word || (i > 0 && (c == '.' || c == '-'))))
            return false;
    }
    return true;
}

static int invalid(cric_err *err, const char *ref, const char *why)
{
    return cric_err_set(err, CRIC_ERR_INVALID, "invalid image reference \"%.300s\": %s", ref, why);
}

int ref_parse(const char *s, image_ref *out, cric_err *err)
{
    memset(out, 0, sizeof(*out));
    if (!s || !*s)
        return invalid(err, "", "empty reference");
    size_t total = strlen(s);
    if (total > REF_NAME_MAX + REF_TAG_MAX + REF_DIGEST_MAX + 2)
        return invalid(err, s, "too long");
    char buf[REF_NAME_MAX + REF_TAG_MAX + REF_DIGEST_MAX + 3];
    memcpy(buf, s, total + 1);

    char *at = strchr(buf, '@');
    if (at) {
        *at = '\0';
        const char *dg = at + 1;
        if (strchr(dg, '@'))
            return invalid(err, s, "more than one '@'");
        if (strncmp(dg, "sha256:", 7) != 0) {
            if (strchr(dg, ':'))
                return invalid(err, s, "unsupported digest algorithm (only sha256)");
            return invalid(err, s, "digest must look like sha256:<64 hex characters>");
        }
        if (!digest_is_valid(dg))
            return invalid(err, s, "digest must be sha256: followed by 64 lowercase hex");
        memcpy(out->digest, dg, strlen(dg) + 1);
    }
    char *name = buf;
    char *slash = strrchr(name, '/');
    char *colon = strrchr(slash ? slash : name, ':');
    if (colon) {
        *colon = '\0';
        if (!tag_ok(colon + 1))
            return invalid(err, s, "invalid tag (want [A-Za-z0-9_][A-Za-z0-9_.-]{0,127})");
        memcpy(out->tag, colon + 1, strlen(colon + 1) + 1);
    }
    if (!*name)
        return invalid(err, s, "empty repository name");

    const char *path = name;
    char *first = strchr(name, '/');
    if (first) {
        size_t dl = (size_t)(first - name);
        bool has_lower_only = true;
        for (size_t i = 0; i < dl; i++)
            if (name[i] >= 'A' && name[i] <= 'Z')
                has_lower_only = false;
        bool is_domain = memchr(name, '.', dl) || memchr(name, ':', dl) ||
                         (dl == 9 && strncmp(name, "localhost", 9) == 0) || !has_lower_only;
        if (is_domain) {
            if (!domain_ok(name, dl))
                return invalid(err, s, "invalid registry host");
            if (dl >= sizeof(out->domain))
                return invalid(err, s, "registry host too long");
            memcpy(out->domain, name, dl);
            out->domain[dl] = '\0';
            path = first + 1;
        }
    }
    if (!out->domain[0] || strcmp(out->domain, "index.docker.io") == 0)
        strcpy(out->domain, "docker.io");

    /* Validate the path's components. */
    const char *p = path;
    for (;;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        for (size_t i = 0; i < n; i++)
            if (p[i] >= 'A' && p[i] <= 'Z')
                return invalid(err, s, "repository name must be lowercase");
        if (!path_component_ok(p, n))
            return invalid(err, s, "invalid repository name component");
        if (!e)
            break;
        p = e + 1;
    }
    bool library = strcmp(out->domain, "docker.io") == 0 && !strchr(path, '/');
    int n = snprintf(out->path, sizeof(out->path), "%s%s", library ? "library/" : "", path);
    if (n < 0 || (size_t)n >= sizeof(out->path) ||
        strlen(out->domain) + 1 + (size_t)n > REF_NAME_MAX)
        return invalid(err, s, "repository name longer than 255 characters");
    if (!first && strlen(path) == 64) {
        bool hex = true;
        for (size_t i = 0; i < 64; i++)
            hex = hex && is_hex_lower(path[i]);
        if (hex)
            return invalid(err, s, "a 64-character hex string is an image id, not a repository");
    }
    if (!out->tag[0] && !out->digest[0])
        strcpy(out->tag, "latest");
    return 0;
}

static int put(char *buf, size_t n, int len)
{
    return (len < 0 || (size_t)len >= n) ? -1 : 0;
}

int ref_repo(const image_ref *r, char *buf, size_t n)
{
    return put(buf, n, snprintf(buf, n, "%s/%s", r->domain, r->path));
}

int ref_tagged(const image_ref *r, char *buf, size_t n)
{
    if (!r->tag[0]) {
        if (n)
            buf[0] = '\0';
        return 0;
    }
    return put(buf, n, snprintf(buf, n, "%s/%s:%s", r->domain, r->path, r->tag));
}

int ref_with_digest(const image_ref *r, const char *digest, char *buf, size_t n)
{
    return put(buf, n, snprintf(buf, n, "%s/%s@%s", r->domain, r->path, digest));
}
