/* The daemon context: the one place that holds process-wide mutable state.
 * Every RPC handler receives it as its user pointer. */
#ifndef CRIC_DAEMON_DAEMON_H
#define CRIC_DAEMON_DAEMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "daemon/config.h"
#include "rpc/server.h"
#include "store/db.h"

/* Domain services, each owned by its folder (src/image, src/pod, src/ctr). */
struct image_service;
struct pod_service;
struct ctr_service;
struct stream_server;
struct stats_service;
struct event_bus;

typedef struct cric_daemon {
    cric_config cfg;
    uv_loop_t loop;
    rpc_server *rpc;
    /* the CRI socket, listening from start-up on (rpc_server.h) until the
     * server takes it over, once everything is ready to serve */
    rpc_listen_socket listen_sock;
    int root_lock_fd;
    int socket_lock_fd;
    uv_signal_t sig_term;
    uv_signal_t sig_int;
    uv_timer_t trim_timer; /* gives freed heap back once the RPCs pause */
    uint64_t trim_seen_calls;
    bool trim_due;
    int64_t started_at_ns;

    cric_db db; /* <root>/cric.db */
    struct image_service *images;
    struct pod_service *pods;
    struct ctr_service *ctrs;
    struct stream_server *stream; /* exec/attach/port-forward (stream_glue.c) */
    struct stats_service *stats;  /* cgroup/netns/fs statistics (stats_glue.c) */
    struct event_bus *events;     /* GetContainerEvents broadcaster (stats_glue.c) */

    /* Guards the fields below, which RPCs change at run time. */
    pthread_mutex_t mu;
    char *pod_cidr; /* from UpdateRuntimeConfig; persisted under state */
} cric_daemon;

/* Opens the database and starts every domain service (services.c); on failure
 * whatever was started is stopped again. */
int daemon_services_start(cric_daemon *d, cric_err *err);
/* Stops the domain services and closes the database (after the RPC server). */
void daemon_services_stop(cric_daemon *d);

/* The streaming server (src/stream) on d->loop, with the daemon's backend;
 * started once the loop exists, shut down with the RPC server (stream_glue.c). */
int daemon_stream_start(cric_daemon *d, cric_err *err);
void daemon_stream_shutdown(cric_daemon *d);
void daemon_stream_free(cric_daemon *d);

/* The stats service and the event bus (stats_glue.c): started after the pod
 * service (its sandbox events go to the bus) and before the container
 * service; stopped after both. */
int daemon_stats_start(cric_daemon *d, cric_err *err);
void daemon_stats_stop(cric_daemon *d);
/* Routes the container service's lifecycle notifications to the bus. */
void daemon_stats_attach_ctrs(cric_daemon *d);

/* Records the pod CIDR (UpdateRuntimeConfig) in memory and under the state dir. */
int daemon_set_pod_cidr(cric_daemon *d, const char *cidr, cric_err *err);
/* A copy of the current pod CIDR ("" when none); caller frees. */
char *daemon_pod_cidr(cric_daemon *d);

#endif
