"""Attach end to end through a real cric-shim (launched by tests/shim_driver
as in test_shim) and the streaming server's shim fd attach
(src/stream/shimattach.c), driven by stream_testserver --shim until the
container service is wired into the daemon."""
import os
import signal
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from spdy_client import SpdyClient, exec_streams  # noqa: E402
from test_shim import make, runtimes  # noqa: E402,F401
from test_stream_protocols import SERVER, SUCCESS, V4, StreamTestServer  # noqa: E402
from ws_client import WsClient  # noqa: E402

pytestmark = pytest.mark.skipif(not os.path.exists(SERVER), reason="stream_testserver not built")


def attach(s, flags, tty=False):
    c = SpdyClient.connect(s.url("attach " + flags), V4)
    ids = exec_streams(c, stdin="i" in flags, stdout="o" in flags, stderr="e" in flags, tty=tty)
    return c, ids


def test_attach_two_clients_detach_and_exit(make):
    ctr = make("runc", ["sh", "-c", "echo started; while read l; do echo \"got $l\"; "
                                    "echo \"err $l\" >&2; done"], stdin=True).run()
    s = StreamTestServer("--shim", ctr.state)
    try:
        a, ia = attach(s, "ioe")
        b, ib = attach(s, "oe")
        time.sleep(0.3)
        a.send(ia["stdin"], b"one\n")
        for c, i in ((a, ia), (b, ib)):
            assert c.wait(lambda: c.data(i["stdout"]) == b"got one\n", 10), c.data(i["stdout"])
            assert c.wait(lambda: c.data(i["stderr"]) == b"err one\n", 10)
        # detaching leaves the container running
        b.close()
        a.send(ia["stdin"], b"two\n")
        assert a.wait(lambda: a.data(ia["stdout"]) == b"got one\ngot two\n", 10)
        a.close()
        time.sleep(0.3)
        assert not os.path.exists(os.path.join(ctr.state, "exit"))
        # a WebSocket client attaches too; the container's end ends the session
        w = WsClient.connect(s.url("attach io"), ["v5.channel.k8s.io"])
        time.sleep(0.3)
        w.send(0, b"three\n")
        assert w.wait(lambda: w.data(1) == b"got three\n", 10)
        ctr.rt("kill", ctr.id, "KILL")
        assert w.wait_closed(15)
        assert w.data(3) == SUCCESS
    finally:
        s.stop()


def test_attach_tty_resize(make):
    ctr = make("runc", ["sh"], tty=True, stdin=True).run()
    s = StreamTestServer("--shim", ctr.state)
    try:
        c, ids = attach(s, "iot", tty=True)
        c.send(ids["resize"], b'{"Width":111,"Height":33}')
        time.sleep(0.5)
        c.send(ids["stdin"], b"stty size\n")
        assert c.wait(lambda: b"33 111" in c.data(ids["stdout"]), 10), c.data(ids["stdout"])
        c.send(ids["stdin"], b"exit\n")
        assert c.wait_fin([ids["stdout"], ids["error"]], 15)
        assert c.data(ids["error"]) == SUCCESS
        c.close()
    finally:
        s.stop()


def test_attach_tty_stdin_end_detaches(make):
    """The client's stdin ending ends a tty attach (as with containerd); the
    container, without stdin_once, keeps running with its stdin open."""
    ctr = make("crun", ["sh"], tty=True, stdin=True).run()
    s = StreamTestServer("--shim", ctr.state)
    try:
        c, ids = attach(s, "iot", tty=True)
        c.send(ids["stdin"], b"echo hel''lo\r")
        assert c.wait(lambda: b"hello" in c.data(ids["stdout"]), 10), c.data(ids["stdout"])
        c.close_stream(ids["stdin"])
        assert c.wait_fin([ids["stdout"], ids["error"]], 10)
        assert c.data(ids["error"]) == SUCCESS
        c.close()
        time.sleep(0.5)
        assert not os.path.exists(os.path.join(ctr.state, "exit"))
        # the shell still reads its terminal: a new attach drives it
        c, ids = attach(s, "iot", tty=True)
        c.send(ids["stdin"], b"exit 4\r")
        assert c.wait_fin([ids["stdout"], ids["error"]], 15)
        c.close()
        assert ctr.wait_exit()["exit_code"] == 4
    finally:
        s.stop()


def test_attach_tty_stdin_once_end_closes_container_stdin(make):
    ctr = make("crun", ["sh", "-c", "cat; echo eof-seen; sleep 1"], tty=True, stdin=True,
               stdin_once=True).run()
    s = StreamTestServer("--shim", ctr.state)
    try:
        c, ids = attach(s, "iot", tty=True)
        c.send(ids["stdin"], b"abc\r")
        assert c.wait(lambda: c.data(ids["stdout"]).count(b"abc") >= 2, 10), c.data(ids["stdout"])
        c.close_stream(ids["stdin"])
        assert c.wait_fin([ids["stdout"], ids["error"]], 10)
        c.close()
        assert ctr.wait_exit()["exit_code"] == 0
        assert any("eof-seen" in r[2] for r in ctr.records()), ctr.records()
    finally:
        s.stop()


def test_attach_pipes_stdin_end(make):
    """Without a tty: with stdin_once the container's stdin closes and the
    client keeps its output until the container ends; without stdin_once the
    attach ends and the container's stdin stays open."""
    once = make("crun", ["sh", "-c", "cat; echo after-eof"], stdin=True, stdin_once=True).run()
    keep = make("crun", ["sh", "-c", "cat"], stdin=True).run()
    s1 = StreamTestServer("--shim", once.state)
    s2 = StreamTestServer("--shim", keep.state)
    try:
        c, ids = attach(s1, "ioe")
        c.send(ids["stdin"], b"one\n", fin=True)
        assert c.wait_fin([ids["stdout"], ids["error"]], 15)
        assert c.data(ids["stdout"]) == b"one\nafter-eof\n"
        assert c.data(ids["error"]) == SUCCESS
        c.close()
        assert once.wait_exit()["exit_code"] == 0

        c, ids = attach(s2, "ioe")
        c.send(ids["stdin"], b"two\n")
        assert c.wait(lambda: c.data(ids["stdout"]) == b"two\n", 10)
        c.close_stream(ids["stdin"])  # the attach ends with the client's stdin
        assert c.wait_fin([ids["stdout"], ids["error"]], 15)
        assert c.data(ids["error"]) == SUCCESS
        c.close()
        time.sleep(0.5)
        assert not os.path.exists(os.path.join(keep.state, "exit"))
        c, ids = attach(s2, "ioe")
        c.send(ids["stdin"], b"three\n")
        assert c.wait(lambda: c.data(ids["stdout"]) == b"three\n", 10)
        c.close()
    finally:
        s1.stop()
        s2.stop()
