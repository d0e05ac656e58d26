"""Stats and metrics against real parts: pod cgroups on this host's (hybrid)
layout, the pod's network namespace on the test bridge (traffic sent only to
the test pod's own address), UpdatePodSandboxResources on the pod cgroup."""
import json
import os
import socket
import time
import uuid

import grpc
import pytest

from test_sandbox import cni_env, netd, pod_config, run, stop_remove  # noqa: F401


def pod_stats(d, pb, sid):
    return d.runtime().PodSandboxStats(pb.PodSandboxStatsRequest(pod_sandbox_id=sid)).stats


def test_pod_stats_cgroup_network_and_filters(netd, pb):
    d = netd
    parent = "/cric-t-%s/pod1" % uuid.uuid4().hex[:6]
    sid = run(d, pb, pod_config(pb, pid=pb.POD, cgroup_parent=parent, labels={"app": "s"},
                                resources=pb.LinuxContainerResources(
                                    memory_limit_in_bytes=128 << 20)))
    try:
        s = pod_stats(d, pb, sid)
        assert s.attributes.id == sid and s.attributes.labels["app"] == "s"
        lx = s.linux
        assert lx.cpu.timestamp > 0 and lx.cpu.HasField("usage_core_nano_seconds")
        assert not lx.cpu.HasField("usage_nano_cores")  # first sample: no rate yet
        assert lx.memory.working_set_bytes.value <= lx.memory.usage_bytes.value
        assert lx.memory.available_bytes.value == (128 << 20) - lx.memory.working_set_bytes.value
        assert lx.process.process_count.value >= 1  # the infra process
        net = lx.network
        assert net.default_interface.name == "eth0"
        before = net.default_interface.rx_bytes.value

        # Traffic into the pod: 2 MB of UDP to its own address on the test bridge.
        ip = d.runtime().PodSandboxStatus(
            pb.PodSandboxStatusRequest(pod_sandbox_id=sid)).status.network.ip
        assert ip.startswith("10.231.")
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        payload = b"x" * 1000
        for _ in range(2000):
            u.sendto(payload, (ip, 9))
        u.close()
        time.sleep(0.2)
        s2 = pod_stats(d, pb, sid)
        grown = s2.linux.network.default_interface.rx_bytes.value - before
        assert grown >= 2000 * 1000, grown
        # Second sample: a rate (the pod is idle, so well under one core).
        assert s2.linux.cpu.HasField("usage_nano_cores")
        assert s2.linux.cpu.usage_nano_cores.value < 500_000_000

        rt = d.runtime()
        f = pb.PodSandboxStatsFilter
        assert [x.attributes.id for x in rt.ListPodSandboxStats(
            pb.ListPodSandboxStatsRequest(filter=f(id=sid[:12]))).stats] == [sid]
        assert [x.attributes.id for x in rt.ListPodSandboxStats(
            pb.ListPodSandboxStatsRequest(filter=f(label_selector={"app": "s"}))).stats] == [sid]
        assert list(rt.ListPodSandboxStats(
            pb.ListPodSandboxStatsRequest(filter=f(label_selector={"app": "x"}))).stats) == []
        chunks = list(rt.StreamPodSandboxStats(pb.StreamPodSandboxStatsRequest()))
        assert sid in [x.attributes.id for c in chunks for x in c.pod_sandbox_stats]

        with pytest.raises(grpc.RpcError) as e:
            pod_stats(d, pb, "f" * 64)
        assert e.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        stop_remove(d, pb, sid)


def test_metrics_descriptors_and_pod_metrics(netd, pb):
    d = netd
    rt = d.runtime()
    desc = {m.name: list(m.label_keys) for m in
            rt.ListMetricDescriptors(pb.ListMetricDescriptorsRequest()).descriptors}
    for name in ("container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
                 "container_memory_usage_bytes", "container_network_receive_bytes_total",
                 "container_network_transmit_bytes_total", "container_fs_usage_bytes"):
        assert name in desc, name
    assert desc["container_network_receive_bytes_total"][-1] == "interface"
    sid = run(d, pb, pod_config(pb, cgroup_parent="/cric-t-%s/p" % uuid.uuid4().hex[:6],
                                pid=pb.POD))
    try:
        pods = rt.ListPodSandboxMetrics(pb.ListPodSandboxMetricsRequest()).pod_metrics
        mine = [p for p in pods if p.pod_sandbox_id == sid]
        assert len(mine) == 1
        by = {}
        for m in mine[0].metrics:
            assert m.name in desc, m.name
            assert len(m.label_values) == len(desc[m.name])
            by.setdefault(m.name, []).append(m)
        rx = [m for m in by["container_network_receive_bytes_total"]
              if m.label_values[-1] == "eth0"]
        assert len(rx) == 1 and rx[0].metric_type == pb.COUNTER
        assert by["container_memory_working_set_bytes"][0].metric_type == pb.GAUGE
        streamed = [p.pod_sandbox_id for c in rt.StreamPodSandboxMetrics(
            pb.StreamPodSandboxMetricsRequest()) for p in c.pod_sandbox_metrics]
        assert sid in streamed
    finally:
        stop_remove(d, pb, sid)


def test_update_pod_sandbox_resources(netd, pb):
    d = netd
    parent = "/cric-t-%s/pod1" % uuid.uuid4().hex[:6]
    sid = run(d, pb, pod_config(pb, host_net=True, cgroup_parent=parent))
    rt = d.runtime()
    try:
        rt.UpdatePodSandboxResources(pb.UpdatePodSandboxResourcesRequest(
            pod_sandbox_id=sid, resources=pb.LinuxContainerResources(
                memory_limit_in_bytes=300 << 20, cpu_quota=20000, cpu_period=100000)))
        mem = "/sys/fs/cgroup/memory" + parent
        if os.path.isdir(mem):
            assert int(open(mem + "/memory.limit_in_bytes").read()) == 300 << 20
            assert open("/sys/fs/cgroup/cpu" + parent +
                        "/cpu.cfs_quota_us").read().strip() == "20000"
        s = pod_stats(d, pb, sid)
        assert s.linux.memory.available_bytes.value > 0
        for bad in (pb.LinuxContainerResources(memory_limit_in_bytes=-1),
                    pb.LinuxContainerResources(cpu_period=5),
                    pb.LinuxContainerResources(cpuset_cpus="0;rm"),
                    pb.LinuxContainerResources(unified={"../x": "1"})):
            with pytest.raises(grpc.RpcError) as e:
                rt.UpdatePodSandboxResources(pb.UpdatePodSandboxResourcesRequest(
                    pod_sandbox_id=sid, resources=bad))
            assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, bad
        with pytest.raises(grpc.RpcError) as e:
            rt.UpdatePodSandboxResources(pb.UpdatePodSandboxResourcesRequest(
                pod_sandbox_id="e" * 64, resources=pb.LinuxContainerResources()))
        assert e.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        stop_remove(d, pb, sid)


def test_status_verbose_lists_handlers_with_features(daemon, pb):
    import json
    resp = daemon.runtime().Status(pb.StatusRequest(verbose=True))
    handlers = json.loads(resp.info["runtimeHandlers"])
    assert [h["name"] for h in handlers] == [h.name for h in resp.runtime_handlers]
    assert handlers[0]["name"] == ""
    for h in handlers:
        assert set(h["features"]) == {"recursiveReadOnlyMounts", "userNamespaces"}
    assert any(h["path"] for h in handlers[1:])
    conds = {c.type: c for c in resp.status.conditions}
    assert conds["RuntimeReady"].status
    # No CNI config in this daemon's conf dir: a reason and a message say so.
    assert not conds["NetworkReady"].status and conds["NetworkReady"].reason
    assert conds["NetworkReady"].message


# ---------------------------------------------------------------- containers

from test_container import Env, images  # noqa: E402,F401


@pytest.fixture
def cenv(make_daemon, pb, images):  # noqa: F811
    return Env(make_daemon(), pb, images, "crun")


def cstats(e, cid):
    return e.rt.ContainerStats(e.pb.ContainerStatsRequest(container_id=cid)).stats


def test_container_cpu_memory_writable_layer_and_filters(cenv, pb):
    e = cenv
    sid = e.pod()
    burn = e.run(sid, e.config("burn", ["sh", "-c", "while :; do :; done"], labels={"k": "burn"}))
    mem = e.run(sid, e.config("mem", ["sh", "-c", "sleep 2; dd if=/dev/zero of=/dev/shm/fill "
                                      "bs=1M count=50 2>/dev/null; sleep 3600"],
                              labels={"k": "mem"}))
    disk = e.run(sid, e.config("disk", ["sh", "-c", "dd if=/dev/zero of=/blob bs=1M count=5 "
                                        "2>/dev/null; sleep 3600"]))
    try:
        time.sleep(1.0)
        m0 = cstats(e, mem).memory.working_set_bytes.value
        s0 = cstats(e, burn)
        assert s0.attributes.id == burn and s0.attributes.metadata.name == "burn"
        assert s0.attributes.labels["k"] == "burn"
        # The kernel's own account of the burning process (its pid namespace
        # is the container's: pid 1 there), read beside ours: on an idle
        # host both are about one core; on a loaded one they still agree.
        pid = json.loads(e.status(burn, verbose=True).info["info"])["pid"]
        tick = os.sysconf("SC_CLK_TCK")

        def proc_cpu():
            f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
            return (int(f[11]) + int(f[12])) / tick

        p0, t0 = proc_cpu(), time.monotonic()
        s0 = cstats(e, burn)
        time.sleep(2.0)
        s1 = cstats(e, burn)
        p1, t1 = proc_cpu(), time.monotonic()
        ours = (s1.cpu.usage_core_nano_seconds.value - s0.cpu.usage_core_nano_seconds.value) / 1e9
        kernel = p1 - p0
        assert abs(ours - kernel) <= 0.1 * kernel + 0.1, (ours, kernel)
        cores = ours / (t1 - t0)
        assert 0.2 < cores < 1.3, cores
        if os.getloadavg()[0] < 1.5:  # idle host: one full core
            assert cores > 0.8, cores
        # usage_nano_cores is the rate between the two samples
        window = (s1.cpu.timestamp - s0.cpu.timestamp) / 1e9
        rate = s1.cpu.usage_nano_cores.value / 1e9
        assert abs(rate - ours / window) <= 0.05 * rate + 0.02, (rate, ours / window)
        time.sleep(1.5)
        m1 = cstats(e, mem).memory
        grown = m1.working_set_bytes.value - m0
        assert 45 << 20 <= grown <= 70 << 20, grown
        assert m1.usage_bytes.value >= m1.working_set_bytes.value
        assert m1.page_faults.value > 0

        w = cstats(e, disk).writable_layer
        assert w.used_bytes.value >= 5 << 20 and w.inodes_used.value >= 2
        assert w.fs_id.mountpoint and w.timestamp > 0

        rt, f = e.rt, pb.ContainerStatsFilter
        ids = lambda **kw: sorted(s.attributes.id for s in rt.ListContainerStats(
            pb.ListContainerStatsRequest(filter=f(**kw))).stats)
        assert ids() == sorted([burn, mem, disk])
        assert ids(id=burn[:10]) == [burn]
        assert ids(pod_sandbox_id=sid) == sorted([burn, mem, disk])
        assert ids(pod_sandbox_id="0" * 64) == []
        assert ids(label_selector={"k": "mem"}) == [mem]
        streamed = [s.attributes.id for c in rt.StreamContainerStats(
            pb.StreamContainerStatsRequest(filter=f(pod_sandbox_id=sid))) for s in c.container_stats]
        assert sorted(streamed) == sorted([burn, mem, disk])
        ps = rt.PodSandboxStats(pb.PodSandboxStatsRequest(pod_sandbox_id=sid)).stats
        assert sorted(c.attributes.id for c in ps.linux.containers) == sorted([burn, mem, disk])

        pm = [p for p in rt.ListPodSandboxMetrics(pb.ListPodSandboxMetricsRequest()).pod_metrics
              if p.pod_sandbox_id == sid][0]
        cm = {c.container_id: {m.name: m for m in c.metrics} for c in pm.container_metrics}
        assert cm[burn]["container_cpu_usage_seconds_total"].value.value >= 1
        assert cm[burn]["container_cpu_usage_seconds_total"].label_values[:2] == [burn, "burn"]
        assert cm[mem]["container_memory_working_set_bytes"].value.value >= 45 << 20
        assert cm[disk]["container_fs_usage_bytes"].value.value >= 5 << 20

        with pytest.raises(grpc.RpcError) as err:
            cstats(e, "a" * 64)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        e.rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=sid), timeout=60)
        e.rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=sid), timeout=60)


@pytest.mark.parametrize("handler", ["crun", "runc"])
def test_memory_limit_raised_live(make_daemon, pb, images, handler):  # noqa: F811
    e = Env(make_daemon(), pb, images, handler)
    sid = e.pod()
    res = pb.LinuxContainerResources(memory_limit_in_bytes=32 << 20)
    script = ("while [ ! -f /tmp/go ]; do sleep 0.05; done; "
              "dd if=/dev/zero of=/dev/shm/big bs=1M count=48 2>/dev/null; echo filled; "
              "sleep 3600")
    cid = e.run(sid, e.config("grow", ["sh", "-c", script],
                              linux=pb.LinuxContainerConfig(resources=res)))
    try:
        rt = e.rt
        for bad in (pb.LinuxContainerResources(memory_limit_in_bytes=-5),
                    pb.LinuxContainerResources(cpu_period=3),
                    pb.LinuxContainerResources(cpuset_cpus="0-1;x"),
                    pb.LinuxContainerResources(oom_score_adj=5000)):
            with pytest.raises(grpc.RpcError) as err:
                rt.UpdateContainerResources(pb.UpdateContainerResourcesRequest(
                    container_id=cid, linux=bad))
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, bad
        with pytest.raises(grpc.RpcError) as err:
            rt.UpdateContainerResources(pb.UpdateContainerResourcesRequest(
                container_id="b" * 64, linux=res))
        assert err.value.code() == grpc.StatusCode.NOT_FOUND

        new = pb.LinuxContainerResources(memory_limit_in_bytes=128 << 20, cpu_shares=512)
        rt.UpdateContainerResources(pb.UpdateContainerResourcesRequest(container_id=cid,
                                                                       linux=new))
        st = e.status(cid).status
        assert st.resources.linux.memory_limit_in_bytes == 128 << 20
        assert st.resources.linux.cpu_shares == 512
        e.exec(cid, ["touch", "/tmp/go"])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if "filled" in open(st.log_path).read():
                break
            time.sleep(0.1)
        assert "filled" in open(st.log_path).read()
        time.sleep(0.3)
        st = e.status(cid).status
        assert st.state == pb.CONTAINER_RUNNING, (st.reason, st.exit_code)
        out = e.exec(cid, ["sh", "-c", "wc -c < /dev/shm/big"]).stdout
        assert int(out) == 48 << 20
        assert cstats(e, cid).memory.available_bytes.value < 128 << 20
        # The record survives a restart.
        e.d.stop()
        e.d.start()
        e.rt = e.d.runtime()
        st = e.status(cid).status
        assert st.resources.linux.memory_limit_in_bytes == 128 << 20
    finally:
        e.rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=sid), timeout=60)
        e.rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=sid), timeout=60)
