"""Access: the streaming server listens on loopback only by default and runs
nothing without its single-use token; registry credentials and tokens never
reach the daemon's log (at debug level) or the errors returned to clients.
(Socket mode and owner: test_daemon.py; port-forward token reuse and expiry:
test_stream.py.)"""
import base64
import os
import secrets
import sys
import time
import urllib.parse

import grpc
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from registry import Registry, TokenServer, busybox_layer_cached  # noqa: E402
from spdy_client import HTTPError, SpdyClient, exec_streams  # noqa: E402
from test_stream_exec import V4, ctr  # noqa: E402,F401
from ws_client import WsClient  # noqa: E402


@pytest.fixture
def daemon(make_daemon):
    """Tokens expire after 2 s here, so expiry is testable."""
    return make_daemon(config={"streaming": {"token_ttl_seconds": 2}})


def listening_tcp(pid):
    """(address, port) of every TCP socket the process listens on."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if t.startswith("socket:["):
            inodes.add(t[8:-1])
    out = []
    for name in ("tcp", "tcp6"):
        with open("/proc/%d/net/%s" % (pid, name)) as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if cols[3] != "0A" or cols[9] not in inodes:  # 0A: LISTEN
                    continue
                addr, port = cols[1].split(":")
                raw = bytes.fromhex(addr)
                if name == "tcp":
                    ip = ".".join(str(b) for b in raw[::-1])
                else:
                    words = [raw[i:i + 4][::-1] for i in range(0, 16, 4)]
                    ip = b"".join(words).hex()
                out.append((ip, int(port, 16)))
    return out


def test_streaming_server_listens_on_loopback_only(daemon, pb):
    socks = listening_tcp(daemon.proc.pid)
    assert socks, "no streaming listener found"
    assert all(ip == "127.0.0.1" for ip, _ in socks), socks


def marker_absent(daemon, pb, cid, name):
    r = daemon.runtime().ExecSync(pb.ExecSyncRequest(container_id=cid, cmd=["ls", "/tmp"],
                                                     timeout=10), timeout=60)
    assert r.exit_code == 0
    return name not in r.stdout.decode()


def test_exec_urls_need_their_single_use_token(daemon, pb, ctr):
    cid = ctr(["sleep", "1000"])
    rt = daemon.runtime()

    def url_for(name):
        return rt.Exec(pb.ExecRequest(container_id=cid, cmd=["touch", "/tmp/" + name],
                                      stdout=True, stderr=True)).url

    def refused(url, ws=False):
        with pytest.raises(HTTPError) as e:
            if ws:
                WsClient.connect(url, ["v4.channel.k8s.io"])
            else:
                SpdyClient.connect(url, V4)
        assert e.value.status == 404, (url, e.value.status, e.value.body)

    url = url_for("ran-none")
    u = urllib.parse.urlsplit(url)
    base = "%s://%s" % (u.scheme, u.netloc)
    kind, token = u.path.strip("/").split("/", 1)
    assert kind == "exec" and len(token) >= 16
    # No token, an empty one, a wrong one, one with the last character changed.
    refused(base + "/exec/")
    refused(base + "/exec")
    refused(base + "/exec/" + "A" * len(token))
    refused(base + "/exec/" + token[:-1] + ("B" if token[-1] != "B" else "C"))
    refused(base + "/exec/" + token + "/../" + token)
    refused(base + "/exec/" + "A" * len(token), ws=True)
    # The token of an exec presented as an attach or port-forward.
    refused(base + "/attach/" + token)
    refused(base + "/portforward/" + token)
    # The right token works exactly once (it was not spent by the attempts above:
    # those named other kinds, so they cannot have matched it either way).
    c = SpdyClient.connect(url, V4)
    ids = exec_streams(c)
    assert c.wait_fin(list(ids.values()), 30)
    c.close()
    assert not marker_absent(daemon, pb, cid, "ran-none")
    refused(url)
    # Expired (ttl 2 s here): refused, and its command never ran.
    late = url_for("ran-late")
    time.sleep(2.5)
    refused(late)
    assert marker_absent(daemon, pb, cid, "ran-late")
    # Wrong tokens ran nothing either.
    r = rt.ExecSync(pb.ExecSyncRequest(container_id=cid, cmd=["ls", "/tmp"], timeout=10))
    assert sorted(r.stdout.decode().split()) == ["ran-none"]


def no_secrets(text, secrets_, where):
    for s in secrets_:
        assert s not in text, "%s leaks %r" % (where, s[:12] + "...")


def pull(d, pb, ref, **auth):
    req = pb.PullImageRequest(image=pb.ImageSpec(image=ref))
    for k, v in auth.items():
        setattr(req.auth, k, v)
    return d.image().PullImage(req, timeout=120).image_ref


def pull_error(d, pb, ref, **auth):
    with pytest.raises(grpc.RpcError) as e:
        pull(d, pb, ref, **auth)
    return e.value.details()


def test_basic_auth_credentials_are_never_logged(make_daemon, pb):
    user, password = "alice", "pw-" + secrets.token_hex(12)
    r = Registry(tls=True, auth=(user, password)).start()
    try:
        r.push("private/busybox", ["latest"], [busybox_layer_cached()])
        ref = r.ref("private/busybox:latest")
        d = make_daemon(config={"registries": {r.host: {"ca_file": r.ca_file}}})
        wrong = "wrong-" + secrets.token_hex(12)
        auth_b64 = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        wrong_b64 = base64.b64encode(("%s:%s" % (user, wrong)).encode()).decode()
        identity = "idt-" + secrets.token_hex(16)
        regtok = "rgt-" + secrets.token_hex(16)
        secret_list = [password, wrong, auth_b64, wrong_b64, identity, regtok]
        msgs = [pull_error(d, pb, ref, username=user, password=wrong),
                pull_error(d, pb, ref, auth=wrong_b64),
                pull_error(d, pb, ref, identity_token=identity),
                pull_error(d, pb, ref, registry_token=regtok),
                pull_error(d, pb, ref, username=user, password=wrong, identity_token=identity,
                           registry_token=regtok)]
        assert pull(d, pb, ref, username=user, password=password) == r.images["private/busybox"].id
        d.image().RemoveImage(pb.RemoveImageRequest(image=pb.ImageSpec(image=ref)))
        assert pull(d, pb, ref, auth=auth_b64) == r.images["private/busybox"].id
        for m in msgs:
            no_secrets(m, secret_list, "error message %r" % m)
        log = d.log()
        assert "debug" in log.lower() or "DEBUG" in log  # the log really is at debug level
        no_secrets(log, secret_list, "daemon log")
        assert "Authorization: Basic" not in log
    finally:
        r.stop()


def test_bearer_tokens_are_never_logged(make_daemon, pb):
    bb = busybox_layer_cached()
    password = "pw-" + secrets.token_hex(12)
    plain = Registry().start()
    tok = secured = None
    try:
        priv = plain.push("team/busybox", ["latest"], [bb])
        plain.proc.terminate()
        plain.proc.wait()
        plain.proc = None
        tok = TokenServer({"bob": password})
        issued = []
        sign = tok.sign

        def recording_sign(sub, access):
            t = sign(sub, access)
            issued.append(t)
            return t
        tok.sign = recording_sign
        secured = plain.restart_with(token=tok)
        d = make_daemon()
        ref = secured.ref("team/busybox:latest")
        msgs = [pull_error(d, pb, ref, username="bob", password="nope-" + password)]
        assert pull(d, pb, ref, username="bob", password=password) == priv.id
        d.image().RemoveImage(pb.RemoveImageRequest(image=pb.ImageSpec(image=priv.id)))
        access = [{"type": "repository", "name": "team/busybox", "actions": ["pull"]}]
        given = recording_sign("bob", access)
        assert pull(d, pb, ref, registry_token=given) == priv.id
        d.image().RemoveImage(pb.RemoveImageRequest(image=pb.ImageSpec(image=priv.id)))
        # A registry token for another repository: refused, and not echoed.
        other = recording_sign("bob", [{"type": "repository", "name": "x/y",
                                        "actions": ["pull"]}])
        msgs.append(pull_error(d, pb, ref, registry_token=other))
        assert len(issued) >= 4, issued  # anonymous/bob tokens from the server, plus ours
        # Whole tokens and their signatures (the part that makes them usable).
        secret_list = [password] + issued + [t.rsplit(".", 1)[1] for t in issued]
        for m in msgs:
            no_secrets(m, secret_list, "error message %r" % m)
        log = d.log()
        no_secrets(log, secret_list, "daemon log")
        assert "Bearer ey" not in log
    finally:
        if secured:
            secured.stop()
        plain.stop()
        if tok:
            tok.stop()
