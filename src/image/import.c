/* cric image import: not implemented yet. */
#include "image/service.h"

int image_import(image_service *s, const char *path, char ***ids, size_t *n, cric_err *err)
{
    *ids = NULL;
    *n = 0;
    return cric_err_set(err, CRIC_ERR_UNIMPLEMENTED, "image import %.200s: not implemented", path);
}
