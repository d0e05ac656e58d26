"""Hostile layers: nothing may be written outside the layer store, and a
rejected pull leaves no image and no layer behind."""
import os
import tarfile
import uuid

import grpc
import pytest

from registry import Layer, busybox_layer_cached


def hostile(build):
    L = Layer()
    build(L)
    return L.finish("gzip")


def ti(name, type_=tarfile.REGTYPE, linkname="", size=0):
    t = tarfile.TarInfo(name)
    t.type, t.linkname, t.size, t.mode, t.mtime = type_, linkname, size, 0o644, 0
    return t


def dev(t, major, minor):
    t.devmajor, t.devminor = major, minor
    return t


def pax(t, headers):
    t.pax_headers = headers
    return t


@pytest.fixture
def outside():
    d = "/tmp/cric-outside-" + uuid.uuid4().hex[:8]
    os.makedirs(d)
    yield d
    for root, dirs, files in os.walk(d, topdown=False):
        for f in files:
            os.unlink(os.path.join(root, f))
        for x in dirs:
            os.rmdir(os.path.join(root, x))
    os.rmdir(d)


def pull_fails(d, pb, ref):
    with pytest.raises(grpc.RpcError) as e:
        d.image().PullImage(pb.PullImageRequest(image=pb.ImageSpec(image=ref)), timeout=120)
    return e.value


def assert_nothing_left(d, pb):
    assert list(d.image().ListImages(pb.ListImagesRequest()).images) == []
    assert os.listdir(os.path.join(d.root, "layers")) == []
    assert os.listdir(os.path.join(d.root, "content", "tmp")) == []


def test_rejected_layers(registry, daemon, pb, outside):
    depth = "../" * 12
    cases = {
        "traversal": lambda L: L.raw_entry(ti(depth + outside.lstrip("/") + "/pwned", size=1), b"x"),
        "hardlink-out": lambda L: L.raw_entry(ti("h", tarfile.LNKTYPE, "/etc/passwd")),
        "hardlink-dotdot": lambda L: L.raw_entry(ti("h", tarfile.LNKTYPE, depth + "etc/passwd")),
        "oversized-header": lambda L: L.raw_entry(ti("a/" * 5000 + "x", size=1), b"x"),
        "long-component": lambda L: L.raw_entry(ti("b" * 300, size=1), b"x"),
        "huge-pax-header": lambda L: L.raw_entry(pax(ti("f", size=1), {"comment": "x" * (8 << 20)}), b"x"),
        "device-char": lambda L: L.raw_entry(dev(ti("dev/mem", tarfile.CHRTYPE), 1, 1)),
        "device-block": lambda L: L.raw_entry(dev(ti("sda", tarfile.BLKTYPE), 8, 0)),
        "hardlink-through-symlink": lambda L: (L.symlink("r", "/"),
                                               L.raw_entry(ti("h", tarfile.LNKTYPE, "r/etc/passwd"))),
    }
    for name, build in cases.items():
        img = registry.push("hostile-" + name, ["latest"], [busybox_layer_cached(), hostile(build)])
        err = pull_fails(daemon, pb, registry.ref(img.repo + ":latest"))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, (name, err.details())
        assert "rejected" in err.details(), (name, err.details())
        assert os.listdir(outside) == [], name
        assert_nothing_left(daemon, pb)
    assert os.path.getsize("/etc/passwd") > 0


def test_symlink_escape_stays_inside(registry, daemon, pb, outside):
    """An absolute (and a relative) symlink pointing out of the root, then
    entries written through it: resolved inside the layer, never outside."""
    def build(L):
        L.symlink("abs", outside)
        L.raw_entry(ti("abs/pwned", size=1), b"x")
        L.symlink("rel", "../../../../../../" + outside.lstrip("/"))
        L.raw_entry(ti("rel/pwned2", size=1), b"x")
        L.symlink("root", "/")
        L.raw_entry(ti("root" + outside + "/pwned3", size=1), b"x")
    img = registry.push("hostile-symlink", ["latest"], [hostile(build)])
    try:
        daemon.image().PullImage(pb.PullImageRequest(
            image=pb.ImageSpec(image=registry.ref(img.repo + ":latest"))), timeout=120)
        pulled = True
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
        pulled = False
    assert os.listdir(outside) == []
    if pulled:
        (chain,) = os.listdir(os.path.join(daemon.root, "layers"))
        fs = os.path.join(daemon.root, "layers", chain, "fs")
        assert os.readlink(os.path.join(fs, "abs")) == outside
        assert os.path.isfile(os.path.join(fs, outside.lstrip("/"), "pwned"))


def node_in_layers(d, rel):
    (found,) = [p for p in (os.path.join(d.root, "layers", c, "fs", rel)
                            for c in os.listdir(os.path.join(d.root, "layers")))
                if os.path.lexists(p)]
    return os.lstat(found)


def devices_layer():
    return hostile(lambda L: (L.raw_entry(ti("dev/", tarfile.DIRTYPE)),
                              L.raw_entry(dev(ti("dev/null", tarfile.CHRTYPE), 1, 3)),
                              L.raw_entry(dev(ti("dev/ptmx", tarfile.CHRTYPE), 5, 2)),
                              L.raw_entry(dev(ti("dev/sda", tarfile.BLKTYPE), 8, 0))))


def test_device_nodes_by_policy(registry, make_daemon, pb):
    """image_pull.device_nodes: by default a layer may carry the OCI default
    character devices (an image's /dev/null), not a disk; "all" creates any
    node, as containerd does; "none" refuses even /dev/null."""
    defaults = registry.push("devnodes-defaults", ["latest"], [busybox_layer_cached(), hostile(
        lambda L: (L.raw_entry(ti("dev/", tarfile.DIRTYPE)),
                   L.raw_entry(dev(ti("dev/null", tarfile.CHRTYPE), 1, 3)),
                   L.raw_entry(dev(ti("dev/tty", tarfile.CHRTYPE), 5, 0)),
                   L.raw_entry(dev(ti("dev/urandom", tarfile.CHRTYPE), 1, 9))))])
    with_disk = registry.push("devnodes-disk", ["latest"], [busybox_layer_cached(), devices_layer()])

    d = make_daemon()
    d.image().PullImage(pb.PullImageRequest(
        image=pb.ImageSpec(image=registry.ref(defaults.repo + ":latest"))), timeout=120)
    st = node_in_layers(d, "dev/tty")
    assert (os.major(st.st_rdev), os.minor(st.st_rdev)) == (5, 0)
    err = pull_fails(d, pb, registry.ref(with_disk.repo + ":latest"))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "dev/sda" in err.details() and "image_pull.device_nodes" in err.details()

    d_all = make_daemon(config={"image_pull": {"device_nodes": "all"}})
    d_all.image().PullImage(pb.PullImageRequest(
        image=pb.ImageSpec(image=registry.ref(with_disk.repo + ":latest"))), timeout=120)
    st = node_in_layers(d_all, "dev/sda")
    assert os.path.stat.S_ISBLK(st.st_mode) and os.major(st.st_rdev) == 8

    d_none = make_daemon(config={"image_pull": {"device_nodes": "none"}})
    err = pull_fails(d_none, pb, registry.ref(defaults.repo + ":latest"))
    assert "dev/null" in err.details() and "rejected" in err.details()
    assert_nothing_left(d_none, pb)
