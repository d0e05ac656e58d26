/* CRI container log format, as the kubelet reads it:
 *   <RFC3339Nano timestamp> <stdout|stderr> <P|F> <content>\n
 * Behaviour matches containerd's CRI logger:
 * - a line ends at '\n'; a trailing "\r\n" or "\n" is not part of the content;
 * - a line longer than CRILOG_MAX_LINE bytes is cut into P records of exactly
 *   CRILOG_MAX_LINE bytes; its last piece (possibly exactly CRILOG_MAX_LINE
 *   bytes, possibly empty only for an empty line) is the F record;
 * - unterminated content left at EOF is written as P records;
 * - the timestamp is UTC in Go's RFC3339Nano form (trailing zeros of the
 *   fraction trimmed, no fraction when it is zero).
 * stdout and stderr each keep their own partial line; pure logic, no I/O. */
#ifndef CRIC_SHIM_CRILOG_H
#define CRIC_SHIM_CRILOG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>
#include <time.h>

#define CRILOG_MAX_LINE (16 * 1024)
#define CRILOG_TS_MAX 40

/* Receives one record: header "ts stream tag " plus content pieces. The sink
 * appends '\n'. iov[0] is the header; n is at most 3. */
typedef void (*crilog_sink)(void *opaque, const struct iovec *iov, int n);

struct crilog_stream {
    const char *name; /* "stdout" or "stderr" */
    char *pending;    /* partial line, CRILOG_MAX_LINE + 1 bytes when allocated */
    size_t len;
};

void crilog_stream_init(struct crilog_stream *s, const char *name);
void crilog_stream_free(struct crilog_stream *s);

/* Formats ts into out (at least CRILOG_TS_MAX bytes); returns the length. */
size_t crilog_timestamp(const struct timespec *ts, char *out);

/* Feeds container output; emits every completed record. Returns -1 only when
 * memory for the partial line cannot be allocated (the data is then written
 * out as P records instead of being lost). */
int crilog_feed(struct crilog_stream *s, const char *data, size_t len, const struct timespec *now,
                crilog_sink sink, void *opaque);

/* End of stream: writes what is pending as P records. */
void crilog_flush(struct crilog_stream *s, const struct timespec *now, crilog_sink sink,
                  void *opaque);

#endif
