#!/usr/bin/python3
"""RunPodSandbox and StopPodSandbox+RemovePodSandbox latency (p50/p99) against
any CRI endpoint. Sandboxes are created one after another (after a warm-up),
each stopped and removed before the next one.

  bench/sandbox.py ENDPOINT [--count N] [--host-network] [--label NAME]

ENDPOINT is unix:///path/to/socket. Prints one JSON object."""
import argparse
import atexit
import json
import os
import shutil
import sys
import tempfile
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
    ap.add_argument("--count", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--host-network", action="store_true")
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    stubs()
    import grpc
    import cri_pb2 as pb
    import cri_pb2_grpc as pbg
    rt = pbg.RuntimeServiceStub(grpc.insecure_channel(a.endpoint))
    run_ms, stop_ms = [], []
    for i in range(a.warmup + a.count):
        name = "bench-%s" % uuid.uuid4().hex[:8]
        ns = pb.NamespaceOption(network=pb.NODE if a.host_network else pb.POD, pid=pb.CONTAINER)
        cfg = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, namespace="bench", uid=uuid.uuid4().hex),
            hostname="" if a.host_network else name, log_directory="/tmp",
            linux=pb.LinuxPodSandboxConfig(
                security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns)))
        t0 = time.perf_counter()
        sid = rt.RunPodSandbox(pb.RunPodSandboxRequest(config=cfg), timeout=300).pod_sandbox_id
        t1 = time.perf_counter()
        rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=sid), timeout=300)
        rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=sid), timeout=300)
        t2 = time.perf_counter()
        if i >= a.warmup:
            run_ms.append((t1 - t0) * 1000)
            stop_ms.append((t2 - t1) * 1000)
    print(json.dumps({
        "runtime": a.label or a.endpoint, "network": "host" if a.host_network else "cni",
        "count": a.count,
        "run_p50_ms": round(pct(run_ms, 50), 1), "run_p99_ms": round(pct(run_ms, 99), 1),
        "stop_remove_p50_ms": round(pct(stop_ms, 50), 1),
        "stop_remove_p99_ms": round(pct(stop_ms, 99), 1)}))


if __name__ == "__main__":
    main()
