"""The release daemon runs itself again once with glibc's per-thread malloc
caches off (src/daemon/main.c), and gives its children the environment it was
started with. Sanitized builds skip this, so these tests use the release
build."""
import os
import subprocess
import time

import grpc
import pytest

import conftest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RELEASE = os.path.join(os.environ.get("CRIC_RELEASE_BUILD_DIR", os.path.join(REPO, "build")),
                       "src", "daemon", "cric")


def environ_of(pid):
    with open("/proc/%d/environ" % pid, "rb") as f:
        return dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)


@pytest.mark.parametrize("given", [None, "glibc.malloc.perturb=0"])
def test_thread_caches_off_and_children_get_the_original_environment(tmp_path, pb, given):
    if not os.access(RELEASE, os.X_OK):
        pytest.skip("no release build at " + RELEASE)
    dump = tmp_path / "helper-env"
    helper = tmp_path / "dump-env"
    helper.write_text("#!/bin/sh\nenv > %s\nexit 3\n" % dump)
    helper.chmod(0o755)
    d = conftest.Daemon(config={"image_pull": {"helper": str(helper)}})
    env = {k: v for k, v in os.environ.items()
           if k not in ("GLIBC_TUNABLES", "CRIC_MALLOC_TUNED")}
    if given is not None:
        env["GLIBC_TUNABLES"] = given
    argv = d.argv()
    argv[0] = RELEASE
    with open(d.log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env)
    try:
        assert conftest.wait_for_socket(d.sock, proc), d.log()
        # The process image started second carries the marker. (glibc cuts
        # the GLIBC_TUNABLES string it has parsed in place, so /proc shows
        # the whole value only when we were the only ones to set it.)
        started_with = environ_of(proc.pid)
        assert b"CRIC_MALLOC_TUNED" in started_with
        # run again through /proc/self/exe, it still has its own name
        with open("/proc/%d/comm" % proc.pid) as f:
            assert f.read().strip() == "cric"
        if given is None:
            assert started_with[b"GLIBC_TUNABLES"] == b"glibc.malloc.tcache_count=0"
        ch = grpc.insecure_channel("unix://" + d.sock)
        im = conftest.cri_pb2_grpc.ImageServiceStub(ch)
        with pytest.raises(grpc.RpcError):
            im.PullImage(pb.PullImageRequest(image=pb.ImageSpec(image="127.0.0.1:1/x:y")),
                         timeout=60)
        ch.close()
        deadline = time.monotonic() + 10
        while not dump.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        child = dict(l.split("=", 1) for l in dump.read_text().splitlines() if "=" in l)
        assert "CRIC_MALLOC_TUNED" not in child
        assert child.get("GLIBC_TUNABLES") == given
    finally:
        proc.terminate()
        assert proc.wait(30) == 0, d.log()[-3000:]
        d.cleanup()
