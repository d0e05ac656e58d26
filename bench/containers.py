#!/usr/bin/python3
"""Container latencies against any CRI endpoint (host-network pods):

  start     RunPodSandbox + CreateContainer + StartContainer, p50/p99 (each pod is
            stopped and removed before the next one)
  exec      ExecSync(["true"]) in one running container, p50/p99
  list      ListContainers p50 with --list-count created containers in one pod:
            the response received whole (list_p50_ms), and received and
            decoded into Python objects by this client (list_decoded_p50_ms);
            with --grpc-load PATH also through bench/grpc_load, a compiled
            HTTP/2 client with the windows grpc-go opens
            (list_c_client_p50_ms)

  cpu       with --cpu-match REGEX: CPU time (user+sys, including reaped
            children such as the OCI runtime) of the processes whose command
            line matches, per ExecSync, over the exec phase
  rss       with --rss-containers N (default 100): N pods of one running
            container each; the daemon's RSS (--daemon-match REGEX) and the sum
            of the monitors' RSS (--monitor-match REGEX: cric-shim per
            container, containerd-shim-runc-v2 per pod)
  probes    with --probe-containers N (default 20) and --probe-seconds S
            (default 30): exec probes as the kubelet runs them, ExecSync(true)
            in each of N of those containers once a second (spread over the
            second) for S seconds. The machine's busy CPU time (/proc/stat:
            user+nice+system+irq+softirq+steal) over the probe phase minus the
            busy rate of an idle phase of S seconds just before it (same
            containers, no probes) times the probe phase's length, per 1000
            probes; also the CPU time of the --cpu-match
            processes per 1000 probes, and the probe latencies. Other load on
            the machine lands in the /proc/stat figure: repeat it.

  bench/containers.py ENDPOINT --image REF [--count N] [--exec-count N]
                      [--list-count N] [--label NAME] [--cpu-match REGEX]
                      [--rss-containers N] [--probe-containers N] [--probe-seconds S]
                      [--daemon-match REGEX] [--monitor-match REGEX]
                      [--grpc-load PATH]

Prints one JSON object."""
import argparse
import atexit
import json
import re
import os
import shutil
import subprocess
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


def cpu_ticks(pattern):
    """utime+stime+cutime+cstime of every process whose cmdline matches."""
    total = 0
    rx = re.compile(pattern)
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open("/proc/%s/cmdline" % pid, "rb").read().replace(b"\0", b" ").decode(
                errors="replace")
            if not rx.search(cmd):
                continue
            f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in f[11:15])
        except OSError:
            continue
    return total


def busy_ticks():
    """Busy jiffies of the whole machine from /proc/stat's cpu line."""
    f = open("/proc/stat").readline().split()
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in f[1:9])
    return user + nice + system + irq + softirq + steal


def rss_kib(pattern):
    """(sum of VmRSS in KiB, number of processes) whose cmdline matches."""
    total, n = 0, 0
    rx = re.compile(pattern)
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open("/proc/%s/cmdline" % pid, "rb").read().replace(b"\0", b" ").decode(
                errors="replace")
            if not rx.search(cmd):
                continue
            for line in open("/proc/%s/status" % pid):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                    n += 1
        except OSError:
            continue
    return total, n


def c_client_list(grpc_load, sock, seconds=3):
    """ListContainers p50 (ms) through bench/grpc_load, one connection calling
    back to back: a compiled HTTP/2 client that only receives the answer, so
    the figure is the runtime's and the transport's, not a Python client's."""
    out = subprocess.run([grpc_load, sock, "/runtime.v1.RuntimeService/ListContainers", "1",
                          str(seconds)], capture_output=True, text=True, timeout=seconds + 60)
    r = json.loads(out.stdout)
    assert r["errors"] == 0 and r["calls"] > 0, out.stdout + out.stderr
    return round(r["p50_us"] / 1000.0, 3)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint")
    ap.add_argument("--image", required=True)
    ap.add_argument("--count", type=int, default=30)
    ap.add_argument("--exec-count", type=int, default=200)
    ap.add_argument("--list-count", type=int, default=500)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--label", default="")
    ap.add_argument("--grpc-load", default="",
                    help="bench/grpc_load binary: also time ListContainers with this C client")
    ap.add_argument("--cpu-match", default="")
    ap.add_argument("--rss-containers", type=int, default=100)
    ap.add_argument("--probe-containers", type=int, default=20)
    ap.add_argument("--probe-seconds", type=int, default=30)
    ap.add_argument("--daemon-match", default="")
    ap.add_argument("--monitor-match", default="")
    a = ap.parse_args()
    stubs()
    import grpc
    import cri_pb2 as pb
    import cri_pb2_grpc as pbg
    ch = grpc.insecure_channel(a.endpoint, options=[("grpc.max_receive_message_length",
                                                     64 << 20)])
    rt = pbg.RuntimeServiceStub(ch)
    im = pbg.ImageServiceStub(ch)
    im.PullImage(pb.PullImageRequest(image=pb.ImageSpec(image=a.image)), timeout=300)
    logdir = tempfile.mkdtemp(prefix="cric-bench-logs-")
    atexit.register(shutil.rmtree, logdir, True)

    def pod():
        name = "bench-%s" % uuid.uuid4().hex[:8]
        ns = pb.NamespaceOption(network=pb.NODE, pid=pb.CONTAINER)
        cfg = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, namespace="bench", uid=uuid.uuid4().hex),
            log_directory=logdir,
            linux=pb.LinuxPodSandboxConfig(
                security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns)))
        return cfg, rt.RunPodSandbox(pb.RunPodSandboxRequest(config=cfg),
                                     timeout=300).pod_sandbox_id

    def ctr(sid, pcfg, name, cmd):
        cfg = pb.ContainerConfig(metadata=pb.ContainerMetadata(name=name),
                                 image=pb.ImageSpec(image=a.image), command=cmd,
                                 log_path=name + ".log")
        return rt.CreateContainer(pb.CreateContainerRequest(pod_sandbox_id=sid, config=cfg,
                                                            sandbox_config=pcfg),
                                  timeout=300).container_id

    def drop(sid):
        rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=sid), timeout=300)
        rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=sid), timeout=300)

    start_ms = []
    for i in range(a.warmup + a.count):
        t0 = time.perf_counter()
        pcfg, sid = pod()
        cid = ctr(sid, pcfg, "c", ["sleep", "3600"])
        rt.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=300)
        t1 = time.perf_counter()
        drop(sid)
        if i >= a.warmup:
            start_ms.append((t1 - t0) * 1000)

    pcfg, sid = pod()
    cid = ctr(sid, pcfg, "exec", ["sleep", "3600"])
    rt.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=300)
    exec_ms = []
    cpu0 = 0
    for i in range(a.warmup + a.exec_count):
        if i == a.warmup and a.cpu_match:
            cpu0 = cpu_ticks(a.cpu_match)
        t0 = time.perf_counter()
        r = rt.ExecSync(pb.ExecSyncRequest(container_id=cid, cmd=["true"], timeout=10), timeout=60)
        t1 = time.perf_counter()
        assert r.exit_code == 0, r
        if i >= a.warmup:
            exec_ms.append((t1 - t0) * 1000)
    cpu_ms = 0.0
    if a.cpu_match:
        cpu_ms = (cpu_ticks(a.cpu_match) - cpu0) * 1000.0 / os.sysconf("SC_CLK_TCK") / a.exec_count
    drop(sid)

    list_ms, list_decoded_ms, list_bytes, list_c = [], [], 0, None
    if a.list_count:
        pcfg, sid = pod()
        for i in range(a.list_count):
            ctr(sid, pcfg, "l%d" % i, ["sleep", "3600"])
        # The runtime's answer as the client receives it (every byte, through
        # the same gRPC client), and separately with this client's protobuf
        # decode of it into Python objects: the decode is the client's work,
        # the same for any runtime sending the same entries, and alone is
        # several times what a fast runtime takes to answer.
        raw = ch.unary_unary("/runtime.v1.RuntimeService/ListContainers",
                             request_serializer=lambda m: m.SerializeToString(),
                             response_deserializer=lambda b: b)
        for i in range(a.warmup + 200):
            t0 = time.perf_counter()
            body = raw(pb.ListContainersRequest(), timeout=60)
            t1 = time.perf_counter()
            n = len(pb.ListContainersResponse.FromString(body).containers)
            assert n >= a.list_count, n
            list_bytes = len(body)
            if i >= a.warmup:
                list_ms.append((t1 - t0) * 1000)
        if a.grpc_load and a.endpoint.startswith("unix://"):
            list_c = c_client_list(a.grpc_load, a.endpoint[len("unix://"):])
        for i in range(a.warmup + 50):
            t0 = time.perf_counter()
            n = len(rt.ListContainers(pb.ListContainersRequest(), timeout=60).containers)
            t1 = time.perf_counter()
            assert n >= a.list_count, n
            if i >= a.warmup:
                list_decoded_ms.append((t1 - t0) * 1000)
        drop(sid)

    rss = probes = None
    if a.rss_containers or a.probe_containers:
        rss, probes = probe_phase(a, pb, rt, pod, ctr, drop)

    out = {"runtime": a.label or a.endpoint, "count": a.count,
           "start_p50_ms": round(pct(start_ms, 50), 1), "start_p99_ms": round(pct(start_ms, 99), 1),
           "exec_count": a.exec_count,
           "exec_p50_ms": round(pct(exec_ms, 50), 2), "exec_p99_ms": round(pct(exec_ms, 99), 2)}
    if a.cpu_match:
        out["exec_cpu_ms_per_call"] = round(cpu_ms, 2)
    if list_ms:
        out.update({"list_containers": a.list_count, "list_bytes": list_bytes,
                    "list_p50_ms": round(pct(list_ms, 50), 3),
                    "list_decoded_p50_ms": round(pct(list_decoded_ms, 50), 3)})
    if list_c:
        out["list_c_client_p50_ms"] = list_c
    if rss:
        out.update(rss)
    if probes:
        out.update(probes)
    print(json.dumps(out))


def probe_phase(a, pb, rt, pod, ctr, drop):
    import concurrent.futures
    import threading
    n_ctr = max(a.rss_containers, a.probe_containers)
    pods, cids = [], []
    try:
        for i in range(n_ctr):
            pcfg, sid = pod()
            pods.append(sid)
            cid = ctr(sid, pcfg, "p%d" % i, ["sleep", "3600"])
            rt.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=300)
            cids.append(cid)
        time.sleep(2)
        rss = None
        if a.rss_containers and a.daemon_match and a.monitor_match:
            d_kib, _ = rss_kib(a.daemon_match)
            m_kib, m_n = rss_kib(a.monitor_match)
            rss = {"rss_containers": n_ctr, "daemon_rss_mib": round(d_kib / 1024.0, 1),
                   "monitor_rss_mib": round(m_kib / 1024.0, 1), "monitors": m_n}
        probes = None
        if a.probe_containers and a.probe_seconds:
            targets = cids[:a.probe_containers]
            tck = os.sysconf("SC_CLK_TCK")
            b0, w0 = busy_ticks(), time.monotonic()
            time.sleep(a.probe_seconds)
            idle_busy = busy_ticks() - b0
            idle_rate = idle_busy / (time.monotonic() - w0)  # busy ticks per second
            lat, errors = [], []
            lock = threading.Lock()

            def one(cid):
                t0 = time.perf_counter()
                try:
                    r = rt.ExecSync(pb.ExecSyncRequest(container_id=cid, cmd=["true"], timeout=10),
                                    timeout=60)
                    ok = r.exit_code == 0
                except Exception as e:  # noqa: BLE001 - counted and reported
                    ok = False
                    errors.append(str(e)[:200])
                with lock:
                    if ok:
                        lat.append((time.perf_counter() - t0) * 1000)

            pool = concurrent.futures.ThreadPoolExecutor(max_workers=len(targets))
            c0 = cpu_ticks(a.cpu_match) if a.cpu_match else 0
            b0 = busy_ticks()
            start = time.monotonic()
            futs = []
            for sec in range(a.probe_seconds):
                for k, cid in enumerate(targets):
                    at = start + sec + k / float(len(targets))
                    d = at - time.monotonic()
                    if d > 0:
                        time.sleep(d)
                    futs.append(pool.submit(one, cid))
            for f in futs:
                f.result()
            d = start + a.probe_seconds - time.monotonic()
            if d > 0:
                time.sleep(d)
            probe_busy = busy_ticks() - b0
            probe_wall = time.monotonic() - start  # longer than S when probes lag
            proc_cpu = (cpu_ticks(a.cpu_match) - c0) if a.cpu_match else 0
            pool.shutdown()
            n = len(futs)
            probes = {"probes": n, "probe_errors": len(errors),
                      "probe_p50_ms": round(pct(lat, 50), 2) if lat else None,
                      "probe_p99_ms": round(pct(lat, 99), 2) if lat else None,
                      "idle_busy_cpu_s": round(idle_busy / float(tck), 2),
                      "probe_wall_s": round(probe_wall, 1),
                      "probe_busy_cpu_s": round(probe_busy / float(tck), 2),
                      "busy_cpu_s_per_1000_probes": round(
                          (probe_busy - idle_rate * probe_wall) / float(tck) * 1000.0 / n, 2)}
            if a.cpu_match:
                probes["proc_cpu_s_per_1000_probes"] = round(proc_cpu / float(tck) * 1000.0 / n,
                                                              2)
            if errors:
                probes["probe_error_sample"] = errors[0]
        return rss, probes
    finally:
        for sid in pods:
            try:
                drop(sid)
            except Exception:  # noqa: BLE001 - best effort cleanup
                pass


if __name__ == "__main__":
    main()
