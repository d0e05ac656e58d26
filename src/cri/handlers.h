/* One rpc_handler_fn per implemented CRI method (one source file each). */
#ifndef CRIC_CRI_HANDLERS_H
#define CRIC_CRI_HANDLERS_H

#include "rpc/server.h"

#define CRI_DECLARE(name)                                                                          \
    void cri_##name(rpc_call *call, void *user, const uint8_t *buf, size_t len, rpc_status *st)

CRI_DECLARE(version);
CRI_DECLARE(status);
CRI_DECLARE(runtime_config);
CRI_DECLARE(update_runtime_config);
CRI_DECLARE(exec);
CRI_DECLARE(attach);
CRI_DECLARE(port_forward);
CRI_DECLARE(pull_image);
CRI_DECLARE(image_status);
CRI_DECLARE(list_images);
CRI_DECLARE(stream_images);
CRI_DECLARE(remove_image);
CRI_DECLARE(image_fs_info);
CRI_DECLARE(run_pod_sandbox);
CRI_DECLARE(stop_pod_sandbox);
CRI_DECLARE(remove_pod_sandbox);
CRI_DECLARE(pod_sandbox_status);
CRI_DECLARE(list_pod_sandbox);
CRI_DECLARE(stream_pod_sandboxes);
CRI_DECLARE(pod_sandbox_stats);
CRI_DECLARE(list_pod_sandbox_stats);
CRI_DECLARE(stream_pod_sandbox_stats);
CRI_DECLARE(list_metric_descriptors);
CRI_DECLARE(list_pod_sandbox_metrics);
CRI_DECLARE(stream_pod_sandbox_metrics);
CRI_DECLARE(get_container_events);
CRI_DECLARE(update_pod_sandbox_resources);
CRI_DECLARE(container_stats);
CRI_DECLARE(list_container_stats);
CRI_DECLARE(stream_container_stats);
CRI_DECLARE(update_container_resources);
CRI_DECLARE(create_container);
CRI_DECLARE(start_container);
CRI_DECLARE(stop_container);
CRI_DECLARE(remove_container);
CRI_DECLARE(container_status);
CRI_DECLARE(list_containers);
CRI_DECLARE(stream_containers);
CRI_DECLARE(reopen_container_log);
CRI_DECLARE(exec_sync);

#endif
