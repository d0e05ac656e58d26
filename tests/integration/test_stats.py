"""Stats and metrics against real parts: pod cgroups on this host's (hybrid)
layout, the pod's network namespace on the test bridge (traffic sent only to
the test pod's own address), UpdatePodSandboxResources on the pod cgroup."""
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
