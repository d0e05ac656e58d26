#!/usr/bin/python3
"""ListContainerStats latency (p50/p99) with N running containers, and event
latency (container exit -> CONTAINER_STOPPED_EVENT on GetContainerEvents),
against any CRI endpoint.

  bench/stats.py ENDPOINT --image REF [--containers N] [--calls M] [--exits K]
                 [--label NAME]

One pod (host network) holds N containers running `sleep`; ListContainerStats
is called M times after two warm-up calls (so rates are computed). For the
event latency, K containers run `sleep 0.3` and exit by themselves; latency is
the event's arrival (wall clock) minus the container's finished_at as the
runtime records it (and, separately, the event's own created_at minus
finished_at: the runtime's share without the client's wake-up). Everything created is removed. Prints one JSON object."""
import argparse
import atexit
import json
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def stubs():
    out = tempfile.mkdtemp(prefix="cric-bench-stubs-")
    atexit.register(shutil.rmtree, out, True)
    from grpc_tools import protoc
    import grpc_tools
    include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    if protoc.main(["protoc", "-I%s/api" % REPO, "-I" + include, "--python_out=" + out,
                    "--grpc_python_out=" + out, "%s/api/cri.proto" % REPO]) != 0:
        sys.exit("protoc failed")
    sys.path.insert(0, out)


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint")
    ap.add_argument("--image", required=True)
    ap.add_argument("--containers", type=int, default=100)
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--exits", type=int, default=20)
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    stubs()
    import grpc
    import cri_pb2 as pb
    import cri_pb2_grpc as pbg
    ch = grpc.insecure_channel(a.endpoint)
    rt = pbg.RuntimeServiceStub(ch)
    im = pbg.ImageServiceStub(ch)
    im.PullImage(pb.PullImageRequest(image=pb.ImageSpec(image=a.image)), timeout=300)
    name = "bench-stats-%s" % uuid.uuid4().hex[:6]
    ns = pb.NamespaceOption(network=pb.NODE, pid=pb.CONTAINER)
    pcfg = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=name, namespace="bench", uid=uuid.uuid4().hex),
        log_directory=tempfile.mkdtemp(prefix="cric-bench-logs-"),
        linux=pb.LinuxPodSandboxConfig(
            cgroup_parent="/bench-%s" % name,
            security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns)))
    sid = rt.RunPodSandbox(pb.RunPodSandboxRequest(config=pcfg), timeout=120).pod_sandbox_id

    def container(cname, args):
        cfg = pb.ContainerConfig(metadata=pb.ContainerMetadata(name=cname),
                                 image=pb.ImageSpec(image=a.image), command=["/bin/sh", "-c"],
                                 args=[args], log_path=cname + ".log")
        cid = rt.CreateContainer(pb.CreateContainerRequest(
            pod_sandbox_id=sid, config=cfg, sandbox_config=pcfg), timeout=120).container_id
        rt.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=120)
        return cid

    result = {"label": a.label, "containers": a.containers}
    try:
        t0 = time.monotonic()
        for i in range(a.containers):
            container("s%d" % i, "exec sleep 3600")
        result["start_all_s"] = round(time.monotonic() - t0, 2)
        for _ in range(2):
            rt.ListContainerStats(pb.ListContainerStatsRequest())
        lat = []
        for _ in range(a.calls):
            t = time.perf_counter()
            r = rt.ListContainerStats(pb.ListContainerStatsRequest())
            lat.append((time.perf_counter() - t) * 1000)
        result["list_stats_n"] = len(r.stats)
        result["list_stats_p50_ms"] = round(pct(lat, 50), 2)
        result["list_stats_p99_ms"] = round(pct(lat, 99), 2)

        events = queue.Queue()
        stream = rt.GetContainerEvents(pb.GetEventsRequest())

        def pump():
            try:
                for ev in stream:
                    events.put((time.time_ns(), ev))
            except grpc.RpcError as e:
                events.put((time.time_ns(), e))
        threading.Thread(target=pump, daemon=True).start()
        time.sleep(0.5)
        ev_lat, ev_pub = [], []
        for i in range(a.exits):
            cid = container("x%d" % i, "sleep 0.3")
            while True:
                now, ev = events.get(timeout=30)
                if isinstance(ev, grpc.RpcError):
                    result["events_error"] = "%s: %s" % (ev.code().name, ev.details())
                    break
                if ev.container_id == cid and ev.container_event_type == pb.CONTAINER_STOPPED_EVENT:
                    break
            if "events_error" in result:
                break
            st = rt.ContainerStatus(pb.ContainerStatusRequest(container_id=cid)).status
            ev_lat.append((now - st.finished_at) / 1e6)
            ev_pub.append((ev.created_at - st.finished_at) / 1e6)
        stream.cancel()
        if ev_lat:
            result["exit_event_p50_ms"] = round(pct(ev_lat, 50), 2)
            result["exit_event_p99_ms"] = round(pct(ev_lat, 99), 2)
            # the runtime's side alone: the event's created_at (when it was published)
            result["exit_event_published_p50_ms"] = round(pct(ev_pub, 50), 2)
    finally:
        rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=sid), timeout=300)
        rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=sid), timeout=300)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
