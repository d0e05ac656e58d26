"""Churn: short-lived pods from concurrent clients. Each pod: RunPodSandbox
(own network namespace on the harness bridge), CreateContainer + Start of a
container that exits within a second, wait for the exit, StopPodSandbox,
RemovePodSandbox. Afterwards: no leaked shim, mount, network namespace, veth,
cgroup, IP lease, database row or stray file, and the daemon's RSS back to its
level after warm-up (within 10%; checked on the release build, reported on
the ASan build, whose allocator quarantine keeps freed memory by design).

CRIC_REL_CHURN_PODS (50 quick, 2000 full), CRIC_REL_CHURN_CLIENTS (8)."""
import concurrent.futures
import os
import threading
import time

import leaks
from relutil import (BUILD, daemon_fds, daemon_rss_detail, daemon_rss_kb, env_int, figures, install_net,
                      percentile)
from workload import Client, ctr_config, pod_config


def one_pod(c, pb, image, logdir, name, cg):
    pcfg = pod_config(pb, name, logdir, cgroup_parent=cg, net=True)
    t0 = time.monotonic()
    sid = c.run_pod(pcfg)
    cid = c.create(sid, ctr_config(pb, "job", image, ["sh", "-c", "sleep 0.2; exit 0"]), pcfg)
    c.start(cid)
    st = c.wait_exited(cid, 30)
    assert st.state == pb.CONTAINER_EXITED and st.exit_code == 0, st
    c.stop_pod(sid)
    c.remove_pod(sid)
    return time.monotonic() - t0


IDLE_SETTLE_S = 7


def test_churn(registry, make_daemon, pb, rel_net, cg_prefix):
    total = env_int("CRIC_REL_CHURN_PODS", 50)
    clients = env_int("CRIC_REL_CHURN_CLIENTS", 8)
    # Warm-up: until every one of the daemon's 64 RPC worker threads has run
    # (libuv's pool wakes them in turn, each touches ~60 kB of its stack) and
    # malloc's per-thread arenas have grown; after that RSS must stay flat.
    warm = max(clients * 2, min(200, total // 4))
    d = make_daemon()
    install_net(d, rel_net)
    c = Client(d, pb)
    image = registry.ref("busybox:latest")
    c.pull(image)
    logdir = os.path.join(d.base, "logs")
    baseline = leaks.snapshot(d, bridge=rel_net["bridge"], ipam_dir=rel_net["ipam"],
                              cgroup_prefix=cg_prefix)
    lock = threading.Lock()
    seq = [0]
    durations, errors, samples = [], [], []

    def worker(limit):
        cl = Client(d, pb)  # one channel per client, like separate kubelets' connections
        while True:
            with lock:
                if seq[0] >= limit:
                    return
                seq[0] += 1
                n = seq[0]
            try:
                durations.append(one_pod(cl, pb, image, logdir, "churn-%d" % n,
                                         "/%s-%d" % (cg_prefix, n)))
            except Exception as e:  # noqa: BLE001
                errors.append("pod %d: %r" % (n, e))

    def run(limit):
        with concurrent.futures.ThreadPoolExecutor(clients) as ex:
            for f in [ex.submit(worker, limit) for _ in range(clients)]:
                f.result()

    rss_start = daemon_rss_kb(d)
    t0 = time.monotonic()
    run(warm)  # warm-up: thread stacks, caches, sqlite pages
    # Levels are read once the daemon has been idle long enough to give freed
    # heap back (src/daemon/main.c: two trim periods of 3 s).
    time.sleep(IDLE_SETTLE_S)
    rss0, fds0, detail0 = daemon_rss_kb(d), daemon_fds(d), daemon_rss_detail(d)
    stop = threading.Event()

    def sampler():
        while not stop.wait(2):
            samples.append((round(time.monotonic() - t0, 1), daemon_rss_kb(d), daemon_fds(d)))
    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    run(total)
    stop.set()
    th.join()
    seconds = time.monotonic() - t0 - IDLE_SETTLE_S  # the pause after warm-up
    time.sleep(IDLE_SETTLE_S)
    rss1, fds1, detail1 = daemon_rss_kb(d), daemon_fds(d), daemon_rss_detail(d)
    snap = leaks.snapshot(d, bridge=rel_net["bridge"], ipam_dir=rel_net["ipam"],
                          cgroup_prefix=cg_prefix)
    lk = leaks.leaks(snap, baseline)
    asan = "asan" in os.path.basename(BUILD.rstrip("/"))
    figures("churn", pods=total, clients=clients, warmup_pods=warm, errors=len(errors),
            seconds=round(seconds, 1), pods_per_s=round(total / seconds, 2),
            pod_p50_ms=round(percentile(durations, 50) * 1000),
            pod_p99_ms=round(percentile(durations, 99) * 1000),
            rss_kb_start=rss_start, rss_kb_after_warmup=rss0, rss_kb_end=rss1, rss_peak_kb=max([s[1] for s in samples]
                                                                       or [rss1]),
            rss_detail_after_warmup=detail0, rss_detail_end=detail1, fds_after_warmup=fds0, fds_end=fds1, leaks_found=leaks.count(lk),
            leaks=lk, rss_fd_samples=samples[:: max(1, len(samples) // 20)])
    assert not errors, "\n".join(errors[:20])
    assert not lk, "leaked: %r" % lk
    assert fds1 <= fds0 + 2, "fd count grew from %d to %d" % (fds0, fds1)
    if not asan:
        assert rss1 <= rss0 * 1.10, "RSS grew from %d kB to %d kB" % (rss0, rss1)
