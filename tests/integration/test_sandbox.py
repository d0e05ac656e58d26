"""Pod sandboxes against real parts: Debian's CNI plugins on a test bridge
(cric-t0, 10.231.0.0/16 only), real namespaces, cgroups and mounts, checked
from inside the pinned namespaces with nsenter."""
import concurrent.futures
import json
import os
import socket
import sqlite3
import subprocess
import tempfile
import time
import uuid

import grpc
import pytest

from natchains import nat_chains, nat_rules, remove_nat_chains_since, sh

BRIDGE = "cric-t0"
SUBNET = "10.231.0.0/16"
GATEWAY = "10.231.0.1"
CNI_BIN = "/usr/lib/cni"


@pytest.fixture(scope="session")
def cni_env():
    """Test-wide IPAM dir; removes the test bridge and the iptables chains the
    portmap plugin created (only chains that did not exist before) at the end."""
    if not os.path.exists(os.path.join(CNI_BIN, "bridge")):
        pytest.skip("containernetworking-plugins not installed")
    before = nat_chains()
    ipam = tempfile.mkdtemp(prefix="cric-ipam-")
    yield {"ipam": ipam}
    sh("ip", "link", "del", BRIDGE, check=False)
    remove_nat_chains_since(before)
    subprocess.run(["rm", "-rf", ipam])


def bridge_conflist(ipam_dir, extra_plugins=()):
    return {
        "cniVersion": "1.0.0",
        "name": "cric-test",
        "plugins": [
            {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False,
             "hairpinMode": True,
             "ipam": {"type": "host-local", "dataDir": ipam_dir,
                      "routes": [{"dst": "0.0.0.0/0"}],
                      "ranges": [[{"subnet": SUBNET, "gateway": GATEWAY}]]}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
            *extra_plugins,
        ],
    }


@pytest.fixture
def netd(make_daemon, cni_env):
    """A daemon with the test bridge network installed."""
    d = make_daemon()
    with open(os.path.join(d.cni_dir, "10-cric-test.conflist"), "w") as f:
        json.dump(bridge_conflist(cni_env["ipam"]), f)
    d.ipam = cni_env["ipam"]
    return d


def set_bin_dirs(d, dirs):
    d.config["cni"]["bin_dirs"] = dirs
    with open(d.config_path, "w") as f:
        json.dump(d.config, f)


def pod_config(pb, name=None, host_net=False, host_ipc=False, pid=None, **kw):
    name = name or "p-" + uuid.uuid4().hex[:8]
    ns = pb.NamespaceOption(network=pb.NODE if host_net else pb.POD,
                            ipc=pb.NODE if host_ipc else pb.POD,
                            pid=pb.CONTAINER if pid is None else pid)
    linux = pb.LinuxPodSandboxConfig(
        security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns),
        sysctls=kw.pop("sysctls", {}), cgroup_parent=kw.pop("cgroup_parent", ""))
    if "resources" in kw:
        linux.resources.CopyFrom(kw.pop("resources"))
    return pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=name, namespace="cric-test", uid=uuid.uuid4().hex,
                                       attempt=0),
        hostname=kw.pop("hostname", name), linux=linux, **kw)


def run(d, pb, cfg, handler=""):
    return d.runtime().RunPodSandbox(pb.RunPodSandboxRequest(config=cfg, runtime_handler=handler),
                                     timeout=120).pod_sandbox_id


def status(d, pb, sid, verbose=False):
    return d.runtime().PodSandboxStatus(pb.PodSandboxStatusRequest(pod_sandbox_id=sid,
                                                                   verbose=verbose))


def info(d, pb, sid):
    return json.loads(status(d, pb, sid, verbose=True).info["info"])


def stop_remove(d, pb, sid):
    d.runtime().StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=sid), timeout=120)
    d.runtime().RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=sid), timeout=120)


def in_ns(sbdir, *cmd, kinds=("net", "uts", "ipc")):
    args = ["nsenter"] + ["--%s=%s/ns/%s" % (k, sbdir, k) for k in kinds] + list(cmd)
    return sh(*args)


def snapshot(d):
    """What a sandbox may leave behind on the host."""
    mounts = [l.split()[4] for l in open("/proc/self/mountinfo")
              if d.state in l.split()[4] and not l.split()[4].endswith("/sandboxes")]
    veths = [l for l in sh("ip", "-o", "link", "show", "master", BRIDGE, check=False).splitlines()]
    leases = sorted(f for f in os.listdir(os.path.join(d.ipam, "cric-test"))
                    if f[0].isdigit()) if os.path.isdir(os.path.join(d.ipam, "cric-test")) else []
    sbdir = os.path.join(d.state, "sandboxes")
    dirs = sorted(os.listdir(sbdir)) if os.path.isdir(sbdir) else []
    return {"mounts": mounts, "veths": veths, "leases": leases, "dirs": dirs}


def test_network_pod_inside_view_and_cleanup(netd, pb):
    d = netd
    before = snapshot(d)
    cfg = pod_config(pb, name="web-0", labels={"app": "web", "tier": "front"},
                     annotations={"a": "1"},
                     dns_config=pb.DNSConfig(servers=["10.96.0.10"],
                                             searches=["cric-test.svc.cluster.local"],
                                             options=["ndots:5"]),
                     sysctls={"net.ipv4.ip_unprivileged_port_start": "0",
                              "kernel.shmmax": "123456",
                              "net.ipv4.conf.eth0.arp_ignore": "1"},
                     log_directory="/var/log/pods/cric-test_web-0")
    sid = run(d, pb, cfg)
    assert len(sid) == 64
    st = status(d, pb, sid).status
    assert st.state == pb.SANDBOX_READY
    assert st.metadata.name == "web-0" and st.labels["app"] == "web"
    assert dict(st.annotations) == {"a": "1"}
    assert st.runtime_handler == "crun"
    ip = st.network.ip
    assert ip.startswith("10.231.")
    assert st.linux.namespaces.options.network == pb.POD
    sbdir = info(d, pb, sid)["sandboxDir"]
    assert in_ns(sbdir, "hostname").strip() == "web-0"
    addrs = in_ns(sbdir, "ip", "-o", "-4", "addr", "show")
    assert ip + "/16" in addrs and "127.0.0.1/8" in addrs
    assert "default via %s dev eth0" % GATEWAY in in_ns(sbdir, "ip", "route")
    assert in_ns(sbdir, "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start").strip() == "0"
    assert in_ns(sbdir, "cat", "/proc/sys/kernel/shmmax").strip() == "123456"
    assert in_ns(sbdir, "cat", "/proc/sys/net/ipv4/conf/eth0/arp_ignore").strip() == "1"
    # the host keeps its own values
    assert open("/proc/sys/kernel/shmmax").read().strip() != "123456"
    resolv = open(os.path.join(sbdir, "resolv.conf")).read()
    assert resolv == ("nameserver 10.96.0.10\nsearch cric-test.svc.cluster.local\n"
                      "options ndots:5\n")
    hosts = open(os.path.join(sbdir, "hosts")).read()
    assert "%s\tweb-0\n" % ip in hosts and "127.0.0.1\tlocalhost" in hosts
    assert open(os.path.join(sbdir, "hostname")).read() == "web-0\n"
    shm = [l for l in open("/proc/self/mountinfo") if l.split()[4] == sbdir + "/shm"]
    assert len(shm) == 1 and "tmpfs" in shm[0] and "size=65536k" in shm[0]

    # prefix ids everywhere
    assert status(d, pb, sid[:8]).status.id == sid
    stop_remove(d, pb, sid[:10])
    with pytest.raises(grpc.RpcError) as e:
        status(d, pb, sid)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert snapshot(d) == before


def test_list_filters_and_stop_states(netd, pb):
    d = netd
    a = run(d, pb, pod_config(pb, labels={"app": "a", "env": "t"}, host_net=True))
    b = run(d, pb, pod_config(pb, labels={"app": "b", "env": "t"}, host_net=True))
    rt = d.runtime()

    def ids(flt=None):
        return {s.id for s in rt.ListPodSandbox(pb.ListPodSandboxRequest(filter=flt)).items}

    assert ids() == {a, b}
    assert ids(pb.PodSandboxFilter(id=a)) == {a}
    assert ids(pb.PodSandboxFilter(id=a[:6])) == {a}
    assert ids(pb.PodSandboxFilter(id="zz")) == set()
    assert ids(pb.PodSandboxFilter(label_selector={"env": "t"})) == {a, b}
    assert ids(pb.PodSandboxFilter(label_selector={"app": "b", "env": "t"})) == {b}
    assert ids(pb.PodSandboxFilter(label_selector={"app": "c"})) == set()
    rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=b))
    rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=b))  # idempotent
    ready = pb.PodSandboxStateValue(state=pb.SANDBOX_READY)
    notready = pb.PodSandboxStateValue(state=pb.SANDBOX_NOTREADY)
    assert ids(pb.PodSandboxFilter(state=ready)) == {a}
    assert ids(pb.PodSandboxFilter(state=notready)) == {b}
    streamed = set()
    for chunk in rt.StreamPodSandboxes(pb.StreamPodSandboxesRequest()):
        streamed |= {s.id for s in chunk.pod_sandboxes}
    assert streamed == {a, b}
    for sid in (a, b):
        stop_remove(d, pb, sid)
    assert ids() == set()


def test_host_network_host_ipc_and_shared_pid(netd, pb):
    d = netd
    before = snapshot(d)
    sid = run(d, pb, pod_config(pb, host_net=True, host_ipc=True, pid=pb.POD, hostname=""))
    st = status(d, pb, sid).status
    assert st.state == pb.SANDBOX_READY and st.network.ip == ""
    assert st.linux.namespaces.options.network == pb.NODE
    assert st.linux.namespaces.options.ipc == pb.NODE
    assert st.linux.namespaces.options.pid == pb.POD
    i = info(d, pb, sid)
    assert i["netns"] == "" and i["ipcns"] == "" and i["shm"] == ""
    sbdir = i["sandboxDir"]
    assert open(os.path.join(sbdir, "hostname")).read() == socket.gethostname() + "\n"
    assert open(os.path.join(sbdir, "hosts")).read() == open("/etc/hosts").read()
    assert open(os.path.join(sbdir, "resolv.conf")).read() == open("/etc/resolv.conf").read()
    # the infra process is pid 1 of its own pid namespace, pinned under ns/pid
    pid = i["pid"]
    assert pid > 0
    assert os.readlink("/proc/%d/ns/pid" % pid) != os.readlink("/proc/self/ns/pid")
    assert os.stat(i["pidns"]).st_ino == os.stat("/proc/%d/ns/pid" % pid).st_ino
    assert os.readlink("/proc/%d/ns/net" % pid) == os.readlink("/proc/self/ns/net")
    out = sh("nsenter", "--pid=" + i["pidns"], "--", "/bin/sh", "-c", "sleep 0.01; echo $$")
    assert out.strip() != ""
    stop_remove(d, pb, sid)
    deadline = time.time() + 3
    while time.time() < deadline:
        try:
            if open("/proc/%d/stat" % pid).read().split(")")[1].split()[0] in "ZX":
                break
        except FileNotFoundError:
            break
        time.sleep(0.02)
    else:
        pytest.fail("infra process %d still running after Stop" % pid)
    assert snapshot(d) == before


def test_port_mapping_reachable_on_localhost(netd, pb):
    d = netd
    port = 18000 + os.getpid() % 1000
    cfg = pod_config(pb, port_mappings=[pb.PortMapping(protocol=pb.TCP, container_port=80,
                                                       host_port=port)])
    sid = run(d, pb, cfg)
    sbdir = info(d, pb, sid)["sandboxDir"]
    server = subprocess.Popen(
        ["nsenter", "--net=%s/ns/net" % sbdir, "/usr/bin/python3", "-c",
         "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
         "s.bind(('0.0.0.0',80))\ns.listen(1)\nprint('up',flush=True)\nc,_=s.accept()\n"
         "c.sendall(b'hello from the pod')\nc.close()"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "up"
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.settimeout(5)
            assert c.recv(100) == b"hello from the pod"
    finally:
        server.kill()
        server.wait()
    assert any(str(port) in l for l in nat_rules())
    stop_remove(d, pb, sid)
    assert not any("--dport %d " % port in l for l in nat_rules())


def test_failing_cni_plugin_leaves_nothing_behind(make_daemon, cni_env, pb, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fail = bindir / "cric-fail"
    fail.write_text("#!/bin/sh\ncat >/dev/null\n"
                    "[ \"$CNI_COMMAND\" = DEL ] && exit 0\n"
                    "echo '{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"injected failure\"}'\n"
                    "exit 1\n")
    fail.chmod(0o755)
    d = make_daemon(start=False)
    set_bin_dirs(d, [str(bindir), CNI_BIN])
    d.start()
    d.ipam = cni_env["ipam"]
    with open(os.path.join(d.cni_dir, "10-cric-test.conflist"), "w") as f:
        json.dump(bridge_conflist(cni_env["ipam"], [{"type": "cric-fail"}]), f)
    before = snapshot(d)
    with pytest.raises(grpc.RpcError) as e:
        run(d, pb, pod_config(pb, pid=pb.POD, cgroup_parent="/cric-t-fail/pod1"))
    assert "injected failure" in e.value.details() and "cric-fail" in e.value.details()
    assert snapshot(d) == before
    assert not os.path.exists("/sys/fs/cgroup/memory/cric-t-fail")
    assert list(d.runtime().ListPodSandbox(pb.ListPodSandboxRequest()).items) == []


def test_cgroup_parent_resources_and_removal(netd, pb):
    d = netd
    parent = "/cric-t-%s/pod1" % uuid.uuid4().hex[:6]
    res = pb.LinuxContainerResources(memory_limit_in_bytes=256 << 20, cpu_shares=512,
                                     cpu_quota=50000, cpu_period=100000)
    sid = run(d, pb, pod_config(pb, host_net=True, pid=pb.POD, cgroup_parent=parent,
                                resources=res))
    mem = "/sys/fs/cgroup/memory" + parent
    assert int(open(mem + "/memory.limit_in_bytes").read()) == 256 << 20
    assert open("/sys/fs/cgroup/cpu" + parent + "/cpu.shares").read().strip() == "512"
    assert open("/sys/fs/cgroup/cpu" + parent + "/cpu.cfs_quota_us").read().strip() == "50000"
    assert os.path.isdir("/sys/fs/cgroup/unified" + parent)
    pid = info(d, pb, sid)["pid"]
    assert str(pid) in open(mem + "/cgroup.procs").read().split()
    stop_remove(d, pb, sid)
    top = parent.split("/")[1]
    for h in os.listdir("/sys/fs/cgroup"):
        assert not os.path.exists(os.path.join("/sys/fs/cgroup", h, top)), h


def test_cgroup_parent_shared_by_two_pods(netd, pb):
    """Two pods under one cgroup parent that the first one created: removing
    the first leaves the parent to the second (no EBUSY error); the parent
    goes with the last pod."""
    d = netd
    parent = "/cric-t-%s" % uuid.uuid4().hex[:6]
    first = run(d, pb, pod_config(pb, host_net=True, pid=pb.POD, cgroup_parent=parent + "/a"))
    second = run(d, pb, pod_config(pb, host_net=True, pid=pb.POD, cgroup_parent=parent + "/b"))
    mem = "/sys/fs/cgroup/memory" + parent
    stop_remove(d, pb, first)
    assert not os.path.exists(mem + "/a") and os.path.isdir(mem + "/b")
    pid = info(d, pb, second)["pid"]
    assert str(pid) in open(mem + "/b/cgroup.procs").read().split()
    assert os.path.exists(os.path.join(d.state, "cgroups-shared"))
    stop_remove(d, pb, second)
    for h in os.listdir("/sys/fs/cgroup"):
        assert not os.path.exists(os.path.join("/sys/fs/cgroup", h, parent[1:])), h
    assert not os.path.exists(os.path.join(d.state, "cgroups-shared"))


def test_validation_errors(netd, pb):
    d = netd
    rt = d.runtime()
    with pytest.raises(grpc.RpcError) as e:
        status(d, pb, "ab" * 32)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id="ab" * 32))
    rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id="ab" * 32))
    cases = [
        (pod_config(pb), "no-such-runtime", "runtime handler"),
        (pod_config(pb, host_net=True, sysctls={"net.ipv4.ip_forward": "1"}), "", "network"),
        (pod_config(pb, host_ipc=True, sysctls={"kernel.shmmax": "1"}), "", "IPC"),
        (pod_config(pb, sysctls={"kernel.panic": "1"}), "", "not namespaced"),
        (pod_config(pb, cgroup_parent="/a/../../b"), "", "cgroup_parent"),
        (pod_config(pb, dns_config=pb.DNSConfig(servers=["1.1.1.1\nx"])), "", "dns_config"),
        (pod_config(pb, hostname="bad host"), "", "hostname"),
        (pod_config(pb, port_mappings=[pb.PortMapping(container_port=80, host_port=8080,
                                                      host_ip="1.2.3.4; x")]), "", "host_ip"),
    ]
    for cfg, handler, word in cases:
        with pytest.raises(grpc.RpcError) as e:
            run(d, pb, cfg, handler)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, e.value.details()
        assert word in e.value.details()
    cfg = pod_config(pb, host_net=True)
    sid = run(d, pb, cfg, "runc")
    assert status(d, pb, sid).status.runtime_handler == "runc"
    with pytest.raises(grpc.RpcError) as e:
        run(d, pb, cfg)
    assert e.value.code() == grpc.StatusCode.ALREADY_EXISTS
    stop_remove(d, pb, sid)
    assert list(rt.ListPodSandbox(pb.ListPodSandboxRequest()).items) == []


def test_no_cni_config_host_network_still_runs(make_daemon, pb):
    d = make_daemon()
    with pytest.raises(grpc.RpcError) as e:
        run(d, pb, pod_config(pb))
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "network not ready" in e.value.details()
    sid = run(d, pb, pod_config(pb, host_net=True))
    assert status(d, pb, sid).status.state == pb.SANDBOX_READY
    stop_remove(d, pb, sid)
    assert os.listdir(os.path.join(d.state, "sandboxes")) == []


def test_restart_keeps_sandboxes_and_stop_uses_cni_cache(netd, pb):
    d = netd
    before = snapshot(d)
    a = run(d, pb, pod_config(pb, name="keep-ready", pid=pb.POD))
    b = run(d, pb, pod_config(pb, name="keep-stopped"))
    d.runtime().StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=b))
    ip = status(d, pb, a).status.network.ip
    created = status(d, pb, a).status.created_at
    assert d.stop() == 0
    # the pinned namespaces and the infra process outlive the daemon
    assert len(snapshot(d)["veths"]) == len(before["veths"]) + 1
    # the conf dir may even change while the daemon is down: DEL uses the cache
    os.rename(os.path.join(d.cni_dir, "10-cric-test.conflist"),
              os.path.join(d.cni_dir, "10-cric-test.conflist.off"))
    d.start()
    items = {s.id: s for s in d.runtime().ListPodSandbox(pb.ListPodSandboxRequest()).items}
    assert set(items) == {a, b}
    assert items[a].state == pb.SANDBOX_READY and items[b].state == pb.SANDBOX_NOTREADY
    assert items[a].created_at == created
    assert status(d, pb, a).status.network.ip == ip
    stop_remove(d, pb, a)
    stop_remove(d, pb, b)
    assert snapshot(d) == before


def test_interrupted_run_is_cleaned_up_at_start(netd, pb):
    """kill -9 in the middle of RunPodSandbox (a slow CNI ADD): the next start undoes it."""
    d = netd
    before = snapshot(d)
    with open(os.path.join(d.cni_dir, "10-cric-test.conflist")) as f:
        conf = json.load(f)
    bindir = tempfile.mkdtemp(prefix="cric-slow-")
    slow = os.path.join(bindir, "cric-slow")
    with open(slow, "w") as f:
        f.write("#!/bin/sh\ncat >/dev/null\n[ \"$CNI_COMMAND\" = ADD ] || exit 0\n"
                "echo $$ > %s/pid\nexec sleep 30\n" % bindir)
    os.chmod(slow, 0o755)
    conf["plugins"].append({"type": "cric-slow"})
    d.stop()
    set_bin_dirs(d, [bindir, CNI_BIN])
    with open(os.path.join(d.cni_dir, "10-cric-test.conflist"), "w") as f:
        json.dump(conf, f)
    d.start()
    fut = concurrent.futures.ThreadPoolExecutor(1).submit(run, d, pb, pod_config(pb))
    deadline = time.time() + 20
    while time.time() < deadline and not os.path.exists(os.path.join(bindir, "pid")):
        time.sleep(0.05)
    assert len(snapshot(d)["leases"]) == len(before["leases"]) + 1
    d.kill9()
    with pytest.raises(grpc.RpcError):
        fut.result()
    with open(os.path.join(bindir, "pid")) as f:
        os.kill(int(f.read()), 9)
    d.start()
    assert list(d.runtime().ListPodSandbox(pb.ListPodSandboxRequest()).items) == []
    assert snapshot(d) == before
    subprocess.run(["rm", "-rf", bindir])


def test_fifty_concurrent_sandboxes(netd, pb):
    d = netd
    before = snapshot(d)
    n = 50
    with concurrent.futures.ThreadPoolExecutor(n) as ex:
        ids = list(ex.map(lambda i: run(d, pb, pod_config(pb, name="c-%d" % i)), range(n)))
    ips = {status(d, pb, sid).status.network.ip for sid in ids}
    assert len(ips) == n and all(ip.startswith("10.231.") for ip in ips)
    assert len(snapshot(d)["leases"]) == len(before["leases"]) + n
    with concurrent.futures.ThreadPoolExecutor(n) as ex:
        list(ex.map(lambda sid: stop_remove(d, pb, sid), ids))
    assert snapshot(d) == before


def test_infra_death_makes_sandbox_notready(netd, pb):
    d = netd
    sid = run(d, pb, pod_config(pb, host_net=True, pid=pb.POD))
    pid = info(d, pb, sid)["pid"]
    os.kill(pid, 9)
    deadline = time.time() + 5
    while time.time() < deadline and status(d, pb, sid).status.state == pb.SANDBOX_READY:
        time.sleep(0.02)
    assert status(d, pb, sid).status.state == pb.SANDBOX_NOTREADY
    notready = pb.PodSandboxStateValue(state=pb.SANDBOX_NOTREADY)
    items = d.runtime().ListPodSandbox(pb.ListPodSandboxRequest(
        filter=pb.PodSandboxFilter(state=notready))).items
    assert [s.id for s in items] == [sid]
    stop_remove(d, pb, sid)


def test_stop_retries_after_failed_cni_del(make_daemon, cni_env, pb, tmp_path):
    """A DEL that fails makes Stop fail; the next Stop finishes the job."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    marker = tmp_path / "fail-del"
    flaky = bindir / "cric-flaky"
    flaky.write_text("#!/bin/sh\nin=$(cat)\n"
                     "if [ \"$CNI_COMMAND\" = DEL ] && [ -e %s ]; then\n"
                     "  echo '{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"DEL refused\"}'; exit 1\n"
                     "fi\n"
                     "if [ \"$CNI_COMMAND\" = ADD ]; then\n"
                     "  printf '%%s' \"$in\" | /usr/bin/python3 -c 'import json,sys; "
                     "print(json.dumps(json.load(sys.stdin)[\"prevResult\"]))'\n"
                     "fi\n" % marker)
    flaky.chmod(0o755)
    d = make_daemon(start=False)
    set_bin_dirs(d, [str(bindir), CNI_BIN])
    d.start()
    d.ipam = cni_env["ipam"]
    with open(os.path.join(d.cni_dir, "10-cric-test.conflist"), "w") as f:
        json.dump(bridge_conflist(cni_env["ipam"], [{"type": "cric-flaky"}]), f)
    before = snapshot(d)
    sid = run(d, pb, pod_config(pb))
    assert status(d, pb, sid).status.network.ip.startswith("10.231.")
    marker.write_text("")
    with pytest.raises(grpc.RpcError) as e:
        d.runtime().StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=sid))
    assert "DEL refused" in e.value.details()
    assert status(d, pb, sid).status.state == pb.SANDBOX_NOTREADY
    marker.unlink()
    stop_remove(d, pb, sid)
    assert snapshot(d) == before


def test_pod_cidr_reaches_ipam_as_ip_ranges(make_daemon, cni_env, pb):
    """UpdateRuntimeConfig's pod CIDR is the ipRanges capability arg."""
    d = make_daemon()
    d.ipam = cni_env["ipam"]
    conf = bridge_conflist(cni_env["ipam"])
    conf["plugins"][0]["capabilities"] = {"ipRanges": True}
    del conf["plugins"][0]["ipam"]["ranges"]  # host-local adds ipRanges to its own ranges
    conf["plugins"][0]["bridge"] = "cric-t1"  # cric-t0 holds 10.231.0.1/16 already
    with open(os.path.join(d.cni_dir, "10-cric-test.conflist"), "w") as f:
        json.dump(conf, f)
    d.runtime().UpdateRuntimeConfig(pb.UpdateRuntimeConfigRequest(
        runtime_config=pb.RuntimeConfig(network_config=pb.NetworkConfig(
            pod_cidr="10.231.77.0/24"))))
    sid = run(d, pb, pod_config(pb))
    try:
        assert status(d, pb, sid).status.network.ip.startswith("10.231.77.")
        stop_remove(d, pb, sid)
    finally:
        sh("ip", "link", "del", "cric-t1", check=False)


@pytest.mark.parametrize("form", ["conflist-0.4.0", "conf-0.4.0", "conflist-with-loopback"])
def test_other_config_forms(make_daemon, cni_env, pb, form):
    """A 0.4.0 conflist, a single-plugin .conf file, and the common chain that
    ends with the loopback plugin (as containerd's examples do)."""
    d = make_daemon()
    d.ipam = cni_env["ipam"]
    conf = bridge_conflist(cni_env["ipam"],
                           [{"type": "loopback"}] if form == "conflist-with-loopback" else [])
    name = "10-cric-test.conflist"
    if form != "conflist-with-loopback":
        conf["cniVersion"] = "0.4.0"
    if form == "conf-0.4.0":
        conf = dict(conf["plugins"][0], cniVersion="0.4.0", name="cric-test")
        name = "10-cric-test.conf"
    with open(os.path.join(d.cni_dir, name), "w") as f:
        json.dump(conf, f)
    sid = run(d, pb, pod_config(pb))
    ip = status(d, pb, sid).status.network.ip
    assert ip.startswith("10.231.")
    assert ip + "/16" in in_ns(info(d, pb, sid)["sandboxDir"], "ip", "-o", "-4", "addr")
    stop_remove(d, pb, sid)
    assert not os.path.exists(os.path.join(d.ipam, "cric-test", ip))


def test_stop_interrupted_by_kill9_finishes_after_restart(make_daemon, cni_env, pb, tmp_path):
    """kill -9 while StopPodSandbox waits on a slow CNI DEL: after a restart
    the sandbox is still listed and Stop + Remove finish the job."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    gate = tmp_path / "slow-del"
    slow = bindir / "cric-slowdel"
    slow.write_text("#!/bin/sh\nin=$(cat)\n"
                    "if [ \"$CNI_COMMAND\" = DEL ] && [ -e %s ]; then echo $$ > %s/pid; exec sleep 30; fi\n"
                    "if [ \"$CNI_COMMAND\" = ADD ]; then\n"
                    "  printf '%%s' \"$in\" | /usr/bin/python3 -c 'import json,sys; "
                    "print(json.dumps(json.load(sys.stdin)[\"prevResult\"]))'\n"
                    "fi\n" % (gate, bindir))
    slow.chmod(0o755)
    d = make_daemon(start=False)
    set_bin_dirs(d, [str(bindir), CNI_BIN])
    d.start()
    d.ipam = cni_env["ipam"]
    with open(os.path.join(d.cni_dir, "10-cric-test.conflist"), "w") as f:
        json.dump(bridge_conflist(cni_env["ipam"], [{"type": "cric-slowdel"}]), f)
    before = snapshot(d)
    sid = run(d, pb, pod_config(pb, pid=pb.POD))
    gate.write_text("")
    fut = concurrent.futures.ThreadPoolExecutor(1).submit(
        d.runtime().StopPodSandbox, pb.StopPodSandboxRequest(pod_sandbox_id=sid))
    deadline = time.time() + 20
    while time.time() < deadline and not (bindir / "pid").exists():
        time.sleep(0.05)
    d.kill9()
    with pytest.raises(grpc.RpcError):
        fut.result()
    os.kill(int((bindir / "pid").read_text()), 9)
    gate.unlink()
    d.start()
    assert [s.id for s in d.runtime().ListPodSandbox(pb.ListPodSandboxRequest()).items] == [sid]
    stop_remove(d, pb, sid)
    assert snapshot(d) == before


def slow_del_plugin(bindir, gate, started):
    """A chained CNI plugin: ADD passes the previous result on (or an empty
    one when it comes first); DEL touches `started` and then waits while
    `gate` exists."""
    p = bindir / "cric-slow-del"
    p.write_text("#!/bin/sh\nin=$(cat)\n"
                 "if [ \"$CNI_COMMAND\" = DEL ]; then\n"
                 "  touch %s; n=0\n"
                 "  while [ -e %s ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done\n"
                 "fi\n"
                 "if [ \"$CNI_COMMAND\" = ADD ]; then\n"
                 "  printf '%%s' \"$in\" | /usr/bin/python3 -c 'import json,sys; "
                 "c=json.load(sys.stdin); print(json.dumps(c.get(\"prevResult\") or "
                 "{\"cniVersion\": \"1.0.0\", \"interfaces\": [], \"ips\": []}))'\n"
                 "fi\n" % (started, gate))
    p.chmod(0o755)


def test_kill9_half_way_through_stop_comes_back_notready(make_daemon, cni_env, pb, tmp_path):
    """Regression (reliability harness): a daemon killed after CNI DEL of the
    bridge but before Stop finished came back with the sandbox READY and its
    network gone. NOTREADY is now recorded before anything is released, and
    the next Stop finishes the release."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    gate, started = tmp_path / "gate", tmp_path / "started"
    slow_del_plugin(bindir, gate, started)
    d = make_daemon(start=False)
    set_bin_dirs(d, [str(bindir), CNI_BIN])
    d.start()
    d.ipam = cni_env["ipam"]
    conf = bridge_conflist(cni_env["ipam"])
    conf["plugins"].insert(0, {"type": "cric-slow-del"})  # DEL runs last (reverse order)
    with open(os.path.join(d.cni_dir, "10-cric-test.conflist"), "w") as f:
        json.dump(conf, f)
    before = snapshot(d)
    sid = run(d, pb, pod_config(pb))
    assert status(d, pb, sid).status.network.ip.startswith("10.231.")
    gate.write_text("")
    errors = []

    def stop():
        try:
            d.runtime().StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=sid), timeout=60)
        except grpc.RpcError as e:
            errors.append(e)
    t = concurrent.futures.ThreadPoolExecutor(1).submit(stop)
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert started.exists()
    d.kill9()
    t.result()
    assert errors
    gate.unlink()
    d.start()
    st = status(d, pb, sid).status
    assert st.state == pb.SANDBOX_NOTREADY, "the half-stopped sandbox came back READY"
    stop_remove(d, pb, sid)
    assert snapshot(d) == before


def test_ready_row_without_network_result_loads_notready(netd, pb):
    """A sandbox whose CNI cache has no ADD result (the network was never
    completed, or was released) is NOTREADY after a restart, and Stop still
    releases what the plugins hold."""
    d = netd
    before = snapshot(d)
    sid = run(d, pb, pod_config(pb))
    sbdir = info(d, pb, sid)["sandboxDir"]
    d.kill9()
    path = os.path.join(sbdir, "cni.json")
    with open(path) as f:
        cache = json.load(f)
    del cache["result"]
    with open(path, "w") as f:
        json.dump(cache, f)
    d.start()
    assert status(d, pb, sid).status.state == pb.SANDBOX_NOTREADY
    stop_remove(d, pb, sid)
    assert snapshot(d) == before


def test_removal_cut_by_a_crash_is_finished_at_start(netd, pb):
    """Regression (reliability harness): a daemon killed during RemovePodSandbox
    after the sandbox dir was deleted but before its row was came back listing
    a sandbox whose files were gone. The removal is now recorded first (row
    marked "removing"); a start finishes it. Simulated here: the row is
    marked and the dir half deleted while the daemon is down."""
    d = netd
    before = snapshot(d)
    sid = run(d, pb, pod_config(pb, pid=pb.POD))
    sbdir = info(d, pb, sid)["sandboxDir"]
    d.runtime().StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=sid), timeout=60)
    d.kill9()
    db = sqlite3.connect(os.path.join(d.root, "cric.db"))
    with db:
        data = json.loads(db.execute("SELECT data FROM sandboxes WHERE id = ?",
                                     (sid,)).fetchone()[0])
        data["removing"] = True
        db.execute("UPDATE sandboxes SET data = ? WHERE id = ?", (json.dumps(data), sid))
    db.close()
    os.unlink(os.path.join(sbdir, "hostname"))
    d.start()
    assert list(d.runtime().ListPodSandbox(pb.ListPodSandboxRequest()).items) == []
    assert not os.path.exists(sbdir)
    assert "finished a removal interrupted by a restart" in d.log()
    db = sqlite3.connect(os.path.join(d.root, "cric.db"))
    assert db.execute("SELECT COUNT(*) FROM sandboxes").fetchone() == (0,)
    db.close()
    assert snapshot(d) == before
