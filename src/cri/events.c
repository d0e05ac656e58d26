/* GetContainerEvents: a detached server stream per subscriber on the event
 * bus (src/stats/events.h), and the renderer that turns a lifecycle event
 * into a ContainerEventResponse with the pod's status at that moment.
 *
 * The handler is INLINE: subscribing, sending and finishing all happen on the
 * loop thread, so a stream's end (client gone, or too slow: the RPC layer's
 * loop-thread send fails once its outbound queue is full) and the bus's
 * delivery never race. */
#include <stdlib.h>
#include <string.h>

#include "cri/arena.h"
#include "cri/handlers.h"
#include "cri/sandbox_conv.h"
#include "cri/stats_ctr.h"
#include "stats/events.h"
#include "util/log.h"

static int render(void *ctx, event_type type, const char *container_id, const char *pod_id,
                  int64_t at_ns, uint8_t **buf, size_t *len)
{
    cric_daemon *d = ctx;
    cri_arena a = {0};
    Runtime__V1__ContainerEventResponse ev;
    runtime__v1__container_event_response__init(&ev);
    ev.container_id = (char *)container_id;
    ev.container_event_type = (Runtime__V1__ContainerEventType)type;
    ev.created_at = at_ns;
    pod_info *p = NULL;
    cric_err err = {0};
    if (pod_id[0] && pod_lookup(d->pods, pod_id, &p, &err) == 0) {
        ev.pod_sandbox_status = cri_pod_status(&a, p);
        pod_info_free(p);
    } else if (pod_id[0]) { /* deleted meanwhile: the id is all there is */
        ev.pod_sandbox_status = AR_NEW(&a, Runtime__V1__PodSandboxStatus);
        runtime__v1__pod_sandbox_status__init(ev.pod_sandbox_status);
        ev.pod_sandbox_status->id = ar_strdup(&a, pod_id);
        ev.pod_sandbox_status->state = RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
    }
    cri_event_container_statuses(d, &a, pod_id, &ev.containers_statuses, &ev.n_containers_statuses);
    size_t n = protobuf_c_message_get_packed_size(&ev.base);
    uint8_t *out = malloc(n ? n : 1);
    if (out)
        protobuf_c_message_pack(&ev.base, out);
    arena_release(&a);
    if (!out)
        return -1;
    *buf = out;
    *len = n;
    return 0;
}

typedef struct subscriber {
    rpc_call *call;
    event_sub *sub;
} subscriber;

static int sink_send(void *arg, const uint8_t *msg, size_t len)
{
    subscriber *s = arg;
    return rpc_call_send(s->call, msg, len);
}

static void sink_end(void *arg, int code, const char *message)
{
    subscriber *s = arg;
    rpc_status st;
    rpc_status_set(&st, (rpc_code)code, "GetContainerEvents: %s", message);
    rpc_call_finish(s->call, &st);
    free(s);
}

static void on_cancel(rpc_call *call, void *arg)
{
    subscriber *s = arg;
    event_sub_cancel(s->sub);
    rpc_status st;
    rpc_status_set(&st, RPC_CANCELLED, "GetContainerEvents: stream ended");
    rpc_call_finish(call, &st);
    free(s);
}

void cri_get_container_events(rpc_call *call, void *user, const uint8_t *buf, size_t len,
                              rpc_status *st)
{
    cric_daemon *d = user;
    Runtime__V1__GetEventsRequest *req = runtime__v1__get_events_request__unpack(NULL, len, buf);
    if (!req) {
        rpc_status_set(st, RPC_INVALID_ARGUMENT, "%s: malformed GetEventsRequest message",
                       rpc_call_method(call));
        return;
    }
    runtime__v1__get_events_request__free_unpacked(req, NULL);
    event_bus_set_renderer(d->events, render, d);
    subscriber *s = calloc(1, sizeof(*s));
    if (!s) {
        rpc_status_set(st, RPC_RESOURCE_EXHAUSTED, "GetContainerEvents: out of memory");
        return;
    }
    s->call = call;
    event_sink sink = {.send = sink_send, .end = sink_end, .arg = s};
    cric_err err = {0};
    if (event_bus_subscribe(d->events, &d->loop, &sink, &s->sub, &err) < 0) {
        free(s);
        cri_status_from_err(&err, st);
        return;
    }
    rpc_call_detach(call, on_cancel, s);
    log_debug("cri", "GetContainerEvents: %zu subscribers", event_bus_subscribers(d->events));
}
