"""Crash safety of pulls: kill -9 mid-pull leaves no partial image, stray
temporary files are cleaned at start, and the next pull completes."""
import os
import threading
import time

import grpc

from registry import Layer, busybox_layer_cached


def test_kill9_during_pull_then_pull_again(registry, make_daemon, pb):
    big = [Layer().file("blob%d" % i, os.urandom(12 << 20)).finish("gzip") for i in range(3)]
    img = registry.push("big", ["latest"], [busybox_layer_cached()] + big)
    ref = registry.ref("big:latest")
    d = make_daemon()
    layers = os.path.join(d.root, "layers")
    errors = []

    def run():
        try:
            d.image().PullImage(pb.PullImageRequest(image=pb.ImageSpec(image=ref)), timeout=120)
        except grpc.RpcError as e:
            errors.append(e)
    t = threading.Thread(target=run)
    t.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(x.startswith(".tmp-") for x in os.listdir(layers)):
            break
        time.sleep(0.002)
    d.kill9()
    t.join()
    assert errors, "the pull finished before the daemon was killed"

    # Leftovers a crash can leave, plus planted strays: all cleaned at start.
    os.makedirs(os.path.join(layers, ".tmp-planted/fs/x"), exist_ok=True)
    os.makedirs(os.path.join(layers, "f" * 64, "fs"), exist_ok=True)
    with open(os.path.join(d.root, "content", "tmp", "planted"), "w") as f:
        f.write("junk")
    d.start()
    assert list(d.image().ListImages(pb.ListImagesRequest()).images) == []
    assert [x for x in os.listdir(layers) if x.startswith(".tmp") or x == "f" * 64] == []
    assert os.listdir(os.path.join(d.root, "content", "tmp")) == []
    assert "removed stray" in d.log()

    got = d.image().PullImage(pb.PullImageRequest(image=pb.ImageSpec(image=ref)), timeout=120)
    assert got.image_ref == img.id
    assert len(os.listdir(layers)) == 4
    st = d.image().ImageStatus(pb.ImageStatusRequest(image=pb.ImageSpec(image=ref))).image
    assert st.id == img.id and st.size > 36 << 20
