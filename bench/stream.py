#!/usr/bin/python3
"""Streaming benchmarks against any CRI endpoint, through the runtime's own
streaming server with the test suite's SPDY/3.1 client (what kubectl speaks):

  * port-forward throughput: a host-network pod sandbox, a TCP server of this
    process on 127.0.0.1, PortForward to it, SIZE MB each way;
  * exec round trip (--image): a container running `sleep`, then COUNT times
    Exec(echo hi) -> URL -> SPDY upgrade -> output and exit status.

  bench/stream.py ENDPOINT [--size MB] [--count N] [--image REF] [--label NAME]

ENDPOINT is unix:///path/to/socket. Prints one JSON object; a part the
runtime cannot do is reported as an error string instead of numbers."""
import argparse
import hashlib
import json
import os
import socket
import sys
import threading
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "bench"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from sandbox import pct, stubs  # noqa: E402
from spdy_client import SpdyClient, exec_streams  # noqa: E402

MB = 1 << 20
BLOCK = bytes(range(256)) * 4096


def tcp_server():
    """127.0.0.1:port; per connection: "UP n" -> read n bytes, reply "ok";
    "DOWN n" -> send n bytes."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)

    def handle(c):
        f = c.makefile("rb")
        words = f.readline().split()
        n = int(words[1])
        if words[0] == b"UP":
            while n:
                d = f.read1(min(n, MB))
                if not d:
                    break
                n -= len(d)
            c.sendall(b"ok\n")
        else:
            while n:
                part = BLOCK[:min(n, len(BLOCK))]
                c.sendall(part)
                n -= len(part)
        c.close()

    def loop():
        while True:
            c, _ = ls.accept()
            threading.Thread(target=handle, args=(c,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
    return ls.getsockname()[1]


def pf_pair(c, port, rid):
    err = c.open({"streamtype": "error", "port": str(port), "requestid": str(rid)})
    c.close_stream(err)
    data = c.open({"streamtype": "data", "port": str(port), "requestid": str(rid)})
    return err, data


def portforward(rt, pb, size):
    cfg = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name="bench-pf-" + uuid.uuid4().hex[:6], namespace="bench",
                                       uid=uuid.uuid4().hex),
        log_directory="/tmp",
        linux=pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(
            namespace_options=pb.NamespaceOption(network=pb.NODE, pid=pb.CONTAINER))))
    sid = rt.RunPodSandbox(pb.RunPodSandboxRequest(config=cfg), timeout=300).pod_sandbox_id
    try:
        port = tcp_server()
        url = rt.PortForward(pb.PortForwardRequest(pod_sandbox_id=sid, port=[port])).url
        # like kubectl (spdystream): no WINDOW_UPDATEs
        c = SpdyClient.connect(url, ["portforward.k8s.io"], window_updates=False)
        _, d = pf_pair(c, port, 0)
        c.send(d, b"UP %d\n" % (size * MB))
        t0 = time.perf_counter()
        for _ in range(size):
            c.send(d, BLOCK)
        assert c.wait_bytes(d, 3, 600), "no reply to the upload"
        up = size / (time.perf_counter() - t0)
        c.close_stream(d)
        _, d2 = pf_pair(c, port, 1)
        t0 = time.perf_counter()
        c.send(d2, b"DOWN %d\n" % (size * MB))  # no FIN: containerd ends both ways on it
        h = hashlib.sha256()
        got = 0
        deadline = time.monotonic() + 600
        while got < size * MB and time.monotonic() < deadline:
            c.wait(lambda: len(c.streams[d2].buf) > 0 or c.streams[d2].fin, 5)
            chunk = c.take(d2)
            got += len(chunk)
            h.update(chunk)
            if not chunk and c.streams[d2].fin:
                break
        down = size / (time.perf_counter() - t0)
        assert got == size * MB, "download got %d bytes" % got
        c.close()
        return {"pf_up_MBps": round(up, 1), "pf_down_MBps": round(down, 1), "pf_size_MB": size}
    finally:
        rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=sid), timeout=300)
        rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=sid), timeout=300)


def exec_rtt(rt, im, pb, image, count):
    im.PullImage(pb.PullImageRequest(image=pb.ImageSpec(image=image)), timeout=600)
    name = "bench-ex-" + uuid.uuid4().hex[:6]
    pcfg = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=name, namespace="bench", uid=uuid.uuid4().hex),
        log_directory="/tmp",
        linux=pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(
            namespace_options=pb.NamespaceOption(network=pb.NODE, pid=pb.CONTAINER))))
    sid = rt.RunPodSandbox(pb.RunPodSandboxRequest(config=pcfg), timeout=300).pod_sandbox_id
    try:
        ccfg = pb.ContainerConfig(metadata=pb.ContainerMetadata(name="sleeper"),
                                  image=pb.ImageSpec(image=image), command=["sleep", "3600"],
                                  log_path="sleeper.log")
        cid = rt.CreateContainer(pb.CreateContainerRequest(pod_sandbox_id=sid, config=ccfg,
                                                           sandbox_config=pcfg),
                                 timeout=300).container_id
        rt.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=300)
        times = []
        for i in range(count + 3):
            t0 = time.perf_counter()
            url = rt.Exec(pb.ExecRequest(container_id=cid, cmd=["echo", "hi"], stdout=True)).url
            c = SpdyClient.connect(url, ["v4.channel.k8s.io"])
            ids = exec_streams(c, stderr=False)
            assert c.wait_fin(list(ids.values()), 30)
            assert c.data(ids["stdout"]) == b"hi\n", c.data(ids["stdout"])
            assert c.data(ids["error"]) == b'{"metadata":{},"status":"Success"}', \
                c.data(ids["error"])
            c.close()
            if i >= 3:
                times.append((time.perf_counter() - t0) * 1000)
        return {"exec_rtt_p50_ms": round(pct(times, 50), 1),
                "exec_rtt_p99_ms": round(pct(times, 99), 1), "exec_count": count}
    finally:
        rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=sid), timeout=300)
        rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=sid), timeout=300)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint")
    ap.add_argument("--size", type=int, default=256, help="MB each way")
    ap.add_argument("--count", type=int, default=30)
    ap.add_argument("--image", default="")
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    stubs()
    import grpc
    import cri_pb2 as pb
    import cri_pb2_grpc as pbg
    ch = grpc.insecure_channel(a.endpoint)
    rt, im = pbg.RuntimeServiceStub(ch), pbg.ImageServiceStub(ch)
    out = {"runtime": a.label or a.endpoint}
    try:
        out.update(portforward(rt, pb, a.size))
    except Exception as e:  # report, do not hide: the other half may still run
        out["portforward_error"] = str(e)[:300]
    if a.image:
        try:
            out.update(exec_rtt(rt, im, pb, a.image, a.count))
        except Exception as e:
            out["exec_error"] = str(e)[:300]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
