/* CNI network configuration discovery (CNI spec: conflists in a directory,
 * sorted by file name, the first valid one wins). */
#ifndef CRIC_POD_CNI_CONF_H
#define CRIC_POD_CNI_CONF_H

#include <jansson.h>

#include "util/err.h"

/* Finds the config file cric would use. On success *path is malloc'd (caller
 * frees). With no usable file: -1 with CRIC_ERR_NOT_FOUND and a message that
 * says why (missing dir, no files, or each file's parse error). */
int cni_conf_pick(const char *conf_dir, char **path, cric_err *err);

/* Picks the config (as cni_conf_pick) and loads it as a conflist: a single
 * .conf/.json plugin config becomes {"cniVersion", "name", "plugins": [it]}.
 * *list is a new reference (caller decrefs); *path is malloc'd when non-NULL. */

int cni_conf_load(const char *conf_dir, json_t **list, char **path, cric_err *err);

#endif
