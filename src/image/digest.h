/* Streaming sha256 in the OCI digest form "sha256:<hex>". */
#ifndef CRIC_IMAGE_DIGEST_H
#define CRIC_IMAGE_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DIGEST_STR_LEN 71 /* without NUL */

typedef struct digester digester;

digester *digester_new(void); /* NULL on out-of-memory */
void digester_update(digester *d, const void *data, size_t len);
/* Writes "sha256:<hex>" (72 bytes with NUL). The digester may not be updated after. */
void digester_final(digester *d, char out[DIGEST_STR_LEN + 1]);
void digester_free(digester *d);

void digest_buf(const void *data, size_t len, char out[DIGEST_STR_LEN + 1]);
/* Chain id of a layer stack: chain(0) = diff(0),
 * chain(n) = sha256(chain(n-1) + " " + diff(n)). */
void digest_chain(const char *parent_chain, const char *diff_id, char out[DIGEST_STR_LEN + 1]);

static inline void digester_freep(digester **d)
{
    if (*d)
        digester_free(*d);
}
#define _cleanup_digester_ __attribute__((cleanup(digester_freep)))

#endif
