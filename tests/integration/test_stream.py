"""Streaming (Exec/Attach/PortForward URLs, SPDY/3.1 and WebSocket) against the
real daemon. Port-forward runs end to end into a real pod sandbox (CNI bridge
from test_sandbox) with a server started inside the pod's network namespace.
Exec and attach run end to end in the unit tests (tests/unit/stream) until
the container service is wired in; here their RPC validation is checked."""
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

import grpc
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from spdy_client import HTTPError, SpdyClient, http_request, read_response_head  # noqa: E402
from test_sandbox import bridge_conflist, cni_env, pod_config, run, stop_remove  # noqa: E402,F401
from ws_client import WsClient  # noqa: E402

PF = ["portforward.k8s.io"]
MB = 1024 * 1024

POD_SERVER = r"""
import hashlib, socket, sys, threading
port = int(sys.argv[1])
def handle(c):
    f = c.makefile("rb")
    words = f.readline().split()
    if not words:
        c.close(); return
    if words[0] == b"UP":
        left = int(words[1]); h = hashlib.sha256()
        while left:
            d = f.read(min(left, 1 << 20))
            if not d: break
            h.update(d); left -= len(d)
        c.sendall(h.hexdigest().encode() + b"\n")
    elif words[0] == b"DOWN":
        n = int(words[1]); block = bytes(range(256)) * 4096; sent = 0
        try:
            while sent < n:
                part = block[:min(len(block), n - sent)]
                c.sendall(part); sent += len(part)
        except OSError:
            pass
    elif words[0] == b"ECHO":
        rest = f.peek(0) if hasattr(f, "peek") else b""
        while True:
            d = f.read1(65536)
            if not d: break
            c.sendall(d)
    c.close()
def serve(fam, addr, p):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, p)); s.listen(64)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c,), daemon=True).start()
threading.Thread(target=serve, args=(socket.AF_INET, "127.0.0.1", port), daemon=True).start()
threading.Thread(target=serve, args=(socket.AF_INET6, "::1", port + 1), daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
"""


def stream_base(d):
    m = re.search(r"streaming server listening on (http://[0-9.]+:\d+)", d.log())
    assert m, d.log()
    return m.group(1)


def code_of(fn):
    with pytest.raises(grpc.RpcError) as e:
        fn()
    return e.value.code()


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


@pytest.fixture
def pfd(make_daemon, cni_env, pb):
    """A daemon on the test bridge, one ready pod and a server inside its
    network namespace on 127.0.0.1:18080 and [::1]:18081."""
    pods = []

    def factory(config=None):
        d = make_daemon(config=config)
        with open(os.path.join(d.cni_dir, "10-cric-test.conflist"), "w") as f:
            json.dump(bridge_conflist(cni_env["ipam"]), f)
        sid = run(d, pb, pod_config(pb))
        netns = os.path.join(d.state, "sandboxes", sid, "ns", "net")
        subprocess.run(["nsenter", "--net=" + netns, "ip", "link", "set", "lo", "up"], check=True)
        srv = subprocess.Popen(["nsenter", "--net=" + netns, "/usr/bin/python3", "-c",
                                POD_SERVER, "18080"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
        assert srv.stdout.readline().strip() == "ready"
        pods.append((d, sid, srv))
        d.sid = sid
        return d

    yield factory
    for d, sid, srv in pods:
        srv.kill()
        srv.wait()
        if d.proc is not None and d.proc.poll() is not None:
            print(d.log()[-6000:])
        if d.proc is not None:
            stop_remove(d, pb, sid)


def pf_url(d, pb, ports=()):
    return d.runtime().PortForward(pb.PortForwardRequest(pod_sandbox_id=d.sid,
                                                         port=list(ports))).url


def pf_pair(c, port, rid):
    err = c.open({"streamtype": "error", "port": str(port), "requestid": str(rid)})
    c.close_stream(err)  # kubectl closes its side of the error stream at once
    data = c.open({"streamtype": "data", "port": str(port), "requestid": str(rid)})
    return err, data


def test_exec_attach_validation(daemon, pb):
    rt = daemon.runtime()
    assert code_of(lambda: rt.Exec(pb.ExecRequest(container_id="abc", cmd=["sh"], stdin=True))) \
        == grpc.StatusCode.INVALID_ARGUMENT
    assert code_of(lambda: rt.Exec(pb.ExecRequest(container_id="abc", cmd=["sh"], tty=True,
                                                  stdout=True, stderr=True))) \
        == grpc.StatusCode.INVALID_ARGUMENT
    assert code_of(lambda: rt.Exec(pb.ExecRequest(container_id="abc", cmd=[], stdout=True))) \
        == grpc.StatusCode.INVALID_ARGUMENT
    assert code_of(lambda: rt.Exec(pb.ExecRequest(container_id="", cmd=["sh"], stdout=True))) \
        == grpc.StatusCode.INVALID_ARGUMENT
    assert code_of(lambda: rt.Attach(pb.AttachRequest(container_id="abc", tty=True, stdout=True,
                                                      stderr=True))) \
        == grpc.StatusCode.INVALID_ARGUMENT
    assert code_of(lambda: rt.Attach(pb.AttachRequest(container_id="abc"))) \
        == grpc.StatusCode.INVALID_ARGUMENT
    # A well-formed request for a container that cannot be found (or, until the
    # container service is wired in, cannot be reached) gets no URL.
    assert code_of(lambda: rt.Exec(pb.ExecRequest(container_id="abc", cmd=["sh"], stdout=True))) \
        in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNIMPLEMENTED)
    assert code_of(lambda: rt.PortForward(pb.PortForwardRequest(pod_sandbox_id="f" * 64,
                                                                port=[80]))) \
        == grpc.StatusCode.NOT_FOUND
    assert code_of(lambda: rt.PortForward(pb.PortForwardRequest(pod_sandbox_id="", port=[80]))) \
        == grpc.StatusCode.INVALID_ARGUMENT


def test_bad_http_input_keeps_serving(daemon):
    base = stream_base(daemon)
    cases = [
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64) + b"\r\n\r\n", 400),
        (b"GET /exec/" + b"a" * 32 + b" HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
         b"Upgrade: SPDY/3.1\r\n\r\n", 404),
        (b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        (b"GET /exec/x HTTP/1.1\r\n" + b"X-Big: " + b"b" * 20000 + b"\r\n\r\n", 431),
        (b"DELETE /exec/x HTTP/1.1\r\nHost: x\r\n\r\n", 405),
    ]
    host, port = base[len("http://"):].split(":")
    for raw, want in cases:
        s = socket.create_connection((host, int(port)), timeout=10)
        s.sendall(raw)
        resp = b""
        try:
            while b"\r\n" not in resp:
                chunk = s.recv(4096)
                if not chunk:
                    break
                resp += chunk
        except OSError:
            pass
        s.close()
        assert resp.startswith(b"HTTP/1.1 %d" % want), (raw[:40], resp)
    # half a request, then gone; and a connection that says nothing
    s = socket.create_connection((host, int(port)))
    s.sendall(b"GET /exec/")
    s.close()
    idle = socket.create_connection((host, int(port)))
    assert daemon.runtime().Version(__import__("cri_pb2").VersionRequest()).runtime_name == "cric"
    idle.close()


def test_portforward_spdy(pfd, pb):
    d = pfd()
    base_fds = fd_count(d.proc.pid)
    c = SpdyClient.connect(pf_url(d, pb, [18080]), PF)
    assert c.protocol == "portforward.k8s.io"
    # a port nobody listens on: an error on that pair's error stream only
    e0, d0 = pf_pair(c, 1, 0)
    assert c.wait_fin([e0, d0], 10)
    msg = c.data(e0).decode()
    assert msg.startswith("error forwarding port 1 to pod %s, uid : " % d.sid), msg
    assert "connection refused" in msg.lower()
    # 50 MB up, intact
    e1, d1 = pf_pair(c, 18080, 1)
    c.send(d1, b"UP %d\n" % (50 * MB))
    block = os.urandom(MB)
    h = hashlib.sha256()
    t0 = time.monotonic()
    for _ in range(50):
        c.send(d1, block)
        h.update(block)
    assert c.wait_bytes(d1, 65, 120)
    up_s = time.monotonic() - t0
    assert c.data(d1).decode().strip() == h.hexdigest()
    c.close_stream(d1)
    assert c.wait_fin([e1, d1], 10)
    assert c.data(e1) == b""
    # 50 MB down, intact
    e2, d2 = pf_pair(c, 18080, 2)
    t0 = time.monotonic()
    c.send(d2, b"DOWN %d\n" % (50 * MB), fin=True)
    assert c.wait_fin([d2], 120)
    down_s = time.monotonic() - t0
    got = c.data(d2)
    assert len(got) == 50 * MB
    assert hashlib.sha256(got).hexdigest() == \
        hashlib.sha256((bytes(range(256)) * 4096) * 50).hexdigest()
    print("port-forward SPDY 50MB: up %.2fs (%.0f MB/s), down %.2fs (%.0f MB/s)"
          % (up_s, 50 / up_s, down_s, 50 / down_s))
    # IPv6 loopback in the pod, and many concurrent connections
    pairs = [pf_pair(c, 18081 if i % 2 else 18080, 10 + i) for i in range(16)]
    for i, (_, dd) in enumerate(pairs):
        c.send(dd, b"ECHO\nhello %d" % i, fin=True)
    assert c.wait_fin([x for p in pairs for x in p], 20)
    for i, (_, dd) in enumerate(pairs):
        assert c.data(dd) == b"hello %d" % i
    c.close()
    # the daemon gives back what the session held
    deadline = time.monotonic() + 10
    while fd_count(d.proc.pid) > base_fds and time.monotonic() < deadline:
        time.sleep(0.1)
    assert fd_count(d.proc.pid) <= base_fds


def test_portforward_tokens_and_protocols(pfd, pb):
    d = pfd(config={"streaming": {"token_ttl_seconds": 1}})
    url = pf_url(d, pb)
    with pytest.raises(HTTPError) as e:
        SpdyClient.connect(url, ["v9.portforward.k8s.io"])
    assert e.value.status == 403
    assert "unable to negotiate protocol" in e.value.body
    with pytest.raises(HTTPError) as e:  # the token was used by the failed upgrade
        SpdyClient.connect(url, PF)
    assert e.value.status == 404
    url = pf_url(d, pb)
    time.sleep(1.5)
    with pytest.raises(HTTPError) as e:  # expired
        SpdyClient.connect(url, PF)
    assert e.value.status == 404
    # an exec protocol offered for port-forward is refused too
    with pytest.raises(HTTPError) as e:
        SpdyClient.connect(pf_url(d, pb), ["v4.channel.k8s.io"])
    assert e.value.status == 403
    # still serving
    c = SpdyClient.connect(pf_url(d, pb), PF)
    e1, d1 = pf_pair(c, 18080, 0)
    c.send(d1, b"ECHO\nping", fin=True)
    assert c.wait_fin([e1, d1], 10) and c.data(d1) == b"ping"
    c.close()


def test_portforward_disconnect_mid_stream(pfd, pb):
    d = pfd()
    base_fds = fd_count(d.proc.pid)
    for _ in range(3):
        c = SpdyClient.connect(pf_url(d, pb), PF, window_updates=False)
        e1, d1 = pf_pair(c, 18080, 0)
        c.send(d1, b"DOWN %d\n" % (200 * MB), fin=True)
        assert c.wait_bytes(d1, 4 * MB, 20)
        c.close()  # gone mid-transfer, with unread data and a full pipe
    # garbage inside an upgraded session: GOAWAY, connection closed
    c = SpdyClient.connect(pf_url(d, pb), PF)
    c._send(b"\x80\x03\x00\x01\x00\x00\x00\x0a" + b"\x00" * 4 + b"\xff" * 6)
    assert c.wait(lambda: c.goaway or c.closed, 10)
    c.close()
    deadline = time.monotonic() + 15
    while fd_count(d.proc.pid) > base_fds and time.monotonic() < deadline:
        time.sleep(0.1)
    assert fd_count(d.proc.pid) <= base_fds
    c = SpdyClient.connect(pf_url(d, pb), PF)
    e1, d1 = pf_pair(c, 18080, 0)
    c.send(d1, b"ECHO\nstill here", fin=True)
    assert c.wait_fin([e1, d1], 10) and c.data(d1) == b"still here"
    c.close()


@pytest.mark.parametrize("proto", ["v4.channel.k8s.io", "v4.base64.channel.k8s.io"])
def test_portforward_websocket(pfd, pb, proto):
    d = pfd()
    c = WsClient.connect(pf_url(d, pb, [18080, 1, 18081]), [proto])
    assert c.protocol == proto
    # every channel starts with its port, little-endian
    assert c.wait(lambda: all(len(c.channels.get(ch, b"")) >= 2 for ch in range(6)), 10)
    for i, port in enumerate([18080, 1, 18081]):
        assert c.data(2 * i)[:2] == port.to_bytes(2, "little")
        assert c.data(2 * i + 1)[:2] == port.to_bytes(2, "little")
    assert c.wait(lambda: len(c.channels.get(3, b"")) > 2, 10)
    assert b"error forwarding port 1 to pod" in c.data(3)
    c.send(0, b"ECHO\nover websocket")
    c.send(4, b"ECHO\nover ipv6")
    assert c.wait(lambda: c.data(0)[2:] == b"over websocket" and c.data(4)[2:] == b"over ipv6",
                  10)
    c.close()
    assert c.wait_closed(10)


def test_portforward_websocket_needs_ports(pfd, pb):
    d = pfd()
    with pytest.raises(HTTPError) as e:
        WsClient.connect(pf_url(d, pb), ["v4.channel.k8s.io"])
    assert e.value.status == 400
    c = WsClient.connect(pf_url(d, pb) + "?port=18080", ["v4.channel.k8s.io"])
    c.send(0, b"ECHO\nq")
    assert c.wait(lambda: c.data(0)[2:] == b"q", 10)
    c.abort()


@pytest.fixture
def tls_files(tmp_path):
    cert, key = str(tmp_path / "stream.crt"), str(tmp_path / "stream.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    import spdy_client
    import ssl
    spdy_client.TLS_CONTEXT = ssl.create_default_context(cafile=cert)
    yield cert, key
    spdy_client.TLS_CONTEXT = None


def test_portforward_over_tls(pfd, pb, tls_files):
    cert, key = tls_files
    d = pfd(config={"streaming": {"tls_cert": cert, "tls_key": key}})
    url = pf_url(d, pb)
    assert url.startswith("https://127.0.0.1:")
    # TLS runs in the helper cric-tls: the daemon maps no OpenSSL.
    with open("/proc/%d/maps" % d.proc.pid) as f:
        maps = f.read()
    assert "libssl" not in maps and "libcrypto" not in maps
    def child_names(pid):
        out = []
        for p in os.listdir("/proc"):
            try:
                st = open("/proc/%s/stat" % p).read() if p.isdigit() else ""
            except OSError:
                continue
            if st and int(st[st.rindex(")") + 2:].split()[1]) == pid:
                out.append(st[st.index("(") + 1:st.rindex(")")])
        return out
    assert "cric-tls" in child_names(d.proc.pid)
    c = SpdyClient.connect(url, PF)
    e1, d1 = pf_pair(c, 18080, 0)
    c.send(d1, b"UP %d\n" % (8 * MB))
    block = os.urandom(MB)
    for _ in range(8):
        c.send(d1, block)
    assert c.wait_bytes(d1, 65, 60)
    assert c.data(d1).decode().strip() == hashlib.sha256(block * 8).hexdigest()
    c.close()
    w = WsClient.connect(pf_url(d, pb, [18080]), ["v4.channel.k8s.io"])
    w.send(0, b"ECHO\nsecure")
    assert w.wait(lambda: w.data(0)[2:] == b"secure", 10)
    w.abort()
    # plain HTTP (or garbage) on the TLS port: refused, the daemon keeps serving
    host, port = url[len("https://"):].split("/")[0].split(":")
    s = socket.create_connection((host, int(port)), timeout=10)
    s.sendall(b"GET /portforward/x HTTP/1.1\r\nHost: x\r\n\r\n")
    s.settimeout(10)
    try:
        assert not s.recv(100).startswith(b"HTTP/1.1 101")
    except OSError:
        pass
    s.close()
    c = SpdyClient.connect(pf_url(d, pb), PF)
    e1, d1 = pf_pair(c, 18080, 0)
    c.send(d1, b"ECHO\nok", fin=True)
    assert c.wait_fin([e1, d1], 10) and c.data(d1) == b"ok"
    c.close()


def test_tls_bad_files_are_a_clear_startup_error(make_daemon, tls_files):
    cert, key = tls_files
    for tls_cert, tls_key, want in ((cert, cert, "streaming.tls_key"),
                                    ("/nonexistent.crt", key, "streaming.tls_cert /nonexistent.crt")):
        d = make_daemon(config={"streaming": {"tls_cert": tls_cert, "tls_key": tls_key}},
                        start=False)
        d.start(wait=False)
        assert d.proc.wait(20) != 0
        assert want in d.log(), d.log()[-2000:]
        d.proc = None
        d.logf.close()


def test_fixed_port_and_port_in_use(make_daemon):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    a = make_daemon(config={"streaming": {"port": port}})
    assert stream_base(a) == "http://127.0.0.1:%d" % port
    b = make_daemon(config={"streaming": {"port": port}}, start=False)
    b.start(wait=False)
    assert b.proc.wait(20) != 0
    assert "streaming: listen on 127.0.0.1 port %d" % port in b.log()
    b.proc = None
    b.logf.close()
