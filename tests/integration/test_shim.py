"""cric-shim end to end with real crun and runc, driven through the daemon's
client library (tests/shim_driver) and, for attach, the socket protocol of
src/shim/protocol.h spoken directly."""
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bundle  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("CRIC_BUILD_DIR", os.path.join(REPO, "build"))
SHIM = os.path.join(BUILD, "src", "shim", "cric-shim")
DRIVER = os.path.join(BUILD, "tests", "shim_driver", "shim_driver")
RELEASE_BUILD = os.environ.get("CRIC_RELEASE_BUILD_DIR", os.path.join(REPO, "build"))
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
RECORD = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z) (stdout|stderr) ([PF]) (.*)$",
                    re.S)

MSG_ATTACH, MSG_STDIN, MSG_CLOSE_STDIN, MSG_RESIZE, MSG_CONTROL = 0x01, 0x02, 0x03, 0x04, 0x10
MSG_STDOUT, MSG_STDERR, MSG_EXIT, MSG_RESULT = 0x81, 0x82, 0x83, 0x90
ATTACH_STDIN, ATTACH_STDOUT, ATTACH_STDERR = 1, 2, 4

RUNTIMES = ["crun", "runc"]


def driver(*args, check=True):
    p = subprocess.run([DRIVER, *args], capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError("shim_driver %s failed: %s%s" % (args, p.stdout, p.stderr))
    return p


@pytest.fixture(scope="module")
def runtimes():
    """crun needs this host's hybrid layout fixed: runtime_probe does it."""
    assert os.path.exists(SHIM) and os.path.exists(DRIVER), "build cric-shim and shim_driver"
    out = driver("probe", "crun", "runc").stdout.strip()
    assert out == "crun", "runtime_probe did not make crun usable: " + out
    yield RUNTIMES
    # the containers' parent cgroup, in every hierarchy (children first)
    for top in os.listdir("/sys/fs/cgroup"):
        parent = os.path.join("/sys/fs/cgroup", top, "cric-shim-test")
        if os.path.isdir(parent):
            for child in os.listdir(parent):
                if os.path.isdir(os.path.join(parent, child)):
                    try:
                        os.rmdir(os.path.join(parent, child))
                    except OSError:
                        pass
            try:
                os.rmdir(parent)
            except OSError:
                pass


class Ctr:
    """One container: bundle, state dir, CRI log, under a private runtime root."""

    def __init__(self, base, runtime, args, tty=False, stdin=False, stdin_once=False,
                 memory_limit=None, shim=SHIM):
        self.runtime = runtime
        self.id = "shimt-" + uuid.uuid4().hex[:12]
        self.dir = os.path.join(base, self.id)
        self.bundle = os.path.join(self.dir, "bundle")
        self.state = os.path.join(self.dir, "state")
        self.root = os.path.join(base, "rtroot-" + runtime)
        self.log = os.path.join(self.dir, "logs", "pod", "c", "0.log")  # parent created by shim
        self.tty, self.stdin, self.stdin_once = tty, stdin, stdin_once
        self.shim = shim
        self.cgroup = "/cric-shim-test/" + self.id
        self.memcg = "/sys/fs/cgroup/memory" + self.cgroup

        def patch(cfg):
            cfg["linux"]["cgroupsPath"] = self.cgroup
            if memory_limit:
                cfg["linux"]["resources"] = {"memory": {"limit": memory_limit}}
            if tty:
                cfg["process"]["env"].append("TERM=xterm")

        os.makedirs(self.state, exist_ok=True)
        bundle.make_bundle(self.bundle, args, tty=tty, config_patch=patch)

    def launch(self, check=True):
        args = ["launch", "--shim", self.shim, "--id", self.id, "--bundle", self.bundle,
                "--state", self.state, "--runtime", self.runtime, "--root", self.root,
                "--log", self.log, "--memcg", self.memcg]
        if self.tty:
            args.append("--tty")
        if self.stdin:
            args.append("--stdin")
        if self.stdin_once:
            args.append("--stdin-once")
        p = driver(*args, check=check)
        if p.returncode == 0:
            self.pid = int(p.stdout.split()[1])
        return p

    def rt(self, *args, check=True):
        return subprocess.run([self.runtime, "--root", self.root, *args], capture_output=True,
                              text=True, check=check, timeout=30)

    def start(self):
        driver("starting", self.state)
        self.rt("start", self.id)

    def run(self):
        self.launch()
        self.start()
        return self

    def shim_pid(self):
        with open(os.path.join(self.state, "shim.pid")) as f:
            return int(f.read().split()[0])

    def wait_exit(self, timeout=20):
        deadline = time.monotonic() + timeout
        path = os.path.join(self.state, "exit")
        while time.monotonic() < deadline:
            if os.path.exists(path):
                with open(path) as f:
                    return json.load(f)
            time.sleep(0.02)
        raise AssertionError("no exit file for %s; shim.log:\n%s" % (self.id, self.shim_log()))

    def records(self, path=None):
        with open(path or self.log, "rb") as f:
            data = f.read().decode()
        out = []
        for line in data.split("\n")[:-1]:
            m = RECORD.match(line)
            assert m, "bad CRI log line: %r" % line[:200]
            out.append((m.group(3), m.group(4), m.group(5)))
        assert data.endswith("\n") or data == ""
        return out

    def shim_log(self):
        try:
            with open(os.path.join(self.state, "shim.log")) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def cleanup(self):
        self.rt("delete", "-f", self.id, check=False)
        text = self.shim_log()
        for marker in SANITIZER_MARKERS:
            assert marker not in text, "sanitizer report in shim.log:\n" + text[-6000:]


@pytest.fixture
def make(runtimes):
    base = tempfile.mkdtemp(prefix="cric-shim-", dir="/tmp")
    made = []

    def factory(runtime, args, **kw):
        c = Ctr(base, runtime, args, **kw)
        made.append(c)
        return c

    yield factory
    for c in made:
        c.cleanup()
    shutil.rmtree(base, ignore_errors=True)


def lines_of(records, stream):
    return [(tag, content) for s, tag, content in records if s == stream]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_log_format_and_exit_code(make, runtime):
    c = make(runtime, ["/bin/sh", "-c",
                       "echo out1; echo err1 >&2; printf 'out2\\r\\n'; echo err2 >&2; "
                       "printf 'no newline'; exit 3"]).run()
    ex = c.wait_exit()
    assert ex["exit_code"] == 3 and ex["signal"] == 0 and ex["oom_killed"] is False
    assert ex["pid"] == c.pid
    assert 0 < ex["created_at"] <= ex["started_at"] <= ex["finished_at"]
    recs = c.records()
    assert lines_of(recs, "stdout") == [("F", "out1"), ("F", "out2"), ("P", "no newline")]
    assert lines_of(recs, "stderr") == [("F", "err1"), ("F", "err2")]
    out = driver("exit", c.state).stdout
    assert "exit_code 3 signal 0 oom_killed 0" in out
    assert driver("check", c.state).stdout.startswith("exited")


def test_long_lines_split_at_16k(make):
    c = make("crun", ["/bin/sh", "-c",
                      "head -c 20000 /dev/zero | tr '\\0' a; echo; "
                      "head -c 40960 /dev/zero | tr '\\0' b"]).run()
    assert c.wait_exit()["exit_code"] == 0
    recs = lines_of(c.records(), "stdout")
    assert [(t, len(x), set(x)) for t, x in recs] == [
        ("P", 16384, {"a"}), ("F", 20000 - 16384, {"a"}),
        ("P", 16384, {"b"}), ("P", 16384, {"b"}), ("P", 40960 - 32768, {"b"})]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_signal_recorded(make, runtime):
    c = make(runtime, ["/bin/sleep", "1000"]).run()
    st = driver("state", c.state).stdout
    assert "status running" in st and ("pid %d" % c.pid) in st
    p = driver("wait", c.state, "200", check=False)
    assert p.returncode == 1 and p.stdout.startswith("timeout:"), p.stdout
    waiter = subprocess.Popen([DRIVER, "wait", c.state, "20000"], stdout=subprocess.PIPE,
                              text=True)
    time.sleep(0.2)
    c.rt("kill", c.id, "KILL")
    assert waiter.communicate(timeout=20)[0].strip() == "exit_code 137 signal 9 oom_killed 0"
    ex = c.wait_exit()
    assert ex["signal"] == 9 and ex["exit_code"] == 137 and not ex["oom_killed"]
    assert driver("wait", c.state, "0").stdout.startswith("exit_code 137")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_oom_kill_recorded(make, runtime):
    c = make(runtime, ["/bin/sh", "-c", "head -c 64m /dev/zero | tail"],
             memory_limit=8 * 1024 * 1024).run()
    ex = c.wait_exit(timeout=60)
    assert ex["oom_killed"] is True, (ex, c.shim_log())
    assert ex["exit_code"] != 0


def test_create_failure_reports_runtime_error(make, runtimes):
    for runtime in RUNTIMES:
        c = make(runtime, ["/no/such/binary"])
        p = c.launch(check=False)
        assert p.returncode == 1
        msg = p.stdout.strip()
        assert msg.startswith("internal: container %s: %s create: exit 1: " % (c.id, runtime)), msg
        assert "/no/such/binary" in msg
        assert not os.path.exists(os.path.join(c.state, "shim.sock"))


def test_reopen_log_after_rename(make):
    c = make("crun", ["/bin/sh", "-c", "i=0; while true; do echo tick$i; i=$((i+1)); "
                                       "sleep 0.05; done"])
    c.launch()
    p = driver("reopen", c.state, check=False)
    assert p.returncode == 1 and "precondition" in p.stdout and "not running" in p.stdout
    c.start()
    time.sleep(0.3)
    os.rename(c.log, c.log + ".1")
    driver("reopen", c.state)
    time.sleep(0.3)
    c.rt("kill", c.id, "KILL")
    c.wait_exit()
    old, new = c.records(c.log + ".1"), c.records()
    assert old and new
    ticks = [int(x[4:]) for _, _, x in old + new]
    assert ticks == list(range(len(ticks))), "lost or duplicated lines across the reopen"
    p = driver("reopen", c.state, check=False)
    assert p.returncode == 1 and "not running" in p.stdout


class Attach:
    def __init__(self, state, flags):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(os.path.join(state, "shim.sock"))
        self.send(MSG_ATTACH, bytes([flags]))
        self.buf = b""
        self.out = b""
        self.err = b""
        self.exit = None

    def send(self, t, payload=b""):
        self.s.sendall(struct.pack(">BI", t, len(payload)) + payload)

    def pump_until(self, pred, timeout=10):
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                raise AssertionError("attach timeout; out=%r err=%r" % (self.out, self.err))
            try:
                data = self.s.recv(65536)
            except socket.timeout:
                continue
            if not data:
                break
            self.buf += data
            while len(self.buf) >= 5:
                t, n = struct.unpack(">BI", self.buf[:5])
                if len(self.buf) < 5 + n:
                    break
                payload, self.buf = self.buf[5:5 + n], self.buf[5 + n:]
                if t == MSG_STDOUT:
                    self.out += payload
                elif t == MSG_STDERR:
                    self.err += payload
                elif t == MSG_EXIT:
                    self.exit = int(payload)
        return pred()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_attach_two_clients_stdin_to_cat(make, runtime):
    c = make(runtime, ["/bin/sh", "-c", "cat; echo done >&2"], stdin=True).run()
    a = Attach(c.state, ATTACH_STDIN | ATTACH_STDOUT | ATTACH_STDERR)
    b = Attach(c.state, ATTACH_STDIN | ATTACH_STDOUT | ATTACH_STDERR)
    time.sleep(0.1)
    a.send(MSG_STDIN, b"hello\n")
    assert a.pump_until(lambda: b"hello\n" in a.out)
    assert b.pump_until(lambda: b"hello\n" in b.out)
    b.send(MSG_STDIN, b"world\n")
    assert a.pump_until(lambda: b"world\n" in a.out)
    assert b.pump_until(lambda: b"world\n" in b.out)
    a.send(MSG_CLOSE_STDIN)
    assert a.pump_until(lambda: a.exit is not None)
    assert b.pump_until(lambda: b.exit is not None)
    assert a.exit == 0 and b.err == b"done\n"
    assert c.wait_exit()["exit_code"] == 0
    assert lines_of(c.records(), "stdout") == [("F", "hello"), ("F", "world")]


def test_stdin_large_then_close_is_not_truncated(make):
    """Input is written in full (with back-pressure) before close-stdin takes effect."""
    c = make("crun", ["/bin/sh", "-c", "sleep 0.2; wc -c"], stdin=True).run()
    a = Attach(c.state, ATTACH_STDIN | ATTACH_STDOUT)
    data = bytes(range(256)) * 800  # 204800 bytes, more than the pipe and the shim buffer
    for off in range(0, len(data), 32768):
        a.send(MSG_STDIN, data[off:off + 32768])
    a.send(MSG_CLOSE_STDIN)
    assert a.pump_until(lambda: a.exit is not None)
    assert a.out.strip() == b"204800" and a.exit == 0


def test_stdin_from_two_clients_under_backpressure(make):
    import threading
    c = make("crun", ["/bin/sh", "-c", "sleep 0.5; head -c 300000 | wc -c"], stdin=True).run()
    a = Attach(c.state, ATTACH_STDIN | ATTACH_STDOUT)
    b = Attach(c.state, ATTACH_STDIN)
    chunk = b"y" * 30000

    def feed(cl):
        for _ in range(5):
            cl.send(MSG_STDIN, chunk)

    ts = [threading.Thread(target=feed, args=(x,)) for x in (a, b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(20)
    assert a.pump_until(lambda: a.exit is not None)
    assert a.out.strip() == b"300000", a.out
    assert "input dropped" not in c.shim_log()


def test_stdin_once_closes_after_first_client(make):
    c = make("crun", ["/bin/sh", "-c", "cat; echo eof"], stdin=True, stdin_once=True).run()
    a = Attach(c.state, ATTACH_STDIN | ATTACH_STDOUT)
    a.send(MSG_STDIN, b"x\n")
    assert a.pump_until(lambda: b"x\n" in a.out)
    a.s.close()
    ex = c.wait_exit()
    assert ex["exit_code"] == 0
    assert lines_of(c.records(), "stdout") == [("F", "x"), ("F", "eof")]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_tty_resize(make, runtime):
    c = make(runtime, ["/bin/sh", "-c", "read x; stty size; exit 5"], tty=True, stdin=True).run()
    a = Attach(c.state, ATTACH_STDIN | ATTACH_STDOUT)
    if runtime == "crun":  # on the attach stream, as the streaming server does
        a.send(MSG_RESIZE, struct.pack(">HH", 33, 111))
    else:  # on its own connection, through shim_client
        driver("resize", c.state, "33", "111")
    a.send(MSG_STDIN, b"go\r")
    assert a.pump_until(lambda: a.exit is not None)
    assert b"33 111" in a.out, a.out
    assert a.exit == 5
    recs = c.records()
    assert all(s == "stdout" for s, _, _ in recs)
    assert ("stdout", "F", "33 111") in recs


def test_survives_launcher_sigkill(make):
    """The process that launched the shim (standing in for the daemon) dies by
    SIGKILL; the shim lives on in its own session, the container keeps running,
    output keeps flowing and the exit is still recorded."""
    c = make("runc", ["/bin/sh", "-c", "while true; do echo alive; sleep 0.1; done"])
    helper = subprocess.Popen([sys.executable, "-c", """
import subprocess, sys, time
p = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(p.stdout, flush=True)
time.sleep(1000)
""", DRIVER, "launch", "--shim", c.shim, "--id", c.id, "--bundle", c.bundle, "--state", c.state,
                               "--runtime", c.runtime, "--root", c.root, "--log", c.log],
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    line = helper.stdout.readline()
    assert line.startswith("pid "), line
    c.start()
    shim = c.shim_pid()
    os.killpg(helper.pid, signal.SIGKILL)
    helper.wait()
    time.sleep(0.3)
    assert driver("check", c.state).stdout.split() == ["alive", str(shim)]
    with open("/proc/%d/stat" % shim) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    assert int(fields[1]) != helper.pid and int(fields[3]) != os.getsid(0)  # ppid, session
    assert json.loads(c.rt("state", c.id).stdout)["status"] == "running"
    n = len(c.records())
    time.sleep(0.4)
    assert len(c.records()) > n
    c.rt("kill", c.id, "KILL")
    assert c.wait_exit()["signal"] == 9


def test_shim_killed_is_lost(make):
    c = make("crun", ["/bin/sleep", "1000"]).run()
    os.kill(c.shim_pid(), signal.SIGKILL)
    time.sleep(0.2)
    assert driver("check", c.state).stdout.startswith("lost")
    p = driver("reopen", c.state, check=False)
    assert p.returncode == 1 and "not running" in p.stdout
    c.rt("kill", c.id, "KILL", check=False)


def test_slow_attach_client_dropped_container_not_blocked(make):
    c = make("crun", ["/bin/sh", "-c",
                      "sleep 0.3; head -c 8000000 /dev/zero | tr '\\0' z; echo end"]).run()
    a = Attach(c.state, ATTACH_STDOUT)  # never reads
    ex = c.wait_exit(timeout=30)
    assert ex["exit_code"] == 0
    assert "dropping attach client" in c.shim_log()
    recs = lines_of(c.records(), "stdout")
    assert recs[-1] == ("F", "z" * (8000000 % 16384) + "end")
    assert sum(len(x) for _, x in recs) == 8000000 + 3
    a.s.close()


def _sanitized(build):
    try:
        with open(os.path.join(build, "meson-info", "intro-buildoptions.json")) as f:
            opts = json.load(f)
    except (OSError, ValueError):
        return True
    return any(o["name"] == "b_sanitize" and o["value"] != "none" for o in opts)


def test_idle_rss_under_1mb(make):
    shim = os.path.join(RELEASE_BUILD, "src", "shim", "cric-shim")
    if not os.path.exists(shim) or _sanitized(RELEASE_BUILD):
        pytest.skip("needs the release build of cric-shim (make build)")
    c = make("crun", ["/bin/sleep", "1000"], shim=shim).run()
    a = Attach(c.state, ATTACH_STDOUT)  # a client connected and idle
    time.sleep(0.5)
    with open("/proc/%d/status" % c.shim_pid()) as f:
        status = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
    rss = int(status["VmRSS"].split()[0])
    print("idle cric-shim VmRSS %d kB (RssAnon %s, RssFile %s)" %
          (rss, status["RssAnon"].strip(), status["RssFile"].strip()))
    assert rss < 1024, "idle shim RSS %d kB" % rss
    a.s.close()
    c.rt("kill", c.id, "KILL")
    c.wait_exit()


def test_log_full_keeps_container_running(make):
    """ENOSPC on the log file: records are dropped, the container is never
    blocked, and its exit is recorded."""
    c = make("crun", ["/bin/sh", "-c", "i=0; while [ $i -lt 3000 ]; do "
                                       "echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; "
                                       "i=$((i+1)); done; exit 7"])
    logdir = os.path.dirname(c.log)
    os.makedirs(logdir)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", logdir], check=True)
    try:
        c.run()
        ex = c.wait_exit(timeout=30)
        assert ex["exit_code"] == 7
        assert "dropping output" in c.shim_log()
        recs = c.records()
        assert 0 < len(recs) < 3000
        assert lines_of(recs, "stdout")[0] == ("F", "line-0-" + "x" * 42)
    finally:
        subprocess.run(["umount", "-l", logdir], check=False)


def _control(state, payload, t=MSG_CONTROL):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(os.path.join(state, "shim.sock"))
    s.sendall(struct.pack(">BI", t, len(payload)) + payload)
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
            if len(data) >= 5 and len(data) >= 5 + struct.unpack(">I", data[1:5])[0]:
                break
    except socket.timeout:
        pass
    s.close()
    return data


def test_hostile_clients_do_not_hurt_the_shim(make):
    c = make("crun", ["/bin/sleep", "1000"]).run()
    sock = os.path.join(c.state, "shim.sock")
    assert _control(c.state, b"bogus")[5:] == b"error unknown command"
    assert _control(c.state, b"x" * 200) == b""  # over-long command: dropped
    assert _control(c.state, b"", t=0x77) == b""  # unknown type: dropped
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    s.sendall(struct.pack(">BI", MSG_STDIN, 1 << 30))  # oversized frame: dropped
    s.settimeout(5)
    assert s.recv(10) == b""
    s.close()
    # more connections than the shim serves: the extra ones are closed
    conns = []
    for _ in range(80):
        x = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        x.connect(sock)
        conns.append(x)
    time.sleep(0.3)
    for x in conns:
        x.close()
    # garbage, then a half-sent frame and a hang-up
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    s.sendall(struct.pack(">BI", MSG_ATTACH, 1) + b"\xff" + b"\x02\x00\x00")
    s.close()
    time.sleep(0.1)
    st = driver("state", c.state).stdout
    assert "status running" in st
    assert driver("check", c.state).stdout.startswith("alive")
    c.rt("kill", c.id, "KILL")
    assert c.wait_exit()["signal"] == 9


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_long_state_dir_path(make, runtime):
    """State paths beyond sockaddr_un's 108 bytes: the client connects through
    /proc/self/fd, the runtime gets the console socket through /proc/<shim>/cwd."""
    c = make(runtime, ["/bin/sh", "-c", "read x; echo got $x"], tty=True, stdin=True)
    c.state = os.path.join(c.dir, "s" * 60, "t" * 60)
    os.makedirs(c.state)
    assert len(os.path.join(c.state, "shim.sock")) > 108
    c.run()
    a = Attach.__new__(Attach)
    a.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    a.s.settimeout(10)
    fd = os.open(c.state, os.O_PATH | os.O_DIRECTORY)
    a.s.connect("/proc/self/fd/%d/shim.sock" % fd)
    os.close(fd)
    a.buf, a.out, a.err, a.exit = b"", b"", b"", None
    a.send(MSG_ATTACH, bytes([ATTACH_STDIN | ATTACH_STDOUT]))
    assert "status running" in driver("state", c.state).stdout
    a.send(MSG_STDIN, b"hi\r")
    assert a.pump_until(lambda: a.exit is not None)
    assert b"got hi" in a.out
    assert driver("wait", c.state, "5000").stdout.startswith("exit_code 0")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_fd_attach_pipes(make, runtime):
    """The fd attach the streaming server uses: plain pipes, stdin_once."""
    c = make(runtime, ["/bin/sh", "-c", "cat; echo done >&2"], stdin=True, stdin_once=True).run()
    other = Attach(c.state, ATTACH_STDOUT)  # a framed client sees the same output
    p = subprocess.run([DRIVER, "attachfds", c.state, "7"], input=b"abc\nxyz\n",
                       capture_output=True, timeout=20)
    assert p.returncode == 0, p
    assert p.stdout == b"abc\nxyz\n" and p.stderr == b"done\n"
    assert other.pump_until(lambda: other.exit is not None)
    assert other.out == b"abc\nxyz\n" and other.exit == 0
    assert c.wait_exit()["exit_code"] == 0


def test_fd_attach_tty_with_resize(make):
    c = make("crun", ["/bin/sh", "-c", "read x; stty size; echo got $x"], tty=True,
             stdin=True).run()
    p = subprocess.run([DRIVER, "attachfds", c.state, "3", "20", "70"], input=b"hey\r",
                       capture_output=True, timeout=20)
    assert p.returncode == 0, p
    assert b"20 70" in p.stdout and b"got hey" in p.stdout, p.stdout
    assert c.wait_exit()["exit_code"] == 0


def test_create_timeout_kills_shim_and_runtime(make, runtimes):
    c = make("crun", ["/bin/true"])
    with open(os.path.join(c.bundle, "config.json")) as f:
        cfg = json.load(f)
    marker = "30.%d" % (uuid.uuid4().int % 1000000)  # a unique argument to find the hook by
    cfg["hooks"] = {"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", marker]}]}
    with open(os.path.join(c.bundle, "config.json"), "w") as f:
        json.dump(cfg, f)
    t0 = time.monotonic()
    p = driver("launch", "--shim", c.shim, "--id", c.id, "--bundle", c.bundle, "--state",
               c.state, "--runtime", c.runtime, "--root", c.root, "--timeout", "1000",
               check=False)
    assert p.returncode == 1 and p.stdout.startswith("timeout: container %s: " % c.id), p.stdout
    assert time.monotonic() - t0 < 10
    shim = c.shim_pid()
    time.sleep(0.3)
    assert not os.path.exists("/proc/%d" % shim) or open("/proc/%d/stat" % shim).read().split(
        ")")[1].split()[0] == "Z"
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if f.read() == b"sleep\0" + marker.encode() + b"\0":
                    left.append(int(pid))
        except OSError:
            pass
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, "hook process left behind"


def test_runtime_probe_mounts_v1_hierarchy(runtimes, tmp_path):
    """The fix-up path on a layout that needs it, in a private mount namespace:
    a fake cgroup root whose unified mount lists hugetlb. The probe mounts the
    hugetlb v1 hierarchy there; the fake file still lists it, so crun is
    refused and the fallback is chosen, with the reason logged."""
    root = tmp_path / "cg"
    (root / "unified").mkdir(parents=True)
    (root / "unified" / "cgroup.controllers").write_text("hugetlb\n")
    script = '%s probe crun runc %s && grep -c " %s/hugetlb .* cgroup .*hugetlb" /proc/self/mountinfo' % (
        DRIVER, root, root)
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p
    assert p.stdout.split() == ["runc", "1"], p.stdout
    assert "mounted the hugetlb cgroup v1 hierarchy at %s/hugetlb" % root in p.stderr
    assert "still holds controllers (hugetlb)" in p.stderr and "falling back to runc" in p.stderr
    # runc needs no fix-up and is taken as is
    p = subprocess.run([DRIVER, "probe", "runc", "", str(root)], capture_output=True, text=True)
    assert p.stdout.strip() == "runc"


def test_launch_rejects_bad_input(make, runtimes, tmp_path):
    c = make("crun", ["/bin/true"])
    base = ["launch", "--shim", c.shim, "--bundle", c.bundle, "--state", c.state,
            "--runtime", "crun"]
    for bad_id in ("-x", "a/b", "..", "", "a b", "x" * 129):
        p = driver(*base, "--id", bad_id, check=False)
        assert p.returncode == 1 and p.stdout.startswith("invalid:"), (bad_id, p.stdout)
    p = driver("launch", "--shim", c.shim, "--id", c.id, "--bundle", "relative/bundle",
               "--state", c.state, "--runtime", "crun", check=False)
    assert p.returncode == 1 and p.stdout.startswith("invalid:"), p.stdout
    # the shim itself refuses what its client would not send
    r = subprocess.run([c.shim, "--id", "-rf", "--bundle", c.bundle, "--state-dir", c.state,
                        "--runtime", "crun"], capture_output=True, text=True)
    assert r.returncode == 2 and "usage" in r.stderr
    assert not os.path.exists(os.path.join(c.state, "shim.pid"))
