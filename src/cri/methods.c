#include "cri/cri.h"
#include "cri/handlers.h"
#include "cri/service.h"

#define RT "/runtime.v1.RuntimeService/"
#define IM "/runtime.v1.ImageService/"
#define TODO cri_unimplemented
#define STREAM RPC_METHOD_SERVER_STREAMING

/* Every method of api/cri.proto. Entries still on TODO answer UNIMPLEMENTED
 * with their name until their issue lands. */
static const rpc_method methods[] = {
    {RT "Version", cri_version, RPC_METHOD_INLINE},
    {RT "RunPodSandbox", cri_run_pod_sandbox, 0},
    {RT "StopPodSandbox", cri_stop_pod_sandbox, 0},
    {RT "RemovePodSandbox", cri_remove_pod_sandbox, 0},
    {RT "PodSandboxStatus", cri_pod_sandbox_status, 0},
    /* INLINE: the listings take the table locks only, which nothing holds over
     * I/O, and answer in well under a millisecond; on the loop they skip two
     * thread wake-ups, half of a short call's cost on this kind of host. */
    {RT "ListPodSandbox", cri_list_pod_sandbox, RPC_METHOD_INLINE},
    {RT "StreamPodSandboxes", cri_stream_pod_sandboxes, STREAM},
    {RT "CreateContainer", cri_create_container, 0},
    {RT "StartContainer", cri_start_container, 0},
    {RT "StopContainer", cri_stop_container, 0},
    {RT "RemoveContainer", cri_remove_container, 0},
    {RT "ListContainers", cri_list_containers, RPC_METHOD_INLINE},
    {RT "StreamContainers", cri_stream_containers, STREAM},
    {RT "ContainerStatus", cri_container_status, 0},
    {RT "UpdateContainerResources", cri_update_container_resources, 0},
    {RT "ReopenContainerLog", cri_reopen_container_log, 0},
    {RT "ExecSync", cri_exec_sync, 0},
    {RT "Exec", cri_exec, 0},
    {RT "Attach", cri_attach, 0},
    {RT "PortForward", cri_port_forward, 0},
    {RT "ContainerStats", cri_container_stats, 0},
    {RT "ListContainerStats", cri_list_container_stats, 0},
    {RT "StreamContainerStats", cri_stream_container_stats, STREAM},
    {RT "PodSandboxStats", cri_pod_sandbox_stats, 0},
    {RT "ListPodSandboxStats", cri_list_pod_sandbox_stats, 0},
    {RT "StreamPodSandboxStats", cri_stream_pod_sandbox_stats, STREAM},
    {RT "UpdateRuntimeConfig", cri_update_runtime_config, 0},
    {RT "Status", cri_status, 0},
    {RT "CheckpointContainer", TODO, 0},
    {RT "CheckpointPod", TODO, 0},
    {RT "RestorePod", TODO, 0},
    /* INLINE: subscribing never blocks; the stream lives on the loop (events.c). */
    {RT "GetContainerEvents", cri_get_container_events, STREAM | RPC_METHOD_INLINE},
    {RT "ListMetricDescriptors", cri_list_metric_descriptors, 0},
    {RT "ListPodSandboxMetrics", cri_list_pod_sandbox_metrics, 0},
    {RT "StreamPodSandboxMetrics", cri_stream_pod_sandbox_metrics, STREAM},
    {RT "RuntimeConfig", cri_runtime_config, RPC_METHOD_INLINE},
    {RT "UpdatePodSandboxResources", cri_update_pod_sandbox_resources, 0},
    {IM "ListImages", cri_list_images, 0},
    {IM "StreamImages", cri_stream_images, STREAM},
    {IM "ImageStatus", cri_image_status, 0},
    {IM "PullImage", cri_pull_image, 0},
    {IM "RemoveImage", cri_remove_image, 0},
    {IM "ImageFsInfo", cri_image_fs_info, 0},
};

const rpc_method *cri_methods(size_t *n)
{
    *n = sizeof(methods) / sizeof(methods[0]);
    return methods;
}
