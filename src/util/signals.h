/* Signal dispositions for processes cric starts. An ignored signal stays
 * ignored across exec: whatever cric inherited or set (SIGPIPE) must not leak
 * into the OCI runtime, CNI plugins or the user's processes. */
#ifndef CRIC_UTIL_SIGNALS_H
#define CRIC_UTIL_SIGNALS_H

/* Sets every signal to SIG_DFL, including the two real-time signals glibc
 * reserves for itself (which its sigaction() refuses to touch), and unblocks
 * all signals. Async-signal-safe: usable between fork and exec. */
void signals_reset_all(void);

#endif
