/* The CRI v1 method table: maps every RuntimeService and ImageService method
 * path to its handler. The handlers' user pointer is the cric_daemon. */
#ifndef CRIC_CRI_SERVICE_H
#define CRIC_CRI_SERVICE_H

#include <stddef.h>

#include "rpc/server.h"

const rpc_method *cri_methods(size_t *n);

#endif
