/* Checks a request's wire bytes for what protobuf-c accepts silently: a
 * string field holding a NUL byte (protobuf-c's char * would end at it, so
 * "abc\0/../x" would reach the handler as "abc") or bytes that are not UTF-8
 * (which proto3 forbids and Go's protobuf rejects). Walks the message by its
 * descriptor, nested messages and map entries included; unknown fields are
 * skipped. Call after protobuf_c_message_unpack succeeded on the same bytes. */
#ifndef CRIC_CRI_PBCHECK_H
#define CRIC_CRI_PBCHECK_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* 0 when every string is clean; -1 with why naming the field path
 * ("config.metadata.name: holds a NUL byte"). */
int cri_pb_check_strings(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
                         char *why, size_t why_len);

#endif
