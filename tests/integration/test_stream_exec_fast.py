"""Interactive exec (the streaming server's) through cric-enter: what the
process observes about its confinement is what the OCI runtime's exec gives
(compared with ExecSync through the runtime, exec_fast_path off, in the same
containers), a terminal is one of the container's own devpts, and a command
that cannot be exec'd is an error status naming it. The runtime's exec stays
the fallback (exec_fast_path off)."""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from spdy_client import SpdyClient, exec_streams  # noqa: E402
from test_container import Env, images  # noqa: E402,F401  (images is a fixture)
from test_exec_fast import PROBE, SLEEPER, restart, variants  # noqa: E402
from test_stream_exec import SUCCESS, V4  # noqa: E402


def stream_exec(d, pb, cid, cmd, tty=False, stdin=None, resize=None):
    url = d.runtime().Exec(pb.ExecRequest(container_id=cid, cmd=cmd, tty=tty,
                                          stdin=stdin is not None, stdout=True,
                                          stderr=not tty)).url
    c = SpdyClient.connect(url, V4)
    ids = exec_streams(c, stdin=stdin is not None, stderr=not tty, tty=tty)
    if resize:
        c.send(ids["resize"], json.dumps({"Width": resize[0], "Height": resize[1]}).encode())
        time.sleep(0.3)
    if stdin is not None:
        c.send(ids["stdin"], stdin, fin=not tty)
    assert c.wait_fin([ids["stdout"], ids["error"]], 30)
    out, status = c.data(ids["stdout"]), c.data(ids["error"])
    c.close()
    return out, status


def fell_back(d, cid, since):
    return re.search(r"exec %s: through \S+ exec" % cid[:12], d.log()[since:]) is not None


def test_stream_exec_fast_path_matches_runtime_exec(make_daemon, pb, images):  # noqa: F811
    d = make_daemon()
    e = Env(d, pb, images, "crun")
    try:
        made = []
        for name, priv, kw, fast in variants(pb, e):
            sid = e.pod(privileged=priv)
            made.append((name, e.run(sid, e.config(name, SLEEPER, **kw)), fast))
        streamed = {}
        for name, cid, fast in made:
            mark = len(d.log())
            out, status = stream_exec(d, pb, cid, ["sh", "-c", PROBE])
            assert status == SUCCESS, (name, status)
            assert fell_back(d, cid, mark) == (not fast), name
            streamed[cid] = out.decode()
        restart(d, False)
        e.rt = d.runtime()
        for name, cid, fast in made:
            r = e.exec(cid, ["sh", "-c", PROBE], timeout=30)
            assert r.exit_code == 0, r.stderr
            assert r.stdout.decode() == streamed[cid], name
            # with the fast path off, the interactive exec takes the runtime's
            mark = len(d.log())
            out, status = stream_exec(d, pb, cid, ["sh", "-c", "echo via-runtime"])
            assert (out, status) == (b"via-runtime\n", SUCCESS)
            assert fell_back(d, cid, mark), name
        assert "Uid:\t1000\t1000\t1000\t1000" in streamed[made[1][1]]
    finally:
        e.cleanup()


def test_stream_exec_fast_path_terminal_stdin_and_failures(make_daemon, pb, images):  # noqa: F811
    d = make_daemon()
    e = Env(d, pb, images, "crun")
    try:
        sid = e.pod()
        cid = e.run(sid, e.config("t", SLEEPER, envs=[pb.KeyValue(key="V", value=b"x")]))
        mark = len(d.log())
        # a terminal of the container's own devpts, sized by the client
        out, status = stream_exec(d, pb, cid, ["sh", "-c",
                                               "read x; tty; ls /dev/pts; stty size; echo $x$V"],
                                  tty=True, stdin=b"go\n", resize=(97, 23))
        assert status == SUCCESS, status
        text = out.decode().replace("\r", "")
        m = re.search(r"/dev/pts/(\d+)\n", text)
        assert m, text
        listing = text[m.end():text.index("23 97")]
        assert re.search(r"(^|\s)%s(\s|$)" % m.group(1), listing), text  # the container's devpts
        assert "23 97\n" in text and "gox\n" in text
        # stdin through pipes, exit codes
        out, status = stream_exec(d, pb, cid, ["sh", "-c", "cat; exit 7"], stdin=b"piped\n")
        assert out == b"piped\n"
        assert json.loads(status)["details"]["causes"][0]["message"] == "7"
        assert not fell_back(d, cid, mark)
        # a command that cannot be exec'd: a clear error, nothing left behind
        out, status = stream_exec(d, pb, cid, ["/no/such-command"])
        st = json.loads(status)
        assert st["status"] == "Failure" and "exec failed" in st["message"] \
            and "/no/such-command" in st["message"], st
        assert not [p for p in os.listdir("/proc") if p.isdigit() and
                    _cmdline(p).startswith("cric-enter") and cid in _cmdline(p)]
    finally:
        e.cleanup()


def _cmdline(pid):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
