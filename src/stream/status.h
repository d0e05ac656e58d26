/* The exit status of an exec/attach session as the kubelet reports it on the
 * error stream: a metav1.Status marshalled by Go's encoding/json (v4 protocols),
 * or a plain message (older protocols). */
#ifndef CRIC_STREAM_STATUS_H
#define CRIC_STREAM_STATUS_H

#include <stddef.h>

/* {"metadata":{},"status":"Success"} */
char *k8s_status_success(void);
/* NonZeroExitCode status for an exec of argv that exited with code. */
char *k8s_status_exit_code(char *const *argv, size_t argc, int code);
/* InternalError status: "Internal error occurred: <msg>" with code 500. */
char *k8s_status_internal(const char *msg);
/* The v1-v3 error stream text for a non-zero exit ("command terminated with
 * non-zero exit code: ..."). */
char *k8s_exit_message(char *const *argv, size_t argc, int code);

#endif
