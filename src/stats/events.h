/* The container event broadcaster behind GetContainerEvents.
 *
 * Producers (the pod and container services, any thread) call events_publish;
 * it never blocks on subscribers. The bus renders each event once, on the
 * publishing thread, through a renderer the CRI layer installs (it encodes
 * ContainerEventResponse with the pod and container statuses as they are at
 * that moment), queues the bytes and wakes the loop. On the loop thread every
 * subscriber gets every event, in publication order, through its sink; a sink
 * that cannot take more (the RPC stream's outbound queue is full because the
 * client does not read, or the client is gone) is dropped at once and told
 * why. Subscribers are added and removed on the loop thread only.
 *
 * Lives in src/stats because events and stats are the two read-only views of
 * the lifecycle the kubelet consumes; it knows no protobuf and no RPC. */
#ifndef CRIC_STATS_EVENTS_H
#define CRIC_STATS_EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "util/err.h"

/* Same values as CRI ContainerEventType. */
typedef enum {
    EVENT_CREATED = 0,
    EVENT_STARTED = 1,
    EVENT_STOPPED = 2,
    EVENT_DELETED = 3,
} event_type;

typedef struct event_bus event_bus;

/* Encodes one event into a malloc'd buffer; container_id is the sandbox id for
 * sandbox events (pod_id equals it then). Returns 0 or -1 (event dropped). */
typedef int (*event_render_fn)(void *ctx, event_type type, const char *container_id,
                               const char *pod_id, int64_t at_ns, uint8_t **buf, size_t *len);

int event_bus_new(event_bus **out, cric_err *err);
void event_bus_set_renderer(event_bus *b, event_render_fn fn, void *ctx);
/* After the loop stopped: closes the loop handle (running the loop once for
 * it) and frees everything (the RPC server's shutdown has cancelled every
 * subscriber's stream by then). */
void event_bus_free(event_bus *b);

/* The one call producers make. Safe from any thread; cheap when nobody listens. */
void events_publish(event_bus *b, event_type type, const char *container_id, const char *pod_id);

/* A subscriber's sink; both run on the loop thread. send returns -1 when the
 * stream cannot take the message; end is called exactly once when the bus
 * drops the subscriber (code is a gRPC code: RESOURCE_EXHAUSTED), never
 * after event_sub_cancel. */
typedef struct event_sink {
    int (*send)(void *arg, const uint8_t *msg, size_t len);
    void (*end)(void *arg, int grpc_code, const char *message);
    void *arg;
} event_sink;

typedef struct event_sub event_sub;

/* Loop thread only. */
int event_bus_subscribe(event_bus *b, uv_loop_t *loop, const event_sink *sink, event_sub **out,
                        cric_err *err);
/* Loop thread only: the subscriber's stream ended on its own; frees sub. */
void event_sub_cancel(event_sub *sub);

/* Counters for tests and logs. */
size_t event_bus_subscribers(event_bus *b);

#endif
