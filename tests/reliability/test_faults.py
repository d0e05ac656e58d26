"""Resource faults: each gives a clear error, leaks nothing (leak checker
against a baseline) and the daemon keeps serving.

- disk full during a pull and during CreateContainer (root on a small
  loop-mounted ext4 filesystem);
- a CNI plugin that hangs (cni.timeout_seconds) — a failing one is covered by
  tests/integration/test_sandbox.py;
- an OCI runtime that fails create, and one that fails start;
- a registry that drops the connection in the middle of a blob;
- a container's cric-shim killed."""
import http.server
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request

import grpc
import pytest

import leaks
from relutil import figures, install_net, wait_until
from registry import Layer, busybox_layer_cached, sha
from workload import Client, ctr_config, pod_config


def snap(d, net=None, cg=None):
    return leaks.snapshot(d, bridge=net["bridge"] if net else None,
                          ipam_dir=net["ipam"] if net else None, cgroup_prefix=cg)


def assert_no_leaks(d, baseline, net=None, cg=None):
    lk = leaks.leaks(snap(d, net, cg), baseline)
    assert not lk, "leaked: %r" % lk


class LoopFs:
    """A small ext4 filesystem on a loop device, mounted at `where`."""

    def __init__(self, where, mib):
        self.where = where
        self.image = where.rstrip("/") + ".img"
        with open(self.image, "wb") as f:
            f.truncate(mib << 20)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", self.image], check=True)
        os.makedirs(where, exist_ok=True)
        subprocess.run(["mount", "-o", "loop", self.image, where], check=True)

    def free(self):
        st = os.statvfs(self.where)
        return st.f_bavail * st.f_frsize

    def fill(self, leave=0):
        """Writes a filler file until the filesystem is full (less `leave` bytes)."""
        path = os.path.join(self.where, "filler")
        chunk = b"\0" * (1 << 20)
        with open(path, "wb") as f:
            while True:
                room = self.free() - leave
                if room <= 0:
                    break
                try:
                    f.write(chunk if room >= len(chunk) else b"\0" * room)
                    f.flush()
                    os.fsync(f.fileno())
                except OSError:
                    break
        # the last blocks, one small write at a time
        with open(path, "ab") as f:
            for _ in range(4096):
                try:
                    f.write(b"\0" * 4096)
                    f.flush()
                    os.fsync(f.fileno())
                except OSError:
                    break
        return path

    def unmount(self):
        subprocess.run(["umount", "-l", self.where], check=False)
        try:
            os.unlink(self.image)
        except FileNotFoundError:
            pass


@pytest.fixture
def loop_daemon(make_daemon):
    """factory(mib, config=None) -> (daemon, LoopFs) with the daemon's root on a
    fresh ext4 filesystem of that size."""
    made = []

    def factory(mib, config=None):
        d = make_daemon(config=config, start=False)
        fs = LoopFs(d.root, mib)
        made.append((d, fs))
        d.start()
        return d, fs

    yield factory
    for d, fs in made:
        if d.proc is not None:
            d.remove_all_pods()
            assert d.stop() == 0
        fs.unmount()


def no_tmp_files(d):
    tmp = os.path.join(d.root, "content", "tmp")
    layers = os.path.join(d.root, "layers")
    left = [x for x in os.listdir(tmp)] if os.path.isdir(tmp) else []
    left += [x for x in os.listdir(layers) if x.startswith(".")] if os.path.isdir(layers) else []
    return left


def test_disk_full_during_pull(registry, loop_daemon, pb):
    d, fs = loop_daemon(40)
    c = Client(d, pb)
    big = [Layer().file("blob%d" % i, os.urandom(12 << 20)).finish("none") for i in range(3)]
    registry.push("relfull", ["latest"], [busybox_layer_cached()] + big)
    ref = registry.ref("relfull:latest")
    baseline = snap(d)
    free0 = fs.free()
    t0 = time.monotonic()
    with pytest.raises(grpc.RpcError) as e:
        c.pull(ref)
    took = time.monotonic() - t0
    msg = e.value.details()
    assert "No space left on device" in msg or "disk is full" in msg, msg
    assert "relfull" in msg or "sha256:" in msg, "the error names neither image nor blob: " + msg
    # nothing half made: no image, no temporary files; the space comes back
    assert [i for i in c.images() if any("relfull" in t for t in i.repo_tags)] == []
    assert no_tmp_files(d) == []
    assert_no_leaks(d, baseline)
    free1 = fs.free()
    # the daemon keeps serving: a small image still fits
    assert c.pull(registry.ref("busybox:latest")).startswith("sha256:")
    c.remove_image(registry.ref("busybox:latest"))
    figures("fault_disk_full_pull", code=str(e.value.code()), seconds=round(took, 2),
            free_before_mib=round(free0 / 2**20, 1), free_after_mib=round(free1 / 2**20, 1),
            message=msg[:200])
    # what the failed pull kept (verified blobs of complete layers may stay as
    # cache, partial ones may not) is bounded by the image itself
    assert free0 - free1 < 40 << 20


def test_disk_full_during_create(registry, loop_daemon, pb, cg_prefix):
    d, fs = loop_daemon(64)
    c = Client(d, pb)
    image = registry.ref("busybox:latest")
    c.pull(image)
    logdir = os.path.join(d.base, "logs")
    pcfg = pod_config(pb, "full", logdir, cgroup_parent="/%s-1" % cg_prefix, net=False)
    sid = c.run_pod(pcfg)
    baseline = snap(d, cg=cg_prefix)
    filler = fs.fill()
    failures = []
    for i in range(3):
        cfg = ctr_config(pb, "c%d" % i, image, ["sleep", "1000"])
        with pytest.raises(grpc.RpcError) as e:
            c.create(sid, cfg, pcfg)
        failures.append(e.value.details())
        msg = e.value.details()
        assert "No space left on device" in msg or "disk is full" in msg, msg
        assert re.match(r"container [0-9a-f]{64}: ", msg), "the error names no container: " + msg
        assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # nothing half made, and the daemon serves
    assert c.containers() == []
    assert c.pods()[0].state == pb.SANDBOX_READY
    os.unlink(filler)
    assert_no_leaks(d, baseline, cg=cg_prefix)
    cid = c.create(sid, ctr_config(pb, "after", image, ["sh", "-c", "echo ok; exit 3"]), pcfg)
    c.start(cid)
    assert c.wait_exited(cid).exit_code == 3
    c.remove(cid)
    assert_no_leaks(d, baseline, cg=cg_prefix)
    c.stop_pod(sid)
    c.remove_pod(sid)
    figures("fault_disk_full_create", code=str(e.value.code()), message=failures[0][:200])


def test_cni_plugin_hanging_times_out(registry, make_daemon, pb, rel_net, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    hang = bindir / "cric-hang"
    hang.write_text("#!/bin/sh\nin=$(cat)\n"
                    "if [ \"$CNI_COMMAND\" = ADD ]; then exec sleep 300; fi\n")
    hang.chmod(0o755)
    d = make_daemon(start=False)
    d.config["cni"].update({"bin_dirs": [str(bindir), "/usr/lib/cni"], "timeout_seconds": 2})
    with open(d.config_path, "w") as f:
        json.dump(d.config, f)
    d.start()
    conf = dict(rel_net["conflist"])
    conf["plugins"] = conf["plugins"] + [{"type": "cric-hang"}]
    install_net(d, rel_net, conf)
    c = Client(d, pb)
    baseline = snap(d, rel_net)
    t0 = time.monotonic()
    with pytest.raises(grpc.RpcError) as e:
        c.run_pod(pod_config(pb, "hang", os.path.join(d.base, "logs")))
    took = time.monotonic() - t0
    msg = e.value.details()
    assert "cric-hang" in msg and "no answer within 2000 ms" in msg, msg
    assert took < 20
    assert c.pods() == []
    assert_no_leaks(d, baseline, rel_net)
    hung = [p for p in os.listdir("/proc") if p.isdigit() and
            str(bindir) in open("/proc/%s/cmdline" % p, "rb").read().decode(errors="replace")]
    assert hung == [], "the hung plugin was not killed"
    # the network works again once the plugin is fixed
    hang.write_text("#!/bin/sh\nin=$(cat)\n"
                    "[ \"$CNI_COMMAND\" = ADD ] && printf '%s' \"$in\" | /usr/bin/python3 -c "
                    "'import json,sys; print(json.dumps(json.load(sys.stdin)[\"prevResult\"]))'\n"
                    "exit 0\n")
    sid = c.run_pod(pod_config(pb, "ok", os.path.join(d.base, "logs")))
    c.stop_pod(sid)
    c.remove_pod(sid)
    assert_no_leaks(d, baseline, rel_net)
    figures("fault_cni_hang", seconds=round(took, 2), code=str(e.value.code()),
            message=msg[:200])


def broken_runtime(path, verb):
    path.write_text("#!/bin/sh\nfor a in \"$@\"; do\n"
                    "  if [ \"$a\" = %s ]; then echo 'injected %s failure' >&2; exit 1; fi\n"
                    "done\nexec /usr/bin/crun \"$@\"\n" % (verb, verb))
    path.chmod(0o755)


def test_oci_runtime_failing(registry, make_daemon, pb, cg_prefix, tmp_path):
    broken_runtime(tmp_path / "crun-no-create", "create")
    broken_runtime(tmp_path / "crun-no-start", "start")
    d = make_daemon(config={"runtimes": {"default": "crun", "handlers": {
        "crun": {"path": "/usr/bin/crun"},
        "nocreate": {"path": str(tmp_path / "crun-no-create")},
        "nostart": {"path": str(tmp_path / "crun-no-start")}}}})
    c = Client(d, pb)
    image = registry.ref("busybox:latest")
    c.pull(image)
    logdir = os.path.join(d.base, "logs")
    baseline = snap(d, cg=cg_prefix)
    msgs = {}
    for n, handler in enumerate(("nocreate", "nostart")):
        pcfg = pod_config(pb, handler, logdir, cgroup_parent="/%s-%d" % (cg_prefix, n), net=False)
        sid = c.run_pod(pcfg, handler)
        cfg = ctr_config(pb, "c", image, ["sleep", "1000"])
        if handler == "nocreate":
            with pytest.raises(grpc.RpcError) as e:
                c.create(sid, cfg, pcfg)
            assert c.containers() == []
        else:
            cid = c.create(sid, cfg, pcfg)
            with pytest.raises(grpc.RpcError) as e:
                c.start(cid)
            st = c.status(cid)
            assert st.state in (pb.CONTAINER_CREATED, pb.CONTAINER_EXITED), st
            c.remove(cid)
        msgs[handler] = e.value.details()
        assert "injected %s failure" % handler[2:] in e.value.details(), e.value.details()
        c.stop_pod(sid)
        c.remove_pod(sid)
        assert_no_leaks(d, baseline, cg=cg_prefix)
    # the daemon keeps serving, and the working handler still works
    pcfg = pod_config(pb, "good", logdir, cgroup_parent="/%s-9" % cg_prefix, net=False)
    sid = c.run_pod(pcfg)
    cid = c.create(sid, ctr_config(pb, "c", image, ["sh", "-c", "exit 0"]), pcfg)
    c.start(cid)
    assert c.wait_exited(cid).exit_code == 0
    c.stop_pod(sid)
    c.remove_pod(sid)
    assert_no_leaks(d, baseline, cg=cg_prefix)
    figures("fault_oci_runtime", create=msgs["nocreate"][:160], start=msgs["nostart"][:160])


def test_oci_runtime_delete_failing(registry, make_daemon, pb, cg_prefix, tmp_path):
    """A runtime whose delete fails (as crun's does while the container's
    cgroup is still busy): RemoveContainer reports it and keeps the container
    listed; once delete works again the next RemoveContainer finishes."""
    flag = tmp_path / "fail-delete"
    wrapper = tmp_path / "crun-flaky-delete"
    wrapper.write_text("#!/bin/sh\nfor a in \"$@\"; do\n"
                       "  if [ \"$a\" = delete ] && [ -e %s ]; then\n"
                       "    echo 'injected delete failure' >&2; exit 1; fi\n"
                       "done\nexec /usr/bin/crun \"$@\"\n" % flag)
    wrapper.chmod(0o755)
    d = make_daemon(config={"runtimes": {"default": "crun", "handlers": {
        "crun": {"path": "/usr/bin/crun"}, "flaky": {"path": str(wrapper)}}}})
    c = Client(d, pb)
    image = registry.ref("busybox:latest")
    c.pull(image)
    logdir = os.path.join(d.base, "logs")
    baseline = snap(d, cg=cg_prefix)
    pcfg = pod_config(pb, "flaky", logdir, cgroup_parent="/%s-0" % cg_prefix, net=False)
    sid = c.run_pod(pcfg, "flaky")
    cid = c.create(sid, ctr_config(pb, "c", image, ["sleep", "1000"]), pcfg)
    c.start(cid)
    c.stop(cid, 2)
    flag.write_text("")
    t0 = time.monotonic()
    with pytest.raises(grpc.RpcError) as e:
        c.remove(cid)
    took = time.monotonic() - t0
    assert "injected delete failure" in e.value.details(), e.value.details()
    assert cid[:12] in e.value.details() or cid in e.value.details(), e.value.details()
    assert [x.id for x in c.containers()] == [cid]
    assert c.status(cid).state == pb.CONTAINER_EXITED
    flag.unlink()
    c.remove(cid)
    assert c.containers() == []
    c.stop_pod(sid)
    c.remove_pod(sid)
    assert_no_leaks(d, baseline, cg=cg_prefix)
    figures("fault_runtime_delete", seconds_until_error=round(took, 2),
            message=e.value.details()[:200])


class DroppingProxy:
    """Forwards to the registry, but sends half of one blob and then closes the
    connection (every time while enabled)."""

    def __init__(self, upstream, digest):
        proxy = self
        self.drops = 0
        self.enabled = True

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                req = urllib.request.Request("http://%s%s" % (upstream, self.path),
                                             headers={"Accept": self.headers.get("Accept", "*/*")})
                try:
                    with urllib.request.urlopen(req) as r:
                        body = r.read()
                        ctype = r.headers.get("Content-Type", "application/octet-stream")
                except urllib.error.HTTPError as e:
                    self.send_response(e.code)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if proxy.enabled and self.path.endswith(digest):
                    proxy.drops += 1
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.host = "127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_registry_drops_connection_mid_blob(registry, make_daemon, pb):
    layer = Layer().file("payload", os.urandom(3 << 20)).finish("gzip")
    registry.push("reldrop", ["latest"], [busybox_layer_cached(), layer])
    proxy = DroppingProxy(registry.host, sha(layer[1]))
    try:
        d = make_daemon()
        c = Client(d, pb)
        baseline = snap(d)
        ref = proxy.host + "/reldrop:latest"
        t0 = time.monotonic()
        with pytest.raises(grpc.RpcError) as e:
            c.pull(ref)
        took = time.monotonic() - t0
        msg = e.value.details()
        assert proxy.drops >= 1
        assert sha(layer[1])[7:19] in msg or "reldrop" in msg, msg
        assert took < 60
        assert [i for i in c.images() if any("reldrop" in t for t in i.repo_tags)] == []
        assert no_tmp_files(d) == []
        assert_no_leaks(d, baseline)
        proxy.enabled = False
        assert c.pull(ref).startswith("sha256:")
        figures("fault_registry_drop", attempts=proxy.drops, seconds=round(took, 2),
                code=str(e.value.code()), message=msg[:200])
    finally:
        proxy.stop()


def test_shim_killed(registry, make_daemon, pb, cg_prefix):
    d = make_daemon()
    c = Client(d, pb)
    image = registry.ref("busybox:latest")
    c.pull(image)
    logdir = os.path.join(d.base, "logs")
    pcfg = pod_config(pb, "shimkill", logdir, cgroup_parent="/%s-1" % cg_prefix, net=False)
    baseline = snap(d, cg=cg_prefix)
    sid = c.run_pod(pcfg)
    cid = c.create(sid, ctr_config(pb, "victim", image, ["sleep", "100000"]), pcfg)
    c.start(cid)
    other = c.create(sid, ctr_config(pb, "bystander", image, ["sleep", "100000"]), pcfg)
    c.start(other)
    shim = [int(l.split()[0]) for l in leaks.processes(d.state)
            if l.endswith("cric-shim") and cid in open("/proc/%s/cmdline" % l.split()[0]).read()]
    assert len(shim) == 1
    os.kill(shim[0], signal.SIGKILL)
    st = wait_until(lambda: (lambda s: s if s.state == pb.CONTAINER_EXITED else None)(
        c.status(cid)), 15)
    assert st, "the container whose shim was killed is still reported running"
    assert "cric-shim" in st.message or "monitor" in st.message, st.message
    # the daemon keeps serving; the other container is untouched
    assert c.status(other).state == pb.CONTAINER_RUNNING
    assert c.exec(other, ["echo", "alive"]).stdout == b"alive\n"
    c.stop(cid, 0)
    c.remove(cid)
    c.stop_pod(sid)
    c.remove_pod(sid)
    assert_no_leaks(d, baseline, cg=cg_prefix)
    figures("fault_shim_killed", reason=st.reason, message=st.message[:200],
            exit_code=st.exit_code)
