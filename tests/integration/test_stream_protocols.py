"""The streaming protocols end to end through the Python clients (the way
kubectl, the kubelet and crictl speak them), against stream_testserver: the
real streaming server with a test-only backend that runs local processes.
The daemon's own exec/attach backend needs the container service; these
tests pin the wire behaviour the kubelet relies on in the meantime."""
import json
import os
import statistics
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import BUILD, SANITIZER_MARKERS  # noqa: E402
from spdy_client import HTTPError, SpdyClient, exec_streams  # noqa: E402
from ws_client import WsClient  # noqa: E402

SERVER = os.path.join(BUILD, "tests", "unit", "stream", "stream_testserver")
V4 = ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"]
SUCCESS = b'{"metadata":{},"status":"Success"}'


class StreamTestServer:
    def __init__(self, *args):
        self.proc = subprocess.Popen([SERVER, *map(str, args)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        assert line and line[0] == "ready", line
        self.base = line[1]

    def url(self, request):
        self.proc.stdin.write(request + "\n")
        self.proc.stdin.flush()
        out = self.proc.stdout.readline().strip()
        assert out.startswith("http://"), out
        return out

    def last_pid(self):
        self.proc.stdin.write("pid\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def stop(self):
        if self.proc.stdin.closed:
            return
        self.proc.stdin.close()
        rc = self.proc.wait(30)
        err = self.proc.stderr.read()
        for m in SANITIZER_MARKERS:
            assert m not in err, err[-6000:]
        assert rc == 0, err[-4000:]


@pytest.fixture
def srv():
    if not os.path.exists(SERVER):
        pytest.skip("stream_testserver not built")
    made = []

    def factory(*args):
        s = StreamTestServer(*args)
        made.append(s)
        return s

    yield factory
    for s in made:
        if s.proc.poll() is None or not s.proc.stdin.closed:
            s.stop()


def pid_gone(pid, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


def run_spdy(s, request, stdin=None, tty=False, resize=None, protocols=V4):
    c = SpdyClient.connect(s.url(request), protocols)
    flags = request.split()[1]
    ids = exec_streams(c, stdin="i" in flags, stdout="o" in flags, stderr="e" in flags, tty=tty)
    if resize:
        c.send(ids["resize"], json.dumps(resize).encode())
    if stdin is not None:
        c.send(ids["stdin"], stdin, fin=True)
    assert c.wait_fin([i for k, i in ids.items() if k not in ("stdin", "resize")], 30), \
        {k: c.streams[i].fin for k, i in ids.items()}
    out = {k: c.data(i) for k, i in ids.items()}
    out["protocol"] = c.protocol
    out["goaway"] = c.wait(lambda: c.goaway, 5)
    c.close()
    return out


SCRIPT = "/tmp/cric-stream-test.sh"


@pytest.fixture
def script():
    def make(body):
        with open(SCRIPT, "w") as f:
            f.write(body)
        return SCRIPT
    yield make
    if os.path.exists(SCRIPT):
        os.unlink(SCRIPT)


def test_spdy_exec_exit_code(srv, script):
    s = srv()
    path = script("echo out; echo err >&2; exit 3\n")
    r = run_spdy(s, "exec oe sh %s" % path)
    assert r["protocol"] == "v4.channel.k8s.io"
    assert r["stdout"] == b"out\n" and r["stderr"] == b"err\n"
    assert json.loads(r["error"]) == {
        "metadata": {}, "status": "Failure",
        "message": "command terminated with non-zero exit code: error executing command "
                   "[sh %s], exit code 3" % path,
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}}
    assert r["goaway"]
    # older protocols: plain text on failure, nothing on success
    r = run_spdy(s, "exec oe sh %s" % path, protocols=["v2.channel.k8s.io"])
    assert r["error"] == b"command terminated with non-zero exit code: error executing " \
                         b"command [sh %s], exit code 3" % path.encode()
    r = run_spdy(s, "exec o true", protocols=["channel.k8s.io"])
    assert r["error"] == b""
    r = run_spdy(s, "exec o true", protocols=[])  # no negotiation: legacy v1
    assert r["protocol"] == "" and r["error"] == b""


def test_spdy_exec_interactive_cat(srv):
    s = srv()
    c = SpdyClient.connect(s.url("exec io cat"), V4)
    ids = exec_streams(c, stdin=True, stderr=False)
    for i in range(5):
        c.send(ids["stdin"], b"line %d\n" % i)
        assert c.wait(lambda: c.data(ids["stdout"]).endswith(b"line %d\n" % i), 10)
    c.close_stream(ids["stdin"])  # stdin closes cleanly: cat sees EOF
    assert c.wait_fin([ids["stdout"], ids["error"]], 10)
    assert c.data(ids["error"]) == SUCCESS
    c.close()


def test_spdy_exec_tty_resize(srv, script):
    s = srv()
    path = script("read x; stty size\n")
    r = run_spdy(s, "exec iot sh %s" % path, stdin=b"go\n", tty=True,
                 resize={"Width": 123, "Height": 45})
    assert b"45 123" in r["stdout"], r
    assert r["error"] == SUCCESS


def test_spdy_attach(srv):
    s = srv()
    r = run_spdy(s, "attach io", stdin=b"typed\n")
    assert r["stdout"] == b"attached\ntyped\n"
    assert r["error"] == SUCCESS


def test_spdy_client_gone_kills_exec(srv):
    s = srv()
    c = SpdyClient.connect(s.url("exec io sleep 1000"), V4)
    exec_streams(c, stdin=True, stderr=False)
    deadline = time.monotonic() + 10
    pid = 0
    while not pid and time.monotonic() < deadline:
        pid = s.last_pid()
        time.sleep(0.05)
    assert pid
    c.close()
    assert pid_gone(pid)
    # and it keeps serving
    assert run_spdy(s, "exec o true")["error"] == SUCCESS


@pytest.mark.parametrize("proto", ["v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io",
                                   "v4.base64.channel.k8s.io", "base64.channel.k8s.io"])
def test_websocket_exec(srv, script, proto):
    s = srv()
    path = script("echo out; echo err >&2; exit 3\n")
    c = WsClient.connect(s.url("exec oe sh %s" % path), [proto])
    assert c.protocol == proto
    assert c.wait_closed(30)
    assert c.messages[0] == (1, b"")  # the empty hello on the first writable channel
    assert c.data(1) == b"out\n" and c.data(2) == b"err\n"
    if proto.startswith(("v4", "v5")):
        assert json.loads(c.data(3))["details"]["causes"] == [{"reason": "ExitCode",
                                                               "message": "3"}]
    else:
        assert c.data(3).endswith(b"exit code 3")
    assert c.close_code == 1000


def test_websocket_v5_close_signal_ends_stdin(srv):
    s = srv()
    c = WsClient.connect(s.url("exec io cat"), ["v5.channel.k8s.io"])
    c.send(0, b"through cat\n")
    assert c.wait(lambda: c.data(1) == b"through cat\n", 10)
    c.close_channel(0)
    assert c.wait_closed(10)
    assert c.data(3) == SUCCESS


def test_websocket_tty_resize(srv, script):
    s = srv()
    path = script("read x; stty size\n")
    c = WsClient.connect(s.url("exec iot sh %s" % path), ["v4.channel.k8s.io"])
    c.send(4, b'{"Width":90,"Height":30}')
    time.sleep(0.2)
    c.send(0, b"go\n")
    assert c.wait_closed(10)
    assert b"30 90" in c.data(1)
    assert c.data(3) == SUCCESS


def test_bad_input(srv):
    s = srv()
    with pytest.raises(HTTPError) as e:
        SpdyClient.connect(s.url("exec o true"), ["v9.channel.k8s.io"])
    assert e.value.status == 403
    with pytest.raises(HTTPError) as e:
        WsClient.connect(s.url("exec o true"), ["v9.channel.k8s.io"])
    assert e.value.status == 403
    url = s.url("exec o true")
    assert run_spdy_url(url)["error"] == SUCCESS
    with pytest.raises(HTTPError) as e:
        SpdyClient.connect(url, V4)
    assert e.value.status == 404
    # a client that never creates its streams, and one that dies half way
    c = SpdyClient.connect(s.url("exec oe true"), V4)
    c.open({"streamtype": "error"})
    c.close()
    c = SpdyClient.connect(s.url("exec oe true"), V4)
    c.open({"streamtype": "bogus"})
    c.close()
    assert run_spdy(s, "exec o true")["error"] == SUCCESS


def run_spdy_url(url):
    c = SpdyClient.connect(url, V4)
    ids = exec_streams(c, stderr=False)
    assert c.wait_fin(list(ids.values()), 10)
    out = {k: c.data(i) for k, i in ids.items()}
    c.close()
    return out


def test_session_cap_and_idle_timeout(srv):
    s = srv(2, 1)  # at most 2 sessions, 1 s idle timeout
    held = []
    for _ in range(2):
        c = SpdyClient.connect(s.url("exec io sleep 1000"), V4)
        exec_streams(c, stdin=True, stderr=False)
        held.append(c)
    with pytest.raises(HTTPError) as e:
        SpdyClient.connect(s.url("exec o true"), V4)
    assert e.value.status == 503
    pid = s.last_pid()
    # idle: nothing flows, the server ends the sessions and kills the processes
    for c in held:
        assert c.wait(lambda: c.closed, 10)
    assert pid_gone(pid)
    assert run_spdy(s, "exec o true")["error"] == SUCCESS


def test_exec_round_trip_latency(srv):
    s = srv()
    times = []
    for _ in range(20):
        t0 = time.monotonic()
        r = run_spdy_url(s.url("exec o echo hi"))
        times.append(time.monotonic() - t0)
        assert r["stdout"] == b"hi\n" and r["error"] == SUCCESS
    print("exec round trip (URL + SPDY upgrade + echo hi + status): median %.1f ms, "
          "p90 %.1f ms" % (statistics.median(times) * 1000,
                           sorted(times)[int(len(times) * 0.9)] * 1000))


def test_finished_session_closed_for_lingering_client(srv):
    s = srv()
    fds = lambda: len(os.listdir("/proc/%d/fd" % s.proc.pid))  # noqa: E731
    base = fds()
    c = SpdyClient.connect(s.url("exec o true"), V4)
    ids = exec_streams(c, stderr=False)
    assert c.wait_fin(list(ids.values()), 10)
    assert c.wait(lambda: c.goaway, 10)
    # the server half-closes at once; a client that keeps its end open is cut
    # off a few seconds later, so its connection does not hold a slot
    assert c.wait(lambda: c.closed, 10)
    deadline = time.monotonic() + 12
    while fds() > base and time.monotonic() < deadline:
        time.sleep(0.2)
    assert fds() <= base
    c.close()


def test_shutdown_with_live_sessions(srv):
    s = srv()
    c = SpdyClient.connect(s.url("exec io sleep 1000"), V4)
    exec_streams(c, stdin=True, stderr=False)
    w = WsClient.connect(s.url("exec io cat"), ["v5.channel.k8s.io"])
    deadline = time.monotonic() + 10
    pid = 0
    while not pid and time.monotonic() < deadline:
        pid = s.last_pid()
        time.sleep(0.05)
    t0 = time.monotonic()
    s.stop()  # exits 0, sanitizer-clean, every handle closed (checked by stop)
    assert time.monotonic() - t0 < 10
    assert pid_gone(pid)
    assert c.wait(lambda: c.closed, 5) and w.wait_closed(5)
    c.close()
    w.abort()


def test_fuzzed_frames_after_upgrade(srv):
    """Random and mutated SPDY frames and WebSocket frames from a client:
    the server answers with GOAWAY/close or ignores them, never crashes, and
    keeps serving (the fixture checks the ASan log and a clean exit)."""
    import random
    import struct
    import zlib
    from spdy_client import DICTIONARY
    rnd = random.Random(1234)
    s = srv()

    def syn(sid, headers, z):
        raw = struct.pack(">I", len(headers))
        for k, v in headers.items():
            raw += struct.pack(">I", len(k)) + k + struct.pack(">I", len(v)) + v
        block = z.compress(raw) + z.flush(zlib.Z_SYNC_FLUSH)
        return SpdyClient.control(1, 0, struct.pack(">IIBB", sid, 0, 0, 0) + block)

    for i in range(60):
        c = SpdyClient.connect(s.url("exec ioe cat" if i % 2 else "exec iot cat"), V4)
        z = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15, 8,
                             zlib.Z_DEFAULT_STRATEGY, DICTIONARY)
        frames = [syn(1, {b"streamtype": b"error"}, z), syn(3, {b"streamtype": b"stdin"}, z)]
        for _ in range(rnd.randint(1, 6)):
            kind = rnd.randint(0, 6)
            if kind == 0:
                frames.append(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 40))))
            elif kind == 1:  # data for known and unknown streams, odd lengths
                sid = rnd.choice([1, 3, 5, 2, 0x7fffffff])
                payload = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 100)))
                frames.append(struct.pack(">II", sid, (rnd.randint(0, 3) << 24) | len(payload))
                              + payload)
            elif kind == 2:  # control frames with lying lengths
                t = rnd.randint(0, 12)
                body = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 16)))
                frames.append(struct.pack(">HHI", 0x8003, t, rnd.randint(0, 40)) + body)
            elif kind == 3:  # a header block that is not zlib
                frames.append(SpdyClient.control(1, 0, struct.pack(">IIBB", 7, 0, 0, 0) +
                                                 b"not zlib at all"))
            elif kind == 4:  # resize garbage
                frames.append(syn(9, {b"streamtype": b"resize"}, z))
                frames.append(struct.pack(">II", 9, 12) + b'{"Width":-1}')
            elif kind == 5:  # window update and settings extremes
                frames.append(SpdyClient.control(9, 0, struct.pack(">II", 1, 0x7fffffff)))
                frames.append(SpdyClient.control(4, 0, struct.pack(">IIII", 1, 7, 0xffffffff, 0)))
            else:  # a huge declared frame
                frames.append(struct.pack(">II", 1, 0x00ffffff))
        try:
            c._send(b"".join(frames))
        except OSError:
            pass
        c.wait(lambda: c.closed or c.goaway, 0.3)
        c.close()
    for i in range(40):
        w = WsClient.connect(s.url("exec io cat"), ["v5.channel.k8s.io", "base64.channel.k8s.io"]
                             [i % 2: i % 2 + 1])
        for _ in range(rnd.randint(1, 5)):
            op = rnd.choice([1, 2, 8, 9, 10, 0, 3, 15])
            payload = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 60)))
            try:
                w._frame(op, payload)
            except OSError:
                break
        try:
            w.sock.sendall(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 30))))
        except OSError:
            pass
        w.wait_closed(0.3)
        w.abort()
    assert run_spdy(s, "exec o echo still-serving")["stdout"] == b"still-serving\n"
