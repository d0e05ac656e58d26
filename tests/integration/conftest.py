"""Fixtures for integration tests: the real cric daemon on a temporary socket,
root and state dir, and Python gRPC stubs generated from api/cri.proto at test
time. Run with /usr/bin/python3 (Debian's grpcio)."""
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("CRIC_BUILD_DIR", os.path.join(REPO, "build"))
# The workplace's shared/ folder (tools such as testimages.py) sits beside the
# repository; CRIC_SHARED overrides.
SHARED = os.environ.get("CRIC_SHARED") or next(
    (p for p in (os.path.join(os.path.dirname(REPO), "shared"), "/work/shared")
     if os.path.isdir(p)), os.path.join(os.path.dirname(REPO), "shared"))
CRIC = os.path.join(BUILD, "src", "daemon", "cric")
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def _generate_stubs():
    out = tempfile.mkdtemp(prefix="cric-stubs-")
    from grpc_tools import protoc
    import grpc_tools

    include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    rc = protoc.main(["protoc", f"-I{REPO}/api", f"-I{include}", f"--python_out={out}",
                      f"--grpc_python_out={out}", f"{REPO}/api/cri.proto"])
    if rc != 0:
        raise RuntimeError("protoc failed on api/cri.proto")
    sys.path.insert(0, out)
    atexit.register(shutil.rmtree, out, True)  # the modules are loaded by then
    return out


_STUB_DIR = _generate_stubs()
import cri_pb2  # noqa: E402
import cri_pb2_grpc  # noqa: E402
import grpc  # noqa: E402


@pytest.fixture(scope="session")
def pb():
    return cri_pb2


def wait_for_socket(path, proc=None, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            s.close()
            return True
        except OSError:
            time.sleep(0.01)
    return False


def wait_for_serving(path, proc=None, timeout=60.0):
    """The socket accepts from the daemon's first moments (connections wait in
    its backlog); true once the daemon answers a call, that is once its
    start-up (recovery included) is done."""
    deadline = time.monotonic() + timeout
    ch = grpc.insecure_channel("unix://" + path)
    stub = cri_pb2_grpc.RuntimeServiceStub(ch)
    try:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                return False
            try:
                stub.Version(cri_pb2.VersionRequest(), wait_for_ready=True, timeout=1)
                return True
            except grpc.RpcError as e:
                if e.code() not in (grpc.StatusCode.DEADLINE_EXCEEDED,
                                    grpc.StatusCode.UNAVAILABLE):
                    raise
        return False
    finally:
        ch.close()


class Daemon:
    """One cric process with its own socket, root, state and config."""

    def __init__(self, base=None, config=None, extra_args=()):
        self.base = base or tempfile.mkdtemp(prefix="cric-t-", dir="/tmp")
        self.sock = os.path.join(self.base, "run", "cric.sock")
        self.root = os.path.join(self.base, "root")
        self.state = os.path.join(self.base, "state")
        self.cni_dir = os.path.join(self.base, "cni")
        os.makedirs(self.cni_dir, exist_ok=True)
        self.config_path = os.path.join(self.base, "config.json")
        cfg = {"cni": {"conf_dir": self.cni_dir}}
        if config:
            cfg.update(config)
        self.config = cfg
        with open(self.config_path, "w") as f:
            json.dump(cfg, f)
        self.extra_args = list(extra_args)
        self.log_path = os.path.join(self.base, "cric.log")
        self.proc = None
        self._channel = None

    def argv(self, *extra):
        return [CRIC, "--config", self.config_path, "--listen", self.sock, "--root", self.root,
                "--state", self.state, "--log-level", "debug", *self.extra_args, *extra]

    def start(self, wait=True):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv(), stdout=self.logf, stderr=self.logf,
                                     stdin=subprocess.DEVNULL)
        if wait and not (wait_for_socket(self.sock, self.proc) and
                         wait_for_serving(self.sock, self.proc)):
            raise RuntimeError("cric did not start:\n" + self.log())
        return self

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise AssertionError("cric did not exit within %ss of %s" % (timeout, sig))
        finally:
            self.logf.close()
        self.proc = None
        return rc

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def log(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def assert_no_sanitizer_reports(self):
        text = self.log()
        for marker in SANITIZER_MARKERS:
            assert marker not in text, "sanitizer report in cric log:\n" + text[-8000:]

    def channel(self):
        if self._channel is None:
            self._channel = grpc.insecure_channel("unix://" + self.sock)
        return self._channel

    def runtime(self):
        return cri_pb2_grpc.RuntimeServiceStub(self.channel())

    def image(self):
        return cri_pb2_grpc.ImageServiceStub(self.channel())

    def remove_all_pods(self):
        """Containers and pods outlive the daemon by design: remove what a test
        left so nothing (shims, mounts, namespaces) leaks past it."""
        try:
            rt = self.runtime()
            for p in rt.ListPodSandbox(cri_pb2.ListPodSandboxRequest(), timeout=30).items:
                rt.StopPodSandbox(cri_pb2.StopPodSandboxRequest(pod_sandbox_id=p.id), timeout=120)
                rt.RemovePodSandbox(cri_pb2.RemovePodSandboxRequest(pod_sandbox_id=p.id),
                                    timeout=120)
        except grpc.RpcError:
            pass  # a test that broke the daemon on purpose; its own asserts tell

    def cleanup(self):
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def make_daemon():
    """Factory: make_daemon(config=None, start=True) -> Daemon; all stopped and
    checked for sanitizer reports at the end."""
    made = []

    def factory(config=None, start=True, extra_args=()):
        d = Daemon(config=config, extra_args=extra_args)
        made.append(d)
        if start:
            d.start()
        return d

    yield factory
    for d in made:
        if d.proc is not None:
            d.remove_all_pods()
            rc = d.stop()
            assert rc == 0, "cric exited with %s on SIGTERM:\n%s" % (rc, d.log()[-4000:])
        d.assert_no_sanitizer_reports()
        d.cleanup()


@pytest.fixture
def daemon(make_daemon):
    return make_daemon()


# A real docker-registry with busybox test images (tests/integration/registry.py).
from registry import start_standard_registry  # noqa: E402


@pytest.fixture(scope="session")
def registry():
    r = start_standard_registry()
    yield r
    r.stop()
