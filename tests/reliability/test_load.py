"""Load: pods with 2 containers each, created by concurrent clients; then, for
a fixed time, an ExecSync probe every second on each container (as many as
the probe clients can issue: the achieved rate is reported) and kubelet-like
polling (ListPodSandbox + ListContainers every second, ContainerStatus and
PodSandboxStatus of a rotating tenth of the objects every second). Checks: no
RPC error, no deadlock (every call returns within its deadline; the daemon
answers at the end), RSS and fd count flat after warm-up; reports p50/p99
latency per RPC and the RSS/fd series. Everything is removed at the end and
the leak checker must find nothing.

The probe rate is also given as a share of this machine's own ceiling: how
many times a second it can start the probe command (the same static busybox)
on the host with nothing else running, measured first (about 480/s on the
2-vCPU test host, whose vCPUs halve each other's speed when both run: the
400 probes/s that 200 pods of 2 containers want leave the runtime, the RPC
clients and the polling a sixth of the machine).

CRIC_REL_LOAD_PODS (10 quick, 200 full), CRIC_REL_LOAD_CLIENTS (16),
CRIC_REL_LOAD_SECONDS (30 quick, 600 full), CRIC_REL_PROBE_CLIENTS (16)."""
import collections
import concurrent.futures
import heapq
import os
import subprocess
import sys
import threading
import time

import grpc

import leaks
from relutil import (BUILD, cpu_split, cpu_split_per, daemon_fds, daemon_rss_kb, env_int,
                     figures, install_net, percentile)
from workload import Client, ctr_config, pod_config

LOOP = ["sh", "-c", "trap 'exit 0' TERM; sleep 2147483647 & wait"]
PROBE = ["sh", "-c", "echo ok"]

SPAWN_LOOP = """
import os, sys, time
end = time.monotonic() + float(sys.argv[1])
null = os.open("/dev/null", os.O_WRONLY)
n = 0
while time.monotonic() < end:
    pid = os.posix_spawn("/bin/busybox", sys.argv[2:], {},
                         file_actions=[(os.POSIX_SPAWN_DUP2, null, 1)])
    os.waitpid(pid, 0)
    n += 1
print(n)
"""


def spawn_ceiling(seconds=5.0):
    """How many times a second this machine can start and reap the probe
    command with nothing else running: the image's static busybox straight
    from the host, no runtime, no container, no RPC, from one spawning
    process per CPU. No runtime's probe rate can exceed it here."""
    procs = [subprocess.Popen([sys.executable, "-c", SPAWN_LOOP, str(seconds)] + PROBE,
                              stdout=subprocess.PIPE) for _ in range(os.cpu_count() or 1)]
    return sum(int(p.communicate()[0]) for p in procs) / seconds


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.lat = collections.defaultdict(list)
        self.errors = []
        # A probe command that did not finish within its own timeout is the
        # right answer from the runtime when the machine cannot run it in
        # time (the kubelet counts a failed probe), not a runtime error.
        self.command_timeouts = 0

    def call(self, name, fn):
        t0 = time.monotonic()
        try:
            r = fn()
        except grpc.RpcError as e:
            with self.lock:
                if name == "ExecSync" and e.code() == grpc.StatusCode.DEADLINE_EXCEEDED and \
                        "timed out after" in (e.details() or ""):
                    self.command_timeouts += 1
                else:
                    self.errors.append("%s: %s %s" % (name, e.code(), e.details()))
            return None
        dt = time.monotonic() - t0
        with self.lock:
            self.lat[name].append(dt)
        return True if r is None else r

    def summary(self):
        return {k: {"n": len(v), "p50_ms": round(percentile(v, 50) * 1000, 1),
                    "p99_ms": round(percentile(v, 99) * 1000, 1),
                    "max_ms": round(max(v) * 1000, 1)} for k, v in sorted(self.lat.items())}


def test_load(registry, make_daemon, pb, rel_net, cg_prefix):
    n_pods = env_int("CRIC_REL_LOAD_PODS", 10)
    n_clients = env_int("CRIC_REL_LOAD_CLIENTS", 16)
    seconds = env_int("CRIC_REL_LOAD_SECONDS", 30)
    n_probers = env_int("CRIC_REL_PROBE_CLIENTS", 16)
    ceiling = spawn_ceiling()
    d = make_daemon(config={"grpc": {"workers": 64}})
    install_net(d, rel_net)
    c = Client(d, pb)
    image = registry.ref("busybox:latest")
    c.pull(image)
    logdir = os.path.join(d.base, "logs")
    baseline = leaks.snapshot(d, bridge=rel_net["bridge"], ipam_dir=rel_net["ipam"],
                              cgroup_prefix=cg_prefix)
    stats = Stats()
    create_stats = Stats()
    pods, ctrs = [], []
    lock = threading.Lock()
    rss_start, fds_start = daemon_rss_kb(d), daemon_fds(d)

    # ---- create: n_clients concurrent clients ---------------------------------
    def make(i):
        cl = Client(d, pb)
        pcfg = pod_config(pb, "load-%d" % i, logdir, cgroup_parent="/%s-%d" % (cg_prefix, i))
        sid = create_stats.call("RunPodSandbox", lambda: cl.run_pod(pcfg))
        if not sid:
            return
        with lock:
            pods.append(sid)
        for k in range(2):
            cfg = ctr_config(pb, "c%d" % k, image, LOOP)
            cid = create_stats.call("CreateContainer", lambda: cl.create(sid, cfg, pcfg))
            if cid and create_stats.call("StartContainer", lambda: cl.start(cid)):
                with lock:
                    ctrs.append(cid)
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(n_clients) as ex:
        list(ex.map(make, range(n_pods)))
    create_s = time.monotonic() - t0
    assert not create_stats.errors, "\n".join(create_stats.errors[:20])
    assert len(ctrs) == 2 * n_pods

    time.sleep(2)
    fds_idle_before, rss_idle_before = daemon_fds(d), daemon_rss_kb(d)

    # ---- probe + poll for `seconds` --------------------------------------------
    stop = threading.Event()
    t_start = time.monotonic()
    due = [(t_start + (i % 1000) / 1000.0, cid) for i, cid in enumerate(ctrs)]
    heapq.heapify(due)
    due_lock = threading.Lock()
    lag = []
    samples = []

    def prober():
        cl = Client(d, pb)
        while not stop.is_set():
            with due_lock:
                at, cid = heapq.heappop(due)
                heapq.heappush(due, (at + 1.0, cid))
            now = time.monotonic()
            if at > now:
                if stop.wait(at - now):
                    return
            else:
                lag.append(now - at)
            r = stats.call("ExecSync", lambda: cl.exec(cid, PROBE, timeout=10))
            if r is not None and (r.exit_code != 0 or r.stdout != b"ok\n"):
                with stats.lock:
                    stats.errors.append("ExecSync %s: exit %d %r" % (cid[:12], r.exit_code,
                                                                      r.stdout))

    def pleg():
        cl = Client(d, pb)
        i = 0
        while not stop.wait(max(0.0, 1.0 - 0)):
            stats.call("ListPodSandbox", cl.pods)
            got = stats.call("ListContainers", cl.containers)
            if got is not None and len(got) != len(ctrs):
                stats.errors.append("ListContainers: %d containers, want %d" % (len(got),
                                                                                len(ctrs)))
            tenth = max(1, len(ctrs) // 10)
            for cid in ctrs[(i * tenth) % len(ctrs):][:tenth]:
                st = stats.call("ContainerStatus", lambda: cl.status(cid))
                if st is not None and st.state != pb.CONTAINER_RUNNING:
                    stats.errors.append("container %s: state %d" % (cid[:12], st.state))
            for sid in pods[(i * max(1, len(pods) // 10)) % len(pods):][:max(1, len(pods) // 10)]:
                stats.call("PodSandboxStatus", lambda: cl.rt.PodSandboxStatus(
                    pb.PodSandboxStatusRequest(pod_sandbox_id=sid), timeout=30))
            i += 1

    def sampler():
        while not stop.wait(5):
            samples.append((round(time.monotonic() - t_start), daemon_rss_kb(d), daemon_fds(d)))

    cpu_before = cpu_split(d)
    threads = [threading.Thread(target=prober) for _ in range(n_probers)]
    threads += [threading.Thread(target=pleg), threading.Thread(target=sampler)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(120)
    hung = [t for t in threads if t.is_alive()]
    elapsed = time.monotonic() - t_start
    cpu_after = cpu_split(d)
    alive = c.wait_serving(10) is not None
    time.sleep(2)
    fds_idle_after, rss_idle_after = daemon_fds(d), daemon_rss_kb(d)

    # ---- flatness after warm-up (the first fifth) ------------------------------
    after = [s for s in samples if s[0] >= seconds / 5] or samples
    q = max(1, len(after) // 4)
    rss_first = sum(s[1] for s in after[:q]) / q
    rss_last = sum(s[1] for s in after[-q:]) / q
    fd_first = sum(s[2] for s in after[:q]) / q
    fd_last = sum(s[2] for s in after[-q:]) / q
    n_exec = len(stats.lat["ExecSync"])

    # ---- remove everything -----------------------------------------------------
    def drop(sid):
        cl = Client(d, pb)
        cl.stop_pod(sid)
        cl.remove_pod(sid)
    with concurrent.futures.ThreadPoolExecutor(n_clients) as ex:
        list(ex.map(drop, pods))
    lk = leaks.leaks(leaks.snapshot(d, bridge=rel_net["bridge"], ipam_dir=rel_net["ipam"],
                                    cgroup_prefix=cg_prefix), baseline)
    figures("load", pods=n_pods, containers=len(ctrs), create_clients=n_clients,
            probe_clients=n_probers, seconds=round(elapsed), create_seconds=round(create_s, 1),
            exec_per_s=round(n_exec / elapsed, 1), exec_wanted_per_s=len(ctrs),
            host_spawn_ceiling_per_s=round(ceiling, 1),
            exec_share_of_ceiling=round(n_exec / elapsed / ceiling, 3),
            cpu_ms_per_probe=cpu_split_per(cpu_before, cpu_after, n_exec),
            probe_lag_p50_s=round(percentile(lag, 50), 2),
            probe_lag_p99_s=round(percentile(lag, 99), 2), errors=len(stats.errors),
            probe_command_timeouts=stats.command_timeouts,
            rpc=stats.summary(), create_rpc=create_stats.summary(),
            rss_kb_start=rss_start, fds_start=fds_start,
            rss_kb_warm=round(rss_first), rss_kb_end=round(rss_last),
            fds_warm=round(fd_first, 1), fds_end=round(fd_last, 1),
            fds_idle_before=fds_idle_before, fds_idle_after=fds_idle_after,
            rss_kb_idle_before=rss_idle_before, rss_kb_idle_after=rss_idle_after,
            rss_fd_series=samples[:: max(1, len(samples) // 24)], leaks_found=leaks.count(lk))
    assert not hung, "%d client threads hung (deadlock?)" % len(hung)
    assert alive
    assert not stats.errors, "\n".join(stats.errors[:20])
    assert stats.command_timeouts <= max(1, n_exec // 100), \
        "%d of %d probe commands timed out" % (stats.command_timeouts, n_exec)
    assert not lk, "leaked: %r" % lk
    # fds: the in-flight calls hold a few each, so compare the idle daemon
    # before and after the load
    assert fds_idle_after <= fds_idle_before + 2, "idle fds grew from %d to %d" % (
        fds_idle_before, fds_idle_after)
    if "asan" not in os.path.basename(BUILD.rstrip("/")):
        assert rss_last <= rss_first * 1.10, "RSS grew from %d to %d kB" % (rss_first, rss_last)
