/* pod_info <-> JSON: the database document of a sandbox and the way
 * snapshots are copied. */
#ifndef CRIC_POD_RECORD_H
#define CRIC_POD_RECORD_H

#include <jansson.h>

#include "pod/pod.h"

json_t *record_to_json(const pod_info *p);
/* NULL on a malformed document. */
pod_info *record_from_json(json_t *j);
pod_info *pod_info_dup(const pod_info *p);

#endif
