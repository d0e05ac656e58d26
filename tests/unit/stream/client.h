/* A small blocking SPDY/3.1 client for the streaming server tests, built on
 * src/stream/spdy.h (the codec is symmetric). */
#ifndef TEST_STREAM_CLIENT_H
#define TEST_STREAM_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stream/buf.h"
#include "stream/spdy.h"

#define TC_MAX_STREAMS 64

typedef struct tc_stream {
    uint32_t id;
    sbuf data;
    bool fin, reset, replied;
} tc_stream;

typedef struct tclient {
    int fd;
    spdy_zip zip;
    sbuf in;
    uint32_t next_id;
    tc_stream streams[TC_MAX_STREAMS];
    size_t n;
    bool goaway, eof;
    int status;      /* HTTP status of the upgrade */
    char head[4096]; /* the response head */
    char body[4096]; /* body of a non-101 response */
} tclient;

/* Connects to url ("http://127.0.0.1:port/exec/tok") and sends the upgrade
 * with the given protocol offer (NULL = none). Returns the HTTP status or -1. */
int tc_connect(tclient *c, const char *url, const char *upgrade, const char *const *protocols);
/* Raw: connects and sends bytes as they are; reads the response. */
int tc_raw(const char *url, const char *bytes, size_t len, char *resp, size_t resp_size);
uint32_t tc_open(tclient *c, const char *type, const char *port, const char *request_id);
void tc_send(tclient *c, uint32_t id, const void *data, size_t len, bool fin);
/* Reads frames until pred(c, arg) is true, EOF or timeout_ms. */
bool tc_until(tclient *c, bool (*pred)(tclient *, void *), void *arg, int timeout_ms);
tc_stream *tc_stream_get(tclient *c, uint32_t id);
/* Reads and handles whatever has arrived, without waiting. */
void tc_drain(tclient *c);
bool tc_all_fin(tclient *c, void *arg); /* pred: every stream finished */
void tc_close(tclient *c);

#endif
