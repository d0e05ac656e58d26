/* The Kubernetes channel framing inside WebSocket messages: binary protocols
 * put the channel number in the first byte; base64 protocols put it as an
 * ASCII digit and base64-encode the rest (text messages). Pure functions. */
#ifndef CRIC_STREAM_WSCHAN_H
#define CRIC_STREAM_WSCHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stream/buf.h"

/* Appends the message for data on channel to out. 0 or -1. */
int wschan_encode(bool base64, uint8_t channel, const void *data, size_t len, sbuf *out);
/* Decodes a message: *channel and the payload appended to out. -1 when the
 * message is empty or not valid base64. */
int wschan_decode(bool base64, const uint8_t *msg, size_t len, uint8_t *channel, sbuf *out);

#endif
