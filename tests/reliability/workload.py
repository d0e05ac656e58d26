"""Pod and container configs and small RPC helpers shared by the reliability
tests."""
import os
import time
import uuid

import grpc

LONG_TIMEOUT = 120


def pod_config(pb, name, logdir, cgroup_parent="", net=True, pid_pod=False, uid=None):
    ns = pb.NamespaceOption(network=pb.POD if net else pb.NODE, ipc=pb.POD,
                            pid=pb.POD if pid_pod else pb.CONTAINER)
    return pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=name, namespace="cric-rel",
                                       uid=uid or uuid.uuid4().hex, attempt=0),
        hostname=name[:63], log_directory=os.path.join(logdir, name),
        linux=pb.LinuxPodSandboxConfig(
            cgroup_parent=cgroup_parent,
            security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns)))


def ctr_config(pb, name, image, cmd, labels=None):
    return pb.ContainerConfig(metadata=pb.ContainerMetadata(name=name, attempt=0),
                              image=pb.ImageSpec(image=image), command=cmd,
                              log_path="%s/0.log" % name, labels=labels or {})


class Client:
    """Thin wrapper over one daemon's stubs with kubelet-like timeouts."""

    def __init__(self, d, pb):
        self.d, self.pb = d, pb
        self.rt = d.runtime()
        self.img = d.image()

    def wait_serving(self, timeout=60):
        """Like the kubelet after a runtime restart: retry until it answers (a
        child the killed daemon forked may hold its socket for a moment)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.rt.Version(self.pb.VersionRequest(), timeout=5)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def run_pod(self, cfg, handler=""):
        return self.rt.RunPodSandbox(self.pb.RunPodSandboxRequest(config=cfg,
                                                                  runtime_handler=handler),
                                     timeout=LONG_TIMEOUT).pod_sandbox_id

    def stop_pod(self, sid):
        self.rt.StopPodSandbox(self.pb.StopPodSandboxRequest(pod_sandbox_id=sid),
                               timeout=LONG_TIMEOUT)

    def remove_pod(self, sid):
        self.rt.RemovePodSandbox(self.pb.RemovePodSandboxRequest(pod_sandbox_id=sid),
                                 timeout=LONG_TIMEOUT)

    def create(self, sid, cfg, pod_cfg):
        return self.rt.CreateContainer(self.pb.CreateContainerRequest(
            pod_sandbox_id=sid, config=cfg, sandbox_config=pod_cfg),
            timeout=LONG_TIMEOUT).container_id

    def start(self, cid):
        self.rt.StartContainer(self.pb.StartContainerRequest(container_id=cid),
                               timeout=LONG_TIMEOUT)

    def stop(self, cid, t=0):
        self.rt.StopContainer(self.pb.StopContainerRequest(container_id=cid, timeout=t),
                              timeout=LONG_TIMEOUT)

    def remove(self, cid):
        self.rt.RemoveContainer(self.pb.RemoveContainerRequest(container_id=cid),
                                timeout=LONG_TIMEOUT)

    def status(self, cid, verbose=False):
        return self.rt.ContainerStatus(self.pb.ContainerStatusRequest(container_id=cid,
                                                                      verbose=verbose),
                                       timeout=30).status

    def exec(self, cid, cmd, timeout=10):
        return self.rt.ExecSync(self.pb.ExecSyncRequest(container_id=cid, cmd=cmd,
                                                        timeout=timeout), timeout=timeout + 30)

    def pods(self):
        return list(self.rt.ListPodSandbox(self.pb.ListPodSandboxRequest(), timeout=30).items)

    def containers(self):
        return list(self.rt.ListContainers(self.pb.ListContainersRequest(),
                                           timeout=30).containers)

    def pull(self, ref):
        return self.img.PullImage(self.pb.PullImageRequest(image=self.pb.ImageSpec(image=ref)),
                                  timeout=LONG_TIMEOUT).image_ref

    def remove_image(self, ref):
        self.img.RemoveImage(self.pb.RemoveImageRequest(image=self.pb.ImageSpec(image=ref)),
                             timeout=LONG_TIMEOUT)

    def images(self):
        return list(self.img.ListImages(self.pb.ListImagesRequest(), timeout=30).images)

    def wait_exited(self, cid, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            st = self.status(cid)
            if st.state == self.pb.CONTAINER_EXITED or time.monotonic() > deadline:
                return st
            time.sleep(0.05)

    def remove_everything(self):
        for p in self.pods():
            self.stop_pod(p.id)
            self.remove_pod(p.id)
        for c in self.containers():  # containers of pods that are gone (none expected)
            self.remove(c.id)


def is_unavailable(e):
    return isinstance(e, grpc.RpcError) and e.code() in (
        grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL, grpc.StatusCode.DEADLINE_EXCEEDED)
