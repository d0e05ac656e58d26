#include "image/digest.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct digester {
    EVP_MD_CTX *ctx;
};

digester *digester_new(void)
{
    digester *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->ctx = EVP_MD_CTX_new();
    if (!d->ctx || EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL) != 1) {
        digester_free(d);
        return NULL;
    }
    return d;
}

void digester_update(digester *d, const void *data, size_t len)
{
    EVP_DigestUpdate(d->ctx, data, len);
}

void digester_final(digester *d, char out[DIGEST_STR_LEN + 1])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_DigestFinal_ex(d->ctx, md, &n);
    memcpy(out, "sha256:", 7);
    for (int i = 0; i < 32; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

void digester_free(digester *d)
{
    if (!d)
        return;
    EVP_MD_CTX_free(d->ctx);
    free(d);
}

void digest_buf(const void *data, size_t len, char out[DIGEST_STR_LEN + 1])
{
    unsigned char md[32];
    EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL);
    memcpy(out, "sha256:", 7);
    for (int i = 0; i < 32; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

void digest_chain(const char *parent_chain, const char *diff_id, char out[DIGEST_STR_LEN + 1])
{
    if (!parent_chain || !*parent_chain) {
        snprintf(out, DIGEST_STR_LEN + 1, "%s", diff_id);
        return;
    }
    char buf[2 * DIGEST_STR_LEN + 2];
    int n = snprintf(buf, sizeof(buf), "%s %s", parent_chain, diff_id);
    digest_buf(buf, (size_t)n, out);
}
