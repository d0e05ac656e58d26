"""The image transfer helper cric-pull: the daemon links neither libcurl nor
libarchive; credentials reach the helper on stdin only; a helper that dies or
a caller that goes away leaves nothing half-made; compressed layer blobs are
kept in the content store and collected with their image; the uncompressed
size caps stop decompression bombs."""
import os
import subprocess
import threading
import time

import grpc
import pytest

from conftest import CRIC
from registry import Layer, busybox_layer_cached, sha
from test_image_stall import StallingProxy


def pull(d, pb, ref, timeout=120, **auth):
    req = pb.PullImageRequest(image=pb.ImageSpec(image=ref))
    for k, v in auth.items():
        setattr(req.auth, k, v)
    return d.image().PullImage(req, timeout=timeout).image_ref


def helpers_of(pid):
    """Pids of cric-pull processes whose parent is pid."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                st = f.read()
        except OSError:
            continue
        comm = st[st.index("(") + 1:st.rindex(")")]
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        if comm == "cric-pull" and ppid == pid:
            out.append(int(p))
    return out


def assert_clean(d, pb):
    assert list(d.image().ListImages(pb.ListImagesRequest()).images) == []
    assert [x for x in os.listdir(os.path.join(d.root, "layers")) if x.startswith(".tmp")] == []
    assert os.listdir(os.path.join(d.root, "content", "tmp")) == []


def test_daemon_links_no_transfer_libraries():
    needed = subprocess.run(["readelf", "-d", CRIC], capture_output=True, text=True,
                            check=True).stdout
    for lib in ("libcurl", "libarchive", "libssl", "libcrypto"):
        assert lib not in needed, needed
    helper = os.path.join(os.path.dirname(os.path.dirname(CRIC)), "pullworker", "cric-pull")
    assert os.access(helper, os.X_OK)
    # Not for direct use: it wants a job on stdin from the daemon.
    r = subprocess.run([helper, "x"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert r.returncode == 2 and "not for direct use" in r.stderr


def stalled_pull(registry, make_daemon, pb, **auth):
    """Starts a pull that hangs in its last layer; -> (daemon, proxy, thread, errors, img)."""
    big = Layer().file("blob", os.urandom(2 << 20)).finish("gzip")
    img = registry.push("helper-stall", ["latest"], [busybox_layer_cached(), big])
    proxy = StallingProxy(registry.host, sha(big[1]), stall_s=30)
    d = make_daemon()
    errors = []

    def run():
        try:
            pull(d, pb, proxy.host + "/helper-stall:latest", **auth)
        except grpc.RpcError as e:
            errors.append(e)
    t = threading.Thread(target=run)
    t.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proxy.stalls == 0:
        time.sleep(0.01)
    assert proxy.stalls == 1
    return d, proxy, t, errors, img


def test_helper_killed_mid_pull_is_a_clear_error_and_leaves_nothing(registry, make_daemon, pb):
    d, proxy, t, errors, img = stalled_pull(registry, make_daemon, pb, username="carol",
                                            password="pw-9d1c-secret")
    try:
        (helper,) = helpers_of(d.proc.pid)
        # Credentials travel on stdin only: not in argv, not in the environment.
        for f in ("cmdline", "environ"):
            with open("/proc/%d/%s" % (helper, f), "rb") as fh:
                assert b"pw-9d1c-secret" not in fh.read()
        # It inherits no descriptor of the daemon's (database, locks, sockets).
        # (A descriptor the helper closes between the listing and the readlink
        # is one of its own transfers, not an inherited one.)
        targets = []
        for fd in os.listdir("/proc/%d/fd" % helper):
            try:
                targets.append(os.readlink("/proc/%d/fd/%s" % (helper, fd)))
            except FileNotFoundError:
                pass
        assert not [t for t in targets if "cric.db" in t or t.endswith(".lock") and
                    "layers.lock" not in t or t.endswith(".sock")], targets
        time.sleep(0.2)
        assert any(x.startswith(".tmp-") for x in os.listdir(os.path.join(d.root, "layers")))
        os.kill(helper, 9)
        t.join(30)
        assert not t.is_alive() and errors
        e = errors[0]
        assert e.code() == grpc.StatusCode.INTERNAL, e.details()
        assert "cric-pull" in e.details() and "killed by signal 9" in e.details()
        assert_clean(d, pb)
        assert [x for x in os.listdir(os.path.join(d.root, "layers"))] == []
        assert "pw-9d1c-secret" not in d.log()
        # The next pull does the whole job.
        proxy.enabled = False
        assert pull(d, pb, proxy.host + "/helper-stall:latest") == img.id
        assert helpers_of(d.proc.pid) == []
    finally:
        proxy.stop()


def test_cancelled_pull_kills_the_helper(registry, make_daemon, pb):
    d, proxy, t, errors, img = stalled_pull(registry, make_daemon, pb)
    try:
        (helper,) = helpers_of(d.proc.pid)
        # A second caller of the same image waits for the same layer, then
        # goes away too; then the first caller's deadline: both helpers end.
        with pytest.raises(grpc.RpcError) as e:
            pull(d, pb, proxy.host + "/helper-stall:latest", timeout=1.0)
        assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(helpers_of(d.proc.pid)) > 1:
            time.sleep(0.05)
        assert helpers_of(d.proc.pid) == [helper]
        assert "pull cancelled by the caller" in d.log()
        os.kill(helper, 9)
        t.join(30)
        assert_clean(d, pb)
    finally:
        proxy.stop()


def test_layer_blobs_are_kept_and_collected_with_the_image(registry, daemon, pb):
    layer = Layer().file("kept", os.urandom(64 << 10)).finish("gzip")
    img = registry.push("blobs-kept", ["latest"], [busybox_layer_cached(), layer])
    proxy = StallingProxy(registry.host, sha(layer[1]), stall_s=30)
    proxy.enabled = False
    ref = proxy.host + "/blobs-kept:latest"
    try:
        assert pull(daemon, pb, ref) == img.id
        content = os.path.join(daemon.root, "content", "sha256")
        for blob in (busybox_layer_cached()[1], layer[1]):
            with open(os.path.join(content, sha(blob)[7:]), "rb") as f:
                assert f.read() == blob
        # Removed: the layers go at once, the (young) blobs stay for now...
        daemon.image().RemoveImage(pb.RemoveImageRequest(image=pb.ImageSpec(image=img.id)))
        assert os.listdir(os.path.join(daemon.root, "layers")) == []
        assert sha(layer[1])[7:] in os.listdir(content)
        # ...so the next pull unpacks the layer from the content store: the
        # registry would stall on that blob, and is never asked for it.
        proxy.enabled = True
        assert pull(daemon, pb, ref, timeout=20) == img.id
        assert proxy.stalls == 0
        # Collection spares young files: age everything, remove, all gone.
        for f in os.listdir(content):
            os.utime(os.path.join(content, f), (0, 0))
        daemon.image().RemoveImage(pb.RemoveImageRequest(image=pb.ImageSpec(image=img.id)))
        assert os.listdir(content) == []
        assert os.listdir(os.path.join(daemon.root, "layers")) == []
    finally:
        proxy.stop()


def zeros_layer(mib):
    return Layer().file("zeros", bytes(mib << 20)).finish("gzip")


def test_gzip_bomb_hits_the_layer_cap(registry, make_daemon, pb):
    bomb = zeros_layer(64)
    assert len(bomb[1]) < 1 << 20  # a small download that expands 64 MiB
    registry.push("bomb", ["latest"], [bomb])
    d = make_daemon(config={"image_pull": {"max_layer_bytes": 8 << 20}})
    with pytest.raises(grpc.RpcError) as e:
        pull(d, pb, registry.ref("bomb:latest"))
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, e.value.details()
    assert "image_pull.max_layer_bytes" in e.value.details()
    assert "8388608" in e.value.details()
    assert_clean(d, pb)
    assert os.listdir(os.path.join(d.root, "layers")) == []


def test_image_cap_counts_all_layers(registry, make_daemon, pb):
    layers = [Layer().file("z%d" % i, bytes(3 << 20)).finish("gzip") for i in range(3)]
    img = registry.push("capped", ["latest"], layers)
    d = make_daemon(config={"image_pull": {"max_layer_bytes": 4 << 20,
                                           "max_image_bytes": 8 << 20}})
    with pytest.raises(grpc.RpcError) as e:
        pull(d, pb, registry.ref("capped:latest"))
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, e.value.details()
    assert "image_pull.max_image_bytes" in e.value.details()
    assert_clean(d, pb)
    # Within the caps it pulls.
    d2 = make_daemon(config={"image_pull": {"max_layer_bytes": 4 << 20,
                                            "max_image_bytes": 16 << 20}})
    assert pull(d2, pb, registry.ref("capped:latest")) == img.id


def test_a_blob_listed_twice_is_stored_intact(registry, daemon, pb):
    """Layers 0 and 2 share one blob (different chains): both download it at
    once, and the content store keeps one intact copy."""
    a = Layer().file("a", os.urandom(1 << 20)).finish("gzip")
    b = Layer().file("b", b"b").finish("gzip")
    img = registry.push("twice", ["latest"], [a, b, a])
    assert pull(daemon, pb, registry.ref("twice:latest")) == img.id
    with open(os.path.join(daemon.root, "content", "sha256", sha(a[1])[7:]), "rb") as f:
        assert f.read() == a[1]
    assert os.listdir(os.path.join(daemon.root, "content", "tmp")) == []
