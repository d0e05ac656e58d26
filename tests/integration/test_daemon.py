"""The cric daemon: flags, config, locking, signals, and the foundation RPCs."""
import json
import os
import signal
import socket
import stat
import subprocess
import time

import grpc
import pytest

from conftest import CRIC, Daemon, wait_for_socket

import cri_pb2
import cri_pb2_grpc


def test_version(daemon, pb):
    r = daemon.runtime().Version(pb.VersionRequest(version="0.1.0"))
    assert r.version == "0.1.0"
    assert r.runtime_name == "cric"
    assert r.runtime_api_version == "v1"
    out = subprocess.run([CRIC, "version"], capture_output=True, text=True, check=True).stdout
    assert r.runtime_version in out and r.runtime_version


def test_runtime_config_reports_cgroupfs(daemon, pb):
    r = daemon.runtime().RuntimeConfig(pb.RuntimeConfigRequest())
    assert r.linux.cgroup_driver == pb.CGROUPFS


def _conditions(resp):
    return {c.type: c for c in resp.status.conditions}


def test_status_network_not_ready_without_cni_config(daemon, pb):
    r = daemon.runtime().Status(pb.StatusRequest())
    conds = _conditions(r)
    assert conds["RuntimeReady"].status is True
    net = conds["NetworkReady"]
    assert net.status is False
    assert net.reason == "NetworkPluginNotReady"
    assert daemon.cni_dir in net.message
    assert len(r.info) == 0
    names = [h.name for h in r.runtime_handlers]
    assert "" in names and "crun" in names and "runc" in names


def test_status_network_follows_cni_config(daemon, pb):
    bad = os.path.join(daemon.cni_dir, "05-bad.conflist")
    with open(bad, "w") as f:
        f.write("{not json")
    net = _conditions(daemon.runtime().Status(pb.StatusRequest()))["NetworkReady"]
    assert net.status is False and "05-bad.conflist" in net.message
    with open(os.path.join(daemon.cni_dir, "10-net.conflist"), "w") as f:
        json.dump({"cniVersion": "1.0.0", "name": "podnet", "plugins": [{"type": "bridge"}]}, f)
    net = _conditions(daemon.runtime().Status(pb.StatusRequest()))["NetworkReady"]
    assert net.status is True, net.message


def test_status_verbose_info_is_json(daemon, pb):
    r = daemon.runtime().Status(pb.StatusRequest(verbose=True))
    cfg = json.loads(r.info["config"])
    assert cfg["listen"] == daemon.sock
    assert cfg["root"] == daemon.root
    assert cfg["cni"]["conf_dir"] == daemon.cni_dir
    assert json.loads(r.info["podCIDR"]) == ""


def test_update_runtime_config_stores_pod_cidr(make_daemon, pb):
    d = make_daemon()
    rt = d.runtime()
    rt.UpdateRuntimeConfig(pb.UpdateRuntimeConfigRequest())  # empty, as the kubelet's first call
    rt.UpdateRuntimeConfig(pb.UpdateRuntimeConfigRequest(
        runtime_config=pb.RuntimeConfig(network_config=pb.NetworkConfig(pod_cidr="10.244.1.0/24,fd00::/64"))))
    info = rt.Status(pb.StatusRequest(verbose=True)).info
    assert json.loads(info["podCIDR"]) == "10.244.1.0/24,fd00::/64"
    for bad in ["10.0.0.0", "10.0.0.0/33", "nonsense/8", "1.2.3.4/", "x" * 300]:
        with pytest.raises(grpc.RpcError) as e:
            rt.UpdateRuntimeConfig(pb.UpdateRuntimeConfigRequest(
                runtime_config=pb.RuntimeConfig(network_config=pb.NetworkConfig(pod_cidr=bad))))
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, bad
        assert "pod CIDR" in e.value.details()
    # survives a restart
    assert d.stop() == 0
    d.start()
    info = d.runtime().Status(pb.StatusRequest(verbose=True)).info
    assert json.loads(info["podCIDR"]) == "10.244.1.0/24,fd00::/64"


FOUNDATION = {"Version", "Status", "RuntimeConfig", "UpdateRuntimeConfig"}


def _all_methods():
    for svc in cri_pb2.DESCRIPTOR.services_by_name.values():
        for m in svc.methods:
            yield svc, m


def test_every_method_answers_an_empty_request_with_a_definite_status(daemon, pb):
    """Every RPC of the proto is routed: an empty request gets a response or a
    deliberate status (UNIMPLEMENTED naming the method until its issue lands),
    never UNKNOWN/INTERNAL or a hang, and the daemon keeps serving."""
    ch = daemon.channel()
    count = 0
    for svc, m in _all_methods():
        path = "/%s/%s" % (svc.full_name, m.name)
        try:
            if m.server_streaming:
                # streams that would stay open (events) are cut by the deadline
                list(ch.unary_stream(path)(b"", timeout=1))
            else:
                ch.unary_unary(path)(b"", timeout=5)
            code = grpc.StatusCode.OK
        except grpc.RpcError as e:
            code = e.code()
            if code == grpc.StatusCode.UNIMPLEMENTED:
                assert m.name in e.value.details() if hasattr(e, "value") else m.name in e.details()
        assert code not in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL,
                            grpc.StatusCode.UNAVAILABLE), (path, code)
        if m.name in FOUNDATION:
            assert code == grpc.StatusCode.OK, path
        count += 1
    assert count == 43
    assert daemon.runtime().Version(pb.VersionRequest()).runtime_name == "cric"


def test_unknown_method_is_unimplemented(daemon):
    call = daemon.channel().unary_unary("/runtime.v1.RuntimeService/NoSuchThing")
    with pytest.raises(grpc.RpcError) as e:
        call(b"", timeout=5)
    assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_malformed_protobuf_is_invalid_argument(daemon, pb):
    call = daemon.channel().unary_unary("/runtime.v1.RuntimeService/Status")
    for garbage in [b"\xff\xff\xff\xff", b"\x0a\x05ab", b"\x08"]:
        with pytest.raises(grpc.RpcError) as e:
            call(garbage, timeout=5)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # and the daemon still answers
    assert daemon.runtime().Version(pb.VersionRequest()).runtime_name == "cric"


def test_garbage_on_the_socket_does_not_hurt(daemon, pb):
    for payload in [b"GET / HTTP/1.1\r\n\r\n", os.urandom(4096), b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00"]:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(daemon.sock)
        try:
            s.sendall(payload)
            s.settimeout(2)
            try:
                s.recv(1024)
            except (socket.timeout, ConnectionResetError):
                pass
        finally:
            s.close()
    assert daemon.runtime().Version(pb.VersionRequest()).runtime_name == "cric"


def test_socket_mode_and_parent_dirs(daemon):
    st = os.stat(daemon.sock)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660
    assert st.st_uid == 0


def test_second_daemon_on_same_socket_is_refused(make_daemon, pb):
    first = make_daemon()
    second = Daemon(extra_args=[])
    argv = second.argv()
    argv[argv.index("--listen") + 1] = first.sock
    p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    assert p.returncode != 0
    assert "another cric daemon" in p.stderr and "socket" in p.stderr, p.stderr
    assert first.runtime().Version(pb.VersionRequest()).runtime_name == "cric"
    second.cleanup()


def test_second_daemon_on_same_root_is_refused(make_daemon, pb):
    first = make_daemon()
    second = Daemon()
    argv = second.argv()
    argv[argv.index("--root") + 1] = first.root
    p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    assert p.returncode != 0
    assert "another cric daemon" in p.stderr and "root" in p.stderr, p.stderr
    assert os.path.exists(first.sock)
    assert first.runtime().Version(pb.VersionRequest()).runtime_name == "cric"
    second.cleanup()


def test_sigterm_and_sigint_exit_cleanly_and_remove_socket(make_daemon):
    for sig in (signal.SIGTERM, signal.SIGINT):
        d = make_daemon()
        assert d.stop(sig) == 0
        assert not os.path.exists(d.sock)
        assert "shutting down" in d.log()


def test_stale_socket_after_kill9_is_replaced(make_daemon, pb):
    d = make_daemon()
    d.kill9()
    assert os.path.exists(d.sock)  # left behind by the crash
    d.start()
    assert d.runtime().Version(pb.VersionRequest()).runtime_name == "cric"


def test_json_log_format(make_daemon, pb):
    d = make_daemon(extra_args=["--log-format", "json"])
    d.runtime().Version(pb.VersionRequest())
    d.stop()
    lines = [l for l in d.log().splitlines() if l.strip()]
    assert lines
    for line in lines:
        obj = json.loads(line)
        assert {"time", "level", "msg"} <= obj.keys()


def test_config_command_prints_effective_config(tmp_path):
    p = subprocess.run([CRIC, "config"], capture_output=True, text=True, check=True,
                       env={"PATH": "/usr/bin:/bin"})
    cfg = json.loads(p.stdout)
    if not os.path.exists("/etc/cric/config.json"):
        assert cfg["listen"] == "/run/cric/cric.sock"
        assert cfg["root"] == "/var/lib/cric"
        assert cfg["state"] == "/run/cric"
        assert cfg["grpc"]["max_recv_message_size"] == 16 * 1024 * 1024
    conf = tmp_path / "c.json"
    conf.write_text(json.dumps({"root": "/tmp/r1", "grpc": {"workers": 8}}))
    p = subprocess.run([CRIC, "config", "--config", str(conf), "--root", "/tmp/r2",
                        "--log-level", "debug"], capture_output=True, text=True, check=True)
    cfg = json.loads(p.stdout)
    assert cfg["root"] == "/tmp/r2"  # flags win over the file
    assert cfg["grpc"]["workers"] == 8
    assert cfg["log_level"] == "debug"
    # the printed config is itself a valid config file
    conf.write_text(p.stdout)
    subprocess.run([CRIC, "config", "--config", str(conf)], capture_output=True, check=True)


@pytest.mark.parametrize("doc,needle", [
    ('{"grpc": {"workers": "many"}}', "grpc.workers"),
    ('{"typo_key": 1}', "typo_key: unknown key"),
    ("{", "line 1"),
])
def test_bad_config_is_refused_with_a_clear_message(tmp_path, doc, needle):
    conf = tmp_path / "c.json"
    conf.write_text(doc)
    p = subprocess.run([CRIC, "--config", str(conf), "--listen", str(tmp_path / "s.sock")],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 2
    assert needle in p.stderr
    assert not os.path.exists(tmp_path / "s.sock")


def test_bad_flags(tmp_path):
    for argv in (["--bogus"], ["--listen"], ["--log-level", "loud"], ["--root", "relative"],
                 ["nonsense-command"]):
        p = subprocess.run([CRIC, *argv], capture_output=True, text=True, timeout=10)
        assert p.returncode == 2, argv
        assert "usage" in p.stderr or "cric:" in p.stderr


def test_missing_config_file_named_in_error(tmp_path):
    p = subprocess.run([CRIC, "--config", str(tmp_path / "absent.json")],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 2
    assert "absent.json" in p.stderr


def test_concurrent_clients(daemon, pb):
    import concurrent.futures
    rt = daemon.runtime()

    def call(i):
        if i % 3 == 0:
            return rt.Status(pb.StatusRequest(verbose=True)).status.conditions[0].status
        return rt.Version(pb.VersionRequest()).runtime_name == "cric"

    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        assert all(ex.map(call, range(2000)))


def test_socket_path_as_authority_is_accepted(daemon, pb):
    """Go gRPC clients before 1.52 (crictl/kubelet of many releases) send the
    socket path as :authority; cric must not reset those streams."""
    ch = grpc.insecure_channel("unix://" + daemon.sock,
                               options=[("grpc.default_authority", daemon.sock)])
    try:
        stub = cri_pb2_grpc.RuntimeServiceStub(ch)
        assert stub.Version(pb.VersionRequest()).runtime_name == "cric"
        assert stub.Status(pb.StatusRequest()).status.conditions[0].status is True
    finally:
        ch.close()


def test_start_waits_for_a_dead_daemons_child_holding_the_lock(make_daemon, pb):
    """Regression (reliability harness): right after a kill -9, a process the
    dead daemon had just forked (before its exec) still holds the root lock,
    and the restarted daemon refused to start ("another cric daemon"). When
    the pid in the lock is dead, the daemon now waits for the lock.

    Meanwhile its socket already accepts (regression, crash harness: clients
    that came while a restarted daemon recovered were refused and, backing
    off as gRPC does, came back up to 10 s later): a call made during the
    wait is answered once the lock is free, not refused."""
    d = make_daemon(start=False)
    os.makedirs(d.root, exist_ok=True)
    lock = os.path.join(d.root, "cric.lock")
    gone = subprocess.Popen(["true"])
    gone.wait()
    with open(lock, "w") as f:
        f.write("%d\n" % gone.pid)
    holder = subprocess.Popen(["flock", "-x", lock, "sleep", "2"])
    time.sleep(0.3)
    t0 = time.monotonic()
    d.start(wait=False)
    assert wait_for_socket(d.sock, d.proc)
    assert holder.poll() is None, "the socket should accept while the lock is still held"
    ch = grpc.insecure_channel("unix://" + d.sock)
    try:
        reply = cri_pb2_grpc.RuntimeServiceStub(ch).Version(pb.VersionRequest(), timeout=30)
    finally:
        ch.close()
    assert reply.runtime_name == "cric"
    assert holder.poll() == 0, "answered before the lock was free"
    assert time.monotonic() - t0 >= 1.0, "the daemon did not wait for the held lock"
    log = d.log()
    assert "is gone, waiting for its children" in log
    assert log.index("accepting connections") < log.index("is gone, waiting") < \
        log.index("listening on")
