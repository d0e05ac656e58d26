"""Exec and attach through the daemon end to end: a real container (busybox
from the test registry, the default OCI runtime, cric-shim), the Exec/Attach
RPCs, and the streaming server over SPDY/3.1 and WebSocket."""
import json
import os
import subprocess
import sys
import time
import uuid

import grpc
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from spdy_client import SpdyClient, exec_streams  # noqa: E402
from ws_client import WsClient  # noqa: E402

V4 = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"]
SUCCESS = b'{"metadata":{},"status":"Success"}'


@pytest.fixture
def ctr(registry, daemon, pb):
    rt = daemon.runtime()
    ref = registry.ref("busybox:latest")
    daemon.image().PullImage(pb.PullImageRequest(image=pb.ImageSpec(image=ref)), timeout=120)
    pcfg = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name="st-" + uuid.uuid4().hex[:6], namespace="default",
                                       uid=uuid.uuid4().hex),
        log_directory=os.path.join(daemon.base, "logs"),
        linux=pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(
            namespace_options=pb.NamespaceOption(network=pb.NODE))))
    sid = rt.RunPodSandbox(pb.RunPodSandboxRequest(config=pcfg), timeout=120).pod_sandbox_id

    def make(command, tty=False, stdin=False):
        ccfg = pb.ContainerConfig(metadata=pb.ContainerMetadata(name="c" + uuid.uuid4().hex[:6]),
                                  image=pb.ImageSpec(image=ref), command=command,
                                  envs=[pb.KeyValue(key="GREETING", value=b"from-cri")],
                                  working_dir="/tmp", tty=tty, stdin=stdin, log_path="c.log")
        cid = rt.CreateContainer(pb.CreateContainerRequest(pod_sandbox_id=sid, config=ccfg,
                                                           sandbox_config=pcfg),
                                 timeout=120).container_id
        rt.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=120)
        return cid

    yield make
    rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=sid), timeout=120)
    rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=sid), timeout=120)


def exec_url(d, pb, cid, cmd, **kw):
    return d.runtime().Exec(pb.ExecRequest(container_id=cid, cmd=cmd, **kw)).url


def test_exec_spdy_streams_status_env(daemon, pb, ctr):
    cid = ctr(["sleep", "1000"])
    c = SpdyClient.connect(exec_url(daemon, pb, cid, [
        "sh", "-c", "echo $GREETING; pwd; echo err >&2; exit 3"], stdout=True, stderr=True), V4)
    ids = exec_streams(c)
    assert c.wait_fin(list(ids.values()), 30)
    assert c.data(ids["stdout"]) == b"from-cri\n/tmp\n"
    assert c.data(ids["stderr"]) == b"err\n"
    assert json.loads(c.data(ids["error"])) == {
        "metadata": {}, "status": "Failure",
        "message": "command terminated with non-zero exit code: error executing command "
                   "[sh -c echo $GREETING; pwd; echo err >&2; exit 3], exit code 3",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}}
    c.close()
    # by id prefix, interactive cat
    c = SpdyClient.connect(exec_url(daemon, pb, cid[:12], ["cat"], stdin=True, stdout=True), V4)
    ids = exec_streams(c, stdin=True, stderr=False)
    c.send(ids["stdin"], b"hello cat\n")
    assert c.wait(lambda: c.data(ids["stdout"]) == b"hello cat\n", 10)
    c.close_stream(ids["stdin"])
    assert c.wait_fin([ids["stdout"], ids["error"]], 10)
    assert c.data(ids["error"]) == SUCCESS
    c.close()


def test_exec_tty_and_websocket(daemon, pb, ctr):
    cid = ctr(["sleep", "1000"])
    c = SpdyClient.connect(exec_url(daemon, pb, cid, ["sh", "-c", "read x; stty size"],
                                    tty=True, stdin=True, stdout=True), V4)
    ids = exec_streams(c, stdin=True, tty=True)
    c.send(ids["resize"], b'{"Width":101,"Height":31}')
    time.sleep(0.3)
    c.send(ids["stdin"], b"go\n")
    assert c.wait_fin([ids["stdout"], ids["error"]], 30)
    assert b"31 101" in c.data(ids["stdout"])
    assert c.data(ids["error"]) == SUCCESS
    c.close()
    w = WsClient.connect(exec_url(daemon, pb, cid, ["cat"], stdin=True, stdout=True),
                         ["v5.channel.k8s.io"])
    w.send(0, b"over websocket\n")
    assert w.wait(lambda: w.data(1) == b"over websocket\n", 10)
    w.close_channel(0)
    assert w.wait_closed(10)
    assert w.data(3) == SUCCESS


def test_exec_client_gone_kills_and_not_running_refused(daemon, pb, ctr):
    cid = ctr(["sleep", "1000"])
    c = SpdyClient.connect(exec_url(daemon, pb, cid, ["sleep", "987"], stdin=True, stdout=True),
                           V4)
    exec_streams(c, stdin=True, stderr=False)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and \
            subprocess.run(["pgrep", "-f", "sleep 987"], capture_output=True).returncode != 0:
        time.sleep(0.05)
    assert subprocess.run(["pgrep", "-f", "sleep 987"], capture_output=True).returncode == 0
    c.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and \
            subprocess.run(["pgrep", "-f", "sleep 987"], capture_output=True).returncode == 0:
        time.sleep(0.05)
    assert subprocess.run(["pgrep", "-f", "sleep 987"], capture_output=True).returncode != 0
    daemon.runtime().StopContainer(pb.StopContainerRequest(container_id=cid, timeout=0))
    with pytest.raises(grpc.RpcError) as e:
        exec_url(daemon, pb, cid, ["true"], stdout=True)
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as e:
        exec_url(daemon, pb, "0" * 64, ["true"], stdout=True)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND


def test_attach(daemon, pb, ctr):
    cid = ctr(["sh", "-c", "while read l; do echo \"got $l\"; done"], stdin=True)
    url = daemon.runtime().Attach(pb.AttachRequest(container_id=cid, stdin=True, stdout=True,
                                                   stderr=True)).url
    c = SpdyClient.connect(url, V4)
    ids = exec_streams(c, stdin=True)
    time.sleep(0.3)
    c.send(ids["stdin"], b"one\n")
    assert c.wait(lambda: c.data(ids["stdout"]) == b"got one\n", 10), c.data(ids["error"])
    c.close()  # detach: the container keeps running
    st = daemon.runtime().ContainerStatus(pb.ContainerStatusRequest(container_id=cid))
    assert st.status.state == pb.CONTAINER_RUNNING
