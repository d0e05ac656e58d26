/* The infra process (cric-pause) that holds a pod's shared PID namespace. */
#ifndef CRIC_POD_INFRA_H
#define CRIC_POD_INFRA_H

#include <stdbool.h>
#include <sys/types.h>

#include "util/err.h"

/* Finds cric-pause: next to the cric binary, in the build tree
 * (<build>/src/pod/pause), then /usr/local/libexec/cric and /usr/libexec/cric.
 * *path is malloc'd. */
int infra_find_binary(char **path, cric_err *err);

/* Starts it joined to the given namespaces ("" = the host's); returns its
 * host pid and kernel start time (to recognise it after pid reuse). cric-pause
 * itself writes both to the record file before its pid 1 may run, so a
 * daemon killed during the start leaves the record for teardown to find. */
int infra_start(const char *binary, const char *record, const char *netns, const char *ipcns,
                const char *utsns, pid_t *pid, unsigned long long *start_time, cric_err *err);
/* Reads a record ("<pid> <start time>"); -1 when it is missing or malformed. */
int infra_read_record(const char *path, int *pid, unsigned long long *start_time);
/* The process's start time from /proc/<pid>/stat; 0 if it is gone (or a zombie). */
unsigned long long infra_start_time(pid_t pid);
/* SIGKILLs it (when pid and start time still match) and waits until it is
 * gone (up to 2 s). Success when it was gone already. */
int infra_kill(pid_t pid, unsigned long long start_time, cric_err *err);

#endif
