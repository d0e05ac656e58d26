"""Exec through the real OCI runtimes (crun, runc) into a running busybox
container, streamed over SPDY and WebSocket: the path the daemon's exec
backend takes (src/stream/ociexec.c), driven by stream_testserver --oci
until the container service is wired in."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bundle import ensure_crun_cgroup_layout, make_bundle  # noqa: E402
from spdy_client import SpdyClient, exec_streams  # noqa: E402
from test_stream_protocols import SERVER, SUCCESS, V4, StreamTestServer, pid_gone  # noqa: E402
from ws_client import WsClient  # noqa: E402

pytestmark = pytest.mark.skipif(not os.path.exists(SERVER), reason="stream_testserver not built")


@pytest.fixture(params=["runc", "crun"])
def container(request):
    runtime = shutil.which(request.param)
    if not runtime:
        pytest.skip(request.param + " not installed")
    if request.param == "crun":
        try:
            ensure_crun_cgroup_layout()
        except subprocess.CalledProcessError:
            pytest.skip("crun cannot run on this cgroup layout")
    base = tempfile.mkdtemp(prefix="cric-oci-", dir="/tmp")
    root = os.path.join(base, "state")
    bundle = os.path.join(base, "bundle")

    def patch(cfg):
        cfg["process"]["cwd"] = "/tmp"
        cfg["process"]["env"].append("GREETING=from-config")
        cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"]
                                      if n["type"] != "network"]
    make_bundle(bundle, ["sleep", "1000"], config_patch=patch)
    rootfs = os.path.join(bundle, "rootfs")
    scripts = {
        "three.sh": "echo $GREETING; pwd; echo err >&2; exit 3\n",
        "tty.sh": "read x; stty size; tty\n",
    }
    for name, body in scripts.items():
        with open(os.path.join(rootfs, name), "w") as f:
            f.write(body)
    cid = "s" + uuid.uuid4().hex[:12]
    subprocess.run([runtime, "--root", root, "run", "-d", "--bundle", bundle, cid], check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, timeout=60)
    work = os.path.join(base, "w")
    os.makedirs(work)
    srv = StreamTestServer("--oci", runtime, root, cid, os.path.join(bundle, "config.json"),
                           work)
    yield {"srv": srv, "runtime": runtime, "root": root, "id": cid, "work": work}
    srv.stop()
    subprocess.run([runtime, "--root", root, "delete", "-f", cid], check=False,
                   capture_output=True, timeout=60)
    leftovers = os.listdir(work)
    shutil.rmtree(base, ignore_errors=True)
    assert leftovers == [], leftovers


def test_oci_exec_spdy(container):
    s = container["srv"]
    c = SpdyClient.connect(s.url("exec oe sh /three.sh"), V4)
    ids = exec_streams(c)
    assert c.wait_fin(list(ids.values()), 30)
    # the container's env and cwd apply to the exec
    assert c.data(ids["stdout"]) == b"from-config\n/tmp\n"
    assert c.data(ids["stderr"]) == b"err\n"
    status = json.loads(c.data(ids["error"]))
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"][0]["message"] == "3"
    assert status["message"].endswith("[sh /three.sh], exit code 3")
    c.close()
    # interactive stdin
    c = SpdyClient.connect(s.url("exec io cat"), V4)
    ids = exec_streams(c, stdin=True, stderr=False)
    c.send(ids["stdin"], b"into the container\n")
    assert c.wait(lambda: c.data(ids["stdout"]) == b"into the container\n", 10)
    c.close_stream(ids["stdin"])
    assert c.wait_fin([ids["stdout"], ids["error"]], 10)
    assert c.data(ids["error"]) == SUCCESS
    c.close()


def test_oci_exec_tty_resize(container):
    s = container["srv"]
    c = SpdyClient.connect(s.url("exec iot sh /tty.sh"), V4)
    ids = exec_streams(c, stdin=True, tty=True)
    c.send(ids["resize"], b'{"Width":132,"Height":43}')
    time.sleep(0.3)
    c.send(ids["stdin"], b"go\n")
    assert c.wait_fin([ids["stdout"], ids["error"]], 30)
    out = c.data(ids["stdout"])
    assert b"43 132" in out and b"/dev/pts/" in out, out
    assert c.data(ids["error"]) == SUCCESS
    c.close()


def test_oci_exec_websocket_v5(container):
    s = container["srv"]
    c = WsClient.connect(s.url("exec io cat"), ["v5.channel.k8s.io"])
    c.send(0, b"ws in\n")
    assert c.wait(lambda: c.data(1) == b"ws in\n", 10)
    c.close_channel(0)
    assert c.wait_closed(10)
    assert c.data(3) == SUCCESS


def test_oci_exec_client_gone_kills(container):
    s = container["srv"]
    c = SpdyClient.connect(s.url("exec io sleep 999"), V4)
    exec_streams(c, stdin=True, stderr=False)
    deadline = time.monotonic() + 10
    pid = 0
    while not pid and time.monotonic() < deadline:
        pid = s.last_pid()
        time.sleep(0.05)
    time.sleep(0.5)
    c.close()
    assert pid_gone(pid)  # the runtime exited: its process in the container was killed
    ps = subprocess.run([container["runtime"], "--root", container["root"], "ps",
                         container["id"]], capture_output=True, text=True).stdout
    assert "999" not in ps, ps


def test_oci_exec_default_signal_dispositions(container):
    # the server ignores SIGPIPE; the exec'd process must not inherit that
    # (an ignored signal stays ignored across exec)
    s = container["srv"]
    c = SpdyClient.connect(s.url("exec o grep SigIgn /proc/self/status"), V4)
    ids = exec_streams(c, stderr=False)
    assert c.wait_fin(list(ids.values()), 20)
    assert c.data(ids["stdout"]).split() == [b"SigIgn:", b"0000000000000000"]
    assert c.data(ids["error"]) == SUCCESS
    c.close()


def test_oci_exec_missing_runtime_is_a_clear_error(tmp_path):
    s = StreamTestServer("--oci", "/nonexistent/runtime", str(tmp_path), "c1",
                         str(tmp_path / "config.json"), str(tmp_path))
    try:
        c = SpdyClient.connect(s.url("exec o true"), V4)
        ids = exec_streams(c, stderr=False)
        assert c.wait_fin(list(ids.values()), 10)
        status = json.loads(c.data(ids["error"]))
        assert status["reason"] == "InternalError"
        assert "OCI runtime /nonexistent/runtime: No such file or directory" in status["message"]
        c.close()
    finally:
        s.stop()
